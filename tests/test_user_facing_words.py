"""No developer's shorthand reaches a user (issue 15).

Reports, help and the user docs speak to a support engineer: not of "the seed" (the blog
post the project started from), of the reference's fragment numbers ("(F5)"), of what the
reference marks "GUESSED", of its section numbers, or of how the team decided things.
Developer notes live in the signatures' ``dev_notes`` and ``migdiag signatures show --dev``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from common import run_migdiag

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_logs"

INTERNAL_WORDS = re.compile(
    r"\bthe seed\b|\(F\d+\b|\bF\d+(?:[-/]F\d+)*[,)]|GUESSED in the reference|"
    r"hyperv-events\.md|decisions where the issues were silent",
    re.IGNORECASE,
)
# Docs for the people who build migdiag, not for its users.
DEVELOPER_DOCS = {"architecture.md", "performance.md"}


def assert_clean(text: str, where: str) -> None:
    found = sorted({m.group(0) for m in INTERNAL_WORDS.finditer(text)})
    assert not found, f"{where}: {found}"


def test_the_pattern_catches_what_it_must() -> None:
    for bad in (
        "in the seed the NICs",
        "a reset (F5, 0x80072746)",
        "(F12/F13)",
        "GUESSED in the reference",
        "hyperv-events.md section 7",
        "## Decisions where the issues were silent",
    ):
        assert INTERNAL_WORDS.search(bad), bad
    for fine in ("seed-mtu-reset", "press F5 to refresh", "a jitter seed: 15"):
        assert not INTERNAL_WORDS.search(fine), fine


@pytest.mark.parametrize(
    "doc",
    sorted(
        [p for p in (ROOT / "docs").glob("*.md") if p.name not in DEVELOPER_DOCS]
        + [ROOT / "README.md", *SAMPLES.glob("*/README.md")]
    ),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_user_docs(doc: Path) -> None:
    assert_clean(doc.read_text(encoding="utf-8"), str(doc.relative_to(ROOT)))


@pytest.mark.parametrize("fmt", ["terminal", "markdown", "html", "json"])
def test_reports_of_every_sample(fmt: str) -> None:
    result = run_migdiag("analyze", str(SAMPLES), "--format", fmt)
    assert result.returncode == 0, result.stderr
    assert_clean(result.stdout, f"analyze --format {fmt}")


def test_every_help_page() -> None:
    from test_cli_contract import help_pages

    for name, page in help_pages().items():
        assert_clean(page, f"{name} --help")


def test_every_signature_as_users_see_it() -> None:
    from migdiag.diagnose import load_library

    catalog = run_migdiag("signatures", "catalog")
    assert_clean(catalog.stdout, "signatures catalog")
    for sig in load_library(()).signatures:
        for text in (sig.title, sig.explanation, *sig.references):
            assert_clean(text, sig.id)
        for step in (*sig.checks, *sig.remediation):
            assert_clean(step.describe(), sig.id)
        for clause in sig.require:
            assert_clean(clause.why, f"{sig.id} require")


def test_explain_of_every_example() -> None:
    from migdiag.catalog import default_catalog
    from migdiag.cli.explain import render_json, render_markdown, render_terminal
    from migdiag.diagnose import load_library
    from migdiag.explain import explain_text

    library = load_library(())
    for case in sorted((ROOT / "tests" / "explain").glob("*.txt")):
        x = explain_text(case.read_text(encoding="utf-8"), library, default_catalog(), case.name)
        for out in (
            render_terminal(x, case.name, color=False, quiet=False),
            render_markdown(x, case.name),
            render_json(x, case.name),
        ):
            assert_clean(out, f"explain {case.name}")


def test_developer_notes_are_still_there_for_developers() -> None:
    result = run_migdiag("signatures", "show", "mtu-mismatch-reset", "--dev")
    assert "Developer notes" in result.stdout
    assert INTERNAL_WORDS.search(result.stdout), "the notes moved, they were not deleted"
