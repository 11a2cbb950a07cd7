"""The laws a generated drain must obey once correlated and diagnosed (issue #13).

Shared by ``tests/test_drain_property.py`` (a fixed set in CI) and
``benchmarks/drains_property.py`` (a larger run): every attempt reported exactly once,
every injected failure failed with its mode's cause, no VM that succeeded reported failed,
and the result independent of input order.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from functools import cache

from migdiag.api import _ContextIndex
from migdiag.catalog import default_catalog
from migdiag.correlate import Correlation, correlate
from migdiag.diagnose.loader import Library, load_library
from migdiag.diagnose.rank import diagnose
from migdiag.model import DEFAULT_SKEW_TOLERANCE, Event, Migration, Outcome
from migdiag.normalise import normalise
from migdiag.synth.drains import DrainSpec, drain_scenario
from migdiag.synth.scenario import expand, failure_modes, parse_scenario


@cache
def library() -> Library:
    return load_library(())


def events_of(spec: DrainSpec) -> list[Event]:
    catalog = default_catalog()
    return [normalise(e, catalog) for e in expand(parse_scenario(drain_scenario(spec)))]


def diagnosed_cause(m: Migration, events: Sequence[Event]) -> str:
    window = max((s.window_s for s in library().signatures), default=300.0)
    result = diagnose(m, library(), default_catalog(), _ContextIndex(events).around(m, window))
    return result.diagnosis.signature_id if result.diagnosis else "none"


@cache
def mode_cause(mode: str) -> str:
    """What a failure of this mode is diagnosed as when it is the only migration: the cause
    the same failure must get inside a drain."""
    spec = DrainSpec(hosts=2, parallel=1, vms=1, offsets=(0.0, 0.0), failures=((0, mode),))
    events = events_of(spec)
    (m,) = correlate(events).migrations
    return diagnosed_cause(m, events)


def modes() -> list[str]:
    return sorted(failure_modes())


def shape(result: Correlation) -> list[tuple[object, ...]]:
    """What must not depend on input order: each attempt's VM, hosts, outcome and events."""
    return [
        (m.vm_id, m.source, m.destination, m.outcome, tuple(sorted(e.identity for e in m.events)))
        for m in result.migrations
    ]


def problems(
    spec: DrainSpec,
    events: Sequence[Event] | None = None,
    tolerance: timedelta = DEFAULT_SKEW_TOLERANCE,
    shuffle_seed: int = 0,
) -> list[str]:
    """Every law the drain breaks, in words (empty when it obeys them all)."""
    events = list(events) if events is not None else events_of(spec)
    result = correlate(events, skew_tolerance=tolerance)
    out: list[str] = []
    names = Counter(m.vm_name for m in result.migrations)
    for number in range(spec.vms):
        name = spec.vm_name(number)
        if names[name] != 1:
            out.append(f"{name} reported {names[name]} times")
    failed = spec.failed_vms
    for m in result.migrations:
        name = m.vm_name or "?"
        if name not in failed:
            if m.outcome is not Outcome.SUCCEEDED:
                out.append(f"{name} succeeded but was reported {m.outcome.value}")
            continue
        if m.outcome is not Outcome.FAILED:
            out.append(f"{name} failed ({failed[name]}) but was reported {m.outcome.value}")
            continue
        cause, expected = diagnosed_cause(m, events), mode_cause(failed[name])
        if cause != expected:
            out.append(f"{name} failed ({failed[name]}): diagnosed {cause}, not {expected}")
    shuffled = list(events)
    random.Random(shuffle_seed).shuffle(shuffled)
    if shape(correlate(shuffled, skew_tolerance=tolerance)) != shape(result):
        out.append("the result depends on the order of the input events")
    return out


def random_spec(rng: random.Random, seed: int) -> DrainSpec:
    """A drain drawn from the ranges issue #13 names (for the benchmark's larger run)."""
    hosts = rng.choice((2, 3))
    parallel = rng.choice((2, 4, 8, 16))
    vms = rng.randint(10, 60)
    offsets = tuple(round(rng.uniform(-4.5, 4.5), 3) for _ in range(hosts))
    count = rng.randint(0, 4)
    # Half the time the failures are among the first VMs, which all start in the same second.
    pool = range(min(vms, parallel)) if rng.random() < 0.5 else range(vms)
    failures = tuple((rng.choice(pool), rng.choice(modes())) for _ in range(count))
    # Execution ids as hosts write them, or none that tell attempts apart: half each.
    return DrainSpec(hosts, parallel, vms, offsets, failures, seed, rng.random() < 0.5)
