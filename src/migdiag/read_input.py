"""Read one input completely: sniff its format, run its reader, normalise each event.

The per-file step that every engine runs, wherever it runs: in this process, in a local
worker process (``migdiag.workers``) or as a Dask task (``migdiag.engines``).  Every failure
becomes the input's report, never an exception, so one bad file costs only itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from migdiag.catalog import Catalog, default_catalog
from migdiag.config import snapshot as config_snapshot
from migdiag.errors import InputError
from migdiag.model import Event, InputReport
from migdiag.normalise import normalise
from migdiag.readers import InputSource, ReadStats
from migdiag.readers.localtime import TimeOptions
from migdiag.readers.registry import reader_for, sniff

if TYPE_CHECKING:
    from migdiag.config.snapshot import Snapshot


@dataclass(frozen=True, slots=True)
class FileResult:
    """One input's report, its normalised events, and its text when it is a paste."""

    report: InputReport
    events: tuple[Event, ...]
    text: str | None = None  # free text to explain (format "pasted-text")
    snapshot: Snapshot | None = None  # a configuration snapshot (format "config-snapshot")


PASTED = "pasted-text"


def _as_text(source: InputSource) -> str | None:
    """The input as text when it looks like text a person pasted (no log format)."""
    from migdiag.explain import decode_bytes

    if source.size > 4 * 1024 * 1024:  # a paste is small; a large unknown file is not one
        return None
    with source.open() as f:
        data = f.read()
    text = decode_bytes(data)
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return text if text.strip() and printable >= 0.95 * len(text) else None


IGNORED = "ignored"  # InputReport.format of a non-log file found inside a folder or zip


def _read_snapshot(source: InputSource, stats: ReadStats) -> FileResult:
    """A configuration snapshot; bad JSON is the file's located warning, never the run's."""
    fmt = config_snapshot.FORMAT
    try:
        with source.open() as f:
            data = f.read(config_snapshot.MAX_BYTES + 1)
        snap = config_snapshot.parse(data, source.name)
    except InputError as exc:
        stats.warn(f"configuration not read: {exc.why}")
        return FileResult(stats.report(source.name, fmt), ())
    except OSError as exc:
        return FileResult(stats.report(source.name, fmt, f"cannot read: {exc.strerror}"), ())
    stats.records = len(snap.records)
    if snap.host:
        stats.hosts.add(snap.host)
    return FileResult(stats.report(source.name, fmt), (), snapshot=snap)


def read_source(
    source: InputSource, time: TimeOptions, catalog: Catalog, named: bool = True
) -> FileResult:
    """Read one input fully; every failure becomes the report's error, never an exception.

    ``named``: the user named this file.  A file found inside a folder or zip that is not a
    log (a README, a screenshot) is ignored with a note; a named one is an error."""
    stats = ReadStats()
    try:
        fmt = sniff(source.head())
    except OSError as exc:
        return FileResult(stats.report(source.name, "unknown", f"cannot read: {exc.strerror}"), ())
    if fmt is None and config_snapshot.named_like_snapshot(source.name):
        fmt = config_snapshot.FORMAT  # by name too: a cut or damaged snapshot gets its warning
    if fmt == config_snapshot.FORMAT:
        return _read_snapshot(source, stats)
    if fmt is None:
        # Only a file the user named is read as pasted text: a folder's README or notes
        # that merely describe a failure must not become evidence.
        try:
            text = _as_text(source) if named else None
        except OSError as exc:
            return FileResult(
                stats.report(source.name, "unknown", f"cannot read: {exc.strerror or exc}"), ()
            )
        if text is not None:
            return FileResult(stats.report(source.name, PASTED), (), text)
        if not named:
            stats.warn("not a log format migdiag reads; ignored")
            return FileResult(stats.report(source.name, IGNORED), ())
        return FileResult(
            stats.report(source.name, "unknown", "not a format migdiag reads (sniffed by content)"),
            (),
        )
    reader = reader_for(fmt, time)
    events: list[Event] = []
    try:
        for raw in reader(source, stats, catalog.is_relevant_provider):
            event = normalise(raw, catalog)
            stats.hosts.add(event.short_host)
            stats.channels.add(event.channel)
            events.append(event)
    except InputError as exc:
        return FileResult(stats.report(source.name, fmt, exc.why), tuple(events))
    except Exception as exc:  # a reader bug must cost one file, not the run
        why = f"unexpected reader failure: {type(exc).__name__}: {str(exc)[:200]}"
        return FileResult(stats.report(source.name, fmt, why), tuple(events))
    if stats.records == 0 and (stats.bad_chunks or stats.dropped) and not stats.incomplete:
        # Damage everywhere and not one record: that is an unreadable file, not an empty log.
        why = (
            f"no record could be read ({stats.bad_chunks} damaged chunk(s), "
            f"{stats.dropped} unreadable record(s))"
        )
        return FileResult(stats.report(source.name, fmt, why), ())
    return FileResult(stats.report(source.name, fmt), tuple(events))


def read_with_default_catalog(source: InputSource, time: TimeOptions, named: bool) -> FileResult:
    return read_source(source, time, default_catalog(), named)
