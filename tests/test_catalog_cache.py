"""The compiled event catalog: built from data/catalog.yaml and data/phrases.yaml once,
then served from the user's cache; an edit to either file, or a damaged cache file, builds
it afresh."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from migdiag import catalog as catalog_module
from migdiag.catalog import shipped_catalog
from migdiag.compiled import ENV_CACHE_DIR


@pytest.fixture
def sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """Copies of the shipped catalog files, a cache of the test's own, and no memo."""
    monkeypatch.setenv(ENV_CACHE_DIR, str(tmp_path / "cache"))
    copies = []
    for original in catalog_module._SOURCES[:2]:
        copy = tmp_path / original.name
        shutil.copy(original, copy)
        copies.append(copy)
    monkeypatch.setattr(catalog_module, "_SOURCES", (*copies, catalog_module._SOURCES[2]))
    shipped_catalog.cache_clear()
    yield copies[0], copies[1]
    shipped_catalog.cache_clear()


def test_the_cached_catalog_equals_the_built_one(
    sources: tuple[Path, Path], tmp_path: Path
) -> None:
    built = shipped_catalog()
    [pickled] = (tmp_path / "cache").glob("catalog-*.pickle")
    shipped_catalog.cache_clear()
    assert shipped_catalog() == built
    assert pickled.stat().st_mode & 0o077 == 0, "the cache is the user's own"


def test_an_edited_phrase_file_is_read_again(sources: tuple[Path, Path]) -> None:
    _, phrases = sources
    assert "Live-Verschiebung" not in shipped_catalog().migration_words
    text = phrases.read_text(encoding="utf-8")
    phrases.write_text(
        text.replace('de: ["Livemigration",', 'de: ["Live-Verschiebung", "Livemigration",'),
        encoding="utf-8",
    )
    shipped_catalog.cache_clear()
    assert "Live-Verschiebung" in shipped_catalog().migration_words


def test_a_damaged_cache_file_is_rebuilt(sources: tuple[Path, Path], tmp_path: Path) -> None:
    built = shipped_catalog()
    [pickled] = (tmp_path / "cache").glob("catalog-*.pickle")
    pickled.write_bytes(pickled.read_bytes()[:100])  # cut short, as by a full disk
    shipped_catalog.cache_clear()
    assert shipped_catalog() == built
