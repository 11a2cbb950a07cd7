"""``--format json``: the analysis as a versioned document (schema in ``schema/``).

Keys are emitted in a fixed order (the order below), lists in the analysis' order, which is
meaningful (events by corrected time, findings by rank).  Log text is kept verbatim: JSON is
data for other tools, and every consumer escapes for its own sink.  ``ensure_ascii`` keeps
control and bidi characters as ``\\u`` escapes so that ``cat report.json`` is harmless.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache, partial
from pathlib import Path
from typing import Any

from migdiag.forked import split_build
from migdiag.model import (
    Analysis,
    ConfigurationReport,
    Event,
    Evidence,
    Finding,
    InputReport,
    Migration,
    MigrationResult,
    Outcome,
    Side,
)
from migdiag.report import compact_json
from migdiag.report.compact_json import report_number
from migdiag.report.drains import drain_objs
from migdiag.report.options import RenderOptions
from migdiag.report.pasted import pasted_objs
from migdiag.report.seen_before import seen_before_objs
from migdiag.report.text import Status, iso, status_of, unknown_cause

SCHEMA_VERSION = "1.1"
PRETTY_LIMIT = 200  # migrations up to which JSON is indented for people to read
SCHEMA_RESOURCE = "report/schema/analysis.schema.json"


def schema_text() -> str:
    """The shipped JSON Schema, as ``migdiag schema`` prints it."""
    # Beside the package's modules (not importlib.resources: ~10 ms to import, every run).
    return (Path(__file__).resolve().parents[1] / SCHEMA_RESOURCE).read_text(encoding="utf-8")


@cache
def _schema() -> str:
    return schema_text()


def load_schema() -> dict[str, Any]:
    data = json.loads(_schema())
    assert isinstance(data, dict)
    return data


# Every float of a migration's object goes through this (compact_json relies on it).
_num = report_number


def _input(report: InputReport) -> dict[str, Any]:
    return {
        "path": report.path,
        "format": report.format,
        "host": report.hosts[0] if len(report.hosts) == 1 else None,
        "hosts": list(report.hosts),
        "channel": report.channels[0] if len(report.channels) == 1 else None,
        "channels": list(report.channels),
        "records": report.records,
        "relevant": report.relevant,
        "recovered": report.recovered,
        "dropped": report.dropped,
        "chunks": report.chunks,
        "header_chunks": report.header_chunks,
        "bad_chunks": report.bad_chunks,
        "dirty": report.dirty,
        "skipped": report.skipped,
        "error": report.error,
        "incomplete": report.incomplete,
        "warnings": list(report.warnings),
    }


def _sides(m: Migration) -> dict[str, str]:
    """``m.side_of(event).value`` by the event's short host (the source wins a tie, as there);
    a host that is neither side is ``"any"``."""
    sides: dict[str, str] = {}
    if m.destination is not None:
        sides[m.destination] = Side.DESTINATION.value
    if m.source is not None:
        sides[m.source] = Side.SOURCE.value
    return sides


def _event(index: int, event: Event, corrected: datetime, side: str) -> dict[str, Any]:
    origin = event.origin
    codes = event.error_codes
    logged = iso(event.time)
    return {
        "index": index,
        "time": logged,
        # Most hosts' clocks need no correction: one formatting then (a fleet has 100,000).
        "corrected_time": logged if corrected == event.time else iso(corrected),
        "host": event.short_host,
        "host_fqdn": event.host if "." in event.host else None,
        "side": side,
        "channel": event.channel,
        "provider": event.provider,
        "event_id": event.event_id,
        "level": event.level_name,
        "record_id": event.record_id,
        "error_code": codes[0] if codes else None,
        "error_codes": list(codes),
        "message": event.message,
        "input": {
            "path": origin.path,
            "format": origin.format,
            "record": origin.record,
            "offset": origin.offset,
        },
        "time_assumed": event.time_assumed,
        "fields": [{"name": name, "value": value} for name, value in event.fields],
    }


def _events(m: Migration) -> list[dict[str, Any]]:
    # Per migration, not per event: which host is which side, and the corrected clock.
    sides = _sides(m)
    any_side = Side.ANY.value
    times = m.corrected_times
    return [
        _event(
            i,
            e,
            times[i] if i < len(times) else e.time,
            sides.get(e.short_host, any_side),
        )
        for i, e in enumerate(m.events)
    ]


def _index_of(m: Migration, event: Event) -> int | None:
    try:
        return m.events.index(event)
    except ValueError:
        return None  # a finding may cite an event outside the attempt (e.g. a host-wide one)


def _evidence(m: Migration, ev: Evidence) -> dict[str, Any]:
    return {
        "event_index": _index_of(m, ev.event),
        "time": iso(ev.event.time),
        "host": ev.event.short_host,
        "event_id": ev.event.event_id,
        "error_codes": list(ev.event.error_codes),
        "why": ev.why,
    }


def finding_obj(m: Migration, f: Finding) -> dict[str, Any]:
    return {
        "signature_id": f.signature_id,
        "cause": f.cause,
        "title": f.title,
        "severity": f.severity,
        "confidence": _num(f.confidence),
        "explanation": f.explanation,
        "evidence": [_evidence(m, ev) for ev in f.evidence],
        "corroboration": [_evidence(m, ev) for ev in f.corroboration],
        "checks": list(f.checks),
        "remediation": list(f.remediation),
        "alternatives": list(f.differential),
        "references": list(f.references),
        "notes": list(f.notes),
    }


def migration_obj(result: MigrationResult) -> dict[str, Any]:
    m = result.migration
    diagnosis = result.diagnosis
    return {
        "id": m.id,
        "vm_name": m.vm_name,
        "vm_id": m.vm_id,
        "source": m.source,
        "destination": m.destination,
        "source_fqdn": m.source_fqdn,
        "destination_fqdn": m.destination_fqdn,
        "outcome": m.outcome.value,
        "status": status_of(result).value,
        "started": iso(m.started),
        "ended": iso(m.ended),
        "duration_s": _num(m.duration_s),
        "blackout_s": _num(m.blackout_s),
        "concurrent": m.concurrent,
        "coverage": list(m.coverage),
        "ambiguities": list(m.ambiguities),
        "phases": [
            {
                "name": p.name,
                "host": p.host,
                "started": iso(p.started),
                "ended": iso(p.ended),
                "seconds": _num(p.seconds),
            }
            for p in m.phases
        ],
        "events": _events(m),
        "edges": [{"from": e.a, "to": e.b, "reason": e.reason} for e in m.edges],
        "decoded_errors": [
            {"code": code, "name": name, "text": text} for code, name, text in result.decoded
        ],
        "diagnosis": None if diagnosis is None else finding_obj(m, diagnosis),
        "differential": [finding_obj(m, f) for f in result.differential],
    }


def summary_obj(analysis: Analysis) -> dict[str, int]:
    statuses = [status_of(r) for r in analysis.results]
    return {
        "migrations": len(analysis.results),
        "failed": statuses.count(Status.FAILED),
        "slow": statuses.count(Status.SLOW),
        "succeeded": sum(1 for r in analysis.results if r.migration.outcome is Outcome.SUCCEEDED),
        "unknown": statuses.count(Status.UNKNOWN),
        "in_progress": statuses.count(Status.IN_PROGRESS),
        "unknown_cause": sum(
            1 for r, s in zip(analysis.results, statuses, strict=True) if unknown_cause(r, s)
        ),
    }


def _document(analysis: Analysis, migrations: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "time_range": {"first": iso(analysis.first_event), "last": iso(analysis.last_event)},
        "hosts": sorted(analysis.hosts),
        "inputs": [_input(r) for r in sorted(analysis.inputs, key=lambda r: r.path)],
        "warnings": list(analysis.warnings),
        "clock_skews": [
            {
                "host": s.host,
                "reference": s.reference,
                "offset_s": _num(s.offset_s),
                "samples": s.samples,
                "uncertainty_s": _num(s.uncertainty_s),
                "description": s.describe(),
            }
            for s in sorted(analysis.skews, key=lambda s: (s.host, s.reference))
        ],
        "summary": summary_obj(analysis),
        "migrations": migrations,
        "pasted": pasted_objs(analysis),
        "configuration": configuration_obj(analysis.configuration),
        "drains": drain_objs(analysis),
        # Only with a case history (--record); absent otherwise, so older outputs still hold.
        **({"seen_before": seen_before_objs(analysis)} if analysis.seen_before else {}),
    }


def configuration_obj(config: ConfigurationReport) -> dict[str, Any]:
    """The configuration snapshots' findings (empty lists when no snapshot was given)."""
    return {
        "hosts": list(config.hosts),
        "snapshots": [{"host": h, "cmdlet": c, "path": p} for h, c, p in config.snapshots],
        "findings": [
            {
                "id": f.id,
                "cause": f.cause,
                "title": f.title,
                "severity": f.severity,
                "effect": f.effect,
                "hosts": list(f.hosts),
                "evidence": [
                    {
                        "host": e.host,
                        "cmdlet": e.cmdlet,
                        "property": e.property,
                        "value": e.value,
                        "item": e.item or None,
                        "path": e.path or None,
                    }
                    for e in f.evidence
                ],
                "explanation": f.explanation,
                "checks": list(f.checks),
                "remediation": list(f.remediation),
            }
            for f in config.findings
        ],
        "warnings": list(config.warnings),
    }


def to_json_obj(analysis: Analysis) -> dict[str, Any]:
    """The analysis as plain JSON-able data, in the shape ``analysis.schema.json`` describes."""
    return _document(analysis, [migration_obj(r) for r in analysis.results])


def _compact(analysis: Analysis) -> str:
    """``json.dumps(to_json_obj(analysis)) + "\n"`` compactly, one migration at a time.

    A fleet's document is hundreds of thousands of dicts and lists: built whole, it is the
    bulk of the run's memory, and the garbage collector walks it again and again as it grows.
    Each migration's object is encoded as soon as it is built instead.  The compact encoder
    writes a list as ``[`` items joined by ``,`` ``]`` and an object as ``{`` ``key:value``
    pairs joined by ``,`` ``}``, so encoding the parts and joining them so is byte-identical.
    The pieces are joined once, at the end: each intermediate join would copy tens of MB.
    """
    # The head's parts hold numbers not all of which pass report_number: the json module's.
    encode = compact_json.standard
    head: list[tuple[str, str | None]] = []  # (key, its text; None for the migrations)

    def document() -> None:
        # The rest of the document, made while forked children encode later migrations.
        for key, value in _document(analysis, []).items():
            head.append((key, None if key == "migrations" else encode(value)))

    # Each migration's text depends on it alone: built in ranges on every core, this process
    # making the head (~a sixth of the work) before it takes ranges too.
    build = partial(_migrations, analysis)
    migrations = split_build(build, len(analysis.results), meanwhile=document)
    pieces = ["{"]
    for number, (key, text) in enumerate(head):
        pieces.append(f"{',' if number else ''}{encode(key)}:")
        pieces += ["[", migrations, "]"] if text is None else [text]
    pieces.append("}\n")
    return "".join(pieces)


def _migrations(analysis: Analysis, start: int, stop: int) -> str:
    """Migrations ``start`` to ``stop`` of the compact document's list, with the comma
    that precedes each but the list's first.  The bulk of a fleet's text: written by
    ``compact_json`` (orjson where it can, the json module's text either way)."""
    encode = compact_json.encode
    results = analysis.results
    return "".join(
        f"{',' if index else ''}{encode(migration_obj(results[index]))}"
        for index in range(start, stop)
    )


def render_json(analysis: Analysis, options: RenderOptions) -> str:
    """``--format json``; ``options`` change nothing, so that the output is a pure function."""
    del options
    if len(analysis.results) > PRETTY_LIMIT:
        # A fleet's analysis (thousands of migrations, tens of MB) is for tools: compact
        # output is several times faster than indented.
        return _compact(analysis)
    return json.dumps(to_json_obj(analysis), indent=2, ensure_ascii=True) + "\n"
