"""The data model's own contracts."""

from __future__ import annotations

import pickle
from dataclasses import fields
from datetime import UTC, datetime

from migdiag.model import Event, Origin


def test_events_cross_processes_unchanged() -> None:
    # Event and Origin pickle through their constructors with the field values in order
    # (worker processes send events back that way): every field must survive, in place.
    event = Event(
        time=datetime(2024, 3, 4, 8, 0, 5, 200000, tzinfo=UTC),
        host="HV01.fleet.example",
        channel="Microsoft-Windows-Hyper-V-VMMS-Admin",
        provider="Microsoft-Windows-Hyper-V-VMMS",
        event_id=21024,
        level=2,
        record_id=17,
        fields=(("VmName", "VM1"), ("", "unnamed")),
        message="failed (0x80072746)",
        origin=Origin(path="a.zip!HV01/x.evtx", format="evtx", record=17, offset=69632),
        vm_name="VM1",
        vm_id="41EF2DB0-0C0A-12FE-25CB-C3330D937F27",
        peer_host="HV02",
        error_codes=("0x80072746",),
        message_from_input=True,
        time_assumed=True,
    )
    copy = pickle.loads(pickle.dumps(event, pickle.HIGHEST_PROTOCOL))
    for f in fields(Event):
        assert getattr(copy, f.name) == getattr(event, f.name), f.name
    assert copy == event and copy.origin == event.origin
