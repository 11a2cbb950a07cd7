"""How reports write times: ISO 8601 in UTC, milliseconds, ``Z``: one fixed width."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from migdiag.report.text import iso

OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(
    st.datetimes(
        min_value=datetime(2, 1, 1),
        max_value=datetime(9998, 12, 31),
        timezones=st.just(UTC) | OFFSETS,
    )
)
def test_times_are_utc_with_milliseconds_cut_not_rounded(value: datetime) -> None:
    utc = value.astimezone(UTC)
    expected = "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031 - the layout spelled out
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
        utc.microsecond // 1000,
    )
    assert iso(value) == expected
    assert len(expected) == 24


def test_no_time_is_none() -> None:
    assert iso(None) is None
