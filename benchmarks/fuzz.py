"""The large fuzz run: damaged and crafted inputs of every format through the whole pipeline.

    python benchmarks/fuzz.py --cases 100000 --out fuzz-summary.json
    python benchmarks/fuzz.py --replay 1234 [--keep case.bin]

The cases are those of the CI suite (``tests/hardening/fuzzcases.py``), by seed: EVTX files
written by ``migdiag synth`` with lies in their headers, chunks, records, templates,
substitution arrays and UTF-16 strings (CRCs resealed half the time so the damage reaches
the BinXML parser), cuts at every structural boundary, blind byte damage, and the Event
Viewer XML, copy-as-text, wevtutil text, CSV and zip inputs damaged likewise.  Each case
runs in a worker process with a time limit (``migdiag.workers.run_isolated``, as
``analyze`` reads files): ``migdiag.api.analyze`` on the case written to a file, then the
JSON renderer (every renderer on one case in 16).

A finding is a case that raised anywhere (a traceback), that a reader could only explain
as "unexpected reader failure", that killed its worker, or that ran past the limit (a hang).
Each finding's bytes are saved beside the summary so it can be replayed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "hardening"))

# The shared case generator lives with the tests, outside any package mypy is given: import
# it by name at run time.
fuzzcases: Any = importlib.import_module("fuzzcases")

BATCH = 1000  # cases per run_isolated call: progress and the time budget are checked between


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def run(cases: int, start: int, jobs: int, limit: float, budget: float, out: Path) -> int:
    findings_dir = out.with_suffix("")
    findings_dir = findings_dir.parent / f"{findings_dir.name}-findings"
    scratch = Path(tempfile.mkdtemp(prefix="migdiag-fuzz-"))
    os.environ[fuzzcases.WORKDIR_ENV] = str(scratch)
    # Build the bases before the workers fork, so each inherits them instead of rebuilding.
    fuzzcases.bases()
    for name, (kind, _) in fuzzcases.bases().items():
        if kind == "evtx":
            fuzzcases.layout_of(name)
    outcomes: Counter[str] = Counter()
    by_base: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    findings: list[dict[str, Any]] = []
    slowest: list[tuple[float, int]] = []
    done = 0
    started = time.monotonic()
    stopped_by_budget = False
    try:
        for first in range(start, start + cases, BATCH):
            if time.monotonic() - started > budget:
                stopped_by_budget = True
                break
            seeds = [(s,) for s in range(first, min(first + BATCH, start + cases))]
            for (seed,), result in fuzzcases.run_many(fuzzcases.run_case, seeds, jobs, limit):
                done += 1
                if isinstance(result, str):
                    kind = "hang" if result.startswith("gave up") else "worker died"
                    case = fuzzcases.make_case(int(str(seed)))
                    base, how, detail = case.base, case.how, result
                else:
                    base, how, detail = result.base, result.how, result.detail
                    slowest.append((result.seconds, result.seed))
                    if result.outcome != "bug":
                        outcomes[result.outcome] += 1
                        by_base[base] += 1
                        continue
                    kind = "traceback" if "Traceback" in detail else "reader failure"
                    case = fuzzcases.make_case(int(str(seed)))
                by_base[base] += 1
                outcomes[kind] += 1
                kinds[f"{kind}: {_first_line(detail)}"] += 1
                findings_dir.mkdir(parents=True, exist_ok=True)
                saved = findings_dir / f"seed-{seed}{case.suffix}"
                saved.write_bytes(case.data)
                if len(findings) < 200:
                    findings.append(
                        {
                            "seed": seed,
                            "kind": kind,
                            "base": base,
                            "damage": how,
                            "saved": str(saved),
                            "detail": detail[-2000:],
                        }
                    )
            elapsed = time.monotonic() - started
            print(
                f"{done} cases in {elapsed:.0f} s ({done / elapsed:.1f}/s): {dict(outcomes)}",
                flush=True,
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    elapsed = time.monotonic() - started
    slowest.sort(reverse=True)
    summary = {
        "cases": done,
        "cases_requested": cases,
        "first_seed": start,
        "stopped_by_time_budget": stopped_by_budget,
        "seconds": round(elapsed, 1),
        "cases_per_second": round(done / elapsed, 1) if elapsed else None,
        "jobs": jobs,
        "time_limit_s": limit,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "outcomes": dict(sorted(outcomes.items())),
        "tracebacks": outcomes["traceback"] + outcomes["reader failure"],
        "hangs": outcomes["hang"],
        "worker_deaths": outcomes["worker died"],
        "slowest_case_s": round(slowest[0][0], 3) if slowest else None,
        "slowest_seeds": [seed for _, seed in slowest[:10]],
        "cases_per_base": dict(sorted(by_base.items())),
        "finding_kinds": dict(kinds.most_common()),
        "findings": findings,
    }
    out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    short = {k: v for k, v in summary.items() if k not in ("findings", "cases_per_base")}
    print(json.dumps(short, indent=2))
    return 1 if summary["tracebacks"] or summary["hangs"] or summary["worker_deaths"] else 0


def replay(seed: int, keep: Path | None) -> int:
    """One case in this process, with its traceback: for debugging a finding."""
    os.environ.setdefault(fuzzcases.WORKDIR_ENV, tempfile.mkdtemp(prefix="migdiag-replay-"))
    case = fuzzcases.make_case(seed)
    print(f"seed {seed}: {case.base}, {case.how}, {len(case.data)} bytes")
    if keep is not None:
        keep.write_bytes(case.data)
        print(f"wrote {keep}")
    result = fuzzcases.run_case(seed)
    print(
        f"{result.outcome} in {result.seconds:.3f} s: {result.records} records, "
        f"{result.events} events, errors {list(result.errors)}"
    )
    if result.detail:
        print(result.detail)
    return 1 if result.outcome == "bug" else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--start", type=int, default=0, help="first seed")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per case")
    parser.add_argument(
        "--budget", type=float, default=float("inf"), help="stop starting batches after this"
    )
    parser.add_argument("--out", type=Path, default=Path("fuzz-summary.json"))
    parser.add_argument("--replay", type=int, help="run this one seed here and show it")
    parser.add_argument("--keep", type=Path, help="with --replay: write the case's bytes here")
    args = parser.parse_args()
    if args.replay is not None:
        return replay(args.replay, args.keep)
    return run(args.cases, args.start, args.jobs, args.time_limit, args.budget, args.out)


if __name__ == "__main__":
    sys.exit(main())
