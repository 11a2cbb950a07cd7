"""One record, two exports: Event Viewer XML and copy-as-text with Event Xml read back equal.

The serializers below write what Event Viewer writes (reference 9.3, 9.4): single-quoted
one-line XML under ``<Events>`` with ``RenderingInfo``, and a padded text block whose
``Event Xml:`` is the pretty-printed record."""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

from hypothesis import given, settings
from hypothesis import strategies as st
from reader_support import read_bytes

from migdiag.readers.localtime import TimeOptions

EVENT_NS = "http://schemas.microsoft.com/win/2004/08/events/event"
VML_NS = "http://www.microsoft.com/Windows/Virtualization/Events"
CHANNELS = {
    "Microsoft-Windows-Hyper-V-VMMS": "Microsoft-Windows-Hyper-V-VMMS-Admin",
    "Microsoft-Windows-Hyper-V-High-Availability": (
        "Microsoft-Windows-Hyper-V-High-Availability-Admin"
    ),
    "Microsoft-Windows-Hyper-V-Worker": "Microsoft-Windows-Hyper-V-Worker-Admin",
    "Microsoft-Windows-FailoverClustering": "Microsoft-Windows-FailoverClustering/Operational",
}
LEVEL_NAMES = {1: "Critical", 2: "Error", 3: "Warning", 4: "Information", 5: "Verbose"}
CODES = ("0x80072746", "0x8007274C", "0x800705B4", "0x80070534", "0x80090303")


@dataclass(frozen=True)
class Record:
    provider: str
    event_id: int
    level: int
    record_id: int
    time: datetime
    host: str
    user_data: bool  # UserData/VmlEventLog (Hyper-V) or EventData/Data (clustering)
    fields: tuple[tuple[str, str], ...]
    message: str

    @property
    def channel(self) -> str:
        return CHANNELS[self.provider]

    @property
    def system_time(self) -> str:
        return f"{self.time:%Y-%m-%dT%H:%M:%S}.{self.time.microsecond:06d}{self.time.day % 10}Z"


# -- serializers ---------------------------------------------------------------------------


def _attr(value: str) -> str:
    return escape(value, {"'": "&apos;"})


def to_eventviewer_xml(records: list[Record]) -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8" standalone="yes"?>\n<Events>']
    for r in records:
        parts.append(
            f"<Event xmlns='{EVENT_NS}'><System><Provider Name='{_attr(r.provider)}'/>"
            f"<EventID>{r.event_id}</EventID><Version>0</Version><Level>{r.level}</Level>"
            "<Task>0</Task><Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords>"
            f"<TimeCreated SystemTime='{r.system_time}'/>"
            f"<EventRecordID>{r.record_id}</EventRecordID><Correlation/>"
            "<Execution ProcessID='4900' ThreadID='11504'/>"
            f"<Channel>{escape(r.channel)}</Channel><Computer>{escape(r.host)}</Computer>"
            "<Security UserID='S-1-5-18'/></System>"
        )
        if r.user_data:
            parts.append(f"<UserData><VmlEventLog xmlns='{VML_NS}'>")
            parts.extend(f"<{n}>{escape(v)}</{n}>" for n, v in r.fields)
            parts.append("</VmlEventLog></UserData>")
        else:
            parts.append("<EventData>")
            parts.extend(f"<Data Name='{_attr(n)}'>{escape(v)}</Data>" for n, v in r.fields)
            parts.append("</EventData>")
        parts.append(
            f"<RenderingInfo Culture='en-US'><Message>{escape(r.message)}</Message>"
            f"<Level>{LEVEL_NAMES[r.level]}</Level><Task>None</Task><Opcode>Info</Opcode>"
            f"<Channel>{escape(r.channel)}</Channel><Provider>{escape(r.provider)}</Provider>"
            "<Keywords></Keywords></RenderingInfo></Event>"
        )
    parts.append("</Events>")
    return "".join(parts).encode("utf-8")


def _pretty_xml(r: Record) -> list[str]:
    lines = [
        f'<Event xmlns="{EVENT_NS}">',
        "  <System>",
        f'    <Provider Name="{escape(r.provider, {chr(34): "&quot;"})}" />',
        f"    <EventID>{r.event_id}</EventID>",
        "    <Version>0</Version>",
        f"    <Level>{r.level}</Level>",
        "    <Task>0</Task>",
        "    <Opcode>0</Opcode>",
        "    <Keywords>0x8000000000000000</Keywords>",
        f'    <TimeCreated SystemTime="{r.system_time}" />',
        f"    <EventRecordID>{r.record_id}</EventRecordID>",
        "    <Correlation />",
        '    <Execution ProcessID="4900" ThreadID="11504" />',
        f"    <Channel>{escape(r.channel)}</Channel>",
        f"    <Computer>{escape(r.host)}</Computer>",
        '    <Security UserID="S-1-5-18" />',
        "  </System>",
    ]
    if r.user_data:
        lines += ["  <UserData>", f'    <VmlEventLog xmlns="{VML_NS}">']
        lines += [f"      <{n}>{escape(v)}</{n}>" for n, v in r.fields]
        lines += ["    </VmlEventLog>", "  </UserData>"]
    else:
        lines.append("  <EventData>")
        lines += [f'    <Data Name="{escape(n)}">{escape(v)}</Data>' for n, v in r.fields]
        lines.append("  </EventData>")
    lines.append("</Event>")
    return lines


def to_copy_as_text(records: list[Record], offset: timedelta) -> bytes:
    blocks = []
    for r in records:
        local = r.time + offset
        date = f"{local.month}/{local.day}/{local.year} {local:%I:%M:%S %p}".replace(" 0", " ")
        header = [
            ("Log Name:", r.channel),
            ("Source:", r.provider),
            ("Date:", date),
            ("Event ID:", str(r.event_id)),
            ("Task Category:", "None"),
            ("Level:", LEVEL_NAMES[r.level]),
            ("Keywords:", ""),
            ("User:", "SYSTEM"),
            ("Computer:", r.host),
        ]
        lines = [f"{label:<15}{value}" for label, value in header]
        lines += ["Description:", r.message, "Event Xml:", *_pretty_xml(r)]
        blocks.append("\r\n".join(lines))
    return ("\r\n".join(blocks) + "\r\n").encode("utf-8")


# -- strategies -----------------------------------------------------------------------------

_WORD = st.text(string.ascii_letters + string.digits + "éüßçÅ‘’", min_size=1, max_size=12)
_value = st.one_of(
    st.just(""),
    st.sampled_from(CODES),
    st.text(
        st.characters(
            codec="utf-8",
            categories=("L", "N", "P", "S", "Zs"),
            exclude_characters="\x85\u2028\u2029",
        ),
        max_size=30,
    ).filter(lambda s: s.strip() != "" and s == s.strip()),
)
_message_line = st.lists(
    st.one_of(
        _WORD, st.sampled_from([*(f"({c})." for c in CODES), "'SQL-01'", ":", "-", "failed"])
    ),
    min_size=1,
    max_size=10,
).map(" ".join)
_host = st.from_regex(r"[A-Z][A-Z0-9-]{0,12}(\.[a-z]{2,8}){0,2}", fullmatch=True)


@st.composite
def records(draw: st.DrawFn) -> Record:
    user_data = draw(st.booleans())
    values = draw(st.lists(_value, max_size=6))
    if user_data:
        named = draw(st.booleans())
        names = (
            [draw(st.from_regex(r"[A-Z][A-Za-z]{1,10}", fullmatch=True)) for _ in values]
            if named
            else [f"Parameter{i}" for i in range(len(values))]
        )
    else:
        names = [draw(st.sampled_from(["ResourceName", "NodeName", "", "Error"])) for _ in values]
    return Record(
        provider=draw(st.sampled_from(sorted(CHANNELS))),
        event_id=draw(st.integers(0, 65535)),
        level=draw(st.integers(1, 5)),
        record_id=draw(st.integers(1, 2**40)),
        time=draw(
            st.datetimes(datetime(2005, 1, 1), datetime(2035, 1, 1)).map(
                lambda t: t.replace(tzinfo=UTC)
            )
        ),
        host=draw(_host),
        user_data=user_data,
        fields=tuple(zip(names, values, strict=True)),
        message="\r\n".join(draw(st.lists(_message_line, min_size=1, max_size=3))),
    )


@settings(max_examples=50, deadline=None)
@given(st.lists(records(), min_size=1, max_size=3), st.integers(-12, 14))
def test_xml_and_copy_as_text_read_back_equal(batch: list[Record], hours: int) -> None:
    offset = timedelta(hours=hours)
    options = TimeOptions(default_offset=offset)
    as_xml = read_bytes("export.xml", to_eventviewer_xml(batch), options)
    as_text = read_bytes("copied.txt", to_copy_as_text(batch, offset), options)
    assert as_xml.format == "xml" and as_text.format == "text"
    assert len(as_xml.events) == len(as_text.events) == len(batch)
    for record, x, t in zip(batch, as_xml.events, as_text.events, strict=True):
        for e in (x, t):
            assert e.time == record.time
            assert e.host == record.host
            assert e.provider == record.provider
            assert e.event_id == record.event_id
            assert e.level == record.level
            assert e.record_id == record.record_id
            assert e.fields == record.fields
            assert not e.time_assumed
            assert e.message_from_input
        assert x.channel == t.channel
        assert x.message is not None and t.message is not None
        assert x.message.splitlines() == t.message.splitlines()
        assert x.error_codes == t.error_codes
        assert x.identity == t.identity
