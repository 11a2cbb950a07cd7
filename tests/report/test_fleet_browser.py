"""The HTML report of a 200-VM fleet drain in a real headless Chromium (issue 15).

The fleet is synthesised from ``data/fleet-200.yaml`` (one failure with a known cause, one
without, two slow attempts, the rest healthy) and analysed by ``migdiag analyze --html`` as a
user runs it.  What a support engineer does first: see the failure, filter to one VM, copy a
command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_browser import CHROMIUM, _load, browser_context

from common import run_migdiag

__all__ = ["browser_context"]  # the fixture, reused from the renderer tests

FLEET = Path(__file__).parent / "data" / "fleet-200.yaml"
MAX_BYTES = 1_500_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not at /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def fleet_html(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("fleet")
    synth = run_migdiag("synth", str(FLEET), "--out", str(tmp / "logs"))
    assert synth.returncode == 0, synth.stderr
    report = tmp / "report.html"
    result = run_migdiag("analyze", str(tmp / "logs"), "--html", str(report), "-q")
    assert result.returncode == 0, result.stderr
    return report.read_text(encoding="utf-8")


def test_fleet_report_is_small(fleet_html: str) -> None:
    assert len(fleet_html.encode("utf-8")) < MAX_BYTES
    assert "<title>migdiag report: HV01, HV02, HV03, HV04 and 4 more (2024-03-04)</title>" in (
        fleet_html
    )


def test_failure_is_the_first_section(
    browser_context: Any, fleet_html: str, tmp_path: Path
) -> None:
    loaded = _load(browser_context, fleet_html, tmp_path / "fleet.html")
    page = loaded.page
    assert loaded.requests == [loaded.url] and loaded.console_errors == []
    first = page.locator("main > section").first
    assert first.get_attribute("id") == "attention"
    rows = first.locator("table.attempts tbody tr")
    assert rows.count() >= 2
    assert "Connection reset" in first.inner_text()
    assert first.locator("section.migration .vm-name").first.is_visible()
    # Healthy attempts: one collapsed table, no section each.
    healthy = page.locator("section#healthy details.healthy")
    assert not healthy.evaluate("d => d.open")
    assert healthy.locator("tbody tr").count() > 190
    assert page.locator("section#healthy section.migration").count() == 0
    order = page.locator("main > section").evaluate_all("s => s.map(x => x.id)")
    assert order[:3] == ["attention", "slow", "healthy"]


def test_filter_hides_rows_that_do_not_match(
    browser_context: Any, fleet_html: str, tmp_path: Path
) -> None:
    loaded = _load(browser_context, fleet_html, tmp_path / "fleet.html")
    page = loaded.page
    box = page.locator("#filter")
    assert box.is_visible()
    box.fill("sql-000")
    visible = page.locator("tr[data-filter]:visible")
    assert visible.count() == 1
    assert "SQL-000" in visible.first.inner_text()
    assert page.locator("section.migration:visible").count() == 0
    assert "1 attempt match" in page.locator("#filter-count").inner_text()
    # By host and by cause, several words narrowing together.
    box.fill("hv02 connection reset")
    visible = page.locator("tr[data-filter]:visible")
    assert visible.count() == 1
    assert page.locator("section.migration:visible").count() == 1
    box.fill("")
    assert page.locator("tr[data-filter][hidden]").count() == 0
    assert loaded.console_errors == []


def test_copy_button_copies_the_command(
    browser_context: Any, fleet_html: str, tmp_path: Path
) -> None:
    browser_context.grant_permissions(["clipboard-read", "clipboard-write"])
    loaded = _load(browser_context, fleet_html, tmp_path / "fleet.html")
    page = loaded.page
    block = page.locator("section#attention .command").first
    command = block.locator("code").inner_text()
    assert command.startswith("ping -f -l 8972")
    block.locator("button.copy").click()
    page.wait_for_function(
        "() => document.querySelector('.command button.copy').textContent === 'Copied'"
    )
    assert page.evaluate("() => navigator.clipboard.readText()") == command
    assert loaded.console_errors == []


def _overlap(a: list[float], b: list[float]) -> bool:
    (x1, y1, w1, h1), (x2, y2, w2, h2) = a, b
    return x1 < x2 + w2 and x2 < x1 + w1 and y1 < y2 + h2 and y2 < y1 + h1


def test_timeline_labels_are_not_hidden(
    browser_context: Any, fleet_html: str, tmp_path: Path
) -> None:
    """No event-id label overlaps another label or any mark of its timeline."""
    loaded = _load(browser_context, fleet_html, tmp_path / "fleet.html")
    timelines = loaded.page.locator("svg.timeline").evaluate_all(
        """svgs => svgs.map(svg => {
            const box = el => { const b = el.getBBox(); return [b.x, b.y, b.width, b.height]; };
            return {
                labels: [...svg.querySelectorAll(
                    ".labels text, .failure-label, .phase-label")].map(box),
                marks: [...svg.querySelectorAll("a rect, a circle, a path")].map(box),
            };
        })"""
    )
    assert timelines and all(t["labels"] for t in timelines)
    for t in timelines:
        labels, marks = t["labels"], t["marks"]
        for i, label in enumerate(labels):
            assert not any(_overlap(label, other) for other in labels[i + 1 :]), label
            assert not any(_overlap(label, mark) for mark in marks), label


def test_triage_index_sorts_by_rank_and_links_each_case(
    browser_context: Any, tmp_path: Path
) -> None:
    from report_fixtures import standard_analysis

    from migdiag.report.triage import case_file_names, render_index_html, triage_rows

    cases = ["tickets/HV-4711", "tickets/HV-0815.zip", "tickets/HV-4711/"]
    rows = triage_rows([(case, standard_analysis()) for case in cases])
    links = case_file_names(cases)
    assert sorted(links.values()) == ["HV-0815.html", "HV-4711-2.html", "HV-4711.html"]
    loaded = _load(browser_context, render_index_html(rows, links), tmp_path / "index.html")
    page = loaded.page

    def ranks() -> list[str]:
        return page.locator("tbody tr td:first-child").all_inner_texts()

    assert ranks() == ["1", "2", "3"]
    page.locator("thead button", has_text="Rank").click()
    assert ranks() == ["3", "2", "1"]
    page.locator("thead button", has_text="Rank").click()
    assert ranks() == ["1", "2", "3"]
    page.locator("thead button", has_text="Case").click()
    cases_shown = page.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert cases_shown == sorted(cases_shown)
    assert loaded.console_errors == []
