"""Local dates in text and CSV exports -> UTC, with the offset and date order the user gives.

Event Viewer's text and CSV exports print ``Date`` in the local time and culture of the
machine that rendered them (reference 9.7): ``10/8/2013 10:06:15 AM`` (en-US),
``20.07.2010 00:00:01`` (de-DE), ``2016-12-22T05:29:02.512`` (wevtutil, no zone).  Nothing in
the text says which zone or which date order, so the caller supplies a ``TimeOptions`` and
every event converted this way is marked ``time_assumed``.  XML ``SystemTime`` is UTC and
never comes through here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from migdiag.model import short_host


@dataclass(frozen=True, slots=True)
class TimeOptions:
    """How to turn a local ``Date`` into UTC.

    ``host_offsets`` pairs a host (short name or FQDN, any case) with its UTC offset (local
    = UTC + offset, so CEST is ``timedelta(hours=2)``); ``default_offset`` serves every other
    host.  ``day_first``: True for day-first cultures (de-DE ``20.07.2010``), False for
    month-first (en-US ``10/8/2013``), None to infer it from the file."""

    default_offset: timedelta = timedelta(0)
    host_offsets: tuple[tuple[str, timedelta], ...] = ()
    day_first: bool | None = None

    def offset_for(self, host: str) -> timedelta:
        if host.strip():
            wanted = short_host(host)
            for name, offset in self.host_offsets:
                if short_host(name) == wanted:
                    return offset
        return self.default_offset


DEFAULT_OPTIONS = TimeOptions()

# Event Viewer wraps date parts in bidi marks in some cultures, and ICU-era Windows puts a
# narrow no-break space before AM/PM: neither is part of the value.
_INVISIBLE = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e"), None)
_SPACES = re.compile(r"[\s\u00a0\u202f\u2007]+")
_AM = ("am", "a.m.", "a. m.", "vorm.", "午前", "上午", "오전")
_PM = ("pm", "p.m.", "p. m.", "nachm.", "午後", "下午", "오후")
_MERIDIEM = re.compile(
    r"(?<![A-Za-z])(a\.\s?m\.|p\.\s?m\.|am|pm|vorm\.|nachm\.|午前|午後|上午|下午|오전|오후)(?![A-Za-z])",
    re.IGNORECASE,
)
_TIME = r"(\d{1,2})[:.](\d{2})(?:[:.](\d{2})(?:[.,](\d{1,9}))?)?"
_ZONE = r"\s*(Z|[+-]\d{2}:?\d{2})?"
_YEAR_FIRST = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\.?[T ,]+" + _TIME + _ZONE + "$")
_DAY_OR_MONTH_FIRST = re.compile(
    r"^(\d{1,2})([/.\-])(\d{1,2})[/.\-](\d{4}|\d{2})\.?[ ,T]+" + _TIME + _ZONE + "$"
)


def clean(text: str) -> str:
    return _SPACES.sub(" ", text.translate(_INVISIBLE)).strip()


@dataclass(frozen=True, slots=True)
class LocalDate:
    """A parsed date as written: ``zone`` is set only when the text carried one."""

    value: datetime  # naive wall-clock time unless ``zone`` is set
    zone: timedelta | None
    ambiguous: bool  # day and month could be swapped (both <= 12) and order was assumed


def _meridiem(text: str) -> tuple[str, bool | None]:
    m = _MERIDIEM.search(text)
    if not m:
        return text, None
    token = m.group(1).lower().replace(" ", "")
    rest = (text[: m.start()] + " " + text[m.end() :]).strip()
    return clean(rest), token in {t.replace(" ", "") for t in _PM}


def _hour(hour: int, pm: bool | None) -> int:
    if pm is None:
        return hour
    if hour > 12:  # "13:00 PM" happens in hand-edited text: the 24 h reading is the only one
        return hour
    return (hour % 12) + (12 if pm else 0)


def _zone(text: str | None) -> timedelta | None:
    if not text:
        return None
    if text == "Z":
        return timedelta(0)
    sign = 1 if text[0] == "+" else -1
    digits = text[1:].replace(":", "")
    return sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))


def _micro(fraction: str | None) -> int:
    # Truncate like xmlevent.parse_system_time, so both paths agree to the microsecond.
    return int((fraction or "").ljust(6, "0")[:6])


def default_day_first(text: str) -> bool:
    """The culture-convention guess when a file does not settle the order: dots and dashes
    (de-DE, nl-NL, ru-RU) and slashes without AM/PM (en-GB, fr-FR) are day-first; slashes
    with AM/PM are en-US, month-first."""
    body, pm = _meridiem(clean(text))
    m = _DAY_OR_MONTH_FIRST.match(body)
    if not m:
        return False
    return not (m.group(2) == "/" and pm is not None)


def parse_local(text: str, day_first: bool | None = None) -> LocalDate:
    """Parse a rendered date; ``day_first=None`` uses ``default_day_first``.
    Raise ``ValueError`` for text that is not a date in a known shape."""
    body, pm = _meridiem(clean(text))
    m = _YEAR_FIRST.match(body)
    if m:
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
        hour, minute = int(m.group(4)), int(m.group(5))
        second, fraction, zone = m.group(6), m.group(7), m.group(8)
        ambiguous = False
    else:
        m = _DAY_OR_MONTH_FIRST.match(body)
        if not m:
            raise ValueError(f"not a date in a known format: {text.strip()[:40]!r}")
        first, second_part = int(m.group(1)), int(m.group(3))
        year = int(m.group(4))
        if year < 100:
            year += 2000
        if first > 12:
            order = True
        elif second_part > 12:
            order = False
        else:
            order = default_day_first(text) if day_first is None else day_first
        day, month = (first, second_part) if order else (second_part, first)
        hour, minute = int(m.group(5)), int(m.group(6))
        second, fraction, zone = m.group(7), m.group(8), m.group(9)
        ambiguous = first <= 12 and second_part <= 12 and first != second_part
    value = datetime(year, month, day, _hour(hour, pm), minute, int(second or 0), _micro(fraction))
    return LocalDate(value=value, zone=_zone(zone), ambiguous=ambiguous)


def infer_day_first(samples: Iterable[str]) -> bool | None:
    """Settle the date order from a file's own dates: any day above 12 decides it.
    None when every sample is ambiguous (or the samples disagree, which means mixed input)."""
    votes: set[bool] = set()
    for text in samples:
        body, _ = _meridiem(clean(text))
        m = _DAY_OR_MONTH_FIRST.match(body)
        if not m:
            continue
        first, second = int(m.group(1)), int(m.group(3))
        if first > 12 and second <= 12:
            votes.add(True)
        elif second > 12 and first <= 12:
            votes.add(False)
        if len(votes) > 1:
            return None
    return next(iter(votes)) if votes else None


def resolve_day_first(options: TimeOptions, samples: Iterable[str]) -> bool | None:
    """The order to use for a file: the user's choice, else what the file proves, else None
    (meaning: each date falls back to ``default_day_first``)."""
    if options.day_first is not None:
        return options.day_first
    return infer_day_first(samples)


def to_utc(
    text: str, host: str, options: TimeOptions, day_first: bool | None
) -> tuple[datetime, bool]:
    """A rendered date -> (UTC time, assumed).  ``assumed`` is False only when the text
    itself carried a zone (wevtutil's ``...Z`` form); otherwise the host's offset from
    ``options`` was applied and the report must say times were assumed."""
    local = parse_local(text, day_first)
    try:
        if local.zone is not None:
            return (local.value - local.zone).replace(tzinfo=UTC), False
        offset = options.offset_for(host)
        return (local.value - offset).replace(tzinfo=UTC), True
    except OverflowError:
        # Year 1 or 9999 moved across midnight: a damaged or crafted date, one bad record.
        raise ValueError(f"date out of range after the UTC offset: {text[:40]!r}") from None


__all__ = [
    "DEFAULT_OPTIONS",
    "LocalDate",
    "TimeOptions",
    "clean",
    "default_day_first",
    "infer_day_first",
    "parse_local",
    "resolve_day_first",
    "to_utc",
]
