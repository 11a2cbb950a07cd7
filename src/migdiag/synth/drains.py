"""Generated host drains: many VMs moved N at a time, a few failing, clocks skewed.

The property test of correlation (``tests/test_drain_property.py``) and its larger run in
``benchmarks/drains_property.py`` draw ``DrainSpec`` values and expand them with
``drain_scenario``: the same spec always gives the same scenario, and so the same events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

START = "2024-05-14T09:00:00Z"


@dataclass(frozen=True, slots=True)
class DrainSpec:
    """One drain: HV01 is emptied onto HV02 (and HV03, with three hosts)."""

    hosts: int  # 2 or 3
    parallel: int  # migrations at a time, over all destinations
    vms: int
    offsets: tuple[float, ...]  # each host's clock minus true time, seconds (HV01 first)
    failures: tuple[tuple[int, str], ...]  # (VM number, failure mode of synth/failures.yaml)
    seed: int = 1
    # Execution ids as hosts write them (they tell apart failures of one second); False:
    # ids that tell nothing apart, so attribution rests on time, codes and peers alone.
    execution_ids: bool = True

    def vm_name(self, number: int) -> str:
        return f"VM{number:03d}"

    @property
    def failed_vms(self) -> dict[str, str]:
        """VM name -> failure mode; a VM drawn twice keeps its first mode."""
        out: dict[str, str] = {}
        for number, mode in self.failures:
            out.setdefault(self.vm_name(number), mode)
        return out


def drain_scenario(spec: DrainSpec) -> dict[str, Any]:
    """The scenario mapping (as ``synth.scenario.parse_scenario`` reads it) of one drain."""
    names = [f"HV{n:02d}" for n in range(1, spec.hosts + 1)]
    hosts = [
        {"name": name, "fqdn": f"{name}.corp.example", "clock_offset_s": offset}
        for name, offset in zip(names, spec.offsets, strict=True)
    ]
    vms = [
        {
            "name": spec.vm_name(n),
            "id": f"00000000-0000-4000-8000-{n:012d}",
            # 2 to 16 GB: durations from 4 s to about 27 s, so attempts overlap unevenly.
            "memory_gb": 2 + (n * 7 + spec.seed) % 15,
        }
        for n in range(spec.vms)
    ]
    failed = spec.failed_vms
    destinations = names[1:]
    per_destination = max(1, spec.parallel // len(destinations))
    steps = []
    for k, destination in enumerate(destinations):
        # Round-robin over the destinations; each drain starts at once, so the first VMs of
        # every destination start in the same second.
        mine = [vm["name"] for i, vm in enumerate(vms) if i % len(destinations) == k]
        steps.append(
            {
                "drain": {
                    "from": names[0],
                    "to": destination,
                    "parallel": per_destination,
                    "vms": mine,
                    "failures": {name: failed[name] for name in mine if name in failed},
                }
            }
        )
    return {
        "name": f"drain-{spec.seed}",
        "start": START,
        "seed": spec.seed,
        "execution_ids": spec.execution_ids,
        "hosts": hosts,
        "vms": vms,
        "steps": steps,
    }
