"""Step 1: events -> segments, one host's part of one VM's attempt, in that host's time order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from migdiag.catalog import EventSpec
from migdiag.correlate.facts import (
    CLUSTER_MOVE,
    IN_PROGRESS_HORIZON,
    SKEW_MARKS,
    START_EVENTS,
    START_KINDS,
    START_MERGE,
    SUCCESS_KINDS,
    TAIL_GRACE,
    TERMINAL_EVENTS,
    VMMS_START,
    EventKey,
    Facts,
    Segment,
)
from migdiag.model import Event

# ---- 1. segments: one host's part of one attempt --------------------------------------------


def segments_of(facts: Facts, keys: Sequence[str | None]) -> list[Segment]:
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
    segments: list[Segment] = []
    for vm, host in sorted(groups):
        current: Segment | None = None
        for pos in groups[(vm, host)]:
            e = ordered[pos]
            if current is None or _cuts(current, e, facts.keys[pos], kinds[pos]):
                current = Segment(vm=vm, host=host)
                segments.append(current)
            _add(current, pos, facts)
    return segments


def _is_start(key: EventKey, kind: str) -> bool:
    return key in START_EVENTS or kind in START_KINDS


def _cuts(segment: Segment, e: Event, key: EventKey, kind: str) -> bool:
    """Whether ``e`` (``key`` is its key) begins a new attempt on this host rather than
    continuing ``segment``."""
    assert segment.last is not None
    gap = e.time - segment.last
    if gap > IN_PROGRESS_HORIZON:
        return True
    if _is_start(key, kind):
        if segment.ended:
            return True
        # A second start of the same kind: the first attempt never logged its end.
        seen = segment.starts.get(key)
        if seen is not None and e.time - seen > START_MERGE:
            return True
    return segment.ended and gap > TAIL_GRACE


def _add(segment: Segment, pos: int, facts: Facts) -> None:
    e, spec, kind, key = facts.events[pos], facts.specs[pos], facts.kinds[pos], facts.keys[pos]
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


def _predecessor(segment: Segment, spec: EventSpec | None) -> int:
    """The member this event hangs from: the latest event the catalog says it follows,
    else the latest member."""
    if spec is not None and spec.follows:
        found = [segment.latest[i] for i in spec.follows if i in segment.latest]
        if found:
            return segment.members[max(found)]
    return segment.members[-1]


def _reason(facts: Facts, prev_pos: int, pos: int) -> str:
    prev, e, spec = facts.events[prev_pos], facts.events[pos], facts.specs[pos]
    vm = vm_label(e)
    if spec is not None and facts.keys[prev_pos] in spec.follows:
        return (
            f"{e.event_id} follows {prev.event_id} in a migration (on the same host; catalog rule)"
        )
    if facts.cluster_vm[pos]:
        return f"the cluster's {e.event_id} names VM {vm} (its resource 'Virtual Machine {vm}')"
    return f"same VM {vm} on {facts.hosts[pos]}"


def vm_label(e: Event) -> str:
    return e.vm_name or e.vm_id or "?"


def span_gap(a_first: datetime, a_last: datetime, b_first: datetime, b_last: datetime) -> float:
    """Seconds between two time spans; 0 when they overlap."""
    return max(0.0, (b_first - a_last).total_seconds(), (a_first - b_last).total_seconds())
