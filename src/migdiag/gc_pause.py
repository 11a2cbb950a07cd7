"""Python's cycle collector, held off while an analysis builds and renders its result.

An analysis allocates hundreds of thousands of small objects that live until it returns
(events and their payload tuples, migrations, edges, the JSON tree) and makes no garbage
cycles worth waiting for.  That many survivors set off full collections, each a walk over
every object in the process that frees next to nothing: on the 50-host benchmark bundle they
were a fifth of the run.  Paused, reference counting still frees everything that is not a
cycle.  The previous state is restored, so a caller that turned the collector off keeps it
off, and nesting is harmless.  No result depends on it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
