"""Serialize events as a complete .evtx file, the way Windows lays one out.

Section numbers refer to the format reference (``shared/reference/evtx-format.md``).  Each
record is the Windows outer "Event" template (§10, layout A: System values as optional
substitutions at fixed indexes, ``Computer`` literal) whose payload is a nested BinXML value
holding a second template: ``<UserData><VmlEventLog>`` for Hyper-V providers, ``<EventData>``
for the rest.  Templates and names are defined inline on first use in each 64 KiB chunk and
referenced by offset afterwards, so every chunk stands alone (§3.1).

The output is deterministic: template GUIDs, process and thread ids derive from the input.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from migdiag.model import Event
from migdiag.synth.binxml import (
    BINXML,
    CHUNK_HEADER_SIZE,
    EOF,
    FILETIME,
    FRAGMENT_HEADER,
    GUID,
    HEXINT64,
    NULL,
    SID,
    STRING,
    UINT8,
    UINT16,
    UINT32,
    UINT64,
    ChunkEncoder,
    Element,
    Subst,
    Template,
    Text,
    make_template,
    utf16,
)

__all__ = ["write_evtx"]

FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
EVENT_NAMESPACE = "http://schemas.microsoft.com/win/2004/08/events/event"
VML_NAMESPACE = "http://www.microsoft.com/Windows/Virtualization/Events"
HYPERV_PREFIX = "Microsoft-Windows-Hyper-V-"

_KEYWORDS = 0x8000000000000000
_LOCAL_SYSTEM_SID = bytes([1, 1, 0, 0, 0, 0, 0, 5]) + struct.pack("<I", 18)  # S-1-5-18
_NO_RECORD = 0xFFFFFFFFFFFFFFFF  # an empty chunk's record ids (§3.1)
_RECORD_SIGNATURE = 0x00002A2A

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_RECORD_HEAD = struct.Struct("<IIQQ")  # signature, size, id, written FILETIME
_DESCRIPTOR = struct.Struct("<HBB")
# Values 0-13 of the outer template, in index order (NULLs take no bytes), see _event_template.
_SYSTEM_VALUES = struct.Struct("<BBHHQQIIQB")
_CHUNK_HEAD = struct.Struct("<8sQQQQIIII")
_FILE_HEAD = struct.Struct("<8sQQQIHHHH")

# Outer value count and descriptors 0-13: their sizes never change.
_SYSTEM_DESCRIPTORS = _U32.pack(18) + b"".join(
    _DESCRIPTOR.pack(size, value_type, 0)
    for size, value_type in (
        (1, UINT8),  # 0 Level
        (1, UINT8),  # 1 Opcode
        (2, UINT16),  # 2 Task
        (2, UINT16),  # 3 EventID
        (0, NULL),  # 4 EventID/@Qualifiers
        (8, HEXINT64),  # 5 Keywords
        (8, FILETIME),  # 6 TimeCreated/@SystemTime
        (0, NULL),  # 7 Correlation/@ActivityID
        (4, UINT32),  # 8 Execution/@ProcessID
        (4, UINT32),  # 9 Execution/@ThreadID
        (8, UINT64),  # 10 EventRecordID
        (1, UINT8),  # 11 Version
        (len(_LOCAL_SYSTEM_SID), SID),  # 12 Security/@UserID
        (0, NULL),  # 13 Correlation/@RelatedActivityID
    )
)
# Descriptors 14-17: provider name, provider GUID, channel, payload.
_TAIL_DESCRIPTORS = struct.Struct("<HBBHBBHBBHBB")

_EPOCH_1601 = datetime(1601, 1, 1, tzinfo=UTC)
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def write_evtx(events: Sequence[Event], provider_guids: Mapping[str, str]) -> bytes:
    """Serialize events, in the given order, as a complete .evtx file."""
    return _FileWriter(provider_guids).write(events)


@dataclass(frozen=True, slots=True)
class _Provider:
    name: bytes  # UTF-16LE
    guid: bytes  # bytes_le; empty when the GUID is unknown
    user_data: bool
    process_id: int
    thread_id: int


def _opt(index: int, value_type: int) -> Subst:
    return Subst(index, value_type, optional=True)


def _event_template(host: str, with_guid: bool, user_data: bool) -> Template:
    """Windows' outer template, layout A of §10."""
    provider: tuple[tuple[str, Text | Subst], ...] = (("Name", _opt(14, STRING)),)
    if with_guid:
        provider += (("Guid", _opt(15, GUID)),)
    system = Element(
        "System",
        children=(
            Element("Provider", provider),
            Element("EventID", (("Qualifiers", _opt(4, UINT16)),), (_opt(3, UINT16),)),
            Element("Version", children=(_opt(11, UINT8),)),
            Element("Level", children=(_opt(0, UINT8),)),
            Element("Task", children=(_opt(2, UINT16),)),
            Element("Opcode", children=(_opt(1, UINT8),)),
            Element("Keywords", children=(_opt(5, HEXINT64),)),
            Element("TimeCreated", (("SystemTime", _opt(6, FILETIME)),)),
            Element("EventRecordID", children=(_opt(10, UINT64),)),
            Element(
                "Correlation",
                (("ActivityID", _opt(7, GUID)), ("RelatedActivityID", _opt(13, GUID))),
            ),
            Element("Execution", (("ProcessID", _opt(8, UINT32)), ("ThreadID", _opt(9, UINT32)))),
            Element("Channel", children=(_opt(16, STRING),)),
            # Windows writes the computer name into the template, not into the values.
            Element("Computer", children=(Text(host),)),
            Element("Security", (("UserID", _opt(12, SID)),)),
        ),
    )
    # EventData templates carry their own <EventData> root; UserData is wrapped here (§9.2).
    payload: Element | Subst = _opt(17, BINXML)
    if user_data:
        payload = Element("UserData", children=(payload,))
    root = Element("Event", (("xmlns", Text(EVENT_NAMESPACE)),), (system, payload))
    return make_template(f"Event\0{host}\0{with_guid:d}{user_data:d}", root)


def _payload_template(names: tuple[str, ...], user_data: bool) -> Template:
    """The inner template of one payload shape: one normal String substitution per field."""
    if user_data:
        for name in names:
            if not _is_xml_name(name):
                raise ValueError(f"UserData field name {name!r} is not an XML element name")
        children = tuple(
            Element(name, children=(Subst(i, STRING),)) for i, name in enumerate(names)
        )
        root = Element("VmlEventLog", (("xmlns", Text(VML_NAMESPACE)),), children)
        kind = "UserData"
    else:
        children = tuple(
            Element("Data", (("Name", Text(name)),) if name else (), (Subst(i, STRING),))
            for i, name in enumerate(names)
        )
        root = Element("EventData", children=children)
        kind = "EventData"
    return make_template("\0".join((kind, *names)), root)


def _is_xml_name(name: str) -> bool:
    # python-evtx rejects element names that do not start with a letter or "_" (§11.2); a
    # colon would make a prefix no reader can resolve.
    return _XML_NAME.fullmatch(name) is not None


def _filetime(time: datetime) -> int:
    if time.tzinfo is None:
        raise ValueError(f"event time {time} has no time zone")
    delta = time - _EPOCH_1601
    ticks = (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10
    if ticks < 0:
        raise ValueError(f"event time {time} is before 1601")
    return ticks


class _FileWriter:
    """Fills chunks one record at a time and assembles the file."""

    def __init__(self, provider_guids: Mapping[str, str]) -> None:
        self._provider_guids = provider_guids
        self._providers: dict[str, _Provider] = {}
        self._channels: dict[str, bytes] = {}
        self._event_templates: dict[tuple[str, bool, bool], Template] = {}
        self._payload_templates: dict[tuple[tuple[str, ...], bool], Template] = {}
        self._chunks: list[bytes] = []
        self._records_before = 0  # records in finished chunks
        self._new_chunk()

    def _new_chunk(self) -> None:
        self._enc = ChunkEncoder()
        self._ids: set[int] = set()
        self._first_id = self._last_id = _NO_RECORD
        self._last_offset = 0

    def write(self, events: Sequence[Event]) -> bytes:
        last_id = 0
        highest = 0
        for event in events:
            record_id = last_id + 1 if event.record_id is None else event.record_id
            if not 0 <= record_id < _NO_RECORD:
                raise ValueError(f"record id {record_id} is out of range")
            # The evtx crate ends a chunk at the first record carrying the chunk's last id
            # (§8), so a repeated id would hide the records after its first copy.
            if record_id in self._ids:
                self._finish_chunk()
            self._append(event, record_id)
            last_id = record_id
            highest = max(highest, record_id)
        if self._ids or not self._chunks:
            self._finish_chunk()
        return self._file_header(highest + 1) + b"".join(self._chunks)

    def _append(self, event: Event, record_id: int) -> None:
        enc = self._enc
        mark = enc.mark()
        self._encode(event, record_id)
        if len(enc.buf) > CHUNK_SIZE:
            enc.rollback(mark)
            if not self._ids:
                raise ValueError(f"record {record_id} does not fit in a chunk")
            self._finish_chunk()
            enc = self._enc
            mark = enc.mark()
            self._encode(event, record_id)
            if len(enc.buf) > CHUNK_SIZE:
                raise ValueError(f"record {record_id} does not fit in a chunk")
        if not self._ids:
            self._first_id = record_id
        self._ids.add(record_id)
        self._last_id = record_id
        self._last_offset = mark

    def _encode(self, event: Event, record_id: int) -> None:
        """One event record (§4) at the end of the current chunk."""
        if not 0 <= event.event_id <= 0xFFFF:
            raise ValueError(f"event id {event.event_id} does not fit in 16 bits")
        if not 0 <= event.level <= 0xFF:
            raise ValueError(f"level {event.level} does not fit in 8 bits")
        provider = self._provider(event.provider)
        channel = self._channel(event.channel)
        filetime = _filetime(event.time)
        names = tuple(name for name, _ in event.fields)
        values = [utf16(value, f"value of {name!r}") for name, value in event.fields]

        enc = self._enc
        buf = enc.buf
        start = len(buf)
        buf += _RECORD_HEAD.pack(_RECORD_SIGNATURE, 0, record_id, filetime)
        buf += FRAGMENT_HEADER
        enc.template_instance(self._event_template(event.host, provider))
        buf += _SYSTEM_DESCRIPTORS
        guid_type = GUID if provider.guid else NULL
        buf += _TAIL_DESCRIPTORS.pack(
            len(provider.name), STRING, 0, len(provider.guid), guid_type, 0,
            len(channel), STRING, 0, 0, BINXML, 0,
        )  # fmt: skip
        payload_size_at = len(buf) - 4
        buf += _SYSTEM_VALUES.pack(
            event.level, 0, 0, event.event_id, _KEYWORDS, filetime,
            provider.process_id if event.process_id is None else event.process_id,
            provider.thread_id if event.thread_id is None else event.thread_id,
            record_id, 0,
        )  # fmt: skip
        buf += _LOCAL_SYSTEM_SID
        buf += provider.name
        buf += provider.guid
        buf += channel

        payload_at = len(buf)
        buf += FRAGMENT_HEADER
        enc.template_instance(self._payload_template(names, provider.user_data))
        buf += _U32.pack(len(values))
        for value in values:
            buf += _DESCRIPTOR.pack(len(value), STRING, 0)
        for value in values:
            buf += value
        buf.append(EOF)
        payload_size = len(buf) - payload_at
        if payload_size > 0xFFFF:
            raise ValueError(f"record {record_id}: payload of {payload_size} bytes is too large")
        _U16.pack_into(buf, payload_size_at, payload_size)
        buf.append(EOF)

        buf += bytes(-(len(buf) - start + 4) % 8)
        size = len(buf) - start + 4
        buf += _U32.pack(size)
        _U32.pack_into(buf, start + 4, size)

    def _provider(self, name: str) -> _Provider:
        provider = self._providers.get(name)
        if provider is None:
            guid_text = self._provider_guids.get(name)
            guid = UUID(guid_text).bytes_le if guid_text else b""
            # Stable, plausible ids: Windows process and thread ids are multiples of 4.
            seed = zlib.crc32(name.encode("utf-8"))
            process_id = 4 * (1 + seed % 4096)
            thread_id = 4 * (4097 + (seed >> 12) % 4096)
            provider = _Provider(
                utf16(name, "provider name"),
                guid,
                name.startswith(HYPERV_PREFIX),
                process_id,
                thread_id,
            )
            self._providers[name] = provider
        return provider

    def _channel(self, name: str) -> bytes:
        channel = self._channels.get(name)
        if channel is None:
            channel = self._channels[name] = utf16(name, "channel")
        return channel

    def _event_template(self, host: str, provider: _Provider) -> Template:
        key = (host, bool(provider.guid), provider.user_data)
        found = self._event_templates.get(key)
        if found is None:
            found = self._event_templates[key] = _event_template(*key)
        return found

    def _payload_template(self, names: tuple[str, ...], user_data: bool) -> Template:
        key = (names, user_data)
        found = self._payload_templates.get(key)
        if found is None:
            found = self._payload_templates[key] = _payload_template(names, user_data)
        return found

    def _finish_chunk(self) -> None:
        """Close the current chunk: header fields, tables, both CRCs (§3, order per §3.2)."""
        enc = self._enc
        buf = enc.buf
        count = len(self._ids)
        free = len(buf)
        buf[128:CHUNK_HEADER_SIZE] = enc.tables()
        data_crc = zlib.crc32(buf[CHUNK_HEADER_SIZE:free])
        buf += bytes(CHUNK_SIZE - free)
        if count == 0:
            first_number, last_number = 1, _NO_RECORD
        elif self._last_id - self._first_id + 1 == count:
            first_number, last_number = self._first_id, self._last_id
        else:
            # Ids out of sequence: number by position so that the span equals the count,
            # which libevtx checks (§8).
            first_number = self._records_before + 1
            last_number = self._records_before + count
        _CHUNK_HEAD.pack_into(
            buf, 0, b"ElfChnk\0", first_number, last_number, self._first_id, self._last_id,
            128, self._last_offset, free, data_crc,
        )  # fmt: skip
        _U32.pack_into(buf, 120, 1)  # flags: what Windows writes
        _U32.pack_into(buf, 124, zlib.crc32(buf[128:CHUNK_HEADER_SIZE], zlib.crc32(buf[:120])))
        self._chunks.append(bytes(buf))
        self._records_before += count
        self._new_chunk()

    def _file_header(self, next_id: int) -> bytes:
        count = len(self._chunks)
        if count > 0xFFFF:
            raise ValueError(f"{count} chunks do not fit in a version 3.1 file header")
        header = bytearray(FILE_HEADER_SIZE)
        _FILE_HEAD.pack_into(
            header, 0, b"ElfFile\0", 0, count - 1, next_id, 128, 1, 3, FILE_HEADER_SIZE, count
        )
        _U32.pack_into(header, 124, zlib.crc32(header[:120]))
        return bytes(header)
