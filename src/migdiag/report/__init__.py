"""Renderers: an ``Analysis`` in, one string out.  The only package that imports rich and
Jinja2.  ``RENDERERS`` maps a ``--format`` name to its renderer, the way a plugin would
register one.

Each renderer's module is imported when its format is first asked for: JSON output must not
pay for Jinja2 and rich (~0.15 s of a run's start-up), nor the terminal for Jinja2."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from importlib import import_module
from typing import TYPE_CHECKING, Any

from migdiag.model import Analysis
from migdiag.report.options import RenderOptions

if TYPE_CHECKING:
    from migdiag.report.json_report import SCHEMA_VERSION, load_schema, schema_text

Renderer = Callable[[Analysis, RenderOptions], str]


class _Registry(Mapping[str, Renderer]):
    """``--format`` name -> renderer, each module imported on first use."""

    def __init__(self, homes: Mapping[str, tuple[str, str]]) -> None:
        self._homes = dict(homes)

    def __getitem__(self, name: str) -> Renderer:
        module, function = self._homes[name]
        renderer: Renderer = getattr(import_module(f"migdiag.report.{module}"), function)
        return renderer

    def __iter__(self) -> Iterator[str]:
        return iter(self._homes)

    def __len__(self) -> int:
        return len(self._homes)


RENDERERS: Mapping[str, Renderer] = _Registry(
    {
        "terminal": ("terminal", "render_terminal"),
        "json": ("json_report", "render_json"),
        "markdown": ("markdown", "render_markdown"),
        "html": ("html", "render_html"),
    }
)

_FROM_JSON_REPORT = ("SCHEMA_VERSION", "load_schema", "schema_text")


def __getattr__(name: str) -> Any:
    if name in _FROM_JSON_REPORT:
        return getattr(import_module("migdiag.report.json_report"), name)
    raise AttributeError(name)


__all__ = [
    "RENDERERS",
    "SCHEMA_VERSION",
    "RenderOptions",
    "Renderer",
    "load_schema",
    "schema_text",
]
