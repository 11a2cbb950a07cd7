"""Event Viewer "Save as XML" and ``wevtutil qe /f:xml`` (reference 9.2, 9.4)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from reader_support import BILLION_LAUGHS, DATA, read_bytes, read_file

from migdiag.errors import InputError
from migdiag.readers import InputSource, ReadStats, keep_all
from migdiag.readers import xml as xml_reader
from migdiag.readers.registry import sniff

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Event [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>
<Provider Name="Microsoft-Windows-Hyper-V-VMMS"/><EventID>20415</EventID>
<TimeCreated SystemTime="2017-11-21T10:57:53Z"/><Computer>&xxe;</Computer></System></Event>
"""


def test_event_viewer_export() -> None:
    result = read_file("eventviewer_export.xml")
    assert result.format == "xml"
    vmms, worker, dns = result.events
    assert vmms.event_id == 20415
    assert vmms.time == datetime(2017, 11, 21, 10, 57, 53, 874847, tzinfo=UTC)
    assert vmms.host == "773330-hyp1.MPC1495823.local"
    assert vmms.channel == "Microsoft-Windows-Hyper-V-VMMS-Admin"
    assert vmms.record_id == 52262
    assert vmms.vm_name == "773356-USTSTDB5"
    assert vmms.vm_id == "E0D09432-A320-44CC-8A12-E1300549B99D"
    assert vmms.message_from_input  # RenderingInfo/Message
    assert vmms.message is not None and "blackout time of 0.5 seconds" in vmms.message
    assert not vmms.time_assumed
    assert vmms.origin.format == "xml" and vmms.origin.record == 1

    assert worker.event_id == 18590 and worker.level == 1
    assert worker.time == datetime(2024, 12, 9, 11, 31, 23, 235620, tzinfo=UTC)
    assert worker.field("VmName") == "Virtual Machine"
    assert worker.vm_id == "D9E0EB0A-5B37-508E-9173-67E9ADE83ACF"
    assert worker.field("VmErrorMessage") == ""  # whitespace-only element is empty
    assert not worker.message_from_input  # no RenderingInfo: the catalog renders it

    assert dns.event_id == 4013 and dns.level == 3
    assert dns.channel == "DNS Server"
    assert dns.message == "Le serveur DNS attend ..."
    assert dns.fields == ()
    assert result.stats.records == 3 and result.stats.relevant == 3


def test_wevtutil_rootless_sequence() -> None:
    result = read_file("wevtutil_qe.xml")
    assert result.format == "xml"
    assert [e.event_id for e in result.events] == [20415, 22038, 21024]
    send = result.events[1]
    assert send.error_codes == ("0x80072746",)
    assert send.host == "HV-NODE01.corp.example"
    assert send.time == datetime(2024, 5, 14, 11, 12, 31, 801234, tzinfo=UTC)
    failed = result.events[2]
    assert failed.vm_name == "SQL-01"
    assert failed.vm_id == "3F2B9C1E-6D1A-4C77-9E0A-21B5D3C4E8F1"
    assert [e.origin.offset for e in result.events] == [1, 26, 50]  # lines of <Event>


def test_both_exports_of_one_record_have_one_identity() -> None:
    export = read_file("eventviewer_export.xml").events[0]
    rootless = read_file("wevtutil_qe.xml").events[0]
    pasted = read_file("copy_as_text_20415_en.txt").events[0]
    assert export.identity == rootless.identity == pasted.identity


def test_utf16_export_from_a_powershell_redirect() -> None:
    data = (DATA / "wevtutil_qe.xml").read_text(encoding="utf-8").encode("utf-16")
    result = read_bytes("qe-utf16.xml", data)
    assert [e.event_id for e in result.events] == [20415, 22038, 21024]


def test_declaration_naming_utf16_on_utf8_text_is_harmless() -> None:
    text = (DATA / "eventviewer_export.xml").read_text(encoding="utf-8")
    data = text.replace('encoding="utf-8"', 'encoding="utf-16"').encode("utf-8")
    assert len(read_bytes("odd.xml", data).events) == 3


@pytest.mark.parametrize(
    ("name", "data"),
    [("laughs.xml", BILLION_LAUGHS), ("xxe.xml", EXTERNAL_ENTITY)],
)
def test_dtd_is_refused_with_one_clear_line(name: str, data: bytes) -> None:
    assert sniff(data) == "xml"  # ours to read, and to refuse
    source = InputSource(name=name, data=data)
    with pytest.raises(InputError) as info:
        list(xml_reader.read(source, ReadStats(), keep_all))
    message = str(info.value)
    assert message.startswith(f"{name}: XML with a document type declaration")
    assert "billion laughs" in message and "\n" not in message


def test_truncated_export_keeps_the_events_before_the_cut() -> None:
    text = (DATA / "wevtutil_qe.xml").read_text(encoding="utf-8")
    cut = text[: text.index("<EventID>21024")]
    stats = ReadStats()
    source = InputSource(name="cut.xml", data=cut.encode())
    events = list(xml_reader.read(source, stats, keep_all))
    assert [e.event_id for e in events] == [20415, 22038]
    assert stats.dropped == 1
    assert stats.warnings[0].startswith("cut.xml: XML damaged at line")


def test_event_without_system_is_a_warning() -> None:
    data = (
        b"<Events><Event><EventData/></Event>"
        b"<Event><System><Provider Name='P'/><EventID>7</EventID>"
        b"<TimeCreated SystemTime='2024-01-01T00:00:00Z'/></System></Event></Events>"
    )
    stats = ReadStats()
    events = list(xml_reader.read(InputSource(name="x.xml", data=data), stats, keep_all))
    assert [e.event_id for e in events] == [7]
    assert stats.records == 2 and stats.dropped == 1
    assert stats.warnings == ["x.xml event 1 (line 1): event has no System element"]


def test_garbage_after_xml_sniff_is_an_input_error() -> None:
    source = InputSource(name="bad.xml", data=b"<Events><Event><System>\x01</Events>")
    with pytest.raises(InputError, match=r"^bad\.xml: not well-formed XML \(line 1"):
        list(xml_reader.read(source, ReadStats(), keep_all))


def test_empty_export_is_valid_and_empty() -> None:
    source = InputSource(name="empty.xml", data=b'<?xml version="1.0"?>\n<Events></Events>\n')
    stats = ReadStats()
    assert list(xml_reader.read(source, stats, keep_all)) == []
    assert stats.records == 0 and not stats.warnings


def test_keep_filters_providers() -> None:
    stats = ReadStats()
    source = InputSource(name="e.xml", path=DATA / "eventviewer_export.xml")
    events = list(xml_reader.read(source, stats, lambda p: p.startswith("Microsoft-Windows-Hyper")))
    assert [e.event_id for e in events] == [20415, 18590]
    assert stats.records == 3 and stats.relevant == 2


def test_wevtutil_with_a_root_of_the_users_choosing() -> None:
    # wevtutil qe ... /f:xml /e:root
    text = (DATA / "wevtutil_qe.xml").read_text(encoding="utf-8")
    data = f"<root>{text}</root>".encode()
    assert sniff(data) == "xml"
    assert [e.event_id for e in read_bytes("root.xml", data).events] == [20415, 22038, 21024]


def test_an_event_element_inside_a_payload_is_not_a_record() -> None:
    text = (DATA / "wevtutil_qe.xml").read_text(encoding="utf-8")
    nested = text.replace("<Parameter2>0.5</Parameter2>", "<Event>nested</Event>", 1)
    result = read_bytes("nested.xml", nested.encode())
    assert [e.event_id for e in result.events] == [20415, 22038, 21024]
    assert result.events[0].field("Event") == "nested"
