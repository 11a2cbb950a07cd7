"""``Get-WinEvent``'s default table, as saved with ``>`` or pasted from the console.

Grouped by provider (``   ProviderName: X`` above each group), then the header
``TimeCreated Id LevelDisplayName Message`` over a row of dashes.  PowerShell's view gives
the columns 26, 8 (right-aligned) and 16 characters and the message the rest of the line, so
a message longer than that is cut and ends in ``...`` (5.1) or ``…`` (7).  What is left is
kept as the message, ellipsis included, and the file's report says how many were cut: the
ids, times and levels are whole, the sentences are not.  The column starts are read from
the dashes, so another width (``Out-File -Width``) reads the same.

``Get-EventLog``'s table prints its time as ``Dec 07 09:30``: no year and no seconds, which
nothing can put back; it is refused with the command that gives a readable list instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from migdiag.errors import InputError
from migdiag.model import Event
from migdiag.readers import InputSource, Keep, Reader, ReadStats
from migdiag.readers.localtime import DEFAULT_OPTIONS, TimeOptions
from migdiag.readers.powershell_record import PsRecord, read_records, read_text
from migdiag.readers.text import clean_line

FORMAT = "powershell-table"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_GROUP = re.compile(r"^\s*ProviderName:\s*(.*?)\s*$")
_HEADER = re.compile(r"^\s*TimeCreated\s+Id\s+LevelDisplayName\s+Message\s*$")
_EVENTLOG_HEADER = re.compile(r"^\s*Index\s+Time\s+EntryType\s+Source\s+InstanceID\s+Message\s*$")
_DASHES = re.compile(r"-+")
_ID_AT_END = re.compile(r"^(.*\S)\s+(\d{1,10})\s*$")
ELLIPSES = ("...", "…")


def _lines(text: str) -> list[str]:
    return [_ANSI.sub("", clean_line(line)).rstrip() for line in text.splitlines()]


def sniff_text(text: str) -> bool:
    """A table's header (with its dashes below) among the first lines."""
    lines = _lines(text)[:40]
    for i, line in enumerate(lines[:-1]):
        if (_HEADER.match(line) or _EVENTLOG_HEADER.match(line)) and lines[i + 1].lstrip()[
            :2
        ] == "--":
            return True
    return False


def iter_records(lines: Sequence[str], stats: ReadStats, name: str) -> Iterator[PsRecord]:
    provider = ""
    columns: tuple[int, int] | None = None  # where LevelDisplayName and Message start
    number = 0
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        group = _GROUP.match(line)
        if group:
            provider, columns = group.group(1), None
            continue
        if _HEADER.match(line) and index + 1 < len(lines):
            runs = [m.start() for m in _DASHES.finditer(lines[index + 1])]
            columns = (runs[2], runs[3]) if len(runs) >= 4 else None
            continue
        if columns is None or set(line.strip()) <= {"-", " "}:
            continue
        level_at, message_at = columns
        head = _ID_AT_END.match(line[:level_at])
        number += 1
        if head is None:
            stats.warn(f"{name} line {index + 1}: not a table row (no Id column); skipped")
            stats.records += 1
            stats.dropped += 1
            continue
        yield PsRecord(
            number=number,
            line=index + 1,
            values={
                "timecreated": head.group(1),
                "id": head.group(2),
                "leveldisplayname": line[level_at:message_at].strip(),
                "message": line[message_at:].strip(),
                "providername": provider,
            },
        )


def make_reader(options: TimeOptions) -> Reader:
    """A default-table reader that converts local dates with ``options``."""

    def read(source: InputSource, stats: ReadStats, keep: Keep) -> Iterator[Event]:
        lines = _lines(read_text(source))
        if any(_EVENTLOG_HEADER.match(line) for line in lines[:40]):
            raise InputError(
                source.name,
                "Get-EventLog's table prints times without a year or seconds; send "
                "Get-EventLog ... | Format-List * (or Get-WinEvent ... | Format-List *) instead",
            )
        records = list(iter_records(lines, stats, source.name))
        if not records:
            raise InputError(source.name, "no row found in the PowerShell table")
        cut = sum(r.get("message").endswith(ELLIPSES) for r in records)
        if cut:
            stats.warn(
                f"{source.name}: {cut} message(s) cut by the table's width (they end in "
                "'...'); ids, times and levels are whole. Format-List * gives whole messages"
            )
        yield from read_records(records, source, stats, keep, options, FORMAT)

    return read


read: Reader = make_reader(DEFAULT_OPTIONS)
