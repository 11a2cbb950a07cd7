"""``Get-WinEvent | Format-List`` (and ``Format-List *``) and ``Get-EventLog | Format-List``.

Records are blocks of ``Name : value`` lines, labels padded to one colon column, separated
by blank lines.  A value longer than the console (80 or 120 columns, or ``Out-File -Width``)
is word-wrapped onto continuation lines indented to the value column, and a multi-line
message continues the same way (its empty lines empty or indentation only).  Wrapping and
real line breaks look alike; the greedy word wrap is undone by its own rule: a line ended by
the wrap is one the next word would not have fitted on (the file's longest line is taken as
the width).  Property names are PowerShell's and never translated; dates are local, in the
sender's culture (see ``powershell_record``).
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

FORMAT = "powershell-list"
_LABEL = re.compile(r"^([A-Za-z][A-Za-z0-9]{0,39})( *): ?(.*)$")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# The properties of EventLogRecord and EventLogEntry that tell a record's list apart.
_IDS = frozenset({"id", "eventid", "instanceid"})
_WHO = frozenset({"providername", "source"})
_WHEN = frozenset({"timecreated", "timegenerated", "timewritten"})
KNOWN = frozenset(
    {
        *_IDS,
        *_WHO,
        *_WHEN,
        "message",
        "machinename",
        "logname",
        "recordid",
        "leveldisplayname",
        "level",
        "index",
        "entrytype",
        "containerlog",
    }
)
MAX_VALUE_CHARS = 1 << 20  # a message is a few KiB; a megabyte "value" is damage


def _lines(text: str) -> list[str]:
    return [_ANSI.sub("", clean_line(line)) for line in text.splitlines()]


def sniff_text(text: str) -> bool:
    """The head starts with a list of event records: its first line is a known property's
    label, and an id and a provider or a time follow among the labels (or, with ``*``, a
    message so long that it fills the head)."""
    labels: list[str] = []
    for line in _lines(text):
        if not line.strip():
            continue
        m = _LABEL.match(line)
        if not labels and (not m or m.group(1).lower() not in KNOWN):
            return False
        if m and not line[:1].isspace():
            labels.append(m.group(1).lower())
    names = set(labels)
    if names & _IDS and names & (_WHO | _WHEN):
        return True
    return labels == ["message"] and len(text) >= 1500


def _width(lines: Sequence[str]) -> int:
    # A console is never thousands of columns wide: a longer line is damage, not the width.
    return max((n for line in lines if (n := len(line)) <= 4096), default=80)


def _join(previous: str, piece: str, width: int) -> str:
    """How a continuation joins the line before it: undo the greedy word wrap."""
    word = piece.split(" ", 1)[0]
    if len(previous) >= width and " " not in previous.strip():
        return ""  # a token longer than the line, cut at the edge
    if len(previous) + 1 + len(word) > width:
        return " "  # the next word did not fit: the wrap ended the line
    return "\n"  # it would have fitted: the line break is the message's own


def iter_records(lines: Sequence[str], stats: ReadStats, name: str) -> Iterator[PsRecord]:
    width = _width(lines)
    parts: dict[str, list[str]] = {}  # a value's pieces, joined once the record is whole
    sizes: dict[str, int] = {}
    number = 0
    start = 0
    key = ""
    column = 0
    previous = ""
    blanks = 0
    first = ""

    def add(text: str, index: int) -> None:
        size = sizes.get(key, 0)
        if size > MAX_VALUE_CHARS:
            return
        if size + len(text) > MAX_VALUE_CHARS:
            stats.warn(f"{name} line {index + 1}: value of {key} longer than 1 MiB; cut there")
            text = text[: MAX_VALUE_CHARS - size] + " "  # one over the limit: cut, once
        parts.setdefault(key, []).append(text)
        sizes[key] = size + len(text)

    def flush() -> PsRecord | None:
        if not parts:
            return None
        # Trailing spaces are kept while lines are joined (a wrap at a double space leaves
        # one at the end of the line) and are insignificant once a value is whole.
        values = {k: "".join(v).strip() for k, v in parts.items()}
        parts.clear()
        sizes.clear()
        return PsRecord(number=number, line=start, values=values)

    for index, line in enumerate(lines):
        if not line.strip():
            blanks += 1
            continue
        m = _LABEL.match(line)
        indented = line[:1].isspace()
        if m and not indented:
            label = m.group(1).lower()
            first = first or label
            # Every record prints its properties in one order: a record starts with the
            # file's first label, or when a label repeats.  A blank line alone does not
            # start one: a message ending in a line break leaves one before the next label.
            if label == first or label in parts:
                done = flush()
                if done is not None:
                    yield done
            if not parts:
                number += 1
                start = index + 1
            key, column = label, m.end(2) + 2
            parts[key] = []
            add(m.group(3), index)
            previous, blanks = line, 0
            continue
        if not parts or not indented:
            # PowerShell indents every continuation: this is something else (a mail's
            # signature, a prompt); it ends the record before it.
            done = flush()
            if done is not None:
                yield done
            stats.warn(f"{name} line {index + 1}: text outside any record; skipped")
            blanks = 0
            continue
        piece = line[column:] if line[:column].strip() == "" else line.strip()
        add(("\n" * (blanks + 1) if blanks else _join(previous, piece, width)) + piece, index)
        previous, blanks = line, 0
    done = flush()
    if done is not None:
        yield done


def make_reader(options: TimeOptions) -> Reader:
    """A Format-List reader that converts local dates with ``options``."""

    def read(source: InputSource, stats: ReadStats, keep: Keep) -> Iterator[Event]:
        lines = _lines(read_text(source))
        records = list(iter_records(lines, stats, source.name))
        if not records:
            raise InputError(source.name, "no PowerShell Format-List record found")
        yield from read_records(records, source, stats, keep, options, FORMAT)

    return read


read: Reader = make_reader(DEFAULT_OPTIONS)
