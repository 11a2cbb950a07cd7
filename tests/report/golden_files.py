"""Compare rendered output with a file under ``golden/``; ``MIGDIAG_UPDATE_GOLDEN=1`` rewrites."""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("MIGDIAG_UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8", newline="\n")
        return
    assert path.exists(), f"{path} missing: run with MIGDIAG_UPDATE_GOLDEN=1 and review the diff"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from golden; MIGDIAG_UPDATE_GOLDEN=1 to accept"
