"""Where migdiag keeps what it builds once and reuses: the user's cache folder.

A module of its own, importing nothing costly: the compiled dataclass methods
(``migdiag.dataclass_code``) are looked for here before any other migdiag module loads."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_CACHE_DIR = "MIGDIAG_CACHE_DIR"


def cache_dir() -> Path:
    """$MIGDIAG_CACHE_DIR, else the user's cache folder (XDG, or %LOCALAPPDATA% on Windows)."""
    base = os.environ.get(ENV_CACHE_DIR)
    if base:
        return Path(base)
    if sys.platform == "win32":
        root = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(root) / "migdiag" / "Cache"
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "migdiag"
