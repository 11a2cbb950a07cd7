"""Every EVTX of the third-party corpus through ``bundle.expand`` and the registry."""

from __future__ import annotations

from pathlib import Path

import pytest
from evtx import PyEvtxParser
from reader_support import CORPUS, read_bytes

from migdiag.errors import InputError
from migdiag.readers import InputSource, ReadStats, keep_all
from migdiag.readers import evtx as evtx_reader
from migdiag.readers.bundle import expand
from migdiag.readers.registry import READERS, sniff

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus folder {CORPUS} absent"),
]


def test_every_corpus_evtx_reads_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    sources, errors = expand([str(CORPUS)])
    assert errors == []
    evtx_sources = [s for s in sources if s.name.lower().endswith(".evtx")]
    assert len(evtx_sources) >= 300
    total = 0
    lines = []
    for source in sources:
        fmt = sniff(source.head())
        if source in evtx_sources:
            assert fmt == "evtx", source.name
        if fmt is None:
            continue  # README.md, MANIFEST.tsv: reported as unknown by the pipeline
        stats = ReadStats()
        try:
            count = sum(1 for _ in READERS[fmt](source, stats, keep_all))
        except InputError as exc:  # one clear line is allowed; a traceback is not
            assert "\n" not in str(exc)
            lines.append(f"{source.name}: {exc}")
            continue
        total += stats.records
        lines.append(
            f"{Path(source.name).relative_to(CORPUS)}: {stats.records} records, {count} events"
            + (f", {len(stats.warnings)} warnings" if stats.warnings else "")
        )
    with capsys.disabled():
        print("\n" + "\n".join(lines) + f"\ncorpus: {total} records in {len(evtx_sources)} files")
    assert total > 0


def test_evtx_and_its_xml_export_have_equal_identities() -> None:
    # An Event Viewer XML export of a file holds the same records: they must dedup.
    path = CORPUS / "omerbenamram_evtx" / "samples" / "mta" / "test.evtx"
    if not path.is_file():
        pytest.skip("corpus sample absent")
    from_evtx = list(evtx_reader.read(InputSource(name="a", path=path), ReadStats(), keep_all))
    body = "".join(r["data"].split("?>", 1)[-1] for r in PyEvtxParser(str(path)).records())
    export = f'<?xml version="1.0" encoding="utf-8"?>\n<Events>{body}</Events>'.encode()
    from_xml = read_bytes("export.xml", export).events
    assert len(from_xml) == len(from_evtx) == 239
    assert [e.identity for e in from_xml] == [e.identity for e in from_evtx]
