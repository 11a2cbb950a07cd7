"""Snapshots -> ``ConfigurationReport``: the analysis's ``configuration`` section."""

from __future__ import annotations

from collections.abc import Sequence

from migdiag.config.facts import Configuration
from migdiag.config.rules import ConfigRule, builtin_rules, evaluate
from migdiag.config.snapshot import Snapshot
from migdiag.model import ConfigFinding, ConfigurationReport

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def judge(
    snapshots: Sequence[Snapshot],
    warnings: Sequence[str] = (),
    rules: Sequence[ConfigRule] | None = None,
) -> tuple[Configuration, ConfigurationReport]:
    """Every rule over the hosts' snapshots; findings by severity, then id."""
    config = Configuration.from_snapshots(snapshots)
    found: list[ConfigFinding] = []
    for rule in builtin_rules() if rules is None else rules:
        finding = evaluate(rule, config)
        if finding is not None:
            found.append(finding)
    found.sort(key=lambda f: (_SEVERITY_ORDER.get(f.severity, 3), f.id))
    unnamed = [s.path for s in snapshots if not s.host]
    notes = list(warnings) + [
        f"{path}: configuration of an unknown host (no <HOST>/config/ folder, no computer "
        "name inside); not used"
        for path in unnamed
    ]
    report = ConfigurationReport(
        hosts=tuple(h.host for h in config.hosts),
        snapshots=tuple(sorted((s.host, s.cmdlet, s.path) for s in snapshots if s.host)),
        findings=tuple(found),
        warnings=tuple(notes),
    )
    return config, report
