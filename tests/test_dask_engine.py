"""The Dask engine gives exactly the local result, on a real LocalCluster over loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from migdiag import api
from migdiag.catalog import default_catalog
from migdiag.engines import read_with_dask
from migdiag.model import Event, Origin
from migdiag.read_input import read_source
from migdiag.readers.bundle import expand
from migdiag.report.json_report import render_json
from migdiag.report.options import RenderOptions
from migdiag.synth.evtx_writer import write_evtx

try:
    from distributed import LocalCluster
except ImportError:  # pragma: no cover - depends on the optional extra
    pytest.skip(
        "distributed is not installed (pip install 'migdiag[dask]')", allow_module_level=True
    )

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp://",  # a real TCP scheduler on loopback, as a remote one is reached
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        address: str = cluster.scheduler_address
        yield address


@pytest.fixture()
def inputs(tmp_path: Path) -> list[str]:
    # The sample sets, plus a System log mostly of unrelated records so that chunk skipping
    # runs on the workers too.
    start = datetime(2024, 5, 6, 7, 0, tzinfo=UTC)
    events = [
        Event(
            time=start + timedelta(seconds=n),
            host="HV07.example.org",
            channel="System",
            provider="Microsoft-Windows-FailoverClustering" if n % 1500 == 0 else "EventLog",
            event_id=1130 if n % 1500 == 0 else 6013,
            level=4,
            record_id=n,
            fields=(("", f"Cluster Network {n % 3}"),),
            message=None,
            origin=Origin(path="test", format="synth"),
        )
        for n in range(1, 5000)
    ]
    path = tmp_path / "HV07" / "System.evtx"
    path.parent.mkdir()
    path.write_bytes(write_evtx(events, default_catalog().provider_guids))
    return [str(SAMPLES), str(tmp_path)]


def test_file_results_are_those_of_the_local_read(scheduler: str, inputs: list[str]) -> None:
    catalog = default_catalog()
    options = api.Options(jobs=1)
    sources, refused = expand(inputs)
    assert not refused and len(sources) > 4
    local = [read_source(s, options.time, catalog, named=False) for s in sources]
    named: frozenset[str] = frozenset()
    assert read_with_dask(sources, options, catalog, scheduler, named) == local
    assert read_with_dask(sources, options, catalog, scheduler, named, ship=True) == local
    assert any(r.report.path.endswith("System.evtx") and r.events for r in local)


def test_analysis_is_byte_identical(
    scheduler: str, inputs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    render = RenderOptions()
    local = render_json(api.analyze(inputs, api.Options(jobs=1)), render)

    def on_dask(
        sources: Any, named: Any, options: api.Options, *_: Any
    ) -> Any:  # progress and the while-waiting hook are the local reader's business
        return read_with_dask(sources, options, default_catalog(), scheduler, named)

    # Until the CLI's --engine is wired into Options, route the read through the engine.
    monkeypatch.setattr(api, "_read_all", on_dask)
    assert render_json(api.analyze(inputs, api.Options(jobs=1)), render) == local
    assert json.loads(local)["migrations"]  # there is something to compare


def test_a_missing_file_is_that_file_s_error(scheduler: str, tmp_path: Path) -> None:
    from migdiag.readers import InputSource

    missing = InputSource(name="gone.evtx", path=tmp_path / "gone.evtx")
    [result] = read_with_dask([missing], api.Options(), default_catalog(), scheduler)
    assert result.report.error and not result.events
