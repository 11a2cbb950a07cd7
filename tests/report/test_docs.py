"""The JSON schema page embeds the shipped schema verbatim; reports.md names every format."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from migdiag.report import RENDERERS, load_schema, schema_text

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_schema_page_matches_shipped_schema() -> None:
    page = (DOCS / "json-schema.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", page, flags=re.S)
    assert blocks, "docs/json-schema.md must embed the schema in a ```json block"
    shipped = schema_text()
    if os.environ.get("MIGDIAG_UPDATE_GOLDEN") == "1":
        page = page.replace(blocks[-1], shipped)
        (DOCS / "json-schema.md").write_text(page, encoding="utf-8", newline="\n")
        return
    assert json.loads(blocks[-1]) == load_schema(), (
        "docs/json-schema.md is stale: MIGDIAG_UPDATE_GOLDEN=1 pytest tests/report/test_docs.py"
    )


def test_schema_page_documents_every_top_level_field() -> None:
    page = (DOCS / "json-schema.md").read_text(encoding="utf-8")
    prose = page.split("```json")[0]
    for key in load_schema()["properties"]:
        assert f"`{key}`" in prose, key


def test_reports_page_names_every_format() -> None:
    page = (DOCS / "reports.md").read_text(encoding="utf-8")
    for fmt in RENDERERS:
        assert f"`{fmt}`" in page, fmt
