"""Speed rules: every rule has a positive and a negative case and each behaves; the seed's
numbers hold; a drain is never slow because of concurrency alone (issue #18)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from migdiag.speed import builtin_rules, load_rule, rules_dir
from migdiag.speed_cases import drains_of, run_case

CASES = Path(__file__).parent / "speed_rules"
CASE_FILES = sorted(CASES.glob("*/*.yaml"))


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_case(path: Path) -> None:
    case = run_case(path)
    assert case.drains, "the scenario must make a drain"
    found = [f.rule_id for d in case.drains for f in d.findings]
    assert case.fired is case.fires, f"{case.rule_id} expected fires={case.fires}, got {found}"


def test_every_rule_has_positive_and_negative_cases() -> None:
    for rule in builtin_rules():
        stems = {p.stem.split("-")[0] for p in (CASES / rule.id).glob("*.yaml")}
        assert {"positive", "negative"} <= stems, rule.id


def test_every_case_folder_names_a_rule() -> None:
    ids = {r.id for r in builtin_rules()}
    assert {p.parent.name for p in CASE_FILES} <= ids


def test_every_rule_names_its_check_fix_and_advice() -> None:
    for rule in builtin_rules():
        assert rule.checks and rule.remediation and rule.advice and rule.evidence, rule.id


def test_a_rule_with_an_unknown_figure_or_duplicate_key_is_refused(tmp_path: Path) -> None:
    text = (rules_dir() / "long-blackouts.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "long-blackouts.yaml"
    bad.write_text(text.replace("long_blackouts: {min: 1}", "long_blackoutz: {min: 1}"))
    rule, problems = load_rule(bad)
    assert rule is None and any("unknown figure 'long_blackoutz'" in p for p in problems)
    bad.write_text(text + "title: again\n")
    rule, problems = load_rule(bad)
    assert rule is None and any("duplicate key 'title'" in p for p in problems)


def _scenario(n: int, parallel: int, **drain: Any) -> dict[str, Any]:
    sizes = (4, 12, 8, 16, 6, 10, 2, 14)
    return {
        "name": f"drain-{n}x{parallel}",
        "start": "2024-03-01T09:00:00Z",
        "hosts": [{"name": "HV01"}, {"name": "HV02"}],
        "vms": [
            {
                "name": f"VM{i:02d}",
                "id": f"00000000-0000-4000-8000-{i:012d}",
                "memory_gb": sizes[i % len(sizes)],
            }
            for i in range(1, n + 1)
        ],
        "steps": [
            {"drain": {"from": "HV01", "to": "HV02", "at": 10, "parallel": parallel, **drain}}
        ],
    }


@pytest.mark.parametrize("parallel", [5, 16])
@pytest.mark.parametrize("memory", [False, True])
def test_a_healthy_wide_drain_has_no_slow_finding(parallel: int, memory: bool) -> None:
    """Regression (#18): slow-migration-concurrency called every VM of a healthy 5-wide drain
    slow.  Concurrency alone is no evidence, with or without the link model."""
    for drain in ({}, {"link_gbps": 40, "performance": "smb"}):
        data = _scenario(3 * parallel, parallel, **drain)
        data["known"] = {"memory": memory}
        (found,) = drains_of(data, "healthy")
        assert found.max_concurrent == parallel
        assert found.findings == ()


def test_seed_six_vms_of_9_gb_over_a_compression_team_is_healthy() -> None:
    """The seed: "6 VMs with 9GB of memory simultaneously were 12-14 seconds" (NIC team,
    Compression)."""
    case = yaml.safe_load((CASES / "compression-on-fast-link" / "negative.yaml").read_text())
    (found,) = drains_of(case, "seed")
    assert len(found.members) == 6 and found.max_concurrent == 6
    assert all(12 <= m.duration_s <= 14 for m in found.members)
    assert 12 <= found.wall_s <= 14
    assert found.findings == ()


def test_seed_smb_cap_at_1_gbps_is_named() -> None:
    case = yaml.safe_load((CASES / "throughput-ceiling" / "positive.yaml").read_text())
    (found,) = drains_of(case, "cap")
    assert found.gbps is not None and 0.8 <= found.gbps <= 1.1
    (finding,) = [f for f in found.findings if f.rule_id == "throughput-ceiling"]
    assert "SMB bandwidth limit" in finding.summary
    assert any("Get-SmbBandwidthLimit" in c for c in finding.checks)
    assert any("Set-SmbBandwidthLimit" in r for r in finding.remediation)


def test_too_many_at_once_advises_a_lower_number_with_its_reason() -> None:
    case = yaml.safe_load((CASES / "too-many-at-once" / "positive.yaml").read_text())
    (found,) = drains_of(case, "knee")
    (finding,) = found.findings
    assert finding.summary.startswith("8 at once is past what the link carries")
    best = int(finding.advice.split("MaximumVirtualMachineMigrations to ")[1].split(":")[0])
    assert 2 <= best < 8
    assert f"-MaximumVirtualMachineMigrations {best}" in finding.remediation[0]


def test_slow_outlier_names_the_vm_and_its_migration() -> None:
    case = yaml.safe_load((CASES / "slow-outlier" / "positive.yaml").read_text())
    (found,) = drains_of(case, "outlier")
    (finding,) = found.findings
    (named,) = finding.migrations
    (member,) = [m for m in found.members if m.migration_id == named]
    assert member.vm_name == "VM05" and finding.summary.startswith("VM05 took")


def test_reports_page_documents_every_speed_rule() -> None:
    page = (Path(__file__).parents[1] / "docs" / "reports.md").read_text(encoding="utf-8")
    for rule in builtin_rules():
        assert f"`{rule.id}`" in page, rule.id
