"""Configuration rules: YAML files in ``config_rules/`` (shipped as ``migdiag/config_rules``),
one per rule, id = file name, evaluated by ``evaluate`` over ``Configuration`` facts.

The vocabulary is small and documented in docs/config-rules.md:

    scope: hosts   test: {differs: F} | {same: F} | {spread: F, above: N}   across hosts
    scope: host    test: {all: [conditions]}     each host on its own
    scope: pair    test: {all: [conditions]}     each host against each other host

A condition is ``{fact: F, <operator>: operand}`` with operators ``equals``, ``not_equals``,
``in``, ``at_least``, ``above``, ``below``; an operand is a literal, ``{fact: G, times: k}``
(the same host's fact, scaled) or ``{other: G}`` (the other host's fact, scope pair).  Facts
of items (a NIC's jumbo size, a VM's version) are tested per item: one item must satisfy
every item condition.  A fact a host's snapshot lacks makes its condition false: nothing
is guessed.  Loading collects every problem as ``file:line: message`` and fails once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from migdiag.config.facts import Configuration, Fact, HostConfig
from migdiag.diagnose.loader import read_located  # the line-keeping YAML reader
from migdiag.errors import SignatureError
from migdiag.model import ConfigEvidence, ConfigFinding

# Every fact a rule may name: (per item?, what it is).  docs/config-rules.md lists them.
FACTS: dict[str, tuple[bool, str]] = {
    "migration_enabled": (False, "Get-VMHost VirtualMachineMigrationEnabled"),
    "performance_option": (False, "Get-VMHost performance option: TCPIP, Compression or SMB"),
    "max_migrations": (False, "Get-VMHost MaximumVirtualMachineMigrations"),
    "use_any_network": (False, "Get-VMHost UseAnyNetworkForMigration"),
    "migration_networks": (False, "number of Get-VMMigrationNetwork subnets"),
    "migration_nic_jumbo": (True, "*JumboPacket of each NIC live migration uses"),
    "migration_link_gbps": (False, "summed link speed of the NICs live migration uses"),
    "fastest_migration_link_gbps": (False, "the fastest of those links"),
    "migration_rdma": (False, "whether a NIC live migration uses has RDMA enabled"),
    "smb_live_migration_limit_gbps": (False, "Get-SmbBandwidthLimit on LiveMigration, Gbps"),
    "switch_names": (False, "the host's virtual switch names (Get-VMSwitch)"),
    "cpu_model": (False, "Win32_Processor Name"),
    "max_supported_version": (False, "highest Get-VMHostSupportedVersion"),
    "clock_offset_s": (True, "host clock minus the collecting machine's (per collector)"),
    "time_source": (False, "w32tm /query /status Source"),
    "vm_version": (True, "each VM's configuration version (Get-VM Version)"),
    "vm_processor_compatibility": (True, "each VM's CompatibilityForMigrationEnabled"),
    "vm_switch": (True, "each virtual switch a VM's network adapters connect to"),
}
OPERATORS = ("equals", "not_equals", "in", "not_in", "at_least", "above", "below")


@cache
def schema() -> dict[str, Any]:
    text = resources.files("migdiag").joinpath("config/rule.schema.json").read_text("utf-8")
    data = json.loads(text)
    assert isinstance(data, dict)
    return data


@dataclass(frozen=True, slots=True)
class ConfigRule:
    id: str
    title: str
    cause: str
    severity: str
    effect: str
    scope: str
    test: Mapping[str, Any]
    explanation: str
    checks: tuple[str, ...]
    remediation: tuple[str, ...]
    path: str
    # The role of the tested host in the migrations it can fail: "source" | "destination"
    # (scope pair: the other host plays the other role); None: either.
    role: str | None = None


def _steps(items: Sequence[Mapping[str, str]]) -> tuple[str, ...]:
    return tuple(f"{s['what']}: {s['command']}" if s.get("command") else s["what"] for s in items)


def _facts_named(test: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    named: list[tuple[tuple[str | int, ...], str]] = []
    for key in ("differs", "same", "spread"):
        if key in test:
            named.append((("test", key), test[key]))
    for i, cond in enumerate(test.get("all", ())):
        named.append((("test", "all", i, "fact"), cond["fact"]))
        for op in OPERATORS:
            operand = cond.get(op)
            if isinstance(operand, dict):
                ref = "fact" if "fact" in operand else "other"
                named.append((("test", "all", i, op, ref), operand[ref]))
    return named


def load_rule(path: Path) -> tuple[ConfigRule | None, list[str]]:
    """One rule file -> (rule, []) or (None, every problem as ``file:line: message``)."""
    name = str(path)
    doc, data, unreadable = read_located(path)
    if doc is None:
        return None, unreadable
    if not isinstance(data, dict):
        return None, [f"{name}:1: a rule is a mapping"]
    located: list[tuple[int, str]] = []
    from jsonschema import Draft202012Validator  # ~70 ms: only when rules are loaded

    for error in Draft202012Validator(schema()).iter_errors(data):
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        located.append((doc.line(tuple(error.absolute_path)), f"{where}: {error.message}"))
    if not located:
        if data["id"] != path.stem:
            located.append((doc.line(("id",)), f"id {data['id']!r} is not the file name"))
        for fact_path, fact in _facts_named(data["test"]):
            if fact not in FACTS:
                located.append((doc.line(fact_path), f"unknown fact {fact!r}"))
        scope, test = data["scope"], data["test"]
        if (scope == "hosts") == ("all" in test):
            located.append((doc.line(("test",)), f"scope {scope} does not take this test"))
        if "spread" in test and "above" not in test:
            located.append((doc.line(("test",)), "spread needs above"))
        if "role" in data and scope == "hosts":
            located.append((doc.line(("role",)), "role needs scope host or pair"))
    problems = doc.problems + [f"{name}:{line}: {msg}" for line, msg in sorted(located)]
    if problems:
        return None, problems
    return (
        ConfigRule(
            id=data["id"],
            title=data["title"],
            cause=data["cause"],
            severity=data["severity"],
            effect=data["effect"],
            scope=scope,
            test=test,
            explanation=" ".join(data["explanation"].split()),
            checks=_steps(data["checks"]),
            remediation=_steps(data["remediation"]),
            path=name,
            role=data.get("role"),
        ),
        [],
    )


def builtin_rules_dir() -> Path:
    """The shipped rules: inside the installed package, else the source checkout's."""
    packaged = resources.files("migdiag") / "config_rules"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "config_rules"


@cache
def _builtin_rules() -> tuple[ConfigRule, ...]:
    return load_rules(builtin_rules_dir())


def builtin_rules() -> tuple[ConfigRule, ...]:
    return _builtin_rules()


def load_rules(directory: Path) -> tuple[ConfigRule, ...]:
    """Every rule of a folder, by id; raises ``SignatureError`` with every problem."""
    problems: list[str] = []
    rules: list[ConfigRule] = []
    for path in sorted(directory.glob("*.yaml")):
        rule, errors = load_rule(path)
        problems.extend(errors)
        if rule is not None:
            rules.append(rule)
    if problems:
        raise SignatureError(problems)
    return tuple(rules)


# -- evaluation --------------------------------------------------------------------------


def _same(a: object, b: object) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().lower() == b.strip().lower()
    return a == b


def _holds(op: str, value: object, operand: object) -> bool:
    try:
        if op == "equals":
            return _same(value, operand)
        if op == "not_equals":
            return not _same(value, operand)
        if op == "in":
            return isinstance(operand, list | tuple) and any(_same(value, o) for o in operand)
        if op == "not_in":
            return isinstance(operand, list | tuple) and not any(_same(value, o) for o in operand)
        if op == "at_least":
            return bool(value >= operand)  # type: ignore[operator]
        if op == "above":
            return bool(value > operand)  # type: ignore[operator]
        if op == "below":
            return bool(value < operand)  # type: ignore[operator]
    except TypeError:  # a value of another kind than the rule expects: not this rule's case
        return False
    raise ValueError(op)


def _operand(
    raw: object, here: HostConfig, other: HostConfig | None, cited: list[Fact]
) -> tuple[bool, object]:
    """(known, value) of an operand; a fact it names is cited as evidence."""
    if not isinstance(raw, dict):
        return True, raw
    source = here if "fact" in raw else other
    fact = source.fact(raw.get("fact") or raw["other"]) if source else None
    if fact is None:
        return False, None
    cited.append(fact)
    value = fact.value
    if "times" in raw and isinstance(value, int | float):
        value = value * raw["times"]
    return True, value


def _condition(
    cond: Mapping[str, Any], fact: Fact, here: HostConfig, other: HostConfig | None
) -> tuple[bool, list[Fact]]:
    cited = [fact]
    op = next(k for k in cond if k != "fact")
    known, operand = _operand(cond[op], here, other, cited)
    return (known and _holds(op, fact.value, operand)), cited


def _test_all(
    conditions: Sequence[Mapping[str, Any]], here: HostConfig, other: HostConfig | None
) -> list[Fact] | None:
    """The facts that make every condition hold for this host (and other), or None."""
    cited: list[Fact] = []
    item_conditions = [c for c in conditions if FACTS[c["fact"]][0]]
    for cond in conditions:
        if FACTS[cond["fact"]][0]:
            continue
        fact = here.fact(cond["fact"])
        if fact is None:
            return None
        ok, facts = _condition(cond, fact, here, other)
        if not ok:
            return None
        cited.extend(facts)
    if not item_conditions:
        return cited
    items = [f.item for f in here.item_facts(item_conditions[0]["fact"])]
    matched = False
    for item in dict.fromkeys(items):
        item_cited: list[Fact] = []
        for cond in item_conditions:
            fact = next((f for f in here.item_facts(cond["fact"]) if f.item == item), None)
            ok, facts = _condition(cond, fact, here, other) if fact else (False, [])
            if not ok:
                break
            item_cited.extend(facts)
        else:
            matched = True
            cited.extend(item_cited)
    return cited if matched else None


def _test_hosts(test: Mapping[str, Any], config: Configuration) -> list[Fact] | None:
    name = test.get("differs") or test.get("same") or test.get("spread")
    facts = [f for h in config.hosts for f in h.item_facts(name or "")]
    if len({f.host for f in facts}) < (2 if "differs" not in test else 1) or len(facts) < 2:
        return None
    values = {f.value if not isinstance(f.value, str) else f.value.lower() for f in facts}
    if "differs" in test:
        return facts if len(values) > 1 else None
    if "same" in test:
        return facts if len(values) == 1 else None
    # A spread compares values of one item only: clock offsets measured by one collecting
    # machine say nothing against offsets another machine measured.
    by_item: dict[str, list[Fact]] = {}
    for fact in facts:
        if isinstance(fact.value, int | float) and not isinstance(fact.value, bool):
            by_item.setdefault(fact.item, []).append(fact)
    for group in by_item.values():
        numbers = [float(f.value) for f in group]  # type: ignore[arg-type]
        if len(group) >= 2 and max(numbers) - min(numbers) > float(test["above"]):
            return group
    return None


def _evidence(fact: Fact) -> ConfigEvidence:
    return ConfigEvidence(
        host=fact.host,
        cmdlet=fact.cmdlet,
        property=fact.property,
        value=fact.shown,
        item=fact.item,
        path=fact.path,
    )


def evaluate(rule: ConfigRule, config: Configuration) -> ConfigFinding | None:
    """The rule's finding on these hosts, or None when it does not hold."""
    cited: list[Fact] = []
    pairs: list[tuple[str, str]] = []  # (host, other host) of each pair that held
    if rule.scope == "hosts":
        cited = _test_hosts(rule.test, config) or []
    else:
        conditions = rule.test["all"]
        for here in config.hosts:
            others: Sequence[HostConfig | None] = (
                [h for h in config.hosts if h is not here] if rule.scope == "pair" else [None]
            )
            for other in others:
                held = _test_all(conditions, here, other)
                if held and other is not None:
                    pairs.append((here.host, other.host))
                cited.extend(held or [])
    if not cited:
        return None
    evidence = tuple(dict.fromkeys(_evidence(f) for f in cited))
    return ConfigFinding(
        id=rule.id,
        cause=rule.cause,
        title=rule.title,
        severity=rule.severity,
        effect=rule.effect,
        hosts=tuple(sorted({e.host for e in evidence})),
        evidence=evidence,
        explanation=rule.explanation,
        checks=rule.checks,
        remediation=rule.remediation,
        role=rule.role,
        pairs=tuple(pairs),
    )
