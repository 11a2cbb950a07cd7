"""Usage errors as one line a user can act on, and the checks made before any work starts.

A user's mistake (a folder that does not exist, an offset of +99:99, a typo in an option)
must cost one line on stderr and exit status 2, never a traceback and never after the
report has already gone to stdout.  Everything here is checked before the inputs are read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import typer

# Real UTC offsets run from -12:00 to +14:00.
MIN_OFFSET, MAX_OFFSET = timedelta(hours=-12), timedelta(hours=14)

_OFFSET = re.compile(r"^(?:(?P<host>[^=]+)=)?(?P<sign>[+-])(?P<h>\d{1,2}):?(?P<m>\d{2})$")

# What typer's value checks say, in words a user reads (the library's own wording names
# Python and pydantic).
_PLAIN = (
    (re.compile(r"Value error, "), ""),
    (re.compile(r"Input should be a valid integer[^.]*"), "expected a whole number"),
    (re.compile(r"Input should be a valid number[^.]*"), "expected a number"),
    (re.compile(r"Input should be a valid boolean[^.]*"), "expected true or false"),
    (re.compile(r"\bx>=(\S+?)\.?$"), r"\1 or more"),
)


def plain_message(message: str) -> str:
    """A typer/click usage message without Python or pydantic wording, on one line."""
    text = " ".join(message.split())
    for pattern, replacement in _PLAIN:
        text = pattern.sub(replacement, text)
    return text


def usage_line(exc: Exception) -> str:
    """``exc`` (a click usage error raised by typer) as the one line printed after ``error:``."""
    message = plain_message(exc.format_message())  # type: ignore[attr-defined]
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) if ctx is not None else None
    hint = f" (see '{path} --help')" if path else ""
    return f"{message}{hint}"


def parse_offsets(
    values: list[str],
) -> tuple[timedelta | None, tuple[tuple[str, timedelta], ...]]:
    """``--utc-offset`` values: one default (``+02:00``) and per-host ones (``HV01=+02:00``)."""
    default: timedelta | None = None
    per_host: list[tuple[str, timedelta]] = []
    for value in values:
        m = _OFFSET.match(value.strip())
        if not m:
            raise typer.BadParameter(
                f"{value!r}: expected +02:00 (all hosts) or HOST=+02:00", param_hint="--utc-offset"
            )
        delta = timedelta(hours=int(m["h"]), minutes=int(m["m"]))
        if m["sign"] == "-":
            delta = -delta
        if int(m["m"]) >= 60 or not MIN_OFFSET <= delta <= MAX_OFFSET:
            raise typer.BadParameter(
                f"{value!r}: a UTC offset lies between -12:00 and +14:00",
                param_hint="--utc-offset",
            )
        if m["host"]:
            per_host.append((m["host"].strip().split(".")[0].upper(), delta))
        else:
            default = delta
    return default, tuple(per_host)


def check_offset_hosts(per_host: tuple[tuple[str, timedelta], ...], hosts: set[str]) -> None:
    """A per-host offset for a host the logs never name is a typo: say so before output."""
    check_hosts([host for host, _ in per_host], hosts, "--utc-offset")


def check_hosts(wanted: list[str], hosts: set[str], option: str) -> None:
    """Hosts named in an option must be in the logs (short names, any case)."""
    known = {h.upper() for h in hosts}
    for host in wanted:
        if host.split(".")[0].upper() not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise typer.BadParameter(
                f"{host}: no such host in the logs (hosts found: {listed})", param_hint=option
            )


def check_signature_dirs(dirs: list[Path]) -> None:
    for folder in dirs:
        if not folder.is_dir():
            raise typer.BadParameter(f"{folder}: no such folder", param_hint="--signatures")
        if not any(folder.glob("*.yaml")):
            raise typer.BadParameter(
                f"{folder}: no signature files (*.yaml) in it", param_hint="--signatures"
            )


def check_output_file(path: Path | None, option: str, inputs: Sequence[str] = ()) -> None:
    """Refuse, before the work, a file output that cannot be written, or that is one of the
    inputs (migdiag never writes to what it reads)."""
    if path is None:
        return
    for given in inputs:
        if Path(given).exists() and path.exists() and path.resolve() == Path(given).resolve():
            raise typer.BadParameter(
                f"{path} is one of the inputs: migdiag never overwrites what it reads",
                param_hint=option,
            )
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a folder: give a file name", param_hint=option)
    parent = path.parent
    if not parent.is_dir():
        raise typer.BadParameter(f"{path}: folder {parent} does not exist", param_hint=option)
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise typer.BadParameter(f"{path}: not allowed to write there", param_hint=option)


def prepare_output_dir(path: Path | None, option: str) -> None:
    """Create an output folder now, so that a folder that cannot exist fails before the work."""
    if path is None:
        return
    if path.exists() and not path.is_dir():
        raise typer.BadParameter(f"{path} is a file, not a folder", param_hint=option)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise typer.BadParameter(
            f"{path}: cannot create this folder ({exc.strerror or exc})", param_hint=option
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise typer.BadParameter(f"{path}: not allowed to write there", param_hint=option)


def plain_argument_help() -> None:
    """Show a required argument in usage lines by its metavar alone (``PATH...``), not typer's
    ``{PATH...}``: the braces mean nothing to a user.

    typer offers no option for this; its argument class is adjusted once, where the CLI is
    built, and left alone if a typer release renames what is adjusted here (pyproject pins
    the releases whose ``make_metavar`` takes ``usage``)."""
    import inspect

    from typer.core import TyperArgument

    original = getattr(TyperArgument, "make_metavar", None)
    if (
        original is None
        or getattr(TyperArgument, "_migdiag_plain", False)
        or "usage" not in inspect.signature(original).parameters
    ):
        return

    def make_metavar(self: TyperArgument, ctx: typer.Context, *, usage: bool = False) -> str:
        if usage and self.required and self.metavar is not None:
            return self.metavar
        result: str = original(self, ctx, usage=usage)
        return result

    TyperArgument.make_metavar = make_metavar  # type: ignore[method-assign,assignment]
    TyperArgument._migdiag_plain = True  # type: ignore[attr-defined]
