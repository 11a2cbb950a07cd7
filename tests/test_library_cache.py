"""The compiled signature library: served from the user's cache while nothing changed,
rebuilt (and a user's folder checked again) as soon as a file changes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from migdiag.diagnose.loader import ENV_CACHE_DIR, builtin_dir, load_library
from migdiag.errors import SignatureError


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(ENV_CACHE_DIR, str(folder))
    return folder


def _one_user_signature(folder: Path) -> Path:
    folder.mkdir()
    source = builtin_dir() / "firewall-blocked-socket.yaml"
    text = source.read_text(encoding="utf-8").replace(
        "id: firewall-blocked-socket", "id: desk-firewall"
    )
    path = folder / "desk-firewall.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_second_load_comes_from_the_cache_and_equals_the_first(cache: Path) -> None:
    first = load_library()
    [pickled] = cache.glob("signatures-*.pickle")
    assert pickled.stat().st_mode & 0o077 == 0, "the cache is the user's own"
    assert load_library() == first


def test_a_fresh_process_loads_the_cached_library_without_the_schema_validator(
    cache: Path,
) -> None:
    load_library()
    code = (
        "import sys; from migdiag.diagnose.loader import load_library; lib = load_library(); "
        "print(len(lib.signatures), 'jsonschema' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert int(out[0]) == len(load_library().signatures) and out[1] == "False"


def test_a_corrupt_cache_file_is_ignored(cache: Path) -> None:
    expected = load_library()
    [pickled] = cache.glob("signatures-*.pickle")
    pickled.write_bytes(b"not a pickle")
    assert load_library() == expected


def test_an_edited_user_signature_is_checked_again(cache: Path, tmp_path: Path) -> None:
    path = _one_user_signature(tmp_path / "desk")
    library = load_library([path.parent])
    assert library.get("desk-firewall") is not None
    assert load_library([path.parent]) == library  # served from the cache
    path.write_text(path.read_text(encoding="utf-8") + "colour: red\n", encoding="utf-8")
    with pytest.raises(SignatureError, match="unknown key 'colour'"):
        load_library([path.parent])


def test_a_folder_without_signatures_is_an_error(cache: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SignatureError, match="no signature files"):
        load_library([empty])


def test_an_unwritable_cache_costs_nothing_but_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(ENV_CACHE_DIR, str(blocker / "cache"))  # cannot be created
    assert load_library().get("mtu-mismatch-reset") is not None


def test_the_shipped_library_is_not_modified_by_loading(cache: Path, tmp_path: Path) -> None:
    before = {p.name: p.read_bytes() for p in builtin_dir().glob("*.yaml")}
    load_library()
    shutil.rmtree(cache)
    load_library()
    assert {p.name: p.read_bytes() for p in builtin_dir().glob("*.yaml")} == before


def test_the_library_loaded_while_workers_read_is_the_one_analyze_uses(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With worker processes, the shipped library is loaded in the parent's side thread while
    # they read; a failure there is not lost: analyze loads it again, and that raises.
    import migdiag.diagnose.loader as loader
    from migdiag.api import Options, analyze

    samples = str(Path(__file__).resolve().parents[1] / "sample_logs" / "healthy-drain")
    here = analyze([samples], Options(jobs=1))
    assert analyze([samples], Options(jobs=2)) == here

    calls: list[str] = []

    def broken(extra_dirs: object = ()) -> object:
        import threading

        calls.append(threading.current_thread().name)
        raise SignatureError(["a library that cannot load"])

    monkeypatch.setattr(loader, "load_library", broken)
    with pytest.raises(SignatureError):
        analyze([samples], Options(jobs=2))
    assert calls[-1] == "MainThread" and len(calls) == 2  # the side thread's, then analyze's
