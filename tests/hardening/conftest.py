"""Shared fixtures of the hardening tests: a scratch folder for fuzz workers, and the
renderer tests' folder on the path (its browser helper and report fixtures are reused)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPORT_TESTS = HERE.parent / "report"
if str(REPORT_TESTS) not in sys.path:
    sys.path.insert(0, str(REPORT_TESTS))

from fuzzcases import WORKDIR_ENV  # noqa: E402 - needs the path set above


@pytest.fixture(autouse=True)
def fuzz_scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Worker processes write each case here (they inherit the environment)."""
    folder = tmp_path / "fuzz-scratch"
    monkeypatch.setenv(WORKDIR_ENV, str(folder))
    yield folder
