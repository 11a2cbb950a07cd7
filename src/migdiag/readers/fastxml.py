"""A strict fast path for the one XML shape the ``evtx`` package renders, beside lxml.

Every relevant EVTX record arrives as XML text from the Rust parser, and parsing it with
lxml and walking the tree cost ~35 µs a record: more than decoding the record did.  That
rendering is machine-made and regular (one element per line, attributes in double quotes,
text escaped as entities), so a few regular expressions can read it in a fraction of the
time.  They accept only what they can read exactly as ``xmlevent.parse_event_xml`` would:

* entities only among the five predefined ones (no character reference), no CDATA,
  comment or processing instruction (other than the leading declaration), no carriage
  return (XML normalises line ends), no character XML forbids (``parse_event_xml``
  rewrites those first);
* ``System``'s children in the order Windows writes them, each optional one at most once,
  with only the attributes Windows gives them, in double quotes, without tabs or newlines
  (lxml would normalise those); text without markup;
* then nothing, ``EventData`` of ``Data`` elements, or ``UserData`` holding one container
  of text-only children; no namespace prefix on any name, namespace URIs plain.

Anything else returns ``None`` and the caller parses the record with lxml, so the fast
path can only make reading faster, never different; ``tests/readers/test_fast_xml.py``
compares both on every record of the sample logs and of the third-party corpus, on
hand-made odd records and on hypothesis-mutated ones.
"""

from __future__ import annotations

import re

from migdiag.model import Event, Origin
from migdiag.readers.xmlevent import parse_system_time

_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
# Text and attribute values must not hold markup, a carriage return (XML normalises line
# ends) or a character XML forbids (parse_event_xml rewrites those first); attribute values
# no tab or newline either (lxml turns them into spaces).  "&" may only start one of the
# five predefined entities (checked after the match); "]]>" is looked for separately.
_BAD = "<\r\x00-\x08\x0b\x0c\x0e-\x1f"
# The rest of what XML forbids (surrogates, U+FFFE, U+FFFF) is looked for on its own, before
# the patterns: in their character classes it made compiling them ~4x slower (~12 ms of every
# start-up).  Such a character can only stand in text or a value, where the classes refused
# it, so a record holding one anywhere is lxml's, as before.  An ASCII record holds none.
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")
_TEXT = f"[^{_BAD}]*"
_V = f'[^"{_BAD}\t\n]*'  # an attribute value
# A namespace name: lxml refuses one that is not a valid URI (a space, say).  Plain URI
# characters only (scheme, colon, path); anything else goes to lxml.
_URI = r"[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9/._~-]*"
_NAME = r"[A-Za-z_][A-Za-z0-9_.-]*"  # ASCII, no namespace prefix: lxml's local name
_WS = r"[ \t\n]*"  # XML white space; nothing else may stand between elements here


def _plain(name: str, group: str | None = None, attrs: str = "") -> str:
    """``<name attrs>text</name>`` followed by white space, the text captured as ``group``."""
    text = f"(?P<{group}>{_TEXT})" if group else _TEXT
    return f"<{name}{attrs}>{text}</{name}>{_WS}"


def _optional(name: str, group: str | None = None, attrs: str = "") -> str:
    return f"(?:{_plain(name, group, attrs)})?"


# The layout the evtx package renders: System's children in the order Windows writes them,
# each attribute named (so none can repeat: lxml refuses a repeated attribute), then nothing,
# EventData of Data elements, or UserData with one container of text-only children.  No
# comment, CDATA or processing instruction can match: every "<" opens or closes an element.
_DOCUMENT = re.compile(
    f'{_WS}<(?P<root>{_NAME})(?: xmlns="{_URI}")?>{_WS}<System>{_WS}'
    + _plain(
        "Provider",
        attrs=f'(?: Name="(?P<provider>{_V})")?(?: Guid="{_V}")?(?: EventSourceName="{_V}")?',
    )
    + _plain("EventID", "event_id", f'(?: Qualifiers="{_V}")?')
    + _optional("Version")
    + _optional("Level", "level")
    + _optional("Task")
    + _optional("Opcode")
    + _optional("Keywords")
    + _plain("TimeCreated", attrs=f' SystemTime="(?P<time>{_V})"')
    + _optional("EventRecordID", "record")
    + _optional("Correlation", attrs=f'(?: ActivityID="{_V}")?(?: RelatedActivityID="{_V}")?')
    + _optional("Execution", attrs=f'(?: ProcessID="(?P<pid>{_V})")?(?: ThreadID="(?P<tid>{_V})")?')
    + _optional("Channel", "channel")
    + _optional("Computer", "computer")
    + _optional("Security", attrs=f'(?: UserID="{_V}")?')
    + f"</System>{_WS}"
    f'(?:<EventData>(?P<data>(?:{_WS}<Data(?: Name="{_V}")?>{_TEXT}</Data>)*){_WS}'
    # Classic providers (NIC drivers among them) end their EventData with the raw bytes,
    # which the payload does not hold (xmlevent reads Data elements only).
    f"(?:<Binary>[0-9A-Fa-f\\s]*</Binary>{_WS})?"
    f"</EventData>{_WS}"
    f'|<UserData>{_WS}<(?P<box>{_NAME})(?: xmlns="{_URI}")?>'
    f"(?P<user>(?:{_WS}<(?P<u>{_NAME})>{_TEXT}</(?P=u)>)*){_WS}</(?P=box)>{_WS}"
    f"</UserData>{_WS})?"
    f"</(?P=root)>{_WS}"
)
_DATA = re.compile(f'<Data(?: Name="({_V})")?>({_TEXT})</Data>')
_CHILD = re.compile(f"<({_NAME})>({_TEXT})</\\1>")
_ENTITY = re.compile("&(lt|gt|amp|quot|apos);")
_NOT_AN_ENTITY = re.compile("&(?!(?:lt|gt|amp|quot|apos);)")
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


def _entity(match: re.Match[str]) -> str:
    return _ENTITIES[match.group(1)]


def fast_event(xml: str, origin: Origin) -> Event | None:
    """The record as ``parse_event_xml`` would return it, or ``None`` when it is not in the
    plain shape this path reads (then parse it with ``parse_event_xml``)."""
    body = xml[len(_DECLARATION) :] if xml.startswith(_DECLARATION) else xml
    if not body.isascii() and _NOT_XML.search(body):
        return None
    match = _DOCUMENT.fullmatch(body)
    if match is None or ("]" in body and "]]>" in body):
        return None
    # UserData: every child of the container, by element name; EventData: its Data
    # elements, by Name attribute ("" when it has none).
    user = match.group("user")
    fields = _CHILD.findall(user) if user is not None else _DATA.findall(match.group("data") or "")
    provider, event_id, time_text, level, record, channel, computer = match.group(
        "provider", "event_id", "time", "level", "record", "channel", "computer"
    )
    if "&" in body:
        if _NOT_AN_ENTITY.search(body):
            return None  # a character reference or a stray "&": lxml decides
        fields = [(_ENTITY.sub(_entity, k), _ENTITY.sub(_entity, v)) for k, v in fields]
        provider, event_id, time_text, level, record, channel, computer = (
            _ENTITY.sub(_entity, t) if t else t
            for t in (provider, event_id, time_text, level, record, channel, computer)
        )
    event_id = event_id.strip()
    if not event_id.isdigit() or not time_text:
        return None  # parse_event_xml raises the precise error
    level = (level or "").strip()
    record = (record or "").strip()
    pid, tid = _number(match.group("pid")), _number(match.group("tid"))
    # By position, in the order of Event's fields: keywords cost more than building it (this
    # runs for every kept record; see normalise.normalise).
    return Event(
        parse_system_time(time_text),  # time
        (computer or "").strip(),  # host
        (channel or "").strip(),  # channel
        provider or "",  # provider
        int(event_id) & 0xFFFF,  # event_id: Qualifiers live in an attribute, not here
        int(level) if level.isdigit() else 4,  # level
        int(record) if record.isdigit() else None,  # record_id
        # fields: as xmlevent._value, the evtx package renders an empty element as "<X>\n</X>".
        tuple([(name, text if text.strip() else "") for name, text in fields]),
        None,  # message
        origin,
        None,  # vm_name
        None,  # vm_id
        None,  # peer_host
        (),  # error_codes
        False,  # message_from_input
        False,  # time_assumed
        pid,  # process_id
        tid,  # thread_id
    )


def _number(text: str | None) -> int | None:
    # As xmlevent._number: digits only (an entity there sends the record to lxml anyway).
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) <= 10 else None
