"""Dataclass methods compiled once per Python, not at every start-up (issue #16).

``dataclasses`` writes each class's ``__init__``, ``__repr__``, ``__eq__``, ``__hash__`` and
frozen ``__setattr__``/``__delattr__`` as source text and compiles it when the class is
defined: migdiag's model, signatures, catalog and report classes are ~70 of them, ~350
functions, 50-90 ms of every command's start-up.  The text depends only on the class (its
fields, the names of their defaults, its flags), so the code compiled from it can be kept:
the user's cache holds it (``marshal``, filed per Python build) and the next run executes
those code objects instead of compiling the same text again.  They are what the compiler
makes of the same text with the same flags (none: ``dataclasses`` has no ``__future__``
import), so the classes are the same; the tests compare every method's code and
annotations with and without the cache.

Only migdiag's own classes go through it (the module whose globals the method is made in is
a migdiag module), with the slot initialisers ``model`` writes the same way (``run``);
anything else is compiled as before.  A missing, damaged or foreign file
is ignored and written anew; ``MIGDIAG_CODE_CACHE=0`` turns the cache off.  What a run
compiled is added to the file (kept to what the run used once it holds more than a bound)
when the process exits (``atexit``; the command line runs
its exit handlers before its immediate exit), by the process that loaded it, not by its
forked workers.
"""

from __future__ import annotations

import atexit
import builtins
import dataclasses
import marshal
import os
import sys
import types
import zlib
from pathlib import Path
from typing import Any

from migdiag.cachedir import cache_dir

ENV_SWITCH = "MIGDIAG_CODE_CACHE"

_codes: dict[str, types.CodeType] = {}  # source text -> its code, loaded or compiled
_learned: set[str] = set()  # texts compiled in this run, not in the file yet
_used: set[str] = set()  # texts this run made a method of
# Texts kept at most: ~350 today.  Past it (old versions' classes pile up, as fields
# change), a run that writes keeps only what it used.
_MAX_TEXTS = 2000
_owner = 0  # the process that installed the hook: the only one that writes the file
_loaded = False  # the file is read when the first migdiag class is made (not for --help)


def file() -> Path:
    """The cache file for this Python build (bytecode differs between builds)."""
    build = zlib.crc32(sys.version.encode())
    return cache_dir() / f"dataclass-code-{sys.implementation.cache_tag}-{build:08x}.marshal"


def install() -> None:
    """Route migdiag's dataclass methods through the cache; idempotent."""
    global _owner
    if os.environ.get(ENV_SWITCH) == "0" or getattr(dataclasses, "exec", None) is _exec:
        return
    _owner = os.getpid()
    # ``dataclasses`` calls ``exec`` on each method's text; a module global of that name is
    # found before the builtin.  Nothing else changes in how a class is made.
    dataclasses.exec = _exec  # type: ignore[attr-defined]
    atexit.register(save)


def _read(path: Path) -> dict[str, types.CodeType]:
    try:
        loaded = marshal.loads(path.read_bytes())  # our own file, in the user's cache
    except Exception:  # missing, unreadable, truncated, or written by another build
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {k: v for k, v in loaded.items() if isinstance(k, str) and type(v) is types.CodeType}


def _exec(source: Any, namespace: Any = None, local_namespace: Any = None, /) -> None:
    global _loaded
    if not isinstance(source, str):
        builtins.exec(source, namespace, local_namespace)
        return
    # ``exec`` of a text compiles it with the future flags of the code calling it: that was
    # ``dataclasses`` (none), it is now this module (``annotations``), so every text is
    # compiled here without them (``dont_inherit``), as "<string>" like ``exec`` names it.
    if not (isinstance(namespace, dict) and _is_ours(namespace)):
        # Another's class: compiled as before, not kept.
        builtins.exec(_compiled(source), namespace, local_namespace)
        return
    if not _loaded:
        _loaded = True
        _codes.update(_read(file()))
    _used.add(source)
    code = _codes.get(source)
    if code is None:
        code = _codes[source] = _compiled(source)
        _learned.add(source)
    builtins.exec(code, namespace, local_namespace)


def run(source: str, namespace: dict[str, Any]) -> None:
    """Execute method text that migdiag generates itself for a class of the module named by
    ``namespace["__name__"]`` (``model._stored_by_slots``), through the cache when it is on,
    as ``dataclasses``'s own."""
    if getattr(dataclasses, "exec", None) is _exec:
        _exec(source, namespace)
    else:
        builtins.exec(_compiled(source), namespace)


def _compiled(source: str) -> types.CodeType:
    return compile(source, "<string>", "exec", dont_inherit=True)


def _is_ours(module_globals: dict[str, Any]) -> bool:
    name = module_globals.get("__name__")
    return isinstance(name, str) and (name == "migdiag" or name.startswith("migdiag."))


def save() -> None:
    """Add what this run compiled to the file (merged with what another run may have added
    meanwhile); nothing when there is nothing new, or in a forked child."""
    if not _learned or os.getpid() != _owner:
        return
    import tempfile  # here: ~2 ms of every start-up otherwise, and most runs write nothing

    path = file()
    codes = {**_read(path), **{text: _codes[text] for text in _learned}}
    if len(codes) > _MAX_TEXTS:
        codes = {text: _codes[text] for text in _used}
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
            f.write(marshal.dumps(codes))
        try:
            os.replace(f.name, path)  # atomic: a run reading meanwhile sees old or new
        except OSError:
            os.unlink(f.name)
            raise
    except OSError:
        return  # a read-only or full cache: compiled again next time, nothing more
    _learned.clear()
