"""``migdiag triage CASES...``: many customers' cases in one ranked table.

Rank answers "which case do I open first": failures nobody has a cause for come first (they
need an engineer), then explained failures, then cases whose folder held no log at all (ask
the customer again), then slow attempts, then healthy cases.
"""

from __future__ import annotations

import json
import posixpath
import re
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
    NO_LOGS = 2
    SLOW = 3
    HEALTHY = 4

    @property
    def label(self) -> str:
        if self is Urgency.NO_LOGS:
            return "no logs"  # not "healthy": nothing was read to be healthy
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
    has_logs = bool(analysis.results) or any(
        not i.skipped and i.format != "ignored" for i in analysis.inputs
    )
    if not has_logs:
        urgency = Urgency.NO_LOGS
    elif unknown:
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


def render_triage_json(rows: Sequence[TriageRow]) -> str:
    """The ranked cases for scripts: one object per case, most urgent first."""
    data = {
        "kind": "triage",
        "cases": [
            {
                "rank": rank,
                "case": row.case,
                "urgency": row.urgency.label,
                "migrations": row.migrations,
                "failed": row.failed,
                "unknown_cause": row.unknown_cause,
                "slow": row.slow,
                "top_cause": row.top_cause,
                "top_signature": row.top_signature,
                "top_confidence": row.top_confidence,
                "hosts": list(row.hosts),
                "warnings": row.warnings,
            }
            for rank, row in enumerate(rows, start=1)
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def case_file_names(cases: Sequence[str]) -> dict[str, str]:
    """Each case's report file name, after the case's own folder or zip name (``HV-4711/`` ->
    ``HV-4711.html``): safe characters only, never a path, unique (``-2`` on a clash)."""
    names: dict[str, str] = {}
    used = {"index"}
    for case in cases:
        base = posixpath.basename(case.replace("\\", "/").rstrip("/")) or "case"
        stem = base[:-4] if base.lower().endswith(".zip") else base
        stem = _UNSAFE_NAME.sub("-", stem).strip(".-")[:80] or "case"
        name, n = stem, 1
        while name.lower() in used:
            n += 1
            name = f"{stem}-{n}"
        used.add(name.lower())
        names[case] = f"{name}.html"
    return names


def _cause(row: TriageRow) -> str:
    if row.top_cause is None:
        if row.urgency is Urgency.NO_LOGS:
            return "no logs found"
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
        Urgency.NO_LOGS: "bold",
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
            "urgency_rank": int(row.urgency),
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
