"""Chunk skipping never changes a result: skipping and full decoding agree on every input."""

from __future__ import annotations

import csv
import struct
import sys
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from evtx import PyEvtxParser
from hypothesis import given, settings
from hypothesis import strategies as st

from migdiag.catalog import RELEVANT_OTHER_PROVIDERS, default_catalog
from migdiag.model import Event, InputReport, Origin
from migdiag.readers import InputSource, ReadStats, keep_all, keeps_event
from migdiag.readers import evtx as evtx_reader
from migdiag.readers.xmlevent import parse_event_xml
from migdiag.synth.evtx_writer import write_evtx

CHUNK = 65536
HEADER = 4096
START = datetime(2024, 5, 6, 7, 0, tzinfo=UTC)
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def _event(n: int, provider: str, event_id: int, fields: tuple[tuple[str, str], ...]) -> Event:
    return Event(
        time=START + timedelta(seconds=n),
        host="HV07.example.org",
        channel="System",
        provider=provider,
        event_id=event_id,
        level=4,
        record_id=n,
        fields=fields,
        message=None,
        origin=Origin(path="test", format="synth"),
    )


def _noise(n: int) -> Event:
    # Mentions "Hyper-V" in a value, as the VMMS service's start/stop records do: not a
    # relevant provider, so it must not stop its chunk from being skipped.
    service = "Hyper-V Virtual Machine Management" if n % 7 == 0 else f"Service {n % 13}"
    return _event(n, "Service Control Manager", 7036, (("param1", service), ("param2", "running")))


def _relevant(n: int, provider: str = "Microsoft-Windows-FailoverClustering") -> Event:
    name = "Parameter0" if provider.startswith("Microsoft-Windows-Hyper-V") else ""
    return _event(n, provider, 1130, ((name, f"Cluster Network {n % 3}"),))


def _system_log(relevant_at: dict[int, str], total: int = 4000) -> bytes:
    """A System log of ``total`` records, the relevant ones at the given record numbers."""
    events = [
        _relevant(n, relevant_at[n]) if n in relevant_at else _noise(n) for n in range(1, total + 1)
    ]
    return write_evtx(events, default_catalog().provider_guids)


def _read(
    path: Path, skip: bool, keep: evtx_reader.Keep | None = None
) -> tuple[list[Event], InputReport]:
    stats = ReadStats()
    keep = keep or default_catalog().is_relevant_provider
    source = InputSource(name=path.name, path=path)
    events = list(evtx_reader.read(source, stats, keep, skip=skip))
    return events, stats.report(path.name, "evtx")


def _chunks(data: bytes) -> list[bytes]:
    return [data[at : at + CHUNK] for at in range(HEADER, len(data), CHUNK)]


def _skippable(data: bytes) -> list[bool]:
    keep = default_catalog().is_relevant_provider
    needles = evtx_reader.fold_needles(evtx_reader.provider_needles(keep) or ())
    assert needles
    return [evtx_reader.skippable_chunk(c, needles) is not None for c in _chunks(data)]


def _assert_same(path: Path) -> tuple[list[Event], InputReport]:
    fast = _read(path, skip=True)
    full = _read(path, skip=False)
    assert fast == full
    return fast


MIXED = {
    5: "Microsoft-Windows-FailoverClustering",
    2100: "MICROSOFT-WINDOWS-HYPER-V-VMMS",  # case differs from the catalog's: still relevant
    3999: "Microsoft-Windows-Hyper-V-Worker",
}


def test_mixed_file_gives_identical_events_and_counts(tmp_path: Path) -> None:
    data = _system_log(MIXED)
    skippable = _skippable(data)
    assert any(skippable) and not all(skippable), "the test needs both kinds of chunk"
    path = tmp_path / "System.evtx"
    path.write_bytes(data)
    events, report = _assert_same(path)
    assert [e.record_id for e in events] == sorted(MIXED)
    assert report.records == 4000 and report.relevant == 3 and report.bad_chunks == 0


def _fix_chunk_crcs(data: bytearray, index: int) -> None:
    at = HEADER + index * CHUNK
    (free,) = struct.unpack_from("<I", data, at + 48)
    struct.pack_into("<I", data, at + 52, zlib.crc32(data[at + 512 : at + free]))
    header_crc = zlib.crc32(data[at + 128 : at + 512], zlib.crc32(data[at : at + 120]))
    struct.pack_into("<I", data, at + 124, header_crc)


@pytest.mark.parametrize(
    "damage",
    ["chunk magic", "record signature", "data crc only", "last id too small", "truncated file"],
)
def test_damaged_chunks_are_read_as_before(tmp_path: Path, damage: str) -> None:
    data = bytearray(_system_log(MIXED))
    # A chunk with no relevant record, so that only its damage can keep it from being skipped.
    index = _skippable(bytes(data)).index(True, 1)
    at = HEADER + index * CHUNK
    if damage == "chunk magic":
        data[at] = ord("X")
    elif damage == "record signature":
        record = at + 512
        for _ in range(5):  # the sixth record's signature
            record += struct.unpack_from("<I", data, record + 4)[0]
        data[record : record + 4] = b"\xff" * 4
    elif damage == "data crc only":
        # A value byte changes: the parser still reads the chunk, and so must we.
        data[at + 52] ^= 0xFF
    elif damage == "last id too small":
        # The parser stops early at this id: the header's count would be wrong.
        (last_id,) = struct.unpack_from("<Q", data, at + 32)
        struct.pack_into("<Q", data, at + 32, last_id - 5)
        struct.pack_into("<Q", data, at + 16, last_id - 5)
        _fix_chunk_crcs(data, index)
    else:
        del data[at + CHUNK // 2 :]
    assert not _skippable(bytes(data))[index]
    path = tmp_path / "damaged.evtx"
    path.write_bytes(bytes(data))
    _, report = _assert_same(path)
    if damage in ("chunk magic", "record signature", "truncated file"):
        assert report.bad_chunks >= 1 or report.records < 4000


def test_warnings_name_the_file_s_chunk_numbers(tmp_path: Path) -> None:
    # The parser numbers only the chunks it is shown; a damaged chunk after skipped ones
    # must still be named by its place in the file, as a full decode names it.
    data = bytearray(_system_log(MIXED))
    skippable = _skippable(bytes(data))
    index = max(i for i, s in enumerate(skippable) if s)
    assert sum(skippable[:index]) >= 2, "the test needs skipped chunks before the damage"
    data[HEADER + index * CHUNK] = ord("X")
    path = tmp_path / "damaged.evtx"
    path.write_bytes(bytes(data))
    _, report = _assert_same(path)
    assert any(f"chunk number {index}:" in w for w in report.warnings), report.warnings


def test_dirty_file_with_chunks_beyond_the_header_count(tmp_path: Path) -> None:
    data = bytearray(_system_log(MIXED))
    chunks = len(_chunks(bytes(data)))
    struct.pack_into("<H", data, 42, chunks - 2)
    struct.pack_into("<I", data, 120, 1)
    struct.pack_into("<I", data, 124, zlib.crc32(bytes(data[:120])))
    path = tmp_path / "dirty.evtx"
    path.write_bytes(bytes(data))
    events, report = _assert_same(path)
    assert report.dirty and report.header_chunks == chunks - 2 and report.chunks == chunks
    assert len(events) == 3


def test_preallocated_zero_chunks_and_an_unopenable_file(tmp_path: Path) -> None:
    path = tmp_path / "prealloc.evtx"
    path.write_bytes(_system_log(MIXED, total=800) + bytes(3 * CHUNK))
    _assert_same(path)
    broken = bytearray(_system_log(MIXED, total=800))
    broken[:8] = b"NotAFile"  # the fast parser refuses it: python-evtx reads it, both ways
    path = tmp_path / "broken.evtx"
    path.write_bytes(bytes(broken))
    _assert_same(path)


def test_zip_member_bytes_are_skipped_too(tmp_path: Path) -> None:
    data = _system_log(MIXED)
    keep = default_catalog().is_relevant_provider
    results = []
    for skip in (True, False):
        stats = ReadStats()
        source = InputSource(name="bundle.zip!System.evtx", data=data)
        events = list(evtx_reader.read(source, stats, keep, skip=skip))
        results.append((events, stats.report(source.name, "evtx")))
    assert results[0] == results[1]


def test_needles_are_derived_only_when_they_are_safe() -> None:
    catalog = default_catalog()
    keep = catalog.is_relevant_provider
    needles = evtx_reader.provider_needles(keep)
    payload = evtx_reader.LINK_PAYLOAD_NEEDLES
    providers = [n for n in needles if n not in payload]
    # Every relevant provider holds a needle (the skip is safe), and every needle is part of a
    # relevant provider's name (none is there for nothing); families share one needle.
    names = [evtx_reader.HYPERV_PROVIDER_PREFIX, *RELEVANT_OTHER_PROVIDERS]
    assert all(any(n in name for n in providers) for name in names)
    assert all(any(n in name for name in names) for n in providers)
    assert len(providers) < len(names)
    # A NIC driver migdiag knows only by its payload keeps its chunk: every payload phrase of
    # the catalog holds one of the payload needles.
    phrases = [w for words in catalog.link_payload.values() for w in words]
    assert phrases and all(any(n in w for n in payload) for w in phrases)
    assert evtx_reader.provider_needles(keep_all) is None  # any other filter: decode all
    assert evtx_reader.fold_needles(needles) is not None
    for unsafe in ("Upper", "kernel", "hyper-vi", "", "größe"):
        assert evtx_reader.fold_needles([unsafe]) is None


def test_keep_all_decodes_every_chunk(tmp_path: Path) -> None:
    path = tmp_path / "System.evtx"
    path.write_bytes(_system_log(MIXED))
    events, report = _read(path, skip=True, keep=keep_all)
    assert len(events) == report.records == 4000


def _corpus_files() -> list[Path]:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        return []
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [CORPUS / row["local_path"] for row in rows if row["local_path"].endswith(".evtx")]


@pytest.mark.corpus
@pytest.mark.skipif(not _corpus_files(), reason="../shared/corpus is not present")
def test_real_files_agree_both_ways() -> None:
    # Real logs, dirty and damaged ones included: the same events and the same counts.
    from migdiag.errors import InputError

    for path in _corpus_files():
        outcomes = []
        for skip in (True, False):
            try:
                outcomes.append(_read(path, skip=skip))
            except InputError as exc:
                outcomes.append(([], InputReport(path=path.name, format="evtx", error=exc.why)))
        assert outcomes[0] == outcomes[1], path


def test_the_needle_automaton_answers_as_a_scan_per_needle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The chunk skip searches with ahocorasick-rs when it is installed; without it (a
    # platform with no wheel) a scan per needle gives the same events and counts.
    keep = default_catalog().is_relevant_provider
    needles = evtx_reader.fold_needles(evtx_reader.provider_needles(keep) or ())
    assert needles
    texts = [c.translate(evtx_reader._FOLD, b"\0") for c in _chunks(_system_log(MIXED))]
    texts += [b"", b"xx" + needles[-1], needles[0][:-1], b"microsoft-windows-ndi", b"express"]
    automaton = evtx_reader._holds_any(needles)
    assert [automaton(t) for t in texts] == [any(n in t for n in needles) for t in texts]
    path = tmp_path / "System.evtx"
    path.write_bytes(_system_log(MIXED))
    with_automaton = _read(path, skip=True)
    evtx_reader._holds_any.cache_clear()
    monkeypatch.setitem(sys.modules, "ahocorasick_rs", None)  # import fails: the fallback
    try:
        assert _read(path, skip=True) == with_automaton
    finally:
        evtx_reader._holds_any.cache_clear()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=70_000), st.integers(min_value=0, max_value=2**32 - 1))
def test_the_fast_crc_is_zlibs(data: bytes, start: int) -> None:
    # Chunks are checked with ISA-L's CRC32 when python-isal is installed and with zlib's
    # without it: the same checksum (the header's is chained from a start value), so a
    # chunk is skipped or decoded alike on every platform.
    assert evtx_reader.crc32(data) == zlib.crc32(data)
    assert evtx_reader.crc32(memoryview(data)[3:], start) == zlib.crc32(data[3:], start)


def test_a_provider_kept_whole_is_not_judged_twice(tmp_path: Path) -> None:
    # The reader skips keeps_event for a record whose provider the chunk-level verdict keeps
    # whole: sound only if keeps_event would keep every such record.  Busy providers (kept
    # for some ids) and unknown NIC drivers (kept on payload words) must not count as whole.
    keep = default_catalog().is_relevant_provider
    events = [
        _relevant(1),
        _relevant(2, "MICROSOFT-WINDOWS-HYPER-V-VMMS"),
        _event(3, "Microsoft-Windows-GroupPolicy", 1500, (("", "refresh"),)),  # busy: dropped
        _event(4, "Microsoft-Windows-GroupPolicy", 1502, (("", "applied"),)),  # busy: kept
        _event(5, "acmenic", 27, (("", "Network link is down"),)),  # unknown driver: words
        _event(6, "acmenic", 28, (("", "Network link speed 10 Gbps"),)),
        _noise(7),
    ]
    path = tmp_path / "System.evtx"
    path.write_bytes(write_evtx(events, default_catalog().provider_guids))
    relevant = evtx_reader._Relevance(keep)
    whole = []
    for record in PyEvtxParser(str(path)).records():
        xml = record["data"]
        if relevant(xml) and relevant.kept_whole is not None:
            event = parse_event_xml(xml, Origin(path="t", format="evtx"))
            assert event.provider == relevant.kept_whole
            assert keeps_event(keep, event)
            whole.append(event.record_id)
    assert whole == [1, 2]
    # And the reader keeps what keeps_event keeps, no more.
    assert [e.record_id for e in _read(path, skip=False)[0]] == [1, 2, 4, 5]
