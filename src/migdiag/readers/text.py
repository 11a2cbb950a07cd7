"""Event Viewer "Copy details as text" blocks (reference 9.3), one or many per file.

A block is ``Log Name:`` ... ``Computer:``, ``Description:``, the rendered message and,
when the user copied the whole thing, ``Event Xml:`` with the record's XML.  The XML is the
record itself (UTC time, payload, record id), so when it is there it wins and the block's
text only supplies the rendered message; without it the header lines are all we have: a
local ``Date`` (converted with ``TimeOptions``, ``time_assumed``) and no payload.

Labels are read in English and German (VERIFIED); in any other culture the header lines are
taken by position, which the reference suggests, and the XML section is found by its
``<Event`` line rather than by its label.

This module also holds the text decoding the other text readers (wevtutil, CSV) and the
sniffer share: exports arrive as UTF-8, UTF-8 with BOM, UTF-16 with BOM (PowerShell's ``>``)
and occasionally ANSI.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TextIO

from migdiag.catalog import default_catalog
from migdiag.errors import InputError, one_line
from migdiag.model import Event, Origin, short_host
from migdiag.readers import InputSource, Keep, Reader, ReadStats, keeps_event
from migdiag.readers.localtime import (
    DEFAULT_OPTIONS,
    TimeOptions,
    parse_local,
    resolve_day_first,
    to_utc,
)
from migdiag.readers.xmlevent import parse_event_xml

FORMAT = "text"
MAX_TEXT_BYTES = 256 * 1024 * 1024  # a paste is small; a bigger "paste" is not one


# -- decoding shared by the text formats -------------------------------------------------


def detect_encoding(head: bytes) -> str:
    """The codec for a text export, from its BOM or, without one, its bytes."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # Python's utf-16 reads the BOM and drops it
    sample = head[:512]
    if len(sample) >= 4:
        evens, odds = sample[0::2], sample[1::2]
        # ASCII text in UTF-16 without a BOM has a NUL in every other byte.
        if odds.count(0) > len(odds) * 0.4 and evens.count(0) < len(evens) * 0.1:
            return "utf-16-le"
        if evens.count(0) > len(evens) * 0.4 and odds.count(0) < len(odds) * 0.1:
            return "utf-16-be"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "cp1252"  # Windows' ANSI code page for the Western cultures
    return "utf-8"


def decode_head(head: bytes) -> str:
    """The head of an input as text (a character cut at the end is dropped)."""
    decoder = codecs.getincrementaldecoder(detect_encoding(head))(errors="replace")
    return decoder.decode(head, final=False)


def open_text(source: InputSource, newline: str | None = None) -> TextIO:
    """The whole input as text, streamed, in the encoding its head shows."""
    encoding = detect_encoding(source.head(4096))
    return io.TextIOWrapper(source.open(), encoding=encoding, errors="replace", newline=newline)


# -- values shared by the text formats ----------------------------------------------------

_LEVELS: dict[str, int] = {}
for _number, _names in {
    1: ("critical", "kritisch", "critique", "crítico", "critico", "严重", "重大", "심각"),
    2: ("error", "fehler", "erreur", "错误", "エラー", "오류", "errore"),
    3: ("warning", "warnung", "avertissement", "advertencia", "avviso", "警告", "경고"),
    4: (
        "information",
        "informationen",
        "informations",
        "información",
        "informazioni",
        "信息",
        "情報",
        "정보",
    ),
    5: ("verbose", "ausführlich", "commentaires", "detallado", "dettagliato", "详细", "詳細"),
    0: ("logalways", "log always"),
}.items():
    for _name in _names:
        _LEVELS[_name] = _number


def level_number(text: str) -> int | None:
    """A rendered level name (English, German and a few others) -> XML ``<Level>``."""
    return _LEVELS.get(text.strip().lower())


def provider_name(source: str) -> str:
    """``Hyper-V-VMMS`` (Event Viewer's short display of a provider) -> the full provider
    name, when the catalog knows it; anything else is kept as written."""
    name = source.strip()
    if name.lower().startswith("microsoft-windows-"):
        return name
    for known in default_catalog().providers.values():
        if known.lower() == f"microsoft-windows-{name.lower()}":
            return known
    return name


def clean_line(line: str) -> str:
    # Pasted through a web page or a mail client, the column padding becomes no-break
    # spaces (the seed's blocks): they are layout, not data.
    return line.replace("\u00a0", " ").replace("\u202f", " ").rstrip("\r\n")


# -- copy-as-text blocks --------------------------------------------------------------------

# "Label:   value"; a long German label may touch its value ("Aufgabenkategorie:Keine").
# A value starting with / or \ is a URL or a path ("http://...", "C:\..."), not a label.
_LABEL_LINE = re.compile(r"^([^\s:<][^:<>]{0,39}?)\s*:\s*(?![/\\])(.*?)\s*$")

KNOWN_LABELS: dict[str, str] = {
    "log name": "log",
    "protokollname": "log",
    "source": "source",
    "quelle": "source",
    "date": "date",
    "datum": "date",
    "event id": "id",
    "ereignis-id": "id",
    "task category": "task",
    "aufgabenkategorie": "task",
    "level": "level",
    "ebene": "level",
    "opcode": "opcode",
    "vorgangscode": "opcode",
    "keywords": "keywords",
    "schlüsselwörter": "keywords",
    "user": "user",
    "benutzer": "user",
    "computer": "computer",
    "description": "description",
    "beschreibung": "description",
}
# Header order in every culture (reference 9.3): unknown labels are taken by position.
POSITIONS = ("log", "source", "date", "id", "task", "level", "keywords", "user", "computer")


@dataclass(frozen=True, slots=True)
class LabelLine:
    label: str
    key: str | None  # our name for the label, None when the culture is unknown
    value: str


def label_line(line: str) -> LabelLine | None:
    m = _LABEL_LINE.match(clean_line(line).strip())
    if not m:
        return None
    label = " ".join(m.group(1).split())
    return LabelLine(label, KNOWN_LABELS.get(label.lower()), (m.group(2) or "").strip())


def _structural_start(lines: Sequence[str], i: int) -> bool:
    """A block in an unknown culture: nine label lines whose 3rd value is a date, 4th an
    event id, followed within a few lines by a label with no value (the description)."""
    heads = [label_line(line) for line in lines[i : i + 9]]
    if len(heads) < 9 or any(h is None for h in heads):
        return False
    date, event_id = heads[2], heads[3]
    assert date is not None and event_id is not None
    if not event_id.value.isdigit() or not re.search(r"\d", date.value):
        return False
    for line in lines[i + 8 : i + 13]:
        h = label_line(line)
        if h is not None and not h.value and h.key not in POSITIONS:
            return True
    return False


def block_starts(lines: Sequence[str]) -> list[int]:
    """Line indexes where a copy-as-text block begins."""
    starts = []
    for i, line in enumerate(lines):
        h = label_line(line)
        if h is None:
            continue
        if h.key == "log":
            follows = [label_line(x) for x in lines[i + 1 : i + 4]]
            if any(f is not None and f.key in ("source", "date", "id") for f in follows):
                starts.append(i)
        elif h.key is None and _structural_start(lines, i):
            starts.append(i)
    return starts


@dataclass(frozen=True, slots=True)
class Block:
    number: int  # 1-based block number in the file
    line: int  # 1-based line of its first line
    header: tuple[tuple[str, str], ...]  # (key, value) by our key names, first one wins
    description: str
    xml: str | None
    xml_line: int | None

    def value(self, key: str) -> str:
        for name, value in self.header:
            if name == key:
                return value
        return ""


def split_block(lines: Sequence[str], start: int, end: int, number: int) -> Block:
    header: dict[str, str] = {}
    seen: list[LabelLine] = []
    j = start
    description_first = ""
    while j < end:
        h = label_line(lines[j])
        if h is None:
            break  # the message started without a Description label
        j += 1
        # In an unknown culture the description label is the first empty one after the
        # eight header lines that precede Computer (Keywords may be empty too).
        if h.key == "description" or (h.key is None and not h.value and len(seen) >= 8):
            description_first = h.value
            break
        seen.append(h)
        if h.key is not None:
            header.setdefault(h.key, h.value)
    if any(h.key is None for h in seen):
        # Labels we cannot read: take the values in the order every culture prints them.
        for key, h in zip(POSITIONS[:6], seen, strict=False):
            header.setdefault(key, h.value)
        if seen:
            header.setdefault("computer", seen[-1].value)
    body: list[str] = [description_first] if description_first else []
    xml: str | None = None
    xml_line: int | None = None
    k = j
    while k < end:
        text = clean_line(lines[k])
        previous = label_line(body[-1]) if body else None
        if text.lstrip().startswith("<Event") and previous is not None and not previous.value:
            # "Event Xml:" (in whatever language) is the line before the XML.
            body.pop()
            stop = k
            while stop < end and "</Event>" not in lines[stop]:
                stop += 1
            xml = "\n".join(lines[k : min(stop + 1, end)])
            xml_line = k + 1
            break
        body.append(text)
        k += 1
    while body and not body[-1].strip():
        body.pop()
    while body and not body[0].strip():
        body.pop(0)
    return Block(
        number=number,
        line=start + 1,
        header=tuple(header.items()),
        description="\n".join(body),
        xml=xml,
        xml_line=xml_line,
    )


def iter_blocks(text: str) -> Iterator[Block]:
    lines = text.splitlines()
    starts = block_starts(lines)
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        yield split_block(lines, start, end, n + 1)


def _event_from_header(
    block: Block,
    name: str,
    options: TimeOptions,
    day_first: bool | None,
    inferred: dict[str, timedelta],
) -> Event:
    event_id = block.value("id").strip()
    if not event_id.isdigit():
        raise ValueError(f"no numeric Event ID ({event_id[:20]!r})")
    host = block.value("computer").strip()
    offset = inferred.get(short_host(host))
    if offset is not None:
        # The file's own blocks with Event Xml show this host's offset: not an assumption.
        inferred_options = TimeOptions(default_offset=offset, day_first=options.day_first)
        time, _ = to_utc(block.value("date"), host, inferred_options, day_first)
        assumed = False
    else:
        time, assumed = to_utc(block.value("date"), host, options, day_first)
    level = level_number(block.value("level"))
    return Event(
        time=time,
        host=host,
        channel=block.value("log").strip(),
        provider=provider_name(block.value("source")),
        event_id=int(event_id) & 0xFFFF,
        level=4 if level is None else level,
        record_id=None,
        fields=(),  # text without Event Xml carries no payload
        message=block.description or None,
        origin=Origin(path=name, format=FORMAT, record=block.number, offset=block.line),
        time_assumed=assumed,
    )


# UTC offsets are whole quarter hours (Nepal's +05:45 is the finest in use).
_QUARTER_HOUR = 15 * 60


def _local_offset(block: Block, utc: datetime, day_first: bool | None) -> timedelta | None:
    """The host's UTC offset a block with Event Xml shows: its header's local ``Date`` minus
    its XML's ``SystemTime``, to the quarter hour (the header has no fractions)."""
    try:
        local = parse_local(block.value("date"), day_first)
    except ValueError:
        return None
    if local.zone is not None:
        return None  # a zoned date says nothing about the host's local time
    seconds = (local.value - utc.replace(tzinfo=None)).total_seconds()
    quarters = round(seconds / _QUARTER_HOUR)
    if abs(seconds - quarters * _QUARTER_HOUR) > 120 or abs(quarters) > 14 * 4:
        return None  # not an offset: the header and the XML disagree by minutes
    return timedelta(seconds=quarters * _QUARTER_HOUR)


def _infer_offsets(
    parsed: dict[int, Event], blocks: Sequence[Block], day_first: bool | None
) -> dict[str, timedelta]:
    """Host -> UTC offset, from the blocks that carry both a local ``Date`` and the XML's
    UTC ``SystemTime``; a host whose blocks disagree (a daylight-saving change inside the
    file) gets none."""
    seen: dict[str, set[timedelta]] = {}
    for block in blocks:
        event = parsed.get(block.number)
        if event is None:
            continue
        offset = _local_offset(block, event.time, day_first)
        if offset is not None:
            seen.setdefault(event.short_host, set()).add(offset)
    return {host: next(iter(found)) for host, found in seen.items() if len(found) == 1}


def _utc_offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def read_blocks(
    blocks: Sequence[Block], name: str, stats: ReadStats, keep: Keep, options: TimeOptions
) -> Iterator[Event]:
    day_first = resolve_day_first(options, (b.value("date") for b in blocks if not b.xml))
    parsed: dict[int, Event] = {}
    for block in blocks:
        if block.xml is None:
            continue
        origin = Origin(path=name, format=FORMAT, record=block.number, offset=block.line)
        try:
            record = parse_event_xml(block.xml.strip(), origin)
        except Exception as exc:
            where = f"{name} block {block.number} (line {block.line})"
            stats.warn(f"{where}: Event Xml unreadable ({one_line(exc)}); using the header")
        else:
            # The XML is the record; the block's text is its rendering.
            parsed[block.number] = replace(record, message=block.description or record.message)
    inferred = _infer_offsets(parsed, blocks, day_first)
    local_only: dict[str, int] = {}
    for block in blocks:
        if block.number not in parsed:
            host = short_host(block.value("computer")) if block.value("computer") else ""
            local_only[host] = local_only.get(host, 0) + 1
    for host, count in sorted(local_only.items()):
        if host in inferred:
            stats.warn(
                f"{name}: {count} block(s) of {host} without Event Xml carry only local time; "
                f"converted with {_utc_offset_text(inferred[host])}, the offset this file's "
                f"blocks of {host} with Event Xml show"
            )
        elif host and parsed:
            stats.warn(
                f"{name}: {count} block(s) of {host} without Event Xml carry only local time "
                "and no block of that host carries SystemTime to infer its UTC offset; "
                f"converted with {_utc_offset_text(options.offset_for(host))} (set it with "
                "--utc-offset)"
            )
    for block in blocks:
        stats.records += 1
        where = f"{name} block {block.number} (line {block.line})"
        event: Event | None = parsed.get(block.number)
        if event is None:
            try:
                event = _event_from_header(block, name, options, day_first, inferred)
            except ValueError as exc:
                stats.dropped += 1
                stats.warn(f"{where}: unreadable block ({one_line(exc)})")
                continue
        if not keeps_event(keep, event):
            continue
        stats.relevant += 1
        yield event


def make_reader(options: TimeOptions) -> Reader:
    """A copy-as-text reader that converts local dates with ``options``."""

    def read(source: InputSource, stats: ReadStats, keep: Keep) -> Iterator[Event]:
        if source.size > MAX_TEXT_BYTES:
            raise InputError(source.name, "too large for a copy-as-text export (over 256 MiB)")
        try:
            with open_text(source) as f:
                text = f.read()
        except OSError as exc:
            raise InputError(source.name, f"cannot read: {one_line(exc)}") from exc
        blocks = list(iter_blocks(text))
        if not blocks:
            raise InputError(source.name, "no Event Viewer copy-as-text block found")
        yield from read_blocks(blocks, source.name, stats, keep, options)

    return read


read: Reader = make_reader(DEFAULT_OPTIONS)


def sniff_text(text: str) -> bool:
    """True when the text holds a copy-as-text block."""
    return bool(block_starts(text.splitlines()))
