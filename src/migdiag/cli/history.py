"""``migdiag history``: the support desk's memory of analysed cases and confirmed causes.

Mounted by the main CLI with ``app.add_typer(history.app, name="history")``.  SQLAlchemy is
imported only when one of these commands runs (through ``migdiag.history``).

Exit status (see docs/user-guide.md): 0 done; 2 usage error, a cause outside the signature
library's vocabulary, or an invalid export file; 6 `add` recorded the case but some inputs
could not be read; 7 no input of `add` could be read; 8 the
database cannot be opened or is not a migdiag history; 9 it was written by a newer migdiag;
10 no such case (or no such VM in the case).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    # rich loads when a history command prints, not when `migdiag analyze` starts
    from rich.console import Console
    from rich.text import Text

    from migdiag.history import Database, HistoryError
    from migdiag.model import Analysis

EXIT_USAGE = 2
EXIT_INPUTS_SKIPPED = 6
EXIT_NOTHING_READ = 7
EXIT_DB_UNAVAILABLE = 8
EXIT_DB_TOO_NEW = 9
EXIT_UNKNOWN_CASE = 10

app = typer.Typer(
    help=(
        "The case history: record analysed cases, confirm their causes, find recurring ones "
        "(SQLite by default; --db or MIGDIAG_DB for another file or PostgreSQL)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold customer log data
    rich_markup_mode=None,
    epilog=(
        "Exit status: 0 done; 2 usage error or a cause outside the vocabulary; 6/7 add: some/no "
        "inputs could be read; 8 database unavailable or not a migdiag history; 9 written by a "
        "newer migdiag; 10 no such case or VM (docs/history.md)."
    ),
)


class TableFormat(StrEnum):
    table = "table"
    json = "json"


DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="URL",
        help="SQLite file or URL (postgresql+psycopg://user@host/db); default: $MIGDIAG_DB, "
        "else history.sqlite in your data directory.",
    ),
]
FormatOpt = Annotated[TableFormat, typer.Option("--format", "-f", help="table or json.")]
SignaturesOpt = Annotated[
    list[Path],
    typer.Option("--signatures", help="Also load signatures from this folder (repeatable)."),
]


def _err(message: str) -> None:
    from rich.console import Console
    from rich.text import Text

    from migdiag.report.text import clean

    Console(stderr=True, highlight=False, soft_wrap=True).print(
        Text(f"error: {clean(message, one_line=True)}")
    )


def exit_status(exc: HistoryError) -> int:
    """The documented exit status of a history error (used by --record too)."""
    from migdiag.history import DatabaseTooNew, DatabaseUnavailable, UnknownCase

    if isinstance(exc, DatabaseTooNew):
        return EXIT_DB_TOO_NEW
    if isinstance(exc, DatabaseUnavailable):
        return EXIT_DB_UNAVAILABLE
    if isinstance(exc, UnknownCase):
        return EXIT_UNKNOWN_CASE
    return EXIT_USAGE


def fail(exc: HistoryError) -> typer.Exit:
    _err(str(exc))
    return typer.Exit(exit_status(exc))


def open_database(url: str | None, create: bool = True) -> Database:
    """``create=False`` for the commands that only read: they never create a database."""
    from migdiag.history import Database, HistoryError

    try:
        return Database(url, create=create)
    except HistoryError as exc:
        raise fail(exc) from None


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(_plain(value), indent=2, ensure_ascii=False) + "\n")


def _cell(value: Any) -> Text:
    """Log text and user input as plain text: no markup, no escape sequences."""
    from rich.text import Text

    from migdiag.report.text import clean

    if value is None:
        return Text("")
    if isinstance(value, datetime):
        return Text(value.astimezone(UTC).strftime("%Y-%m-%d %H:%M"))
    if isinstance(value, float):
        return Text(f"{value:.2f}")
    if isinstance(value, list | tuple):
        return Text(", ".join(clean(str(v), one_line=True) for v in value))
    return Text(clean(str(value), one_line=True))


def _out() -> Console:
    from rich.console import Console

    # Piped output is read whole (grep, a ticket): do not wrap it at 80 columns.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def _print_table(columns: list[str], rows: list[list[Any]], title: str | None = None) -> None:
    from rich.table import Table

    table = Table(box=None, title=title, title_justify="left", pad_edge=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    _out().print(table)


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 date", param_hint="--since"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def record(
    db: Database, case_id: str, paths: list[str], analysis: Analysis, clusters: list[str]
) -> Analysis:
    """Store ``analysis`` as ``case_id`` and return it with "seen before" filled in
    (``analyze --record``, ``triage --record``, ``history add``)."""
    from migdiag.history import HistoryError, record_analysis, seen_before

    try:
        record_analysis(db, case_id, paths, analysis, clusters=clusters)
        seen = seen_before(db, analysis, case_id, clusters)
    except HistoryError as exc:
        raise fail(exc) from None
    return dataclasses.replace(analysis, seen_before=seen)


@app.command()
def add(
    case_id: Annotated[str, typer.Argument(help="The case's id (a ticket number).")],
    paths: Annotated[list[str], typer.Argument(help="The case's logs: files, folders, zips.")],
    cluster: Annotated[
        list[str], typer.Option("--cluster", help="The case's failover cluster (repeatable).")
    ] = [],  # noqa: B006 - typer needs a literal default
    signatures: SignaturesOpt = [],  # noqa: B006
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Worker processes (0: per core).")] = 0,
    db: DbOpt = None,
) -> None:
    """Analyse a case's logs and store what migdiag concluded (one transaction).

    The same case with the same inputs again changes nothing; with other inputs it is
    recorded as a new analysis of the case.  Example: migdiag history add CASE-1042 logs/
    """
    from migdiag.api import Options, analyze
    from migdiag.errors import SignatureError
    from migdiag.history import HistoryError, record_analysis

    database = open_database(db)
    try:
        analysis = analyze(paths, Options(signature_dirs=tuple(signatures), jobs=jobs))
    except SignatureError as exc:
        for problem in exc.problems:
            _err(problem)
        raise typer.Exit(EXIT_USAGE) from None
    for report in analysis.inputs:
        if report.error:
            _err(f"{report.path}: {report.error}")
    if analysis.inputs and all(r.skipped for r in analysis.inputs):
        _err(f"case {case_id}: no input could be read; nothing recorded")
        raise typer.Exit(EXIT_NOTHING_READ)
    try:
        stored = record_analysis(database, case_id, paths, analysis, clusters=cluster)
    except HistoryError as exc:
        raise fail(exc) from None
    finally:
        database.close()
    if stored.created:
        failed = sum(r.migration.outcome == "failed" for r in analysis.results)
        typer.echo(
            f"case {case_id}: recorded analysis {stored.analysis_id} "
            f"({len(analysis.results)} migrations, {failed} failed)"
        )
    else:
        typer.echo(f"case {case_id}: unchanged (already recorded with these inputs)")
    if any(r.skipped for r in analysis.inputs):
        raise typer.Exit(EXIT_INPUTS_SKIPPED)  # recorded, but without what could not be read


@app.command("list")
def list_(
    host: Annotated[str | None, typer.Option("--host", help="Only cases with this host.")] = None,
    cause: Annotated[
        str | None, typer.Option("--cause", help="Only cases with this (confirmed) cause.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only cases recorded since (ISO 8601).")
    ] = None,
    fmt: FormatOpt = TableFormat.table,
    db: DbOpt = None,
) -> None:
    """Recorded cases, newest first."""
    from migdiag.history import HistoryError, list_cases

    after = _since(since)
    with open_database(db, create=False) as database:
        try:
            found = list_cases(database, host=host, cause=cause, since=after)
        except HistoryError as exc:
            raise fail(exc) from None
    if fmt == TableFormat.json:
        _print_json(found)
        return
    _print_table(
        ["case", "recorded", "hosts", "migrations", "failed", "causes", "confirmed"],
        [
            [s.case_id, s.recorded_at, s.hosts, s.migrations, s.failed, s.causes, s.confirmed]
            for s in found
        ],
    )


@app.command()
def show(
    case_id: Annotated[str, typer.Argument(help="The case's id.")],
    fmt: FormatOpt = TableFormat.table,
    db: DbOpt = None,
) -> None:
    """One case: every analysis of it (inputs, migrations, causes) and its confirmations."""
    from migdiag.history import HistoryError, show_case

    with open_database(db, create=False) as database:
        try:
            detail = show_case(database, case_id)
        except HistoryError as exc:
            raise fail(exc) from None
    if fmt == TableFormat.json:
        _print_json(detail)
        return
    from rich.text import Text

    s = detail.summary
    out = _out()
    out.print(Text(f"case {s.case_id}: {s.analyses} analysis(es); hosts {', '.join(s.hosts)}"))
    if s.clusters:
        out.print(Text(f"clusters: {', '.join(s.clusters)}"))
    for a in detail.analyses:
        out.print(
            Text(
                f"\nanalysis {a.id}, recorded {_cell(a.recorded_at)} (migdiag {a.migdiag_version})"
            )
        )
        _print_table(
            ["input", "sha256", "bytes"], [[f.path, f.sha256[:16], f.size] for f in a.inputs]
        )
        _print_table(
            ["vm", "source", "destination", "outcome", "started", "cause", "confidence", "codes"],
            [
                [
                    m.vm,
                    m.source,
                    m.destination,
                    m.outcome,
                    m.started,
                    m.cause,
                    m.confidence,
                    m.codes,
                ]
                for m in a.migrations
            ],
        )
    if detail.confirmations:
        _print_table(
            ["vm", "confirmed cause", "when", "note"],
            [[c.vm, c.cause, c.confirmed_at, c.note] for c in detail.confirmations],
            title="confirmed",
        )


@app.command()
def causes(fmt: FormatOpt = TableFormat.table, db: DbOpt = None) -> None:
    """Recurring causes of failed migrations: cases, migrations, host pairs, clusters, when."""
    from migdiag.history import HistoryError, recurring_causes

    with open_database(db, create=False) as database:
        try:
            found = recurring_causes(database)
        except HistoryError as exc:
            raise fail(exc) from None
    if fmt == TableFormat.json:
        _print_json(found)
        return
    _print_table(
        ["cause", "cases", "migrations", "host pairs", "clusters", "first seen", "last seen"],
        [
            [
                c.cause,
                c.cases,
                c.migrations,
                [f"{pair} ({n})" for pair, n in c.host_pairs],
                [f"{name} ({n})" for name, n in c.clusters],
                c.first_seen,
                c.last_seen,
            ]
            for c in found
        ],
    )


@app.command("search")
def search_(
    vm: Annotated[str | None, typer.Option("--vm", help="VM name or id.")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Source or destination.")] = None,
    code: Annotated[str | None, typer.Option("--code", help="Error code, e.g. 0x80072746.")] = None,
    signature: Annotated[
        str | None, typer.Option("--signature", help="migdiag's top signature id.")
    ] = None,
    fmt: FormatOpt = TableFormat.table,
    db: DbOpt = None,
) -> None:
    """Recorded migrations by VM, host, error code or signature (all given must match)."""
    from migdiag.history import HistoryError, search

    if not any((vm, host, code, signature)):
        raise typer.BadParameter("give at least one of --vm, --host, --code, --signature")
    with open_database(db, create=False) as database:
        try:
            found = search(database, vm=vm, host=host, code=code, signature=signature)
        except HistoryError as exc:
            raise fail(exc) from None
    if fmt == TableFormat.json:
        _print_json(found)
        return
    _print_table(
        [
            "case",
            "vm",
            "source",
            "destination",
            "outcome",
            "started",
            "cause",
            "signature",
            "codes",
        ],
        [
            [
                m.case_id,
                m.vm,
                m.source,
                m.destination,
                m.outcome,
                m.started,
                m.cause,
                m.signature_id,
                m.codes,
            ]
            for m in found
        ],
    )


@app.command()
def confirm(
    case_id: Annotated[str, typer.Argument(help="The case's id.")],
    vm: Annotated[str, typer.Argument(help="The VM (name or id) whose cause you confirmed.")],
    cause: Annotated[
        str,
        typer.Option(
            "--cause", help="The confirmed cause (see `causes` in `migdiag signatures list`)."
        ),
    ],
    note: Annotated[str | None, typer.Option("--note", help="What showed it.")] = None,
    signatures: SignaturesOpt = [],  # noqa: B006
    db: DbOpt = None,
) -> None:
    """Record the root cause an engineer confirmed for a VM's migration in a case."""
    from migdiag.diagnose import load_library
    from migdiag.errors import SignatureError
    from migdiag.history import HistoryError
    from migdiag.history import confirm as store

    try:
        library = load_library(tuple(signatures))
    except SignatureError as exc:
        for problem in exc.problems:
            _err(problem)
        raise typer.Exit(EXIT_USAGE) from None
    vocabulary = {s.cause for s in library.signatures}
    with open_database(db, create=False) as database:
        try:
            store(database, case_id, vm, cause, vocabulary, note=note)
        except HistoryError as exc:
            raise fail(exc) from None
    typer.echo(f"case {case_id}: {vm} confirmed as {cause}")


@app.command("accuracy")
def accuracy_(fmt: FormatOpt = TableFormat.table, db: DbOpt = None) -> None:
    """For confirmed failed migrations: how often migdiag's top cause was the confirmed one."""
    from migdiag.history import HistoryError, accuracy

    with open_database(db, create=False) as database:
        try:
            per_signature, overall = accuracy(database)
        except HistoryError as exc:
            raise fail(exc) from None
    if fmt == TableFormat.json:
        _print_json({"signatures": per_signature, "overall": overall})
        return
    _print_table(
        ["top signature", "confirmed", "right", "rate"],
        [
            [r.signature_id, r.confirmed, r.correct, f"{r.rate:.0%}"]
            for r in [*per_signature, overall]
        ],
    )


@app.command("export")
def export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    db: DbOpt = None,
) -> None:
    """The whole history as JSON lines (to move it: export, then import into the new one)."""
    from migdiag.history import HistoryError, export_lines

    with open_database(db, create=False) as database:
        try:
            lines = list(export_lines(database))
        except HistoryError as exc:
            raise fail(exc) from None
    text = "".join(line + "\n" for line in lines)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A file written by `migdiag history export`.")],
    db: DbOpt = None,
) -> None:
    """Add an exported history (what is already there is skipped; one transaction)."""
    from migdiag.history import HistoryError, import_lines

    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        _err(f"{file}: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    with open_database(db) as database:
        try:
            analyses, confirmations = import_lines(database, lines)
        except HistoryError as exc:
            _err(f"{file}: {exc}")
            raise typer.Exit(exit_status(exc)) from None
    typer.echo(f"imported {analyses} analyses and {confirmations} confirmations")
