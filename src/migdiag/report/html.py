"""``--html FILE`` / ``--format html``: one self-contained page per analysis.

Everything is inline (CSS, JS, SVG) and a Content-Security-Policy forbids every fetch, so
the page opens from a mail attachment on an air-gapped laptop.  Log text reaches the page
only through Jinja2's autoescaping, SVG included: geometry is computed here as numbers and
the template writes text with ``{{ }}`` only.  The one ``Markup`` is our own script, whose
hash is the only script the CSP allows, so an injected ``<script>`` or ``onerror`` would
not run even if escaping ever failed.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from migdiag.model import Analysis, Migration, MigrationResult, Side
from migdiag.report.drains import drain_views
from migdiag.report.json_report import configuration_obj, summary_obj
from migdiag.report.options import RenderOptions
from migdiag.report.pasted import pasted_objs
from migdiag.report.seen_before import seen_before_lines
from migdiag.report.text import (
    Status,
    cause_label,
    clean,
    clock,
    confidence,
    decoded_name,
    input_warnings,
    iso,
    needs_detail,
    route,
    seconds,
    short_time,
    status_of,
    vm_label,
)

# Timeline geometry, in SVG user units (the SVG scales to the page width).
_WIDTH = 960
_LEFT = 130  # room for lane labels
_RIGHT = 30
_LANE_Y = {Side.SOURCE: 60, Side.DESTINATION: 130, Side.ANY: 200}
_LABEL_GAP = 40  # an event id label is about this wide
_MARK_HALF = 7  # a mark reaches this far either side of its x
SUMMARY_LENGTH = 140  # an event's one-line summary, before its details are opened
# Statuses in the order a fleet report shows them: what needs an engineer, then slow, then
# healthy (one collapsed table, no section per attempt).
ATTENTION = (Status.FAILED, Status.UNKNOWN, Status.IN_PROGRESS)
_EXPECT = re.compile(r"\s\(expect: (?P<expect>.*)\)$")
_LANE_NAME = {Side.SOURCE: "source", Side.DESTINATION: "destination", Side.ANY: "other"}


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("migdiag", "report/templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@cache
def _script() -> tuple[Markup, str]:
    text = resources.files("migdiag").joinpath("report/templates/report.js").read_text("utf-8")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    # Our own static file, never log text: the only Markup in the renderer.
    return Markup(text), f"'sha256-{digest}'"


def page_context() -> dict[str, Any]:
    """What every page template needs: the script and the CSP that admits only it."""
    script, script_hash = _script()
    return {"script": script, "script_hash": script_hash}


@dataclass(frozen=True, slots=True)
class _Axis:
    t0: datetime
    span: float

    def x(self, t: datetime) -> float:
        offset = (t - self.t0).total_seconds()
        return round(_LEFT + (_WIDTH - _LEFT - _RIGHT) * offset / self.span, 1)


def _corrected(m: Migration, index: int) -> datetime:
    return m.corrected_times[index] if index < len(m.corrected_times) else m.events[index].time


def _timeline(m: Migration, anchor: str) -> dict[str, Any] | None:
    if not m.events:
        return None
    times = [_corrected(m, i) for i in range(len(m.events))]
    for p in m.phases:
        times += [t for t in (p.started, p.ended) if t is not None]
    t0, t1 = min(times), max(times)
    axis = _Axis(t0, max((t1 - t0).total_seconds(), 0.001))
    sides = {m.side_of(e) for e in m.events}
    hosts = {Side.SOURCE: m.source, Side.DESTINATION: m.destination, Side.ANY: "other hosts"}
    shown = [
        s for s in (Side.SOURCE, Side.DESTINATION, Side.ANY) if s is not Side.ANY or s in sides
    ]
    lanes = [
        {"side": _LANE_NAME[s], "y": _LANE_Y[s], "host": clean(hosts[s] or "?", one_line=True)}
        for s in shown
    ]
    height = max(_LANE_Y[s] for s in shown) + 60
    marks = []
    failure_x = None
    # Last labelled x per (lane, above/below): a label too close to both neighbours is left
    # to the mark's tooltip and the event list rather than printed over another.
    last: dict[tuple[Side, int], float] = {}
    for i, event in enumerate(m.events):
        side = m.side_of(event)
        x = axis.x(times[i])
        dy = next((d for d in (-12, 22) if x - last.get((side, d), -1e9) >= _LABEL_GAP), None)
        if dy is not None:
            last[(side, dy)] = x
        kind = "error" if event.level <= 2 else "warning" if event.level == 3 else "info"
        if kind == "error" and failure_x is None:
            failure_x = x
        marks.append(
            {
                "href": f"#{anchor}-e{i}",
                "x": x,
                "y": _LANE_Y[side],
                "kind": kind,
                "label": str(event.event_id) if dy is not None else "",
                "label_dy": dy or 0,
                "title": f"{clock(times[i])} {clean(event.short_host, one_line=True)} "
                f"{event.event_id} {clean(event.message, one_line=True)}",
            }
        )
    phases = []
    for p in m.phases:
        if p.started is None or p.ended is None:
            continue
        side = Side.SOURCE if p.host == m.source else Side.DESTINATION
        if p.host not in (m.source, m.destination):
            side = Side.ANY
        x0, x1 = axis.x(p.started), axis.x(p.ended)
        phases.append(
            {
                "x": x0,
                "y": _LANE_Y.get(side, _LANE_Y[Side.ANY]) - 22,
                "w": max(x1 - x0, 2.0),
                "name": clean(p.name, one_line=True),
                "blackout": p.name == "offline",
                "seconds": seconds(
                    p.seconds if p.seconds is not None else (p.ended - p.started).total_seconds()
                ),
            }
        )
    ticks = []
    for n in range(6):
        offset = axis.span * n / 5
        ticks.append(
            {"x": round(_LEFT + (_WIDTH - _LEFT - _RIGHT) * n / 5, 1), "label": f"+{offset:.1f}s"}
        )
    return {
        "width": _WIDTH,
        "height": height,
        "left": _LEFT,
        "right": _WIDTH - _RIGHT,
        "axis_y": height - 25,
        "lanes": lanes,
        "marks": marks,
        "phases": phases,
        "ticks": ticks,
        "failure_x": failure_x,
        "t0": iso(t0),
    }


_GRAPH_LEFT = 110  # room for the lane (host) labels
_GRAPH_STEP = 70
_NODE_W, _NODE_H = 48, 24
_GRAPH_LANE_Y = {Side.SOURCE: 40.0, Side.DESTINATION: 110.0, Side.ANY: 180.0}


def _graph(m: Migration, anchor: str) -> dict[str, Any] | None:
    """The chain of events: one lane per host role, nodes left to right in time, every edge
    drawn from the earlier event to the later one."""
    if not m.edges:
        return None
    used = [i for i in {e.a for e in m.edges} | {e.b for e in m.edges} if 0 <= i < len(m.events)]
    used.sort(key=lambda i: (_corrected(m, i), i))
    pos: dict[int, tuple[float, float]] = {}
    sides: set[Side] = set()
    for order, i in enumerate(used):
        side = m.side_of(m.events[i])
        sides.add(side)
        pos[i] = (_GRAPH_LEFT + _NODE_W / 2 + _GRAPH_STEP * order, _GRAPH_LANE_Y[side])
    hosts = {Side.SOURCE: m.source, Side.DESTINATION: m.destination, Side.ANY: "other hosts"}
    lanes = [
        {
            "y": _GRAPH_LANE_Y[s],
            "host": clean(hosts[s] or "?", one_line=True),
            "side": _LANE_NAME[s],
        }
        for s in (Side.SOURCE, Side.DESTINATION, Side.ANY)
        if s in sides
    ]
    nodes = [
        {
            "href": f"#{anchor}-e{i}",
            "x": round(x - _NODE_W / 2, 1),
            "y": round(y - _NODE_H / 2, 1),
            "cx": x,
            "cy": y,
            "w": _NODE_W,
            "h": _NODE_H,
            "label": str(m.events[i].event_id),
            "title": f"{clock(_corrected(m, i))} {clean(m.events[i].short_host, one_line=True)} "
            f"{m.events[i].event_id}",
            "error": m.events[i].level <= 2,
        }
        for i, (x, y) in sorted(pos.items(), key=lambda item: item[1][0])
    ]
    edges = []
    for e in m.edges:
        if e.a not in pos or e.b not in pos:
            continue
        a, b = (e.a, e.b) if pos[e.a][0] <= pos[e.b][0] else (e.b, e.a)  # forward in time
        (x1, y1), (x2, y2) = pos[a], pos[b]
        if y1 == y2:
            # Same lane: leave the right edge, arc over the nodes between, enter the left edge.
            x1, x2 = x1 + _NODE_W / 2, x2 - _NODE_W / 2
            mx, my = (x1 + x2) / 2, y1 - 22 - min(abs(x2 - x1) / 8, 20)
        else:
            # Across lanes: leave the bottom (or top) edge, enter the other node's facing edge.
            down = 1 if y2 > y1 else -1
            y1, y2 = y1 + down * _NODE_H / 2, y2 - down * _NODE_H / 2
            mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        edges.append(
            {
                "d": f"M{x1:.1f},{y1:.1f} Q{mx:.1f},{my:.1f} {x2:.1f},{y2:.1f}",
                "reason": clean(e.reason, one_line=True),
                "a": m.events[a].event_id,
                "b": m.events[b].event_id,
            }
        )
    width = _GRAPH_LEFT + _NODE_W + _GRAPH_STEP * max(len(used) - 1, 1) + 10
    height = max(y for _, y in pos.values()) + 30
    return {"width": width, "height": height, "lanes": lanes, "nodes": nodes, "edges": edges}


def shorten(text: str, limit: int = SUMMARY_LENGTH) -> str:
    """``text`` in at most ``limit`` characters, cut between words with an ellipsis: a GUID,
    a path or an error code is shown whole or not at all."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if not text[limit - 1].isspace() and " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:(") + "…"


def _step_view(step: str) -> dict[str, str]:
    """A check or fix as text and the command to copy (``what: command (expect: ...)``)."""
    expect = ""
    m = _EXPECT.search(step)
    if m:
        expect, step = m["expect"], step[: m.start()]
    what, sep, command = step.rpartition(": ")
    if not sep:
        what, command = step, ""
    return {
        "what": clean(what, one_line=True),
        "command": clean(command, one_line=True),
        "expect": clean(expect, one_line=True),
    }


def _finding_view(f: Any) -> dict[str, Any]:
    return {
        "signature_id": clean(f.signature_id, one_line=True),
        "title": clean(f.title, one_line=True),
        "cause": clean(f.cause, one_line=True),
        "severity": clean(f.severity, one_line=True),
        "confidence": confidence(f.confidence),
        "explanation": clean(f.explanation),
        "evidence": [
            {
                "time": clock(ev.event.time),
                "host": clean(ev.event.short_host, one_line=True),
                "event_id": ev.event.event_id,
                "why": clean(ev.why, one_line=True),
            }
            for ev in f.evidence
        ],
        "checks": [_step_view(c) for c in f.checks],
        "remediation": [_step_view(r) for r in f.remediation],
        "alternatives": [clean(a) for a in f.differential],
        "notes": [clean(n) for n in f.notes],
        "references": [clean(r, one_line=True) for r in f.references],
    }


def _migration_view(index: int, result: MigrationResult) -> dict[str, Any]:
    m = result.migration
    anchor = f"m{index}"
    events = []
    for i, event in enumerate(m.events):
        codes = [{"code": c, "name": decoded_name(result, c) or ""} for c in event.error_codes]
        events.append(
            {
                "anchor": f"{anchor}-e{i}",
                "time": iso(_corrected(m, i)),
                "logged": iso(event.time),
                "moved": _corrected(m, i) != event.time,
                "host": clean(event.host, one_line=True),
                "side": m.side_of(event).value,
                "event_id": event.event_id,
                "level": event.level_name,
                "channel": clean(event.channel, one_line=True),
                "provider": clean(event.provider, one_line=True),
                "record_id": event.record_id,
                "codes": codes,
                "message": clean(event.message),
                "summary": shorten(clean(event.message, one_line=True)),
                "origin": clean(event.origin.describe(), one_line=True),
                "fields": [(clean(k, one_line=True), clean(v)) for k, v in event.fields],
            }
        )
    return {
        "anchor": anchor,
        "filter": _row_view(index, result, True)["filter"],
        "vm": vm_label(result),
        "vm_id": clean(m.vm_id or "", one_line=True),
        "route": route(result),
        "source_fqdn": clean(m.source_fqdn or "", one_line=True),
        "destination_fqdn": clean(m.destination_fqdn or "", one_line=True),
        "started": short_time(m.started),
        "duration": seconds(m.duration_s),
        "blackout": seconds(m.blackout_s),
        "status": status_of(result).value,
        "cause": cause_label(result),
        "detail": needs_detail(result),
        "concurrent": m.concurrent,
        "coverage": [clean(c, one_line=True) for c in m.coverage],
        "ambiguities": [clean(a, one_line=True) for a in m.ambiguities],
        "timeline": _timeline(m, anchor),
        "graph": _graph(m, anchor),
        "diagnosis": None if result.diagnosis is None else _finding_view(result.diagnosis),
        "differential": [_finding_view(f) for f in result.differential],
        "decoded": [
            {"code": c, "name": clean(n, one_line=True), "text": clean(t, one_line=True)}
            for c, n, t in result.decoded
        ],
        "events": events,
    }


def page_title(analysis: Analysis) -> str:
    """``migdiag report: HV01, HV02 (2024-03-04)``: which case a browser tab holds."""
    hosts = [clean(h, one_line=True) for h in sorted(analysis.hosts)]
    named = ", ".join(hosts[:4]) + (f" and {len(hosts) - 4} more" if len(hosts) > 4 else "")
    days = sorted(
        {
            t.astimezone(UTC).date().isoformat()
            for t in (analysis.first_event, analysis.last_event)
            if t
        }
    )
    when = " to ".join(days)
    parts = [p for p in (named or "no hosts", f"({when})" if when else "") if p]
    return "migdiag report: " + " ".join(parts)


def _row_view(index: int, result: MigrationResult, linked: bool) -> dict[str, Any]:
    m = result.migration
    vm = vm_label(result)
    cause = cause_label(result)
    hosts = " ".join(clean(h or "", one_line=True) for h in (m.source, m.destination))
    return {
        "anchor": f"m{index}" if linked else None,
        "vm": vm,
        "route": route(result),
        "started": short_time(m.started),
        "duration": seconds(m.duration_s),
        "blackout": seconds(m.blackout_s),
        "status": status_of(result).value,
        "cause": cause,
        # What the filter box searches: VM name and id, both hosts, the cause.
        "filter": " ".join((vm, clean(m.vm_id or "", one_line=True), hosts, cause)).lower(),
    }


def render_html(analysis: Analysis, options: RenderOptions) -> str:
    """The self-contained HTML report: failures and unknown outcomes first, then slow
    attempts, then every healthy attempt in one collapsed table."""
    template = environment().get_template("report.html.j2")
    inputs = [
        {
            "path": clean(r.path, one_line=True),
            "format": clean(r.format, one_line=True),
            "hosts": clean(", ".join(r.hosts), one_line=True),
            "channels": clean(", ".join(r.channels), one_line=True),
            "records": r.records,
            "state": "skipped"
            if r.skipped
            else "incomplete"
            if r.incomplete
            else "dirty"
            if r.dirty
            else "read",
        }
        for r in sorted(analysis.inputs, key=lambda r: r.path)
    ]
    indexed = list(enumerate(analysis.results))
    attention = [(i, r) for i, r in indexed if status_of(r) in ATTENTION]
    slow = [(i, r) for i, r in indexed if status_of(r) is Status.SLOW]
    healthy = [(i, r) for i, r in indexed if status_of(r) is Status.OK]
    return template.render(
        **page_context(),
        title=page_title(analysis),
        back_link=options.back_link,
        generated=short_time(options.now) if options.now is not None else None,
        hosts=[clean(h, one_line=True) for h in sorted(analysis.hosts)],
        first=short_time(analysis.first_event),
        last=short_time(analysis.last_event),
        summary=summary_obj(analysis),
        inputs=inputs,
        warnings=input_warnings(analysis.inputs) + [clean(w) for w in analysis.warnings],
        skews=[clean(s.describe(), one_line=True) for s in analysis.skews],
        attention=[_row_view(i, r, True) for i, r in attention],
        slow=[_row_view(i, r, True) for i, r in slow],
        healthy=[_row_view(i, r, False) for i, r in healthy],
        attention_sections=[_migration_view(i, r) for i, r in attention],
        slow_sections=[_migration_view(i, r) for i, r in slow],
        pasted=[_pasted_view(p) for p in pasted_objs(analysis)],
        configuration=_pasted_view(configuration_obj(analysis.configuration))
        if analysis.configuration.hosts or analysis.configuration.warnings
        else None,
        drains=_drain_views(analysis),
        seen_before=[
            (clean(vm, one_line=True), clean(sentence, one_line=True))
            for vm, sentence in seen_before_lines(analysis)
        ],
    )


def _drain_views(analysis: Analysis) -> list[dict[str, Any]]:
    # The SVG is escaped as it is drawn (migdiag.report.drains); the rest autoescapes.
    views = drain_views(analysis.drains)
    for view in views:
        view["gantt"] = Markup(view["gantt"])
        view["concurrency"] = Markup(view["concurrency"])
    return views


def _pasted_view(p: dict[str, Any]) -> dict[str, Any]:
    # The same data as the JSON (pasted text, configuration); every string is input text,
    # so each one is cleaned here and autoescaped by the template.
    def tidy(value: Any) -> Any:
        if isinstance(value, str):
            return clean(value, one_line=True)
        if isinstance(value, list):
            return [tidy(v) for v in value]
        if isinstance(value, dict):
            return {k: tidy(v) for k, v in value.items()}
        return value

    view: dict[str, Any] = tidy(p)
    for cause in view.get("causes", ()):
        for key in ("checks", "remediation"):
            cause[key] = [_step_view(x) if isinstance(x, str) else x for x in cause.get(key, ())]
    return view


def render_page(template_name: str, context: Mapping[str, Any]) -> str:
    """Render another page (the triage index) with the same environment, CSS and CSP."""
    return environment().get_template(template_name).render(**page_context(), **context)


__all__: Sequence[str] = ("environment", "render_html", "render_page")
