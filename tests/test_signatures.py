"""The signature library: every case, the meta-tests that keep files, cases and docs in step,
the loader's located errors, and the seed's own diagnoses."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from migdiag.catalog import default_catalog
from migdiag.cli.signatures import app
from migdiag.diagnose import Library, diagnose, load_library, run_cases, validate_dir
from migdiag.diagnose.cases import case_files, migrations_of, run_case
from migdiag.diagnose.catalogue import render_catalogue
from migdiag.diagnose.loader import builtin_dir, schema, schema_text
from migdiag.errors import SignatureError
from migdiag.model import Event, MigrationResult
from migdiag.normalise import normalise
from migdiag.synth.scenario import expand, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "signatures"
CATALOG = default_catalog()


@pytest.fixture(scope="module")
def library() -> Library:
    return load_library()


def _events(data: dict[str, Any]) -> list[Event]:
    return [normalise(e, CATALOG) for e in expand(parse_scenario(data), CATALOG)]


def _diagnose_all(events: Sequence[Event], library: Library) -> list[MigrationResult]:
    return [diagnose(m, library, CATALOG, events) for m in migrations_of(events, CATALOG)]


def _scenario(failure: str | None, extra_steps: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    step: dict[str, Any] = {"vm": "APP01", "from": "HV01", "to": "HV02", "at": 10, "duration_s": 20}
    if failure:
        step["failure"] = failure
    return {
        "name": f"t-{failure}",
        "start": "2024-03-01T09:00:00Z",
        "hosts": [{"name": "HV01", "fqdn": "HV01.CORP"}, {"name": "HV02", "fqdn": "HV02.CORP"}],
        "vms": [{"name": "APP01", "id": "5B1C9E2A-3D4F-4A6B-8C7D-9E0F1A2B3C4D"}],
        "steps": [{"migrate": step}, *extra_steps],
    }


# -- every case -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", case_files(CASES), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_case(path: Path, library: Library) -> None:
    result = run_case(path, library, CATALOG)
    assert result.ok, "\n".join(result.problems)


# -- meta-tests ---------------------------------------------------------------------------------


def test_every_signature_has_positive_and_negative_cases(library: Library) -> None:
    for sig in library.signatures:
        folder = CASES / sig.id
        assert list(folder.glob("positive*.yaml")), f"{sig.id}: no positive case"
        assert list(folder.glob("negative*.yaml")), f"{sig.id}: no negative case"


def test_every_case_names_a_known_signature(library: Library) -> None:
    for folder in (p for p in CASES.iterdir() if p.is_dir()):
        assert library.get(folder.name), f"cases for unknown signature {folder.name}"
    for path in case_files(CASES):
        expect = yaml.safe_load(path.read_text(encoding="utf-8"))["expect"]
        assert library.get(str(expect.get("signature", path.parent.name))), f"{path}: unknown id"


def test_ids_are_unique_and_equal_file_stems(library: Library) -> None:
    ids = [s.id for s in library.signatures]
    assert len(ids) == len(set(ids))
    assert all(s.path.stem == s.id for s in library.signatures)
    with pytest.raises(SignatureError, match="duplicate signature id"):
        load_library([builtin_dir()])


def test_every_cause_code_has_a_signature(library: Library) -> None:
    causes = set(schema()["$defs"]["cause"]["enum"])
    assert causes <= {s.cause for s in library.signatures}


def test_run_cases_reports_unknown_signature(tmp_path: Path, library: Library) -> None:
    folder = tmp_path / "no-such-signature"
    folder.mkdir()
    (folder / "positive.yaml").write_text(
        json.dumps({**_scenario(None), "expect": {"evidence": ["HV01:20413"]}})
    )
    [result] = run_cases(tmp_path, library)
    assert not result.ok and "unknown signature" in result.problems[0]


def test_catalogue_page_is_current(library: Library) -> None:
    page = (ROOT / "docs" / "signatures.md").read_text(encoding="utf-8")
    assert page == render_catalogue(library), "regenerate: migdiag signatures catalogue"


def test_published_schema_copy_is_current() -> None:
    assert (ROOT / "docs" / "signature.schema.json").read_text(encoding="utf-8") == schema_text()


# -- loader: every problem, located -------------------------------------------------------------

BAD = """\
id: bad-one
title: A broken signature
cause: not-a-cause
severity: error
applies_to: failed
confidence: 0.5
colour: red
require:
  - why: something
    id: 22038
explanation: Long enough explanation.
checks: [{what: look}]
remediation: [{what: fix}]
title: Again
"""


def test_three_located_errors(tmp_path: Path) -> None:
    (tmp_path / "bad-one.yaml").write_text(BAD)
    problems = validate_dir(tmp_path)
    name = str(tmp_path / "bad-one.yaml")
    assert len(problems) == 3, problems
    assert any(p.startswith(f"{name}:14: duplicate key 'title'") for p in problems)
    assert any(p.startswith(f"{name}:3: cause:") and "not-a-cause" in p for p in problems)
    assert any(p.startswith(f"{name}:7: unknown key 'colour'") for p in problems)
    with pytest.raises(SignatureError) as info:
        load_library([tmp_path])
    assert len(info.value.problems) == 3
    result = CliRunner().invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 2


def test_builtin_library_validates() -> None:
    assert validate_dir(builtin_dir()) == []


# -- the seed's own cases -----------------------------------------------------------------------


def test_seed_scenario_is_mtu_mismatch(library: Library) -> None:
    scenario = load_scenario(ROOT / "sample_logs" / "seed-mtu-reset" / "scenario.yaml")
    events = [normalise(e, CATALOG) for e in expand(scenario, CATALOG)]
    [result] = _diagnose_all(events, library)
    assert result.diagnosis is not None
    assert result.diagnosis.cause == "mtu-mismatch"
    assert result.diagnosis.signature_id == "mtu-mismatch-reset"
    assert ("0x80072746", "WSAECONNRESET", CATALOG.error_codes["0x80072746"].text) in result.decoded
    assert any("ping -f -l 8972" in c for c in result.diagnosis.checks)


def test_switch_side_timeout_ranks_mtu_first(library: Library) -> None:
    [result] = _diagnose_all(_events(_scenario("connect-timeout")), library)
    causes = [f.cause for f in result.findings]
    assert causes[0] == "mtu-mismatch"
    assert "network-unreachable" in causes[1:]


def test_cluster_network_events_rank_unreachable_first(library: Library) -> None:
    cluster = [
        {
            "event": {
                "host": "HV01",
                "log": "system",
                "id": 1126,
                "at": 25,
                "level": 3,
                "fields": ["LM - HV02", "HV02", "Live Migration"],
            }
        },
    ]
    events = _events(_scenario("connect-timeout", cluster))
    [result] = _diagnose_all(events, library)
    assert result.findings[0].cause == "network-unreachable"
    assert [e.event.event_id for e in result.findings[0].corroboration] == [1126]
    assert "mtu-mismatch" in [f.cause for f in result.findings[1:]]


def test_destination_failure_beats_source_reset(library: Library) -> None:
    [result] = _diagnose_all(_events(_scenario("out-of-memory")), library)
    assert result.findings[0].cause == "insufficient-memory"
    mtu = next(f for f in result.findings[1:] if f.cause == "mtu-mismatch")
    assert mtu.confidence < result.findings[0].confidence
    assert any("lowers confidence" in c.why for c in mtu.corroboration)


def test_healthy_drain_has_no_finding(library: Library) -> None:
    data = _scenario(None)
    data["vms"] = [{"name": f"VM{i}", "id": f"00000000-0000-4000-8000-{i:012d}"} for i in range(6)]
    data["steps"] = [{"drain": {"from": "HV01", "to": "HV02", "at": 5, "parallel": 2}}]
    results = _diagnose_all(_events(data), library)
    assert len(results) == 6
    assert all(r.findings == () for r in results)


def test_unexplained_failure_is_unknown_with_codes_decoded(library: Library) -> None:
    [result] = _diagnose_all(_events(_scenario("unexplained")), library)
    assert result.diagnosis is not None
    assert (result.diagnosis.signature_id, result.diagnosis.cause) == ("unknown", "unknown")
    assert any("Get-ClusterLog" in c for c in result.diagnosis.checks)
    assert [c for c, _, _ in result.decoded] == ["0x80004005"]


def test_missing_destination_logs_are_noted(library: Library) -> None:
    data = _scenario("connection-reset")
    data["hosts"][1]["logs"] = []
    [result] = _diagnose_all(_events(data), library)
    assert result.diagnosis is not None and result.diagnosis.cause == "mtu-mismatch"
    assert any("HV02" in n for n in result.diagnosis.notes)


def test_cli_lists_and_tests(library: Library) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0 and "mtu-mismatch-reset" in listed.output
    shown = runner.invoke(app, ["show", "mtu-mismatch-reset"])
    assert shown.exit_code == 0 and "ping -f -l 8972" in shown.output
    assert runner.invoke(app, ["show", "nope"]).exit_code == 2
    tested = runner.invoke(app, ["test", str(CASES)])
    assert tested.exit_code == 0, tested.output


# -- the text: rule (migdiag explain) -----------------------------------------------------------

TEXT_BAD = """\
id: text-bad
title: A text rule that claims too much
cause: mtu-mismatch
severity: error
applies_to: failed
confidence: 0.5
require:
  - {why: something, id: 22038}
explanation: Long enough explanation.
checks: [{what: look}]
remediation: [{what: fix}]
text:
  confidence: 0.6
  one_of:
    - {why: too sure, codes: ["0x80072746"], confidence: 0.7}
    - {why: alone without a code, fragments: ["x"], alone: true}
"""


def test_text_rule_must_stay_below_the_logs(tmp_path: Path) -> None:
    (tmp_path / "text-bad.yaml").write_text(TEXT_BAD)
    problems = validate_dir(tmp_path)
    assert len(problems) == 3, problems
    assert any(":13: text.confidence 0.6 must be below" in p for p in problems)
    assert any(":15: text.one_of.0.confidence 0.7 is above the cap" in p for p in problems)
    assert any(":16: text.one_of.1: alone needs codes" in p for p in problems)


def test_catalogue_shows_text_rules(library: Library) -> None:
    page = render_catalogue(library)
    assert "From pasted text alone" in page and "What would make it sure" in page
