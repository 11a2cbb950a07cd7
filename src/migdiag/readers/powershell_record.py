"""What every PowerShell output shares: one record's properties -> one raw ``Event``.

``Get-WinEvent`` objects (``EventLogRecord``) and ``Get-EventLog`` objects (``EventLogEntry``)
reach us printed as a list, a table, CSV, JSON or CLIXML; each reader turns its layout into
a ``PsRecord`` (property name -> text, the payload values when the format kept them, and an
exact time when the format carried one) and this module makes the event.  Property names are
never translated by PowerShell; values such as ``LevelDisplayName`` and the dates of list,
table and CSV output are, so levels are read in several languages and local dates go
through ``localtime`` with the user's ``TimeOptions``.

The host is ``MachineName`` when the output has it.  The default list and table views and
``Get-EventLog``'s list do not: then the host is taken from the file's name or folder
(``HV01_vmms.txt``, ``HV01/vmms.txt``) and the report says so, or stays unknown with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath

from migdiag.catalog import default_catalog
from migdiag.errors import InputError, one_line
from migdiag.model import Event, Origin, short_host
from migdiag.readers import InputSource, Keep, ReadStats
from migdiag.readers.localtime import TimeOptions, parse_local, resolve_day_first, to_utc
from migdiag.readers.text import MAX_TEXT_BYTES, level_number, open_text, provider_name

# Get-EventLog's EntryType -> XML level (the audit types are Security-log only).
_ENTRY_TYPES = {
    "error": 2,
    "warning": 3,
    "information": 4,
    "successaudit": 0,
    "failureaudit": 0,
    "fehler": 2,
    "warnung": 3,
    "informationen": 4,
}
# A host name as people name their servers: a letter first, a digit somewhere (so that
# "Microsoft", "events" or "vmms" are never taken for one), at most 15 characters (NetBIOS).
_HOST_LIKE = re.compile(r"^(?=[A-Za-z0-9-]*\d)[A-Za-z][A-Za-z0-9-]{0,14}$")
_NAME_SPLIT = re.compile(r"[_.\s]+")


@dataclass(frozen=True, slots=True)
class PsRecord:
    """One object as an output printed it.

    ``values`` maps lower-case property names to their text; ``payload`` holds
    ``Properties[].Value`` (or ``ReplacementStrings``) when the format kept them, else None;
    ``time`` is set when the format carried an exact UTC time (JSON, CLIXML)."""

    number: int  # 1-based record number in the file
    line: int  # 1-based line where it starts (0 when the format has no lines)
    values: Mapping[str, str]
    payload: tuple[str, ...] | None = None
    time: datetime | None = None

    def get(self, *names: str) -> str:
        for name in names:
            value = self.values.get(name)
            if value is not None and value.strip():
                return value.strip()
        return ""


def _host_in(token: str) -> str:
    """The host a name starts with: the longest run of its ``-`` parts ending in one that
    holds a letter and a digit (``HV01-VMMS-Admin`` -> HV01, ``HV-NODE01-vmms`` ->
    HV-NODE01; ``events-2024`` -> nothing)."""
    parts = token.split("-")
    for end in range(len(parts), 0, -1):
        last = parts[end - 1]
        if any(c.isdigit() for c in last) and any(c.isalpha() for c in last):
            candidate = "-".join(parts[:end])
            return candidate.upper() if _HOST_LIKE.match(candidate) else ""
    return ""


def host_from_name(name: str) -> str:
    """A host named by an input's path: ``HV01_vmms.txt``, ``HV01-VMMS-Admin.txt`` or
    ``.../HV01/vmms.txt`` (a zip member's path counts), else ""."""
    inner = name.replace("\\", "/").rsplit("!", 1)[-1]
    path = PurePosixPath(inner)
    found = _host_in(_NAME_SPLIT.split(path.stem, maxsplit=1)[0])
    if found:
        return found
    # The nearest two folders only: further up is the sender's or our own tree (home/user1).
    for folder in reversed(path.parts[-3:-1]):
        found = _host_in(folder)
        if found:
            return found
    return ""


@dataclass(slots=True)
class HostGuess:
    """The host of a file whose records carry no ``MachineName``: guessed once, said once."""

    name: str
    stats: ReadStats
    said: bool = False

    def host(self, record: PsRecord) -> str:
        machine = record.get("machinename")
        if machine:
            return machine
        guessed = host_from_name(self.name)
        if not self.said:
            self.said = True
            if guessed:
                self.stats.warn(
                    f"{self.name}: the output names no computer (no MachineName); host "
                    f"{guessed} taken from the file's name or folder"
                )
            else:
                self.stats.warn(
                    f"{self.name}: the output names no computer (no MachineName) and neither "
                    "does the file's name or folder; its events have no host (use "
                    "Format-List * or name the file HOST_log.txt)"
                )
        return guessed


def level_of(record: PsRecord) -> int | None:
    """The XML level a record shows, or None when its output printed none."""
    number = record.get("level")
    if number.isdigit():
        return int(number)
    for text in (record.get("leveldisplayname", "level"), record.get("entrytype")):
        level = level_number(text)
        if level is None:
            level = _ENTRY_TYPES.get(text.strip().lower())
        if level is not None:
            return level
    return None


def _event_id(record: PsRecord) -> int:
    text = record.get("id", "eventid")
    if not text:
        text = record.get("instanceid")  # qualifiers in the high word: the id is the low word
    text = text.strip()
    if not text.lstrip("-").isdigit():
        raise ValueError(f"no numeric Id ({text[:20]!r})")
    return int(text) & 0xFFFF


def _record_id(record: PsRecord) -> int | None:
    text = record.get("recordid", "index")
    return int(text) if text.isdigit() and len(text) < 20 else None


def time_texts(records: Iterable[PsRecord]) -> Iterable[str]:
    """The local dates of records without an exact time, to settle a file's date order."""
    for record in records:
        if record.time is None:
            text = record.get("timecreated", "timegenerated", "timewritten")
            if text:
                yield text


@dataclass(slots=True)
class DateOrder:
    """A file's date order: what its rows proved (``resolve_day_first``), or, when no row
    settles it, the culture convention, reported once per file so it is never silent."""

    name: str
    stats: ReadStats
    day_first: bool | None
    said: bool = False

    def check(self, text: str) -> None:
        # Only slashes are written both ways (en-US 10/8/2013 and en-GB or en-AU 8/10/2013);
        # dotted dates (de-DE, ru-RU, ...) are day-first in every culture that writes them.
        if self.day_first is not None or self.said or "/" not in text:
            return
        try:
            ambiguous = parse_local(text).ambiguous
        except ValueError:
            return
        if ambiguous:
            self.said = True
            self.stats.warn(
                f"{self.name}: dates such as {text.strip()[:30]!r} could be day-first or "
                "month-first and no date in the file settles it; read by the culture's "
                "convention (with AM/PM month first, without day first). Say which with "
                "--day-first or --month-first"
            )


def make_event(
    record: PsRecord,
    name: str,
    fmt: str,
    options: TimeOptions,
    order: DateOrder,
    host: str,
    channel_hint: str = "",
) -> Event:
    """The raw event of one record; ``ValueError`` names what is missing or unreadable."""
    provider = provider_name(record.get("providername", "source", "providerid"))
    if not provider:
        raise ValueError("no ProviderName or Source")
    event_id = _event_id(record)
    if record.time is not None:
        time, assumed = record.time, False
    else:
        text = record.get("timecreated", "timegenerated", "timewritten")
        if not text:
            raise ValueError("no TimeCreated or TimeGenerated")
        order.check(text)
        time, assumed = to_utc(text, host, options, order.day_first)
    spec = default_catalog().spec(provider, event_id)
    channel = record.get("logname", "containerlog") or channel_hint
    if not channel and spec is not None:
        channel = spec.channel
    payload = record.payload or ()
    level = level_of(record)
    return Event(
        time=time,
        host=host,
        channel=channel,
        provider=provider,
        event_id=event_id,
        # The default list shows no level: the catalog's is the event's own.
        level=level if level is not None else (spec.level if spec is not None else 4),
        record_id=_record_id(record),
        # Properties carry values without names: positions are what the catalog reads.
        fields=tuple(("", value) for value in payload),
        message=record.get("message") or None,
        origin=Origin(path=name, format=fmt, record=record.number, offset=record.line or None),
        time_assumed=assumed,
    )


def offset_note(name: str, options: TimeOptions, host: str) -> str:
    """What a file's local times were converted with, for its report."""
    offset = options.offset_for(host)
    short = short_host(host)
    given = bool(short) and any(short_host(h) == short for h, _ in options.host_offsets)
    used = f"--utc-offset {short}=" if given else "the default UTC offset "
    return f"{name}: local times of {short or 'an unknown host'} converted with {used}" + (
        format_offset(offset)
    )


def format_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def read_records(
    records: Sequence[PsRecord],
    source: InputSource,
    stats: ReadStats,
    keep: Keep,
    options: TimeOptions,
    fmt: str,
) -> Iterator[Event]:
    """Events of records printed in local time (list, table, CSV): one date order per
    file, one host guess per file, one note of the UTC offset used."""
    order = DateOrder(source.name, stats, resolve_day_first(options, time_texts(records)))
    hosts = HostGuess(source.name, stats)
    noted: set[str] = set()
    for record in records:
        stats.records += 1
        host = hosts.host(record)
        try:
            event = make_event(record, source.name, fmt, options, order, host)
        except ValueError as exc:
            stats.dropped += 1
            stats.warn(
                f"{source.name} record {record.number} (line {record.line}): {one_line(exc)}"
            )
            continue
        if event.time_assumed and host not in noted:
            noted.add(host)
            stats.warn(offset_note(source.name, options, host))
        if not keep(event.provider):
            continue
        stats.relevant += 1
        yield event


def read_text(source: InputSource) -> str:
    if source.size > MAX_TEXT_BYTES:
        raise InputError(source.name, "too large for PowerShell text output (over 256 MiB)")
    try:
        with open_text(source) as f:
            return f.read()
    except OSError as exc:
        raise InputError(source.name, f"cannot read: {one_line(exc)}") from exc


__all__ = [
    "DateOrder",
    "HostGuess",
    "PsRecord",
    "format_offset",
    "host_from_name",
    "level_of",
    "make_event",
    "offset_note",
    "read_records",
    "read_text",
    "time_texts",
]
