"""A host's UTC offset, inferred from its own records seen twice: once in local time, once in UTC.

Lists, tables and CSV files print local time with no zone; an EVTX, an XML export or a JSON
of the same host carries UTC.  When both hold the same record (same host and event id, and
the same record id, or the same message where a record id is missing), the difference
between the two times is the host's offset, to the second, on a quarter-hour grid.  The
offset most matched records agree on is applied to every local-time event of that host in
that input, and the input's report says so.  A per-host ``--utc-offset`` is the user's word
and is never overridden; without a match the reader's own note (the offset it used) stands.

Runs on all events after reading and before deduplication (``api``), so that a record given
both ways then counts once.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from migdiag.model import Event, short_host
from migdiag.readers.localtime import TimeOptions

QUARTER = timedelta(minutes=15)
TOLERANCE = timedelta(seconds=1.5)  # local exports print whole seconds
MAX_OFFSET = timedelta(hours=14)
_ELLIPSES = ("...", "…")
MAX_CANDIDATES = 500  # records of one id within a day of a local one: enough to find its twin


def _text(message: str | None) -> str:
    text = " ".join((message or "").split())
    for ellipsis in _ELLIPSES:
        text = text.removesuffix(ellipsis)
    return text


def _same(local: Event, exact: Event) -> bool:
    if local.record_id is not None and exact.record_id is not None:
        return local.record_id == exact.record_id
    a, b = _text(local.message), _text(exact.message)
    return bool(a) and (
        a == b or ((local.message or "").rstrip().endswith(_ELLIPSES) and b.startswith(a))
    )


def _vote(local: Event, candidates: Sequence[Event], times: Sequence[datetime]) -> set[timedelta]:
    votes = set()
    reach = MAX_OFFSET + TOLERANCE
    low = bisect_left(times, local.time - reach)
    high = bisect_right(times, local.time + reach)
    for exact in candidates[low : min(high, low + MAX_CANDIDATES)]:
        delta = exact.time - local.time
        quarters = round(delta / QUARTER)
        grid = quarters * QUARTER
        if abs(delta - grid) <= TOLERANCE and abs(grid) <= MAX_OFFSET and _same(local, exact):
            votes.add(grid)
    return votes


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def infer_offsets(
    events: Sequence[Event], options: TimeOptions
) -> tuple[list[Event], dict[str, list[str]]]:
    """``events`` with local times corrected per input and host where the host's UTC inputs
    show the offset, and the notes to add to each affected input's report (by input path).

    Per input, not only per host: ``Get-WinEvent -ComputerName`` prints the time in the
    zone of the machine that ran it, so two printouts of one host can differ."""
    given = {short_host(name) for name, _ in options.host_offsets}
    local: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, event in enumerate(events):
        if event.time_assumed and event.short_host and event.short_host not in given:
            local[(event.origin.path, event.short_host)].append(index)
    if not local:
        return list(events), {}  # the common case (EVTX only): one pass, nothing built
    hosts = {host for _, host in local}
    wanted = {(events[i].short_host, events[i].event_id) for same in local.values() for i in same}
    exact: dict[tuple[str, int], list[Event]] = defaultdict(list)
    for event in events:
        if not event.time_assumed and event.short_host in hosts:
            key = (event.short_host, event.event_id)
            if key in wanted:
                exact[key].append(event)
    if not exact:
        return list(events), {}
    for same in exact.values():
        same.sort(key=lambda e: e.time)
    times = {key: [e.time for e in same] for key, same in exact.items()}
    shifted = list(events)
    notes: dict[str, list[str]] = defaultdict(list)
    for (path, host), indexes in sorted(local.items()):
        votes: Counter[timedelta] = Counter()
        for index in indexes:
            event = events[index]
            key = (host, event.event_id)
            if key in exact:
                votes.update(_vote(event, exact[key], times[key]))
        if not votes:
            continue
        ranked = votes.most_common(2)
        best, count = ranked[0]
        if len(ranked) > 1 and ranked[1][1] == count:
            notes[path].append(
                f"{path}: {host}'s records in UTC inputs suggest more than one UTC offset for "
                f"its local times; kept the offset used (give --utc-offset {host}=+HH:MM)"
            )
            continue
        offset = options.offset_for(host) - best
        for index in indexes:
            event = events[index]
            moved: datetime = event.time + best
            shifted[index] = replace(event, time=moved)
        notes[path].append(
            f"{path}: local times of {host} read as {_offset_text(offset)} instead: the offset "
            f"inferred from {count} record(s) that {host}'s UTC inputs (EVTX, XML, JSON) also "
            "hold"
        )
    return shifted, dict(notes)


__all__ = ["infer_offsets"]
