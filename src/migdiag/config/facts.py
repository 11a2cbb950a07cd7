"""Snapshots -> ``Configuration``: what each host's settings say, as typed facts.

Every fact keeps where it came from (cmdlet, property, shown value) so that a finding can
cite it as evidence.  Reading is tolerant: enums as numbers (PowerShell 5.1) or names (7),
versions as ``{"Major": 9, "Minor": 0}`` or ``"9.0"``, properties missing on older builds
(the fact is then simply absent, never guessed).

The typed API (``Configuration.vm_memory_bytes``, ``migration_link_bits``, ...) is what
other steps may read: drains use VM memory sizes and link speeds.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from migdiag.config.snapshot import Snapshot
from migdiag.model import SpeedFacts

PERFORMANCE_OPTIONS = {0: "TCPIP", 1: "Compression", 2: "SMB"}
SMB_CATEGORIES = {0: "Default", 1: "VirtualMachine", 2: "LiveMigration"}
ADDRESS_FAMILIES = {2: "IPv4", 23: "IPv6"}
STANDARD_FRAME = 1514  # a jumbo setting of "Disabled" is the standard Ethernet frame


@dataclass(frozen=True, slots=True)
class Fact:
    """One value of one host's configuration, and where it was read."""

    host: str
    name: str  # the fact's name in the rule vocabulary (docs/config-rules.md)
    value: object  # str, int, float, bool or a tuple of those
    cmdlet: str
    property: str
    shown: str  # the value as a person reads it ("9014", "10 Gbps", "SMB")
    item: str = ""  # the NIC, VM or switch the value belongs to ("" for the host itself)
    path: str = ""  # the snapshot file


def _enum(value: object, names: Mapping[int, str]) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return names.get(value, str(value))
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.isdigit():
            return names.get(int(text), text)
        for name in names.values():
            if name.lower() == text.lower():
                return name
        return text
    return None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        digits = re.match(r"^\s*(\d+)", value)
        return int(digits.group(1)) if digits else None
    if isinstance(value, list) and value:
        return _int(value[0])  # RegistryValue is an array of strings
    return None


def _bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int):
        return bool(value)
    return None


def _version(value: object) -> tuple[int, int] | None:
    if isinstance(value, Mapping):
        major, minor = _int(value.get("Major")), _int(value.get("Minor"))
        return (major, minor or 0) if major is not None else None
    if isinstance(value, str):
        m = re.match(r"^\s*(\d+)(?:\.(\d+))?", value)
        return (int(m.group(1)), int(m.group(2) or 0)) if m else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (int(value), round((value - int(value)) * 10))
    return None


_SPEED_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def _bits(value: object) -> int | None:
    """A link speed in bits/s from a number (ReceiveLinkSpeed, Speed) or "10 Gbps"."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value) if value > 0 else None
    if isinstance(value, str):
        m = re.match(r"^\s*([\d.]+)\s*([kmgt]?)bps\s*$", value, re.I)
        if m:
            return int(float(m.group(1)) * _SPEED_UNITS[m.group(2).lower()])
    return None


def gbps(bits: float) -> str:
    value = bits / 1e9
    return f"{value:g} Gbps" if value >= 1 else f"{bits / 1e6:g} Mbps"


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


@dataclass(frozen=True, slots=True)
class Nic:
    """A host network adapter as the snapshot shows it (``Get-NetAdapter`` and friends)."""

    name: str
    description: str
    link_bits: int | None
    up: bool
    jumbo: int | None  # the *JumboPacket value; STANDARD_FRAME when "Disabled"
    rdma: bool | None
    addresses: tuple[str, ...]  # "10.0.1.11/24"


@dataclass(frozen=True, slots=True)
class Vm:
    name: str
    version: tuple[int, int] | None
    memory_bytes: int | None  # startup memory
    processor_compatibility: bool | None
    switches: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HostConfig:
    """Everything one host's snapshots say, with the facts rules read."""

    host: str
    cmdlets: tuple[str, ...]  # the snapshots read for this host
    nics: tuple[Nic, ...]
    migration_nics: tuple[Nic, ...]  # those live migration uses (see _migration_nics)
    vms: tuple[Vm, ...]
    facts: tuple[Fact, ...]

    def fact(self, name: str) -> Fact | None:
        for fact in self.facts:
            if fact.name == name and not fact.item:
                return fact
        return None

    def item_facts(self, name: str) -> tuple[Fact, ...]:
        return tuple(f for f in self.facts if f.name == name)


class _Builder:
    def __init__(self, host: str, snapshots: Sequence[Snapshot]) -> None:
        self.host = host
        self.by_cmdlet: dict[str, Snapshot] = {}
        for snap in snapshots:
            self.by_cmdlet.setdefault(snap.cmdlet, snap)
        self.facts: list[Fact] = []

    def records(self, cmdlet: str) -> tuple[Mapping[str, Any], ...]:
        snap = self.by_cmdlet.get(cmdlet)
        return snap.records if snap else ()

    def add(
        self, name: str, value: object, cmdlet: str, prop: str, shown: str, item: str = ""
    ) -> None:
        if value is None:
            return
        path = self.by_cmdlet[cmdlet].path if cmdlet in self.by_cmdlet else ""
        self.facts.append(Fact(self.host, name, value, cmdlet, prop, shown, item, path))


def _nics(b: _Builder) -> tuple[Nic, ...]:
    jumbo: dict[str, int] = {}
    for setting in b.records("Get-NetAdapterAdvancedProperty"):
        if str(setting.get("RegistryKeyword", "")).lower() != "*jumbopacket":
            continue
        value = _int(setting.get("RegistryValue"))
        if value is None:
            shown = str(setting.get("DisplayValue") or "")
            value = STANDARD_FRAME if shown.lower() == "disabled" else _int(shown)
        if value is not None and _text(setting.get("Name")):
            jumbo[str(setting["Name"])] = value
    rdma = {
        str(r["Name"]): bool(_bool(r.get("Enabled")))
        for r in b.records("Get-NetAdapterRdma")
        if _text(r.get("Name"))
    }
    addresses: dict[str, list[str]] = {}
    for ip in b.records("Get-NetIPAddress"):
        alias, address = _text(ip.get("InterfaceAlias")), _text(ip.get("IPAddress"))
        if alias and address and _enum(ip.get("AddressFamily"), ADDRESS_FAMILIES) != "IPv6":
            prefix = _int(ip.get("PrefixLength"))
            addresses.setdefault(alias, []).append(f"{address}/{prefix if prefix else 32}")
    out = []
    for adapter in b.records("Get-NetAdapter"):
        name = _text(adapter.get("Name")) or _text(adapter.get("InterfaceAlias"))
        if not name:
            continue
        speed = None
        for speed_property in ("ReceiveLinkSpeed", "Speed", "LinkSpeed"):
            speed = _bits(adapter.get(speed_property))
            if speed:
                break
        status = str(adapter.get("Status") or "")
        out.append(
            Nic(
                name=name,
                description=_text(adapter.get("InterfaceDescription")) or "",
                link_bits=speed,
                up=status.lower() in ("up", "2", "") and speed is not None,
                jumbo=jumbo.get(name),
                rdma=rdma.get(name),
                addresses=tuple(addresses.get(name, ())),
            )
        )
    return tuple(out)


def _migration_nics(b: _Builder, nics: Sequence[Nic]) -> tuple[Nic, ...]:
    """The NICs live migration uses: those with an address in a migration network; with no
    migration network listed (or "use any network"), every connected NIC with an address."""
    subnets = []
    for net in b.records("Get-VMMigrationNetwork"):
        subnet = _text(net.get("Subnet"))
        if subnet:
            try:
                subnets.append(ipaddress.ip_network(subnet, strict=False))
            except ValueError:
                continue
    chosen = [
        n
        for n in nics
        if any(
            ipaddress.ip_interface(a).ip in s
            for a in n.addresses
            for s in subnets
            if ipaddress.ip_interface(a).version == s.version
        )
    ]
    return tuple(chosen) if chosen else tuple(n for n in nics if n.up and n.addresses)


def _vms(b: _Builder) -> tuple[Vm, ...]:
    processors = {
        str(p.get("VMName")): _bool(p.get("CompatibilityForMigrationEnabled"))
        for p in b.records("Get-VMProcessor")
    }
    memory = {str(m.get("VMName")): _int(m.get("Startup")) for m in b.records("Get-VMMemory")}
    switches: dict[str, list[str]] = {}
    for adapter in b.records("Get-VMNetworkAdapter"):
        switch = _text(adapter.get("SwitchName"))
        if switch:
            switches.setdefault(str(adapter.get("VMName")), []).append(switch)
    names = [str(v["Name"]) for v in b.records("Get-VM") if _text(v.get("Name"))]
    records = {str(v["Name"]): v for v in b.records("Get-VM") if _text(v.get("Name"))}
    for name in [*processors, *memory, *switches]:  # a VM seen only by Get-VMProcessor etc.
        if name not in records and name != "None":
            names.append(name)
    out = []
    for name in dict.fromkeys(names):
        record = records.get(name, {})
        out.append(
            Vm(
                name=name,
                version=_version(record.get("Version")),
                memory_bytes=memory.get(name) or _int(record.get("MemoryStartup")),
                processor_compatibility=processors.get(name),
                switches=tuple(dict.fromkeys(switches.get(name, ()))),
            )
        )
    return tuple(out)


def _host_facts(b: _Builder, nics: Sequence[Nic], lm: Sequence[Nic], vms: Sequence[Vm]) -> None:
    vmhost = b.records("Get-VMHost")[:1]
    if vmhost:
        h = vmhost[0]
        enabled = _bool(h.get("VirtualMachineMigrationEnabled"))
        b.add("migration_enabled", enabled, "Get-VMHost", "VirtualMachineMigrationEnabled",
              str(enabled))  # fmt: skip
        option = _enum(h.get("VirtualMachineMigrationPerformanceOption"), PERFORMANCE_OPTIONS)
        b.add("performance_option", option, "Get-VMHost",
              "VirtualMachineMigrationPerformanceOption", str(option))  # fmt: skip
        limit = _int(h.get("MaximumVirtualMachineMigrations"))
        b.add("max_migrations", limit, "Get-VMHost", "MaximumVirtualMachineMigrations",
              str(limit))  # fmt: skip
        any_network = _bool(h.get("UseAnyNetworkForMigration"))
        b.add("use_any_network", any_network, "Get-VMHost", "UseAnyNetworkForMigration",
              str(any_network))  # fmt: skip
    if "Get-VMMigrationNetwork" in b.by_cmdlet or vmhost:
        subnets = [
            s for s in (_text(n.get("Subnet")) for n in b.records("Get-VMMigrationNetwork")) if s
        ]
        b.add("migration_networks", len(subnets), "Get-VMMigrationNetwork", "Subnet",
              ", ".join(subnets) or "none")  # fmt: skip
    for nic in lm:
        if nic.jumbo is not None:
            b.add("migration_nic_jumbo", nic.jumbo, "Get-NetAdapterAdvancedProperty",
                  "*JumboPacket", str(nic.jumbo), nic.name)  # fmt: skip
    speeds = [n.link_bits for n in lm if n.link_bits]
    if speeds:
        total = sum(speeds)
        b.add("migration_link_gbps", total / 1e9, "Get-NetAdapter", "ReceiveLinkSpeed",
              f"{gbps(total)} over {', '.join(n.name for n in lm if n.link_bits)}")  # fmt: skip
        fastest = max(speeds)
        b.add("fastest_migration_link_gbps", fastest / 1e9, "Get-NetAdapter", "ReceiveLinkSpeed",
              gbps(fastest))  # fmt: skip
    if "Get-NetAdapterRdma" in b.by_cmdlet:
        rdma = [n.name for n in lm if n.rdma]
        b.add("migration_rdma", bool(rdma), "Get-NetAdapterRdma", "Enabled",
              ", ".join(rdma) if rdma else "no RDMA-enabled migration NIC")  # fmt: skip
    for cap in b.records("Get-SmbBandwidthLimit"):
        if _enum(cap.get("Category"), SMB_CATEGORIES) == "LiveMigration":
            rate = _int(cap.get("BytesPerSecond"))
            if rate:
                b.add("smb_live_migration_limit_gbps", rate * 8 / 1e9, "Get-SmbBandwidthLimit",
                      "BytesPerSecond", f"{gbps(rate * 8)} ({rate} bytes/s)")  # fmt: skip
    if "Get-VMSwitch" in b.by_cmdlet:
        names = tuple(sorted({str(s["Name"]) for s in b.records("Get-VMSwitch") if s.get("Name")}))
        b.add("switch_names", names, "Get-VMSwitch", "Name", ", ".join(names) or "none")
    cpu = [_text(p.get("Name")) for p in b.records("Win32_Processor")]
    if cpu and cpu[0]:
        b.add("cpu_model", " ".join(cpu[0].split()), "Win32_Processor", "Name", cpu[0])
    versions = [_version(v.get("Version")) for v in b.records("Get-VMHostSupportedVersion")]
    known = [v for v in versions if v]
    if known:
        top = max(known)
        b.add("max_supported_version", top, "Get-VMHostSupportedVersion", "Version",
              f"{top[0]}.{top[1]}")  # fmt: skip
    clock = b.records("Clock")[:1]
    if clock:
        offset = clock[0].get("OffsetFromCollectorSeconds")
        collector = _text(clock[0].get("Collector")) or ""
        if isinstance(offset, int | float) and not isinstance(offset, bool) and collector:
            b.add("clock_offset_s", float(offset), "Clock", "OffsetFromCollectorSeconds",
                  f"{offset:+.1f} s against {collector}", collector.upper())  # fmt: skip
    w32tm = b.records("w32tm")[:1]
    if w32tm:
        lines = w32tm[0].get("Output") or []
        source = next(
            (str(x).split(":", 1)[1].strip() for x in lines if str(x).startswith("Source:")), None
        )
        b.add("time_source", source, "w32tm", "Source", str(source))
    for vm in vms:
        if vm.version:
            b.add("vm_version", vm.version, "Get-VM", "Version",
                  f"{vm.version[0]}.{vm.version[1]}", vm.name)  # fmt: skip
        for switch in vm.switches:
            b.add("vm_switch", switch, "Get-VMNetworkAdapter", "SwitchName", switch,
                  f"{vm.name} on {switch}")  # fmt: skip
        if vm.processor_compatibility is not None:
            b.add("vm_processor_compatibility", vm.processor_compatibility, "Get-VMProcessor",
                  "CompatibilityForMigrationEnabled", str(vm.processor_compatibility),
                  vm.name)  # fmt: skip


def host_config(host: str, snapshots: Sequence[Snapshot]) -> HostConfig:
    b = _Builder(host, snapshots)
    nics = _nics(b)
    lm = _migration_nics(b, nics)
    vms = _vms(b)
    _host_facts(b, nics, lm, vms)
    return HostConfig(
        host=host,
        cmdlets=tuple(sorted(b.by_cmdlet)),
        nics=nics,
        migration_nics=lm,
        vms=vms,
        facts=tuple(b.facts),
    )


@dataclass(frozen=True, slots=True)
class Configuration:
    """Every host's configuration, by short host name."""

    hosts: tuple[HostConfig, ...]

    @classmethod
    def from_snapshots(cls, snapshots: Iterable[Snapshot]) -> Configuration:
        by_host: dict[str, list[Snapshot]] = {}
        for snap in snapshots:
            if snap.host:
                by_host.setdefault(snap.host, []).append(snap)
        return cls(tuple(host_config(h, by_host[h]) for h in sorted(by_host)))

    def host(self, name: str) -> HostConfig | None:
        for h in self.hosts:
            if h.host == name.split(".", 1)[0].upper():
                return h
        return None

    def vm_memory_bytes(self, vm: str, host: str | None = None) -> int | None:
        """A VM's startup memory in bytes, from the host that runs it (or any host)."""
        for h in self.hosts:
            if host and h.host != host.split(".", 1)[0].upper():
                continue
            for v in h.vms:
                if v.name.lower() == vm.lower() and v.memory_bytes:
                    return v.memory_bytes
        return None

    def migration_link_bits(self, host: str) -> int | None:
        """The summed link speed (bits/s) of the NICs live migration uses on a host."""
        h = self.host(host)
        speeds = [n.link_bits for n in h.migration_nics if n.link_bits] if h else []
        return sum(speeds) if speeds else None

    def memory_by_vm(self) -> dict[str, int]:
        """Every VM's startup memory in bytes by name, over all hosts (the drains' sizes)."""
        sizes: dict[str, int] = {}
        for h in self.hosts:
            for v in h.vms:
                if v.memory_bytes:
                    sizes.setdefault(v.name, v.memory_bytes)
        return sizes

    def speed_facts(self) -> dict[str, SpeedFacts]:
        """What each host's snapshot says of its migration link, for the drains' speed rules."""

        def number(h: HostConfig, name: str) -> float | None:
            fact = h.fact(name)
            value = fact.value if fact else None
            return float(value) if isinstance(value, int | float) else None

        out: dict[str, SpeedFacts] = {}
        for h in self.hosts:
            option = h.fact("performance_option")
            limit = number(h, "max_migrations")
            facts = SpeedFacts(
                link_gbps=number(h, "migration_link_gbps"),
                performance_option=str(option.value) if option and option.value else None,
                max_migrations=int(limit) if limit is not None else None,
                smb_limit_gbps=number(h, "smb_live_migration_limit_gbps"),
            )
            if facts != SpeedFacts():
                out[h.host] = facts
        return out
