"""Log text is untrusted: each text sink must show it, not obey it (the browser half of this
is in test_browser.py)."""

from __future__ import annotations

import json
import re

from report_fixtures import PAYLOAD_MSG, PAYLOAD_VM, PLAIN

from migdiag.model import Analysis
from migdiag.report import RENDERERS
from migdiag.report.text import clean

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_clean_neutralises_escapes_and_controls() -> None:
    assert clean("a\x1b[31mred\x1b[0m b") == "ared b"
    assert clean("t\x1b]0;title\x07x") == "tx"
    assert clean("bell\x07") == "bell\\x07"
    assert clean("x\u202ey") == "x\\u202ey"
    assert clean("a\r\nb", one_line=True) == "a b"
    assert clean(None) == ""


def test_terminal_shows_payloads_inert(hostile: Analysis) -> None:
    out = RENDERERS["terminal"](hostile, PLAIN)
    assert not _CONTROL.search(out)
    assert "[bold]markup[/bold]" in out  # rich markup printed literally, not applied
    assert "<script>window.__pwned=1" in out  # a terminal shows the text as it is


def test_terminal_colour_has_only_our_escapes(hostile: Analysis) -> None:
    import dataclasses

    out = RENDERERS["terminal"](hostile, dataclasses.replace(PLAIN, color=True))
    stripped = re.sub(r"\x1b\[[0-9;]*m", "", out)  # rich's own SGR styling
    assert "\x1b" not in stripped
    assert "]0;owned" not in out


def test_markdown_escapes_html_and_links(hostile: Analysis) -> None:
    out = RENDERERS["markdown"](hostile, PLAIN)
    outside_fences = re.sub(r"```text\n.*?```", "", out, flags=re.S)
    assert "<script" not in outside_fences
    assert "<img" not in outside_fences
    assert not re.search(r"(?<!\\)\]\(", outside_fences), "an unescaped ](...) would form a link"
    assert "\\[click\\]" in out
    assert not _CONTROL.search(out)
    # Inside a fence the text is literal; a fence cannot be closed early from the log.
    assert out.count("```") % 2 == 0


def test_json_keeps_text_verbatim(hostile: Analysis) -> None:
    text = RENDERERS["json"](hostile, PLAIN)
    assert "\x1b" not in text  # ensure_ascii: escaped as \u001b, harmless to cat
    doc = json.loads(text)
    assert doc["migrations"][0]["vm_name"] == PAYLOAD_VM
    assert doc["migrations"][0]["events"][0]["message"] == PAYLOAD_MSG


def test_html_escapes_payloads(hostile: Analysis) -> None:
    out = RENDERERS["html"](hostile, PLAIN)
    assert "<script>window.__pwned" not in out
    assert "<img src=x" not in out
    assert 'href="javascript' not in out
    assert out.count("<script>") == 1  # ours


def test_template_never_marks_log_text_safe() -> None:
    from importlib import resources

    templates = resources.files("migdiag").joinpath("report/templates")
    for entry in templates.iterdir():
        if entry.name.endswith(".j2"):
            assert "|safe" not in entry.read_text("utf-8").replace(" ", ""), entry.name
