"""Checks and fixes name this migration's hosts and VM, but never paste hostile log text
into a command an engineer will run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from migdiag.diagnose.rank import fill_placeholders
from migdiag.model import Migration, Outcome


def migration(vm: str, destination: str = "HV02") -> Migration:
    t = datetime(2024, 5, 14, 9, 0, tzinfo=UTC)
    return Migration(
        id="m-test",
        vm_name=vm,
        vm_id=None,
        source="HV01",
        destination=destination,
        source_fqdn="HV01.corp.example",
        destination_fqdn=f"{destination}.corp.example",
        outcome=Outcome.FAILED,
        started=t,
        ended=t,
        blackout_s=None,
        events=(),
        corrected_times=(),
    )


def test_known_values_are_filled_in() -> None:
    text = (
        "Test-NetConnection <destination> -Port 6600; "
        "Compare-VM -Name <vm> -DestinationHost <destination FQDN>"
    )
    assert fill_placeholders(text, migration("SQL 01")) == (
        "Test-NetConnection HV02 -Port 6600; "
        "Compare-VM -Name 'SQL 01' -DestinationHost HV02.corp.example"
    )
    # What the logs cannot tell stays a placeholder.
    assert fill_placeholders("ping -f -l 8972 <destination migration IP>", migration("x")) == (
        "ping -f -l 8972 <destination migration IP>"
    )


@pytest.mark.parametrize(
    "vm",
    ["x'; Remove-Item C:\\ -Recurse; '", "vm$(calc)", "a`b", "vm | Stop-VM", 'q"q', "a\nb"],
)
def test_hostile_vm_names_are_never_pasted_into_commands(vm: str) -> None:
    assert fill_placeholders("Compare-VM -Name <vm>", migration(vm)) == "Compare-VM -Name <vm>"


def test_hostile_host_names_are_never_pasted_into_commands() -> None:
    hostile = migration("vm1", destination="HV02;calc")
    assert fill_placeholders("Test-NetConnection <destination>", hostile) == (
        "Test-NetConnection <destination>"
    )
