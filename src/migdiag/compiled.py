"""Objects that are costly to build and never change between runs, kept pickled in the
user's cache: the signature library and the event catalog.

Each is filed under a key that hashes everything it is built from (the data files, the code
that builds it, migdiag's version and the Python), so a stale object is never served: an
edit anywhere gives a new key and the next run builds afresh.  The cache is an optimisation
only: a missing, unreadable or foreign file is rebuilt, and a cache that cannot be written
(a read-only home, a full disk) costs the build on every run, nothing more.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from migdiag import __version__
from migdiag.cachedir import ENV_CACHE_DIR, cache_dir

__all__ = ["ENV_CACHE_DIR", "cache_dir", "key", "load", "store"]

_KEEP = 8  # per kind: the shipped library, with a user's folder or two, and older builds


def key(parts: Iterable[bytes]) -> str:
    """A key for what is built from ``parts``, this migdiag and this Python."""
    digest = hashlib.sha256(f"{__version__}|{sys.version}".encode())
    for part in parts:
        digest.update(len(part).to_bytes(8, "little") + part)  # lengths: no ambiguous joins
    return digest.hexdigest()[:32]


def _path(kind: str, key: str) -> Path:
    return cache_dir() / f"{kind}-{key}.pickle"


def load(kind: str, key: str, expected: type) -> object | None:
    """The object of ``kind`` filed under ``key``, or None (then the caller builds it)."""
    try:
        value = pickle.loads(_path(kind, key).read_bytes())  # our own file, in the user's cache
    except Exception:  # missing, unreadable, truncated or from another build
        return None
    return value if isinstance(value, expected) else None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def store(kind: str, key: str, value: object) -> None:
    """File ``value`` under ``key``; the oldest of its kind beyond a few are removed."""
    folder = cache_dir()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        kept = sorted(folder.glob(f"{kind}-*.pickle"), key=_mtime, reverse=True)
        for old in kept[_KEEP - 1 :]:
            old.unlink(missing_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as f:
            f.write(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        # Atomic: a run reading at the same moment sees the old file or the new, never half.
        os.replace(f.name, _path(kind, key))
    except OSError:
        pass  # the next run builds it again
