"""``migdiag explain``: the likely cause from pasted text.

The fixtures in tests/explain/ are written from the reference's VERIFIED rendered fragments
(hyperv-events.md 3.2, F1-F29) and the Move-VM records it cites ([S15], [S16]), in the shapes a
ticket holds them: PowerShell error records wrapped at 120 columns, Failover Cluster Manager's
dialog, Hyper-V Manager's wizard text, bare descriptions, curly quotes, contractions, German.
``seed-pasted-events.txt`` is lines 114-195 of the seed, byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from migdiag.catalog import default_catalog
from migdiag.cli.explain import explain, to_json_obj
from migdiag.diagnose import Library, load_library
from migdiag.explain import NO_EVIDENCE, TEXT_CHANNEL, Explanation, decode_bytes, explain_text

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "explain"
SCHEMA = ROOT / "src" / "migdiag" / "report" / "schema" / "explain.schema.json"
CATALOG = default_catalog()

# fixture -> (signature ranked first, its cause)
EXPECTED = {
    "seed-pasted-events.txt": ("mtu-mismatch-reset", "mtu-mismatch"),
    "mtu-mismatch--move-vm-wrapped.txt": ("mtu-mismatch-reset", "mtu-mismatch"),
    "network-unreachable--descriptions-with-ping.txt": (
        "network-unreachable-connect-timeout",
        "network-unreachable",
    ),
    "connection-refused--move-vm.txt": ("connection-refused", "connection-refused"),
    "firewall-blocked--descriptions.txt": ("firewall-blocked-socket", "firewall-blocked"),
    "authentication--move-vm.txt": ("authentication-no-credentials", "authentication"),
    "authentication--wrong-principal-descriptions.txt": (
        "authentication-wrong-principal",
        "authentication",
    ),
    "insufficient-memory--curly-quotes.txt": ("insufficient-memory", "insufficient-memory"),
    "processor-incompatible--wizard-contractions.txt": (
        "processor-incompatible",
        "processor-incompatible",
    ),
    "virtual-switch-missing--double-curly.txt": (
        "virtual-switch-missing",
        "virtual-switch-missing",
    ),
    "config-version-incompatible--move-vm.txt": (
        "config-version-incompatible",
        "config-version-incompatible",
    ),
    "storage-path-not-found--event-id.txt": ("storage-path-not-found", "storage-path-not-found"),
    "logon-right-missing--planned-vm.txt": ("logon-right-missing", "logon-right-missing"),
    "logon-right-missing--german.txt": ("logon-right-missing", "logon-right-missing"),
    "migration-limit--descriptions.txt": ("migration-limit", "migration-limit"),
    "not-possible-owner--cluster-dialog.txt": ("not-possible-owner", "not-possible-owner"),
    "not-possible-owner--german-dialog.txt": ("not-possible-owner", "not-possible-owner"),
    "cluster-network-unavailable--contraction.txt": (
        "cluster-network-unavailable",
        "cluster-network-unavailable",
    ),
    "transfer-timeout--descriptions.txt": ("transfer-timeout", "transfer-timeout"),
    "slow-migration--long-blackout.txt": ("slow-migration-long-blackout", "slow-migration"),
    "unknown--no-signature.txt": ("unknown", "unknown"),
}
NEGATIVE = ("negative--shopping-list.txt", "negative--windows-update.txt")


@pytest.fixture(scope="module")
def library() -> Library:
    return load_library()


def _explain(name: str, library: Library) -> Explanation:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return explain_text(text, library, CATALOG, source=name)


def _run(args: list[str], stdin: str | bytes | None = None) -> Any:
    app = typer.Typer()
    app.command()(explain)
    return CliRunner().invoke(app, args, input=stdin)


# -- every cause code, ranked first -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_right_cause_first(name: str, library: Library) -> None:
    x = _explain(name, library)
    signature_id, cause = EXPECTED[name]
    assert x.diagnosis is not None, f"{name}: {x.verdict}"
    assert (x.diagnosis.signature_id, x.diagnosis.cause) == (signature_id, cause)
    sig = library.get(signature_id)
    assert sig is not None and sig.text is not None
    # Honest: text never scores what the event chain scores.
    assert x.diagnosis.confidence <= sig.text.confidence < sig.confidence
    assert x.diagnosis.evidence, "a cause must cite the words that support it"
    for ev in x.diagnosis.evidence:
        assert ev.event.channel == TEXT_CHANNEL and ev.event.origin.offset
        assert ev.event.message and "matched" in ev.why


def test_every_cause_code_is_covered(library: Library) -> None:
    causes = {s.cause for s in library.signatures}
    assert causes == {cause for _, cause in EXPECTED.values()}


def test_every_signature_has_a_text_rule(library: Library) -> None:
    for sig in library.signatures:
        assert sig.text is not None, f"{sig.id}: no text: section"
        assert sig.text.confidence < sig.confidence
        assert sig.text.one_of or sig.text.note, sig.id
        assert sig.text.missing, f"{sig.id}: say what would make it sure"


# -- the seed, exactly as it stands ----------------------------------------------------------


def test_seed_pasted_events_are_mtu_mismatch(library: Library) -> None:
    x = _explain("seed-pasted-events.txt", library)
    assert x.diagnosis is not None and x.diagnosis.cause == "mtu-mismatch"
    assert [d.code for d in x.decoded] == ["0x80072746", "0x8007274C"]
    assert x.decoded[0].name == "WSAECONNRESET"
    assert "DidierTest01" in x.vms
    assert {"SRV1", "SRV2"} <= set(x.hosts)
    assert "41EF2DB-0C0A-12FE-25CB-C3330D937F27" in x.vm_ids
    assert {20413, 22038, 21502} <= set(x.event_ids)
    cited = [ev.event.message or "" for ev in x.diagnosis.evidence]
    assert any("Failed to send data for a Virtual Machine migration" in c for c in cited)
    # The initiated-migration line corroborates (data flowed before the reset).
    assert any("raises confidence" in c.why for c in x.diagnosis.corroboration)
    assert any("VMMS-Admin" in m.what and m.command for m in x.missing_for("mtu-mismatch-reset"))
    # The 0x8007274C paste is also explained: the differential, below.
    assert "network-unreachable" in [f.cause for f in x.findings[1:]]


# -- shapes -----------------------------------------------------------------------------------


def test_powershell_wrapping_undone(library: Library) -> None:
    x = _explain("mtu-mismatch--move-vm-wrapped.txt", library)
    assert "powershell-error" in x.shapes and x.commands == ("Move-VM",)
    # The code and the VM id were both split by the 120-column wrap.
    assert [d.code for d in x.decoded] == ["0x80072746"]
    assert x.vm_ids == ("5B1C9E2A-3D4F-4A6B-8C7D-9E0F1A2B3C4D",)
    assert x.hosts == ("HV01", "HV02") and x.vms == ("SQL01",)
    assert x.diagnosis is not None
    assert not any("CategoryInfo" in (e.event.message or "") for e in x.diagnosis.evidence)


def test_german_code_only_is_decoded_in_english(library: Library) -> None:
    x = _explain("not-possible-owner--german-dialog.txt", library)
    assert x.diagnosis is not None and x.diagnosis.cause == "not-possible-owner"
    [code] = x.decoded
    assert code.name == "ERROR_HOST_NODE_NOT_GROUP_OWNER" and "possible owner" in code.text
    assert "cluster-dialog" in x.shapes


def test_contractions_and_quotes_do_not_matter(library: Library) -> None:
    base = "Virtual machine 'VM1' is using processor-specific features not supported on host 'H2'."
    for variant in (base, base.replace("'", "“", 1).replace("'", "”", 1), base.replace("'", '"')):
        x = explain_text(variant, library, CATALOG)
        assert x.diagnosis is not None and x.diagnosis.cause == "processor-incompatible"
        assert x.vms == ("VM1",) and x.hosts == ("H2",)


def test_powershell7_concise_view(library: Library) -> None:
    text = (
        "Move-VM: Virtual machine migration operation for 'APP01' failed at migration source "
        "'HV01'.\nFailed to establish a connection with host 'HV02': No connection could be made "
        "because the target machine actively refused it. (0x8007274D).\n"
    )
    x = explain_text(text, library, CATALOG)
    assert x.diagnosis is not None and x.diagnosis.cause == "connection-refused"
    assert x.commands == ("Move-VM",)


def test_utf16_redirected_file_is_read() -> None:
    text = "Error Code: 0x80071398\n"
    assert decode_bytes(text.encode("utf-16")) == text
    assert decode_bytes(text.encode("utf-16-le")) == text
    assert decode_bytes("Größe 0x80071398".encode("cp1252")) == "Größe 0x80071398"


# -- no evidence: never a guess ---------------------------------------------------------------


@pytest.mark.parametrize("name", NEGATIVE)
def test_no_evidence_no_guess(name: str, library: Library) -> None:
    x = _explain(name, library)
    assert x.findings == () and x.verdict == NO_EVIDENCE and not x.evidence_found


def test_codes_are_decoded_without_a_match(library: Library) -> None:
    x = _explain("negative--windows-update.txt", library)
    assert [(d.code, d.name) for d in x.decoded] == [("0x80070005", "E_ACCESSDENIED")]


def test_bare_reset_code_needs_migration_wording(library: Library) -> None:
    plain = "curl: (56) Recv failure: connection reset (0x80072746)"
    assert explain_text(plain, library, CATALOG).findings == ()
    framed = "Moving APP01: the migration to host HV02 failed (0x80072746)"
    x = explain_text(framed, library, CATALOG)
    assert x.diagnosis is not None and x.diagnosis.cause == "mtu-mismatch"
    assert x.diagnosis.confidence <= 0.35


# -- CLI --------------------------------------------------------------------------------------


def test_cli_json_matches_schema(library: Library) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    for name in [*EXPECTED, *NEGATIVE]:
        result = _run([str(FIXTURES / name), "--format", "json"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        errors = sorted(validator.iter_errors(data), key=str)
        assert not errors, f"{name}: {errors[0]}"
        assert list(data) == sorted(data)
    seed = json.loads(_run([str(FIXTURES / "seed-pasted-events.txt"), "-f", "json"]).stdout)
    first = seed["causes"][0]
    assert (first["cause"], first["signature_id"]) == ("mtu-mismatch", "mtu-mismatch-reset")
    assert first["evidence"] and first["missing"]
    assert {"code", "name", "text", "meaning", "known"} <= set(seed["codes"][0])


def test_cli_stdin_terminal_and_markdown() -> None:
    text = (FIXTURES / "not-possible-owner--cluster-dialog.txt").read_text(encoding="utf-8")
    term = _run(["-"], stdin=text)
    assert term.exit_code == 0
    assert "not-possible-owner" in term.stdout and "Get-ClusterOwnerNode" in term.stdout
    assert "0x80071398" in term.stdout and "ERROR_HOST_NODE_NOT_GROUP_OWNER" in term.stdout
    md = _run(["-", "--format", "markdown"], stdin=text)
    assert md.exit_code == 0 and md.stdout.startswith("# migdiag explain")
    assert "What is missing to be sure" in md.stdout
    quiet = _run(["-", "-q"], stdin=text)
    assert quiet.stdout.count("\n") == 1


def test_cli_no_evidence_exits_zero() -> None:
    result = _run(["-"], stdin="eggs\nmilk\n")
    assert result.exit_code == 0 and NO_EVIDENCE in result.stdout.lower()
    data = json.loads(_run(["-", "-f", "json"], stdin="eggs\n").stdout)
    assert data["causes"] == [] and data["evidence_found"] is False


def test_cli_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    result = _run([str(missing)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {missing}: No such file or directory"


def test_terminal_output_strips_control_characters() -> None:
    text = "Live migration of 'VM\x1b[31mX' failed.\x07 [bold]x[/bold] (0x80071398)\n"
    result = _run(["-"], stdin=text)
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "[bold]x[/bold]" in result.stdout


def test_json_is_a_pure_function_of_the_text(library: Library) -> None:
    a = to_json_obj(_explain("seed-pasted-events.txt", library), "s")
    b = to_json_obj(_explain("seed-pasted-events.txt", library), "s")
    assert a == b
