"""One ``<Event>`` element -> one raw ``Event``: shared by every reader that sees event XML
(EVTX renderings, Event Viewer XML exports, wevtutil /f:xml, copy-as-text's Event Xml)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING

from migdiag.model import Event, Origin

if TYPE_CHECKING:
    from lxml import etree


@cache
def safe_parser() -> etree.XMLParser:
    """The hardened parser: no network, no entities, no DTD, bounded depth (huge_tree off).

    Made, and lxml imported (~10 ms), on first use: the EVTX reader's fast path
    (``fastxml``) reads every plain record without it, so most runs never need lxml."""
    from lxml import etree

    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


_SYSTEM_TIME = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*$"
)


_EVTX_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", re.ASCII)


def parse_system_time(text: str) -> datetime:
    """``TimeCreated/@SystemTime``: UTC with 0 to 9 fractional digits (reference 2.1, 2.2)."""
    if _EVTX_TIME.fullmatch(text):
        # The evtx package's one layout, 2024-03-04T08:00:05.200000Z, converted in C: this
        # runs for every kept record.  (fromisoformat alone is too lenient to be trusted.)
        # Its "Z" gives the UTC singleton itself, ~10x faster than a replace(tzinfo=UTC).
        return datetime.fromisoformat(text)
    m = _SYSTEM_TIME.match(text)
    if not m:
        raise ValueError(f"not an ISO 8601 time: {text[:40]!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction = (m.group(7) or "").ljust(9, "0")
    # Truncate to microseconds: readers disagree below that (evtx-format.md 11.3).
    micro = int(fraction[:6])
    value = datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    zone = m.group(8)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        try:
            value -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        except OverflowError:
            # Year 1 or 9999 moved across midnight: a crafted time must cost one record (the
            # readers drop a record on ValueError), not the file.
            raise ValueError(f"time out of range: {text[:40]!r}") from None
    return value


def local_name(tag: object) -> str:
    """An element's name without its namespace ("" for comments and processing instructions)."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _child(parent: etree._Element, name: str) -> etree._Element | None:
    for child in parent:
        if local_name(child.tag) == name:
            return child
    return None


def _text(elem: etree._Element | None) -> str:
    if elem is None:
        return ""
    return "".join(elem.itertext())


def _value(elem: etree._Element) -> str:
    # The evtx package renders an empty element as "<X>\n</X>": that is "", not a newline.
    text = _text(elem)
    return "" if not text.strip() else text


def payload_fields(event: etree._Element) -> tuple[tuple[str, str], ...]:
    """Payload in document order: ``UserData/<container>/*`` or ``EventData/Data``."""
    user = _child(event, "UserData")
    if user is not None:
        for container in user:
            if not isinstance(container.tag, str):
                continue
            return tuple(
                (local_name(c.tag), _value(c)) for c in container if isinstance(c.tag, str)
            )
        return ()
    data = _child(event, "EventData")
    if data is not None:
        fields: list[tuple[str, str]] = []
        for c in data:
            if not isinstance(c.tag, str):
                continue
            if local_name(c.tag) == "Data":
                fields.append((c.get("Name") or "", _value(c)))
        return tuple(fields)
    return ()


def _children(parent: etree._Element) -> dict[str, etree._Element]:
    # One pass over the children instead of one scan per wanted name: this runs for every
    # relevant record, so it is on the hot path.  The first child of a name wins.
    out: dict[str, etree._Element] = {}
    for child in parent:
        tag = child.tag
        if isinstance(tag, str):
            out.setdefault(tag[tag.rfind("}") + 1 :], child)
    return out


def event_from_element(event: etree._Element, origin: Origin) -> Event:
    """Raise ``ValueError`` when the element lacks what every event must have."""
    top = _children(event)
    system_el = top.get("System")
    if system_el is None:
        raise ValueError("event has no System element")
    system = _children(system_el)
    provider_el = system.get("Provider")
    provider = (provider_el.get("Name") or "") if provider_el is not None else ""
    event_id_text = _text(system.get("EventID")).strip()
    if not event_id_text.isdigit():
        raise ValueError(f"event has no numeric EventID ({event_id_text[:20]!r})")
    time_el = system.get("TimeCreated")
    time_text = time_el.get("SystemTime") if time_el is not None else None
    if not time_text:
        raise ValueError("event has no TimeCreated/@SystemTime")
    level_text = _text(system.get("Level")).strip()
    record_text = _text(system.get("EventRecordID")).strip()
    execution = system.get("Execution")
    process_id = _number(execution.get("ProcessID")) if execution is not None else None
    thread_id = _number(execution.get("ThreadID")) if execution is not None else None
    message = None
    rendering = top.get("RenderingInfo")
    if rendering is not None:
        message = _text(_child(rendering, "Message")) or None
    return Event(
        time=parse_system_time(time_text),
        host=_text(system.get("Computer")).strip(),
        channel=_text(system.get("Channel")).strip(),
        provider=provider,
        event_id=int(event_id_text) & 0xFFFF,  # Qualifiers live in an attribute, not here
        level=int(level_text) if level_text.isdigit() else 4,
        record_id=int(record_text) if record_text.isdigit() else None,
        fields=payload_fields(event),
        message=message,
        origin=origin,
        process_id=process_id,
        thread_id=thread_id,
    )


def _number(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) <= 10 else None


# Characters XML 1.0 forbids even as references.  An EVTX string value may hold them (a VM
# named with a backspace, an attacker's escape sequence), and the fast parser renders them
# raw: lxml then refuses the whole record, which hid the event from the analysis.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _visible(match: re.Match[str]) -> str:
    # C0 controls become their Unicode "control pictures" (ESC -> U+241B): the event is
    # kept, the oddity stays visible, and nothing a terminal obeys survives.
    code = ord(match.group())
    return chr(0x2400 + code) if code < 0x20 else "\ufffd"


def parse_event_xml(xml: str | bytes, origin: Origin) -> Event:
    """Parse one serialized ``<Event>`` (with or without an XML declaration)."""
    if isinstance(xml, str):
        xml = _NOT_XML.sub(_visible, xml)
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    if data.startswith(b"<?xml"):
        end = data.find(b"?>")
        data = data[end + 2 :] if end >= 0 else data
    from lxml import etree

    root = etree.fromstring(data, safe_parser())
    return event_from_element(root, origin)
