"""Step 2: clock skew per host pair, from segments of one VM on two hosts, chained across
hosts from a reference clock."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from migdiag.correlate.facts import AGREE_S, HOST_DELAY, SKEW_SEARCH, Facts, Segment
from migdiag.correlate.segments import span_gap
from migdiag.model import SkewEstimate

# ---- 2. clock skew ---------------------------------------------------------------------------


def pair_segments(
    segments: Sequence[Segment], span: dict[int, tuple[datetime, datetime]], slack: float
) -> list[tuple[Segment, Segment]]:
    """(source segment, other host's segment) of one VM whose spans (given per segment
    index) lie within ``slack`` seconds; each non-source segment takes its nearest source."""
    by_vm: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(segments):
        by_vm[s.vm].append(i)
    pairs: list[tuple[Segment, Segment]] = []
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
                gap = span_gap(*span[j], *span[i])
                if gap > slack:
                    continue
                key = (gap, abs((span[i][0] - span[j][0]).total_seconds()), span[j][0], j)
                if best is None or key < best:
                    best = key
            if best is not None:
                pairs.append((segments[best[3]], s))
    return pairs


def estimate_skew(
    facts: Facts, segments: Sequence[Segment], tolerance: timedelta
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
    for src, dst in pair_segments(segments, raw, slack):
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
    by group of connected hosts (ordered by their sorted names), breadth-first from each
    group's reference (the host with the most events; the first by name on a tie).  ``pairs``
    name two hosts each, in either order.

    A host's neighbours are visited in the order their first pair named them: the walk
    networkx's ``bfs_edges`` makes over a ``Graph`` built from ``pairs`` (the tests compare
    with it), in plain Python because a fleet has at most a few hundred hosts and importing
    networkx cost ~0.17 s of every analysis of three or more hosts."""
    if len(pairs) == 1:
        # The usual case, a source and a destination: nothing to walk.
        [(a, b)] = pairs
        reference = max(sorted((a, b)), key=lambda h: counts[h])
        return [(reference, reference, b if reference == a else a)]
    # Dicts as ordered sets: a repeated pair keeps the place its first mention gave it.
    neighbours: dict[str, dict[str, None]] = {}
    for a, b in pairs:
        neighbours.setdefault(a, {})[b] = None
        neighbours.setdefault(b, {})[a] = None
    components: list[list[str]] = []
    grouped: set[str] = set()
    for host in neighbours:
        if host not in grouped:
            component = [host] + [child for _, child in _bfs_edges(host, neighbours)]
            grouped.update(component)
            components.append(component)
    chained: list[tuple[str, str, str]] = []
    for component in sorted(components, key=lambda c: sorted(c)):
        reference = max(sorted(component), key=lambda h: counts[h])
        chained += [(reference, p, c) for p, c in _bfs_edges(reference, neighbours)]
    return chained


def _bfs_edges(start: str, neighbours: Mapping[str, Mapping[str, None]]) -> list[tuple[str, str]]:
    """``(parent, child)`` for every host reached from ``start``, breadth-first."""
    reached = {start}
    queue = [start]
    edges: list[tuple[str, str]] = []
    for parent in queue:  # grows while it is walked
        for child in neighbours[parent]:
            if child not in reached:
                reached.add(child)
                queue.append(child)
                edges.append((parent, child))
    return edges


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
