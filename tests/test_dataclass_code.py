"""The dataclass methods kept compiled in the user's cache (``migdiag.dataclass_code``) make
the same classes as compiling them at every start-up: every generated method of every
migdiag dataclass is compared, code and annotations, without the cache, with a cold one and
with a warm one (which compiles nothing).  Each run is a fresh process, as a user's is."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Imports every migdiag module (so every migdiag dataclass is made), then describes each
# method ``dataclasses`` generated (compiled from text: co_filename "<string>").
DESCRIBE = r"""
import dataclasses, hashlib, importlib, json, pkgutil, sys, types
import migdiag
from migdiag import dataclass_code

for info in pkgutil.walk_packages(migdiag.__path__, "migdiag."):
    if not info.name.startswith(("migdiag.__main__", "migdiag.history.migrations")):
        importlib.import_module(info.name)

def code(c):
    return (
        c.co_code, c.co_names, c.co_varnames, c.co_freevars, c.co_cellvars, c.co_flags,
        c.co_argcount, c.co_posonlyargcount, c.co_kwonlyargcount, c.co_qualname,
        c.co_filename, c.co_firstlineno,
        tuple(code(k) if isinstance(k, types.CodeType) else repr(k) for k in c.co_consts),
    )

methods = []
for module in list(sys.modules.values()):
    if not getattr(module, "__name__", "").startswith("migdiag"):
        continue
    for cls in vars(module).values():
        own = isinstance(cls, type) and cls.__module__ == module.__name__
        if own and dataclasses.is_dataclass(cls):
            for name, fn in sorted(vars(cls).items()):
                if isinstance(fn, types.FunctionType) and fn.__code__.co_filename == "<string>":
                    methods.append(repr((cls.__qualname__, name, code(fn.__code__),
                        sorted((k, repr(v)) for k, v in fn.__annotations__.items()),
                        repr(fn.__defaults__), repr(fn.__kwdefaults__))))
methods.sort()
print(json.dumps({
    "methods": len(methods),
    "digest": hashlib.sha256("\n".join(methods).encode()).hexdigest(),
    "compiled_here": len(dataclass_code._learned),
    "cached": len(dataclass_code._codes),
    # model's own slot initialisers (model._stored_by_slots), kept like dataclasses' methods
    "slot_initialisers": sum("_store_" in text for text in dataclass_code._codes),
}))
"""


def _describe(cache: Path, *, switch: str | None = None) -> dict[str, object]:
    env = {**os.environ, "MIGDIAG_CACHE_DIR": str(cache)}
    env.pop("MIGDIAG_CODE_CACHE", None)
    if switch is not None:
        env["MIGDIAG_CODE_CACHE"] = switch
    done = subprocess.run(
        [sys.executable, "-c", DESCRIBE], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    described: dict[str, object] = json.loads(done.stdout)
    return described


def _cache_file(cache: Path) -> Path:
    (found,) = cache.glob("dataclass-code-*.marshal")
    return found


def test_cached_methods_are_the_methods_compiled_at_start_up(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    compiled = _describe(cache, switch="0")  # the cache off: dataclasses compiles each text
    assert compiled["cached"] == 0 and not cache.exists()
    assert isinstance(compiled["methods"], int) and compiled["methods"] > 300

    cold = _describe(cache)  # compiles each text once, then files the code at exit
    assert cold["digest"] == compiled["digest"]
    assert cold["compiled_here"] == cold["cached"] and cold["cached"] > 0
    filed = marshal.loads(_cache_file(cache).read_bytes())
    assert len(filed) == cold["cached"]

    warm = _describe(cache)  # every method from the file, nothing compiled
    assert warm["digest"] == compiled["digest"]
    assert warm["compiled_here"] == 0 and warm["cached"] == cold["cached"]
    assert isinstance(warm["slot_initialisers"], int) and warm["slot_initialisers"] >= 13


def test_a_damaged_cache_file_is_compiled_again_and_replaced(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    reference = _describe(cache, switch="0")
    _describe(cache)
    damaged = _cache_file(cache)
    damaged.write_bytes(damaged.read_bytes()[:1000])  # cut short, as a full disk leaves it
    again = _describe(cache)
    assert again["digest"] == reference["digest"]
    assert again["compiled_here"] == again["cached"]  # nothing usable was read
    assert len(marshal.loads(damaged.read_bytes())) == again["cached"]  # written whole again


OTHERS = r"""
import dataclasses
import migdiag.model

@dataclasses.dataclass(frozen=True)
class NotMigdiags:
    a_field_only_this_test_names: int = 0

assert NotMigdiags(1) == NotMigdiags(1)
# Made as without migdiag: no future flag of migdiag's leaks into its methods' compiling.
assert NotMigdiags.__init__.__annotations__["a_field_only_this_test_names"] is int
"""


def test_only_migdiags_classes_are_cached_and_others_made_as_before(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = {**os.environ, "MIGDIAG_CACHE_DIR": str(cache)}
    env.pop("MIGDIAG_CODE_CACHE", None)
    done = subprocess.run([sys.executable, "-c", OTHERS], cwd=ROOT, env=env, capture_output=True)
    assert done.returncode == 0, done.stderr[-2000:]
    texts = marshal.loads(_cache_file(cache).read_bytes())
    assert texts and not any("a_field_only_this_test_names" in text for text in texts)


def test_a_cache_grown_past_its_bound_keeps_what_a_run_used(tmp_path: Path) -> None:
    """Classes of older versions pile up as their fields change; past the bound, the next
    run that writes keeps only the texts it made methods of."""
    cache = tmp_path / "cache"
    cold = _describe(cache)
    filed = _cache_file(cache)
    stale = {f"def stale_{i}(): pass": compile("pass", "<string>", "exec") for i in range(2000)}
    current = marshal.loads(filed.read_bytes())
    some = dict(list(current.items())[: len(current) // 2])  # the others are compiled again
    filed.write_bytes(marshal.dumps({**stale, **some}))
    again = _describe(cache)
    assert again["digest"] == cold["digest"]
    assert again["compiled_here"] == len(current) - len(some)
    assert set(marshal.loads(filed.read_bytes())) == set(current)
