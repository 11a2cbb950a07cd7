"""What correlation knows of each event before it starts: the ids it reads by (provider,
id), the constants of its rules, and each event's host, catalog entry and kind looked up once
(``Facts``); the working shapes of segments and attempts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from migdiag.catalog import Catalog, EventSpec
from migdiag.model import Event

# ---- Windows' events that correlation reads by (provider, id) ----------------------------
# Everything else is read through the catalog's ``kind`` and ``side``.  Kept in one table so
# that a catalog change is one edit here.  Keyed on (provider, id), never the id alone: ids
# collide across providers (21301 means another thing in VMMS than in High-Availability).
EventKey = tuple[str, int]
VMMS = "microsoft-windows-hyper-v-vmms"
HA = "microsoft-windows-hyper-v-high-availability"
WORKER = "microsoft-windows-hyper-v-worker"
CLUSTER = "microsoft-windows-failoverclustering"
VMMS_START: EventKey = (VMMS, 20413)  # names the destination host
CLUSTER_MOVE: EventKey = (CLUSTER, 1641)  # "is moving to cluster node '%2'": the destination
# An attempt begins (source or target).
START_EVENTS = frozenset({VMMS_START, (HA, 21300), (HA, 21306), CLUSTER_MOVE})
OWN_SUCCESS_EVENTS = frozenset(
    {
        (VMMS, 20415),  # migration completed (source)
        (VMMS, 20417),  # completed with an unexpectedly long blackout (source)
        (VMMS, 20418),  # the destination's own success
        (HA, 21301),  # completed on the source node
        (HA, 21307),  # completed on the target node
        (HA, 22503),  # migration succeeded at the source
        (HA, 22504),  # migration succeeded at the target
        (WORKER, 22507),  # migration completed
    }
)
# Failures that end an attempt (a start after one of them begins a new attempt), and the
# cancel, which ends it without failing it.
OWN_FAILURE_END_EVENTS = frozenset(
    {(VMMS, 21024), (VMMS, 21026), (VMMS, 21002), (HA, 21111), (HA, 22505), (HA, 22506)}
    | {(HA, n) for n in range(21500, 21504)}
)
CANCEL_EVENTS = frozenset({(VMMS, 21014)})
TERMINAL_EVENTS = OWN_SUCCESS_EVENTS | OWN_FAILURE_END_EVENTS | CANCEL_EVENTS
# Events a source and its destination log at about the same moment: (mark, side).  The
# target's start follows the source's; the target's end precedes the source's.
SKEW_MARKS: dict[EventKey, tuple[str, str]] = {
    (HA, 21300): ("start", "source"),
    (HA, 21306): ("start", "destination"),
    (HA, 21301): ("end", "source"),
    (HA, 21307): ("end", "destination"),
    (VMMS, 21024): ("fail", "source"),
    (VMMS, 21026): ("fail", "destination"),
}
BLACKOUT_EVENTS = frozenset({(VMMS, 20415), (VMMS, 20417)})


def key_of(e: Event) -> EventKey:
    return e.provider.lower(), e.event_id


FAILURE_KINDS = frozenset(
    {
        "failed-at-source",
        "failed-at-destination",
        "ha-failed",
        "send-failed",
        "receive-failed",
        "connect-failed",
        "planned-vm-failed",
        "lm-error",
        "auth-failed",
        "incompatible",
    }
)
SUCCESS_KINDS = frozenset({"lm-success"})
START_KINDS = frozenset({"lm-start"})

# Start events of one attempt on one host arrive within seconds (HA 21300, then 20413).
START_MERGE = timedelta(seconds=30)
# Late events of an attempt on its host: 21502 and cluster events follow the failure closely.
TAIL_GRACE = timedelta(seconds=30)
# How long after its last event an attempt without an outcome may still be running.
IN_PROGRESS_HORIZON = timedelta(minutes=15)
# The usual delay between two hosts' records of one moment, on top of any clock skew.
HOST_DELAY = timedelta(seconds=1)
# Skew is looked for this many times beyond the tolerance, so that a larger one is measured,
# corrected and reported (as a warning) rather than splitting every migration in two.
SKEW_SEARCH = 3
# An anonymous error precedes the VM's own failure by up to FAIL_AFTER (22038 -> 21018 ->
# 21024), or follows it by up to FAIL_BEFORE (the receive side notices late).
FAIL_AFTER = timedelta(seconds=10)
FAIL_BEFORE = timedelta(seconds=5)
# Attempts whose own failures are this close to an anonymous error cannot be told apart by time.
AMBIGUITY_MARGIN = 1.0  # seconds
# Clocks this close are reported as agreeing, whatever the bounds say.
AGREE_S = 0.05
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# An edge while attempts are being built: (from position, to position, reason).  A plain
# tuple, not an ``Edge``: each is rebuilt as an ``Edge`` with the migration's own indexes
# anyway, and a tuple costs a fraction of a frozen dataclass to make (~27,000 per fleet).
Link = tuple[int, int, str]


@dataclass(slots=True)
class Segment:
    """One host's events of one VM's attempt, in that host's own time order."""

    vm: str
    host: str
    members: list[int] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    role: str | None = None  # "source" | "destination" | None (only "either" events)
    peers: set[str] = field(default_factory=set)  # other hosts its events name
    peer: str | None = None  # the destination: as 20413 names it, else the first named
    first: datetime | None = None  # raw (this host's clock)
    last: datetime | None = None
    ended: bool = False
    # Event id -> index in ``members`` of its latest member: the event a new one follows.
    latest: dict[EventKey, int] = field(default_factory=dict)
    starts: dict[EventKey, datetime] = field(default_factory=dict)  # start -> first time
    marks: dict[str, datetime] = field(default_factory=dict)  # skew mark -> first time
    to_node: str | None = None  # the destination node a cluster 1641 names


@dataclass(slots=True)
class Attempt:
    segments: list[Segment]
    members: list[int] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    source: str | None = None
    destination: str | None = None
    failures: list[int] = field(default_factory=list)  # its own (VM-naming) failure events
    codes: set[str] = field(default_factory=set)  # error codes its own events carry
    # Events it shares with other attempts: (the others' names, position), for its notes.
    ambiguous: list[tuple[str, int]] = field(default_factory=list)
    label: str = "?"
    own: int = 0  # its own members (the first ``own`` of ``members``), before attribution


@dataclass(frozen=True, slots=True)
class Facts:
    """The events in time order, with what the steps ask of each event looked up once.

    On a fleet bundle the steps ask for an event's short host, catalog entry and provider
    hundreds of thousands of times; a property call, a lower-casing and a catalog look-up
    each time were most of correlate's cost.  The lists are parallel to ``events``.
    """

    events: list[Event]
    hosts: list[str]  # Event.short_host
    keys: list[EventKey]  # key_of(event): (provider lower-cased, id)
    specs: list[EventSpec | None]  # Catalog.spec(provider, event_id)
    kinds: list[str]  # the spec's kind, or "other"
    hyperv: list[bool]  # a Hyper-V provider's event
    cluster_vm: list[bool]  # a Hyper-V-High-Availability event that names the VM
    log_start: dict[str, datetime]  # host -> time of its first event
    log_end: dict[str, datetime]  # host -> time of its last event
    channels: dict[str, set[str]]  # host -> channels it logged


def time_order(e: Event, host: str) -> tuple[object, ...]:
    """The order ``Facts.events`` has: time, then host (``host`` is its short name) and the
    record's place in its log, so that ties come out the same whatever the input order."""
    return (e.time, host, e.channel, e.record_id or 0, e.event_id, e.fields)


def facts_of(given: Iterable[Event], catalog: Catalog) -> Facts:
    events = list(given)
    # A fleet has tens of hosts and providers and a few dozen event ids: look each up once.
    short: dict[str, str] = {}
    spec_of: dict[tuple[str, int], EventSpec | None] = {}
    provider_of: dict[str, tuple[bool, bool]] = {}  # provider -> (hyper-v, high-availability)
    unsorted_hosts = [short.get(e.host) or short.setdefault(e.host, e.short_host) for e in events]
    sort_keys = [time_order(e, host) for e, host in zip(events, unsorted_hosts, strict=True)]
    # Sorting positions by a prepared key list is a stable sort of the events by that key.
    order = sorted(range(len(events)), key=sort_keys.__getitem__)
    ordered = [events[i] for i in order]
    hosts = [unsorted_hosts[i] for i in order]
    specs: list[EventSpec | None] = []
    keys: list[EventKey] = []
    lowered: dict[str, str] = {}  # provider -> lower-cased: a fleet has a few dozen
    kinds: list[str] = []
    hyperv: list[bool] = []
    cluster_vm: list[bool] = []
    log_start: dict[str, datetime] = {}
    log_end: dict[str, datetime] = {}
    channels: dict[str, set[str]] = defaultdict(set)
    for e, host in zip(ordered, hosts, strict=True):
        key = (e.provider, e.event_id)
        if key not in spec_of:
            spec_of[key] = catalog.spec(e.provider, e.event_id)
        spec = spec_of[key]
        specs.append(spec)
        provider = lowered.get(e.provider)
        if provider is None:
            provider = lowered[e.provider] = e.provider.lower()
        keys.append((provider, e.event_id))
        kinds.append(spec.kind if spec else "other")
        if e.provider not in provider_of:
            name = e.provider.lower()
            provider_of[e.provider] = (
                name.startswith("microsoft-windows-hyper-v"),
                name.endswith("high-availability"),
            )
        is_hyperv, is_ha = provider_of[e.provider]
        hyperv.append(is_hyperv)
        cluster_vm.append(is_ha and bool(e.vm_name))
        log_start.setdefault(host, e.time)
        log_end[host] = e.time  # events are in time order: the last one is the latest
        channels[host].add(e.channel)
    return Facts(
        ordered, hosts, keys, specs, kinds, hyperv, cluster_vm, log_start, log_end, channels
    )


def vm_keys(events: Sequence[Event]) -> list[str | None]:
    """One key per event: the VM id, or the id its name is known by, or the name."""
    id_by_name: dict[str, str] = {}
    for e in events:
        if e.vm_id and e.vm_name:
            id_by_name.setdefault(e.vm_name.lower(), e.vm_id)
    keys: list[str | None] = []
    for e in events:
        if e.vm_id:
            keys.append(e.vm_id)
        elif e.vm_name:
            name = e.vm_name.lower()
            keys.append(id_by_name.get(name, "name:" + name))
        else:
            keys.append(None)
    return keys
