"""``Get-WinEvent | Export-Clixml`` (and ``Get-EventLog``'s): PowerShell's serialisation XML.

``<Objs>`` holds one ``<Obj>`` per record; its ``<Props>`` (and ``<MS>``, where ``Message``
may sit) hold typed values named by ``N``: ``<S N="ProviderName">``, ``<I32 N="Id">``,
``<DT N="TimeCreated">`` (ISO 8601 with the sender's offset: exact), and ``Properties`` as a
list of objects with a ``Value``.  Strings escape control characters as ``_x000D_``.

Read with the protections of the other XML readers (``readers/xml.py``): a document type
declaration is refused outright (it is how entity bombs and external entities get in), the
parser resolves no entities, loads nothing and keeps lxml's size limits, and the file is fed
in chunks with each record dropped once read, so memory stays flat.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree

from migdiag.errors import InputError
from migdiag.model import Event
from migdiag.readers import InputSource, Keep, Reader, ReadStats
from migdiag.readers.localtime import DEFAULT_OPTIONS, TimeOptions
from migdiag.readers.powershell_record import PsRecord, read_records
from migdiag.readers.text import open_text
from migdiag.readers.xml import _DECLARATION, _DTD, CHUNK_CHARS, _parser, _where
from migdiag.readers.xmlevent import local_name, parse_system_time

FORMAT = "powershell-clixml"
_PROLOG = re.compile(r"^\ufeff?\s*(?:<\?[^>]*\?>\s*|<!--.*?-->\s*)*", re.DOTALL)
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_EVENT_TYPES = ("EventLogRecord", "EventLogEntry", "EventRecord")
DTD_REFUSED = (
    "CLIXML with a document type declaration (<!DOCTYPE>/<!ENTITY>) refused: Export-Clixml "
    "never writes one, and it can expand entities without bound or read other files"
)


def sniff_text(text: str) -> bool:
    """An ``<Objs>`` document (or a DTD in front of one) about event records."""
    skip = _PROLOG.match(text)
    rest = text[skip.end() :] if skip else text
    if not (rest.startswith("<Objs") or (rest.startswith("<!DOCTYPE") and "<Objs" in rest)):
        return False
    return any(name in text for name in _EVENT_TYPES)


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def _scalar(elem: etree._Element) -> str:
    name = local_name(elem.tag)
    if name == "Nil":
        return ""
    if name == "Obj":
        # A nested object (UserId, an enum): its ToString is what a list would print.
        for child in elem:
            if local_name(child.tag) == "ToString":
                return _unescape(child.text or "")
        return ""
    return _unescape(elem.text or "")


def _payload(elem: etree._Element) -> tuple[str, ...] | None:
    """``Properties``: a list (``LST``) of EventProperty objects, each with a ``Value``."""
    for child in elem:
        if local_name(child.tag) != "LST":
            continue
        values = []
        for item in child:
            value = ""
            for props in item:
                if local_name(props.tag) != "Props":
                    continue
                for prop in props:
                    if prop.get("N") == "Value":
                        value = _scalar(prop)
            if local_name(item.tag) in ("S", "I32", "I64", "U32"):
                value = _scalar(item)  # ReplacementStrings: plain strings
            values.append(value)
        return tuple(values)
    return None


def _record(obj: etree._Element, number: int) -> PsRecord:
    values: dict[str, str] = {}
    payload: tuple[str, ...] | None = None
    time = None
    for group in obj:
        if local_name(group.tag) not in ("Props", "MS"):
            continue
        for prop in group:
            name = (prop.get("N") or "").lower()
            if not name:
                continue
            if name in ("properties", "replacementstrings"):
                payload = _payload(prop)
                continue
            text = _scalar(prop)
            values[name] = text
            if local_name(prop.tag) == "DT" and name in ("timecreated", "timegenerated"):
                try:
                    if re.search(r"(Z|[+-]\d\d:?\d\d)\s*$", text):
                        time = parse_system_time(text)
                except ValueError:
                    time = None  # left to the local-time path, which reports it
    return PsRecord(
        number=number, line=obj.sourceline or 0, values=values, payload=payload, time=time
    )


def _records(source: InputSource, stats: ReadStats) -> Iterator[PsRecord]:
    parser = _parser()
    number = 0
    tail = ""
    first = True

    def drain() -> Iterator[PsRecord]:
        nonlocal number
        for _, elem in parser.read_events():
            parent = elem.getparent()
            if local_name(elem.tag) != "Obj" or parent is None or parent.getparent() is not None:
                continue  # only a record (a child of the root) is read, nested objects with it
            number += 1
            try:
                yield _record(elem, number)
            except ValueError as exc:
                stats.records += 1
                stats.dropped += 1
                stats.warn(f"{source.name} object {number} (line {elem.sourceline}): {exc}")
            elem.clear()
            while elem.getprevious() is not None:
                del parent[0]

    try:
        with open_text(source) as f:
            while True:
                chunk = f.read(CHUNK_CHARS)
                if first and chunk:
                    first = False
                    chunk = _DECLARATION.sub(r"\1", chunk, count=1).lstrip("\ufeff")
                if _DTD.search(tail + chunk):
                    raise InputError(source.name, DTD_REFUSED)
                tail = chunk[-16:]
                try:
                    if chunk:
                        parser.feed(chunk)
                    else:
                        parser.close()
                except etree.XMLSyntaxError as exc:
                    yield from drain()
                    if not number:
                        raise InputError(
                            source.name, f"not well-formed XML ({_where(exc)})"
                        ) from exc
                    stats.warn(
                        f"{source.name}: CLIXML damaged at {_where(exc)}; {number} object(s) "
                        "before it were read, the rest is lost"
                    )
                    return
                yield from drain()
                if not chunk:
                    break
    except OSError as exc:
        raise InputError(source.name, f"cannot read: {str(exc)[:200]}") from exc


def make_reader(options: TimeOptions) -> Reader:
    """An Export-Clixml reader; times without an offset use ``options``."""

    def read(source: InputSource, stats: ReadStats, keep: Keep) -> Iterator[Event]:
        records = list(_records(source, stats))
        yield from read_records(records, source, stats, keep, options, FORMAT)

    return read


read: Reader = make_reader(DEFAULT_OPTIONS)
