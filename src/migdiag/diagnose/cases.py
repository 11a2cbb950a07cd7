"""Signature cases: scenarios with an ``expect:`` block, run through the real pipeline.

A case file is a ``migdiag synth`` scenario plus::

    expect:
      signature: mtu-mismatch-reset   # defaults to the folder name
      matches: true                   # defaults to true for positive*, false for negative*
      rank: first                     # positive only: first (the diagnosis) or any
      vm: DidierTest01                # which VM's attempt to look at (default: any)
      evidence: [SRV1:20413, SRV1:22038]   # exactly the (host, event id) pairs cited

Cases go scenario -> expand -> normalise -> correlate -> diagnose, the same code the CLI uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from migdiag.catalog import Catalog, default_catalog
from migdiag.diagnose.loader import Library
from migdiag.diagnose.rank import diagnose
from migdiag.errors import ScenarioError
from migdiag.model import Event, Migration, MigrationResult
from migdiag.normalise import normalise
from migdiag.synth.scenario import expand, parse_scenario


@dataclass(frozen=True, slots=True)
class CaseResult:
    path: Path
    signature_id: str
    positive: bool
    problems: tuple[str, ...]  # empty when the case passes
    cited: tuple[str, ...] = ()  # "HOST:id" of the evidence the signature cited

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def name(self) -> str:
        return f"{self.path.parent.name}/{self.path.stem}"


def case_files(cases_dir: Path) -> list[Path]:
    return sorted(
        p for p in cases_dir.glob("*/*.yaml") if p.stem.startswith(("positive", "negative"))
    )


def migrations_of(events: Sequence[Event], catalog: Catalog) -> tuple[Migration, ...]:
    """Normalised events -> migration attempts, through the pipeline's own correlation."""
    # Imported here: only signature cases need correlation, and `import migdiag.diagnose`
    # (which the CLI does at start-up) must stay light.
    from migdiag.correlate import correlate

    return correlate(events, catalog).migrations


def _cited(result: MigrationResult, signature_id: str) -> tuple[str, ...] | None:
    for finding in result.findings:
        if finding.signature_id == signature_id:
            return tuple(
                sorted({f"{ev.event.short_host}:{ev.event.event_id}" for ev in finding.evidence})
            )
    return None


def run_case(path: Path, library: Library, catalog: Catalog | None = None) -> CaseResult:
    catalog = catalog or default_catalog()
    positive = path.stem.startswith("positive")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        expect = data.get("expect") if isinstance(data, dict) else None
        if not isinstance(expect, dict):
            raise ScenarioError("no expect: block")
        sig_id = str(expect.get("signature", path.parent.name))
        scenario = parse_scenario(data, str(path))
        events = [normalise(e, catalog) for e in expand(scenario, catalog)]
    except (OSError, yaml.YAMLError, ScenarioError) as exc:
        return CaseResult(path, path.parent.name, positive, (f"{path}: {exc}",))
    positive = bool(expect.get("matches", positive))
    if library.get(sig_id) is None:
        return CaseResult(path, sig_id, positive, (f"{path}: unknown signature {sig_id!r}",))
    migrations = [
        m
        for m in migrations_of(events, catalog)
        if not expect.get("vm") or m.vm_name == expect["vm"]
    ]
    results = [diagnose(m, library, catalog, events) for m in migrations]
    return _judge(path, sig_id, positive, expect, results)


def _judge(
    path: Path, sig_id: str, positive: bool, expect: dict[str, Any], results: list[MigrationResult]
) -> CaseResult:
    matched = [(r, c) for r in results if (c := _cited(r, sig_id)) is not None]
    if not positive:
        if matched:
            cited = matched[0][1]
            return CaseResult(
                path, sig_id, False, (f"{path}: {sig_id} matched but must not",), cited
            )
        return CaseResult(path, sig_id, False, ())
    if not results:
        return CaseResult(path, sig_id, True, (f"{path}: no migration found in the scenario",))
    if not matched:
        got = ", ".join(f.signature_id for r in results for f in r.findings) or "nothing"
        return CaseResult(path, sig_id, True, (f"{path}: {sig_id} did not match (got {got})",))
    result, cited = matched[0]
    problems = []
    if expect.get("rank", "first") == "first" and result.findings[0].signature_id != sig_id:
        problems.append(
            f"{path}: {sig_id} matched but {result.findings[0].signature_id} ranks first"
        )
    wanted = tuple(sorted(str(e).upper() for e in expect.get("evidence") or ()))
    if not wanted:
        problems.append(f"{path}: a positive case must name its evidence (expect.evidence)")
    elif wanted != cited:
        problems.append(f"{path}: cited {list(cited)}, expected {list(wanted)}")
    return CaseResult(path, sig_id, True, tuple(problems), cited)


def run_cases(cases_dir: Path, library: Library) -> list[CaseResult]:
    """Run every ``<id>/positive*.yaml`` and ``<id>/negative*.yaml`` under ``cases_dir``."""
    catalog = default_catalog()
    return [run_case(p, library, catalog) for p in case_files(cases_dir)]
