"""A whole history as JSON lines and back: how a desk moves from SQLite to PostgreSQL.

One line per analysis (with its inputs and migrations) and per confirmation.  Importing skips
what the target already holds (same case and inputs; same confirmation), so it can be rerun.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from migdiag.history.database import Database, HistoryError
from migdiag.history.queries import utc
from migdiag.history.schema import analyses, case_migrations, confirmations, inputs

FORMAT = "migdiag-history/1"
_TIMES = {"recorded_at", "first_event", "last_event", "started", "ended", "confirmed_at"}


def _out(row: Any, skip: set[str]) -> dict[str, Any]:
    plain: dict[str, Any] = {}
    for key, value in row._mapping.items():
        if key in skip:
            continue
        if isinstance(value, datetime):
            value = utc(value).isoformat()  # type: ignore[union-attr]
        plain[key] = value
    return plain


def _in(record: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (datetime.fromisoformat(v) if k in _TIMES and isinstance(v, str) else v)
        for k, v in record.items()
    }


def export_lines(db: Database) -> Iterator[str]:
    """Every analysis and confirmation, oldest first, one JSON object per line."""
    with db.transaction() as conn:
        yield json.dumps({"format": FORMAT})
        for a in conn.execute(sa.select(analyses).order_by(analyses.c.id)).all():
            record = _out(a, {"id"})
            record["kind"] = "analysis"
            record["inputs"] = [
                _out(f, {"id", "analysis_id"})
                for f in conn.execute(
                    sa.select(inputs).where(inputs.c.analysis_id == a.id).order_by(inputs.c.id)
                )
            ]
            record["migrations"] = [
                _out(m, {"id", "analysis_id", "case_id"})
                for m in conn.execute(
                    sa.select(case_migrations)
                    .where(case_migrations.c.analysis_id == a.id)
                    .order_by(case_migrations.c.id)
                )
            ]
            yield json.dumps(record, sort_keys=True)
        for c in conn.execute(sa.select(confirmations).order_by(confirmations.c.id)):
            record = _out(c, {"id"})
            record["kind"] = "confirmation"
            yield json.dumps(record, sort_keys=True)


def import_lines(db: Database, lines: Iterable[str]) -> tuple[int, int]:
    """Add an export to ``db`` in one transaction; returns (analyses, confirmations) added."""
    added_analyses = added_confirmations = 0
    with db.transaction() as conn:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise HistoryError(f"line {number}: not JSON ({exc.msg})") from None
            kind = record.pop("kind", None) if isinstance(record, dict) else None
            if kind is None and isinstance(record, dict) and record.get("format") == FORMAT:
                continue
            try:
                if kind == "analysis":
                    added_analyses += _import_analysis(conn, record)
                elif kind == "confirmation":
                    added_confirmations += _import_confirmation(conn, record)
                else:
                    raise HistoryError(f"line {number}: not a migdiag history export line")
            except (KeyError, TypeError, ValueError, sa.exc.StatementError) as exc:
                raise HistoryError(f"line {number}: invalid record ({exc})") from None
    return added_analyses, added_confirmations


def _import_analysis(conn: sa.Connection, record: dict[str, Any]) -> int:
    files = record.pop("inputs")
    migrations = record.pop("migrations")
    exists = conn.execute(
        sa.select(analyses.c.id).where(
            analyses.c.case_id == record["case_id"],
            analyses.c.inputs_digest == record["inputs_digest"],
        )
    ).first()
    if exists is not None:
        return 0
    key = conn.execute(analyses.insert().values(**_in(record))).inserted_primary_key
    assert key is not None
    analysis_id = key[0]
    if files:
        conn.execute(inputs.insert(), [{**_in(f), "analysis_id": analysis_id} for f in files])
    if migrations:
        conn.execute(
            case_migrations.insert(),
            [
                {**_in(m), "analysis_id": analysis_id, "case_id": record["case_id"]}
                for m in migrations
            ],
        )
    return 1


def _import_confirmation(conn: sa.Connection, record: dict[str, Any]) -> int:
    values = _in(record)
    c = confirmations.c
    exists = conn.execute(
        sa.select(c.id).where(
            c.case_id == values["case_id"],
            c.vm == values["vm"],
            c.cause == values["cause"],
            c.confirmed_at == values["confirmed_at"],
        )
    ).first()
    if exists is not None:
        return 0
    conn.execute(confirmations.insert().values(**values))
    return 1
