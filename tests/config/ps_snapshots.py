"""Configuration snapshots written the way Windows PowerShell 5.1 writes them.

``ConvertTo-Json`` in 5.1: enums as numbers, ``"key":  value`` with two spaces, four-space
indents, a lone object without the array around it; ``>`` then writes UTF-16LE with a BOM
and CRLF line ends.  ``host_snapshots`` builds one host's cmdlet outputs from a few
settings, healthy by default, so that each rule's case states only what it changes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def ps51_json(value: Any, depth: int = 0) -> str:
    pad = "    " * depth
    inner = "    " * (depth + 1)
    if isinstance(value, Mapping):
        if not value:
            return "{\n" + pad + "}"
        items = [f"{inner}{json.dumps(k)}:  {ps51_json(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[\n\n" + pad + "]"
        items = [inner + ps51_json(v, depth + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(value)


def write_ps51(path: Path, records: list[dict[str, Any]]) -> None:
    """``$records | ConvertTo-Json -Depth 4 > path`` in Windows PowerShell 5.1."""
    value: Any = records[0] if len(records) == 1 else records
    text = ps51_json(value).replace("\n", "\r\n") + "\r\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))


def host_snapshots(
    host: str,
    *,
    jumbo: tuple[int, ...] = (9014,),
    link_bits: int = 10_000_000_000,
    rdma: bool = True,
    performance: int = 2,  # 0 TCPIP, 1 Compression, 2 SMB
    max_migrations: int = 4,
    migration_enabled: bool = True,
    use_any_network: bool = False,
    networks: tuple[str, ...] = ("10.0.1.0/24",),
    smb_limit_bytes: int | None = None,
    switches: tuple[str, ...] = ("ConvergedSwitch",),
    cpu: str = "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz",
    supported: tuple[str, ...] = ("8.0", "9.0", "10.0"),
    vms: tuple[tuple[str, str, bool], ...] = (("APP01", "10.0", True),),  # name, version, compat
    time_source: str = "dc01.contoso.local",
    clock_offset_s: float = 0.0,
) -> dict[str, list[dict[str, Any]]]:
    """One host's cmdlet outputs (records per cmdlet) as the collector exports them."""
    nics = [f"LM{i + 1}" for i in range(len(jumbo))]
    host_number = int("".join(c for c in host if c.isdigit()) or "1")
    out: dict[str, list[dict[str, Any]]] = {
        "Get-VMHost": [
            {
                "ComputerName": host,
                "Name": host,
                "VirtualMachineMigrationEnabled": migration_enabled,
                "VirtualMachineMigrationPerformanceOption": performance,
                "VirtualMachineMigrationAuthenticationType": 1,
                "MaximumVirtualMachineMigrations": max_migrations,
                "MaximumStorageMigrations": 2,
                "UseAnyNetworkForMigration": use_any_network,
            }
        ],
        "Get-VMMigrationNetwork": [
            {"Subnet": subnet, "Priority": 0, "CimSession": {"ComputerName": None}}
            for subnet in networks
        ],
        "Get-VMHostSupportedVersion": [
            {
                "Name": f"Microsoft Windows Server {v}",
                "Version": {
                    "Major": int(v.split(".")[0]),
                    "Minor": int(v.split(".")[1]),
                    "Build": -1,
                    "Revision": -1,
                },
                "IsDefault": v == supported[-1],
            }
            for v in supported
        ],
        "Get-VMSwitch": [{"Name": s, "SwitchType": 2, "Id": f"id-{s}"} for s in switches],
        "Get-VM": [
            {
                "Name": n,
                "State": 2,
                "Version": v,
                "Generation": 2,
                "MemoryStartup": 8589934592,
                "ComputerName": host,
            }
            for n, v, _ in vms
        ],
        "Get-VMProcessor": [
            {"VMName": n, "Count": 4, "CompatibilityForMigrationEnabled": c} for n, _, c in vms
        ],
        "Get-VMNetworkAdapter": [
            {"VMName": n, "Name": "Network Adapter", "SwitchName": switches[0]} for n, _, _ in vms
        ],
        "Get-VMMemory": [
            {"VMName": n, "Startup": 8589934592, "DynamicMemoryEnabled": False} for n, _, _ in vms
        ],
        "Get-NetAdapter": [
            {
                "Name": "MGMT",
                "InterfaceDescription": "Broadcom NetXtreme",
                "Status": "Up",
                "LinkSpeed": "1 Gbps",
                "ReceiveLinkSpeed": 1_000_000_000,
            }
        ]
        + [
            {
                "Name": nic,
                "InterfaceDescription": f"Mellanox ConnectX-4 #{i}",
                "Status": "Up",
                "LinkSpeed": f"{link_bits / 1e9:g} Gbps",
                "ReceiveLinkSpeed": link_bits,
            }
            for i, nic in enumerate(nics)
        ],
        "Get-NetAdapterAdvancedProperty": [
            {
                "Name": nic,
                "DisplayName": "Jumbo Packet",
                "DisplayValue": f"{size} Bytes",
                "RegistryKeyword": "*JumboPacket",
                "RegistryValue": [str(size)],
            }
            for nic, size in zip(nics, jumbo, strict=True)
        ]
        + [
            {
                "Name": "MGMT",
                "DisplayName": "Jumbo Packet",
                "DisplayValue": "Disabled",
                "RegistryKeyword": "*JumboPacket",
                "RegistryValue": ["1514"],
            }
        ],
        "Get-NetAdapterRdma": [
            {"Name": nic, "InterfaceDescription": "Mellanox", "Enabled": rdma} for nic in nics
        ],
        "Get-NetIPAddress": [
            {
                "InterfaceAlias": "MGMT",
                "IPAddress": f"192.168.0.{host_number}",
                "PrefixLength": 24,
                "AddressFamily": 2,
            },
        ]
        + [
            {
                "InterfaceAlias": nic,
                "IPAddress": f"10.0.1.{host_number * 10 + i}",
                "PrefixLength": 24,
                "AddressFamily": 2,
            }
            for i, nic in enumerate(nics)
        ],
        "Win32_Processor": [{"Name": cpu, "NumberOfCores": 20, "NumberOfLogicalProcessors": 40}],
        "w32tm": [
            {
                "Command": "w32tm /query /status",
                "Output": [
                    "Leap Indicator: 0(no warning)",
                    "Stratum: 3 (secondary reference)",
                    f"Source: {time_source}",
                    "Poll Interval: 10 (1024s)",
                ],
            }
        ],
        "Clock": [
            {
                "ComputerName": host,
                "UtcNow": "2026-12-07T02:00:00.0000000Z",
                "Collector": "ADMIN01",
                "OffsetFromCollectorSeconds": clock_offset_s,
            }
        ],
    }
    if smb_limit_bytes is not None:
        out["Get-SmbBandwidthLimit"] = [{"Category": 2, "BytesPerSecond": smb_limit_bytes}]
    return out


def write_host(root: Path, host: str, snapshots: Mapping[str, list[dict[str, Any]]]) -> None:
    for cmdlet, records in snapshots.items():
        if not records:  # the collector writes a note instead of an empty file
            note = root / host / "config" / f"{cmdlet}.note.txt"
            note.parent.mkdir(parents=True, exist_ok=True)
            note.write_bytes(f"\ufeff{cmdlet} returned nothing (none configured)\r\n".encode())
            continue
        write_ps51(root / host / "config" / f"{cmdlet}.json", records)
