"""The compiled speed rules: parsed from speed_rules/*.yaml once, then served from the user's
cache; an edited rule, or a damaged cache file, is parsed afresh; a warm analysis that finds
a drain imports no YAML parser."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from migdiag import speed
from migdiag.compiled import ENV_CACHE_DIR

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"


@pytest.fixture
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the shipped rules, a cache of the test's own, and no memo."""
    monkeypatch.setenv(ENV_CACHE_DIR, str(tmp_path / "cache"))
    copy = tmp_path / "speed_rules"
    shutil.copytree(speed.rules_dir(), copy)
    monkeypatch.setattr(speed, "rules_dir", lambda: copy)
    speed.builtin_rules.cache_clear()
    yield copy
    speed.builtin_rules.cache_clear()


def test_the_cached_rules_equal_the_parsed_ones(rules: Path, tmp_path: Path) -> None:
    parsed = speed.builtin_rules()
    assert len(parsed) >= 5
    [pickled] = (tmp_path / "cache").glob("speed-rules-*.pickle")
    speed.builtin_rules.cache_clear()
    assert speed.builtin_rules() == parsed
    assert pickled.stat().st_mode & 0o077 == 0, "the cache is the user's own"


def test_an_edited_rule_is_read_again(rules: Path) -> None:
    first = speed.builtin_rules()[0]
    path = rules / f"{first.id}.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(f"title: {first.title}", "title: Edited title"), "utf-8")
    speed.builtin_rules.cache_clear()
    assert speed.builtin_rules()[0].title == "Edited title"


def test_a_broken_rule_is_refused_even_with_a_cache(rules: Path) -> None:
    speed.builtin_rules()
    path = sorted(rules.glob("*.yaml"))[0]
    path.write_text("id: [unclosed\n", encoding="utf-8")
    speed.builtin_rules.cache_clear()
    with pytest.raises(speed.SignatureError):
        speed.builtin_rules()


def test_a_damaged_cache_file_is_rebuilt(rules: Path, tmp_path: Path) -> None:
    parsed = speed.builtin_rules()
    [pickled] = (tmp_path / "cache").glob("speed-rules-*.pickle")
    pickled.write_bytes(pickled.read_bytes()[:100])  # cut short, as by a full disk
    speed.builtin_rules.cache_clear()
    assert speed.builtin_rules() == parsed


def test_a_warm_drain_analysis_parses_no_yaml(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from migdiag.api import Options, analyze\n"
        f"analysis = analyze([{str(SAMPLES / 'healthy-drain')!r}], Options(jobs=1))\n"
        "assert analysis.drains\n"
        "print('yaml' in sys.modules)\n"
    )
    env = {**os.environ, ENV_CACHE_DIR: str(tmp_path / "cache")}
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        ).stdout.strip()
        for _ in range(2)
    ]
    assert runs == ["True", "False"]  # the first run parses and files; the second does not
