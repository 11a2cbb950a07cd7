"""The EVTX reader on real third-party files, some deliberately corrupt (../shared/corpus)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from evtx import PyEvtxParser

from migdiag.errors import InputError
from migdiag.readers import InputSource, ReadStats, keep_all
from migdiag.readers import evtx as evtx_reader

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"

pytestmark = pytest.mark.corpus


def corpus_files() -> list[Path]:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        return []
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [CORPUS / row["local_path"] for row in rows if row["local_path"].endswith(".evtx")]


def defensive_loop_count(path: Path) -> int:
    """What a careful user of the evtx package gets: next() again after each error."""
    records = PyEvtxParser(str(path)).records()
    count = errors = 0
    while errors < 10_000:
        try:
            next(records)
        except StopIteration:
            break
        except Exception:
            errors += 1
            continue
        count += 1
    return count


FILES = corpus_files()


@pytest.mark.skipif(not FILES, reason="../shared/corpus is not present next to the project")
def test_corpus_is_read_without_traceback_and_loses_nothing() -> None:
    lines = []
    for path in FILES:
        stats = ReadStats()
        source = InputSource(name=path.name, path=path)
        try:
            events = list(evtx_reader.read(source, stats, keep_all))
        except InputError as exc:
            # A file no parser can open is a one-line error, never a traceback.
            assert path.name in str(exc) and "\n" not in str(exc)
            lines.append(f"{path.name}: refused: {exc.why}")
            continue
        try:
            baseline = defensive_loop_count(path)
        except Exception:
            baseline = 0  # the fast parser cannot open it at all; we used python-evtx
        assert stats.records >= baseline, path
        assert len(events) + stats.dropped <= stats.records
        lines.append(
            f"{path.name}: {stats.records} records ({baseline} by a defensive evtx loop, "
            f"{stats.recovered} recovered by python-evtx, {stats.bad_chunks} bad chunks)"
        )
    print("\n".join(lines))


def test_dirty_file_facts_are_reported(tmp_path: Path) -> None:
    # A clean synthetic file, then the same with the dirty flag and a header that
    # under-counts its chunks, as files copied off a running host look.
    from migdiag.catalog import default_catalog
    from migdiag.synth.evtx_writer import write_evtx
    from migdiag.synth.scenario import expand, parse_scenario

    scenario = parse_scenario(
        {
            "name": "dirty",
            "start": "2024-01-01T00:00:00Z",
            "hosts": [{"name": "HV01"}, {"name": "HV02"}],
            "vms": [
                {"name": f"VM{n}", "id": f"00000000-0000-4000-8000-{n:012d}"} for n in range(150)
            ],
            "steps": [{"drain": {"from": "HV01", "to": "HV02", "parallel": 8}}],
        }
    )
    events = [
        e
        for e in expand(scenario)
        if e.host == "HV01" and e.channel.endswith("High-Availability-Admin")
    ]
    data = bytearray(write_evtx(events, default_catalog().provider_guids))
    chunks = (len(data) - 4096) // 65536
    assert chunks >= 2, "the test needs a file of several chunks"
    import struct
    import zlib

    struct.pack_into("<H", data, 42, chunks - 1)  # header under-counts
    struct.pack_into("<I", data, 120, 1)  # dirty
    struct.pack_into("<I", data, 124, zlib.crc32(bytes(data[:120])))
    path = tmp_path / "dirty.evtx"
    path.write_bytes(bytes(data))

    stats = ReadStats()
    read = list(evtx_reader.read(InputSource(name="dirty.evtx", path=path), stats, keep_all))
    assert len(read) == len(events)  # the fast parser reads past the header's count
    assert stats.dirty and stats.chunks == chunks and stats.header_chunks == chunks - 1
    assert any("copied from a running host" in w for w in stats.warnings)
