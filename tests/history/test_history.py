"""The case history as a support desk uses it: real logs, real processes, SQLite and a real
PostgreSQL server (see conftest.py)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from common import run_migdiag
from migdiag.api import Options, analyze
from migdiag.history import Database, confirm, record_analysis, show_case
from migdiag.history import store as store_module
from migdiag.model import Analysis

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
SEED = str(SAMPLES / "seed-mtu-reset")  # SRV1 -> SRV2, DidierTest01, mtu-mismatch
SWITCH = str(SAMPLES / "switch-mtu-timeout")  # SRV1 -> SRV2, DidierTest02 fails, mtu-mismatch
HEALTHY = str(SAMPLES / "healthy-drain")  # HV01 <-> HV02, ten migrations, none failed


@cache
def analysed(path: str) -> Analysis:
    return analyze([path], Options(jobs=1))


def history(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    return run_migdiag("history", *args, "--db", db)


def as_json(result: subprocess.CompletedProcess[str]) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_add_list_show_keep_what_the_analysis_concluded(db_url: str) -> None:
    assert history("add", "CASE-1", SEED, db=db_url).returncode == 0
    added = history("add", "CASE-2", HEALTHY, "--cluster", "cl-prod", db=db_url)
    assert added.returncode == 0, added.stderr
    assert "recorded analysis" in added.stdout

    listed = as_json(history("list", "--format", "json", db=db_url))
    assert isinstance(listed, list)
    assert [c["case_id"] for c in listed] == ["CASE-2", "CASE-1"]  # newest first
    assert listed[1]["hosts"] == ["SRV1", "SRV2"] and listed[1]["causes"] == ["mtu-mismatch"]
    assert listed[0]["clusters"] == ["CL-PROD"] and listed[0]["failed"] == 0

    shown = as_json(history("show", "CASE-1", "--format", "json", db=db_url))
    assert isinstance(shown, dict)
    (only,) = shown["analyses"]
    stored = {f["path"]: f["sha256"] for f in only["inputs"]}
    on_disk = {
        os.path.join(SEED, p.relative_to(SEED).as_posix()): hashlib.sha256(
            p.read_bytes()
        ).hexdigest()
        for p in Path(SEED).rglob("*")
        if p.is_file()
    }
    assert stored == on_disk  # paths as given, one hash per file
    (migration,) = only["migrations"]
    assert migration["vm"] == "DidierTest01" and migration["outcome"] == "failed"
    assert migration["cause"] == "mtu-mismatch" and migration["codes"] == ["0x80072746"]
    assert migration["signature_id"] == "mtu-mismatch-reset" and migration["confidence"] > 0.5

    table = history("list", "--host", "srv1.example.com", db=db_url)
    assert "CASE-1" in table.stdout and "CASE-2" not in table.stdout


def test_same_inputs_change_nothing_and_new_inputs_are_a_new_analysis(tmp_path: Path) -> None:
    db = str(tmp_path / "h.sqlite")
    assert history("add", "CASE-1", SEED, db=db).returncode == 0
    again = history("add", "CASE-1", SEED, db=db)
    assert again.returncode == 0 and "unchanged" in again.stdout
    assert history("add", "CASE-1", SEED, SWITCH, db=db).returncode == 0
    shown = as_json(history("show", "CASE-1", "--format", "json", db=db))
    assert isinstance(shown, dict)
    assert len(shown["analyses"]) == 2
    assert shown["summary"]["analyses"] == 2 and shown["summary"]["failed"] == 2


def test_add_names_unreadable_inputs_and_records_nothing_when_none_could_be_read(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "h.sqlite")
    missing = str(tmp_path / "gone.evtx")
    nothing = history("add", "CASE-1", missing, db=db)
    assert nothing.returncode == 7 and "nothing recorded" in nothing.stderr
    assert history("show", "CASE-1", db=db).returncode == 10
    partly = history("add", "CASE-1", SEED, missing, db=db)
    assert partly.returncode == 6 and "gone.evtx" in partly.stderr
    assert "recorded analysis" in partly.stdout


@dataclass(frozen=True)
class _Finding:
    id: str
    cause: str
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class _Configuration:
    hosts: tuple[str, ...] = ()
    findings: tuple[_Finding, ...] = ()


def test_configuration_findings_are_stored_when_the_analysis_has_them() -> None:
    # Duck-typed: Analysis.configuration comes from the configuration snapshots' work.
    jumbo = _Finding("jumbo-mismatch", "mtu-mismatch", ("HV01", "HV02"))
    with_snapshot = SimpleNamespace(configuration=_Configuration(("HV01",), (jumbo,)))
    assert store_module.configuration_findings(with_snapshot) == [  # type: ignore[arg-type]
        {"id": "jumbo-mismatch", "cause": "mtu-mismatch", "hosts": ["HV01", "HV02"]}
    ]
    clean_snapshot = SimpleNamespace(configuration=_Configuration(("HV01",)))
    assert store_module.configuration_findings(clean_snapshot) == []  # type: ignore[arg-type]
    no_snapshot = SimpleNamespace(configuration=_Configuration())
    assert store_module.configuration_findings(no_snapshot) is None  # type: ignore[arg-type]
    assert store_module.configuration_findings(analysed(SEED)) is None


def test_one_add_is_one_transaction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(str(tmp_path / "h.sqlite"))

    def broken(*args: object) -> dict[str, object]:
        raise RuntimeError("disk gone")

    monkeypatch.setattr(store_module, "_migration_row", broken)
    with pytest.raises(RuntimeError):
        record_analysis(db, "CASE-1", [SEED], analysed(SEED))
    with db.engine.connect() as conn:
        for table in ("analyses", "inputs", "case_migrations"):
            assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == 0


def test_confirm_feeds_accuracy_and_refuses_what_it_cannot_know(db_url: str) -> None:
    db = Database(db_url)
    record_analysis(db, "CASE-1", [SEED], analysed(SEED))
    record_analysis(db, "CASE-2", [SWITCH], analysed(SWITCH))
    db.close()
    ok = history("confirm", "CASE-1", "didiertest01", "--cause", "mtu-mismatch",
                 "--note", "switch port at 9216", db=db_url)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    wrong = history("confirm", "CASE-2", "DidierTest02", "--cause", "firewall-blocked", db=db_url)
    assert wrong.returncode == 0, wrong.stderr

    report = as_json(history("accuracy", "--format", "json", db=db_url))
    assert isinstance(report, dict)
    assert report["overall"] == {"signature_id": "all", "confirmed": 2, "correct": 1, "rate": 0.5}
    by_signature = {r["signature_id"]: (r["confirmed"], r["correct"]) for r in report["signatures"]}
    assert by_signature["mtu-mismatch-reset"] == (1, 1)
    assert sum(n for n, _ in by_signature.values()) == 2

    shown = as_json(history("show", "CASE-1", "--format", "json", db=db_url))
    assert isinstance(shown, dict)
    assert shown["confirmations"][0]["note"] == "switch port at 9216"

    bad_cause = history("confirm", "CASE-1", "DidierTest01", "--cause", "gremlins", db=db_url)
    assert bad_cause.returncode == 2
    assert (
        bad_cause.stderr.count("\n") == 1 and "'gremlins' is not a known cause" in bad_cause.stderr
    )
    no_case = history("confirm", "CASE-9", "DidierTest01", "--cause", "mtu-mismatch", db=db_url)
    assert no_case.returncode == 10 and "no case 'CASE-9'" in no_case.stderr
    no_vm = history("confirm", "CASE-1", "OtherVM", "--cause", "mtu-mismatch", db=db_url)
    assert no_vm.returncode == 10 and "no migration of a VM 'OtherVM'" in no_vm.stderr
    assert history("show", "CASE-9", db=db_url).returncode == 10
    for result in (bad_cause, no_case, no_vm):
        assert "Traceback" not in result.stderr


def test_causes_and_search_find_the_recurring_mtu_problem(tmp_path: Path) -> None:
    db = Database(str(tmp_path / "h.sqlite"))
    record_analysis(db, "CASE-1", [SEED], analysed(SEED), clusters=["CL1"])
    record_analysis(db, "CASE-2", [SWITCH], analysed(SWITCH), clusters=["CL1"])
    record_analysis(db, "CASE-3", [HEALTHY], analysed(HEALTHY))
    url = str(tmp_path / "h.sqlite")

    causes = as_json(history("causes", "--format", "json", db=url))
    assert isinstance(causes, list)
    (mtu,) = causes  # healthy migrations have no cause to recur
    assert mtu["cause"] == "mtu-mismatch" and mtu["cases"] == 2 and mtu["migrations"] == 2
    assert mtu["host_pairs"] == [["SRV1 -> SRV2", 2]] and mtu["clusters"] == [["CL1", 2]]
    assert mtu["first_seen"].startswith("2013-10-08") and mtu["last_seen"].startswith("2013-10-09")

    by_code = as_json(history("search", "--code", "80072746", "--format", "json", db=url))
    assert isinstance(by_code, list)
    assert {(m["case_id"], m["vm"]) for m in by_code} == {("CASE-1", "DidierTest01")}
    by_vm = as_json(history("search", "--vm", "didiertest02", "--format", "json", db=url))
    assert isinstance(by_vm, list)
    assert {m["case_id"] for m in by_vm} == {"CASE-2"}
    by_signature = history("search", "--signature", "mtu-mismatch-reset", db=url)
    assert "CASE-1" in by_signature.stdout and "CASE-2" not in by_signature.stdout
    by_host = as_json(history("search", "--host", "HV01", "--format", "json", db=url))
    assert isinstance(by_host, list)
    assert len(by_host) == 10 and {m["case_id"] for m in by_host} == {"CASE-3"}


def test_list_filters_by_time_and_cause(tmp_path: Path) -> None:
    url = str(tmp_path / "h.sqlite")
    db = Database(url)
    record_analysis(db, "OLD", [SEED], analysed(SEED), now=datetime(2024, 1, 1, tzinfo=UTC))
    record_analysis(db, "NEW", [HEALTHY], analysed(HEALTHY), now=datetime(2025, 6, 1, tzinfo=UTC))
    record_analysis(db, "MID", [SWITCH], analysed(SWITCH), now=datetime(2024, 6, 1, tzinfo=UTC))

    def ids(*args: str) -> list[str]:
        found = as_json(history("list", *args, "--format", "json", db=url))
        assert isinstance(found, list)
        return [c["case_id"] for c in found]

    assert ids() == ["NEW", "MID", "OLD"]
    assert ids("--since", "2024-03-01") == ["NEW", "MID"]
    assert ids("--cause", "mtu-mismatch") == ["MID", "OLD"]
    assert ids("--cause", "mtu-mismatch", "--since", "2024-03-01") == ["MID"]
    confirm(db, "NEW", "WEB-01", "firewall-blocked", {"firewall-blocked"})  # a confirmed cause
    assert ids("--cause", "firewall-blocked") == ["NEW"]
    bad = history("list", "--since", "last tuesday", db=url)
    assert bad.returncode == 2 and "not an ISO 8601 date" in bad.stderr


def test_analyze_record_shows_where_the_cause_was_seen_before(tmp_path: Path) -> None:
    db = str(tmp_path / "h.sqlite")
    history("add", "CASE-1", SEED, db=db)
    history("confirm", "CASE-1", "DidierTest01", "--cause", "mtu-mismatch", db=db)
    result = run_migdiag("analyze", SWITCH, "--record", "CASE-2", "--db", db, "-f", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    (seen,) = report["seen_before"]
    failed = next(m for m in report["migrations"] if m["outcome"] == "failed")
    assert seen["migration_id"] == failed["id"]
    assert seen["case_id"] == "CASE-1" and seen["where"] == "SRV1 -> SRV2"
    assert seen["confirmed_causes"] == ["mtu-mismatch"]
    # ... stored as it went, and not "seen before" in its own case
    assert "CASE-2" in history("list", db=db).stdout
    terminal = run_migdiag("analyze", SWITCH, "--record", "CASE-2", "--db", db)
    assert "seen before" in terminal.stdout and "in case CASE-1" in terminal.stdout
    plain = run_migdiag("analyze", SWITCH, "-f", "json")
    assert "seen_before" not in json.loads(plain.stdout)  # no database, nothing looked up


def test_hostile_names_are_data_not_sql_or_terminal_codes(tmp_path: Path) -> None:
    hostile = "VM'); DROP TABLE analyses;--\x1b[31m[bold]x"
    original = analysed(SEED)
    (result,) = original.results
    migration = replace(result.migration, vm_name=hostile)
    analysis = replace(original, results=(replace(result, migration=migration),))
    url = str(tmp_path / "h.sqlite")
    record_analysis(Database(url), "CASE-'1", [SEED], analysis)
    found = as_json(history("search", "--vm", hostile, "--format", "json", db=url))
    assert isinstance(found, list) and [m["vm"] for m in found] == [hostile]
    table = history("search", "--vm", hostile, db=url)
    assert table.returncode == 0 and "\x1b" not in table.stdout
    assert "CASE-'1" in table.stdout and "DROP TABLE analyses;--" in table.stdout
    assert "[bold]x" in table.stdout  # printed as text, not taken as markup


def test_triage_record_stores_every_case(tmp_path: Path) -> None:
    db = str(tmp_path / "h.sqlite")
    result = run_migdiag("triage", SEED, HEALTHY, "--record", "--db", db, "-q")
    assert result.returncode == 0, result.stderr
    listed = as_json(history("list", "--format", "json", db=db))
    assert isinstance(listed, list)
    assert {c["case_id"] for c in listed} == {"seed-mtu-reset", "healthy-drain"}


def test_other_commands_never_import_sqlalchemy(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from migdiag.cli import app\n"
        f"app(['analyze', {SEED!r}, '-f', 'json', '-o', {str(tmp_path / 'a.json')!r}],"
        " standalone_mode=False)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'alembic', "
        "'psycopg', 'platformdirs'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_database_file_is_private(tmp_path: Path) -> None:
    db = tmp_path / "new" / "h.sqlite"
    assert history("add", "CASE-1", SEED, db=str(db)).returncode == 0
    for path in [db, *tmp_path.glob("new/h.sqlite-*")]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    raw = db.read_bytes()
    assert b"Failed to send data" not in raw  # log contents are never stored


def test_default_database_lives_in_the_users_data_directory(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "HOME": str(tmp_path)}
    env_clean = {k: v for k, v in os.environ.items() if k != "MIGDIAG_DB"}
    result = subprocess.run(
        [sys.executable, "-m", "migdiag", "history", "add", "CASE-1", SEED],
        capture_output=True, text=True, env={**env_clean, **env},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "migdiag" / "history.sqlite").is_file()
    # MIGDIAG_DB chooses the database: add creates it there, and list reads it back.
    chosen = {"MIGDIAG_DB": str(tmp_path / "e.sqlite")}
    via_env = run_migdiag("history", "add", "CASE-2", SEED, env=chosen)
    assert via_env.returncode == 0 and (tmp_path / "e.sqlite").is_file(), via_env.stderr
    listed = run_migdiag("history", "list", env=chosen)
    assert listed.returncode == 0 and "CASE-2" in listed.stdout and "CASE-1" not in listed.stdout


ADDER = """
import sys
from migdiag.history import Database, record_analysis
from migdiag.api import analyze, Options
url, case, path = sys.argv[1:4]
analysis = analyze([path], Options(jobs=1))
sys.stdin.readline()  # all start writing together
record_analysis(Database(url), case, [path], analysis)
"""


def test_six_processes_adding_at_once_all_land(db_url: str) -> None:
    Database(db_url).close()  # an existing, empty history (a fresh one is tested below too)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", ADDER, db_url, f"CASE-{n}", SEED if n % 2 else SWITCH],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(6)
    ]
    outputs = [w.communicate("go\n", timeout=300) for w in writers]
    for writer, (_, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
        assert "database is locked" not in err
    listed = as_json(history("list", "--format", "json", db=db_url))
    assert isinstance(listed, list)
    assert sorted(c["case_id"] for c in listed) == [f"CASE-{n}" for n in range(6)]


def test_six_processes_creating_a_fresh_history_at_once(db_url: str) -> None:
    url = db_url  # nothing created yet: all six race to build the schema
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "migdiag", "history", "add", f"CASE-{n}", SEED, "--db", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(6)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    assert len(as_json(history("list", "--format", "json", db=url))) == 6  # type: ignore[arg-type]


def test_a_first_schema_database_is_upgraded_and_keeps_every_row(db_url: str) -> None:
    old = Database(db_url, upgrade_to="0001")
    record_analysis(old, "CASE-1", [SEED], analysed(SEED))
    record_analysis(old, "CASE-2", [HEALTHY], analysed(HEALTHY))
    with old.transaction() as conn:
        assert "note" not in {c["name"] for c in sa.inspect(conn).get_columns("confirmations")}
        conn.execute(
            sa.text(
                "INSERT INTO confirmations (case_id, vm, cause, confirmed_at) "
                "VALUES ('CASE-1', 'DidierTest01', 'mtu-mismatch', '2026-01-02 03:04:05')"
            )
        )
        before = {
            t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("analyses", "inputs", "case_migrations", "confirmations")
        }
    old.close()

    listed = as_json(history("list", "--format", "json", db=db_url))  # upgrades on open
    assert isinstance(listed, list) and {c["case_id"] for c in listed} == {"CASE-1", "CASE-2"}
    upgraded = Database(db_url)
    with upgraded.transaction() as conn:
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        after = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() for t in before}
    assert version == "0002" and after == before and all(before.values())
    detail = show_case(upgraded, "CASE-1")
    assert detail.confirmations[0].cause == "mtu-mismatch" and detail.confirmations[0].note is None
    confirm(upgraded, "CASE-1", "DidierTest01", "mtu-mismatch", {"mtu-mismatch"}, note="later")
    assert show_case(upgraded, "CASE-1").confirmations[-1].note == "later"


def test_the_known_head_is_the_newest_migration() -> None:
    from migdiag.history.database import HEAD, head_revision

    assert head_revision() == HEAD  # HEAD lets a current database open without Alembic


def test_migrations_build_exactly_the_schema_the_queries_use(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from migdiag.history.schema import metadata

    db = Database(db_url)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_a_newer_or_foreign_database_is_refused_in_one_line(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite"
    Database(str(newer)).close()
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    result = history("list", db=str(newer))
    assert result.returncode == 9
    assert "written by a newer migdiag (schema revision 0099)" in result.stderr
    assert result.stderr.count("\n") == 1

    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    result = history("list", db=str(foreign))
    assert result.returncode == 8 and "not a migdiag history database" in result.stderr

    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all" * 100)
    result = history("list", db=str(garbage))
    assert result.returncode == 8 and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_an_unreachable_server_is_one_line() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    result = history("list", db=f"postgresql+psycopg://someone:secret@127.0.0.1:{port}/desk")
    assert result.returncode == 8
    assert result.stderr.startswith("error: cannot open the history database")
    assert result.stderr.count("\n") == 1 and "secret" not in result.stderr


@pytest.mark.parametrize("command", [("list",), ("show", "CASE-1"), ("causes",), ("accuracy",)])
def test_a_read_on_a_mistyped_path_creates_nothing(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    missing = tmp_path / "no-such-folder" / "h.sqlite"
    result = history(*command, db=str(missing))
    assert result.returncode == 8, result.stderr
    assert result.stderr.startswith(f"error: no case history at {missing}")
    assert result.stderr.count("\n") == 1
    assert not missing.parent.exists()


def test_export_then_import_moves_a_desk_from_sqlite_to_postgresql(
    tmp_path: Path, new_pg_database: Callable[[], str]
) -> None:
    sqlite_url = str(tmp_path / "h.sqlite")
    db = Database(sqlite_url)
    record_analysis(db, "CASE-1", [SEED], analysed(SEED))
    record_analysis(db, "CASE-2", [HEALTHY], analysed(HEALTHY), clusters=["CL1"])
    confirm(db, "CASE-1", "DidierTest01", "mtu-mismatch", {"mtu-mismatch"}, note="MTU 9216")
    db.close()
    dump = tmp_path / "history.jsonl"
    assert history("export", "-o", str(dump), db=sqlite_url).returncode == 0

    pg_url = new_pg_database()
    imported = history("import", str(dump), db=pg_url)
    assert imported.returncode == 0, imported.stderr
    assert "imported 2 analyses and 1 confirmations" in imported.stdout
    again = history("import", str(dump), db=pg_url)
    assert "imported 0 analyses and 0 confirmations" in again.stdout
    for case in ("CASE-1", "CASE-2"):
        assert as_json(history("show", case, "--format", "json", db=pg_url)) == as_json(
            history("show", case, "--format", "json", db=sqlite_url)
        )
