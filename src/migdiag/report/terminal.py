"""The default report: rich on a terminal, plain text when piped or ``NO_COLOR`` is set.

Log text only ever reaches rich as ``Text`` objects or through ``rich.markup.escape``: a VM
named ``[bold]x`` must print as itself, and ``clean`` strips escape sequences first so that
a message cannot move the cursor or recolour the screen.
"""

from __future__ import annotations

import io

from rich import box
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from migdiag.model import Analysis, ConfigurationReport, Finding, MigrationResult, PastedText
from migdiag.report.drains import drain_line
from migdiag.report.options import RenderOptions
from migdiag.report.seen_before import seen_before_lines
from migdiag.report.text import (
    Status,
    cause_label,
    clean,
    clock,
    confidence,
    corrected_clock,
    decoded_name,
    input_warnings,
    needs_detail,
    quote,
    route,
    seconds,
    short_time,
    status_of,
    vm_label,
)

DEFAULT_WIDTH = 100
NARROW = 80  # the table's columns need this much before the cause column has room
_STATUS_STYLE = {
    Status.FAILED: "bold red",
    Status.SLOW: "yellow",
    Status.UNKNOWN: "magenta",
    Status.IN_PROGRESS: "cyan",
    Status.OK: "green",
}


def make_console(options: RenderOptions) -> Console:
    """A console writing to memory, isolated from the environment (``COLUMNS``, ``TERM``,
    ``FORCE_COLOR``) so that output depends only on ``options``."""
    return Console(
        file=io.StringIO(),
        width=options.width or DEFAULT_WIDTH,
        color_system="truecolor" if options.color else None,
        force_terminal=options.color,
        no_color=not options.color,
        highlight=False,
        emoji=False,
        markup=True,
        legacy_windows=False,
        _environ={},
    )


SHOW_INPUTS = 12  # inputs listed one per line up to this many


def _header(analysis: Analysis, options: RenderOptions) -> list[RenderableType]:
    out: list[RenderableType] = [Text("migdiag: live-migration diagnosis", style="bold")]
    if options.now is not None:
        out.append(Text(f"generated {short_time(options.now)}", style="dim"))
    skipped = sum(1 for r in analysis.inputs if r.skipped)
    ignored = sum(1 for r in analysis.inputs if r.format == "ignored")
    read = len(analysis.inputs) - skipped - ignored
    if read == 0 and not skipped:
        out.append(Text("no logs found", style="bold"))
    out.append(
        Text(
            f"inputs: {len(analysis.inputs)} files ({read} read, {ignored} ignored, "
            f"{skipped} skipped), {sum(r.records for r in analysis.inputs)} records"
        )
    )
    # A fleet's hundreds of files would bury the result: list them only when few; the JSON
    # and HTML reports always carry every file's figures, and problems are listed below.
    if not options.quiet and read <= SHOW_INPUTS:
        grid = Table.grid(padding=(0, 2, 0, 0), pad_edge=False)
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True, justify="right")
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for r in sorted(analysis.inputs, key=lambda r: r.path):
            if r.format == "ignored":
                continue
            grid.add_row(
                Text("  " + clean(",".join(r.hosts) or "?", one_line=True)),
                Text(f"{r.records} records"),
                Text(r.format),
                Text(clean(r.path, one_line=True), style="dim"),
            )
        out.append(grid)
    hosts = ", ".join(clean(h, one_line=True) for h in sorted(analysis.hosts)) or "-"
    out.append(Text(f"hosts: {hosts}"))
    out.append(
        Text(f"time range: {short_time(analysis.first_event)} .. {short_time(analysis.last_event)}")
    )
    for skew in sorted(analysis.skews, key=lambda s: (s.host, s.reference)):
        out.append(Text(f"clock: {clean(skew.describe(), one_line=True)} ({skew.samples} samples)"))
    warnings = input_warnings(analysis.inputs)
    warnings += [clean(w, one_line=True) for w in analysis.warnings]
    for w in warnings:
        out.append(Text.assemble(("warning: ", "yellow"), w))
    return out


def _table(analysis: Analysis) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    # (name, justify, min_width, no_wrap): short columns never wrap; names, routes and causes
    # keep a readable minimum and fold, so a narrow terminal wraps words, not letters.
    columns = (
        ("VM", "left", 12, False),
        ("route", "left", 11, False),
        ("start (UTC)", "left", 10, False),
        ("duration", "right", None, True),
        ("blackout", "right", None, True),
        ("outcome", "left", None, True),
        ("cause", "left", 14, False),
    )
    # A VM name is an identifier to copy: it keeps its width (up to a point) rather than
    # being folded mid-word to make room for the cause.
    longest_vm = max((len(vm_label(r)) for r in analysis.results), default=0)
    for name, justify, min_width, no_wrap in columns:
        if name == "VM":
            min_width = max(min_width or 0, min(longest_vm, 36))
        table.add_column(
            name,
            justify=justify,  # type: ignore[arg-type]
            overflow="fold",
            no_wrap=no_wrap,
            min_width=min_width,
            ratio=1 if name == "cause" else None,
        )
    for result in analysis.results:
        m = result.migration
        status = status_of(result)
        table.add_row(
            Text(vm_label(result)),
            Text(route(result)),
            Text(short_time(m.started)),
            Text(seconds(m.duration_s)),
            Text(seconds(m.blackout_s)),
            Text(status.value, style=_STATUS_STYLE[status]),
            Text(cause_label(result)),
        )
    return table


def _list(analysis: Analysis) -> list[RenderableType]:
    """The migrations table, stacked: below ``NARROW`` columns a table would cut cells off."""
    out: list[RenderableType] = []
    for result in analysis.results:
        m = result.migration
        status = status_of(result)
        out.append(
            Text.assemble(
                (vm_label(result), "bold"),
                f" {route(result)} ",
                (status.value, _STATUS_STYLE[status]),
            )
        )
        out.append(
            Text(
                f"  {short_time(m.started)}, {seconds(m.duration_s)}, blackout "
                f"{seconds(m.blackout_s)}: {cause_label(result)}"
            )
        )
    return out


def _evidence(result: MigrationResult) -> Table:
    """Errors, warnings and cited events in a grid, so wrapped messages keep their column."""
    m = result.migration
    grid = Table.grid(padding=(0, 1), pad_edge=False)
    grid.add_column(no_wrap=True)  # indent
    grid.add_column(no_wrap=True)  # time
    grid.add_column(no_wrap=True)  # host
    grid.add_column(no_wrap=True, justify="right")  # event id
    grid.add_column(overflow="fold")  # code, name, message
    cited = {id(ev.event) for f in result.findings for ev in f.evidence}
    for index, event in enumerate(m.events):
        if event.level > 3 and id(event) not in cited:
            continue  # informational events are in the JSON and HTML; here only what matters
        # The time the host logged (what its Event Viewer shows), then the corrected one.
        when = m.corrected_times[index] if index < len(m.corrected_times) else event.time
        moved = corrected_clock(event.time, when)
        code = ""
        if event.error_codes:
            first = event.error_codes[0]
            name = decoded_name(result, first)
            code = f"{first}" + (f" {name}" if name else "") + " "
        grid.add_row(
            "",
            Text(clock(event.time)),
            Text(clean(event.short_host, one_line=True)),
            Text(str(event.event_id)),
            Text.assemble(
                (f"(corrected {moved}) " if moved else "", "dim"),
                (code, "bold"),
                clean(event.message, one_line=True),
            ),
        )
    return grid


def _finding(label: str, f: Finding, full: bool) -> list[RenderableType]:
    out: list[RenderableType] = [
        Text.assemble(
            (f"{label}: ", "bold"),
            clean(f.title, one_line=True),
            f" [{clean(f.signature_id, one_line=True)}] ",
            (f"confidence {confidence(f.confidence)}", "bold"),
        )
    ]
    if not full:
        return out
    # A grid keeps wrapped lines under their text, not under the label.
    grid = Table.grid(padding=(0, 1, 0, 0), pad_edge=False)
    grid.add_column(no_wrap=True, justify="right")
    grid.add_column(overflow="fold")
    rows: list[tuple[str, str, str]] = []
    if f.explanation:
        rows.append(("why:", f.explanation, ""))
    rows += [("note:", n, "yellow") for n in f.notes]
    rows += [("or:", a, "") for a in f.differential]
    rows += [("check:", c, "") for c in f.checks]
    rows += [("fix:", r, "") for r in f.remediation]
    for key, value, style in rows:
        grid.add_row(Text(f"  {key}", style="bold"), Text(clean(value, one_line=True), style=style))
    out.append(grid)
    return out


def _pasted(p: PastedText, full: bool) -> list[RenderableType]:
    out: list[RenderableType] = [
        Rule(style="dim"),
        Text.assemble(("pasted text: ", "bold"), clean(p.path, one_line=True)),
    ]
    for rank, f in enumerate(p.findings, start=1):
        out.extend(_finding("cause" if rank == 1 else f"differential #{rank}", f, rank == 1))
        if rank == 1 and full:
            for ev in f.evidence:
                line = ev.event.origin.offset
                out.append(Text(f"  line {line}: " + quote(ev.event.message)))
    if full:
        for code, name, text in p.decoded:
            out.append(Text(f"  {code} {clean(name, one_line=True)}: {clean(text, one_line=True)}"))
        for missing in p.missing:
            out.append(Text.assemble(("  to be sure: ", "yellow"), clean(missing, one_line=True)))
    return out


_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _configuration(config: ConfigurationReport, full: bool) -> list[RenderableType]:
    """The Configuration section: each rule that held, its evidence, check and fix."""
    hosts = ", ".join(config.hosts) or "no host"
    out: list[RenderableType] = [
        Rule(style="dim"),
        Text.assemble(("configuration: ", "bold"), clean(hosts, one_line=True)),
    ]
    # One grid for the section keeps wrapped lines under their text, not under the label.
    grid = Table.grid(padding=(0, 1, 0, 0), pad_edge=False)
    grid.add_column(no_wrap=True, justify="right")
    grid.add_column(overflow="fold")
    if not config.findings:
        grid.add_row(Text(""), Text("no configuration rule held"))
    for f in config.findings:
        label = "rules out" if f.effect == "rules-out" else f.severity
        grid.add_row(
            Text(f"  {label}:", style=_SEVERITY_STYLE.get(f.severity, "")),
            Text.assemble(
                (clean(f.cause, one_line=True), "bold"),
                " ",
                clean(f.title, one_line=True),
                f" [{clean(f.id, one_line=True)}]",
            ),
        )
        if not full:
            continue
        rows = []
        for e in f.evidence:
            item = f" {e.item}" if e.item else ""
            rows.append(("seen:", f"{e.host}{item}: {e.cmdlet} {e.property} = {e.value}"))
        rows += [("why:", f.explanation)] + [("check:", c) for c in f.checks]
        rows += [("fix:", r) for r in f.remediation]
        for key, text in rows:
            grid.add_row(Text(f"    {key}", style="bold"), Text(clean(text, one_line=True)))
    for warning in config.warnings:
        grid.add_row(Text("  warning:", style="yellow"), Text(clean(warning, one_line=True)))
    out.append(grid)
    return out


def _detail(result: MigrationResult) -> list[RenderableType]:
    m = result.migration
    status = status_of(result)
    # Markup here is ours; every log-derived piece goes through escape().
    title = (
        f"[bold]{escape(vm_label(result))}[/bold] {escape(route(result))} "
        f"{short_time(m.started)} [{_STATUS_STYLE[status]}]{status.value}[/]"
    )
    out: list[RenderableType] = [Rule(style="dim"), Text.from_markup(title)]
    out.append(Text("evidence (times as each host logged them, UTC):", style="bold"))
    out.append(_evidence(result))
    diagnosis = result.diagnosis
    if diagnosis is None:
        out.append(Text("cause: unknown (no signature matched)", style="bold"))
    else:
        out.extend(_finding("cause", diagnosis, full=True))
    for rank, f in enumerate(result.differential, start=2):
        out.extend(_finding(f"differential #{rank}", f, full=False))
    for line in m.coverage:
        out.append(Text.assemble(("coverage: ", "yellow"), clean(line, one_line=True)))
    for line in m.ambiguities:
        out.append(Text.assemble(("attribution: ", "yellow"), clean(line, one_line=True)))
    return out


def _drains(analysis: Analysis, full: bool) -> list[RenderableType]:
    """One line per drain; its speed findings' advice under it unless quiet."""
    if not analysis.drains:
        return []
    out: list[RenderableType] = [Text(""), Text("drains", style="bold")]
    for d in analysis.drains:
        out.append(Text(drain_line(d)))  # Text, not markup: host and VM names are log text
        if full:
            for f in d.findings:
                out.append(Text.assemble(("  advice: ", "cyan"), clean(f.advice, one_line=True)))
    return out


def render_terminal(analysis: Analysis, options: RenderOptions) -> str:
    """The terminal report as a string (ANSI styled only when ``options.color``)."""
    console = make_console(options)
    parts: list[RenderableType] = []
    parts.extend(_header(analysis, options))
    parts.append(Text(""))
    if analysis.results and console.width < NARROW:
        parts.extend(_list(analysis))
    elif analysis.results:
        parts.append(_table(analysis))
    else:
        parts.append(Text("no live-migration attempts found"))
    if not options.quiet:
        for result in analysis.results:
            if needs_detail(result):
                parts.extend(_detail(result))
    if analysis.seen_before:
        parts.extend([Rule(style="dim"), Text("seen before (case history):", style="bold")])
        for vm, sentence in seen_before_lines(analysis):
            parts.append(Text(f"  {clean(vm, one_line=True)}: {clean(sentence, one_line=True)}"))
    for pasted in sorted(analysis.pasted, key=lambda p: p.path):
        parts.extend(_pasted(pasted, full=not options.quiet))
    if analysis.configuration.hosts or analysis.configuration.warnings:
        parts.extend(_configuration(analysis.configuration, full=not options.quiet))
    parts.extend(_drains(analysis, full=not options.quiet))
    console.print(Group(*parts))
    return console_text(console, options)


def console_text(console: Console, options: RenderOptions) -> str:
    """What the console wrote; plain output loses rich's cell padding at line ends, which
    would only be noise in goldens, pipes and pasted tickets."""
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    if options.color:
        return out
    return "\n".join(line.rstrip() for line in out.split("\n"))
