"""``analyze(paths) -> Analysis``: the one entry point the CLI and users' scripts call.

read (per file, in worker processes) -> normalise -> dedup -> correlate -> diagnose.
Nothing here prints or exits; problems become ``InputReport.error`` or warnings.
"""

from __future__ import annotations

import contextlib
import os
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from migdiag.catalog import Catalog, default_catalog
from migdiag.config import snapshot as config_snapshot
from migdiag.model import (
    DEFAULT_SKEW_TOLERANCE,
    Analysis,
    ConfigFinding,
    ConfigurationReport,
    Drain,
    Event,
    InputReport,
    Migration,
    MigrationResult,
    PastedText,
    SpeedFacts,
)
from migdiag.read_input import IGNORED, FileResult, read_source, read_with_default_catalog
from migdiag.readers import InputSource, ReadStats
from migdiag.readers.bundle import expand
from migdiag.readers.localtime import TimeOptions
from migdiag.readers.offset_inference import infer_offsets
from migdiag.workers import run_isolated

if TYPE_CHECKING:
    from migdiag.config.snapshot import Snapshot
    from migdiag.correlate import Correlation
    from migdiag.diagnose import Library

Progress = Callable[["ReadProgress"], None]


@dataclass(frozen=True, slots=True)
class ReadProgress:
    """Where a long read stands: reported after each input is read."""

    name: str  # the input just finished
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int


@dataclass(frozen=True, slots=True)
class Options:
    """Everything ``analyze`` can be told; the defaults suit a support desk."""

    signature_dirs: tuple[Path, ...] = ()
    jobs: int = 0  # 0: one worker per core; 1: read in this process
    skew_tolerance: timedelta = DEFAULT_SKEW_TOLERANCE
    time: TimeOptions = TimeOptions()  # noqa: RUF009 - a frozen value, safe to share
    file_time_limit: float = 120.0  # seconds one file may take before its reader is killed
    engine: str = "local"  # or "dask": the per-file read runs as tasks on a Dask cluster
    scheduler: str | None = None  # the Dask scheduler's address, with engine "dask"
    # Drains: each VM's memory in bytes, by VM id or name (a configuration snapshot's
    # Get-VM), and what is known of each source host's link, by short host name.
    vm_memory: Mapping[str, int] | None = None
    speed_facts: Mapping[str, SpeedFacts] | None = None


def _read_all(
    sources: Sequence[InputSource],
    named: frozenset[str],
    options: Options,
    progress: Progress | None,
    while_waiting: Callable[[], None] | None = None,
) -> list[FileResult]:
    # Always the default catalog: worker processes find it themselves (forked: already
    # loaded), so tasks need not carry a pickled copy of it (~80 dataclasses per file).
    catalog = default_catalog()
    tally = _Tally(sources)
    if options.engine == "dask":
        from migdiag.engines import read_with_dask

        return read_with_dask(sources, options, catalog, options.scheduler or "", named)
    if options.jobs == 1:
        # In this process: no time limit, but nothing to start (debugging, tiny inputs).
        results = []
        for source in sources:
            results.append(read_source(source, options.time, catalog, source.name in named))
            tally.done(source, progress)
        return results
    jobs = options.jobs or os.cpu_count() or 1
    # Largest first: a big file handed out last would leave the other workers idle while it
    # is read alone.  The results go back into the sources' order.
    order = sorted(range(len(sources)), key=lambda i: -tally.sizes.get(sources[i].name, 0))

    def on_done(index: int) -> None:
        tally.done(sources[order[index]], progress)

    outcomes = run_isolated(
        read_with_default_catalog,
        [(sources[i], options.time, sources[i].name in named) for i in order],
        jobs=jobs,
        time_limit=options.file_time_limit,
        on_done=on_done,
        while_waiting=while_waiting,
    )
    by_source: dict[int, FileResult] = {}
    for index, outcome in zip(order, outcomes, strict=True):
        by_source[index] = (
            outcome
            if isinstance(outcome, FileResult)
            else FileResult(ReadStats().report(sources[index].name, "unknown", outcome.why), ())
        )
    return [by_source[i] for i in range(len(sources))]


class _Tally:
    """Files and bytes read so far, for progress reports."""

    def __init__(self, sources: Sequence[InputSource]) -> None:
        self.sizes = {s.name: _size(s) for s in sources}
        self.total = sum(self.sizes.values())
        self.files = 0
        self.bytes = 0

    def done(self, source: InputSource, progress: Progress | None) -> None:
        self.files += 1
        self.bytes += self.sizes.get(source.name, 0)
        if progress:
            progress(ReadProgress(source.name, self.files, len(self.sizes), self.bytes, self.total))


def _size(source: InputSource) -> int:
    try:
        return source.size
    except (OSError, ValueError):  # a vanished file is reported when it is read
        return 0


def dedup(events: Iterable[Event]) -> list[Event]:
    """The same record given twice (a file twice, an EVTX and its XML export) counts once.

    Text and CSV exports carry no payload, so their copy of a record can only be matched on
    host, channel, id and second: such a copy is dropped when a copy with a payload exists.
    Two records alike in all that but with different record numbers are two records (two VMs
    of a drain failing in one second log identical "failed to send data" events)."""
    seen: dict[tuple[object, ...], set[int | None]] = {}
    with_payload: set[tuple[object, ...]] = set()
    unique: list[tuple[Event, tuple[object, ...]]] = []
    for event in events:
        key = event.identity
        numbers = seen.get(key)
        if numbers is None or (
            event.record_id is not None and None not in numbers and event.record_id not in numbers
        ):
            seen.setdefault(key, set()).add(event.record_id)
            unique.append((event, key))
            if event.fields:
                with_payload.add(key[:4])
    return [e for e, key in unique if e.fields or key[:4] not in with_payload]


def dedup_inputs(inputs: Sequence[Sequence[Event]]) -> list[Event]:
    """``dedup`` of the inputs' events one input after another, without looking at most.

    A fleet's inputs rarely hold copies: each host's logs are given once, and an EVTX's
    records have payloads and distinct record numbers.  Such an input drops nothing when no
    other input shares one of its (host, channel) streams: every key ``dedup`` compares
    starts with the host and the channel, and within the input only a copy without a payload
    or with a repeated or missing record number is ever dropped.  Only the other inputs'
    events go through ``dedup`` (~7 µs an event: 0.2 s of a 1 GB fleet, after its reading)."""
    streams: dict[tuple[str, str], int] = {}
    own: list[set[tuple[str, str]]] = []
    for events in inputs:
        pairs = {
            (host, channel.lower()) for host, channel in {(e.short_host, e.channel) for e in events}
        }
        own.append(pairs)
        for pair in pairs:
            streams[pair] = streams.get(pair, 0) + 1
    alone = [
        all(streams[pair] == 1 for pair in pairs)
        and all(e.fields for e in events)
        and None not in (numbers := {e.record_id for e in events})
        and len(numbers) == len(events)
        for events, pairs in zip(inputs, own, strict=True)
    ]
    rest = [e for events, clean in zip(inputs, alone, strict=True) if not clean for e in events]
    if not rest:
        return [e for events in inputs for e in events]
    kept = {id(e) for e in dedup(rest)}
    return [
        e
        for events, clean in zip(inputs, alone, strict=True)
        for e in events
        if clean or id(e) in kept
    ]


def read_events(
    paths: Sequence[str], options: Options = Options(), progress: Progress | None = None
) -> tuple[list[InputReport], list[Event], list[str]]:
    """Inputs -> (per-file reports, normalised deduplicated events, input-level errors)."""
    reports, events, _, refused, _ = _read(paths, options, progress)
    return reports, events, refused


def _read(
    paths: Sequence[str],
    options: Options,
    progress: Progress | None,
    while_waiting: Callable[[Sequence[InputSource]], None] | None = None,
) -> tuple[list[InputReport], list[Event], dict[str, tuple[str, bool]], list[str], list[Snapshot]]:
    sources, refused = expand(paths)
    sources = sorted(sources, key=lambda s: s.name)
    named = frozenset(str(Path(p)) for p in paths) | frozenset(paths)
    side = (lambda: while_waiting(sources)) if while_waiting is not None else None
    results = _read_all(sources, named, options, progress, side)
    # Local-time exports of a host whose UTC inputs hold the same records: take its offset
    # from them (readers/offset_inference.py) before duplicates are told apart by time.
    raw, notes = infer_offsets([e for r in results for e in r.events], options.time)
    inputs, start = [], 0
    for result in results:  # the same events per input (infer_offsets keeps their order)
        inputs.append(raw[start : start + len(result.events)])
        start += len(result.events)
    reports = [
        replace(r.report, warnings=(*r.report.warnings, *notes[r.report.path]))
        if r.report.path in notes
        else r.report
        for r in results
    ]
    for message in refused:
        # A refused zip member or a missing path is an input problem like an unreadable file.
        name, _, why = message.partition(": ")
        reports.append(InputReport(path=name, format="unknown", error=why or message))
    events = dedup_inputs(inputs)
    texts = {r.report.path: (r.text, r.report.path in named) for r in results if r.text is not None}
    snapshots = [r.snapshot for r in results if r.snapshot is not None]
    return reports, events, texts, refused, snapshots


def analyze(
    paths: Sequence[str],
    options: Options = Options(),
    progress: Progress | None = None,
    library: Library | None = None,
) -> Analysis:
    """Read every input, find every live migration, diagnose each.

    Raises ``SignatureError`` when the signature library (or a user's folder) is invalid;
    unreadable inputs never raise: they are reported in ``Analysis.inputs``.
    """
    from migdiag.gc_pause import gc_paused

    with gc_paused():  # see migdiag.gc_pause
        return _analyze(paths, options, progress, library)


def _analyze(
    paths: Sequence[str], options: Options, progress: Progress | None, library: Library | None
) -> Analysis:
    from migdiag.diagnose.loader import load_library

    if library is None and options.signature_dirs:
        # A user's folder is checked before any input is read: its errors end the run at once.
        library = load_library(options.signature_dirs)
    loaded: list[Library] = []

    def meanwhile(sources: Sequence[InputSource]) -> None:
        # While worker processes read (see _import_analysis_steps): the shipped library too.
        _import_analysis_steps(sources)
        if library is None:
            # A failure here would be a thread's traceback: the load below, in this
            # process's own thread, meets it again and raises it as analyze's.
            with contextlib.suppress(Exception):
                loaded.append(load_library())

    catalog = default_catalog()
    reports, events, texts, _, snapshots = _read(paths, options, progress, meanwhile)
    # Read here, without workers (or after a failure in the side thread: then it raises here).
    library = library or (loaded[0] if loaded else load_library())
    pasted, reports = _explain_texts(texts, reports, library, catalog)
    memory, speed, configuration = _configuration(snapshots, reports)
    # The snapshots' VM memory sizes and link facts feed the drains' throughput and speed
    # rules; what the caller states wins.
    step = _Diagnosis(
        library=library,
        catalog=catalog,
        tolerance=options.skew_tolerance,
        findings=configuration.findings,
        memory={**memory, **(options.vm_memory or {})},
        speed={**speed, **(options.speed_facts or {})},
    )
    correlation, results, drains = _diagnosed(events, step)
    warnings: list[str] = []
    if any(e.time_assumed for e in events):
        warnings.append(
            "some times come from local-time exports and were converted with an assumed UTC "
            "offset (see --utc-offset)"
        )
    warnings.extend(correlation.warnings)
    times = [e.time for e in events]
    return Analysis(
        inputs=tuple(reports),
        results=results,
        warnings=tuple(warnings),
        skews=correlation.skews,
        hosts=tuple(sorted({e.short_host for e in events})),
        first_event=min(times) if times else None,
        last_event=max(times) if times else None,
        pasted=tuple(pasted),
        configuration=configuration,
        drains=drains,
    )


@dataclass(frozen=True, slots=True)
class _Diagnosis:
    """What correlating and diagnosing a share of the events needs besides the events."""

    library: Library
    catalog: Catalog
    tolerance: timedelta
    findings: tuple[ConfigFinding, ...]
    memory: Mapping[str, int]
    speed: Mapping[str, SpeedFacts]
    drains_aside: bool = True  # drains found in a forked child while diagnosing


# Below this many events, correlating groups of hosts on other cores costs more (forking a
# large heap, pickling the results back) than it saves.
_SPLIT_EVENTS = 6000
_ONE_GROUP_SHARE = 0.85  # a group holding more of the events is not split from the rest
# Groups smaller than 1/(_PARTS_PER_CORE * cores) of the events are put together in parts of
# about that size: each part is a call and, in a child, one more pickling (~0.4 ms).
_PARTS_PER_CORE = 8


def _diagnosed(
    events: Sequence[Event], step: _Diagnosis
) -> tuple[Correlation, tuple[MigrationResult, ...], tuple[Drain, ...]]:
    """Correlate and diagnose ``events``, and find the drains.

    A bundle of several clusters is several problems: hosts that share no VM and name no
    host of another group (``correlate.groups``) are correlated apart, in parts that this
    process and forked children take one at a time (``forked.run_shares``: the events never
    pickled), and the parts merged into what one pass over all events gives (the tests
    compare).  One group, or a small bundle: one pass here."""
    from migdiag.correlate import merged
    from migdiag.correlate.groups import independent_groups
    from migdiag.drains import in_order as drain_order
    from migdiag.forked import cores, run_shares

    count = cores()
    groups = independent_groups(events) if count > 1 and len(events) >= _SPLIT_EVENTS else []
    if len(groups) < 2 or max(map(len, groups)) > _ONE_GROUP_SHARE * len(events):
        # One group, or one holding nearly everything: the others would not pay for a fork.
        return _diagnose_share(events, step)
    parts = run_shares(
        partial(_diagnose_share, step=replace(step, drains_aside=False)),
        _parts(groups, count),
        events,
    )
    correlation = merged([c for c, _, _ in parts], step.tolerance)
    # Each part's results are in its own migrations' order: placed again by migration.
    result_of = {
        id(m): r for c, results, _ in parts for m, r in zip(c.migrations, results, strict=True)
    }
    results = tuple(result_of[id(m)] for m in correlation.migrations)
    drains = tuple(sorted((d for _, _, ds in parts for d in ds), key=drain_order))
    return correlation, results, drains


def _parts(groups: Sequence[Sequence[Event]], count: int) -> list[list[Event]]:
    """The groups as parts for ``count`` processes that each take the next part when done:
    the largest first, so that the last ones taken are small and the processes finish
    together; small groups put together (in the order of their sizes) up to a part's least
    size.  A part holds its groups in the order they were found, each group's events in
    their input order."""
    least = sum(map(len, groups)) / (count * _PARTS_PER_CORE)
    parts: list[list[int]] = []
    small: list[int] = []
    gathered = 0  # events in ``small``
    for g in sorted(range(len(groups)), key=lambda g: (-len(groups[g]), g)):
        if len(groups[g]) >= least:
            parts.append([g])
            continue
        small.append(g)
        gathered += len(groups[g])
        if gathered >= least:
            parts.append(small)
            small, gathered = [], 0
    if small:
        parts.append(small)
    return [[e for g in sorted(numbers) for e in groups[g]] for numbers in parts]


def _diagnose_share(
    events: Sequence[Event], step: _Diagnosis
) -> tuple[Correlation, tuple[MigrationResult, ...], tuple[Drain, ...]]:
    from migdiag.correlate import correlate
    from migdiag.diagnose.rank import diagnose
    from migdiag.drains import find_drains
    from migdiag.forked import in_child

    correlation = correlate(events, step.catalog, step.tolerance)
    migrations = correlation.migrations
    find = partial(find_drains, migrations, step.memory, step.speed)
    # Drains depend on the attempts alone: on a fleet they are found in a forked child while
    # this process diagnoses (both ~0.1-0.2 s, one after the other before).
    with in_child(find, len(migrations) if step.drains_aside else 0) as drained:
        context = _ContextIndex(events)
        window = max((s.window_s for s in step.library.signatures), default=300.0)
        results = tuple(
            diagnose(m, step.library, step.catalog, context.around(m, window)) for m in migrations
        )
        if step.findings:
            from migdiag.diagnose.corroborate import corroborate

            results = tuple(corroborate(r, step.findings) for r in results)
        drains = drained()
    return correlation, results, drains


def _configuration(
    snapshots: Sequence[Snapshot], reports: Sequence[InputReport]
) -> tuple[dict[str, int], dict[str, SpeedFacts], ConfigurationReport]:
    """What the snapshots say of the drains (each VM's memory by name, each host's link by
    short name), and the configuration section of the analysis: every snapshot judged by
    the configuration rules."""
    bad = [
        f"{r.path}: {w}" for r in reports if r.format == config_snapshot.FORMAT for w in r.warnings
    ]
    if not snapshots and not bad:
        # Logs alone: nothing to judge, and neither the rules (a schema check at load) nor
        # the facts' model (~10 ms of imports) is loaded.
        return {}, {}, ConfigurationReport()
    from migdiag.config.evaluate import judge

    facts, report = judge(snapshots, bad)
    return facts.memory_by_vm(), facts.speed_facts(), report


def _import_analysis_steps(sources: Sequence[InputSource]) -> None:
    # Correlation and diagnosis bring the signature matcher (~0.1 s to import).  Imported
    # here while worker processes read the files, instead of before or after the reading:
    # the workers were forked without them, and this process is otherwise idle.
    import migdiag.correlate
    import migdiag.diagnose.rank  # noqa: F401


class _ContextIndex:
    """Events by host in time order, so that each migration's diagnosis sees only the events
    of its own hosts around it (the signatures' corroboration window), not the whole run."""

    def __init__(self, events: Sequence[Event]) -> None:
        by_host: dict[str, list[Event]] = {}
        for event in events:
            by_host.setdefault(event.short_host, []).append(event)
        self._events = {h: sorted(es, key=lambda e: e.time) for h, es in by_host.items()}
        self._times = {h: [e.time for e in es] for h, es in self._events.items()}

    def around(self, m: Migration, window_s: float) -> list[Event]:
        times = [t for t in (m.started, m.ended) if t is not None]
        if not times:
            return list(m.events)
        # Skew-corrected migration times vs each host's own clock: widen by the tolerance
        # any skew could need (a window of minutes dwarfs seconds of skew).
        lo = min(times) - timedelta(seconds=window_s + 60)
        hi = max(times) + timedelta(seconds=window_s + 60)
        out: list[Event] = []
        for host in sorted({h for h in (m.source, m.destination) if h}):
            # A side whose logs were not supplied has no events: nothing to add for it.
            stamps = self._times.get(host, [])
            events = self._events.get(host, [])
            out.extend(events[bisect_left(stamps, lo) : bisect_right(stamps, hi)])
        return out


def _explain_texts(
    texts: dict[str, tuple[str, bool]],
    reports: list[InputReport],
    library: Library,
    catalog: Catalog,
) -> tuple[list[PastedText], list[InputReport]]:
    """Pasted text among the inputs: its findings go beside the migrations.  Text with no
    live-migration evidence is not a log: ignored inside a folder, an error when named."""
    if not texts:
        return [], reports  # logs only: the text matcher (~20 ms to import) stays unloaded
    from migdiag.explain import explain_text

    pasted: list[PastedText] = []
    out: list[InputReport] = []
    for report in reports:
        if report.path not in texts:
            out.append(report)
            continue
        text, named = texts[report.path]
        x = explain_text(text, library, catalog, source=report.path)
        if x.evidence_found:
            pasted.append(
                PastedText(
                    path=report.path,
                    findings=x.findings,
                    decoded=tuple((d.code, d.name, d.text) for d in x.decoded),
                    missing=tuple(
                        m.what + (f": {m.command}" if m.command else "") for m in x.missing
                    ),
                )
            )
            out.append(replace(report, warnings=(*report.warnings, "read as pasted text")))
        elif named:
            why = "not a log format, and no live-migration evidence in its text"
            out.append(replace(report, format="unknown", error=why))
        else:
            out.append(
                replace(
                    report, format=IGNORED, warnings=("not a log format migdiag reads; ignored",)
                )
            )
    return pasted, out
