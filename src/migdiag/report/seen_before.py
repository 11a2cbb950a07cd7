""" "Seen before" (from the case history, ``--record``) in the shape every renderer shows."""

from __future__ import annotations

from typing import Any

from migdiag.model import Analysis, SeenBefore
from migdiag.report.text import iso, short_time


def seen_before_objs(analysis: Analysis) -> list[dict[str, Any]]:
    return [
        {
            "migration_id": s.migration_id,
            "cause": s.cause,
            "case_id": s.case_id,
            "where": s.where,
            "when": iso(s.when),
            "confirmed_causes": list(s.confirmed),
        }
        for s in analysis.seen_before
    ]


def seen_before_lines(analysis: Analysis) -> list[tuple[str, str]]:
    """(VM label, sentence) per earlier case; the text is log- and user-derived: escape it."""
    vms = {
        r.migration.id: r.migration.vm_name or r.migration.vm_id or "?" for r in analysis.results
    }
    return [(vms.get(s.migration_id, "?"), _sentence(s)) for s in analysis.seen_before]


def _sentence(s: SeenBefore) -> str:
    confirmed = f"confirmed: {', '.join(s.confirmed)}" if s.confirmed else "not confirmed"
    return f"{s.cause} on {s.where} in case {s.case_id} ({short_time(s.when)}; {confirmed})"
