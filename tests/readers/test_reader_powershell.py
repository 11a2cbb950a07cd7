"""PowerShell's printouts of Get-WinEvent read into the same events as the EVTX they came from.

The EVTX files are written by migdiag's synth writer (the seed's own sample, plus records
that stress the layouts); ``powershell_render`` prints the same records the way PowerShell
5.1 and 7 do, in English, German and Japanese culture, at 80 and 120 columns, in the
encodings ``>``, ``Export-Csv`` and ``-Encoding UTF8`` write.  Each printout must read back
into the EVTX's events: provider, id, host, UTC time (to what the format keeps), message
(whole, or the part a table shows) and payload where the format has one.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from powershell_render import (
    Sender,
    convert_to_json,
    export_clixml,
    export_csv,
    format_list,
    format_table,
    redirected,
    utf8_bom,
)
from reader_support import read_bytes, read_file

from migdiag.catalog import default_catalog
from migdiag.model import Event, Origin
from migdiag.readers.localtime import TimeOptions
from migdiag.synth.evtx_writer import write_evtx

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "sample_logs" / "seed-mtu-reset"
OFFSETS = (("SRV1", timedelta(hours=2)), ("SRV2", timedelta(hours=1)))
LOCAL = TimeOptions(host_offsets=OFFSETS)


def _stress_events() -> list[Event]:
    """Records the seed lacks: a microsecond time, a token longer than any console line,
    quotes, umlauts and a semicolon in the payload."""
    origin = Origin(path="stress", format="synth")
    long_path = "C:\\ClusterStorage\\Volume1\\" + "Hyper-V-Replica-Staging-Folder-" * 5 + "x.vhdx"
    return [
        Event(
            time=datetime(2013, 10, 8, 8, 7, 1, 123456, tzinfo=UTC),
            host="SRV1.BLOG.COM",
            channel="Microsoft-Windows-Hyper-V-VMMS-Admin",
            provider="Microsoft-Windows-Hyper-V-VMMS",
            event_id=22038,
            level=2,
            record_id=None,
            fields=(
                ("Parameter0", f'Zugriff verweigert; "Datei" {long_path} für Prüfung'),
                ("Parameter1", "0x80070005"),
            ),
            message=None,
            origin=origin,
        )
    ]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Event]]:
    """The EVTX events of each host, as migdiag reads them."""
    stress = tmp_path_factory.mktemp("evtx") / "stress.evtx"
    stress.write_bytes(write_evtx(_stress_events(), default_catalog().provider_guids))
    events: dict[str, list[Event]] = {"SRV1": [], "SRV2": []}
    for path in sorted(SEED.glob("*/*.evtx")):
        events[path.parent.name].extend(read_file(path).events)
    events["SRV1"].extend(read_file(stress).events)
    for host in events:
        events[host].sort(key=lambda e: e.time)
    assert len(events["SRV1"]) == 8 and len(events["SRV2"]) == 3
    return events


def _floor(time: datetime, precision: str) -> datetime:
    if precision == "second":
        return time.replace(microsecond=0)
    if precision == "ms":
        return time.replace(microsecond=time.microsecond // 1000 * 1000)
    return time


def assert_same(
    read: list[Event],
    reference: list[Event],
    precision: str,
    payload: bool,
    truncated: bool = False,
) -> None:
    assert len(read) == len(reference)
    for got, want in zip(read, reference, strict=True):
        where = f"{want.event_id} @ {want.time}"
        assert (got.provider, got.event_id, got.short_host) == (
            want.provider,
            want.event_id,
            want.short_host,
        ), where
        assert got.time == _floor(want.time, precision), where
        assert got.channel == want.channel, where
        assert got.level == want.level, where
        message = (got.message or "").replace("\r\n", "\n")
        if truncated and message.endswith(("...", "…")):
            assert want.message is not None
            assert want.message.startswith(message.rstrip(".…")), where
            continue  # what the cut took (a code, a VM id) is not there to compare
        assert message == want.message, where
        if payload:
            assert [v for _, v in got.fields] == [v for _, v in want.fields], where
            assert (got.vm_name, got.vm_id, got.peer_host) == (
                want.vm_name,
                want.vm_id,
                want.peer_host,
            ), where
        assert got.error_codes == want.error_codes, where


SENDERS = [
    Sender(version, culture, width, OFFSETS)
    for version in ("5.1", "7")
    for culture in ("en-US", "de-DE", "ja-JP")
    for width in (80, 120)
]


def _id(sender: Sender) -> str:
    return f"ps{sender.version}-{sender.culture}-{sender.width}"


@pytest.mark.parametrize("sender", SENDERS, ids=_id)
@pytest.mark.parametrize("star", [False, True], ids=["default", "star"])
def test_format_list_reads_like_the_evtx(
    reference: dict[str, list[Event]], sender: Sender, star: bool
) -> None:
    for host, events in reference.items():
        data = redirected(format_list(events, sender, star=star), sender)
        read = read_bytes(f"{host}_vmms.txt", data, LOCAL)
        assert read.format == "powershell-list"
        assert_same(read.events, events, "second", payload=False)
        if star:
            assert [e.record_id for e in read.events] == [e.record_id for e in events]


@pytest.mark.parametrize("sender", SENDERS, ids=_id)
def test_default_table_keeps_what_it_shows_and_says_what_was_cut(
    reference: dict[str, list[Event]], sender: Sender
) -> None:
    for host, events in reference.items():
        data = redirected(format_table(events, sender), sender)
        read = read_bytes(f"logs/{host}/vmms-table.txt", data, LOCAL)
        assert read.format == "powershell-table"
        assert_same(read.events, events, "second", payload=False, truncated=True)
        assert any("cut by the table's width" in w for w in read.stats.warnings)


@pytest.mark.parametrize(
    ("sender", "type_line", "use_culture", "encode"),
    [
        (Sender("5.1", "en-US", offsets=OFFSETS), True, False, utf8_bom),
        (Sender("5.1", "de-DE", offsets=OFFSETS), True, True, utf8_bom),
        (Sender("5.1", "en-US", offsets=OFFSETS), False, False, utf8_bom),
        (Sender("7", "en-US", offsets=OFFSETS), False, False, str.encode),
        (Sender("7", "de-DE", offsets=OFFSETS), False, True, str.encode),
        (Sender("7", "ja-JP", offsets=OFFSETS), True, False, str.encode),
    ],
    ids=["5.1-type", "5.1-de-usec", "5.1-notype", "7", "7-de-useculture", "7-ja"],
)
def test_export_csv_reads_like_the_evtx(
    reference: dict[str, list[Event]],
    sender: Sender,
    type_line: bool,
    use_culture: bool,
    encode: object,
) -> None:
    for host, events in reference.items():
        text = export_csv(events, sender, type_line=type_line, use_culture=use_culture)
        read = read_bytes(f"{host}.csv", encode(text), LOCAL)  # type: ignore[operator]
        assert read.format == "powershell-csv"
        assert_same(read.events, events, "second", payload=False)


@pytest.mark.parametrize("version", ["5.1", "7"])
def test_convert_to_json_reads_like_the_evtx_with_payload(
    reference: dict[str, list[Event]], version: str
) -> None:
    sender = Sender(version, offsets=OFFSETS)
    for events in reference.values():
        # No --utc-offset: JSON carries UTC (5.1) or the offset (7) itself.
        read = read_bytes("events.json", utf8_bom(convert_to_json(events, sender)))
        assert read.format == "powershell-json"
        assert_same(read.events, events, "ms" if version == "5.1" else "exact", payload=True)
        assert not any(e.time_assumed for e in read.events)


def test_a_single_event_converts_to_one_json_object(reference: dict[str, list[Event]]) -> None:
    event = reference["SRV1"][-1]
    read = read_bytes("one.json", convert_to_json([event], Sender("7")).encode())
    assert_same(read.events, [event], "exact", payload=True)


def test_export_clixml_reads_like_the_evtx_with_payload(
    reference: dict[str, list[Event]],
) -> None:
    sender = Sender("5.1", offsets=OFFSETS)
    for events in reference.values():
        read = read_bytes("events.xml", utf8_bom(export_clixml(events, sender)))
        assert read.format == "powershell-clixml"
        assert_same(read.events, events, "exact", payload=True)


def test_the_host_comes_from_machinename_then_the_name_then_is_reported_unknown(
    reference: dict[str, list[Event]],
) -> None:
    events = reference["SRV2"]
    sender = Sender("5.1", offsets=OFFSETS)
    star = read_bytes("whatever.txt", redirected(format_list(events, sender, True), sender))
    assert {e.host for e in star.events} == {"SRV2.BLOG.COM"}
    short = redirected(format_list(events, sender), sender)
    from_folder = read_bytes("case.zip!SRV2/vmms.txt", short, LOCAL)
    assert {e.host for e in from_folder.events} == {"SRV2"}
    assert any("host SRV2 taken from the file's name" in w for w in from_folder.stats.warnings)
    unknown = read_bytes("events.txt", short)
    assert {e.host for e in unknown.events} == {""}
    assert any("its events have no host" in w for w in unknown.stats.warnings)


def test_the_utc_offset_used_is_said_per_host(reference: dict[str, list[Event]]) -> None:
    sender = Sender("5.1", "de-DE", offsets=OFFSETS)
    data = redirected(format_list(reference["SRV1"], sender, star=True), sender)
    given = read_bytes("SRV1.txt", data, LOCAL)
    assert any("--utc-offset SRV1=+02:00" in w for w in given.stats.warnings)
    default = read_bytes("SRV1.txt", data)
    assert any("default UTC offset +00:00" in w for w in default.stats.warnings)
    assert all(e.time_assumed for e in default.events)


def test_an_ambiguous_date_order_is_settled_by_other_rows_or_reported(
    reference: dict[str, list[Event]],
) -> None:
    events = reference["SRV2"]
    # 3/4/2025 alone could be March 4th or April 3rd ...
    march = [replace(e, time=e.time.replace(year=2025, month=3, day=4)) for e in events]
    sender = Sender("5.1", "en-US", offsets=OFFSETS)
    alone = read_bytes("SRV2.txt", redirected(format_list(march, sender), sender), LOCAL)
    assert any("could be day-first or month-first" in w for w in alone.stats.warnings)
    # ... a row dated 3/14/2025 in the same file settles it.
    later = replace(march[-1], time=march[-1].time.replace(day=14))
    settled = read_bytes(
        "SRV2.txt", redirected(format_list([*march, later], sender), sender), LOCAL
    )
    assert not any("day-first" in w for w in settled.stats.warnings)
    assert [e.time.month for e in settled.events] == [3, 3, 3, 3]
    assert settled.events[0].time.day == 4


def test_dotted_dates_are_day_first_without_a_warning(reference: dict[str, list[Event]]) -> None:
    sender = Sender("5.1", "de-DE", offsets=OFFSETS)
    read = read_bytes("SRV2.txt", redirected(format_list(reference["SRV2"], sender), sender), LOCAL)
    assert all(e.time.month == 10 and e.time.day == 8 for e in read.events)
    assert not any("day-first" in w for w in read.stats.warnings)
