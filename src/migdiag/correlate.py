"""Events -> migration attempts, joined across the source and destination hosts.

How (the only module that imports networkx, and only when three or more hosts are chained):

1. **One host at a time.**  Events that name a VM (id, or name mapped to an id) are grouped
   per VM and per host and walked in that host's time order, so that clock skew cannot
   reorder them: a *segment* is one host's part of one attempt.  A segment is cut where a
   start (VMMS 20413, HA 21300/21306, cluster 1641) follows an ending (success, or the VM's own
   failure), after a quiet quarter hour, or where a second start of the same kind arrives.
   (A dict groups them: pandas did, but importing it cost ~0.3 s, a tenth of analysing a
   1 GB fleet bundle.  pandas stays where it earns its keep: the table behind
   ``migdiag events`` and the grouping of drains.)
2. **Clock skew** per host pair comes from segments of one VM on two hosts whose raw times
   lie within three times the skew tolerance: the destination's start (21306) follows the source's
   (21300), so it bounds the skew from above; the destination's end (21307) precedes the
   source's (21301), so it bounds it from below; the two "failed at" events (21024/21026)
   are about simultaneous.  The estimate is the middle of the bounds, so the normal delay
   between two hosts' events does not read as skew; when the bounds hold zero the clocks
   agree.  Offsets are chained across hosts over a networkx graph of hosts (one pair of
   hosts, the usual case, needs no graph: ``chain_hosts``).
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

import hashlib
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from migdiag.catalog import Catalog, EventSpec, default_catalog
from migdiag.gc_pause import gc_paused
from migdiag.model import (
    DEFAULT_SKEW_TOLERANCE,
    Edge,
    Event,
    Migration,
    Outcome,
    Phase,
    SkewEstimate,
)

# ---- Windows' events that correlation reads by (provider, id) ----------------------------
# Everything else is read through the catalog's ``kind`` and ``side``.  Kept in one table so
# that a catalog change is one edit here.  Keyed on (provider, id), never the id alone: ids
# collide across providers (21301 means another thing in VMMS than in High-Availability).
EventKey = tuple[str, int]
VMMS = "microsoft-windows-hyper-v-vmms"
HA = "microsoft-windows-hyper-v-high-availability"
WORKER = "microsoft-windows-hyper-v-worker"
CLUSTER = "microsoft-windows-failoverclustering"
VMMS_START: EventKey = (VMMS, 20413)  # names the destination host
CLUSTER_MOVE: EventKey = (CLUSTER, 1641)  # "is moving to cluster node '%2'": the destination
# An attempt begins (source or target).
START_EVENTS = frozenset({VMMS_START, (HA, 21300), (HA, 21306), CLUSTER_MOVE})
OWN_SUCCESS_EVENTS = frozenset(
    {
        (VMMS, 20415),  # migration completed (source)
        (VMMS, 20417),  # completed with an unexpectedly long blackout (source)
        (VMMS, 20418),  # the destination's own success
        (HA, 21301),  # completed on the source node
        (HA, 21307),  # completed on the target node
        (HA, 22503),  # migration succeeded at the source
        (HA, 22504),  # migration succeeded at the target
        (WORKER, 22507),  # migration completed
    }
)
# Failures that end an attempt (a start after one of them begins a new attempt), and the
# cancel, which ends it without failing it.
OWN_FAILURE_END_EVENTS = frozenset(
    {(VMMS, 21024), (VMMS, 21026), (VMMS, 21002), (HA, 21111), (HA, 22505), (HA, 22506)}
    | {(HA, n) for n in range(21500, 21504)}
)
CANCEL_EVENTS = frozenset({(VMMS, 21014)})
TERMINAL_EVENTS = OWN_SUCCESS_EVENTS | OWN_FAILURE_END_EVENTS | CANCEL_EVENTS
# Events a source and its destination log at about the same moment: (mark, side).  The
# target's start follows the source's; the target's end precedes the source's.
SKEW_MARKS: dict[EventKey, tuple[str, str]] = {
    (HA, 21300): ("start", "source"),
    (HA, 21306): ("start", "destination"),
    (HA, 21301): ("end", "source"),
    (HA, 21307): ("end", "destination"),
    (VMMS, 21024): ("fail", "source"),
    (VMMS, 21026): ("fail", "destination"),
}
BLACKOUT_EVENTS = frozenset({(VMMS, 20415), (VMMS, 20417)})


def _key(e: Event) -> EventKey:
    return e.provider.lower(), e.event_id


FAILURE_KINDS = frozenset(
    {
        "failed-at-source",
        "failed-at-destination",
        "ha-failed",
        "send-failed",
        "receive-failed",
        "connect-failed",
        "planned-vm-failed",
        "lm-error",
        "auth-failed",
        "incompatible",
    }
)
SUCCESS_KINDS = frozenset({"lm-success"})
START_KINDS = frozenset({"lm-start"})

# Start events of one attempt on one host arrive within seconds (HA 21300, then 20413).
START_MERGE = timedelta(seconds=30)
# Late events of an attempt on its host: 21502 and cluster events follow the failure closely.
TAIL_GRACE = timedelta(seconds=30)
# How long after its last event an attempt without an outcome may still be running.
IN_PROGRESS_HORIZON = timedelta(minutes=15)
# The usual delay between two hosts' records of one moment, on top of any clock skew.
HOST_DELAY = timedelta(seconds=1)
# Skew is looked for this many times beyond the tolerance, so that a larger one is measured,
# corrected and reported (as a warning) rather than splitting every migration in two.
SKEW_SEARCH = 3
# An anonymous error precedes the VM's own failure by up to FAIL_AFTER (22038 -> 21018 ->
# 21024), or follows it by up to FAIL_BEFORE (the receive side notices late).
FAIL_AFTER = timedelta(seconds=10)
FAIL_BEFORE = timedelta(seconds=5)
# Attempts whose own failures are this close to an anonymous error cannot be told apart by time.
AMBIGUITY_MARGIN = 1.0  # seconds
# Clocks this close are reported as agreeing, whatever the bounds say.
AGREE_S = 0.05
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Correlation:
    migrations: tuple[Migration, ...]
    skews: tuple[SkewEstimate, ...]
    warnings: tuple[str, ...]
    unattached: tuple[Event, ...]  # Hyper-V events no attempt claimed (context only)


# An edge while attempts are being built: (from position, to position, reason).  A plain
# tuple, not an ``Edge``: each is rebuilt as an ``Edge`` with the migration's own indexes
# anyway, and a tuple costs a fraction of a frozen dataclass to make (~27,000 per fleet).
_Link = tuple[int, int, str]


@dataclass(slots=True)
class _Segment:
    """One host's events of one VM's attempt, in that host's own time order."""

    vm: str
    host: str
    members: list[int] = field(default_factory=list)
    links: list[_Link] = field(default_factory=list)
    role: str | None = None  # "source" | "destination" | None (only "either" events)
    peers: set[str] = field(default_factory=set)  # other hosts its events name
    peer: str | None = None  # the destination: as 20413 names it, else the first named
    first: datetime | None = None  # raw (this host's clock)
    last: datetime | None = None
    ended: bool = False
    # Event id -> index in ``members`` of its latest member: the event a new one follows.
    latest: dict[EventKey, int] = field(default_factory=dict)
    starts: dict[EventKey, datetime] = field(default_factory=dict)  # start -> first time
    marks: dict[str, datetime] = field(default_factory=dict)  # skew mark -> first time
    to_node: str | None = None  # the destination node a cluster 1641 names


@dataclass(slots=True)
class _Attempt:
    segments: list[_Segment]
    members: list[int] = field(default_factory=list)
    links: list[_Link] = field(default_factory=list)
    source: str | None = None
    destination: str | None = None
    failures: list[int] = field(default_factory=list)  # its own (VM-naming) failure events
    codes: set[str] = field(default_factory=set)  # error codes its own events carry
    # Events it shares with other attempts: (the others' names, position), for its notes.
    ambiguous: list[tuple[str, int]] = field(default_factory=list)
    label: str = "?"
    own: int = 0  # its own members (the first ``own`` of ``members``), before attribution


@dataclass(frozen=True, slots=True)
class _Facts:
    """The events in time order, with what the steps ask of each event looked up once.

    On a fleet bundle the steps ask for an event's short host, catalog entry and provider
    hundreds of thousands of times; a property call, a lower-casing and a catalog look-up
    each time were most of correlate's cost.  The lists are parallel to ``events``.
    """

    events: list[Event]
    hosts: list[str]  # Event.short_host
    specs: list[EventSpec | None]  # Catalog.spec(provider, event_id)
    kinds: list[str]  # the spec's kind, or "other"
    hyperv: list[bool]  # a Hyper-V provider's event
    cluster_vm: list[bool]  # a Hyper-V-High-Availability event that names the VM
    log_start: dict[str, datetime]  # host -> time of its first event
    log_end: dict[str, datetime]  # host -> time of its last event
    channels: dict[str, set[str]]  # host -> channels it logged


def _facts(given: Iterable[Event], catalog: Catalog) -> _Facts:
    events = list(given)
    # A fleet has tens of hosts and providers and a few dozen event ids: look each up once.
    short: dict[str, str] = {}
    spec_of: dict[tuple[str, int], EventSpec | None] = {}
    provider_of: dict[str, tuple[bool, bool]] = {}  # provider -> (hyper-v, high-availability)
    unsorted_hosts = [short.get(e.host) or short.setdefault(e.host, e.short_host) for e in events]
    sort_keys = [
        (e.time, host, e.channel, e.record_id or 0, e.event_id, e.fields)
        for e, host in zip(events, unsorted_hosts, strict=True)
    ]
    # Sorting positions by a prepared key list is a stable sort of the events by that key.
    order = sorted(range(len(events)), key=sort_keys.__getitem__)
    ordered = [events[i] for i in order]
    hosts = [unsorted_hosts[i] for i in order]
    specs: list[EventSpec | None] = []
    kinds: list[str] = []
    hyperv: list[bool] = []
    cluster_vm: list[bool] = []
    log_start: dict[str, datetime] = {}
    log_end: dict[str, datetime] = {}
    channels: dict[str, set[str]] = defaultdict(set)
    for e, host in zip(ordered, hosts, strict=True):
        key = (e.provider, e.event_id)
        if key not in spec_of:
            spec_of[key] = catalog.spec(e.provider, e.event_id)
        spec = spec_of[key]
        specs.append(spec)
        kinds.append(spec.kind if spec else "other")
        if e.provider not in provider_of:
            name = e.provider.lower()
            provider_of[e.provider] = (
                name.startswith("microsoft-windows-hyper-v"),
                name.endswith("high-availability"),
            )
        is_hyperv, is_ha = provider_of[e.provider]
        hyperv.append(is_hyperv)
        cluster_vm.append(is_ha and bool(e.vm_name))
        log_start.setdefault(host, e.time)
        log_end[host] = e.time  # events are in time order: the last one is the latest
        channels[host].add(e.channel)
    return _Facts(ordered, hosts, specs, kinds, hyperv, cluster_vm, log_start, log_end, channels)


def _vm_keys(events: Sequence[Event]) -> list[str | None]:
    """One key per event: the VM id, or the id its name is known by, or the name."""
    id_by_name: dict[str, str] = {}
    for e in events:
        if e.vm_id and e.vm_name:
            id_by_name.setdefault(e.vm_name.lower(), e.vm_id)
    keys: list[str | None] = []
    for e in events:
        if e.vm_id:
            keys.append(e.vm_id)
        elif e.vm_name:
            name = e.vm_name.lower()
            keys.append(id_by_name.get(name, "name:" + name))
        else:
            keys.append(None)
    return keys


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
    facts = _facts(events, catalog)
    ordered, hosts = facts.events, facts.hosts
    keys = _vm_keys(ordered)

    segments = _segments(facts, keys)
    skews, offsets = _estimate_skew(facts, segments, tolerance)
    shift = {host: timedelta(seconds=offsets.get(host, 0.0)) for host in facts.log_end}
    corrected = [e.time + shift[host] for e, host in zip(ordered, hosts, strict=True)]
    attempts = _join(facts, segments, corrected, tolerance)
    unattached = _attach_anonymous(facts, keys, attempts, corrected, tolerance)

    # Each event's place in an attempt's time order, worked out once for all attempts.
    order_key = [
        (t, host, e.record_id or 0, pos)
        for pos, (e, host, t) in enumerate(zip(ordered, hosts, corrected, strict=True))
    ]
    migrations = [
        _build(sorted(set(a.members), key=order_key.__getitem__), a, facts, corrected)
        for a in attempts
    ]
    migrations.sort(key=lambda m: (m.started is None, m.started or _EPOCH, m.id))
    migrations = _with_concurrency(migrations)
    reordered = _reordered_hosts(migrations)
    warnings = tuple(
        s.describe() + _why_warned(s, tolerance)
        for s in skews
        if abs(s.offset_s) > tolerance.total_seconds() or s.host in reordered
    )
    return Correlation(
        migrations=tuple(migrations),
        skews=tuple(skews),
        warnings=warnings,
        unattached=tuple(ordered[i] for i in unattached),
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


# ---- 1. segments: one host's part of one attempt --------------------------------------------


def _segments(facts: _Facts, keys: Sequence[str | None]) -> list[_Segment]:
    ordered, kinds, hosts = facts.events, facts.kinds, facts.hosts
    # Each VM's events per host, in that host's time order (``ordered`` is sorted by time);
    # cluster-network events name a network, not a VM.
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for pos, (key, kind) in enumerate(zip(keys, kinds, strict=True)):
        if key is None or kind == "cluster-network":
            continue
        if kind == "other" and not facts.hyperv[pos]:
            continue  # a System event naming the VM in passing, not part of a migration
        groups[(key, hosts[pos])].append(pos)
    segments: list[_Segment] = []
    for vm, host in sorted(groups):
        current: _Segment | None = None
        for pos in groups[(vm, host)]:
            e = ordered[pos]
            if current is None or _cuts(current, e, kinds[pos]):
                current = _Segment(vm=vm, host=host)
                segments.append(current)
            _add(current, pos, facts)
    return segments


def _is_start(key: EventKey, kind: str) -> bool:
    return key in START_EVENTS or kind in START_KINDS


def _cuts(segment: _Segment, e: Event, kind: str) -> bool:
    """Whether ``e`` begins a new attempt on this host rather than continuing ``segment``."""
    assert segment.last is not None
    gap = e.time - segment.last
    if gap > IN_PROGRESS_HORIZON:
        return True
    if _is_start(_key(e), kind):
        if segment.ended:
            return True
        # A second start of the same kind: the first attempt never logged its end.
        seen = segment.starts.get(_key(e))
        if seen is not None and e.time - seen > START_MERGE:
            return True
    return segment.ended and gap > TAIL_GRACE


def _add(segment: _Segment, pos: int, facts: _Facts) -> None:
    e, spec, kind = facts.events[pos], facts.specs[pos], facts.kinds[pos]
    key = _key(e)
    side = spec.side if spec is not None else "either"
    if key == CLUSTER_MOVE:
        # The cluster's "role is moving to cluster node B" is logged by whichever node runs
        # the move: it names the destination, and makes this host the destination only when
        # it is node B.
        target = e.param(2)
        segment.to_node = target.split(".")[0].upper() if target else None
        side = "destination" if segment.to_node == segment.host else "either"
    if side in ("source", "destination") and segment.role is None:
        segment.role = side
    if e.peer_host and e.peer_host != segment.host and side == "source":
        segment.peers.add(e.peer_host)
        if key == VMMS_START or segment.peer is None:
            segment.peer = e.peer_host
    if segment.members:
        prev = _predecessor(segment, spec)
        segment.links.append((prev, pos, _reason(facts, prev, pos)))
    if _is_start(key, kind):
        segment.starts.setdefault(key, e.time)
    mark = SKEW_MARKS.get(key)
    if mark is not None:
        segment.marks.setdefault(mark[0], e.time)
    segment.latest[key] = len(segment.members)
    segment.members.append(pos)
    segment.first = segment.first or e.time
    segment.last = e.time
    if key in TERMINAL_EVENTS or kind in SUCCESS_KINDS or kind == "lm-cancelled":
        segment.ended = True


def _predecessor(segment: _Segment, spec: EventSpec | None) -> int:
    """The member this event hangs from: the latest event the catalog says it follows,
    else the latest member."""
    if spec is not None and spec.follows:
        found = [segment.latest[i] for i in spec.follows if i in segment.latest]
        if found:
            return segment.members[max(found)]
    return segment.members[-1]


def _reason(facts: _Facts, prev_pos: int, pos: int) -> str:
    prev, e, spec = facts.events[prev_pos], facts.events[pos], facts.specs[pos]
    vm = _vm_label(e)
    if spec is not None and _key(prev) in spec.follows:
        return (
            f"{e.event_id} follows {prev.event_id} in a migration (on the same host; catalog rule)"
        )
    if facts.cluster_vm[pos]:
        return f"the cluster's {e.event_id} names VM {vm} (its resource 'Virtual Machine {vm}')"
    return f"same VM {vm} on {facts.hosts[pos]}"


def _vm_label(e: Event) -> str:
    return e.vm_name or e.vm_id or "?"


def _gap(a_first: datetime, a_last: datetime, b_first: datetime, b_last: datetime) -> float:
    """Seconds between two time spans; 0 when they overlap."""
    return max(0.0, (b_first - a_last).total_seconds(), (a_first - b_last).total_seconds())


# ---- 2. clock skew ---------------------------------------------------------------------------


def _partners(
    segments: Sequence[_Segment], span: dict[int, tuple[datetime, datetime]], slack: float
) -> list[tuple[_Segment, _Segment]]:
    """(source segment, other host's segment) of one VM whose spans (given per segment
    index) lie within ``slack`` seconds; each non-source segment takes its nearest source."""
    by_vm: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(segments):
        by_vm[s.vm].append(i)
    pairs: list[tuple[_Segment, _Segment]] = []
    for indexes in by_vm.values():
        sources = [i for i in indexes if segments[i].role == "source"]
        for i in indexes:
            s = segments[i]
            if s.role == "source":
                continue
            best: tuple[float, float, datetime, int] | None = None
            for j in sources:
                p = segments[j]
                if p.host == s.host or (p.peers and s.host not in p.peers):
                    continue
                gap = _gap(*span[j], *span[i])
                if gap > slack:
                    continue
                key = (gap, abs((span[i][0] - span[j][0]).total_seconds()), span[j][0], j)
                if best is None or key < best:
                    best = key
            if best is not None:
                pairs.append((segments[best[3]], s))
    return pairs


def _estimate_skew(
    facts: _Facts, segments: Sequence[_Segment], tolerance: timedelta
) -> tuple[list[SkewEstimate], dict[str, float]]:
    raw = {
        i: (s.first, s.last)
        for i, s in enumerate(segments)
        if s.first is not None and s.last is not None
    }
    slack = (tolerance * SKEW_SEARCH + HOST_DELAY).total_seconds()
    # Per host pair (a < b), in "b's clock minus a's" seconds: upper bounds (b's event
    # follows a's), lower bounds (b's precedes a's) and about-simultaneous points.
    bounds: dict[tuple[str, str], tuple[list[float], list[float], list[float]]] = defaultdict(
        lambda: ([], [], [])
    )
    for src, dst in _partners(segments, raw, slack):
        for mark, (upper_if_dst_later) in (("start", True), ("end", False), ("fail", None)):
            s, d = src.marks.get(mark), dst.marks.get(mark)
            if s is None or d is None:
                continue
            diff = (d - s).total_seconds()  # destination clock minus source clock (+ delay)
            if abs(diff) > slack:
                continue
            a, b = sorted((src.host, dst.host))
            if (a, b) != (src.host, dst.host):
                diff = -diff
                upper_if_dst_later = None if upper_if_dst_later is None else not upper_if_dst_later
            upper, lower, points = bounds[(a, b)]
            if upper_if_dst_later is None:
                points.append(diff)
            elif upper_if_dst_later:
                upper.append(diff)
            else:
                lower.append(diff)
    if not bounds:
        return [], {}
    edges: dict[tuple[str, str], tuple[float, float, int]] = {}
    for (a, b), (upper, lower, points) in sorted(bounds.items()):
        estimate, uncertainty = _combine(upper, lower, points)
        edges[(a, b)] = (estimate, uncertainty, len(upper) + len(lower) + len(points))
    counts = Counter(facts.hosts)
    offsets: dict[str, float] = {}
    estimates: list[SkewEstimate] = []
    for reference, parent, child in chain_hosts(list(edges), counts):
        offsets.setdefault(reference, 0.0)
        estimate, uncertainty, n = edges[(parent, child) if parent < child else (child, parent)]
        diff = estimate if parent < child else -estimate
        # child clock = parent clock + diff  ->  add -(offset) to child times
        offsets[child] = offsets[parent] - diff
        estimates.append(
            SkewEstimate(
                host=child,
                reference=reference,
                offset_s=round(offsets[child], 3),
                samples=n,
                uncertainty_s=round(uncertainty, 3),
            )
        )
    estimates.sort(key=lambda s: (s.reference, s.host))
    return estimates, offsets


def chain_hosts(
    pairs: Sequence[tuple[str, str]], counts: Mapping[str, int]
) -> list[tuple[str, str, str]]:
    """How clocks are chained: ``(reference, parent, child)`` for every host reached, group
    by group of connected hosts, breadth-first from each group's reference (the host with the
    most events; the first by name on a tie).  ``pairs`` are ``(a, b)`` with ``a < b``.

    Over a networkx graph of the hosts; the usual case, one pair of hosts (a source and a
    destination), needs no graph, and networkx (~0.1 s to import) is not imported for it."""
    if len(pairs) == 1:
        [(a, b)] = pairs
        reference = max((a, b), key=lambda h: counts[h])
        return [(reference, reference, b if reference == a else a)]
    import networkx as nx

    graph = nx.Graph()
    graph.add_edges_from(pairs)
    chained: list[tuple[str, str, str]] = []
    for component in sorted(nx.connected_components(graph), key=lambda c: sorted(c)):
        reference = max(sorted(component), key=lambda h: counts[h])
        chained += [(reference, p, c) for p, c in nx.bfs_edges(graph, reference)]
    return chained


def _combine(upper: list[float], lower: list[float], points: list[float]) -> tuple[float, float]:
    """(skew, half-width) from bounds and points: the middle of the bounds.  A median per
    kind keeps a mispaired sample from moving the estimate."""
    point = statistics.median(points) if points else None
    hi = statistics.median(upper) if upper else point
    lo = statistics.median(lower) if lower else point
    if hi is None and lo is None:
        return 0.0, 0.0
    if hi is None:
        hi = lo
    if lo is None:
        lo = hi
    assert hi is not None and lo is not None
    estimate, half = (hi + lo) / 2, abs(hi - lo) / 2
    if abs(estimate) <= max(half, AGREE_S):
        return 0.0, max(half, AGREE_S)  # the bounds hold zero: the clocks agree
    return estimate, half


# ---- 3. segments -> attempts ---------------------------------------------------------------


def _join(
    facts: _Facts, segments: Sequence[_Segment], corrected: Sequence[datetime], tolerance: timedelta
) -> list[_Attempt]:
    span = {i: (corrected[s.members[0]], corrected[s.members[-1]]) for i, s in enumerate(segments)}
    slack = (tolerance + HOST_DELAY).total_seconds()
    joined: dict[int, list[_Segment]] = {}
    index = {id(s): i for i, s in enumerate(segments)}
    for src, other in _partners(segments, span, slack):
        joined.setdefault(index[id(src)], [src]).append(other)
    partnered = {id(s) for group in joined.values() for s in group}
    groups = list(joined.values())
    # Without the source's logs, the other hosts' segments of one VM that overlap are still
    # one attempt (the destination's 21026 and a cluster event on a third node, say).
    alone: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(segments):
        if id(s) not in partnered:
            alone[s.vm].append(i)
    for indexes in alone.values():
        indexes.sort(key=lambda i: (span[i][0], i))
        group: list[_Segment] = []
        last: datetime | None = None
        for i in indexes:
            s = segments[i]
            fits = (
                group
                and last is not None
                and s.role != "source"
                and all(g.role != "source" and g.host != s.host for g in group)
                and (span[i][0] - last).total_seconds() <= slack
            )
            if not fits:
                group = []
                groups.append(group)
                last = None
            group.append(s)
            last = max(last, span[i][1]) if last else span[i][1]
    attempts = [_attempt(group, facts, corrected) for group in groups]
    attempts.sort(key=lambda a: min(a.members))
    return attempts


def _attempt(group: list[_Segment], facts: _Facts, corrected: Sequence[datetime]) -> _Attempt:
    ordered, kinds = facts.events, facts.kinds
    attempt = _Attempt(segments=group)
    for s in group:
        attempt.members.extend(s.members)
        attempt.links.extend(s.links)
        if s.role == "source":
            attempt.source = attempt.source or s.host
            attempt.destination = attempt.destination or s.peer
        elif s.role == "destination":
            attempt.destination = attempt.destination or s.host
        if s.to_node and s.to_node != s.host:
            attempt.destination = attempt.destination or s.to_node
    head = group[0]
    for s in group[1:]:
        # Bridge each other host's segment to the source's member nearest its first event.
        first = s.members[0]
        anchor = min(head.members, key=lambda m: (abs(corrected[m] - corrected[first]), m))
        vm = _vm_label(ordered[first])
        if s.role == "destination" and attempt.source == head.host:
            why = f"{head.host} migrates {vm} to {s.host}; {s.host} logged {vm} too"
        else:
            why = f"{head.host} and {s.host} both logged VM {vm} within the attempt"
        attempt.links.append((anchor, first, why))
    for m in attempt.members:
        if kinds[m] in FAILURE_KINDS:
            attempt.failures.append(m)
        attempt.codes.update(ordered[m].error_codes)
        if attempt.label == "?" and ordered[m].vm_name:
            attempt.label = ordered[m].vm_name or "?"
    if attempt.label == "?":
        attempt.label = head.vm
    attempt.own = len(attempt.members)
    return attempt


# ---- 4. events that name no VM -------------------------------------------------------------


def _attach_anonymous(
    facts: _Facts,
    keys: Sequence[str | None],
    attempts: Sequence[_Attempt],
    corrected: Sequence[datetime],
    tolerance: timedelta,
) -> list[int]:
    ordered, hosts, specs = facts.events, facts.hosts, facts.specs
    # The failing attempts each host takes part in, with their own failures per host.  Only
    # these can take an anonymous error: an attempt that failed nowhere by its own account
    # (succeeded, or the logs do not say) is never given one.
    on_host: dict[str, list[int]] = defaultdict(list)
    for number, attempt in enumerate(attempts):
        if not attempt.failures:
            continue
        # The hosts it names count too: a destination whose only record of the attempt is
        # an anonymous "failed to receive data" is still the host 20413 named.
        for host in {s.host for s in attempt.segments} | {attempt.source, attempt.destination}:
            if host is not None:
                on_host[host].append(number)
    unattached: list[int] = []
    cross_host_slack = tolerance.total_seconds()
    for pos, e in enumerate(ordered):
        if keys[pos] is not None or facts.kinds[pos] == "cluster-network":
            continue
        if not facts.hyperv[pos]:
            continue  # System events are context for diagnosis, not attempt members
        host = hosts[pos]
        spec = specs[pos]
        side = spec.side if spec is not None else "either"
        scored: list[tuple[float, int]] = []
        for number in on_host.get(host, ()):
            attempt = attempts[number]
            role = "source" if host == attempt.source else "destination"
            if side in ("source", "destination") and side != role:
                continue
            other = attempt.destination if role == "source" else attempt.source
            if e.peer_host and other and e.peer_host != other:
                continue
            distance = _failure_distance(attempt, pos, facts, corrected, cross_host_slack)
            if distance is not None:
                scored.append((distance, number))
        chosen = _closest(
            _by_code(_by_execution(scored, attempts, pos, facts), attempts, e.error_codes)
        )
        if not chosen:
            unattached.append(pos)
            continue
        for number in chosen:
            attempt = attempts[number]
            others = sorted({attempts[n].label for n in chosen if n != number})
            role = "source" if host == attempt.source else "destination"
            reason = f"logged by {host} (the {role}) as the attempt failed there"
            if others:
                also = ", ".join(others)
                reason += f"; ambiguous: also fits {also}"
                attempt.ambiguous.append((also, pos))
            _hang(attempt, pos, e, reason, facts, corrected)
    return unattached


def _failure_distance(
    attempt: _Attempt, pos: int, facts: _Facts, corrected: Sequence[datetime], slack: float
) -> float | None:
    """Seconds between an anonymous event and the attempt's nearest own failure, if one is
    within the window: on the event's own host (one clock, no skew) when the attempt failed
    there, else on corrected time allowing the skew tolerance."""
    host, e = facts.hosts[pos], facts.events[pos]
    same = [f for f in attempt.failures if facts.hosts[f] == host]
    if same:
        deltas = [(facts.events[f].time - e.time).total_seconds() for f in same]
        widen = 0.0
    else:
        deltas = [(corrected[f] - corrected[pos]).total_seconds() for f in attempt.failures]
        widen = slack
    inside = [
        abs(d)
        for d in deltas
        if -FAIL_BEFORE.total_seconds() - widen <= d <= FAIL_AFTER.total_seconds() + widen
    ]
    return min(inside) if inside else None


def _by_code(
    scored: list[tuple[float, int]], attempts: Sequence[_Attempt], codes: tuple[str, ...]
) -> list[tuple[float, int]]:
    """Keep the attempts whose own events carry the anonymous event's error code, when any
    does.  Another code is no evidence against an attempt: one failure often logs related
    codes (0x8007000E in Worker 3050, 0x800705AA in the 3110 beside it), so an attempt that
    logged other codes is not ranked below one that logged none."""
    if not codes or not scored:
        return scored
    wanted = set(codes)
    matching = [s for s in scored if attempts[s[1]].codes & wanted]
    return matching or scored


def _by_execution(
    scored: list[tuple[float, int]], attempts: Sequence[_Attempt], pos: int, facts: _Facts
) -> list[tuple[float, int]]:
    """Keep the attempts that share the anonymous event's process (a Worker process runs one
    VM) or, for other providers, its thread (VMMS events of one operation often share one),
    when any does: ``Execution`` facts from the record, compared on the same host only."""
    e, host = facts.events[pos], facts.hosts[pos]
    if e.process_id is None or len(scored) < 2:
        return scored
    by_process = e.provider.lower().endswith("-worker")

    def shares(attempt: _Attempt) -> bool:
        for m in attempt.members[: attempt.own]:
            other = facts.events[m]
            if facts.hosts[m] != host or other.provider != e.provider:
                continue
            if by_process and other.process_id == e.process_id:
                return True
            if not by_process and e.thread_id is not None and other.thread_id == e.thread_id:
                return True
        return False

    sharing = [s for s in scored if shares(attempts[s[1]])]
    return sharing or scored


def _closest(scored: list[tuple[float, int]]) -> list[int]:
    if not scored:
        return []
    best = min(d for d, _ in scored)
    return sorted(n for d, n in scored if d <= best + AMBIGUITY_MARGIN)


def _hang(
    attempt: _Attempt,
    pos: int,
    e: Event,
    reason: str,
    facts: _Facts,
    corrected: Sequence[datetime],
) -> None:
    # Hang it from the member the catalog says follows it on the same host (22038 is
    # followed by 21018 and 21024), else from the nearest member in time.
    host, t = facts.hosts[pos], corrected[pos]
    gap = {m: (abs((corrected[m] - t).total_seconds()), m) for m in attempt.members}
    followers = [
        m for m in attempt.members if facts.hosts[m] == host and _key(e) in _follows(facts.specs[m])
    ]
    if followers:
        anchor = min(followers, key=gap.__getitem__)
        follower = facts.events[anchor].event_id
        why = f"{follower} follows {e.event_id} in a migration (catalog rule); "
        # The link runs in time order: this event, then the one that follows it.
        attempt.links.append((pos, anchor, why + reason))
    else:
        anchor = min(attempt.members, key=gap.__getitem__)
        attempt.links.append((anchor, pos, reason))
    attempt.members.append(pos)


def _follows(spec: EventSpec | None) -> tuple[EventKey, ...]:
    return spec.follows if spec is not None else ()


def _has_vmms_admin(channels: set[str]) -> bool:
    return any(c.endswith("VMMS-Admin") for c in channels)


# ---- 5. attempts -> migrations -------------------------------------------------------------


def _build(
    members: list[int],
    attempt: _Attempt,
    facts: _Facts,
    corrected: Sequence[datetime],
) -> Migration:
    """One attempt's migration; ``members`` are its positions in corrected time order."""
    ordered, hosts, kinds = facts.events, facts.hosts, facts.kinds
    index = {pos: i for i, pos in enumerate(members)}
    events = tuple(map(ordered.__getitem__, members))
    times = tuple(map(corrected.__getitem__, members))

    # One pass reads everything off the events (a generator per question cost more than the
    # answers): names and ids take the first that is set, the FQDN and blackout the last.
    start_name: str | None = None  # the VM name 20413 gives
    any_name: str | None = None
    vm_id: str | None = None
    fqdn: dict[str, str] = {}
    failed = succeeded = False
    blackout = None
    for p in members:
        e, kind = ordered[p], kinds[p]
        if e.vm_name:
            any_name = any_name or e.vm_name
            if _key(e) == VMMS_START:
                start_name = start_name or e.vm_name
        vm_id = vm_id or e.vm_id or None
        if "." in e.host:
            fqdn[hosts[p]] = e.host
        failed = failed or kind in FAILURE_KINDS
        succeeded = succeeded or kind in SUCCESS_KINDS or _key(e) in OWN_SUCCESS_EVENTS
        if _key(e) in BLACKOUT_EVENTS:
            value = (
                e.param(3)
                if e.fields and e.fields[0][0].startswith("Parameter")
                else e.field("BlackoutTime")
            )
            try:
                blackout = float(value) if value is not None else None
            except ValueError:
                blackout = None
    vm_name = start_name or any_name
    source, destination = attempt.source, attempt.destination

    if failed:
        outcome = Outcome.FAILED
    elif succeeded:
        outcome = Outcome.SUCCEEDED
    elif any(
        facts.log_end.get(hosts[p], ordered[p].time) - ordered[p].time < IN_PROGRESS_HORIZON
        for p in members[-1:]
    ):
        outcome = Outcome.IN_PROGRESS
    else:
        outcome = Outcome.UNKNOWN

    edges = tuple(
        Edge(index[a], index[b], reason)
        for a, b, reason in attempt.links
        if a in index and b in index
    )
    started = times[0] if times else None
    ended = times[-1] if times else None
    ident = hashlib.sha1(
        f"{vm_id or vm_name}|{source}|{started.isoformat() if started else ''}".encode()
    ).hexdigest()[:10]
    return Migration(
        id=f"m-{ident}",
        vm_name=vm_name,
        vm_id=vm_id,
        source=source,
        destination=destination,
        source_fqdn=fqdn.get(source or ""),
        destination_fqdn=fqdn.get(destination or ""),
        outcome=outcome,
        started=started,
        ended=ended,
        blackout_s=blackout,
        events=events,
        corrected_times=times,
        edges=edges,
        phases=_phases(members, facts, corrected),
        coverage=_coverage(source, destination, started, ended, outcome, facts),
        ambiguities=_ambiguity_notes(attempt, facts),
        shared=tuple(sorted({index[pos] for _, pos in attempt.ambiguous if pos in index})),
    )


# An ambiguity note lists the events it is about, so they can be found in Event Viewer.
_LISTED = 6


def _ambiguity_notes(attempt: _Attempt, facts: _Facts) -> tuple[str, ...]:
    """One note per set of other attempts: which events that name no VM this attempt shares
    with them, each at the time its host logged it."""
    by_others: dict[str, list[int]] = defaultdict(list)
    for others, pos in attempt.ambiguous:
        by_others[others].append(pos)
    notes = []
    for others, positions in sorted(by_others.items()):
        listed = [
            f"{facts.events[p].event_id} {facts.hosts[p]} {facts.events[p].time:%H:%M:%S.%f}"[:-3]
            for p in sorted(positions)
        ]
        more = f" and {len(listed) - _LISTED} more" if len(listed) > _LISTED else ""
        what = (
            "1 event that names no VM also fits"
            if len(listed) == 1
            else f"{len(listed)} events that name no VM also fit"
        )
        notes.append(
            f"ambiguous: {what} {others}, failing on the same host at the same moment; "
            f"shown in each: {', '.join(listed[:_LISTED])}{more}"
        )
    return tuple(notes)


def _phases(
    members: Sequence[int], facts: _Facts, corrected: Sequence[datetime]
) -> tuple[Phase, ...]:
    open_: dict[tuple[str, str], datetime] = {}
    phases: list[Phase] = []
    for p in members:
        spec = facts.specs[p]
        if spec is None or spec.phase is None:
            continue
        host, t = facts.hosts[p], corrected[p]
        name, edge = spec.phase
        if edge == "start":
            open_[(name, host)] = t
            continue
        at = spec.position("seconds")
        seconds_text = facts.events[p].param(at) if at else None
        try:
            seconds = float(seconds_text) if seconds_text else None
        except ValueError:
            seconds = None
        phases.append(Phase(name, host, open_.pop((name, host), None), t, seconds))
    for (name, host), t in sorted(open_.items()):
        phases.append(Phase(name, host, t, None, None))
    return tuple(phases)


def _coverage(
    source: str | None,
    destination: str | None,
    started: datetime | None,
    ended: datetime | None,
    outcome: Outcome,
    facts: _Facts,
) -> tuple[str, ...]:
    """Which side's logs are missing, counting every log supplied for the host.  A
    destination logs nothing in VMMS-Admin when a migration succeeds, so a missing
    VMMS-Admin log only matters for attempts that did not succeed."""
    notes = []
    for role, host in (("source", source), ("destination", destination)):
        if host is None:
            notes.append(f"{role} host unknown: no event names it")
            continue
        channels = facts.channels.get(host)
        # Formatted only here: two strftime calls per attempt added up on a fleet.
        window = f" for {started:%H:%M:%S}–{ended:%H:%M:%S}" if started and ended else ""
        if not channels:
            notes.append(f"{role} {host}: no logs of {host} were supplied")
        elif not _has_vmms_admin(channels) and outcome != Outcome.SUCCEEDED:
            supplied = ", ".join(sorted(_log_name(c) for c in channels))
            plural = "s" if len(channels) > 1 else ""
            notes.append(
                f"{role} {host}: {supplied} log{plural} supplied, but no Hyper-V VMMS-Admin "
                f"events{window}"
            )
    return tuple(notes)


def _log_name(channel: str) -> str:
    """A channel as people name it: ``System``, ``Hyper-V-High-Availability-Admin``."""
    return channel.removeprefix("Microsoft-Windows-")


def _with_concurrency(migrations: list[Migration]) -> list[Migration]:
    """Each attempt's peak number of other attempts over the same host pair running at the
    same moment: the figure that says "too many simultaneous migrations for this link"."""
    from bisect import bisect_left
    from dataclasses import replace

    by_pair: dict[frozenset[str | None], list[Migration]] = defaultdict(list)
    for m in migrations:
        if m.started and m.ended:
            by_pair[frozenset((m.source, m.destination))].append(m)
    peak: dict[str, int] = {}
    for group in by_pair.values():
        group.sort(key=lambda m: (m.started, m.id))
        starts = [m.started for m in group if m.started]
        for i, m in enumerate(group):
            assert m.started and m.ended
            # Others that overlap m: started before m ended, ended after m started.
            stop = bisect_left(starts, m.ended)
            overlaps = [
                o for j, o in enumerate(group[:stop]) if j != i and o.ended and o.ended > m.started
            ]
            # Sweep the overlapping intervals, clipped to m, for the most at one moment.
            points: list[tuple[datetime, int]] = []
            for o in overlaps:
                assert o.started and o.ended
                points.append((max(o.started, m.started), 1))
                points.append((min(o.ended, m.ended), -1))
            running = best = 0
            for _, delta in sorted(points):  # by time, ends (-1) before starts at one moment
                running += delta
                best = max(best, running)
            peak[m.id] = best
    return [replace(m, concurrent=peak.get(m.id, 0)) for m in migrations]
