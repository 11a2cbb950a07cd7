"""The catalog: every entry sourced, and a host's real templates override the guesses."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from common import run_migdiag
from migdiag.catalog import apply_overrides, load_overrides, shipped_catalog
from migdiag.catalog_import import import_metadata

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"

# The shape of `wevtutil gp <provider> /ge /gm /f:xml`: a provider with its channels and its
# events, each with a message (this text is invented for the test).
METADATA = """<?xml version="1.0" encoding="UTF-8"?>
<provider name="Microsoft-Windows-Hyper-V-VMMS" guid="{6066F867-7CA1-4418-85FD-36E3F9C0600C}">
  <channels>
    <channel name="Microsoft-Windows-Hyper-V-VMMS-Admin" id="16" value="16"/>
  </channels>
  <events>
    <event value="20413" version="0" opcode="0" channel="16" level="4" task="0"
      keywords="0x8000000000000000"
      message="IMPORTED: live migration of '%1' (%2) to '%3' started."/>
    <event value="29999" version="0" channel="16" level="2" message="IMPORTED new event %1."/>
  </events>
</provider>
"""


def test_every_catalog_entry_says_whether_it_is_verified_and_where_from() -> None:
    catalog = shipped_catalog()
    assert len(catalog.events) > 40
    for spec in catalog.events.values():
        assert spec.source.strip(), spec
    assert catalog.spec("Microsoft-Windows-Hyper-V-VMMS", 20415).verified  # type: ignore[union-attr]
    assert catalog.spec("Microsoft-Windows-Hyper-V-VMMS", 22038).verified  # type: ignore[union-attr]
    assert not catalog.spec("Microsoft-Windows-Hyper-V-VMMS", 1106).verified  # type: ignore[union-attr]
    assert catalog.decode("0x80072746").name == "WSAECONNRESET"  # type: ignore[union-attr]


def test_import_overrides_guessed_templates_and_adds_new_events(tmp_path: Path) -> None:
    dump = tmp_path / "vmms.xml"
    dump.write_text(METADATA, encoding="utf-8")
    target, count = import_metadata(dump, tmp_path / "catalog-overrides.yaml")
    assert count == 2
    catalog = apply_overrides(shipped_catalog(), load_overrides(target))
    spec = catalog.spec("Microsoft-Windows-Hyper-V-VMMS", 20413)
    assert spec is not None and spec.template.startswith("IMPORTED: live migration")
    assert spec.verified and spec.kind == "lm-start"  # what correlation knows is kept
    added = catalog.spec("Microsoft-Windows-Hyper-V-VMMS", 29999)
    assert added is not None and added.channel == "Microsoft-Windows-Hyper-V-VMMS-Admin"


def test_imported_templates_render_the_messages_users_see(tmp_path: Path) -> None:
    dump = tmp_path / "vmms.xml"
    dump.write_text(METADATA, encoding="utf-8")
    config = {"MIGDIAG_CONFIG_DIR": str(tmp_path / "config")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_migdiag(*args, env=config)

    imported = run("catalog", "import", str(dump))
    assert imported.returncode == 0, imported.stderr
    events = run("events", str(SAMPLES / "seed-mtu-reset"), "--id", "20413", "-f", "jsonl")
    [row] = [json.loads(line) for line in events.stdout.splitlines()]
    vm_id = "41EF2DB0-0C0A-12FE-25CB-C3330D937F27"
    assert (
        row["message"] == f"IMPORTED: live migration of 'DidierTest01' ({vm_id}) to 'SRV2' started."
    )
    bad = tmp_path / "bad.xml"
    bad.write_text("<provider name='x'/>", encoding="utf-8")
    refused = run("catalog", "import", str(bad))
    assert refused.returncode == 2 and "bad.xml" in refused.stderr
    assert "Traceback" not in refused.stderr
