"""Shared helpers for the reader tests: read an input the way the pipeline does
(sniff by content, pick the reader from the registry) and normalise every event."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from migdiag.catalog import default_catalog
from migdiag.model import Event
from migdiag.normalise import normalise
from migdiag.readers import InputSource, ReadStats, keep_all
from migdiag.readers.localtime import TimeOptions
from migdiag.readers.registry import readers_for, sniff

DATA = Path(__file__).resolve().parent / "data"
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"

# The classic entity bomb, in front of an otherwise plausible export.
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE Events [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Events><Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>
<Provider Name='Microsoft-Windows-Hyper-V-VMMS'/><EventID>20415</EventID>
<TimeCreated SystemTime='2017-11-21T10:57:53Z'/><Computer>&lol9;</Computer>
</System></Event></Events>
"""


@dataclass(frozen=True)
class Read:
    format: str
    events: list[Event]
    stats: ReadStats


def read_source(source: InputSource, options: TimeOptions | None = None) -> Read:
    fmt = sniff(source.head())
    assert fmt is not None, f"{source.name}: not sniffed"
    stats = ReadStats()
    reader = readers_for(options or TimeOptions())[fmt]
    catalog = default_catalog()
    events = [normalise(e, catalog) for e in reader(source, stats, keep_all)]
    return Read(fmt, events, stats)


def read_file(path: Path | str, options: TimeOptions | None = None) -> Read:
    path = DATA / path if isinstance(path, str) else path
    return read_source(InputSource(name=path.name, path=path), options)


def read_bytes(name: str, data: bytes, options: TimeOptions | None = None) -> Read:
    return read_source(InputSource(name=name, data=data), options)
