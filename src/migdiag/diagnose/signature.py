"""The signature as a frozen value: what the YAML says, checked and typed.

Built by ``loader`` from a validated mapping; ``match`` evaluates it against a migration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migdiag.model import Side


@dataclass(frozen=True, slots=True)
class Matcher:
    """What one event must look like (every given constraint must hold)."""

    provider: str | None = None
    ids: tuple[int, ...] = ()
    codes: tuple[str, ...] = ()
    codes_any: tuple[str, ...] = ()
    fragments: tuple[str, ...] = ()
    fragments_any: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    nic_link: str | None = None  # lost | restored | any: a NIC link event (catalog ``nic_link``)

    @property
    def specificity(self) -> int:
        """How narrowly this picks events: codes weigh most, a bare id least."""
        return (
            (1 if self.ids else 0)
            + (1 if self.nic_link else 0)
            + 2 * len(self.codes)
            + (1 if self.codes_any else 0)
            + len(self.fragments)
            + (1 if self.fragments_any else 0)
            + len(self.fields)
        )


@dataclass(frozen=True, slots=True)
class Clause:
    """A condition on the migration's events: shared constraints plus alternatives."""

    name: str
    why: str
    side: Side
    base: Matcher
    one_of: tuple[Matcher, ...] = ()
    delta: float = 0.0  # corroborators only
    # Requirements only: look at both hosts' events (any log) within this many seconds of the
    # failure, on corrected time, instead of the attempt's own events.
    around_s: float | None = None

    @property
    def specificity(self) -> int:
        alt = min((m.specificity for m in self.one_of), default=0)
        return self.base.specificity + alt + (0 if self.side is Side.ANY else 1)


@dataclass(frozen=True, slots=True)
class Within:
    first: str
    then: str
    seconds: float


@dataclass(frozen=True, slots=True)
class Range:
    minimum: float | None = None
    maximum: float | None = None

    def holds(self, value: float | None) -> bool:
        if value is None:
            return False
        if self.minimum is not None and value < self.minimum:
            return False
        return not (self.maximum is not None and value > self.maximum)


@dataclass(frozen=True, slots=True)
class Alternative:
    cause: str
    evidence: str
    tell_apart: str
    signature: str | None = None

    def describe(self) -> str:
        name = f"{self.cause} ({self.signature})" if self.signature else self.cause
        return f"{name}: {self.evidence} Tell apart: {self.tell_apart}"


@dataclass(frozen=True, slots=True)
class Step:
    what: str
    command: str | None = None
    expect: str | None = None

    def describe(self) -> str:
        text = self.what
        if self.command:
            text += f": {self.command}"
        if self.expect:
            text += f" (expect: {self.expect})"
        return text


@dataclass(frozen=True, slots=True)
class TextMatcher:
    """What pasted text (no event headers, no sides, no times) must hold for one alternative.

    Codes and fragments of one alternative must occur in the same paragraph of the text, so
    that a code from one pasted error is not paired with a sentence from another.  A matcher
    without fragments (codes only) needs live-migration wording somewhere in the text unless
    ``alone`` says the code by itself belongs to a migration (``0x80071398``)."""

    why: str
    codes: tuple[str, ...] = ()
    codes_any: tuple[str, ...] = ()
    fragments: tuple[str, ...] = ()
    fragments_any: tuple[str, ...] = ()
    ids: tuple[int, ...] = ()  # event ids the text names ("Event ID: 21502"), any of them
    alone: bool = False
    confidence: float | None = None  # alternatives: below the rule's cap; None = the cap
    delta: float = 0.0  # corroborators only

    @property
    def specificity(self) -> int:
        return (
            2 * len(self.codes)
            + (1 if self.codes_any else 0)
            + len(self.fragments)
            + (1 if self.fragments_any else 0)
            + (1 if self.ids else 0)
        )


@dataclass(frozen=True, slots=True)
class TextRule:
    """How far pasted text alone can take this signature (``text:`` in the YAML)."""

    confidence: float  # the cap: a text match never scores higher (always below the log's)
    one_of: tuple[TextMatcher, ...] = ()  # empty: text alone cannot show this cause
    raises: tuple[TextMatcher, ...] = ()
    lowers: tuple[TextMatcher, ...] = ()
    missing: tuple[Step, ...] = ()  # what would make it sure, and the command to collect it
    note: str | None = None  # why text cannot show it (when ``one_of`` is empty)


@dataclass(frozen=True, slots=True)
class Signature:
    id: str
    title: str
    cause: str
    severity: str
    applies_to: str  # failed | succeeded | any
    confidence: float
    path: Path
    explanation: str
    require: tuple[Clause, ...]
    absent: tuple[Clause, ...] = ()
    sequence: tuple[tuple[str, ...], ...] = ()
    within: tuple[Within, ...] = ()
    migration: tuple[tuple[str, Range], ...] = ()  # attribute name -> range
    window_s: float = 300.0
    raises: tuple[Clause, ...] = ()
    lowers: tuple[Clause, ...] = ()
    differential: tuple[Alternative, ...] = ()
    checks: tuple[Step, ...] = ()
    remediation: tuple[Step, ...] = ()
    references: tuple[str, ...] = ()  # public sources a user can look up
    dev_notes: tuple[str, ...] = ()  # for signature authors only: `signatures show --dev`
    fallback: bool = False
    text: TextRule | None = None

    @property
    def specificity(self) -> int:
        """Specific beats generic: a full chain on the right side outranks a lone code."""
        return (
            sum(c.specificity for c in self.require)
            + len(self.absent)
            + 2 * len(self.sequence)
            + len(self.within)
            + 2 * len(self.migration)
        )


def _ids(value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    if isinstance(value, int):
        return (value,)
    return tuple(int(v) for v in value)


def _matcher(raw: Mapping[str, Any]) -> Matcher:
    return Matcher(
        provider=raw.get("provider"),
        ids=_ids(raw.get("id")),
        codes=tuple(raw.get("codes") or ()),
        codes_any=tuple(raw.get("codes_any") or ()),
        fragments=tuple(raw.get("fragments") or ()),
        fragments_any=tuple(raw.get("fragments_any") or ()),
        fields=tuple((str(k), str(v)) for k, v in (raw.get("fields") or {}).items()),
        nic_link=raw.get("nic_link"),
    )


def _clause(raw: Mapping[str, Any], index: int) -> Clause:
    return Clause(
        name=str(raw.get("name") or f"clause-{index + 1}"),
        why=str(raw["why"]),
        side=Side(raw.get("side", "any")),
        base=_matcher(raw),
        one_of=tuple(_matcher(m) for m in raw.get("one_of") or ()),
        delta=float(raw.get("delta", 0.0)),
        around_s=None if raw.get("around_s") is None else float(raw["around_s"]),
    )


def _step(raw: Mapping[str, Any]) -> Step:
    return Step(what=str(raw["what"]), command=raw.get("command"), expect=raw.get("expect"))


def _text_matcher(raw: Mapping[str, Any]) -> TextMatcher:
    conf = raw.get("confidence")
    return TextMatcher(
        why=str(raw["why"]).strip(),
        codes=tuple(raw.get("codes") or ()),
        codes_any=tuple(raw.get("codes_any") or ()),
        fragments=tuple(raw.get("fragments") or ()),
        fragments_any=tuple(raw.get("fragments_any") or ()),
        ids=_ids(raw.get("ids")),
        alone=bool(raw.get("alone", False)),
        confidence=None if conf is None else float(conf),
        delta=float(raw.get("delta", 0.0)),
    )


def _text_rule(raw: Mapping[str, Any] | None) -> TextRule | None:
    if not raw:
        return None
    return TextRule(
        confidence=float(raw["confidence"]),
        one_of=tuple(_text_matcher(m) for m in raw.get("one_of") or ()),
        raises=tuple(_text_matcher(m) for m in raw.get("raise") or ()),
        lowers=tuple(_text_matcher(m) for m in raw.get("lower") or ()),
        missing=tuple(_step(s) for s in raw.get("missing") or ()),
        note=str(raw["note"]).strip() if raw.get("note") else None,
    )


def build_signature(data: Mapping[str, Any], path: Path) -> Signature:
    """A validated mapping -> Signature (call only after schema validation)."""
    corr = data.get("corroboration") or {}
    ranges = tuple(
        (str(key), Range(minimum=value.get("min"), maximum=value.get("max")))
        for key, value in (data.get("migration") or {}).items()
    )
    return Signature(
        id=str(data["id"]),
        title=str(data["title"]),
        cause=str(data["cause"]),
        severity=str(data["severity"]),
        applies_to=str(data["applies_to"]),
        confidence=float(data["confidence"]),
        path=path,
        explanation=str(data["explanation"]).strip(),
        require=tuple(_clause(c, i) for i, c in enumerate(data.get("require") or ())),
        absent=tuple(_clause(c, i) for i, c in enumerate(data.get("absent") or ())),
        sequence=tuple(tuple(str(n) for n in s) for s in data.get("sequence") or ()),
        within=tuple(
            Within(first=str(w["from"]), then=str(w["to"]), seconds=float(w["seconds"]))
            for w in data.get("within") or ()
        ),
        migration=ranges,
        window_s=float(corr.get("window_s", 300.0)),
        raises=tuple(_clause(c, i) for i, c in enumerate(corr.get("raise") or ())),
        lowers=tuple(_clause(c, i) for i, c in enumerate(corr.get("lower") or ())),
        differential=tuple(
            Alternative(
                cause=str(a["cause"]),
                evidence=str(a["evidence"]).strip(),
                tell_apart=str(a["tell_apart"]).strip(),
                signature=a.get("signature"),
            )
            for a in data.get("differential") or ()
        ),
        checks=tuple(_step(s) for s in data.get("checks") or ()),
        remediation=tuple(_step(s) for s in data.get("remediation") or ()),
        references=tuple(str(r) for r in data.get("references") or ()),
        dev_notes=tuple(
            " ".join(str(n).split())
            for n in (
                *([data["verified_note"]] if data.get("verified_note") else []),
                *(data.get("dev_notes") or ()),
            )
        ),
        fallback=bool(data.get("fallback", False)),
        text=_text_rule(data.get("text")),
    )
