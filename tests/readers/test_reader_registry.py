"""The registry: sniffing by content and readers built with the user's time options."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from reader_support import DATA

from migdiag.readers import InputSource, ReadStats, keep_all
from migdiag.readers.localtime import TimeOptions
from migdiag.readers.registry import READERS, readers_for, sniff


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("eventviewer_export.xml", "xml"),
        ("wevtutil_qe.xml", "xml"),
        ("wevtutil_qe.txt", "wevtutil-text"),
        ("eventviewer_export.csv", "csv"),
        ("copy_as_text_20415_en.txt", "text"),
        ("copy_as_text_21024_de.txt", "text"),
        ("copy_as_text_21502_en.txt", "text"),
        ("copy_as_text_fr_unknown_labels.txt", "text"),
        ("seed_vmms_copy_as_text.txt", "text"),
    ],
)
def test_fixtures_sniff_by_content(name: str, expected: str) -> None:
    data = (DATA / name).read_bytes()
    assert sniff(data[:4096]) == expected
    assert sniff(data.decode("utf-8").encode("utf-16")[:4096]) == expected
    assert sniff(data.decode("utf-8").encode("utf-16-le")[:4096]) == expected  # no BOM


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"Hello, this is a README about the outage.\n",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"<!DOCTYPE html><html><body>Event Viewer</body></html>",
        b"<html><body><p>Log Name: not really</p></body></html>",
        b"a,b\n1,2\n",
        b"PK\x03\x04\x14\x00",
    ],
)
def test_unknown_inputs_sniff_as_none(head: bytes) -> None:
    assert sniff(head) is None


def test_sniff_does_not_look_at_names() -> None:
    data = (DATA / "wevtutil_qe.xml").read_bytes()
    assert sniff(InputSource(name="whatever.evtx", data=data).head()) == "xml"


def test_readers_for_passes_time_options() -> None:
    assert set(READERS) == {
        "evtx",
        "mta",
        "xml",
        "wevtutil-text",
        "csv",
        "text",
        "powershell-list",
        "powershell-table",
        "powershell-csv",
        "powershell-json",
        "powershell-clixml",
    }
    source = InputSource(name="de.txt", path=DATA / "copy_as_text_21024_de.txt")
    default = next(READERS["text"](source, ReadStats(), keep_all))
    cest = next(
        readers_for(TimeOptions(host_offsets=(("hv-node02", timedelta(hours=2)),)))["text"](
            source, ReadStats(), keep_all
        )
    )
    assert default.time == datetime(2010, 7, 20, 0, 0, 1, tzinfo=UTC)
    assert cest.time == datetime(2010, 7, 19, 22, 0, 1, tzinfo=UTC)


def test_sniffing_knows_the_binary_readers_magic() -> None:
    # The registry sniffs EVTX and MTA without importing their readers: same magic.
    from migdiag.readers import evtx, mta, registry

    assert registry.EVTX_MAGIC == evtx.FILE_MAGIC
    assert registry.MTA_MAGIC == mta.FILE_MAGIC
