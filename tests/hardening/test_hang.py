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
