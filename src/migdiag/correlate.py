"""Events -> migration attempts, joined across the source and destination hosts.

How (the only module that imports networkx):

1. Events that name a VM (id, or name mapped to an id) are grouped per VM with pandas and
   walked in time order; an attempt starts at a start event (20413, HA 21300/21306, cluster
   1641) and is cut when a new start follows a terminal event (20415/20417, 21024, 21502...).
   Each event joins the attempt by an edge whose reason a report can show.
2. Host clock skew is estimated per host pair from events that must be nearly simultaneous
   (the source's and destination's start, end and send/receive failures of one attempt);
   the offsets are chained across hosts over a networkx graph of hosts.
3. Events that name no VM (22038 "failed to send data", 22040, 20406, ...) are attached, on
   skew-corrected time, to the attempt running on their host at that moment.
4. An attempt is a connected component of the event graph; outcome, blackout, phases,
   coverage and concurrency are read off its events.
"""

from __future__ import annotations

import hashlib
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import networkx as nx
import pandas as pd

from migdiag.catalog import Catalog, EventSpec, default_catalog
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
    }
)
# Kinds that end an attempt: a start after one of these begins a new attempt.
TERMINAL_IDS = frozenset({20415, 20417, 21024, 21026, 21111, 21500, 21501, 21502, 21503, 21301})
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


@dataclass(slots=True)
class _Attempt:
    members: list[int] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    source: str | None = None
    destination: str | None = None
    first: datetime | None = None
    last: datetime | None = None
    ended: bool = False


def _kind(catalog: Catalog, event: Event) -> str:
    spec = catalog.spec(event.provider, event.event_id)
    return spec.kind if spec else "other"


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
            keys.append(id_by_name.get(e.vm_name.lower(), "name:" + e.vm_name.lower()))
        else:
            keys.append(None)
    return keys


def _sort_key(e: Event) -> tuple[object, ...]:
    return (e.time, e.short_host, e.channel, e.record_id or 0, e.event_id, e.fields)


def correlate(
    events: Sequence[Event],
    catalog: Catalog | None = None,
    skew_tolerance: timedelta = DEFAULT_SKEW_TOLERANCE,
) -> Correlation:
    """Group normalised events into migration attempts.  Input order does not matter."""
    catalog = catalog or default_catalog()
    ordered = sorted(events, key=_sort_key)
    kinds = [_kind(catalog, e) for e in ordered]
    keys = _vm_keys(ordered)

    attempts = _group_by_vm(ordered, kinds, keys, catalog, skew_tolerance)
    skews, offsets = _estimate_skew(ordered, attempts)
    corrected = [e.time + timedelta(seconds=offsets.get(e.short_host, 0.0)) for e in ordered]
    unattached = _attach_anonymous(
        ordered, kinds, keys, attempts, corrected, skew_tolerance, catalog
    )

    graph = nx.Graph()
    for number, attempt in enumerate(attempts):
        graph.add_nodes_from(attempt.members, attempt=number)
        graph.add_edges_from((edge.a, edge.b) for edge in attempt.edges)

    log_end = _log_end_by_host(ordered)
    hosts_seen = _channels_by_host(ordered)
    migrations = [
        _build(
            sorted(component),
            ordered,
            kinds,
            corrected,
            attempts,
            graph,
            catalog,
            log_end,
            hosts_seen,
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


def _group_by_vm(
    ordered: Sequence[Event],
    kinds: Sequence[str],
    keys: Sequence[str | None],
    catalog: Catalog,
    tolerance: timedelta,
) -> list[_Attempt]:
    frame = pd.DataFrame({"key": keys, "pos": range(len(ordered))})
    frame = frame[frame["key"].notna() & pd.Series([k != "cluster-network" for k in kinds])]
    attempts: list[_Attempt] = []
    for _vm, group in sorted(frame.groupby("key", sort=False), key=lambda kv: str(kv[0])):
        current: _Attempt | None = None
        for pos in group["pos"].tolist():
            e, kind = ordered[pos], kinds[pos]
            if kind == "other" and not e.provider.lower().startswith("microsoft-windows-hyper-v"):
                continue  # a System event naming the VM in passing, not part of a migration
            starts_new = current is None or (
                kind in START_KINDS
                and current.last is not None
                and (current.ended or e.time - current.last > IN_PROGRESS_HORIZON)
                and not _same_start(current, e)
            )
            if (
                not starts_new
                and current is not None
                and current.ended
                and current.last is not None
                and e.time - current.last > TAIL_GRACE + tolerance
            ):
                starts_new = True
            if starts_new:
                current = _Attempt()
                attempts.append(current)
            assert current is not None
            _join(current, pos, e, kind, ordered, catalog)
    return attempts


def _same_start(attempt: _Attempt, e: Event) -> bool:
    # HA 21300, 21306 and VMMS 20413 of one attempt arrive together: not a new attempt.
    if attempt.first is None or attempt.ended:
        return False
    return abs(e.time - attempt.first) <= START_MERGE


def _join(
    attempt: _Attempt, pos: int, e: Event, kind: str, ordered: Sequence[Event], catalog: Catalog
) -> None:
    host = e.short_host
    spec = catalog.spec(e.provider, e.event_id)
    if e.event_id in (20413, 21300, 21024, 21502, 21111, 21501) or (
        spec and spec.side == "source" and kind in START_KINDS
    ):
        attempt.source = attempt.source or host
        if e.peer_host and e.peer_host != host:
            attempt.destination = attempt.destination or e.peer_host
    elif e.event_id in (21306, 21026, 21307, 21308, 21309):
        attempt.destination = attempt.destination or host
    if e.event_id == 1641:
        source = e.param(2)
        if source:
            attempt.source = attempt.source or source.split(".")[0].upper()
    if attempt.members:
        prev = _predecessor(attempt, e, spec, ordered)
        attempt.edges.append(Edge(prev, pos, _reason(attempt, ordered[prev], e, spec)))
    attempt.members.append(pos)
    attempt.first = attempt.first or e.time
    attempt.last = e.time
    if e.event_id in TERMINAL_IDS:
        attempt.ended = True


def _predecessor(
    attempt: _Attempt, e: Event, spec: EventSpec | None, ordered: Sequence[Event]
) -> int:
    """The member this event hangs from: the latest event the catalog says it follows,
    else the latest member."""
    if spec is not None and spec.follows:
        for member in reversed(attempt.members):
            if ordered[member].event_id in spec.follows:
                return member
    return attempt.members[-1]


def _reason(attempt: _Attempt, prev: Event, e: Event, spec: EventSpec | None) -> str:
    vm = _vm_label(e)
    if spec is not None and prev.event_id in spec.follows:
        where = "on the same host" if prev.short_host == e.short_host else "across the hosts"
        return f"{e.event_id} follows {prev.event_id} in a migration ({where}; catalog rule)"
    if e.provider.lower().endswith("high-availability") and e.vm_name:
        return f"the cluster's {e.event_id} names VM {vm} (its resource 'Virtual Machine {vm}')"
    if prev.short_host == e.short_host:
        return f"same VM {vm} on {e.short_host}"
    if attempt.destination == e.short_host and attempt.source == prev.short_host:
        return f"{prev.short_host} migrates {vm} to {e.short_host}; {e.short_host} logged {vm} too"
    return f"{prev.short_host} and {e.short_host} both logged VM {vm} within the attempt"


def _vm_label(e: Event) -> str:
    return e.vm_name or e.vm_id or "?"


def _pairs_for_skew(ordered: Sequence[Event], attempt: _Attempt) -> list[tuple[str, str, float]]:
    """(source, destination, dest_time - source_time) for events that must coincide."""
    if not attempt.source or not attempt.destination:
        return []
    by_role: dict[tuple[str, str], datetime] = {}
    for pos in attempt.members:
        e = ordered[pos]
        role = {
            21300: "start",
            21306: "start",
            21301: "end",
            21307: "end",
            21024: "fail",
            21026: "fail",
        }.get(e.event_id)
        if role:
            by_role.setdefault((e.short_host, role), e.time)
    out = []
    for role in ("start", "end", "fail"):
        s = by_role.get((attempt.source, role))
        d = by_role.get((attempt.destination, role))
        if s is not None and d is not None:
            out.append((attempt.source, attempt.destination, (d - s).total_seconds()))
    return out


def _estimate_skew(
    ordered: Sequence[Event], attempts: Sequence[_Attempt]
) -> tuple[list[SkewEstimate], dict[str, float]]:
    samples: dict[tuple[str, str], list[float]] = defaultdict(list)
    for attempt in attempts:
        for a, b, diff in _pairs_for_skew(ordered, attempt):
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
    counts: dict[str, int] = defaultdict(int)
    for e in ordered:
        counts[e.short_host] += 1
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
    ordered: Sequence[Event],
    kinds: Sequence[str],
    keys: Sequence[str | None],
    attempts: Sequence[_Attempt],
    corrected: Sequence[datetime],
    tolerance: timedelta,
    catalog: Catalog,
) -> list[int]:
    unattached: list[int] = []
    specs = [catalog.spec(x.provider, x.event_id) for x in ordered]
    for pos, e in enumerate(ordered):
        if keys[pos] is not None or kinds[pos] == "cluster-network":
            continue
        if not e.provider.lower().startswith("microsoft-windows-hyper-v"):
            continue  # System events are context for diagnosis, not attempt members
        host = e.short_host
        best: tuple[float, int] | None = None
        for number, attempt in enumerate(attempts):
            if host not in (attempt.source, attempt.destination) or not attempt.members:
                continue
            first = min(corrected[m] for m in attempt.members)
            last = max(corrected[m] for m in attempt.members)
            t = corrected[pos]
            if first - tolerance <= t <= last + tolerance:
                # Prefer the attempt whose failure is closest after this event.
                distance = min(abs((corrected[m] - t).total_seconds()) for m in attempt.members)
                if best is None or distance < best[0]:
                    best = (distance, number)
        if best is None:
            unattached.append(pos)
            continue
        attempt = attempts[best[1]]
        side = "source" if host == attempt.source else "destination"
        reason = f"logged by {host} (the {side}) while the attempt was running"

        at = corrected[pos]
        gap = {m: abs((corrected[m] - at).total_seconds()) for m in attempt.members}

        # Hang it from the member the catalog says follows it on the same host (22038 is
        # followed by 21018 and 21024), else from the nearest member in time.
        followers = [
            m
            for m in attempt.members
            if ordered[m].short_host == host and e.event_id in _follows(specs[m])
        ]
        if followers:
            anchor = min(followers, key=gap.__getitem__)
            reason = (
                f"{ordered[anchor].event_id} follows {e.event_id} in a migration (catalog rule); "
                + reason
            )
            # The edge runs in time order: this event, then the one that follows it.
            attempt.edges.append(Edge(pos, anchor, reason))
        else:
            anchor = min(attempt.members, key=gap.__getitem__)
            attempt.edges.append(Edge(anchor, pos, reason))
        attempt.members.append(pos)
    return unattached


def _follows(spec: EventSpec | None) -> tuple[int, ...]:
    return spec.follows if spec is not None else ()


def _log_end_by_host(ordered: Sequence[Event]) -> dict[str, datetime]:
    end: dict[str, datetime] = {}
    for e in ordered:
        end[e.short_host] = max(end.get(e.short_host, e.time), e.time)
    return end


def _channels_by_host(ordered: Sequence[Event]) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = defaultdict(set)
    for e in ordered:
        seen[e.short_host].add(e.channel)
    return seen


def _build(
    members: list[int],
    ordered: Sequence[Event],
    kinds: Sequence[str],
    corrected: Sequence[datetime],
    attempts: Sequence[_Attempt],
    graph: nx.Graph,
    catalog: Catalog,
    log_end: dict[str, datetime],
    hosts_seen: dict[str, set[str]],
) -> Migration:
    attempt = attempts[graph.nodes[members[0]]["attempt"]]
    members = sorted(
        members, key=lambda p: (corrected[p], ordered[p].short_host, ordered[p].record_id or 0)
    )
    index = {pos: i for i, pos in enumerate(members)}
    events = tuple(ordered[p] for p in members)
    times = tuple(corrected[p] for p in members)
    member_kinds = [kinds[p] for p in members]

    vm_name = next((e.vm_name for e in events if e.vm_name and e.event_id == 20413), None) or next(
        (e.vm_name for e in events if e.vm_name), None
    )
    vm_id = next((e.vm_id for e in events if e.vm_id), None)
    source, destination = attempt.source, attempt.destination
    fqdn = {e.short_host: e.host for e in events if "." in e.host}

    failed = any(k in FAILURE_KINDS for k in member_kinds)
    succeeded = any(k in SUCCESS_KINDS for k in member_kinds) or any(
        e.event_id in (21301, 21307) for e in events
    )
    if failed:
        outcome = Outcome.FAILED
    elif succeeded:
        outcome = Outcome.SUCCEEDED
    elif any(log_end.get(e.short_host, e.time) - e.time < IN_PROGRESS_HORIZON for e in events[-1:]):
        outcome = Outcome.IN_PROGRESS
    else:
        outcome = Outcome.UNKNOWN

    blackout = None
    for e in events:
        if e.event_id in (20415, 20417):
            value = (
                e.param(3)
                if e.fields and e.fields[0][0].startswith("Parameter")
                else e.field("BlackoutTime")
            )
            try:
                blackout = float(value) if value is not None else None
            except ValueError:
                blackout = None
    edges = tuple(
        Edge(index[edge.a], index[edge.b], edge.reason)
        for edge in attempt.edges
        if edge.a in index and edge.b in index
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
        phases=_phases(events, times, catalog),
        coverage=_coverage(source, destination, started, ended, outcome, hosts_seen),
    )


def _phases(
    events: Sequence[Event], times: Sequence[datetime], catalog: Catalog
) -> tuple[Phase, ...]:
    open_: dict[tuple[str, str], datetime] = {}
    phases: list[Phase] = []
    for e, t in zip(events, times, strict=True):
        spec = catalog.spec(e.provider, e.event_id)
        if spec is None or spec.phase is None:
            continue
        name, edge = spec.phase
        if edge == "start":
            open_[(name, e.short_host)] = t
            continue
        seconds_text = e.param(spec.position("seconds") or 0) if spec.position("seconds") else None
        try:
            seconds = float(seconds_text) if seconds_text else None
        except ValueError:
            seconds = None
        phases.append(Phase(name, e.short_host, open_.pop((name, e.short_host), None), t, seconds))
    for (name, host), t in sorted(open_.items()):
        phases.append(Phase(name, host, t, None, None))
    return tuple(phases)


def _coverage(
    source: str | None,
    destination: str | None,
    started: datetime | None,
    ended: datetime | None,
    outcome: Outcome,
    hosts_seen: dict[str, set[str]],
) -> tuple[str, ...]:
    """Which side's logs are missing.  A destination logs nothing in VMMS-Admin when a
    migration succeeds, so a missing VMMS-Admin log only matters for attempts that did not
    succeed, or when the host supplied no events at all."""
    window = ""
    if started and ended:
        window = f" for {started:%H:%M:%S}–{ended:%H:%M:%S}"
    notes = []
    for role, host in (("source", source), ("destination", destination)):
        if host is None:
            notes.append(f"{role} host unknown: no event names it")
            continue
        channels = hosts_seen.get(host, set())
        has_vmms = any(c.endswith("VMMS-Admin") for c in channels)
        if not channels or (not has_vmms and outcome != Outcome.SUCCEEDED):
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
            for _, delta in sorted(points, key=lambda p: (p[0], p[1])):
                running += delta
                best = max(best, running)
            peak[m.id] = best
    return [replace(m, concurrent=peak.get(m.id, 0)) for m in migrations]
