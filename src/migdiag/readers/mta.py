"""LocaleMetaData ``.MTA`` companions of an exported EVTX (evtx-format.md section 14).

Event Viewer's "Save ... with display information" (and ``wevtutil al``) writes, beside the
EVTX, ``LocaleMetaData/<log>_<LCID>.MTA`` holding every record's fully rendered message in
that locale.  Rendered text beats our catalog's templates, so the EVTX reader is wrapped:
when companions exist, each record whose ``EventRecordID`` they list gets their message.

Layout (all little-endian; VERIFIED on one real file only, so every read is bounds-checked
and any surprise just means "no messages from this file"): header ``MTAFile\\0``, version,
a section table (EVT, MSG, PUB); each section is a chain of 888-byte page headers listing
up to 100 record offsets; EVT records map EventRecordID -> MSG entry; MSG records are
length-prefixed UTF-16LE strings.  PUB (level/task names per publisher) is not needed.
"""

from __future__ import annotations

import functools
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from migdiag.errors import InputError
from migdiag.model import Event
from migdiag.readers import InputSource, Keep, Reader, ReadStats
from migdiag.readers.bundle import ZipMemberSource

FILE_MAGIC = b"MTAFile\x00"
PAGE_HEADER = 888
RECORDS_PER_PAGE = 100
MAX_MTA_BYTES = 256 * 1024 * 1024
MAX_PAGES = 100_000  # a looping page chain must end
_LCID = re.compile(r"_(\d+)\.mta$", re.IGNORECASE)


def _sections(data: bytes) -> dict[str, tuple[int, int]]:
    if not data.startswith(FILE_MAGIC) or len(data) < 24:
        raise ValueError("not an MTA file")
    _major, _minor, table_size, count = struct.unpack_from("<IIII", data, 8)
    pos, end = 24, 24 + table_size
    sections: dict[str, tuple[int, int]] = {}
    for _ in range(count):
        if pos + 20 > min(end, len(data)):
            raise ValueError("section table truncated")
        offset, size, name_len = struct.unpack_from("<QQI", data, pos)
        pos += 20
        name = data[pos : pos + name_len].decode("utf-16-le", errors="replace")
        pos += name_len
        if offset + size > len(data):
            raise ValueError(f"section {name} runs past the end of the file")
        sections[name] = (offset, size)
    return sections


def _records(data: bytes, offset: int, size: int) -> Iterator[tuple[int, bytes]]:
    """(entry index, payload) of every record in a paged section."""
    page = 0
    for _ in range(MAX_PAGES):
        base = offset + page
        if page + PAGE_HEADER > size:
            raise ValueError("page header past the end of its section")
        next_page, own = struct.unpack_from("<QQ", data, base + 72)
        slots = struct.unpack_from(f"<{RECORDS_PER_PAGE}Q", data, base + 88)
        for slot in slots:
            if slot == 0:
                continue
            if slot + 8 > size:
                raise ValueError("record offset past the end of its section")
            index, length = struct.unpack_from("<II", data, offset + slot)
            if slot + 8 + length > size:
                raise ValueError("record runs past the end of its section")
            yield index, data[offset + slot + 8 : offset + slot + 8 + length]
        if next_page in (own, page):
            return
        page = next_page
    raise ValueError("page chain does not end")


def parse_messages(data: bytes) -> dict[int, str]:
    """EventRecordID -> rendered message.  Raise ``ValueError`` for a damaged file."""
    sections = _sections(data)
    if "EVT" not in sections or "MSG" not in sections:
        raise ValueError("no EVT or MSG section")
    strings: dict[int, str] = {}
    for index, payload in _records(data, *sections["MSG"]):
        if len(payload) < 4:
            continue
        (length,) = struct.unpack_from("<I", payload, 0)
        text = payload[4 : 4 + length].decode("utf-16-le", errors="replace")
        strings[index] = text.rstrip("\x00")
    messages: dict[int, str] = {}
    for _, payload in _records(data, *sections["EVT"]):
        if len(payload) < 12:
            continue
        record_id, _zero, message_index = struct.unpack_from("<III", payload, 0)
        message = strings.get(message_index)
        if message:
            messages.setdefault(record_id, message)
    return messages


# "LocaleMetaData" (Event Viewer) or a locale name such as "en-US" (wevtutil al).
_LOCALE_FOLDER = re.compile(r"^(?:localemetadata|[a-z]{2,3}(?:-[a-z0-9]{2,8})*)$", re.IGNORECASE)


def _listing(folder: str) -> tuple[tuple[str, bool], ...]:
    try:
        changed = os.stat(folder).st_mtime_ns
    except OSError:
        return ()
    return _cached_listing(folder, changed)


@functools.lru_cache(maxsize=256)
def _cached_listing(folder: str, changed: int) -> tuple[tuple[str, bool], ...]:
    # One listing per folder (and version of it) and process: a folder of many EVTX files is
    # listed once, not once per file.
    try:
        with os.scandir(folder) as entries:
            return tuple((e.name, e.is_dir()) for e in entries)
    except OSError:
        return ()


def _disk_companions(path: Path) -> list[Path]:
    # Beside the EVTX, in LocaleMetaData/, or in a folder named after the locale.
    prefix = path.stem.lower() + "_"
    found: list[Path] = []
    folders = [path.parent]
    folders += [
        path.parent / name
        for name, is_dir in _listing(str(path.parent))
        if is_dir and _LOCALE_FOLDER.match(name)
    ]
    for folder in folders:
        for name, is_dir in _listing(str(folder)):
            lower = name.lower()
            if not is_dir and lower.startswith(prefix) and lower.endswith(".mta"):
                found.append(folder / name)
    return found


def _lcid_order(name: str) -> tuple[int, str]:
    # en-US (1033) first: signatures match English fragments.
    m = _LCID.search(name)
    return (0 if m and m.group(1) == "1033" else 1, name.lower())


def companions(source: InputSource) -> list[InputSource]:
    """The MTA files that belong to an EVTX input, en-US first."""
    found: list[InputSource] = []
    if isinstance(source, ZipMemberSource):
        found = [source.sibling(member) for member in source.companions]
    elif source.path is not None:
        found = [InputSource(name=str(p), path=p) for p in _disk_companions(source.path)]
    return sorted(found, key=lambda s: _lcid_order(s.name))


def _load(source: InputSource) -> dict[int, str]:
    if source.size > MAX_MTA_BYTES:
        raise ValueError("larger than 256 MiB")
    with source.open() as f:
        data = f.read()
    return parse_messages(data)


def with_locale_messages(inner: Reader) -> Reader:
    """``inner`` (the EVTX reader), with messages from the input's MTA companions."""

    def read(source: InputSource, stats: ReadStats, keep: Keep) -> Iterator[Event]:
        messages: dict[int, str] = {}
        for companion in companions(source):
            try:
                for record_id, text in _load(companion).items():
                    messages.setdefault(record_id, text)
            except (ValueError, struct.error, OSError, InputError) as exc:
                stats.warn(f"{companion.name}: LocaleMetaData unreadable ({str(exc)[:160]})")
        if not messages:
            yield from inner(source, stats, keep)
            return
        for event in inner(source, stats, keep):
            if event.record_id is not None and not event.message:
                rendered = messages.get(event.record_id)
                if rendered:
                    event = replace(event, message=rendered)
            yield event

    return read


def read(source: InputSource, stats: ReadStats, keep: Keep) -> Iterator[Event]:
    """An MTA file met on its own holds no events: it is read with its EVTX.  Check here
    that it parses, so a damaged one is reported where the user sees it."""
    try:
        _load(source)
    except (ValueError, struct.error) as exc:
        raise InputError(source.name, f"LocaleMetaData file unreadable: {str(exc)[:160]}") from exc
    except OSError as exc:
        raise InputError(source.name, f"cannot read: {str(exc)[:160]}") from exc
    yield from ()
