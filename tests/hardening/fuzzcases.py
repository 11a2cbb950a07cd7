"""Fuzz cases for every input format, shared by the CI tests and ``benchmarks/fuzz.py``.

A case is a seed: ``make_case(seed)`` picks a base input (EVTX written by ``migdiag synth``,
the Event Viewer exports of ``tests/readers/data``, zips of them) and damages it the way mail
gateways, live copies and attackers do.  Seeds, not bytes, travel to the worker processes,
so a failing case is reproduced from its number alone (``python benchmarks/fuzz.py --replay
SEED``) and the parent can save its bytes even when the worker had to be killed.

``run_case(seed)`` is what a worker runs: the whole pipeline (``migdiag.api.analyze`` on the
case written to a file, then the JSON renderer, and every renderer on a sample of cases).
It returns a ``CaseResult`` and never raises: an exception anywhere is a finding, recorded
with its traceback, and so is a file the pipeline could only explain as "unexpected reader
failure" (a reader bug that ``read_source`` swallowed).
"""

from __future__ import annotations

import functools
import io
import os
import random
import struct
import tempfile
import time
import traceback
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from migdiag.catalog import default_catalog
from migdiag.model import Event, Origin
from migdiag.synth.evtx_writer import write_evtx
from migdiag.synth.scenario import expand, load_scenario

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "readers" / "data"
SAMPLES = ROOT / "sample_logs"

HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
CHUNK_MAGIC = b"ElfChnk\x00"
RECORD_MAGIC = b"\x2a\x2a\x00\x00"
UNEXPECTED = "unexpected reader failure"  # how read_source reports a reader's exception

# -- base inputs ----------------------------------------------------------------------------


def _noise(start: datetime, count: int) -> list[Event]:
    """System-log chatter no signature uses: fills a chunk the EVTX reader may skip."""
    origin = Origin(path="fuzz", format="synth")
    return [
        Event(
            time=start + timedelta(seconds=7 * i),
            host="HV01.corp.example",
            channel="System",
            provider="Service Control Manager",
            event_id=7036,
            level=4,
            record_id=None,
            fields=(("param1", f"Windows Update {i}"), ("param2", "running")),
            message=None,
            origin=origin,
        )
        for i in range(count)
    ]


def _multi_chunk_evtx() -> bytes:
    """A VMMS-Admin log of several chunks: a drain repeated hourly, with a chunk of noise."""
    catalog = default_catalog()
    scenario = load_scenario(SAMPLES / "healthy-drain" / "scenario.yaml")
    drain = [e for e in expand(scenario, catalog) if e.host.startswith("HV01")]
    events: list[Event] = []
    for hour in range(6):
        shift = timedelta(hours=hour)
        events.extend(replace(e, time=e.time + shift, record_id=None) for e in drain)
        if hour == 2:
            events.extend(_noise(drain[0].time + shift, 400))
    numbered = [replace(e, record_id=i) for i, e in enumerate(events, 1)]
    return write_evtx(numbered, catalog.provider_guids)


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _utf16(data: bytes) -> bytes:
    # PowerShell's ">" writes UTF-16LE with a BOM: the same exports in that encoding.
    return b"\xff\xfe" + data.decode("utf-8").encode("utf-16-le")


@functools.cache
def bases() -> dict[str, tuple[str, bytes]]:
    """name -> (kind, bytes) of every undamaged input the fuzzer starts from."""
    seed_evtx = SAMPLES / "seed-mtu-reset" / "SRV1" / "Microsoft-Windows-Hyper-V-VMMS-Admin.evtx"
    ha_evtx = (
        SAMPLES
        / "seed-mtu-reset"
        / "SRV2"
        / "Microsoft-Windows-Hyper-V-High-Availability-Admin.evtx"
    )
    out: dict[str, tuple[str, bytes]] = {
        "seed.evtx": ("evtx", seed_evtx.read_bytes()),
        "ha.evtx": ("evtx", ha_evtx.read_bytes()),
        "drain.evtx": ("evtx", _multi_chunk_evtx()),
    }
    texts = {
        "eventviewer_export.xml": "xml",
        "wevtutil_qe.xml": "xml",
        "seed_vmms_copy_as_text.txt": "text",
        "copy_as_text_21024_de.txt": "text",
        "copy_as_text_fr_unknown_labels.txt": "text",
        "wevtutil_qe.txt": "wevtutil-text",
        "eventviewer_export.csv": "csv",
        # What PowerShell prints (tests/readers/make_powershell_fixtures.py).
        "powershell/SRV1_format_list_star_ps51_de.txt": "powershell-list",
        "powershell/HV02_get_eventlog_list_ps51_de.txt": "powershell-list",
        "powershell/SRV1_table_ps7_de.txt": "powershell-table",
        "powershell/export_csv_ps51_de_useculture.csv": "powershell-csv",
        "powershell/convertto_json_ps51.json": "powershell-json",
        "powershell/export_clixml.xml": "powershell-clixml",
    }
    for name, kind in texts.items():
        data = (DATA / name).read_bytes()
        out[name] = (kind, data)
    out["utf16.xml"] = ("xml", _utf16(out["eventviewer_export.xml"][1]))
    out["utf16.txt"] = ("text", _utf16(out["seed_vmms_copy_as_text.txt"][1]))
    out["utf16.csv"] = ("csv", _utf16(out["eventviewer_export.csv"][1]))
    out["bundle.zip"] = (
        "zip",
        _zip(
            {
                "SRV1/VMMS-Admin.evtx": out["seed.evtx"][1],
                "SRV1/export.xml": out["eventviewer_export.xml"][1],
                "SRV2/copy.txt": out["seed_vmms_copy_as_text.txt"][1],
                "SRV2/export.csv": out["eventviewer_export.csv"][1],
            }
        ),
    )
    out["stored.zip"] = (
        "zip",
        _zip({"a.evtx": out["ha.evtx"][1], "b.txt": out["wevtutil_qe.txt"][1]}, zipfile.ZIP_STORED),
    )
    out["nested.zip"] = (
        "zip",
        _zip(
            {"inner.zip": _zip({"x.xml": out["wevtutil_qe.xml"][1]}), "y.evtx": out["seed.evtx"][1]}
        ),
    )
    return out


# -- EVTX layout: where the structures a mutation aims at live ------------------------------


@dataclass(frozen=True, slots=True)
class SubstArray:
    count_at: int  # file offset of the u32 value count
    count: int
    descriptors_at: int  # first (size u16, type u8, pad u8) descriptor
    values: tuple[tuple[int, int, int], ...]  # (file offset, size, type) of each value


@dataclass(frozen=True, slots=True)
class Layout:
    chunks: tuple[int, ...]  # file offsets of chunk headers
    records: tuple[tuple[int, int], ...]  # (file offset, size)
    instances: tuple[int, ...]  # template-instance tokens
    definitions: tuple[tuple[int, int], ...]  # (file offset of the definition, data size)
    arrays: tuple[SubstArray, ...]


def _u16(data: bytes | bytearray, at: int) -> int:
    return int.from_bytes(data[at : at + 2], "little") if at + 2 <= len(data) else 0


def _u32(data: bytes | bytearray, at: int) -> int:
    return int.from_bytes(data[at : at + 4], "little") if at + 4 <= len(data) else 0


def _binxml(
    data: bytes,
    chunk: int,
    at: int,
    end: int,
    out: dict[str, list[Any]],
    depth: int = 0,
) -> None:
    """A fragment header and template instance at ``at``: note them and their values."""
    if depth > 3 or at + 14 > end or data[at] != 0x0F or data[at + 4] != 0x0C:
        return
    instance = at + 4
    out["instances"].append(instance)
    definition = chunk + _u32(data, instance + 6)
    array = instance + 10
    if definition == array:  # defined inline on first use
        size = _u32(data, definition + 20)
        out["definitions"].append((definition, size))
        array = definition + 24 + size
    count = _u32(data, array)
    if count > 1000 or array + 4 + 4 * count > end:
        return
    values = []
    position = array + 4 + 4 * count
    for i in range(count):
        size = _u16(data, array + 4 + 4 * i)
        kind = data[array + 6 + 4 * i]
        values.append((position, size, kind))
        if kind == 0x21:
            _binxml(data, chunk, position, min(end, position + size), out, depth + 1)
        position += size
    out["arrays"].append(SubstArray(array, count, array + 4, tuple(values)))


def evtx_layout(data: bytes) -> Layout:
    """The chunks, records, templates and substitution arrays of an undamaged file."""
    out: dict[str, list[Any]] = {"instances": [], "definitions": [], "arrays": []}
    chunks = []
    records = []
    for chunk in range(HEADER_SIZE, len(data) - CHUNK_HEADER_SIZE, CHUNK_SIZE):
        if data[chunk : chunk + 8] != CHUNK_MAGIC:
            continue
        chunks.append(chunk)
        end = chunk + min(_u32(data, chunk + 48), CHUNK_SIZE)
        position = chunk + CHUNK_HEADER_SIZE
        while position + 28 <= end and data[position : position + 4] == RECORD_MAGIC:
            size = _u32(data, position + 4)
            if size < 28 or position + size > end:
                break
            records.append((position, size))
            _binxml(data, chunk, position + 24, position + size - 4, out)
            position += size
    return Layout(
        tuple(chunks),
        tuple(records),
        tuple(out["instances"]),
        tuple(out["definitions"]),
        tuple(out["arrays"]),
    )


@functools.cache
def layout_of(name: str) -> Layout:
    return evtx_layout(bases()[name][1])


def reseal(buf: bytearray) -> None:
    """Recompute every CRC, so damage gets past the checksums into the BinXML parsers."""
    if len(buf) >= 128:
        struct.pack_into("<I", buf, 124, zlib.crc32(bytes(buf[:120])))
    for chunk in range(HEADER_SIZE, len(buf) - CHUNK_HEADER_SIZE + 1, CHUNK_SIZE):
        if buf[chunk : chunk + 8] != CHUNK_MAGIC:
            continue
        free = min(_u32(buf, chunk + 48), CHUNK_SIZE)
        if free >= CHUNK_HEADER_SIZE and chunk + free <= len(buf):
            struct.pack_into(
                "<I", buf, chunk + 52, zlib.crc32(bytes(buf[chunk + 512 : chunk + free]))
            )
        header = bytes(buf[chunk : chunk + 120]) + bytes(buf[chunk + 128 : chunk + 512])
        struct.pack_into("<I", buf, chunk + 124, zlib.crc32(header))


# Field (offset, width) tables: the numbers a damaged or crafted file lies about.
FILE_FIELDS = ((8, 8), (16, 8), (24, 8), (32, 4), (36, 2), (38, 2), (40, 2), (42, 2), (120, 4))
CHUNK_FIELDS = (
    (0, 8), (8, 8), (16, 8), (24, 8), (32, 8), (40, 4), (44, 4), (48, 4), (52, 4), (124, 4),
)  # fmt: skip
RECORD_FIELDS = ((0, 4), (4, 4), (8, 8), (16, 8))


def interesting(width: int, rng: random.Random, context: int = 0) -> int:
    """A value a parser may trip on: 0, 1, the maximum, near a boundary, near the real one."""
    top = (1 << (8 * width)) - 1
    choices = [
        0,
        1,
        top,
        top >> 1,
        (top >> 1) + 1,
        CHUNK_SIZE,
        CHUNK_SIZE - 1,
        CHUNK_SIZE + 1,
        CHUNK_HEADER_SIZE,
        HEADER_SIZE,
        max(0, context - 1),
        context + 1,
        context + 8,
        max(0, context - 8),
        context * 2,
        rng.getrandbits(8 * width),
    ]
    return rng.choice(choices) & top


def put(buf: bytearray, at: int, width: int, value: int) -> None:
    if at >= 0 and at + width <= len(buf):
        buf[at : at + width] = value.to_bytes(width, "little")


BAD_UTF16 = (b"\x00\xd8", b"\xff\xdf", b"\x00\xdc\x00\xd8", b"\x00", b"\x00\x00", b"\xff\xfe")


TARGETS = ("file", "chunk", "tables", "record", "instance", "definition", "array", "utf16")
TOKENS = (0x00, 0x01, 0x02, 0x04, 0x05, 0x0C, 0x0D, 0x0E, 0x41, 0xFF)
VALUE_TYPES = (0x00, 0x01, 0x02, 0x04, 0x08, 0x0F, 0x11, 0x13, 0x21, 0x81, 0xFF)


@dataclass(frozen=True, slots=True)
class Op:
    """One lie told by a crafted or damaged file: ``target`` names the structure, ``which``
    picks the instance and field, ``value`` is what is written (masked to the field)."""

    target: str
    which: int
    value: int


def apply_op(buf: bytearray, lay: Layout, op: Op) -> str:
    """Write ``op`` into ``buf``; say what was changed."""
    which, value = op.which, op.value

    def pick(items: Sequence[Any]) -> Any:
        return items[which % len(items)]

    if op.target == "file":
        at, width = pick(FILE_FIELDS)
        put(buf, at, width, value & ((1 << 8 * width) - 1))
        return f"file header +{at}"
    if op.target == "chunk" and lay.chunks:
        chunk = pick(lay.chunks)
        at, width = CHUNK_FIELDS[(which // len(lay.chunks)) % len(CHUNK_FIELDS)]
        put(buf, chunk + at, width, value & ((1 << 8 * width) - 1))
        return f"chunk@{chunk} +{at}"
    if op.target == "tables" and lay.chunks:
        # String (64) and template (32) hash-table heads: chunk offsets of linked lists.
        chunk = pick(lay.chunks)
        at = 128 + 4 * ((which // len(lay.chunks)) % 96)
        put(buf, chunk + at, 4, value & 0xFFFFFFFF)
        return f"chunk@{chunk} table +{at}"
    if op.target == "record" and lay.records:
        start, size = pick(lay.records)
        field_index = (which // len(lay.records)) % (len(RECORD_FIELDS) + 1)
        if field_index == len(RECORD_FIELDS):
            put(buf, start + size - 4, 4, value & 0xFFFFFFFF)
            return f"record@{start} trailing size"
        at, width = RECORD_FIELDS[field_index]
        put(buf, start + at, width, value & ((1 << 8 * width) - 1))
        return f"record@{start} +{at}"
    if op.target == "instance" and lay.instances:
        at = pick(lay.instances)
        offset, width = ((0, 1), (1, 1), (2, 4), (6, 4))[(which // len(lay.instances)) % 4]
        put(buf, at + offset, width, value & ((1 << 8 * width) - 1))
        return f"template instance@{at} +{offset}"
    if op.target == "definition" and lay.definitions:
        at, size = pick(lay.definitions)
        choice = (which // len(lay.definitions)) % 3
        if choice == 0:
            put(buf, at + 20, 4, value & 0xFFFFFFFF)  # data size
        elif choice == 1:
            put(buf, at, 4, value & 0xFFFFFFFF)  # next definition in the bucket
        else:
            # A token (or a name offset's byte) inside the template body.
            put(buf, at + 24 + value % max(1, size), 1, TOKENS[(value >> 16) % len(TOKENS)])
        return f"template definition@{at} ({choice})"
    if op.target == "array" and lay.arrays:
        array = pick(lay.arrays)
        sub = which // len(lay.arrays)
        if not array.count or sub % 4 == 0:
            put(buf, array.count_at, 4, value & 0xFFFFFFFF)
            return f"substitution count@{array.count_at}"
        i = (sub // 4) % array.count
        at = array.descriptors_at + 4 * i
        if sub % 2:
            put(buf, at, 2, value & 0xFFFF)
            return f"substitution {i} size@{at}"
        put(buf, at + 2, 1, VALUE_TYPES[value % len(VALUE_TYPES)])
        return f"substitution {i} type@{at}"
    if op.target == "utf16" and lay.arrays:
        strings = [v for a in lay.arrays for v in a.values if v[2] == 0x01 and v[1] >= 2]
        if strings:
            at, size, _ = pick(strings)
            bad = BAD_UTF16[value % len(BAD_UTF16)]
            pos = at + 2 * ((value >> 8) % max(1, size // 2))
            room = max(0, min(len(bad), at + size - pos))
            buf[pos : pos + room] = bad[:room]
            return f"bad UTF-16 in value@{at}"
    return "nothing (no such structure)"


def apply_ops(data: bytes, lay: Layout, ops: Sequence[Op], seal: bool) -> tuple[bytes, str]:
    buf = bytearray(data)
    what = [apply_op(buf, lay, op) for op in ops]
    if seal:
        reseal(buf)
        what.append("CRCs resealed")
    return bytes(buf), "; ".join(what)


def random_ops(lay: Layout, rng: random.Random) -> list[Op]:
    ops = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        target = rng.choice(TARGETS)
        # A value near the field's real one is the likeliest to slip past sanity checks.
        ops.append(Op(target, rng.getrandbits(32), interesting(8, rng, rng.getrandbits(16))))
    return ops


def evtx_structural(data: bytes, lay: Layout, rng: random.Random) -> tuple[bytes, str]:
    """One or a few targeted lies in the EVTX structures, CRCs resealed half the time."""
    return apply_ops(data, lay, random_ops(lay, rng), rng.random() < 0.5)


def evtx_boundaries(data: bytes, lay: Layout) -> list[int]:
    """Every offset where a cut means something: headers, chunks, records, and either side."""
    points = {0, 8, 128, HEADER_SIZE - 1, HEADER_SIZE, len(data) - 1}
    for chunk in lay.chunks:
        points.update((chunk, chunk + 8, chunk + 128, chunk + CHUNK_HEADER_SIZE))
    for start, size in lay.records:
        points.update((start, start + 4, start + 24, start + size - 4, start + size))
    for at, _ in lay.definitions:
        points.add(at + 24)
    for array in lay.arrays:
        points.update((array.count_at, array.descriptors_at))
    return sorted(p for p in points if 0 <= p < len(data))


# -- generic byte mutations -----------------------------------------------------------------

HOSTILE_SNIPPETS = (
    b"\x00",
    b"\x1b[2J\x1b[31m",
    b"\x1b]0;pwned\x07",
    b"\x9b31m",
    b"\xe2\x80\xae",  # RIGHT-TO-LEFT OVERRIDE in UTF-8
    b"\xed\xa0\x80",  # a UTF-16 surrogate encoded in UTF-8 (invalid)
    b"\xff\xfe",
    b"\xc3",
    b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>",
    b"&e;",
    b"<![CDATA[",
    b"<Event>" * 8,
    b"</Event>",
    b"<Data Name='VmName'>",
    b"\r\n\r\n",
    b"\n",
    b'"',
    b",,,,,,",
    b"=cmd|' /C calc'!A0",
    b"Event[0]:\n",
    b"Log Name: System\nSource: x\nDate: 9999-12-31T23:59:59\nEvent ID: 1\n",
    b"Date: 0001-01-01 00:00:00\n",
    b"SystemTime='9999-12-31T23:59:59.9999999-14:00'",
    b"SystemTime='0001-01-01T00:00:00+14:00'",
    b"<EventID>99999999999999999999999</EventID>",
    b"<EventID>\xc2\xb2</EventID>",
    b"Event ID: \xc2\xb2\n",
    b"<script>alert(1)</script>",
    b"9" * 5000,
)


def byte_mutation(data: bytes, rng: random.Random, other: bytes) -> tuple[bytes, str]:
    """Blind damage: flips, overwrites, cuts, deletions, duplications, splices, inserts."""
    buf = bytearray(data)
    what = []
    for _ in range(rng.choice((1, 1, 2, 3, 5))):
        n = len(buf)
        op = rng.randrange(9)
        pos = rng.randrange(n + 1) if n else 0
        if op == 0 and n:
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(n)
                buf[i] ^= 1 << rng.randrange(8)
            what.append("bit flips")
        elif op == 1 and n:
            for _ in range(rng.randint(1, 4)):
                buf[rng.randrange(n)] = rng.choice((0x00, 0xFF, 0x7F, 0x80, 0x3C, 0x0A, 0x22))
            what.append("byte sets")
        elif op == 2:
            del buf[pos:]
            what.append(f"cut at {pos}")
        elif op == 3 and n:
            length = rng.randint(1, max(1, n // 8))
            del buf[pos : pos + length]
            what.append(f"deleted {length} at {pos}")
        elif op == 4 and n:
            length = rng.randint(1, max(1, min(4096, n - pos)))
            buf[pos:pos] = buf[pos : pos + length] * rng.choice((1, 2, 10))
            what.append(f"duplicated at {pos}")
        elif op == 5:
            snippet = rng.choice(HOSTILE_SNIPPETS)
            buf[pos:pos] = snippet
            what.append(f"inserted {snippet[:12]!r} at {pos}")
        elif op == 6 and other:
            cut = rng.randrange(len(other))
            buf[pos:] = other[cut:]
            what.append(f"spliced at {pos}")
        elif op == 7:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 64))
            what.append(f"random bytes at {pos}")
        else:
            # Chunk-sized holes: the zeros a preallocated or half-copied file ends with.
            length = rng.choice((512, 4096, CHUNK_SIZE))
            buf[pos : pos + length] = bytes(min(length, max(0, n - pos)))
            what.append(f"zeroed {length} at {pos}")
    return bytes(buf), "; ".join(what) or "unchanged"


def line_cut(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A text export cut at a line boundary, as a mail gateway truncates an attachment."""
    ends = [i + 1 for i, b in enumerate(data) if b == 0x0A] or [len(data)]
    at = rng.choice(ends)
    return data[:at], f"cut after line ending at {at}"


def zip_mutation(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Damage aimed at the archive: headers, sizes, CRCs, names, compressed streams."""
    buf = bytearray(data)
    signatures = {b"PK\x03\x04": "local", b"PK\x01\x02": "central", b"PK\x05\x06": "end"}
    found = []
    for sig, label in signatures.items():
        start = 0
        while (at := buf.find(sig, start)) >= 0:
            found.append((label, at))
            start = at + 1
    if not found or rng.random() < 0.3:
        return byte_mutation(data, rng, b"")
    label, at = rng.choice(found)
    fields = {
        "local": ((6, 2), (8, 2), (14, 4), (18, 4), (22, 4), (26, 2), (28, 2)),
        "central": ((8, 2), (10, 2), (16, 4), (20, 4), (24, 4), (28, 2), (30, 2), (38, 4), (42, 4)),
        "end": ((8, 2), (10, 2), (12, 4), (16, 4), (20, 2)),
    }[label]
    offset, width = rng.choice(fields)
    if rng.random() < 0.25 and label == "local":
        # Inside the compressed stream: a damaged deflate block.
        name_len = _u16(buf, at + 26) + _u16(buf, at + 28)
        pos = at + 30 + name_len + rng.randrange(64)
        if pos < len(buf):
            buf[pos] ^= 0xFF
        return bytes(buf), f"compressed data of the member at {at}"
    put(buf, at + offset, width, interesting(width, rng, _u32(buf, at + offset)))
    return bytes(buf), f"{label} header@{at} +{offset}"


# -- cases ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    seed: int
    base: str
    kind: str
    how: str  # what was done to the base, for the report
    data: bytes

    @property
    def suffix(self) -> str:
        return Path(self.base).suffix


def make_case(seed: int) -> Case:
    """The case for ``seed``: deterministic across runs and processes."""
    rng = random.Random(seed)
    names = sorted(bases())
    # EVTX is the format most likely to hang a parser: it gets about half the cases.
    evtx = [n for n in names if bases()[n][0] == "evtx"]
    name = rng.choice(evtx) if rng.random() < 0.5 else rng.choice(names)
    kind, data = bases()[name]
    roll = rng.random()
    if kind == "evtx" and roll < 0.55:
        mutated, how = evtx_structural(data, layout_of(name), rng)
    elif kind == "evtx" and roll < 0.65:
        at = rng.choice(evtx_boundaries(data, layout_of(name)))
        mutated, how = data[:at], f"cut at boundary {at}"
    elif kind == "zip" and roll < 0.6:
        mutated, how = zip_mutation(data, rng)
    elif kind not in ("evtx", "zip") and roll < 0.15:
        mutated, how = line_cut(data, rng)
    else:
        other = bases()[rng.choice(names)][1]
        mutated, how = byte_mutation(data, rng, other)
    return Case(seed, name, kind, how, mutated)


@dataclass(frozen=True, slots=True)
class CaseResult:
    seed: int
    base: str
    how: str
    outcome: str  # "read", "refused" (the file's error says why), "bug"
    detail: str = ""
    records: int = 0
    events: int = 0
    seconds: float = 0.0
    errors: tuple[str, ...] = field(default_factory=tuple)


WORKDIR_ENV = "MIGDIAG_FUZZ_DIR"  # the parent's scratch folder, inherited by the workers


def _workdir() -> Path:
    # One folder per worker process under the parent's scratch folder, which the parent
    # removes: a worker killed for a hang cannot clean up after itself.
    root = Path(os.environ.get(WORKDIR_ENV) or tempfile.gettempdir())
    folder = root / f"worker-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@functools.cache
def _library() -> Any:
    from migdiag.diagnose import load_library

    return load_library(())


def run_bytes(
    data: bytes, suffix: str, *, render_all: bool = False, name: str = "case"
) -> tuple[str, str, int, int, tuple[str, ...]]:
    """(outcome, detail, records, events, file errors) of the pipeline on one input."""
    from migdiag.api import Options, analyze
    from migdiag.report import RENDERERS, RenderOptions

    path = _workdir() / f"{name}{suffix}"
    path.write_bytes(data)
    try:
        analysis = analyze([str(path)], Options(jobs=1), library=_library())
        options = RenderOptions(width=100, color=False, now=datetime(2024, 1, 1, tzinfo=UTC))
        for fmt in RENDERERS if render_all else ("json",):
            RENDERERS[fmt](analysis, options)
    except Exception:
        return "bug", traceback.format_exc(limit=12), 0, 0, ()
    finally:
        path.unlink(missing_ok=True)
    errors = tuple(r.error for r in analysis.inputs if r.error)
    records = sum(r.records for r in analysis.inputs)
    events = sum(r.relevant for r in analysis.inputs)
    if not analysis.inputs:
        return "bug", "no InputReport for the input: its fate is not reported", 0, 0, ()
    bugs = [e for e in errors if e.startswith(UNEXPECTED)]
    if bugs:
        return "bug", bugs[0], records, events, errors
    return ("refused" if errors else "read"), "", records, events, errors


def run_case(seed: int) -> CaseResult:
    """The worker's function: never raises, every surprise is in the result."""
    started = time.monotonic()
    try:
        case = make_case(seed)
    except Exception:
        return CaseResult(seed, "?", "?", "bug", "case generation: " + traceback.format_exc())
    outcome, detail, records, events, errors = run_bytes(
        case.data, case.suffix, render_all=seed % 16 == 0
    )
    return CaseResult(
        seed,
        case.base,
        case.how,
        outcome,
        detail,
        records,
        events,
        time.monotonic() - started,
        errors,
    )


def run_data(data: bytes, suffix: str) -> CaseResult:
    """``run_case`` for bytes built by a test (Hypothesis) rather than from a seed."""
    started = time.monotonic()
    outcome, detail, records, events, errors = run_bytes(data, suffix, render_all=True)
    return CaseResult(
        -1, suffix, "given", outcome, detail, records, events, time.monotonic() - started, errors
    )


def run_many(
    func: Callable[..., CaseResult],
    tasks: Sequence[tuple[Any, ...]],
    jobs: int,
    time_limit: float,
) -> Iterator[tuple[tuple[Any, ...], CaseResult | str]]:
    """Each task in an isolated worker: (task, result) or (task, why it did not return)."""
    from migdiag.workers import Failure, run_isolated

    outcomes = run_isolated(func, list(tasks), jobs=jobs, time_limit=time_limit)
    for task, outcome in zip(tasks, outcomes, strict=True):
        yield task, outcome.why if isinstance(outcome, Failure) else outcome


def read_prefix(base: str, at: int) -> CaseResult:
    """``read_source`` on the first ``at`` bytes of a base input: a truncated copy.

    The worker slices the base itself, so a task is two small values, not the bytes."""
    from migdiag.read_input import read_source
    from migdiag.readers import InputSource
    from migdiag.readers.localtime import TimeOptions

    started = time.monotonic()
    data = bases()[base][1][:at]
    try:
        result = read_source(
            InputSource(name=f"{base}[:{at}]", data=data), TimeOptions(), default_catalog()
        )
    except Exception:
        return CaseResult(-1, base, f"cut at {at}", "bug", traceback.format_exc(limit=12))
    report = result.report
    outcome = "refused" if report.error else "read"
    if report.error and report.error.startswith(UNEXPECTED):
        outcome = "bug"
    return CaseResult(
        -1,
        base,
        f"cut at {at}",
        outcome,
        report.error or "",
        report.records,
        len(result.events),
        time.monotonic() - started,
        (report.error,) if report.error else (),
    )
