"""``migdiag collect``: write the PowerShell collector a customer runs on the hosts.

Registered by the main CLI with ``app.command("collect")(collect)``.  The script goes to
stdout (``migdiag collect > Collect-MigDiag.ps1``) or, with ``--output``, to a file written
the way Windows PowerShell 5.1 reads it best (UTF-8 with a BOM, CRLF).
Exit status: 0 written, 2 the file could not be written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from migdiag.collect import script_bytes_for_windows, script_text

EXIT_USAGE = 2


def collect(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the script to this file instead of standard output."
        ),
    ] = None,
) -> None:
    """Write the collection script: run it elevated on the hosts, then analyse its zips.

    Example: migdiag collect -o Collect-MigDiag.ps1, then on a host:
    .\\Collect-MigDiag.ps1 -ComputerName HV01,HV02 -Hours 24
    """
    if output is None:
        sys.stdout.write(script_text())
        sys.stdout.flush()
        return
    try:
        output.write_bytes(script_bytes_for_windows())
    except OSError as exc:
        typer.echo(f"error: {output}: cannot write: {exc.strerror or exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    typer.echo(f"{output}: written; run it elevated on the hosts (docs/collecting.md)", err=True)
