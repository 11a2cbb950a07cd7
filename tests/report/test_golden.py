"""Golden outputs: pinned width, no colour, fixed clock; JSON against the shipped schema."""

from __future__ import annotations

import dataclasses
import json

import jsonschema
import pytest
from golden_files import check_golden
from report_fixtures import PLAIN

from migdiag.model import Analysis
from migdiag.report import RENDERERS, SCHEMA_VERSION, load_schema
from migdiag.report.json_report import to_json_obj


@pytest.mark.parametrize(
    ("fmt", "golden"),
    [("terminal", "standard.txt"), ("json", "standard.json"), ("markdown", "standard.md")],
)
def test_golden(analysis: Analysis, fmt: str, golden: str) -> None:
    check_golden(golden, RENDERERS[fmt](analysis, PLAIN))


def test_terminal_quiet_golden(analysis: Analysis) -> None:
    check_golden(
        "standard-quiet.txt",
        RENDERERS["terminal"](analysis, dataclasses.replace(PLAIN, quiet=True)),
    )


def test_terminal_narrow_golden(analysis: Analysis) -> None:
    check_golden(
        "standard-60.txt", RENDERERS["terminal"](analysis, dataclasses.replace(PLAIN, width=60))
    )


def test_json_validates_against_shipped_schema(analysis: Analysis, hostile: Analysis) -> None:
    validator = jsonschema.Draft202012Validator(load_schema())
    jsonschema.Draft202012Validator.check_schema(load_schema())
    for a in (analysis, hostile):
        doc = json.loads(RENDERERS["json"](a, PLAIN))
        errors = sorted(validator.iter_errors(doc), key=str)
        assert not errors, errors[0]
        assert doc["schema_version"] == SCHEMA_VERSION


def test_json_is_independent_of_options(analysis: Analysis) -> None:
    other = dataclasses.replace(PLAIN, width=40, color=True, now=None, quiet=True)
    assert RENDERERS["json"](analysis, PLAIN) == RENDERERS["json"](analysis, other)


def test_json_shape(analysis: Analysis) -> None:
    doc = to_json_obj(analysis)
    seed = doc["migrations"][0]
    assert (seed["vm_name"], seed["source"], seed["destination"]) == (
        "DidierTest01",
        "SRV1",
        "SRV2",
    )
    assert seed["source_fqdn"] == "SRV1.BLOG.COM"
    assert seed["outcome"] == "failed"
    assert seed["started"].endswith("Z")
    assert seed["diagnosis"]["signature_id"] == "mtu-mismatch"
    cited = [seed["events"][ev["event_index"]]["event_id"] for ev in seed["diagnosis"]["evidence"]]
    assert cited == [22038, 22040, 22040, 21502]
    assert [m["status"] for m in doc["migrations"]] == ["failed", "slow", "failed", "ok"]
    assert doc["summary"]["unknown_cause"] == 1
    assert doc["migrations"][2]["diagnosis"] is None


def test_corrected_times_are_used(analysis: Analysis) -> None:
    """SRV2 runs 2 s fast in the slow scenario: the report orders by the corrected clock."""
    slow = to_json_obj(analysis)["migrations"][1]
    srv2 = [e for e in slow["events"] if e["host"] == "SRV2"]
    assert srv2[0]["time"] != srv2[0]["corrected_time"]
    times = [e["corrected_time"] for e in slow["events"]]
    assert times == sorted(times)


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_deterministic(analysis: Analysis, fmt: str) -> None:
    assert RENDERERS[fmt](analysis, PLAIN) == RENDERERS[fmt](analysis, PLAIN)


def test_color_output_has_ansi_and_plain_has_none(analysis: Analysis) -> None:
    colour = RENDERERS["terminal"](analysis, dataclasses.replace(PLAIN, color=True))
    plain = RENDERERS["terminal"](analysis, PLAIN)
    assert "\x1b[" in colour
    assert "\x1b" not in plain


def test_empty_analysis_renders() -> None:
    empty = Analysis(inputs=(), results=())
    for fmt, render in RENDERERS.items():
        out = render(empty, PLAIN)
        assert out, fmt
    jsonschema.validate(json.loads(RENDERERS["json"](empty, PLAIN)), load_schema())
