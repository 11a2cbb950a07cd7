"""Fixtures for the renderer tests; the builders live in ``report_fixtures``."""

from __future__ import annotations

import pytest
from report_fixtures import hostile_analysis, standard_analysis

from migdiag.model import Analysis


@pytest.fixture(scope="session")
def analysis() -> Analysis:
    return standard_analysis()


@pytest.fixture(scope="session")
def hostile() -> Analysis:
    return hostile_analysis()
