"""The collector script, read with a real PowerShell grammar (tree-sitter-powershell).

What a customer runs on a production host must parse, must not change anything (no
state-changing verb), must call only in-box commands we have vetted, and must collect what
migdiag reads.  The docs carry a golden copy of it, kept in step here."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import tree_sitter_powershell
from tree_sitter import Language, Node, Parser, Tree

from common import run_migdiag
from migdiag.collect import script_bytes_for_windows, script_text

DOCS = Path(__file__).resolve().parents[1] / "docs"
POWERSHELL = Language(tree_sitter_powershell.language())

STATE_CHANGING_VERBS = frozenset(
    {"set", "new", "remove", "enable", "disable", "restart", "stop", "start", "clear",
     "reset", "suspend", "resume", "add", "move", "rename", "install", "uninstall",
     "update", "register", "unregister", "grant", "revoke", "block", "unblock", "import"}
)  # fmt: skip

ALLOWED_COMMANDS = frozenset(
    {
        # reading the host
        "Get-VMHost", "Get-VMMigrationNetwork", "Get-VMHostSupportedVersion", "Get-VMSwitch",
        "Get-VM", "Get-VMProcessor", "Get-VMMemory", "Get-VMNetworkAdapter", "Get-NetAdapter",
        "Get-NetAdapterAdvancedProperty", "Get-NetAdapterRdma", "Get-NetIPAddress",
        "Get-NetLbfoTeam", "Get-SmbBandwidthLimit", "Get-SmbMultichannelConnection",
        "Get-ClusterNetwork", "Get-ClusterNetworkInterface", "Get-ClusterResource",
        "Get-ClusterOwnerNode", "Get-CimInstance", "Get-TimeZone", "Get-Command",
        "Get-Location", "wevtutil.exe", "w32tm.exe",
        # shaping and writing the collection
        "Select-Object", "Where-Object", "ForEach-Object", "ConvertTo-Json", "Out-File",
        "Out-String", "Format-Table", "Join-Path", "Compress-Archive", "Invoke-Command",
        # telling the user
        "Write-Progress", "Write-Host", "Write-Warning",
    }
)  # fmt: skip

ISSUE_CMDLETS = (
    "Get-VMHost", "Get-VMMigrationNetwork", "Get-VMHostSupportedVersion", "Get-VMSwitch",
    "Get-VM", "Get-VMProcessor", "Get-VMMemory", "Get-NetAdapter",
    "Get-NetAdapterAdvancedProperty", "Get-NetAdapterRdma", "Get-NetIPAddress",
    "Get-NetLbfoTeam", "Get-SmbBandwidthLimit", "Get-SmbMultichannelConnection",
    "Get-ClusterNetwork", "Get-ClusterNetworkInterface", "Get-ClusterResource",
)  # fmt: skip

CHANNELS = (
    "Microsoft-Windows-Hyper-V-VMMS-Admin",
    "Microsoft-Windows-Hyper-V-VMMS-Operational",
    "Microsoft-Windows-Hyper-V-Worker-Admin",
    "Microsoft-Windows-Hyper-V-High-Availability-Admin",
    "Microsoft-Windows-FailoverClustering/Operational",
    "System",
)


def _parse(source: str) -> Tree:
    return Parser(POWERSHELL).parse(source.encode("utf-8"))


def _nodes(node: Node) -> list[Node]:
    out = [node]
    for child in node.children:
        out.extend(_nodes(child))
    return out


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8")


def _syntax_problems(tree: Tree) -> list[str]:
    return [
        f"line {n.start_point[0] + 1}: {'missing ' + n.type if n.is_missing else 'error'}"
        for n in _nodes(tree.root_node)
        if n.type == "ERROR" or n.is_missing
    ]


def _command_names(tree: Tree) -> set[str]:
    return {_text(n) for n in _nodes(tree.root_node) if n.type == "command_name"}


def _defined_functions(tree: Tree) -> set[str]:
    return {_text(n) for n in _nodes(tree.root_node) if n.type == "function_name"}


SCRIPT = script_text()
TREE = _parse(SCRIPT)


def test_script_parses_without_syntax_errors() -> None:
    assert _syntax_problems(TREE) == []


def test_the_grammar_would_see_a_broken_script() -> None:
    # The check above is only worth something if the grammar flags real mistakes.
    broken = SCRIPT.replace("foreach ($channel in $channels) {", "foreach ($channel in {", 1)
    assert broken != SCRIPT
    assert _syntax_problems(_parse(broken))


def test_script_uses_no_state_changing_verb() -> None:
    verbs = {name.split("-", 1)[0].lower() for name in _command_names(TREE) if "-" in name}
    assert verbs, "no command found: the parse is not what this test expects"
    assert not verbs & STATE_CHANGING_VERBS


def test_script_calls_only_allow_listed_commands() -> None:
    own = _defined_functions(TREE)
    assert own == {"Write-MigDiagNote", "Export-MigDiagConfig"}
    assert _command_names(TREE) - own - ALLOWED_COMMANDS == set()


def test_script_deletes_nothing_but_its_own_staging_folder() -> None:
    deletes = re.findall(r"::Delete\w*\(([^,)]*)", SCRIPT)
    assert deletes == ["$staging"]


def test_script_collects_what_migdiag_reads() -> None:
    exported = set(re.findall(r"Export-MigDiagConfig '([^']+)'", SCRIPT))
    assert set(ISSUE_CMDLETS) <= exported
    assert {"w32tm", "Win32_OperatingSystem", "Get-TimeZone", "Clock"} <= exported
    for channel in CHANNELS:
        assert f"'{channel}'" in SCRIPT
    assert "wevtutil.exe gp $provider /ge /gm:true /f:xml" in SCRIPT
    assert "ConvertTo-Json -Depth 4" in SCRIPT
    params = {
        _text(n).lstrip("$")
        for n in _nodes(TREE.root_node)
        if n.type == "variable" and n.parent is not None and n.parent.type == "script_parameter"
    }
    assert {"ComputerName", "Hours", "Since", "OutputPath"} <= params


def test_script_is_ascii_so_every_code_page_reads_it() -> None:
    assert SCRIPT.isascii()


def test_windows_copy_has_bom_and_crlf() -> None:
    data = script_bytes_for_windows()
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_migdiag_collect_prints_the_script(tmp_path: Path) -> None:
    printed = run_migdiag("collect")
    assert printed.returncode == 0
    assert printed.stdout == SCRIPT
    target = tmp_path / "Collect-MigDiag.ps1"
    written = run_migdiag("collect", "--output", str(target))
    assert written.returncode == 0
    assert target.read_bytes() == script_bytes_for_windows()


def test_migdiag_collect_reports_an_unwritable_output(tmp_path: Path) -> None:
    result = run_migdiag("collect", "--output", str(tmp_path / "missing" / "x.ps1"))
    assert result.returncode == 2
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr
    # The same one-line shape as every other command's errors.
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1


def test_docs_carry_the_script_verbatim() -> None:
    page_path = DOCS / "collect-script.md"
    page = page_path.read_text(encoding="utf-8")
    blocks = re.findall(r"```powershell\n(.*?)```", page, flags=re.S)
    assert blocks, "docs/collect-script.md must show the script in a ```powershell block"
    if os.environ.get("MIGDIAG_UPDATE_GOLDEN") == "1":
        page_path.write_text(page.replace(blocks[-1], SCRIPT), encoding="utf-8", newline="\n")
        pytest.skip("golden copy rewritten")
    assert blocks[-1] == SCRIPT, (
        "docs/collect-script.md is stale: "
        "MIGDIAG_UPDATE_GOLDEN=1 pytest tests/test_collect_script.py"
    )
