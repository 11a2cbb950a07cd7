"""The data every step passes on: events, migrations, findings and the analysis.

Everything here is a frozen value type.  The model imports nothing of migdiag's, so that
every other module may import it and no step can reach back upstream.

Flow: readers yield ``Event`` (raw fields only) -> ``normalise`` fills the derived fields
(VM identity, peer host, error codes, message) -> ``correlate`` groups events into
``Migration`` -> ``diagnose`` attaches ranked ``Finding`` -> ``Analysis`` is rendered.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from operator import attrgetter
from typing import Any, TypeVar

from migdiag import dataclass_code

_C = TypeVar("_C")


def _stored_by_slots(cls: type[_C]) -> type[_C]:
    """Give a frozen slots dataclass an ``__init__`` that stores each field through its slot.

    The ``__init__`` dataclass writes gets past ``frozen`` with ``object.__setattr__(self,
    name, value)`` per field: a lookup and a call by name each, ~3.3 us for an Event's 18
    fields (tens of thousands are made per file, three times each: decoded, normalised,
    sent back from a worker).  The slot's own descriptor stores the same value in the same
    place in ~1.5 us.  The signature and defaults are the dataclass's; instances are as
    frozen as before (assigning raises), and equal, hashed and printed alike (tests)."""
    namespace: dict[str, Any] = {"__name__": cls.__module__}  # whose class: see dataclass_code
    params, body = [], []
    for field in fields(cls):  # type: ignore[arg-type]
        if field.default_factory is not MISSING:
            raise TypeError(f"{cls.__name__}.{field.name}: a default factory is not supported")
        name = field.name
        namespace[f"_store_{name}"] = cls.__dict__[name].__set__
        if field.default is MISSING:
            params.append(name)
        else:
            namespace[f"_default_{name}"] = field.default
            params.append(f"{name}=_default_{name}")
        body.append(f"    _store_{name}(self, {name})\n")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: __post_init__ is not supported")
    # Compiled once per Python and kept, as the dataclass's own methods (dataclass_code).
    dataclass_code.run(f"def __init__(self, {', '.join(params)}):\n{''.join(body)}", namespace)
    init = namespace["__init__"]
    generated = cls.__init__
    init.__qualname__ = generated.__qualname__
    init.__module__ = cls.__module__
    init.__annotations__ = generated.__annotations__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"  # the logs do not say
    IN_PROGRESS = "in-progress"  # the logs end before the attempt does


class Side(StrEnum):
    SOURCE = "source"
    DESTINATION = "destination"
    ANY = "any"


class Level(StrEnum):
    """Windows event levels by name (XML ``<Level>`` numbers map through ``LEVEL_BY_NUMBER``)."""

    CRITICAL = "Critical"
    ERROR = "Error"
    WARNING = "Warning"
    INFORMATION = "Information"
    VERBOSE = "Verbose"


LEVEL_BY_NUMBER: dict[int, Level] = {
    0: Level.INFORMATION,  # LogAlways: Event Viewer shows it as Information
    1: Level.CRITICAL,
    2: Level.ERROR,
    3: Level.WARNING,
    4: Level.INFORMATION,
    5: Level.VERBOSE,
}
# The same as plain strings: a report asks every event for its level name, and an enum's
# ``.value`` is a descriptor call (a tenth of rendering a fleet's JSON).
_LEVEL_NAMES: dict[int, str] = {n: str(level.value) for n, level in LEVEL_BY_NUMBER.items()}


@lru_cache(maxsize=4096)  # a run sees a few hosts, asked about hundreds of thousands of times
def short_host(host: str) -> str:
    """The host's short name, upper-cased: ``srv1.blog.com`` and ``SRV1`` are one host."""
    return host.strip().split(".", 1)[0].upper()


@_stored_by_slots
@dataclass(frozen=True, slots=True)
class Origin:
    """Where an event came from, precisely enough to find it again."""

    path: str  # the input as the user named it; a zip member is "bundle.zip!dir/file.evtx"
    format: str  # reader name: evtx, xml, text, wevtutil-text, csv, ...
    record: int | None = None  # record number within the file (EVTX) or 1-based block number
    offset: int | None = None  # byte offset (EVTX chunk start) or line number, where known

    def __reduce__(self) -> tuple[type[Origin], tuple[Any, ...]]:
        return (Origin, _origin_values(self))  # see Event.__reduce__

    def describe(self) -> str:
        where = self.path
        if self.record is not None:
            where += f" record {self.record}"
        if self.offset is not None:
            where += f" @ {self.offset}"
        return where


@_stored_by_slots
@dataclass(frozen=True, slots=True)
class Event:
    """One log record, whatever format it arrived in.

    ``fields`` keeps the payload in document order as ``(name, value)`` pairs, so the payload
    is available both by position (``param(1)`` is ``%1``, from ``Parameter0`` or the first
    ``Data``) and by name (``field("VmName")``).  Unnamed ``EventData/Data`` get the name "".

    The derived fields after ``origin`` are empty when a reader yields the event and are
    filled by ``migdiag.normalise`` from the catalog and the message.
    """

    time: datetime  # UTC, timezone-aware
    host: str  # as logged (``Computer``), often an FQDN
    channel: str  # canonical channel key (see normalise.canonical_channel)
    provider: str
    event_id: int
    level: int
    record_id: int | None
    fields: tuple[tuple[str, str], ...]
    message: str | None  # rendered text carried by the input, or filled from the catalog
    origin: Origin
    # -- derived by normalise -------------------------------------------------------------
    vm_name: str | None = None
    vm_id: str | None = None  # upper-case GUID without braces
    peer_host: str | None = None  # short name of the other host the event names
    error_codes: tuple[str, ...] = ()  # "0x%08X", in order of appearance
    message_from_input: bool = False  # True when the input carried rendered text
    time_assumed: bool = False  # True when a local time was converted with an assumed offset
    # ``Execution/@ProcessID`` and ``@ThreadID`` when the input carries them (XML-bearing
    # formats): a Worker event shares its process with the VM's other Worker events.
    process_id: int | None = None
    thread_id: int | None = None

    def __reduce__(self) -> tuple[type[Event], tuple[Any, ...]]:
        # Worker processes send events back by the tens of thousands.  The pickling that
        # dataclass(slots=True) provides calls Python code per field; the constructor with
        # the field values in order (taken in C) is cheaper both ways.
        return (Event, _event_values(self))

    @property
    def short_host(self) -> str:
        return short_host(self.host)

    @property
    def level_name(self) -> str:
        return _LEVEL_NAMES.get(self.level, "Information")

    def param(self, n: int) -> str | None:
        """The ``%n`` insertion (1-based), by position."""
        if 1 <= n <= len(self.fields):
            return self.fields[n - 1][1]
        return None

    def field(self, name: str) -> str | None:
        for key, value in self.fields:
            if key == name:
                return value
        return None

    @property
    def identity(self) -> tuple[object, ...]:
        """What makes two copies of one record the same record (dedup across formats).

        Time is cut to whole seconds because text exports carry no fractions; the record id
        (when known) and the payload values tell records of the same second apart."""
        return (
            self.short_host,
            self.channel.lower(),
            self.event_id,
            self.time.replace(microsecond=0),
            tuple([value.strip() for _, value in self.fields]),
        )


_origin_values = attrgetter(*(f.name for f in fields(Origin)))
_event_values = attrgetter(*(f.name for f in fields(Event)))


def _pickled_by_values(cls: type[_C]) -> type[_C]:
    """Pickle instances of ``cls`` as its constructor and field values, like ``Event``.

    A fleet's migrations and diagnoses cross processes (``migdiag.forked``): the pickling
    dataclass(slots=True) provides runs ``dataclasses.fields`` and a Python loop per object
    both ways, two thirds of the time it took to send them back."""
    values = attrgetter(*(f.name for f in fields(cls)))  # type: ignore[arg-type]

    def __reduce__(self: _C) -> tuple[type[_C], tuple[Any, ...]]:
        return (cls, values(self))

    cls.__reduce__ = __reduce__  # type: ignore[assignment, method-assign]
    return cls


@_pickled_by_values
@_stored_by_slots
@dataclass(frozen=True, slots=True)
class Edge:
    """Why two events of a migration belong together (indexes into ``Migration.events``)."""

    a: int
    b: int
    reason: str


@_pickled_by_values
@_stored_by_slots
@dataclass(frozen=True, slots=True)
class Phase:
    name: str  # "source", "offline", "move", "target", "restore"
    host: str  # short name
    started: datetime | None
    ended: datetime | None
    seconds: float | None  # as the event states it, when it does


@_pickled_by_values
@_stored_by_slots
@dataclass(frozen=True, slots=True)
class Migration:
    """One live-migration attempt of one VM from one host to another."""

    id: str  # stable: derived from VM, source and start time
    vm_name: str | None
    vm_id: str | None
    source: str | None  # short host names
    destination: str | None
    source_fqdn: str | None
    destination_fqdn: str | None
    outcome: Outcome
    started: datetime | None  # UTC, skew-corrected: on the reference host's clock
    ended: datetime | None
    blackout_s: float | None
    events: tuple[Event, ...]  # ordered by corrected time
    corrected_times: tuple[datetime, ...]  # one per event: time on the reference clock
    edges: tuple[Edge, ...] = ()
    phases: tuple[Phase, ...] = ()
    coverage: tuple[str, ...] = ()  # warnings about missing sides or channels
    concurrent: int = 0  # peak number of other attempts on the same host pair at one moment
    # Events that name no VM and fit this attempt and others equally well: they were given
    # to each, and each note names the other attempts ("ambiguous: ... also fits VM-X").
    ambiguities: tuple[str, ...] = ()
    # Those events themselves, as indexes into ``events``: evidence that may be another
    # attempt's, so a diagnosis resting on them alone is weaker (see diagnose.match).
    shared: tuple[int, ...] = ()

    @property
    def duration_s(self) -> float | None:
        if self.started is None or self.ended is None:
            return None
        return (self.ended - self.started).total_seconds()

    def side_of(self, event: Event) -> Side:
        host = event.short_host
        if host == self.source:
            return Side.SOURCE
        if host == self.destination:
            return Side.DESTINATION
        return Side.ANY


@_pickled_by_values
@_stored_by_slots
@dataclass(frozen=True, slots=True)
class Evidence:
    """One event a finding cites, and what in it mattered."""

    event: Event
    why: str  # the condition it satisfied, in words


@_pickled_by_values
@_stored_by_slots
@dataclass(frozen=True, slots=True)
class Finding:
    """A signature that matched a migration (or pasted text)."""

    signature_id: str
    cause: str
    title: str
    severity: str
    confidence: float  # 0..1
    evidence: tuple[Evidence, ...]
    explanation: str
    checks: tuple[str, ...]
    remediation: tuple[str, ...]
    differential: tuple[str, ...] = ()  # what else gives the same evidence, how to tell
    corroboration: tuple[Evidence, ...] = ()  # nearby events that raised or lowered confidence
    references: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # e.g. "destination logs not supplied"


@_pickled_by_values
@_stored_by_slots
@dataclass(frozen=True, slots=True)
class MigrationResult:
    """A migration with its ranked findings: the first is the diagnosis, the rest the
    differential.  ``decoded`` holds every error code seen, with its name and text."""

    migration: Migration
    findings: tuple[Finding, ...]
    decoded: tuple[tuple[str, str, str], ...] = ()  # (code, symbolic name, Windows text)

    @property
    def diagnosis(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    @property
    def differential(self) -> tuple[Finding, ...]:
        return self.findings[1:]


@dataclass(frozen=True, slots=True)
class PastedText:
    """Findings from an input that is free text a customer pasted (no log format): a Move-VM
    error, a cluster dialog, event descriptions without headers (``migdiag explain``)."""

    path: str
    findings: tuple[Finding, ...]  # ranked; evidence events carry the matched lines
    decoded: tuple[tuple[str, str, str], ...]  # (code, symbolic name, Windows text)
    missing: tuple[str, ...]  # what to collect to be sure, with the commands


@dataclass(frozen=True, slots=True)
class InputReport:
    """What happened to one input file: the user must be able to see every file's fate."""

    path: str
    format: str  # reader used, or "unknown"
    records: int = 0  # records read
    relevant: int = 0  # records kept (known to the catalog)
    recovered: int = 0  # records read by a fallback path after the main one failed
    dropped: int = 0  # records known lost (bad records, bad chunks)
    chunks: int | None = None  # EVTX: chunks found in the file
    header_chunks: int | None = None  # EVTX: chunk count the header claims
    bad_chunks: int = 0
    dirty: bool = False
    hosts: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None  # set when the file could not be read at all
    # Set when the file was read only in part (an EVTX cut short): what was lost, in words.
    incomplete: str | None = None

    @property
    def skipped(self) -> bool:
        return self.error is not None


@_pickled_by_values
@_stored_by_slots
@dataclass(frozen=True, slots=True)
class SkewEstimate:
    host: str
    reference: str
    offset_s: float  # add to ``host`` times to get ``reference`` times (0 when they agree)
    samples: int
    # Half the width of the range the bounds leave (the usual delay between the two hosts'
    # records of one moment): a clock difference within it cannot be told from that delay.
    uncertainty_s: float = 0.0

    def describe(self) -> str:
        if self.offset_s == 0.0 or abs(self.offset_s) < 0.05:
            within = max(self.uncertainty_s, 0.05)
            return f"{self.host} and {self.reference} agree within {within:.2f} s"
        direction = "behind" if self.offset_s > 0 else "ahead of"
        return f"{self.host} is about {abs(self.offset_s):.1f} s {direction} {self.reference}"


@dataclass(frozen=True, slots=True)
class ConfigEvidence:
    """One configuration value a configuration finding cites."""

    host: str  # short name
    cmdlet: str  # the snapshot it was read from: "Get-NetAdapterAdvancedProperty", ...
    property: str  # "*JumboPacket", "MaximumVirtualMachineMigrations", ...
    value: str  # as a person reads it
    item: str = ""  # the NIC, VM or switch it belongs to
    path: str = ""  # the snapshot file


@dataclass(frozen=True, slots=True)
class ConfigFinding:
    """A configuration rule that held on the hosts' snapshots.

    ``effect`` "supports": the configuration can cause ``cause``; "rules-out": it shows a
    cause is not where one would look first (jumbo sizes equal on both hosts)."""

    id: str  # the rule's id (its file name in config_rules/)
    cause: str  # same vocabulary as the signatures' causes
    title: str
    severity: str  # info | warning | error
    effect: str  # supports | rules-out
    hosts: tuple[str, ...]
    evidence: tuple[ConfigEvidence, ...]
    explanation: str
    checks: tuple[str, ...]
    remediation: tuple[str, ...]
    # The migration role in which these hosts' configuration causes ``cause`` (a host that
    # does not listen refuses migrations as their destination); None: either role.
    role: str | None = None
    # Scope pair: (tested host, other host) of each pair the rule held for; with a role, the
    # tested host plays it and the other host the other role.
    pairs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ConfigurationReport:
    """What the configuration snapshots among the inputs say (empty when there were none)."""

    hosts: tuple[str, ...] = ()  # hosts with at least one snapshot
    snapshots: tuple[tuple[str, str, str], ...] = ()  # (host, cmdlet, file) read
    findings: tuple[ConfigFinding, ...] = ()
    warnings: tuple[str, ...] = ()


@_pickled_by_values
@_stored_by_slots
@dataclass(frozen=True, slots=True)
class SpeedFacts:
    """What is known of a source host's migration link (from a configuration snapshot, or
    told by the caller): every field may be unknown, and rules that need one then stay quiet."""

    link_gbps: float | None = None  # the live-migration network's speed (a team: its sum)
    performance_option: str | None = None  # TCPIP, Compression or SMB (Get-VMHost)
    max_migrations: int | None = None  # MaximumVirtualMachineMigrations
    smb_limit_gbps: float | None = None  # Get-SmbBandwidthLimit -Category LiveMigration


@_pickled_by_values
@_stored_by_slots
@dataclass(frozen=True, slots=True)
class DrainMember:
    """One migration's place in a drain: a row of the drain's Gantt chart."""

    migration_id: str
    vm_name: str | None
    destination: str | None
    outcome: Outcome
    requested: datetime  # the attempt's first event (cluster move or start request)
    transfer_started: datetime  # its first transfer event (20413), else ``requested``
    ended: datetime
    blackout_at: datetime | None  # when the VM was paused (offline phase), where logged
    blackout_s: float | None
    concurrency: (
        float  # effective number running during its transfer (harmonic mean), itself included
    )
    memory_bytes: int | None = None  # the VM's memory, where known
    refused: bool = False  # failed because the host's migration limit was reached
    dirty_pages: int | None = None  # copied during the blackout (Worker 22509)
    saved_state_kb: int | None = None  # device state copied during the blackout (22509)

    @property
    def queued_s(self) -> float:
        return (self.transfer_started - self.requested).total_seconds()

    @property
    def duration_s(self) -> float:
        return (self.ended - self.transfer_started).total_seconds()

    @property
    def gbps(self) -> float | None:
        """Effective throughput (memory moved over transfer time), for a completed move."""
        if self.memory_bytes is None or self.outcome is not Outcome.SUCCEEDED:
            return None
        return self.memory_bytes * 8 / max(self.duration_s, 0.001) / 1e9


@_pickled_by_values
@_stored_by_slots
@dataclass(frozen=True, slots=True)
class SpeedFinding:
    """A speed rule (``speed_rules/*.yaml``) that matched a drain, in the seed's terms."""

    rule_id: str
    title: str
    severity: str
    summary: str  # one line: what was seen and what it means
    evidence: tuple[str, ...]
    explanation: str
    checks: tuple[str, ...]
    remediation: tuple[str, ...]
    advice: str  # the number the rule advises, and why
    migrations: tuple[str, ...] = ()  # the migrations it names (an outlier, long blackouts)


@_pickled_by_values
@_stored_by_slots
@dataclass(frozen=True, slots=True)
class Drain:
    """Migrations that left one host close together in time: an evacuation, a CAU pass."""

    id: str
    source: str
    destinations: tuple[str, ...]
    start: datetime
    end: datetime
    members: tuple[DrainMember, ...]  # by transfer start
    max_concurrent: int
    concurrency: tuple[tuple[datetime, int], ...]  # from each time on, so many running
    median_duration_s: float | None
    p95_duration_s: float | None
    median_blackout_s: float | None
    max_blackout_s: float | None
    queued_s: float  # summed over members: request to first transfer event
    refusals: int  # attempts refused for the host's migration limit
    memory_bytes: int | None  # moved by completed members, where every size is known
    gbps: float | None  # memory moved over the drain's wall time
    facts: SpeedFacts = SpeedFacts()
    findings: tuple[SpeedFinding, ...] = ()

    @property
    def wall_s(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def failed(self) -> int:
        return sum(1 for m in self.members if m.outcome is Outcome.FAILED)

    @property
    def migration_ids(self) -> tuple[str, ...]:
        return tuple(m.migration_id for m in self.members)


@dataclass(frozen=True, slots=True)
class SeenBefore:
    """Another recorded case where the same cause failed a migration on the same host pair
    or cluster (filled from the case history only when a database is in use)."""

    migration_id: str  # the migration of this analysis it concerns
    cause: str
    case_id: str
    where: str  # "HV01 -> HV02" or "cluster CL1"
    when: datetime  # that migration's start (or when that case was recorded)
    confirmed: tuple[str, ...]  # causes engineers confirmed in that case


@dataclass(frozen=True, slots=True)
class Analysis:
    """The result of ``migdiag.analyze``: what every renderer renders."""

    inputs: tuple[InputReport, ...]
    results: tuple[MigrationResult, ...]
    warnings: tuple[str, ...] = ()
    skews: tuple[SkewEstimate, ...] = ()
    hosts: tuple[str, ...] = ()
    first_event: datetime | None = None
    last_event: datetime | None = None
    pasted: tuple[PastedText, ...] = ()
    configuration: ConfigurationReport = ConfigurationReport()
    drains: tuple[Drain, ...] = ()  # see migdiag.drains
    seen_before: tuple[SeenBefore, ...] = ()  # from the case history (analyze --record)

    @property
    def migrations(self) -> tuple[Migration, ...]:
        return tuple(r.migration for r in self.results)


SLOW_BLACKOUT_S = 5.0  # fallback threshold when no 20417 says "unexpectedly long"
DEFAULT_SKEW_TOLERANCE = timedelta(seconds=5)
