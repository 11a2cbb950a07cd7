#!/usr/bin/env python
"""Regenerate the report screenshots in docs/ (docs/reports.md shows them).

    python scripts/screenshots.py

Renders two HTML reports exactly as `migdiag analyze --html` writes them: the founding case
(sample_logs/seed-mtu-reset) and a 200-VM fleet drain synthesised from
tests/report/data/fleet-200.yaml, then photographs them in Debian's headless Chromium
(/usr/bin/chromium; playwright drives it, nothing is downloaded).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = {
    "report-screenshot.png": ROOT / "sample_logs" / "seed-mtu-reset",
    "report-fleet-screenshot.png": None,  # the fleet, synthesised below
}


def migdiag(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "migdiag", *args], check=True, cwd=ROOT)


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        fleet = tmp / "fleet"
        migdiag(
            "synth", str(ROOT / "tests" / "report" / "data" / "fleet-200.yaml"), "--out", str(fleet)
        )
        pages = []
        for name, logs in SHOTS.items():
            html = tmp / f"{name}.html"
            migdiag(
                "analyze",
                str(logs or fleet),
                "--html",
                str(html),
                "--quiet",
                "--output",
                str(tmp / "out.txt"),
            )
            pages.append((name, html))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            for name, html in pages:
                page.goto(html.as_uri(), wait_until="load")
                page.screenshot(path=str(ROOT / "docs" / name), full_page=False)
                print(f"wrote docs/{name}")
            browser.close()


if __name__ == "__main__":
    main()
