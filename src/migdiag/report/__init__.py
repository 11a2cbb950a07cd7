"""Renderers: an ``Analysis`` in, one string out.  The only package that imports rich and
Jinja2.  ``RENDERERS`` maps a ``--format`` name to its renderer, the way a plugin would
register one."""

from __future__ import annotations

from collections.abc import Callable

from migdiag.model import Analysis
from migdiag.report.html import render_html
from migdiag.report.json_report import SCHEMA_VERSION, load_schema, render_json, schema_text
from migdiag.report.markdown import render_markdown
from migdiag.report.options import RenderOptions
from migdiag.report.terminal import render_terminal

Renderer = Callable[[Analysis, RenderOptions], str]

RENDERERS: dict[str, Renderer] = {
    "terminal": render_terminal,
    "json": render_json,
    "markdown": render_markdown,
    "html": render_html,
}

__all__ = [
    "RENDERERS",
    "SCHEMA_VERSION",
    "RenderOptions",
    "Renderer",
    "load_schema",
    "schema_text",
]
