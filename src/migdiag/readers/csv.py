"""Event Viewer "Save ... as CSV" exports (reference 9.5).

Header ``Level,Date and Time,Source,Event ID,Task Category`` and rows in that order, with a
sixth unnamed description column that may hold quoted, multi-line text.  The export names
neither the computer nor the log: the log comes from the catalog when it knows the event
(the channel is part of a record's identity), the computer stays empty and the file gets one
warning saying so.  Dates are local, in the exporting machine's culture: the file is read
twice, first to settle the date order from its own dates, then to yield events.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from migdiag.catalog import default_catalog
from migdiag.errors import InputError
from migdiag.model import Event, Origin
from migdiag.readers import InputSource, Keep, Reader, ReadStats, keeps_event
from migdiag.readers.localtime import DEFAULT_OPTIONS, TimeOptions, resolve_day_first, to_utc
from migdiag.readers.text import level_number, open_text, provider_name

FORMAT = "csv"
# The verified English header, and the German one by the same pattern (GUESSED wording);
# any other culture is recognised by shape (see ``looks_like_csv_export``).
HEADERS = (
    ("level", "date and time", "source", "event id", "task category"),
    ("ebene", "datum und uhrzeit", "quelle", "ereignis-id", "aufgabenkategorie"),
)
csv.field_size_limit(16 * 1024 * 1024)  # a description can be long; the default is 128 KiB


def _is_header(row: list[str]) -> bool:
    names = tuple(cell.strip().lower() for cell in row[:5])
    return names in HEADERS


def looks_like_csv_export(text: str) -> bool:
    """The head of a file is an Event Viewer CSV export: the known header, or (a culture we
    have no header for) five or six text names followed by a row whose 4th cell is an id."""
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error:
        return False
    rows = [r for r in rows if r]
    if not rows:
        return False
    if _is_header(rows[0]):
        return True
    if len(rows) < 2 or len(rows[0]) not in (5, 6):
        return False
    names, first = rows[0], rows[1]
    if any(any(ch.isdigit() for ch in cell) for cell in names):
        return False
    return len(first) >= 5 and first[3].strip().isdigit() and ":" in first[1]


def _rows(source: InputSource) -> Iterator[tuple[int, int, list[str]]]:
    """(row number, starting line, cells) of every data row; the header row is skipped."""
    with open_text(source, newline="") as f:
        reader = csv.reader(f)
        line = 1
        number = 0
        header_seen = False
        for row in reader:
            start, line = line, reader.line_num + 1
            if not row or not any(cell.strip() for cell in row):
                continue
            if not header_seen:
                header_seen = True
                if _is_header(row) or not row[3:4] or not row[3].strip().isdigit():
                    continue  # the header (in whatever culture)
            number += 1
            yield number, start, row


def _date_samples(source: InputSource) -> Iterator[str]:
    # The first pass only settles the date order: damage is reported by the second.
    try:
        for _, _, row in _rows(source):
            if len(row) > 1:
                yield row[1]
    except csv.Error:
        return


def _event(
    number: int,
    line: int,
    row: list[str],
    name: str,
    options: TimeOptions,
    day_first: bool | None,
) -> Event:
    if len(row) < 5:
        raise ValueError(f"{len(row)} fields, expected 5 or 6")
    level_text, date_text, source_text, id_text = row[0], row[1], row[2], row[3].strip()
    if not id_text.isdigit():
        raise ValueError(f"no numeric Event ID ({id_text[:20]!r})")
    provider = provider_name(source_text)
    event_id = int(id_text) & 0xFFFF
    time, assumed = to_utc(date_text, "", options, day_first)
    # Unquoted commas in a description split it: put it back together.
    description = ",".join(row[5:]).strip() if len(row) > 5 else ""
    spec = default_catalog().spec(provider, event_id)
    level = level_number(level_text)
    return Event(
        time=time,
        host="",
        channel=spec.channel if spec is not None else "",
        provider=provider,
        event_id=event_id,
        level=4 if level is None else level,
        record_id=None,
        fields=(),  # the CSV export has no payload
        message=description or None,
        origin=Origin(path=name, format=FORMAT, record=number, offset=line),
        time_assumed=assumed,
    )


def make_reader(options: TimeOptions) -> Reader:
    """An Event Viewer CSV reader that converts local dates with ``options``."""

    def read(source: InputSource, stats: ReadStats, keep: Keep) -> Iterator[Event]:
        try:
            day_first = resolve_day_first(options, _date_samples(source))
        except OSError as exc:
            raise InputError(source.name, f"cannot read: {str(exc)[:200]}") from exc
        warned = False
        try:
            for number, line, row in _rows(source):
                stats.records += 1
                try:
                    event = _event(number, line, row, source.name, options, day_first)
                except (ValueError, IndexError) as exc:
                    stats.dropped += 1
                    stats.warn(f"{source.name} row {number} (line {line}): {str(exc)[:200]}")
                    continue
                if not keeps_event(keep, event):
                    continue
                if not warned:
                    warned = True
                    stats.warn(
                        f"{source.name}: a CSV export names no computer; its events have no "
                        "host, and times used the default UTC offset"
                    )
                stats.relevant += 1
                yield event
        except csv.Error as exc:
            if not stats.records:
                raise InputError(source.name, f"not a readable CSV file: {str(exc)[:200]}") from exc
            stats.warn(f"{source.name}: CSV damaged after row {stats.records}; the rest is lost")

    return read


read: Reader = make_reader(DEFAULT_OPTIONS)
