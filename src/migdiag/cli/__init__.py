"""The ``migdiag`` command: a thin shell over ``migdiag.api``.

Only this package knows typer, exit codes and colours.  Data goes to stdout; progress,
warnings and errors go to stderr, so ``migdiag analyze ... --format json | jq`` works.

Exit status (a contract; see docs/user-guide.md):
    0  analysis completed (findings do not change this unless --fail-on asks)
    1  internal error (a bug: please report it)
    2  usage error (one line on stderr, checked before any work), or an invalid
       signature library
    3  --fail-on: a failed migration with a known cause
    4  --fail-on: a failed migration with an unknown cause
    5  --fail-on slow: a slow migration
    6  some inputs could not be read, or only in part (the rest were analysed)
    7  no input could be read at all, or no logs were found
    8, 9, 10  case history (history, --record): database unavailable, written by a newer
       migdiag, unknown case (see cli/history.py)
  130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from migdiag.cli.lazy import LazyGroup
from migdiag.cli.usage import (
    check_hosts,
    check_offset_hosts,
    check_output_file,
    check_signature_dirs,
    parse_offsets,
    plain_argument_help,
    prepare_output_dir,
    usage_line,
)
from migdiag.errors import MigdiagError, SignatureError

if TYPE_CHECKING:  # heavy modules load only when a command runs, so --help stays quick
    from collections.abc import Sequence

    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

    from migdiag.api import Options, Progress, ReadProgress
    from migdiag.history import Database
    from migdiag.model import Analysis, InputReport

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_FAILED_KNOWN = 3
EXIT_FAILED_UNKNOWN = 4
EXIT_SLOW = 5
EXIT_INPUTS_SKIPPED = 6
EXIT_NOTHING_READ = 7
EXIT_INTERRUPTED = 130

plain_argument_help()

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
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    cls=LazyGroup,  # explain, collect, history, signatures, catalog load when named
)


def _show_version(value: bool) -> None:
    if value:
        from migdiag import __version__

        typer.echo(f"migdiag {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_show_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    # No docstring: the group's help is the app's, above.
    pass


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
    from rich.console import Console

    no_color = bool(os.environ.get("NO_COLOR")) or not sys.stderr.isatty()
    # color_system=None: under NO_COLOR not even bold (rich's no_color keeps it).
    return Console(
        stderr=True,
        color_system=None if no_color else "auto",
        highlight=False,
        soft_wrap=True,
    )


def _safe(text: str) -> str:
    """File names and log text reach the terminal: neutralise control characters and
    escape sequences first (a file name can hold ESC), then rich markup."""
    from rich.markup import escape

    from migdiag.report.text import clean

    return escape(clean(text, one_line=True))


def _error(message: str) -> None:
    _stderr().print(f"error: {_safe(message)}", markup=True)


def _options(
    signatures: list[Path], jobs: int, utc_offset: list[str], day_first: bool | None, skew: float
) -> Options:
    from migdiag.api import Options
    from migdiag.readers.localtime import TimeOptions

    if jobs < 0:
        raise typer.BadParameter(f"{jobs}: expected 0 (one per core) or more", param_hint="--jobs")
    if skew < 0:
        raise typer.BadParameter(
            f"{skew:g}: expected 0 seconds or more", param_hint="--skew-tolerance"
        )
    check_signature_dirs(signatures)
    default, per_host = parse_offsets(utc_offset)
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
        from rich.progress import BarColumn, DownloadColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

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


def _has_logs(inputs: Sequence[InputReport]) -> bool:
    """Whether anything was read: a log, or text pasted by the user (ignored files are not)."""
    from migdiag.read_input import IGNORED

    return any(not r.skipped and r.format != IGNORED for r in inputs)


def input_status(inputs: Sequence[InputReport]) -> int:
    """The part of the exit-status contract every command shares: what was read."""
    if not _has_logs(inputs):
        return EXIT_NOTHING_READ
    if any(r.skipped or r.incomplete for r in inputs):
        return EXIT_INPUTS_SKIPPED
    return EXIT_OK


def _logs_only(reports: Sequence[InputReport]) -> list[InputReport]:
    """Reports for commands that read logs only (timeline, events): a named file that is
    free text is explained by ``analyze`` and ``explain``; here it is not a log."""
    from migdiag.read_input import PASTED

    return [
        replace(
            r,
            error="not a log format migdiag reads (sniffed by content); for pasted "
            "text use: migdiag explain FILE",
        )
        if r.format == PASTED
        else r
        for r in reports
    ]


def report_inputs(inputs: Sequence[InputReport], paths: Sequence[str]) -> None:
    """One stderr line per input that could not be read (or only in part), and one when no
    log was found at all: the same words for every command."""
    for report in inputs:
        if report.error:
            _error(f"{report.path}: {report.error}")
        elif report.incomplete:
            _error(f"{report.path}: {report.incomplete}")
    if not any(r.error for r in inputs) and not _has_logs(inputs):
        _error(f"no logs found in {', '.join(paths)}")


def exit_code(analysis: Analysis, fail_on: list[FailOn]) -> int:
    """The exit-status contract, in one place."""
    from migdiag.model import Outcome

    read = input_status(analysis.inputs)
    if read == EXIT_NOTHING_READ:
        return read
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
    return read


def _write_output(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    try:
        with output.open("w", encoding="utf-8") as f:
            # In slices: encoding a fleet's tens of MB at once would hold a second copy.
            for start in range(0, len(text), 1 << 20):
                f.write(text[start : start + (1 << 20)])
    except OSError as exc:  # checked before the work; a disk can still fill up meanwhile
        _error(f"{output}: cannot write ({exc.strerror or exc})")
        raise typer.Exit(EXIT_USAGE) from None


def _render(analysis: Analysis, fmt: Format, quiet: bool) -> str:
    from migdiag.report import RENDERERS, RenderOptions

    color = fmt == Format.terminal and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    width = _terminal_width() if fmt == Format.terminal else None
    options = RenderOptions(width=width, color=color, now=None, quiet=quiet)
    return RENDERERS[fmt.value](analysis, options)


SignaturesOpt = Annotated[
    list[Path],
    typer.Option(
        "--signatures",
        metavar="DIR",
        help="Also load signatures from this folder (repeatable).",
    ),
]
JobsOpt = Annotated[
    int,
    typer.Option(
        "--jobs", "-j", metavar="N", help="Worker processes for reading (0: one per core)."
    ),
]
OffsetOpt = Annotated[
    list[str],
    typer.Option(
        "--utc-offset",
        metavar="[HOST=]+HH:MM",
        help="UTC offset of local times in text/CSV exports: +02:00 for all, or HOST=+02:00 "
        "(repeatable).",
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
    float,
    typer.Option(
        "--skew-tolerance", metavar="SECONDS", help="Seconds two hosts' clocks may disagree."
    ),
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
    "6 some inputs could not be read, or only in part; 7 no input could be read, or no logs "
    "were found; 130 interrupted (see the user guide)."
)


@app.command(epilog=EXIT_CODES_HELP)
def analyze(
    paths: Annotated[
        list[str],
        typer.Argument(metavar="PATH...", help="EVTX/XML/CSV/text files, folders or zips."),
    ],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.terminal,
    html: Annotated[
        Path | None,
        typer.Option("--html", metavar="FILE", help="Also write the HTML incident report here."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write the output here, not stdout."),
    ] = None,
    fail_on: Annotated[
        list[FailOn],
        typer.Option(
            "--fail-on",
            metavar="failed|unknown|slow",
            help="Exit non-zero for these findings (repeatable; see exit codes).",
        ),
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
        str | None,
        typer.Option(
            metavar="ADDRESS", help="The Dask scheduler's address, e.g. tcp://10.0.0.5:8786."
        ),
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

    check_output_file(output, "--output", paths)
    check_output_file(html, "--html", paths)
    options = _options(signatures, jobs, utc_offset, day_first, skew_tolerance)
    if engine == Engine.dask:
        if not scheduler:
            raise typer.BadParameter(
                "--engine dask needs --scheduler ADDRESS", param_hint="--scheduler"
            )
        options = replace(options, engine="dask", scheduler=scheduler)
    database = _open_history(db) if record is not None else None
    from migdiag.gc_pause import gc_paused

    with gc_paused():  # the analysis and its rendering: see migdiag.gc_pause
        try:
            with _ProgressBar(quiet) as bar:
                analysis = run(paths, options, progress=bar.callback)
        except SignatureError as exc:
            for problem in exc.problems:
                _error(problem)
            raise typer.Exit(EXIT_USAGE) from None
        check_offset_hosts(options.time.host_offsets, set(analysis.hosts))
        report_inputs(analysis.inputs, paths)
        if (
            database is not None
            and record is not None
            and exit_code(analysis, []) != EXIT_NOTHING_READ
        ):
            analysis = _record(database, record, paths, analysis)
        _write_output(_render(analysis, fmt, quiet), output)
        if html is not None:
            _write_output(_render(analysis, Format.html, quiet), html)
        # Still paused: turning the collector back on would start a full collection of
        # everything allocated meanwhile (~0.13 s on a fleet) just before exiting.
        _finish(exit_code(analysis, fail_on))


@app.command()
def synth(
    scenarios: Annotated[
        list[Path], typer.Argument(metavar="SCENARIO...", help="Scenario YAML files.")
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", metavar="DIR", help="Folder to write the EVTX files to."),
    ],
) -> None:
    """Write the EVTX files a scenario's hosts would log (see docs/scenarios.md).

    One file per host and channel, named as Windows exports them:
    OUT/HV01/Microsoft-Windows-Hyper-V-VMMS-Admin.evtx.  Same scenario, same bytes.
    """
    from migdiag.synth import synthesize_file

    prepare_output_dir(out, "--out")
    for scenario in scenarios:
        try:
            written = synthesize_file(scenario, out)
        except MigdiagError as exc:
            _error(str(exc))
            raise typer.Exit(EXIT_USAGE) from None
        except OSError as exc:
            _error(f"{out}: cannot write ({exc.strerror or exc})")
            raise typer.Exit(EXIT_USAGE) from None
        for path in written:
            typer.echo(str(path))


PathsArg = Annotated[
    list[str], typer.Argument(metavar="PATH...", help="Log files, folders or zips.")
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", metavar="FILE", help="Write here instead of stdout."),
]


class TimelineFormat(StrEnum):
    text = "text"
    json = "json"


@app.command(epilog=EXIT_CODES_HELP)
def timeline(
    paths: PathsArg,
    fmt: Annotated[
        TimelineFormat, typer.Option("--format", "-f", help="text, or json for scripts.")
    ] = TimelineFormat.text,
    output: OutputOpt = None,
    jobs: JobsOpt = 0,
    utc_offset: OffsetOpt = [],  # noqa: B006
    day_first: DayFirstOpt = None,
    skew_tolerance: SkewOpt = 5.0,
    quiet: QuietOpt = False,
) -> None:
    """Each migration attempt as a two-column timeline: source | destination."""
    from migdiag.api import read_events
    from migdiag.correlate import correlate
    from migdiag.timeline import render_timeline, render_timeline_json

    check_output_file(output, "--output", paths)
    options = _options([], jobs, utc_offset, day_first, skew_tolerance)
    with _ProgressBar(quiet) as bar:
        reports, events, _ = read_events(paths, options, progress=bar.callback)
    reports = _logs_only(reports)
    check_offset_hosts(options.time.host_offsets, {e.short_host for e in events})
    report_inputs(reports, paths)
    result = correlate(events, skew_tolerance=options.skew_tolerance)
    render = render_timeline_json if fmt == TimelineFormat.json else render_timeline
    _write_output(render(result), output)
    raise typer.Exit(input_status(reports))


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


@app.command(epilog=EXIT_CODES_HELP)
def events(
    paths: PathsArg,
    fmt: Annotated[
        EventsFormat, typer.Option("--format", "-f", help="table, csv, or jsonl (Timesketch).")
    ] = EventsFormat.table,
    ids: Annotated[
        list[int], typer.Option("--id", metavar="ID", help="Only this event id (repeatable).")
    ] = [],  # noqa: B006
    hosts: Annotated[
        list[str], typer.Option("--host", metavar="HOST", help="Only this host (repeatable).")
    ] = [],  # noqa: B006
    since: Annotated[
        str | None, typer.Option("--since", metavar="TIME", help="ISO 8601, UTC if no zone.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", metavar="TIME", help="ISO 8601, UTC if no zone.")
    ] = None,
    output: OutputOpt = None,
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

    check_output_file(output, "--output", paths)
    options = _options([], jobs, utc_offset, day_first, 5.0)
    reports, found, _ = read_events(paths, options)
    reports = _logs_only(reports)
    check_offset_hosts(options.time.host_offsets, {e.short_host for e in found})
    if found:  # with no events at all, "no logs found" (below) is the message
        check_hosts(hosts, {e.short_host for e in found}, "--host")
    report_inputs(reports, paths)
    flt = EventFilter(
        ids=tuple(ids),
        hosts=tuple(hosts),
        since=_parse_time(since, "--since"),
        until=_parse_time(until, "--until"),
    )
    frame = apply_filter(to_frame(found), flt)
    if fmt == EventsFormat.table:
        text = render_table(frame, width=_terminal_width(), full=not sys.stdout.isatty())
    else:
        text = {"csv": render_csv, "jsonl": render_jsonl}[fmt.value](frame)
    _write_output(text, output)
    raise typer.Exit(input_status(reports))


def _terminal_width() -> int | None:
    """The terminal's width when stdout is one (None: a pipe or file, nothing to fit)."""
    if not sys.stdout.isatty():
        return None
    import shutil

    return shutil.get_terminal_size().columns


class TriageFormat(StrEnum):
    terminal = "terminal"
    json = "json"


def _triage_code(codes: list[int]) -> int:
    """One status for many cases: the most urgent finding --fail-on asked about, else what
    was read (7 only when no case had a log at all)."""
    for code in (EXIT_FAILED_UNKNOWN, EXIT_FAILED_KNOWN, EXIT_SLOW):
        if code in codes:
            return code
    if codes and all(c == EXIT_NOTHING_READ for c in codes):
        return EXIT_NOTHING_READ
    if any(c in (EXIT_INPUTS_SKIPPED, EXIT_NOTHING_READ) for c in codes):
        return EXIT_INPUTS_SKIPPED
    return EXIT_OK


@app.command(epilog=EXIT_CODES_HELP)
def triage(
    cases: Annotated[
        list[str],
        typer.Argument(
            metavar="CASE...", help="One case per argument: a folder or zip of its logs."
        ),
    ],
    fmt: Annotated[
        TriageFormat, typer.Option("--format", "-f", help="terminal, or json for scripts.")
    ] = TriageFormat.terminal,
    html_dir: Annotated[
        Path | None,
        typer.Option(
            "--html-dir",
            metavar="DIR",
            help="Write one HTML report per case (named after the case) and an index.html here.",
        ),
    ] = None,
    fail_on: Annotated[
        list[FailOn],
        typer.Option(
            "--fail-on",
            metavar="failed|unknown|slow",
            help="Exit non-zero when any case has these findings (repeatable).",
        ),
    ] = [],  # noqa: B006 - typer needs a literal default
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
    from migdiag.report.triage import (
        case_file_names,
        render_index_html,
        render_triage_json,
        render_triage_table,
        triage_rows,
    )

    prepare_output_dir(html_dir, "--html-dir")
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
        report_inputs(analysis.inputs, [case])
        if database is not None and exit_code(analysis, []) != EXIT_NOTHING_READ:
            case_id = Path(case.rstrip("/\\")).name.removesuffix(".zip")
            analysis = _record(database, case_id, [case], analysis)
        analysed.append((case, analysis))
    rows = triage_rows(analysed)
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    render_options = RenderOptions(
        width=_terminal_width(), color=bool(color), now=None, quiet=quiet
    )
    if fmt == TriageFormat.json:
        _write_output(render_triage_json(rows), None)
    else:
        _write_output(render_triage_table(rows, render_options), None)
    if html_dir is not None:
        links = case_file_names([case for case, _ in analysed])
        for case, analysis in analysed:
            case_options = replace(render_options, back_link="index.html")
            _write_output(RENDERERS["html"](analysis, case_options), html_dir / links[case])
        _write_output(render_index_html(rows, links), html_dir / "index.html")
        if not quiet:
            _stderr().print(f"wrote {_safe(str(html_dir / 'index.html'))}")
    _finish(_triage_code([exit_code(a, fail_on) for _, a in analysed]))


@app.command()
def schema() -> None:
    """Print the JSON Schema of `analyze --format json`."""
    from migdiag.report import schema_text

    typer.echo(schema_text(), nl=False)


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


def _is_usage_error(exc: BaseException) -> bool:
    # typer raises its bundled click's UsageError family; never import click to name it.
    return isinstance(exc, Exception) and hasattr(exc, "format_message") and hasattr(exc, "show")


def main() -> None:
    """The ``migdiag`` entry point: one line on stderr for a user's mistake, never a
    traceback; Ctrl-C ends quietly with 130."""
    global _EXIT_AT_ONCE
    _EXIT_AT_ONCE = True
    try:
        code = app(standalone_mode=False)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except typer.Abort:
        code = EXIT_INTERNAL
    except MigdiagError as exc:
        _error(str(exc))
        code = EXIT_USAGE
    except Exception as exc:
        if not _is_usage_error(exc):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # type: ignore[attr-defined]  # the group's help, as --help shows it
        else:
            _error(usage_line(exc))
        code = getattr(exc, "exit_code", EXIT_USAGE)
    if code == EXIT_INTERRUPTED:
        # The workers were stopped; a half-written line is all that may be left on stderr.
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write("\n" if sys.stderr.isatty() else "")
    sys.exit(code if isinstance(code, int) else EXIT_OK)
