"""The corroboration hook: a configuration finding moves only its own hosts' diagnoses of
the same cause, up when it supports the cause, down when it rules the cause out."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from ps_snapshots import host_snapshots, write_host

from migdiag.api import Options, analyze
from migdiag.diagnose.corroborate import LOWER, RAISE, corroborate
from migdiag.model import ConfigEvidence, ConfigFinding, MigrationResult
from migdiag.report import RENDERERS, RenderOptions

ROOT = Path(__file__).resolve().parents[2]
SEED_LOGS = ROOT / "sample_logs" / "seed-mtu-reset"


def _config(cause: str, effect: str, hosts: tuple[str, ...]) -> ConfigFinding:
    return ConfigFinding(
        id="r", cause=cause, title="t", severity="error", effect=effect, hosts=hosts,
        evidence=tuple(ConfigEvidence(h, "Get-VMHost", "P", "v") for h in hosts),
        explanation="e", checks=(), remediation=(),
    )  # fmt: skip


def _seed_result() -> MigrationResult:
    (result,) = analyze([str(SEED_LOGS)], Options(jobs=1)).results
    assert result.diagnosis is not None and result.diagnosis.cause == "mtu-mismatch"
    return result


def test_supporting_finding_raises_only_its_cause() -> None:
    result = _seed_result()
    base = result.diagnosis
    assert base is not None
    after = corroborate(result, [_config("mtu-mismatch", "supports", ("SRV1", "SRV2"))])
    assert after.diagnosis is not None
    assert after.diagnosis.confidence == round(min(1.0, base.confidence + RAISE), 4)
    other = corroborate(result, [_config("insufficient-memory", "supports", ("SRV2",))])
    assert other.diagnosis == base


def test_ruling_out_lowers_and_other_hosts_do_not_count() -> None:
    result = _seed_result()
    base = result.diagnosis
    assert base is not None
    lowered = corroborate(result, [_config("mtu-mismatch", "rules-out", ("SRV1", "SRV2"))])
    assert lowered.diagnosis is not None
    assert lowered.diagnosis.confidence == round(base.confidence - LOWER, 4)
    elsewhere = corroborate(result, [_config("mtu-mismatch", "supports", ("HV07", "HV08"))])
    assert elsewhere == result


def test_hostile_snapshot_text_is_shown_inert(tmp_path: Path) -> None:
    payload = '<img src=x onerror="window.__pwned=1">\x1b[31m[bold]x[/bold]'
    for host, size in (("SRV1", 9014), ("SRV2", 1514)):
        snaps = host_snapshots(host, jumbo=(size,))
        for record in snaps["Get-NetAdapterAdvancedProperty"]:
            record["DisplayName"] = payload
        snaps["Get-VMSwitch"][0]["Name"] = payload + host
        write_host(tmp_path, host, snaps)
    analysis = analyze(
        [str(ROOT / "sample_logs" / "seed-mtu-reset"), str(tmp_path)], Options(jobs=1)
    )
    assert "virtual-switch-names-differ" in {f.id for f in analysis.configuration.findings}
    plain = RenderOptions(width=100, color=False)
    terminal = RENDERERS["terminal"](analysis, plain)
    assert "\x1b" not in terminal and "[bold]x[/bold]" in terminal
    html = RENDERERS["html"](analysis, plain)
    assert "<img src=x" not in html and "&lt;img src=x" in html
    markdown = RENDERERS["markdown"](analysis, plain)
    assert not re.search(r"(?<!&lt;)<img", markdown)
    doc = json.loads(RENDERERS["json"](analysis, plain))
    values = {e["value"] for f in doc["configuration"]["findings"] for e in f["evidence"]}
    assert any(v.startswith("<img src=x") for v in values)  # JSON keeps it verbatim
    assert dataclasses.is_dataclass(analysis.configuration)


def _case_with_snapshots(
    tmp_path: Path, case: str, snapshots: dict[str, dict[str, object]]
) -> tuple[MigrationResult, set[str]]:
    """A signature case's HV01 -> HV02 failure, with both hosts' snapshots (keyword
    arguments of ``host_snapshots`` per host): its result and the rules that held."""
    import yaml

    from migdiag.synth import synthesize
    from migdiag.synth.scenario import parse_scenario

    path = ROOT / "tests" / "signatures" / case / "positive.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.pop("expect")
    synthesize(parse_scenario(data), tmp_path / "logs")
    for host in ("HV01", "HV02"):
        write_host(tmp_path / "config", host, host_snapshots(host, **snapshots.get(host, {})))
    analysis = analyze([str(tmp_path / "logs"), str(tmp_path / "config")], Options(jobs=1))
    (result,) = analysis.results
    return result, {f.id for f in analysis.configuration.findings}


def _refused_with_snapshots(tmp_path: Path, disabled_on: str | None) -> MigrationResult:
    """A connection refused HV01 -> HV02 (its signature case), with both hosts' snapshots;
    live migration disabled on ``disabled_on``."""
    snapshots: dict[str, dict[str, object]] = (
        {disabled_on: {"migration_enabled": False}} if disabled_on else {}
    )
    result, held = _case_with_snapshots(tmp_path, "connection-refused", snapshots)
    assert result.diagnosis is not None and result.diagnosis.cause == "connection-refused"
    assert ("migration-disabled" in held) == (disabled_on is not None)
    return result


def test_a_destination_rule_corroborates_only_the_destination(tmp_path: Path) -> None:
    # Migration disabled on the destination explains the refusal; disabled on the source
    # (which did connect, and was refused) says nothing about it.
    plain = _refused_with_snapshots(tmp_path / "none", None).diagnosis
    on_destination = _refused_with_snapshots(tmp_path / "dst", "HV02").diagnosis
    on_source = _refused_with_snapshots(tmp_path / "src", "HV01").diagnosis
    assert plain is not None and on_destination is not None and on_source is not None
    assert on_destination.confidence == round(min(1.0, plain.confidence + RAISE), 4)
    assert any("migration-disabled" in n for n in on_destination.notes)
    assert on_source.confidence == plain.confidence
    assert not any("migration-disabled" in n for n in on_source.notes)


def test_a_pair_rule_corroborates_only_its_direction(tmp_path: Path) -> None:
    # APP01's configuration version (10.0) is above what an older host supports (8.0): that
    # explains its move from the newer host to the older one, not a move the other way.
    newer = {"vms": (("APP01", "10.0", True),)}
    older = {"supported": ("5.0", "8.0"), "vms": ()}
    forward, held = _case_with_snapshots(
        tmp_path / "fwd", "config-version-incompatible", {"HV01": newer, "HV02": older}
    )
    assert "config-version-above-destination" in held
    backward, held = _case_with_snapshots(
        tmp_path / "back", "config-version-incompatible", {"HV01": older, "HV02": newer}
    )
    assert "config-version-above-destination" in held  # it holds, from HV02 towards HV01
    assert forward.diagnosis is not None and backward.diagnosis is not None
    assert forward.diagnosis.cause == backward.diagnosis.cause == "config-version-incompatible"
    assert any("config-version-above-destination" in n for n in forward.diagnosis.notes)
    assert not any("config-version-above-destination" in n for n in backward.diagnosis.notes)
    assert forward.diagnosis.confidence == round(min(1.0, backward.diagnosis.confidence + RAISE), 4)
