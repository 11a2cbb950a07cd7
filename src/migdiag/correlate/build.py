"""Step 5: attempts -> ``Migration`` objects: outcome, blackout, phases, coverage, concurrency."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from migdiag.correlate.attempts import has_vmms_admin
from migdiag.correlate.facts import (
    BLACKOUT_EVENTS,
    FAILURE_KINDS,
    IN_PROGRESS_HORIZON,
    OWN_SUCCESS_EVENTS,
    SUCCESS_KINDS,
    VMMS_START,
    Attempt,
    Facts,
)
from migdiag.model import Edge, Migration, Outcome, Phase

# ---- 5. attempts -> migrations -------------------------------------------------------------


def build_migration(
    members: list[int],
    attempt: Attempt,
    facts: Facts,
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
        key = facts.keys[p]
        if e.vm_name:
            any_name = any_name or e.vm_name
            if key == VMMS_START:
                start_name = start_name or e.vm_name
        vm_id = vm_id or e.vm_id or None
        if "." in e.host:
            fqdn[hosts[p]] = e.host
        failed = failed or kind in FAILURE_KINDS
        succeeded = succeeded or kind in SUCCESS_KINDS or key in OWN_SUCCESS_EVENTS
        if key in BLACKOUT_EVENTS:
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


def _ambiguity_notes(attempt: Attempt, facts: Facts) -> tuple[str, ...]:
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
    members: Sequence[int], facts: Facts, corrected: Sequence[datetime]
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
    facts: Facts,
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
        if not channels:
            notes.append(f"{role} {host}: no logs of {host} were supplied")
        # The outcome first: most attempts succeed, and then the channels do not matter.
        elif outcome != Outcome.SUCCEEDED and not has_vmms_admin(channels):
            # Formatted only here: two strftime calls per attempt added up on a fleet.
            window = f" for {started:%H:%M:%S}–{ended:%H:%M:%S}" if started and ended else ""
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


def with_concurrency(migrations: list[Migration]) -> list[Migration]:
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
