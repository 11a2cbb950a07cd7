"""The seed's case with its configuration: the jumbo failure's logs (sample_logs/seed-mtu-reset)
and both hosts' snapshots, zipped per host as the collector does.  The mismatch must be named
in ``configuration.findings`` with both hosts, and it must raise the failure's MTU confidence;
equal jumbo sizes must lower it and point at the switches."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from jsonschema import Draft202012Validator
from ps_snapshots import host_snapshots, write_host

from common import run_migdiag
from migdiag.api import Options, analyze
from migdiag.model import Analysis, Finding
from migdiag.report import load_schema

ROOT = Path(__file__).resolve().parents[2]
SEED_LOGS = ROOT / "sample_logs" / "seed-mtu-reset"
SEED_CONFIG = Path(__file__).resolve().parent / "data" / "seed-jumbo"


def _bundle(tmp_path: Path, config_root: Path) -> list[str]:
    """One zip per host, laid out as Collect-MigDiag.ps1 writes it."""
    zips = []
    for host in ("SRV1", "SRV2"):
        target = tmp_path / f"{host}-20261207-020000.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
            for log in sorted((SEED_LOGS / host).glob("*.evtx")):
                z.write(log, f"{host}/logs/{host}-{log.name}")
            for snap in sorted((config_root / host / "config").glob("*.json")):
                z.write(snap, f"{host}/config/{snap.name}")
        zips.append(str(target))
    return zips


def _mtu(analysis: Analysis) -> Finding:
    (result,) = [r for r in analysis.results if r.migration.outcome == "failed"]
    assert result.diagnosis is not None
    return next(f for f in result.findings if f.cause == "mtu-mismatch")


def test_seed_bundle_names_the_mismatch_and_raises_mtu_confidence(tmp_path: Path) -> None:
    logs_only = analyze([str(SEED_LOGS)], Options(jobs=1))
    with_config = analyze(_bundle(tmp_path, SEED_CONFIG), Options(jobs=1))

    assert logs_only.configuration.findings == ()
    (mismatch,) = [f for f in with_config.configuration.findings if f.cause == "mtu-mismatch"]
    assert mismatch.id == "jumbo-frames-differ" and mismatch.effect == "supports"
    assert mismatch.hosts == ("SRV1", "SRV2")
    assert {(e.host, e.value) for e in mismatch.evidence} == {("SRV1", "9014"), ("SRV2", "1514")}

    before, after = _mtu(logs_only), _mtu(with_config)
    assert after.confidence > before.confidence
    assert any("jumbo-frames-differ" in n and "9014" in n for n in after.notes)
    result = with_config.results[0]
    assert result.diagnosis is not None and result.diagnosis.cause == "mtu-mismatch"


def test_equal_jumbo_sizes_lower_mtu_confidence_and_point_at_the_switches(tmp_path: Path) -> None:
    equal = tmp_path / "equal"
    for host in ("SRV1", "SRV2"):
        write_host(equal, host, host_snapshots(host, jumbo=(9014,)))
    logs_only = analyze([str(SEED_LOGS)], Options(jobs=1))
    with_config = analyze(_bundle(tmp_path, equal), Options(jobs=1))
    before, after = _mtu(logs_only), _mtu(with_config)
    assert after.confidence < before.confidence
    assert any("on the switches" in n for n in after.notes)


def test_json_report_carries_the_configuration(tmp_path: Path) -> None:
    result = run_migdiag("analyze", *_bundle(tmp_path, SEED_CONFIG), "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    Draft202012Validator(load_schema()).validate(report)
    findings = report["configuration"]["findings"]
    mismatch = next(f for f in findings if f["id"] == "jumbo-frames-differ")
    assert mismatch["cause"] == "mtu-mismatch" and mismatch["hosts"] == ["SRV1", "SRV2"]
    assert {"host": "SRV2", "cmdlet": "Get-NetAdapterAdvancedProperty"}.items() <= next(
        e for e in mismatch["evidence"] if e["host"] == "SRV2"
    ).items()
    assert set(mismatch) >= {
        "id", "cause", "severity", "hosts", "evidence", "explanation", "checks", "remediation"
    }  # fmt: skip
