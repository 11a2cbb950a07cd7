"""Scenario (YAML) -> the events each host would log.  See docs/scenarios.md for the format.

A scenario names hosts (with clock offsets and which logs they export), VMs, and steps:
single ``event`` steps, ``migrate`` steps (one attempt, succeeding or failing in one of the
modes of ``failures.yaml``) and ``drain`` steps (many VMs moved N at a time).  Expansion is
deterministic: the same scenario gives the same events, and so the same EVTX bytes.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from migdiag.catalog import Catalog, default_catalog
from migdiag.errors import ScenarioError
from migdiag.model import Event, Origin

ALL_LOGS = ("vmms", "ha", "worker", "system")


@dataclass(frozen=True, slots=True)
class Host:
    name: str
    fqdn: str
    clock_offset_s: float = 0.0  # the host's clock minus true time
    logs: tuple[str, ...] = ALL_LOGS


@dataclass(frozen=True, slots=True)
class Vm:
    name: str
    id: str
    memory_gb: float = 4.0
    churn: float = 0.02  # link model: share of memory dirtied and copied again
    blackout_s: float | None = None  # link model: this VM's blackout, else a short jitter


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    start: datetime
    hosts: tuple[Host, ...]
    vms: tuple[Vm, ...]
    steps: tuple[Mapping[str, Any], ...]
    payload_style: str = "positional"  # or "named" (newer builds' element names)
    seed: int = 1
    # Execution ids as hosts write them (a Worker process per VM, a VMMS thread per
    # operation); False: one process and thread per provider, which tell nothing apart
    # (as when the ids are lost, or a test needs events that fit two attempts alike).
    execution_ids: bool = True


@dataclass(slots=True)
class _Emitter:
    """Collects events per host; record ids are assigned per host and log at the end."""

    scenario: Scenario
    catalog: Catalog
    events: list[
        tuple[
            datetime,
            str,
            str,
            int,
            int,
            tuple[tuple[str, str], ...],
            str,
            str | None,
            tuple[int | None, int | None],
        ]
    ] = field(default_factory=list)
    # The migration attempt being emitted (VM id, start, source host), for Execution ids.
    attempt: tuple[str, str, str] | None = None

    def host(self, name: str) -> Host:
        for host in self.scenario.hosts:
            if host.name.upper() == name.upper():
                return host
        raise ScenarioError(f"scenario {self.scenario.name}: unknown host {name!r}")

    def emit(
        self, host: str, log: str, event_id: int, true_time: datetime, params: Sequence[str]
    ) -> None:
        h = self.host(host)
        if log not in h.logs:
            return  # this host's log of that kind was not exported
        provider_key = "cluster" if log == "system" else log
        provider = self.catalog.providers[provider_key]
        spec = self.catalog.spec(provider, event_id)
        if spec is None:
            raise ScenarioError(f"scenario {self.scenario.name}: event {event_id} not in catalog")
        logged = true_time + timedelta(seconds=h.clock_offset_s)
        names = [f"Parameter{i}" for i in range(len(params))]
        if self.scenario.payload_style == "named":
            for role, position in spec.params:
                element = spec.element_name(role)
                if element and position <= len(names):
                    names[position - 1] = element
        if provider_key == "cluster":
            names = [""] * len(params)  # EventData/Data without names, positional
        fields = tuple(zip(names, params, strict=True))
        self.events.append(
            (
                logged,
                h.fqdn,
                spec.channel,
                event_id,
                spec.level,
                fields,
                provider,
                None,
                self._execution(h, log),
            )
        )

    def _execution(self, host: Host, log: str) -> tuple[int | None, int | None]:
        """The record's (process id, thread id), as a real host writes them: each VM has its
        own Worker process (vmwp.exe) on each host, so an attempt's Worker events share a
        process that no other VM's do; VMMS and the cluster's resource host are one process
        per host, and the events of one operation come from one thread.  Outside a
        migration, None: the EVTX writer gives each provider a fixed pair."""
        if not self.scenario.execution_ids or self.attempt is None:
            return None, None
        if log not in ("worker", "vmms", "ha"):
            return None, None
        vm_id, start, source = self.attempt
        operation = zlib.crc32(f"{host.name}|{log}|{vm_id}|{start}".encode())
        # Windows process and thread ids are multiples of 4.
        thread = 4 * (8192 + operation % 8192)
        if log == "worker":
            # The source runs the VM in the worker it has had since it started there (a retry
            # shares it); the destination starts a new one for each incoming migration.
            process = f"{vm_id}" if host.name.upper() == source.upper() else f"{vm_id}|{start}"
            return 4 * (1 + zlib.crc32(f"{host.name}|vmwp|{process}".encode()) % 4096), thread
        return 4 * (1 + zlib.crc32(f"{host.name}|{log}".encode()) % 4096), thread


def _address(host: Host) -> str:
    """A stable documentation address (RFC 5737) for a host's migration network."""
    return f"192.0.2.{10 + zlib.crc32(host.name.upper().encode()) % 240}"


def _stable_rng(*parts: object) -> random.Random:
    return random.Random(zlib.crc32("|".join(str(p) for p in parts).encode()))


@cache
def failure_modes() -> Mapping[str, Mapping[str, Any]]:
    text = resources.files("migdiag").joinpath("synth/failures.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def _at(scenario: Scenario, value: Any) -> datetime:
    if isinstance(value, int | float):
        return scenario.start + timedelta(seconds=float(value))
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ScenarioError(f"scenario {scenario.name}: bad time {value!r}") from exc


def _migrate(em: _Emitter, step: Mapping[str, Any], vm: Vm, start: datetime) -> None:
    em.attempt = (vm.id, start.isoformat(), str(step["from"]))
    try:
        _migrate_events(em, step, vm, start)
    finally:
        em.attempt = None


def _migrate_events(em: _Emitter, step: Mapping[str, Any], vm: Vm, start: datetime) -> None:
    sc = em.scenario
    src, dst = em.host(str(step["from"])), em.host(str(step["to"]))
    rng = _stable_rng(sc.seed, vm.name, start.isoformat())
    duration = float(step.get("duration_s", max(4.0, vm.memory_gb * 1.6)))
    blackout = float(step.get("blackout_s", round(0.4 + rng.random() * 0.3, 1)))
    failure = step.get("failure")
    resource = f"Virtual Machine {vm.name}"
    ctx = {
        "vm": vm.name,
        "vm_id": vm.id,
        "src": src.name,
        "dst": dst.name,
        "src_fqdn": src.fqdn,
        "dst_fqdn": dst.fqdn,
        "resource": resource,
        "path": str(step.get("path", r"D:\Hyper-V\Virtual Machines")),
        "limit": str(step.get("limit", 2)),
        "switch": str(step.get("switch", "External")),
    }

    def fill(values: Iterable[str]) -> list[str]:
        return [str(v).format(**ctx) for v in values]

    em.emit(src.name, "ha", 21300, start, [vm.id, resource])
    em.emit(dst.name, "ha", 21306, start + timedelta(seconds=0.15), [vm.id, resource])
    em.emit(src.name, "vmms", 20413, start + timedelta(seconds=0.3), [vm.name, vm.id, dst.name])

    if not failure:
        t_end = start + timedelta(seconds=duration)
        offline = t_end - timedelta(seconds=blackout + 0.4)
        em.emit(src.name, "ha", 21302, offline, [vm.id])
        em.emit(
            src.name, "ha", 21303, offline + timedelta(seconds=blackout), [vm.id, f"{blackout}"]
        )
        em.emit(src.name, "ha", 21304, offline + timedelta(seconds=blackout + 0.05), [vm.id])
        em.emit(src.name, "ha", 21305, t_end - timedelta(seconds=0.2), [vm.id, "0.2"])
        em.emit(dst.name, "ha", 21308, t_end - timedelta(seconds=0.15), [vm.id])
        em.emit(dst.name, "ha", 21309, t_end - timedelta(seconds=0.05), [vm.id, "0.1"])
        em.emit(dst.name, "ha", 21307, t_end, [vm.id, f"{duration - 0.15:.1f}", resource])
        em.emit(
            src.name,
            "ha",
            21301,
            t_end + timedelta(seconds=0.05),
            [vm.id, f"{duration:.1f}", resource],
        )
        if "dirty_pages" in step:
            # The link model's drains: the Worker's blackout figures (22509), on the
            # destination, where the VM now runs.
            em.emit(
                dst.name,
                "worker",
                22509,
                t_end - timedelta(seconds=0.1),
                [vm.name, f"{blackout}", str(step["dirty_pages"]), str(step["saved_state_kb"])],
            )
        long_blackout = bool(step.get("long_blackout", blackout >= 10.0))
        em.emit(
            src.name,
            "vmms",
            20417 if long_blackout else 20415,
            t_end + timedelta(seconds=0.1),
            [vm.name, vm.id, f"{blackout}"],
        )
        # The destination's own success names the address the VM came from.
        em.emit(
            dst.name, "vmms", 20418, t_end + timedelta(seconds=0.1), [vm.name, vm.id, _address(src)]
        )
        return

    modes = failure_modes()
    if failure not in modes:
        raise ScenarioError(
            f"scenario {sc.name}: unknown failure {failure!r} (known: {', '.join(sorted(modes))})"
        )
    mode = modes[failure]
    if "at_s" in mode:
        t_fail = start + timedelta(seconds=float(step.get("fail_after_s", mode["at_s"])))
    else:
        t_fail = start + timedelta(seconds=duration * float(mode["at"]))
    code = mode.get("code")
    ctx["code"] = str(code or "")
    ctx["code_text"] = em.catalog.error_codes[code].text if code else ""
    ctx["detail"] = str(mode["detail"]).format(**ctx)
    for spec in mode.get("events") or ():
        host = src.name if spec["host"] == "source" else dst.name
        em.emit(
            host,
            spec["log"],
            int(spec["id"]),
            t_fail + timedelta(seconds=float(spec["dt"])),
            fill(spec["params"]),
        )
    if mode.get("dest_failed"):
        em.emit(
            dst.name, "vmms", 21026, t_fail + timedelta(seconds=0.2), [vm.name, vm.id, dst.name]
        )
    if mode.get("source_failed", True):
        em.emit(
            src.name, "vmms", 21024, t_fail + timedelta(seconds=0.3), [vm.name, vm.id, src.name]
        )
    lines = [f"Live migration of '{resource}' failed."]
    if mode.get("source_failed", True):
        lines.append(
            f"Virtual machine migration operation for '{vm.name}' failed at migration source "
            f"'{src.name}'. (Virtual machine ID {vm.id})"
        )
    lines.append(ctx["detail"])
    ha_id = int(mode.get("ha_id", 21502))
    em.emit(
        src.name,
        "ha",
        ha_id,
        t_fail + timedelta(seconds=0.6),
        [resource, vm.id, "\n\n".join(lines)],
    )


def _drain(em: _Emitter, step: Mapping[str, Any], vms: Mapping[str, Vm]) -> None:
    names = list(step.get("vms") or list(vms))
    parallel = max(1, int(step.get("parallel", 2)))
    start = _at(em.scenario, step.get("at", 0))
    failures: Mapping[str, str] = step.get("failures") or {}
    targets = step["to"] if isinstance(step.get("to"), list) else [step.get("to")]
    if step.get("retry_failed"):
        # The failed ones are queued again at the end, and then succeed.
        names += [name for name in names if name in failures]
    if "link_gbps" in step:
        _drain_over_link(em, step, vms, names, targets, parallel, start, failures)
        return
    slots = [start] * parallel
    tried: set[str] = set()
    for index, name in enumerate(names):
        vm, target = vms[name], targets[index % len(targets)]
        slot = index % parallel
        t = slots[slot]
        rng = _stable_rng(em.scenario.seed, "drain", name)
        duration = float(step.get("duration_s", max(4.0, vm.memory_gb * 1.6))) + rng.random() * 2
        failure = failures.get(name) if name not in tried else None
        tried.add(name)
        sub = {**step, "to": target, "duration_s": round(duration, 1), "failure": failure}
        _migrate(em, sub, vm, t)
        slots[slot] = t + timedelta(seconds=duration + 1.0 + rng.random())


# The link model (docs/scenarios.md): share of the link's speed a performance option uses,
# the data it sends per byte of memory, and the most one migration reaches on its own.
_EFFICIENCY = {"tcpip": 0.9, "compression": 0.9, "smb": 0.95}
_DATA_PER_BYTE = {"tcpip": 1.0, "compression": 0.5, "smb": 1.0}
_ONE_MIGRATION_GBPS = {"tcpip": 4.0, "compression": 8.0, "smb": None}  # SMB: Multichannel


def _drain_over_link(
    em: _Emitter,
    step: Mapping[str, Any],
    vms: Mapping[str, Vm],
    names: Sequence[str],
    targets: Sequence[Any],
    parallel: int,
    start: datetime,
    failures: Mapping[str, str],
) -> None:
    """Durations that follow from memory, concurrency and the link: a fluid simulation in
    which the running migrations share the link (see docs/scenarios.md)."""
    option = str(step.get("performance", "tcpip")).lower()
    if option not in _EFFICIENCY:
        raise ScenarioError(f"scenario {em.scenario.name}: unknown performance {option!r}")
    link = float(step["link_gbps"]) * _EFFICIENCY[option]
    if option == "smb" and step.get("smb_limit_gbps"):
        link = min(link, float(step["smb_limit_gbps"]))
    data_rate = link / _DATA_PER_BYTE[option]  # memory moved per second by the whole link
    one = step.get("per_migration_gbps", _ONE_MIGRATION_GBPS[option])
    knee = step.get("knee")  # past this many at once the link carries less in total
    overhead = float(step.get("overhead_s", 0.8))
    gap = float(step.get("gap_s", 0.5))

    def rate(running: int) -> float:
        total = data_rate * (min(1.0, float(knee) / running) if knee else 1.0)
        share = total / running
        return min(share, float(one) / _DATA_PER_BYTE[option]) if one else share

    queue = list(enumerate(names))
    # Running: queue position -> [vm name, start, end of setup, Gbit left to copy, slot];
    # times in seconds after the drain's start.
    running: dict[int, list[Any]] = {}
    now = 0.0
    free_at = [0.0] * parallel
    done: list[tuple[int, str, float, float]] = []
    while queue or running:
        for slot in range(parallel):
            busy = any(r[4] == slot for r in running.values())
            if queue and free_at[slot] <= now + 1e-9 and not busy:
                index, name = queue.pop(0)
                vm = vms[name]
                bits = vm.memory_gb * 8 * (1 + vm.churn)
                running[index] = [name, now, now + overhead, bits, slot]
        transferring = [r for r in running.values() if r[2] <= now + 1e-9]
        per = rate(len(transferring)) if transferring else 0.0
        # The next moment anything changes: a setup ends, a copy ends, a slot frees.
        horizon = [r[2] for r in running.values() if r[2] > now + 1e-9]
        horizon += [now + r[3] / per for r in transferring if per > 0]
        horizon += [t for t in free_at if t > now + 1e-9] if queue else []
        if not horizon:
            break
        nxt = min(horizon)
        for r in transferring:
            r[3] -= per * (nxt - now)
        now = nxt
        for index, r in list(running.items()):
            if r[2] <= now + 1e-9 and r[3] <= 1e-6:
                end = now + (vms[r[0]].blackout_s or 0.6)
                done.append((index, r[0], r[1], end))
                free_at[r[4]] = end + gap
                del running[index]
    tried: set[str] = set()
    for index, name, t0, t1 in sorted(done, key=lambda d: d[0]):
        vm = vms[name]
        failure = failures.get(name) if name not in tried else None
        tried.add(name)
        sub = {
            **step,
            "to": targets[index % len(targets)],
            "duration_s": round(t1 - t0, 1),
            "failure": failure,
        }
        if vm.blackout_s is not None:
            sub["blackout_s"] = vm.blackout_s
        # Pages still dirty at the pause: a share of what the VM dirties (4 KiB pages).
        sub["dirty_pages"] = round(vm.memory_gb * vm.churn * 0.05 * 262144)
        sub["saved_state_kb"] = 2048
        _migrate(em, sub, vm, start + timedelta(seconds=t0))


def expand(scenario: Scenario, catalog: Catalog | None = None) -> list[Event]:
    """Every event the scenario's hosts log, ordered per host and log, with record ids."""
    em = _Emitter(scenario, catalog or default_catalog())
    vms = {vm.name: vm for vm in scenario.vms}
    for step in scenario.steps:
        if "migrate" in step:
            body = step["migrate"]
            vm = vms.get(str(body.get("vm")))
            if vm is None:
                raise ScenarioError(f"scenario {scenario.name}: unknown VM {body.get('vm')!r}")
            _migrate(em, body, vm, _at(scenario, body.get("at", 0)))
        elif "drain" in step:
            _drain(em, step["drain"], vms)
        elif "event" in step:
            _single(em, step["event"])
        else:
            raise ScenarioError(f"scenario {scenario.name}: unknown step {sorted(step)}")
    em.events.sort(key=lambda e: (e[1], e[2], e[0], e[3]))
    out: list[Event] = []
    record_ids: dict[tuple[str, str], int] = {}
    for logged, fqdn, channel, event_id, level, fields, provider, message, execution in em.events:
        key = (fqdn, channel)
        record_ids[key] = record_ids.get(key, 0) + 1
        out.append(
            Event(
                time=logged,
                host=fqdn,
                channel=channel,
                provider=provider,
                event_id=event_id,
                level=level,
                record_id=record_ids[key],
                fields=fields,
                message=message,
                origin=Origin(path=f"scenario:{scenario.name}", format="synth"),
                process_id=execution[0],
                thread_id=execution[1],
            )
        )
    return out


def _single(em: _Emitter, body: Mapping[str, Any]) -> None:
    host = em.host(str(body["host"]))
    log = str(body.get("log", "system"))
    if log not in host.logs:
        return
    provider = str(
        body.get("provider") or em.catalog.providers["cluster" if log == "system" else log]
    )
    channel = str(body.get("channel") or em.catalog.channels[log])
    raw_fields = body.get("fields") or []
    if isinstance(raw_fields, Mapping):
        fields = tuple((str(k), str(v)) for k, v in raw_fields.items())
    else:
        fields = tuple(
            (f"Parameter{i}" if provider.startswith("Microsoft-Windows-Hyper-V") else "", str(v))
            for i, v in enumerate(raw_fields)
        )
    t = _at(em.scenario, body.get("at", 0)) + timedelta(seconds=host.clock_offset_s)
    # ``message``: the rendered text a localised XML or text export carries (EVTX files
    # written by synth never hold one; readers and cases of pasted exports do).
    message = str(body["message"]) if body.get("message") else None
    em.events.append(
        (
            t,
            host.fqdn,
            channel,
            int(body["id"]),
            int(body.get("level", 4)),
            fields,
            provider,
            message,
            (None, None),
        )
    )


def parse_scenario(data: Mapping[str, Any], name: str = "scenario") -> Scenario:
    try:
        hosts = tuple(
            Host(
                name=str(h["name"]),
                fqdn=str(h.get("fqdn", h["name"])),
                clock_offset_s=float(h.get("clock_offset_s", 0.0)),
                logs=tuple(h.get("logs", ALL_LOGS)),
            )
            for h in data["hosts"]
        )
        vms = tuple(
            Vm(
                name=str(v["name"]),
                id=str(v["id"]).upper(),
                memory_gb=float(v.get("memory_gb", 4)),
                churn=float(v.get("churn", 0.02)),
                blackout_s=float(v["blackout_s"]) if "blackout_s" in v else None,
            )
            for v in data.get("vms", [])
        )
        start = datetime.fromisoformat(str(data["start"]).replace("Z", "+00:00"))
        return Scenario(
            name=str(data.get("name", name)),
            description=str(data.get("description", "")),
            start=start if start.tzinfo else start.replace(tzinfo=UTC),
            hosts=hosts,
            vms=vms,
            steps=tuple(data.get("steps", [])),
            payload_style=str(data.get("payload_style", "positional")),
            seed=int(data.get("seed", 1)),
            execution_ids=bool(data.get("execution_ids", True)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ScenarioError(f"{name}: invalid scenario ({exc})") from exc


def load_scenario(path: Path) -> Scenario:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(
            f"{path}: cannot read scenario ({getattr(exc, 'strerror', None) or exc})"
        ) from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario is a YAML mapping")
    return parse_scenario(data, str(path))
