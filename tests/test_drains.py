"""Drain grouping on synthesised drains, read back from real EVTX files (issue #18)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from migdiag.api import Options, analyze
from migdiag.drains import DRAIN_GAP, drain_groups
from migdiag.model import Analysis, DrainMember, Outcome
from migdiag.report.json_report import load_schema, to_json_obj
from migdiag.synth import synthesize
from migdiag.synth.scenario import parse_scenario

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"
HOSTS = [{"name": n, "fqdn": f"{n}.CORP.EXAMPLE"} for n in ("HV01", "HV02", "HV03", "HV04")]


def _vms(prefix: str, n: int) -> list[dict[str, Any]]:
    return [
        {"name": f"{prefix}{i:02d}", "id": f"00000000-0000-4000-8{prefix[-1]}00-{i:012d}"}
        for i in range(1, n + 1)
    ]


def _analyse(tmp_path: Path, vms: list[dict[str, Any]], steps: list[dict[str, Any]]) -> Analysis:
    scenario = parse_scenario(
        {
            "name": "drains",
            "start": "2024-03-01T09:00:00Z",
            "hosts": HOSTS,
            "vms": vms,
            "steps": steps,
        }
    )
    synthesize(scenario, tmp_path / "logs")
    analysis = analyze([str(tmp_path / "logs")], Options(jobs=1))
    Draft202012Validator(load_schema()).validate(to_json_obj(analysis))
    return analysis


@pytest.mark.parametrize("parallel", [1, 3, 8])
def test_one_drain_peaks_at_the_scenarios_parallelism(tmp_path: Path, parallel: int) -> None:
    vms = _vms("A", 12)
    analysis = _analyse(
        tmp_path, vms, [{"drain": {"from": "HV01", "to": "HV02", "parallel": parallel}}]
    )
    (drain,) = analysis.drains
    assert drain.source == "HV01" and drain.destinations == ("HV02",)
    assert drain.max_concurrent == parallel
    assert len(drain.members) == 12 and drain.failed == 0
    assert {m.vm_name for m in drain.members} == {v["name"] for v in vms}
    assert drain.median_duration_s is not None and drain.wall_s > drain.median_duration_s


def test_two_drains_an_hour_apart(tmp_path: Path) -> None:
    vms = _vms("A", 6)
    names = [v["name"] for v in vms]
    analysis = _analyse(
        tmp_path,
        vms,
        [
            {"drain": {"from": "HV01", "to": "HV02", "parallel": 3, "at": 0, "vms": names}},
            {"drain": {"from": "HV02", "to": "HV01", "parallel": 2, "at": 3600, "vms": names}},
            {"drain": {"from": "HV01", "to": "HV02", "parallel": 2, "at": 7200, "vms": names}},
        ],
    )
    assert [(d.source, len(d.members), d.max_concurrent) for d in analysis.drains] == [
        ("HV01", 6, 3),
        ("HV02", 6, 2),
        ("HV01", 6, 2),
    ]


def test_two_sources_at_once_are_two_drains(tmp_path: Path) -> None:
    a, b = _vms("A", 6), _vms("B", 4)
    analysis = _analyse(
        tmp_path,
        a + b,
        [
            {
                "drain": {
                    "from": "HV01",
                    "to": ["HV03", "HV04"],
                    "parallel": 4,
                    "vms": [v["name"] for v in a],
                }
            },
            {"drain": {"from": "HV02", "to": "HV03", "parallel": 2, "vms": [v["name"] for v in b]}},
        ],
    )
    by_source = {d.source: d for d in analysis.drains}
    assert set(by_source) == {"HV01", "HV02"}
    assert by_source["HV01"].destinations == ("HV03", "HV04")
    assert by_source["HV01"].max_concurrent == 4 and by_source["HV02"].max_concurrent == 2
    assert len(by_source["HV01"].members) == 6 and len(by_source["HV02"].members) == 4


def test_a_drain_with_failures_and_retries(tmp_path: Path) -> None:
    vms = _vms("A", 8)
    analysis = _analyse(
        tmp_path,
        vms,
        [
            {
                "drain": {
                    "from": "HV01",
                    "to": "HV02",
                    "parallel": 4,
                    "retry_failed": True,
                    "failures": {"A03": "receive-timeout", "A06": "migration-limit"},
                }
            },
        ],
    )
    (drain,) = analysis.drains
    assert len(drain.members) == 10 and drain.failed == 2
    assert drain.refusals == 1  # A06 was refused for the migration limit
    retried = [m for m in drain.members if m.vm_name in ("A03", "A06")]
    assert sorted(m.outcome for m in retried) == [Outcome.FAILED] * 2 + [Outcome.SUCCEEDED] * 2
    assert drain.max_concurrent == 4
    assert "2 failed" in _line(drain)


def _line(drain: Any) -> str:
    from migdiag.report.drains import drain_line

    return drain_line(drain)


def test_a_lone_migration_is_no_drain(tmp_path: Path) -> None:
    vms = _vms("A", 2)
    analysis = _analyse(
        tmp_path,
        vms,
        [
            {"migrate": {"vm": "A01", "from": "HV01", "to": "HV02", "at": 0}},
            {"migrate": {"vm": "A02", "from": "HV01", "to": "HV02", "at": 600}},
        ],
    )
    assert analysis.drains == ()


def test_a_fleet_analysis_groups_its_drains_without_pandas() -> None:
    # pandas (~0.3 s to import) is the table behind `migdiag events` only; numpy (~0.1 s)
    # is not needed for a drain's figures either.
    code = (
        "import sys\n"
        "from migdiag.api import Options, analyze\n"
        f"analysis = analyze([{str(SAMPLES / 'healthy-drain')!r}], Options(jobs=1))\n"
        "assert len(analysis.drains) >= 1, analysis.drains\n"
        "print('pandas' in sys.modules, 'numpy' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False False"


def _grouped_by_pandas(
    members: list[tuple[str, DrainMember]],
) -> list[tuple[str, list[DrainMember]]]:
    """The oracle: the DataFrame grouping that ``drain_groups`` replaced."""
    import pandas as pd

    table = pd.DataFrame(
        {
            "source": [s for s, _ in members],
            "start": [m.transfer_started for _, m in members],
            "end": [m.ended for _, m in members],
            "member": [m for _, m in members],
            "id": [m.migration_id for _, m in members],
        }
    ).sort_values(["source", "start", "id"], kind="stable", ignore_index=True)
    latest_end = table.groupby("source")["end"].cummax()
    previous_end = latest_end.groupby(table["source"]).shift()
    opens = previous_end.isna() | (table["start"] - previous_end > DRAIN_GAP)
    table["drain"] = opens.cumsum()
    return [
        (str(group["source"].iloc[0]), list(group["member"]))
        for _, group in table.groupby("drain", sort=True)
        if len(group) >= 2
    ]


_T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


@st.composite
def _members(draw: st.DrawFn) -> list[tuple[str, DrainMember]]:
    # Few sources, whole seconds and short spans, so that starts tie, ids tie, gaps of
    # exactly DRAIN_GAP occur, and a move may end before a later one of its drain.
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["HV01", "HV02", "HV03"]),
                st.integers(min_value=0, max_value=900),  # start, s
                st.integers(min_value=-5, max_value=120),  # duration, s
                st.sampled_from(["m-a", "m-b", "m-c"]),
            ),
            max_size=24,
        )
    )
    return [
        (
            source,
            DrainMember(
                migration_id=ident,
                vm_name=f"VM{i:02d}",  # tells apart members that tie on everything else
                destination="HV09",
                outcome=Outcome.SUCCEEDED,
                requested=_T0 + timedelta(seconds=start),
                transfer_started=_T0 + timedelta(seconds=start),
                ended=_T0 + timedelta(seconds=start + duration),
                blackout_at=None,
                blackout_s=None,
                concurrency=1.0,
            ),
        )
        for i, (source, start, duration, ident) in enumerate(rows)
    ]


@settings(max_examples=300, deadline=None)
@given(_members())
def test_drains_are_grouped_as_the_dataframe_grouped_them(
    members: list[tuple[str, DrainMember]],
) -> None:
    assert drain_groups(members) == _grouped_by_pandas(members)


def test_a_migration_starting_exactly_the_gap_after_the_last_end_stays_in_the_drain() -> None:
    def member(name: str, start: int, end: int) -> tuple[str, DrainMember]:
        at = _T0 + timedelta(seconds=start)
        return "HV01", DrainMember(
            name,
            name,
            "HV02",
            Outcome.SUCCEEDED,
            at,
            at,
            _T0 + timedelta(seconds=end),
            None,
            None,
            1.0,
        )

    gap = int(DRAIN_GAP.total_seconds())
    groups = drain_groups(
        [
            member("a", 0, 100),
            member("b", 10, 20),
            member("c", 100 + gap, 300),
            member("d", 301 + gap, 400),
            member("e", 302 + gap, 500),
        ]
    )
    assert [[m.migration_id for m in g] for _, g in groups] == [["a", "b", "c"], ["d", "e"]]


def test_a_drain_over_a_stated_link_carries_throughput_and_worker_figures(tmp_path: Path) -> None:
    vms = [dict(v, memory_gb=8) for v in _vms("A", 6)]
    scenario = parse_scenario(
        {
            "name": "link",
            "start": "2024-03-01T09:00:00Z",
            "hosts": HOSTS,
            "vms": vms,
            "steps": [
                {
                    "drain": {
                        "from": "HV01",
                        "to": "HV02",
                        "parallel": 3,
                        "link_gbps": 10,
                        "performance": "tcpip",
                    }
                }
            ],
        }
    )
    synthesize(scenario, tmp_path / "logs")
    # By VM id in braces and lower case, as a snapshot's Get-VM may give it.
    memory = {"{" + v["id"].lower() + "}": 8 * 1024**3 for v in vms}
    analysis = analyze([str(tmp_path / "logs")], Options(jobs=1, vm_memory=memory))
    (drain,) = analysis.drains
    assert drain.max_concurrent == 3
    assert drain.memory_bytes == 6 * 8 * 1024**3
    # 3 at once share 10 Gbps x 0.9 on the wire: the drain moves about 9 Gbit/s.
    assert drain.gbps is not None and 6 <= drain.gbps <= 9.5
    assert all(m.gbps is not None and 2 <= m.gbps <= 3.2 for m in drain.members)
    # The Worker's 22509, read back from the EVTX: dirty pages and saved state.
    assert all(m.dirty_pages and m.saved_state_kb == 2048 for m in drain.members)


def _concurrency_by_numpy(
    steps: list[tuple[datetime, int]], members: list[DrainMember]
) -> list[float]:
    """The oracle: the numpy computation ``_effective_concurrency`` replaced."""
    import numpy as np

    if not steps:
        return [1.0] * len(members)
    origin = steps[0][0]
    at = np.array([(t - origin).total_seconds() for t, _ in steps], dtype=float)
    running = np.array([n for _, n in steps], dtype=float)
    inverse = np.divide(1.0, running, out=np.zeros_like(running), where=running > 0)
    integral = np.concatenate(([0.0], np.cumsum(inverse[:-1] * np.diff(at))))

    def integral_at(t: Any) -> Any:
        i = np.clip(np.searchsorted(at, t, side="right") - 1, 0, len(at) - 1)
        return integral[i] + inverse[i] * (t - at[i])

    starts = np.array([(m.transfer_started - origin).total_seconds() for m in members])
    ends = np.array([(m.ended - origin).total_seconds() for m in members])
    shares = integral_at(ends) - integral_at(starts)
    spans = ends - starts
    return [
        max(1.0, span / share) if span > 0 and share > 0 else 1.0
        for span, share in zip(spans.tolist(), shares.tolist(), strict=True)
    ]


@settings(max_examples=300, deadline=None)
@given(_members(), st.integers(min_value=0, max_value=999_999))
def test_effective_concurrency_is_the_figure_numpy_computed(
    members: list[tuple[str, DrainMember]], micros: int
) -> None:
    # Bit for bit: the figures are printed to three decimals, and a drain's JSON must not
    # change with the code that computes it.  Fractions of a second make the sums inexact.
    from dataclasses import replace

    from migdiag.drains import _effective_concurrency, _steps

    drain = [
        replace(m, transfer_started=m.transfer_started + timedelta(microseconds=micros * i % 10**6))
        for i, (_, m) in enumerate(members, start=1)
    ]
    steps = _steps(drain)
    assert _effective_concurrency(steps, drain) == _concurrency_by_numpy(steps, drain)
