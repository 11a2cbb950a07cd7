"""Busy providers are kept only for the events that say something (catalog ``KEPT_IDS``).

Group Policy logs every background refresh, thousands of records a day on a domain member,
whatever changed.  A refresh around a failure is no evidence that policy changed: only
policy newly applied (1502/1503) or failing to apply corroborates a cause.  Read from real
EVTX files written by synth, through the whole pipeline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from migdiag.api import Options, analyze, read_events
from migdiag.catalog import KEPT_IDS, default_catalog
from migdiag.diagnose.loader import load_file
from migdiag.model import Finding, Outcome
from migdiag.synth import synthesize
from migdiag.synth.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT.parent / "shared" / "reference" / "message-tables"
GROUP_POLICY = "Microsoft-Windows-GroupPolicy"


def _firewall_case(*policy_ids: int) -> dict[str, Any]:
    path = ROOT / "tests" / "signatures" / "firewall-blocked-socket" / "positive.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.pop("expect")
    steps = list(data["steps"])
    for n, event_id in enumerate(policy_ids):
        event = {
            "host": "HV01",
            "log": "system",
            "provider": GROUP_POLICY,
            "id": event_id,
            "level": 4,
            "at": 5 + n,
            "fields": ["1"],
        }
        steps.append({"event": event})
    data["steps"] = steps
    return data


def _diagnosis(tmp_path: Path, data: dict[str, Any]) -> Finding:
    out = tmp_path / "logs"
    synthesize(parse_scenario(data), out)
    analysis = analyze([str(out)], Options(jobs=1))
    [failed] = [r for r in analysis.results if r.migration.outcome is Outcome.FAILED]
    assert failed.diagnosis is not None
    return failed.diagnosis


def test_a_background_refresh_does_not_corroborate(tmp_path: Path) -> None:
    plain = _diagnosis(tmp_path / "plain", _firewall_case())
    # Session started, account lookup, session completed: a routine refresh.
    refresh = _diagnosis(tmp_path / "refresh", _firewall_case(4117, 5320, 5117))
    assert refresh.signature_id == plain.signature_id == "firewall-blocked-socket"
    assert refresh.confidence == plain.confidence
    assert not any(e.event.provider == GROUP_POLICY for e in refresh.corroboration)


def test_policy_newly_applied_corroborates(tmp_path: Path) -> None:
    plain = _diagnosis(tmp_path / "plain", _firewall_case())
    applied = _diagnosis(tmp_path / "applied", _firewall_case(5320, 1502))
    assert applied.signature_id == "firewall-blocked-socket"
    assert applied.confidence > plain.confidence
    assert [
        e.event.event_id for e in applied.corroboration if e.event.provider == GROUP_POLICY
    ] == [1502]


def test_refresh_records_are_counted_not_kept(tmp_path: Path) -> None:
    out = tmp_path / "logs"
    synthesize(parse_scenario(_firewall_case(4117, 5320, 5117, 1096)), out)
    reports, events, _ = read_events([str(out)], Options(jobs=1))
    kept = [e.event_id for e in events if e.provider == GROUP_POLICY]
    assert kept == [1096]
    assert sum(r.records for r in reports) - sum(r.relevant for r in reports) >= 3


def test_a_signature_naming_an_unread_id_is_refused(tmp_path: Path) -> None:
    source = ROOT / "signatures" / "firewall-blocked-socket.yaml"
    text = source.read_text(encoding="utf-8").replace(
        "      provider: Microsoft-Windows-GroupPolicy\n",
        "      provider: Microsoft-Windows-GroupPolicy\n      id: 5320\n",
    )
    assert "id: 5320" in text
    path = tmp_path / "firewall-blocked-socket.yaml"
    path.write_text(text, encoding="utf-8")
    _, problems = load_file(path, default_catalog())
    assert any("5320 is never read" in p for p in problems), problems


@pytest.mark.skipif(not TABLES.is_dir(), reason="shared/reference/message-tables is absent")
def test_kept_ids_are_windows_own() -> None:
    for provider, ids in KEPT_IDS.items():
        name = default_catalog().providers.get(provider, provider)
        for table in TABLES.glob("*--*.tsv"):
            if table.stem.split("--")[1].lower() != provider:
                continue
            known = {
                int(line.split("\t")[0])
                for line in table.read_text(encoding="utf-8").splitlines()[1:]
                if line.split("\t")[0].isdigit()
            }
            assert ids <= known, f"{name}: {sorted(ids - known)} not in {table.name}"
