"""Configuration snapshots as PowerShell writes them, found wherever they are in a bundle.

5.1's ``>`` (UTF-16LE + BOM, CRLF, enums as numbers, one object without its array), 5.1's
``Out-File -Encoding utf8`` (UTF-8 + BOM), 7's plain UTF-8 with ``-EnumsAsStrings``;
recognised by content when renamed; bad JSON a located warning that costs nothing else."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from ps_snapshots import host_snapshots, ps51_json, write_host

from migdiag.api import Options, analyze
from migdiag.config.evaluate import judge
from migdiag.config.facts import Configuration
from migdiag.config.snapshot import parse
from migdiag.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
SEED_LOGS = ROOT / "sample_logs" / "seed-mtu-reset"
VMHOST_51 = {
    "ComputerName": "HV01",
    "VirtualMachineMigrationEnabled": True,
    "VirtualMachineMigrationPerformanceOption": 1,
    "MaximumVirtualMachineMigrations": 2,
}
VMHOST_7 = {**VMHOST_51, "VirtualMachineMigrationPerformanceOption": "Compression"}


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("utf-16le-bom-crlf",
         b"\xff\xfe" + ps51_json(VMHOST_51).replace("\n", "\r\n").encode("utf-16-le")),
        ("utf-8-bom", b"\xef\xbb\xbf" + ps51_json([VMHOST_51]).encode()),
        ("utf-8-enums-as-strings", json.dumps([VMHOST_7], indent=2).encode()),
        ("utf-16le-no-bom", ps51_json(VMHOST_51).encode("utf-16-le")),
    ],
)  # fmt: skip
def test_every_powershell_encoding_gives_the_same_facts(encoding: str, data: bytes) -> None:
    snap = parse(data, "HV01/config/Get-VMHost.json")
    assert (snap.host, snap.cmdlet, len(snap.records)) == ("HV01", "Get-VMHost", 1)
    (host,) = Configuration.from_snapshots([snap]).hosts
    option = host.fact("performance_option")
    limit = host.fact("max_migrations")
    assert option is not None and option.value == "Compression"
    assert limit is not None and limit.value == 2


def test_a_renamed_snapshot_is_recognised_by_content() -> None:
    data = json.dumps({**VMHOST_51, "ComputerName": "hv02.contoso.local"}).encode()
    snap = parse(data, "ticket-4711/attachment (3).json")
    assert (snap.cmdlet, snap.host) == ("Get-VMHost", "HV02")


def test_a_snapshot_of_an_unknown_host_is_reported_not_guessed() -> None:
    data = json.dumps(
        [{"Name": "LM1", "RegistryKeyword": "*JumboPacket", "RegistryValue": ["9014"]}]
    )
    snap = parse(data.encode(), "loose/jumbo.json")
    assert (snap.cmdlet, snap.host) == ("Get-NetAdapterAdvancedProperty", "")
    config, report = judge([snap])
    assert config.hosts == () and report.findings == ()
    assert report.warnings == (
        "loose/jumbo.json: configuration of an unknown host (no <HOST>/config/ folder, "
        "no computer name inside); not used",
    )


def test_bad_json_names_line_and_column() -> None:
    data = b'[\r\n  {\r\n    "MaximumVirtualMachineMigrations": ,\r\n  }\r\n]'
    with pytest.raises(InputError) as caught:
        parse(data, "HV01/config/Get-VMHost.json")
    assert "bad JSON at line 3 column" in caught.value.why


def test_versions_as_objects_or_strings_and_missing_properties() -> None:
    supported = parse(
        json.dumps([{"Version": {"Major": 9, "Minor": 0}, "IsDefault": True},
                    {"Version": "10.0", "IsDefault": False}]).encode(),
        "HV01/config/Get-VMHostSupportedVersion.json",
    )  # fmt: skip
    old_vmhost = parse(json.dumps({"ComputerName": "HV01", "Name": "HV01",
                                   "MaximumVirtualMachineMigrations": 2}).encode(),
                       "HV01/config/Get-VMHost.json")  # fmt: skip
    (host,) = Configuration.from_snapshots([supported, old_vmhost]).hosts
    top = host.fact("max_supported_version")
    assert top is not None and top.value == (10, 0)
    assert host.fact("performance_option") is None  # missing on that build: not guessed


def test_typed_api_for_other_steps(tmp_path: Path) -> None:
    write_host(tmp_path, "HV01", host_snapshots("HV01", jumbo=(9014, 9014)))
    snaps = [parse(p.read_bytes(), str(p)) for p in sorted(tmp_path.rglob("*.json"))]
    config = Configuration.from_snapshots(snaps)
    assert config.vm_memory_bytes("app01") == 8589934592
    assert config.vm_memory_bytes("APP01", host="hv01.contoso.local") == 8589934592
    assert config.vm_memory_bytes("nope") is None
    assert config.migration_link_bits("HV01") == 20_000_000_000  # LM1 + LM2, not MGMT
    assert config.migration_link_bits("HV09") is None


def test_bad_snapshot_in_a_bundle_costs_only_itself(tmp_path: Path) -> None:
    write_host(tmp_path / "cfg", "SRV1", host_snapshots("SRV1", jumbo=(9014,)))
    write_host(tmp_path / "cfg", "SRV2", host_snapshots("SRV2", jumbo=(1514,)))
    bundle = tmp_path / "case.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        for path in sorted((tmp_path / "cfg").rglob("*.json")):
            if path.name == "Get-VMSwitch.json" and path.parent.parent.name == "SRV2":
                continue  # replaced by a cut copy below
            z.write(path, path.relative_to(tmp_path / "cfg").as_posix())
        z.writestr("SRV2/config/Get-VMSwitch.json", b'\xef\xbb\xbf[{"Name": "LM", "SwitchType": ')
        z.writestr("notes/renamed.json", json.dumps(VMHOST_51).encode())
        z.writestr("notes/other.json", json.dumps({"Name": "x", "Command": "build"}).encode())
    analysis = analyze([str(SEED_LOGS), str(bundle)], Options(jobs=1))

    bad = next(r for r in analysis.inputs if r.path.endswith("SRV2/config/Get-VMSwitch.json"))
    assert bad.error is None and bad.format == "config-snapshot"
    assert any("bad JSON at line 1 column" in w for w in bad.warnings), bad
    assert any("Get-VMSwitch.json" in w for w in analysis.configuration.warnings)
    assert "jumbo-frames-differ" in {f.id for f in analysis.configuration.findings}
    renamed = next(r for r in analysis.inputs if r.path.endswith("renamed.json"))
    assert renamed.format == "config-snapshot" and renamed.hosts == ("HV01",)
    other = next(r for r in analysis.inputs if r.path.endswith("other.json"))
    assert other.format == "ignored"  # JSON, but no cmdlet's properties: not a snapshot
    assert analysis.results and analysis.results[0].migration.vm_name == "DidierTest01"
    assert not [r for r in analysis.inputs if r.error]
