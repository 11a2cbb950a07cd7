"""The ``migdiag`` command: a thin shell over ``migdiag.api``.

Only this package knows typer, exit codes and colours.  Data goes to stdout; progress,
warnings and errors go to stderr, so ``migdiag analyze ... --format json | jq`` works.

Exit status (a contract; see docs/user-guide.md):
    0  analysis completed (findings do not change this unless --fail-on asks)
    1  internal error (a bug: please report it)
    2  usage error, or an invalid signature library
    3  --fail-on: a failed migration with a known cause
    4  --fail-on: a failed migration with an unknown cause
    5  --fail-on slow: a slow migration
    6  some inputs could not be read (the rest were analysed)
    7  no input could be read at all
    8, 9, 10  case history (history, --record): database unavailable, written by a newer
       migdiag, unknown case (see cli/history.py)
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, TaskID, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress

from migdiag.errors import MigdiagError, SignatureError

if TYPE_CHECKING:  # heavy modules load only when a command runs, so --help stays quick
    from migdiag.api import Options, Progress, ReadProgress
    from migdiag.history import Database
    from migdiag.model import Analysis

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_FAILED_KNOWN = 3
EXIT_FAILED_UNKNOWN = 4
EXIT_SLOW = 5
EXIT_INPUTS_SKIPPED = 6
EXIT_NOTHING_READ = 7

app = typer.Typer(
    name="migdiag",
    help=(
        "Diagnose failed and slow Hyper-V live migrations from Windows event logs.\n\n"
        "Give it the logs of both hosts (EVTX, Event Viewer XML/CSV/text exports, folders, "
        "zips):\n\n    migdiag analyze logs/\n\n"
        "It prints every live migration it finds, which failed and why, with the events "
        "that show it, the check that confirms it and the fix."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold customer log data
    add_completion=False,
    rich_markup_mode=None,
)


class Format(StrEnum):
    terminal = "terminal"
    json = "json"
    markdown = "markdown"
    html = "html"


class Engine(StrEnum):
    local = "local"
    dask = "dask"


class FailOn(StrEnum):
    failed = "failed"
    unknown = "unknown"
    slow = "slow"


def _stderr() -> Console:
    no_color = bool(os.environ.get("NO_COLOR")) or not sys.stderr.isatty()
    return Console(stderr=True, no_color=no_color, highlight=False, soft_wrap=True)


def _safe(text: str) -> str:
    """File names and log text reach the terminal: neutralise control characters and
    escape sequences first (a file name can hold ESC), then rich markup."""
    from migdiag.report.text import clean

    return escape(clean(text, one_line=True))


def _error(message: str) -> None:
    _stderr().print(f"error: {_safe(message)}", markup=True)


_OFFSET = re.compile(r"^(?:(?P<host>[^=]+)=)?(?P<sign>[+-])(?P<h>\d{1,2}):?(?P<m>\d{2})$")


def _parse_offsets(values: list[str]) -> tuple[timedelta | None, tuple[tuple[str, timedelta], ...]]:
    default: timedelta | None = None
    per_host: list[tuple[str, timedelta]] = []
    for value in values:
        m = _OFFSET.match(value.strip())
        if not m:
            raise typer.BadParameter(
                f"{value!r}: expected HOST=+02:00 or +02:00", param_hint="--utc-offset"
            )
        delta = timedelta(hours=int(m["h"]), minutes=int(m["m"]))
        if m["sign"] == "-":
            delta = -delta
        if m["host"]:
            per_host.append((m["host"].strip().split(".")[0].upper(), delta))
        else:
            default = delta
    return default, tuple(per_host)


def _options(
    signatures: list[Path], jobs: int, utc_offset: list[str], day_first: bool | None, skew: float
) -> Options:
    from migdiag.api import Options
    from migdiag.readers.localtime import TimeOptions

    default, per_host = _parse_offsets(utc_offset)
    time = TimeOptions(
        default_offset=default if default is not None else TimeOptions().default_offset,
        host_offsets=per_host,
        day_first=day_first,
    )
    return Options(
        signature_dirs=tuple(signatures),
        jobs=jobs,
        skew_tolerance=timedelta(seconds=skew),
        time=time,
    )


class _ProgressBar:
    """A transient bar on stderr (files and bytes read), only where a person watches:
    never in pipes, never with --quiet.  Use as a context manager; ``callback`` is None
    when no bar is shown."""

    def __init__(self, quiet: bool) -> None:
        self.bar: RichProgress | None = None
        self.task: TaskID | None = None
        if quiet or not sys.stderr.isatty():
            return
        self.bar = RichProgress(
            TextColumn("reading"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[files]}"),
            TimeRemainingColumn(),
            console=_stderr(),
            transient=True,
            # No refresh thread: the workers fork only while this process has one thread
            # (spawned workers re-import everything); the bar is redrawn per finished file.
            auto_refresh=False,
        )

    @property
    def callback(self) -> Progress | None:
        return self._report if self.bar is not None else None

    def _report(self, p: ReadProgress) -> None:
        assert self.bar is not None
        if self.task is None:
            self.task = self.bar.add_task("read", total=p.bytes_total, files="")
        files = f"{p.files_done}/{p.files_total} files"
        self.bar.update(self.task, completed=p.bytes_done, files=files)
        self.bar.refresh()

    def __enter__(self) -> _ProgressBar:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def exit_code(analysis: Analysis, fail_on: list[FailOn]) -> int:
    """The exit-status contract, in one place."""
    from migdiag.model import Outcome

    inputs = analysis.inputs
    if inputs and all(r.skipped for r in inputs):
        return EXIT_NOTHING_READ
    wanted = set(fail_on)
    if FailOn.failed in wanted or FailOn.unknown in wanted:
        failed = [r for r in analysis.results if r.migration.outcome == Outcome.FAILED]
        unknown = [r for r in failed if r.diagnosis is None or r.diagnosis.cause == "unknown"]
        if unknown:
            return EXIT_FAILED_UNKNOWN
        if failed and FailOn.failed in wanted:
            return EXIT_FAILED_KNOWN
    if FailOn.slow in wanted and any(
        f.cause == "slow-migration" for r in analysis.results for f in r.findings[:1]
    ):
        return EXIT_SLOW
    if any(r.skipped for r in inputs):
        return EXIT_INPUTS_SKIPPED
    return EXIT_OK


def _write_output(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
    else:
        with output.open("w", encoding="utf-8") as f:
            # In slices: encoding a fleet's tens of MB at once would hold a second copy.
            for start in range(0, len(text), 1 << 20):
                f.write(text[start : start + (1 << 20)])


def _render(analysis: Analysis, fmt: Format, quiet: bool) -> str:
    from migdiag.report import RENDERERS, RenderOptions

    color = fmt == Format.terminal and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    options = RenderOptions(width=None, color=color, now=None, quiet=quiet)
    return RENDERERS[fmt.value](analysis, options)


SignaturesOpt = Annotated[
    list[Path],
    typer.Option("--signatures", help="Also load signatures from this folder (repeatable)."),
]
JobsOpt = Annotated[
    int, typer.Option("--jobs", "-j", help="Worker processes for reading (0: one per core).")
]
OffsetOpt = Annotated[
    list[str],
    typer.Option(
        "--utc-offset",
        help="UTC offset of local times in text/CSV exports: +02:00 for all, or HOST=+02:00.",
    ),
]
DayFirstOpt = Annotated[
    bool | None,
    typer.Option(
        "--day-first/--month-first",
        help="Date order of text/CSV exports (default: guess from the file's own dates).",
    ),
]
SkewOpt = Annotated[
    float, typer.Option("--skew-tolerance", help="Seconds two hosts' clocks may disagree.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only the result: no progress.")]
RecordOpt = Annotated[
    str | None,
    typer.Option(
        "--record",
        metavar="CASE-ID",
        help="Store the analysis as this case in the case history and show where its causes "
        "were seen before (see migdiag history).",
    ),
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="URL",
        help="The case history for --record (default: $MIGDIAG_DB or local).",
    ),
]


def _open_history(url: str | None) -> Database:
    from migdiag.cli.history import open_database  # SQLAlchemy loads only here

    return open_database(url)


def _record(database: Database, case_id: str, paths: list[str], analysis: Analysis) -> Analysis:
    from migdiag.cli.history import record

    return record(database, case_id, paths, analysis, [])


EXIT_CODES_HELP = (
    "Exit status: 0 analysis done; 2 usage error or invalid signatures; with --fail-on: "
    "3 a failure with a known cause, 4 a failure with an unknown cause, 5 a slow migration; "
    "6 some inputs could not be read; 7 no input could be read (docs/user-guide.md)."
)


@app.command(epilog=EXIT_CODES_HELP)
def analyze(
    paths: Annotated[list[str], typer.Argument(help="EVTX/XML/CSV/text files, folders or zips.")],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.terminal,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write the HTML incident report here.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the output here, not stdout.")
    ] = None,
    fail_on: Annotated[
        list[FailOn],
        typer.Option("--fail-on", help="Exit non-zero for these findings (see exit codes)."),
    ] = [],  # noqa: B006 - typer needs a literal default
    signatures: SignaturesOpt = [],  # noqa: B006
    jobs: JobsOpt = 0,
    utc_offset: OffsetOpt = [],  # noqa: B006
    day_first: DayFirstOpt = None,
    skew_tolerance: SkewOpt = 5.0,
    engine: Annotated[
        Engine,
        typer.Option(
            help="Where files are read: here, or on a Dask cluster (pip install migdiag[dask])."
        ),
    ] = Engine.local,
    scheduler: Annotated[
        str | None, typer.Option(help="The Dask scheduler's address, e.g. tcp://10.0.0.5:8786.")
    ] = None,
    quiet: QuietOpt = False,
    record: RecordOpt = None,
    db: DbOpt = None,
) -> None:
    """Find every live migration in the logs, which failed, and why.

    Examples:

        migdiag analyze HV01/ HV02/

        migdiag analyze case.zip --format json > case.json

        migdiag analyze logs/*.evtx --html report.html --fail-on failed
    """
    from migdiag.api import analyze as run

    options = _options(signatures, jobs, utc_offset, day_first, skew_tolerance)
    if engine == Engine.dask:
        if not scheduler:
            raise typer.BadParameter(
                "--engine dask needs --scheduler ADDRESS", param_hint="--scheduler"
            )
        options = replace(options, engine="dask", scheduler=scheduler)
    database = _open_history(db) if record is not None else None
    from migdiag.collector import collector_paused

    with collector_paused():  # the analysis and its rendering: see migdiag.collector
        try:
            with _ProgressBar(quiet) as bar:
                analysis = run(paths, options, progress=bar.callback)
        except SignatureError as exc:
            for problem in exc.problems:
                _error(problem)
            raise typer.Exit(EXIT_USAGE) from None
        for report in analysis.inputs:
            if report.error:
                _error(f"{report.path}: {report.error}")
        if (
            database is not None
            and record is not None
            and exit_code(analysis, []) != EXIT_NOTHING_READ
        ):
            analysis = _record(database, record, paths, analysis)
        _write_output(_render(analysis, fmt, quiet), output)
        if html is not None:
            html.write_text(_render(analysis, Format.html, quiet), encoding="utf-8")
        # Still paused: turning the collector back on would start a full collection of
        # everything allocated meanwhile (~0.13 s on a fleet) just before exiting.
        _finish(exit_code(analysis, fail_on))


@app.command()
def synth(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario YAML files.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the EVTX files to.")],
) -> None:
    """Write the EVTX files a scenario's hosts would log (see docs/scenarios.md).

    One file per host and channel, named as Windows exports them:
    OUT/HV01/Microsoft-Windows-Hyper-V-VMMS-Admin.evtx.  Same scenario, same bytes.
    """
    from migdiag.synth import synthesize_file

    for scenario in scenarios:
        try:
            written = synthesize_file(scenario, out)
        except MigdiagError as exc:
            _error(str(exc))
            raise typer.Exit(EXIT_USAGE) from None
        for path in written:
            typer.echo(str(path))


@app.command()
def timeline(
    paths: Annotated[list[str], typer.Argument(help="Log files, folders or zips.")],
    jobs: JobsOpt = 0,
    utc_offset: OffsetOpt = [],  # noqa: B006
    day_first: DayFirstOpt = None,
    skew_tolerance: SkewOpt = 5.0,
) -> None:
    """Each migration attempt as a two-column timeline: source | destination."""
    from migdiag.api import read_events
    from migdiag.correlate import correlate
    from migdiag.timeline import render_timeline

    options = _options([], jobs, utc_offset, day_first, skew_tolerance)
    reports, events, _ = read_events(paths, options)
    for report in reports:
        if report.error:
            _error(f"{report.path}: {report.error}")
    result = correlate(events, skew_tolerance=options.skew_tolerance)
    typer.echo(render_timeline(result), nl=False)


class EventsFormat(StrEnum):
    table = "table"
    csv = "csv"
    jsonl = "jsonl"


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=option) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command()
def events(
    paths: Annotated[list[str], typer.Argument(help="Log files, folders or zips.")],
    fmt: Annotated[
        EventsFormat, typer.Option("--format", "-f", help="table, csv, or jsonl (Timesketch).")
    ] = EventsFormat.table,
    ids: Annotated[list[int], typer.Option("--id", help="Only this event id (repeatable).")] = [],  # noqa: B006
    hosts: Annotated[list[str], typer.Option("--host", help="Only this host (repeatable).")] = [],  # noqa: B006
    since: Annotated[str | None, typer.Option("--since", help="ISO 8601, UTC if no zone.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="ISO 8601, UTC if no zone.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    jobs: JobsOpt = 0,
    utc_offset: OffsetOpt = [],  # noqa: B006
    day_first: DayFirstOpt = None,
) -> None:
    """Dump the normalised events migdiag understood, to check what it read.

    Example: migdiag events logs/ --id 21502 --format jsonl > events.jsonl
    """
    from migdiag.api import read_events
    from migdiag.events_table import (
        EventFilter,
        apply_filter,
        render_csv,
        render_jsonl,
        render_table,
        to_frame,
    )

    options = _options([], jobs, utc_offset, day_first, 5.0)
    reports, found, _ = read_events(paths, options)
    for report in reports:
        if report.error:
            _error(f"{report.path}: {report.error}")
    flt = EventFilter(
        ids=tuple(ids),
        hosts=tuple(hosts),
        since=_parse_time(since, "--since"),
        until=_parse_time(until, "--until"),
    )
    frame = apply_filter(to_frame(found), flt)
    render = {"table": render_table, "csv": render_csv, "jsonl": render_jsonl}[fmt.value]
    _write_output(render(frame), output)
    raise typer.Exit(EXIT_NOTHING_READ if reports and all(r.skipped for r in reports) else 0)


@app.command()
def triage(
    cases: Annotated[
        list[str], typer.Argument(help="One case per argument: a folder or zip of its logs.")
    ],
    html_dir: Annotated[
        Path | None,
        typer.Option("--html-dir", help="Write one HTML report per case and an index.html here."),
    ] = None,
    signatures: SignaturesOpt = [],  # noqa: B006
    jobs: JobsOpt = 0,
    utc_offset: OffsetOpt = [],  # noqa: B006
    day_first: DayFirstOpt = None,
    quiet: QuietOpt = False,
    record: Annotated[
        bool,
        typer.Option(
            "--record", help="Store each case in the case history (its id: the case's name)."
        ),
    ] = False,
    db: DbOpt = None,
) -> None:
    """Rank many cases at once: unknown-cause failures first, then failures, slow, healthy.

    Example: migdiag triage tickets/*.zip --html-dir triage/
    """
    from migdiag.api import analyze as run
    from migdiag.diagnose import load_library
    from migdiag.report import RENDERERS, RenderOptions
    from migdiag.report.triage import render_index_html, render_triage_table, triage_rows

    options = _options(signatures, jobs, utc_offset, day_first, 5.0)
    try:
        library = load_library(options.signature_dirs)
    except SignatureError as exc:
        for problem in exc.problems:
            _error(problem)
        raise typer.Exit(EXIT_USAGE) from None
    database = _open_history(db) if record else None
    analysed = []
    for case in cases:
        with _ProgressBar(quiet) as bar:
            analysis = run([case], options, progress=bar.callback, library=library)
        for report in analysis.inputs:
            if report.error:
                _error(f"{report.path}: {report.error}")
        if database is not None and exit_code(analysis, []) != EXIT_NOTHING_READ:
            case_id = Path(case.rstrip("/\\")).name.removesuffix(".zip")
            analysis = _record(database, case_id, [case], analysis)
        analysed.append((case, analysis))
    rows = triage_rows(analysed)
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    render_options = RenderOptions(width=None, color=bool(color), now=None, quiet=quiet)
    _write_output(render_triage_table(rows, render_options), None)
    if html_dir is not None:
        html_dir.mkdir(parents=True, exist_ok=True)
        links: dict[str, str] = {}
        for number, (case, analysis) in enumerate(analysed, 1):
            # Case names come from user paths: never use them as file names.
            name = f"case-{number:03d}.html"
            (html_dir / name).write_text(RENDERERS["html"](analysis, render_options), "utf-8")
            links[case] = name
        (html_dir / "index.html").write_text(render_index_html(rows, links), encoding="utf-8")
        if not quiet:
            _stderr().print(f"wrote {_safe(str(html_dir / 'index.html'))}")
    worst = max((exit_code(a, []) for _, a in analysed), default=EXIT_OK)
    _finish(worst)


@app.command()
def schema() -> None:
    """Print the JSON Schema of `analyze --format json`."""
    from migdiag.report import schema_text

    typer.echo(schema_text(), nl=False)


catalog_app = typer.Typer(
    help="The catalog of events migdiag understands.", no_args_is_help=True, add_completion=False
)


@catalog_app.command("import")
def catalog_import(
    files: Annotated[
        list[Path],
        typer.Argument(help="Output of: wevtutil gp <provider> /ge /gm /f:xml > provider.xml"),
    ],
) -> None:
    """Use a Hyper-V host's real message templates instead of the shipped guesses.

    On any Hyper-V host run, for each provider:

        wevtutil gp Microsoft-Windows-Hyper-V-VMMS /ge /gm /f:xml > vmms.xml

        wevtutil gp Microsoft-Windows-Hyper-V-High-Availability /ge /gm /f:xml > ha.xml

    then `migdiag catalog import vmms.xml ha.xml`.  The templates are stored in your user
    catalog ($MIGDIAG_CONFIG_DIR or ~/.config/migdiag) and override the shipped ones.
    """
    from migdiag.catalog_import import import_metadata

    for path in files:
        try:
            target, count = import_metadata(path)
        except MigdiagError as exc:
            _error(str(exc))
            raise typer.Exit(EXIT_USAGE) from None
        typer.echo(f"{path}: {count} event templates imported into {target}")


def _mount_subcommands() -> None:
    from migdiag.cli import history as history_cli
    from migdiag.cli import signatures as signatures_cli

    app.add_typer(history_cli.app, name="history")
    app.add_typer(signatures_cli.app, name="signatures")
    app.add_typer(catalog_app, name="catalog")
    from migdiag.cli.explain import explain

    app.command("explain")(explain)


_mount_subcommands()


# Set by main(): only the migdiag process itself may leave without tearing down its heap.
_EXIT_AT_ONCE = False


def _finish(code: int) -> NoReturn:
    """End a command that built a whole analysis, with exit status ``code``.

    In the ``migdiag`` process itself, exit at once once the output is flushed and the
    atexit handlers have run: freeing a fleet's analysis object by object, then the
    interpreter's final collection and module teardown, took ~0.3 s after the work was
    done.  Run in-process (tests, a script calling ``app``), end as usual."""
    if _EXIT_AT_ONCE:
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to save
                stream.flush()
        os._exit(code)
    raise typer.Exit(code)


def main() -> None:
    global _EXIT_AT_ONCE
    _EXIT_AT_ONCE = True
    try:
        app()
    except MigdiagError as exc:
        _error(str(exc))
        sys.exit(EXIT_USAGE)
