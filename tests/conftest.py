"""Suite-wide: the compiled-library cache lives in a folder of the test run's own, so the
suite neither reads a stale library from the user's cache nor leaves one behind."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from migdiag.diagnose.loader import ENV_CACHE_DIR


@pytest.fixture(autouse=True, scope="session")
def _own_library_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    before = os.environ.get(ENV_CACHE_DIR)
    os.environ[ENV_CACHE_DIR] = str(tmp_path_factory.mktemp("library-cache"))
    yield
    if before is None:
        os.environ.pop(ENV_CACHE_DIR, None)
    else:
        os.environ[ENV_CACHE_DIR] = before
