"""Folders and zip bundles: every member read in memory, hostile members refused."""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from reader_support import BILLION_LAUGHS, DATA, read_source

from migdiag.errors import InputError
from migdiag.readers import bundle
from migdiag.readers.bundle import ZipMemberSource, expand
from migdiag.readers.localtime import TimeOptions

SEED_OPTIONS = TimeOptions(host_offsets=(("SRV1", timedelta(hours=2)),))
GIB = 1024**3


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.fixture(scope="module")
def hostile_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A support bundle with good members beside a traversal name, a 1 GiB zip bomb, a
    billion-laughs XML, an absolute name and a zip nested two levels deep."""
    inner = _zip_bytes(
        {
            "SRV2/wevtutil_qe.txt": (DATA / "wevtutil_qe.txt").read_bytes(),
            "deeper.zip": _zip_bytes({"x.xml": (DATA / "wevtutil_qe.xml").read_bytes()}),
        }
    )
    path = tmp_path_factory.mktemp("hostile") / "bundle.zip"
    # Level 1 keeps building the 1 GiB member fast (about 1 s); its ratio is still ~230:1.
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("SRV1/seed.txt", (DATA / "seed_vmms_copy_as_text.txt").read_bytes())
        z.writestr("../../evil.xml", (DATA / "wevtutil_qe.xml").read_bytes())
        z.writestr("/etc/cron.d/evil", b"* * * * * root true\n")
        z.writestr("SRV1/laughs.xml", BILLION_LAUGHS)
        z.writestr("SRV1/export.xml", (DATA / "eventviewer_export.xml").read_bytes())
        z.writestr("SRV2.zip", inner)
        # 1 GiB of zeros, streamed so it never exists uncompressed.
        with z.open("SRV1/big.evtx", "w", force_zip64=True) as f:
            zeros = bytes(1024 * 1024)
            for _ in range(1024):
                f.write(zeros)
    return path


def test_hostile_bundle_refuses_the_bad_and_reads_the_rest(hostile_bundle: Path) -> None:
    before = _files(hostile_bundle.parent)
    cwd_before = set(os.listdir())
    sources, errors = expand([str(hostile_bundle)])
    names = [s.name for s in sources]
    b = str(hostile_bundle)
    assert names == [
        f"{b}!SRV1/seed.txt",
        f"{b}!SRV1/laughs.xml",
        f"{b}!SRV1/export.xml",
        f"{b}!SRV2.zip!SRV2/wevtutil_qe.txt",
    ]
    assert len(errors) == 4
    assert errors[0] == (
        f"{b}!../../evil.xml: member refused: its name climbs out of the archive with '..' "
        "(path traversal); not read"
    )
    assert errors[1] == (
        f"{b}!/etc/cron.d/evil: member refused: its name is an absolute path "
        "(path traversal); not read"
    )
    assert (
        errors[2]
        == f"{b}!SRV2.zip!deeper.zip: member refused: a zip nested more than one level deep"
    )
    assert errors[3].startswith(f"{b}!SRV1/big.evtx: member refused: expands to 1.0 GiB from ")
    assert "zip bomb" in errors[3]
    assert all("\n" not in e for e in errors)

    counts: dict[str, int] = {}
    failures: dict[str, str] = {}
    for source in sources:
        try:
            counts[source.name] = len(read_source(source, SEED_OPTIONS).events)
        except InputError as exc:
            failures[source.name] = str(exc)
    assert counts == {
        f"{b}!SRV1/seed.txt": 5,
        f"{b}!SRV1/export.xml": 3,
        f"{b}!SRV2.zip!SRV2/wevtutil_qe.txt": 3,
    }
    (laughs,) = failures.values()
    assert laughs.startswith(f"{b}!SRV1/laughs.xml: XML with a document type declaration")
    # Nothing was extracted: no new file anywhere we can see.
    assert _files(hostile_bundle.parent) == before
    assert set(os.listdir()) == cwd_before


def test_zip_member_events_name_the_member(hostile_bundle: Path) -> None:
    sources, _ = expand([str(hostile_bundle)])
    seed = next(s for s in sources if s.name.endswith("seed.txt"))
    assert isinstance(seed, ZipMemberSource)
    assert seed.path is None and seed.size > 0
    events = read_source(seed, SEED_OPTIONS).events
    assert events[0].origin.path == f"{hostile_bundle}!SRV1/seed.txt"
    assert [e.event_id for e in events] == [20413, 22038, 21018, 22040, 21024]


def test_folders_are_walked_recursively_in_order(tmp_path: Path) -> None:
    (tmp_path / "b" / "deep").mkdir(parents=True)
    (tmp_path / "a").mkdir()
    shutil.copy(DATA / "wevtutil_qe.xml", tmp_path / "b" / "deep" / "node2.xml")
    shutil.copy(DATA / "seed_vmms_copy_as_text.txt", tmp_path / "a" / "node1.txt")
    (tmp_path / "b" / "logs.zip").write_bytes(
        _zip_bytes({"x.csv": (DATA / "eventviewer_export.csv").read_bytes()})
    )
    sources, errors = expand([str(tmp_path)])
    assert errors == []
    assert [s.name for s in sources] == [
        str(tmp_path / "a" / "node1.txt"),
        str(tmp_path / "b" / "logs.zip") + "!x.csv",
        str(tmp_path / "b" / "deep" / "node2.xml"),
    ]
    assert [read_source(s).format for s in sources] == ["text", "csv", "xml"]


def test_literal_glob_missing_path_and_duplicates(tmp_path: Path) -> None:
    shutil.copy(DATA / "wevtutil_qe.xml", tmp_path / "one.xml")
    shutil.copy(DATA / "eventviewer_export.xml", tmp_path / "two.xml")
    sources, errors = expand(
        [
            str(tmp_path / "*.xml"),
            str(tmp_path / "one.xml"),  # already matched: read once
            str(tmp_path / "absent.evtx"),
            str(tmp_path / "*.nothing"),
        ]
    )
    assert [Path(s.name).name for s in sources] == ["one.xml", "two.xml"]
    assert errors == [
        f"{tmp_path / 'absent.evtx'}: no such file or folder",
        f"{tmp_path / '*.nothing'}: no file matches this pattern",
    ]


def test_member_count_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundle, "MAX_MEMBERS", 3)
    path = tmp_path / "many.zip"
    path.write_bytes(_zip_bytes({f"f{i}.txt": b"x" for i in range(10)}))
    sources, errors = expand([str(path)])
    assert len(sources) == 3
    assert errors == [f"{path}: more than 3 members; the rest are not read"]


def test_expanded_size_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundle, "MAX_TOTAL_BYTES", 1500)
    path = tmp_path / "big.zip"
    path.write_bytes(_zip_bytes({"a.txt": os.urandom(1000), "b.txt": os.urandom(1000)}))
    sources, errors = expand([str(path)])
    assert [s.name for s in sources] == [f"{path}!a.txt"]
    assert errors == [
        f"{path}!b.txt: member refused: the archive's 2 GiB expanded-size budget is spent"
    ]


def test_damaged_zip_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    sources, errors = expand([str(path)])
    assert sources == []
    assert len(errors) == 1 and errors[0].startswith(f"{path}: not a readable zip archive")


def test_member_with_bad_crc_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "crc.zip"
    data = _zip_bytes({"x.xml": (DATA / "wevtutil_qe.xml").read_bytes()})
    # Flip the CRC in the central directory and the local header.
    crc = zipfile.ZipFile(io.BytesIO(data)).infolist()[0].CRC
    flipped = (~crc & 0xFFFFFFFF).to_bytes(4, "little")
    path.write_bytes(data.replace(crc.to_bytes(4, "little"), flipped))
    sources, errors = expand([str(path)])
    assert sources == []  # a small member is read whole by the sniff, so the CRC is checked
    assert errors == [f"{path}!x.xml: member unreadable: Bad CRC-32 for file 'x.xml'"]
    member = ZipMemberSource(name=f"{path}!x.xml", archive=path, chain=("x.xml",))
    with pytest.raises(InputError, match=r"crc\.zip!x\.xml: cannot read from the archive"):
        member.open()
