"""``migdiag explain [FILE|-]``: the likely cause from text pasted off a screen.

Registered by the main CLI with ``app.command("explain")(explain)``.
Exit status: 0 whenever the text was read (with or without evidence), 2 on usage errors
(an unreadable file, an invalid signature library).
"""

from __future__ import annotations

import io
import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:  # the matcher loads when a paste is explained, not when `migdiag` starts
    from migdiag.explain import Explanation, Missing
    from migdiag.model import Evidence, Finding

SCHEMA_VERSION = 1
EXIT_OK = 0
EXIT_USAGE = 2
# Pasted text is a few KB; a larger input (a log dumped by mistake, one 50 MB line) is read
# only this far, so time and memory stay bounded, and the user is told.
MAX_INPUT_BYTES = 256 * 1024
PROMPT = "Paste the error text, then press Ctrl-D on an empty line (Ctrl-Z, Enter on Windows):"


def clean(text: str, one_line: bool = False) -> str:
    """The one output scrubber (escapes, controls, bidi), imported when output is made."""
    from migdiag.report.text import clean as scrub

    return scrub(text, one_line=one_line)


def _quote(text: str) -> str:
    from migdiag.report.text import quote

    return quote(text)  # never echo a huge input back


class ExplainFormat(StrEnum):
    terminal = "terminal"
    json = "json"
    markdown = "markdown"


def _line(e: Evidence) -> int | None:
    return e.event.origin.offset


def _evidence_obj(e: Evidence) -> dict[str, Any]:
    return {"line": _line(e), "text": _quote(e.event.message or ""), "why": e.why}


def _missing_obj(m: Missing) -> dict[str, Any]:
    return {"signature_id": m.signature_id, "what": m.what, "command": m.command}


def _cause_obj(rank: int, f: Finding, x: Explanation) -> dict[str, Any]:
    return {
        "rank": rank,
        "cause": f.cause,
        "signature_id": f.signature_id,
        "title": f.title,
        "severity": f.severity,
        "confidence": f.confidence,
        "explanation": f.explanation,
        "evidence": [_evidence_obj(e) for e in f.evidence],
        "corroboration": [_evidence_obj(e) for e in f.corroboration],
        "checks": list(f.checks),
        "remediation": list(f.remediation),
        "alternatives": list(f.differential),
        "missing": [_missing_obj(m) for m in x.missing_for(f.signature_id)],
        "references": list(f.references),
        "notes": list(f.notes),
    }


def to_json_obj(x: Explanation, source: str) -> dict[str, Any]:
    """The explanation as ``report/schema/explain.schema.json`` describes it."""
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "explain",
        "source": source,
        "evidence_found": x.evidence_found,
        "verdict": x.verdict,
        "shapes": list(x.shapes),
        "commands": list(x.commands),
        "lines": x.lines,
        "causes": [_cause_obj(i, f, x) for i, f in enumerate(x.findings, start=1)],
        "codes": [
            {"code": d.code, "name": d.name, "text": d.text, "meaning": d.meaning, "known": d.known}
            for d in x.decoded
        ],
        "hosts": list(x.hosts),
        "vms": list(x.vms),
        "vm_ids": list(x.vm_ids),
        "event_ids": list(x.event_ids),
        "missing": [_missing_obj(m) for m in x.missing],
        "question": x.question,
        "notes": list(x.notes),
    }


def render_json(x: Explanation, source: str) -> str:
    return json.dumps(to_json_obj(x, source), indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def _md(text: str) -> str:
    """Pasted text inside Markdown: no control characters, no stray markup."""
    out = clean(text).replace("\\", "\\\\")
    for ch in "`*_[]<>|#":
        out = out.replace(ch, "\\" + ch)
    return out


def _md_code(text: str) -> str:
    return "`` " + clean(text).replace("`", "'") + " ``"


def render_markdown(x: Explanation, source: str) -> str:
    out = [f"# migdiag explain: {_md(source)}", "", f"**{_md(x.verdict)}**", ""]
    if x.question:
        out += [f"The check that decides: {_md(x.question)}", ""]
    if x.notes:
        out += [f"> {_md(n)}" for n in x.notes] + [""]
    facts = [
        ("Hosts", x.hosts),
        ("VMs", x.vms),
        ("VM ids", x.vm_ids),
        ("Event ids", tuple(str(i) for i in x.event_ids)),
    ]
    out += [f"- {name}: {', '.join(_md(v) for v in values)}" for name, values in facts if values]
    if any(values for _, values in facts):
        out.append("")
    for rank, f in enumerate(x.findings, start=1):
        out += [
            f"## {rank}. `{f.cause}` — {_md(f.title)}",
            "",
            f"Confidence {f.confidence:.2f} · signature `{f.signature_id}`",
            "",
            _md(f.explanation),
            "",
            "Words in the text that support it:",
            "",
        ]
        out += [
            f"- line {_line(e)}: {_md_code(_quote(e.event.message or ''))} — {_md(e.why)}"
            for e in f.evidence
        ]
        out += [
            f"- line {_line(e)}: {_md_code(_quote(e.event.message or ''))} — {_md(e.why)}"
            for e in f.corroboration
        ]
        for title, items in (("Checks", f.checks), ("Fix", f.remediation)):
            if items:
                out += ["", f"{title}:", ""] + [f"- {_md(i)}" for i in items]
        missing = x.missing_for(f.signature_id)
        if missing:
            out += ["", "What is missing to be sure:", ""]
            out += [
                f"- {_md(m.what)}" + (f": {_md_code(m.command)}" if m.command else "")
                for m in missing
            ]
        if f.differential:
            out += ["", "Also consider:", ""] + [f"- {_md(d)}" for d in f.differential]
        if f.notes:
            out += [""] + [f"> {_md(n)}" for n in f.notes]
        out.append("")
    out += ["## Error codes", ""]
    if x.decoded:
        out += ["| code | name | Windows text |", "|---|---|---|"]
        out += [f"| `{d.code}` | {_md(d.name)} | {_md(d.text)} |" for d in x.decoded]
    else:
        out.append("No error code found in the text.")
    return "\n".join(out).rstrip() + "\n"


def render_terminal(x: Explanation, source: str, color: bool, quiet: bool) -> str:
    from rich.console import Console
    from rich.markup import escape

    buf = io.StringIO()
    con = Console(file=buf, force_terminal=color, no_color=not color, highlight=False, width=100)

    def put(text: str = "", style: str | None = None) -> None:
        body = escape(clean(text))
        # soft_wrap: long pasted lines stay whole, so copy-paste and grep keep working
        con.print(f"[{style}]{body}[/{style}]" if style else body, soft_wrap=True)

    if not x.findings:
        put(x.verdict.capitalize() + ".", "bold")
    for note in x.notes:
        put(f"note: {note}", "dim")
    if x.question:
        put(f"The check that decides: {x.question}", "bold")
    for rank, f in enumerate(x.findings, start=1):
        put(f"{rank}. {f.cause}  {f.confidence:.2f}  {f.title}  [{f.signature_id}]", "bold")
        if quiet:
            continue
        for e in f.evidence + f.corroboration:
            put(f"   line {_line(e)}: {_quote(e.event.message or '')}", "cyan")
            put(f"      {e.why}", "dim")
        if rank > 1:
            continue  # the first cause gets the whole story; the rest are the differential
        put(f"   {f.explanation}")
        for title, items in (("Checks", f.checks), ("Fix", f.remediation)):
            if items:
                put(f"   {title}:", "bold")
                for item in items:
                    put(f"   - {item}")
        missing = x.missing_for(f.signature_id)
        if missing:
            put("   What is missing to be sure:", "bold")
            for m in missing:
                put(f"   - {m.what}")
                if m.command:
                    put(f"       {m.command}", "green")
        for note in f.notes:
            put(f"   note: {note}", "dim")
    if not quiet:
        if x.decoded:
            put("Error codes:", "bold")
            for d in x.decoded:
                put(f"   {d.code}  {d.name}  {d.text}".rstrip())
        facts = [("hosts", x.hosts), ("VMs", x.vms), ("VM ids", x.vm_ids)]
        facts.append(("event ids", tuple(str(i) for i in x.event_ids)))
        for name, values in facts:
            if values:
                put(f"{name}: {', '.join(values)}", "dim")
        put(f"({x.lines} lines read from {source})", "dim")
    return buf.getvalue()


def _read(source: str) -> str:
    """The text to explain: at most ``MAX_INPUT_BYTES`` of it, with a warning past that."""
    try:
        if source == "-":
            if sys.stdin.isatty():
                typer.echo(PROMPT, err=True)
            data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        else:
            with Path(source).open("rb") as f:
                data = f.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        why = exc.strerror or str(exc)
        typer.echo(f"error: {source}: {why}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    if len(data) > MAX_INPUT_BYTES:
        data = data[:MAX_INPUT_BYTES]
        typer.echo(
            f"warning: {source}: only the first {MAX_INPUT_BYTES // 1024} KiB were read "
            "(pasted text is a few KB; for logs use: migdiag analyze)",
            err=True,
        )
    from migdiag.explain import decode_bytes

    return decode_bytes(data)


def explain(
    source: Annotated[
        str, typer.Argument(metavar="[FILE|-]", help="Pasted text: a file, or - for stdin.")
    ] = "-",
    fmt: Annotated[
        ExplainFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ExplainFormat.terminal,
    signatures: Annotated[
        list[Path],
        typer.Option(
            "--signatures",
            metavar="DIR",
            help="Also load signatures from this folder (repeatable).",
        ),
    ] = [],  # noqa: B006 - typer needs a literal default
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only the ranked causes, one line each.")
    ] = False,
) -> None:
    """The likely cause of a failed live migration from text copied off a screen.

    Paste a Move-VM error, Failover Cluster Manager's "The action 'Move' did not
    complete" dialog, the Hyper-V Manager wizard's message or event descriptions:

        migdiag explain ticket.txt

        Get-Clipboard | migdiag explain -
    """
    from migdiag.catalog import default_catalog
    from migdiag.cli.usage import check_signature_dirs
    from migdiag.diagnose.loader import load_library
    from migdiag.errors import SignatureError
    from migdiag.explain import explain_text

    check_signature_dirs(signatures)
    text = _read(source)
    try:
        library = load_library(tuple(signatures))
    except SignatureError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    x = explain_text(text, library, default_catalog(), source=source)
    if fmt is ExplainFormat.json:
        out = render_json(x, source)
    elif fmt is ExplainFormat.markdown:
        out = render_markdown(x, source)
    else:
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        out = render_terminal(x, source, color, quiet)
    sys.stdout.write(out)
    sys.stdout.flush()
    raise typer.Exit(EXIT_OK)
