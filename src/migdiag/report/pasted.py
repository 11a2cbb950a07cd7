"""Findings from pasted text among the inputs, in the shape every renderer shows."""

from __future__ import annotations

from typing import Any

from migdiag.model import Analysis, Finding, PastedText
from migdiag.report.text import quote


def _line(finding_evidence: Any) -> int | None:
    # Evidence from text is a stand-in event whose origin offset is the 1-based line.
    offset = finding_evidence.event.origin.offset
    return int(offset) if isinstance(offset, int) else None


def cause_obj(rank: int, f: Finding) -> dict[str, Any]:
    return {
        "rank": rank,
        "signature_id": f.signature_id,
        "cause": f.cause,
        "title": f.title,
        "confidence": round(f.confidence, 3),
        "evidence": [
            {"line": _line(ev), "text": quote(ev.event.message), "why": ev.why} for ev in f.evidence
        ],
        "checks": list(f.checks),
        "remediation": list(f.remediation),
    }


def pasted_obj(p: PastedText) -> dict[str, Any]:
    return {
        "path": p.path,
        "causes": [cause_obj(rank, f) for rank, f in enumerate(p.findings, 1)],
        "decoded_errors": [
            {"code": code, "name": name, "text": text} for code, name, text in p.decoded
        ],
        "missing": list(p.missing),
    }


def pasted_objs(analysis: Analysis) -> list[dict[str, Any]]:
    return [pasted_obj(p) for p in sorted(analysis.pasted, key=lambda p: p.path)]
