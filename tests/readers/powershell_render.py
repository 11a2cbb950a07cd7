"""Test-side PowerShell: print events the way PowerShell 5.1 and 7 print ``Get-WinEvent``.

The layouts follow PowerShell's own formatting rules, not migdiag's readers:

* Format-List: labels padded to the longest name, ``" : "``, values word-wrapped at the
  console width onto lines indented to the value column (a word longer than the line is
  cut at its edge), multi-line values continued the same way with empty lines left empty
  (5.1) or indented (7); a blank line before the first record and between records.
* the default table: ``Event.format.ps1xml``'s columns (26, 8 right-aligned, 16, rest),
  grouped under ``   ProviderName: X`` whenever the provider changes, a message longer than
  its column cut to ``...`` (5.1) or ``…`` (7).
* Export-Csv: 5.1 writes ``#TYPE``, quotes every value and leaves nulls empty; 7 has no
  ``#TYPE`` and quotes nulls too; ``-UseCulture`` in German separates with ``;``.
* ConvertTo-Json: 5.1 indents by 4 with two spaces after the colon, writes dates as
  ``\\/Date(ms)\\/`` and escapes ``'`` as ``\\u0027``; 7 indents by 2 and writes ISO 8601 with
  the sender's offset.  ``Properties`` is a list of ``{"Value": ...}``.
* Export-Clixml: ``<Objs>`` of ``<Obj>``, typed ``<Props>``, ``<DT>`` with offset, control
  characters as ``_x000D_``.
* ``>`` writes UTF-16LE with a BOM in 5.1 and UTF-8 without one in 7; lines end in CRLF.

Dates of list, table and CSV are local (UTC + the host's offset) in the culture's format.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

from migdiag.model import Event

PROVIDER_IDS = {
    "Microsoft-Windows-Hyper-V-VMMS": "6066f867-7ca1-4418-85fd-36e3f9c0600c",
    "Microsoft-Windows-Hyper-V-High-Availability": "4b8ef2d6-0b4b-4fd3-8acc-b3e8f7cab5f0",
}
LEVELS = {
    "en-US": {1: "Critical", 2: "Error", 3: "Warning", 4: "Information", 5: "Verbose"},
    "de-DE": {1: "Kritisch", 2: "Fehler", 3: "Warnung", 4: "Informationen", 5: "Ausführlich"},
    "ja-JP": {1: "重大", 2: "エラー", 3: "警告", 4: "情報", 5: "詳細"},
}
STAR_PROPERTIES = (
    "Message",
    "Id",
    "Version",
    "Qualifiers",
    "Level",
    "Task",
    "Opcode",
    "Keywords",
    "RecordId",
    "ProviderName",
    "ProviderId",
    "LogName",
    "ProcessId",
    "ThreadId",
    "MachineName",
    "UserId",
    "TimeCreated",
    "ActivityId",
    "RelatedActivityId",
    "ContainerLog",
    "MatchedQueryIds",
    "Bookmark",
    "LevelDisplayName",
    "OpcodeDisplayName",
    "TaskDisplayName",
    "KeywordsDisplayNames",
    "Properties",
)
DEFAULT_PROPERTIES = ("TimeCreated", "ProviderName", "Id", "Message")


@dataclass(frozen=True)
class Sender:
    """The machine that ran the command: PowerShell version, culture, console width, and
    each host's UTC offset (a host not listed is at UTC)."""

    version: str = "5.1"  # or "7"
    culture: str = "en-US"  # en-US, de-DE, ja-JP
    width: int = 120
    offsets: tuple[tuple[str, timedelta], ...] = ()

    def offset(self, host: str) -> timedelta:
        short = host.split(".", 1)[0].upper()
        return dict(self.offsets).get(short, timedelta(0))

    def local(self, event: Event) -> datetime:
        return (event.time + self.offset(event.host)).replace(tzinfo=None)

    def date(self, event: Event) -> str:
        d = self.local(event)
        if self.culture == "de-DE":
            return f"{d:%d.%m.%Y %H:%M:%S}"
        if self.culture == "ja-JP":
            return f"{d.year}/{d.month:02d}/{d.day:02d} {d.hour}:{d.minute:02d}:{d.second:02d}"
        hour = d.hour % 12 or 12
        return f"{d.month}/{d.day}/{d.year} {hour}:{d.minute:02d}:{d.second:02d} {d:%p}"

    def level(self, event: Event) -> str:
        return LEVELS[self.culture].get(event.level, LEVELS[self.culture][4])

    @property
    def ellipsis(self) -> str:
        return "..." if self.version == "5.1" else "…"


def _property(event: Event, name: str, sender: Sender) -> str:
    """A property as Format-List and Export-Csv print it ("" for null)."""
    values = {
        "Message": (event.message or "").replace("\n", "\r\n"),
        "Id": str(event.event_id),
        "Version": "0",
        "Qualifiers": "",
        "Level": str(event.level),
        "Task": "0",
        "Opcode": "0",
        "Keywords": "-9223372036854775808",
        "RecordId": str(event.record_id or ""),
        "ProviderName": event.provider,
        "ProviderId": PROVIDER_IDS.get(event.provider, "00000000-0000-0000-0000-000000000000"),
        "LogName": event.channel,
        "ProcessId": "2840",
        "ThreadId": "4212",
        "MachineName": event.host,
        "UserId": "S-1-5-18",
        "TimeCreated": sender.date(event),
        "ActivityId": "",
        "RelatedActivityId": "",
        "ContainerLog": event.channel,
        "MatchedQueryIds": "{}",
        "Bookmark": "System.Diagnostics.Eventing.Reader.EventBookmark",
        "LevelDisplayName": sender.level(event),
        "OpcodeDisplayName": "Info",
        "TaskDisplayName": "",
        "KeywordsDisplayNames": "{}",
        "Properties": "{System.Diagnostics.Eventing.Reader.EventProperty, "
        "System.Diagnostics.Eventing.Reader.EventProperty...}",
    }
    return values[name]


# -- Format-List ------------------------------------------------------------------------------


def wrap(text: str, room: int) -> list[str]:
    """PowerShell's word wrap of one line of a value into lines of ``room`` characters."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        while len(word) > room:  # a word longer than the line is cut at its edge
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:room])
            word = word[room:]
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= room:
            current += " " + word
        else:
            lines.append(current)
            current = word
    lines.append(current)
    return lines


def format_list(events: Sequence[Event], sender: Sender, star: bool = False) -> str:
    names = STAR_PROPERTIES if star else DEFAULT_PROPERTIES
    label_width = max(len(n) for n in names)
    indent = " " * (label_width + 3)
    room = sender.width - 1 - len(indent)
    out = [""]
    for event in events:
        out.append("")
        for name in names:
            value = _property(event, name, sender)
            first = True
            for part in value.replace("\r\n", "\n").split("\n"):
                pieces = wrap(part, room) if part else [""]
                for piece in pieces:
                    if first:
                        line = f"{name.ljust(label_width)} : {piece}"
                        out.append(line if piece else line.rstrip())
                        first = False
                    elif piece:
                        out.append(indent + piece)
                    else:
                        out.append("" if sender.version == "5.1" else indent)
    out.extend(["", "", ""])
    return "\r\n".join(out)


# -- the default table ------------------------------------------------------------------------


def format_table(events: Sequence[Event], sender: Sender) -> str:
    room = sender.width - 1 - (26 + 1 + 8 + 1 + 16 + 1)
    out: list[str] = []
    provider = None
    for event in events:
        if event.provider != provider:
            provider = event.provider
            out.extend(["", "", f"   ProviderName: {provider}", ""])
            out.append(f"{'TimeCreated':<26} {'Id':>8} {'LevelDisplayName':<16} Message")
            out.append(f"{'-----------':<26} {'--':>8} {'----------------':<16} -------")
        message = (event.message or "").split("\n")[0]
        more = "\n" in (event.message or "")
        if len(message) > room or more:
            keep = room - len(sender.ellipsis)
            message = message[:keep] + sender.ellipsis
        out.append(
            f"{sender.date(event):<26} {event.event_id:>8} {sender.level(event):<16} {message}"
        )
    out.extend(["", ""])
    return "\r\n".join(out)


# -- Export-Csv ---------------------------------------------------------------------------------


def export_csv(
    events: Sequence[Event], sender: Sender, type_line: bool = True, use_culture: bool = False
) -> str:
    separator = ";" if use_culture and sender.culture == "de-DE" else ","
    nulls = {"Qualifiers", "ActivityId", "RelatedActivityId", "TaskDisplayName"}

    def cell(value: str, name: str) -> str:
        if name in nulls and sender.version == "5.1":
            return ""
        return '"' + value.replace('"', '""') + '"'

    special = {
        "MatchedQueryIds": "System.UInt32[]",
        "KeywordsDisplayNames": "System.Collections.ObjectModel.ReadOnlyCollection`1"
        "[System.String]",
        "Properties": "System.Collections.Generic.List`1"
        "[System.Diagnostics.Eventing.Reader.EventProperty]",
    }
    out = []
    if type_line and sender.version == "5.1":
        out.append("#TYPE System.Diagnostics.Eventing.Reader.EventLogRecord")
    out.append(separator.join(f'"{n}"' for n in STAR_PROPERTIES))
    for event in events:
        row = [cell(special.get(n) or _property(event, n, sender), n) for n in STAR_PROPERTIES]
        out.append(separator.join(row))
    return "\r\n".join(out) + "\r\n"


# -- ConvertTo-Json ---------------------------------------------------------------------------


def _json_object(event: Event, sender: Sender) -> dict[str, object]:
    if sender.version == "5.1":
        ms = int((event.time - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(milliseconds=1))
        time: object = f"/Date({ms})/"
    else:
        time = iso(event, sender)
    return {
        "Message": event.message,
        "Id": event.event_id,
        "Version": 0,
        "Qualifiers": None,
        "Level": event.level,
        "Task": 0,
        "Opcode": 0,
        "Keywords": -9223372036854775808,
        "RecordId": event.record_id,
        "ProviderName": event.provider,
        "ProviderId": PROVIDER_IDS.get(event.provider, "00000000-0000-0000-0000-000000000000"),
        "LogName": event.channel,
        "ProcessId": 2840,
        "ThreadId": 4212,
        "MachineName": event.host,
        "UserId": {"BinaryLength": 12, "AccountDomainSid": None, "Value": "S-1-5-18"},
        "TimeCreated": time,
        "ActivityId": None,
        "RelatedActivityId": None,
        "ContainerLog": event.channel,
        "MatchedQueryIds": [],
        "Bookmark": {},
        "LevelDisplayName": sender.level(event),
        "OpcodeDisplayName": "Info",
        "TaskDisplayName": None,
        "KeywordsDisplayNames": [],
        "Properties": [{"Value": value} for _, value in event.fields],
    }


def iso(event: Event, sender: Sender) -> str:
    offset = sender.offset(event.host)
    local = (event.time + offset).replace(tzinfo=None)
    minutes = int(offset.total_seconds() // 60)
    zone = f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    fraction = f"{local.microsecond:06d}0".rstrip("0")
    return f"{local:%Y-%m-%dT%H:%M:%S}" + (f".{fraction}" if fraction else "") + zone


def convert_to_json(events: Sequence[Event], sender: Sender) -> str:
    objects = [_json_object(e, sender) for e in events]
    value: object = objects[0] if len(objects) == 1 else objects
    if sender.version == "5.1":
        text = json.dumps(value, indent=4, separators=(",", ":  "), ensure_ascii=False)
        text = text.replace("'", "\\u0027").replace("/Date(", "\\/Date(").replace(")/", ")\\/")
    else:
        text = json.dumps(value, indent=2, ensure_ascii=False)
    return text.replace("\n", "\r\n")


# -- Export-Clixml -----------------------------------------------------------------------------


def _clixml_string(text: str) -> str:
    escaped = escape(text)
    return escaped.replace("\r", "_x000D_").replace("\n", "_x000A_")


def export_clixml(events: Sequence[Event], sender: Sender) -> str:
    out = ['<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">']
    for ref, event in enumerate(events):
        offset = sender.offset(event.host)
        local = (event.time + offset).replace(tzinfo=None)
        minutes = int(offset.total_seconds() // 60)
        zone = f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        stamp = f"{local:%Y-%m-%dT%H:%M:%S}.{local.microsecond:06d}0{zone}"
        out.append(f'  <Obj RefId="{ref}">')
        out.append(
            f'    <TN RefId="{ref}">\n      <T>System.Diagnostics.Eventing.Reader.EventLogRecord'
            "</T>\n      <T>System.Diagnostics.Eventing.Reader.EventRecord</T>\n"
            "      <T>System.Object</T>\n    </TN>"
        )
        out.append("    <ToString>System.Diagnostics.Eventing.Reader.EventLogRecord</ToString>")
        out.append("    <Props>")
        out.append(f'      <I32 N="Id">{event.event_id}</I32>')
        out.append('      <By N="Version">0</By>')
        out.append('      <Nil N="Qualifiers" />')
        out.append(f'      <By N="Level">{event.level}</By>')
        out.append(f'      <I64 N="RecordId">{event.record_id}</I64>')
        out.append(f'      <S N="ProviderName">{_clixml_string(event.provider)}</S>')
        out.append(f'      <S N="LogName">{_clixml_string(event.channel)}</S>')
        out.append(f'      <S N="MachineName">{_clixml_string(event.host)}</S>')
        out.append('      <Obj N="UserId" RefId="900"><ToString>S-1-5-18</ToString></Obj>')
        out.append(f'      <DT N="TimeCreated">{stamp}</DT>')
        out.append(f'      <S N="LevelDisplayName">{sender.level(event)}</S>')
        out.append('      <Obj N="Properties" RefId="901">')
        out.append("        <LST>")
        for _, value in event.fields:
            out.append(
                "          <Obj><ToString>System.Diagnostics.Eventing.Reader.EventProperty"
                f'</ToString><Props><S N="Value">{_clixml_string(value)}</S></Props></Obj>'
            )
        out.append("        </LST>")
        out.append("      </Obj>")
        out.append("    </Props>")
        message = (event.message or "").replace("\n", "\r\n")
        out.append(f'    <MS>\n      <S N="Message">{_clixml_string(message)}</S>\n    </MS>')
        out.append("  </Obj>")
    out.append("</Objs>")
    return "\r\n".join(out)


# -- files --------------------------------------------------------------------------------------


def redirected(text: str, sender: Sender) -> bytes:
    """What ``> file`` writes: UTF-16LE with BOM in 5.1, UTF-8 without BOM in 7."""
    if sender.version == "5.1":
        return b"\xff\xfe" + text.encode("utf-16-le")
    return text.encode("utf-8")


def utf8_bom(text: str) -> bytes:
    """``-Encoding UTF8`` in 5.1 (Export-Csv, Out-File, Set-Content)."""
    return b"\xef\xbb\xbf" + text.encode("utf-8")
