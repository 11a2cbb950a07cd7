"""Same inputs, same bytes; inputs never written; no network at run time."""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from migdiag.api import Options, analyze
from migdiag.report import RENDERERS, RenderOptions

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_logs"
DATA = ROOT / "tests" / "readers" / "data"
FIXED = RenderOptions(width=100, color=False, now=None)


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Two scenarios' EVTX, every text export, and a zip of some of them."""
    root = tmp_path_factory.mktemp("case")
    shutil.copytree(SAMPLES / "seed-mtu-reset", root / "seed")
    shutil.copytree(SAMPLES / "switch-mtu-timeout", root / "switch")
    shutil.copytree(DATA, root / "exports")
    shutil.make_archive(str(root / "bundle"), "zip", SAMPLES / "healthy-drain")
    return sorted(str(p) for p in root.iterdir())


def _hashes(paths: list[str]) -> dict[str, tuple[str, int]]:
    out = {}
    for top in paths:
        for path in [Path(top), *Path(top).rglob("*")] if Path(top).is_dir() else [Path(top)]:
            if path.is_file():
                stat = path.stat()
                out[str(path)] = (hashlib.sha256(path.read_bytes()).hexdigest(), stat.st_mtime_ns)
    return out


def test_any_order_and_any_jobs_give_byte_identical_json(case: list[str]) -> None:
    outputs = set()
    for order, jobs in zip(itertools.permutations(case), (1, 2, 2, 1, 2, 1), strict=False):
        analysis = analyze(list(order), Options(jobs=jobs))
        outputs.add(RENDERERS["json"](analysis, FIXED))
    assert len(outputs) == 1
    assert '"migrations": []' not in next(iter(outputs))


def test_inputs_are_never_written(case: list[str], tmp_path: Path) -> None:
    before = _hashes(case)
    analysis = analyze(case, Options(jobs=2))
    for fmt in RENDERERS:
        RENDERERS[fmt](analysis, FIXED)
    assert _hashes(case) == before  # contents and modification times
    assert set(before) == set(_hashes(case))  # nothing added beside them


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("network access attempted")


def test_no_network_at_run_time(case: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("connect", "connect_ex", "sendto", "bind"):
        monkeypatch.setattr(socket.socket, name, _refuse)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    monkeypatch.setattr(socket, "gethostbyname", _refuse)
    # jobs=1 reads here; jobs=2 in forked workers, which inherit the patches.
    for jobs in (1, 2):
        analysis = analyze(case, Options(jobs=jobs))
        for fmt in RENDERERS:
            RENDERERS[fmt](analysis, FIXED)
        assert all(r.error is None or "network" not in r.error for r in analysis.inputs)
    assert os.environ.get("NO_PROXY") == os.environ.get("NO_PROXY")
