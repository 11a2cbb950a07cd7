"""Local dates of text and CSV exports (reference 9.7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from migdiag.readers.localtime import (
    TimeOptions,
    infer_day_first,
    parse_local,
    to_utc,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("11/21/2017 4:57:53 AM", datetime(2017, 11, 21, 4, 57, 53)),  # copy-as-text en-US
        ("20.07.2010 00:00:01", datetime(2010, 7, 20, 0, 0, 1)),  # copy-as-text de-DE
        ("2016-12-22T05:29:02.512", datetime(2016, 12, 22, 5, 29, 2, 512000)),  # wevtutil
        ("10/7/2016 06:38:24 PM", datetime(2016, 10, 7, 18, 38, 24)),  # CSV en-US
        ("9/29/2026 10:01:02 AM", datetime(2026, 9, 29, 10, 1, 2)),  # CSV en-US
        ("5/11/2017 8:36:51 PM", datetime(2017, 5, 11, 20, 36, 51)),  # Get-WinEvent table
        ("07.06.2022 19.16.46", datetime(2022, 6, 7, 19, 16, 46)),  # fi-FI, dotted time
        ("12/1/2020 12:00:00 AM", datetime(2020, 12, 1, 0, 0, 0)),  # midnight
        ("12/1/2020 12:30:00 PM", datetime(2020, 12, 1, 12, 30, 0)),  # noon
        ("\u200e10/\u200e8/\u200e2013 10:06:15\u202fAM", datetime(2013, 10, 8, 10, 6, 15)),
        ("2013/10/8 下午 10:06:15", datetime(2013, 10, 8, 22, 6, 15)),  # zh-CN
    ],
)
def test_rendered_dates(text: str, expected: datetime) -> None:
    assert parse_local(text).value == expected


def test_zone_in_the_text_is_not_assumed() -> None:
    value, assumed = to_utc("2025-11-12T15:49:43.5630000Z", "X", TimeOptions(), None)
    assert value == datetime(2025, 11, 12, 15, 49, 43, 563000, tzinfo=UTC)
    assert not assumed


def test_host_offsets_match_short_names_and_fqdns() -> None:
    options = TimeOptions(
        default_offset=timedelta(hours=-5),
        host_offsets=(("srv1.blog.com", timedelta(hours=2)),),
    )
    assert options.offset_for("SRV1") == timedelta(hours=2)
    assert options.offset_for("SRV1.BLOG.COM") == timedelta(hours=2)
    assert options.offset_for("SRV2") == timedelta(hours=-5)
    assert options.offset_for("") == timedelta(hours=-5)
    value, assumed = to_utc("10/8/2013 10:06:15 AM", "srv1", options, None)
    assert value == datetime(2013, 10, 8, 8, 6, 15, tzinfo=UTC) and assumed


def test_date_order() -> None:
    assert parse_local("03/04/2024 10:00:00", day_first=False).value.month == 3
    assert parse_local("03/04/2024 10:00:00", day_first=True).value.month == 4
    assert parse_local("13/04/2024 10:00:00", day_first=False).value.month == 4  # only reading
    assert infer_day_first(["03/04/2024 1:00:00 AM", "4/13/2024 1:00:00 AM"]) is False
    assert infer_day_first(["03.04.2024 01:00:00", "13.04.2024 01:00:00"]) is True
    assert infer_day_first(["03/04/2024 01:00:00"]) is None
    assert infer_day_first(["13/04/2024 01:00:00", "04/13/2024 01:00:00"]) is None  # mixed


@pytest.mark.parametrize("text", ["", "yesterday", "2024-13-45T00:00:00", "1/2/3"])
def test_not_a_date(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a date|month must be|day is out"):
        parse_local(text)
