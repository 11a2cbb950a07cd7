"""``Get-WinEvent | ConvertTo-Json`` (and ``Get-EventLog``'s), PowerShell 5.1 and 7.

One object, or an array of them.  5.1 writes ``TimeCreated`` as ``"\\/Date(1381219575300)\\/"``
(milliseconds since 1970, UTC, sometimes wrapped as ``{"value": ..., "DateTime": ...}``); 7
writes ISO 8601 with the sender's offset (``2013-10-08T10:06:15.3+02:00``): both are exact.
``Properties`` is a list of ``{"Value": ...}``: the payload, by position, without names.

Only JSON that looks like event records is claimed (an ``Id``/``EventID`` key and a
``TimeCreated``/``TimeGenerated`` key in the head): configuration snapshots (``Get-VMHost |
ConvertTo-Json``) belong to another reader.  An array is read element by element, so a
damaged or truncated element costs that element: the reader resumes at the next one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from migdiag.errors import InputError, one_line
from migdiag.model import Event
from migdiag.readers import InputSource, Keep, Reader, ReadStats
from migdiag.readers.localtime import DEFAULT_OPTIONS, TimeOptions
from migdiag.readers.powershell_record import PsRecord, read_records, read_text

FORMAT = "powershell-json"
_ID_KEY = re.compile(r'"(?:Id|EventID|InstanceId)"\s*:', re.IGNORECASE)
_TIME_KEY = re.compile(r'"(?:TimeCreated|TimeGenerated)"\s*:', re.IGNORECASE)
_MS_DATE = re.compile(r"^/Date\((-?\d{1,15})([+-]\d{4})?\)/$")
# The start of a top-level array element in PowerShell's layouts (5.1 indents by 4, 7 by 2).
_NEXT_ELEMENT = re.compile(r"\n {2,4}\{")
# Get-EventLog's EntryType, serialised as the enum's number.
_ENTRY_TYPES = {
    "1": "error",
    "2": "warning",
    "4": "information",
    "8": "successaudit",
    "16": "failureaudit",
}
_DECODER = json.JSONDecoder()


def sniff_text(text: str) -> bool:
    body = text.lstrip("\ufeff \t\r\n")
    if not body.startswith(("[", "{")):
        return False
    return bool(_ID_KEY.search(text)) and bool(_TIME_KEY.search(text))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        # PowerShell's wrappers: a DateTime with notes, or an object at the depth limit.
        for key in ("value", "Value", "DateTime"):
            if key in value:
                return _text(value[key])
        return ""
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return str(value)


def _exact_time(text: str) -> datetime | None:
    m = _MS_DATE.match(text.strip())
    if not m:
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(m.group(1)))


def _record(obj: dict[str, Any], number: int, line: int) -> PsRecord:
    values = {str(k).lower(): _text(v) for k, v in obj.items() if k != "Properties"}
    entry = values.get("entrytype", "")
    if entry in _ENTRY_TYPES:
        values["entrytype"] = _ENTRY_TYPES[entry]
    time = None
    for key in ("timecreated", "timegenerated"):
        if key in values:
            time = _exact_time(values[key])
            break
    payload: tuple[str, ...] | None = None
    properties = obj.get("Properties", obj.get("properties"))
    if isinstance(properties, list):
        payload = tuple(_text(p) for p in properties)
    elif isinstance(obj.get("ReplacementStrings"), list):
        payload = tuple(_text(p) for p in obj["ReplacementStrings"])
    return PsRecord(number=number, line=line, values=values, payload=payload, time=time)


def _elements(text: str, name: str, stats: ReadStats) -> Iterator[tuple[int, Any]]:
    """(line, value) of each top-level element, resuming after a damaged one."""
    start = len(text) - len(text.lstrip("\ufeff \t\r\n"))
    if text.startswith("{", start):
        try:
            yield text.count("\n", 0, start) + 1, _DECODER.raw_decode(text, start)[0]
        except (ValueError, RecursionError) as exc:
            raise InputError(name, f"not readable JSON ({one_line(exc)[:160]})") from exc
        return
    position = start + 1
    counted, line = 0, 1  # lines are counted as the reading moves on, never from the start

    while position < len(text):
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text) or text[position] == "]":
            return
        line += text.count("\n", counted, position)
        counted = position
        try:
            value, position = _DECODER.raw_decode(text, position)
        except (ValueError, RecursionError) as exc:
            stats.records += 1
            stats.dropped += 1
            stats.warn(f"{name} element at line {line}: damaged JSON ({one_line(exc)[:120]})")
            following = _NEXT_ELEMENT.search(text, position + 1)
            if following is None:
                return
            position = following.start() + 1
            continue
        yield line, value


def make_reader(options: TimeOptions) -> Reader:
    """A ConvertTo-Json reader; local ISO times without an offset use ``options``."""

    def read(source: InputSource, stats: ReadStats, keep: Keep) -> Iterator[Event]:
        text = read_text(source)
        records: list[PsRecord] = []
        for line, value in _elements(text, source.name, stats):
            if not isinstance(value, dict):
                stats.records += 1
                stats.dropped += 1
                stats.warn(f"{source.name} element at line {line}: not an object; skipped")
                continue
            records.append(_record(value, len(records) + 1, line))
        if not records and not stats.records:
            raise InputError(source.name, "no event record in the JSON")
        yield from read_records(records, source, stats, keep, options, FORMAT)

    return read


read: Reader = make_reader(DEFAULT_OPTIONS)
