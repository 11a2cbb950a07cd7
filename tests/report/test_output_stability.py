"""The start-up and throughput work must not change a byte of output (issue #16).

``migdiag analyze --format json`` of each shipped sample, as a user runs it (a process of
its own), gives the golden JSON of the whole pipeline (``golden/sample-<case>.json``) whether
the compiled caches are cold or warm and whether files are read in this process or in
workers.  The chunk skip and the fast XML path have their own comparisons
(tests/test_fast_path.py, tests/readers/test_fast_xml.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from golden_files import GOLDEN

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_logs"
CASES = sorted(p.name for p in SAMPLES.iterdir() if p.is_dir()) if SAMPLES.is_dir() else []


def _analyze(case: str, cache: Path, jobs: str) -> bytes:
    env = {**os.environ, "MIGDIAG_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "migdiag", "analyze", f"sample_logs/{case}"]
    done = subprocess.run(
        [*command, "--format", "json", "--jobs", jobs],
        cwd=ROOT,  # relative input paths, as in the goldens
        env=env,
        capture_output=True,
        check=False,
    )
    assert done.returncode in (0, 6), done.stderr.decode()
    return done.stdout


@pytest.mark.parametrize("case", CASES)
def test_output_is_the_golden_cold_warm_and_in_workers(case: str, tmp_path: Path) -> None:
    golden = (GOLDEN / f"sample-{case}.json").read_bytes()
    cache = tmp_path / "cache"
    cold = _analyze(case, cache, "2")
    # The first run fills the compiled caches: the catalog and the signature library, and
    # the speed rules when there is a drain to judge.
    filled = {p.name.rsplit("-", 1)[0] for p in cache.glob("*.pickle")}
    assert filled - {"speed-rules"} == {"catalog", "signatures"}, filled
    warm = _analyze(case, cache, "2")
    in_process = _analyze(case, cache, "1")
    assert cold == warm == in_process == golden
