"""``migdiag triage CASES...``: many customers' cases in one ranked table.

Rank answers "which case do I open first": failures nobody has a cause for come first (they
need an engineer), then explained failures, then slow attempts, then healthy cases.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from urllib.parse import quote

from rich import box
from rich.table import Table
from rich.text import Text

from migdiag.model import Analysis
from migdiag.report.html import render_page
from migdiag.report.options import RenderOptions
from migdiag.report.terminal import console_text, make_console
from migdiag.report.text import Status, clean, confidence, status_of, unknown_cause


class Urgency(IntEnum):
    UNKNOWN_CAUSE = 0
    FAILED = 1
    SLOW = 2
    HEALTHY = 3

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


@dataclass(frozen=True, slots=True)
class TriageRow:
    case: str
    urgency: Urgency
    migrations: int
    failed: int
    unknown_cause: int
    slow: int
    top_cause: str | None  # title of the most frequent cause among failed and slow attempts
    top_signature: str | None
    top_confidence: float | None
    hosts: tuple[str, ...]
    warnings: int


def _row(case: str, analysis: Analysis) -> TriageRow:
    statuses = [status_of(r) for r in analysis.results]
    failed = statuses.count(Status.FAILED)
    unknown = sum(1 for r in analysis.results if unknown_cause(r))
    slow = statuses.count(Status.SLOW)
    if unknown:
        urgency = Urgency.UNKNOWN_CAUSE
    elif failed:
        urgency = Urgency.FAILED
    elif slow:
        urgency = Urgency.SLOW
    else:
        urgency = Urgency.HEALTHY
    # The top cause is the most frequent diagnosis among problem attempts; ties go to the
    # higher confidence and then the signature id, so the choice is reproducible.
    counts: Counter[str] = Counter()
    best: dict[str, tuple[float, str]] = {}
    for r, s in zip(analysis.results, statuses, strict=True):
        d = r.diagnosis
        if d is None or s not in (Status.FAILED, Status.SLOW):
            continue
        counts[d.signature_id] += 1
        if d.signature_id not in best or d.confidence > best[d.signature_id][0]:
            best[d.signature_id] = (d.confidence, d.title)
    top = sorted(counts, key=lambda sid: (-counts[sid], -best[sid][0], sid))
    top_id = top[0] if top else None
    return TriageRow(
        case=case,
        urgency=urgency,
        migrations=len(analysis.results),
        failed=failed,
        unknown_cause=unknown,
        slow=slow,
        top_cause=best[top_id][1] if top_id else None,
        top_signature=top_id,
        top_confidence=best[top_id][0] if top_id else None,
        hosts=tuple(sorted(analysis.hosts)),
        warnings=len(analysis.warnings) + sum(len(i.warnings) for i in analysis.inputs),
    )


def triage_rows(cases: Sequence[tuple[str, Analysis]]) -> list[TriageRow]:
    """One row per case, most urgent first."""
    rows = [_row(case, analysis) for case, analysis in cases]
    return sorted(rows, key=lambda r: (r.urgency, -r.unknown_cause, -r.failed, -r.slow, r.case))


def _cause(row: TriageRow) -> str:
    if row.top_cause is None:
        return "unknown cause" if row.failed else "-"
    conf = f" ({confidence(row.top_confidence)})" if row.top_confidence is not None else ""
    return f"{clean(row.top_cause, one_line=True)}{conf}"


def render_triage_table(rows: Sequence[TriageRow], options: RenderOptions) -> str:
    """The ranked table for the terminal (plain without colour)."""
    console = make_console(options)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    for name, justify in (
        ("#", "right"),
        ("case", "left"),
        ("urgency", "left"),
        ("attempts", "right"),
        ("failed", "right"),
        ("unknown", "right"),
        ("slow", "right"),
        ("top cause", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    style = {
        Urgency.UNKNOWN_CAUSE: "bold red",
        Urgency.FAILED: "red",
        Urgency.SLOW: "yellow",
        Urgency.HEALTHY: "green",
    }
    for rank, row in enumerate(rows, start=1):
        table.add_row(
            str(rank),
            Text(clean(row.case, one_line=True)),
            Text(row.urgency.label, style=style[row.urgency]),
            str(row.migrations),
            str(row.failed),
            str(row.unknown_cause),
            str(row.slow),
            Text(_cause(row)),
        )
    console.print(table)
    return console_text(console, options)


def safe_href(link: str) -> str:
    """A relative, percent-encoded link: a case named ``javascript:alert(1)`` stays a file."""
    path = posixpath.normpath(link.replace("\\", "/"))
    href = quote(path, safe="/")
    # quote() leaves no ':' and no '//' prefix survives normpath, but keep the guarantee
    # explicit: an index link is always relative to the index.
    return href if href.startswith(("./", "../")) else f"./{href.lstrip('/')}"


def render_index_html(rows: Sequence[TriageRow], links: Mapping[str, str]) -> str:
    """The triage index page; ``links`` maps a case to its report's path relative to it."""
    view = [
        {
            "rank": rank,
            "case": clean(row.case, one_line=True),
            "href": safe_href(links[row.case]) if row.case in links else None,
            "urgency": row.urgency.label,
            "migrations": row.migrations,
            "failed": row.failed,
            "unknown_cause": row.unknown_cause,
            "slow": row.slow,
            "cause": _cause(row),
            "hosts": clean(", ".join(row.hosts), one_line=True),
        }
        for rank, row in enumerate(rows, start=1)
    ]
    return render_page("index.html.j2", {"title": "migdiag triage", "rows": view})
