"""Run a function over many inputs in worker processes, each call with a time limit.

Why not ``concurrent.futures``: a parser stuck inside native code (the Rust ``evtx`` parser
has had such bugs) cannot be interrupted from Python, and a process pool cannot kill one of
its workers.  Here each worker is a plain process fed over a pipe; when a call overruns its
limit, or the worker dies (a crash in native code), that worker is killed and replaced and
the call's result is a ``Failure`` naming what happened.  The other inputs go on.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import pickle
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Failure:
    """A call that did not return: it timed out or its worker died."""

    why: str


def _start_method() -> str:
    # Forking is instant and the workers inherit the imported modules; it is only safe while
    # this process has a single thread (a fork copies locks held by other threads).  Spawn
    # otherwise, and where fork does not exist.
    if "fork" in mp.get_all_start_methods() and threading.active_count() == 1:
        return "fork"
    return "spawn"


def _serve(conn: Connection, func: Callable[..., Any]) -> None:
    # Ctrl-C reaches every process of the terminal's group: the parent decides what an
    # interrupt means (it stops the workers); a worker printing its own traceback is noise.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        conn.send(func(*task))


@dataclass(slots=True)
class _Worker(Generic[T]):
    process: Any
    conn: Connection
    task: int | None = None
    started: float = 0.0


def run_isolated(
    func: Callable[..., R],
    tasks: Sequence[tuple[Any, ...]],
    jobs: int,
    time_limit: float,
    on_done: Callable[[int], None] | None = None,
    while_waiting: Callable[[], None] | None = None,
) -> list[R | Failure]:
    """``[func(*task) for task in tasks]`` in ``jobs`` worker processes, in task order.

    ``func`` must be a module-level function (it is sent to the workers by reference).
    ``while_waiting`` runs once, in a thread of this process, once the workers have started:
    work for the otherwise idle parent (imports the next step needs) that would otherwise
    follow the reads.  A thread, so that results keep being collected meanwhile (a worker
    whose result is not collected waits, and its core idles)."""
    ctx: Any = mp.get_context(_start_method())  # fork and spawn contexts share the API
    side_work: threading.Thread | None = None
    results: list[R | Failure | None] = [None] * len(tasks)
    pending = list(range(len(tasks)))
    pending.reverse()
    workers: list[_Worker[R]] = []

    def start_worker() -> _Worker[R]:
        if side_work is not None:
            # Never fork while another thread may hold a lock (the import lock, say): the
            # child would inherit it held.  Replacements are rare (a hung or crashed reader).
            side_work.join()
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_serve, args=(child, func), daemon=True)
        process.start()
        child.close()
        return _Worker(process=process, conn=parent)

    def finish(task: int, result: R | Failure) -> None:
        results[task] = result
        if on_done:
            on_done(task)

    def hand_out(worker: _Worker[R]) -> None:
        if worker.task is None and pending:
            worker.task = pending.pop()
            worker.started = time.monotonic()
            worker.conn.send(tasks[worker.task])

    try:
        for _ in range(max(1, min(jobs, len(tasks)))):
            workers.append(start_worker())
        while pending or any(w.task is not None for w in workers):
            for worker in workers:
                hand_out(worker)
            if while_waiting is not None and side_work is None:
                side_work = threading.Thread(target=while_waiting, name="migdiag-side-work")
                side_work.start()
            busy = [w for w in workers if w.task is not None]
            ready = wait([w.conn for w in busy], timeout=0.2)
            now = time.monotonic()
            for index, worker in enumerate(workers):
                if worker.task is None:
                    continue
                if worker.conn in ready:
                    try:
                        raw = worker.conn.recv_bytes()
                    except (EOFError, OSError):
                        why = f"the reader process died (exit code {worker.process.exitcode})"
                    else:
                        # The next task goes out before this result is unpickled, so that
                        # the worker reads while this process decodes.
                        done, worker.task = worker.task, None
                        hand_out(worker)
                        finish(done, pickle.loads(raw))
                        continue
                elif now - worker.started > time_limit:
                    why = f"gave up after {time_limit:g} s: the parser did not finish"
                else:
                    continue
                worker.process.kill()
                worker.process.join()
                finish(worker.task, Failure(why))
                workers[index] = start_worker()
    except KeyboardInterrupt:
        for worker in workers:  # interrupted: no worker's result is wanted any more
            worker.process.kill()
        raise
    finally:
        if side_work is not None:
            side_work.join()
        for worker in workers:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        for worker in workers:
            worker.process.join(timeout=2)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
    return [r for r in results if r is not None]
