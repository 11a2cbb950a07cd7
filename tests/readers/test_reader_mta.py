"""LocaleMetaData ``.MTA`` companions: rendered messages for an exported EVTX."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
from reader_support import CORPUS, read_source

from migdiag.errors import InputError
from migdiag.readers import InputSource, ReadStats, keep_all, mta
from migdiag.readers.bundle import expand
from migdiag.readers.registry import READERS, sniff

PAIR = CORPUS / "omerbenamram_evtx" / "samples" / "mta"
FIRST = (
    "Initiating changes for package KB5020683. Current state is Absent. Target state is "
    "Installed. Client id: WindowsUpdateAgent."
)

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not (PAIR / "test_1033.MTA").is_file(), reason="corpus MTA pair absent"),
]


def test_parse_the_real_mta() -> None:
    messages = mta.parse_messages((PAIR / "test_1033.MTA").read_bytes())
    assert len(messages) == 239
    assert min(messages) == 10 and max(messages) == 248  # EventRecordIDs, not header ids
    assert messages[10] == FIRST


def test_messages_reach_the_evtx_events_beside_it(tmp_path: Path) -> None:
    shutil.copy(PAIR / "test.evtx", tmp_path / "test.evtx")
    (tmp_path / "LocaleMetaData").mkdir()
    shutil.copy(PAIR / "test_1033.MTA", tmp_path / "LocaleMetaData" / "test_1033.MTA")
    sources, errors = expand([str(tmp_path)])
    assert errors == []
    formats = {Path(s.name).name: sniff(s.head()) for s in sources}
    assert formats == {"test.evtx": "evtx", "test_1033.MTA": "mta"}
    evtx = next(s for s in sources if s.name.endswith(".evtx"))
    events = read_source(evtx).events
    assert len(events) == 239
    assert all(e.message_from_input for e in events)
    first = min(events, key=lambda e: e.record_id or 0)
    assert first.message == FIRST
    # The MTA on its own yields nothing and no error.
    stats = ReadStats()
    mta_source = next(s for s in sources if s.name.endswith(".MTA"))
    assert list(READERS["mta"](mta_source, stats, keep_all)) == []


def test_messages_reach_the_evtx_inside_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "host.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(PAIR / "test.evtx", "SRV1/test.evtx")
        z.write(PAIR / "test_1033.MTA", "SRV1/LocaleMetaData/test_1033.MTA")
    sources, errors = expand([str(path)])
    assert errors == []
    evtx = next(s for s in sources if s.name.endswith(".evtx"))
    events = read_source(evtx).events
    assert len(events) == 239 and all(e.message for e in events)


def test_damaged_mta_is_a_warning_and_the_evtx_still_reads(tmp_path: Path) -> None:
    shutil.copy(PAIR / "test.evtx", tmp_path / "test.evtx")
    data = (PAIR / "test_1033.MTA").read_bytes()
    (tmp_path / "test_1033.MTA").write_bytes(data[:3000])  # cut inside the EVT section
    stats = ReadStats()
    source = InputSource(name="test.evtx", path=tmp_path / "test.evtx")
    events = list(READERS["evtx"](source, stats, keep_all))
    assert len(events) == 239
    assert any("LocaleMetaData unreadable" in w for w in stats.warnings)
    with pytest.raises(InputError, match=r"test_1033\.MTA: LocaleMetaData file unreadable"):
        list(
            READERS["mta"](
                InputSource(name="test_1033.MTA", path=tmp_path / "test_1033.MTA"),
                ReadStats(),
                keep_all,
            )
        )
