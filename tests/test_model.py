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


def _stored_by_slots_classes() -> list[type]:
    import dataclasses

    from migdiag import model

    classes = [k for k in vars(model).values() if isinstance(k, type)]
    return [
        k
        for k in classes
        if dataclasses.is_dataclass(k)
        and "_store_" in " ".join(vars(k)["__init__"].__code__.co_names)
    ]


def test_fast_constructors_take_the_dataclass_signature_and_stay_frozen() -> None:
    # Event and the values that cross processes get an __init__ that stores through the
    # slots (model._stored_by_slots): it must take what the dataclass's took, by position,
    # keyword and default, and build the same frozen value.
    import dataclasses
    import inspect

    from migdiag import model

    fast = _stored_by_slots_classes()
    assert {model.Event, model.Origin, model.Migration, model.MigrationResult} <= set(fast)
    for kind in fast:
        params = list(inspect.signature(kind).parameters.values())
        assert [p.name for p in params] == [f.name for f in dataclasses.fields(kind)], kind
        for p, f in zip(params, dataclasses.fields(kind), strict=True):
            expected = inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
            assert p.default == expected, (kind, f.name)
            assert p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD

    event = populated_event()
    values = [getattr(event, f.name) for f in fields(Event)]
    # What the dataclass's own __init__ does: object.__setattr__ past the frozen guard.
    reference = object.__new__(Event)
    for f, value in zip(fields(Event), values, strict=True):
        object.__setattr__(reference, f.name, value)
    by_position = Event(*values)
    for built in (event, by_position):
        assert built == reference and hash(built) == hash(reference)
        assert repr(built) == repr(reference)
    bare = Event(*values[:10])  # every field with a default left out
    for f in fields(Event)[10:]:
        assert getattr(bare, f.name) == f.default, f.name
    for name in ("host", "vm_name", "thread_id"):
        try:
            setattr(event, name, "changed")
        except dataclasses.FrozenInstanceError:
            pass
        else:
            raise AssertionError(f"Event.{name} could be assigned")
    assert event.host == "HV01.fleet.example"


def test_fast_constructors_refuse_what_they_cannot_build() -> None:
    # A default factory or __post_init__ would be skipped silently by a plain store: refused.
    import dataclasses

    import pytest

    from migdiag.model import _stored_by_slots

    @dataclasses.dataclass(frozen=True, slots=True)
    class Made:
        items: tuple[int, ...] = dataclasses.field(default_factory=tuple)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        value: int

        def __post_init__(self) -> None:
            pass

    for kind in (Made, Checked):
        with pytest.raises(TypeError):
            _stored_by_slots(kind)
