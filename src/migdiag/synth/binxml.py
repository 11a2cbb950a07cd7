"""BinXML as it appears inside one EVTX chunk: tokens, names, templates and the hash tables.

Layout facts (offsets, hashes, which reader needs what) are in the format reference,
``shared/reference/evtx-format.md``; the section numbers below point there.

Everything in a chunk is addressed by chunk offset, so the encoder writes straight into the
chunk's own ``bytearray``: the offset of the next byte is always ``len(buf)``.  A name or a
template is stored inline the first time a chunk uses it and referenced by offset later
(§5.4, §7.1), which makes the bytes of a record depend on the records before it in the chunk.
``mark``/``rollback`` undo a record that turned out not to fit.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from functools import cache

# Tokens (§5.1).
FRAGMENT_HEADER = b"\x0f\x01\x01\x00"
EOF = 0x00
_OPEN_ELEMENT = 0x01
_OPEN_ELEMENT_ATTRS = 0x41
_CLOSE_START = 0x02
_CLOSE_EMPTY = 0x03
_END_ELEMENT = 0x04
_VALUE_TEXT = 0x05
_ATTRIBUTE_LAST = 0x06
_ATTRIBUTE_MORE = 0x46
_TEMPLATE_INSTANCE = 0x0C
_NORMAL_SUBST = 0x0D
_OPTIONAL_SUBST = 0x0E

# Value types (§6).
NULL = 0x00
STRING = 0x01
UINT8 = 0x04
UINT16 = 0x06
UINT32 = 0x08
UINT64 = 0x0A
GUID = 0x0F
FILETIME = 0x11
SID = 0x13
HEXINT64 = 0x15
BINXML = 0x21

CHUNK_HEADER_SIZE = 512
_NAME_BUCKETS = 64
_TEMPLATE_BUCKETS = 32
_MAX_U16 = 0xFFFF

_U32 = struct.Struct("<I")
_INSTANCE = struct.Struct("<BBII")
_ELEMENT_START = struct.Struct("<BhI")
_NAME_ENTRY = struct.Struct("<IHH")
_TEXT = struct.Struct("<BBH")
_SUBST = struct.Struct("<BHB")

# Template GUIDs only need to be stable and distinct; readers never look them up (§5.4).
_TEMPLATE_NAMESPACE = uuid.UUID("5b0c0e51-93a4-4c4b-9d6e-6d6967646961")


@dataclass(frozen=True, slots=True)
class Text:
    """Literal text inside a template (a value-text token)."""

    value: str


@dataclass(frozen=True, slots=True)
class Subst:
    """A substitution: the record's value array supplies the content."""

    index: int
    value_type: int
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Element:
    name: str
    attributes: tuple[tuple[str, Text | Subst], ...] = ()
    children: tuple[Element | Text | Subst, ...] = ()


@dataclass(frozen=True, slots=True)
class Template:
    """A template definition and what its instances need (build with ``make_template``)."""

    template_id: int  # Data1 of the GUID, as Windows writes it
    guid: bytes  # bytes_le
    bucket: int  # template-table bucket
    root: Element


def make_template(key: str, root: Element) -> Template:
    """The template for ``root``; ``key`` names its shape and fixes its GUID across chunks."""
    guid = uuid.uuid5(_TEMPLATE_NAMESPACE, key).bytes_le
    (template_id,) = _U32.unpack_from(guid)
    return Template(template_id, guid, template_bucket(guid), root)


@cache
def name_hash(name: str) -> int:
    """The 16-bit name hash of §7.2 (stored in the name entry; bucket = hash mod 64)."""
    h = 0
    data = name.encode("utf-16-le")
    for (unit,) in struct.iter_unpack("<H", data):
        h = (h * 65599 + unit) & 0xFFFFFFFF
    return h & 0xFFFF


def template_bucket(guid: bytes) -> int:
    """Template-table bucket of a version 3.1 file (§7.4): the name hash over the GUID words."""
    h = 0
    for (word,) in struct.iter_unpack("<H", guid):
        h = (h * 65599 + word) & 0xFFFFFFFF
    return h % _TEMPLATE_BUCKETS


def utf16(text: str, what: str) -> bytes:
    """UTF-16LE of ``text``, checked for what an EVTX string cannot carry (``ValueError``).

    Lone surrogates have no UTF-16 encoding.  NUL ends a string for the readers (the evtx
    package and libevtx cut the text there), so it would not survive a round trip.
    """
    if "\0" in text:
        raise ValueError(f"{what} contains NUL")
    data = text.encode("utf-16-le")
    if len(data) > _MAX_U16:
        raise ValueError(f"{what} is longer than 32,767 UTF-16 code units")
    return data


class ChunkEncoder:
    """One chunk being filled: its bytes, its inline names and templates, both hash tables."""

    __slots__ = (
        "_journal",
        "_name_heads",
        "_names",
        "_template_heads",
        "_templates",
        "buf",
    )

    def __init__(self) -> None:
        self.buf = bytearray(CHUNK_HEADER_SIZE)
        self._names: dict[str, int] = {}
        self._name_heads = [0] * _NAME_BUCKETS
        self._templates: dict[bytes, int] = {}
        self._template_heads = [0] * _TEMPLATE_BUCKETS
        # (is_name, key, bucket, previous bucket head) for everything added since ``mark``
        self._journal: list[tuple[bool, str | bytes, int, int]] = []

    # -- undo ------------------------------------------------------------------------------

    def mark(self) -> int:
        self._journal.clear()
        return len(self.buf)

    def rollback(self, mark: int) -> None:
        """Forget everything written since ``mark``, names and templates included."""
        del self.buf[mark:]
        for is_name, key, bucket, previous in reversed(self._journal):
            if is_name:
                assert isinstance(key, str)
                del self._names[key]
                self._name_heads[bucket] = previous
            else:
                assert isinstance(key, bytes)
                del self._templates[key]
                self._template_heads[bucket] = previous
        self._journal.clear()

    def tables(self) -> bytes:
        """The two hash tables for chunk offsets 128-511."""
        return struct.pack("<96I", *self._name_heads, *self._template_heads)

    # -- tokens ----------------------------------------------------------------------------

    def template_instance(self, template: Template) -> None:
        """A template-instance token; the definition follows inline on first use (§5.4)."""
        buf = self.buf
        known = self._templates.get(template.guid)
        if known is not None:
            buf += _INSTANCE.pack(_TEMPLATE_INSTANCE, 1, template.template_id, known)
            return
        definition = len(buf) + _INSTANCE.size
        buf += _INSTANCE.pack(_TEMPLATE_INSTANCE, 1, template.template_id, definition)
        bucket = template.bucket
        buf += _U32.pack(self._template_heads[bucket])
        buf += template.guid
        size_at = len(buf)
        buf += b"\0\0\0\0"
        buf += FRAGMENT_HEADER
        self._element(template.root)
        buf.append(EOF)
        _U32.pack_into(buf, size_at, len(buf) - size_at - 4)
        self._journal.append((False, template.guid, bucket, self._template_heads[bucket]))
        self._templates[template.guid] = definition
        self._template_heads[bucket] = definition

    def _name(self, name: str) -> None:
        """A name-offset field, with the name entry inline when the chunk lacks it (§7.1)."""
        buf = self.buf
        known = self._names.get(name)
        if known is not None:
            buf += _U32.pack(known)
            return
        if not name:
            raise ValueError("element and attribute names must not be empty")
        entry = len(buf) + 4
        hashed = name_hash(name)
        bucket = hashed % _NAME_BUCKETS
        encoded = utf16(name, f"name {name[:40]!r}")
        buf += _U32.pack(entry)
        buf += _NAME_ENTRY.pack(self._name_heads[bucket], hashed, len(encoded) // 2)
        buf += encoded
        buf += b"\0\0"
        self._journal.append((True, name, bucket, self._name_heads[bucket]))
        self._names[name] = entry
        self._name_heads[bucket] = entry

    def _content(self, node: Text | Subst) -> None:
        buf = self.buf
        if isinstance(node, Subst):
            token = _OPTIONAL_SUBST if node.optional else _NORMAL_SUBST
            buf += _SUBST.pack(token, node.index, node.value_type)
        else:
            encoded = utf16(node.value, "template text")
            buf += _TEXT.pack(_VALUE_TEXT, STRING, len(encoded) // 2)
            buf += encoded

    def _element(self, element: Element) -> None:
        """An element of a template body, with its dependency id and exact sizes (§5.3)."""
        buf = self.buf
        children = tuple(c for c in element.children if not (isinstance(c, Text) and not c.value))
        # Windows names the optional substitution an element's content hangs on; -1 otherwise.
        dependency = -1
        if len(children) == 1 and isinstance(children[0], Subst) and children[0].optional:
            dependency = children[0].index
        token = _OPEN_ELEMENT_ATTRS if element.attributes else _OPEN_ELEMENT
        buf += _ELEMENT_START.pack(token, dependency, 0)
        size_at = len(buf) - 4
        self._name(element.name)
        if element.attributes:
            list_at = len(buf)
            buf += b"\0\0\0\0"
            last = len(element.attributes) - 1
            for i, (name, value) in enumerate(element.attributes):
                buf.append(_ATTRIBUTE_LAST if i == last else _ATTRIBUTE_MORE)
                self._name(name)
                self._content(value)
            _U32.pack_into(buf, list_at, len(buf) - list_at - 4)
        if children:
            buf.append(_CLOSE_START)
            for child in children:
                if isinstance(child, Element):
                    self._element(child)
                else:
                    self._content(child)
            buf.append(_END_ELEMENT)
        else:
            buf.append(_CLOSE_EMPTY)
        _U32.pack_into(buf, size_at, len(buf) - size_at - 4)
