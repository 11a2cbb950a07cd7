"""The data model's own contracts."""

from __future__ import annotations

import pickle
from dataclasses import fields

from common import populated_event
from migdiag.model import Event


def test_events_cross_processes_unchanged() -> None:
    # Event and Origin pickle through their constructors with the field values in order
    # (worker processes send events back that way): every field must survive, in place.
    event = populated_event()
    copy = pickle.loads(pickle.dumps(event, pickle.HIGHEST_PROTOCOL))
    for f in fields(Event):
        assert getattr(copy, f.name) == getattr(event, f.name), f.name
    assert copy == event and copy.origin == event.origin


def test_a_diagnosed_fleet_crosses_processes_unchanged() -> None:
    # Migrations, diagnoses, skews and drains pickle through their constructors too (forked
    # children send a group of hosts' analysis back that way): every field must survive,
    # the defaults and the nested values with them.
    from pathlib import Path

    from migdiag.api import Options, analyze
    from migdiag.model import Drain, Migration, MigrationResult

    samples = Path(__file__).resolve().parents[1] / "sample_logs"
    analysis = analyze([str(samples)], Options(jobs=1))
    assert analysis.results and analysis.drains and analysis.skews
    assert any(f.evidence for r in analysis.results for f in r.findings)
    for values in (analysis.results, analysis.drains, analysis.skews):
        assert pickle.loads(pickle.dumps(values, pickle.HIGHEST_PROTOCOL)) == values
    result = analysis.results[0]
    one: object
    for kind, one in ((MigrationResult, result), (Migration, result.migration)):
        copy = pickle.loads(pickle.dumps(one, pickle.HIGHEST_PROTOCOL))
        for f in fields(kind):
            assert getattr(copy, f.name) == getattr(one, f.name), f.name
    assert all(isinstance(d, Drain) for d in analysis.drains)
