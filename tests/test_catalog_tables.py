"""The catalog is Windows' own: templates equal the message tables, keys are (provider, id).

Windows' message tables live beside the repository in ../shared/reference/message-tables
(their README names the source); the tests that read them skip when they are absent.  The
package itself never needs them: data/windows/*.json is generated from them and shipped.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
import yaml

from migdiag import windows_tables
from migdiag.api import Options, analyze
from migdiag.catalog import shipped_catalog
from migdiag.diagnose.cases import case_files
from migdiag.model import Analysis, Event, Origin
from migdiag.normalise import normalise
from migdiag.synth import write_events
from migdiag.synth.scenario import expand, failure_modes, parse_scenario

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT.parent / "shared" / "reference" / "message-tables"
needs_tables = pytest.mark.skipif(
    not TABLES.is_dir(), reason=f"Windows' message tables not found at {TABLES}"
)
CASES = ROOT / "tests" / "signatures"
SCENARIOS = sorted(CASES.glob("*/*.yaml")) + sorted((ROOT / "sample_logs").glob("*/scenario.yaml"))
VMMS = "Microsoft-Windows-Hyper-V-VMMS"
HA = "Microsoft-Windows-Hyper-V-High-Availability"


def _table(os_key: str, provider: str) -> dict[int, str]:
    path = TABLES / f"{os_key}--{provider}.tsv"
    if not path.is_file():
        return {}
    rows = path.read_text(encoding="utf-8").split("\n")[1:]
    return {int(k): v for k, _, v in (r.partition("\t") for r in rows if r)}


@needs_tables
def test_every_catalog_template_is_the_tables_string_for_its_provider_and_id() -> None:
    for (provider, event_id), spec in shipped_catalog().events.items():
        real = _table("ws2012r2", spec.provider).get(event_id)
        if spec.verified:
            assert spec.template == real, f"{spec.provider} {event_id}: {spec.template!r}"
        else:  # a guess is allowed only where no table holds the event
            defined = [o for o in windows_tables.OS_ORDER if event_id in _table(o, spec.provider)]
            assert not defined, f"{spec.provider} {event_id} is in {defined}: use Windows' text"
            assert "no table" in spec.source, spec
        assert provider == spec.provider.lower()


@needs_tables
def test_spacing_and_case_are_windows_own() -> None:
    catalog = shipped_catalog()
    for event_id in (20413, 20415, 20417):
        template = catalog.spec(VMMS, event_id).template  # type: ignore[union-attr]
        assert "virtual machine  '%1'" in template  # two spaces, as Windows has them
        assert template == _table("ws2012r2", VMMS)[event_id]
    assert "Management service initiated" in catalog.spec(VMMS, 20413).template  # type: ignore[union-attr]


@needs_tables
def test_shipped_templates_are_what_the_script_generates_from_the_tables() -> None:
    spec = importlib.util.spec_from_file_location(
        "generate_templates", ROOT / "scripts" / "generate_templates.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, text in module.documents(TABLES).items():
        shipped = ROOT / "src" / "migdiag" / "data" / "windows" / name
        assert shipped.read_text(encoding="utf-8") == text, f"re-run scripts/{spec.name}.py"


def test_verified_templates_equal_the_shipped_tables_without_the_reference() -> None:
    for spec in shipped_catalog().events.values():
        if spec.verified:
            assert windows_tables.template(spec.provider, spec.event_id) == spec.template
    assert "WELM" in windows_tables.source()


def test_no_catalog_entry_and_no_lookup_is_keyed_by_id_alone() -> None:
    catalog = shipped_catalog()
    providers = {p.lower() for p in catalog.providers.values()}
    for key, spec in catalog.events.items():
        assert isinstance(key, tuple) and key[0] in providers and key[1] == spec.event_id
        for follows in spec.follows:
            assert follows[0] in providers and isinstance(follows[1], int), spec
    raw = yaml.safe_load((ROOT / "src/migdiag/data/catalog.yaml").read_text(encoding="utf-8"))
    assert all(entry.get("provider") for entry in raw["events"])
    # No code compares a bare event id: ids collide across providers.
    bare = re.compile(r"event_id\s*(==|!=|in\s*[\(\[\{]|in\s+[A-Z_]+_IDS)|\b[A-Z_]+_IDS\s*=")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "src" / "migdiag").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if bare.search(line)
    ]
    assert not offenders, "\n".join(offenders)


def _event(provider: str, event_id: int, *values: str) -> Event:
    from datetime import UTC, datetime

    return Event(
        time=datetime(2024, 3, 1, 9, 0, tzinfo=UTC),
        host="HV01.corp.example",
        channel="x",
        provider=provider,
        event_id=event_id,
        level=2,
        record_id=1,
        fields=tuple((f"Parameter{i}", v) for i, v in enumerate(values)),
        message=None,
        origin=Origin(path="t.evtx", format="evtx"),
    )


def test_an_event_migdiag_has_no_semantics_for_renders_with_windows_text() -> None:
    catalog = shipped_catalog()
    assert catalog.spec(VMMS, 20120) is None
    event = normalise(_event(VMMS, 20120, "VM1", "5B1C9E2A-3D4F-4A6B-8C7D-9E0F1A2B3C4D"), catalog)
    assert (
        event.message
        == "'VM1' failed to migrate. (Virtual machine ID 5B1C9E2A-3D4F-4A6B-8C7D-9E0F1A2B3C4D)"
    )
    worker = normalise(_event("Microsoft-Windows-Hyper-V-Worker", 21102, "VM1", "id"), catalog)
    assert (
        worker.message == "'VM1' could not recover from migration failure. (Virtual machine ID id)"
    )


def test_2008_r2_records_render_with_the_text_that_fits_and_say_which_table() -> None:
    catalog = shipped_catalog()
    old = normalise(_event(HA, 21502, "Virtual Machine VM1", "Live migration failed."), catalog)
    assert old.message == (
        "Live migration failed. [text from the Windows Server 2008 R2 message table]"
    )
    new = normalise(
        _event(HA, 21502, "Virtual Machine VM1", "id", "Live migration failed."), catalog
    )
    assert new.message == "Live migration failed."
    only_old = normalise(_event(VMMS, 22016, "Access is denied.", "0x80070005"), catalog)
    assert only_old.message is not None and only_old.message.startswith(
        "Failed to setup the network server: Access is denied. (0x80070005) for live migration."
    )
    assert "2008 R2" in only_old.message


# -- scenarios write only what Windows defines ------------------------------------------------


def _allowed_beyond_tables(data: dict[str, Any]) -> set[tuple[str, int]]:
    """(provider, id) a scenario or failure mode marks as deliberately outside the tables."""
    allowed: set[tuple[str, int]] = set()
    catalog = shipped_catalog()
    for mode in failure_modes().values():
        for event in mode.get("events") or ():
            if event.get("beyond_tables"):
                log = "cluster" if event["log"] == "system" else event["log"]
                allowed.add((catalog.providers[log].lower(), int(event["id"])))
    for step in data.get("steps") or ():
        body = step.get("event") if isinstance(step, dict) else None
        if body and body.get("beyond_tables"):
            allowed.add((str(body["provider"]).lower(), int(body["id"])))
    return allowed


def undefined_ids(data: dict[str, Any], name: str) -> list[str]:
    allowed = _allowed_beyond_tables(data)
    return sorted(
        {
            f"{e.provider} {e.event_id}"
            for e in expand(parse_scenario(data, name))
            if not windows_tables.tables_defining(e.provider, e.event_id)
            and (e.provider.lower(), e.event_id) not in allowed
        }
    )


def _failure_mode_scenario(mode: str) -> dict[str, Any]:
    return {
        "name": f"mode-{mode}",
        "start": "2024-03-01T09:00:00Z",
        "hosts": [{"name": "HV01"}, {"name": "HV02"}],
        "vms": [{"name": "APP01", "id": "5B1C9E2A-3D4F-4A6B-8C7D-9E0F1A2B3C4D"}],
        "steps": [{"migrate": {"vm": "APP01", "from": "HV01", "to": "HV02", "failure": mode}}],
    }


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_scenarios_write_only_ids_windows_tables_define(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert undefined_ids(data, str(path)) == []


@pytest.mark.parametrize("mode", sorted(failure_modes()))
def test_failure_modes_write_only_ids_windows_tables_define(mode: str) -> None:
    assert undefined_ids(_failure_mode_scenario(mode), mode) == []


def test_an_invented_id_is_caught_unless_marked() -> None:
    data = _failure_mode_scenario("receive-timeout")
    event = {"host": "HV02", "log": "vmms", "provider": VMMS, "id": 10698, "fields": ["x"]}
    data["steps"].append({"event": event})
    assert undefined_ids(data, "invented") == [f"{VMMS} 10698"]
    event["beyond_tables"] = "a newer build's event, on purpose"
    assert undefined_ids(data, "invented") == []


# -- signatures fire on EVTX that carries no rendered text ------------------------------------

EVENT_NS = "http://schemas.microsoft.com/win/2004/08/events/event"
VML_NS = "http://www.microsoft.com/Windows/Virtualization/Events"


def _eventviewer_xml(events: list[Event]) -> bytes:
    """Event Viewer's XML export, with the text Windows renders in RenderingInfo."""
    catalog = shipped_catalog()
    parts = ["<?xml version='1.0' encoding='utf-8'?>\n<Events>"]
    for e in events:
        message = normalise(e, catalog).message or ""
        ms = e.time.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
        parts.append(
            f"<Event xmlns='{EVENT_NS}'><System><Provider Name='{e.provider}'/>"
            f"<EventID>{e.event_id}</EventID><Level>{e.level}</Level>"
            f"<TimeCreated SystemTime='{ms}'/><EventRecordID>{e.record_id}</EventRecordID>"
            f"<Channel>{escape(e.channel)}</Channel><Computer>{escape(e.host)}</Computer></System>"
        )
        if e.provider.startswith("Microsoft-Windows-Hyper-V"):
            parts.append(f"<UserData><VmlEventLog xmlns='{VML_NS}'>")
            parts.extend(f"<{n}>{escape(v)}</{n}>" for n, v in e.fields)
            parts.append("</VmlEventLog></UserData>")
        else:
            parts.append("<EventData>")
            parts.extend(f"<Data>{escape(v)}</Data>" for _, v in e.fields)
            parts.append("</EventData>")
        parts.append(f"<RenderingInfo Culture='en-US'><Message>{escape(message)}</Message>")
        parts.append("</RenderingInfo></Event>")
    parts.append("</Events>")
    return "".join(parts).encode("utf-8")


def _diagnoses(analysis: Analysis) -> list[tuple[Any, ...]]:
    return sorted(
        (
            r.migration.vm_name,
            r.migration.outcome.value,
            tuple(f.signature_id for f in r.findings),
            tuple(
                sorted(
                    f"{ev.event.short_host}:{ev.event.event_id}" for ev in r.findings[0].evidence
                )
            )
            if r.findings
            else (),
        )
        for r in analysis.results
    )


@pytest.mark.parametrize("path", case_files(CASES), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_signature_case_diagnoses_the_same_from_evtx_as_from_rendered_xml(
    path: Path, tmp_path: Path
) -> None:
    events = expand(parse_scenario(yaml.safe_load(path.read_text(encoding="utf-8")), str(path)))
    assert all(e.message is None for e in events)
    evtx = write_events(events, tmp_path / "evtx")
    xml = tmp_path / "xml" / "export.xml"
    xml.parent.mkdir()
    xml.write_bytes(_eventviewer_xml(events))
    from_evtx = analyze([str(p) for p in evtx], Options(jobs=1))
    from_xml = analyze([str(xml)], Options(jobs=1))
    assert all(not e.message_from_input for r in from_evtx.results for e in r.migration.events)
    assert all(e.message_from_input for r in from_xml.results for e in r.migration.events)
    assert _diagnoses(from_evtx) == _diagnoses(from_xml)
    assert _diagnoses(from_evtx), "the case holds no migration"
    expected = yaml.safe_load(path.read_text(encoding="utf-8"))["expect"]
    signature = expected.get("signature", path.parent.name)
    if path.stem.startswith("positive") and expected.get("matches", True):
        assert any(signature in d[2] for d in _diagnoses(from_evtx)), _diagnoses(from_evtx)


def test_events_that_name_no_vm_never_fail_a_healthy_migration_and_a_cancel_is_no_failure() -> None:
    from migdiag.correlate import correlate
    from migdiag.model import Outcome

    data = _failure_mode_scenario("receive-timeout")
    data["steps"] = [
        {"migrate": {"vm": "APP01", "from": "HV01", "to": "HV02", "at": 0, "duration_s": 20}},
        # Logged on the destination mid-migration for other reasons (a VM start-up, a
        # placement check): evidence, not this attempt's outcome.
        {
            "event": {
                "host": "HV02",
                "log": "vmms",
                "provider": VMMS,
                "id": 33012,
                "at": 8,
                "level": 2,
                "fields": ["External"],
            }
        },
        {
            "event": {
                "host": "HV02",
                "log": "vmms",
                "provider": VMMS,
                "id": 25004,
                "at": 9,
                "level": 2,
                "fields": ["HV02", "HV03"],
            }
        },
        {
            "event": {
                "host": "HV02",
                "log": "worker",
                "provider": "Microsoft-Windows-Hyper-V-Worker",
                "channel": "Microsoft-Windows-Hyper-V-Worker-Admin",
                "id": 3110,
                "at": 10,
                "level": 2,
                "fields": ["Insufficient system resources", "0x800705AA"],
            }
        },
    ]
    catalog = shipped_catalog()
    events = [normalise(e, catalog) for e in expand(parse_scenario(data, "healthy"))]
    [migration] = correlate(events, catalog).migrations
    assert migration.outcome is Outcome.SUCCEEDED

    data["steps"] = [
        {
            "event": {
                "host": "HV01",
                "log": "vmms",
                "provider": VMMS,
                "id": 20413,
                "at": 0,
                "fields": ["APP01", "5B1C9E2A-3D4F-4A6B-8C7D-9E0F1A2B3C4D", "HV02"],
            }
        },
        {
            "event": {
                "host": "HV01",
                "log": "vmms",
                "provider": VMMS,
                "id": 21014,
                "at": 5,
                "fields": ["APP01", "5B1C9E2A-3D4F-4A6B-8C7D-9E0F1A2B3C4D"],
            }
        },
    ]
    events = [normalise(e, catalog) for e in expand(parse_scenario(data, "cancelled"))]
    [migration] = correlate(events, catalog).migrations
    assert migration.outcome is not Outcome.FAILED
    assert "canceled" in (migration.events[-1].message or "")
