""" "Seen before" in every report format: present when the history filled it, escaped, valid
against the JSON schema, and absent otherwise."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import jsonschema

from migdiag.api import Options, analyze
from migdiag.model import SeenBefore
from migdiag.report import RENDERERS, RenderOptions, load_schema

SEED = str(Path(__file__).resolve().parents[2] / "sample_logs" / "seed-mtu-reset")
OPTIONS = RenderOptions(width=120, color=False, now=None, quiet=False)
HOSTILE_CASE = "<script>alert(1)</script>\x1b[2J*[x](javascript:1)*"


def test_every_format_shows_seen_before_escaped() -> None:
    analysis = analyze([SEED], Options(jobs=1))
    (result,) = analysis.results
    seen = SeenBefore(
        migration_id=result.migration.id,
        cause="mtu-mismatch",
        case_id=HOSTILE_CASE,
        where="SRV1 -> SRV2",
        when=datetime(2013, 9, 1, 10, 0, tzinfo=UTC),
        confirmed=("mtu-mismatch",),
    )
    with_history = replace(analysis, seen_before=(seen,))

    document = json.loads(RENDERERS["json"](with_history, OPTIONS))
    jsonschema.validate(document, load_schema())
    assert document["seen_before"] == [
        {
            "migration_id": result.migration.id,
            "cause": "mtu-mismatch",
            "case_id": HOSTILE_CASE,
            "where": "SRV1 -> SRV2",
            "when": "2013-09-01T10:00:00.000Z",
            "confirmed_causes": ["mtu-mismatch"],
        }
    ]
    assert "seen_before" not in json.loads(RENDERERS["json"](analysis, OPTIONS))

    terminal = RENDERERS["terminal"](with_history, OPTIONS)
    assert "seen before (case history):" in terminal
    assert "DidierTest01: mtu-mismatch on SRV1 -> SRV2 in case" in terminal
    assert "confirmed: mtu-mismatch" in terminal and "\x1b" not in terminal

    html = RENDERERS["html"](with_history, OPTIONS)
    assert "Seen before (case history)" in html
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html

    markdown = RENDERERS["markdown"](with_history, OPTIONS)
    assert "### Seen before (case history)" in markdown
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    assert "\\[x\\](javascript:1)" in markdown  # the link syntax is escaped, inert

    for fmt in ("terminal", "html", "markdown"):
        assert "seen before" not in RENDERERS[fmt](analysis, OPTIONS).lower(), fmt
