"""Display text shared by every renderer: neutralising log text, times, durations, status.

Log text is untrusted.  Each sink still escapes for its own syntax (rich markup, HTML,
Markdown); this module removes what no sink should ever pass through: terminal escape
sequences, control characters and bidi overrides that would reorder what a reader sees.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum

from migdiag.model import SLOW_BLACKOUT_S, Finding, InputReport, MigrationResult, Outcome

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), and any other two-byte ESC sequence.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
# C0 controls except tab and newline, DEL, C1 controls (0x9b is a one-byte CSI on some
# terminals), and the bidi embedding/override/isolate characters ("trojan source").
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SPACE_RUN = re.compile(r"\s+")


def _visible(match: re.Match[str]) -> str:
    # Shown, not dropped: a support engineer should see that the log held something odd.
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: str | None, *, one_line: bool = False) -> str:
    """Log text with escape sequences removed and control characters made visible."""
    if text is None:
        return ""
    out = _ANSI.sub("", text.replace("\r\n", "\n"))
    out = _CONTROL.sub(_visible, out.replace("\r", "\n"))
    if one_line:
        out = _SPACE_RUN.sub(" ", out).strip()
    return out


QUOTE_LENGTH = 300  # a line quoted from pasted text: a huge input is never echoed back


def quote(text: str | None, limit: int = QUOTE_LENGTH) -> str:
    """A pasted line as evidence: cleaned, on one line, at most ``limit`` characters (cut with
    an ellipsis)."""
    flat = clean(text, one_line=True)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with ``Z`` and milliseconds: one fixed width for every time we print."""
    if value is None:
        return None
    v = value if value.tzinfo is UTC else value.astimezone(UTC)  # most are UTC already
    # Exactly what isoformat(timespec="milliseconds") writes, with "Z" for "+00:00"; a report
    # prints tens of thousands of times, and %-formatting is the fastest way to write one.
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031
        v.year,
        v.month,
        v.day,
        v.hour,
        v.minute,
        v.second,
        v.microsecond // 1000,
    )


def short_time(value: datetime | None) -> str:
    """``2013-10-08 08:06:15Z``: for tables, where milliseconds are noise."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def clock(value: datetime | None) -> str:
    """``08:06:25.800``: for evidence lines, which sit under a dated header."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%H:%M:%S.%f")[:-3]


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 60:
        minutes, rest = divmod(value, 60)
        return f"{int(minutes)}m{rest:04.1f}s"
    return f"{value:.1f}s"


def confidence(value: float) -> str:
    return f"{round(value * 100):d}%"


class Status(StrEnum):
    """What a reader of a report cares about, ordered worst first."""

    FAILED = "failed"
    SLOW = "slow"
    UNKNOWN = "unknown"
    IN_PROGRESS = "in-progress"
    OK = "ok"


# (provider, id) of VMMS saying the blackout was unexpectedly long; never an id alone.
LONG_BLACKOUT_EVENT = ("microsoft-windows-hyper-v-vmms", 20417)


def status_of(result: MigrationResult) -> Status:
    m = result.migration
    if m.outcome is Outcome.FAILED:
        return Status.FAILED
    if m.outcome is Outcome.SUCCEEDED:
        long_blackout = m.blackout_s is not None and m.blackout_s >= SLOW_BLACKOUT_S
        flagged = any((e.provider.lower(), e.event_id) == LONG_BLACKOUT_EVENT for e in m.events)
        # A finding on a successful attempt means a signature saw something worth a look.
        if long_blackout or flagged or result.diagnosis is not None:
            return Status.SLOW
        return Status.OK
    if m.outcome is Outcome.IN_PROGRESS:
        return Status.IN_PROGRESS
    return Status.UNKNOWN


def unknown_cause(result: MigrationResult, status: Status | None = None) -> bool:
    """A failed attempt whose cause is unknown: no finding, or only the ``unknown`` one.
    ``status``: the result's ``status_of``, when the caller has it already."""
    d = result.diagnosis
    status = status_of(result) if status is None else status
    return status is Status.FAILED and (d is None or d.cause == "unknown")


def corrected_clock(logged: datetime, corrected: datetime) -> str | None:
    """The corrected time of an event (``08:06:28.300``) when skew correction moved it by a
    millisecond or more; ``None`` when it is the time the host logged."""
    if abs((corrected - logged).total_seconds()) < 0.001:
        return None
    return clock(corrected)


def needs_detail(result: MigrationResult) -> bool:
    """Failed and slow attempts (and any with a finding) get a section of their own."""
    return status_of(result) in (Status.FAILED, Status.SLOW) or result.diagnosis is not None


def cause_label(result: MigrationResult) -> str:
    finding: Finding | None = result.diagnosis
    if finding is not None:
        return clean(finding.title, one_line=True)
    if status_of(result) is Status.FAILED:
        return "unknown cause"
    return "-"


def route(result: MigrationResult) -> str:
    m = result.migration
    return f"{clean(m.source or '?', one_line=True)} → {clean(m.destination or '?', one_line=True)}"


def vm_label(result: MigrationResult) -> str:
    m = result.migration
    return clean(m.vm_name or m.vm_id or "(unknown VM)", one_line=True)


def decoded_name(result: MigrationResult, code: str) -> str | None:
    for known, name, _text in result.decoded:
        if known == code:
            return name
    return None


def input_warnings(reports: Sequence[InputReport]) -> list[str]:
    """Per-file problems in one flat, ordered list (skipped files first, then the rest)."""
    lines: list[str] = []
    for r in reports:
        if r.skipped:
            lines.append(f"skipped {clean(r.path, one_line=True)}: {clean(r.error, one_line=True)}")
        elif r.incomplete:
            lines.append(f"{clean(r.path, one_line=True)}: {clean(r.incomplete, one_line=True)}")
    ignored = [r for r in reports if r.format == "ignored"]
    if ignored:
        # Files inside folders that are not logs (READMEs, screenshots): one line, not many.
        names = ", ".join(clean(r.path, one_line=True) for r in ignored[:5])
        more = f" and {len(ignored) - 5} more" if len(ignored) > 5 else ""
        lines.append(f"ignored {len(ignored)} file(s) that are not logs: {names}{more}")
    for r in reports:
        if r.dirty:
            lines.append(f"dirty (not cleanly closed): {clean(r.path, one_line=True)}")
        if r.format == "ignored":
            continue
        for w in r.warnings:
            lines.append(f"{clean(r.path, one_line=True)}: {clean(w, one_line=True)}")
    return lines
