"""Speed-rule cases: synth scenarios with ``known:`` and ``expect:`` blocks, run through the
real pipeline (expand -> normalise -> correlate -> drains -> speed rules).

A case file is a ``migdiag synth`` scenario plus::

    known:                      # what the analysis is told (a configuration snapshot's facts)
      memory: true              # the VMs' memory sizes (memory_gb), by VM name
      facts: {HV01: {link_gbps: 20, performance_option: SMB, smb_limit_gbps: 1}}
    expect:
      rule: too-many-at-once    # defaults to the folder name
      fires: true               # defaults to true for positive*, false for negative*
      source: HV01              # which drain (default: any)

The same fixture discipline as signatures: every rule has positive and negative cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from migdiag.catalog import default_catalog
from migdiag.model import Drain, SpeedFacts
from migdiag.normalise import normalise
from migdiag.synth.scenario import Scenario, expand, parse_scenario


@dataclass(frozen=True, slots=True)
class SpeedCase:
    path: Path
    rule_id: str
    fires: bool
    drains: tuple[Drain, ...]
    source: str | None

    @property
    def fired(self) -> bool:
        return any(
            f.rule_id == self.rule_id
            for d in self.drains
            if self.source is None or d.source == self.source
            for f in d.findings
        )


def known_inputs(
    scenario: Scenario, known: dict[str, Any]
) -> tuple[dict[str, int] | None, dict[str, SpeedFacts] | None]:
    """The memory sizes and link facts a case says the analysis knows."""
    memory = (
        {vm.name: int(vm.memory_gb * 1024**3) for vm in scenario.vms}
        if known.get("memory")
        else None
    )
    facts = {
        str(host).upper(): SpeedFacts(**values)
        for host, values in (known.get("facts") or {}).items()
    } or None
    return memory, facts


def drains_of(data: dict[str, Any], name: str) -> tuple[Drain, ...]:
    """A scenario's drains, as an analysis told what ``known:`` says would find them."""
    from migdiag.correlate import correlate
    from migdiag.drains import find_drains

    catalog = default_catalog()
    scenario = parse_scenario(data, name)
    events = [normalise(e, catalog) for e in expand(scenario, catalog)]
    memory, facts = known_inputs(scenario, data.get("known") or {})
    return find_drains(correlate(events, catalog).migrations, memory, facts)


def run_case(path: Path) -> SpeedCase:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    expect = data.get("expect") or {}
    fires = bool(expect.get("fires", path.stem.startswith("positive")))
    return SpeedCase(
        path=path,
        rule_id=str(expect.get("rule", path.parent.name)),
        fires=fires,
        drains=drains_of(data, str(path)),
        source=expect.get("source"),
    )
