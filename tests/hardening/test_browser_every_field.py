"""HTML and JavaScript in every text field of an analysis: inert in a real browser.

tests/report/test_browser.py puts payloads where log text usually goes; here every string of
every model object (paths, hosts, channels, providers, ids, phases, warnings, findings,
decoded errors, skews, input reports) carries one, numbered so each can be traced."""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import PLAIN, standard_analysis
from test_browser import CHROMIUM, _load, assert_nothing_executed, browser_context

from migdiag.report import RENDERERS

__all__ = ["browser_context"]  # the fixture, reused from the renderer tests

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not at /usr/bin/chromium"),
]


def _payload(n: int) -> str:
    return (
        f'F{n}<script>window.__pwned={n}</script><img src=x onerror="window.__pwned={n}">'
        f'"\'><svg onload=window.__pwned={n}></svg><a href="javascript:window.__pwned={n}">'
        f"j</a>javascript:window.__pwned={n}"
    )


def poison(value: Any, counter: list[int]) -> Any:
    """``value`` with every string replaced by a numbered payload (enums kept: they are ours)."""
    if isinstance(value, enum.Enum):
        return value
    if isinstance(value, str):
        counter[0] += 1
        return _payload(counter[0])
    if isinstance(value, tuple):
        return tuple(poison(v, counter) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: poison(getattr(value, f.name), counter) for f in dataclasses.fields(value)
        }
        return dataclasses.replace(value, **changes)
    return value


def test_every_field_is_inert(browser_context: Any, tmp_path: Path) -> None:
    counter = [0]
    analysis = poison(standard_analysis(), counter)
    assert counter[0] > 200
    html = RENDERERS["html"](analysis, PLAIN)
    loaded = _load(browser_context, html, tmp_path / "every-field.html")
    assert_nothing_executed(loaded, links=60)
    page = loaded.page
    handlers = page.evaluate(
        "() => [...document.querySelectorAll('*')].flatMap(e => [...e.attributes]"
        ".filter(a => a.name.startsWith('on')).map(a => e.tagName + ' ' + a.name))"
    )
    assert handlers == []
    assert "<script>window.__pwned=" in page.locator("body").inner_text()  # shown as text
    assert loaded.console_errors == []
