"""``wevtutil qe /f:text`` output (reference 9.2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from reader_support import read_bytes, read_file

from migdiag.errors import InputError
from migdiag.readers import InputSource, ReadStats, keep_all, wevtutil_text
from migdiag.readers.localtime import TimeOptions

OPTIONS = TimeOptions(
    default_offset=timedelta(hours=8),  # the GISEONG-PC sample's host
    host_offsets=(("HV-NODE01", timedelta(hours=1)),),
)


def test_blocks_and_both_date_forms() -> None:
    result = read_file("wevtutil_qe.txt", OPTIONS)
    assert result.format == "wevtutil-text"
    dcom, receive, start = result.events
    assert dcom.event_id == 10016 and dcom.level == 2
    assert dcom.channel == "System" and dcom.host == "GISEONG-PC"
    assert dcom.time == datetime(2017, 3, 2, 13, 21, 8, 135000, tzinfo=UTC)  # local, UTC+8
    assert dcom.time_assumed
    assert dcom.message is not None
    assert dcom.message.startswith("The application-specific permission settings")
    assert dcom.message.endswith("Component Services administrative tool.")  # blank line cut

    # "...Z": UTC as written, nothing assumed.
    assert receive.time == datetime(2025, 11, 12, 15, 49, 43, 563000, tzinfo=UTC)
    assert not receive.time_assumed
    assert receive.error_codes == ("0x80072746",)
    assert receive.channel == "Microsoft-Windows-Hyper-V-VMMS-Admin"

    assert start.event_id == 20413
    assert start.level == 4  # "信息": a localized level (zh-CN)
    assert start.time == datetime(2024, 3, 21, 10, 57, 37, 555000, tzinfo=UTC)  # host offset +1
    assert start.vm_name == "SQL-01" and start.peer_host == "HV-NODE02"
    assert [(e.origin.record, e.origin.offset) for e in result.events] == [
        (1, 1),
        (2, 18),
        (3, 32),
    ]


def test_localized_labels_are_taken_by_position() -> None:
    text = (
        "Event[0]:\n  Protokollname: System\n  Quelle: Microsoft-Windows-FailoverClustering\n"
        "  Datum: 2024-05-14T11:12:33.000\n  Ereignis-ID: 1069\n  Aufgabe: N/A\n"
        "  Ebene: Fehler\n  Opcode: Info\n  Schlüsselwort: N/A\n  Benutzer: S-1-5-18\n"
        "  Benutzername: NT-AUTORITÄT\\SYSTEM\n  Computer: HV-NODE01\n  Beschreibung: \n"
        "Cluster resource 'Virtual Machine SQL-01' of type 'Virtual Machine' failed.\n"
    )
    (event,) = read_bytes("de.txt", text.encode("utf-16")).events
    assert event.event_id == 1069 and event.level == 2
    assert event.provider == "Microsoft-Windows-FailoverClustering"
    assert event.host == "HV-NODE01"
    assert (
        event.message
        == "Cluster resource 'Virtual Machine SQL-01' of type 'Virtual Machine' failed."
    )


def test_damaged_block_is_a_warning() -> None:
    text = "Event[0]:\n  Log Name: System\n  Date: yesterday\n  Event ID: 1\n  Description:\nx\n"
    stats = ReadStats()
    events = list(
        wevtutil_text.read(InputSource(name="w.txt", data=text.encode()), stats, keep_all)
    )
    assert events == []
    assert stats.dropped == 1
    assert stats.warnings[0].startswith("w.txt Event[0] (line 1): unreadable (not a date")


def test_no_block_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"^w\.txt: no wevtutil 'Event\[N\]:' block found$"):
        list(wevtutil_text.read(InputSource(name="w.txt", data=b"hello\n"), ReadStats(), keep_all))
