"""``migdiag signatures``: list, show, validate and test the signature library.

Mounted by the main CLI with ``app.add_typer(signatures.app, name="signatures")``.
Exit codes: 0 fine, 1 a signature case failed, 2 invalid signatures or no cases found.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # loaded by the commands that use them: `migdiag` itself starts quickly
    from rich.console import Console

    from migdiag.diagnose.loader import Library

app = typer.Typer(
    help="List, show, validate and test diagnosis signatures.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold customer log data
)

SignatureDirs = Annotated[
    list[Path] | None,
    typer.Option(
        "--signatures",
        metavar="DIR",
        help="Also load the signatures in this folder (repeatable).",
    ),
]


def _no_color(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(os.environ.get("NO_COLOR")) or not (callable(isatty) and isatty())


# Colour only on a terminal and never with NO_COLOR; on a pipe, no width to fit, so ids and
# titles print whole (`signatures list | grep` must give ids a user can paste).
# color_system=None, not no_color=True: rich keeps bold and underline under no_color, and
# NO_COLOR means no styling at all.
@cache
def _out() -> Console:
    from rich.console import Console

    return Console(
        highlight=False, color_system=None if _no_color(sys.stdout) else "auto", emoji=False
    )


@cache
def _err() -> Console:
    from rich.console import Console

    return Console(
        stderr=True,
        highlight=False,
        color_system=None if _no_color(sys.stderr) else "auto",
        emoji=False,
        soft_wrap=True,
    )


def escape(text: str) -> str:
    """rich markup escaped (log text and paths are untrusted), imported on first output."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def _library(extra: list[Path] | None) -> Library:
    from migdiag.cli.usage import check_signature_dirs
    from migdiag.diagnose.loader import load_library
    from migdiag.errors import SignatureError

    check_signature_dirs(list(extra or ()))
    try:
        return load_library(tuple(extra or ()))
    except SignatureError as exc:
        for problem in exc.problems:
            _err().print(f"error: {escape(problem)}")
        raise typer.Exit(2) from None


@app.command("list")
def list_(signatures: SignatureDirs = None) -> None:
    """One line per signature: id, cause, severity, title."""
    library = _library(signatures)
    if not sys.stdout.isatty():
        # A pipe: tab-separated whole values, one signature a line, for grep, cut and awk.
        typer.echo("id\tcause\tseverity\tapplies to\ttitle")
        for sig in library.signatures:
            typer.echo("\t".join((sig.id, sig.cause, sig.severity, sig.applies_to, sig.title)))
        return
    from rich.table import Table

    table = Table(box=None)
    for column in ("id", "cause", "severity", "applies to"):
        table.add_column(column, no_wrap=True)
    table.add_column("title")
    for sig in library.signatures:
        table.add_row(
            *(escape(v) for v in (sig.id, sig.cause, sig.severity, sig.applies_to, sig.title))
        )
    _out().print(table)


@app.command()
def show(
    signature_id: Annotated[str, typer.Argument(metavar="ID", help="Signature id (file name).")],
    signatures: SignatureDirs = None,
    dev: Annotated[
        bool, typer.Option("--dev", help="Also print the notes for signature authors.")
    ] = False,
) -> None:
    """Everything one signature says, as Markdown."""
    from migdiag.diagnose.catalogue import render_signature

    sig = _library(signatures).get(signature_id)
    if sig is None:
        _err().print(f"error: no signature {escape(signature_id)!r} (see: migdiag signatures list)")
        raise typer.Exit(2)
    _out().print(escape("\n".join(render_signature(sig))), soft_wrap=True)
    if dev:
        notes = sig.dev_notes or ("(no developer notes)",)
        _out().print(escape("\n".join(["Developer notes:", "", *(f"- {n}" for n in notes), ""])))
    _out().print(f"[dim]{escape(str(sig.path))}[/dim]")


@app.command()
def catalog(signatures: SignatureDirs = None) -> None:
    """The signature catalog page (docs/signatures.md) for the library, as Markdown."""
    from migdiag.diagnose.catalogue import render_catalogue

    _out().print(escape(render_catalogue(_library(signatures))), soft_wrap=True, end="")


app.command("catalogue", hidden=True)(catalog)  # the old spelling still works


@app.command()
def validate(
    directory: Annotated[
        Path | None,
        typer.Argument(metavar="[DIR]", help="Folder of signatures (default: built-in)."),
    ] = None,
) -> None:
    """Check every signature file against the schema; report each problem as file:line."""
    from migdiag.diagnose.loader import builtin_dir, validate_dir

    target = directory or builtin_dir()
    if not target.is_dir() or not any(target.glob("*.yaml")):
        why = "no such folder" if not target.is_dir() else "no signature files (*.yaml) in it"
        _err().print(f"error: {escape(str(target))}: {why}")
        raise typer.Exit(2)
    problems = validate_dir(target)
    for problem in problems:
        _err().print(f"error: {escape(problem)}")
    if problems:
        _err().print(f"{len(problems)} problem(s) in {escape(str(target))}")
        raise typer.Exit(2)
    count = len(list(target.glob("*.yaml")))
    _out().print(f"{count} signature(s) valid in {escape(str(target))}")


def _default_cases() -> Path:
    from migdiag.diagnose.loader import builtin_dir

    here = Path("tests/signatures")
    return here if here.is_dir() else builtin_dir().parent / "tests" / "signatures"


@app.command()
def test(
    directory: Annotated[
        Path | None,
        typer.Argument(
            metavar="[DIR]", help="Folder of cases <id>/positive*.yaml, negative*.yaml."
        ),
    ] = None,
    signatures: SignatureDirs = None,
) -> None:
    """Run the signatures' positive and negative cases (the same code the test suite runs)."""
    from migdiag.diagnose.cases import run_cases

    library = _library(signatures)
    folder = directory or _default_cases()
    if not folder.is_dir():
        _err().print(f"error: {escape(str(folder))}: no such folder")
        raise typer.Exit(2)
    results = run_cases(folder, library)
    if not results:
        _err().print(
            f"error: {escape(str(folder))}: no signature cases in it "
            "(expected <id>/positive*.yaml and <id>/negative*.yaml)"
        )
        raise typer.Exit(2)
    failed = [r for r in results if not r.ok]
    for r in results:
        mark = "[green]ok[/green]  " if r.ok else "[red]FAIL[/red]"
        _out().print(f"{mark} {escape(r.name)}")
        for problem in r.problems:
            _out().print(f"      {escape(problem)}")
    _out().print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)
