"""The lead's ``analyze`` on the shipped sample logs, through every renderer.

Goldens here pin the whole pipeline's output, so a change upstream (a new signature, a
re-ranked finding) shows up as a reviewed golden diff (``MIGDIAG_UPDATE_GOLDEN=1``).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from golden_files import check_golden
from report_fixtures import PLAIN

from migdiag.report import RENDERERS, load_schema

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
CASES = sorted(p.name for p in SAMPLES.iterdir() if p.is_dir()) if SAMPLES.is_dir() else []
EXTENSIONS = {"terminal": "txt", "json": "json", "markdown": "md"}


@pytest.mark.parametrize("case", CASES)
def test_sample_golden(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    api = pytest.importorskip("migdiag.api", reason="migdiag.api.analyze not available yet")
    # Input paths appear in every report: relative ones keep the goldens checkout-independent.
    monkeypatch.chdir(SAMPLES.parent)
    analysis = api.analyze([f"sample_logs/{case}"], api.Options(jobs=1))
    doc = json.loads(RENDERERS["json"](analysis, PLAIN))
    jsonschema.validate(doc, load_schema())
    for fmt, ext in EXTENSIONS.items():
        check_golden(f"sample-{case}.{ext}", RENDERERS[fmt](analysis, PLAIN))
    assert "<script" in RENDERERS["html"](analysis, PLAIN)
