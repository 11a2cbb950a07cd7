"""Event Viewer CSV exports (reference 9.5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reader_support import DATA, read_bytes, read_file

from migdiag.readers import InputSource, ReadStats, keep_all
from migdiag.readers import csv as csv_reader
from migdiag.readers.localtime import TimeOptions
from migdiag.readers.registry import sniff


def test_export_with_and_without_description_column() -> None:
    result = read_file("eventviewer_export.csv", TimeOptions(default_offset=timedelta(hours=2)))
    assert result.format == "csv"
    ids = [e.event_id for e in result.events]
    assert ids == [4658, 7036, 20413, 21502, 4656]
    audit, scm, start, failed, _ = result.events
    # "10/7/2016 06:38:24 PM" (VERIFIED row): month-first, zero-padded 12 h clock.
    assert audit.time == datetime(2016, 10, 7, 16, 38, 24, tzinfo=UTC)
    assert audit.time_assumed and audit.message is None
    assert scm.provider == "Service Control Manager"
    assert start.channel == "Microsoft-Windows-Hyper-V-VMMS-Admin"  # from the catalog
    assert start.vm_name == "SQL-01" and start.peer_host == "HV-NODE02"
    assert failed.level == 2
    assert failed.message is not None and failed.message.count("\n") == 4  # quoted, multi-line
    assert failed.error_codes == ("0x80072746",)
    assert failed.host == ""
    assert [(e.origin.record, e.origin.offset) for e in result.events] == [
        (1, 2),
        (2, 3),
        (3, 4),
        (4, 5),
        (5, 10),
    ]
    assert any("names no computer" in w for w in result.stats.warnings)


def test_utf16_with_bom() -> None:
    data = (DATA / "eventviewer_export.csv").read_bytes().decode("utf-8").encode("utf-16")
    assert sniff(data[:4096]) == "csv"
    result = read_bytes("utf16.csv", data)
    assert [e.event_id for e in result.events] == [4658, 7036, 20413, 21502, 4656]


def test_utf8_with_bom() -> None:
    data = b"\xef\xbb\xbf" + (DATA / "eventviewer_export.csv").read_bytes()
    assert len(read_bytes("bom.csv", data).events) == 5


def test_day_first_export_is_recognised_from_its_dates() -> None:
    data = (
        b"Level,Date and Time,Source,Event ID,Task Category\r\n"
        b"Error,03.04.2024 10:00:00,Microsoft-Windows-Hyper-V-VMMS,21024,None\r\n"
        b"Error,25.04.2024 10:00:00,Microsoft-Windows-Hyper-V-VMMS,21024,None\r\n"
    )
    events = read_bytes("de.csv", data).events
    assert [e.time.date().isoformat() for e in events] == ["2024-04-03", "2024-04-25"]


def test_german_header_and_short_provider_name() -> None:
    data = (
        "Ebene,Datum und Uhrzeit,Quelle,Ereignis-ID,Aufgabenkategorie\r\n"
        'Fehler,14.05.2024 11:12:32,Hyper-V-VMMS,21024,Keine,"Virtual machine migration '
        "operation for 'SQL-01' failed at migration source 'HV-NODE01'.\"\r\n"
    ).encode("utf-8-sig")
    assert sniff(data) == "csv"
    (event,) = read_bytes("de.csv", data).events
    assert event.provider == "Microsoft-Windows-Hyper-V-VMMS"
    assert event.level == 2 and event.vm_name == "SQL-01"


def test_damaged_row_is_a_warning() -> None:
    data = (
        b"Level,Date and Time,Source,Event ID,Task Category\n"
        b"Error,not a date,Microsoft-Windows-Hyper-V-VMMS,21024,None\n"
        b"Error,5/14/2024 11:12:32 AM,Microsoft-Windows-Hyper-V-VMMS\n"
        b"Error,5/14/2024 11:12:32 AM,Microsoft-Windows-Hyper-V-VMMS,21024,None\n"
    )
    stats = ReadStats()
    source = InputSource(name="d.csv", data=data)
    events = list(csv_reader.read(source, stats, keep_all))
    assert len(events) == 1
    assert stats.records == 3 and stats.dropped == 2
    assert stats.warnings[0].startswith("d.csv row 1 (line 2): not a date")
    assert stats.warnings[1] == "d.csv row 2 (line 3): 3 fields, expected 5 or 6"
