"""Evaluate signatures against one migration: which events satisfy which clause.

A fleet's diagnosis asks every signature about every attempt, so the work is split in two:

- ``compile_signature`` turns a signature into a ``SignaturePlan`` once per library and
  catalog: providers resolved and lower-cased, fragments and field needles normalised, ids
  as sets, and the event ids and error codes each requirement needs.
- ``Subject`` prepares one migration once per diagnosis: the event ids and error codes it
  logged, so that a signature needing one it lacks is dropped without looking at an event.

Every shortcut is exact: a plan accepts an event if and only if the YAML's clause does.

Sentences raise confidence, they never gate it (issue 20): a fragment is accepted in every
language ``data/phrases.yaml`` gives for it, and an alternative that names event ids and
error codes also accepts an error event whose sentence is missing or in a language migdiag
does not know (the *sentence-free* route), at ``SENTENCE_FREE_PENALTY`` less confidence.  The
route stays closed when the event carries another sentence the library knows: that sentence
is evidence for something else, not a gap.
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
from migdiag.normalise import fragment_variants, normalise_text

# What a requirement met without its sentence costs (codes and ids alone: still evidence,
# but the sentence would have said which step failed).
SENTENCE_FREE_PENALTY = 0.15
# What a requirement met only by events the attempt shares with another failing attempt
# costs (events that name no VM, logged on one host at one moment by two failures): more
# than a missing sentence, so that a cause shown by the VM's own events ranks first.
SHARED_EVIDENCE_PENALTY = 0.3
# The other host of the attempt logged an error with the same code: both sides agree.
OTHER_HOST = Clause(
    name="other-host",
    why="the other host of the attempt logged an error with the same code at that time",
    side=Side.ANY,
    base=Matcher(),
    delta=0.05,
)

NO, LOOSE, FULL = 0, 1, 2  # how an event meets a matcher: not, without its sentence, fully


def _asks_for_sentences(signature: Signature) -> bool:
    return any(
        m.fragments or m.fragments_any
        for clause in signature.require
        for m in (clause.base, *clause.one_of)
    )


@dataclass(frozen=True, slots=True)
class Hit:
    """A clause and the events that satisfied it (in migration order)."""

    clause: Clause
    events: tuple[Event, ...]
    loose: bool = False  # every event met it without its sentence (ids and codes only)
    how: tuple[tuple[Event, str], ...] = ()  # how an event was recognised (NIC link events)
    said: bool = False  # an event met an alternative that asks for a sentence, with it
    shared: bool = False  # every event is one this attempt shares with others (ambiguous)


@dataclass(frozen=True, slots=True)
class Match:
    signature: Signature
    hits: tuple[Hit, ...]
    raised: tuple[Hit, ...] = ()
    lowered: tuple[Hit, ...] = ()

    @property
    def sentence_free(self) -> bool:
        """The signature looks for sentences and none of its requirements was met with one:
        ids and codes alone."""
        return _asks_for_sentences(self.signature) and not any(h.said for h in self.hits)

    @property
    def confidence(self) -> float:
        delta = sum(h.clause.delta for h in self.raised) - sum(h.clause.delta for h in self.lowered)
        if self.sentence_free:
            delta -= SENTENCE_FREE_PENALTY
        if any(h.shared for h in self.hits):
            delta -= SHARED_EVIDENCE_PENALTY
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
    fragments: tuple[tuple[str, ...], ...]  # each: its wordings in every language, normalised
    fragments_any: tuple[str, ...]  # every wording of every fragment, normalised
    fields: tuple[tuple[int | None, str, str], ...]  # (%n position, name, normalised needle)
    words: tuple[str, ...]  # what the lower-cased message must hold for ``fragments``
    loose: bool = False  # the sentence-free route is open (the clause names ids and codes)
    known: tuple[str, ...] = ()  # every sentence the library's requirements use, normalised
    nic_link: str | None = None
    catalog: Catalog | None = None  # for ``nic_link`` only

    def ok(self, event: Event) -> bool:
        return self.grade(event) == FULL

    @property
    def asks_sentence(self) -> bool:
        return bool(self.fragments or self.fragments_any)

    def grade(self, event: Event) -> int:
        # Cheap, selective tests first: the id alone rejects almost every event.  Every test
        # is pure, so their order cannot change the answer.
        if self.ids and event.event_id not in self.ids:
            return NO
        if self.provider is not None and event.provider.lower() != self.provider:
            return NO
        # Plain loops rather than any(): this runs for every event of every attempt.
        codes = event.error_codes
        for code in self.codes:
            if code not in codes:
                return NO
        if self.codes_any and self.codes_any.isdisjoint(codes):
            return NO
        for position, name, needle in self.fields:
            value = event.param(position) if position is not None else event.field(name)
            if value is None or needle not in _norm(value):
                return NO
        if self.nic_link is not None:
            assert self.catalog is not None
            state = self.catalog.nic_link_state(event.provider, event.event_id, event.message or "")
            if state is None or (self.nic_link != "any" and state[0] != self.nic_link):
                return NO
        if not (self.fragments or self.fragments_any):
            return FULL
        if self._sentences(event.message or ""):
            return FULL
        if self.loose and event.level in (1, 2, 3) and not self._knows(event.message or ""):
            return LOOSE
        return NO

    def _sentences(self, message: str) -> bool:
        if self.words:
            lowered = message.lower()
            for word in self.words:
                if word not in lowered:
                    return False
        text = _norm(message)
        for wordings in self.fragments:
            if not any(w in text for w in wordings):
                return False
        return not self.fragments_any or any(f in text for f in self.fragments_any)

    def _knows(self, message: str) -> bool:
        """The message holds a sentence some requirement of the library looks for."""
        text = _norm(message)
        return any(k in text for k in self.known)


def compile_matcher(
    m: Matcher,
    catalog: Catalog,
    loose: bool = False,
    known: tuple[str, ...] = (),
) -> MatcherPlan:
    provider = None
    if m.provider is not None:
        provider = catalog.providers.get(m.provider, m.provider).lower()
    fragments = tuple(fragment_variants(f, catalog) for f in m.fragments)
    # Only a fragment without other wordings tells which words the message must hold.
    english_only = tuple(f[0] for f in fragments if len(f) == 1)
    return MatcherPlan(
        provider=provider,
        ids=frozenset(m.ids),
        codes=m.codes,
        codes_any=frozenset(m.codes_any),
        fragments=fragments,
        fragments_any=tuple(v for f in m.fragments_any for v in fragment_variants(f, catalog)),
        fields=tuple((_param_position(k), k, _norm(v)) for k, v in m.fields),
        words=_needed_words(english_only),
        loose=loose and bool(m.fragments or m.fragments_any),
        known=known,
        nic_link=m.nic_link,
        catalog=catalog if m.nic_link else None,
    )


def _sentence_free(base: Matcher, alternative: Matcher) -> bool:
    """Ids and codes together identify the failure well enough to stand without a sentence."""
    has_ids = bool(base.ids or alternative.ids)
    has_codes = bool(base.codes or base.codes_any or alternative.codes or alternative.codes_any)
    return has_ids and has_codes


@dataclass(frozen=True, slots=True)
class ClausePlan:
    clause: Clause
    side: Side | None  # None: an event of either host (or of neither) will do
    ids: frozenset[int] | None  # every event the clause can accept has one of these ids
    base: MatcherPlan | None  # None: the shared constraints are empty (only ``one_of``)
    one_of: tuple[MatcherPlan, ...]
    codes: frozenset[str]  # the shared constraints' codes: all must be logged
    codes_any: frozenset[str]  # ... and one of these
    catalog: Catalog | None = None  # when a matcher recognises NIC link events
    about_destination: _AboutDestination | None = None  # for ``side: destination`` clauses

    def possible(self, subject: Subject) -> bool:
        """False when no event of the migration can satisfy the clause: an id or an error
        code it needs is logged by none of them."""
        if self.clause.around_s is not None:
            return True  # it looks at both hosts' other logs, not at the attempt's events
        if self.ids is not None and self.ids.isdisjoint(subject.ids):
            return False
        if self.codes and not self.codes <= subject.codes:
            return False
        return not self.codes_any or not self.codes_any.isdisjoint(subject.codes)

    def select(self, events: Sequence[Event], migration: Migration) -> tuple[Event, ...]:
        """The events (in their given order) that satisfy the clause."""
        return self.hit(events, migration)[0]

    def hit(self, events: Sequence[Event], migration: Migration) -> tuple[tuple[Event, ...], bool]:
        """The events that satisfy the clause, and whether all of them did so without their
        sentence."""
        found, loose, _ = self.graded(events, migration)
        return found, loose

    def graded(
        self, events: Sequence[Event], migration: Migration
    ) -> tuple[tuple[Event, ...], bool, bool]:
        """``hit`` and whether an event met a sentence-bearing matcher with its sentence."""
        ids, side, base, one_of = self.ids, self.side, self.base, self.one_of
        found = []
        full = False
        said = False
        for event in events:
            if ids is not None and event.event_id not in ids:
                continue
            if side is not None and migration.side_of(event) is not side:
                about = self.about_destination
                if about is None or not about.names(event, migration):
                    continue
            grade = FULL if base is None else base.grade(event)
            if grade == NO:
                continue
            spoken = grade == FULL and base is not None and base.asks_sentence
            if one_of:
                best = NO
                for alternative in one_of:
                    g = alternative.grade(event)
                    if g == FULL and alternative.asks_sentence:
                        best, spoken = FULL, True
                        break
                    best = max(best, g)
                grade = min(grade, best)
                if grade == NO:
                    continue
            found.append(event)
            full = full or grade == FULL
            said = said or (grade == FULL and spoken)
        return tuple(found), bool(found) and not full, said

    def recognised(self, events: Sequence[Event]) -> tuple[tuple[Event, str], ...]:
        """How each NIC link event was recognised (by provider family and id, or payload)."""
        if self.catalog is None:
            return ()
        out = []
        for e in events:
            state = self.catalog.nic_link_state(e.provider, e.event_id, e.message or "")
            if state is not None:
                out.append((e, f"link {state[0]}: {state[1]}"))
        return tuple(out)


# The cluster's failure events, logged by the source, whose text names the side that failed.
_HA_FAILURES = frozenset({21502, 21111})
_HA_PROVIDER = "microsoft-windows-hyper-v-high-availability"


@dataclass(frozen=True, slots=True)
class _AboutDestination:
    """When the source's cluster 21502/21111 is evidence about the destination: its text says
    the migration failed at the destination (in any language the phrases know), or it carries
    a code only the destination's own failure produces (memory, partition, logon type, path,
    receive timeout)."""

    wordings: tuple[str, ...]
    codes: frozenset[str]

    def names(self, event: Event, migration: Migration) -> bool:
        if event.event_id not in _HA_FAILURES or event.provider.lower() != _HA_PROVIDER:
            return False
        if migration.side_of(event) is not Side.SOURCE:
            return False
        if not self.codes.isdisjoint(event.error_codes):
            return True
        text = _norm(event.message or "")
        return any(w in text for w in self.wordings)


def compile_clause(c: Clause, catalog: Catalog, known: tuple[str, ...] = ()) -> ClausePlan:
    if c.base.ids:
        ids: frozenset[int] | None = frozenset(c.base.ids)
    elif c.one_of and all(m.ids for m in c.one_of):
        # Each alternative names its ids: an event with none of them satisfies no alternative.
        ids = frozenset(i for m in c.one_of for i in m.ids)
    else:
        ids = None
    links = c.base.nic_link is not None or any(m.nic_link is not None for m in c.one_of)
    base_loose = _sentence_free(c.base, Matcher()) or any(
        _sentence_free(c.base, m) for m in c.one_of
    )
    return ClausePlan(
        clause=c,
        side=None if c.side is Side.ANY else c.side,
        ids=ids,
        base=None
        if c.base == Matcher()
        else compile_matcher(c.base, catalog, loose=base_loose, known=known),
        one_of=tuple(
            compile_matcher(m, catalog, loose=_sentence_free(c.base, m), known=known)
            for m in c.one_of
        ),
        codes=frozenset(c.base.codes),
        codes_any=frozenset(c.base.codes_any),
        catalog=catalog if links else None,
        about_destination=_AboutDestination(
            fragment_variants("failed at migration destination", catalog),
            catalog.destination_codes,
        )
        if c.side is Side.DESTINATION
        else None,
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

    __slots__ = (
        "_around",
        "_corroborating",
        "_offsets",
        "_times",
        "codes",
        "context",
        "ids",
        "migration",
        "shared",
    )

    def __init__(self, migration: Migration, context: Sequence[Event]) -> None:
        self.migration = migration
        self.context = context
        self.ids = frozenset(e.event_id for e in migration.events)
        self.codes = frozenset(c for e in migration.events for c in e.error_codes)
        self._times: dict[int, datetime] | None = None
        self._around: dict[float, tuple[Event, ...]] = {}
        self._corroborating: dict[float, tuple[Event, ...]] = {}
        # The events this attempt shares with another failing attempt (ambiguous: they name
        # no VM and fit both): a requirement only they meet is the weaker for it.
        self.shared = frozenset(
            migration.events[i] for i in migration.shared if i < len(migration.events)
        )
        self._offsets: dict[str, timedelta] | None = None

    def times(self) -> dict[int, datetime]:
        """Corrected time per event (by identity), falling back to the logged time."""
        if self._times is None:
            m = self.migration
            if len(m.corrected_times) == len(m.events):
                self._times = {id(e): t for e, t in zip(m.events, m.corrected_times, strict=True)}
            else:
                self._times = {id(e): e.time for e in m.events}
        return self._times

    def offsets(self) -> dict[str, timedelta]:
        """Per host, what to add to its logged times to get corrected times (the skew that
        correlation applied to the attempt's own events; zero for a host it did not see)."""
        if self._offsets is None:
            m = self.migration
            self._offsets = {}
            if len(m.corrected_times) == len(m.events):
                for e, t in zip(m.events, m.corrected_times, strict=True):
                    self._offsets.setdefault(e.short_host, t - e.time)
        return self._offsets

    def near_failure(self, seconds: float) -> tuple[Event, ...]:
        """Both hosts' events (any log they were exported from) within ``seconds`` of the
        failure, joined by host name and compared on corrected time."""
        m = self.migration
        end = failure_time(m)
        hosts = {h for h in (m.source, m.destination) if h}
        if end is None or not hosts:
            return ()
        offsets = self.offsets()
        zero = timedelta(0)
        # A generous raw window first (clocks may be minutes apart), the exact test after.
        return tuple(
            e
            for e in self.around(seconds + 600.0)
            if e.short_host in hosts
            and abs((e.time + offsets.get(e.short_host, zero) - end).total_seconds()) <= seconds
        )

    def around(self, window_s: float) -> tuple[Event, ...]:
        """``context_events`` for this window (signatures share windows)."""
        got = self._around.get(window_s)
        if got is None:
            got = self._around[window_s] = context_events(self.migration, self.context, window_s)
        return got

    def corroborating(self, window_s: float) -> tuple[Event, ...]:
        """``around`` without another VM's story: events that name another VM, or that this
        attempt shares with another failing attempt, neither raise nor lower its causes."""
        got = self._corroborating.get(window_s)
        if got is None:
            migration, shared = self.migration, self.shared
            # Most attempts share nothing: then no event is hashed (a whole record's hash).
            got = self._corroborating[window_s] = tuple(
                e
                for e in self.around(window_s)
                if not (shared and e in shared) and not _names_another_vm(e, migration)
            )
        return got


def _hits(
    clauses: Sequence[ClausePlan], events: Sequence[Event], migration: Migration
) -> list[Hit]:
    """The raising or lowering clauses that ``events`` (``Subject.corroborating``) meet."""
    out = []
    for clause in clauses:
        found, loose, said = clause.graded(events, migration)
        if found:
            out.append(Hit(clause.clause, found, loose, clause.recognised(found), said))
    return out


def _names_another_vm(event: Event, migration: Migration) -> bool:
    if event.vm_id and migration.vm_id:
        return event.vm_id != migration.vm_id
    if event.vm_name and migration.vm_name:
        return event.vm_name.lower() != migration.vm_name.lower()
    return False


def _other_host(hits: Sequence[Hit], around: Sequence[Event], migration: Migration) -> Hit | None:
    """Both hosts logged an error carrying a code the cited evidence carries: the events of
    the host the evidence does not lead with."""
    source, destination = migration.source, migration.destination
    codes = {c for h in hits for e in h.events for c in e.error_codes}
    if not (source and destination and codes):
        return None
    agreeing: dict[str, list[Event]] = {source: [], destination: []}
    for e in around:  # ``Subject.corroborating``: in a drain, not another VM's errors
        if (
            e.short_host in agreeing
            and e.level in (1, 2, 3)
            and not codes.isdisjoint(e.error_codes)
        ):
            agreeing[e.short_host].append(e)
    if not (agreeing[source] and agreeing[destination]):
        return None
    cited = {e.short_host for h in hits for e in h.events}
    other = source if cited == {destination} else destination
    return Hit(OTHER_HOST, tuple(agreeing[other]))


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
        # Events that name no VM and fit another failing attempt as well: a requirement that
        # only they meet may be the other VM's story (two VMs failing at one moment).
        shared_events = subject.shared
        hits = []
        for clause in self.require:
            around_s = clause.clause.around_s
            pool = events if around_s is None else subject.near_failure(around_s)
            found, loose, said = clause.graded(pool, migration)
            if not found:
                return None
            shared = bool(found) and all(e in shared_events for e in found)
            hits.append(Hit(clause.clause, found, loose, clause.recognised(found), said, shared))
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
        around = subject.corroborating(sig.window_s)
        raised = _hits(self.raises, around, migration)
        agreed = _other_host(hits, around, migration)
        if agreed is not None:
            raised.append(agreed)
        return Match(
            signature=sig,
            hits=tuple(hits),
            raised=tuple(raised),
            lowered=tuple(_hits(self.lowers, around, migration)),
        )


def known_sentences(signatures: Sequence[Signature], catalog: Catalog) -> tuple[str, ...]:
    """Every sentence (in every language) the signatures' requirements look for, normalised:
    an event holding one of them is not missing its sentence."""
    found: dict[str, None] = {}
    for sig in signatures:
        for clause in sig.require:
            for m in (clause.base, *clause.one_of):
                for fragment in (*m.fragments, *m.fragments_any):
                    found.update(dict.fromkeys(fragment_variants(fragment, catalog)))
    return tuple(found)


def compile_signature(
    signature: Signature, catalog: Catalog, known: tuple[str, ...] | None = None
) -> SignaturePlan:
    """``known``: ``known_sentences`` of the whole library (default: of this signature)."""
    if known is None:
        known = known_sentences((signature,), catalog)

    def plans(clauses: Sequence[Clause]) -> tuple[ClausePlan, ...]:
        return tuple(compile_clause(c, catalog, known) for c in clauses)

    return SignaturePlan(
        signature=signature,
        require=plans(signature.require),
        absent=plans(signature.absent),
        raises=plans(signature.raises),
        lowers=plans(signature.lowers),
    )
