"""The EVTX writer, read back by three independent parsers.

Every file written here must be read, record for record, by the ``evtx`` package (Rust),
python-evtx and libevtx (libevtx-python) with the same system fields and payload, and its
layout and CRC32s are checked again here without the readers.  The readers render values
differently (format reference §11.3), so records are compared as values: GUIDs as UUIDs, times
as UTC datetimes cut to microseconds, empty elements as "", character references decoded.

Reader quirks found while writing these tests, which decide what the hostile values can be:

* NUL ends a string for the evtx package and libevtx; the writer refuses it.
* A value starting with U+FEFF or U+FFFE is taken as a byte-order mark by python-evtx and
  libevtx (dropped, or the rest byte-swapped); python-evtx also drops C0 controls other than
  tab/LF/CR, DEL and U+FFFE.  The three-reader tests avoid those; the evtx package keeps them.
* The evtx package's XML output carries C0 controls and CR raw, which an XML parser rejects
  or rewrites, and its JSON output drops unnamed ``<Data>`` and duplicate names; the property
  test therefore takes the payload from the XML text with a strict pattern (``_rust_payload``).
* The evtx package cannot render a FILETIME after 2262-04-11 (nanoseconds in an i64).
* python-evtx converts FILETIME through a float: its times may be a few µs off.
"""

from __future__ import annotations

import json
import re
import string
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID
from xml.etree import ElementTree

import Evtx.Evtx as python_evtx
import pyevtx
import pytest
from evtx import PyEvtxParser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migdiag.model import Event, Origin
from migdiag.synth.evtx_writer import write_evtx

VMMS = "Microsoft-Windows-Hyper-V-VMMS"
HIGH_AVAILABILITY = "Microsoft-Windows-Hyper-V-High-Availability"  # GUID unknown: none written
CLUSTERING = "Microsoft-Windows-FailoverClustering"
GUIDS = {
    VMMS: "{6066F867-7CA1-4418-85FD-36E3F9C0600C}",
    CLUSTERING: "baf908ea-3421-4ca9-9b84-6689b8c6f85f",
}
VMMS_ADMIN = "Microsoft-Windows-Hyper-V-VMMS-Admin"
HA_ADMIN = "Microsoft-Windows-Hyper-V-High-Availability-Admin"
CLUSTER_OPERATIONAL = "Microsoft-Windows-FailoverClustering/Operational"
HOSTILE = (
    "<script>alert('x')</script>",
    "Tom & Jerry &amp; &#60; co",
    "quote \" and ' apostrophe",
    "emoji 😀🦀 and 𝄞 outside the BMP",
    "line one\nline two\n",
    "",
    "tab\tand Ünïcödé ✓ 中文",
    "]]> --> <!-- <![CDATA[",
)
ORIGIN = Origin(path="test", format="synth")
T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)

EVENT_NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"
VML_NS = "{http://www.microsoft.com/Windows/Virtualization/Events}"
HYPERV_PREFIX = "Microsoft-Windows-Hyper-V-"
CHUNK = 65536


def event(
    n: int,
    fields: Sequence[tuple[str, str]],
    *,
    provider: str = VMMS,
    channel: str = VMMS_ADMIN,
    host: str = "HV1.contoso.com",
    event_id: int = 20417,
    record_id: int | None = None,
) -> Event:
    return Event(
        time=T0 + timedelta(seconds=n, microseconds=n * 7919),
        host=host,
        channel=channel,
        provider=provider,
        event_id=event_id,
        level=2 + n % 3,
        record_id=record_id,
        fields=tuple(fields),
        message=None,
        origin=ORIGIN,
    )


# -- what a record must read back as ---------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    record_id: int  # the reader's record id (the record header)
    event_record_id: int
    event_id: int
    level: int
    time: datetime
    computer: str
    channel: str
    provider: str
    guid: UUID | None
    payload: tuple[tuple[str, str], ...]


def expected(events: Sequence[Event], guids: dict[str, str]) -> list[Seen]:
    out = []
    last = 0
    for ev in events:
        rid = last + 1 if ev.record_id is None else ev.record_id
        last = rid
        guid = guids.get(ev.provider)
        out.append(
            Seen(
                record_id=rid,
                event_record_id=rid,
                event_id=ev.event_id,
                level=ev.level,
                time=ev.time,
                computer=ev.host,
                channel=ev.channel,
                provider=ev.provider,
                guid=UUID(guid) if guid else None,
                payload=ev.fields,
            )
        )
    return out


_TIME = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(?:Z|\+00:00)?")


def parse_time(text: str) -> datetime:
    """The three readers' time formats, cut to microseconds (libevtx prints 100 ns)."""
    match = _TIME.fullmatch(text)
    assert match, text
    micro = int((match[3] or "").ljust(6, "0")[:6])
    return datetime.fromisoformat(f"{match[1]}T{match[2]}").replace(microsecond=micro, tzinfo=UTC)


def from_xml(xml: str, record_id: int) -> Seen:
    root = ElementTree.fromstring(xml)
    system = root.find(f"{EVENT_NS}System")
    assert system is not None
    provider = system.find(f"{EVENT_NS}Provider")
    created = system.find(f"{EVENT_NS}TimeCreated")
    assert provider is not None and created is not None
    guid = provider.get("Guid")

    def text(name: str) -> str:
        return system.findtext(f"{EVENT_NS}{name}") or ""

    payload: tuple[tuple[str, str], ...]
    event_data = root.find(f"{EVENT_NS}EventData")
    user_data = root.find(f"{EVENT_NS}UserData")
    if event_data is not None:
        assert all(data.tag == f"{EVENT_NS}Data" for data in event_data)
        payload = tuple((data.get("Name", ""), data.text or "") for data in event_data)
    else:
        assert user_data is not None
        (vml,) = list(user_data)
        assert vml.tag == f"{VML_NS}VmlEventLog"
        payload = tuple((child.tag.removeprefix(VML_NS), child.text or "") for child in vml)
    return Seen(
        record_id=record_id,
        event_record_id=int(text("EventRecordID")),
        event_id=int(text("EventID")),
        level=int(text("Level")),
        time=parse_time(created.get("SystemTime", "")),
        computer=text("Computer"),
        channel=text("Channel"),
        provider=provider.get("Name", ""),
        guid=UUID(guid) if guid else None,
        payload=payload,
    )


# -- the three readers -----------------------------------------------------------------------

# Checked in help(PyEvtxParser): 0.14 takes validate_checksums; older versions do not.
RUST_VALIDATES = "validate_checksums" in (PyEvtxParser.__text_signature__ or "")


def rust_parser(path: Path) -> PyEvtxParser:
    if RUST_VALIDATES:
        return PyEvtxParser(str(path), number_of_threads=1, validate_checksums=True)
    return PyEvtxParser(str(path), number_of_threads=1)


def rust_records(path: Path, as_json: bool = False) -> list[dict[str, Any]]:
    parser = rust_parser(path)
    records = []
    for record in parser.records_json() if as_json else parser.records():
        assert isinstance(record, dict)
        records.append(record)
    return records


def read_rust(path: Path) -> list[Seen]:
    seen = [from_xml(r["data"], r["event_record_id"]) for r in rust_records(path)]
    # The JSON renderer is a separate code path: its system fields must agree.
    for s, record in zip(seen, rust_records(path, as_json=True), strict=True):
        system = json.loads(record["data"])["Event"]["System"]
        assert record["event_record_id"] == s.record_id
        assert system["EventRecordID"] == s.event_record_id
        assert system["EventID"] == s.event_id
        assert (system["Computer"] or "", system["Channel"] or "") == (s.computer, s.channel)
        assert parse_time(system["TimeCreated"]["#attributes"]["SystemTime"]) == s.time
    return seen


def read_python_evtx(path: Path) -> list[Seen]:
    seen = []
    with python_evtx.Evtx(str(path)) as log:
        for record in log.records():
            seen.append(from_xml(record.xml(), record.record_num()))
    return seen


def read_libevtx(path: Path) -> list[Seen]:
    log = pyevtx.file()
    log.open(str(path))
    try:
        assert log.number_of_recovered_records == 0
        if hasattr(log, "is_corrupted"):
            assert not log.is_corrupted()
        seen = []
        for i in range(log.number_of_records):
            record = log.get_record(i)
            s = from_xml(record.get_xml_string(), record.identifier)
            assert record.event_identifier == s.event_id
            seen.append(s)
        return seen
    finally:
        log.close()


READERS: dict[str, Callable[[Path], list[Seen]]] = {
    "evtx": read_rust,
    "python-evtx": read_python_evtx,
    "libevtx": read_libevtx,
}


def assert_same(reader: str, got: list[Seen], want: list[Seen]) -> None:
    assert len(got) == len(want), f"{reader}: {len(got)} records, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if reader == "python-evtx":
            w = replace(w, time=python_evtx_time(w.time))
        assert g == w, f"{reader}: record {i} differs"


def python_evtx_time(time: datetime) -> datetime:
    """The time python-evtx shows: it converts FILETIME through a float (reference §6), which
    is a few microseconds off; this is its own formula, applied to the exact FILETIME."""
    delta = time - datetime(1601, 1, 1, tzinfo=UTC)
    ticks = (delta.days * 86400 + delta.seconds) * 10**7 + delta.microseconds * 10
    return datetime.fromtimestamp(float(ticks) * 1e-7 - 11644473600, UTC)


# -- the file layout, checked without the readers ---------------------------------------------


def name_hash(name: str) -> int:
    h = 0
    for (unit,) in struct.iter_unpack("<H", name.encode("utf-16-le")):
        h = (h * 65599 + unit) % 2**32
    return h


def check_layout(data: bytes) -> list[list[int]]:
    """Headers, CRC32s, record walk and hash tables (reference §2-§4, §7); ids per chunk."""
    assert data[:8] == b"ElfFile\0"
    first, last, next_id, size, minor, major, block, count = struct.unpack_from(
        "<QQQIHHHH", data, 8
    )
    assert (size, minor, major, block) == (128, 1, 3, 4096)
    assert struct.unpack_from("<II", data, 120) == (0, zlib.crc32(data[:120]))
    assert data[128:4096] == bytes(3968)
    assert len(data) == 4096 + count * CHUNK and (first, last) == (0, count - 1)
    per_chunk = []
    for c in range(count):
        chunk = data[4096 + c * CHUNK : 4096 + (c + 1) * CHUNK]
        assert chunk[:8] == b"ElfChnk\0"
        first_n, last_n, first_id, last_id, size, last_at, free, data_crc = struct.unpack_from(
            "<QQQQIIII", chunk, 8
        )
        flags, header_crc = struct.unpack_from("<II", chunk, 120)
        assert (size, flags) == (128, 1)
        assert header_crc == zlib.crc32(chunk[:120] + chunk[128:512])
        assert data_crc == zlib.crc32(chunk[512:free])
        assert chunk[56:120] == bytes(64) and chunk[free:] == bytes(CHUNK - free)
        ids = []
        at = start = 512
        while at < free:
            signature, length, rid = struct.unpack_from("<IIQ", chunk, at)
            assert signature == 0x2A2A and length % 8 == 0
            assert struct.unpack_from("<I", chunk, at + length - 4)[0] == length
            ids.append(rid)
            start, at = at, at + length
        assert at == free
        if ids:
            assert (first_id, last_id, last_at) == (ids[0], ids[-1], start)
            assert last_n - first_n + 1 == len(ids)
            assert len(set(ids)) == len(ids)  # the evtx crate stops at the last id (§8)
        else:  # an empty log's chunk, as Windows writes it (§3.1)
            none = 2**64 - 1
            assert (first_n, last_n, first_id, last_id, last_at) == (1, none, none, none, 0)
        check_tables(chunk)
        per_chunk.append(ids)
    assert next_id == max((i for ids in per_chunk for i in ids), default=0) + 1
    return per_chunk


def check_tables(chunk: bytes) -> None:
    """Every bucket chain leads to entries that belong in that bucket (§7.3, §7.4)."""
    heads = struct.unpack_from("<96I", chunk, 128)
    for bucket, at in enumerate(heads[:64]):
        while at:
            following, stored, units = struct.unpack_from("<IHH", chunk, at)
            name = chunk[at + 8 : at + 8 + 2 * units].decode("utf-16-le")
            assert chunk[at + 8 + 2 * units : at + 10 + 2 * units] == b"\0\0"
            assert stored == name_hash(name) & 0xFFFF and stored % 64 == bucket
            assert following < at
            at = following
    for bucket, at in enumerate(heads[64:]):
        while at:
            # python-evtx's table loader looks for the instance token just before (§5.4).
            assert chunk[at - 10] == 0x0C and struct.unpack_from("<I", chunk, at - 4)[0] == at
            (following,) = struct.unpack_from("<I", chunk, at)
            words = chunk[at + 4 : at + 20]
            h = 0
            for (word,) in struct.iter_unpack("<H", words):
                h = (h * 65599 + word) % 2**32
            assert h % 32 == bucket and following < at
            at = following


def write(tmp_path: Path, events: Sequence[Event], guids: dict[str, str] = GUIDS) -> Path:
    data = write_evtx(events, guids)
    assert write_evtx(events, guids) == data  # deterministic
    check_layout(data)
    path = tmp_path / "out.evtx"
    path.write_bytes(data)
    return path


def assert_round_trip(tmp_path: Path, events: Sequence[Event]) -> Path:
    path = write(tmp_path, events)
    want = expected(events, GUIDS)
    for name, reader in READERS.items():
        assert_same(name, reader(path), want)
    return path


# -- tests -----------------------------------------------------------------------------------


def test_name_hash_matches_ms_even6_examples() -> None:
    from migdiag.synth.binxml import name_hash as writer_hash

    for name, value in (("Event", 0x0CBA), ("Element1", 0x79B5), ("AttrA", 0xD890)):
        assert writer_hash(name) == name_hash(name) & 0xFFFF == value


def test_hyperv_userdata(tmp_path: Path) -> None:
    events = [
        event(i, [(f"Parameter{k}", value) for k, value in enumerate(HOSTILE[i:] + HOSTILE[:i])])
        for i in range(len(HOSTILE))
    ]
    events += [
        event(
            20 + i,
            [("VmName", value), ("VmId", "1B3D6C8A-0F6E-4C5B-9A8B-2C1D3E4F5A6B"), ("Error", "")],
            event_id=21502,
        )
        for i, value in enumerate(HOSTILE)
    ]
    ha_fields = [("Parameter0", "vm"), ("Parameter1", "0x8007274C")]
    events.append(
        event(40, ha_fields, provider=HIGH_AVAILABILITY, channel=HA_ADMIN, event_id=21111)
    )
    events.append(event(41, [], event_id=20413))
    assert_round_trip(tmp_path, events)


def test_failover_clustering_eventdata(tmp_path: Path) -> None:
    events = [
        event(
            i,
            [("ResourceName", value), ("", "unnamed"), ("Node", "HV2"), ("", value)],
            provider=CLUSTERING,
            channel=CLUSTER_OPERATIONAL,
            host="hv2.contoso.com",
            event_id=1155 + i % 2,
        )
        for i, value in enumerate(HOSTILE)
    ]
    events.append(event(50, [], provider=CLUSTERING, channel="System", event_id=1069))
    events.append(event(51, [("Data", "x"), ("Data", "y")], provider="Service Control Manager"))
    assert_round_trip(tmp_path, events)


def test_many_chunks(tmp_path: Path) -> None:
    big = "The virtual machine migration operation failed at migration source. " * 20
    events = []
    for i in range(300):
        hosts = ("HV1.contoso.com", "HV2.contoso.com", "hv3")
        if i % 3:
            fields = [("Parameter0", f"vm-{i}"), ("Parameter1", big[: i * 13 % len(big)])]
            events.append(event(i, fields, host=hosts[i % 3], event_id=20400 + i % 30))
        else:
            fields = [("ResourceName", f"SCVMM vm-{i}"), ("Detail", big + HOSTILE[i % 8])]
            events.append(
                event(i, fields, provider=CLUSTERING, channel=CLUSTER_OPERATIONAL, event_id=1205)
            )
    path = assert_round_trip(tmp_path, events)
    per_chunk = check_layout(path.read_bytes())
    assert len(per_chunk) > 3
    # Random access uses the per-chunk hash tables in python-evtx (§7.4).
    with python_evtx.Evtx(str(path)) as log:
        for ids in per_chunk:
            record = log.get_record(ids[-1])
            assert record is not None
            assert from_xml(record.xml(), ids[-1]).event_record_id == ids[-1]


def test_record_ids(tmp_path: Path) -> None:
    """Given ids are kept, missing ones continue from the previous, repeats stay readable."""
    ids = [None, None, 1000, None, 7, 7, 1001, None, 5]
    events = [event(i, [("Parameter0", str(rid))], record_id=rid) for i, rid in enumerate(ids)]
    path = assert_round_trip(tmp_path, events)
    assert [s.record_id for s in read_rust(path)] == [1, 2, 1000, 1001, 7, 7, 1001, 1002, 5]
    # A repeated id starts a new chunk: the evtx crate ends a chunk at its last id (§8).
    assert check_layout(path.read_bytes()) == [[1, 2, 1000, 1001, 7], [7, 1001, 1002, 5]]


def test_empty_log(tmp_path: Path) -> None:
    path = write(tmp_path, [])
    assert path.stat().st_size == 4096 + CHUNK
    for name, reader in READERS.items():
        assert reader(path) == [], name


def test_a_damaged_chunk_is_noticed(tmp_path: Path) -> None:
    """The CRCs are real: a flipped byte is seen by this test's check and by the readers."""
    path = write(tmp_path, [event(0, [("Parameter0", "intact")])])
    data = bytearray(path.read_bytes())
    at = data.index("intact".encode("utf-16-le"))
    data[at] ^= 0x20
    with pytest.raises(AssertionError):
        check_layout(bytes(data))
    path.write_bytes(data)
    log = pyevtx.file()
    log.open(str(path))
    assert log.is_corrupted()
    log.close()
    if RUST_VALIDATES:
        with pytest.raises(RuntimeError, match=r"(?i)checksum|crc"):
            rust_records(path)


@pytest.mark.parametrize(
    ("fields", "provider", "message"),
    [
        ([("Parameter0", "a\0b")], VMMS, "NUL"),
        ([("Parameter0", "x" * 40_000)], VMMS, "longer than"),
        ([(f"Parameter{k}", "x" * 30_000) for k in range(3)], VMMS, "too large|does not fit"),
        ([("", "unnamed")], VMMS, "not an XML element name"),
        ([("1st", "x")], VMMS, "not an XML element name"),
        ([("Parameter0", "\ud800")], VMMS, "surrogate"),
    ],
)
def test_unwritable_events_are_refused(
    fields: list[tuple[str, str]], provider: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        write_evtx([event(0, fields, provider=provider)], GUIDS)


def test_naive_time_is_refused() -> None:
    naive = Event(datetime(2024, 1, 1), "h", "c", VMMS, 1, 4, None, (), message=None, origin=ORIGIN)
    with pytest.raises(ValueError, match="time zone"):
        write_evtx([naive], GUIDS)


# -- property: anything the writer accepts, the evtx package reads back exactly --------------

_NAMES = st.builds(
    str.__add__,
    st.sampled_from(string.ascii_letters + "_"),
    st.text(string.ascii_letters + string.digits + "_", max_size=12),
)
# Surrogates have no UTF-16 encoding of their own; NUL ends the string for the readers.  Every
# other code point, controls and non-characters included, survives the evtx package.
_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0"), max_size=24)
_TIMES = st.datetimes(datetime(1601, 1, 1), datetime(2262, 4, 11), timezones=st.just(UTC))


@st.composite
def _events(draw: st.DrawFn) -> tuple[list[Event], dict[str, str]]:
    events = []
    guids: dict[str, str] = {}
    for _ in range(draw(st.integers(0, 12))):
        provider = draw(st.sampled_from(("", HYPERV_PREFIX))) + draw(_TEXT)
        if provider not in guids and draw(st.booleans()):
            guids[provider] = str(draw(st.uuids()))
        names = _NAMES if provider.startswith(HYPERV_PREFIX) else st.just("") | _NAMES
        events.append(
            Event(
                time=draw(_TIMES),
                host=draw(_TEXT),
                channel=draw(_TEXT),
                provider=provider,
                event_id=draw(st.integers(0, 0xFFFF)),
                level=draw(st.integers(0, 0xFF)),
                record_id=draw(st.none() | st.integers(0, 2**48)),
                fields=tuple(draw(st.lists(st.tuples(names, _TEXT), max_size=6))),
                message=None,
                origin=ORIGIN,
            )
        )
    return events, guids


_PAYLOAD = re.compile(r"</System>\s*<(EventData|UserData)>(.*)</\1>\s*</Event>\s*", re.S)
_VML = re.compile(r'\s*<VmlEventLog xmlns="[^"]*">(.*)</VmlEventLog>\s*', re.S)
_CHILD = re.compile(r'<([A-Za-z_]\w*)(?: Name="([^"]*)")?>([^<]*)</\1>', re.A)
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


def _unescape(text: str) -> str:
    assert "&" not in re.sub("&(lt|gt|amp|quot|apos);", "", text)
    return re.sub("&(lt|gt|amp|quot|apos);", lambda m: _ENTITIES[m[1]], text)


def _rust_payload(xml: str) -> tuple[tuple[str, str], ...]:
    """The payload from the evtx package's XML text, read strictly without an XML parser."""
    match = _PAYLOAD.search(xml)
    assert match, xml
    kind, body = match[1], match[2]
    if kind == "UserData":
        inner = _VML.fullmatch(body)
        assert inner, body
        body = inner[1]
    fields = []
    at = 0
    for child in _CHILD.finditer(body):
        assert body[at : child.start()].strip(" \n") == ""
        if kind == "UserData":
            fields.append((child[1], _unescape(child[3])))
        else:
            assert child[1] == "Data"
            fields.append((_unescape(child[2] or ""), _unescape(child[3])))
        at = child.end()
    assert body[at:].strip(" \n") == ""
    return tuple(fields)


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(_events())
def test_property_round_trip_through_evtx(
    tmp_path: Path, drawn: tuple[list[Event], dict[str, str]]
) -> None:
    events, guids = drawn
    path = write(tmp_path, events, guids)
    want = expected(events, guids)
    xml = rust_records(path)
    records = rust_records(path, as_json=True)
    assert len(xml) == len(records) == len(want)
    for w, x, r in zip(want, xml, records, strict=True):
        system = json.loads(r["data"])["Event"]["System"]
        provider = (system["Provider"] or {}).get("#attributes", {})
        guid = provider.get("Guid")
        got = Seen(
            record_id=r["event_record_id"],
            event_record_id=system["EventRecordID"],
            event_id=system["EventID"],
            level=system["Level"],
            time=parse_time(system["TimeCreated"]["#attributes"]["SystemTime"]),
            computer=system["Computer"] or "",  # the evtx package's JSON: null for empty text
            channel=system["Channel"] or "",
            provider=provider.get("Name", ""),  # an empty Name attribute is left out
            guid=UUID(guid) if guid else None,
            payload=_rust_payload(x["data"]),
        )
        assert got == w


def assert_same_within(reader: str, got: list[Seen], want: list[Seen]) -> None:
    """As ``assert_same``, but python-evtx's float-converted times may be off by a few
    microseconds (evtx-format.md 11.3): every other field must match exactly."""
    assert len(got) == len(want), f"{reader}: {len(got)} records, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert abs((g.time - w.time).total_seconds()) <= 10e-6, f"{reader}: record {i} time"
        assert replace(g, time=w.time) == w, f"{reader}: record {i} differs"


SAMPLE_SCENARIOS = sorted(
    (Path(__file__).resolve().parents[1] / "sample_logs").glob("*/scenario.yaml")
)


@pytest.mark.parametrize("scenario", SAMPLE_SCENARIOS, ids=lambda p: p.parent.name)
def test_three_parsers_agree_on_every_sample_file(scenario: Path, tmp_path: Path) -> None:
    # What `migdiag synth` writes for the shipped samples, file by file (host and channel).
    from migdiag.catalog import default_catalog
    from migdiag.synth import write_events
    from migdiag.synth.scenario import expand, load_scenario

    events = expand(load_scenario(scenario))
    guids = dict(default_catalog().provider_guids)
    written = write_events(events, tmp_path)
    assert written
    for path in written:
        group = [
            e
            for e in events
            if path.parent.name == e.host.split(".")[0].upper()
            and path.name == e.channel.replace("/", "%4") + ".evtx"
        ]
        want = expected(group, guids)
        for name, reader in READERS.items():
            assert_same_within(f"{scenario.parent.name}/{path.name} {name}", reader(path), want)


def test_three_parsers_agree_on_a_multi_chunk_synth_file(tmp_path: Path) -> None:
    from migdiag.catalog import default_catalog
    from migdiag.synth import write_events
    from migdiag.synth.scenario import expand, parse_scenario

    scenario = parse_scenario(
        {
            "name": "big-drain",
            "start": "2024-01-01T00:00:00Z",
            "hosts": [{"name": "HV01"}, {"name": "HV02"}],
            "vms": [
                {"name": f"VM{n}", "id": f"00000000-0000-4000-8000-{n:012d}"} for n in range(120)
            ],
            "steps": [
                {
                    "drain": {
                        "from": "HV01",
                        "to": "HV02",
                        "parallel": 6,
                        "failures": {"VM7": "connection-reset"},
                    }
                }
            ],
        }
    )
    events = expand(scenario)
    guids = dict(default_catalog().provider_guids)
    for path in write_events(events, tmp_path):
        if path.stat().st_size <= 4096 + 65536:
            continue
        group = [
            e
            for e in events
            if path.parent.name == e.host.upper() and path.name == e.channel + ".evtx"
        ]
        want = expected(group, guids)
        for name, reader in READERS.items():
            assert_same_within(f"{path.name} {name}", reader(path), want)
        break
    else:
        raise AssertionError("the drain should fill more than one chunk")
