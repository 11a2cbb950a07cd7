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


def _metadata_from_tables(provider: str, ids: list[int], changed: dict[int, str]) -> str:
    """`wevtutil gp PROVIDER /ge /gm:true /f:xml` as we infer its layout (no real dump of the
    Hyper-V providers was available), filled with Windows' own templates from the shipped
    tables; ``changed`` stands for a newer host whose wording differs."""
    from xml.sax.saxutils import quoteattr

    from migdiag import windows_tables

    events = []
    for event_id in ids:
        text = changed.get(event_id) or windows_tables.template(provider, event_id)
        assert text is not None
        events.append(
            f'    <event value="{event_id}" version="0" opcode="0" channel="16" level="2"'
            f' task="0" keywords="0x8000000000000000" message={quoteattr(text)}/>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<provider name="{provider}" guid="{{6066F867-7CA1-4418-85FD-36E3F9C0600C}}">\n'
        '  <channels>\n    <channel name="Microsoft-Windows-Hyper-V-VMMS-Admin" id="16"'
        ' value="16"/>\n  </channels>\n  <events>\n'
        + "\n".join(events)
        + "\n  </events>\n</provider>\n"
    )


def test_a_hosts_templates_imported_from_the_table_layout_win_over_the_shipped_ones(
    tmp_path: Path,
) -> None:
    newer = "The Virtual Machine Management service began live migrating '%1' to '%3' (VMID %2)."
    dump = tmp_path / "vmms.xml"
    dump.write_text(
        _metadata_from_tables(
            "Microsoft-Windows-Hyper-V-VMMS", [20306, 20413, 20418, 21002], {20413: newer}
        ),
        encoding="utf-8",
    )
    config = {"MIGDIAG_CONFIG_DIR": str(tmp_path / "config")}
    imported = run_migdiag("catalog", "import", str(dump), env=config)
    assert imported.returncode == 0, imported.stderr
    assert "4 event templates imported" in imported.stdout
    shown = run_migdiag("catalog", "show", "vmms", "20413", env=config)
    assert f"template: {newer}" in shown.stdout
    assert "imported from the host's provider metadata" in shown.stdout
    assert "kind: lm-start" in shown.stdout  # migdiag's meaning is kept beside the host's text
    unchanged = run_migdiag("catalog", "show", "vmms", "20306", env=config)
    assert "failed to establish a connection for a Virtual Machine migration with host '%3'" in (
        unchanged.stdout
    )
    events = run_migdiag(
        "events", str(SAMPLES / "seed-mtu-reset"), "--id", "20413", "-f", "jsonl", env=config
    )
    [row] = [json.loads(line) for line in events.stdout.splitlines()]
    assert row["message"].startswith("The Virtual Machine Management service began live migrating")


def test_catalog_list_gives_every_event_with_windows_text_and_migdiags_meaning() -> None:
    listed = run_migdiag("catalog", "list", "--provider", "vmms", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert {r["provider"] for r in rows} == {"Microsoft-Windows-Hyper-V-VMMS"}
    by_id = {r["id"]: r for r in rows}
    assert {"provider", "id", "template", "verified", "source", "os", "kind", "side"} <= set(
        by_id[20306]
    )
    assert by_id[20306]["kind"] == "connect-failed" and by_id[20306]["roles"]["peer_host"] == 3
    assert by_id[20406]["kind"] == "listener"  # the listener, not the connection
    assert by_id[20418]["side"] == "destination"
    assert by_id[21014]["kind"] == "lm-cancelled"
    assert by_id[20120]["kind"] is None and by_id[20120]["verified"]  # rendered, no semantics
    assert by_id[22016]["os"] == ["ws2008r2"]  # 2008 R2's migration ids
    assert not by_id[1106]["verified"]
    table = run_migdiag("catalog", "list", "-p", "Microsoft-Windows-Hyper-V-High-Availability")
    lines = table.stdout.splitlines()
    assert len(lines) > 50
    [line] = [x for x in lines if "\t21502\t" in x]
    assert line.split("\t")[3:5] == ["ha-failed", "source"]


def test_catalog_show_names_each_windows_version_where_texts_differ() -> None:
    shown = run_migdiag("catalog", "show", "ha", "21502")
    assert shown.returncode == 0, shown.stderr
    assert "ws2012r2: %3" in shown.stdout and "ws2008r2: %2" in shown.stdout
    missing = run_migdiag("catalog", "show", "vmms", "65000")
    assert missing.returncode == 2 and "65000" in missing.stderr
    assert "Traceback" not in missing.stderr
