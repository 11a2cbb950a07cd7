"""Work after reading, on every core: a long text built in ranges (``split_build``), a step
run in a forked child while this process does another (``in_child``), and shares of one step
(``run_shares``: groups of hosts correlated and diagnosed apart).

What a fleet's analysis does after reading runs in one process while the other cores idle,
and its largest step, encoding thousands of migrations as JSON (tens of MB), splits cleanly:
each migration's text depends on that migration alone.  A forked child has the whole
analysis already (copy-on-write, nothing pickled).  Ranges and shares wait in a queue (a
pipe of their numbers) that this process and its children take from in turn, so that they
finish together however fast each core runs; a child pickles what it made to an unlinked
temporary file (a pipe would stall the child on its first 64 KiB until the parent, busy
with its own part, came to read it) and exits, and the parent puts everything back in
order, so the result is the serial one byte for byte.  Shares return objects: those are
pickled back with the objects both processes hold (the events) sent as their indexes, so
that they come back as themselves and cost nothing.

Only where forking is safe (a POSIX ``fork``, this process holding a single thread: a fork
copies the locks other threads hold); anywhere else, and for any part whose child failed,
the part is built here.  ``build`` must be a pure function of its range.
"""

from __future__ import annotations

import contextlib
import copyreg
import gc
import os
import pickle
import signal
import struct
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from itertools import pairwise
from typing import IO, Any, NoReturn, TypeVar

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


# A text is built in this many ranges per process, taken one at a time (see run_shares):
# the processes then finish within one small range of each other.
RANGES_PER_PROCESS = 8


def split_build(
    build: Callable[[int, int], str],
    count: int,
    parts: int | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> str:
    """``build(0, count)``, as ``build`` of consecutive ranges joined, the ranges built by
    this process and ``parts - 1`` forked children (default: one process per core), each
    taking the next range when done with its last.  ``meanwhile`` runs once in this process
    while the children start on the ranges: other work the caller needs anyway."""
    processes = min(parts or cores(), count // (MIN_ITEMS // 2) or 1)
    if processes <= 1 or not _fork_is_safe():
        if meanwhile is not None:
            meanwhile()
        return build(0, count)
    pieces = processes * RANGES_PER_PROCESS
    bounds = [count * k // pieces for k in range(pieces + 1)]
    ranges = list(pairwise(bounds))
    return "".join(_in_turns(lambda r: build(*r), ranges, (), processes, meanwhile))


@contextlib.contextmanager
def in_child(func: Callable[[], T], items: int) -> Iterator[Callable[[], T]]:
    """``func()`` started in a forked child, while this process goes on with other work.

    Yields a function that waits for the child and returns ``func()``'s value (pickled back
    through an unlinked temporary file); it runs ``func()`` here instead when the child
    failed or died, when forking is not safe (see ``_fork_is_safe``), and for fewer than
    ``MIN_ITEMS`` items.  ``func`` must be pure and its value picklable.  Leaving the block
    without waiting kills the child."""
    if items < MIN_ITEMS or cores() < 2 or not _fork_is_safe():
        yield func
        return
    with _children() as children:
        pid = children.start(partial(_write_pickle, func))
        if pid is None:
            yield func
            return

        def wait() -> T:
            out = children.wait(pid)
            if out is None:
                return func()
            value: T = pickle.load(out)
            return value

        yield wait


S = TypeVar("S")


def run_shares(func: Callable[[S], T], shares: Sequence[S], shared: Sequence[object]) -> list[T]:
    """``[func(share) for share in shares]``, on every core: this process and forked children
    each take the next share nobody has taken when they are done with theirs (this process
    takes the first before any child starts).  Put the largest shares first: the last ones
    taken are then small, and the processes finish together whatever each share costs (a
    child's also pays for pickling its values back) and however fast each core runs.

    Each child's values come back pickled through an unlinked temporary file, with every
    object of ``shared`` (the inputs both sides hold already: the events) sent as its index
    there: it comes back as that very object, not a copy, and is not pickled at all (the
    events were most of the bytes and of the time).  The shares a child took are run here
    when it failed or died; everything is, where forking is not safe (see ``_fork_is_safe``).
    ``func`` must be pure and its value picklable."""
    return _in_turns(func, shares, shared, cores())


def _in_turns(
    func: Callable[[S], T],
    shares: Sequence[S],
    shared: Sequence[object],
    processes: int,
    meanwhile: Callable[[], None] | None = None,
) -> list[T]:
    # run_shares in up to ``processes`` processes; ``meanwhile`` runs here once the children
    # have started, before this process takes a share (then not necessarily the first).
    queue = _Queue.of(len(shares)) if len(shares) > 1 and _fork_is_safe() else None
    if queue is None:
        if meanwhile is not None:
            meanwhile()
        return [func(share) for share in shares]
    with queue, _children() as children:
        number = queue.take() if meanwhile is None else None
        started: list[int] = []
        for _ in range(min(processes, len(shares)) - 1):
            pid = children.start(partial(_take_shares, func, shares, shared, queue))
            if pid is None:
                break  # no temporary file or no process: the rest is run here
            started.append(pid)
        if meanwhile is not None:
            meanwhile()
            number = queue.take()
        values: dict[int, T] = {}
        while number is not None:
            values[number] = func(shares[number])
            number = queue.take()
        for pid in started:
            out = children.wait(pid)
            if out is not None:
                values.update(_values_in(out, shared))
        return [values[n] if n in values else func(shares[n]) for n in range(len(shares))]


class _Queue:
    """The numbers of the shares not taken yet, in a pipe every process reads: a read of one
    number is atomic, so each share is taken once, by whichever process asks first."""

    _NUMBER = struct.Struct("<I")
    MAX = 1024  # a pipe holds at least one page (4 KiB) whatever the system's limits

    def __init__(self, read_end: int) -> None:
        self._read_end = read_end

    @classmethod
    def of(cls, count: int) -> _Queue | None:
        """A queue of ``0 .. count - 1``; ``None`` when they do not fit the pipe at once
        (nobody reads it yet: a blocking write would wait forever) or no pipe can be had."""
        if count > cls.MAX:
            return None
        try:
            read_end, write_end = os.pipe()
        except OSError:
            return None
        try:
            os.set_blocking(write_end, False)
            data = b"".join(cls._NUMBER.pack(n) for n in range(count))
            if os.write(write_end, data) == len(data):
                return cls(read_end)
        except OSError:
            pass
        finally:
            os.close(write_end)  # once read to the end, every reader sees the end of file
        os.close(read_end)
        return None

    def take(self) -> int | None:
        data = os.read(self._read_end, self._NUMBER.size)
        return self._NUMBER.unpack(data)[0] if data else None

    def __enter__(self) -> _Queue:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self._read_end)


def _take_shares(
    func: Callable[[S], object],
    shares: Sequence[S],
    shared: Sequence[object],
    queue: _Queue,
    fd: int,
) -> None:
    # In a child: (number, value) of every share it takes, one pickle after another.
    with os.fdopen(fd, "wb", closefd=False) as out:
        pickler = _SharingPickler(out, shared)
        while (number := queue.take()) is not None:
            pickler.dump((number, func(shares[number])))


def _values_in(out: IO[bytes], shared: Sequence[object]) -> dict[int, Any]:
    unpickler = _SharingUnpickler(out, shared)  # one memo, as the child's one pickler wrote
    values: dict[int, Any] = {}
    while True:
        try:
            number, value = unpickler.load()
        except EOFError:
            return values
        values[number] = value


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


# ---- the children: started, their files read back, the ones not waited for killed --------


class _Children:
    """Forked children, each writing what it made to an unlinked temporary file of its own
    (a pipe would stall a child on its first 64 KiB until the parent, busy with its own
    work, came to read it)."""

    def __init__(self, files: contextlib.ExitStack) -> None:
        self._files = files
        self.waiting: dict[int, IO[bytes]] = {}  # not reaped yet: a reaped pid may be reused

    def start(self, work: Callable[[int], None]) -> int | None:
        """A child running ``work(fd)``; ``None`` when no file or process could be had
        (then the caller does the work itself)."""
        try:
            out: IO[bytes] = self._files.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
            pid = os.fork()
        except OSError:
            return None
        if pid == 0:  # pragma: no cover - runs in the child, which never returns
            _run_child(work, out.fileno())
        self.waiting[pid] = out
        return pid

    def wait(self, pid: int) -> IO[bytes] | None:
        """The child's file, read from its start, or ``None`` when it failed or died."""
        out = self.waiting[pid]
        _, status = os.waitpid(pid, 0)
        del self.waiting[pid]  # only once reaped: interrupted while waiting, it is killed
        if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            return None
        out.seek(0)
        return out


@contextlib.contextmanager
def _children() -> Iterator[_Children]:
    """Children started in the block; the ones not waited for when it is left (interrupted,
    or their work not wanted) are killed and reaped."""
    with contextlib.ExitStack() as files:
        children = _Children(files)
        try:
            yield children
        finally:
            for pid in children.waiting:
                with contextlib.suppress(ChildProcessError, ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)


def _run_child(work: Callable[[int], None], fd: int) -> NoReturn:
    # Ctrl-C is the parent's to handle (it stops the children); the child never returns
    # into the caller's code, and never runs the parent's exit handlers.
    status = 1
    try:
        gc.disable()  # a collection would walk, and so copy, the parent's whole heap
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        work(fd)
        status = 0
    finally:
        os._exit(status)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_pickle(func: Callable[[], object], fd: int) -> None:
    _write_all(fd, pickle.dumps(func(), protocol=pickle.HIGHEST_PROTOCOL))
