"""Correlated migrations -> drains: the evacuation of a host judged as a whole.

The grouping rule (docs/reports.md shows it to users): migrations are taken per source host in
order of their first transfer event (20413, else their first event).  A migration joins the
drain running on its source when it starts less than ``DRAIN_GAP`` (60 s) after every earlier
migration of that drain has ended, or while one still runs; a longer quiet gap opens a new
drain.  Destinations may differ (a node evacuation spreads VMs over the cluster).  A drain has
at least two migrations: a lone move is judged by the signatures alone.

Drains are computed from ``Migration`` objects, never from raw events, by a sort and one pass
per source.  (A pandas DataFrame grouped them, but importing pandas cost ~0.3 s of CPU on
every fleet analysis, competing with the readers for the cores; the tests keep it as the
oracle the plain grouping is compared with.)

Speed findings are data (``speed_rules/``) evaluated by ``migdiag.speed`` on the figures
computed here.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from migdiag.catalog import default_catalog
from migdiag.model import Drain, DrainMember, Event, Migration, Outcome, SpeedFacts, short_host

DRAIN_GAP = timedelta(seconds=60)
MIGRATION_LIMIT_CODE = "0x800700AA"  # E_BUSY: more migrations than the host allows at once
# 21501's verified text (its payload order is a guess: the migration-limit signature says so).
MIGRATION_LIMIT_TEXT = "migration limit"


def find_drains(
    migrations: Sequence[Migration],
    memory_bytes: Mapping[str, int] | None = None,
    facts: Mapping[str, SpeedFacts] | None = None,
) -> tuple[Drain, ...]:
    """Group migrations into drains and measure each; ``memory_bytes`` maps a VM's id or name
    to its memory size, ``facts`` a source host's short name to what is known of its link."""
    # VM ids (GUIDs, with or without braces) and names match whatever their case.
    sizes = {k.strip("{}").upper(): v for k, v in (memory_bytes or {}).items()}
    members = [
        (m.source, _member(m, sizes)) for m in migrations if m.source and m.started and m.ended
    ]
    known = {short_host(h): f for h, f in (facts or {}).items()}
    drains = [_drain(source, group, known.get(source)) for source, group in drain_groups(members)]
    drains.sort(key=in_order)
    return tuple(drains)


def in_order(drain: Drain) -> tuple[datetime, str]:
    """The order drains are reported in: by start, then source host (``find_drains``'s, and
    that of drains found apart for independent groups of hosts and put together)."""
    return (drain.start, drain.source)


def drain_groups(
    members: Sequence[tuple[str, DrainMember]],
) -> list[tuple[str, list[DrainMember]]]:
    """``(source host, members)`` of each drain of two migrations or more, per source in
    order of start: a migration opens a new drain when it is its source's first or starts
    more than ``DRAIN_GAP`` after every earlier migration of that source has ended."""
    ordered = sorted(members, key=lambda sm: (sm[0], sm[1].transfer_started, sm[1].migration_id))
    groups: list[tuple[str, list[DrainMember]]] = []
    latest_end: datetime | None = None  # of the earlier migrations of the current source
    for source, member in ordered:
        if not groups or groups[-1][0] != source:
            latest_end = None
        if latest_end is None or member.transfer_started - latest_end > DRAIN_GAP:
            groups.append((source, []))
        groups[-1][1].append(member)
        latest_end = member.ended if latest_end is None else max(latest_end, member.ended)
    return [(source, group) for source, group in groups if len(group) >= 2]


# Keyed on (provider, id), as Windows' tables define them: the source's 20413 starts the
# transfer; the Worker's 22509 carries the blackout's dirty pages and saved-state size.
_TRANSFER_START = ("microsoft-windows-hyper-v-vmms", 20413)
_BLACKOUT_FIGURES = ("microsoft-windows-hyper-v-worker", 22509)


def _member(m: Migration, memory_bytes: Mapping[str, int]) -> DrainMember:
    assert m.started and m.ended
    transfer = next(
        (
            t
            for e, t in zip(m.events, m.corrected_times, strict=False)
            if (e.provider.lower(), e.event_id) == _TRANSFER_START and e.short_host == m.source
        ),
        m.started,
    )
    offline = next((p.started for p in m.phases if p.name == "offline" and p.started), None)
    ended = _ended(m)
    memory = None
    for key in (m.vm_id, (m.vm_name or "").upper()):
        if key and key in memory_bytes:
            memory = memory_bytes[key]
            break
    refused = m.outcome is Outcome.FAILED and any(
        MIGRATION_LIMIT_CODE in e.error_codes or MIGRATION_LIMIT_TEXT in (e.message or "")
        for e in m.events
    )
    dirty_pages, saved_state_kb = _blackout_figures(m)
    return DrainMember(
        migration_id=m.id,
        vm_name=m.vm_name,
        destination=m.destination,
        outcome=m.outcome,
        requested=m.started,
        transfer_started=transfer,
        ended=ended,
        blackout_at=offline,
        blackout_s=m.blackout_s,
        concurrency=1.0,
        memory_bytes=memory,
        refused=refused,
        dirty_pages=dirty_pages,
        saved_state_kb=saved_state_kb,
    )


def _blackout_figures(m: Migration) -> tuple[int | None, int | None]:
    """Dirty pages and saved-state KB from the Worker's 22509, where logged."""
    for e in m.events:
        if (e.provider.lower(), e.event_id) == _BLACKOUT_FIGURES:
            # Element names on newer builds are not published: by name where given, else
            # by position (%3 dirty pages, %4 KB of saved state).
            pages = e.field("DirtyPages") or e.param(3)
            state = e.field("SavedStateSize") or e.param(4)
            try:
                return (
                    int(pages.replace(",", "")) if pages else None,
                    int(state.replace(",", "")) if state else None,
                )
            except ValueError:
                return None, None
    return None, None


# Events that end an attempt, by what the catalog says they mean (as correlation cuts
# attempts); a failed attempt is over at its first.
_TERMINAL_KINDS = frozenset(
    {"lm-success", "failed-at-source", "failed-at-destination", "ha-failed", "lm-cancelled"}
)
_TAIL = timedelta(seconds=1)


def _terminal(e: Event) -> bool:
    spec = default_catalog().spec(e.provider, e.event_id)
    return spec is not None and (
        spec.kind in _TERMINAL_KINDS or spec.phase == ("source", "end")  # HA 21301
    )


def _ended(m: Migration) -> datetime:
    """When the attempt stopped using the link: its last event, or for a failed attempt the
    last event up to a second after its first terminal one (a retry's first events that
    correlation kept with the failed attempt must not stretch it over the retry)."""
    assert m.ended
    if m.outcome is not Outcome.FAILED:
        return m.ended
    first = min(
        (t for e, t in zip(m.events, m.corrected_times, strict=False) if _terminal(e)),
        default=None,
    )
    if first is None:
        return m.ended
    return max(t for t in m.corrected_times if t <= first + _TAIL)


def _steps(members: Sequence[DrainMember]) -> list[tuple[datetime, int]]:
    """Running migrations over time: the count from each change on (ends before starts when
    they coincide, so that back-to-back moves on one slot do not count as two).

    A drain is a handful of migrations: plain sorting, not a DataFrame per drain (pandas
    cost ~3 ms a drain in overhead, 0.8 s over a 250-drain fleet)."""
    changes = sorted([(m.transfer_started, 1) for m in members] + [(m.ended, -1) for m in members])
    running = 0
    counts: dict[datetime, int] = {}
    for time, delta in changes:
        running += delta
        counts[time] = running  # the count once every change at this time is applied
    return list(counts.items())


def _effective_concurrency(
    steps: Sequence[tuple[datetime, int]], members: Sequence[DrainMember]
) -> list[float]:
    """Each migration's effective concurrency: the harmonic mean of the running count over
    its transfer, time-weighted.  A migration sharing a full link gets ``1/k`` of it while
    ``k`` run, so this is the ``k`` that gives the share it had on average (an arithmetic
    mean would overstate it for moves that ran partly in a busy and partly in a quiet time).

    Whole-table: the running integral of ``1/k`` over the drain, read at every start and end
    (a loop over steps per migration is quadratic in a fleet-sized drain).  Plain floats, in
    the order numpy's cumulative sum took them (numpy did this once: importing it cost ~0.1 s
    of every fleet analysis, for a few thousand additions)."""
    if not steps:
        return [1.0] * len(members)
    origin = steps[0][0]
    at = [(t - origin).total_seconds() for t, _ in steps]
    inverse = [1.0 / n if n > 0 else 0.0 for _, n in steps]
    # integral[i]: the integral of 1/k from the first change to change i.
    integral = [0.0]
    for i in range(len(at) - 1):
        integral.append(integral[-1] + inverse[i] * (at[i + 1] - at[i]))

    def integral_at(t: float) -> float:
        i = min(max(bisect_right(at, t) - 1, 0), len(at) - 1)
        return integral[i] + inverse[i] * (t - at[i])

    out = []
    for m in members:
        start = (m.transfer_started - origin).total_seconds()
        end = (m.ended - origin).total_seconds()
        span, share = end - start, integral_at(end) - integral_at(start)
        out.append(max(1.0, span / share) if span > 0 and share > 0 else 1.0)
    return out


def _quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _drain(source: str, members: list[DrainMember], facts: SpeedFacts | None) -> Drain:
    from dataclasses import replace

    from migdiag.speed import evaluate

    members.sort(key=lambda m: (m.transfer_started, m.migration_id))
    steps = _steps(members)
    members = [
        replace(m, concurrency=round(k, 3))
        for m, k in zip(members, _effective_concurrency(steps, members), strict=True)
    ]
    start = min(m.transfer_started for m in members)
    end = max(m.ended for m in members)
    done = [m for m in members if m.outcome is Outcome.SUCCEEDED]
    durations = [m.duration_s for m in done]
    blackouts = [m.blackout_s for m in done if m.blackout_s is not None]
    sizes = [m.memory_bytes for m in done]
    moved = sum(s for s in sizes if s is not None) if sizes and None not in sizes else None
    wall = (end - start).total_seconds()
    ident = hashlib.sha1(f"{source}|{start.isoformat()}".encode()).hexdigest()[:10]
    drain = Drain(
        id=f"d-{ident}",
        source=source,
        destinations=tuple(sorted({m.destination for m in members if m.destination})),
        start=start,
        end=end,
        members=tuple(members),
        max_concurrent=max((n for _, n in steps), default=1),
        concurrency=tuple(steps),
        median_duration_s=_quantile(durations, 0.5),
        p95_duration_s=_quantile(durations, 0.95),
        median_blackout_s=_quantile(blackouts, 0.5),
        max_blackout_s=max(blackouts) if blackouts else None,
        queued_s=round(sum(max(0.0, m.queued_s) for m in members), 3),
        refusals=sum(1 for m in members if m.refused),
        memory_bytes=moved,
        gbps=moved * 8 / wall / 1e9 if moved is not None and wall > 0 else None,
        facts=facts or SpeedFacts(),
    )
    return replace(drain, findings=evaluate(drain))
