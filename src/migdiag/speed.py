"""A drain's figures -> speed findings, by the rules in ``speed_rules/`` (data, like signatures).

A rule names the figures it needs, the conditions on them (``when``: all must hold;
``unless``: the rule stays quiet when all of these hold), and its words: summary, evidence,
explanation, checks, remediation and the advice with the number it advises; every text is a
template over the figures (``{max_concurrent}``, ``{best_level}``...).  Nothing here judges
concurrency alone: every rule rests on durations, throughput or blackouts.

The figures (all ``None`` when unknown) are listed in ``FIGURES`` and documented in
docs/reports.md.  Per-GB figures need the VMs' memory sizes; link figures need the host's
link speed (a configuration snapshot, or ``SpeedFacts`` given by the caller).
"""

from __future__ import annotations

import math
import statistics
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from migdiag import compiled
from migdiag.errors import SignatureError
from migdiag.model import SLOW_BLACKOUT_S, Drain, DrainMember, Outcome, SpeedFinding

Figure = float | int | str | bool | None

FIGURES = (
    "migrations",
    "succeeded",
    "failed",
    "max_concurrent",
    "wall_s",
    "median_duration_s",
    "gbps",
    "link_gbps",
    "performance_option",
    "max_migrations",
    "smb_limit_gbps",
    "utilisation",
    "median_member_gbps",
    "levels",
    "best_level",
    "best_gbps",
    "top_level",
    "top_gbps",
    "overload_ratio",
    "per_gb_growth",
    "concurrency_growth",
    "ceiling_gbps",
    "ceiling_spread",
    "link_share",
    "advised_more",
    "slowest_vm",
    "slowest_id",
    "slowest_s",
    "outlier_ratio",
    "outlier_extra_s",
    "slowest_blackout_s",
    "slowest_dirty_pages",
    "peer_dirty_pages",
    "peer_median_s",
    "max_blackout_s",
    "long_blackouts",
    "long_blackout_vms",
    "long_blackout_ids",
    "blackout_threshold_s",
)
_RULE_KEYS = {
    "id",
    "title",
    "severity",
    "when",
    "unless",
    "summary",
    "evidence",
    "explanation",
    "checks",
    "remediation",
    "advice",
    "references",
    "names",
}
_REQUIRED = {"id", "title", "severity", "when", "summary", "evidence", "explanation", "advice"}
_CONDITIONS = {"min", "max", "equals", "in"}


@dataclass(frozen=True, slots=True)
class SpeedRule:
    id: str
    title: str
    severity: str
    when: Mapping[str, Mapping[str, Any]]
    unless: Mapping[str, Mapping[str, Any]]
    summary: str
    evidence: tuple[str, ...]
    explanation: str
    checks: tuple[str, ...]
    remediation: tuple[str, ...]
    advice: str
    references: tuple[str, ...]
    names: str | None  # a figure holding the migration ids the finding names
    path: str


@cache
def _no_duplicates() -> Any:
    """A YAML loader refusing a repeated key.  Built on first use: a warm run serves the
    rules from the compiled cache and never imports PyYAML."""
    import yaml

    class NoDuplicates(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise yaml.MarkedYAMLError(
                        problem=f"duplicate key {key!r} (first at line {seen[key]})",
                        problem_mark=key_node.start_mark,
                    )
                seen[key] = line
            return super().construct_mapping(node, deep=deep)

    return NoDuplicates


def rules_dir() -> Path:
    """The shipped rules: inside the installed package, else the source checkout's."""
    packaged = Path(__file__).resolve().parent / "speed_rules"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "speed_rules"


def _placeholders(text: str) -> set[str]:
    return {name.split(".")[0] for _, name, _, _ in string.Formatter().parse(text) if name}


def load_rule(path: Path) -> tuple[SpeedRule | None, list[str]]:
    """One rule file -> (rule, []) or (None, every problem as ``file:line: message``)."""
    import yaml

    name = str(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_no_duplicates())
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"{name}:1: cannot read: {exc}"]
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        return None, [f"{name}:{line}: invalid YAML: {exc.problem}"]
    if not isinstance(data, dict):
        return None, [f"{name}:1: a speed rule is a mapping"]
    problems = [f"{name}:1: unknown key {k!r}" for k in sorted(set(data) - _RULE_KEYS)]
    problems += [f"{name}:1: missing key {k!r}" for k in sorted(_REQUIRED - set(data))]
    if data.get("id") != path.stem:
        problems.append(f"{name}:1: id {data.get('id')!r} must be the file name {path.stem!r}")
    for block in ("when", "unless"):
        for figure, test in (data.get(block) or {}).items():
            if figure not in FIGURES:
                problems.append(f"{name}:1: {block}: unknown figure {figure!r}")
            if not isinstance(test, dict) or not test or set(test) - _CONDITIONS:
                problems.append(f"{name}:1: {block}.{figure}: use min, max, equals or in")
    texts = [data.get(k) or "" for k in ("summary", "explanation", "advice")]
    texts += [*(data.get("evidence") or ()), *(data.get("remediation") or ())]
    for text in texts:
        for figure in sorted(_placeholders(str(text)) - set(FIGURES)):
            problems.append(f"{name}:1: text names unknown figure {figure!r}")
    if problems:
        return None, problems
    return (
        SpeedRule(
            id=str(data["id"]),
            title=str(data["title"]),
            severity=str(data["severity"]),
            when=data["when"],
            unless=data.get("unless") or {},
            summary=str(data["summary"]).strip(),
            evidence=tuple(str(e) for e in data["evidence"]),
            explanation=" ".join(str(data["explanation"]).split()),
            checks=tuple(str(c) for c in data.get("checks") or ()),
            remediation=tuple(str(r) for r in data.get("remediation") or ()),
            advice=" ".join(str(data["advice"]).split()),
            references=tuple(str(r) for r in data.get("references") or ()),
            names=data.get("names"),
            path=name,
        ),
        [],
    )


@cache
def builtin_rules() -> tuple[SpeedRule, ...]:
    """The shipped rules, by id; raises ``SignatureError`` listing every problem.

    Parsed from the YAML once, then served pickled from the compiled cache (``compiled``,
    keyed by the files' names and bytes and this module's): parsing the seven rules with
    PyYAML cost ~0.08 s of every analysis that found a drain."""
    paths = sorted(rules_dir().glob("*.yaml"))
    parts = [str(p).encode() + b"\0" + p.read_bytes() for p in paths]
    key = compiled.key([*parts, Path(__file__).read_bytes()])
    cached = compiled.load("speed-rules", key, tuple)
    if isinstance(cached, tuple) and all(isinstance(r, SpeedRule) for r in cached):
        return cached
    rules, problems = [], []
    for path in paths:
        rule, found = load_rule(path)
        problems += found
        if rule:
            rules.append(rule)
    if problems:
        raise SignatureError(problems)
    compiled.store("speed-rules", key, tuple(rules))
    return tuple(rules)


def _holds(value: Figure, test: Mapping[str, Any]) -> bool:
    if value is None:
        return False
    if "equals" in test and value != test["equals"]:
        return False
    if "in" in test and value not in test["in"]:
        return False
    if isinstance(value, bool | str):
        return "equals" in test or "in" in test
    if "min" in test and value < test["min"]:
        return False
    return not ("max" in test and value > test["max"])


def matches(rule: SpeedRule, figures: Mapping[str, Figure]) -> bool:
    if not all(_holds(figures.get(k), t) for k, t in rule.when.items()):
        return False
    return not (rule.unless and all(_holds(figures.get(k), t) for k, t in rule.unless.items()))


class _Shown(dict[str, Any]):
    """Figures for a template: numbers with two significant decimals at most."""

    def __missing__(self, key: str) -> str:
        return "?"


def _show(value: Figure) -> Any:
    if isinstance(value, float):
        return float(f"{value:.3g}") if value < 100 else round(value)
    return "unknown" if value is None else value


def evaluate(drain: Drain, rules: Sequence[SpeedRule] | None = None) -> tuple[SpeedFinding, ...]:
    """Every rule that matches the drain's figures, in rule order."""
    figures = drain_figures(drain)
    shown = _Shown({k: _show(v) for k, v in figures.items()})
    found = []
    for rule in builtin_rules() if rules is None else rules:
        if not matches(rule, figures):
            continue
        named = figures.get(rule.names) if rule.names else None
        found.append(
            SpeedFinding(
                rule_id=rule.id,
                title=rule.title,
                severity=rule.severity,
                summary=rule.summary.format_map(shown),
                evidence=tuple(
                    e.format_map(shown)
                    for e in rule.evidence
                    # A line whose every figure is unknown says nothing.
                    if any(figures.get(k) is not None for k in _placeholders(e))
                    or not _placeholders(e)
                ),
                explanation=rule.explanation.format_map(shown),
                checks=rule.checks,
                remediation=tuple(r.format_map(shown) for r in rule.remediation),
                advice=rule.advice.format_map(shown),
                migrations=tuple(str(named).split(",")) if named else (),
            )
        )
    return tuple(found)


def drain_figures(drain: Drain) -> dict[str, Figure]:
    """The figures rules test, computed once per drain."""
    done = [m for m in drain.members if m.outcome is Outcome.SUCCEEDED]
    facts = drain.facts
    link = facts.link_gbps
    out: dict[str, Figure] = dict.fromkeys(FIGURES)
    out.update(
        migrations=len(drain.members),
        succeeded=len(done),
        failed=drain.failed,
        max_concurrent=drain.max_concurrent,
        wall_s=drain.wall_s,
        median_duration_s=drain.median_duration_s,
        gbps=drain.gbps,
        link_gbps=link,
        performance_option=facts.performance_option,
        max_migrations=facts.max_migrations,
        smb_limit_gbps=facts.smb_limit_gbps,
        max_blackout_s=drain.max_blackout_s,
        blackout_threshold_s=SLOW_BLACKOUT_S,
    )
    if drain.gbps is not None and link:
        out["utilisation"] = drain.gbps / link
    rates = [m.gbps for m in done if m.gbps is not None]
    if rates:
        out["median_member_gbps"] = statistics.median(rates)
    out.update(_levels(done, link))
    out.update(_outlier(done))
    long = [m for m in done if m.blackout_s is not None and m.blackout_s >= SLOW_BLACKOUT_S]
    out["long_blackouts"] = len(long)
    out["long_blackout_vms"] = ", ".join(m.vm_name or m.migration_id for m in long) or None
    out["long_blackout_ids"] = ",".join(m.migration_id for m in long) or None
    if facts.performance_option:
        # Get-VMHost spells them TCPIP, Compression, SMB; a snapshot may not.
        spelled = {"tcpip": "TCPIP", "compression": "Compression", "smb": "SMB"}
        option = facts.performance_option
        out["performance_option"] = spelled.get(option.lower(), option)
    if link and rates:
        # What the link would carry at the rate one migration reached (the seed: start at 4
        # and go upwards while the drain gets faster), never fewer than 4 nor more than 16.
        estimate = math.floor(0.8 * link / statistics.median(rates))
        out["advised_more"] = max(4, min(16, estimate))
    return out


def _levels(done: Sequence[DrainMember], link: float | None) -> dict[str, Figure]:
    """Aggregate throughput at each concurrency level: ``level × median member rate``.

    Linear growth of durations with concurrency keeps the aggregate flat (the link is full);
    durations growing faster make it fall past some level (too many at once); a flat aggregate
    far below the link is a ceiling (a cap, or the wrong network)."""
    by_level: dict[int, list[float]] = {}
    for m in done:
        if m.gbps is not None:
            by_level.setdefault(max(1, round(m.concurrency)), []).append(m.gbps)
    if len(by_level) < 2 or sum(len(v) for v in by_level.values()) < 4:
        return {}
    aggregate = {level: level * statistics.median(r) for level, r in by_level.items()}
    best = max(aggregate, key=lambda k: (aggregate[k], -k))
    top, low = max(aggregate), min(aggregate)
    out: dict[str, Figure] = {
        "levels": ", ".join(f"{k} at once: {aggregate[k]:.1f} Gbit/s" for k in sorted(aggregate)),
        "best_level": best,
        "best_gbps": aggregate[best],
        "top_level": top,
        "top_gbps": aggregate[top],
        "overload_ratio": aggregate[best] / aggregate[top] if aggregate[top] > 0 else None,
        "concurrency_growth": top / best,
        "per_gb_growth": statistics.median(by_level[best]) / statistics.median(by_level[top]),
    }
    values = list(aggregate.values())
    if top / low >= 1.5 and min(values) > 0:
        spread = max(values) / min(values)
        out["ceiling_spread"] = spread
        if spread <= 1.3:
            out["ceiling_gbps"] = statistics.median(values)
            if link:
                out["link_share"] = statistics.median(values) / link
    return out


def _median_or_none(values: Sequence[int | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _outlier(done: Sequence[DrainMember]) -> dict[str, Figure]:
    """The slowest member against its peers: seconds per GB where sizes are known, else
    seconds (then the VMs are taken to be alike)."""
    if len(done) < 3:
        return {}
    sized = all(m.memory_bytes for m in done)

    def cost(m: DrainMember) -> float:
        # Per GB of memory, and per migration sharing the link with it: a VM slow because
        # eight ran beside it is not an outlier.
        per = m.duration_s / m.concurrency
        return per / (m.memory_bytes / 1e9) if sized and m.memory_bytes else per

    slowest = max(done, key=cost)
    peers = [cost(m) for m in done if m is not slowest]
    median = statistics.median(peers)
    peer_seconds = statistics.median(m.duration_s for m in done if m is not slowest)
    return {
        "slowest_vm": slowest.vm_name or slowest.migration_id,
        "slowest_id": slowest.migration_id,
        "slowest_s": slowest.duration_s,
        "outlier_ratio": cost(slowest) / median if median > 0 else None,
        "outlier_extra_s": slowest.duration_s - peer_seconds,
        "slowest_blackout_s": slowest.blackout_s,
        "slowest_dirty_pages": slowest.dirty_pages,
        "peer_dirty_pages": _median_or_none([m.dirty_pages for m in done if m is not slowest]),
        "peer_median_s": peer_seconds,
    }
