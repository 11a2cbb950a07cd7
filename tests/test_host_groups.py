"""Independent groups of hosts correlated apart, on several cores: the same analysis.

A bundle of several clusters is correlated and diagnosed group by group, the groups shared
out to forked children (``api._diagnosed``).  Whatever the clusters, clocks, failures,
orders and VMs that cross from one cluster to another, the attempts, skews, warnings,
diagnoses and drains must be those of one pass over all events."""

from __future__ import annotations

import io
import os
import random
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common import counted_forks, populated_event, ran_in_a_fresh_process, run_migdiag
from migdiag import api, forked
from migdiag.api import Options, analyze
from migdiag.catalog import default_catalog
from migdiag.correlate.groups import independent_groups
from migdiag.diagnose.loader import load_library
from migdiag.model import DEFAULT_SKEW_TOLERANCE, Event, MigrationResult
from migdiag.normalise import normalise
from migdiag.report.json_report import render_json
from migdiag.report.options import RenderOptions
from migdiag.synth.scenario import expand, parse_scenario

FAILURES = [None, None, "connection-reset", "receive-timeout", "connect-timeout", "out-of-memory"]
START = "2024-05-14T09:00:00Z"
PARENT = os.getpid()


def _step() -> api._Diagnosis:
    return api._Diagnosis(
        library=load_library(()),
        catalog=default_catalog(),
        tolerance=DEFAULT_SKEW_TOLERANCE,
        findings=(),
        memory={},
        speed={},
    )


def _vm(cluster: int, n: int, name: str | None = None) -> dict[str, Any]:
    return {
        "name": name or f"C{cluster}VM{n:02d}",
        "id": f"00000000-0000-4000-8{cluster:03d}-{n:012d}",
        "memory_gb": 2 + n % 3,
    }


@st.composite
def fleets(draw: st.DrawFn) -> list[dict[str, Any]]:
    """One scenario per cluster of two or three hosts, each host with its own clock and
    logs, VMs migrating and draining inside their cluster (failing in any mode); now and
    then a VM that crosses from one cluster to another (then their groups must join) or a
    VM named like another cluster's VM but another VM (its name-only events, such as the
    cluster's, could be taken for the other's: the groups must join as correlation would)."""
    clusters = draw(st.integers(min_value=1, max_value=4))
    shared = {
        "execution_ids": draw(st.booleans()),
        "payload_style": draw(st.sampled_from(["positional", "named"])),
        "start": START,
    }
    scenarios: list[dict[str, Any]] = []
    members: list[list[str]] = []
    for c in range(clusters):
        names = [f"C{c}N{n}" for n in range(draw(st.integers(min_value=2, max_value=3)))]
        members.append(names)
        hosts: list[dict[str, Any]] = []
        for name in names:
            host: dict[str, Any] = {
                "name": name,
                "fqdn": f"{name}.corp.example",
                "clock_offset_s": draw(st.sampled_from([0.0, 0.0, -4.5, -1.5, 2.0, 4.5, 40.0])),
            }
            if draw(st.integers(min_value=0, max_value=5)) == 0:
                host["logs"] = draw(st.sampled_from([["system"], ["vmms", "system"], ["ha"]]))
            hosts.append(host)
        count = draw(st.integers(min_value=1, max_value=6))
        named_alike = c > 0 and draw(st.booleans())
        vms = [_vm(c, n, "C0VM01" if named_alike and n == 1 else None) for n in range(1, count + 1)]
        steps: list[dict[str, Any]] = []
        if draw(st.booleans()):
            steps.append(
                {
                    "drain": {
                        "from": names[0],
                        "to": names[1:],
                        "parallel": draw(st.integers(min_value=1, max_value=4)),
                        "at": draw(st.integers(min_value=0, max_value=600)),
                        "failures": {
                            v["name"]: draw(st.sampled_from(FAILURES[2:]))
                            for v in vms
                            if draw(st.integers(min_value=0, max_value=3)) == 0
                        },
                    }
                }
            )
        else:
            for v in vms:
                source, target = draw(st.permutations(names))[:2]
                steps.append(
                    {
                        "migrate": {
                            "vm": v["name"],
                            "from": source,
                            "to": target,
                            "at": draw(st.integers(min_value=0, max_value=600)),
                            "duration_s": draw(st.integers(min_value=5, max_value=40)),
                            "failure": draw(st.sampled_from(FAILURES)),
                        }
                    }
                )
        if draw(st.booleans()):
            # The cluster's "moving to node" record names the VM by its name alone.
            mover, target = draw(st.permutations(names))[:2]
            steps.append(
                {
                    "event": {
                        "host": mover,
                        "log": "system",
                        "channel": "Microsoft-Windows-FailoverClustering/Operational",
                        "id": 1641,
                        "fields": [f"Virtual Machine {draw(st.sampled_from(vms))['name']}", target],
                        "at": draw(st.integers(min_value=0, max_value=600)),
                    }
                }
            )
        scenarios.append({**shared, "name": f"c{c}", "hosts": hosts, "vms": vms, "steps": steps})
    if clusters > 1 and draw(st.integers(min_value=0, max_value=3)) == 0:
        crossing = _vm(99, 1)
        first, last = scenarios[0]["hosts"][0], scenarios[-1]["hosts"][-1]
        step = {
            "vm": crossing["name"],
            "from": first["name"],
            "to": last["name"],
            "at": draw(st.integers(min_value=0, max_value=600)),
            "failure": draw(st.sampled_from(FAILURES)),
        }
        scenarios.append(
            {
                **shared,
                "name": "crossing",
                "hosts": [first, last],
                "vms": [crossing],
                "steps": [{"migrate": step}],
            }
        )
    return scenarios


def _events(scenarios: list[dict[str, Any]], seed: int) -> list[Event]:
    """The scenarios' events together, shuffled; each scenario's record ids apart."""
    catalog = default_catalog()
    events = [
        normalise(replace(e, record_id=(e.record_id or 0) + 100_000 * number), catalog)
        for number, scenario in enumerate(scenarios)
        for e in expand(parse_scenario(scenario))
    ]
    rng = random.Random(seed)
    # Some records name the VM by id alone (Worker's do), on some hosts all of them: then
    # only the id can join that host to the others.
    by_id_only = {h for h in sorted({e.host for e in events}) if rng.random() < 0.3}
    events = [
        replace(e, vm_name=None)
        if e.vm_id and e.vm_name and (e.host in by_id_only or rng.random() < 0.3)
        else e
        for e in events
    ]
    rng.shuffle(events)
    return events


def _serial(
    events: list[Event], step: api._Diagnosis
) -> tuple[object, tuple[MigrationResult, ...], tuple[object, ...]]:
    return api._diagnose_share(events, replace(step, drains_aside=False))


STEP = _step()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets(), st.integers(min_value=0, max_value=2**32))
def test_groups_correlated_apart_give_the_analysis_of_one_pass(
    scenarios: list[dict[str, Any]], seed: int
) -> None:
    events = _events(scenarios, seed)
    serial = _serial(events, STEP)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api, "_SPLIT_EVENTS", 0)  # the small scenario splits as a fleet would
        patch.setattr(api, "_ONE_GROUP_SHARE", 1.0)  # however unequal its groups
        patch.setattr(forked, "cores", lambda: 2)
        split = api._diagnosed(events, STEP)
    assert split == serial


def _hosts_of(groups: list[list[Event]]) -> list[list[str]]:
    return sorted(sorted({e.short_host for e in group}) for group in groups)


def test_each_cluster_is_a_group_and_a_crossing_vm_joins_two() -> None:
    hosts = [
        {"name": f"C{c}N{n}", "fqdn": f"C{c}N{n}.corp.example"} for c in range(3) for n in (0, 1)
    ]
    steps = [
        {"migrate": {"vm": f"C{c}VM01", "from": f"C{c}N0", "to": f"C{c}N1", "at": 10 * c}}
        for c in range(3)
    ]
    scenario = {
        "name": "three",
        "start": START,
        "hosts": hosts,
        "vms": [_vm(c, 1) for c in range(3)],
        "steps": steps,
    }
    assert _hosts_of(independent_groups(_events([scenario], 1))) == [
        ["C0N0", "C0N1"],
        ["C1N0", "C1N1"],
        ["C2N0", "C2N1"],
    ]
    crossing = {"migrate": {"vm": "C0VM01", "from": "C0N1", "to": "C2N0", "at": 300}}
    joined = dict(scenario, steps=[*steps, crossing])
    assert _hosts_of(independent_groups(_events([joined], 1))) == [
        ["C0N0", "C0N1", "C2N0", "C2N1"],
        ["C1N0", "C1N1"],
    ]


def test_a_host_named_by_another_joins_its_group_though_they_share_no_vm() -> None:
    # The destination logged nothing of the VM (its logs hold only a System record), but
    # the source's 20413 names it: its anonymous events could join that attempt.
    scenario = {
        "name": "named",
        "start": START,
        "hosts": [
            {"name": "A1", "fqdn": "A1.corp.example", "logs": ["vmms", "ha", "worker"]},
            {"name": "B1", "fqdn": "B1.corp.example", "logs": ["system"]},
        ],
        "vms": [_vm(1, 1)],
        "steps": [
            {"migrate": {"vm": "C1VM01", "from": "A1", "to": "B1", "at": 5}},
            {
                "event": {
                    "host": "B1",
                    "log": "system",
                    "id": 7036,
                    "provider": "Service Control Manager",
                }
            },
        ],
    }
    events = _events([scenario], 3)
    assert {e.short_host for e in events} == {"A1", "B1"}
    assert len(independent_groups(events)) == 1


def test_a_cluster_move_joins_the_node_it_names() -> None:
    # Node N1 moves a role to node n2 (short names are upper-cased, as hosts' own are).
    move = populated_event(
        channel="Microsoft-Windows-FailoverClustering/Operational",
        provider="Microsoft-Windows-FailoverClustering",
        event_id=1641,
        host="N1.corp.example",
        fields=(("Parameter1", "Virtual Machine X"), ("Parameter2", "n2.corp.example")),
        vm_name=None,
        vm_id=None,
        peer_host=None,
    )
    other = replace(move, host="N2", fields=(), event_id=1000, record_id=2)
    assert len(independent_groups([move, other])) == 1
    assert len(independent_groups([replace(move, fields=()), other])) == 2


def _multi_cluster(folder: Path) -> Path:
    scenario = {
        "name": "clusters",
        "start": START,
        "hosts": [
            {"name": f"C{c}N{n}", "fqdn": f"C{c}N{n}.corp.example", "clock_offset_s": 1.5 * n}
            for c in range(3)
            for n in range(3)
        ],
        "vms": [_vm(c, n) for c in range(3) for n in range(1, 9)],
        "steps": [
            {
                "drain": {
                    "from": f"C{c}N0",
                    "to": [f"C{c}N1", f"C{c}N2"],
                    "vms": [f"C{c}VM{n:02d}" for n in range(1, 9)],
                    "parallel": 3,
                    "failures": {f"C{c}VM0{c + 2}": "connection-reset"},
                }
            }
            for c in range(3)
        ],
    }
    (folder / "scenario.yaml").write_text(yaml.safe_dump(scenario), encoding="utf-8")
    done = run_migdiag("synth", str(folder / "scenario.yaml"), "--out", str(folder / "logs"))
    assert done.returncode == 0, done.stderr
    return folder / "logs"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_multi_cluster_bundle_read_from_evtx_gives_the_same_report_split_in_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = [str(_multi_cluster(tmp_path))]
    serial = analyze(logs, Options(jobs=1))
    assert len(serial.results) == 24 and len({m.migration.source for m in serial.results}) == 3
    monkeypatch.setattr(api, "_SPLIT_EVENTS", 0)
    monkeypatch.setattr(api, "_ONE_GROUP_SHARE", 1.0)
    monkeypatch.setattr(forked, "cores", lambda: 3)
    children = counted_forks(monkeypatch)
    split = analyze(logs, Options(jobs=1))
    assert split == serial
    assert render_json(split, RenderOptions()) == render_json(serial, RenderOptions())
    if not ran_in_a_fresh_process(__file__):
        assert len(children) == 2  # two of the three clusters were correlated in children


def _slow_here(share: list[int], shared: list[_Thing]) -> tuple[int, list[_Thing]]:
    if os.getpid() == PARENT:
        time.sleep(0.5)  # the children start meanwhile and take the other shares
    return os.getpid(), [shared[i] for i in share]


def test_run_shares_returns_each_value_in_order_with_the_shared_objects_themselves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if ran_in_a_fresh_process(__file__):
        return
    monkeypatch.setattr(forked, "cores", lambda: 3)
    shared = [_Thing(0), _Thing(1), _Thing(2)]
    values = forked.run_shares(partial(_slow_here, shared=shared), [[0], [1, 2], [2, 0]], shared)
    assert [v[1] for v in values] == [[shared[0]], [shared[1], shared[2]], [shared[2], shared[0]]]
    assert values[1][1][0] is shared[1] and values[2][1][1] is shared[0]  # not copies
    assert values[0][0] == PARENT and {values[1][0], values[2][0]}.isdisjoint({PARENT})


def _slow_in_a_child(share: int) -> tuple[int, int]:
    time.sleep(0.05 if os.getpid() == PARENT else 1.0)
    return os.getpid(), share


def test_a_slow_child_takes_few_shares_and_the_rest_run_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Shares are taken one at a time, not dealt beforehand: a child twenty times slower
    # than this process (a busy core, a share that costs more there) takes one or two of
    # twelve, where dealing would have given it six.
    if ran_in_a_fresh_process(__file__):
        return
    monkeypatch.setattr(forked, "cores", lambda: 2)
    children = counted_forks(monkeypatch)
    values = forked.run_shares(_slow_in_a_child, list(range(12)), [])
    assert [share for _, share in values] == list(range(12))
    assert len(children) == 1
    in_child = [share for pid, share in values if pid != PARENT]
    assert 1 <= len(in_child) <= 2, values


def test_more_shares_than_a_pipe_holds_run_here(monkeypatch: pytest.MonkeyPatch) -> None:
    # The shares' numbers are queued in a pipe before any process reads it: more than it is
    # sure to hold at once would block the writer forever, so they are all run here.
    if ran_in_a_fresh_process(__file__):
        return  # with another thread alive nothing forks whatever the count: run alone
    monkeypatch.setattr(forked, "cores", lambda: 2)
    children = counted_forks(monkeypatch)
    count = forked._Queue.MAX + 1
    values = forked.run_shares(lambda share: (os.getpid(), share), list(range(count)), [])
    assert values == [(os.getpid(), n) for n in range(count)] and children == []


class _Thing:
    def __init__(self, n: int) -> None:
        self.n = n

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Thing) and other.n == self.n

    __hash__ = None  # type: ignore[assignment]


def test_shared_objects_must_be_of_classes_of_their_own() -> None:
    # Lists, tuples, strings... are written by the pickler before any table is looked at:
    # they would come back as copies, silently.
    with pytest.raises(TypeError):
        forked._SharingPickler(io.BytesIO(), [["a list"]])


def _fails_in_a_child(share: int) -> tuple[int, int]:
    if os.getpid() == PARENT:
        if share == 0:
            time.sleep(0.5)  # the children start meanwhile and take the other shares
    elif share == 1:
        raise RuntimeError("a child that cannot do its share")
    else:
        os._exit(3)  # as a crash would
    return os.getpid(), share


def test_a_share_whose_child_failed_or_died_runs_here(monkeypatch: pytest.MonkeyPatch) -> None:
    if ran_in_a_fresh_process(__file__):
        return
    monkeypatch.setattr(forked, "cores", lambda: 3)
    children = counted_forks(monkeypatch)
    values = forked.run_shares(_fails_in_a_child, [0, 1, 2], [])
    assert len(children) == 2  # both were started, one raised, one died
    assert values == [(PARENT, 0), (PARENT, 1), (PARENT, 2)]


def test_a_group_holding_nearly_every_event_is_not_split_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One big cluster and a host pair with one migration: forking for the pair would cost
    # more than it saves, so everything runs here (and gives the same analysis).
    big = {
        "name": "big",
        "start": START,
        "hosts": [{"name": f"B{n}", "fqdn": f"B{n}.corp.example"} for n in range(3)],
        "vms": [_vm(1, n) for n in range(1, 21)],
        "steps": [{"drain": {"from": "B0", "to": ["B1", "B2"], "parallel": 4}}],
    }
    small = {
        "name": "small",
        "start": START,
        "hosts": [{"name": f"S{n}", "fqdn": f"S{n}.corp.example"} for n in range(2)],
        "vms": [_vm(2, 1)],
        "steps": [{"migrate": {"vm": "C2VM01", "from": "S0", "to": "S1", "at": 30}}],
    }
    events = _events([big, small], 5)
    sizes = sorted(len(g) for g in independent_groups(events))
    assert len(sizes) == 2 and sizes[-1] > api._ONE_GROUP_SHARE * len(events)
    monkeypatch.setattr(api, "_SPLIT_EVENTS", 0)
    monkeypatch.setattr(forked, "cores", lambda: 2)
    calls: list[object] = []

    def run_shares(*args: object) -> list[object]:
        calls.append(args)
        return []

    monkeypatch.setattr(forked, "run_shares", run_shares)
    assert api._diagnosed(events, STEP) == _serial(events, STEP)
    assert calls == []


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=400), min_size=2, max_size=60),
    st.integers(min_value=2, max_value=8),
    st.randoms(use_true_random=False),
)
def test_parts_hold_every_group_once_the_largest_first(
    sizes: list[int], count: int, rng: random.Random
) -> None:
    # Groups of numbered events (numbers in input order, the groups interleaved as hosts'
    # logs are), dealt into parts for ``count`` processes that take them one at a time.
    numbers = list(range(sum(sizes)))
    rng.shuffle(numbers)
    groups, at = [], 0
    for size in sizes:
        groups.append(sorted(numbers[at : at + size]))
        at += size
    parts = api._parts(groups, count)  # type: ignore[arg-type]
    assert sorted(n for part in parts for n in part) == list(range(sum(sizes)))
    group_of = {n: g for g, group in enumerate(groups) for n in group}
    within = [sorted({group_of[n] for n in part}) for part in parts]
    assert sum(map(len, within)) == len(groups)  # no group cut between parts
    # A part: its groups in the order they were found, each in input order.
    assert parts == [[n for g in taken for n in groups[g]] for taken in within]
    least = sum(sizes) / (count * api._PARTS_PER_CORE)
    large = [len(part) for part, taken in zip(parts, within, strict=True) if len(taken) == 1]
    large = [size for size in large if size >= least]
    # The large groups first, each a part of its own, the largest first (this process takes
    # the first); then the small ones put together, never a large one among them.
    assert [len(part) for part in parts[: len(large)]] == sorted(large, reverse=True)
    assert large == [s for s in sorted(sizes, reverse=True) if s >= least]
    assert all(sizes[g] < least for taken in within[len(large) :] for g in taken)
    # Parts are few: at most count * _PARTS_PER_CORE large ones, and as many gathered ones
    # (each at least ``least`` but the last).
    assert len(parts) <= 2 * count * api._PARTS_PER_CORE + 1
