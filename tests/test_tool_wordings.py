"""The wording of the tools people paste from (``tools:`` in data/phrases.yaml), through
``explain_text``: Move-VM, Hyper-V Manager, Failover Cluster Manager, SCVMM jobs and placement
ratings, and the Hyper-V Best Practices Analyzer.

Each tool has a paste in its English wording, one in another language, and a decoy: text in
the same tool's wording that mentions a code but reports no failed migration (a BPA result, a
placement rating, a job that completed, a dialog about another action).  The pastes are
written for these tests from the wordings in phrases.yaml and the reference's fragments
(hyperv-events.md F2, F10, F12, F29); the SCVMM error numbers and texts follow Microsoft's
articles (12700, 23007), the BPA fields Get-BpaResult's list output.  Each paste is also run
with a catalog built without the ``tools:`` section: the data, not code, makes the difference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from migdiag.catalog import (
    PHRASE_CONFIDENCES,
    PHRASE_SOURCES,
    TOOL_KINDS,
    Catalog,
    build_catalog,
    default_catalog,
    with_phrases,
)
from migdiag.diagnose import load_library
from migdiag.explain import BENIGN_CAP, Explanation, explain_text

ROOT = Path(__file__).resolve().parents[1]
DATA = resources.files("migdiag").joinpath("data")
CATALOG = default_catalog()
LIBRARY = load_library()


def _phrases() -> dict[str, Any]:
    data = yaml.safe_load(DATA.joinpath("phrases.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _without_tools() -> Catalog:
    """The shipped catalog built from phrases.yaml with its ``tools:`` section removed."""
    phrases = _phrases()
    del phrases["tools"]
    base = yaml.safe_load(DATA.joinpath("catalog.yaml").read_text(encoding="utf-8"))
    return with_phrases(build_catalog(base), phrases)


WITHOUT_TOOLS = _without_tools()


def _explain(text: str, catalog: Catalog = CATALOG) -> Explanation:
    return explain_text(text, LIBRARY, catalog)


@dataclass(frozen=True)
class Paste:
    name: str
    tool: str  # the tool's id in phrases.yaml
    text: str
    cause: str | None  # the top cause; None: no confident cause at all (a decoy)
    shape: str | None = None
    # the top cause's confidence at most (a code beside a job that names no operation)
    at_most: float | None = None


PASTES = [
    # -- Move-VM -------------------------------------------------------------------------------
    Paste(
        "move-vm-en",
        "move-vm",
        "Move-VM : Virtual machine migration operation for 'APP01' failed at migration source "
        "'HV01'. (Virtual machine ID 5B1C9E2A-3D4F-4A6B-8C7D-9E0F1A2B3C4D)\n"
        "Failed to establish a connection with host 'HV02': No connection could be made because "
        "the target machine actively refused it. (0x8007274D)\n"
        "At line:1 char:1\n"
        "+ Move-VM -Name APP01 -DestinationHost HV02\n"
        "+ ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n"
        "    + CategoryInfo          : NotSpecified: (:) [Move-VM], VirtualizationException\n"
        "    + FullyQualifiedErrorId : Unspecified,Microsoft.HyperV.PowerShell.Commands.MoveVM",
        "connection-refused",
        "powershell-error",
    ),
    # Only the cmdlet places the German SSPI text: no migration word in any language.
    Paste(
        "move-vm-de",
        "move-vm",
        "Move-VM : Der Zielprinzipalname ist falsch. (0x80090322)",
        "authentication",
        "powershell-error",
    ),
    # Another cmdlet whose name ends in the same letters: no migration.
    Paste(
        "move-vm-remove-vm",
        "move-vm",
        "Remove-VM : The operation cannot be performed while the object is in use. (0x800700AA)",
        None,
        "powershell-error",
    ),
    Paste(
        "move-vm-succeeded",
        "move-vm",
        "VERBOSE: Move-VM will move the virtual machine 'APP01' to host 'HV02'.\n"
        "WARNING: a transfer was retried after (0x80072746).\n\n"
        "The Virtual Machine Management service successfully completed the live migration of "
        "virtual machine 'APP01' with a blackout time of 0.4 seconds.",
        None,
    ),
    # -- Hyper-V Manager -----------------------------------------------------------------------
    Paste(
        "hyper-v-manager-en",
        "hyper-v-manager",
        "Hyper-V Manager\n\nAn error occurred while attempting to move 'APP01'.\n\n"
        "Not enough memory resources are available to complete this operation. (0x8007000E)",
        "insufficient-memory",
        "hyper-v-manager",
    ),
    Paste(
        "hyper-v-manager-fr",
        "hyper-v-manager",
        "Gestionnaire Hyper-V\n\n"
        "Une erreur s'est produite lors de la tentative de déplacement de « APP01 ».\n\n"
        "Ressources mémoire insuffisantes pour traiter cette commande. (0x8007000E)",
        "insufficient-memory",
        "hyper-v-manager",
    ),
    # Its generic dialog names no operation, and other tools print it too: no migration.
    Paste(
        "hyper-v-manager-operation-failed",
        "hyper-v-manager",
        "Hyper-V Manager\n\nThe operation failed.\n\n(0x8007000E)",
        None,
        "hyper-v-manager",
    ),
    # Another operation's dialog, with the same code: no migration.
    Paste(
        "hyper-v-manager-start",
        "hyper-v-manager",
        "Hyper-V Manager\n\n"
        "An error occurred while attempting to start the selected virtual machine(s).\n\n"
        "'APP01' could not start. Not enough memory resources are available to complete this "
        "operation. (0x8007000E)",
        None,
        "hyper-v-manager",
    ),
    # -- Failover Cluster Manager --------------------------------------------------------------
    Paste(
        "failover-cluster-manager-en",
        "failover-cluster-manager",
        "The action 'Move' did not complete.\n\nError Code: 0x8007274D",
        "connection-refused",
        "cluster-dialog",
    ),
    Paste(
        "failover-cluster-manager-es",
        "failover-cluster-manager",
        "La acción «Mover» no se completó.\n\nCódigo de error: 0x8007274D",
        "connection-refused",
        "cluster-dialog",
    ),
    Paste(
        "failover-cluster-manager-start",
        "failover-cluster-manager",
        "The action 'Start' did not complete.\n\nError Code: 0x8007274D",
        None,
        "cluster-dialog",
    ),
    # -- SCVMM jobs ----------------------------------------------------------------------------
    # Error (12700) names no operation: an ISO attach fails with it too.  Candidates, lower.
    # An ISO that cannot be attached, in the same wording (Microsoft's article on 12700): its
    # code names no migration cause, and the job is no "failure of unknown cause".
    Paste(
        "scvmm-job-12700-iso",
        "scvmm-job",
        "Error (12700)\nVMM cannot complete the host operation on the HV01.corp.example server "
        "because of the error: 'APP01' failed to add device 'Microsoft Virtual CD/DVD Disk'.\n\n"
        "'APP01': The Machine Account 'CORP\\HV01$' does not have read access to the file "
        "share. (0x80070005)",
        None,
        "scvmm-job",
    ),
    Paste(
        "scvmm-job-12700-en",
        "scvmm-job",
        "Error (12700)\nVMM cannot complete the host operation on the HV01.corp.example server "
        "because of the error: An existing connection was forcibly closed by the remote host. "
        "(0x80072746)\n\nRecommended Action\nResolve the host issue and then try the operation "
        "again.",
        "mtu-mismatch",
        "scvmm-job",
        at_most=0.3,
    ),
    Paste(
        "scvmm-job-23007-en",
        "scvmm-job",
        "Error (23007)\nMigration timeout because: VMM cannot complete the host operation on the "
        "HV01.corp.example server because of the error: (0x80071398)",
        "not-possible-owner",
        "scvmm-job",
    ),
    Paste(
        "scvmm-job-ja",
        "scvmm-job",
        "エラー (12700)\nVMM はホスト操作を完了できません。HV01.corp.example サーバー: "
        "既存の接続はリモート ホストに強制的に切断されました。 (0x80072746)",
        "mtu-mismatch",
        "scvmm-job",
        at_most=0.3,
    ),
    Paste(
        "scvmm-job-completed",
        "scvmm-job",
        "Name     : Migrate virtual machine\n"
        "Status   : Completed w/ Info\n"
        "Info     : Live migration of 'APP01' was retried after a transient error (0x80072746).",
        None,
    ),
    # -- SCVMM placement ratings: a pre-check, never a failure ------------------------------------
    Paste(
        "scvmm-rating-en",
        "scvmm-rating",
        "Rating Explanation\n"
        "HV03: 0 stars. Live migration to this host is not possible: the host does not have "
        "enough memory. Not enough memory resources are available to complete this operation. "
        "(0x8007000E)",
        None,
        "scvmm-rating",
    ),
    Paste(
        "scvmm-rating-powershell",
        "scvmm-rating",
        "Name                 : HV03\nRating               : 0\n"
        "ZeroRatingReasonList : {Live migration would fail: Not enough memory resources are "
        "available to complete this operation. (0x8007000E)}",
        None,
        "scvmm-rating",
    ),
    Paste(
        "scvmm-rating-de",
        "scvmm-rating",
        "Bewertungserklärung\nHV03: Livemigration auf diesen Host nicht möglich: "
        "Nicht genügend Speicherressourcen (0x8007000E)",
        None,
        "scvmm-rating",
    ),
    # A rating pasted with the failed job that followed it: the job's cause, not the rating's.
    Paste(
        "scvmm-rating-with-failed-job",
        "scvmm-rating",
        "Rating Explanation\nHV03: 0 stars. Not enough memory resources are available to complete "
        "this operation. (0x8007000E)\n\n"
        "Error (12700)\nVMM cannot complete the host operation on the HV01 server because of the "
        "error: Virtual machine migration operation for 'APP01' failed at migration source "
        "'HV01'. Failed to establish a connection with host 'HV02': No connection could be made "
        "because the target machine actively refused it. (0x8007274D)",
        "connection-refused",
        "scvmm-rating",
    ),
    # -- Hyper-V Best Practices Analyzer: advice, never a failure --------------------------------
    Paste(
        "bpa-warning",
        "bpa",
        "ResultNumber : 12\nModelId      : Microsoft/Windows/Hyper-V\nSeverity     : Warning\n"
        "Category     : Configuration\n"
        "Title        : Live migration should use a dedicated network\n"
        "Problem      : Live migration shares a network with other traffic; a transfer was "
        "reset (0x80072746).",
        None,
        "bpa-result",
    ),
    Paste(
        "bpa-compliant",
        "bpa",
        "Severity   : Information\nTitle      : Use a dedicated network for live migration\n"
        "Compliance : The Hyper-V Best Practices Analyzer scan has determined that you are in "
        "compliance with this best practice. Last live migration result: (0x80072746)",
        None,
        "bpa-result",
    ),
    Paste(
        "bpa-ja",
        "bpa",
        "ベスト プラクティス アナライザー\n重大度: 警告\n"
        "ライブ マイグレーションには専用ネットワークを使用してください。(0x80072746)",
        None,
        "bpa-result",
    ),
    # A BPA result pasted beside the failure it was run for: the failure's cause.
    Paste(
        "bpa-with-move-vm",
        "bpa",
        "Severity : Information\nTitle    : Live migration should use a dedicated network\n"
        "Problem  : Live migration shares a network (0x80072746).\n\n"
        "Move-VM : Virtual machine migration operation for 'APP01' failed at migration source "
        "'HV01'. Failed to establish a connection with host 'HV02': No connection could be "
        "made because the target machine actively refused it. (0x8007274D)",
        "connection-refused",
        "bpa-result",
    ),
]


@pytest.mark.parametrize("paste", PASTES, ids=lambda p: p.name)
def test_tool_wording_gives_the_right_cause(paste: Paste) -> None:
    x = _explain(paste.text)
    if paste.shape:
        assert paste.shape in x.shapes
    if paste.cause is None:
        # Not even a weak or "unknown cause" reading: no migration failed here.
        assert x.findings == (), [(f.cause, f.confidence) for f in x.findings]
        return
    assert x.diagnosis is not None, f"{paste.name}: no cause"
    assert x.diagnosis.cause == paste.cause
    if paste.at_most is not None:
        assert x.diagnosis.confidence <= paste.at_most
        assert x.question, "a code without its operation comes with the check that decides"
    elif paste.text.count("\n\n") and paste.tool in {"bpa", "scvmm-rating"}:
        # The advice or rating paragraph is never what the cause cites.
        advisory = paste.text.split("\n\n")[0].count("\n") + 1
        assert all(e.event.origin.offset > advisory for e in x.diagnosis.evidence)


def test_every_tool_has_english_another_language_and_a_decoy() -> None:
    for tool in CATALOG.tools:
        mine = [p for p in PASTES if p.tool == tool.id]
        assert any(p.cause is None for p in mine), f"{tool.id}: no decoy"
        langs = {p.lang for p in tool.wordings}
        assert "en" in langs and len(langs) > 1, f"{tool.id}: no other language"
        assert len(mine) >= 3, tool.id


# Pastes whose outcome the tools' data decides: without it, the same text says something else.
DATA_DRIVEN = {
    "move-vm-de": "the cmdlet alone places the code",
    "hyper-v-manager-fr": "the wizard's French dialog places the code",
    "failover-cluster-manager-en": "'Move' places the code",
    "failover-cluster-manager-es": "'Mover' places the code",
    "scvmm-job-12700-en": "a failed job makes the code a candidate",
    "scvmm-job-ja": "a failed job makes the code a candidate",
    "scvmm-job-completed": "a completed job is advice",
    "scvmm-rating-en": "a rating is a pre-check",
    "scvmm-rating-powershell": "a rating is a pre-check",
    "scvmm-rating-de": "a rating is a pre-check",
    "bpa-warning": "a BPA result is advice",
    "bpa-ja": "a BPA result is advice",
}


def _outcome(x: Explanation) -> tuple[str | None, float]:
    top = x.diagnosis
    return (top.cause, top.confidence) if top else (None, 0.0)


@pytest.mark.parametrize("name", sorted(DATA_DRIVEN))
def test_removing_the_tools_data_changes_the_outcome(name: str) -> None:
    paste = next(p for p in PASTES if p.name == name)
    with_data = _explain(paste.text)
    without = _explain(paste.text, WITHOUT_TOOLS)
    assert _outcome(with_data) != _outcome(without), DATA_DRIVEN[name]
    if paste.cause is None:
        # Without the data the decoy would have been a confident cause.
        assert without.diagnosis is not None and without.diagnosis.confidence > BENIGN_CAP
    if paste.shape and paste.shape != "powershell-error":
        assert paste.shape not in without.shapes


def test_every_tool_is_data_driven_by_some_paste() -> None:
    assert {p.tool for p in PASTES if p.name in DATA_DRIVEN} == {t.id for t in CATALOG.tools}


# -- the data itself ------------------------------------------------------------------------------


def test_every_tool_wording_says_its_kind_source_and_confidence() -> None:
    tools = _phrases()["tools"]
    assert set(tools) == {
        "move-vm",
        "hyper-v-manager",
        "failover-cluster-manager",
        "scvmm-job",
        "scvmm-rating",
        "bpa",
    }
    for tool_id, tool in tools.items():
        assert tool["name"] and tool["wordings"], tool_id
        for w in tool["wordings"]:
            where = f"{tool_id}: {w.get('text')!r}"
            assert set(w) == {"kind", "lang", "text", "source", "confidence"}, where
            assert w["kind"] in TOOL_KINDS, where
            assert w["source"] in PHRASE_SOURCES, where
            assert w["confidence"] in PHRASE_CONFIDENCES, where
            assert w["lang"] in {"en", "de", "fr", "es", "ja"}, where
            assert w["text"].strip() == w["text"] and w["text"], where
            # Only what the reference or Microsoft shows is claimed as Windows' own text; a
            # rendering is never sure.
            if w["source"] == "rendering":
                assert w["confidence"] != "high", where


def test_tool_shapes_are_in_the_explain_schema() -> None:
    schema = json.loads(
        resources.files("migdiag")
        .joinpath("report/schema/explain.schema.json")
        .read_text(encoding="utf-8")
    )
    shapes = set(schema["properties"]["shapes"]["items"]["enum"])
    assert {t.shape for t in CATALOG.tools if t.shape} <= shapes


def test_an_unknown_kind_is_refused_with_its_tool_named() -> None:
    phrases = _phrases()
    phrases["tools"]["bpa"]["wordings"].append(
        {"kind": "benign", "lang": "en", "text": "x", "source": "windows", "confidence": "high"}
    )
    base = yaml.safe_load(DATA.joinpath("catalog.yaml").read_text(encoding="utf-8"))
    with pytest.raises(ValueError, match=r"tools\.bpa: 'x': 'benign' is not one of"):
        with_phrases(build_catalog(base), phrases)


def test_catalog_tools_prints_each_wording_with_its_kind_and_source() -> None:
    from typer.testing import CliRunner

    from migdiag.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["catalog", "tools", "bpa"], env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    bpa = next(t for t in CATALOG.tools if t.id == "bpa")
    assert rows == [["bpa", w.kind, w.lang, w.source, w.confidence, w.text] for w in bpa.wordings]
    every = runner.invoke(app, ["catalog", "tools", "--format", "json"])
    assert [t["id"] for t in json.loads(every.stdout)] == [t.id for t in CATALOG.tools]
    unknown = runner.invoke(app, ["catalog", "tools", "nope"])
    assert unknown.exit_code == 2 and "no tool 'nope'" in unknown.output


@pytest.mark.parametrize("name", ["scvmm-rating-en", "bpa-warning", "scvmm-job-completed"])
def test_advice_and_ratings_say_what_they_are_in_every_format(name: str) -> None:
    from jsonschema import Draft202012Validator

    from migdiag.cli.explain import render_json, render_markdown, render_terminal

    paste = next(p for p in PASTES if p.name == name)
    x = _explain(paste.text)
    tool = next(t for t in CATALOG.tools if t.id == paste.tool)
    [note] = x.notes
    assert note.startswith(tool.name) and "not" in note
    data = json.loads(render_json(x, name))
    schema = json.loads(
        resources.files("migdiag")
        .joinpath("report/schema/explain.schema.json")
        .read_text(encoding="utf-8")
    )
    Draft202012Validator(schema).validate(data)
    assert data["notes"] == [note] and data["causes"] == []
    assert tool.name in render_markdown(x, name)
    assert tool.name in render_terminal(x, name, color=False, quiet=False)
    # A failure report says nothing of the kind.
    assert _explain(next(p for p in PASTES if p.name == "move-vm-en").text).notes == ()


def test_every_tool_has_a_paste_in_another_language() -> None:
    for tool in CATALOG.tools:
        names = [p.name for p in PASTES if p.tool == tool.id]
        assert any(n.endswith(("-de", "-fr", "-es", "-ja")) for n in names), tool.id


def test_a_job_places_a_code_below_a_migration_wording_and_no_higher_than_alone() -> None:
    code = "(0x80072746)"
    migration = _explain(f"The action 'Move' did not complete.\n\nError Code: {code}")
    job = _explain(
        f"Error (12700)\nVMM cannot complete the host operation on the HV01 server {code}"
    )
    alone = _explain(code)
    assert migration.diagnosis and job.diagnosis and alone.diagnosis
    assert migration.diagnosis.cause == job.diagnosis.cause == alone.diagnosis.cause
    assert job.diagnosis.confidence < migration.diagnosis.confidence
    assert job.diagnosis.confidence <= alone.diagnosis.confidence
