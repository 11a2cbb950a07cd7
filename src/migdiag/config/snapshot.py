"""One configuration file (a cmdlet's output through ``ConvertTo-Json``) -> ``Snapshot``.

What PowerShell writes varies and all of it is read: UTF-16LE with a BOM (5.1's ``>``),
UTF-8 with a BOM (5.1's ``Out-File -Encoding utf8``) or without (7), CRLF, a single object
where several were possible (``ConvertTo-Json`` drops the array around one item), enums as
numbers (5.1) or names (7, ``-EnumsAsStrings``), dates as ``/Date(ms)/`` (5.1) or ISO (7),
and properties missing on older builds.  Values are kept as JSON gives them; ``facts.py``
reads them tolerantly.

A file is recognised by its name (``<Cmdlet>.json`` under a ``config`` folder, as the
collector writes it) or by its content (the properties only that cmdlet's objects have), so
a snapshot renamed or pasted into a ticket's zip is still read.  Bad JSON is a located
``InputError``; the caller turns it into the file's warning.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from migdiag.errors import InputError
from migdiag.model import short_host

FORMAT = "config-snapshot"
MAX_BYTES = 64 * 1024 * 1024  # a host's largest snapshot (Get-VM on 1,000 VMs) is a few MB

# Property names only one cmdlet's objects carry, in the order they are tried: the first
# cmdlet all of whose names appear in an object is the one that wrote the file.
CMDLET_PROPERTIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Get-VMHost", ("MaximumVirtualMachineMigrations",)),
    ("Get-VMHost", ("VirtualMachineMigrationPerformanceOption",)),
    ("Get-VMProcessor", ("CompatibilityForMigrationEnabled",)),
    ("Get-VMMigrationNetwork", ("Subnet", "Priority")),
    ("Get-VMHostSupportedVersion", ("IsDefault", "Version")),
    ("Get-VMSwitch", ("SwitchType",)),
    ("Get-VMNetworkAdapter", ("VMName", "SwitchName")),
    ("Get-VMMemory", ("VMName", "Startup")),
    ("Get-VM", ("MemoryStartup",)),
    ("Get-NetAdapterAdvancedProperty", ("RegistryKeyword",)),
    ("Get-NetAdapterRdma", ("Enabled", "InterfaceDescription", "Name")),
    ("Get-NetAdapter", ("ReceiveLinkSpeed",)),
    ("Get-NetAdapter", ("LinkSpeed", "InterfaceDescription")),
    ("Get-NetIPAddress", ("IPAddress", "PrefixLength")),
    ("Get-NetLbfoTeam", ("TeamingMode",)),
    ("Get-SmbBandwidthLimit", ("Category", "BytesPerSecond")),
    ("Get-SmbMultichannelConnection", ("ClientRdmaCapable",)),
    ("Get-ClusterNetworkInterface", ("Network", "Adapter", "Node")),
    ("Get-ClusterNetwork", ("AddressMask", "Role")),
    ("Get-ClusterResource", ("OwnerGroup", "OwnerNode")),
    ("Win32_Processor", ("NumberOfLogicalProcessors",)),
    ("Win32_OperatingSystem", ("BuildNumber", "Caption")),
    ("Get-TimeZone", ("BaseUtcOffset",)),
    ("w32tm", ("Command", "Output")),
    ("Clock", ("OffsetFromCollectorSeconds",)),
)
CMDLETS = tuple(dict.fromkeys(name for name, _ in CMDLET_PROPERTIES))
_BY_LOWER_NAME = {name.lower(): name for name in CMDLETS}
_QUOTED = tuple(tuple(f'"{p}"' for p in props) for _, props in CMDLET_PROPERTIES)
_HOST_PROPERTIES = ("PSComputerName", "ComputerName", "SystemName", "CSName", "__SERVER")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One cmdlet's output on one host, as the JSON held it (a list of objects)."""

    path: str  # as shown to the user
    host: str  # short host name, upper-case ("" when neither path nor content names it)
    cmdlet: str  # "Get-VMHost", ... (see CMDLETS)
    records: tuple[Mapping[str, Any], ...]


def decode(data: bytes) -> str:
    """The file as text in whichever encoding PowerShell wrote it."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if len(data) >= 4 and data[1] == 0 and data[3] == 0 and data[0] != 0:
        return data.decode("utf-16-le", errors="replace")  # UTF-16 without its BOM
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def sniff_text(text: str) -> bool:
    """Whether the start of a text input is a configuration snapshot, by content alone."""
    start = text.lstrip("\ufeff \t\r\n")
    if not start.startswith(("{", "[")):
        return False
    # Every property of one cmdlet's set, so that any JSON with a "Name" is not taken.
    return any(all(name in text for name in names) for names in _QUOTED)


def named_like_snapshot(name: str) -> bool:
    """``…/config/Get-VMHost.json`` or any ``<known cmdlet>.json``: a snapshot by its name."""
    path = PurePosixPath(name.replace("\\", "/").rsplit("!", 1)[-1])
    return path.suffix.lower() == ".json" and path.stem.lower() in _BY_LOWER_NAME


def cmdlet_of(name: str, records: tuple[Mapping[str, Any], ...]) -> str | None:
    """The cmdlet that wrote a file: from its name when that names one, else its content."""
    stem = PurePosixPath(name.replace("\\", "/").rsplit("!", 1)[-1]).stem.lower()
    if stem in _BY_LOWER_NAME:
        return _BY_LOWER_NAME[stem]
    for record in records[:5]:
        for cmdlet, props in CMDLET_PROPERTIES:
            if all(p in record for p in props):
                return cmdlet
    return None


def host_of(name: str, records: tuple[Mapping[str, Any], ...]) -> str:
    """The host a snapshot describes: the folder above ``config`` (the collector's layout),
    else the computer name its objects carry, else "" (unknown: reported, not guessed)."""
    parts = PurePosixPath(name.replace("\\", "/").replace("!", "/")).parts
    lowered = [p.lower() for p in parts]
    if "config" in lowered:
        at = len(lowered) - 1 - lowered[::-1].index("config")
        if at >= 1:
            return short_host(re.sub(r"[-_]\d{8}-\d{6}(\.zip)?$", "", parts[at - 1]))
    for record in records:
        for prop in _HOST_PROPERTIES:
            value = record.get(prop)
            if isinstance(value, str) and value.strip():
                return short_host(value)
    return ""


def parse(data: bytes, name: str) -> Snapshot:
    """A snapshot from a file's bytes.  Raises ``InputError`` naming the line and column of
    bad JSON, or saying which cmdlet could not be told."""
    if len(data) > MAX_BYTES:
        raise InputError(name, f"configuration file larger than {MAX_BYTES // 1024**2} MiB")
    text = decode(data)
    if not text.strip():
        raise InputError(name, "empty configuration file")
    try:
        value = json.loads(text, strict=False)  # strict=False: raw tabs in strings (5.1)
    except json.JSONDecodeError as exc:
        raise InputError(
            name, f"bad JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise InputError(name, "JSON nested too deeply") from None
    items = value if isinstance(value, list) else [value]  # one object: no array around it
    records = tuple(item for item in items if isinstance(item, dict))
    cmdlet = cmdlet_of(name, records)
    if cmdlet is None:
        raise InputError(name, "JSON, but not the output of a cmdlet migdiag reads")
    return Snapshot(path=name, host=host_of(name, records), cmdlet=cmdlet, records=records)


__all__ = ["CMDLETS", "FORMAT", "Snapshot", "decode", "named_like_snapshot", "parse", "sniff_text"]
