"""Triage ranks cases worst first and links one report per case."""

from __future__ import annotations

import dataclasses

from golden_files import check_golden
from report_fixtures import (
    HEALTHY_SCENARIO,
    PLAIN,
    SEED,
    SLOW_SCENARIO,
    UNKNOWN_SCENARIO,
    build_analysis,
    build_result,
    long_blackout_finding,
    mtu_finding,
)

from migdiag.report.triage import (
    Urgency,
    render_index_html,
    render_triage_table,
    safe_href,
    triage_rows,
)
from migdiag.synth.scenario import load_scenario, parse_scenario


def _cases() -> list[tuple[str, object]]:
    seed = build_result(load_scenario(SEED), mtu_finding, cite=(22038,))
    slow = build_result(parse_scenario(SLOW_SCENARIO), long_blackout_finding, cite=(20417,))
    unknown = build_result(parse_scenario(UNKNOWN_SCENARIO))
    healthy = build_result(parse_scenario(HEALTHY_SCENARIO))
    return [
        ("acme-healthy", build_analysis([healthy])),
        ("contoso-slow", build_analysis([slow, healthy])),
        ("fabrikam-mtu", build_analysis([seed])),
        ("<b>tailspin</b>", build_analysis([unknown, seed])),
    ]


def test_rank_order() -> None:
    rows = triage_rows(_cases())  # type: ignore[arg-type]
    assert [r.case for r in rows] == [
        "<b>tailspin</b>",
        "fabrikam-mtu",
        "contoso-slow",
        "acme-healthy",
    ]
    assert [r.urgency for r in rows] == [u for u in Urgency if u is not Urgency.NO_LOGS]
    assert rows[1].top_signature == "mtu-mismatch"
    assert rows[2].top_cause == "Blackout longer than expected"
    assert rows[3].top_cause is None


def test_triage_table_golden() -> None:
    rows = triage_rows(_cases())  # type: ignore[arg-type]
    check_golden("triage.txt", render_triage_table(rows, PLAIN))


def test_rank_ignores_input_order() -> None:
    cases = _cases()
    assert triage_rows(cases) == triage_rows(list(reversed(cases)))  # type: ignore[arg-type]


def test_index_links_are_relative_and_escaped() -> None:
    rows = triage_rows(_cases())  # type: ignore[arg-type]
    links = {r.case: f"{r.case}.html" for r in rows}
    links["acme-healthy"] = "javascript:alert(1)"
    html = render_index_html(rows, links)
    assert "<b>tailspin" not in html
    assert "&lt;b&gt;tailspin&lt;/b&gt;" in html
    assert 'href="javascript' not in html
    assert 'href="./javascript%3Aalert%281%29"' in html
    assert safe_href("../x/y z.html") == "../x/y%20z.html"
    assert dataclasses.is_dataclass(rows[0])
