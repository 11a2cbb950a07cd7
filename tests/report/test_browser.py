"""The HTML report in a real headless Chromium (Debian's, never a downloaded one).

Checks what only a browser can: the page loads from ``file://`` with no other request and no
console error (a CSP violation is a console error, so this also proves the script hash), the
content is visible, keyboard navigation works, and hostile log text executes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import PLAIN

from migdiag.model import Analysis
from migdiag.report import RENDERERS

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not at /usr/bin/chromium"),
]


@dataclasses.dataclass
class Loaded:
    page: Any
    url: str
    requests: list[str]
    console_errors: list[str]
    dialogs: list[str]


@pytest.fixture
def browser_context(tmp_path: Path) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh profile per test
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


def _load(context: Any, html: str, path: Path) -> Loaded:
    path.write_text(html, encoding="utf-8")
    url = path.as_uri()
    loaded = Loaded(context.new_page(), url, [], [], [])
    page = loaded.page
    page.on("request", lambda r: loaded.requests.append(r.url))
    page.on(
        "console",
        lambda m: loaded.console_errors.append(m.text) if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: loaded.console_errors.append(str(e)))

    def on_dialog(dialog: Any) -> None:
        loaded.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(url, wait_until="load")
    page.wait_for_timeout(200)  # let any late-firing handler (onerror of a broken img) run
    return loaded


def assert_nothing_executed(loaded: Loaded, links: int) -> None:
    """Unfold everything, hover and focus the links: any handler smuggled in from the logs
    would fire now.  Then nothing may have run, been fetched or been injected."""
    page = loaded.page
    page.locator("button[data-expand=open]").click()
    for link in page.locator("main a").all()[:links]:
        link.hover(force=True, timeout=2000)
        link.focus()
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.__pwned") is None
    assert loaded.dialogs == []
    assert loaded.requests == [loaded.url], "an injected <img src=x> must not be fetched"
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 1  # ours
    assert page.locator("a[href^='javascript']").count() == 0


def test_report_loads_offline_and_shows_content(
    browser_context: Any, analysis: Analysis, tmp_path: Path
) -> None:
    loaded = _load(browser_context, RENDERERS["html"](analysis, PLAIN), tmp_path / "report.html")
    page = loaded.page
    assert loaded.requests == [loaded.url], "the report must fetch nothing"
    assert loaded.console_errors == []
    first = page.locator("section.migration").first
    assert first.locator(".vm-name").inner_text() == "DidierTest01"
    assert first.locator(".vm-name").is_visible()
    assert first.locator(".cause-title").is_visible()
    assert "Jumbo frame size" in first.locator(".cause-title").inner_text()
    source = first.locator("svg.timeline .lane-source")
    destination = first.locator("svg.timeline .lane-destination")
    assert source.is_visible() and source.text_content() == "SRV1"
    assert destination.is_visible() and destination.text_content() == "SRV2"
    assert first.locator("svg.timeline .failure").count() == 1
    assert page.locator("svg.graph").first.is_visible()
    # Event details are folded away until asked for.
    assert not first.locator("details").first.evaluate("d => d.open")
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_keyboard_opens_an_event_from_the_timeline(
    browser_context: Any, analysis: Analysis, tmp_path: Path
) -> None:
    loaded = _load(browser_context, RENDERERS["html"](analysis, PLAIN), tmp_path / "report.html")
    page = loaded.page
    mark = page.locator("svg.timeline a").nth(3)
    href = mark.get_attribute("href")
    assert href is not None
    mark.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("h => location.hash === h", arg=href)
    assert page.locator(href).evaluate("d => d.open")
    page.locator("button[data-expand=open]").click()
    assert page.locator("details:not([open])").count() == 0
    assert loaded.console_errors == []


def test_hostile_log_text_executes_nothing(
    browser_context: Any, hostile: Analysis, tmp_path: Path
) -> None:
    loaded = _load(browser_context, RENDERERS["html"](hostile, PLAIN), tmp_path / "hostile.html")
    page = loaded.page
    assert_nothing_executed(loaded, links=40)
    # The payload is shown as text instead.
    assert "<script>window.__pwned=1" in page.locator("section.migration h2").first.inner_text()
    assert loaded.console_errors == []
    page.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)


def test_triage_index_loads_offline(browser_context: Any, tmp_path: Path) -> None:
    from report_fixtures import standard_analysis

    from migdiag.report.triage import render_index_html, triage_rows

    rows = triage_rows([("<img src=x onerror=alert(1)>", standard_analysis())])
    html = render_index_html(rows, {rows[0].case: "case.html"})
    loaded = _load(browser_context, html, tmp_path / "index.html")
    assert loaded.requests == [loaded.url]
    assert loaded.dialogs == [] and loaded.console_errors == []
    assert loaded.page.locator("td a").inner_text() == "<img src=x onerror=alert(1)>"
