"""A fleet bundle for the benchmark: many Hyper-V hosts, System logs full of unrelated records.

Why not a scenario YAML alone: a real System log is mostly Service Control Manager, time
service, DCOM and update-client chatter that no live-migration signature can use, and that
mix is what the reader's chunk skipping is measured on.  So the migrations come from the
``migdiag synth`` scenario engine (drains across clusters of five, a few failing in each
mode of ``failures.yaml``, cluster network events in System) and the unrelated records are
interleaved into each host's System log here, then every log is written with ``write_evtx``.

Deterministic: the same size gives the same bytes, so a cached bundle stays valid.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from migdiag.catalog import default_catalog
from migdiag.model import Event, Origin, short_host
from migdiag.synth import export_name
from migdiag.synth.evtx_writer import write_evtx
from migdiag.synth.scenario import expand, failure_modes, parse_scenario

START = datetime(2024, 3, 4, 8, 0, tzinfo=UTC)
CLUSTER_SIZE = 5
ROUND_GAP_S = 3600.0  # one drain round per host per hour
FAIL_EVERY = 20  # one attempt in 20 fails, cycling through the failure modes


@dataclass(frozen=True, slots=True)
class FleetSize:
    name: str
    hosts: int
    vms_per_host: int
    rounds: int  # drain rounds: each host moves all its VMs once per round
    noise_per_host: int  # unrelated System records per host

    @property
    def attempts(self) -> int:
        return self.hosts * self.vms_per_host * self.rounds


# ``full`` is about 1 GB; ``quick`` about 50 MB, the "typical bundle" of the issue.
SIZES = {
    "quick": FleetSize("quick", hosts=5, vms_per_host=20, rounds=4, noise_per_host=24_000),
    "medium": FleetSize("medium", hosts=20, vms_per_host=10, rounds=5, noise_per_host=40_000),
    "full": FleetSize("full", hosts=50, vms_per_host=10, rounds=5, noise_per_host=50_000),
}

# (provider, event id, level, payload field names, value choices): what fills System logs.
_NOISE: tuple[tuple[str, int, int, tuple[str, ...], tuple[tuple[str, ...], ...]], ...] = (
    (
        "Service Control Manager",
        7036,
        4,
        ("param1", "param2"),
        (
            (
                "Windows Update",
                "WinHTTP Web Proxy Auto-Discovery Service",
                "Background Intelligent Transfer Service",
                "Hyper-V Virtual Machine Management",
                "Windows Modules Installer",
                "Software Protection",
                "Print Spooler",
            ),
            ("running", "stopped"),
        ),
    ),
    (
        "Service Control Manager",
        7040,
        4,
        ("param1", "param2", "param3", "param4"),
        (
            ("Background Intelligent Transfer Service", "Windows Update"),
            ("auto start", "demand start"),
            ("demand start", "auto start"),
            ("BITS", "wuauserv"),
        ),
    ),
    (
        "Microsoft-Windows-Time-Service",
        37,
        4,
        ("TimeSource",),
        (("dc01.fleet.example,0x8 (ntp.m|0x8|0.0.0.0:123->10.0.0.10:123)",),),
    ),
    (
        "Microsoft-Windows-DistributedCOM",
        10016,
        3,
        ("param1", "param2", "param3", "param4", "param5"),
        (
            ("application-specific", "machine-default"),
            ("Local", "Remote"),
            ("Activation", "Launch"),
            ("{2593F8B9-4EAF-457C-B68A-50F6B8EA6B54}", "{D63B10C5-BB46-4990-A94F-E40B9D520160}"),
            ("NT AUTHORITY", "FLEET"),
        ),
    ),
    (
        "Microsoft-Windows-Kernel-General",
        16,
        4,
        ("HiveNameLength", "HiveName", "KeysUpdated", "DirtyPages"),
        (
            ("34", "52"),
            (r"\??\C:\Windows\System32\config\SOFTWARE", r"\??\C:\Users\svc\ntuser.dat"),
            ("12", "3", "140"),
            ("6", "1", "88"),
        ),
    ),
    (
        "Microsoft-Windows-WindowsUpdateClient",
        19,
        4,
        ("updateTitle", "updateGuid", "updateRevisionNumber"),
        (
            ("Security Intelligence Update for Microsoft Defender Antivirus - KB2267602",),
            ("{C1B1BAF9-9C0A-4C8E-9E2A-1D7B6D1D9D65}",),
            ("200", "201"),
        ),
    ),
    # EventLog 6013 (uptime): seven unnamed Data elements, one fixed value each.
    ("EventLog", 6013, 4, ("",) * 7, tuple((v,) for v in ("86400", "60", "0", "", "", "", "1"))),
)


def fleet_scenario(size: FleetSize) -> Any:
    """The migrations: per round, each host drains its VMs to another node of its cluster."""
    hosts = [f"HV{n:02d}" for n in range(1, size.hosts + 1)]
    modes = sorted(failure_modes())
    vms = []
    steps: list[dict[str, Any]] = []
    attempt = 0
    for h, host in enumerate(hosts):
        for v in range(size.vms_per_host):
            n = h * size.vms_per_host + v
            vms.append(
                {
                    "name": f"{host}-VM{v:02d}",
                    "id": f"6B1D3F2A-0000-4000-8000-{n:012d}",
                    "memory_gb": 2 + (n % 4) * 2,
                }
            )
    for r in range(size.rounds):
        for h, host in enumerate(hosts):
            base = h - h % CLUSTER_SIZE
            members = min(CLUSTER_SIZE, size.hosts - base)
            if members < 2:
                continue
            target = hosts[base + (h - base + 1 + r % (members - 1)) % members]
            names = [f"{host}-VM{v:02d}" for v in range(size.vms_per_host)]
            failures = {}
            for name in names:
                attempt += 1
                if attempt % FAIL_EVERY == 0:
                    failures[name] = modes[(attempt // FAIL_EVERY) % len(modes)]
            at = r * ROUND_GAP_S + h * 7.0
            steps.append(
                {
                    "drain": {
                        "from": host,
                        "to": target,
                        "parallel": 2,
                        "at": at,
                        "vms": names,
                        "failures": failures,
                    }
                }
            )
            # A cluster network blip now and then, so System logs hold a few relevant records.
            if (r + h) % 3 == 0:
                steps.append(
                    {
                        "event": {
                            "host": host,
                            "log": "system",
                            "id": 1126,
                            "level": 3,
                            "at": at + 900,
                            "fields": [f"{host} - Live Migration", host, "Live Migration"],
                        }
                    }
                )
    return parse_scenario(
        {
            "name": f"fleet-{size.name}",
            "start": START.isoformat(),
            "seed": 7,
            "hosts": [{"name": h, "fqdn": f"{h}.fleet.example"} for h in hosts],
            "vms": vms,
            "steps": steps,
        }
    )


def noise(fqdn: str, count: int, span_s: float, seed: str) -> Iterator[Event]:
    """``count`` unrelated System records spread over ``span_s`` seconds, in time order."""
    rng = random.Random(seed)
    times = sorted(rng.random() * span_s for _ in range(count))
    origin = Origin(path="fleet", format="synth")
    for t in times:
        provider, event_id, level, names, choices = _NOISE[rng.randrange(len(_NOISE))]
        values = tuple(rng.choice(options) for options in choices)
        yield Event(
            time=START - timedelta(seconds=600) + timedelta(seconds=t),
            host=fqdn,
            channel="System",
            provider=provider,
            event_id=event_id,
            level=level,
            record_id=None,
            fields=tuple(zip(names, values, strict=True)),
            message=None,
            origin=origin,
        )


def _write_host(args: tuple[str, Sequence[Event], int, float, str]) -> list[str]:
    fqdn, events, noise_count, span_s, out = args
    catalog = default_catalog()
    logs: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        logs[event.channel].append(event)
    logs["System"] = sorted(
        [*logs["System"], *noise(fqdn, noise_count, span_s, fqdn)], key=lambda e: e.time
    )
    written = []
    for channel, group in sorted(logs.items()):
        numbered = [replace(e, record_id=i) for i, e in enumerate(group, 1)]
        path = Path(out) / short_host(fqdn) / export_name(channel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(write_evtx(numbered, catalog.provider_guids))
        written.append(str(path))
    return written


def write_fleet(size: FleetSize, out_dir: Path, jobs: int = 0) -> list[Path]:
    """Write the bundle: ``<out_dir>/<HOST>/<channel>.evtx``; returns the files written."""
    events = expand(fleet_scenario(size))
    by_host: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        by_host[event.host].append(event)
    span_s = size.rounds * ROUND_GAP_S + 1200.0
    tasks = [(fqdn, group, size.noise_per_host, span_s, str(out_dir)) for fqdn, group in
             sorted(by_host.items())]  # fmt: skip
    with ProcessPoolExecutor(max_workers=jobs or None) as pool:
        return [Path(p) for paths in pool.map(_write_host, tasks) for p in paths]
