"""Events -> migration attempts, joined across the source and destination hosts.

How (the only module that imports networkx):

1. Events that name a VM (id, or name mapped to an id) are grouped per VM and walked in
   time order; an attempt starts at a start event (20413, HA 21300/21306, cluster 1641) and
   is cut when a new start follows a terminal event (20415/20417, 21024, 21502...).  Each
   event joins the attempt by an edge whose reason a report can show.  (A dict groups them:
   pandas did, but importing it cost ~0.3 s, a tenth of analysing a 1 GB fleet bundle, for a
   grouping a dict does in milliseconds.  pandas stays where it earns its keep: the table
   behind ``migdiag events``.)
2. Host clock skew is estimated per host pair from events that must be nearly simultaneous
   (the source's and destination's start, end and send/receive failures of one attempt);
   the offsets are chained across hosts over a networkx graph of hosts.
3. Events that name no VM (22038 "failed to send data", 22040, 20306, ...) are attached, on
   skew-corrected time, to the attempt running on their host at that moment.
4. An attempt is a connected component of the event graph; outcome, blackout, phases,
   coverage and concurrency are read off its events.
"""

from __future__ import annotations

import hashlib
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import networkx as nx

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

START_KINDS = frozenset({"lm-start"})
SUCCESS_KINDS = frozenset({"lm-success"})
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
# Kinds that end an attempt: a start after one of these begins a new attempt (as does the
# source's HA phase end, 21301).  Catalog kinds, not ids: ids collide across providers.
TERMINAL_KINDS = SUCCESS_KINDS | {
    "failed-at-source",
    "failed-at-destination",
    "ha-failed",
    "lm-cancelled",
}
# Start events of one attempt arrive within seconds of each other (HA 21300, 21306, 20413).
START_MERGE = timedelta(seconds=30)
# Late events of an attempt: 21502 and cluster events follow the VMMS failure closely.
TAIL_GRACE = timedelta(seconds=30)
# How long after its last event an attempt without an outcome may still be running.
IN_PROGRESS_HORIZON = timedelta(minutes=15)
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
class _Attempt:
    members: list[int] = field(default_factory=list)
    links: list[_Link] = field(default_factory=list)
    source: str | None = None
    destination: str | None = None
    first: datetime | None = None
    last: datetime | None = None
    ended: bool = False
    # Event id -> index in ``members`` of its latest member, kept while grouping, so that
    # finding the event a new one follows is a few dict look-ups, not a walk back.
    latest: dict[tuple[str, int], int] = field(default_factory=dict)
    # (host, "start" | "end" | "fail") -> time of the first such member, for clock skew.
    marks: dict[tuple[str, str], datetime] = field(default_factory=dict)


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
        log_end[host] = e.time  # events are in time order: the last one is the latest
        channels[host].add(e.channel)
    return _Facts(ordered, hosts, specs, kinds, hyperv, cluster_vm, log_end, channels)


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
    """Group normalised events into migration attempts.  Input order does not matter."""
    with gc_paused():  # see migdiag.gc_pause
        return _correlate(events, catalog or default_catalog(), skew_tolerance)


def _correlate(events: Sequence[Event], catalog: Catalog, skew_tolerance: timedelta) -> Correlation:
    facts = _facts(events, catalog)
    ordered, hosts = facts.events, facts.hosts
    keys = _vm_keys(ordered)

    attempts = _group_by_vm(facts, keys, skew_tolerance)
    skews, offsets = _estimate_skew(facts, attempts)
    shift = {host: timedelta(seconds=offsets.get(host, 0.0)) for host in facts.log_end}
    corrected = [e.time + shift[host] for e, host in zip(ordered, hosts, strict=True)]
    unattached = _attach_anonymous(facts, keys, attempts, corrected, skew_tolerance)

    # The event graph, built in one go: nodes attempt by attempt, then every edge.  Attempts
    # share no events, so this gives the same nodes, adjacency and component order as
    # adding each attempt's nodes and edges in turn, with two calls instead of 5,000.
    graph = nx.Graph()
    graph.add_nodes_from(m for attempt in attempts for m in attempt.members)
    graph.add_edges_from((a, b) for attempt in attempts for a, b, _ in attempt.links)
    attempt_of = {m: number for number, attempt in enumerate(attempts) for m in attempt.members}
    # Each event's place in an attempt's time order, worked out once for all attempts.
    order_key = [
        (t, host, e.record_id or 0, pos)
        for pos, (e, host, t) in enumerate(zip(ordered, hosts, corrected, strict=True))
    ]
    vmms_hosts = {h for h, seen in facts.channels.items() if _has_vmms_admin(seen)}
    migrations = [
        _build(
            sorted(component, key=order_key.__getitem__),
            attempts[attempt_of[min(component)]],
            facts,
            corrected,
            vmms_hosts,
        )
        for component in nx.connected_components(graph)
    ]
    migrations.sort(key=lambda m: (m.started is None, m.started or _EPOCH, m.id))
    migrations = _with_concurrency(migrations)
    warnings = tuple(s.describe() for s in skews if abs(s.offset_s) >= 0.5)
    return Correlation(
        migrations=tuple(migrations),
        skews=tuple(skews),
        warnings=warnings,
        unattached=tuple(ordered[i] for i in unattached),
    )


def _group_by_vm(facts: _Facts, keys: Sequence[str | None], tolerance: timedelta) -> list[_Attempt]:
    ordered, kinds = facts.events, facts.kinds
    # Each VM's events, in time order (``ordered`` is sorted); cluster-network events name
    # a network, not a VM.
    groups: dict[str, list[int]] = defaultdict(list)
    for pos, (key, kind) in enumerate(zip(keys, kinds, strict=True)):
        if key is not None and kind != "cluster-network":
            groups[key].append(pos)
    attempts: list[_Attempt] = []
    for vm in sorted(groups, key=str):
        current: _Attempt | None = None
        for pos in groups[vm]:
            kind = kinds[pos]
            if kind == "other" and not facts.hyperv[pos]:
                continue  # a System event naming the VM in passing, not part of a migration
            time = ordered[pos].time
            starts_new = current is None or (
                kind in START_KINDS
                and current.last is not None
                and (current.ended or time - current.last > IN_PROGRESS_HORIZON)
                and not _same_start(current, time)
            )
            if (
                not starts_new
                and current is not None
                and current.ended
                and current.last is not None
                and time - current.last > TAIL_GRACE + tolerance
            ):
                starts_new = True
            if starts_new:
                current = _Attempt()
                attempts.append(current)
            assert current is not None
            _join(current, pos, facts)
    return attempts


def _same_start(attempt: _Attempt, time: datetime) -> bool:
    # HA 21300, 21306 and VMMS 20413 of one attempt arrive together: not a new attempt.
    if attempt.first is None or attempt.ended:
        return False
    return abs(time - attempt.first) <= START_MERGE


# Events a source and its destination log at (nearly) the same moment, by what they mark:
# HA 21300/21306 (start), 21301/21307 (end), VMMS 21024/21026 (fail), told by catalog facts.
_SIMULTANEOUS_PHASES = {
    ("source", "start"): "start",
    ("target", "start"): "start",
    ("source", "end"): "end",
    ("target", "end"): "end",
}
_SIMULTANEOUS_KINDS = {"failed-at-source": "fail", "failed-at-destination": "fail"}


def _simultaneous(spec: EventSpec | None) -> str | None:
    if spec is None:
        return None
    return _SIMULTANEOUS_KINDS.get(spec.kind) or _SIMULTANEOUS_PHASES.get(spec.phase or ("", ""))


def _key(e: Event) -> tuple[str, int]:
    return e.provider.lower(), e.event_id


def _join(attempt: _Attempt, pos: int, facts: _Facts) -> None:
    e, host, spec = facts.events[pos], facts.hosts[pos], facts.specs[pos]
    kind = facts.kinds[pos]
    # 20413, HA 21300, 21024, 21502, 21111, 21501: logged by the source (catalog side).
    if spec and spec.side == "source" and (kind in _SOURCE_KINDS or spec.phase == _SOURCE_START):
        attempt.source = attempt.source or host
        if e.peer_host and e.peer_host != host:
            attempt.destination = attempt.destination or e.peer_host
    # HA 21306-21309 and 21026: logged by the destination.
    elif (
        spec
        and spec.side == "destination"
        and (kind == "failed-at-destination" or (spec.phase and spec.phase[0] in _TARGET_PHASES))
    ):
        attempt.destination = attempt.destination or host
    if spec and spec.side == "either" and kind in START_KINDS and e.peer_host:
        # The cluster's 1641 names the node the role moves to.
        attempt.destination = attempt.destination or e.peer_host
    if attempt.members:
        prev = _predecessor(attempt, spec)
        attempt.links.append((prev, pos, _reason(attempt, facts, prev, pos)))
    role = _simultaneous(spec)
    if role:
        attempt.marks.setdefault((host, role), e.time)
    attempt.latest[_key(e)] = len(attempt.members)
    attempt.members.append(pos)
    attempt.first = attempt.first or e.time
    attempt.last = e.time
    if kind in TERMINAL_KINDS or (spec and spec.phase == ("source", "end")):
        attempt.ended = True


_SOURCE_KINDS = START_KINDS | {"failed-at-source", "ha-failed"}
_SOURCE_START = ("source", "start")
_TARGET_PHASES = frozenset({"target", "restore"})


def _predecessor(attempt: _Attempt, spec: EventSpec | None) -> int:
    """The member this event hangs from: the latest event the catalog says it follows,
    else the latest member."""
    if spec is not None and spec.follows:
        found = [attempt.latest[i] for i in spec.follows if i in attempt.latest]
        if found:
            return attempt.members[max(found)]
    return attempt.members[-1]


def _reason(attempt: _Attempt, facts: _Facts, prev_pos: int, pos: int) -> str:
    prev, e, spec = facts.events[prev_pos], facts.events[pos], facts.specs[pos]
    prev_host, host = facts.hosts[prev_pos], facts.hosts[pos]
    vm = _vm_label(e)
    if spec is not None and _key(prev) in spec.follows:
        where = "on the same host" if prev_host == host else "across the hosts"
        return f"{e.event_id} follows {prev.event_id} in a migration ({where}; catalog rule)"
    if facts.cluster_vm[pos]:
        return f"the cluster's {e.event_id} names VM {vm} (its resource 'Virtual Machine {vm}')"
    if prev_host == host:
        return f"same VM {vm} on {host}"
    if attempt.destination == host and attempt.source == prev_host:
        return f"{prev_host} migrates {vm} to {host}; {host} logged {vm} too"
    return f"{prev_host} and {host} both logged VM {vm} within the attempt"


def _vm_label(e: Event) -> str:
    return e.vm_name or e.vm_id or "?"


def _pairs_for_skew(attempt: _Attempt) -> list[tuple[str, str, float]]:
    """(source, destination, dest_time - source_time) for events that must coincide."""
    if not attempt.source or not attempt.destination:
        return []
    out = []
    for role in ("start", "end", "fail"):
        s = attempt.marks.get((attempt.source, role))
        d = attempt.marks.get((attempt.destination, role))
        if s is not None and d is not None:
            out.append((attempt.source, attempt.destination, (d - s).total_seconds()))
    return out


def _estimate_skew(
    facts: _Facts, attempts: Sequence[_Attempt]
) -> tuple[list[SkewEstimate], dict[str, float]]:
    samples: dict[tuple[str, str], list[float]] = defaultdict(list)
    for attempt in attempts:
        for a, b, diff in _pairs_for_skew(attempt):
            if a <= b:
                samples[(a, b)].append(diff)
            else:
                samples[(b, a)].append(-diff)
    if not samples:
        return [], {}
    hosts = nx.Graph()
    for (a, b), diffs in samples.items():
        # b's clock minus a's clock; the median ignores the odd pair that is not simultaneous.
        hosts.add_edge(a, b, diff=statistics.median(diffs), n=len(diffs))
    counts = Counter(facts.hosts)
    offsets: dict[str, float] = {}
    estimates: list[SkewEstimate] = []
    for component in sorted(nx.connected_components(hosts), key=lambda c: sorted(c)):
        reference = max(sorted(component), key=lambda h: counts[h])
        offsets[reference] = 0.0
        for parent, child in nx.bfs_edges(hosts, reference):
            data = hosts.edges[parent, child]
            diff = data["diff"] if parent < child else -data["diff"]
            # child clock = parent clock + diff  ->  add -(offset) to child times
            offsets[child] = offsets[parent] - diff
            estimates.append(
                SkewEstimate(
                    host=child,
                    reference=reference,
                    offset_s=round(offsets[child], 3),
                    samples=data["n"],
                )
            )
    estimates.sort(key=lambda s: (s.reference, s.host))
    return estimates, offsets


def _attach_anonymous(
    facts: _Facts,
    keys: Sequence[str | None],
    attempts: Sequence[_Attempt],
    corrected: Sequence[datetime],
    tolerance: timedelta,
) -> list[int]:
    ordered, hosts, specs = facts.events, facts.hosts, facts.specs
    # The attempts each host takes part in, in attempt order (ties go to the first), and
    # each attempt's corrected time span, kept up to date as events join it: scanning every
    # attempt and re-reading all its members for each anonymous event was quadratic.
    on_host: dict[str, list[int]] = defaultdict(list)
    first: list[datetime] = []
    last: list[datetime] = []
    for number, attempt in enumerate(attempts):
        times = [corrected[m] for m in attempt.members]  # never empty: _join adds the first
        first.append(min(times))
        last.append(max(times))
        for host in {attempt.source, attempt.destination}:
            if host is not None:
                on_host[host].append(number)
    unattached: list[int] = []
    for pos, e in enumerate(ordered):
        if keys[pos] is not None or facts.kinds[pos] == "cluster-network":
            continue
        if not facts.hyperv[pos]:
            continue  # System events are context for diagnosis, not attempt members
        host = hosts[pos]
        t = corrected[pos]
        best: tuple[float, int] | None = None
        for number in on_host.get(host, ()):
            if first[number] - tolerance <= t <= last[number] + tolerance:
                # Prefer the attempt whose failure is closest after this event.
                distance = min(
                    abs((corrected[m] - t).total_seconds()) for m in attempts[number].members
                )
                if best is None or distance < best[0]:
                    best = (distance, number)
        if best is None:
            unattached.append(pos)
            continue
        number = best[1]
        attempt = attempts[number]
        side = "source" if host == attempt.source else "destination"
        reason = f"logged by {host} (the {side}) while the attempt was running"

        gap = {m: abs((corrected[m] - t).total_seconds()) for m in attempt.members}

        # Hang it from the member the catalog says follows it on the same host (22038 is
        # followed by 21018 and 21024), else from the nearest member in time.
        followers = [
            m for m in attempt.members if hosts[m] == host and _key(e) in _follows(specs[m])
        ]
        if followers:
            anchor = min(followers, key=gap.__getitem__)
            reason = (
                f"{ordered[anchor].event_id} follows {e.event_id} in a migration (catalog rule); "
                + reason
            )
            # The link runs in time order: this event, then the one that follows it.
            attempt.links.append((pos, anchor, reason))
        else:
            anchor = min(attempt.members, key=gap.__getitem__)
            attempt.links.append((anchor, pos, reason))
        attempt.members.append(pos)
        first[number] = min(first[number], t)
        last[number] = max(last[number], t)
    return unattached


def _follows(spec: EventSpec | None) -> tuple[tuple[str, int], ...]:
    return spec.follows if spec is not None else ()


def _has_vmms_admin(channels: set[str]) -> bool:
    return any(c.endswith("VMMS-Admin") for c in channels)


def _build(
    members: list[int],
    attempt: _Attempt,
    facts: _Facts,
    corrected: Sequence[datetime],
    vmms_hosts: set[str],
) -> Migration:
    """One attempt's migration; ``members`` are its positions in corrected time order."""
    ordered, hosts, kinds = facts.events, facts.hosts, facts.kinds
    index = {pos: i for i, pos in enumerate(members)}
    events = tuple(map(ordered.__getitem__, members))
    times = tuple(map(corrected.__getitem__, members))

    # One pass reads everything off the events (a generator per question cost more than the
    # answers): names and ids take the first that is set, the FQDN and blackout the last.
    start_name: str | None = None  # the VM name the start event (20413) gives
    any_name: str | None = None
    vm_id: str | None = None
    fqdn: dict[str, str] = {}
    failed = succeeded = False
    blackout = None
    for p in members:
        e, kind = ordered[p], kinds[p]
        if e.vm_name:
            any_name = any_name or e.vm_name
            if kind in START_KINDS:
                start_name = start_name or e.vm_name
        vm_id = vm_id or e.vm_id or None
        if "." in e.host:
            fqdn[hosts[p]] = e.host
        failed = failed or kind in FAILURE_KINDS
        spec = facts.specs[p]
        succeeded = (
            succeeded
            or kind in SUCCESS_KINDS
            or (spec is not None and spec.phase in (("source", "end"), ("target", "end")))
        )
        blackout_at = spec.position("blackout_s") if kind in SUCCESS_KINDS and spec else None
        if blackout_at and spec:  # 20415/20417
            element = spec.element_name("blackout_s")
            value = (
                e.param(blackout_at)
                if e.fields and e.fields[0][0].startswith("Parameter")
                else e.field(element or "BlackoutTime")
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
        coverage=_coverage(source, destination, started, ended, outcome, facts, vmms_hosts),
    )


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
    vmms_hosts: set[str],
) -> tuple[str, ...]:
    """Which side's logs are missing.  A destination logs nothing in VMMS-Admin when a
    migration succeeds, so a missing VMMS-Admin log only matters for attempts that did not
    succeed, or when the host supplied no events at all."""
    notes = []
    for role, host in (("source", source), ("destination", destination)):
        if host is None:
            notes.append(f"{role} host unknown: no event names it")
            continue
        # ``vmms_hosts``: the hosts that logged VMMS-Admin, worked out once, not per attempt.
        logged = host in facts.channels
        if not logged or (host not in vmms_hosts and outcome != Outcome.SUCCEEDED):
            # Formatted only here: two strftime calls per attempt added up on a fleet.
            window = f" for {started:%H:%M:%S}–{ended:%H:%M:%S}" if started and ended else ""
            notes.append(
                f"{role} {host}: no VMMS-Admin events{window}; its logs were not supplied "
                "or do not cover this window"
            )
    return tuple(notes)


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
