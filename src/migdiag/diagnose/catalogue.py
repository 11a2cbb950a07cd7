"""The generated signature catalogue (docs/signatures.md): one section per signature.

A test keeps the committed page equal to ``render_catalogue(load_library())``; regenerate with
``migdiag signatures show --catalogue > docs/signatures.md``.
"""

from __future__ import annotations

from migdiag.diagnose.loader import Library
from migdiag.diagnose.signature import Clause, Matcher, Signature

HEADER = """# Signature catalogue

<!-- Generated from signatures/*.yaml by migdiag.diagnose.catalogue.render_catalogue.
     Do not edit by hand: tests/test_signatures.py fails when this page is stale. -->

Every signature is one file `signatures/<id>.yaml`; the id appears in every output.
How to write one: [writing-signatures.md](writing-signatures.md).

"""


def _matcher(m: Matcher) -> list[str]:
    parts = []
    if m.provider:
        parts.append(f"provider `{m.provider}`")
    if m.ids:
        parts.append("event " + "/".join(str(i) for i in m.ids))
    if m.codes:
        parts.append("codes " + ", ".join(f"`{c}`" for c in m.codes))
    if m.codes_any:
        parts.append("any of codes " + ", ".join(f"`{c}`" for c in m.codes_any))
    if m.fragments:
        parts.append("text " + ", ".join(f'"{f}"' for f in m.fragments))
    if m.fragments_any:
        parts.append("any of texts " + " / ".join(f'"{f}"' for f in m.fragments_any))
    parts.extend(f'field `{k}` contains "{v}"' for k, v in m.fields)
    return parts


def _clause(c: Clause, sign: str = "+") -> str:
    parts = [f"on {c.side.value}"] if c.side.value != "any" else []
    parts += _matcher(c.base)
    if c.one_of:
        parts.append("one of: " + "; or ".join(", ".join(_matcher(m)) for m in c.one_of))
    label = "" if c.name.startswith("clause-") else f"**{c.name}**"
    if c.delta:
        label = f"{label} ({sign}{c.delta:.2f})".strip()
    head = f"{label}: " if label else ""
    return f"- {head}{', '.join(parts)} — {c.why}"


def render_signature(sig: Signature) -> list[str]:
    lines = [
        f"## `{sig.id}`",
        "",
        f"**{sig.title}**",
        "",
        f"- cause: `{sig.cause}` · severity: {sig.severity} · applies to: {sig.applies_to} "
        f"attempts · base confidence: {sig.confidence:.2f}"
        + (" · fallback (only when nothing else matches)" if sig.fallback else ""),
        "",
        sig.explanation,
        "",
        "Requires:",
        "",
    ]
    lines += [_clause(c) for c in sig.require]
    if sig.absent:
        lines += ["", "Must be absent:", ""] + [_clause(c) for c in sig.absent]
    if sig.sequence:
        lines += ["", "Order: " + "; ".join(" → ".join(s) for s in sig.sequence)]
    if sig.migration:
        ranges = [
            f"{name} {'≥ ' + str(r.minimum) if r.minimum is not None else ''}"
            f"{' ≤ ' + str(r.maximum) if r.maximum is not None else ''}"
            for name, r in sig.migration
        ]
        lines += ["", "Migration: " + ", ".join(ranges)]
    if sig.raises or sig.lowers:
        lines += ["", f"Corroboration (both hosts, ±{sig.window_s:g} s):", ""]
        lines += [_clause(c, "+") for c in sig.raises] + [_clause(c, "-") for c in sig.lowers]
    if sig.verified_note:
        lines += ["", f"> Verification: {sig.verified_note}"]
    if sig.differential:
        lines += ["", "Differential:", ""] + [f"- {a.describe()}" for a in sig.differential]
    lines += ["", "Checks:", ""] + [f"- {s.describe()}" for s in sig.checks]
    lines += ["", "Remediation:", ""] + [f"- {s.describe()}" for s in sig.remediation]
    if sig.references:
        lines += ["", "References:", ""] + [f"- {r}" for r in sig.references]
    return [*lines, ""]


def render_catalogue(library: Library) -> str:
    body: list[str] = []
    by_cause: dict[str, list[str]] = {}
    for sig in library.signatures:
        by_cause.setdefault(sig.cause, []).append(sig.id)
    body += ["| cause | signatures |", "|---|---|"]
    body += [
        f"| `{c}` | {', '.join(f'`{i}`' for i in ids)} |" for c, ids in sorted(by_cause.items())
    ]
    body.append("")
    for sig in library.signatures:
        body += render_signature(sig)
    return HEADER + "\n".join(body).rstrip() + "\n"
