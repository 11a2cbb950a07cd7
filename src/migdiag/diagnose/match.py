"""Evaluate signatures against one migration: which events satisfy which clause.

A fleet's diagnosis asks every signature about every attempt, so the work is split in two:

- ``compile_signature`` turns a signature into a ``SignaturePlan`` once per library and
  catalog: providers resolved and lower-cased, fragments and field needles normalised, ids
  as sets, and the event ids and error codes each requirement needs.
- ``Subject`` prepares one migration once per diagnosis: the event ids and error codes it
  logged, so that a signature needing one it lacks is dropped without looking at an event.

Every shortcut is exact: a plan accepts an event if and only if the YAML's clause does.
"""

from __future__ import annotations

import re
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


def _param_position(key: str) -> int | None:
    """``%3`` names the third insertion by position; any other key is a field name."""
    return int(key[1:]) if key.startswith("%") and key[1:].isdigit() else None


# Normalising a message costs a dozen microseconds (quotes, contractions, whitespace, case):
# a fragment is looked for in every event of every attempt, so a cheap necessary test on the
# lower-cased message comes first.  normalise_text lower-cases, unifies quotes, folds
# whitespace and expands negative contractions; none of that puts a run of ASCII letters or
# digits into the text that text.lower() lacks, except inside the words an expansion writes.
# So every such word of a normalised fragment that is no part of those words must already be
# in the lower-cased message.
_WORD = re.compile(r"[a-z0-9]+")
_EXPANSION_WORDS = ("cannot", "will")  # "not" is part of "cannot"


def _needed_words(fragments: Sequence[str]) -> tuple[str, ...]:
    words = {
        w
        for f in fragments
        for w in _WORD.findall(f)
        if not any(w in written for written in _EXPANSION_WORDS)
    }
    return tuple(sorted(words, key=lambda w: (-len(w), w)))  # the longest reject soonest


@dataclass(frozen=True, slots=True)
class MatcherPlan:
    """A ``Matcher`` with everything that does not depend on the event worked out."""

    provider: str | None  # the full provider name, lower-cased; None: any provider
    ids: frozenset[int]
    codes: tuple[str, ...]
    codes_any: frozenset[str]
    fragments: tuple[str, ...]  # normalised like the messages they are looked for in
    fragments_any: tuple[str, ...]
    fields: tuple[tuple[int | None, str, str], ...]  # (%n position, name, normalised needle)
    words: tuple[str, ...]  # what the lower-cased message must hold for ``fragments``

    def ok(self, event: Event) -> bool:
        # Cheap, selective tests first: the id alone rejects almost every event.  Every test
        # is pure, so their order cannot change the answer.
        if self.ids and event.event_id not in self.ids:
            return False
        if self.provider is not None and event.provider.lower() != self.provider:
            return False
        # Plain loops rather than any(): this runs for every event of every attempt.
        codes = event.error_codes
        for code in self.codes:
            if code not in codes:
                return False
        if self.codes_any and self.codes_any.isdisjoint(codes):
            return False
        if self.fragments or self.fragments_any:
            message = event.message or ""
            if self.words:
                lowered = message.lower()
                for word in self.words:
                    if word not in lowered:
                        return False
            text = _norm(message)
            if any(f not in text for f in self.fragments):
                return False
            if self.fragments_any and not any(f in text for f in self.fragments_any):
                return False
        for position, name, needle in self.fields:
            value = event.param(position) if position is not None else event.field(name)
            if value is None or needle not in _norm(value):
                return False
        return True


def compile_matcher(m: Matcher, catalog: Catalog) -> MatcherPlan:
    provider = None
    if m.provider is not None:
        provider = catalog.providers.get(m.provider, m.provider).lower()
    fragments = tuple(_norm(f) for f in m.fragments)
    return MatcherPlan(
        provider=provider,
        ids=frozenset(m.ids),
        codes=m.codes,
        codes_any=frozenset(m.codes_any),
        fragments=fragments,
        fragments_any=tuple(_norm(f) for f in m.fragments_any),
        fields=tuple((_param_position(k), k, _norm(v)) for k, v in m.fields),
        words=_needed_words(fragments),
    )


@dataclass(frozen=True, slots=True)
class ClausePlan:
    clause: Clause
    side: Side | None  # None: an event of either host (or of neither) will do
    ids: frozenset[int] | None  # every event the clause can accept has one of these ids
    base: MatcherPlan | None  # None: the shared constraints are empty (only ``one_of``)
    one_of: tuple[MatcherPlan, ...]
    codes: frozenset[str]  # the shared constraints' codes: all must be logged
    codes_any: frozenset[str]  # ... and one of these

    def possible(self, subject: Subject) -> bool:
        """False when no event of the migration can satisfy the clause: an id or an error
        code it needs is logged by none of them."""
        if self.ids is not None and self.ids.isdisjoint(subject.ids):
            return False
        if self.codes and not self.codes <= subject.codes:
            return False
        return not self.codes_any or not self.codes_any.isdisjoint(subject.codes)

    def select(self, events: Sequence[Event], migration: Migration) -> tuple[Event, ...]:
        """The events (in their given order) that satisfy the clause."""
        ids, side, base, one_of = self.ids, self.side, self.base, self.one_of
        found = []
        for event in events:
            if ids is not None and event.event_id not in ids:
                continue
            if side is not None and migration.side_of(event) is not side:
                continue
            if base is not None and not base.ok(event):
                continue
            if one_of:
                for alternative in one_of:
                    if alternative.ok(event):
                        found.append(event)
                        break
            else:
                found.append(event)
        return tuple(found)


def compile_clause(c: Clause, catalog: Catalog) -> ClausePlan:
    if c.base.ids:
        ids: frozenset[int] | None = frozenset(c.base.ids)
    elif c.one_of and all(m.ids for m in c.one_of):
        # Each alternative names its ids: an event with none of them satisfies no alternative.
        ids = frozenset(i for m in c.one_of for i in m.ids)
    else:
        ids = None
    return ClausePlan(
        clause=c,
        side=None if c.side is Side.ANY else c.side,
        ids=ids,
        base=None if c.base == Matcher() else compile_matcher(c.base, catalog),
        one_of=tuple(compile_matcher(m, catalog) for m in c.one_of),
        codes=frozenset(c.base.codes),
        codes_any=frozenset(c.base.codes_any),
    )


def applies(signature: Signature, outcome: Outcome) -> bool:
    """Whether the signature judges attempts with this outcome (``applies_to``)."""
    if signature.applies_to == "failed":
        return outcome is Outcome.FAILED
    if signature.applies_to == "succeeded":
        return outcome is Outcome.SUCCEEDED
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
    # The window first: it is the cheapest test and rejects most of the context.  Hashing a
    # whole record is costly: only an event logged at the same instant as one of the
    # migration's can equal it, and a datetime caches its hash.
    seen_times = {e.time for e in migration.events}
    extra = tuple(
        e
        for e in context
        if lo <= e.time <= hi
        and e.short_host in hosts
        and (e.time not in seen_times or e not in seen)
    )
    return migration.events + extra


class Subject:
    """One migration prepared once for every signature of its diagnosis."""

    __slots__ = ("_around", "_times", "codes", "context", "ids", "migration")

    def __init__(self, migration: Migration, context: Sequence[Event]) -> None:
        self.migration = migration
        self.context = context
        self.ids = frozenset(e.event_id for e in migration.events)
        self.codes = frozenset(c for e in migration.events for c in e.error_codes)
        self._times: dict[int, datetime] | None = None
        self._around: dict[float, tuple[Event, ...]] = {}

    def times(self) -> dict[int, datetime]:
        """Corrected time per event (by identity), falling back to the logged time."""
        if self._times is None:
            m = self.migration
            if len(m.corrected_times) == len(m.events):
                self._times = {id(e): t for e, t in zip(m.events, m.corrected_times, strict=True)}
            else:
                self._times = {id(e): e.time for e in m.events}
        return self._times

    def around(self, window_s: float) -> tuple[Event, ...]:
        """``context_events`` for this window (signatures share windows)."""
        got = self._around.get(window_s)
        if got is None:
            got = self._around[window_s] = context_events(self.migration, self.context, window_s)
        return got


def _hits(
    clauses: Sequence[ClausePlan], events: Sequence[Event], migration: Migration
) -> list[Hit]:
    out = []
    for clause in clauses:
        found = clause.select(events, migration)
        if found:
            out.append(Hit(clause.clause, found))
    return out


@dataclass(frozen=True, slots=True)
class SignaturePlan:
    signature: Signature
    require: tuple[ClausePlan, ...]
    absent: tuple[ClausePlan, ...]
    raises: tuple[ClausePlan, ...]
    lowers: tuple[ClausePlan, ...]

    def evaluate(self, subject: Subject) -> Match | None:
        """The match, or None when any requirement fails."""
        sig, migration = self.signature, subject.migration
        if not applies(sig, migration.outcome):
            return None
        # Every test below only rejects, and none has side effects: the cheapest go first.
        if not all(clause.possible(subject) for clause in self.require):
            return None
        for attr, rng in sig.migration:
            if not rng.holds(getattr(migration, attr)):
                return None
        events = migration.events
        hits = []
        for clause in self.require:
            found = clause.select(events, migration)
            if not found:
                return None
            hits.append(Hit(clause.clause, found))
        if any(clause.select(events, migration) for clause in self.absent):
            return None
        if sig.sequence or sig.within:
            times = subject.times()
            first = {h.clause.name: min(times.get(id(e), e.time) for e in h.events) for h in hits}
            for seq in sig.sequence:
                stamps = [first[name] for name in seq]
                if stamps != sorted(stamps):
                    return None
            for w in sig.within:
                gap = abs((first[w.then] - first[w.first]).total_seconds())
                if gap > w.seconds:
                    return None
        around = subject.around(sig.window_s)
        return Match(
            signature=sig,
            hits=tuple(hits),
            raised=tuple(_hits(self.raises, around, migration)),
            lowered=tuple(_hits(self.lowers, around, migration)),
        )


def compile_signature(signature: Signature, catalog: Catalog) -> SignaturePlan:
    def plans(clauses: Sequence[Clause]) -> tuple[ClausePlan, ...]:
        return tuple(compile_clause(c, catalog) for c in clauses)

    return SignaturePlan(
        signature=signature,
        require=plans(signature.require),
        absent=plans(signature.absent),
        raises=plans(signature.raises),
        lowers=plans(signature.lowers),
    )
