"""Which reader reads which input: a plain dict by format name, and a content sniffer.

Readers of local-time formats (copy-as-text, wevtutil text, CSV) need the user's UTC
offsets and date order; ``readers_for(options)`` builds the dict with them, and ``READERS``
is that dict for the defaults (UTC, date order inferred per file).
"""

from __future__ import annotations

import importlib
from typing import Any

from migdiag.config import snapshot as config_snapshot
from migdiag.readers import Reader
from migdiag.readers.localtime import DEFAULT_OPTIONS, TimeOptions

# Each reader's module is imported when an input of its format turns up, not on every run:
# one EVTX should not pay for lxml, the text parsers and five PowerShell readers (~40 ms).
# format -> (module under migdiag.readers, how the reader is made: "read" is a plain reader,
# "make_reader" takes the time options of local-time formats)
_MODULES: dict[str, tuple[str, str]] = {
    "evtx": ("evtx", "read"),
    "mta": ("mta", "read"),
    "xml": ("xml", "read"),
    "wevtutil-text": ("wevtutil_text", "make_reader"),
    "csv": ("csv", "make_reader"),
    "text": ("text", "make_reader"),
    "powershell-clixml": ("powershell_clixml", "make_reader"),
    "powershell-csv": ("powershell_csv", "make_reader"),
    "powershell-json": ("powershell_json", "make_reader"),
    "powershell-table": ("powershell_table", "make_reader"),
    "powershell-list": ("powershell_list", "make_reader"),
}
FORMATS = tuple(_MODULES)

# The binary formats' magic, here so that sniffing an EVTX imports no reader
# (readers/evtx.py and readers/mta.py keep their own copy; a test holds them equal).
EVTX_MAGIC = b"ElfFile\x00"
MTA_MAGIC = b"MTAFile\x00"


def _module(name: str) -> Any:
    return importlib.import_module(f"migdiag.readers.{name}")


def reader_for(fmt: str, options: TimeOptions = DEFAULT_OPTIONS) -> Reader:
    """The reader of format ``fmt``; the local-time ones convert with ``options``."""
    name, kind = _MODULES[fmt]
    module = _module(name)
    if fmt == "evtx":
        # Messages an .MTA archive beside the EVTX holds, in the host's own language.
        return _module("mta").with_locale_messages(module.read)  # type: ignore[no-any-return]
    if kind == "make_reader":
        return module.make_reader(options)  # type: ignore[no-any-return]
    return module.read  # type: ignore[no-any-return]


def readers_for(options: TimeOptions) -> dict[str, Reader]:
    """Every reader by format name (imports them all: for tests and tools, not a run)."""
    return {fmt: reader_for(fmt, options) for fmt in FORMATS}


def __getattr__(name: str) -> Any:
    # ``READERS``: every reader with the default options, built on first use (PEP 562).
    if name == "READERS":
        readers = readers_for(DEFAULT_OPTIONS)
        globals()["READERS"] = readers
        return readers
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def sniff(head: bytes) -> str | None:
    """The format of an input from its first bytes, or None when no reader knows it.

    Binary magic first; then the head is decoded (BOM, UTF-16 or UTF-8) and the text formats
    are tried from the most to the least distinctive: what PowerShell prints (its property
    names), XML, a configuration snapshot (JSON with a cmdlet's property names),
    ``Event[N]:``, the CSV header, and copy-as-text blocks (which may follow other text, as in
    a pasted mail)."""
    if head.startswith(EVTX_MAGIC):
        return "evtx"
    if head.startswith(MTA_MAGIC):
        return "mta"
    from migdiag.readers import powershell as powershell_readers
    from migdiag.readers import text as text_reader

    text = text_reader.decode_head(head)
    if "\x00" in text:
        return None  # binary data that happens to decode
    found = powershell_readers.sniff_text(text)
    if found is not None:
        return found
    if _module("xml").sniff_text(text):
        return "xml"
    if config_snapshot.sniff_text(text):
        # Not events: read_input.read_source hands it to migdiag.config (no reader here).
        return config_snapshot.FORMAT
    if _module("wevtutil_text").sniff_text(text):
        return "wevtutil-text"
    if _module("csv").looks_like_csv_export(text):
        return "csv"
    if text_reader.sniff_text(text):
        return "text"
    return None
