"""What the known events and error codes mean, loaded once from ``data/catalog.yaml``.

Every event is keyed on (provider, id).  An entry's template is Windows' own (``verified``);
what migdiag adds (kind, side, roles, follows) sits beside it.  Events without an entry
still render with Windows' text from ``migdiag.windows_tables`` (docs/catalog.md).  A user
catalog imported from a real host's provider metadata overrides templates.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migdiag import compiled, windows_tables  # its data files load on first use, not on import

if TYPE_CHECKING:
    import yaml


@dataclass(frozen=True, slots=True)
class EventSpec:
    event_id: int
    provider: str
    channel: str
    level: int
    side: str  # source | destination | either
    kind: str
    template: str
    params: tuple[tuple[str, int], ...]  # role -> 1-based position
    names: tuple[tuple[str, str], ...]  # role -> element name on newer builds
    verified: bool  # the template is Windows' own (its message table, or an imported host's)
    source: str
    phase: tuple[str, str] | None = None  # (phase name, "start" | "end")
    # (provider lower-cased, id) of events this one typically follows in one attempt
    follows: tuple[tuple[str, int], ...] = ()
    guessed: tuple[str, ...] = ()  # which of names, channel, level no table or host confirms

    def position(self, role: str) -> int | None:
        for name, pos in self.params:
            if name == role:
                return pos
        return None

    def element_name(self, role: str) -> str | None:
        for name, element in self.names:
            if name == role:
                return element
        return None


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: str  # 0x%08X
    name: str
    text: str
    meaning: str
    verified: bool


@dataclass(frozen=True, slots=True)
class Phrase:
    """One wording of a sentence or error text in one language (``data/phrases.yaml``)."""

    lang: str  # en, de, fr, es, ja
    text: str
    source: str  # windows: Windows' own localised text; rendering: a faithful translation
    confidence: str  # high | medium | low
    kind: str = ""  # benign: informational | success; a tool's wording: one of TOOL_KINDS


# What a tool's wording tells ``explain`` (``tools:`` in data/phrases.yaml; docs/explain.md):
#   context   the tool reporting a failed live migration: a code beside it is evidence
#   job       a failed job of the tool that does not name its operation: a code beside it
#             names candidates, ranked as a code alone is
#   advisory  advice or a finished job (a Best Practices Analyzer result): the codes and
#             sentences of its paragraph are decoys
#   precheck  a placement rating: no migration was attempted, so its paragraph is a decoy
#   marker    recognises the tool's output (its shape) and says nothing about a migration
TOOL_KINDS = ("context", "job", "advisory", "precheck", "marker")
PHRASE_SOURCES = ("windows", "rendering", "documented")
PHRASE_CONFIDENCES = ("high", "medium", "low")


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool whose output people paste, with the wordings that say what its text means."""

    id: str  # move-vm, hyper-v-manager, failover-cluster-manager, scvmm-job, ...
    name: str  # what to call it in a report
    shape: str  # what ``explain`` calls text in its wording (Explanation.shapes), "" for none
    wordings: tuple[Phrase, ...]  # each Phrase.kind is one of TOOL_KINDS

    def of_kind(self, *kinds: str) -> tuple[Phrase, ...]:
        return tuple(p for p in self.wordings if p.kind in kinds)


@dataclass(frozen=True, slots=True)
class NicLinkRule:
    """How a System-log record says a NIC lost or regained link (``nic_link:`` in the catalog)."""

    provider: str  # lower-case provider name ("" for a payload rule)
    ids: frozenset[int]
    state: str  # lost | restored
    family: str  # what to call it in a report: NDIS, LBFO, an Intel driver, ...


@dataclass(frozen=True, slots=True)
class Catalog:
    events: Mapping[tuple[str, int], EventSpec]
    error_codes: Mapping[str, ErrorCode]
    channels: Mapping[str, str]  # short key -> canonical channel name
    providers: Mapping[str, str]  # short key -> provider name
    provider_guids: Mapping[str, str]
    # English sentence (lower-case, as the signatures write it) -> its other-language wordings
    sentences: Mapping[str, tuple[Phrase, ...]] = field(default_factory=dict)
    code_texts: Mapping[str, tuple[Phrase, ...]] = field(default_factory=dict)  # code -> texts
    migration_words: tuple[str, ...] = ()  # words that place a bare code in a live migration
    benign: tuple[Phrase, ...] = ()  # wording that makes a paragraph's codes decoys
    tools: tuple[Tool, ...] = ()  # the wording of the tools people paste from
    nic_link: tuple[NicLinkRule, ...] = ()
    link_payload: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # state -> words
    destination_codes: frozenset[str] = frozenset()  # only a destination's own failure logs them

    def spec(self, provider: str, event_id: int) -> EventSpec | None:
        return self.events.get((provider.lower(), event_id))

    def template(self, provider: str, event_id: int, field_count: int) -> tuple[str, str] | None:
        """(template, where it comes from) to render an event the input gave no text for.

        An imported host's template wins; then migdiag's entry (2012 R2's text) unless the
        record has too few insertions for it and an older Windows version's text fits
        (2008 R2's HA 21500-21503 use ``%2``); then Windows' tables for events migdiag has
        no entry for.  The second item is "imported", "catalog" or an OS key of
        ``windows_tables`` ("ws2012r2", "ws2012", "ws2008r2").
        """
        spec = self.events.get((provider.lower(), event_id))
        if spec is not None and (spec.source == IMPORTED or not spec.verified):
            return spec.template, "imported" if spec.source == IMPORTED else "catalog"
        if spec is not None and windows_tables.highest_insertion(spec.template) <= field_count:
            return spec.template, "catalog"
        chosen = windows_tables.choose(
            provider, event_id, field_count, spec.template if spec is not None else None
        )
        if chosen is None:
            return None
        text, os_key = chosen
        if spec is not None and os_key == windows_tables.DEFAULT_OS:
            return text, "catalog"
        return text, os_key

    def decode(self, code: str) -> ErrorCode | None:
        return self.error_codes.get(code)

    def translations(self, sentence: str) -> tuple[Phrase, ...]:
        """The other-language wordings of an English sentence the signatures use."""
        return self.sentences.get(" ".join(sentence.lower().split()), ())

    def nic_link_state(self, provider: str, event_id: int, text: str) -> tuple[str, str] | None:
        """``(lost | restored, how it was recognised)`` when a record reports a NIC's link
        changing: by provider family and id, or, for a driver the catalog does not name, by
        words in its payload (the report says which)."""
        name = provider.lower()
        for rule in self.nic_link:
            if rule.provider == name and event_id in rule.ids:
                return rule.state, f"{rule.family} link event {event_id} ({provider})"
        if name.startswith("microsoft-windows-") or not text:
            return None  # Windows' own providers are known by id; their words prove nothing
        low = " ".join(text.lower().split())
        for state in ("lost", "restored"):
            for words in self.link_payload.get(state, ()):
                if words in low:
                    how = f"recognised by its payload ({words!r}): driver {provider} is unknown"
                    return state, how + " to migdiag"
        return None

    def is_relevant_provider(self, provider: str) -> bool:
        """Only these providers' records are kept; the rest are counted, not decoded."""
        name = provider.lower()
        return name.startswith("microsoft-windows-hyper-v") or name in RELEVANT_OTHER_PROVIDERS

    def keeps_id(self, provider: str, event_id: int) -> bool:
        """Whether an event of a relevant provider is kept: all of them, except for the
        busy providers of ``KEPT_IDS``, whose other events are counted, not decoded."""
        kept = KEPT_IDS.get(provider.lower())
        return kept is None or event_id in kept


# Providers outside Hyper-V whose System-log events corroborate or rule out a cause.
RELEVANT_OTHER_PROVIDERS = frozenset(
    {
        "microsoft-windows-failoverclustering",
        "vmsmp",  # virtual switch: MAC pinning after teaming problems (KB 968703)
        "microsoft-windows-ndis",  # NIC link state
        "microsoft-windows-ms_lbfo",  # NIC teaming (LBFO), as the reference spelt it
        "microsoft-windows-mslbfoeventprovider",  # NIC teaming, as Windows' tables name it
        "microsoft-windows-mslbfosysevtprovider",  # LBFO team member disconnected/connected
        # Common NIC drivers' System-log sources (link down/up, catalog `nic_link`)
        "e1rexpress",
        "e1iexpress",
        "e1dexpress",
        "e1cexpress",
        "e1qexpress",
        "ixgbn",
        "i40ea",
        "b57nd60a",
        "microsoft-windows-grouppolicy",  # a GPO change can remove logon rights or firewall rules
    }
)

# Busy providers of which only some events say anything about a migration.  Group Policy
# logs every background refresh (session started and completed, account lookups, Winlogon
# notifications: thousands of records a day) whatever changed; what corroborates a cause is
# policy newly applied (1502 computer, 1503 user: "New settings from N Group Policy objects
# were detected and applied") or policy failing to apply (1030, 1058, 1085, 1096 a corrupt
# Registry.pol, 1125), ids and texts from Windows' GroupPolicy message tables.  Their other
# events are counted, not decoded (a signature naming one is refused by the loader).
KEPT_IDS: Mapping[str, frozenset[int]] = {
    "microsoft-windows-grouppolicy": frozenset({1030, 1058, 1085, 1096, 1125, 1502, 1503}),
}


def safe_loader() -> type[yaml.SafeLoader]:
    """libyaml's loader when PyYAML was built with it (the pure-Python one is several times
    slower), else PyYAML's own; the same safe schema either way.  yaml is imported here, not
    at start-up: a run served from the compiled cache never parses YAML."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(text: str) -> dict[str, Any]:
    import yaml

    data = yaml.load(text, Loader=safe_loader())
    if not isinstance(data, dict):
        raise ValueError("catalog: top level must be a mapping")
    return data


def _event_key(providers: Mapping[str, str], ref: str) -> tuple[str, int]:
    """``vmms:22038`` -> ("microsoft-windows-hyper-v-vmms", 22038): never an id alone."""
    key, sep, number = ref.partition(":")
    if not sep or key not in providers or not number.isdigit():
        raise ValueError(f"catalog: follows entry {ref!r} is not provider-key:id")
    return providers[key].lower(), int(number)


def build_catalog(data: Mapping[str, Any]) -> Catalog:
    providers: dict[str, str] = dict(data["providers"])
    channels: dict[str, str] = dict(data["channels"])
    events: dict[tuple[str, int], EventSpec] = {}
    for raw in data["events"]:
        provider = providers[raw["provider"]]
        phase = raw.get("phase")
        spec = EventSpec(
            event_id=int(raw["id"]),
            provider=provider,
            channel=channels[raw["channel"]],
            level=int(raw["level"]),
            side=str(raw["side"]),
            kind=str(raw["kind"]),
            template=str(raw["template"]),
            params=tuple((str(k), int(v)) for k, v in (raw.get("params") or {}).items()),
            names=tuple((str(k), str(v)) for k, v in (raw.get("names") or {}).items()),
            verified=bool(raw["verified"]),
            source=str(raw["source"]),
            phase=(str(phase["name"]), str(phase["edge"])) if phase else None,
            follows=tuple(_event_key(providers, str(ref)) for ref in raw.get("follows") or ()),
            guessed=tuple(str(g) for g in raw.get("guessed") or ()),
        )
        events[(provider.lower(), spec.event_id)] = spec
    codes = {
        code.upper().replace("0X", "0x"): ErrorCode(
            code=code.upper().replace("0X", "0x"),
            name=str(v["name"]),
            text=str(v["text"]),
            meaning=str(v["meaning"]),
            verified=bool(v["verified"]),
        )
        for code, v in data["error_codes"].items()
    }
    nic_link = tuple(
        NicLinkRule(
            provider=str(raw["provider"]).lower(),
            ids=frozenset(int(i) for i in raw["ids"]),
            state=str(raw["state"]),
            family=str(raw["family"]),
        )
        for raw in (data.get("nic_link") or {}).get("events") or ()
    )
    payload = {
        str(state): tuple(" ".join(w.lower().split()) for w in words)
        for state, words in ((data.get("nic_link") or {}).get("payload") or {}).items()
    }
    return Catalog(
        events=events,
        error_codes=codes,
        channels=channels,
        providers=providers,
        provider_guids=dict(data.get("provider_guids") or {}),
        nic_link=nic_link,
        link_payload=payload,
        destination_codes=frozenset(str(c) for c in data.get("destination_codes") or ()),
    )


def _phrase(raw: Mapping[str, Any]) -> Phrase:
    return Phrase(
        lang=str(raw["lang"]),
        text=str(raw["text"]),
        source=str(raw["source"]),
        confidence=str(raw["confidence"]),
        kind=str(raw.get("kind", "")),
    )


def _tool(tool_id: str, raw: Mapping[str, Any]) -> Tool:
    wordings = tuple(_phrase(p) for p in raw.get("wordings") or ())
    for p in wordings:
        # A wording nobody can act on is a data error: say which, at load time.
        for value, allowed in (
            (p.kind, TOOL_KINDS),
            (p.source, PHRASE_SOURCES),
            (p.confidence, PHRASE_CONFIDENCES),
        ):
            if value not in allowed:
                raise ValueError(
                    f"phrases: tools.{tool_id}: {p.text!r}: {value!r} is not one of "
                    + ", ".join(allowed)
                )
    return Tool(
        id=tool_id,
        name=str(raw.get("name", tool_id)),
        shape=str(raw.get("shape", "")),
        wordings=wordings,
    )


def with_phrases(catalog: Catalog, data: Mapping[str, Any]) -> Catalog:
    """The catalog with the localised wordings of ``data/phrases.yaml``."""
    return replace(
        catalog,
        sentences={
            " ".join(str(english).lower().split()): tuple(_phrase(p) for p in phrases)
            for english, phrases in (data.get("sentences") or {}).items()
        },
        code_texts={
            str(code).upper().replace("0X", "0x"): tuple(_phrase(p) for p in phrases)
            for code, phrases in (data.get("codes") or {}).items()
        },
        migration_words=tuple(
            str(w) for words in (data.get("migration_words") or {}).values() for w in words
        ),
        benign=tuple(_phrase(p) for p in data.get("benign") or ()),
        tools=tuple(_tool(str(k), v) for k, v in (data.get("tools") or {}).items()),
    )


# What the shipped catalog is built from; each file's bytes go into its cache key.
_DATA = Path(__file__).resolve().parent / "data"
_SOURCES = (_DATA / "catalog.yaml", _DATA / "phrases.yaml", Path(__file__).resolve())


@cache
def shipped_catalog() -> Catalog:
    """The catalog shipped in the package, without a user's imported templates.

    Built from the YAML once, then served pickled from the compiled cache (~1 ms instead of
    ~40 ms of YAML parsing on every run)."""
    texts = [path.read_bytes() for path in _SOURCES]
    key = compiled.key(texts)
    cached = compiled.load("catalog", key, Catalog)
    if isinstance(cached, Catalog):
        return cached
    catalog = build_catalog(_load_yaml(texts[0].decode("utf-8")))
    catalog = with_phrases(catalog, _load_yaml(texts[1].decode("utf-8")))
    compiled.store("catalog", key, catalog)
    return catalog


@cache
def default_catalog() -> Catalog:
    """The shipped catalog with the user's imported templates on top (``catalog import``)."""
    return apply_overrides(shipped_catalog(), load_overrides())


ENV_CONFIG_DIR = "MIGDIAG_CONFIG_DIR"


def user_catalog_path() -> Path:
    """Where imported templates live: $MIGDIAG_CONFIG_DIR, else the XDG config folder."""
    base = os.environ.get(ENV_CONFIG_DIR)
    if base:
        return Path(base) / "catalog-overrides.yaml"
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(xdg) / "migdiag" / "catalog-overrides.yaml"


Overrides = dict[str, dict[int, dict[str, Any]]]
IMPORTED = "imported from the host's provider metadata"


def load_overrides(path: Path | None = None) -> Overrides:
    """``{provider: {event id: {template, level?, channel?}}}`` from the user catalog."""
    path = path or user_catalog_path()
    if not path.is_file():
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}  # a broken user file must not stop an analysis; `catalog import` rewrites it
    providers = data.get("providers") if isinstance(data, Mapping) else None
    if not isinstance(providers, Mapping):
        return {}
    return {
        str(p): {int(k): dict(v) for k, v in events.items() if isinstance(v, Mapping)}
        for p, events in providers.items()
        if isinstance(events, Mapping)
    }


def apply_overrides(catalog: Catalog, overrides: Overrides) -> Catalog:
    """Real templates replace guessed ones; events the shipped catalog lacks are added."""
    if not overrides:
        return catalog
    events = dict(catalog.events)
    for provider, entries in overrides.items():
        for event_id, entry in entries.items():
            key = (provider.lower(), event_id)
            old = events.get(key)
            template = str(entry.get("template", old.template if old else ""))
            level = int(entry.get("level", old.level if old else 4))
            channel = str(entry.get("channel", old.channel if old else ""))
            if old is not None:
                events[key] = replace(
                    old,
                    template=template,
                    level=level,
                    channel=channel or old.channel,
                    verified=True,
                    source=IMPORTED,
                )
            else:
                events[key] = EventSpec(
                    event_id=event_id,
                    provider=provider,
                    channel=channel,
                    level=level,
                    side="either",
                    kind="other",
                    template=template,
                    params=(),
                    names=(),
                    verified=True,
                    source=IMPORTED,
                )
    return replace(catalog, events=events)
