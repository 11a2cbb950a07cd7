"""Duplicates across inputs: one record given twice (a file twice, an EVTX and its export)
counts once, and ``dedup_inputs`` (which skips inputs that cannot hold a copy) decides
exactly as ``dedup`` over every event does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import chain

from hypothesis import given, settings
from hypothesis import strategies as st

from migdiag.api import dedup, dedup_inputs
from migdiag.model import Event, Origin

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


def _event(
    host: str, channel: str, event_id: int, ms: int, value: str | None, record: int | None
) -> Event:
    return Event(
        time=T0 + timedelta(milliseconds=ms),
        host=host,
        channel=channel,
        provider="Microsoft-Windows-Hyper-V-VMMS",
        event_id=event_id,
        level=2,
        record_id=record,
        fields=() if value is None else (("Parameter0", value),),
        message=None,
        origin=Origin(path="x.evtx", format="evtx", record=record),
    )


# Few hosts, channels (in two cases), ids, seconds, values and record numbers, so that
# generated inputs share streams and records as often as they do not.
EVENTS = st.builds(
    _event,
    host=st.sampled_from(["HV01", "hv01.corp.example", "HV02"]),
    channel=st.sampled_from(["Microsoft-Windows-Hyper-V-VMMS-Admin", "System", "SYSTEM"]),
    event_id=st.sampled_from([20413, 21502]),
    ms=st.integers(min_value=0, max_value=2500),
    value=st.sampled_from([None, "a", " a ", "b"]),
    # Mostly numbered, as EVTX records are: an input is then often one dedup may skip.
    record=st.sampled_from([None, *range(1, 10)]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(EVENTS, max_size=8), max_size=5))
def test_dedup_inputs_decides_as_dedup_over_every_event(inputs: list[list[Event]]) -> None:
    expected = dedup(list(chain.from_iterable(inputs)))
    got = dedup_inputs(inputs)
    assert [id(e) for e in got] == [id(e) for e in expected]


def test_an_input_given_twice_counts_once() -> None:
    first = [_event("HV01", "System", 21502, ms, "a", ms + 1) for ms in (0, 1000, 2000)]
    copy = [_event("HV01", "System", 21502, ms, "a", ms + 1) for ms in (0, 1000, 2000)]
    other = [_event("HV02", "System", 21502, 0, "a", 1)]  # another host: kept whatever
    assert dedup_inputs([first, copy, other]) == [*first, *other]


def test_a_copy_without_payload_yields_to_the_one_with_it() -> None:
    # A text export's copy (no payload, no record number) of an EVTX's record, in one input.
    evtx = _event("HV01", "System", 21502, 0, "a", 7)
    pasted = _event("HV01", "SYSTEM", 21502, 400, None, None)
    assert dedup_inputs([[pasted, evtx]]) == [evtx]
    # Records alike but for their record numbers are two records (a drain's VMs failing in
    # one second log identical events).
    twin = _event("HV01", "System", 21502, 0, "a", 8)
    assert dedup_inputs([[evtx], [twin]]) == [evtx, twin]
    # A numbered record without payload, in the second of one with it: dropped as a copy,
    # even with both in one input.
    bare = _event("HV01", "System", 21502, 300, None, 9)
    assert dedup_inputs([[evtx, bare]]) == [evtx]
