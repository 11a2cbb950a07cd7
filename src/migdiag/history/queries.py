"""Reading the case database: cases, recurring causes, searches, the tool's accuracy, and
"seen before" for a new analysis.

Aggregates count each case once, by its newest analysis (a case re-analysed with more logs
supersedes its earlier analysis); ``show`` lists every analysis of a case.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from migdiag.history.database import Database, UnknownCase
from migdiag.history.schema import analyses, case_migrations, confirmations, inputs
from migdiag.model import Analysis, Outcome, SeenBefore


def utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: everything stored is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _newest_analyses() -> sa.Subquery:
    return (
        sa.select(sa.func.max(analyses.c.id).label("id"))
        .group_by(analyses.c.case_id)
        .subquery("newest")
    )


@dataclass(frozen=True, slots=True)
class Confirmation:
    vm: str
    cause: str
    confirmed_at: datetime
    note: str | None


@dataclass(frozen=True, slots=True)
class MigrationRow:
    case_id: str
    vm: str | None
    vm_id: str | None
    source: str | None
    destination: str | None
    cluster: str | None
    outcome: str
    started: datetime | None
    cause: str | None
    signature_id: str | None
    confidence: float | None
    codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CaseSummary:
    case_id: str
    recorded_at: datetime  # of the newest analysis
    analyses: int
    hosts: tuple[str, ...]
    clusters: tuple[str, ...]
    vms: tuple[str, ...]
    migrations: int
    failed: int
    causes: tuple[str, ...]  # migdiag's top causes of the failed migrations
    confirmed: tuple[str, ...]  # causes engineers confirmed


@dataclass(frozen=True, slots=True)
class InputRow:
    path: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class AnalysisDetail:
    id: int
    recorded_at: datetime
    migdiag_version: str
    first_event: datetime | None
    last_event: datetime | None
    inputs: tuple[InputRow, ...]
    migrations: tuple[MigrationRow, ...]
    configuration: Any  # the configuration findings as stored (JSON), or None


@dataclass(frozen=True, slots=True)
class CaseDetail:
    summary: CaseSummary
    analyses: tuple[AnalysisDetail, ...]  # newest first
    confirmations: tuple[Confirmation, ...]


@dataclass(frozen=True, slots=True)
class CauseSummary:
    cause: str
    cases: int
    migrations: int
    host_pairs: tuple[tuple[str, int], ...]  # ("HV01 -> HV02", migrations), most first
    clusters: tuple[tuple[str, int], ...]
    first_seen: datetime | None
    last_seen: datetime | None


@dataclass(frozen=True, slots=True)
class AccuracyRow:
    signature_id: str  # migdiag's top signature ("(none)" when nothing matched)
    confirmed: int  # confirmed migrations it was the top finding of
    correct: int  # of which the confirmed cause was its cause
    rate: float


def _migration(row: Any) -> MigrationRow:
    return MigrationRow(
        case_id=row.case_id,
        vm=row.vm_name,
        vm_id=row.vm_id,
        source=row.source,
        destination=row.destination,
        cluster=row.cluster,
        outcome=row.outcome,
        started=utc(row.started),
        cause=row.cause,
        signature_id=row.signature_id,
        confidence=row.confidence,
        codes=tuple(row.codes.split()),
    )


def _confirmations(conn: sa.Connection, case_ids: Sequence[str]) -> dict[str, list[Confirmation]]:
    found: dict[str, list[Confirmation]] = defaultdict(list)
    if not case_ids:
        return found
    rows = conn.execute(
        sa.select(confirmations)
        .where(confirmations.c.case_id.in_(list(case_ids)))
        .order_by(confirmations.c.id)
    )
    for row in rows:
        confirmed_at = utc(row.confirmed_at)
        assert confirmed_at is not None
        found[row.case_id].append(Confirmation(row.vm, row.cause, confirmed_at, row.note))
    return found


def _latest_per_vm(found: Sequence[Confirmation]) -> dict[str, Confirmation]:
    """The newest confirmation per VM (case-insensitive): a later one corrects an earlier."""
    latest: dict[str, Confirmation] = {}
    for c in found:
        latest[c.vm.casefold()] = c
    return latest


def _summaries(conn: sa.Connection, case_id: str | None = None) -> list[CaseSummary]:
    newest = _newest_analyses()
    query = sa.select(analyses).join(newest, analyses.c.id == newest.c.id)
    count_query = sa.select(analyses.c.case_id, sa.func.count()).group_by(analyses.c.case_id)
    if case_id is not None:
        query = query.where(analyses.c.case_id == case_id)
        count_query = count_query.where(analyses.c.case_id == case_id)
    rows = conn.execute(query).all()
    counts: dict[str, int] = dict(conn.execute(count_query).all())
    ids = [r.id for r in rows]
    per_analysis: dict[int, list[MigrationRow]] = defaultdict(list)
    if ids:
        for m in conn.execute(
            sa.select(case_migrations)
            .where(case_migrations.c.analysis_id.in_(ids))
            .order_by(case_migrations.c.id)
        ):
            per_analysis[m.analysis_id].append(_migration(m))
    confirmed = _confirmations(conn, [r.case_id for r in rows])
    summaries = []
    for r in rows:
        migrations = per_analysis[r.id]
        failed = [m for m in migrations if m.outcome == Outcome.FAILED.value]
        recorded_at = utc(r.recorded_at)
        assert recorded_at is not None
        summaries.append(
            CaseSummary(
                case_id=r.case_id,
                recorded_at=recorded_at,
                analyses=counts.get(r.case_id, 1),
                hosts=tuple(json.loads(r.hosts)),
                clusters=tuple(json.loads(r.clusters)),
                vms=tuple(json.loads(r.vms)),
                migrations=len(migrations),
                failed=len(failed),
                causes=tuple(sorted({m.cause for m in failed if m.cause})),
                confirmed=tuple(
                    sorted({c.cause for c in _latest_per_vm(confirmed[r.case_id]).values()})
                ),
            )
        )
    summaries.sort(key=lambda s: (s.recorded_at, s.case_id), reverse=True)
    return summaries


def list_cases(
    db: Database,
    *,
    host: str | None = None,
    cause: str | None = None,
    since: datetime | None = None,
) -> list[CaseSummary]:
    """Cases, newest first; ``host`` matches a short or full host name, ``cause`` migdiag's
    top cause of a failed migration or a confirmed cause."""
    with db.transaction() as conn:
        found = _summaries(conn)
    wanted_host = host.split(".", 1)[0].upper() if host else None
    return [
        s
        for s in found
        if (wanted_host is None or wanted_host in s.hosts)
        and (cause is None or cause in s.causes or cause in s.confirmed)
        and (since is None or s.recorded_at >= since)
    ]


def show_case(db: Database, case_id: str) -> CaseDetail:
    with db.transaction() as conn:
        rows = conn.execute(
            sa.select(analyses).where(analyses.c.case_id == case_id).order_by(analyses.c.id.desc())
        ).all()
        if not rows:
            raise UnknownCase(f"no case {case_id!r} in the history")
        (summary,) = _summaries(conn, case_id)
        details = []
        for r in rows:
            files = conn.execute(
                sa.select(inputs).where(inputs.c.analysis_id == r.id).order_by(inputs.c.id)
            )
            migrations = conn.execute(
                sa.select(case_migrations)
                .where(case_migrations.c.analysis_id == r.id)
                .order_by(case_migrations.c.id)
            )
            recorded_at = utc(r.recorded_at)
            assert recorded_at is not None
            details.append(
                AnalysisDetail(
                    id=r.id,
                    recorded_at=recorded_at,
                    migdiag_version=r.migdiag_version,
                    first_event=utc(r.first_event),
                    last_event=utc(r.last_event),
                    inputs=tuple(InputRow(f.path, f.sha256, f.size) for f in files),
                    migrations=tuple(_migration(m) for m in migrations),
                    configuration=json.loads(r.configuration) if r.configuration else None,
                )
            )
        confirmed = _confirmations(conn, [case_id])[case_id]
    return CaseDetail(summary, tuple(details), tuple(confirmed))


def _current_migrations(conn: sa.Connection, where: Any = None) -> list[Any]:
    newest = _newest_analyses()
    query = sa.select(case_migrations, analyses.c.recorded_at).join(
        newest, case_migrations.c.analysis_id == newest.c.id
    )
    query = query.join(analyses, analyses.c.id == case_migrations.c.analysis_id)
    if where is not None:
        query = query.where(where)
    return list(conn.execute(query.order_by(case_migrations.c.id)).all())


def _pair(source: str | None, destination: str | None) -> str:
    return f"{source or '?'} -> {destination or '?'}"


def recurring_causes(db: Database) -> list[CauseSummary]:
    """Per cause of a failed migration: cases, migrations, host pairs, clusters, when."""
    with db.transaction() as conn:
        rows = _current_migrations(
            conn,
            sa.and_(
                case_migrations.c.outcome == Outcome.FAILED.value,
                case_migrations.c.cause.is_not(None),
            ),
        )
    by_cause: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_cause[row.cause].append(row)
    found = []
    for cause, group in by_cause.items():
        when = [t for r in group if (t := utc(r.started) or utc(r.recorded_at)) is not None]
        pairs = Counter(_pair(r.source, r.destination) for r in group)
        clusters = Counter(r.cluster for r in group if r.cluster)
        found.append(
            CauseSummary(
                cause=cause,
                cases=len({r.case_id for r in group}),
                migrations=len(group),
                host_pairs=tuple(sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))),
                clusters=tuple(sorted(clusters.items(), key=lambda kv: (-kv[1], kv[0]))),
                first_seen=min(when, default=None),
                last_seen=max(when, default=None),
            )
        )
    found.sort(key=lambda c: (-c.cases, -c.migrations, c.cause))
    return found


def search(
    db: Database,
    *,
    vm: str | None = None,
    host: str | None = None,
    code: str | None = None,
    signature: str | None = None,
) -> list[MigrationRow]:
    """Recorded migrations by VM (name or id), host, error code or signature id."""
    c = case_migrations.c
    conditions: list[Any] = []
    if vm:
        wanted = vm.strip().strip("{}").upper()
        conditions.append(sa.or_(sa.func.upper(c.vm_name) == wanted, c.vm_id == wanted))
    if host:
        short = host.split(".", 1)[0].upper()
        conditions.append(sa.or_(c.source == short, c.destination == short))
    if code:
        conditions.append(c.codes.contains(f" {_canonical_code(code)} ", autoescape=True))
    if signature:
        conditions.append(c.signature_id == signature)
    with db.transaction() as conn:
        rows = _current_migrations(conn, sa.and_(*conditions) if conditions else None)
    found = [_migration(r) for r in rows]
    found.sort(key=lambda m: m.started or datetime.min.replace(tzinfo=UTC), reverse=True)
    return found


def _canonical_code(code: str) -> str:
    """``8007274C``, ``0x8007274c`` and ``-2147014836`` are one code: ``0x8007274C``."""
    text = code.strip()
    try:
        value = int(text, 0) if text.lower().startswith(("0x", "-")) else int(text, 16)
    except ValueError:
        return text
    return f"0x{value & 0xFFFFFFFF:08X}"


def accuracy(db: Database) -> tuple[list[AccuracyRow], AccuracyRow]:
    """For every migration an engineer confirmed: was migdiag's top cause the confirmed one?
    Per top signature, and overall (signature "all")."""
    with db.transaction() as conn:
        rows = _current_migrations(conn)
        confirmed = _confirmations(conn, sorted({r.case_id for r in rows}))
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        latest = _latest_per_vm(confirmed.get(row.case_id, []))
        confirmation = latest.get((row.vm_name or "").casefold()) or latest.get(
            (row.vm_id or "").casefold()
        )
        if confirmation is None or row.outcome != Outcome.FAILED.value:
            continue
        counts = tally[row.signature_id or "(none)"]
        counts[0] += 1
        counts[1] += row.cause == confirmation.cause
    per_signature = [AccuracyRow(sig, n, ok, ok / n) for sig, (n, ok) in sorted(tally.items()) if n]
    total = sum(r.confirmed for r in per_signature)
    correct = sum(r.correct for r in per_signature)
    return per_signature, AccuracyRow("all", total, correct, correct / total if total else 0.0)


def seen_before(
    db: Database, analysis: Analysis, case_id: str | None, clusters: Sequence[str] = ()
) -> tuple[SeenBefore, ...]:
    """Other cases where a failed migration had the same cause on the same host pair (either
    direction) or in the same cluster (``clusters``: this analysis' clusters) as a failed
    migration of ``analysis``."""
    in_clusters = {c.upper() for c in clusters}
    wanted = [
        r
        for r in analysis.results
        if r.migration.outcome == Outcome.FAILED and r.diagnosis and r.diagnosis.cause != "unknown"
    ]
    if not wanted:
        return ()
    causes = sorted({r.diagnosis.cause for r in wanted if r.diagnosis})
    c = case_migrations.c
    with db.transaction() as conn:
        where = sa.and_(c.outcome == Outcome.FAILED.value, c.cause.in_(causes))
        if case_id is not None:
            where = sa.and_(where, c.case_id != case_id)
        rows = _current_migrations(conn, where)
        confirmed = _confirmations(conn, sorted({r.case_id for r in rows}))
    found: list[SeenBefore] = []
    for result in wanted:
        m = result.migration
        assert result.diagnosis is not None
        pair = {m.source, m.destination} - {None}
        by_case: dict[str, Any] = {}
        for row in rows:
            if row.cause != result.diagnosis.cause:
                continue
            same_hosts = bool(pair) and {row.source, row.destination} - {None} == pair
            if same_hosts or (row.cluster and row.cluster in in_clusters):
                by_case.setdefault(row.case_id, row)
        for other, row in sorted(by_case.items()):
            same_hosts = bool(pair) and {row.source, row.destination} - {None} == pair
            recorded_at = utc(row.recorded_at)
            assert recorded_at is not None
            latest = _latest_per_vm(confirmed.get(other, []))
            found.append(
                SeenBefore(
                    migration_id=m.id,
                    cause=result.diagnosis.cause,
                    case_id=other,
                    where=(
                        _pair(row.source, row.destination)
                        if same_hosts
                        else f"cluster {row.cluster}"
                    ),
                    when=utc(row.started) or recorded_at,
                    confirmed=tuple(sorted({x.cause for x in latest.values()})),
                )
            )
    return tuple(found)
