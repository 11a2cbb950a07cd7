"""``migdiag analyze`` over every file of the third-party corpus (no Hyper-V host among
them): it exits normally, reports every file with its figures, and finds no migration."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from common import run_migdiag

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus folder {CORPUS} absent"),
]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_migdiag(*args, timeout=600)


def test_analyze_over_the_whole_corpus() -> None:
    files = sorted(str(p) for p in CORPUS.rglob("*") if p.is_file())
    result = _cli("analyze", "--format", "json", "--quiet", str(CORPUS))
    assert "Traceback" not in result.stderr
    doc = json.loads(result.stdout)
    inputs = {i["path"]: i for i in doc["inputs"]}
    assert sorted(inputs) == files  # every file's fate is reported
    unreadable = [p for p, i in inputs.items() if i["error"] or i["incomplete"]]
    assert result.returncode == (6 if unreadable else 0), result.stderr
    assert doc["migrations"] == []
    evtx = [i for p, i in inputs.items() if p.lower().endswith(".evtx")]
    assert len(evtx) >= 300
    for report in evtx:
        assert report["format"] == "evtx"
        assert report["error"] is None or "\n" not in report["error"]
        for figure in ("records", "relevant", "recovered", "dropped", "bad_chunks"):
            assert isinstance(report[figure], int) and report[figure] >= 0
    assert sum(i["records"] for i in evtx) > 30_000


def test_every_corpus_file_alone() -> None:
    """File by file, as a support engineer would try each: none aborts, none finds a migration."""
    from migdiag.api import Options, analyze
    from migdiag.diagnose import load_library

    library = load_library(())
    for path in sorted(CORPUS.rglob("*.evtx")):
        analysis = analyze([str(path)], Options(jobs=1), library=library)
        assert analysis.results == (), path
        (report,) = analysis.inputs
        assert report.error is None or "unexpected" not in report.error, (path, report.error)
