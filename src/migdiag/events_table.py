"""``migdiag events``: the normalised events as a table, CSV or JSONL (Timesketch-ready).

pandas holds the table: filtering by id, host and time is a whole-table operation.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from migdiag.model import Event

COLUMNS = (
    "datetime",
    "host",
    "channel",
    "provider",
    "event_id",
    "level",
    "record_id",
    "vm_name",
    "vm_id",
    "peer_host",
    "error_codes",
    "message",
    "input",
)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection):
# OWASP's list, plus the full-width forms East Asian Excel builds also accept.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


_UNSAFE_JSON = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True, slots=True)
class EventFilter:
    ids: tuple[int, ...] = ()
    hosts: tuple[str, ...] = ()  # short names or FQDNs, any case
    since: datetime | None = None
    until: datetime | None = None


def to_frame(events: Sequence[Event]) -> pd.DataFrame:
    rows = [
        {
            "datetime": e.time,
            "host": e.short_host,
            "channel": e.channel,
            "provider": e.provider,
            "event_id": e.event_id,
            "level": e.level_name,
            "record_id": e.record_id,
            "vm_name": e.vm_name or "",
            "vm_id": e.vm_id or "",
            "peer_host": e.peer_host or "",
            "error_codes": " ".join(e.error_codes),
            "message": e.message or "",
            "input": e.origin.describe(),
        }
        for e in events
    ]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    if not frame.empty:
        frame = frame.sort_values(["datetime", "host", "channel", "record_id"], kind="stable")
    return frame.reset_index(drop=True)


def apply_filter(frame: pd.DataFrame, flt: EventFilter) -> pd.DataFrame:
    mask = pd.Series(True, index=frame.index)
    if flt.ids:
        mask &= frame["event_id"].isin(flt.ids)
    if flt.hosts:
        wanted = {h.split(".")[0].upper() for h in flt.hosts}
        mask &= frame["host"].isin(wanted)
    if flt.since is not None:
        mask &= frame["datetime"] >= flt.since
    if flt.until is not None:
        mask &= frame["datetime"] <= flt.until
    return frame[mask]


def _iso(value: object) -> str:
    if not isinstance(value, datetime):  # pandas Timestamps are datetimes
        return str(value)
    return value.isoformat().replace("+00:00", "Z")


def _safe_cell(value: object) -> object:
    if not isinstance(value, str):
        return value
    # The csv writer quotes a cell holding "\n" (our line terminator) but not a bare "\r",
    # which then splits the row for every reader: carriage returns become newlines.
    if value.startswith(_FORMULA_START):
        value = "'" + value
    return value.replace("\r\n", "\n").replace("\r", "\n")


def render_csv(frame: pd.DataFrame) -> str:
    out = frame.copy()
    out["datetime"] = out["datetime"].map(_iso)
    for column in out.columns:
        # Every column, whatever its dtype: pandas 3 stores text as the "str" dtype, not
        # object, and a test on dtype let every cell through unguarded.
        out[column] = out[column].map(_safe_cell)
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def render_jsonl(frame: pd.DataFrame) -> str:
    """One JSON object per line with Timesketch's required ``datetime``, ``timestamp_desc``
    and ``message`` fields."""
    lines = []
    for row in frame.to_dict(orient="records"):
        record = {key: row[key] for key in COLUMNS}
        record["datetime"] = _iso(row["datetime"])
        record["timestamp_desc"] = "Event Logged"
        record["record_id"] = None if pd.isna(row["record_id"]) else int(row["record_id"])
        line = json.dumps(record, ensure_ascii=False, sort_keys=True)
        # json escapes C0 controls only; DEL, C1 controls (0x9b is a one-byte CSI) and bidi
        # overrides would reach a terminal raw.  They only occur inside strings: escape them.
        lines.append(_UNSAFE_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", line))
    return "\n".join(lines) + ("\n" if lines else "")


def _printable(value: object) -> str:
    # Log text bound for a terminal: controls, C1 and bidi overrides are not printable.
    return "".join(ch if ch.isprintable() else " " for ch in str(value).replace("\n", " "))


def _fixed_time(value: object) -> str:
    # Every row the same width: milliseconds always shown, UTC marked once per value.
    if not isinstance(value, datetime):
        return str(value)
    return f"{value:%Y-%m-%d %H:%M:%S}.{value.microsecond // 1000:03d}Z"


def _fit(text: str, width: int) -> str:
    """``text`` in ``width`` columns, an ellipsis where it was cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


TABLE_MIN_MESSAGE = 20  # a terminal narrower than the fixed columns still shows this much


def render_table(frame: pd.DataFrame, width: int | None = None, full: bool = True) -> str:
    """The events as aligned columns under a header row.  ``width``: the terminal's width
    (messages are cut to fit, with an ellipsis); ``full``: nothing is cut (a pipe or file)."""
    if frame.empty:
        return "no events\n"
    hosts = [_printable(h) for h in frame["host"]]
    host_width = min(max(4, *(len(h) for h in hosts)), 15 if not full else 64)
    codes = [_printable(c) for c in frame["error_codes"]]
    code_width = max(5, *(len(c) for c in codes))
    fixed = 24 + 2 + host_width + 1 + 5 + 2 + code_width + 2
    message_width = None if full or width is None else max(width - fixed, TABLE_MIN_MESSAGE)
    header = (
        f"{'time (UTC)':<24}  {'host':<{host_width}} {'id':>5}  {'codes':<{code_width}}  message"
    )
    lines = [header]
    for row, host, code in zip(frame.itertuples(index=False), hosts, codes, strict=True):
        message = _printable(row.message)
        if message_width is not None:
            message = _fit(message, message_width)
        lines.append(
            f"{_fixed_time(row.datetime):<24}  {_fit(host, host_width):<{host_width}} "
            f"{row.event_id:>5}  {code:<{code_width}}  {message}".rstrip()
        )
    return "\n".join(lines) + "\n"
