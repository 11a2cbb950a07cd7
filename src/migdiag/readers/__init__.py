"""Readers: one module per input format, each a generator of raw ``Event`` values.

A reader is ``read(source, stats, keep) -> Iterator[Event]``:

* ``source`` is an ``InputSource`` (a file on disk or bytes from inside a zip);
* ``stats`` is a ``ReadStats`` the reader updates as it goes (records seen, recovered,
  dropped, warnings); the caller turns it into the frozen ``InputReport``;
* ``keep(provider)`` says whether a record of that provider is worth decoding in full:
  readers that can decide before paying for a full decode should ask first.  A decoded
  record goes through ``keeps_event``, which with the catalog's ``keep`` also takes a NIC
  driver's link event that migdiag knows by its payload only (issue 20).

Readers raise ``InputError`` (one line, naming the file and offset where it helps) when the
file cannot be read at all; a damaged record inside a readable file is a warning in
``stats``, never an exception.  ``sniff`` picks the reader by content, never by file name.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from migdiag.catalog import Catalog
from migdiag.errors import InputError
from migdiag.model import Event, InputReport


@dataclass(frozen=True, slots=True)
class InputSource:
    """One input: a file on disk (``path``) or bytes from inside an archive (``data``)."""

    name: str  # as shown to the user
    path: Path | None = None
    data: bytes | None = None

    def open(self) -> BinaryIO:
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.path is not None
        return self.path.open("rb")

    def head(self, size: int = 4096) -> bytes:
        if self.data is not None:
            return self.data[:size]
        assert self.path is not None
        with self.path.open("rb") as f:
            return f.read(size)

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        assert self.path is not None
        return self.path.stat().st_size


@dataclass(slots=True)
class ReadStats:
    """Mutable tally a reader keeps while it streams; frozen into ``InputReport`` at the end."""

    records: int = 0
    relevant: int = 0
    recovered: int = 0
    dropped: int = 0
    chunks: int | None = None
    header_chunks: int | None = None
    bad_chunks: int = 0
    dirty: bool = False
    incomplete: str | None = None  # the file was read only in part: what was lost
    warnings: list[str] = field(default_factory=list)
    hosts: set[str] = field(default_factory=set)
    channels: set[str] = field(default_factory=set)

    def warn(self, message: str) -> None:
        # A file with thousands of bad records must not drown the report.
        if len(self.warnings) < 50:
            self.warnings.append(message)
        elif len(self.warnings) == 50:
            self.warnings.append("further warnings for this file suppressed")

    def report(self, name: str, fmt: str, error: str | None = None) -> InputReport:
        return InputReport(
            path=name,
            format=fmt,
            records=self.records,
            relevant=self.relevant,
            recovered=self.recovered,
            dropped=self.dropped,
            chunks=self.chunks,
            header_chunks=self.header_chunks,
            bad_chunks=self.bad_chunks,
            dirty=self.dirty,
            hosts=tuple(sorted(self.hosts)),
            channels=tuple(sorted(self.channels)),
            warnings=tuple(self.warnings),
            error=error,
            incomplete=self.incomplete,
        )


Keep = Callable[[str], bool]


def link_catalog(keep: Keep) -> Catalog | None:
    """The catalog whose relevance test ``keep`` is, when it is one (its NIC link rules then
    keep records of drivers it does not name)."""
    owner = getattr(keep, "__self__", None)
    if (
        isinstance(owner, Catalog)
        and getattr(keep, "__func__", None) is Catalog.is_relevant_provider
    ):
        return owner
    return None


def keeps_event(keep: Keep, event: Event) -> bool:
    """Whether a decoded record is kept: its provider is relevant, or (with the catalog's
    ``keep``) it reports a NIC's link going down or up, by id or by its payload's words.
    With the catalog's ``keep``, a busy provider's events are kept only for the ids that
    matter (``Catalog.keeps_id``)."""
    catalog = link_catalog(keep)
    if keep(event.provider):
        return catalog is None or catalog.keeps_id(event.provider, event.event_id)
    if catalog is None:
        return False
    text = event.message or " ".join(v for _, v in event.fields)
    return catalog.nic_link_state(event.provider, event.event_id, text) is not None


class Reader(Protocol):
    def __call__(self, source: InputSource, stats: ReadStats, keep: Keep) -> Iterator[Event]: ...


def keep_all(provider: str) -> bool:
    return True


__all__ = ["InputError", "InputSource", "Keep", "ReadStats", "Reader", "keep_all"]
