"""The command line as a user meets it: real processes, real files, the exit-code contract."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from common import run_migdiag

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"


def migdiag(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_migdiag(*args, cwd=cwd)


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_readme_run_diagnoses_the_seed_and_touches_no_input(tmp_path: Path) -> None:
    before = digest(SAMPLES)
    result = migdiag("analyze", str(SAMPLES), cwd=tmp_path)  # from any directory
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "DidierTest01" in out and "SRV1 → SRV2" in out
    assert "mtu-mismatch" in out
    assert "0x80072746" in out and "22038" in out
    assert "Traceback" not in result.stderr
    assert digest(SAMPLES) == before


def test_json_names_the_seed_cause_and_its_evidence() -> None:
    result = migdiag("analyze", str(SAMPLES / "seed-mtu-reset"), "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    [migration] = data["migrations"]
    assert migration["outcome"] == "failed"
    assert (migration["source"], migration["destination"]) == ("SRV1", "SRV2")
    diagnosis = migration["diagnosis"]
    assert diagnosis["cause"] == "mtu-mismatch"
    cited = {(e["host"], e["event_id"]) for e in diagnosis["evidence"]}
    assert ("SRV1", 22038) in cited


def test_unreadable_named_input_is_one_line_and_the_rest_is_analysed(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_bytes(b"\x00\x01 this is not an event log \xff")
    result = migdiag("analyze", str(junk), str(SAMPLES / "seed-mtu-reset"))
    assert result.returncode == 6
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(junk) in errors[0]
    assert "Traceback" not in result.stderr
    assert "DidierTest01" in result.stdout


def test_nothing_readable_exits_7(tmp_path: Path) -> None:
    junk = tmp_path / "empty.evtx"
    junk.write_bytes(b"")
    result = migdiag("analyze", str(junk))
    assert result.returncode == 7
    assert "Traceback" not in result.stderr


def test_missing_path_is_reported_not_raised(tmp_path: Path) -> None:
    result = migdiag("analyze", str(tmp_path / "nope.evtx"))
    assert result.returncode == 7
    assert "nope.evtx" in result.stderr and "Traceback" not in result.stderr


def test_fail_on_distinguishes_known_cause() -> None:
    failed = migdiag("analyze", str(SAMPLES / "seed-mtu-reset"), "--fail-on", "failed", "-q")
    assert failed.returncode == 3
    healthy = migdiag("analyze", str(SAMPLES / "healthy-drain"), "--fail-on", "failed", "-q")
    assert healthy.returncode == 0


def test_usage_error_exits_2() -> None:
    assert migdiag("analyze", "--format", "nonsense", str(SAMPLES)).returncode == 2
    assert migdiag("analyze", "--utc-offset", "tomorrow", str(SAMPLES)).returncode == 2


def test_events_jsonl_is_timesketch_ready_and_filters() -> None:
    result = migdiag(
        "events", str(SAMPLES / "seed-mtu-reset"), "--format", "jsonl", "--id", "22038"
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {row["host"] for row in rows} == {"SRV1"}
    assert all(row["event_id"] == 22038 for row in rows)
    for row in rows:
        assert row["datetime"].endswith("Z") and row["timestamp_desc"] and row["message"]


def test_timeline_puts_source_and_destination_side_by_side() -> None:
    result = migdiag("timeline", str(SAMPLES / "seed-mtu-reset"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("time (UTC"))
    assert "SRV1" in header and "SRV2" in header
    dest_line = next(line for line in lines if "21026" in line)
    # The destination's event is in the right-hand column.
    assert dest_line.index("21026") == header.index("| SRV2") + 2


def test_help_teaches() -> None:
    result = migdiag("--help")
    assert result.returncode == 0
    for command in ("analyze", "timeline", "events", "synth", "signatures", "schema"):
        assert command in result.stdout
    analyze_help = migdiag("analyze", "--help").stdout
    assert "Examples" in analyze_help and "--fail-on" in analyze_help


def test_triage_ranks_cases_and_writes_an_index(tmp_path: Path) -> None:
    import zipfile

    bundle = tmp_path / "customer.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        for path in (SAMPLES / "seed-mtu-reset").rglob("*.evtx"):
            zf.write(path, path.relative_to(SAMPLES))
    cases = [
        str(SAMPLES / name) for name in ("healthy-drain", "seed-mtu-reset", "switch-mtu-timeout")
    ]
    result = migdiag("triage", *cases, str(bundle), "--html-dir", str(tmp_path / "out"), "-q")
    assert result.returncode == 0, result.stderr
    ranked = [line for line in result.stdout.splitlines() if line[:1].isdigit()]
    assert len(ranked) == 4
    assert "healthy" in ranked[-1]  # failures rank above the healthy case
    assert all("failed" in line for line in ranked[:3])
    index = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    # Reports are named after their case (folder or zip name) and link back to the index.
    names = {"healthy-drain", "seed-mtu-reset", "switch-mtu-timeout", "customer"}
    assert {p.stem for p in (tmp_path / "out").glob("*.html")} == names | {"index"}
    for name in names:
        assert f'href="./{name}.html"' in index
        page = (tmp_path / "out" / f"{name}.html").read_text(encoding="utf-8")
        assert 'href="index.html"' in page


def test_pasted_text_among_the_inputs_is_explained_beside_the_logs(tmp_path: Path) -> None:
    ticket = tmp_path / "ticket.txt"
    ticket.write_text(
        "Move-VM : Virtual machine migration operation for 'SQL-01' failed at migration source"
        " 'HV01'. (Virtual machine ID 3F2B9C1E-6D1A-4C77-9E0A-21B5D3C4E8F1)\n"
        "Failed to send data for a Virtual Machine migration: An existing connection was"
        " forcibly closed by the remote host. (0x80072746).\n",
        encoding="utf-8",
    )
    result = migdiag("analyze", str(ticket), str(SAMPLES / "healthy-drain"), "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data["migrations"]) == 10  # the logs are still analysed
    [pasted] = data["pasted"]
    assert pasted["causes"][0]["cause"] == "mtu-mismatch"
    assert {e["line"] for e in pasted["causes"][0]["evidence"]} <= {1, 2}
    formats = {i["path"]: i["format"] for i in data["inputs"]}
    assert formats[str(ticket)] == "pasted-text"


def test_samples_get_the_diagnoses_a_support_engineer_expects() -> None:
    result = migdiag("analyze", str(SAMPLES), "--format", "json", "-q")
    assert result.returncode == 0, result.stderr
    by_vm = {m["vm_name"]: m for m in json.loads(result.stdout)["migrations"]}
    assert by_vm["DidierTest01"]["diagnosis"]["cause"] == "mtu-mismatch"
    switch_side = by_vm["DidierTest02"]
    assert switch_side["outcome"] == "failed"
    assert switch_side["diagnosis"]["cause"] == "mtu-mismatch"
    assert "network-unreachable" in [f["cause"] for f in switch_side["differential"]]
    healthy = [m for m in by_vm.values() if m["source"] == "HV01"]
    assert len(healthy) == 10
    assert all(m["outcome"] == "succeeded" and m["diagnosis"] is None for m in healthy)


def test_text_inside_a_folder_is_not_mined_as_evidence(tmp_path: Path) -> None:
    import shutil

    case = tmp_path / "case"
    shutil.copytree(SAMPLES / "healthy-drain", case)
    (case / "notes.txt").write_text(
        "Last week: Failed to send data for a Virtual Machine migration: An existing "
        "connection was forcibly closed by the remote host. (0x80072746)\n",
        encoding="utf-8",
    )
    result = migdiag("analyze", str(case), "--format", "json", "-q")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["pasted"] == []
    formats = {Path(i["path"]).name: i["format"] for i in data["inputs"]}
    assert formats["notes.txt"] == "ignored"


def test_logs_from_one_side_only_are_diagnosed_with_a_coverage_note() -> None:
    result = migdiag("analyze", str(SAMPLES / "seed-mtu-reset" / "SRV1"), "--format", "json")
    assert result.returncode == 0, result.stderr
    [migration] = json.loads(result.stdout)["migrations"]
    assert migration["outcome"] == "failed"
    assert migration["diagnosis"]["cause"] == "mtu-mismatch"
    assert any("destination SRV2" in note for note in migration["coverage"])


def test_the_seeds_copy_as_text_blocks_alone_give_the_mtu_diagnosis() -> None:
    # The founding case as tickets carry it: Event Viewer's copy-as-text of the source's
    # five VMMS events (tests/readers/data/seed_vmms_copy_as_text.txt is the seed's lines).
    seed = Path(__file__).parent / "readers" / "data" / "seed_vmms_copy_as_text.txt"
    result = migdiag("analyze", str(seed), "--utc-offset", "+02:00", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    [migration] = data["migrations"]
    assert (migration["vm_name"], migration["source"], migration["destination"]) == (
        "DidierTest01",
        "SRV1",
        "SRV2",
    )
    assert migration["outcome"] == "failed"
    assert migration["diagnosis"]["cause"] == "mtu-mismatch"
    assert {e["event_id"] for e in migration["events"]} == {20413, 22038, 21018, 22040, 21024}
    assert any("assumed" in w for w in data["warnings"])  # local times, said so
