"""A host's offset from its records seen in local time and in UTC (readers/offset_inference)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from common import populated_event
from migdiag.model import Event, Origin
from migdiag.readers.localtime import TimeOptions
from migdiag.readers.offset_inference import infer_offsets

T = datetime(2024, 12, 7, 9, 30, 0, 250000, tzinfo=UTC)


def _exact(time: datetime, message: str = "Migration failed.") -> Event:
    return populated_event(time=time, message=message, time_assumed=False, record_id=None)


def _local(time: datetime, message: str = "Migration failed.") -> Event:
    return populated_event(
        time=time,
        message=message,
        time_assumed=True,
        record_id=None,
        fields=(),
        origin=Origin(path="HV01.txt", format="powershell-list"),
    )


def test_matching_records_give_the_offset_and_the_report_says_so() -> None:
    local = _local(T.replace(microsecond=0) + timedelta(hours=1))  # read as UTC, was UTC+1
    events, notes = infer_offsets([_exact(T), local], TimeOptions())
    assert events[1].time == T.replace(microsecond=0)
    assert notes == {
        "HV01.txt": [
            "HV01.txt: local times of HV01 read as UTC+01:00 instead: the offset inferred "
            "from 1 record(s) that HV01's UTC inputs (EVTX, XML, JSON) also hold"
        ]
    }


def test_records_that_differ_infer_nothing() -> None:
    before = [_exact(T), _local(T + timedelta(hours=1), message="Something else.")]
    events, notes = infer_offsets(before, TimeOptions())
    assert events == before and notes == {}


def test_a_tie_between_two_offsets_is_reported_not_guessed() -> None:
    local = _local(T.replace(microsecond=0))
    before = [_exact(T + timedelta(hours=2)), _exact(T + timedelta(hours=3)), local]
    events, notes = infer_offsets(before, TimeOptions())
    assert events == before
    assert "more than one UTC offset" in notes["HV01.txt"][0]


def test_a_per_host_offset_is_the_users_word() -> None:
    before = [_exact(T), _local(T + timedelta(hours=1))]
    given = TimeOptions(host_offsets=(("hv01.fleet.example", timedelta(hours=5)),))
    events, notes = infer_offsets(before, given)
    assert events == before and notes == {}


def test_a_time_off_the_quarter_hour_grid_is_no_offset() -> None:
    before = [_exact(T), _local(T + timedelta(minutes=7))]
    events, notes = infer_offsets(before, TimeOptions())
    assert events == before and notes == {}
