"""What a warm `migdiag analyze` of one EVTX imports (issue #16): only what the command and
its input need.  Module sets, not timings (timings live in benchmarks/): each module below
cost start-up time before it was made lazy, and a stray import brings it back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRV1 = ROOT / "sample_logs" / "seed-mtu-reset" / "SRV1"
EVTX = SRV1 / "Microsoft-Windows-Hyper-V-VMMS-Admin.evtx"

# Loaded only by other commands, other formats, or a cold cache.
NOT_FOR_ONE_EVTX = (
    "yaml",  # the catalog and the library come from the compiled cache
    "jsonschema",  # the shipped library is validated by the test suite, not at run time
    "rich",  # history tables and progress bars; JSON output on a pipe needs none
    "pandas",  # the `migdiag events` table only: analyses never import it
    "networkx",  # never at run time: only the tests' oracle for chaining clocks
    "lxml",  # EVTX records are read by the fast path; lxml only for odd shapes and XML exports
    "migdiag.config.facts",  # configuration snapshots only
    "importlib.resources",
    "migdiag.explain",  # pasted text only
    "migdiag.cli.history",
    "migdiag.cli.explain",
    "migdiag.cli.collect",
    "migdiag.cli.signatures",
    "migdiag.cli.catalog",
    "migdiag.readers.text",
    "migdiag.readers.csv",
    "migdiag.readers.powershell",
    "migdiag.readers.wevtutil_text",
)


# The command as `migdiag` runs it, printing every module it imported when it exits (atexit
# runs before migdiag's immediate exit; -X importtime would miss importlib.import_module).
HARNESS = """
import atexit, sys
atexit.register(lambda: sys.stderr.write("MODULES " + " ".join(sorted(sys.modules)) + "\\n"))
from migdiag.cli import main
sys.argv = ["migdiag", *sys.argv[1:]]
main()
"""


def _imported(*args: str, cache: Path) -> set[str]:
    env = {**os.environ, "MIGDIAG_CACHE_DIR": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", HARNESS, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES "))
    return set(line.split()[1:])


def test_a_warm_analyze_of_one_evtx_imports_only_what_it_needs(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    # --jobs 1: the whole read in this process, so everything it needs is seen.
    command = ("analyze", "--format", "json", "--jobs", "1", str(EVTX))
    cold = _imported(*command, cache=cache)
    assert "yaml" in cold, "the first run builds the caches from the YAML"
    warm = _imported(*command, cache=cache)
    assert "migdiag.api" in warm and "migdiag.readers.evtx" in warm  # the harness sees them
    assert sorted(warm & set(NOT_FOR_ONE_EVTX)) == []


def test_help_builds_every_command_and_analyze_none_of_the_others(tmp_path: Path) -> None:
    lazy = {"migdiag.cli.history", "migdiag.cli.explain", "migdiag.cli.collect"}
    assert lazy <= _imported("--help", cache=tmp_path)  # listed with their help lines
    assert not lazy & _imported("analyze", "--help", cache=tmp_path)
