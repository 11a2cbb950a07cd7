"""The drain Gantt chart in a real headless Chromium (Debian's): one row per migration of the
drain, failed bars marked without colour alone, nothing fetched, hostile VM names inert.

``MIGDIAG_UPDATE_GOLDEN=1`` also rewrites the screenshot in docs/drain-gantt.png."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from test_browser import CHROMIUM, _load, browser_context  # noqa: F401 - the fixture

from migdiag.api import Options, analyze
from migdiag.model import Outcome, SpeedFacts
from migdiag.report import RENDERERS
from migdiag.report.options import RenderOptions
from migdiag.synth import synthesize
from migdiag.synth.scenario import parse_scenario

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not at /usr/bin/chromium"),
]
DOCS = Path(__file__).resolve().parents[2] / "docs"
HOSTILE = "<img src=x onerror=alert(1)>"
SIZES = (4, 12, 8, 16, 6, 10, 2, 14)


def _drain_report(tmp_path: Path) -> tuple[str, Any]:
    names = [f"VM{i:02d}" for i in range(1, 12)] + [HOSTILE]
    vms = [
        {"name": n, "id": f"00000000-0000-4000-8000-{i:012d}", "memory_gb": SIZES[i % 8]}
        for i, n in enumerate(names, start=1)
    ]
    scenario = parse_scenario(
        {
            "name": "gantt",
            "start": "2024-05-14T09:00:00Z",
            "hosts": [{"name": "HV01"}, {"name": "HV02"}, {"name": "HV03"}],
            "vms": vms,
            "steps": [
                {
                    "drain": {
                        "from": "HV01",
                        "to": ["HV02", "HV03"],
                        "parallel": 6,
                        "link_gbps": 10,
                        "performance": "smb",
                        "knee": 3,
                        "failures": {"VM04": "receive-timeout", "VM09": "connection-reset"},
                        "retry_failed": True,
                    }
                }
            ],
        }
    )
    synthesize(scenario, tmp_path / "logs")
    memory = {v["name"]: int(float(v["memory_gb"]) * 1024**3) for v in vms}
    options = Options(
        jobs=1,
        vm_memory=memory,
        speed_facts={"HV01": SpeedFacts(link_gbps=10, performance_option="SMB")},
    )
    analysis = analyze([str(tmp_path / "logs")], options)
    plain = RenderOptions(width=100, color=False, now=None, quiet=False)
    return RENDERERS["html"](analysis, plain), analysis


def test_gantt_chart_has_a_row_per_migration_and_marks_failures(
    browser_context: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    html, analysis = _drain_report(tmp_path)
    (drain,) = analysis.drains
    loaded = _load(browser_context, html, tmp_path / "drain.html")
    page = loaded.page
    assert loaded.requests == [loaded.url], "the report must fetch nothing"
    assert loaded.console_errors == [] and loaded.dialogs == []
    section = page.locator(f"section.drain#{drain.id}")
    gantt = section.locator("svg.drain-gantt")
    assert gantt.is_visible()
    rows = gantt.locator("g.drain-row")
    assert rows.count() == len(drain.members) == 14
    assert [rows.nth(i).get_attribute("data-migration") for i in range(rows.count())] == list(
        drain.migration_ids
    )
    failed = gantt.locator("g.drain-row[data-outcome=failed]")
    assert failed.count() == drain.failed == 2
    # Marked without colour alone: a "failed" label and a hatched fill on each failed bar.
    for i in range(failed.count()):
        assert failed.nth(i).locator("text.drain-failed-label").text_content() == "failed"
        assert "url(#hatch-" in (
            failed.nth(i).locator("rect.drain-bar").get_attribute("fill") or ""
        )
    assert gantt.locator("g.drain-row[data-outcome=succeeded] text.drain-failed-label").count() == 0
    assert gantt.locator("rect.drain-blackout").count() >= drain.failed
    assert section.locator("svg.drain-concurrency polyline").is_visible()
    heading = section.locator("h3").inner_text()
    assert heading.startswith("HV01 → HV02, HV03: 12 VMs (14 attempts)")
    assert "up to 6 at once" in heading and "2 failed" in heading
    # The hostile VM name is a label, shown as text, not markup.
    labels = [t.text_content() for t in gantt.locator("text.drain-label").all()]
    assert HOSTILE in labels and page.locator("img").count() == 0
    assert [f.rule_id for f in drain.findings] == [
        f.get_attribute("data-rule") for f in section.locator(".drain-finding").all()
    ]
    assert drain.members[0].outcome in (Outcome.SUCCEEDED, Outcome.FAILED)
    shot = tmp_path / "drain.png"
    section.screenshot(path=str(shot))
    assert shot.stat().st_size > 5_000
    if os.environ.get("MIGDIAG_UPDATE_GOLDEN") == "1":
        section.screenshot(path=str(DOCS / "drain-gantt.png"))
