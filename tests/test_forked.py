"""Work on every core after reading (``migdiag.forked``): a long text built in parts is the
serial text, whatever the split, a child's failure or a thread in the process, and a fleet's
compact JSON is the document ``json.dumps`` writes; a step run in a child gives the value it
gives here, or runs here."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common import counted_forks, ran_in_a_fresh_process
from migdiag import forked
from migdiag.api import Options, analyze
from migdiag.report.json_report import PRETTY_LIMIT, render_json, to_json_obj
from migdiag.report.options import RenderOptions

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_logs"
PARENT = os.getpid()

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")


def _ran_in_a_fresh_process() -> bool:
    return ran_in_a_fresh_process(__file__)


def _numbers(start: int, stop: int) -> str:
    # The process that built each item is part of the text: a part built twice, or by the
    # wrong process, would show.
    return "".join(f"{i}:{'p' if os.getpid() == PARENT else 'c'}," for i in range(start, stop))


def _busy() -> None:
    # This process's other work: long enough for the children to start and take ranges.
    time.sleep(0.5)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=3000), st.integers(min_value=1, max_value=4))
def test_the_parts_join_into_the_serial_text(count: int, parts: int) -> None:
    text = forked.split_build(_numbers, count, parts)
    assert [item.split(":")[0] for item in text.split(",")[:-1]] == [str(i) for i in range(count)]
    forks = min(parts, count // (forked.MIN_ITEMS // 2) or 1) > 1 and threading.active_count() == 1
    # Ranges are taken in turns: which process built which depends on who asked first, but
    # nothing is built by a child when nothing was forked.
    assert forks or ":c," not in text


def test_children_take_ranges_while_this_process_is_busy() -> None:
    if _ran_in_a_fresh_process():
        return
    text = forked.split_build(_numbers, 2000, 3, meanwhile=_busy)
    assert [item.split(":")[0] for item in text.split(",")[:-1]] == [str(i) for i in range(2000)]
    assert text.count(":c,") == 2000  # this process was busy until every range was taken


def _slow_here(start: int, stop: int) -> str:
    if os.getpid() == PARENT:
        time.sleep(0.05)
    return _numbers(start, stop)


def test_a_slower_process_builds_fewer_ranges() -> None:
    # Ranges are taken one at a time, not dealt beforehand: this process, slowed down,
    # builds fewer than half of the sixteen ranges and the child the rest.
    if _ran_in_a_fresh_process():
        return
    text = forked.split_build(_slow_here, 2000, 2)
    built_here = text.count(":p,")
    assert 0 < built_here < 2000 // 2  # dealt, it would have built half
    assert [item.split(":")[0] for item in text.split(",")[:-1]] == [str(i) for i in range(2000)]


@pytest.mark.parametrize("threads", [1, 2])
def test_meanwhile_runs_once_here_before_this_process_builds(threads: int) -> None:
    # The caller's other work (the document's head) overlaps the children's ranges: it runs
    # in this process, once, after the children started and before it builds any range;
    # and, when nothing is forked (another thread running), before the serial build too.
    if threads == 1 and _ran_in_a_fresh_process():
        return
    log: list[str] = []

    def build(start: int, stop: int) -> str:
        if os.getpid() == PARENT:
            log.append(f"build {start}")
        return _numbers(start, stop)

    def meanwhile() -> None:
        log.append(f"meanwhile {os.getpid() == PARENT}")
        _busy()

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    if threads == 2:
        thread.start()
    try:
        text = forked.split_build(build, 2000, 2, meanwhile=meanwhile)
    finally:
        stop.set()
        if threads == 2:
            thread.join()
    if threads == 2:
        assert log == ["meanwhile True", "build 0"] and text == _numbers(0, 2000)
    else:  # the child took every range while this process was busy
        assert log == ["meanwhile True"] and text.count(":c,") == 2000


def _fails_in_a_child(start: int, stop: int) -> str:
    if os.getpid() != PARENT:
        raise RuntimeError("a child that cannot build its part")
    return _numbers(start, stop)


def test_a_part_whose_child_failed_is_built_by_the_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    if _ran_in_a_fresh_process():
        return
    children = counted_forks(monkeypatch)
    text = forked.split_build(_fails_in_a_child, 2000, 3, meanwhile=_busy)
    assert text == _numbers(0, 2000) and len(children) == 2


def _crashes_in_a_child(start: int, stop: int) -> str:
    if os.getpid() != PARENT:
        os._exit(3)  # as a crash would: no exception, no text
    return _numbers(start, stop)


def test_a_part_whose_child_died_is_built_by_the_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    if _ran_in_a_fresh_process():
        return
    children = counted_forks(monkeypatch)
    assert forked.split_build(_crashes_in_a_child, 2000, 2, meanwhile=_busy) == _numbers(0, 2000)
    assert len(children) == 1


def test_with_another_thread_running_nothing_is_forked() -> None:
    # A fork copies the locks other threads hold: then everything is built here.
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert forked.split_build(_numbers, 2000, 2) == _numbers(0, 2000)
    finally:
        stop.set()
        thread.join()


def test_a_fleet_sized_document_is_what_json_dumps_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    # More migrations than are indented: the compact document, built in parts on every core
    # (two at least, here), is byte for byte the one json.dumps writes from the whole object.
    base = analyze([str(SAMPLES / "healthy-drain")], Options(jobs=1))
    assert base.results
    copies = PRETTY_LIMIT * 3 // len(base.results) + 1
    fleet = replace(base, results=base.results * copies)
    assert len(fleet.results) >= forked.MIN_ITEMS
    expected = json.dumps(to_json_obj(fleet), ensure_ascii=True, separators=(",", ":")) + "\n"
    monkeypatch.setattr(forked, "cores", lambda: 2)
    assert render_json(fleet, RenderOptions()) == expected


# ---- in_child: one step in a forked child while this process does another ----------------


def _where() -> str:
    return "p" if os.getpid() == PARENT else "c"


def _raises_in_a_child() -> str:
    if os.getpid() != PARENT:
        raise RuntimeError("a child that cannot do its step")
    return _where()


def _dies_in_a_child() -> str:
    if os.getpid() != PARENT:
        os._exit(3)
    return _where()


def test_a_step_runs_in_a_child_and_its_value_comes_back() -> None:
    if _ran_in_a_fresh_process():
        return
    with forked.in_child(lambda: (_where(), list(range(5))), forked.MIN_ITEMS) as value:
        here = _where()  # this process's own work, meanwhile
        assert value() == ("c", [0, 1, 2, 3, 4])
    assert here == "p"


@pytest.mark.parametrize("step", [_raises_in_a_child, _dies_in_a_child])
def test_a_step_whose_child_failed_runs_here(step: Callable[[], str]) -> None:
    if _ran_in_a_fresh_process():
        return
    with forked.in_child(step, forked.MIN_ITEMS) as value:
        assert value() == "p"


def test_small_steps_and_threaded_processes_run_here() -> None:
    with forked.in_child(_where, forked.MIN_ITEMS - 1) as value:
        assert value() == "p"
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        with forked.in_child(_where, forked.MIN_ITEMS) as value:
            assert value() == "p"
    finally:
        stop.set()
        thread.join()


def test_a_child_not_waited_for_is_stopped(tmp_path: Path) -> None:
    if _ran_in_a_fresh_process():
        return
    marker = tmp_path / "pid"

    def slow() -> None:
        marker.write_text(str(os.getpid()))
        threading.Event().wait(600)

    with forked.in_child(slow, forked.MIN_ITEMS):
        while not marker.exists() or not marker.read_text():
            threading.Event().wait(0.01)
    pid = int(marker.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped on leaving the block


def test_an_analysis_with_its_drains_found_in_a_child_is_the_serial_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if _ran_in_a_fresh_process():
        return
    paths = [str(SAMPLES / "healthy-drain")]
    serial = analyze(paths, Options(jobs=1))
    assert serial.drains
    monkeypatch.setattr(forked, "MIN_ITEMS", 1)  # a sample's few attempts fork too
    monkeypatch.setattr(forked, "cores", lambda: 2)
    children = counted_forks(monkeypatch)
    assert analyze(paths, Options(jobs=1)) == serial
    assert children  # the drains did come from a child
