"""The regex fast path must read every record exactly as lxml does, or step aside.

``fast_event`` returning ``None`` is always allowed (the reader then uses lxml); returning an
event, or raising, must match what ``parse_event_xml`` does with the same text."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest
from evtx import PyEvtxParser
from hypothesis import given, settings
from hypothesis import strategies as st
from reader_support import CORPUS

from migdiag.model import Event, Origin
from migdiag.readers.fastxml import fast_event
from migdiag.readers.xmlevent import parse_event_xml

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = Origin(path="x.evtx", format="evtx", record=1)
FAILED = "raised"

BASE = """<?xml version="1.0" encoding="utf-8"?>
<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">
  <System>
    <Provider Name="Microsoft-Windows-Hyper-V-VMMS" Guid="{6066F867-7CA1-4418-85FD-36E3F9C0600C}">
    </Provider>
    <EventID Qualifiers="0">21024</EventID>
    <Version>0</Version>
    <Level>2</Level>
    <Task>0</Task>
    <Opcode>0</Opcode>
    <Keywords>0x8000000000000000</Keywords>
    <TimeCreated SystemTime="2017-11-21T10:57:53.1234567Z">
    </TimeCreated>
    <EventRecordID>4711</EventRecordID>
    <Correlation ActivityID="{00000000-0000-0000-0000-000000000000}">
    </Correlation>
    <Execution ProcessID="808" ThreadID="23300">
    </Execution>
    <Channel>Microsoft-Windows-Hyper-V-VMMS-Admin</Channel>
    <Computer>SRV1.blog.com</Computer>
    <Security UserID="S-1-5-18">
    </Security>
  </System>
  <UserData>
    <VmlEventLog xmlns="http://www.microsoft.com/Windows/Virtualization/Events">
      <VmName>VM1</VmName>
      <VmId>41EF2DB0-0C0A-12FE-25CB-C3330D937F27</VmId>
      <ErrorCode>0x80072746</ErrorCode>
      <Empty>
      </Empty>
    </VmlEventLog>
  </UserData>
</Event>"""

EVENT_DATA = BASE.split("  <UserData>")[0] + (
    "  <EventData>\n"
    '    <Data Name="VmName">VM1</Data>\n'
    "    <Data>unnamed</Data>\n"
    '    <Data Name="Empty">\n    </Data>\n'
    "  </EventData>\n</Event>"
)
NO_PAYLOAD = BASE.split("  <UserData>")[0] + "</Event>"


def _outcome(parse: object, xml: str) -> Event | str | None:
    try:
        return parse(xml, ORIGIN)  # type: ignore[operator, no-any-return]
    except Exception:
        return FAILED


def assert_agrees(xml: str) -> Event | str | None:
    """Fast and lxml agree, or the fast path declined; returns the fast outcome."""
    fast = _outcome(fast_event, xml)
    if fast is not None:
        assert fast == _outcome(parse_event_xml, xml), xml
    return fast


@pytest.mark.parametrize("xml", [BASE, EVENT_DATA, NO_PAYLOAD], ids=["user", "data", "none"])
def test_the_plain_shapes_take_the_fast_path(xml: str) -> None:
    event = assert_agrees(xml)
    assert isinstance(event, Event)
    assert event.event_id == 21024 and event.level == 2 and event.record_id == 4711


def test_classic_binary_data_takes_the_fast_path() -> None:
    # NIC drivers and other classic providers end EventData with <Binary>: the payload is
    # the Data elements alone, as lxml's path reads it.
    for binary in ("<Binary>0000040002003000</Binary>", "<Binary>\n</Binary>"):
        xml = EVENT_DATA.replace("  </EventData>", f"    {binary}\n  </EventData>")
        assert binary in xml
        event = assert_agrees(xml)
        assert isinstance(event, Event)
        assert event.fields == (("VmName", "VM1"), ("", "unnamed"), ("Empty", ""))
    # Anything else inside EventData still goes to lxml.
    odd = EVENT_DATA.replace("  </EventData>", "    <Binary>zz</Binary>\n  </EventData>")
    assert fast_event(odd, ORIGIN) is None


def test_fields_keep_names_order_and_empty_values() -> None:
    user = fast_event(BASE, ORIGIN)
    data = fast_event(EVENT_DATA, ORIGIN)
    assert user is not None and data is not None
    assert user.fields == (
        ("VmName", "VM1"),
        ("VmId", "41EF2DB0-0C0A-12FE-25CB-C3330D937F27"),
        ("ErrorCode", "0x80072746"),
        ("Empty", ""),
    )
    assert data.fields == (("VmName", "VM1"), ("", "unnamed"), ("Empty", ""))


ODD = {
    "entities": ("<VmName>VM1</VmName>", "<VmName>a &lt;b&gt; &amp;lt; &quot;c&apos;</VmName>"),
    "entity in attribute": ('Name="Microsoft', 'Name="&amp;Microsoft'),
    "character reference": ("<VmName>VM1</VmName>", "<VmName>&#65;&#x42;</VmName>"),
    "unknown entity": ("<VmName>VM1</VmName>", "<VmName>&nbsp;</VmName>"),
    "stray ampersand": ("<VmName>VM1</VmName>", "<VmName>a & b</VmName>"),
    "cdata": ("<VmName>VM1</VmName>", "<VmName><![CDATA[VM1]]></VmName>"),
    "comment": ("<VmName>VM1</VmName>", "<VmName>VM1<!-- x --></VmName>"),
    "cdata end in text": ("<VmName>VM1</VmName>", "<VmName>a]]>b</VmName>"),
    "nested element": ("<VmName>VM1</VmName>", "<VmName>V<b>M</b>1</VmName>"),
    "attribute on child": ("<VmName>VM1</VmName>", '<VmName a="1">VM1</VmName>'),
    "self-closing child": ("<VmName>VM1</VmName>", "<VmName/>"),
    "repeated attribute": ('Name="Microsoft', 'Name="x" Name="Microsoft'),
    "tab in attribute": ('UserID="S-1-5-18"', 'UserID="S-1-5\t18"'),
    "newline in attribute": ('UserID="S-1-5-18"', 'UserID="S-1-5\n18"'),
    "carriage return": ("<VmName>VM1</VmName>", "<VmName>VM\r\n1</VmName>"),
    "control character": ("<VmName>VM1</VmName>", "<VmName>VM\x1b1</VmName>"),
    "lone surrogate": ("<VmName>VM1</VmName>", "<VmName>VM\ud8001</VmName>"),
    "mismatched root": ("</Event>", "</Evnt>"),
    "mismatched container": ("</VmlEventLog>", "</VmlEventLogs>"),
    "prefixed names": ("<Event xmlns=", "<e:Event xmlns:e="),
    "letters in EventID": (">21024<", ">21O24<"),
    "other digits in EventID": (">21024<", ">٢١٠٢٤<"),
    "no SystemTime": (' SystemTime="2017-11-21T10:57:53.1234567Z"', ""),
    "bad SystemTime": ("2017-11-21T10:57:53", "2017-13-21T10:57:53"),
    "missing Level": ("    <Level>2</Level>\n", ""),
    "spaced EventID": (">21024<", ">  21024\n<"),
    "text after the root": ("</Event>", "</Event>x"),
    "second container": ("  </UserData>", "    <More>\n    </More>\n  </UserData>"),
    "processing instruction": ("  <System>", "  <?pi x?><System>"),
    "unknown System child": ("    <Channel>", "    <Extra>1</Extra>\n    <Channel>"),
}


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_records_agree_or_fall_back(name: str) -> None:
    old, new = ODD[name]
    assert old in BASE
    assert_agrees(BASE.replace(old, new, 1))


def test_entities_are_read_as_lxml_reads_them() -> None:
    event = assert_agrees(BASE.replace("<VmName>VM1</VmName>", "<VmName>a &lt;b&gt;</VmName>"))
    assert isinstance(event, Event) and event.field("VmName") == "a <b>"


TOKENS = [
    "&", "&amp;", "&lt;", "&#65;", "<", ">", "]]>", "\r", "\t", "\n", '"', "'", "\x01",
    "<!-- c -->", "<![CDATA[x]]>", ' a="b"', "</Data>", "<Data>", "\ud800", " ", "=", "/",
    "<?x?>", "\u00a0", "Name", "\ufffe", ":", "%", "x:", "&#10;", "\u2028", "\x85", "Ā",
]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(
    base=st.sampled_from([BASE, EVENT_DATA, NO_PAYLOAD]),
    edits=st.lists(st.tuples(st.floats(0, 1), st.sampled_from(TOKENS)), max_size=4),
)
def test_mutated_records_agree_or_fall_back(base: str, edits: list[tuple[float, str]]) -> None:
    xml = base
    for where, token in edits:
        at = int(where * len(xml))
        xml = xml[:at] + token + xml[at:]
    assert_agrees(xml)


def _records(path: Path, limit: int) -> list[str]:
    out: list[str] = []
    records = PyEvtxParser(str(path)).records()
    errors = 0
    while len(out) < limit and errors < 100:
        try:
            out.append(next(records)["data"])
        except StopIteration:
            break
        except Exception:  # a damaged chunk: the iterator goes on with the next one
            errors += 1
    return out


def test_every_sample_log_record_takes_the_fast_path() -> None:
    # The shipped samples are what the evtx package renders: none may fall back to lxml,
    # or the fast path has silently stopped working.
    files = sorted((ROOT / "sample_logs").rglob("*.evtx"))
    assert files
    for path in files:
        for xml in _records(path, 100_000):
            assert isinstance(assert_agrees(xml), Event), (path, xml)


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus folder {CORPUS} absent")
def test_real_records_agree_or_fall_back() -> None:
    # Real logs from many Windows versions and tools, damaged ones included: every record
    # the fast path reads matches lxml, and it reads most of them.
    seen = fast = 0
    for path in sorted(CORPUS.rglob("*.evtx")):
        try:
            xmls = _records(path, 500)
        except Exception:  # a file the fast parser cannot open at all
            continue
        for xml in xmls:
            seen += 1
            fast += assert_agrees(xml) is not None
    assert seen > 5_000
    print(f"fast path: {fast} of {seen} corpus records")
    assert fast / seen > 0.5, (fast, seen)


@settings(max_examples=500, deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 26), st.sampled_from("0123456789-:T.Z +,/٣")), max_size=3
    )
)
def test_the_evtx_time_layout_reads_as_the_general_pattern(edits: list[tuple[int, str]]) -> None:
    # parse_system_time converts the evtx package's layout in C; a leading space sends the
    # same text through the general pattern.  Both agree, or both refuse.
    from migdiag.readers.xmlevent import parse_system_time

    chars = list("2024-03-04T08:00:05.200000Z")
    for at, char in edits:
        chars[at] = char
    text = "".join(chars)
    outcomes = []
    for variant in (text, " " + text):
        try:
            outcomes.append(parse_system_time(variant))
        except ValueError:
            outcomes.append(None)
    assert outcomes[0] == outcomes[1], text
    # The UTC singleton itself: the report's formatting takes it without a conversion.
    assert all(t is None or t.tzinfo is UTC for t in outcomes), text
