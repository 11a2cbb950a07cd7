"""Issue #13: correlation holds in generated drains (concurrent, skewed, a few failures).

Hypothesis draws 200 drains (2-3 hosts; 2, 4, 8 or 16 at a time; 10-60 VMs; each host's
clock anywhere within +-4.5 s; 0-4 failures of any synth mode, often several in the first
batch, which starts in one second).  ``derandomize`` makes the set the same on every run, so
CI sees a fixed list; ``benchmarks/drains_property.py`` runs a larger random one.  A few
drains also go through real EVTX files and the reader.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from drain_check import events_of, modes, problems
from migdiag.api import Options, read_events
from migdiag.synth import write_events
from migdiag.synth.drains import DrainSpec


@st.composite
def drains(draw: st.DrawFn) -> DrainSpec:
    hosts = draw(st.sampled_from((2, 3)))
    parallel = draw(st.sampled_from((2, 4, 8, 16)))
    vms = draw(st.integers(10, 60))
    offsets = tuple(
        draw(st.floats(-4.5, 4.5, allow_nan=False).map(lambda s: round(s, 3))) for _ in range(hosts)
    )
    # The first batch starts in one second: failures among them fail in the same second.
    first_batch = draw(st.booleans())
    numbers = st.integers(0, (min(vms, parallel) if first_batch else vms) - 1)
    failures = draw(st.lists(st.tuples(numbers, st.sampled_from(modes())), max_size=4))
    seed = draw(st.integers(1, 99))
    # Half the drains carry execution ids as hosts write them (a Worker process per VM, a
    # VMMS thread per operation); the other half none that tell attempts apart.
    return DrainSpec(hosts, parallel, vms, offsets, tuple(failures), seed, draw(st.booleans()))


SAME_SECOND = DrainSpec(
    hosts=2,
    parallel=4,
    vms=12,
    offsets=(0.0, -3.2),
    failures=((0, "connection-reset"), (1, "connection-reset"), (2, "receive-timeout")),
    execution_ids=False,
)
MIXED_SAME_SECOND = DrainSpec(
    hosts=3,
    parallel=16,
    vms=40,
    offsets=(2.5, -4.5, 4.5),
    failures=(
        (0, "connection-reset"),
        (2, "out-of-memory"),
        (1, "connect-timeout"),
        (3, "no-credentials"),
    ),
    execution_ids=False,
)

# The pinned drains were found with execution ids that tell nothing apart (the hard case);
# each also runs with the ids hosts write.
# After the catalog's correction the destination's "Failed to create partition" (Worker 3110)
# names no VM: in one second beside another failure it is shared, and must not become the
# other VM's cause (found by this property test).
SHARED_PARTITION_ERROR = DrainSpec(
    hosts=2,
    parallel=2,
    vms=10,
    offsets=(0.0, 0.0),
    failures=((0, "unexplained"), (1, "out-of-memory")),
    execution_ids=False,
)
SHARED_BESIDE_CONFIG = DrainSpec(
    hosts=2,
    parallel=2,
    vms=10,
    offsets=(0.0, 0.0),
    failures=((0, "config-version"), (1, "out-of-memory")),
    execution_ids=False,
)


@settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(drains())
@example(SAME_SECOND)
@example(MIXED_SAME_SECOND)
@example(SHARED_PARTITION_ERROR)
@example(SHARED_BESIDE_CONFIG)
@example(replace(SAME_SECOND, execution_ids=True))
@example(replace(MIXED_SAME_SECOND, execution_ids=True))
@example(replace(SHARED_PARTITION_ERROR, execution_ids=True))
def test_generated_drains_keep_every_law(spec: DrainSpec) -> None:
    assert problems(spec) == []


@pytest.mark.parametrize(
    "spec",
    [SAME_SECOND, MIXED_SAME_SECOND, replace(MIXED_SAME_SECOND, execution_ids=True)],
    ids=["same", "mixed", "mixed-execution-ids"],
)
def test_drains_read_back_from_evtx_keep_every_law(spec: DrainSpec, tmp_path: Path) -> None:
    written = write_events(events_of(spec), tmp_path)
    reports, read, refused = read_events([str(p) for p in written], Options(jobs=1))
    assert refused == [] and all(r.error is None for r in reports)
    assert len(read) == len(events_of(spec))
    assert problems(spec, read) == []
