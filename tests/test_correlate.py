"""Correlation: one attempt per migration, joined across hosts, robust to skew and order."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from common import populated_event, run_migdiag
from migdiag.catalog import default_catalog
from migdiag.correlate import correlate
from migdiag.model import Event, Origin, Outcome
from migdiag.normalise import normalise
from migdiag.synth.scenario import expand, parse_scenario

HOSTS = [
    {"name": "HV01", "fqdn": "HV01.corp.example"},
    {"name": "HV02", "fqdn": "HV02.corp.example"},
]


def vm(n: int, memory: float = 4) -> dict[str, Any]:
    return {"name": f"VM{n:02d}", "id": f"00000000-0000-4000-8000-{n:012d}", "memory_gb": memory}


def events_of(data: dict[str, Any]) -> list[Event]:
    catalog = default_catalog()
    base = {"name": "t", "start": "2024-05-14T09:00:00Z", "hosts": HOSTS}
    return [normalise(e, catalog) for e in expand(parse_scenario({**base, **data}))]


def seed_like(**host_overrides: Any) -> list[Event]:
    hosts = [dict(h, **host_overrides.get(h["name"], {})) for h in HOSTS]
    return events_of(
        {
            "hosts": hosts,
            "vms": [vm(1, 8)],
            "steps": [
                {
                    "migrate": {
                        "vm": "VM01",
                        "from": "HV01",
                        "to": "HV02",
                        "at": 10,
                        "duration_s": 20,
                        "failure": "connection-reset",
                    }
                }
            ],
        }
    )


def test_seed_failure_is_one_failed_attempt_with_both_hosts_and_21502() -> None:
    result = correlate(seed_like())
    assert len(result.migrations) == 1
    m = result.migrations[0]
    assert (m.vm_name, m.source, m.destination, m.outcome) == (
        "VM01",
        "HV01",
        "HV02",
        Outcome.FAILED,
    )
    assert {e.short_host for e in m.events} == {"HV01", "HV02"}
    ids = [e.event_id for e in m.events]
    for chain_id in (20413, 22038, 21018, 22040, 21024, 21502):
        assert chain_id in ids
    # The anonymous 22038 ("failed to send data") joins by host and time, and says so.
    assert any("the source" in edge.reason for edge in m.edges)
    assert m.coverage == ()


def test_drain_of_twenty_four_at_a_time_with_two_failures() -> None:
    vms = [vm(n) for n in range(1, 21)]
    events = events_of(
        {
            "vms": vms,
            "steps": [
                {
                    "drain": {
                        "from": "HV01",
                        "to": "HV02",
                        "parallel": 4,
                        "failures": {"VM05": "connection-reset", "VM13": "receive-timeout"},
                    }
                }
            ],
        }
    )
    result = correlate(events)
    assert len(result.migrations) == 20
    failed = sorted(m.vm_name or "" for m in result.migrations if m.outcome == Outcome.FAILED)
    assert failed == ["VM05", "VM13"]
    assert all(m.outcome == Outcome.SUCCEEDED for m in result.migrations if m.vm_name not in failed)
    # Four at a time over one host pair: each attempt overlaps others.
    assert max(m.concurrent for m in result.migrations) >= 3


def test_same_vm_three_times_in_an_hour_is_three_attempts() -> None:
    steps = [
        {"migrate": {"vm": "VM01", "from": "HV01", "to": "HV02", "at": 0}},
        {
            "migrate": {
                "vm": "VM01",
                "from": "HV02",
                "to": "HV01",
                "at": 600,
                "failure": "connection-reset",
            }
        },
        {"migrate": {"vm": "VM01", "from": "HV02", "to": "HV01", "at": 1500}},
    ]
    result = correlate(events_of({"vms": [vm(1)], "steps": steps}))
    attempts = [(m.source, m.destination, m.outcome) for m in result.migrations]
    assert attempts == [
        ("HV01", "HV02", Outcome.SUCCEEDED),
        ("HV02", "HV01", Outcome.FAILED),
        ("HV02", "HV01", Outcome.SUCCEEDED),
    ]


def test_source_logs_only_gives_a_failed_attempt_and_a_coverage_warning() -> None:
    events = [e for e in seed_like() if e.short_host == "HV01"]
    result = correlate(events)
    assert len(result.migrations) == 1
    m = result.migrations[0]
    assert m.outcome == Outcome.FAILED
    assert m.destination == "HV02"
    assert "destination HV02: no logs of HV02 were supplied" in m.coverage


def test_destination_with_only_its_system_log_is_not_called_unsupplied() -> None:
    # Issue #20: the destination's System log was supplied, only its VMMS-Admin log was not.
    events = [e for e in seed_like() if e.short_host == "HV01"]
    system = populated_event(
        host="HV02.corp.example",
        channel="System",
        provider="Service Control Manager",
        event_id=7036,
        level=4,
        time=events[0].time,
        vm_name=None,
        vm_id=None,
        peer_host=None,
        error_codes=(),
    )
    m = correlate([*events, system]).migrations[0]
    assert m.outcome == Outcome.FAILED
    (note,) = [c for c in m.coverage if c.startswith("destination HV02")]
    assert note.startswith("destination HV02: System log supplied, but no Hyper-V VMMS-Admin")
    assert "not supplied" not in note


def test_destination_three_seconds_behind_is_estimated_and_changes_nothing() -> None:
    plain = correlate(seed_like())
    skewed = correlate(seed_like(HV02={"clock_offset_s": -3.0}))
    assert len(skewed.skews) == 1
    skew = skewed.skews[0]
    assert (skew.host, skew.reference) == ("HV02", "HV01")
    assert abs(skew.offset_s - 3.0) < 0.5  # HV02 times need +3 s to match HV01's clock
    assert "HV02 is about 3.0 s behind HV01" in skewed.warnings[0]
    assert [len(m.events) for m in skewed.migrations] == [len(m.events) for m in plain.migrations]
    assert [m.outcome for m in skewed.migrations] == [m.outcome for m in plain.migrations]


def _signature(events: list[Event]) -> list[tuple[object, ...]]:
    return [
        (m.vm_id, m.source, m.destination, m.outcome, tuple(sorted(e.identity for e in m.events)))
        for m in correlate(events).migrations
    ]


DRAIN = events_of(
    {
        "vms": [vm(n) for n in range(1, 9)],
        "steps": [
            {
                "drain": {
                    "from": "HV01",
                    "to": "HV02",
                    "parallel": 3,
                    "failures": {"VM03": "connection-reset"},
                }
            }
        ],
    }
)


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False))
def test_result_does_not_depend_on_input_order(rng: random.Random) -> None:
    shuffled = list(DRAIN)
    rng.shuffle(shuffled)
    assert _signature(shuffled) == _signature(DRAIN)


def test_every_migration_event_lands_in_exactly_one_attempt() -> None:
    result = correlate(DRAIN)
    placed = [e.identity for m in result.migrations for e in m.events]
    assert len(placed) == len(set(placed))
    hyperv = [e for e in DRAIN if e.provider.startswith("Microsoft-Windows-Hyper-V")]
    assert len(placed) == len(hyperv)
    assert result.unattached == ()


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=3600), max_size=30))
def test_unrelated_events_change_nothing(offsets: list[int]) -> None:
    catalog = default_catalog()
    noise = [
        normalise(
            Event(
                time=datetime(2024, 5, 14, 9, 0, tzinfo=UTC) + timedelta(seconds=s),
                host="HV01.corp.example",
                channel="System",
                provider="Service Control Manager",
                event_id=7036,
                level=4,
                record_id=10_000 + i,
                fields=(("param1", "Windows Update"), ("param2", "running")),
                message=None,
                origin=Origin(path="noise", format="synth"),
            ),
            catalog,
        )
        for i, s in enumerate(offsets)
    ]
    assert _signature(DRAIN + noise) == _signature(DRAIN)


# ---- issue #13: drains, skew, anonymous errors ------------------------------------------------


def synthesized(scenario: dict[str, Any], folder: Path) -> Path:
    """``migdiag synth`` of the scenario, as a user runs it: the folder of EVTX files."""
    (folder / "scenario.yaml").write_text(yaml.safe_dump(scenario), encoding="utf-8")
    done = run_migdiag("synth", str(folder / "scenario.yaml"), "--out", str(folder / "logs"))
    assert done.returncode == 0, done.stderr
    return folder / "logs"


FAILING_MODES = ("connection-reset", "receive-timeout", "connect-timeout", "out-of-memory")


def drain_of(
    count: int, parallel: int, failures: dict[str, str], memory: float = 4, **hosts: Any
) -> list[Event]:
    host_list = [dict(h, **hosts.get(h["name"], {})) for h in HOSTS]
    return events_of(
        {
            "hosts": host_list,
            "vms": [vm(n, memory) for n in range(1, count + 1)],
            "steps": [
                {
                    "drain": {
                        "from": "HV01",
                        "to": "HV02",
                        "parallel": parallel,
                        "failures": failures,
                    }
                }
            ],
        }
    )


@pytest.mark.parametrize("memory", [2, 4])  # 2 GB: short attempts, tightly packed
@pytest.mark.parametrize("mode", FAILING_MODES)
@pytest.mark.parametrize("failing", range(1, 9))
def test_issue13_eight_vms_four_at_a_time_only_the_failing_vm_fails(
    failing: int, mode: str, memory: float
) -> None:
    name = f"VM{failing:02d}"
    result = correlate(drain_of(8, 4, {name: mode}, memory))
    assert len(result.migrations) == 8
    assert [m.vm_name for m in result.migrations if m.outcome is Outcome.FAILED] == [name]
    for m in result.migrations:
        if any(e.event_id == 20415 for e in m.events):  # it logged its own success
            assert m.outcome is Outcome.SUCCEEDED
            assert not any(e.level <= 2 for e in m.events), m.vm_name


def test_issue13_two_hundred_vm_drain_with_one_failure_reports_one_failure(tmp_path: Path) -> None:
    scenario = {
        "name": "drain-200",
        "start": "2024-05-14T09:00:00Z",
        "hosts": HOSTS,
        "vms": [vm(n) for n in range(1, 201)],
        "steps": [
            {
                "drain": {
                    "from": "HV01",
                    "to": "HV02",
                    "parallel": 4,
                    "failures": {"VM150": "connection-reset"},
                }
            }
        ],
    }
    result = run_migdiag("analyze", str(synthesized(scenario, tmp_path)), "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["migrations"] == 200
    assert report["summary"]["failed"] == 1
    assert report["summary"]["unknown_cause"] == 0
    failed = [m for m in report["migrations"] if m["outcome"] == "failed"]
    assert [m["vm_name"] for m in failed] == ["VM150"]
    assert failed[0]["diagnosis"]["signature_id"] == "mtu-mismatch-reset"


@pytest.mark.parametrize("offset", [-4.5, -3.0, -1.5, 1.5, 3.0, 4.5])
@pytest.mark.parametrize("failure", [None, "connection-reset", "receive-timeout"])
def test_issue13_one_migration_under_skew_is_one_attempt(
    offset: float, failure: str | None
) -> None:
    step: dict[str, Any] = {"vm": "VM01", "from": "HV01", "to": "HV02", "at": 10}
    if failure:
        step["failure"] = failure
    hosts = [HOSTS[0], dict(HOSTS[1], clock_offset_s=offset)]
    result = correlate(events_of({"hosts": hosts, "vms": [vm(1)], "steps": [{"migrate": step}]}))
    (m,) = result.migrations
    assert m.outcome is (Outcome.FAILED if failure else Outcome.SUCCEEDED)
    assert {e.short_host for e in m.events} == {"HV01", "HV02"}
    (skew,) = result.skews
    assert abs(skew.offset_s + offset) < 0.2  # HV02's times need -offset to match HV01's


def test_issue13_clocks_that_agree_are_reported_as_agreeing() -> None:
    result = correlate(drain_of(8, 4, {}))
    (skew,) = result.skews
    assert skew.offset_s == 0.0
    assert "agree" in skew.describe()
    assert result.warnings == ()


def test_issue13_an_anonymous_error_never_joins_a_vm_that_logged_its_success() -> None:
    # VM02's failure events are missing (their log was not supplied): the 22038/22040 that
    # name no VM are left unattached rather than given to VM01 or VM03, which succeeded.
    events = [
        e
        for e in drain_of(3, 3, {"VM02": "connection-reset"})
        if not (e.vm_name == "VM02" and e.level <= 2) and e.event_id != 21502
    ]
    result = correlate(events)
    assert all(m.outcome is not Outcome.FAILED for m in result.migrations)
    assert {e.event_id for e in result.unattached} == {22038, 22040}


def _without_execution(events: list[Event]) -> list[Event]:
    """The events as an export without process and thread ids (copy-as-text, CSV)."""
    return [replace(e, process_id=None, thread_id=None) for e in events]


def test_issue13_failures_in_one_second_are_each_given_the_error_with_an_ambiguity_note() -> None:
    both = drain_of(4, 4, {"VM01": "connection-reset", "VM02": "connection-reset"})
    result = correlate(_without_execution(both))
    failed = {m.vm_name: m for m in result.migrations if m.outcome is Outcome.FAILED}
    assert sorted(failed) == ["VM01", "VM02"]
    assert any("also fit VM02" in note for note in failed["VM01"].ambiguities)
    assert any("also fit VM01" in note for note in failed["VM02"].ambiguities)
    assert any("ambiguous: also fits VM02" in edge.reason for edge in failed["VM01"].edges)


def test_issue13_the_error_code_tells_two_failures_of_one_second_apart() -> None:
    result = correlate(drain_of(4, 4, {"VM01": "connection-reset", "VM02": "receive-timeout"}))
    failed = {m.vm_name: m for m in result.migrations if m.outcome is Outcome.FAILED}
    timeout = [e for e in failed["VM02"].events if e.vm_name is None]
    assert timeout and all(e.error_codes == ("0x800705B4",) for e in timeout)
    assert all(e.error_codes == ("0x80072746",) for e in failed["VM01"].events if e.error_codes)


@pytest.mark.parametrize(
    ("tolerance", "warned"), [(None, False), ("1", True), ("2.5", True), ("5", False)]
)
def test_issue13_skew_tolerance_decides_when_a_skew_is_a_warning(
    tmp_path: Path, tolerance: str | None, warned: bool
) -> None:
    scenario = {
        "name": "skewed",
        "start": "2024-05-14T09:00:00Z",
        "hosts": [HOSTS[0], dict(HOSTS[1], clock_offset_s=3.0)],
        "vms": [vm(1)],
        "steps": [{"migrate": {"vm": "VM01", "from": "HV01", "to": "HV02", "at": 10}}],
    }
    logs = synthesized(scenario, tmp_path)
    extra = ["--skew-tolerance", tolerance] if tolerance else []
    result = run_migdiag("analyze", str(logs), *extra)
    assert result.returncode == 0, result.stderr
    assert "clock: HV02 is about 3.0 s ahead of HV01" in result.stdout
    assert ("warning: HV02 is about 3.0 s ahead" in result.stdout) is warned
    if warned:
        assert f"more than the skew tolerance of {float(tolerance or 0):g} s" in result.stdout


def test_issue13_a_failure_under_four_and_a_half_seconds_of_skew_has_a_known_cause(
    tmp_path: Path,
) -> None:
    scenario = {
        "name": "skewed-failure",
        "start": "2024-05-14T09:00:00Z",
        "hosts": [HOSTS[0], dict(HOSTS[1], clock_offset_s=-4.5)],
        "vms": [vm(1)],
        "steps": [
            {
                "migrate": {
                    "vm": "VM01",
                    "from": "HV01",
                    "to": "HV02",
                    "at": 10,
                    "failure": "connection-reset",
                }
            }
        ],
    }
    logs = synthesized(scenario, tmp_path)
    result = run_migdiag("analyze", str(logs), "--format", "json", "--fail-on", "unknown")
    assert result.returncode == 0, result.stderr  # 4 would mean an unknown-cause failure
    report = json.loads(result.stdout)
    assert report["summary"] == {**report["summary"], "migrations": 1, "failed": 1}
    (m,) = report["migrations"]
    assert m["diagnosis"]["signature_id"] == "mtu-mismatch-reset"
    # Evidence is shown at the time HV02 logged it, with the corrected time beside it.
    hv02 = [e for e in m["events"] if e["host"] == "HV02"]
    assert hv02 and all(e["time"] != e["corrected_time"] for e in hv02)


def test_issue13_a_receive_failure_goes_to_the_attempt_whose_20413_names_that_host() -> None:
    # Two VMs fail in one second towards two destinations whose only records are the
    # anonymous 22040s (their HA logs were not supplied and their 21026 is dropped).
    hosts = [*HOSTS, {"name": "HV03", "fqdn": "HV03.corp.example"}]
    hosts = [dict(h, logs=["vmms"]) if h["name"] != "HV01" else h for h in hosts]
    steps = [
        {"migrate": {"vm": "VM01", "from": "HV01", "to": "HV02", "failure": "connection-reset"}},
        {"migrate": {"vm": "VM02", "from": "HV01", "to": "HV03", "failure": "connection-reset"}},
    ]
    events = [
        e
        for e in events_of({"hosts": hosts, "vms": [vm(1), vm(2)], "steps": steps})
        if e.event_id != 21026
    ]
    result = correlate(events)
    by_vm = {m.vm_name: m for m in result.migrations}
    assert sorted((m.vm_name, m.destination, m.outcome) for m in result.migrations) == [
        ("VM01", "HV02", Outcome.FAILED),
        ("VM02", "HV03", Outcome.FAILED),
    ]
    for name, destination in (("VM01", "HV02"), ("VM02", "HV03")):
        received = [e for e in by_vm[name].events if e.event_id == 22040 and e.short_host != "HV01"]
        assert [e.short_host for e in received] == [destination]
    assert result.unattached == ()


def test_issue13_failures_of_unknown_cause_are_counted_and_triaged_first(tmp_path: Path) -> None:
    def case(name: str, failure: str) -> Path:
        scenario = {
            "name": name,
            "start": "2024-05-14T09:00:00Z",
            "hosts": HOSTS,
            "vms": [vm(1), vm(2)],
            "steps": [
                {"migrate": {"vm": "VM01", "from": "HV01", "to": "HV02", "failure": failure}},
                {"migrate": {"vm": "VM02", "from": "HV01", "to": "HV02", "at": 60}},
            ],
        }
        (tmp_path / name).mkdir()
        return synthesized(scenario, tmp_path / name)

    known, unknown = case("a-known", "connection-reset"), case("b-unknown", "unexplained")
    report = json.loads(run_migdiag("analyze", str(unknown), "--format", "json").stdout)
    assert report["summary"]["failed"] == 1
    assert report["summary"]["unknown_cause"] == 1
    assert "1 failed (1 with unknown cause)" in run_migdiag(
        "analyze", str(unknown), "--format", "html"
    ).stdout.replace("\n", " ")
    triage = run_migdiag(
        "triage", str(known.relative_to(tmp_path)), str(unknown.relative_to(tmp_path)), cwd=tmp_path
    )
    assert triage.returncode == 0, triage.stderr
    rows = [line for line in triage.stdout.splitlines() if "a-known" in line or "b-unknown" in line]
    assert "b-unknown" in rows[0] and "a-known" in rows[1]


def test_issue13_the_worker_process_tells_two_failures_of_one_second_apart() -> None:
    # Two VMs run out of memory on HV02 in one second; each VM's worker process logged its
    # named 3050 ("could not initialize memory"), and one more Worker event that names no VM
    # (and no code) came from VM02's process.
    events = [
        replace(e, process_id=1000 + int(e.vm_name[2:])) if e.event_id == 3050 else e
        for e in drain_of(4, 4, {"VM01": "out-of-memory", "VM02": "out-of-memory"})
    ]
    named = next(e for e in events if e.event_id == 3050 and e.vm_name == "VM02")
    anonymous = replace(
        named,
        fields=(("Parameter0", "The virtual machine could not be started."),),
        vm_name=None,
        vm_id=None,
        error_codes=(),
        record_id=9999,
    )
    result = correlate([*events, anonymous])
    holders = [m.vm_name for m in result.migrations if anonymous in m.events]
    assert holders == ["VM02"]
    # Without the process id the same event fits both, and says so.
    result = correlate([*events, replace(anonymous, process_id=None)])
    holders = sorted(m.vm_name or "" for m in result.migrations if m.ambiguities)
    assert holders == ["VM01", "VM02"]


def test_issue13_the_operation_thread_tells_failures_of_one_second_apart() -> None:
    # As hosts log them, the 22038/22040 that name no VM come from the VMMS thread of their
    # own migration: each failure gets its own, with no ambiguity left to report.
    events = drain_of(4, 4, {"VM01": "connection-reset", "VM02": "connection-reset"})
    result = correlate(events)
    failed = {m.vm_name: m for m in result.migrations if m.outcome is Outcome.FAILED}
    assert sorted(failed) == ["VM01", "VM02"]
    for name, m in failed.items():
        anonymous = [e for e in m.events if e.vm_name is None and e.event_id in (22038, 22040)]
        # The source's send failure and reset, the destination's receive failure.
        assert sorted((e.short_host, e.event_id) for e in anonymous) == [
            ("HV01", 22038),
            ("HV01", 22040),
            ("HV02", 22040),
        ], name
        for e in anonymous:
            own = {o.thread_id for o in m.events if o.vm_name and o.short_host == e.short_host}
            assert e.thread_id in own, (name, e)
        assert m.ambiguities == (), name


def test_issue13_the_ambiguity_note_is_in_every_report(tmp_path: Path) -> None:
    scenario = {
        "name": "two-at-once",
        "start": "2024-05-14T09:00:00Z",
        # One process and thread per provider: nothing in the records tells the two
        # failures' anonymous events apart, so they fit both attempts alike.
        "execution_ids": False,
        "hosts": HOSTS,
        "vms": [vm(1), vm(2)],
        "steps": [
            {
                "drain": {
                    "from": "HV01",
                    "to": "HV02",
                    "parallel": 2,
                    "duration_s": 10,
                    "failures": {"VM01": "connection-reset", "VM02": "connection-reset"},
                }
            }
        ],
    }
    logs = str(synthesized(scenario, tmp_path))
    terminal = run_migdiag("analyze", logs).stdout
    assert "attribution: ambiguous: " in terminal and "22038 HV01" in terminal
    report = json.loads(run_migdiag("analyze", logs, "--format", "json").stdout)
    notes = {m["vm_name"]: m["ambiguities"] for m in report["migrations"]}
    assert any("also fit VM02" in n for n in notes["VM01"])
    assert any("also fit VM01" in n for n in notes["VM02"])
    html = run_migdiag("analyze", logs, "--format", "html").stdout
    assert "<h3>Attribution</h3>" in html and "also fit VM02" in html


def test_without_the_sources_hyper_v_logs_a_vms_segments_are_still_one_attempt() -> None:
    # HV01 supplied only its System log, where the cluster says VM01's resource failed.
    hosts = [dict(HOSTS[0], logs=["system"]), HOSTS[1]]
    step = {"vm": "VM01", "from": "HV01", "to": "HV02", "failure": "connection-reset"}
    failed = {"host": "HV01", "id": 1069, "level": 2, "at": 5, "fields": ["Virtual Machine VM01"]}
    steps = [{"migrate": step}, {"event": failed}]
    events = events_of({"hosts": hosts, "vms": [vm(1)], "steps": steps})
    assert {e.short_host for e in events if e.vm_name} == {"HV01", "HV02"}
    (m,) = correlate(events).migrations
    assert {e.short_host for e in m.events} == {"HV01", "HV02"}


def _chained_by_networkx(
    pairs: list[tuple[str, str]], counts: Counter[str]
) -> list[tuple[str, str, str]]:
    """The oracle: the walk over a networkx graph that ``chain_hosts`` replaced."""
    import networkx as nx

    graph = nx.Graph()
    graph.add_edges_from(pairs)
    chained: list[tuple[str, str, str]] = []
    for component in sorted(nx.connected_components(graph), key=lambda c: sorted(c)):
        reference = max(sorted(component), key=lambda h: counts[h])
        chained += [(reference, p, c) for p, c in nx.bfs_edges(graph, reference)]
    return chained


_HOST_NAMES = st.sampled_from([f"HV{n:02d}" for n in range(1, 9)])


@settings(max_examples=400, deadline=None)
@given(
    # Few names, so that groups join, pairs repeat (in either order) and event counts tie.
    st.lists(st.tuples(_HOST_NAMES, _HOST_NAMES).filter(lambda p: p[0] != p[1]), max_size=16),
    st.dictionaries(_HOST_NAMES, st.integers(min_value=0, max_value=3)),
)
def test_hosts_are_chained_as_the_graph_walk_chained_them(
    pairs: list[tuple[str, str]], counts: dict[str, int]
) -> None:
    from migdiag.correlate.skew import chain_hosts

    events = Counter(counts)  # as estimate_skew passes them: a host with none counts 0
    assert chain_hosts(pairs, events) == _chained_by_networkx(pairs, events)


def test_three_hosts_are_chained_from_the_busiest() -> None:
    from migdiag.correlate.skew import chain_hosts

    chained = chain_hosts([("A", "B"), ("B", "C")], Counter({"A": 1, "B": 5, "C": 2}))
    assert chained == [("B", "B", "A"), ("B", "B", "C")]


def test_chaining_many_hosts_does_not_import_networkx() -> None:
    # networkx is the tests' oracle only: not a run-time dependency any more.
    code = (
        "import sys\n"
        "from collections import Counter\n"
        "from migdiag.correlate.skew import chain_hosts\n"
        "pairs = [('A', 'B'), ('B', 'C'), ('C', 'D')]\n"
        "assert len(chain_hosts(pairs, Counter('ABBCD'))) == 3\n"
        "print('networkx' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
