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
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.reduction import ForkingPickler
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
    # The tasks sent and not answered yet, in order: the first is the one being run (a
    # worker answers in order), the others wait in its pipe.
    tasks: deque[int] = field(default_factory=deque)
    started: float = 0.0  # when the first of ``tasks`` started (its time limit counts from)


# Tasks in a worker's pipe at once: when it finishes one, the next is already there.  With
# one, a worker waited for this process to take its result and send the next task: on the
# 1 GB fleet 0.04-0.08 s of each worker's 2 s, 0.01-0.03 s with the next one waiting.
_IN_FLIGHT = 2
# A task waits in the pipe only when it is this small: a larger one could fill the pipe,
# and this process would block sending it while the worker blocks sending its result.
_SMALL_TASK = 16 * 1024


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
    messages: dict[int, bytes] = {}  # a pending task held back as too large to queue
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

    def hand_out(worker: _Worker[R], depth: int) -> None:
        # Up to ``depth`` tasks in flight; a second only while at least one task per worker
        # is left (the last ones go to whichever worker is free first: a task queued behind
        # a long one would wait while another worker idles) and only a small one.
        while pending and len(worker.tasks) < depth:
            if worker.tasks and len(pending) < len(workers):
                return
            number = pending[-1]
            if number not in messages:  # pickled once, however often it is held back
                messages[number] = bytes(ForkingPickler.dumps(tasks[number]))
            if worker.tasks and len(messages[number]) > _SMALL_TASK:
                return
            if not worker.tasks:
                worker.started = time.monotonic()
            worker.tasks.append(pending.pop())
            worker.conn.send_bytes(messages.pop(number))

    def hand_out_all() -> None:
        for depth in range(1, _IN_FLIGHT + 1):  # every worker its first task, then more
            for worker in workers:
                hand_out(worker, depth)

    try:
        for _ in range(max(1, min(jobs, len(tasks)))):
            workers.append(start_worker())
        while pending or any(w.tasks for w in workers):
            hand_out_all()
            if while_waiting is not None and side_work is None:
                side_work = threading.Thread(target=while_waiting, name="migdiag-side-work")
                side_work.start()
            busy = [w for w in workers if w.tasks]
            ready = wait([w.conn for w in busy], timeout=0.2)
            now = time.monotonic()
            for index, worker in enumerate(workers):
                if not worker.tasks:
                    continue
                if worker.conn in ready:
                    try:
                        raw = worker.conn.recv_bytes()
                    except (EOFError, OSError):
                        why = f"the reader process died (exit code {worker.process.exitcode})"
                    else:
                        # The worker went straight on to its next task, if it had one; the
                        # next goes out before this result is unpickled, so that the worker
                        # reads while this process decodes.
                        done = worker.tasks.popleft()
                        worker.started = time.monotonic()
                        hand_out(worker, _IN_FLIGHT)
                        finish(done, pickle.loads(raw))
                        continue
                elif now - worker.started > time_limit:
                    why = f"gave up after {time_limit:g} s: the parser did not finish"
                else:
                    continue
                worker.process.kill()
                worker.process.join()
                failed = worker.tasks.popleft()
                # The tasks that waited in its pipe never started: handed out again, first.
                pending.extend(reversed(worker.tasks))
                finish(failed, Failure(why))
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
