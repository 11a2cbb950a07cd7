"""Every configuration rule, positive and negative, on snapshots written as PowerShell 5.1
writes them (UTF-16LE + BOM, CRLF, enums as numbers), read back by the real reader.

A case names the hosts' settings that differ from a healthy pair and the values the finding
must cite as evidence (host, property, value); its negative changes the one thing that
makes the rule hold.  A shipped rule without a case fails ``test_every_rule_has_cases``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ps_snapshots import host_snapshots, write_host

from migdiag.config.evaluate import judge
from migdiag.config.rules import builtin_rules
from migdiag.config.snapshot import parse
from migdiag.model import ConfigurationReport


@dataclass(frozen=True)
class Case:
    rule: str
    positive: tuple[dict[str, Any], dict[str, Any]]  # HV01's and HV02's settings
    negative: tuple[dict[str, Any], dict[str, Any]]
    cited: tuple[tuple[str, str, str], ...]  # (host, property, value) the finding must cite
    hosts: tuple[str, ...] = ("HV01", "HV02")
    extra: dict[str, Any] = field(default_factory=dict)


SLOW = {"link_bits": 1_000_000_000}
OLD_HOST = {"supported": ("5.0", "8.0"), "vms": ()}

CASES = (
    Case("jumbo-frames-differ", ({"jumbo": (9014,)}, {"jumbo": (1514,)}),
         ({"jumbo": (9014,)}, {"jumbo": (9014,)}),
         (("HV01", "*JumboPacket", "9014"), ("HV02", "*JumboPacket", "1514"))),
    Case("jumbo-frames-equal", ({}, {}), ({"jumbo": (9014,)}, {"jumbo": (9000,)}),
         (("HV01", "*JumboPacket", "9014"), ("HV02", "*JumboPacket", "9014"))),
    Case("smb-bandwidth-limit-live-migration", ({"smb_limit_bytes": 125_000_000}, {}), ({}, {}),
         (("HV01", "BytesPerSecond", "1 Gbps (125000000 bytes/s)"),), hosts=("HV01",)),
    Case("performance-option-differs", ({"performance": 2}, {"performance": 1}), ({}, {}),
         (("HV01", "VirtualMachineMigrationPerformanceOption", "SMB"),
          ("HV02", "VirtualMachineMigrationPerformanceOption", "Compression"))),
    Case("compression-on-fast-rdma-links",
         ({"performance": 1}, {"performance": 1}),
         ({"performance": 1, "rdma": False}, {"performance": 1, "rdma": False}),
         (("HV01", "VirtualMachineMigrationPerformanceOption", "Compression"),
          ("HV02", "Enabled", "LM1"))),
    Case("smb-on-slow-links-without-rdma",
         ({**SLOW, "rdma": False, "max_migrations": 2}, {**SLOW, "rdma": False,
                                                         "max_migrations": 2}),
         ({**SLOW, "rdma": False, "max_migrations": 2, "performance": 1},
          {**SLOW, "rdma": False, "max_migrations": 2, "performance": 1}),
         (("HV01", "VirtualMachineMigrationPerformanceOption", "SMB"),
          ("HV01", "ReceiveLinkSpeed", "1 Gbps"),
          ("HV02", "Enabled", "no RDMA-enabled migration NIC"))),
    Case("too-many-simultaneous-migrations",
         ({**SLOW, "performance": 1, "max_migrations": 10}, {**SLOW, "performance": 1,
                                                             "max_migrations": 2}),
         ({**SLOW, "performance": 1, "max_migrations": 2}, {**SLOW, "performance": 1,
                                                            "max_migrations": 2}),
         (("HV01", "MaximumVirtualMachineMigrations", "10"),
          ("HV01", "ReceiveLinkSpeed", "1 Gbps over LM1")), hosts=("HV01",)),
    Case("single-migration-on-fast-links", ({"max_migrations": 1}, {}), ({}, {}),
         (("HV01", "MaximumVirtualMachineMigrations", "1"),), hosts=("HV01",)),
    Case("migration-disabled", ({}, {"migration_enabled": False}), ({}, {}),
         (("HV02", "VirtualMachineMigrationEnabled", "False"),), hosts=("HV02",)),
    Case("no-migration-network", ({}, {"networks": ()}),
         ({}, {"networks": (), "use_any_network": True}),
         (("HV02", "Subnet", "none"), ("HV02", "UseAnyNetworkForMigration", "False")),
         hosts=("HV02",)),
    Case("virtual-switch-names-differ", ({}, {"switches": ("vSwitch-LM",)}), ({}, {}),
         (("HV01", "Name", "ConvergedSwitch"), ("HV02", "Name", "vSwitch-LM"))),
    Case("vm-switch-missing-on-other-host", ({}, {"switches": ("vSwitch-LM",), "vms": ()}),
         ({}, {"switches": ("vSwitch-LM", "ConvergedSwitch"), "vms": ()}),
         (("HV01", "SwitchName", "ConvergedSwitch"), ("HV02", "Name", "vSwitch-LM")),
         hosts=("HV01", "HV02")),
    Case("processor-compatibility-off",
         ({"vms": (("APP01", "10.0", False),)}, {"cpu": "AMD EPYC 7543 32-Core Processor"}),
         ({"vms": (("APP01", "10.0", False),)}, {}),
         (("HV01", "CompatibilityForMigrationEnabled", "False"),
          ("HV02", "Name", "AMD EPYC 7543 32-Core Processor"))),
    Case("config-version-above-destination", ({}, OLD_HOST), ({}, {"vms": ()}),
         (("HV01", "Version", "10.0"), ("HV02", "Version", "8.0"))),
    Case("clocks-drift-apart", ({}, {"clock_offset_s": 420.5}), ({}, {"clock_offset_s": 3.0}),
         (("HV02", "OffsetFromCollectorSeconds", "+420.5 s against ADMIN01"),)),
    Case("time-not-synchronised", ({}, {"time_source": "Local CMOS Clock"}), ({}, {}),
         (("HV02", "Source", "Local CMOS Clock"),), hosts=("HV02",)),
)  # fmt: skip


def _judge(tmp_path: Path, settings: tuple[dict[str, Any], dict[str, Any]]) -> ConfigurationReport:
    for host, changes in zip(("HV01", "HV02"), settings, strict=True):
        write_host(tmp_path, host, host_snapshots(host, **changes))
    snapshots = [parse(p.read_bytes(), str(p)) for p in sorted(tmp_path.rglob("*.json"))]
    return judge(snapshots)[1]


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_rule_positive(case: Case, tmp_path: Path) -> None:
    report = _judge(tmp_path, case.positive)
    found = {f.id: f for f in report.findings}
    assert case.rule in found, f"{case.rule} did not hold; found {sorted(found)}"
    finding = found[case.rule]
    cited = {(e.host, e.property, e.value) for e in finding.evidence}
    assert set(case.cited) <= cited, cited
    assert set(case.hosts) <= set(finding.hosts)
    # Each value names its snapshot file; "nothing configured" has none (the collector wrote
    # a note instead, as for an empty Get-VMMigrationNetwork).
    assert all(e.cmdlet for e in finding.evidence)
    assert all(e.path.endswith(f"{e.cmdlet}.json") or not e.path for e in finding.evidence)
    assert any(e.path for e in finding.evidence)


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_rule_negative(case: Case, tmp_path: Path) -> None:
    report = _judge(tmp_path, case.negative)
    assert case.rule not in {f.id for f in report.findings}


def test_every_rule_has_cases() -> None:
    assert {r.id for r in builtin_rules()} == {c.rule for c in CASES}


def test_a_healthy_pair_only_rules_the_hosts_out(tmp_path: Path) -> None:
    report = _judge(tmp_path, ({}, {}))
    assert [(f.id, f.effect) for f in report.findings] == [("jumbo-frames-equal", "rules-out")]
    assert report.hosts == ("HV01", "HV02")


def test_clocks_measured_by_different_machines_are_not_compared(tmp_path: Path) -> None:
    for host, offset in (("HV01", 0.0), ("HV02", 420.0)):
        snaps = host_snapshots(host, clock_offset_s=offset)
        snaps["Clock"][0]["Collector"] = host  # each host collected on its own
        write_host(tmp_path, host, snaps)
    snapshots = [parse(p.read_bytes(), str(p)) for p in sorted(tmp_path.rglob("*.json"))]
    assert "clocks-drift-apart" not in {f.id for f in judge(snapshots)[1].findings}


def test_missing_properties_make_no_finding(tmp_path: Path) -> None:
    # An older build's Get-VMHost without the performance option, and no RDMA cmdlet at all:
    # nothing is guessed, so no speed rule holds on what is missing.
    for host in ("HV01", "HV02"):
        snaps = host_snapshots(host, performance=1)
        del snaps["Get-NetAdapterRdma"]
        del snaps["Get-VMHost"][0]["VirtualMachineMigrationPerformanceOption"]
        write_host(tmp_path, host, snaps)
    snapshots = [parse(p.read_bytes(), str(p)) for p in sorted(tmp_path.rglob("*.json"))]
    ids = {f.id for f in judge(snapshots)[1].findings}
    assert not ids & {"compression-on-fast-rdma-links", "performance-option-differs"}
