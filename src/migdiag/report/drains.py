"""Drains for every renderer: the JSON objects, the one-line summary, and the inline SVG
charts (a Gantt chart per drain and its concurrency over time) the HTML report embeds.

The charts are drawn here, as SVG text, so that the report stays one self-contained file
with no script from outside.  They do not rely on colour alone: failed bars are hatched and
labelled, queueing is a dashed outline, blackouts a black tick with a title.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import Any

from migdiag.model import Analysis, Drain, DrainMember, Outcome, SpeedFinding
from migdiag.report.text import clean, iso


def _num(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def finding_obj(f: SpeedFinding) -> dict[str, Any]:
    return {
        "rule_id": f.rule_id,
        "title": f.title,
        "severity": f.severity,
        "summary": f.summary,
        "evidence": list(f.evidence),
        "explanation": f.explanation,
        "checks": list(f.checks),
        "remediation": list(f.remediation),
        "advice": f.advice,
        "migrations": list(f.migrations),
    }


def member_obj(m: DrainMember) -> dict[str, Any]:
    return {
        "migration_id": m.migration_id,
        "vm_name": m.vm_name,
        "destination": m.destination,
        "outcome": m.outcome.value,
        "requested": iso(m.requested),
        "transfer_started": iso(m.transfer_started),
        "ended": iso(m.ended),
        "queued_s": _num(m.queued_s),
        "duration_s": _num(m.duration_s),
        "blackout_at": iso(m.blackout_at),
        "blackout_s": _num(m.blackout_s),
        "concurrency": _num(m.concurrency),
        "memory_bytes": m.memory_bytes,
        "gbps": _num(m.gbps),
        "refused": m.refused,
        "dirty_pages": m.dirty_pages,
        "saved_state_kb": m.saved_state_kb,
    }


def drain_obj(d: Drain) -> dict[str, Any]:
    return {
        "id": d.id,
        "source": d.source,
        "destinations": list(d.destinations),
        "start": iso(d.start),
        "end": iso(d.end),
        "wall_s": _num(d.wall_s),
        "migrations": list(d.migration_ids),
        "failed": d.failed,
        "max_concurrent": d.max_concurrent,
        "concurrency": [{"time": iso(t), "running": n} for t, n in d.concurrency],
        "median_duration_s": _num(d.median_duration_s),
        "p95_duration_s": _num(d.p95_duration_s),
        "median_blackout_s": _num(d.median_blackout_s),
        "max_blackout_s": _num(d.max_blackout_s),
        "queued_s": _num(d.queued_s),
        "refusals": d.refusals,
        "memory_bytes": d.memory_bytes,
        "gbps": _num(d.gbps),
        "link": {
            "link_gbps": d.facts.link_gbps,
            "performance_option": d.facts.performance_option,
            "max_migrations": d.facts.max_migrations,
            "smb_limit_gbps": d.facts.smb_limit_gbps,
        },
        "members": [member_obj(m) for m in d.members],
        "findings": [finding_obj(f) for f in d.findings],
    }


def drain_objs(analysis: Analysis) -> list[dict[str, Any]]:
    return [drain_obj(d) for d in analysis.drains]


def wall(seconds: float | None) -> str:
    """``11 min 20 s``, ``52 s``: how people say a drain's length."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def drain_line(d: Drain) -> str:
    """``HV01 → HV02: 48 VMs in 11 min 20 s, up to 8 at once, median 52 s, 2 failed; …``
    (host and VM names are log text: the caller escapes for its sink)."""
    targets = ", ".join(clean(h, one_line=True) for h in d.destinations) or "?"
    vms = len({m.vm_name or m.migration_id for m in d.members})
    attempts = f" ({len(d.members)} attempts)" if vms != len(d.members) else ""
    parts = [
        f"{vms} VMs{attempts} in {wall(d.wall_s)}",
        f"up to {d.max_concurrent} at once",
        f"median {wall(d.median_duration_s)}",
    ]
    if d.gbps is not None:
        parts.append(f"{d.gbps:.1f} Gbit/s")
    if d.failed:
        parts.append(f"{d.failed} failed")
    line = f"{clean(d.source, one_line=True)} → {targets}: " + ", ".join(parts)
    if d.findings:
        line += "; " + "; ".join(clean(f.summary, one_line=True) for f in d.findings)
    return line


# ---- SVG ------------------------------------------------------------------------------------

_ROW = 18
_LABEL = 150
_WIDTH = 760
_AXIS = 22


def _x(t: datetime, d: Drain, width: float) -> float:
    start = min(min(m.requested for m in d.members), d.start)
    span = max((d.end - start).total_seconds(), 0.001)
    return _LABEL + (t - start).total_seconds() / span * width


def gantt_svg(d: Drain) -> str:
    """One row per migration: queueing as a dashed outline, the transfer as a bar (failed:
    hatched, red, labelled "failed"), the blackout as a black tick."""
    width = _WIDTH - _LABEL - 10
    height = _AXIS + _ROW * len(d.members) + 6
    out = [
        f'<svg class="drain-gantt" role="img" viewBox="0 0 {_WIDTH} {height}" '
        f'width="{_WIDTH}" height="{height}" aria-label="'
        f'{escape(_title(d))}: one row per migration">',
        f'<defs><pattern id="hatch-{escape(d.id)}" width="6" height="6" '
        'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="6" height="6" class="drain-failed-bg"/>'
        '<line x1="0" y1="0" x2="0" y2="6" class="drain-hatch"/></pattern></defs>',
        _axis(d, width),
    ]
    for row, m in enumerate(d.members):
        y = _AXIS + row * _ROW
        x_req, x_start = _x(m.requested, d, width), _x(m.transfer_started, d, width)
        x_end = max(_x(m.ended, d, width), x_start + 1.5)
        failed = m.outcome is Outcome.FAILED
        name = escape(clean(m.vm_name or m.migration_id, one_line=True))
        status = "failed" if failed else m.outcome.value
        tip = escape(
            f"{clean(m.vm_name or m.migration_id, one_line=True)} → "
            f"{clean(m.destination or '?', one_line=True)}: {status}, {m.duration_s:.1f} s"
            + (f", blackout {m.blackout_s:.1f} s" if m.blackout_s is not None else "")
            + (f", queued {m.queued_s:.1f} s" if m.queued_s > 0.05 else "")
        )
        out.append(
            f'<g class="drain-row{" drain-row-failed" if failed else ""}" '
            f'data-migration="{escape(m.migration_id)}" data-outcome="{status}">'
            f"<title>{tip}</title>"
            f'<text x="{_LABEL - 6}" y="{y + 12}" class="drain-label">{name}</text>'
        )
        if x_start - x_req > 0.5:
            out.append(
                f'<rect class="drain-queued" x="{x_req:.1f}" y="{y + 4}" '
                f'width="{x_start - x_req:.1f}" height="{_ROW - 8}"/>'
            )
        fill = f' fill="url(#hatch-{escape(d.id)})"' if failed else ""
        out.append(
            f'<rect class="drain-bar{" drain-bar-failed" if failed else ""}"{fill} '
            f'x="{x_start:.1f}" y="{y + 2}" width="{x_end - x_start:.1f}" height="{_ROW - 4}"/>'
        )
        if failed:
            out.append(
                f'<text x="{x_end + 3:.1f}" y="{y + 12}" class="drain-failed-label">failed</text>'
            )
        if m.blackout_at is not None:
            xb = _x(m.blackout_at, d, width)
            out.append(
                f'<rect class="drain-blackout" x="{xb:.1f}" y="{y}" width="'
                f'{max(2.0, (m.blackout_s or 0) / max(d.wall_s, 0.001) * width):.1f}" '
                f'height="{_ROW}"><title>blackout {m.blackout_s or 0:.1f} s</title></rect>'
            )
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def _title(d: Drain) -> str:
    return f"{clean(d.source, one_line=True)} drain at {iso(d.start)}"


def _axis(d: Drain, width: float) -> str:
    ticks = []
    end = " drain-axis-end"  # the last label ends at its tick, inside the chart
    span = (d.end - min(min(m.requested for m in d.members), d.start)).total_seconds()
    for i in range(5):
        x = _LABEL + width * i / 4
        ticks.append(
            f'<line x1="{x:.1f}" y1="{_AXIS - 4}" x2="{x:.1f}" y2="{_AXIS + 2}" '
            'class="drain-tick"/>'
            f'<text x="{x:.1f}" y="{_AXIS - 8}" class="drain-axis{end if i == 4 else ""}">'
            f"+{wall(span * i / 4)}</text>"
        )
    return "".join(ticks)


def concurrency_svg(d: Drain) -> str:
    """Running migrations over time, as a step line with its peak labelled."""
    width = _WIDTH - _LABEL - 10
    height = 90
    peak = max(1, d.max_concurrent)
    points: list[str] = []
    previous_y: float | None = None
    for t, n in d.concurrency:
        x = _x(t, d, width)
        y = height - 14 - n / peak * (height - 30)
        if previous_y is not None:
            points.append(f"{x:.1f},{previous_y:.1f}")
        points.append(f"{x:.1f},{y:.1f}")
        previous_y = y
    label_y = height - 14 - (height - 30)
    return (
        f'<svg class="drain-concurrency" role="img" viewBox="0 0 {_WIDTH} {height}" '
        f'width="{_WIDTH}" height="{height}" aria-label="migrations at once over time, '
        f'peak {d.max_concurrent}">'
        f'<text x="{_LABEL - 6}" y="{label_y + 4:.1f}" class="drain-label">{peak} at once</text>'
        f'<text x="{_LABEL - 6}" y="{height - 10}" class="drain-label">0</text>'
        f'<line x1="{_LABEL}" y1="{height - 14}" x2="{_LABEL + width}" y2="{height - 14}" '
        'class="drain-tick"/>'
        f'<polyline class="drain-running" points="{" ".join(points)}"/></svg>'
    )


def drain_views(drains: Sequence[Drain]) -> list[dict[str, Any]]:
    """What the HTML template's drain block shows (its SVG is built here, escaped)."""
    return [
        {
            "id": d.id,
            "line": drain_line(d),
            "gantt": gantt_svg(d),
            "concurrency": concurrency_svg(d),
            "findings": d.findings,
        }
        for d in drains
    ]
