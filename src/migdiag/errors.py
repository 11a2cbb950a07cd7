"""The exceptions migdiag raises; the CLI turns each into one line and an exit code.

    MigdiagError                  every error migdiag raises on purpose
    ├── InputError                one input cannot be read (the others still are)
    ├── SignatureError            the signature library (or a user's folder) is invalid
    │                             (carries every problem found, each "file:line: message")
    └── ScenarioError             a synth scenario file is invalid

Library code never prints or exits: it raises these, or records warnings in the result.
"""

from __future__ import annotations


class MigdiagError(Exception):
    """Root of every error migdiag raises on purpose."""


class InputError(MigdiagError):
    """An input file that cannot be read at all.  ``str()`` is one line naming the file."""

    def __init__(self, name: str, why: str, offset: int | None = None) -> None:
        self.name = name
        self.why = why
        self.offset = offset
        where = f"{name} (offset {offset})" if offset is not None else name
        super().__init__(f"{where}: {why}")


class SignatureError(MigdiagError):
    """Invalid signature files: ``problems`` holds every "file:line: message" found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(problems))


class ScenarioError(MigdiagError):
    """An invalid synth scenario."""


def one_line(exc: BaseException) -> str:
    """An exception as one short line for a user-facing message (never a traceback)."""
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:200]
