"""EVTX files: the Rust-backed ``evtx`` package first, python-evtx when it cannot open a file.

Why two parsers: ``evtx`` (pyevtx-rs) reads ~1,000x faster and reads past the header's
chunk count, so it recovers records from "dirty" files copied off a running host; a plain
``for`` loop over its iterator stops at the first bad chunk, so we call ``next()`` again
after each error.  python-evtx is the design card's parser: it does not check the file
signature, so it can still read a file whose header is damaged beyond what ``evtx`` opens.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

from migdiag.errors import InputError
from migdiag.model import Event, Origin
from migdiag.readers import InputSource, Keep, ReadStats
from migdiag.readers.xmlevent import parse_event_xml

FILE_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
HEADER_SIZE = 4096
CHUNK_SIZE = 65536
MAX_CONSECUTIVE_ERRORS = 10_000  # a parser that errors forever must not spin forever


def _header_facts(source: InputSource, stats: ReadStats) -> None:
    """Chunk count claimed vs present, and the dirty flag (reference evtx-format 2)."""
    with source.open() as f:
        header = f.read(128)
        if len(header) < 128 or not header.startswith(FILE_MAGIC):
            return
        (stats.header_chunks,) = struct.unpack_from("<H", header, 42)
        (flags,) = struct.unpack_from("<I", header, 120)
        stats.dirty = bool(flags & 0x1)
        found = 0
        f.seek(HEADER_SIZE)
        while True:
            block = f.read(8)
            if len(block) < 8:
                break
            if block == CHUNK_MAGIC:
                found += 1
            f.seek(CHUNK_SIZE - 8, 1)
        stats.chunks = found
    if stats.header_chunks is not None and found > stats.header_chunks:
        stats.warn(
            f"header claims {stats.header_chunks} chunks, {found} found: "
            "the file was copied from a running host; reading them all"
        )


def _relevant_xml(xml: str, keep: Keep) -> bool:
    # The provider name sits in the first lines of the rendered XML; test it before paying
    # for an XML parse.
    start = xml.find('Provider Name="')
    if start < 0:
        return True
    end = xml.find('"', start + 15)
    return keep(xml[start + 15 : end])


def read(source: InputSource, stats: ReadStats, keep: Keep) -> Iterator[Event]:
    from evtx import PyEvtxParser

    _header_facts(source, stats)
    try:
        parser: Any = PyEvtxParser(
            str(source.path) if source.path is not None else source.open(), number_of_threads=1
        )
    except Exception as exc:  # the Rust parser raises plain RuntimeError/OSError subclasses
        stats.warn(f"fast parser could not open the file ({_one_line(exc)}); using python-evtx")
        yield from _read_python_evtx(source, stats, keep)
        return

    records = parser.records()
    errors_in_a_row = 0
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except Exception as exc:
            # A bad chunk: the iterator continues with the next chunk when called again.
            errors_in_a_row += 1
            stats.bad_chunks += 1
            stats.warn(f"damaged data skipped: {_one_line(exc)}")
            if errors_in_a_row > MAX_CONSECUTIVE_ERRORS:
                stats.warn("too many consecutive errors; stopped reading this file")
                break
            continue
        errors_in_a_row = 0
        stats.records += 1
        xml = record["data"]
        if not _relevant_xml(xml, keep):
            continue
        record_id = record.get("event_record_id")
        origin = Origin(path=source.name, format="evtx", record=record_id)
        try:
            event = parse_event_xml(xml, origin)
        except Exception as exc:
            stats.dropped += 1
            stats.warn(f"record {record_id}: unreadable XML ({_one_line(exc)})")
            continue
        if not keep(event.provider):
            continue
        stats.relevant += 1
        yield event


def _read_python_evtx(source: InputSource, stats: ReadStats, keep: Keep) -> Iterator[Event]:
    try:
        import Evtx.Evtx as pyevtx
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise InputError(source.name, "python-evtx is not installed") from exc
    if source.path is None:
        raise InputError(source.name, "not an EVTX file the fast parser can open")
    try:
        log = pyevtx.Evtx(str(source.path))
        log.__enter__()
    except Exception as exc:
        raise InputError(source.name, f"cannot open as EVTX: {_one_line(exc)}") from exc
    try:
        try:
            chunks = list(log.chunks())
        except Exception as exc:
            raise InputError(source.name, f"cannot read EVTX chunks: {_one_line(exc)}") from exc
        for number, chunk in enumerate(chunks):
            try:
                for record in chunk.records():
                    stats.records += 1
                    stats.recovered += 1
                    try:
                        xml = record.xml()
                        origin = Origin(
                            path=source.name,
                            format="evtx",
                            record=record.record_num(),
                            offset=HEADER_SIZE + number * CHUNK_SIZE,
                        )
                        if not _relevant_xml(xml, keep):
                            continue
                        event = parse_event_xml(xml, origin)
                    except Exception as exc:
                        stats.dropped += 1
                        stats.warn(f"record unreadable: {_one_line(exc)}")
                        continue
                    if keep(event.provider):
                        stats.relevant += 1
                        yield event
            except Exception as exc:
                stats.bad_chunks += 1
                stats.warn(f"chunk {number} unreadable: {_one_line(exc)}")
    finally:
        log.__exit__(None, None, None)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
