"""One pathological file costs at most ``Options.file_time_limit`` and is reported; the
other files are read.  A parser stuck in native code cannot be interrupted from Python, so
the stuck readers here ignore every catchable signal: only killing the worker stops them.

The stuck readers are monkeypatched into this process; with the fork start method (used
while the process has one thread) each worker inherits them.
"""

from __future__ import annotations

import faulthandler
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from migdiag import workers
from migdiag.api import Options, analyze
from migdiag.model import Event
from migdiag.readers import InputSource, Keep, ReadStats
from migdiag.readers import xml as xml_reader

DATA = Path(__file__).resolve().parents[1] / "readers" / "data"
LIMIT = 1.0

pytestmark = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method"
)


def _stuck_sleeping() -> None:
    while True:
        time.sleep(3600)


def _stuck_spinning() -> None:
    # Like a native loop: no signal reaches Python code, and it never sleeps.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGALRM})
    while True:
        pass


def _crash() -> None:
    faulthandler.disable()  # pytest's handler, inherited by the fork, would print a dump
    os.kill(os.getpid(), signal.SIGSEGV)  # what a memory bug in a native parser does


BEHAVIOURS = {"sleeps": _stuck_sleeping, "spins": _stuck_spinning, "crashes": _crash}


def _inputs(tmp_path: Path) -> list[str]:
    paths = []
    for name in ("a-good.xml", "b-stuck.xml", "c-good.xml"):
        path = tmp_path / name
        path.write_bytes((DATA / "wevtutil_qe.xml").read_bytes())
        paths.append(str(path))
    return paths


@pytest.fixture
def stuck_reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    behaviour: str = request.param
    original = xml_reader.read

    def read(source: InputSource, stats: ReadStats, keep: Keep) -> Iterator[Event]:
        if "stuck" in Path(source.name).name:
            BEHAVIOURS[behaviour]()
        yield from original(source, stats, keep)

    monkeypatch.setattr(xml_reader, "read", read)
    yield behaviour


@pytest.mark.parametrize("stuck_reader", sorted(BEHAVIOURS), indirect=True)
def test_a_stuck_file_costs_the_limit_and_is_reported(stuck_reader: str, tmp_path: Path) -> None:
    assert threading.active_count() == 1, "fork needs a single-threaded process"
    assert workers._start_method() == "fork"  # so the workers inherit the stuck reader
    paths = _inputs(tmp_path)
    started = time.monotonic()
    analysis = analyze(paths, Options(jobs=2, file_time_limit=LIMIT))
    elapsed = time.monotonic() - started
    reports = {Path(r.path).name: r for r in analysis.inputs}
    assert set(reports) == {"a-good.xml", "b-stuck.xml", "c-good.xml"}
    stuck = reports["b-stuck.xml"]
    if stuck_reader == "crashes":
        assert stuck.error is not None and "process died" in stuck.error
    else:
        assert stuck.error == f"gave up after {LIMIT:g} s: the parser did not finish"
    assert stuck.skipped
    for name in ("a-good.xml", "c-good.xml"):
        assert reports[name].error is None
        assert reports[name].relevant == 3
    # One stuck file costs its limit, plus starting a replacement worker; not the run.
    assert elapsed < LIMIT + 5.0
    assert {e.origin.path for r in analysis.results for e in r.migration.events} <= set(paths)


@pytest.mark.parametrize("stuck_reader", ["spins"], indirect=True)
def test_many_stuck_files_do_not_add_up_beyond_their_limits(
    stuck_reader: str, tmp_path: Path
) -> None:
    """Four stuck files on two workers: two rounds of the limit, and the good file is read."""
    good = tmp_path / "good.xml"
    good.write_bytes((DATA / "wevtutil_qe.xml").read_bytes())
    paths = [str(good)]
    for i in range(4):
        path = tmp_path / f"stuck-{i}.xml"
        path.write_bytes(good.read_bytes())
        paths.append(str(path))
    started = time.monotonic()
    analysis = analyze(paths, Options(jobs=2, file_time_limit=LIMIT))
    elapsed = time.monotonic() - started
    errors = {Path(r.path).name: r.error for r in analysis.inputs}
    assert errors["good.xml"] is None
    assert [n for n, e in errors.items() if e and "gave up" in e] == [
        f"stuck-{i}.xml" for i in range(4)
    ]
    assert elapsed < 2 * LIMIT + 6.0


def test_no_worker_outlives_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed and finished workers are all reaped: nothing keeps parsing in the background."""
    monkeypatch.setattr(
        xml_reader,
        "read",
        lambda source, stats, keep: (
            _stuck_sleeping() if "stuck" in Path(source.name).name else iter(())
        ),
    )

    analyze(_inputs(tmp_path), Options(jobs=2, file_time_limit=LIMIT))
    assert multiprocessing.active_children() == []


def _named(name: str) -> str:
    if name.startswith("stuck"):
        _stuck_spinning()
    return name.upper()


def test_tasks_waiting_behind_a_stuck_one_are_still_run() -> None:
    """A worker holds its next task in its pipe while it runs one (no round trip to this
    process between files); when it is killed, the tasks that waited behind the stuck one
    are run by the others or its replacement, none lost, results in task order."""
    tasks = [("stuck-0",), *((f"file-{i}",) for i in range(6)), ("stuck-1",), ("last",)]
    started = time.monotonic()
    outcomes = workers.run_isolated(_named, tasks, jobs=2, time_limit=LIMIT)
    elapsed = time.monotonic() - started
    assert [o if isinstance(o, str) else "failed" for o in outcomes] == [
        "failed",
        *(f"FILE-{i}" for i in range(6)),
        "failed",
        "LAST",
    ]
    assert all(
        isinstance(o, workers.Failure) and o.why.startswith("gave up")
        for o in (outcomes[0], outcomes[7])
    )
    assert elapsed < 2 * LIMIT + 5.0


_LARGE_TASKS = """
from migdiag import workers

def main():
    tasks = [(bytes([i]) * (8 << 20),) for i in range(5)]
    outcomes = workers.run_isolated(workers_test_echo, tasks, jobs=2, time_limit=60)
    assert [o[:1] for o in outcomes] == [bytes([i]) for i in range(5)], outcomes
    print("done")

def workers_test_echo(data):
    return data[::-1]

if __name__ == "__main__":
    main()
"""


def test_large_tasks_never_wait_in_a_pipe(tmp_path: Path) -> None:
    """A task too large for a pipe is sent only to an idle worker: queued behind a running
    one, this process would block sending it while the worker blocks sending its result
    (both pipes full): the run would never end."""
    script = tmp_path / "large_tasks.py"
    script.write_text(_LARGE_TASKS)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"
