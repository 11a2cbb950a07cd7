"""The case history: analysed cases and confirmed causes in SQLite or PostgreSQL.

The only package that imports SQLAlchemy and Alembic; load it only on history code paths
(``migdiag history``, ``--record``), so other commands start without them.

    Database(url)                      open (and upgrade) the database: see ``database``
    record_analysis(db, case, paths, analysis) -> Recorded
    confirm(db, case, vm, cause, vocabulary, note=...)
    list_cases / show_case / recurring_causes / search / accuracy    (queries)
    seen_before(db, analysis, case) -> tuple[SeenBefore, ...]
    export_lines(db) / import_lines(db, lines)                        (moving a desk's history)
"""

from __future__ import annotations

from migdiag.history.database import (
    Database,
    DatabaseTooNew,
    DatabaseUnavailable,
    HistoryError,
    UnknownCase,
    UnknownCause,
    default_path,
    head_revision,
    resolve_url,
)
from migdiag.history.queries import (
    accuracy,
    list_cases,
    recurring_causes,
    search,
    seen_before,
    show_case,
)
from migdiag.history.store import Recorded, confirm, record_analysis
from migdiag.history.transfer import export_lines, import_lines

__all__ = [
    "Database",
    "DatabaseTooNew",
    "DatabaseUnavailable",
    "HistoryError",
    "Recorded",
    "UnknownCase",
    "UnknownCause",
    "accuracy",
    "confirm",
    "default_path",
    "export_lines",
    "head_revision",
    "import_lines",
    "list_cases",
    "record_analysis",
    "recurring_causes",
    "resolve_url",
    "search",
    "seen_before",
    "show_case",
]
