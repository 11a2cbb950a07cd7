"""Writing to the case database: an analysed case, an engineer's confirmed cause.

Each call is one transaction.  Input files are hashed (sha256) and their paths kept as the
user gave them; their contents are never stored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from migdiag import __version__
from migdiag.history.database import Database, UnknownCase, UnknownCause
from migdiag.history.schema import analyses, case_migrations, confirmations, inputs
from migdiag.model import Analysis, MigrationResult


@dataclass(frozen=True, slots=True)
class InputFile:
    path: str  # as the user gave it (a file inside a given folder: folder/relative)
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class Recorded:
    case_id: str
    analysis_id: int
    created: bool  # False: this case was already recorded with these very inputs


def _hash(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def hash_inputs(paths: Iterable[str]) -> tuple[InputFile, ...]:
    """Every file of the inputs (folders walked in name order), with its content hash.
    Unreadable or missing inputs are left out: the analysis reports them."""
    found: list[InputFile] = []
    for given in paths:
        root = Path(given)
        if root.is_dir():
            for file in sorted(p for p in root.rglob("*") if p.is_file()):
                rel = file.relative_to(root).as_posix()
                try:
                    found.append(InputFile(os.path.join(given, rel), *_hash(file)))
                except OSError:
                    continue
        elif root.is_file():
            try:
                found.append(InputFile(given, *_hash(root)))
            except OSError:
                continue
    return tuple(found)


def inputs_digest(files: Sequence[InputFile]) -> str:
    """Same contents, same digest, whatever the files are called or where they were moved."""
    return hashlib.sha256("\n".join(sorted(f.sha256 for f in files)).encode()).hexdigest()


def _plain(value: Any) -> Any:
    """A configuration finding (whatever its dataclass) as JSON-able data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def configuration_findings(analysis: Analysis) -> list[Any] | None:
    """The configuration findings of the analysis (``Analysis.configuration``, where this
    migdiag has it), or None when no configuration snapshot was among the inputs."""
    configuration = getattr(analysis, "configuration", None)
    if configuration is None:
        return None
    findings = getattr(configuration, "findings", configuration)
    if not findings and not getattr(configuration, "hosts", ()):
        return None  # no snapshot: "not known", not "nothing found"
    plain = _plain(findings)
    return plain if isinstance(plain, list) else [plain]


def clusters_of(analysis: Analysis) -> tuple[str, ...]:
    """Cluster names the configuration snapshot names (none without one)."""
    configuration = getattr(analysis, "configuration", None)
    names: set[str] = set()
    for host in getattr(configuration, "hosts", ()) or ():
        for attr in ("cluster", "cluster_name"):
            name = getattr(host, attr, None)
            if isinstance(name, str) and name:
                names.add(name.upper())
    return tuple(sorted(names))


def codes_of(result: MigrationResult) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for event in result.migration.events:
        for code in event.error_codes:
            seen.setdefault(code, None)
    return tuple(seen)


def _migration_row(
    analysis_id: int, case_id: str, result: MigrationResult, cluster: str | None
) -> dict[str, Any]:
    m = result.migration
    top = result.diagnosis
    codes = codes_of(result)
    return {
        "analysis_id": analysis_id,
        "case_id": case_id,
        "migration_key": m.id[:200],
        "vm_name": m.vm_name,
        "vm_id": m.vm_id,
        "source": m.source,
        "destination": m.destination,
        "cluster": cluster,
        "outcome": m.outcome.value,
        "started": m.started,
        "ended": m.ended,
        "cause": top.cause if top else None,
        "signature_id": top.signature_id if top else None,
        "confidence": top.confidence if top else None,
        "codes": f" {' '.join(codes)} " if codes else "",
    }


def record_analysis(
    db: Database,
    case_id: str,
    paths: Sequence[str],
    analysis: Analysis,
    *,
    clusters: Sequence[str] = (),
    now: datetime | None = None,
) -> Recorded:
    """Store one analysed case (one transaction).  The same case with the same inputs again
    changes nothing; with other inputs it is a new analysis of that case."""
    case_id = case_id.strip()
    if not case_id:
        raise UnknownCase("a case id must not be empty")
    files = hash_inputs(paths)
    digest = inputs_digest(files)
    all_clusters = tuple(sorted({*clusters_of(analysis), *(c.upper() for c in clusters)}))
    vms = sorted({m.vm_name or m.vm_id or "" for m in analysis.migrations} - {""})
    findings = configuration_findings(analysis)
    try:
        return _insert(db, case_id, files, digest, analysis, all_clusters, vms, findings, now)
    except sa.exc.IntegrityError:
        # Another process recorded this very case and inputs meanwhile (PostgreSQL does not
        # serialise writers the way SQLite's write lock does): that is the same outcome.
        return _insert(db, case_id, files, digest, analysis, all_clusters, vms, findings, now)


def _insert(
    db: Database,
    case_id: str,
    files: Sequence[InputFile],
    digest: str,
    analysis: Analysis,
    all_clusters: tuple[str, ...],
    vms: list[str],
    findings: list[Any] | None,
    now: datetime | None,
) -> Recorded:
    cluster = all_clusters[0] if len(all_clusters) == 1 else None
    with db.transaction() as conn:
        existing = conn.execute(
            sa.select(analyses.c.id).where(
                analyses.c.case_id == case_id, analyses.c.inputs_digest == digest
            )
        ).scalar_one_or_none()
        if existing is not None:
            return Recorded(case_id, existing, created=False)
        key = conn.execute(
            analyses.insert().values(
                case_id=case_id,
                recorded_at=now or datetime.now(UTC),
                inputs_digest=digest,
                migdiag_version=__version__,
                first_event=analysis.first_event,
                last_event=analysis.last_event,
                hosts=json.dumps(sorted(analysis.hosts)),
                clusters=json.dumps(list(all_clusters)),
                vms=json.dumps(vms),
                configuration=json.dumps(findings) if findings is not None else None,
            )
        ).inserted_primary_key
        assert key is not None
        analysis_id = key[0]
        if files:
            conn.execute(
                inputs.insert(),
                [
                    {"analysis_id": analysis_id, "path": f.path, "sha256": f.sha256, "size": f.size}
                    for f in files
                ],
            )
        rows = [_migration_row(analysis_id, case_id, r, cluster) for r in analysis.results]
        if rows:
            conn.execute(case_migrations.insert(), rows)
    return Recorded(case_id, int(analysis_id), created=True)


def confirm(
    db: Database,
    case_id: str,
    vm: str,
    cause: str,
    vocabulary: Iterable[str],
    *,
    note: str | None = None,
    now: datetime | None = None,
) -> None:
    """Record the root cause an engineer confirmed for a VM's migration in a case."""
    known = set(vocabulary)
    if cause not in known:
        raise UnknownCause(f"{cause!r} is not a known cause (one of: {', '.join(sorted(known))})")
    with db.transaction() as conn:
        found = conn.execute(
            sa.select(case_migrations.c.vm_name, case_migrations.c.vm_id).where(
                case_migrations.c.case_id == case_id
            )
        ).all()
        if not found:
            has_case = conn.execute(
                sa.select(analyses.c.id).where(analyses.c.case_id == case_id).limit(1)
            ).first()
            if has_case is None:
                raise UnknownCase(f"no case {case_id!r} in the history")
        wanted = vm.casefold()
        if not any(wanted in ((n or "").casefold(), (i or "").casefold()) for n, i in found):
            raise UnknownCase(f"case {case_id!r} has no migration of a VM {vm!r}")
        conn.execute(
            confirmations.insert().values(
                case_id=case_id,
                vm=vm,
                cause=cause,
                note=note,
                confirmed_at=now or datetime.now(UTC),
            )
        )
