"""``migdiag timeline``: each attempt as two columns, source | destination, on one clock."""

from __future__ import annotations

from migdiag.correlate import Correlation
from migdiag.model import Migration
from migdiag.report.text import clean

COLUMN = 58


def _cell(text: str) -> str:
    # Log text is untrusted: one line, control characters, escapes and bidi overrides shown.
    safe = clean(text, one_line=True)
    return (safe[: COLUMN - 1] + "…") if len(safe) > COLUMN else safe.ljust(COLUMN)


def render_migration(m: Migration) -> list[str]:
    src = clean(m.source or "?", one_line=True)
    dst = clean(m.destination or "?", one_line=True)
    # Times are corrected to the reference host's clock (the one the "clock:" lines name):
    # other hosts' times were shifted by the skew estimate.
    lines = [
        f"{clean(m.vm_name or m.vm_id or '?', one_line=True)}  {src} -> {dst}  {m.outcome.value}"
        + (f"  ({m.duration_s:.1f} s)" if m.duration_s is not None else ""),
        f"{'time (UTC)':<16}| {_cell(src)} | {dst}",
    ]
    for event, t in zip(m.events, m.corrected_times, strict=True):
        text = f"{event.event_id} " + (event.message or "").strip()
        if event.error_codes:
            text += f" [{', '.join(event.error_codes)}]"
        left, right = (text, "") if m.side_of(event).value != "destination" else ("", text)
        lines.append(
            f"{t:%H:%M:%S.%f}"[:12].ljust(16) + "| " + _cell(left) + " | " + right[:COLUMN]
        )
    lines.extend(f"  ! {clean(note, one_line=True)}" for note in m.coverage)
    return lines


def render_timeline(correlation: Correlation) -> str:
    out: list[str] = []
    for skew in correlation.skews:
        out.append(f"clock: {clean(skew.describe(), one_line=True)}")
    if not correlation.migrations:
        out.append("no live-migration attempts found")
    for m in correlation.migrations:
        out.append("")
        out.extend(render_migration(m))
    return "\n".join(out) + "\n"


def render_timeline_json(correlation: Correlation) -> str:
    """The same timelines for scripts: per attempt, its events on the source's clock."""
    import json

    data = {
        "kind": "timeline",
        "clocks": [s.describe() for s in correlation.skews],
        "migrations": [
            {
                "vm_name": m.vm_name,
                "vm_id": m.vm_id,
                "source": m.source,
                "destination": m.destination,
                "outcome": m.outcome.value,
                "duration_s": m.duration_s,
                "events": [
                    {
                        "time": t.isoformat().replace("+00:00", "Z"),
                        "side": m.side_of(event).value,
                        "host": event.short_host,
                        "event_id": event.event_id,
                        "message": event.message or "",
                        "error_codes": list(event.error_codes),
                    }
                    for event, t in zip(m.events, m.corrected_times, strict=True)
                ],
                "notes": list(m.coverage),
            }
            for m in correlation.migrations
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
