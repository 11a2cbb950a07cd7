"""The stored PowerShell fixtures (``data/powershell/``) and hostile PowerShell output.

Hostile inputs must cost what they damage and nothing more: a located warning (file and
line or record), every other record still read, and never a traceback.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from make_powershell_fixtures import OUT, fixtures
from reader_support import BILLION_LAUGHS, read_bytes, read_file

from migdiag.api import Options, analyze
from migdiag.errors import InputError
from migdiag.readers.localtime import TimeOptions
from migdiag.readers.registry import sniff

SRV1_FIRST = datetime(2013, 10, 8, 8, 6, 15, tzinfo=UTC)  # 21300, the seed's first record
KINDS = {
    "SRV1_format_list_ps51_en.txt": "powershell-list",
    "SRV1_format_list_star_ps51_de.txt": "powershell-list",
    "SRV1_format_list_star_ps7_en.txt": "powershell-list",
    "SRV1_table_ps51_en.txt": "powershell-table",
    "SRV1_table_ps7_de.txt": "powershell-table",
    "export_csv_ps51_en.csv": "powershell-csv",
    "export_csv_ps51_de_useculture.csv": "powershell-csv",
    "export_csv_ps7_en.csv": "powershell-csv",
    "convertto_json_ps51.json": "powershell-json",
    "convertto_json_ps7.json": "powershell-json",
    "export_clixml.xml": "powershell-clixml",
}


def test_the_stored_fixtures_are_what_the_renderer_prints() -> None:
    assert fixtures() == {name: (OUT / name).read_bytes() for name in KINDS}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_fixture_is_sniffed_and_read_at_the_senders_offset(name: str) -> None:
    offset = timedelta(hours=-4) if "_en" in name or "ps51.json" in name else timedelta(hours=2)
    read = read_file(OUT / name, TimeOptions(host_offsets=(("SRV1", offset),)))
    assert read.format == KINDS[name]
    assert len(read.events) == 7
    assert read.events[0].time.replace(microsecond=0) == SRV1_FIRST
    assert {e.short_host for e in read.events} == {"SRV1"}
    assert [e.event_id for e in read.events][-2:] == [21024, 21502]


def test_get_eventlog_format_list() -> None:
    options = TimeOptions(host_offsets=(("HV02", timedelta(hours=1)),))
    read = read_file(OUT / "HV02_get_eventlog_list_ps51_de.txt", options)
    assert read.format == "powershell-list"
    (event,) = read.events
    assert (event.provider, event.event_id, event.host) == (
        "Microsoft-Windows-FailoverClustering",
        1069,
        "HV02.corp.example",
    )
    assert (event.channel, event.level, event.record_id) == ("System", 2, 48213)
    assert event.time == datetime(2025, 3, 14, 16, 22, 41, tzinfo=UTC)
    # ReplacementStrings is printed "{a, b, c}" (cut after four): not trusted as a payload.
    assert event.fields == ()
    assert event.message is not None
    assert "failed.\n\nBased on the failure policies" in event.message


def test_get_eventlog_table_is_refused_with_what_to_send_instead() -> None:
    table = (
        "\r\n   Index Time          EntryType   Source                 InstanceID Message\r\n"
        "   ----- ----          ---------   ------                 ---------- -------\r\n"
        "   48213 Mär 14 17:22  Error       Microsoft-Windows...   3221226541 Cluster resou...\r\n"
    )
    with pytest.raises(InputError, match="Format-List"):
        read_bytes("HV02.txt", table.encode())


# -- hostile -----------------------------------------------------------------------------------


def _text(name: str) -> str:
    data = (OUT / name).read_bytes()
    if data.startswith(b"\xff\xfe"):
        return data[2:].decode("utf-16-le")
    return data.decode("utf-8-sig")


def test_a_huge_line_in_a_list_is_cut_with_a_located_warning(tmp_path: Path) -> None:
    text = _text("SRV1_format_list_star_ps7_en.txt")
    records = text.split("\r\n\r\nMessage")
    huge = "Message              : " + "A" * (3 << 20)
    damaged = "\r\n\r\nMessage".join(
        [
            *records[:2],
            huge[len("Message") :] + records[2][records[2].index("\r\n") :],
            *records[3:],
        ]
    )
    read = read_bytes("SRV1.txt", damaged.encode())
    assert len(read.events) == 7
    assert any("line " in w and "longer than 1 MiB" in w for w in read.stats.warnings)


def test_broken_quoting_in_a_csv_costs_one_row(tmp_path: Path) -> None:
    lines = _text("export_csv_ps51_en.csv").split("\r\n")
    lines[3] = lines[3][:40]  # the third record cut inside its quoted message
    read = read_bytes("SRV1.csv", "\r\n".join(lines).encode())
    assert len(read.events) == 6
    assert any("row 2 (line 4)" in w for w in read.stats.warnings), read.stats.warnings


def test_a_csv_field_over_the_size_limit_costs_one_row(tmp_path: Path) -> None:
    lines = _text("export_csv_ps7_en.csv").split("\r\n")
    lines[2] = '"' + "B" * (17 << 20) + '"' + lines[2][lines[2].index('",') + 1 :]
    read = read_bytes("SRV1.csv", "\r\n".join(lines).encode())
    assert len(read.events) == 6
    assert any("line 3" in w for w in read.stats.warnings), read.stats.warnings


def test_a_damaged_json_element_costs_that_element() -> None:
    text = _text("convertto_json_ps7.json")
    second = text.index("\r\n  {", text.index("\r\n  {") + 1)
    damaged = text[: second + 20] + '"Id": , ' + text[second + 20 :]
    read = read_bytes("SRV1.json", damaged.encode())
    assert len(read.events) == 6
    assert any("element at line" in w for w in read.stats.warnings), read.stats.warnings


def test_a_clixml_with_entities_is_refused_and_the_other_inputs_are_read(tmp_path: Path) -> None:
    bomb = (
        BILLION_LAUGHS.replace(b"<!DOCTYPE Events", b"<!DOCTYPE Objs")
        .replace(
            b"<Events><Event xmlns=",
            b'<Objs Version="1.1.0.1"><Obj RefId="0"><TN RefId="0"><T>System.Diagnostics.Eventing.'
            b"Reader.EventLogRecord</T></TN><Props><S N='x'>&lol9;</S></Props></Obj></Objs><!--",
        )
        .replace(b"</Events>", b"-->")
    )
    (tmp_path / "bomb.xml").write_bytes(bomb)
    (tmp_path / "SRV1.json").write_bytes((OUT / "convertto_json_ps7.json").read_bytes())
    analysis = analyze([str(tmp_path)], Options(jobs=1))
    reports = {Path(r.path).name: r for r in analysis.inputs}
    assert reports["bomb.xml"].format == "powershell-clixml"
    assert "document type declaration" in (reports["bomb.xml"].error or "")
    assert reports["SRV1.json"].relevant == 7
    assert [r.migration.outcome for r in analysis.results] == ["failed"]


# -- what is not ours ---------------------------------------------------------------------------

VMHOST_JSON = """{
    "ComputerName":  "HV01",
    "LogicalProcessorCount":  48,
    "MaximumVirtualMachineMigrations":  2,
    "VirtualMachineMigrationEnabled":  true,
    "VirtualMachineMigrationAuthenticationType":  1,
    "VirtualMachineMigrationPerformanceOption":  2,
    "Id":  "0b7f3c1e-4d0b-4a62-9a3b-1d5a6b0c3f11",
    "LastModified":  "\\/Date(1733561400000)\\/"
}"""
VMHOST_LIST = """
ComputerName                              : HV01
MaximumVirtualMachineMigrations           : 2
VirtualMachineMigrationEnabled            : True
Id                                        : 0b7f3c1e-4d0b-4a62-9a3b-1d5a6b0c3f11
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [(VMHOST_JSON, "config-snapshot"), (VMHOST_LIST, None)],
    ids=["json", "list"],
)
def test_configuration_snapshots_are_left_to_their_own_reader(
    text: str, expected: str | None
) -> None:
    # Never taken for printed events: the JSON goes to the configuration reader.
    assert sniff(text.encode()) == expected
    assert sniff(b"\xff\xfe" + text.encode("utf-16-le")) == expected


def test_a_list_whose_first_message_fills_the_head_is_still_recognised(tmp_path: Path) -> None:
    text = _text("SRV1_format_list_star_ps7_en.txt")
    long = "Message              : " + " ".join(["word"] * 900)
    at = text.index("Message")
    end = text.index("\r\n", at)
    long_first = text[:at] + long + text[end:]
    assert sniff(long_first.encode()[:4096]) == "powershell-list"
    read = read_bytes("SRV1.txt", long_first.encode())
    assert len(read.events) == 7


GET_EVENTLOG_CSV = (
    "#TYPE System.Diagnostics.EventLogEntry#System/Microsoft-Windows-FailoverClustering/1069\r\n"
    '"EventID","MachineName","Data","Index","Category","CategoryNumber","EntryType","Message",'
    '"Source","ReplacementStrings","InstanceId","TimeGenerated","TimeWritten","UserName","Site",'
    '"Container"\r\n'
    '"1069","HV02.corp.example","System.Byte[]","48213","(7)","7","Error","Cluster resource '
    "'Virtual Machine VM7' of type 'Virtual Machine' in clustered role 'VM7' failed.\r\n\r\n"
    'Based on the failure policies for the resource and role, the cluster service may try."'
    ',"Microsoft-Windows-FailoverClustering","System.String[]","3221226541",'
    '"3/14/2025 5:22:41 PM","3/14/2025 5:22:41 PM","NT AUTHORITY\\SYSTEM",,\r\n'
)
GET_EVENTLOG_JSON = """[
    {
        "EventID":  1069,
        "MachineName":  "HV02.corp.example",
        "Index":  48213,
        "EntryType":  1,
        "Message":  "Cluster resource \\u0027Virtual Machine VM7\\u0027 failed.",
        "Source":  "Microsoft-Windows-FailoverClustering",
        "ReplacementStrings":  [
                                   "Virtual Machine VM7",
                                   "VM7"
                               ],
        "InstanceId":  3221226541,
        "TimeGenerated":  "\\/Date(1741969361000)\\/",
        "TimeWritten":  "\\/Date(1741969361000)\\/"
    }
]"""


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (GET_EVENTLOG_CSV.encode(), "powershell-csv"),
        (b"\xff\xfe" + GET_EVENTLOG_JSON.encode("utf-16-le"), "powershell-json"),
    ],
    ids=["csv", "json"],
)
def test_get_eventlog_csv_and_json(data: bytes, fmt: str) -> None:
    options = TimeOptions(host_offsets=(("HV02", timedelta(hours=1)),))
    read = read_bytes("export", data, options)
    assert read.format == fmt
    (event,) = read.events
    assert (event.provider, event.event_id, event.short_host) == (
        "Microsoft-Windows-FailoverClustering",
        1069,
        "HV02",
    )
    assert (event.channel, event.level, event.record_id) == ("System", 2, 48213)
    assert event.time == datetime(2025, 3, 14, 16, 22, 41, tzinfo=UTC)
    assert event.message is not None and event.message.startswith("Cluster resource")
    if fmt == "powershell-json":  # ReplacementStrings is the payload: the VM by position
        assert event.vm_name == "VM7"


def test_text_after_a_list_is_not_taken_into_the_last_message() -> None:
    text = _text("SRV1_format_list_star_ps7_en.txt").rstrip() + "\r\n\r\nRegards,\r\nJane\r\n"
    read = read_bytes("SRV1.txt", text.encode())
    assert len(read.events) == 7
    assert "Jane" not in (read.events[-1].message or "")
    assert any("text outside any record" in w for w in read.stats.warnings)
