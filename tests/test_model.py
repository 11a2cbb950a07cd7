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
