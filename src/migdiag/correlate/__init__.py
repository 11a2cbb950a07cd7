"""Events -> migration attempts, joined across the source and destination hosts.

How (a module per step below, in plain Python: no graph or table library):

1. **One host at a time.**  Events that name a VM (id, or name mapped to an id) are grouped
   per VM and per host and walked in that host's time order, so that clock skew cannot
   reorder them: a *segment* is one host's part of one attempt.  A segment is cut where a
   start (VMMS 20413, HA 21300/21306, cluster 1641) follows an ending (success, or the VM's own
   failure), after a quiet quarter hour, or where a second start of the same kind arrives.
   (A dict groups them: pandas did, but importing it cost ~0.3 s, a tenth of analysing a
   1 GB fleet bundle.  pandas stays where it earns its keep: the table behind
   ``migdiag events``.)
2. **Clock skew** per host pair comes from segments of one VM on two hosts whose raw times
   lie within three times the skew tolerance: the destination's start (21306) follows the source's
   (21300), so it bounds the skew from above; the destination's end (21307) precedes the
   source's (21301), so it bounds it from below; the two "failed at" events (21024/21026)
   are about simultaneous.  The estimate is the middle of the bounds, so the normal delay
   between two hosts' events does not read as skew; when the bounds hold zero the clocks
   agree.  Offsets are chained across hosts breadth-first from a reference host
   (``chain_hosts``).  A networkx graph walked them, but importing networkx cost ~0.17 s of
   every analysis of three or more hosts, for at most a few hundred hosts; the tests keep
   it as the oracle the plain walk is compared with.
3. **Segments are joined** into attempts on corrected time: the source segment (the host
   that logged the start) takes each other host's segment of the same VM that overlaps it,
   allowing the skew tolerance for clocks no estimate could correct.
4. **Events that name no VM** (22038, 22040, 20406, 20306, ...) are attributed on corrected
   time.  An anonymous error never joins an attempt that did not log its own failure (so it
   can never turn a VM that logged its own success into a failure).  It joins the attempt on
   its host whose own failure (21024, 21026, 21018, HA 21502, ...) is nearest, within a
   window; facts the event carries narrow the choice first: its side, the peer host it names,
   its error code against the codes of the VM's own failure events, and its Execution
   process (Worker) or thread (VMMS) against the VM's own events on that host.  When
   several attempts remain within a second of each other, the event joins each of them and
   each attempt carries an "ambiguous" note naming the others (``Migration.ambiguities``).
5. Outcome, blackout, phases, coverage and concurrency are read off each attempt's events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from migdiag.catalog import Catalog, default_catalog
from migdiag.correlate.attempts import attach_anonymous, join_segments
from migdiag.correlate.build import build_migration, with_concurrency
from migdiag.correlate.facts import EPOCH, facts_of, time_order, vm_keys
from migdiag.correlate.segments import segments_of
from migdiag.correlate.skew import estimate_skew
from migdiag.gc_pause import gc_paused
from migdiag.model import DEFAULT_SKEW_TOLERANCE, Event, Migration, Outcome, SkewEstimate


@dataclass(frozen=True, slots=True)
class Correlation:
    migrations: tuple[Migration, ...]
    skews: tuple[SkewEstimate, ...]
    warnings: tuple[str, ...]
    unattached: tuple[Event, ...]  # Hyper-V events no attempt claimed (context only)


def correlate(
    events: Sequence[Event],
    catalog: Catalog | None = None,
    skew_tolerance: timedelta = DEFAULT_SKEW_TOLERANCE,
) -> Correlation:
    """Group normalised events into migration attempts.  Input order does not matter.

    ``skew_tolerance`` is how far two hosts' clocks may disagree: segments of one VM on two
    hosts are paired (for the skew estimate) and joined within it, and a larger estimate is
    a warning."""
    with gc_paused():  # see migdiag.gc_pause
        return _correlate(events, catalog or default_catalog(), skew_tolerance)


def _correlate(events: Sequence[Event], catalog: Catalog, tolerance: timedelta) -> Correlation:
    facts = facts_of(events, catalog)
    ordered, hosts = facts.events, facts.hosts
    keys = vm_keys(ordered)

    segments = segments_of(facts, keys)
    skews, offsets = estimate_skew(facts, segments, tolerance)
    shift = {host: timedelta(seconds=offsets.get(host, 0.0)) for host in facts.log_end}
    corrected = [e.time + shift[host] for e, host in zip(ordered, hosts, strict=True)]
    attempts = join_segments(facts, segments, corrected, tolerance)
    unattached = attach_anonymous(facts, keys, attempts, corrected, tolerance)

    # Each event's place in an attempt's time order, worked out once for all attempts.
    order_key = [
        (t, host, e.record_id or 0, pos)
        for pos, (e, host, t) in enumerate(zip(ordered, hosts, corrected, strict=True))
    ]
    migrations = [
        build_migration(sorted(set(a.members), key=order_key.__getitem__), a, facts, corrected)
        for a in attempts
    ]
    migrations.sort(key=_in_order)
    migrations = with_concurrency(migrations)
    return Correlation(
        migrations=tuple(migrations),
        skews=tuple(skews),
        warnings=_skew_warnings(skews, migrations, tolerance),
        unattached=tuple(ordered[i] for i in unattached),
    )


def merged(
    parts: Sequence[Correlation], skew_tolerance: timedelta = DEFAULT_SKEW_TOLERANCE
) -> Correlation:
    """The correlations of independent groups of hosts (``groups.independent_groups``) as
    one: what ``correlate`` returns for all their events at once.  Nothing crosses groups,
    so each part holds whole attempts, skews and concurrency figures; only the orders (and
    the warnings, which follow the skews' order) are made again."""
    if len(parts) == 1:
        return parts[0]
    migrations = sorted((m for p in parts for m in p.migrations), key=_in_order)
    skews = sorted((s for p in parts for s in p.skews), key=lambda s: (s.reference, s.host))
    unattached = sorted(
        (e for p in parts for e in p.unattached), key=lambda e: time_order(e, e.short_host)
    )
    return Correlation(
        migrations=tuple(migrations),
        skews=tuple(skews),
        warnings=_skew_warnings(skews, migrations, skew_tolerance),
        unattached=tuple(unattached),
    )


def _in_order(m: Migration) -> tuple[object, ...]:
    # Ids hash the VM, source and start: equal keys would be one attempt found twice.
    return (m.started is None, m.started or EPOCH, m.id)


def _skew_warnings(
    skews: Sequence[SkewEstimate], migrations: Sequence[Migration], tolerance: timedelta
) -> tuple[str, ...]:
    reordered = _reordered_hosts(migrations)
    return tuple(
        s.describe() + _why_warned(s, tolerance)
        for s in skews
        if abs(s.offset_s) > tolerance.total_seconds() or s.host in reordered
    )


def _why_warned(skew: SkewEstimate, tolerance: timedelta) -> str:
    limit = tolerance.total_seconds()
    if abs(skew.offset_s) > limit:
        return (
            f": more than the skew tolerance of {limit:g} s (--skew-tolerance); times were "
            f"corrected by this estimate, but a migration whose events on {skew.host} lie "
            "further from it than the tolerance is shown as two attempts"
        )
    return ": correcting it changes which host logged the first failure of a migration"


def _reordered_hosts(migrations: Sequence[Migration]) -> set[str]:
    """Hosts of attempts where the corrected clock changes which host logged the first
    failure: then the skew changed a conclusion, and its line is a warning."""
    out: set[str] = set()
    for m in migrations:
        if m.outcome is not Outcome.FAILED or m.source is None or m.destination is None:
            continue
        failing = [(e, t) for e, t in zip(m.events, m.corrected_times, strict=True) if e.level <= 2]
        if len({e.short_host for e, _ in failing}) < 2:
            continue
        by_raw = min(failing, key=lambda p: (p[0].time, p[0].short_host))[0].short_host
        by_corrected = min(failing, key=lambda p: (p[1], p[0].short_host))[0].short_host
        if by_raw != by_corrected:
            out.update((m.source, m.destination))
    return out
