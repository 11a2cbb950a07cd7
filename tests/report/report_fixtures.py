"""Analyses built by hand from synth scenarios, so the renderers are tested on their own.

Correlation and diagnosis land in parallel; here a ``Migration`` is assembled directly from
one scenario's events (one migrate step per scenario) and the ``Finding`` is written by
hand.  See ``tests/report/golden/README.md`` for how the golden files are regenerated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from migdiag.catalog import default_catalog
from migdiag.model import (
    Analysis,
    ConfigEvidence,
    ConfigFinding,
    ConfigurationReport,
    Edge,
    Event,
    Evidence,
    Finding,
    InputReport,
    Migration,
    MigrationResult,
    Outcome,
    Phase,
    SkewEstimate,
)
from migdiag.normalise import normalise
from migdiag.report import RenderOptions
from migdiag.synth.scenario import Scenario, expand, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "sample_logs" / "seed-mtu-reset" / "scenario.yaml"
FIXED_NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PLAIN = RenderOptions(width=100, color=False, now=FIXED_NOW)

SLOW_SCENARIO: dict[str, Any] = {
    "name": "slow-blackout",
    "description": "A drain in which one VM's blackout is unexpectedly long; SRV2 runs 2 s fast.",
    "start": "2013-10-08T09:00:00Z",
    "hosts": [
        {"name": "SRV1", "fqdn": "SRV1.BLOG.COM"},
        {"name": "SRV2", "fqdn": "SRV2.BLOG.COM", "clock_offset_s": 2.0},
    ],
    "vms": [{"name": "WebApp02", "id": "0F4A7C1E-3B2D-4E5F-8A9B-0C1D2E3F4A5B", "memory_gb": 4}],
    "steps": [
        {
            "migrate": {
                "vm": "WebApp02",
                "from": "SRV2",
                "to": "SRV1",
                "at": 5,
                "duration_s": 30,
                "blackout_s": 12.5,
            }
        }
    ],
}
UNKNOWN_SCENARIO: dict[str, Any] = {
    "name": "unknown-failure",
    "description": "A failure no hand-written finding explains (processor incompatibility).",
    "start": "2013-10-08T10:00:00Z",
    "hosts": [{"name": "SRV1", "fqdn": "SRV1.BLOG.COM"}, {"name": "SRV3", "fqdn": "SRV3.BLOG.COM"}],
    "vms": [{"name": "Sql01", "id": "9B3C1D2E-4F5A-6B7C-8D9E-0F1A2B3C4D5E", "memory_gb": 16}],
    "steps": [
        {
            "migrate": {
                "vm": "Sql01",
                "from": "SRV1",
                "to": "SRV3",
                "at": 0,
                "failure": "processor-incompatible",
            }
        }
    ],
}
HEALTHY_SCENARIO: dict[str, Any] = {
    "name": "healthy",
    "description": "One quick, clean migration.",
    "start": "2013-10-08T11:00:00Z",
    "hosts": [{"name": "SRV1", "fqdn": "SRV1.BLOG.COM"}, {"name": "SRV2", "fqdn": "SRV2.BLOG.COM"}],
    "vms": [{"name": "Dc01", "id": "1A2B3C4D-5E6F-4A8B-9C0D-1E2F3A4B5C6D", "memory_gb": 2}],
    "steps": [{"migrate": {"vm": "Dc01", "from": "SRV1", "to": "SRV2", "at": 1}}],
}


def mtu_finding(evidence: Sequence[Event]) -> Finding:
    return Finding(
        signature_id="mtu-mismatch",
        cause="network.mtu",
        title="Jumbo frame size differs along the migration path",
        severity="high",
        confidence=0.82,
        evidence=tuple(
            Evidence(e, "connection reset (0x80072746) during memory transfer") for e in evidence
        ),
        explanation="The source's send failed with a reset while the destination was receiving.",
        checks=("ping -f -l 8972 SRV2 from SRV1 on the migration network",),
        remediation=("Set the same jumbo frame size on every NIC and switch port on the path.",),
        differential=("A firewall or IPS resetting the connection: check its logs.",),
        references=("https://learn.microsoft.com/troubleshoot/windows-server/",),
    )


def long_blackout_finding(evidence: Sequence[Event]) -> Finding:
    return Finding(
        signature_id="long-blackout",
        cause="performance.blackout",
        title="Blackout longer than expected",
        severity="medium",
        confidence=0.6,
        evidence=tuple(Evidence(e, "VMMS reports an unexpectedly long blackout") for e in evidence),
        explanation="The VM was paused for longer than the cluster's threshold.",
        checks=("Compare the memory dirty rate with the migration network's bandwidth.",),
        remediation=("Use SMB Direct or compression for live migration.",),
    )


def _scenario_parts(scenario: Scenario) -> tuple[Mapping[str, Any], list[Event]]:
    step = next(s["migrate"] for s in scenario.steps if "migrate" in s)
    catalog = default_catalog()
    return step, [normalise(e, catalog) for e in expand(scenario, catalog)]


def build_result(
    scenario: Scenario, finder: Any = None, cite: Sequence[int] = ()
) -> MigrationResult:
    """One migration from a one-attempt scenario; ``finder(events)`` builds its finding from
    the events whose ids are in ``cite``."""
    step, events = _scenario_parts(scenario)
    offsets = {h.fqdn: h.clock_offset_s for h in scenario.hosts}
    fqdn = {h.name: h.fqdn for h in scenario.hosts}
    pairs = sorted(
        ((e.time - timedelta(seconds=offsets[e.host]), e) for e in events),
        key=lambda p: (p[0], p[1].host, p[1].event_id),
    )
    times = tuple(t for t, _ in pairs)
    ordered = tuple(e for _, e in pairs)
    failed = bool(step.get("failure"))
    src, dst = str(step["from"]), str(step["to"])
    vm = ordered[0].vm_name
    phases: tuple[Phase, ...] = ()
    blackout = None
    if not failed:
        off = next(t for t, e in pairs if e.event_id == 21302)
        on = next(t for t, e in pairs if e.event_id == 21303)
        blackout = (
            float(step["blackout_s"])
            if "blackout_s" in step
            else round((on - off).total_seconds(), 1)
        )
        phases = (
            Phase("source", src, times[0], off, None),
            Phase("offline", src, off, on, blackout),
            Phase("target", dst, on, times[-1], None),
        )
    # A chain in time order: what correlation would link, with a reason a reader can check.
    edges = tuple(
        Edge(
            i,
            i + 1,
            "same VM id"
            if ordered[i].vm_id and ordered[i + 1].vm_id
            else "same error code within 1 s",
        )
        for i in range(len(ordered) - 1)
    )
    migration = Migration(
        id=f"{vm}-{src}-{times[0]:%Y%m%dT%H%M%S}",
        vm_name=vm,
        vm_id=ordered[0].vm_id,
        source=src,
        destination=dst,
        source_fqdn=fqdn[src],
        destination_fqdn=fqdn[dst],
        outcome=Outcome.FAILED if failed else Outcome.SUCCEEDED,
        started=times[0],
        ended=times[-1],
        blackout_s=blackout,
        events=ordered,
        corrected_times=times,
        edges=edges,
        phases=phases,
        coverage=() if not failed else ("no worker (VMWP) log from the destination",),
    )
    catalog = default_catalog()
    codes = sorted({c for e in ordered for c in e.error_codes})
    decoded = tuple((c, d.name, d.text) for c in codes if (d := catalog.decode(c)) is not None)
    findings: tuple[Finding, ...] = ()
    if finder is not None:
        findings = (finder([e for e in ordered if e.event_id in cite]),)
    return MigrationResult(migration, findings, decoded)


def build_analysis(
    results: Sequence[MigrationResult], skews: Sequence[SkewEstimate] = ()
) -> Analysis:
    events = [e for r in results for e in r.migration.events]
    hosts = sorted({e.short_host for e in events})
    per_host = [
        InputReport(
            path=f"{h.lower()}/Microsoft-Windows-Hyper-V-VMMS-Admin.evtx",
            format="evtx",
            records=sum(1 for e in events if e.short_host == h),
            relevant=sum(1 for e in events if e.short_host == h),
            hosts=(h,),
            channels=("Microsoft-Windows-Hyper-V-VMMS-Admin",),
        )
        for h in hosts
    ]
    inputs = (
        *per_host,
        InputReport(
            path="srv3/broken.evtx",
            format="evtx",
            dirty=True,
            bad_chunks=1,
            warnings=("chunk 3: bad checksum, 12 records recovered",),
        ),
        InputReport(path="notes.txt", format="unknown", error="not a format migdiag reads"),
    )
    results = sorted(results, key=lambda r: r.migration.started or FIXED_NOW)
    return Analysis(
        inputs=inputs,
        results=tuple(results),
        warnings=("SRV3: times in text export assumed UTC+02:00",),
        skews=tuple(skews),
        hosts=tuple(hosts),
        first_event=min(e.time for e in events),
        last_event=max(e.time for e in events),
    )


def configuration_report(text: str = "") -> ConfigurationReport:
    """A configuration section as the seed's hosts' snapshots give it (``text`` is put
    wherever snapshot text can reach: the hostile fixture fills it with payloads)."""
    evidence = tuple(
        ConfigEvidence(
            host=host,
            cmdlet="Get-NetAdapterAdvancedProperty",
            property="*JumboPacket",
            value=value + text,
            item="LM1" + text,
            path=f"{host}-20131008-080000.zip!{host}/config/Get-NetAdapterAdvancedProperty.json",
        )
        for host, value in (("SRV1", "9014"), ("SRV2", "1514"))
    )
    finding = ConfigFinding(
        id="jumbo-frames-differ",
        cause="mtu-mismatch",
        title="Jumbo-frame size differs between the NICs live migration uses",
        severity="error",
        effect="supports",
        hosts=("SRV1", "SRV2"),
        evidence=evidence,
        explanation="The NICs that carry live migration do not agree on the jumbo-frame size.",
        checks=("Jumbo setting of every NIC on both hosts: Get-NetAdapterAdvancedProperty",),
        remediation=("Set one jumbo size on every migration NIC of both hosts",),
    )
    return ConfigurationReport(
        hosts=("SRV1", "SRV2"),
        snapshots=tuple((e.host, e.cmdlet, e.path) for e in evidence),
        findings=(finding,),
        warnings=(("srv3/config/Get-VMHost.json: configuration not read: bad JSON at line 3 "
                   "column 5: Expecting value") + text,),
    )  # fmt: skip


def standard_analysis() -> Analysis:
    seed = build_result(load_scenario(SEED), mtu_finding, cite=(22038, 22040, 21502))
    slow = build_result(parse_scenario(SLOW_SCENARIO), long_blackout_finding, cite=(20417,))
    unknown = build_result(parse_scenario(UNKNOWN_SCENARIO))
    healthy = build_result(parse_scenario(HEALTHY_SCENARIO))
    skew = SkewEstimate(host="SRV2", reference="SRV1", offset_s=-2.0, samples=4)
    analysis = build_analysis([seed, slow, unknown, healthy], [skew])
    return dataclasses.replace(analysis, configuration=configuration_report())


PAYLOAD_VM = '<script>window.__pwned=1;alert(1)</script>"\'><img src=x onerror="window.__pwned=2">'
PAYLOAD_MSG = (
    'Failed: <img src=x onerror="window.__pwned=3;alert(3)"> '
    '[click](javascript:window.__pwned=4) <a href="javascript:window.__pwned=5">x</a> '
    "\x1b[31mRED\x1b[0m \x1b]0;owned\x07 bell\x07 [bold]markup[/bold] \u202eevil"
    "</details></svg><script>window.__pwned=6</script>"
)


def hostile_analysis() -> Analysis:
    """The seed case with attacker-controlled text wherever log text can reach."""
    base = build_result(load_scenario(SEED), mtu_finding, cite=(22038, 22040, 21502))
    m = base.migration
    events = tuple(
        dataclasses.replace(
            e,
            vm_name=PAYLOAD_VM,
            message=PAYLOAD_MSG,
            fields=(*e.fields, ("<b onmouseover=alert(7)>", PAYLOAD_MSG)),
        )
        for e in m.events
    )
    migration = dataclasses.replace(
        m,
        vm_name=PAYLOAD_VM,
        events=events,
        edges=tuple(dataclasses.replace(e, reason=PAYLOAD_MSG) for e in m.edges),
        coverage=(PAYLOAD_MSG,),
    )
    assert base.diagnosis is not None
    finding = dataclasses.replace(
        base.diagnosis,
        title=PAYLOAD_VM,
        evidence=tuple(Evidence(e, PAYLOAD_MSG) for e in events if e.level <= 2),
        checks=("javascript:window.__pwned=8", PAYLOAD_MSG),
        remediation=(PAYLOAD_MSG,),
        differential=(PAYLOAD_MSG,),
    )
    result = MigrationResult(migration, (finding,), base.decoded)
    analysis = build_analysis([result])
    return dataclasses.replace(
        analysis, warnings=(PAYLOAD_MSG,), configuration=configuration_report(PAYLOAD_MSG)
    )
