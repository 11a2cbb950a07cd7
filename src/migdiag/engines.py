"""Read inputs on an existing Dask cluster: ``--engine dask --scheduler ADDRESS``.

The same per-file read as the local worker processes (``migdiag.read_input.read_source``) runs as
one task per input; each task returns only that file's report and relevant events, so what
travels back to this process is small whatever the logs' size.  Correlation and diagnosis
stay here: they need every host's events together.

Dask is an optional extra (``pip install 'migdiag[dask]'``) and is imported only when this
engine is used.  Inputs are named by path: the workers must see the same paths (a shared
file system), or pass ``ship=True`` to send each file's bytes with its task.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from typing import TYPE_CHECKING, Any

from migdiag.errors import MigdiagError
from migdiag.read_input import FileResult, read_source
from migdiag.readers import InputSource, ReadStats

if TYPE_CHECKING:
    from migdiag.api import Options
    from migdiag.catalog import Catalog


class EngineError(MigdiagError):
    """The engine cannot run at all (extra not installed, scheduler unreachable)."""


def _shipped(source: InputSource) -> InputSource:
    if source.path is None:
        return source
    return InputSource(name=source.name, data=source.path.read_bytes())


def read_with_dask(
    sources: Sequence[InputSource],
    options: Options,
    catalog: Catalog,
    scheduler: str,
    named: Set[str] | None = None,
    ship: bool = False,
) -> list[FileResult]:
    """``[read_source(s, options.time, catalog, s.name in named) ...]`` as tasks on a cluster.

    ``named``: the names the user gave (as ``api._read_all`` gets them); ``None``: all.
    Results come back in input order.  A task that fails (its worker died, the file was not
    found on the worker) becomes that file's error, as a dead local worker does; the others
    are unaffected.  ``options.file_time_limit`` is not enforced here: Dask cannot kill a
    task stuck in native code, so the cluster's own limits apply."""
    try:
        import distributed
    except ImportError as exc:
        raise EngineError(
            "the dask engine needs the optional extra: pip install 'migdiag[dask]'"
        ) from exc
    if not sources:
        return []
    try:
        connect: Any = distributed.Client  # untyped
        client: Any = connect(scheduler, set_as_default=False, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise EngineError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
    with client:
        # The catalog goes to each worker once, not once per task.
        [catalog_future] = client.scatter([catalog], broadcast=True, hash=False)
        futures = client.map(
            read_source,
            [_shipped(s) for s in sources] if ship else list(sources),
            [options.time] * len(sources),
            [catalog_future] * len(sources),
            [named is None or s.name in named for s in sources],
            pure=False,
        )
        results: list[FileResult] = []
        for source, future in zip(sources, futures, strict=True):
            try:
                results.append(future.result())
            except Exception as failure:  # the task's own exception, re-raised here
                why = f"the Dask task failed: {type(failure).__name__}: {str(failure)[:200]}"
                results.append(FileResult(ReadStats().report(source.name, "unknown", why), ()))
        return results
