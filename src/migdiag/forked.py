"""Work after reading, on every core: a long text built in parts (the parts after the first
in forked children), a step run in a forked child while this process does another, and
shares of one step (``run_shares``: groups of hosts correlated and diagnosed apart).

What a fleet's analysis does after reading runs in one process while the other cores idle,
and its largest step, encoding thousands of migrations as JSON (tens of MB), splits cleanly:
each migration's text depends on that migration alone.  A forked child has the whole
analysis already (copy-on-write, nothing pickled); it builds its part, writes it to an
unlinked temporary file (a pipe would stall the child on its first 64 KiB until the parent,
busy with its own part, came to read it) and exits.  The parent builds the first part
meanwhile, then reads the others in order, so the result is the serial one byte for byte.
Shares return objects: those are pickled back, with the objects both processes hold (the
events) sent as their indexes, so that they come back as themselves and cost nothing.

Only where forking is safe (a POSIX ``fork``, this process holding a single thread: a fork
copies the locks other threads hold); anywhere else, and for any part whose child failed,
the part is built here.  ``build`` must be a pure function of its range and return ASCII
(each child's text comes back through bytes).
"""

from __future__ import annotations

import contextlib
import copyreg
import gc
import os
import pickle
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import IO, Any, TypeVar

T = TypeVar("T")

# Below this many items a fork (~10 ms with a large heap) costs more than it saves.
MIN_ITEMS = 400


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _fork_is_safe() -> bool:
    # A POSIX fork, and no other thread: a fork copies the locks other threads hold.
    return hasattr(os, "fork") and threading.active_count() == 1


def split_build(
    build: Callable[[int, int], str],
    count: int,
    parts: int | None = None,
    meanwhile: Callable[[], None] | None = None,
    first: float = 1.0,
) -> str:
    """``build(0, count)``, as ``build`` of consecutive ranges joined, the ranges after the
    first built in forked children.  ``meanwhile`` runs once in this process before its own
    part, while the children build theirs: other work the caller needs anyway.  ``first``
    is the size of this process's range against each child's (smaller when ``meanwhile``
    has work to do: the children also write their text out, this process reads it back)."""
    parts = min(parts or cores(), count // (MIN_ITEMS // 2) or 1)
    if parts <= 1 or not _fork_is_safe():
        if meanwhile is not None:
            meanwhile()
        return build(0, count)
    whole = first + parts - 1
    bounds = [0, *(int(count * (first + k) / whole) for k in range(parts - 1)), count]
    children: list[tuple[int, int, int, IO[bytes]]] = []  # (pid, start, stop, its file)
    waiting: set[int] = set()  # children not yet reaped: a reaped pid may be reused
    with contextlib.ExitStack() as files:
        try:
            for k in range(1, parts):
                start, stop = bounds[k], bounds[k + 1]
                try:
                    out: IO[bytes] = files.enter_context(tempfile.TemporaryFile())
                    pid = os.fork()
                except OSError:
                    break  # no temporary file or no process: the rest is built here
                if pid == 0:  # pragma: no cover - runs in the child, which never returns
                    _child(build, start, stop, out.fileno())
                children.append((pid, start, stop, out))
                waiting.add(pid)
            if meanwhile is not None:
                meanwhile()
            texts = [build(bounds[0], bounds[1])]
            built_to = bounds[1]
            for pid, start, stop, out in children:
                _, status = os.waitpid(pid, 0)
                waiting.discard(pid)
                text = _read_back(status, out)
                texts.append(build(start, stop) if text is None else text)
                built_to = stop
            texts.append(build(built_to, count) if built_to < count else "")
            return "".join(texts)
        finally:
            for pid in waiting:  # interrupted: those children's parts are not wanted
                with contextlib.suppress(ChildProcessError, ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)


def _child(build: Callable[[int, int], str], start: int, stop: int, fd: int) -> None:
    # Ctrl-C is the parent's to handle (it stops the children); the child never returns
    # into the caller's code, and never runs the parent's exit handlers.
    status = 1
    try:
        gc.disable()  # a collection would walk, and so copy, the parent's whole heap
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        data = memoryview(build(start, stop).encode("ascii"))
        while data:
            data = data[os.write(fd, data) :]
        status = 0
    finally:
        os._exit(status)


def _read_back(status: int, out: IO[bytes]) -> str | None:
    """The child's text, or ``None`` when it failed (then the parent builds that part)."""
    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
        return None
    out.seek(0)
    return out.read().decode("ascii")


@contextlib.contextmanager
def in_child(func: Callable[[], T], items: int) -> Iterator[Callable[[], T]]:
    """``func()`` started in a forked child, while this process goes on with other work.

    Yields a function that waits for the child and returns ``func()``'s value (pickled back
    through an unlinked temporary file); it runs ``func()`` here instead when the child
    failed or died, when forking is not safe (see ``split_build``), and for fewer than
    ``MIN_ITEMS`` items.  ``func`` must be pure and its value picklable.  Leaving the block
    without waiting kills the child."""
    if items < MIN_ITEMS or cores() < 2 or not _fork_is_safe():
        yield func
        return
    with contextlib.ExitStack() as files:
        try:
            out: IO[bytes] = files.enter_context(tempfile.TemporaryFile())
            pid = os.fork()
        except OSError:
            yield func
            return
        if pid == 0:  # pragma: no cover - runs in the child, which never returns
            _pickling_child(func, out.fileno())
        reaped = False

        def wait() -> T:
            nonlocal reaped
            _, status = os.waitpid(pid, 0)
            reaped = True
            if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
                out.seek(0)
                value: T = pickle.load(out)
                return value
            return func()

        try:
            yield wait
        finally:
            if not reaped:  # interrupted, or the value was not wanted
                with contextlib.suppress(ChildProcessError, ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)


def _pickling_child(func: Callable[[], T], fd: int) -> None:
    status = 1
    try:
        gc.disable()  # a collection would walk, and so copy, the parent's whole heap
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        data = memoryview(pickle.dumps(func(), protocol=pickle.HIGHEST_PROTOCOL))
        while data:
            data = data[os.write(fd, data) :]
        status = 0
    finally:
        os._exit(status)


S = TypeVar("S")


def run_shares(func: Callable[[S], T], shares: Sequence[S], shared: Sequence[object]) -> list[T]:
    """``[func(share) for share in shares]``, the shares after the first in forked children
    while this process runs the first.

    Each child's value comes back pickled through an unlinked temporary file, with every
    object of ``shared`` (the inputs both sides hold already: the events) sent as its index
    there: it comes back as that very object, not a copy, and is not pickled at all (the
    events were most of the bytes and of the time).  A share whose child failed or died is
    run here; so is every share where forking is not safe (see ``split_build``).  ``func``
    must be pure and its value picklable."""
    if len(shares) <= 1 or not _fork_is_safe():
        return [func(share) for share in shares]
    children: list[tuple[int, IO[bytes]]] = []
    waiting: set[int] = set()  # children not yet reaped: a reaped pid may be reused
    with contextlib.ExitStack() as files:
        try:
            for share in shares[1:]:
                try:
                    out: IO[bytes] = files.enter_context(tempfile.TemporaryFile())
                    pid = os.fork()
                except OSError:
                    break  # no temporary file or no process: the rest is run here
                if pid == 0:  # pragma: no cover - runs in the child, which never returns
                    _sharing_child(partial(func, share), shared, out.fileno())
                children.append((pid, out))
                waiting.add(pid)
            values = [func(shares[0])]
            for (pid, out), share in zip(children, shares[1:], strict=False):
                _, status = os.waitpid(pid, 0)
                waiting.discard(pid)
                value = _shared_back(status, out, shared)
                values.append(func(share) if value is None else value[0])
            values += [func(share) for share in shares[len(values) :]]
            return values
        finally:
            for pid in waiting:  # interrupted: those children's values are not wanted
                with contextlib.suppress(ChildProcessError, ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)


class _SharingPickler(pickle.Pickler):
    """Pickles each object of ``shared`` as a call of ``_shared_object`` with its index.

    Through the dispatch table (looked up in C by type), not ``persistent_id``: that is
    called for every string and tuple too, and was half of the pickling time."""

    def __init__(self, file: IO[bytes], shared: Sequence[object]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        index = {id(obj): number for number, obj in enumerate(shared)}

        def reduce(obj: Any) -> Any:
            # The objects of ``shared`` are alive in both processes: their ids name no other.
            number = index.get(id(obj))
            if number is None:  # another object of a shared kind: pickled as usual
                return obj.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
            return (_shared_object, (number,))

        kinds = {type(obj) for obj in shared}
        if kinds & _SAVED_BEFORE_THE_TABLE:
            raise TypeError("shared objects must be instances of classes of their own")
        table: dict[type, Callable[[Any], Any]] = dict(copyreg.dispatch_table)
        table.update((kind, reduce) for kind in kinds)
        self.dispatch_table = table


# Types the pickler writes itself before it looks at a dispatch table (its fast paths).
_SAVED_BEFORE_THE_TABLE = frozenset(
    {type(None), bool, int, float, bytes, bytearray, str, dict, set, frozenset, list, tuple}
)


def _shared_object(number: int) -> object:
    """Stands for the ``number``-th shared object in a pickle ``_SharingUnpickler`` reads."""
    raise RuntimeError("only _SharingUnpickler reads what _SharingPickler writes")


class _SharingUnpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], shared: Sequence[object]) -> None:
        super().__init__(file)
        self._shared = shared

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == "_shared_object":
            return self._shared.__getitem__
        return super().find_class(module, name)


def _sharing_child(func: Callable[[], object], shared: Sequence[object], fd: int) -> None:
    status = 1
    try:
        gc.disable()  # a collection would walk, and so copy, the parent's whole heap
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        value = func()
        with os.fdopen(fd, "wb", closefd=False) as out:
            _SharingPickler(out, shared).dump(value)
        status = 0
    finally:
        os._exit(status)


def _shared_back(status: int, out: IO[bytes], shared: Sequence[object]) -> tuple[Any] | None:
    """``(value,)`` as the child pickled it, or ``None`` when it failed."""
    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
        return None
    out.seek(0)
    return (_SharingUnpickler(out, shared).load(),)
