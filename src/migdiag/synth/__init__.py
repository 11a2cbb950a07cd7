"""``migdiag synth``: scenario YAML -> one EVTX per host and channel, as Windows exports them.

Same scenario, same bytes: expansion is deterministic and the writer has no clock.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from migdiag.catalog import default_catalog
from migdiag.model import Event, short_host
from migdiag.synth.evtx_writer import write_evtx
from migdiag.synth.scenario import Scenario, expand, load_scenario


def export_name(channel: str) -> str:
    """Windows names a channel's file after it, with ``/`` escaped as ``%4``."""
    return channel.replace("/", "%4") + ".evtx"


def write_events(events: list[Event], out_dir: Path) -> list[Path]:
    """Write events grouped by host and channel: ``<HOST>/<channel>.evtx``."""
    catalog = default_catalog()
    groups: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for event in events:
        groups[(short_host(event.host), event.channel)].append(event)
    written = []
    for (host, channel), group in sorted(groups.items()):
        path = out_dir / host / export_name(channel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(write_evtx(group, catalog.provider_guids))
        written.append(path)
    return written


def synthesize(scenario: Scenario, out_dir: Path) -> list[Path]:
    return write_events(expand(scenario), out_dir)


def synthesize_file(scenario_path: Path, out_dir: Path) -> list[Path]:
    return synthesize(load_scenario(scenario_path), out_dir)
