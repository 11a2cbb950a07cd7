"""Where one ``migdiag analyze`` spends its wall time, stage by stage (issue #16: measure
first).  Run by ``benchmarks/run.py`` in a process of its own, start-up included:

    python benchmarks/stages.py JOBS PATH...

prints one JSON object: seconds per stage.  Stages are timed by wrapping the library's own
steps (nothing is reimplemented): start-up is importing the command's modules; reading
includes the worker processes and the parent's side imports that overlap them; the rest is
the serial tail in the parent.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

STARTED = time.perf_counter()

import migdiag.cli  # noqa: E402, F401 - what `migdiag analyze` imports before any work
from migdiag import api  # noqa: E402

IMPORTED = time.perf_counter()
SECONDS: dict[str, float] = {"start-up": IMPORTED - STARTED}


def _timed(stage: str, func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            SECONDS[stage] = SECONDS.get(stage, 0.0) + time.perf_counter() - start

    return wrapper


def main(jobs: int, paths: list[str]) -> None:
    # The steps api._analyze imports when it runs: imported here, so their import time is
    # a stage of its own rather than hidden in the first call.
    start = time.perf_counter()
    import migdiag.correlate as correlate_module
    import migdiag.diagnose.rank as rank_module
    import migdiag.drains  # noqa: F401 - imported by api._analyze: part of this stage
    from migdiag.report import RENDERERS, RenderOptions

    SECONDS["analysis imports"] = time.perf_counter() - start
    api._read = _timed("read (workers)", api._read)
    # Correlation, diagnosis and drains run as one stage: on a bundle of several clusters
    # they run per group of hosts, in parts this process and forked children take in turns
    # (api._diagnosed), so only the stage's wall time is this process's.  Within it, this
    # process's own share: correlation and diagnosis timed apart (children's calls are timed
    # in the children).
    for stage in ("read (workers)", "correlate+diagnose+drains (all cores)"):
        SECONDS[stage] = 0.0  # printed in this order, each before its parts
    api._diagnosed = _timed("correlate+diagnose+drains (all cores)", api._diagnosed)
    correlate_module.correlate = _timed("  of which correlate here", correlate_module.correlate)
    rank_module.diagnose = _timed("  of which diagnose here", rank_module.diagnose)
    from migdiag.gc_pause import gc_paused

    with gc_paused():  # as `migdiag analyze` runs the analysis and its rendering
        start = time.perf_counter()
        analysis = api.analyze(paths, api.Options(jobs=jobs))
        total = time.perf_counter() - start
        named = sum(
            v
            for k, v in SECONDS.items()
            if k not in ("start-up", "analysis imports") and not k.startswith("  of which")
        )
        SECONDS["other analysis"] = total - named
        start = time.perf_counter()
        text = RENDERERS["json"](analysis, RenderOptions())
        SECONDS["render json"] = time.perf_counter() - start
    SECONDS["total"] = time.perf_counter() - STARTED
    print(json.dumps({"seconds": SECONDS, "json_bytes": len(text.encode())}))


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2:])
