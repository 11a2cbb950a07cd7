"""Folders and zip bundles -> ``InputSource`` values, without writing anything to disk.

A support desk receives a folder per host, or a zip of them, sometimes a zip of zips.  Each
file found becomes one source; the reader is picked later by content.  Zip members are
never extracted: a member source remembers where it lives and decompresses into memory
only when a reader opens it, so a large bundle costs one member's memory at a time.

Zips are untrusted, so each top-level archive gets a budget (members, expanded bytes) and
each member a compression-ratio check, all from the central directory before anything is
decompressed; a member that breaks a rule, or whose name climbs out of the archive
(``../x``, ``/etc/x``, ``C:\\x``), is refused with one line while its siblings are read.
"""

from __future__ import annotations

import errno
import glob
import io
import lzma
import os
import stat
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from migdiag.errors import InputError, one_line
from migdiag.readers import InputSource

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local header, or an empty archive
MAX_TOTAL_BYTES = 2 * 1024**3  # expanded bytes per top-level archive
MAX_MEMBERS = 10_000  # members per top-level archive, nested ones included
MAX_RATIO = 100  # expanded / compressed, for members big enough to matter
RATIO_FLOOR = 10 * 1024**2  # below this a high ratio cannot hurt (an empty EVTX is ~1000:1)
MAX_DEPTH = 1  # a zip inside a zip is read; one level deeper is refused
_GLOB_CHARS = frozenset("*?[")
# What a damaged or hostile archive makes zipfile raise.  Beyond its own BadZipFile: the
# decompressors' errors (a corrupt deflate stream raises zlib.error, not BadZipFile),
# NotImplementedError for an unknown compression method, RuntimeError for encryption,
# ValueError (UnicodeDecodeError included) for malformed headers and names, EOFError for a
# cut member, KeyError for a member gone since the listing.  Each must cost the one member
# or archive, never the run.
ZIP_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    lzma.LZMAError,
    NotImplementedError,
    RuntimeError,
    ValueError,
    KeyError,
)


# Open archives, per process.  Each member is a separate input read in a worker; opening the
# archive afresh for each one parses the whole central directory each time, which made a
# zip of 10,000 tiny members take minutes (quadratic).  Keyed by process id too: a forked
# worker must never share an open file (and its offset) with its parent or siblings.
_OPEN_ARCHIVES: dict[tuple[int, str, int, int, tuple[str, ...]], zipfile.ZipFile] = {}
_MAX_OPEN_ARCHIVES = 4  # outer archives and, decompressed in memory, nested ones


def _cached_archive(path: Path, nesting: tuple[str, ...] = ()) -> zipfile.ZipFile:
    """The archive at ``path``, or the zip member ``nesting`` inside it, opened once."""
    info = os.stat(path)
    key = (os.getpid(), str(path), info.st_size, info.st_mtime_ns, nesting)
    found = _OPEN_ARCHIVES.get(key)
    if found is not None:
        return found
    if nesting:
        parent = _cached_archive(path, nesting[:-1])
        archive = zipfile.ZipFile(io.BytesIO(_read_member(parent, nesting[-1], str(path))))
    else:
        archive = zipfile.ZipFile(path)
    for old in list(_OPEN_ARCHIVES):
        if old[0] != key[0] or len(_OPEN_ARCHIVES) >= _MAX_OPEN_ARCHIVES:
            # Another process's entry is dropped, not closed: closing is harmless (the
            # descriptor is this process's copy) but the parent still owns the archive.
            stale = _OPEN_ARCHIVES.pop(old)
            if old[0] == key[0]:
                stale.close()
    _OPEN_ARCHIVES[key] = archive
    return archive


@dataclass(frozen=True, slots=True)
class ZipMemberSource(InputSource):
    """A file inside a zip (or inside a zip inside a zip), read on demand.

    ``chain`` is the member path through the nesting: ``("inner.zip", "logs/a.evtx")``.
    ``companions`` names sibling members (same archive) that belong to this one, such as an
    EVTX file's LocaleMetaData ``.MTA`` files."""

    archive: Path | None = None
    chain: tuple[str, ...] = ()
    expanded: int = 0
    companions: tuple[str, ...] = ()

    def _load(self) -> bytes:
        if self.archive is None or not self.chain:
            raise InputError(self.name, "zip member without an archive")
        try:
            archive = _cached_archive(self.archive, self.chain[:-1])
            data = _read_member(archive, self.chain[-1], self.name)
        except ZIP_ERRORS as exc:
            raise InputError(self.name, f"cannot read from the archive: {one_line(exc)}") from exc
        return data

    def open(self) -> BinaryIO:
        return io.BytesIO(self._load())

    def head(self, size: int = 4096) -> bytes:
        """The member's first bytes.  Raises ``OSError`` like ``InputSource.head`` (the
        pipeline reports that as the file's error), never InputError or a zipfile error."""
        if self.archive is None or not self.chain:
            return b""
        # Only the start is needed: decompress that much, not the whole member.
        try:
            archive = _cached_archive(self.archive, self.chain[:-1])
            with archive.open(self.chain[-1]) as f:
                return f.read(size)
        except InputError as exc:
            raise OSError(errno.EIO, exc.why) from exc
        except ZIP_ERRORS as exc:
            raise OSError(errno.EIO, f"cannot read from the archive: {one_line(exc)}") from exc

    def sibling(self, member: str) -> ZipMemberSource:
        """Another member of the same (innermost) archive."""
        outer_name = self.name.rsplit("!", 1)[0]
        return ZipMemberSource(
            name=f"{outer_name}!{member}",
            archive=self.archive,
            chain=(*self.chain[:-1], member),
        )

    @property
    def size(self) -> int:
        return self.expanded


def _read_member(archive: zipfile.ZipFile, member: str, name: str) -> bytes:
    info = archive.getinfo(member)
    if info.file_size > MAX_TOTAL_BYTES:
        raise InputError(name, "member larger than the 2 GiB limit")
    with archive.open(info) as f:
        # zipfile stops at the declared size and checks the CRC at the end; the cap is a
        # second guard for an archive that lies about sizes.
        data = f.read(MAX_TOTAL_BYTES + 1)
    if len(data) > MAX_TOTAL_BYTES:
        raise InputError(name, "member expands beyond the 2 GiB limit")
    return data


def _unsafe_name(name: str) -> str | None:
    """Why a member name must not be trusted, or None.  Nothing is written to disk, but a
    name that climbs out of the archive marks a hostile or broken bundle: say so."""
    if "\x00" in name:
        return "its name contains a NUL byte"
    posix = name.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        return "its name is an absolute path (path traversal)"
    if ".." in PurePosixPath(posix).parts:
        return "its name climbs out of the archive with '..' (path traversal)"
    return None


@dataclass(slots=True)
class _Budget:
    """What one top-level archive may still spend (mutable while it is walked)."""

    members: int = 0
    expanded: int = 0
    count_refused: bool = False


def _is_zip_bytes(head: bytes) -> bool:
    return head.startswith(ZIP_MAGIC)


def _mib(n: int) -> str:
    if n >= 1024**3:
        return f"{n / 1024**3:.1f} GiB"
    return f"{n / 1024**2:.1f} MiB"


def _walk_zip(
    archive: zipfile.ZipFile,
    display: str,
    disk_path: Path,
    chain: tuple[str, ...],
    depth: int,
    budget: _Budget,
    sources: list[InputSource],
    errors: list[str],
) -> None:
    infos = [i for i in archive.infolist() if not i.is_dir()]
    mta_names = [i.filename for i in infos if i.filename.lower().endswith(".mta")]
    for info in infos:
        name = info.filename
        where = f"{display}!{name}"
        if budget.members >= MAX_MEMBERS:
            if not budget.count_refused:
                budget.count_refused = True
                errors.append(f"{display}: more than {MAX_MEMBERS} members; the rest are not read")
            return
        budget.members += 1
        why = _unsafe_name(name)
        if why is not None:
            errors.append(f"{where}: member refused: {why}; not read")
            continue
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            errors.append(f"{where}: member refused: a symbolic link; not read")
            continue
        if info.flag_bits & 0x1:
            errors.append(f"{where}: member refused: encrypted; not read")
            continue
        size, packed = info.file_size, max(info.compress_size, 1)
        if size > RATIO_FLOOR and size > MAX_RATIO * packed:
            errors.append(
                f"{where}: member refused: expands to {_mib(size)} from {_mib(packed)} "
                f"(ratio {size // packed}:1 over the {MAX_RATIO}:1 limit; a zip bomb?)"
            )
            continue
        if budget.expanded + size > MAX_TOTAL_BYTES:
            errors.append(
                f"{where}: member refused: the archive's 2 GiB expanded-size budget is spent"
            )
            continue
        budget.expanded += size
        try:
            with archive.open(info) as f:
                head = f.read(4)
        except ZIP_ERRORS as exc:
            errors.append(f"{where}: member unreadable: {one_line(exc)}")
            continue
        if _is_zip_bytes(head):
            if depth >= MAX_DEPTH:
                errors.append(f"{where}: member refused: a zip nested more than one level deep")
                continue
            try:
                with archive.open(info) as f:
                    data = f.read(size + 1)
                with zipfile.ZipFile(io.BytesIO(data)) as inner:
                    _walk_zip(
                        inner, where, disk_path, (*chain, name), depth + 1, budget, sources, errors
                    )
            except ZIP_ERRORS as exc:
                errors.append(f"{where}: not a readable zip archive: {one_line(exc)}")
            continue
        sources.append(
            ZipMemberSource(
                name=where,
                archive=disk_path,
                chain=(*chain, name),
                expanded=size,
                companions=_companions(name, mta_names) if head == b"ElfF" else (),
            )
        )


def _companions(member: str, mta_names: list[str]) -> tuple[str, ...]:
    """LocaleMetaData files of an EVTX member: ``<stem>_<LCID>.MTA`` beside it or in a
    subfolder beside it (``LocaleMetaData/``, or one named after the locale)."""
    path = PurePosixPath(member)
    prefix = path.stem.lower() + "_"
    found = []
    for other in mta_names:
        cand = PurePosixPath(other)
        if not cand.name.lower().startswith(prefix):
            continue
        if cand.parent == path.parent or cand.parent.parent == path.parent:
            found.append(other)
    return tuple(sorted(found))


def _add_file(
    path: Path, display: str, sources: list[InputSource], errors: list[str], seen: set[Path]
) -> None:
    try:
        real = path.resolve()
    except OSError:
        real = path
    if real in seen:
        return  # the same file named twice (a folder and a file in it): read it once
    seen.add(real)
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError as exc:
        errors.append(f"{display}: cannot read: {exc.strerror or one_line(exc)}")
        return
    if not _is_zip_bytes(head):
        sources.append(InputSource(name=display, path=path))
        return
    found = len(sources) + len(errors)
    try:
        with zipfile.ZipFile(path) as archive:
            _walk_zip(archive, display, path, (), 0, _Budget(), sources, errors)
    except ZIP_ERRORS as exc:
        errors.append(f"{display}: not a readable zip archive: {one_line(exc)}")
    if len(sources) + len(errors) == found:
        # Every input's fate is reported: an archive that yields nothing must say so (an
        # empty zip, or a damaged central directory that lists no member).
        errors.append(f"{display}: a zip archive with no file in it; nothing to read")


def _add_folder(
    folder: Path, sources: list[InputSource], errors: list[str], seen: set[Path]
) -> None:
    def on_error(exc: OSError) -> None:
        errors.append(f"{exc.filename}: cannot list folder: {exc.strerror}")

    for root, dirs, files in os.walk(folder, onerror=on_error):
        dirs.sort()
        for file in sorted(files):
            path = Path(root) / file
            if path.is_symlink() and not path.exists():
                errors.append(f"{path}: broken symbolic link; skipped")
                continue
            _add_file(path, str(path), sources, errors, seen)


def expand(paths: Sequence[str]) -> tuple[list[InputSource], list[str]]:
    """Every input under ``paths`` (files, folders recursively, zips, literal glob patterns)
    and one line per path or member that was refused or could not be listed."""
    sources: list[InputSource] = []
    errors: list[str] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            _add_folder(path, sources, errors, seen)
        elif path.exists():
            _add_file(path, raw, sources, errors, seen)
        elif _GLOB_CHARS & set(raw):
            # The shell normally expands globs; a quoted pattern (or Windows) leaves it to us.
            matches = sorted(glob.glob(raw, recursive=True))
            if not matches:
                errors.append(f"{raw}: no file matches this pattern")
            for match in matches:
                if Path(match).is_dir():
                    _add_folder(Path(match), sources, errors, seen)
                else:
                    _add_file(Path(match), match, sources, errors, seen)
        else:
            errors.append(f"{raw}: no such file or folder")
    return sources, errors


__all__ = ["MAX_MEMBERS", "MAX_RATIO", "MAX_TOTAL_BYTES", "ZipMemberSource", "expand"]
