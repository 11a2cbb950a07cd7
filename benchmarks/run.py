"""One command for migdiag's performance figures (see docs/performance.md).

    python benchmarks/run.py [--size quick|medium|full] [--out DIR] [--runs 3] [--jobs N]
    python benchmarks/run.py --correlation
    python benchmarks/run.py --suite startup     # one small file, one paste, --help
    python benchmarks/run.py --suite corpus      # the real files of ../shared/corpus over 1 MB

Read benchmark: writes (once; cached in DIR) a fleet bundle with ``benchmarks/fleet.py``, then
measures, each as a subprocess so that start-up and memory are counted as a user sees them:

* bare: every record of every file decoded by the ``evtx`` package, nothing else, in one
  process; bare-jN: the same with one process per core (N), the like-for-like baseline of
  ``analyze --jobs N``;
* analyze: ``migdiag analyze BUNDLE --format json -o FILE`` with 1 and with N jobs.

It prints records/s and MB/s of each (medians of ``--runs``), analyze's ratio to bare, peak
RSS (largest process, from ``wait4``; and the whole process tree, sampled from /proc) and the
speed-up from 1 to N jobs, and checks that 1 and N jobs wrote byte-identical JSON.

Correlation benchmark: 200,000 migration-related events of 10,000 attempts on 50 hosts
through ``migdiag.correlate.correlate``: time (median) and memory (tracemalloc peak).

Start-up suite: what a support engineer feels on every call: ``migdiag analyze --format json``
of one small EVTX, ``migdiag explain`` of one paste and ``migdiag --help``, each against the
bare interpreter's start-up (``python -c pass``) measured in the same rounds.

Corpus suite: the real third-party files over 1 MB in ../shared/corpus (sparse, mostly
unrelated records): ``migdiag analyze --jobs N`` against a bare parse with one process per
core (and in one process), as throughput past start-up (each wall minus its command's
start-up on a tiny input, measured in the same rounds).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "src"), str(HERE)]

import fleet  # noqa: E402 - needs the path above

BARE = """
import sys, time
from pathlib import Path
from evtx import PyEvtxParser
records = 0
start = time.perf_counter()
for path in sorted(Path(sys.argv[1]).rglob("*.evtx")):
    for record in PyEvtxParser(str(path)).records():
        records += 1
print(records, time.perf_counter() - start)
"""


# The bare parse with one process per core: files, largest first, to a pool of N processes.
BARE_PARALLEL = """
import sys, time
from multiprocessing import Pool
from pathlib import Path
from evtx import PyEvtxParser

def count(path):
    records = 0
    try:  # a damaged file counts what was read before the damage, as the one-process loop
        for _ in PyEvtxParser(path).records():
            records += 1
    except Exception:
        pass
    return records

if __name__ == "__main__":
    jobs, where = int(sys.argv[1]), Path(sys.argv[2])
    listed = [Path(p) for p in sys.argv[3:]] or sorted(where.rglob("*.evtx"))
    files = sorted((str(p) for p in listed), key=lambda p: -Path(p).stat().st_size)
    start = time.perf_counter()
    with Pool(jobs) as pool:
        records = sum(pool.imap_unordered(count, files))
    print(records, time.perf_counter() - start)
"""

# The bare parse of an explicit list of files in one process (the corpus suite).
BARE_FILES = """
import sys, time
from evtx import PyEvtxParser
records = 0
start = time.perf_counter()
for path in sys.argv[1:]:
    try:
        for record in PyEvtxParser(path).records():
            records += 1
    except Exception:
        pass
print(records, time.perf_counter() - start)
"""


@dataclass(frozen=True, slots=True)
class Run:
    wall: float  # seconds, start-up included
    max_rss: int  # bytes, the largest single process (wait4 covers reaped descendants)
    tree_rss: int  # bytes, the most the whole process tree held at once (sampled)
    stdout: str
    cpu: float = 0.0  # seconds of user and system time, reaped descendants included (wait4)


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        rss[int(entry)] = int(fields[21]) * page
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return total


def run(command: Sequence[str]) -> Run:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    # As a user's installed copy runs: pip writes bytecode at install time.  Some shells and
    # sandboxes set PYTHONDONTWRITEBYTECODE, which would make every run compile migdiag anew.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # A file, not a pipe: a chatty stderr cannot block the command.
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed below, after the wait
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, env=env, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.05):
            peak = max(peak, _tree_rss(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert process.stdout is not None
    stdout = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    errors.seek(0)
    stderr = errors.read().decode("utf-8", "replace")
    errors.close()
    # A figure of a command that crashed is no figure: exit 1 is migdiag's internal error
    # (analyze's findings exit 0 unless --fail-on), and a traceback is never expected.
    if process.returncode not in (0, 6) or "Traceback (most recent call last)" in stderr:
        raise SystemExit(
            f"{' '.join(command[:5])} failed with exit code {process.returncode}:\n{stderr[-2000:]}"
        )
    return Run(wall, usage.ru_maxrss * 1024, peak, stdout, usage.ru_utime + usage.ru_stime)


def bundle(size: fleet.FleetSize, out: Path) -> Path:
    """The cached bundle for ``size``; rewritten when the generator or the size changed."""
    stamp = hashlib.sha256((HERE / "fleet.py").read_bytes() + repr(size).encode()).hexdigest()
    where = out / f"fleet-{size.name}"
    if (where / "STAMP").is_file() and (where / "STAMP").read_text() == stamp:
        return where
    print(f"writing the {size.name} fleet bundle to {where} (cached for the next runs) ...")
    started = time.perf_counter()
    for old in sorted(where.rglob("*"), reverse=True) if where.exists() else ():
        old.unlink() if old.is_file() else old.rmdir()
    fleet.write_fleet(size, where)
    (where / "STAMP").write_text(stamp)
    print(f"  written in {time.perf_counter() - started:.0f} s")
    return where


def _median(runs: Sequence[Run]) -> Run:
    walls = sorted(runs, key=lambda r: r.wall)
    middle = walls[len(walls) // 2]
    return Run(
        statistics.median(r.wall for r in runs),
        max(r.max_rss for r in runs),
        max(r.tree_rss for r in runs),
        middle.stdout,
        statistics.median(r.cpu for r in runs),
    )


def read_benchmark(size_name: str, out: Path, runs: int, jobs: int) -> dict[str, object]:
    size = fleet.SIZES[size_name]
    where = bundle(size, out)
    files = sorted(where.rglob("*.evtx"))
    total_bytes = sum(f.stat().st_size for f in files)
    print(
        f"bundle: {len(files)} files, {total_bytes / 1e6:.0f} MB, {size.hosts} hosts, "
        f"{size.attempts} migration attempts"
    )

    results: dict[str, Run] = {}
    outputs: dict[int, bytes] = {}
    bare_cmd = [sys.executable, "-c", BARE, str(where)]
    per_core = [sys.executable, "-c", BARE_PARALLEL, str(jobs), str(where)]
    # Each command's own start-up, in the same rounds: the interpreter's for the bare parses,
    # analyze of one small sample folder for migdiag; the throughput past start-up (issue
    # #16's measure, as in the corpus suite) is each wall minus its start-up.
    tiny = str(ROOT / "sample_logs" / "seed-mtu-reset" / "SRV1")
    commands = [
        ("python", [sys.executable, "-c", "pass"]),
        ("analyze-startup", _migdiag("analyze", tiny, "--format", "json", "-q")),
        ("bare", bare_cmd),
        (f"bare-j{jobs}", per_core),
    ] + [
        (
            f"analyze-j{j}",
            [
                sys.executable,
                "-m",
                "migdiag",
                "analyze",
                str(where),
                "--format",
                "json",
                "-o",
                str(out / f"analysis-j{j}.json"),
                "-q",
                "--jobs",
                str(j),
            ],
        )
        for j in sorted({1, jobs})
    ]
    # Round by round (bare, 1 job, N jobs, bare, ...) rather than all runs of one command
    # in a row: on a shared machine a slow spell then hits every command alike, and the
    # ratio of the medians stays fair.
    measured: dict[str, list[Run]] = {label: [] for label, _ in commands}
    for n in range(runs):
        for label, command in commands:
            measured[label].append(run(command))
            print(f"  {label} run {n + 1}: {measured[label][-1].wall:.2f} s")
    for label, _ in commands:
        results[label] = _median(measured[label])
        if label.startswith("analyze-j"):
            outputs[int(label[9:])] = (out / f"analysis-{label[8:]}.json").read_bytes()
    records = int(results["bare"].stdout.split()[0])
    bare = results["bare"]

    def rates(r: Run) -> tuple[float, float]:
        return records / r.wall, total_bytes / 1e6 / r.wall

    print()
    print(
        f"{'':14s} {'wall s':>8s} {'records/s':>12s} {'MB/s':>8s} {'peak RSS MB':>12s} "
        f"{'tree RSS MB':>12s} {'CPU s':>8s}"
    )
    starts = ("python", "analyze-startup")
    for label, r in results.items():
        if label in starts:
            continue
        rec_s, mb_s = rates(r)
        print(
            f"{label:14s} {r.wall:8.2f} {rec_s:12,.0f} {mb_s:8.1f} {r.max_rss / 1e6:12.0f} "
            f"{r.tree_rss / 1e6:12.0f} {r.cpu:8.2f}"
        )
    print("start-up: " + ", ".join(f"{label} {results[label].wall:.3f} s" for label in starts))
    best = results[f"analyze-j{jobs}"]
    ratio = bare.wall / best.wall
    fair = results[f"bare-j{jobs}"].wall / best.wall
    # Each round's own ratio too: a shared machine's speed drifts within a run, and a round
    # measures both commands within seconds of each other.
    rounds = [
        b.wall / a.wall
        for b, a in zip(measured[f"bare-j{jobs}"], measured[f"analyze-j{jobs}"], strict=True)
    ]
    # Past start-up: a bare parse starts in the interpreter's time, analyze in its own.
    past_rounds = [
        (b.wall - p.wall) / (a.wall - s.wall)
        for b, a, p, s in zip(
            measured[f"bare-j{jobs}"],
            measured[f"analyze-j{jobs}"],
            measured["python"],
            measured["analyze-startup"],
            strict=True,
        )
    ]
    past = (results[f"bare-j{jobs}"].wall - results["python"].wall) / (
        best.wall - results["analyze-startup"].wall
    )
    fair_cpu = results[f"bare-j{jobs}"].cpu / best.cpu if best.cpu else 0.0
    speedup = results["analyze-j1"].wall / best.wall
    identical = len(set(outputs.values())) == 1
    print(f"\nanalyze (--jobs {jobs}) / bare parse with {jobs} processes, throughput: {fair:.2f}")
    print(
        f"  the rounds' own ratios: median {statistics.median(rounds):.2f}, "
        f"{min(rounds):.2f}-{max(rounds):.2f}; CPU (all processes): {fair_cpu:.2f}"
    )
    print(
        f"  past start-up: {past:.2f}; the rounds' own: median "
        f"{statistics.median(past_rounds):.2f}, {min(past_rounds):.2f}-{max(past_rounds):.2f}"
    )
    print(f"analyze (--jobs {jobs}) / bare parse in one process, throughput: {ratio:.2f}")
    print(f"speed-up 1 -> {jobs} jobs: {speedup:.2f}x; outputs identical: {identical}")
    stages = stage_profile([str(where)], jobs)
    return {
        "stages_s": stages,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "size": size_name,
        "files": len(files),
        "bytes": total_bytes,
        "records": records,
        "attempts": size.attempts,
        "runs": runs,
        "jobs": jobs,
        "results": {
            label: {
                "wall_s": r.wall,
                "records_per_s": rates(r)[0],
                "mb_per_s": rates(r)[1],
                "peak_rss_bytes": r.max_rss,
                "tree_rss_bytes": r.tree_rss,
                "cpu_s": r.cpu,
            }
            for label, r in results.items()
            if label not in starts
        },
        "startup_s": {label: results[label].wall for label in starts},
        "ratio": ratio,
        "ratio_per_core": fair,
        "ratio_per_core_rounds": rounds,
        "ratio_per_core_past_startup": past,
        "ratio_per_core_past_startup_rounds": past_rounds,
        "cpu_ratio_per_core": fair_cpu,
        "speedup": speedup,
        "identical_outputs": identical,
    }


def correlation_events(target: int = 200_000) -> list[object]:
    """Normalised events of 10,000 attempts on 50 hosts, topped up to ``target`` with the
    cluster Operational log's move (1641) and state-transition (1637) records."""
    from migdiag.catalog import default_catalog
    from migdiag.model import Event, Origin
    from migdiag.normalise import normalise
    from migdiag.synth.scenario import expand

    catalog = default_catalog()
    size = fleet.FleetSize("correlation", hosts=50, vms_per_host=20, rounds=10, noise_per_host=0)
    events = expand(fleet.fleet_scenario(size))
    starts = [e for e in events if e.event_id == 21300]
    channel = catalog.channels["cluster-operational"]
    provider = catalog.providers["cluster"]
    extra: list[Event] = []
    states = ("Online", "OfflinePending", "Offline", "OnlinePending")
    n = 0
    fields: tuple[str, ...]
    while len(events) + len(extra) < target:
        start = starts[n % len(starts)]
        step = n // len(starts)
        resource = start.fields[1][1]
        if step == 0:
            event_id, fields = 1641, (resource, start.short_host, "peer")
        else:
            event_id = 1637
            fields = (resource, resource, states[step % 4], states[(step + 1) % 4])
        extra.append(
            Event(
                time=start.time + timedelta(seconds=0.01 * step),
                host=start.host,
                channel=channel,
                provider=provider,
                event_id=event_id,
                level=4,
                record_id=None,
                fields=tuple(("", v) for v in fields),
                message=None,
                origin=Origin(path="correlation-benchmark", format="synth"),
            )
        )
        n += 1
    return [normalise(e, catalog) for e in [*events, *extra]]


def correlation_benchmark(runs: int) -> dict[str, object]:
    import tracemalloc

    from migdiag.correlate import correlate

    events = correlation_events()
    hosts = len({e.short_host for e in events})  # type: ignore[attr-defined]
    print(f"correlating {len(events):,} events on {hosts} hosts ...")
    walls = []
    migrations = 0
    for n in range(runs):
        started = time.perf_counter()
        result = correlate(events)  # type: ignore[arg-type]
        walls.append(time.perf_counter() - started)
        migrations = len(result.migrations)
        print(f"  run {n + 1}: {walls[-1]:.2f} s")
        del result
    tracemalloc.start()
    correlate(events)  # type: ignore[arg-type]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    wall = statistics.median(walls)
    print(
        f"{len(events):,} events -> {migrations:,} migrations in {wall:.2f} s (median of "
        f"{runs}); {len(events) / wall:,.0f} events/s; peak allocation {peak / 1e6:.0f} MB"
    )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "events": len(events),
        "migrations": migrations,
        "wall_s": wall,
        "events_per_s": len(events) / wall,
        "peak_alloc_bytes": peak,
    }


def _rounds(commands: Sequence[tuple[str, list[str]]], runs: int) -> dict[str, Run]:
    """Each command ``runs`` times, round by round, and the median of each (after one round
    not counted, which writes the bytecode an installed copy would have)."""
    for _, command in commands:
        run(command)
    measured: dict[str, list[Run]] = {label: [] for label, _ in commands}
    for n in range(runs):
        for label, command in commands:
            measured[label].append(run(command))
        print(
            f"  round {n + 1}: " + ", ".join(f"{k} {v[-1].wall:.3f}" for k, v in measured.items())
        )
    return {label: _median(r) for label, r in measured.items()}


def _migdiag(*args: str) -> list[str]:
    return [sys.executable, "-m", "migdiag", *args]


def stage_profile(paths: Sequence[str], jobs: int) -> dict[str, float]:
    """One analyze, in a process of its own, timed stage by stage (benchmarks/stages.py)."""
    result = run([sys.executable, str(HERE / "stages.py"), str(jobs), *paths])
    seconds: dict[str, float] = json.loads(result.stdout)["seconds"]
    total = seconds["total"]
    print(f"\nwhere one analyze --jobs {jobs} spends its time (one run, start-up included):")
    for stage, value in seconds.items():
        share = "" if stage == "total" else f"{100 * value / total:5.1f} %"
        print(f"  {stage:38s} {value:7.3f} s {share}")
    return seconds


def startup_benchmark(out: Path, runs: int) -> dict[str, object]:
    small = ROOT / "sample_logs" / "seed-mtu-reset" / "SRV1"
    evtx = sorted(small.glob("*VMMS-Admin.evtx"))[0]
    paste = ROOT / "tests" / "explain" / "seed-pasted-events.txt"
    goals = {"python": None, "help": 0.2, "analyze-one-file": 0.3, "explain-paste": 0.3}
    commands = [
        ("python", [sys.executable, "-c", "pass"]),
        ("help", _migdiag("--help")),
        ("analyze-one-file", _migdiag("analyze", "--format", "json", str(evtx))),
        ("explain-paste", _migdiag("explain", str(paste), "--format", "json")),
    ]
    results = _rounds(commands, runs)
    python = results["python"].wall
    print(f"\n{'':18s} {'wall s':>8s} {'x python':>9s} {'goal s':>7s}")
    for label, r in results.items():
        goal = goals[label]
        verdict = "" if goal is None else ("  met" if r.wall <= goal else "  NOT met")
        print(
            f"{label:18s} {r.wall:8.3f} {r.wall / python:9.1f} "
            f"{'' if goal is None else f'{goal:7.2f}'}{verdict}"
        )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "runs": runs,
        "results": {
            label: {"wall_s": r.wall, "x_python": r.wall / python, "goal_s": goals[label]}
            for label, r in results.items()
        },
    }


CORPUS = ROOT.parent / "shared" / "corpus"


def corpus_benchmark(out: Path, runs: int, jobs: int) -> dict[str, object]:
    files = sorted(p for p in CORPUS.rglob("*.evtx") if p.stat().st_size > 1024 * 1024)
    if not files:
        raise SystemExit(f"no corpus files over 1 MB under {CORPUS}: the suite needs them")
    total = sum(p.stat().st_size for p in files)
    print(f"corpus: {len(files)} files over 1 MB, {total / 1e6:.0f} MB")
    names = [str(p) for p in files]
    tiny = str(ROOT / "sample_logs" / "seed-mtu-reset" / "SRV1")
    commands = [
        ("python", [sys.executable, "-c", "pass"]),
        ("bare-j1", [sys.executable, "-c", BARE_FILES, *names]),
        (f"bare-j{jobs}", [sys.executable, "-c", BARE_PARALLEL, str(jobs), ".", *names]),
        ("analyze-startup", _migdiag("analyze", tiny, "--format", "json", "-q")),
        (
            f"analyze-j{jobs}",
            _migdiag("analyze", *names, "--format", "json", "-q", "--jobs", str(jobs)),
        ),
    ]
    results = _rounds(commands, runs)
    python = results["python"].wall
    start = results["analyze-startup"].wall
    past = {
        "bare-j1": results["bare-j1"].wall - python,
        f"bare-j{jobs}": results[f"bare-j{jobs}"].wall - python,
        f"analyze-j{jobs}": results[f"analyze-j{jobs}"].wall - start,
    }
    fair = past[f"bare-j{jobs}"] / past[f"analyze-j{jobs}"]
    single = past["bare-j1"] / past[f"analyze-j{jobs}"]
    for label, seconds in past.items():
        print(f"  {label:14s} past start-up {seconds:7.3f} s  ({total / 1e6 / seconds:6.1f} MB/s)")
    print(f"analyze (--jobs {jobs}) / bare parse with {jobs} processes, past start-up: {fair:.2f}")
    print(f"analyze (--jobs {jobs}) / bare parse in one process, past start-up: {single:.2f}")
    stages = stage_profile(names, jobs)
    return {
        "stages_s": stages,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "files": len(files),
        "bytes": total,
        "runs": runs,
        "jobs": jobs,
        "past_startup_s": past,
        "ratio_per_core": fair,
        "ratio_one_process": single,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(fleet.SIZES), default="quick")
    parser.add_argument("--out", type=Path, default=HERE / ".cache", help="bundle cache + output")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="N for 1 vs N")
    parser.add_argument("--correlation", action="store_true", help="the correlation benchmark")
    parser.add_argument(
        "--suite", choices=("read", "startup", "corpus"), default="read", help="what to measure"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.suite == "startup":
        figures = startup_benchmark(args.out, max(args.runs, 5))
        name = "startup"
    elif args.suite == "corpus":
        figures = corpus_benchmark(args.out, args.runs, args.jobs)
        name = "corpus"
    elif args.correlation:
        figures = correlation_benchmark(args.runs)
        name = "correlation"
    else:
        figures = read_benchmark(args.size, args.out, args.runs, args.jobs)
        name = f"read-{args.size}"
    path = args.out / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"figures written to {path}")


if __name__ == "__main__":
    main()
