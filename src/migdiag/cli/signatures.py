"""``migdiag signatures``: list, show, validate and test the signature library.

Mounted by the main CLI with ``app.add_typer(signatures.app, name="signatures")``.
Exit codes: 0 fine, 1 a signature case failed, 2 invalid signatures.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

if TYPE_CHECKING:  # loaded by the commands that use them: `migdiag` must start quickly
    from rich.console import Console

    from migdiag.diagnose.loader import Library

app = typer.Typer(
    help="List, show, validate and test diagnosis signatures.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold customer log data
)

SignatureDirs = Annotated[
    list[Path] | None,
    typer.Option("--signatures", help="Also load the signatures in this folder (repeatable)."),
]


@cache
def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _out() -> Console:
    return _console()


def _err() -> Console:
    return _console(stderr=True)


def _library(extra: list[Path] | None) -> Library:
    from migdiag.diagnose.loader import load_library
    from migdiag.errors import SignatureError

    try:
        return load_library(tuple(extra or ()))
    except SignatureError as exc:
        for problem in exc.problems:
            _err().print(f"[red]error[/red] {escape(problem)}")
        raise typer.Exit(2) from None


@app.command("list")
def list_(signatures: SignatureDirs = None) -> None:
    """One line per signature: id, cause, severity, title."""
    from rich.table import Table

    table = Table(box=None)
    for column in ("id", "cause", "severity", "applies to"):
        table.add_column(column, no_wrap=True)
    table.add_column("title")
    for sig in _library(signatures).signatures:
        table.add_row(
            *(escape(v) for v in (sig.id, sig.cause, sig.severity, sig.applies_to, sig.title))
        )
    _out().print(table)


@app.command()
def show(
    signature_id: Annotated[str, typer.Argument(metavar="ID", help="Signature id (file name).")],
    signatures: SignatureDirs = None,
) -> None:
    """Everything one signature says, as Markdown."""
    from migdiag.diagnose.catalogue import render_signature

    sig = _library(signatures).get(signature_id)
    if sig is None:
        _err().print(f"[red]error[/red] no signature {escape(signature_id)!r}")
        raise typer.Exit(2)
    _out().print(escape("\n".join(render_signature(sig))), soft_wrap=True)
    _out().print(f"[dim]{escape(str(sig.path))}[/dim]")


@app.command()
def catalogue(signatures: SignatureDirs = None) -> None:
    """The catalogue page (docs/signatures.md) for the library."""
    from migdiag.diagnose.catalogue import render_catalogue

    _out().print(escape(render_catalogue(_library(signatures))), soft_wrap=True, end="")


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
    problems = validate_dir(target)
    for problem in problems:
        _err().print(f"[red]error[/red] {escape(problem)}")
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
    results = run_cases(directory or _default_cases(), library)
    failed = [r for r in results if not r.ok]
    for r in results:
        mark = "[green]ok[/green]  " if r.ok else "[red]FAIL[/red]"
        _out().print(f"{mark} {escape(r.name)}")
        for problem in r.problems:
            _out().print(f"      {escape(problem)}")
    _out().print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)
