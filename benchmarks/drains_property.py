"""The drain property of issue #13 over many more drains than CI runs.

    python benchmarks/drains_property.py [--drains 2000] [--seed 0] [--evtx 20]

Each drain is drawn at random (2-3 hosts; 2, 4, 8 or 16 at a time; 10-60 VMs; each host's
clock within +-4.5 s; 0-4 failures of any synth mode, half the time in the first batch, which
starts in one second), correlated and diagnosed, and checked against the laws in
``tests/drain_check.py``: every attempt reported once, every injected failure failed with its
mode's cause, no VM that succeeded reported failed, the result independent of input order.
``--evtx N`` sends the first N drains through real EVTX files and the reader as well.

Prints the drains per second and every drain that broke a law, with the spec that rebuilds
it; exits 1 when any did.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from drain_check import events_of, problems, random_spec  # noqa: E402 - needs the path above
from migdiag.api import Options, read_events  # noqa: E402
from migdiag.synth import write_events  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drains", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0, help="first seed; drain i uses seed+i")
    parser.add_argument("--evtx", type=int, default=20, help="drains also read back from EVTX")
    args = parser.parse_args()
    broken = 0
    events_total = 0
    start = time.perf_counter()
    for i in range(args.drains):
        seed = args.seed + i
        spec = random_spec(random.Random(seed), seed)
        events = events_of(spec)
        events_total += len(events)
        found = problems(spec, events, shuffle_seed=seed)
        if i < args.evtx:
            with tempfile.TemporaryDirectory() as folder:
                written = write_events(events, Path(folder))
                _, read, _ = read_events([str(p) for p in written], Options(jobs=1))
            found += [f"read back from EVTX: {p}" for p in problems(spec, read, shuffle_seed=seed)]
        if found:
            broken += 1
            print(f"seed {seed}: {spec}")
            for line in found:
                print(f"  {line}")
    wall = time.perf_counter() - start
    print(
        f"{args.drains} drains ({events_total:,} events, {args.evtx} through EVTX) in "
        f"{wall:.1f} s: {args.drains / wall:.1f} drains/s; {broken} broke a law"
    )
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
