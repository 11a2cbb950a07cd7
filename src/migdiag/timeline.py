"""``migdiag timeline``: each attempt as two columns, source | destination, on one clock."""

from __future__ import annotations

from migdiag.correlate import Correlation
from migdiag.model import Migration

COLUMN = 58


def _cell(text: str) -> str:
    # Log text is untrusted: keep it on one line and free of control characters.
    clean = "".join(ch if ch.isprintable() else " " for ch in text.replace("\n", " "))
    return (clean[: COLUMN - 1] + "…") if len(clean) > COLUMN else clean.ljust(COLUMN)


def render_migration(m: Migration) -> list[str]:
    src = m.source or "?"
    dst = m.destination or "?"
    # Times are on the source's clock: other hosts' times were shifted by the skew estimate.
    lines = [
        f"{m.vm_name or m.vm_id or '?'}  {src} -> {dst}  {m.outcome.value}"
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
    lines.extend(f"  ! {note}" for note in m.coverage)
    return lines


def render_timeline(correlation: Correlation) -> str:
    out: list[str] = []
    for skew in correlation.skews:
        out.append(f"clock: {skew.describe()}")
    if not correlation.migrations:
        out.append("no live migrations found")
    for m in correlation.migrations:
        out.append("")
        out.extend(render_migration(m))
    return "\n".join(out) + "\n"
