"""Event XML: Event Viewer "Save ... as XML" and ``wevtutil qe /f:xml`` (reference 9.2, 9.4).

Event Viewer writes an ``<Events>`` root holding ``<Event>`` elements (single-quoted
attributes, optionally a ``RenderingInfo`` with the rendered ``Message``); wevtutil writes
the ``<Event>`` elements with no root at all.  Both are read the same way: the text is fed,
chunk by chunk, to a pull parser inside a synthetic root, and each ``<Event>`` is converted
by ``xmlevent`` and dropped from the tree, so memory stays flat however large the export.

A document type declaration is refused outright: no export has one, and it is how entity
bombs (billion laughs) and external entities get in.  The parser itself also resolves no
entities, loads no DTD and touches no network, should anything slip past the check.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree

from migdiag.errors import InputError
from migdiag.model import Event, Origin
from migdiag.readers import InputSource, Keep, ReadStats, keeps_event
from migdiag.readers.text import open_text
from migdiag.readers.xmlevent import event_from_element, local_name

FORMAT = "xml"
CHUNK_CHARS = 1 << 20
_WRAPPER = "migdiag-events"
_DTD = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARATION = re.compile(r"^\ufeff?(\s*)<\?xml[^>]*\?>")
_PROLOG_SKIP = re.compile(r"^\ufeff?\s*(?:<\?[^>]*\?>\s*|<!--.*?-->\s*)*", re.DOTALL)
_DTD_ROOT = re.compile(r"^<!DOCTYPE\s+Events?\b", re.IGNORECASE)
_OTHER_ROOT = re.compile(r"^<[A-Za-z_][\w.-]*(?:\s[^>]*)?>\s*<Event[\s>]")

DTD_REFUSED = (
    "XML with a document type declaration (<!DOCTYPE>/<!ENTITY>) refused: exports never "
    "have one, and it can expand entities without bound (billion laughs) or read other files"
)


def sniff_text(text: str) -> bool:
    """True when the text starts like event XML (after a declaration and comments)."""
    skip = _PROLOG_SKIP.match(text)
    rest = text[skip.end() :] if skip else text
    if rest.startswith(("<Events", "<Event ", "<Event>", "<Event\n", "<Event\r")):
        return True
    if _OTHER_ROOT.match(rest):
        return True  # wevtutil qe /f:xml /e:<root>: any root name the user chose
    # A DTD in front of event XML is still ours to read, and to refuse with a clear message.
    return bool(_DTD_ROOT.match(rest)) or (rest.startswith("<!DOCTYPE") and "<Event" in rest)


def _parser() -> etree.XMLPullParser:
    return etree.XMLPullParser(
        events=("end",),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
    )


def _where(exc: etree.XMLSyntaxError) -> str:
    line = getattr(exc, "lineno", None)
    msg = str(getattr(exc, "msg", "") or exc).strip().splitlines()
    text = msg[0] if msg else "malformed XML"
    return f"line {line}: {text[:160]}" if line else text[:160]


def read(source: InputSource, stats: ReadStats, keep: Keep) -> Iterator[Event]:
    parser = _parser()
    # The wrapper lets wevtutil's rootless output parse; Event Viewer's <Events> nests in it.
    # It shares line 1 with the document, so lxml's line numbers stay the file's.
    parser.feed(f"<{_WRAPPER}>")
    number = 0

    def drain() -> Iterator[Event]:
        nonlocal number
        for _, elem in parser.read_events():
            if local_name(elem.tag) != "Event":
                continue
            parent = elem.getparent()
            grandparent = parent.getparent() if parent is not None else None
            # A record sits in our wrapper, or in the export's root (<Events>, or whatever
            # wevtutil's /e: named it); an Event deeper in a payload is data, not a record.
            if parent is None or not (
                local_name(parent.tag) == _WRAPPER
                or (grandparent is not None and local_name(grandparent.tag) == _WRAPPER)
            ):
                continue
            number += 1
            stats.records += 1
            origin = Origin(path=source.name, format=FORMAT, record=number, offset=elem.sourceline)
            try:
                event: Event | None = event_from_element(elem, origin)
            except ValueError as exc:
                event = None
                stats.dropped += 1
                stats.warn(f"{source.name} event {number} (line {elem.sourceline}): {exc}")
            # Drop what is done with, so a large export is never held whole.
            elem.clear()
            while elem.getprevious() is not None:
                del parent[0]
            if event is None or not keeps_event(keep, event):
                continue
            stats.relevant += 1
            yield event

    tail = ""
    first = True
    try:
        with open_text(source) as f:
            while True:
                chunk = f.read(CHUNK_CHARS)
                final = not chunk
                if first and chunk:
                    first = False
                    # A declaration may name an encoding the text no longer has (it was
                    # decoded already); inside the wrapper it would not be legal anyway.
                    chunk = _DECLARATION.sub(r"\1", chunk, count=1).lstrip("\ufeff")
                if _DTD.search(tail + chunk):
                    raise InputError(source.name, DTD_REFUSED)
                tail = chunk[-16:]
                try:
                    if final:
                        parser.feed(f"</{_WRAPPER}>")
                        parser.close()
                    else:
                        parser.feed(chunk)
                except etree.XMLSyntaxError as exc:
                    # Keep what parsed before the damage: a truncated export is common.
                    yield from drain()
                    if not number:
                        raise InputError(
                            source.name, f"not well-formed XML ({_where(exc)})"
                        ) from exc
                    stats.dropped += 1
                    stats.warn(
                        f"{source.name}: XML damaged at {_where(exc)}; "
                        f"{number} event(s) before it were read, the rest is lost"
                    )
                    return
                yield from drain()
                if final:
                    break
    except OSError as exc:
        raise InputError(source.name, f"cannot read: {str(exc)[:200]}") from exc
    # An export with no events (<Events/>) is a valid input with nothing in it.
