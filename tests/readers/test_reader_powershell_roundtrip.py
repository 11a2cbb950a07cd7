"""Property: an event printed by PowerShell and read back is the same event.

Lists undo PowerShell's word wrap by its own rule, which cannot tell a line break the
message had from one the wrap made when the next word would not have fitted: so a list's
message comes back equal up to whitespace.  JSON and CLIXML carry the text itself: exact,
but for the whitespace around it.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from powershell_render import Sender, convert_to_json, export_clixml, format_list, redirected
from reader_support import read_bytes

from migdiag.model import Event, Origin
from migdiag.readers.localtime import TimeOptions

_WORD = st.text(string.ascii_letters + string.digits + "éüß'\"<>&;,:(){}._-\\", max_size=40)
_LINE = st.lists(_WORD, max_size=30).map(" ".join)
_MESSAGE = st.lists(_LINE, min_size=1, max_size=4).map("\n".join).filter(lambda m: m.strip())
_HOST = st.from_regex(r"[A-Z][A-Z0-9-]{0,10}\d(\.[a-z]{2,8}){0,2}", fullmatch=True)
_SENDER = st.builds(
    Sender,
    st.sampled_from(["5.1", "7"]),
    st.sampled_from(["en-US", "de-DE", "ja-JP"]),
    st.sampled_from([80, 120, 200]),
)


@st.composite
def events(draw: st.DrawFn) -> Event:
    return Event(
        time=draw(
            st.datetimes(datetime(2005, 1, 2), datetime(2035, 12, 30), timezones=st.just(UTC))
        ),
        host=draw(_HOST),
        channel="Microsoft-Windows-Hyper-V-VMMS-Admin",
        provider="Microsoft-Windows-Hyper-V-VMMS",
        event_id=draw(st.integers(1, 65535)),
        level=draw(st.integers(1, 5)),
        record_id=draw(st.integers(1, 10**9)),
        fields=tuple(("", v) for v in draw(st.lists(_LINE, max_size=4))),
        message=draw(_MESSAGE),
        origin=Origin(path="generated", format="synth"),
    )


def _words(text: str | None) -> list[str]:
    return (text or "").split()


@settings(max_examples=60, deadline=None)
@given(st.lists(events(), min_size=1, max_size=4), _SENDER)
def test_format_list_star_reads_back_the_same_events(batch: list[Event], sender: Sender) -> None:
    read = read_bytes("x.txt", redirected(format_list(batch, sender, star=True), sender))
    assert len(read.events) == len(batch)
    for got, want in zip(read.events, batch, strict=True):
        assert (got.host, got.event_id, got.record_id, got.level) == (
            want.host,
            want.event_id,
            want.record_id,
            want.level,
        )
        assert got.time == want.time.replace(microsecond=0)
        assert _words(got.message) == _words(want.message)


@settings(max_examples=60, deadline=None)
@given(st.lists(events(), min_size=1, max_size=4), st.integers(-12, 14))
def test_json_and_clixml_read_back_exactly(batch: list[Event], hours: int) -> None:
    offsets = tuple((e.host.split(".")[0].upper(), timedelta(hours=hours)) for e in batch)
    for version in ("5.1", "7"):
        sender = Sender(version, offsets=offsets)
        for data in (convert_to_json(batch, sender), export_clixml(batch, sender)):
            read = read_bytes("x", data.encode(), TimeOptions())
            assert len(read.events) == len(batch)
            for got, want in zip(read.events, batch, strict=True):
                exact = want.time.replace(microsecond=want.time.microsecond // 1000 * 1000)
                assert got.time == (exact if "/Date(" in data else want.time)
                # Whitespace around a message (Windows ends many with a line break) is not kept.
                assert (got.message or "").replace("\r\n", "\n") == (want.message or "").strip()
                assert got.fields == want.fields
                assert not got.time_assumed
