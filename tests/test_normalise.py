"""Normalisation: one canonical form for channels, VM ids, hosts and error codes."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migdiag.api import Options, read_events
from migdiag.model import Event, Origin
from migdiag.normalise import (
    canonical_channel,
    canonical_vm_id,
    extract_error_codes,
    normalise_text,
    strip_resource_prefix,
)

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("forcibly closed by the remote host. (0x80072746).", ("0x80072746",)),
        ("failed to respond (0X8007274C)", ("0x8007274C",)),
        ("timeout period expired. (0x800705B4).", ("0x800705B4",)),
        ("No mapping between account names and security IDs was done 80070534", ("0x80070534",)),
        ("<ErrorMessage>%%2147942432</ErrorMessage>", ("0x80070020",)),
        ("HRESULT -2147024809", ("0x80070057",)),
        ("A cluster network is not available (0x000013AB)", ("0x000013AB",)),
        ("VMID 41EF2DB0-0C0A-12FE-25CB-C3330D937F27 at 20131008 and build 17763", ()),
    ],
)
def test_error_codes_in_every_logged_form(text: str, codes: tuple[str, ...]) -> None:
    assert extract_error_codes(text) == codes


def test_identity_forms() -> None:
    assert canonical_channel("Microsoft-Windows-Hyper-V-VMMS/Admin") == (
        "Microsoft-Windows-Hyper-V-VMMS-Admin"
    )
    assert canonical_vm_id("{e0d09432-a320-44cc-8a12-e1300549b99d}") == (
        "E0D09432-A320-44CC-8A12-E1300549B99D"
    )
    assert canonical_vm_id("E0D09432A32044CC8A12E1300549B99D") == (
        "E0D09432-A320-44CC-8A12-E1300549B99D"
    )
    assert strip_resource_prefix("Virtual Machine Configuration SQL-01") == "SQL-01"
    assert strip_resource_prefix("'SCVMM VM01'") == "VM01"
    assert normalise_text("isn't “VM1”  doesn't") == "is not 'vm1' does not"


def test_a_record_given_as_evtx_and_as_copy_as_text_counts_once(tmp_path: Path) -> None:
    evtx = SAMPLES / "seed-mtu-reset" / "SRV1" / "Microsoft-Windows-Hyper-V-VMMS-Admin.evtx"
    _, from_evtx, _ = read_events([str(evtx)], Options(jobs=1))
    first = next(e for e in from_evtx if e.event_id == 22038)
    # Event Viewer's "Copy details as text", times in UTC (offset +00:00), no Event Xml.
    block = (
        "Log Name:      Microsoft-Windows-Hyper-V-VMMS-Admin\n"
        "Source:        Microsoft-Windows-Hyper-V-VMMS\n"
        f"Date:          {first.time:%m/%d/%Y %I:%M:%S %p}\n"
        "Event ID:      22038\n"
        "Task Category: None\n"
        "Level:         Error\n"
        "Keywords:      \n"
        "User:          SYSTEM\n"
        f"Computer:      {first.host}\n"
        "Description:\n"
        f"{first.message}\n"
    )
    text = tmp_path / "pasted.txt"
    text.write_text(block, encoding="utf-8")
    _, both, _ = read_events([str(evtx), str(text)], Options(jobs=1))
    assert len(both) == len(from_evtx)


def test_normalise_keeps_every_field_it_does_not_derive() -> None:
    # normalise builds the event field by field (faster than dataclasses.replace): a field
    # added to Event later must not be dropped on the way.
    from dataclasses import fields

    from common import populated_event
    from migdiag.catalog import default_catalog
    from migdiag.model import Event
    from migdiag.normalise import normalise

    raw = populated_event()
    derived = {"channel", "message", "vm_name", "vm_id", "peer_host", "error_codes"}
    derived.add("message_from_input")
    done = normalise(raw, default_catalog())
    for f in fields(Event):
        if f.name not in derived:
            assert getattr(done, f.name) == getattr(raw, f.name), f.name
    assert done.channel == "Microsoft-Windows-Hyper-V-VMMS-Admin"
    assert done.error_codes == ("0x80072746",)


# Texts near the quoted-name phrases: their words in any case, the letters case-blind
# matching treats specially (dotless and dotted I, long S, Kelvin sign), quotes and noise.
_PIECES = st.sampled_from(
    [
        "Destination host",
        "DESTINATION NODE",
        "with HOST",
        "to cluster node",
        "migration destination",
        "Virtual Machine",
        "Live migration of",
        "migration operation for",
        "destınatıon host",
        "DESTİNATİON host",
        "ſ",
        "K",
        "virtual machıne",
        " ",
        "\t",
        "'",
        '"',
        "“",
        "”",
        "HV02",
        "VM-1",
        "failed",
        "ß",
        "DeStInAtIoN HoSt",
        "Live Migration Of",
        "\x1c",  # ASCII, and whitespace to the patterns
        "Vm-Ǆ",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=8).map("".join))
def test_quoted_names_are_found_as_by_the_case_blind_search(text: str) -> None:
    # The phrase pre-check (a lower-cased text without the phrases is not searched) must give
    # the search's answer for every text, or a VM or peer host would go missing.
    # ASCII text is searched lower-cased and case-sensitively: the same answer, the name
    # with its own case.
    from migdiag import normalise

    for quoted in (normalise._QUOTED_HOST, normalise._QUOTED_VM):
        found = quoted.pattern.search(text)
        expected = found.group(1) if found else None
        assert quoted.find(text, normalise.ascii_lowered(text)) == expected
        assert quoted.find(text, None) == expected  # the general path, for any text


def _rendered_by_substitution(template: str, event: Event) -> str:
    """The oracle: the substitution the cut-once templates replaced."""

    def sub(m: re.Match[str]) -> str:
        value = event.param(int(m.group(1)))
        return value if value is not None else m.group(0)

    return re.sub(r"(?<!%)%(\d+)", sub, template)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(["%1", "%2", "%10", "%01", "%%1", "%%%2", "%", "%x", " ", "VM", "é"])
    ).map("".join),
    st.lists(st.sampled_from(["", "HV02", "%1", "a%2b", "\\1"]), max_size=3),
)
def test_templates_are_filled_as_by_substitution(template: str, values: list[str]) -> None:
    # Every kept EVTX record's text is made so: a payload value, a missing one, an escaped
    # percent and a value that looks like an insertion itself.
    from migdiag.normalise import render_template

    event = Event(
        time=datetime(2024, 3, 4, tzinfo=UTC),
        host="HV01",
        channel="System",
        provider="p",
        event_id=1,
        level=4,
        record_id=None,
        fields=tuple((f"Parameter{i}", v) for i, v in enumerate(values)),
        message=None,
        origin=Origin(path="x", format="evtx"),
    )
    assert render_template(template, event) == _rendered_by_substitution(template, event)


def _specs() -> list[tuple[str, int]]:
    from migdiag.catalog import default_catalog

    return sorted(default_catalog().events)


@settings(max_examples=400, deadline=None)
@given(
    spec_key=st.sampled_from(_specs()),
    provider=st.sampled_from(
        ["Microsoft-Windows-Hyper-V-VMMS", "MICROSOFT-WINDOWS-HYPER-V-WORKER", "vmsmp", None]
    ),
    names=st.lists(
        st.sampled_from(
            ["Parameter0", "Parameter1", "Parameter2", "VmName", "VmId", "Name", "", "x"]
        ),
        max_size=6,
    ),
    values=st.lists(st.text(max_size=5), min_size=6, max_size=6),
)
def test_roles_are_read_as_the_rule_reads_them(
    spec_key: tuple[str, int], provider: str | None, names: list[str], values: list[str]
) -> None:
    # role_values reads each role by an index planned once per payload shape; the plan must
    # give what _role_value gives, for every spec, provider spelling and payload shape, and
    # a plan made for one spec must never serve another (a user's catalog, a reload).
    from migdiag.catalog import default_catalog
    from migdiag.normalise import ROLES, _role_value, role_values

    spec = default_catalog().events[spec_key]
    event = Event(
        time=datetime(2024, 3, 4, tzinfo=UTC),
        host="HV01",
        channel="System",
        provider=provider or spec_key[0],
        event_id=spec_key[1],
        level=2,
        record_id=1,
        fields=tuple(zip(names, values, strict=False)),
        message=None,
        origin=Origin(path="t", format="evtx"),
    )
    expected = tuple(_role_value(event, spec, role) for role in ROLES)
    assert role_values(event, spec) == expected
    assert role_values(event, spec) == expected  # planned, then served from the plan
    # The same payload from a Hyper-V provider and from another: named payloads are read
    # by position only outside Hyper-V, so a plan must not pass from one to the other.
    for spelling in ("Microsoft-Windows-Hyper-V-VMMS", "vmsmp"):
        respelt = replace(event, provider=spelling)
        assert role_values(respelt, spec) == tuple(_role_value(respelt, spec, r) for r in ROLES)
    other = default_catalog().events[_specs()[0]]
    assert role_values(event, other) == tuple(_role_value(event, other, r) for r in ROLES)
