"""Event Viewer "Copy details as text" blocks (reference 9.3; fixtures in data/README.md)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from reader_support import DATA, read_bytes, read_file

from migdiag.errors import InputError
from migdiag.readers import InputSource, ReadStats, keep_all
from migdiag.readers import text as text_reader
from migdiag.readers.localtime import TimeOptions

# The seed's host is in Belgium; October 2013 is summer time there (UTC+2).
SEED_OPTIONS = TimeOptions(host_offsets=(("SRV1", timedelta(hours=2)),))


def test_seed_blocks_read_as_they_are() -> None:
    result = read_file("seed_vmms_copy_as_text.txt", SEED_OPTIONS)
    assert result.format == "text"
    events = result.events
    assert [e.event_id for e in events] == [20413, 22038, 21018, 22040, 21024]
    assert [e.time for e in events] == [
        datetime(2013, 10, 8, 8, 6, 15, tzinfo=UTC),
        *[datetime(2013, 10, 8, 8, 6, 26, tzinfo=UTC)] * 4,
    ]
    assert {e.host.upper() for e in events} == {"SRV1.BLOG.COM"}
    assert {e.short_host for e in events} == {"SRV1"}
    assert {e.channel for e in events} == {"Microsoft-Windows-Hyper-V-VMMS-Admin"}
    assert {e.provider for e in events} == {"Microsoft-Windows-Hyper-V-VMMS"}
    assert [e.level for e in events] == [4, 2, 2, 2, 2]
    assert [e.error_codes for e in events] == [
        (),
        ("0x80072746",),
        ("0x80072746",),
        ("0x80072746",),
        (),
    ]
    assert all(e.time_assumed for e in events)
    assert all(e.message_from_input for e in events)
    assert all(e.fields == () for e in events)
    first = events[0]
    assert first.vm_name == "DidierTest01"
    assert first.vm_id == "41EF2DB-0C0A-12FE-25CB-C3330D937F27"
    assert first.peer_host == "SRV2"
    # The paste's no-break spaces are layout, not message text.
    assert first.message is not None and "\u00a0" not in first.message
    assert [(e.origin.format, e.origin.record) for e in events] == [
        ("text", n) for n in range(1, 6)
    ]
    assert events[4].origin.offset == 49  # the line of its "Log Name:"
    assert not result.stats.warnings


def test_event_xml_section_wins_over_the_header() -> None:
    # The reference's verbatim 20415 (S4): local "4:57:53 AM" is UTC-6; the XML is exact.
    result = read_file("copy_as_text_20415_en.txt", SEED_OPTIONS)
    (event,) = result.events
    assert event.time == datetime(2017, 11, 21, 10, 57, 53, 874847, tzinfo=UTC)
    assert not event.time_assumed
    assert event.record_id == 52262
    assert event.host == "773330-hyp1.MPC1495823.local"
    assert event.fields == (
        ("Parameter0", "773356-USTSTDB5"),
        ("Parameter1", "E0D09432-A320-44CC-8A12-E1300549B99D"),
        ("Parameter2", "0.5"),
    )
    assert event.vm_name == "773356-USTSTDB5"
    assert event.vm_id == "E0D09432-A320-44CC-8A12-E1300549B99D"
    assert event.message is not None
    assert "virtual machine  '773356-USTSTDB5'" in event.message  # the double space kept
    assert "Event Xml" not in event.message and "<Event" not in event.message
    assert event.message_from_input


def test_german_labels_and_day_first_date() -> None:
    options = TimeOptions(default_offset=timedelta(hours=2))
    (event,) = read_file("copy_as_text_21024_de.txt", options).events
    assert event.event_id == 21024
    assert event.time == datetime(2010, 7, 19, 22, 0, 1, tzinfo=UTC)
    assert event.level == 2  # "Fehler"
    assert event.host == "HV-NODE02.corp.example"
    assert event.channel == "Microsoft-Windows-Hyper-V-VMMS-Admin"
    assert event.vm_name == "SQL-01"
    assert event.time_assumed


def test_unknown_culture_is_read_by_position() -> None:
    (event,) = read_file("copy_as_text_fr_unknown_labels.txt").events
    assert event.event_id == 22038
    assert event.channel == "Microsoft-Windows-Hyper-V-VMMS-Admin"
    assert event.provider == "Microsoft-Windows-Hyper-V-VMMS"
    assert event.host == "SRV1.BLOG.COM"
    # "08/10/2013" without AM/PM: the day-first convention of fr-FR/en-GB.
    assert event.time == datetime(2013, 10, 8, 10, 6, 26, tzinfo=UTC)
    assert event.error_codes == ("0x80072746",)


def test_multi_line_description_keeps_its_blank_lines() -> None:
    (event,) = read_file("copy_as_text_21502_en.txt").events
    assert event.event_id == 21502
    assert event.message is not None
    assert event.message.count("\n\n") == 2
    assert event.message.endswith("(0x80072746).")
    assert event.error_codes == ("0x80072746",)
    assert event.vm_name == "SQL-01"


def test_date_order_is_settled_by_the_file() -> None:
    block = (
        "Log Name:      System\nSource:        Microsoft-Windows-FailoverClustering\n"
        "Date:          {date}\nEvent ID:      1069\nTask Category: Resource Control Manager\n"
        "Level:         Error\nKeywords:      \nUser:          SYSTEM\n"
        "Computer:      HV-NODE01.corp.example\nDescription:\nCluster resource failed.\n"
    )
    text = block.format(date="03/04/2024 10:00:00") + block.format(date="25/04/2024 10:00:00")
    events = read_bytes("two.txt", text.encode()).events
    # The second date can only be day-first, so the first is 3 April, not 4 March.
    assert [e.time.date().isoformat() for e in events] == ["2024-04-03", "2024-04-25"]
    hinted = read_bytes(
        "one.txt", block.format(date="03/04/2024 10:00:00").encode(), TimeOptions(day_first=False)
    )
    assert hinted.events[0].time.month == 3


def read_seed() -> str:
    return (DATA / "seed_vmms_copy_as_text.txt").read_text(encoding="utf-8")


def test_utf16_with_bom_and_crlf() -> None:
    data = read_seed().replace("\n", "\r\n").encode("utf-16")
    events = read_bytes("seed-utf16.txt", data, SEED_OPTIONS).events
    assert [e.event_id for e in events] == [20413, 22038, 21018, 22040, 21024]


def test_damaged_block_is_a_warning_and_the_rest_is_read() -> None:
    text = re.sub(r"Event ID:\s+22038", "Event ID: ??", read_seed())
    assert "Event ID: ??" in text
    source = InputSource(name="pasted.txt", data=text.encode())
    stats = ReadStats()
    events = list(text_reader.make_reader(SEED_OPTIONS)(source, stats, keep_all))
    assert [e.event_id for e in events] == [20413, 21018, 22040, 21024]
    assert stats.dropped == 1
    (warning,) = stats.warnings
    assert warning.startswith("pasted.txt block 2 (line 14):")
    assert "\n" not in warning


def test_broken_event_xml_falls_back_to_the_header() -> None:
    text = (DATA / "copy_as_text_20415_en.txt").read_text(encoding="utf-8")
    text = text.replace("</EventID>", "</EventIdent>")
    source = InputSource(name="broken.txt", data=text.encode())
    stats = ReadStats()
    (event,) = list(text_reader.read(source, stats, keep_all))
    assert event.event_id == 20415
    assert event.time_assumed  # the header's local date, UTC by default
    assert event.time == datetime(2017, 11, 21, 4, 57, 53, tzinfo=UTC)
    assert "Event Xml unreadable" in stats.warnings[0]


def test_long_german_label_touching_its_value() -> None:
    line = text_reader.label_line("Aufgabenkategorie:Keine")
    assert line is not None and line.key == "task" and line.value == "Keine"
    assert text_reader.label_line("http://social.technet.microsoft.com/Forums") is None


def test_text_without_blocks_is_an_input_error() -> None:
    source = InputSource(name="notes.txt", data=b"Some notes about the outage.\n")
    with pytest.raises(InputError, match=r"^notes\.txt: no Event Viewer copy-as-text block"):
        list(text_reader.read(source, ReadStats(), keep_all))


# Issue #13: a paste mixing blocks with and without Event Xml.  The 20415 block's header says
# 4:57:53 AM and its XML 10:57:53.87Z: the host runs at UTC-06:00.
HEADER_ONLY_20413 = """Log Name:      Microsoft-Windows-Hyper-V-VMMS-Admin
Source:        Microsoft-Windows-Hyper-V-VMMS
Date:          11/21/2017 4:57:40 AM
Event ID:      20413
Task Category: None
Level:         Information
Keywords:
User:          SYSTEM
Computer:      773330-hyp1.MPC1495823.local
Description:
The Virtual Machine Management Service initiated the live migration of virtual machine \
'773356-USTSTDB5' to destination host '773330-HYP2' (VMID E0D09432-A320-44CC-8A12-E1300549B99D).
"""


def test_blocks_without_event_xml_take_the_offset_the_files_other_blocks_show() -> None:
    with_xml = (DATA / "copy_as_text_20415_en.txt").read_text(encoding="utf-8")
    result = read_bytes("mixed.txt", (HEADER_ONLY_20413 + "\n" + with_xml).encode())
    start, done = result.events
    assert (start.event_id, done.event_id) == (20413, 20415)
    assert start.time == datetime(2017, 11, 21, 10, 57, 40, tzinfo=UTC)
    assert not start.time_assumed  # inferred from the file, not assumed
    assert done.time - start.time < timedelta(seconds=15)  # one migration, not six hours apart
    assert any(
        "converted with UTC-06:00, the offset this file's blocks of 773330-HYP1" in w
        for w in result.stats.warnings
    )


def test_without_any_event_xml_of_the_host_the_offset_is_the_users_and_said_so() -> None:
    with_xml = (DATA / "copy_as_text_20415_en.txt").read_text(encoding="utf-8")
    other_host = HEADER_ONLY_20413.replace("773330-hyp1.", "773330-hyp9.")
    result = read_bytes("mixed.txt", (other_host + "\n" + with_xml).encode())
    start = result.events[0]
    assert start.time == datetime(2017, 11, 21, 4, 57, 40, tzinfo=UTC)
    assert start.time_assumed
    assert any(
        "no block of that host carries SystemTime" in w and "--utc-offset" in w
        for w in result.stats.warnings
    )


def test_event_xml_execution_ids_are_kept() -> None:
    # Issue #13: a Worker event shares its process with the VM's other Worker events.
    (event,) = read_file("copy_as_text_20415_en.txt").events
    assert (event.process_id, event.thread_id) == (4900, 11504)
