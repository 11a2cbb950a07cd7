"""EVTX files: the Rust-backed ``evtx`` package first, python-evtx when it cannot open a file.

Why two parsers: ``evtx`` (pyevtx-rs) reads ~1,000x faster and reads past the header's
chunk count, so it recovers records from "dirty" files copied off a running host; a plain
``for`` loop over its iterator stops at the first bad chunk, so we call ``next()`` again
after each error.  python-evtx is the design card's parser: it does not check the file
signature, so it can still read a file whose header is damaged beyond what ``evtx`` opens.

Chunk skipping (the fast path): a fleet bundle is mostly System-log records no signature can
use, and decoding them costs more than everything else together.  Each record of a relevant
provider carries the provider's name as text inside its own 64 KiB chunk (a substitution
value, or literal text in a template that every chunk defines again: reference 3.1 and 10),
so a chunk whose bytes hold none of the relevant names cannot hold a relevant record.  Such a
chunk is counted from its header (validated, both CRCs included) and never shown to the
parser; everything else, damaged chunks included, is parsed as before.  The parser reads the
file through ``_RelevantChunks``: records keep the file's order, chunk numbers in its
messages are turned back into the file's, and memory stays one chunk whatever the file size.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from typing import Any, BinaryIO

from migdiag.catalog import KEPT_IDS, RELEVANT_OTHER_PROVIDERS, Catalog
from migdiag.errors import InputError, one_line
from migdiag.model import Event, Origin
from migdiag.readers import InputSource, Keep, ReadStats, keeps_event, link_catalog
from migdiag.readers.fastxml import fast_event
from migdiag.readers.xmlevent import parse_event_xml

try:
    # ISA-L's CRC32 (python-isal): ~6 µs a chunk against zlib's ~20 µs, and every chunk a
    # fleet's System logs skip is checked (docs/performance.md).  The same CRC either way.
    from isal.isal_zlib import crc32
except ImportError:  # a platform without its wheel: the same answer, slower
    from zlib import crc32

FILE_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
MAX_CONSECUTIVE_ERRORS = 10_000  # a parser that errors forever must not spin forever

# What ``Catalog.is_relevant_provider`` accepts: names starting with this, or in
# RELEVANT_OTHER_PROVIDERS.  Every accepted name contains one of these as a substring.
HYPERV_PROVIDER_PREFIX = "microsoft-windows-hyper-v"

# Chunk text as the needle search sees it: ASCII upper case folded to lower case and every
# NUL byte deleted, so UTF-16LE text (and 8-bit AnsiString text) of a name reads as its ASCII
# letters.  Deleting bytes can only add matches, never lose one.
_FOLD = bytes.maketrans(bytes(range(0x41, 0x5B)), bytes(range(0x61, 0x7B)))
_CHUNK_FIELDS = struct.Struct("<QQQQIIII")  # numbers, ids, header size, last record, free, CRC
_RECORD_HEAD = struct.Struct("<IIQ")  # signature, size, id
_U32 = struct.Struct("<I")
_RECORD_SIGNATURE = 0x00002A2A
_MIN_RECORD_SIZE = 32  # head (24) + a fragment header + a size copy, rounded to 8


def _header_facts(header: bytes, found: int, stats: ReadStats) -> None:
    """Chunk count claimed vs present (``found``: chunks that start with the chunk magic),
    and the dirty flag (reference evtx-format 2).  ``header``: the file's first bytes."""
    if len(header) < 128 or not header.startswith(FILE_MAGIC):
        return
    (stats.header_chunks,) = struct.unpack_from("<H", header, 42)
    (flags,) = struct.unpack_from("<I", header, 120)
    stats.dirty = bool(flags & 0x1)
    stats.chunks = found
    if stats.header_chunks is not None and found > stats.header_chunks:
        stats.warn(
            f"header claims {stats.header_chunks} chunks, {found} found: "
            "the file was copied from a running host; reading them all"
        )
    elif stats.header_chunks is not None and found < stats.header_chunks:
        stats.warn(
            f"header claims {stats.header_chunks} chunks, only {found} present: the file is "
            "truncated (cut short in transfer?); records in the missing part are lost"
        )


# A NIC driver migdiag does not name is kept when its payload reports the link going down or
# up (catalog ``nic_link.payload``): every payload phrase holds one of these, so a chunk that
# holds none of them and no relevant provider name cannot hold such a record.
LINK_PAYLOAD_NEEDLES = ("disconnect", "is down", "unplugged", "established", "is up")


_KEEP, _BY_ID, _BY_PAYLOAD, _DROP = range(4)


class _Relevance:
    """Whether a rendered record is worth parsing, judged from its text before any parse.

    The provider name sits in the first lines of the rendered XML.  One file holds few
    providers and many records, so each provider's verdict is worked out once: kept, kept
    for some ids (a busy provider: the id is read here rather than thousands of records
    decoded), kept when a NIC link payload is present (an unknown driver's System-log record:
    its payload words are looked for in its EventData only), or dropped."""

    def __init__(self, keep: Keep) -> None:
        self._keep = keep
        self._catalog = link_catalog(keep)
        self._verdicts: dict[str, int] = {}
        # The provider name of the record just judged when its provider is kept whole (every
        # id, whatever the payload), else None: a decoded event naming exactly that provider
        # is one ``keeps_event`` keeps, so it need not be judged again.
        self.kept_whole: str | None = None

    def _verdict(self, provider: str) -> int:
        if self._keep(provider):
            if self._catalog is None or provider.lower() not in KEPT_IDS:
                return _KEEP
            return _BY_ID
        return _DROP if self._catalog is None else _BY_PAYLOAD

    def __call__(self, xml: str) -> bool:
        self.kept_whole = None
        start = xml.find('Provider Name="')
        if start < 0:
            return True
        end = xml.find('"', start + 15)
        provider = xml[start + 15 : end]
        verdict = self._verdicts.get(provider)
        if verdict is None:
            verdict = self._verdicts[provider] = self._verdict(provider)
        if verdict == _KEEP:
            self.kept_whole = provider
            return True
        if verdict == _DROP:
            return False
        if verdict == _BY_ID:
            assert self._catalog is not None
            event_id = _event_id(xml, end)
            return event_id is None or self._catalog.keeps_id(provider, event_id)
        if _channel(xml, end) not in ("System", None):
            return False  # NIC drivers log their link changes to the System log, nowhere else
        data = xml.find("<EventData", end)
        payload = (xml[data:] if data >= 0 else xml).lower()  # then judged by ``keeps_event``
        return any(needle in payload for needle in LINK_PAYLOAD_NEEDLES)


def _channel(xml: str, start: int) -> str | None:
    """The Channel of a rendered record (either parser's layout), or None without one."""
    at = xml.find("<Channel>", start)
    if at < 0:
        return None
    closed = xml.find("<", at + 9)
    return xml[at + 9 : closed].strip() if closed > 0 else None


def _event_id(xml: str, start: int) -> int | None:
    """The EventID of a rendered record, or None when it is not in the plain shape (then
    the record is decoded and judged whole)."""
    at = xml.find("<EventID", start)
    if at < 0:
        return None
    opened = xml.find(">", at)
    closed = xml.find("<", opened)
    text = xml[opened + 1 : closed] if 0 < opened < closed else ""
    return int(text) if text.isdigit() else None


def provider_needles(keep: Keep) -> tuple[str, ...] | None:
    """Substrings one of which every provider name ``keep`` accepts contains, when known.

    Known for the catalog's provider test only: any other ``keep`` (``keep_all``, a user's
    filter) gets ``None``, and then every chunk is decoded."""
    if getattr(keep, "__func__", None) is Catalog.is_relevant_provider:
        names = (HYPERV_PROVIDER_PREFIX, *sorted(RELEVANT_OTHER_PROVIDERS))
        return (*_coarsened(names), *LINK_PAYLOAD_NEEDLES)
    return None


# Every needle is one more scan of every chunk (~15 µs per 64 KiB): a family of names is
# searched by a part they share.  A coarser needle can only keep more chunks (decoded and
# judged record by record as before), never lose one.
COARSE_NEEDLES = (
    "express",  # Intel's e1cexpress, e1dexpress, e1iexpress, e1qexpress, e1rexpress
    "microsoft-windows-mslbfo",  # LBFO's event and system-event providers
)


def _coarsened(names: Iterable[str]) -> tuple[str, ...]:
    kept = list(names)
    for coarse in COARSE_NEEDLES:
        if any(coarse in name for name in kept):
            kept = [name for name in kept if coarse not in name] + [coarse]
    return tuple(kept)


def fold_needles(needles: Iterable[str]) -> tuple[bytes, ...] | None:
    """The needles as the chunk search sees them, or ``None`` when one cannot be searched safely.

    A needle must be non-empty lower-case ASCII: the search folds ASCII case only.  Two
    non-ASCII letters lower-case to ASCII (U+212A KELVIN SIGN to "k", U+0130 to "i" plus a
    combining dot), so a name holding them could match a needle with "k", or one ending in
    "i", after ``str.lower`` while its bytes do not: such needles turn skipping off."""
    folded = []
    for needle in needles:
        if not needle or not needle.isascii() or needle != needle.lower():
            return None
        if "k" in needle or needle.endswith("i"):
            return None
        folded.append(needle.encode("ascii"))
    return tuple(folded)


def skippable_chunk(chunk: bytes, needles: tuple[bytes, ...]) -> int | None:
    """The record count of a chunk that cannot hold a relevant record, else ``None``.

    Skippable: none of the folded ``needles`` occurs in its bytes, and its header can be
    trusted to count its records: magic, both CRCs, record numbers and ids spanning the
    same count, and the last record where the header says, ending at the free-space offset.
    Anything else (damaged, dirty, no-CRC, empty chunks) goes to the parser as before."""
    if len(chunk) != CHUNK_SIZE or not chunk.startswith(CHUNK_MAGIC):
        return None
    first_number, last_number, first_id, last_id, _, last_at, free, data_crc = (
        _CHUNK_FIELDS.unpack_from(chunk, 8)
    )
    count: int = last_number - first_number + 1
    if not 0 < count <= (CHUNK_SIZE - CHUNK_HEADER_SIZE) // _MIN_RECORD_SIZE:
        return None
    if last_id - first_id + 1 != count or not CHUNK_HEADER_SIZE <= last_at < free <= CHUNK_SIZE:
        return None
    signature, size, record_id = _RECORD_HEAD.unpack_from(chunk, last_at)
    if signature != _RECORD_SIGNATURE or record_id != last_id or last_at + size != free:
        return None
    view = memoryview(chunk)
    (header_crc,) = _U32.unpack_from(chunk, 124)
    if crc32(view[128:CHUNK_HEADER_SIZE], crc32(view[:120])) != header_crc:
        return None
    if crc32(view[CHUNK_HEADER_SIZE:free]) != data_crc:
        return None
    if _holds_any(needles)(chunk.translate(_FOLD, b"\0")):
        return None
    return count


@cache
def _holds_any(needles: tuple[bytes, ...]) -> Callable[[bytes], bool]:
    """Whether a folded chunk holds one of ``needles``: one pass of an Aho-Corasick automaton
    (the Rust ``ahocorasick-rs``, ~20x faster than a scan per needle with 16 needles: the
    skip test was 40 % of reading a fleet's System logs), else a scan per needle."""
    try:
        import ahocorasick_rs
    except ImportError:  # a platform without its wheel: the same answer, slower
        return lambda text: any(needle in text for needle in needles)
    # Leftmost matching lets the automaton use its SIMD prefilter; any match will do.
    automaton = ahocorasick_rs.BytesAhoCorasick(
        list(needles), matchkind=ahocorasick_rs.MATCHKIND_LEFTMOST_LONGEST
    )
    return lambda text: bool(automaton.find_matches_as_indexes(text))


class _RelevantChunks:
    """The file as the fast parser reads it: the header, then only the chunks that may hold
    a relevant record, in file order.  Every chunk is judged once, in a first pass that
    counts the records of the skipped ones; the parser then never sees those at all (it
    spent ~20 µs on each chunk of zeros it was once shown in their place).  One chunk is
    held at a time, whatever the file size.  The parser numbers chunks as it sees them:
    ``real_chunk`` turns its numbers back into the file's."""

    def __init__(self, raw: BinaryIO, needles: tuple[bytes, ...] | None) -> None:
        self._raw = raw
        self.skipped_records = 0  # counted from the headers of the chunks not shown
        # (chunk index, bytes present) of a last chunk the file ends inside: it is shown to
        # the parser padded with zeros, so that the records before the cut are still read.
        self.cut: tuple[int, int] | None = None
        raw.seek(0)
        self._header = self.header = raw.read(HEADER_SIZE)
        self.magic_chunks = 0  # blocks after the header that start with the chunk magic
        # (chunk index in the file, its length) of every chunk shown to the parser.
        self._kept: list[tuple[int, int]] = []
        index = 0
        while True:
            block = raw.read(CHUNK_SIZE)
            if not block:
                break
            if block.startswith(CHUNK_MAGIC):
                self.magic_chunks += 1
            count = None if needles is None else skippable_chunk(block, needles)
            if len(block) < CHUNK_SIZE and block.startswith(CHUNK_MAGIC):
                self.cut = (index, len(block))
                self._kept.append((index, CHUNK_SIZE))
            elif count is None:
                self._kept.append((index, len(block)))
            else:
                self.skipped_records += count
            index += 1
            if len(block) < CHUNK_SIZE:
                break  # a partial last chunk (a truncated file) ends the file
        self._size = len(self._header) + sum(length for _, length in self._kept)
        self._pos = 0
        self._index = -1  # the shown chunk held in _block
        self._block = b""

    def real_chunk(self, shown: int) -> int | None:
        """The file's index of the ``shown``-th chunk the parser saw."""
        return self._kept[shown][0] if 0 <= shown < len(self._kept) else None

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, size: int = -1) -> bytes:
        end = self._size if size is None or size < 0 else min(self._size, self._pos + size)
        parts = []
        while self._pos < end:
            if self._pos < len(self._header):
                piece = self._header[self._pos : min(end, len(self._header))]
            else:
                shown, within = divmod(self._pos - len(self._header), CHUNK_SIZE)
                piece = self._chunk(shown)[within : within + end - self._pos]
            if not piece:
                break  # the file is shorter than when it was judged (it changed while read)
            parts.append(piece)
            self._pos += len(piece)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()

    def _chunk(self, shown: int) -> bytes:
        if shown != self._index:
            index, length = self._kept[shown]
            self._raw.seek(HEADER_SIZE + index * CHUNK_SIZE)
            block = self._raw.read(length)
            if self.cut is not None and index == self.cut[0]:
                block = block.ljust(CHUNK_SIZE, b"\0")
            self._index, self._block = shown, block
        return self._block


_CHUNK_NUMBER = re.compile(r"(chunk number )(\d+)")


def _file_chunk_numbers(message: str, target: _RelevantChunks) -> str:
    """The parser's message with its chunk numbers (counted among the chunks it was shown)
    turned into the file's, so that a warning reads the same whether chunks were skipped."""

    def real(match: re.Match[str]) -> str:
        index = target.real_chunk(int(match.group(2)))
        return match.group(0) if index is None else f"{match.group(1)}{index}"

    return _CHUNK_NUMBER.sub(real, message)


def read(
    source: InputSource,
    stats: ReadStats,
    keep: Keep,
    *,
    needles: Iterable[str] | None = None,
    skip: bool = True,
) -> Iterator[Event]:
    """Stream the events of relevant providers; count every record.

    ``needles``: lower-case substrings one of which every provider name ``keep`` accepts
    contains (default: ``provider_needles(keep)``).  With needles, chunks whose bytes hold
    none are counted, not decoded.  ``skip=False`` decodes every chunk (tests compare)."""
    from evtx import PyEvtxParser

    if needles is None:
        needles = provider_needles(keep)
    folded = fold_needles(needles) if skip and needles is not None else None
    raw = source.open()
    try:
        target = _RelevantChunks(raw, folded)
    except BaseException:
        raw.close()
        raise
    # Counted in the same pass over the file (a second pass cost a read per chunk).
    _header_facts(target.header, target.magic_chunks, stats)
    try:
        try:
            parser: Any = PyEvtxParser(target, number_of_threads=1)
        except Exception as exc:  # the Rust parser raises plain RuntimeError/OSError subclasses
            stats.warn(f"fast parser could not open the file ({one_line(exc)}); using python-evtx")
            yield from _read_python_evtx(source, stats, keep)
            return
        stats.records += target.skipped_records  # python-evtx, above, counts its own
        yield from _read_records(parser, source, stats, keep, target)
        if target.cut is not None:
            index, present = target.cut
            stats.incomplete = (
                f"truncated: the file ends {present:,} bytes into chunk {index} "
                f"({CHUNK_SIZE - present:,} bytes of it missing); {stats.records} record(s) "
                "recovered, the records in the missing part are lost"
            )
        elif stats.header_chunks is not None:
            # Judged by size, not by chunk magics: a chunk whose magic is damaged is still
            # there (a bad chunk, reported as such), not missing.
            present = max(source.size - HEADER_SIZE, 0) // CHUNK_SIZE
            if present < stats.header_chunks:
                missing = stats.header_chunks - present
                stats.incomplete = (
                    f"truncated: {missing} of {stats.header_chunks} chunks missing "
                    f"({missing * CHUNK_SIZE:,} bytes); {stats.records} record(s) recovered"
                )
    finally:
        target.close()


def _read_records(
    parser: Any, source: InputSource, stats: ReadStats, keep: Keep, target: object
) -> Iterator[Event]:
    records = parser.records()
    relevant = _Relevance(keep)
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
            why = one_line(exc)
            if isinstance(target, _RelevantChunks):
                why = _file_chunk_numbers(why, target)
            stats.warn(f"damaged data skipped: {why}")
            if errors_in_a_row > MAX_CONSECUTIVE_ERRORS:
                stats.warn("too many consecutive errors; stopped reading this file")
                break
            continue
        errors_in_a_row = 0
        stats.records += 1
        xml = record["data"]
        if not relevant(xml):
            continue
        record_id = record.get("event_record_id")
        origin = Origin(source.name, "evtx", record_id)  # path, format, record
        try:
            # The plain shape the Rust parser renders is read without lxml; anything else
            # (entities, odd markup) goes through lxml as before.
            event = fast_event(xml, origin) or parse_event_xml(xml, origin)
        except Exception as exc:
            stats.dropped += 1
            stats.warn(f"record {record_id}: unreadable XML ({one_line(exc)})")
            continue
        # The same test as the record's verdict, unless the decoded name differs (an entity).
        if event.provider != relevant.kept_whole and not keeps_event(keep, event):
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
        raise InputError(source.name, f"cannot open as EVTX: {one_line(exc)}") from exc
    try:
        try:
            chunks = list(log.chunks())
        except Exception as exc:
            raise InputError(source.name, f"cannot read EVTX chunks: {one_line(exc)}") from exc
        relevant = _Relevance(keep)
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
                        if not relevant(xml):
                            continue
                        event = parse_event_xml(xml, origin)
                    except Exception as exc:
                        stats.dropped += 1
                        stats.warn(f"record unreadable: {one_line(exc)}")
                        continue
                    if keeps_event(keep, event):
                        stats.relevant += 1
                        yield event
            except Exception as exc:
                stats.bad_chunks += 1
                stats.warn(f"chunk {number} unreadable: {one_line(exc)}")
    finally:
        log.__exit__(None, None, None)
