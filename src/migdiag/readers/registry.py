"""Which reader reads which input: a plain dict by format name, and a content sniffer.

Readers of local-time formats (copy-as-text, wevtutil text, CSV) need the user's UTC
offsets and date order; ``readers_for(options)`` builds the dict with them, and ``READERS``
is that dict for the defaults (UTC, date order inferred per file).
"""

from __future__ import annotations

from migdiag.config import snapshot as config_snapshot
from migdiag.readers import Reader
from migdiag.readers import csv as csv_reader
from migdiag.readers import evtx as evtx_reader
from migdiag.readers import mta as mta_reader
from migdiag.readers import powershell as powershell_readers
from migdiag.readers import text as text_reader
from migdiag.readers import wevtutil_text as wevtutil_text_reader
from migdiag.readers import xml as xml_reader
from migdiag.readers.localtime import DEFAULT_OPTIONS, TimeOptions

FORMATS = ("evtx", "mta", "xml", "wevtutil-text", "csv", "text", *powershell_readers.FORMATS)


def readers_for(options: TimeOptions) -> dict[str, Reader]:
    """Every reader by format name, the local-time ones converting with ``options``."""
    return {
        "evtx": mta_reader.with_locale_messages(evtx_reader.read),
        "mta": mta_reader.read,
        "xml": xml_reader.read,
        "wevtutil-text": wevtutil_text_reader.make_reader(options),
        "csv": csv_reader.make_reader(options),
        "text": text_reader.make_reader(options),
        **powershell_readers.readers_for(options),
    }


READERS: dict[str, Reader] = readers_for(DEFAULT_OPTIONS)


def sniff(head: bytes) -> str | None:
    """The format of an input from its first bytes, or None when no reader knows it.

    Binary magic first; then the head is decoded (BOM, UTF-16 or UTF-8) and the text formats
    are tried from the most to the least distinctive: what PowerShell prints (its property
    names), XML, a configuration snapshot (JSON with a cmdlet's property names),
    ``Event[N]:``, the CSV header, and copy-as-text blocks (which may follow other text, as in
    a pasted mail)."""
    if head.startswith(evtx_reader.FILE_MAGIC):
        return "evtx"
    if head.startswith(mta_reader.FILE_MAGIC):
        return "mta"
    text = text_reader.decode_head(head)
    if "\x00" in text:
        return None  # binary data that happens to decode
    found = powershell_readers.sniff_text(text)
    if found is not None:
        return found
    if xml_reader.sniff_text(text):
        return "xml"
    if config_snapshot.sniff_text(text):
        # Not events: read_input.read_source hands it to migdiag.config (no reader here).
        return config_snapshot.FORMAT
    if wevtutil_text_reader.sniff_text(text):
        return "wevtutil-text"
    if csv_reader.looks_like_csv_export(text):
        return "csv"
    if text_reader.sniff_text(text):
        return "text"
    return None
