"""A drain's logs and its hosts' snapshots together: the snapshots' VM memory sizes and link
facts reach the drain, so throughput is measured and the link-aware speed rules can speak
from the command line, not only from the Python API."""

from __future__ import annotations

from pathlib import Path

from ps_snapshots import host_snapshots, write_host

from migdiag.api import Options, analyze

ROOT = Path(__file__).resolve().parents[2]
DRAIN = ROOT / "sample_logs" / "healthy-drain"
VMS = ("SQL-01", "SQL-02", "WEB-01", "WEB-02", "WEB-03", "APP-01", "APP-02", "DC-01")


def _config(tmp_path: Path, **settings: object) -> Path:
    vms = tuple((name, "9.0", True) for name in VMS)
    for host in ("HV01", "HV02"):
        write_host(tmp_path, host, host_snapshots(host, vms=vms, **settings))  # type: ignore[arg-type]
    return tmp_path


def test_snapshot_memory_and_link_reach_the_drain(tmp_path: Path) -> None:
    config = _config(tmp_path, link_bits=25_000_000_000, performance=2, max_migrations=4)
    analysis = analyze([str(DRAIN), str(config)], Options(jobs=1))
    (drain,) = analysis.drains
    assert drain.facts.link_gbps == 25 and drain.facts.performance_option == "SMB"
    assert drain.facts.max_migrations == 4
    sized = {m.vm_name for m in drain.members if m.memory_bytes == 8589934592}
    assert sized == set(VMS)  # MON-01 and FILE-01 have no snapshot: no size is guessed
    assert all(m.memory_bytes is None for m in drain.members if m.vm_name not in VMS)


def test_without_snapshots_the_drain_knows_nothing_of_the_link(tmp_path: Path) -> None:
    (drain,) = analyze([str(DRAIN)], Options(jobs=1)).drains
    assert drain.facts.link_gbps is None
    assert all(m.memory_bytes is None for m in drain.members)


def test_what_the_caller_states_wins_over_the_snapshot(tmp_path: Path) -> None:
    config = _config(tmp_path)
    options = Options(jobs=1, vm_memory={"SQL-01": 1024})
    (drain,) = analyze([str(DRAIN), str(config)], options).drains
    (sql,) = [m for m in drain.members if m.vm_name == "SQL-01"]
    assert sql.memory_bytes == 1024
