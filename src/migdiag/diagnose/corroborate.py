"""Configuration findings as corroboration of a migration's diagnosis.

``corroborate(result, findings)`` is the one hook: a finding of the same cause that says the
configuration can produce it raises the confidence of the migration's findings of that cause
(+``RAISE``) and is cited in their notes; one that rules the cause out on the hosts lowers it
(-``LOWER``) and says where to look instead (equal jumbo sizes on both hosts: the switches).
Only configuration findings about the migration's own hosts count, and a rule with a role
(``role: destination``) only about the host in that role.  Findings are re-sorted
by confidence afterwards, keeping an "unknown" lead in front (diagnose's own rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from migdiag.model import ConfigFinding, Finding, Migration, MigrationResult

RAISE = 0.15
LOWER = 0.1


def _about(finding: ConfigFinding, m: Migration) -> bool:
    """Whether a configuration finding is about this migration: about one of its hosts, and
    (for a rule with a role) about the host in that role: migration disabled on the source
    says nothing of a connection its destination refused."""
    if finding.role is not None and finding.pairs:
        # A pair rule: the tested host in its role, the other host in the other one.
        pair = (m.source, m.destination)
        return (pair if finding.role == "source" else pair[::-1]) in finding.pairs
    if finding.role == "destination":
        return m.destination in finding.hosts
    if finding.role == "source":
        return m.source in finding.hosts
    return bool({h for h in (m.source, m.destination) if h} & set(finding.hosts))


def _adjusted(finding: Finding, config: Sequence[ConfigFinding]) -> Finding:
    same = [c for c in config if c.cause == finding.cause]
    if not same or finding.signature_id == "unknown":
        return finding
    confidence = finding.confidence
    notes = list(finding.notes)
    for c in same:
        hosts = " and ".join(c.hosts)
        if c.effect == "rules-out":
            confidence -= LOWER
            notes.append(
                f"Configuration lowers confidence (-{LOWER:.2f}): {c.title} on {hosts} "
                f"[{c.id}]. {c.explanation}"
            )
        else:
            confidence += RAISE
            values = "; ".join(
                f"{e.host} {e.item + ' ' if e.item else ''}{e.property} = {e.value}"
                for e in c.evidence[:6]
            )
            notes.append(f"Configuration corroborates (+{RAISE:.2f}): {c.title} [{c.id}]: {values}")
    return replace(finding, confidence=round(min(1.0, max(0.0, confidence)), 4), notes=tuple(notes))


def corroborate(result: MigrationResult, config: Sequence[ConfigFinding]) -> MigrationResult:
    """The result with each finding's confidence moved by the configuration of its hosts."""
    m = result.migration
    relevant = [c for c in config if _about(c, m)]
    if not relevant or not result.findings:
        return result
    findings = [_adjusted(f, relevant) for f in result.findings]
    lead = findings[:1] if findings[0].signature_id == "unknown" else []
    rest = sorted(findings[len(lead) :], key=lambda f: -f.confidence)  # stable: ties keep order
    return replace(result, findings=tuple(lead + rest))
