"""``Get-WinEvent | Export-Csv`` and ``Get-EventLog | Export-Csv``, PowerShell 5.1 and 7.

5.1 writes ``#TYPE System.Diagnostics.Eventing.Reader.EventLogRecord`` (or
``#TYPE System.Diagnostics.EventLogEntry#<log>/<source>/<id>``) above the header unless
told ``-NoTypeInformation``, quotes every value and leaves a null unquoted and empty; 7 drops
the ``#TYPE`` line by default.  ``-UseCulture`` separates with the culture's list separator
(``;`` in German); the separator is the one that splits the header into known property
names.  Dates are local, in the sender's culture.  ``Properties`` is printed as its type
name, so a CSV carries no payload: the message is what diagnosis reads.

A row whose quoting is broken (an unclosed quote swallows the lines after it) is found by
its field count: it is reported with its line, and reading resumes on the next line, so one
damaged message costs one record.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence

from migdiag.errors import InputError, one_line
from migdiag.model import Event
from migdiag.readers import InputSource, Keep, Reader, ReadStats
from migdiag.readers.localtime import DEFAULT_OPTIONS, TimeOptions
from migdiag.readers.powershell_list import KNOWN
from migdiag.readers.powershell_record import PsRecord, read_records, read_text

FORMAT = "powershell-csv"
_TYPE = re.compile(r"^#TYPE\s+(\S.*?)\s*$")
_EVENTLOG_TYPE = re.compile(r"EventLogEntry#([^/]+)/")
SEPARATORS = (",", ";", "\t", "|")
MAX_ROW_LINES = 2000  # a message of more lines than this is an unclosed quote, not a message
csv.field_size_limit(16 * 1024 * 1024)  # as readers/csv.py: a message can be long


def _split(line: str, separator: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=separator), [])
    except csv.Error:
        return []


def _header(lines: Sequence[str]) -> tuple[int, str, list[str], str] | None:
    """(line index, separator, lower-case names, #TYPE) of the header, or None."""
    type_name = ""
    for index, line in enumerate(lines[:3]):
        stripped = line.strip().lstrip("\ufeff")
        if not stripped:
            continue
        m = _TYPE.match(stripped)
        if m:
            type_name = m.group(1)
            continue
        best: tuple[int, str, list[str]] | None = None
        for separator in SEPARATORS:
            names = [n.strip().lower() for n in _split(stripped, separator)]
            score = len(set(names) & KNOWN)
            if best is None or score > best[0]:
                best = (score, separator, names)
        if best is None:
            return None
        _, separator, names = best
        wanted = ({"id", "eventid", "instanceid"}, {"providername", "source"})
        if all(set(names) & w for w in wanted) and {"timecreated", "timegenerated"} & set(names):
            return index, separator, names, type_name
        return None
    return None


def sniff_text(text: str) -> bool:
    """The head starts with an Export-Csv header of event properties (after ``#TYPE``)."""
    return _header(text.split("\n")) is not None


def _row(lines: Sequence[str], start: int, separator: str) -> tuple[list[str], int]:
    """The cells of the row starting at ``start`` and how many lines it took."""
    taken = 0

    def feed() -> Iterator[str]:
        nonlocal taken
        for line in lines[start : start + MAX_ROW_LINES]:
            taken += 1
            yield line + "\n"

    reader = csv.reader(feed(), delimiter=separator, strict=True)
    try:
        cells = next(reader)
    except StopIteration:
        return [], max(taken, 1)
    return cells, taken


def iter_records(lines: Sequence[str], stats: ReadStats, name: str) -> tuple[list[PsRecord], str]:
    found = _header(lines)
    if found is None:
        raise InputError(name, "no PowerShell Export-Csv header found")
    index, separator, names, type_name = found
    m = _EVENTLOG_TYPE.search(type_name)
    log = m.group(1) if m else ""
    records: list[PsRecord] = []
    i = index + 1
    number = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        number += 1
        where = f"{name} row {number} (line {i + 1})"
        try:
            cells, taken = _row(lines, i, separator)
        except csv.Error as exc:
            stats.records += 1
            stats.dropped += 1
            stats.warn(f"{where}: {one_line(exc)[:160]}; skipped")
            i += 1
            continue
        if len(cells) != len(names):
            stats.records += 1
            stats.dropped += 1
            stats.warn(
                f"{where}: {len(cells)} fields, the header has {len(names)} (broken quoting?); "
                "skipped, reading on from the next line"
            )
            i += 1
            continue
        records.append(
            PsRecord(number=number, line=i + 1, values=dict(zip(names, cells, strict=True)))
        )
        i += taken
    return records, log


def make_reader(options: TimeOptions) -> Reader:
    """An Export-Csv reader that converts local dates with ``options``."""

    def read(source: InputSource, stats: ReadStats, keep: Keep) -> Iterator[Event]:
        # Split on line feeds only: a message may hold other line separators.
        lines = [line.rstrip("\r") for line in read_text(source).split("\n")]
        records, log = iter_records(lines, stats, source.name)
        if log:
            records = [PsRecord(r.number, r.line, {"logname": log, **r.values}) for r in records]
        yield from read_records(records, source, stats, keep, options, FORMAT)

    return read


read: Reader = make_reader(DEFAULT_OPTIONS)
