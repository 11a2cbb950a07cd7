"""The seed's failure handed over as PowerShell printouts is diagnosed like its EVTX form.

The EVTX form is ``sample_logs/seed-mtu-reset``.  The printouts are what a support desk gets
from two admins in Germany: the source (SRV1) as ``Format-List *`` saved with ``>``, the
destination (SRV2) as ``Export-Csv -UseCulture``, and the cluster's 21502 as
``ConvertTo-Json``, printed from the same records by ``powershell_render``.  Also here: a
host's offset inferred from its own UTC input, and PowerShell files found in folders and
zips.
"""

from __future__ import annotations

import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from powershell_render import (
    Sender,
    convert_to_json,
    export_csv,
    format_list,
    format_table,
    redirected,
    utf8_bom,
)
from reader_support import read_file

from migdiag.api import Options, analyze, read_events
from migdiag.model import Analysis, Event
from migdiag.readers.localtime import TimeOptions

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "sample_logs" / "seed-mtu-reset"
CEST = timedelta(hours=2)
SENDER = Sender("5.1", "de-DE", 120, (("SRV1", CEST), ("SRV2", CEST)))


def _events(host: str) -> list[Event]:
    found: list[Event] = []
    for path in sorted((SEED / host).glob("*.evtx")):
        found.extend(read_file(path).events)
    return sorted(found, key=lambda e: e.time)


def _write_printouts(folder: Path) -> list[Path]:
    source = [e for e in _events("SRV1") if e.event_id != 21502]
    cluster = [e for e in _events("SRV1") if e.event_id == 21502]
    assert cluster, "the seed sample has the cluster's 21502"
    files = {
        "source-format-list.txt": redirected(format_list(source, SENDER, star=True), SENDER),
        "destination.csv": utf8_bom(export_csv(_events("SRV2"), SENDER, use_culture=True)),
        "cluster-21502.json": redirected(convert_to_json(cluster, SENDER), SENDER),
    }
    paths = []
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def _summary(analysis: Analysis) -> list[tuple[object, ...]]:
    return [
        (
            r.migration.vm_name,
            r.migration.source,
            r.migration.destination,
            r.migration.outcome,
            r.diagnosis.signature_id if r.diagnosis else None,
            tuple(sorted(f.signature_id for f in r.findings)),
            len(r.migration.events),
        )
        for r in analysis.results
    ]


def test_the_seed_as_three_powershell_printouts_is_diagnosed_like_its_evtx(
    tmp_path: Path,
) -> None:
    paths = _write_printouts(tmp_path)
    options = Options(jobs=1, time=TimeOptions(default_offset=CEST))
    printed = analyze([str(p) for p in paths], options)
    evtx = analyze([str(SEED)], Options(jobs=1))
    assert [i.format for i in printed.inputs] == [
        "powershell-json",
        "powershell-csv",
        "powershell-list",
    ]
    assert all(i.error is None for i in printed.inputs)
    assert _summary(printed) == _summary(evtx)
    (result,) = printed.results
    assert result.diagnosis is not None
    assert result.diagnosis.signature_id == "mtu-mismatch-reset"
    # The evidence names the same records at the same UTC times.
    cited = sorted((e.event_id, e.time.replace(microsecond=0)) for e in result.migration.events)
    expected = sorted(
        (e.event_id, e.time.replace(microsecond=0)) for e in evtx.results[0].migration.events
    )
    assert cited == expected


def test_a_hosts_offset_is_inferred_from_its_utc_input_and_said(tmp_path: Path) -> None:
    events = _events("SRV1")
    listing = tmp_path / "SRV1-vmms.txt"
    listing.write_bytes(redirected(format_list(events, SENDER), SENDER))
    # No --utc-offset: the host's EVTX holds the same records in UTC.
    reports, read, _ = read_events(
        [str(listing), str(SEED / "SRV1")], Options(jobs=1, time=TimeOptions())
    )
    report = next(r for r in reports if r.path == str(listing))
    assert any(
        "read as UTC+02:00 instead: the offset inferred from" in w for w in report.warnings
    ), report.warnings
    # Shifted onto the EVTX's times, each printed record is the EVTX's record: counted once.
    assert len([e for e in read if e.short_host == "SRV1"]) == len(events)


def test_a_given_offset_is_never_overridden(tmp_path: Path) -> None:
    events = _events("SRV1")
    listing = tmp_path / "SRV1-vmms.txt"
    listing.write_bytes(redirected(format_list(events, SENDER), SENDER))
    wrong = TimeOptions(host_offsets=(("SRV1", timedelta(hours=5)),))
    reports, read, _ = read_events([str(listing), str(SEED / "SRV1")], Options(jobs=1, time=wrong))
    report = next(r for r in reports if r.path == str(listing))
    assert any("--utc-offset SRV1=+05:00" in w for w in report.warnings)
    assert not any("inferred" in w for w in report.warnings)
    # Read 3 hours off the EVTX's times, the printed records stay apart from the EVTX's.
    assert len([e for e in read if e.short_host == "SRV1"]) == 2 * len(events)


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "zip"])
def test_powershell_files_in_folders_and_zips_are_recognised(tmp_path: Path, packed: bool) -> None:
    case = tmp_path / "case"
    case.mkdir()
    _write_printouts(case)
    target = case
    if packed:
        target = tmp_path / "case.zip"
        with zipfile.ZipFile(target, "w") as archive:
            for path in sorted(case.iterdir()):
                archive.write(path, f"case/{path.name}")
    analysis = analyze([str(target)], Options(jobs=1, time=TimeOptions(default_offset=CEST)))
    assert sorted(i.format for i in analysis.inputs) == [
        "powershell-csv",
        "powershell-json",
        "powershell-list",
    ]
    assert [r.migration.outcome for r in analysis.results] == ["failed"]


def test_two_printouts_of_one_host_made_in_two_zones_are_each_corrected(tmp_path: Path) -> None:
    events = _events("SRV1")
    berlin = tmp_path / "SRV1-list.txt"
    berlin.write_bytes(redirected(format_list(events, SENDER, star=True), SENDER))
    # The same host's table, printed with -ComputerName by an admin in New York.
    new_york = Sender("7", "en-US", 120, (("SRV1", timedelta(hours=-4)),))
    table = tmp_path / "SRV1-table.txt"
    table.write_bytes(redirected(format_table(events, new_york), new_york))
    reports, read, _ = read_events(
        [str(berlin), str(table), str(SEED / "SRV1")], Options(jobs=1, time=TimeOptions())
    )
    notes = {Path(r.path).name: " ".join(r.warnings) for r in reports}
    assert "read as UTC+02:00 instead" in notes["SRV1-list.txt"]
    assert "read as UTC-04:00 instead" in notes["SRV1-table.txt"]
    assert len([e for e in read if e.short_host == "SRV1"]) == len(events)
