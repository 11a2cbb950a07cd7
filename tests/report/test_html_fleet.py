"""The HTML report's parts for a fleet, without a browser: titles, summaries, the graph."""

from __future__ import annotations

import re

from report_fixtures import PLAIN, standard_analysis

from migdiag.report import RENDERERS
from migdiag.report.html import _graph, page_title, shorten

GUID = "41EF2DB0-0C0A-12FE-25CB-C3330D937F27"


def test_summary_is_cut_between_words_never_inside_a_guid() -> None:
    text = "Planned virtual machine creation failed for virtual machine 'DidierTest01': " + (
        f"An existing connection was forcibly closed (VMID {GUID}) and more words follow"
    )
    for limit in range(60, len(text)):
        cut = shorten(text, limit)
        assert len(cut) <= limit and cut.endswith("…")
        assert GUID in cut or GUID[:4] not in cut, cut
    assert shorten("short", 140) == "short"


def test_title_names_hosts_and_date() -> None:
    analysis = standard_analysis()
    title = page_title(analysis)
    assert title.startswith("migdiag report: ")
    assert all(h in title for h in analysis.hosts)
    assert re.search(r"\(\d{4}-\d\d-\d\d(?: to \d{4}-\d\d-\d\d)?\)$", title)
    html = RENDERERS["html"](analysis, PLAIN)
    assert f"<title>{title}</title>" in html


def test_graph_runs_forward_in_time_with_host_lanes() -> None:
    analysis = standard_analysis()
    graphs = [(r.migration, _graph(r.migration, f"m{i}")) for i, r in enumerate(analysis.results)]
    graphs = [(m, g) for m, g in graphs if g is not None]
    assert graphs
    for m, g in graphs:
        assert {lane["host"] for lane in g["lanes"]} >= {m.source}
        xs = [n["cx"] for n in g["nodes"]]
        assert xs == sorted(xs)
        for edge in g["edges"]:
            x1, x2 = (
                float(p.split(",")[0]) for p in re.findall(r"[MQ ]([\d.]+,[\d.]+)", edge["d"])[::2]
            )
            assert x1 <= x2, edge
        for node in g["nodes"]:  # the id sits inside its box
            assert node["x"] < node["cx"] < node["x"] + node["w"]
            assert len(node["label"]) * 7 < node["w"]
