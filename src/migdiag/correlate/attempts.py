"""Steps 3 and 4: segments joined into attempts on corrected time, then the events that name
no VM attributed to the attempt they belong to (or to each, with an ambiguity note)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from migdiag.catalog import EventSpec
from migdiag.correlate.facts import (
    AMBIGUITY_MARGIN,
    FAIL_AFTER,
    FAIL_BEFORE,
    FAILURE_KINDS,
    HOST_DELAY,
    Attempt,
    EventKey,
    Facts,
    Segment,
)
from migdiag.correlate.segments import vm_label
from migdiag.correlate.skew import pair_segments
from migdiag.model import Event

# ---- 3. segments -> attempts ---------------------------------------------------------------


def join_segments(
    facts: Facts, segments: Sequence[Segment], corrected: Sequence[datetime], tolerance: timedelta
) -> list[Attempt]:
    span = {i: (corrected[s.members[0]], corrected[s.members[-1]]) for i, s in enumerate(segments)}
    slack = (tolerance + HOST_DELAY).total_seconds()
    joined: dict[int, list[Segment]] = {}
    index = {id(s): i for i, s in enumerate(segments)}
    for src, other in pair_segments(segments, span, slack):
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
        group: list[Segment] = []
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


def _attempt(group: list[Segment], facts: Facts, corrected: Sequence[datetime]) -> Attempt:
    ordered, kinds = facts.events, facts.kinds
    attempt = Attempt(segments=group)
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
        vm = vm_label(ordered[first])
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


def attach_anonymous(
    facts: Facts,
    keys: Sequence[str | None],
    attempts: Sequence[Attempt],
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
    attempt: Attempt, pos: int, facts: Facts, corrected: Sequence[datetime], slack: float
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
    scored: list[tuple[float, int]], attempts: Sequence[Attempt], codes: tuple[str, ...]
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
    scored: list[tuple[float, int]], attempts: Sequence[Attempt], pos: int, facts: Facts
) -> list[tuple[float, int]]:
    """Keep the attempts that share the anonymous event's process (a Worker process runs one
    VM) or, for other providers, its thread (VMMS events of one operation often share one),
    when any does: ``Execution`` facts from the record, compared on the same host only."""
    e, host = facts.events[pos], facts.hosts[pos]
    if e.process_id is None or len(scored) < 2:
        return scored
    by_process = e.provider.lower().endswith("-worker")

    def shares(attempt: Attempt) -> bool:
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
    attempt: Attempt,
    pos: int,
    e: Event,
    reason: str,
    facts: Facts,
    corrected: Sequence[datetime],
) -> None:
    # Hang it from the member the catalog says follows it on the same host (22038 is
    # followed by 21018 and 21024), else from the nearest member in time.
    host, t = facts.hosts[pos], corrected[pos]
    gap = {m: (abs((corrected[m] - t).total_seconds()), m) for m in attempt.members}
    key = facts.keys[pos]
    followers = [
        m for m in attempt.members if facts.hosts[m] == host and key in _follows(facts.specs[m])
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


def has_vmms_admin(channels: set[str]) -> bool:
    return any(c.endswith("VMMS-Admin") for c in channels)
