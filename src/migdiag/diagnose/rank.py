"""Turn matches into ranked findings: the first is the diagnosis, the rest the differential."""

from __future__ import annotations

import re
from collections.abc import Sequence

from migdiag.catalog import Catalog
from migdiag.diagnose.loader import Library
from migdiag.diagnose.match import (
    Hit,
    Match,
    SignaturePlan,
    Subject,
    applies,
    compile_signature,
    known_sentences,
)
from migdiag.diagnose.signature import Signature, Step
from migdiag.model import (
    Event,
    Evidence,
    Finding,
    Migration,
    MigrationResult,
    Outcome,
    Side,
    short_host,
)

# What to collect when nothing explains a failure (reference section 8, "Data collection").
COLLECT_NEXT = (
    "Export from BOTH hosts: Microsoft-Windows-Hyper-V-VMMS-Admin, -VMMS-Operational, "
    "-Hyper-V-High-Availability-Admin, -Hyper-V-Worker-Admin and System: "
    "wevtutil epl Microsoft-Windows-Hyper-V-VMMS-Admin vmms-admin.evtx",
    "Cluster log from every node: Get-ClusterLog -UseLocalTime -Destination <Path>",
    "Compatibility report: Compare-VM -Name <vm> -DestinationHost <destination>",
    "Migration settings on both hosts: Get-VMHost | Format-List *Migration*",
    "Microsoft support traces: TSS.ps1 -CollectLog SHA_support-all (or psSDP: "
    ".\\GetpsSDP.ps1 HyperV -localNodeOnly) on both nodes",
)


SENTENCE_FREE_NOTE = (
    " (met on its event id and error code alone: its sentence is missing or in a language "
    "migdiag does not know)"
)
SHARED_NOTE = (
    " (only by events that name no VM and fit another failing attempt as well: see the "
    "ambiguity note; confidence lowered)"
)


def _evidence(hits: Sequence[Hit]) -> tuple[Evidence, ...]:
    out: dict[Event, str] = {}
    for hit in hits:
        how = dict(hit.how)
        for event in hit.events:
            why = hit.clause.why + (SENTENCE_FREE_NOTE if hit.loose else "")
            why += SHARED_NOTE if hit.shared else ""
            if event in how:
                why += f" ({how[event]})"
            out.setdefault(event, why)
    return tuple(Evidence(event=e, why=why) for e, why in out.items())


def _corroboration(match: Match) -> tuple[Evidence, ...]:
    raised = []
    for h in match.raised:
        how = dict(h.how)
        for e in h.events:
            why = f"raises confidence (+{h.clause.delta:.2f}): {h.clause.why}"
            raised.append(Evidence(event=e, why=why + (f" ({how[e]})" if e in how else "")))
    lowered = [
        Evidence(event=e, why=f"lowers confidence (-{h.clause.delta:.2f}): {h.clause.why}")
        for h in match.lowered
        for e in h.events
    ]
    return tuple(raised + lowered)


def _notes(
    migration: Migration, signature: Signature, supplied: frozenset[str] = frozenset()
) -> tuple[str, ...]:
    # A host's System log (NIC, cluster events) is a supplied log of that host too.
    hosts = {e.short_host for e in migration.events} | supplied
    missing_destination = bool(migration.destination) and migration.destination not in hosts
    missing_source = bool(migration.source) and migration.source not in hosts
    # One note per missing side: what it means for this diagnosis replaces the bare fact.
    notes = [
        c
        for c in migration.coverage
        if not (missing_destination and c.startswith(f"destination {migration.destination}:"))
        and not (missing_source and c.startswith(f"source {migration.source}:"))
    ]
    if missing_destination:
        notes.append(
            f"No events from the destination {migration.destination} were supplied: a failure "
            "the destination logged itself (memory, switch, receive timeout) cannot be ruled out."
        )
    if missing_source:
        notes.append(f"No events from the source {migration.source} were supplied.")
    return tuple(dict.fromkeys(notes))


# Values from the logs go into commands an engineer pastes into PowerShell: substitute only
# values that cannot break out of an argument (no quotes, semicolons, pipes, $, backticks).
_SAFE_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,253}$")
_SAFE_VM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()-]{0,99}$")


def fill_placeholders(text: str, migration: Migration) -> str:
    """``<vm>``, ``<source>``, ``<destination>`` and ``<destination FQDN>`` in a check or fix,
    replaced by this migration's values where they are known and safe to paste."""
    values = {
        "<destination FQDN>": migration.destination_fqdn,
        "<destination>": migration.destination,
        "<source>": migration.source,
    }
    for token, value in values.items():
        if value and _SAFE_HOST.match(value):
            text = text.replace(token, value)
    vm = migration.vm_name
    if vm and _SAFE_VM.match(vm):
        text = text.replace("<vm>", f"'{vm}'" if " " in vm else vm)
    return text


def to_finding(
    match: Match, migration: Migration, supplied: frozenset[str] = frozenset()
) -> Finding:
    """``supplied``: hosts with events in any supplied log around the attempt."""
    sig = match.signature

    def fill(steps: Sequence[Step]) -> tuple[str, ...]:
        return tuple(fill_placeholders(s.describe(), migration) for s in steps)

    return Finding(
        signature_id=sig.id,
        cause=sig.cause,
        title=sig.title,
        severity=sig.severity,
        confidence=match.confidence,
        evidence=_evidence(match.hits),
        explanation=sig.explanation,
        checks=fill(sig.checks),
        remediation=fill(sig.remediation),
        differential=tuple(fill_placeholders(a.describe(), migration) for a in sig.differential),
        corroboration=_corroboration(match),
        references=sig.references,
        notes=_notes(migration, sig, supplied),
    )


def _rank_key(match: Match) -> tuple[float, int, int, str]:
    # Evidence closest to the cause wins ties: a destination-side clause names the host that
    # gave up, whereas a source-side reset is often only its symptom.
    own_side = sum(1 for h in match.hits if h.clause.side is Side.DESTINATION)
    return (-match.confidence, -match.signature.specificity, -own_side, match.signature.id)


def decode_all(migration: Migration, catalog: Catalog) -> tuple[tuple[str, str, str], ...]:
    codes: dict[str, None] = {}
    for event in migration.events:
        for code in event.error_codes:
            codes.setdefault(code, None)
    out = []
    for code in codes:
        known = catalog.decode(code)
        out.append((code, known.name, known.text) if known else (code, "unknown", ""))
    return tuple(out)


def _unknown(
    migration: Migration, library: Library, supplied: frozenset[str] = frozenset()
) -> Finding:
    errors = tuple(
        Evidence(event=e, why="error logged during the failed attempt")
        for e in migration.events
        if e.level in (1, 2)
    )
    sig = library.get("unknown")
    return Finding(
        signature_id="unknown",
        cause="unknown",
        title=sig.title if sig else "Live migration failed for a reason no signature knows",
        severity=sig.severity if sig else "error",
        confidence=0.0,
        evidence=errors,
        explanation=(
            sig.explanation
            if sig
            else "No signature matched. The error codes are decoded below; collect what follows."
        ),
        checks=tuple(s.describe() for s in sig.checks) if sig else COLLECT_NEXT,
        remediation=tuple(s.describe() for s in sig.remediation) if sig else (),
        references=sig.references if sig else (),
        notes=_notes(migration, sig, supplied) if sig else migration.coverage,
    )


# (id(library), id(catalog)) -> the pair (kept alive, so that the ids stay theirs) and, per
# outcome, the plans of the non-fallback signatures that judge it.  Both are frozen values:
# compiling once per pair instead of once per migration is what makes a fleet cheap.
_Plans = dict[Outcome, tuple[SignaturePlan, ...]]
_PLANS: dict[tuple[int, int], tuple[Library, Catalog, _Plans]] = {}
_PLANS_KEPT = 8  # a run uses one library; tests load a few dozen, one after the other


def _plans(library: Library, catalog: Catalog) -> _Plans:
    key = (id(library), id(catalog))
    entry = _PLANS.get(key)
    if entry is None or entry[0] is not library or entry[1] is not catalog:
        if len(_PLANS) >= _PLANS_KEPT:
            _PLANS.clear()
        known = known_sentences(library.signatures, catalog)
        plans = [compile_signature(s, catalog, known) for s in library.signatures if not s.fallback]
        by_outcome = {
            outcome: tuple(p for p in plans if applies(p.signature, outcome)) for outcome in Outcome
        }
        entry = (library, catalog, by_outcome)
        _PLANS[key] = entry
    return entry[2]


def diagnose(
    migration: Migration, library: Library, catalog: Catalog, context: Sequence[Event]
) -> MigrationResult:
    """Evaluate every signature on the migration and rank the matches best-first."""
    subject = Subject(migration, context)
    plans = _plans(library, catalog)[migration.outcome]
    matches = [m for plan in plans if (m := plan.evaluate(subject)) is not None]
    matches.sort(key=_rank_key)
    # The few distinct host names first: a fleet's context is hundreds of events per attempt;
    # and only when there is a finding to write notes for (most attempts of a fleet have none).
    needs_notes = bool(matches) or migration.outcome is Outcome.FAILED
    supplied = frozenset(short_host(h) for h in {e.host for e in context}) if needs_notes else None
    if migration.outcome is Outcome.FAILED:
        # A failed attempt's cause is why it failed: a speed finding (many migrations at
        # once) may explain slowness, never the failure, so it goes to the differential.
        matches.sort(key=lambda m: m.signature.cause == "slow-migration")
    if migration.outcome is Outcome.FAILED:
        # A cause shown only by events this attempt shares with another failing attempt
        # (events that name no VM, at one moment on one host) may be the other VM's: it
        # goes to the differential behind every cause the VM's own events show.
        matches.sort(key=lambda m: any(h.shared for h in m.hits))
    findings = [to_finding(m, migration, supplied or frozenset()) for m in matches]
    # A failure that only speed signatures (e.g. concurrency) or shared evidence touch is
    # still unexplained: the unknown finding leads and decodes what there is.
    if migration.outcome is Outcome.FAILED and not any(
        m.signature.cause != "slow-migration" and not any(h.shared for h in m.hits) for m in matches
    ):
        findings.insert(0, _unknown(migration, library, supplied or frozenset()))
    return MigrationResult(
        migration=migration, findings=tuple(findings), decoded=decode_all(migration, catalog)
    )
