"""The committed sample logs are exactly what `migdiag synth` writes from their scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest

from migdiag.synth import synthesize_file

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"
SCENARIOS = sorted(SAMPLES.glob("*/scenario.yaml"))


def test_there_are_three_samples() -> None:
    assert [p.parent.name for p in SCENARIOS] == [
        "healthy-drain",
        "seed-mtu-reset",
        "switch-mtu-timeout",
    ]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.parent.name)
def test_sample_is_byte_identical_to_a_fresh_synth(scenario: Path, tmp_path: Path) -> None:
    written = synthesize_file(scenario, tmp_path)
    fresh = {p.relative_to(tmp_path): p.read_bytes() for p in written}
    committed = {
        p.relative_to(scenario.parent): p.read_bytes() for p in scenario.parent.rglob("*.evtx")
    }
    assert sorted(fresh) == sorted(committed)
    for name, data in fresh.items():
        assert committed[name] == data, f"{scenario.parent.name}/{name} differs: re-run synth"
