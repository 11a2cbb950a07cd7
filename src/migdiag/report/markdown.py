"""``--format markdown``: a compact summary to paste into a ticket.

Tickets render Markdown with embedded HTML, so log text is escaped twice over: HTML
metacharacters become entities and Markdown punctuation is backslash-escaped, so that a
message can neither open a tag nor turn into a link, emphasis or a table cell break.
"""

from __future__ import annotations

import re

from migdiag.model import Analysis, ConfigurationReport, Finding, MigrationResult
from migdiag.report.drains import drain_line
from migdiag.report.options import RenderOptions
from migdiag.report.seen_before import seen_before_lines
from migdiag.report.text import (
    cause_label,
    clean,
    clock,
    confidence,
    corrected_clock,
    decoded_name,
    input_warnings,
    needs_detail,
    quote,
    route,
    seconds,
    short_time,
    status_of,
    vm_label,
)

# Enough to stop emphasis, code spans, links, images, tables and strikethrough; "<" never
# survives as itself, so neither HTML nor an autolink <scheme:...> can form.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_MD_LINE_START = re.compile(r"^(\d*)([#+\-=.)])")


def md(text: str | None) -> str:
    """Log text made inert for Markdown and HTML, on one line."""
    out = clean(text, one_line=True)
    out = out.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = _MD_SPECIAL.sub(r"\\\1", out)
    # A heading, list or quote marker only acts at the start of a line.
    return _MD_LINE_START.sub(r"\1\\\2", out)


def _finding_lines(f: Finding) -> list[str]:
    lines = [
        f"**Cause:** {md(f.title)} (`{md(f.signature_id)}`), confidence {confidence(f.confidence)}",
    ]
    if f.explanation:
        lines.append(f"- {md(f.explanation)}")
    lines += [f"- Note: {md(n)}" for n in f.notes]
    lines += [f"- Check: {md(c)}" for c in f.checks]
    lines += [f"- Fix: {md(r)}" for r in f.remediation]
    lines += [f"- Could also be: {md(a)}" for a in f.differential]
    return lines


def _detail(result: MigrationResult) -> list[str]:
    m = result.migration
    lines = [
        "",
        f"### {md(vm_label(result))}: {md(route(result))}, {short_time(m.started)}, "
        f"{status_of(result).value}",
        "",
        "```text",
    ]
    cited = {id(ev.event) for f in result.findings for ev in f.evidence}
    for index, event in enumerate(m.events):
        if event.level > 3 and id(event) not in cited:
            continue
        when = m.corrected_times[index] if index < len(m.corrected_times) else event.time
        moved = corrected_clock(event.time, when)
        code = ""
        if event.error_codes:
            name = decoded_name(result, event.error_codes[0])
            code = f" {event.error_codes[0]}" + (f" {name}" if name else "")
        # Inside a fence nothing is interpreted, except a line that closes the fence.
        text = clean(event.message, one_line=True).replace("```", "'''")
        lines.append(
            f"{clock(event.time)} {clean(event.short_host, one_line=True)} {event.event_id}{code} "
            + (f"(corrected {moved}) " if moved else "")
            + text
        )
    lines += ["```", ""]
    diagnosis = result.diagnosis
    if diagnosis is None:
        lines.append("**Cause:** unknown (no signature matched)")
    else:
        lines += _finding_lines(diagnosis)
    for rank, f in enumerate(result.differential, start=2):
        lines.append(f"- Differential #{rank}: {md(f.title)} ({confidence(f.confidence)})")
    lines += [f"- Coverage: {md(c)}" for c in m.coverage]
    lines += [f"- Attribution: {md(a)}" for a in m.ambiguities]
    return lines


def render_markdown(analysis: Analysis, options: RenderOptions) -> str:
    """The ticket summary: header, one table, then failed and slow attempts."""
    lines = ["## migdiag: live-migration diagnosis", ""]
    if options.now is not None:
        lines.append(f"Generated {short_time(options.now)}.")
    hosts = ", ".join(md(h) for h in sorted(analysis.hosts)) or "-"
    lines.append(
        f"{len(analysis.inputs)} input files, hosts {hosts}, "
        f"{short_time(analysis.first_event)} to {short_time(analysis.last_event)}."
    )
    warnings = input_warnings(analysis.inputs) + list(analysis.warnings)
    if warnings:
        lines.append("")
        lines += [f"- Warning: {md(w)}" for w in warnings]
    lines += [
        "",
        "| VM | Route | Start (UTC) | Duration | Blackout | Outcome | Cause |",
        "|---|---|---|---:|---:|---|---|",
    ]
    for result in analysis.results:
        m = result.migration
        lines.append(
            f"| {md(vm_label(result))} | {md(route(result))} | {short_time(m.started)} "
            f"| {seconds(m.duration_s)} | {seconds(m.blackout_s)} "
            f"| {status_of(result).value} | {md(cause_label(result))} |"
        )
    if not options.quiet:
        for result in analysis.results:
            if needs_detail(result):
                lines += _detail(result)
    if analysis.seen_before:
        lines += ["", "### Seen before (case history)", ""]
        lines += [f"- {md(vm)}: {md(sentence)}" for vm, sentence in seen_before_lines(analysis)]
    for pasted in sorted(analysis.pasted, key=lambda p: p.path):
        lines += ["", f"### Pasted text: {md(pasted.path)}", ""]
        for rank, f in enumerate(pasted.findings, start=1):
            if rank == 1:
                lines += _finding_lines(f)
                lines += [
                    f"- Evidence, line {ev.event.origin.offset}: {md(quote(ev.event.message))}"
                    for ev in f.evidence
                ]
            else:
                lines.append(f"- Differential #{rank}: {md(f.title)} (`{md(f.signature_id)}`)")
        lines += [f"- To be sure: {md(m)}" for m in pasted.missing]
    if analysis.configuration.hosts or analysis.configuration.warnings:
        lines += _configuration_lines(analysis.configuration)
    if analysis.drains:
        lines += ["", "### Drains", ""]
        for d in analysis.drains:
            lines.append(f"- {md(drain_line(d))}")
            if not options.quiet:
                lines += [f"  - {md(f.title)}: {md(f.advice)}" for f in d.findings]
    return "\n".join(lines) + "\n"


def _configuration_lines(config: ConfigurationReport) -> list[str]:
    hosts = ", ".join(md(h) for h in config.hosts) or "-"
    lines = ["", "### Configuration", "", f"Snapshots of {hosts}."]
    if not config.findings:
        lines += ["", "No configuration rule held."]
    for f in config.findings:
        effect = "rules out" if f.effect == "rules-out" else f.severity
        lines += [
            "",
            f"**{md(f.title)}** (`{md(f.id)}`, {md(effect)}, cause `{md(f.cause)}`)",
            "",
        ]
        for e in f.evidence:
            item = f" {md(e.item)}" if e.item else ""
            lines.append(
                f"- Seen: {md(e.host)}{item}: {md(e.cmdlet)} {md(e.property)} = {md(e.value)}"
            )
        lines.append(f"- Why: {md(f.explanation)}")
        lines += [f"- Check: {md(c)}" for c in f.checks]
        lines += [f"- Fix: {md(r)}" for r in f.remediation]
    lines += [f"- Warning: {md(w)}" for w in config.warnings]
    return lines
