"""The generated signature catalog (docs/signatures.md): one section per signature.

A test keeps the committed page equal to ``render_catalogue(load_library())``; regenerate with
``migdiag signatures catalog > docs/signatures.md``.
"""

from __future__ import annotations

from migdiag.catalog import Catalog, default_catalog
from migdiag.diagnose.loader import Library
from migdiag.diagnose.signature import Clause, Matcher, Signature, TextMatcher, TextRule

HEADER = """# Signature catalog

<!-- Generated from signatures/*.yaml by migdiag.diagnose.catalogue.render_catalogue.
     Do not edit by hand: tests/test_signatures.py fails when this page is stale. -->

Every signature is one file `signatures/<id>.yaml`; the id appears in every output.
How to write one: [writing-signatures.md](writing-signatures.md).

"""


def _codes_and_texts(m: Matcher | TextMatcher) -> list[str]:
    # Event matchers and text rules share these four conditions: describe them one way.
    parts = []
    if m.codes:
        parts.append("codes " + ", ".join(f"`{c}`" for c in m.codes))
    if m.codes_any:
        parts.append("any of codes " + ", ".join(f"`{c}`" for c in m.codes_any))
    if m.fragments:
        parts.append("text " + ", ".join(f'"{f}"' for f in m.fragments))
    if m.fragments_any:
        parts.append("any of texts " + " / ".join(f'"{f}"' for f in m.fragments_any))
    return parts


def _matcher(m: Matcher) -> list[str]:
    parts = []
    if m.provider:
        parts.append(f"provider `{m.provider}`")
    if m.ids:
        parts.append("event " + "/".join(str(i) for i in m.ids))
    parts += _codes_and_texts(m)
    parts.extend(f'field `{k}` contains "{v}"' for k, v in m.fields)
    if m.nic_link:
        parts.append(f"a NIC link event ({m.nic_link})")
    return parts


def _clause(c: Clause, sign: str = "+") -> str:
    parts = [f"on {c.side.value}"] if c.side.value != "any" else []
    if c.around_s is not None:
        parts.append(f"in any log of either host within {c.around_s:g} s of the failure")
    parts += _matcher(c.base)
    if c.one_of:
        parts.append("one of: " + "; or ".join(", ".join(_matcher(m)) for m in c.one_of))
    label = "" if c.name.startswith("clause-") else f"**{c.name}**"
    if c.delta:
        label = f"{label} ({sign}{c.delta:.2f})".strip()
    head = f"{label}: " if label else ""
    return f"- {head}{', '.join(parts)} — {c.why}"


def _text_matcher(m: TextMatcher, sign: str = "") -> str:
    parts = []
    parts += _codes_and_texts(m)
    if m.ids:
        parts.append("event id " + "/".join(str(i) for i in m.ids) + " named")
    if m.alone:
        parts.append("even without live-migration wording")
    if m.delta:
        label = f"({sign}{m.delta:.2f}) "
    elif m.confidence is not None:
        label = f"({m.confidence:.2f}) "
    else:
        label = ""
    return f"- {label}{', '.join(parts)} — {m.why}"


def _text_rule(rule: TextRule) -> list[str]:
    lines = ["", f"From pasted text alone (`migdiag explain`, at most {rule.confidence:.2f}):", ""]
    if rule.one_of:
        lines += [_text_matcher(m) for m in rule.one_of]
    else:
        lines.append(f"- cannot be shown from text: {rule.note or 'no rule'}")
    if rule.raises or rule.lowers:
        lines += [_text_matcher(m, "+") for m in rule.raises]
        lines += [_text_matcher(m, "-") for m in rule.lowers]
    if rule.missing:
        lines += ["", "What would make it sure:", ""]
        lines += [f"- {s.describe()}" for s in rule.missing]
    return lines


def _matchers(sig: Signature) -> list[Matcher]:
    return [m for c in sig.require for m in (c.base, *c.one_of)]


def accepts(sig: Signature, catalog: Catalog) -> list[str]:
    """What the signature's requirements and text rule accept, language-independent evidence
    first: event ids, codes, NIC link events, then every sentence with its wordings in other
    languages."""
    matchers = _matchers(sig)
    text: tuple[TextMatcher, ...] = sig.text.one_of if sig.text else ()
    both: list[Matcher | TextMatcher] = [*matchers, *text]
    ids = sorted(
        {(m.provider or "any", i) for m in matchers for i in m.ids}
        | {("named in text", i) for m in text for i in m.ids}
    )
    codes = sorted(
        {c for m in both for c in (*m.codes, *m.codes_any)},
    )
    sentences = list(dict.fromkeys(f for m in both for f in (*m.fragments, *m.fragments_any)))
    lines = [
        "",
        "Accepts (codes and ids stand without a sentence; a sentence raises confidence):",
        "",
    ]
    if ids:
        lines.append("- events: " + ", ".join(f"{p} {i}" for p, i in ids))
    if codes:
        names = [f"`{c}` {d.name}" if (d := catalog.decode(c)) else f"`{c}`" for c in codes]
        lines.append("- codes: " + ", ".join(names))
    links = sorted({m.nic_link for m in matchers if m.nic_link})
    if links:
        lines.append(
            "- NIC link events (" + "/".join(links) + "): NDIS, LBFO and known NIC drivers by id; "
            "other drivers by the words of their payload"
        )
    for english in sentences:
        local = catalog.translations(english)
        lines.append(f'- "{english}"' + (":" if local else ""))
        lines += [f'  - {p.lang}: "{p.text}" ({p.source}, {p.confidence})' for p in local]
    return lines


def render_signature(sig: Signature, catalog: Catalog | None = None) -> list[str]:
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
    if sig.text is not None:
        lines += _text_rule(sig.text)
    lines += accepts(sig, catalog or default_catalog())
    if sig.differential:
        lines += ["", "Differential:", ""] + [f"- {a.describe()}" for a in sig.differential]
    lines += ["", "Checks:", ""] + [f"- {s.describe()}" for s in sig.checks]
    lines += ["", "Remediation:", ""] + [f"- {s.describe()}" for s in sig.remediation]
    if sig.references:
        lines += ["", "References:", ""] + [f"- {r}" for r in sig.references]
    return [*lines, ""]


def render_catalogue(library: Library, catalog: Catalog | None = None) -> str:
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
        body += render_signature(sig, catalog)
    return HEADER + "\n".join(body).rstrip() + "\n"
