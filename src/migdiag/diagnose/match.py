"""Evaluate one signature against one migration: which events satisfy which clause."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from migdiag.catalog import Catalog
from migdiag.diagnose.signature import Clause, Matcher, Signature
from migdiag.model import Event, Migration, Outcome, Side
from migdiag.normalise import normalise_text


@dataclass(frozen=True, slots=True)
class Hit:
    """A clause and the events that satisfied it (in migration order)."""

    clause: Clause
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class Match:
    signature: Signature
    hits: tuple[Hit, ...]
    raised: tuple[Hit, ...] = ()
    lowered: tuple[Hit, ...] = ()

    @property
    def confidence(self) -> float:
        delta = sum(h.clause.delta for h in self.raised) - sum(h.clause.delta for h in self.lowered)
        return round(min(0.99, max(0.05, self.signature.confidence + delta)), 2)


@lru_cache(maxsize=65536)  # messages repeat across a fleet; bounded so memory stays flat
def _norm(text: str) -> str:
    return normalise_text(text)


def _provider_ok(event: Event, provider: str | None, catalog: Catalog) -> bool:
    if provider is None:
        return True
    wanted = catalog.providers.get(provider, provider)
    return event.provider.lower() == wanted.lower()


def _field_ok(event: Event, key: str, needle: str) -> bool:
    value = (
        event.param(int(key[1:])) if key.startswith("%") and key[1:].isdigit() else event.field(key)
    )
    return value is not None and _norm(needle) in _norm(value)


def matcher_ok(m: Matcher, event: Event, catalog: Catalog) -> bool:
    if not _provider_ok(event, m.provider, catalog):
        return False
    if m.ids and event.event_id not in m.ids:
        return False
    codes = set(event.error_codes)
    if any(c not in codes for c in m.codes):
        return False
    if m.codes_any and not any(c in codes for c in m.codes_any):
        return False
    if m.fragments or m.fragments_any:
        text = _norm(event.message or "")
        if any(_norm(f) not in text for f in m.fragments):
            return False
        if m.fragments_any and not any(_norm(f) in text for f in m.fragments_any):
            return False
    return all(_field_ok(event, k, v) for k, v in m.fields)


def clause_ok(c: Clause, event: Event, migration: Migration, catalog: Catalog) -> bool:
    if c.side is not Side.ANY and migration.side_of(event) is not c.side:
        return False
    if not matcher_ok(c.base, event, catalog):
        return False
    return not c.one_of or any(matcher_ok(m, event, catalog) for m in c.one_of)


def _hits(
    clauses: Sequence[Clause], events: Sequence[Event], migration: Migration, catalog: Catalog
) -> list[Hit]:
    out = []
    for clause in clauses:
        found = tuple(e for e in events if clause_ok(clause, e, migration, catalog))
        if found:
            out.append(Hit(clause, found))
    return out


def _times(migration: Migration) -> dict[int, datetime]:
    """Corrected time per event (by identity), falling back to the logged time."""
    if len(migration.corrected_times) == len(migration.events):
        return {id(e): t for e, t in zip(migration.events, migration.corrected_times, strict=True)}
    return {id(e): e.time for e in migration.events}


def applies(signature: Signature, migration: Migration) -> bool:
    if signature.applies_to == "failed":
        return migration.outcome is Outcome.FAILED
    if signature.applies_to == "succeeded":
        return migration.outcome is Outcome.SUCCEEDED
    return True


def failure_time(migration: Migration) -> datetime | None:
    if migration.ended is not None:
        return migration.ended
    times = migration.corrected_times or tuple(e.time for e in migration.events)
    return max(times) if times else None


def context_events(
    migration: Migration, context: Sequence[Event], window_s: float
) -> tuple[Event, ...]:
    """Both hosts' events around the attempt (the migration's own included)."""
    hosts = {h for h in (migration.source, migration.destination) if h}
    end = failure_time(migration)
    start = migration.started or end
    if end is None or start is None:
        return migration.events
    lo, hi = start - timedelta(seconds=window_s), end + timedelta(seconds=window_s)
    seen = set(migration.events)  # equal copies of an event are one event
    extra = tuple(
        e for e in context if e not in seen and e.short_host in hosts and lo <= e.time <= hi
    )
    return migration.events + extra


def evaluate(
    signature: Signature, migration: Migration, catalog: Catalog, context: Sequence[Event]
) -> Match | None:
    """The match, or None when any requirement fails."""
    if not applies(signature, migration):
        return None
    events = migration.events
    hits = []
    for clause in signature.require:
        # Most signatures fail on their first requirement: stop there.
        found = tuple(e for e in events if clause_ok(clause, e, migration, catalog))
        if not found:
            return None
        hits.append(Hit(clause, found))
    if _hits(signature.absent, events, migration, catalog):
        return None
    for attr, rng in signature.migration:
        if not rng.holds(getattr(migration, attr)):
            return None
    times = _times(migration)
    first = {h.clause.name: min(times.get(id(e), e.time) for e in h.events) for h in hits}
    for seq in signature.sequence:
        stamps = [first[name] for name in seq]
        if stamps != sorted(stamps):
            return None
    for w in signature.within:
        gap = abs((first[w.then] - first[w.first]).total_seconds())
        if gap > w.seconds:
            return None
    around = context_events(migration, context, signature.window_s)
    return Match(
        signature=signature,
        hits=tuple(hits),
        raised=tuple(_hits(signature.raises, around, migration, catalog)),
        lowered=tuple(_hits(signature.lowers, around, migration, catalog)),
    )
