"""Configuration rules are data: a broken rule file is reported with its file and line, all
problems at once, and the documented vocabulary is the one the code evaluates."""

from __future__ import annotations

from pathlib import Path

import pytest

from migdiag.config.rules import FACTS, OPERATORS, builtin_rules, load_rules
from migdiag.errors import SignatureError

DOCS = Path(__file__).resolve().parents[2] / "docs"
GOOD = """\
id: {id}
title: t
cause: slow-migration
severity: warning
effect: supports
scope: host
test:
  all:
    - {{fact: {fact}, above: 0}}
explanation: e
checks: []
remediation: []
"""


def test_shipped_rules_load() -> None:
    assert len(builtin_rules()) >= 15


def test_every_problem_is_located(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD.format(id="a", fact="no_such_fact"), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(GOOD.format(id="other", fact="max_migrations"), "utf-8")
    (tmp_path / "c.yaml").write_text("id: c\nid: c\n", encoding="utf-8")
    with pytest.raises(SignatureError) as caught:
        load_rules(tmp_path)
    problems = "\n".join(caught.value.problems)
    assert f"{tmp_path / 'a.yaml'}:9: unknown fact 'no_such_fact'" in problems
    assert f"{tmp_path / 'b.yaml'}:1: id 'other' is not the file name" in problems
    assert f"{tmp_path / 'c.yaml'}:2: duplicate key 'id'" in problems


def test_docs_describe_every_fact_and_operator() -> None:
    page = (DOCS / "config-rules.md").read_text(encoding="utf-8")
    for name in (*FACTS, *OPERATORS):
        assert f"`{name}`" in page, name
    for rule in builtin_rules():
        assert f"`{rule.id}`" in page, rule.id
