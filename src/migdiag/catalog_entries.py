"""Every event migdiag knows, one entry per (provider, id): ``migdiag catalog list/show``.

An entry joins Windows' text (the message tables shipped in ``data/windows/``, or a host's
imported templates) with what migdiag's catalog adds (kind, side, roles).  Events Windows
defines and migdiag has no semantics for are listed too: they still render with their text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from migdiag import windows_tables
from migdiag.catalog import IMPORTED, Catalog, EventSpec


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    provider: str  # full name, as Windows spells it
    event_id: int
    template: str  # what renders the event when the input carries no text
    verified: bool  # the template is Windows' own (a message table or an imported host)
    source: str
    os: tuple[str, ...]  # the OS tables that define (provider, id), newest first
    templates: tuple[tuple[str, str], ...]  # (OS key, text) where versions differ
    spec: EventSpec | None  # migdiag's semantics, None when it has none

    def as_dict(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "provider": self.provider,
            "id": self.event_id,
            "template": self.template,
            "verified": self.verified,
            "source": self.source,
            "os": list(self.os),
            "templates": dict(self.templates),
            "kind": spec.kind if spec else None,
            "side": spec.side if spec else None,
            "roles": {role: position for role, position in spec.params} if spec else {},
            "names": {role: name for role, name in spec.names} if spec else {},
            "channel": spec.channel if spec else None,
            "level": spec.level if spec else None,
            "guessed": list(spec.guessed) if spec else [],
        }


def _matches(provider: str, wanted: str | None, catalog: Catalog) -> bool:
    if wanted is None:
        return True
    name, key = provider.lower(), wanted.lower()
    full = catalog.providers.get(wanted, "").lower()
    return name in (key, full) or name.endswith("-" + key)


def _entry(catalog: Catalog, provider: str, event_id: int) -> CatalogEntry | None:
    spec = catalog.spec(provider, event_id)
    chosen = catalog.template(provider, event_id, field_count=99)
    if chosen is None:
        return None
    text, origin = chosen
    os_keys = windows_tables.tables_defining(provider, event_id)
    texts: dict[str, str] = {}
    for os_key in os_keys:
        own = windows_tables.template(provider, event_id, os_key)
        if own is not None and own not in texts.values():
            texts[os_key] = own
    if spec is not None:
        source, verified = spec.source, spec.verified
    else:
        source = f"Windows' message table ({origin}): {windows_tables.source(origin)}"
        verified = True
    return CatalogEntry(
        provider=windows_tables.provider_name(spec.provider if spec else provider),
        event_id=event_id,
        template=text,
        verified=verified,
        source=source if origin != "imported" else IMPORTED,
        os=os_keys,
        templates=tuple(texts.items()) if len(texts) > 1 else (),
        spec=spec,
    )


def entries(catalog: Catalog, provider: str | None = None) -> list[CatalogEntry]:
    """Every known event (the catalog's and the shipped tables'), sorted by provider and id."""
    keys = {(spec.provider.lower(), spec.event_id) for spec in catalog.events.values()}
    for name in windows_tables.providers():
        keys.update((name, event_id) for event_id in windows_tables.provider_ids(name))
    out = []
    for name, event_id in sorted(keys):
        if not _matches(name, provider, catalog):
            continue
        entry = _entry(catalog, name, event_id)
        if entry is not None:
            out.append(entry)
    return out


def entry(catalog: Catalog, provider: str, event_id: int) -> CatalogEntry | None:
    """One event by provider (full name, short key such as ``vmms``, or name suffix) and id."""
    names = {spec.provider.lower() for spec in catalog.events.values()}
    names.update(windows_tables.providers())
    for name in sorted(names):
        if _matches(name, provider, catalog):
            found = _entry(catalog, name, event_id)
            if found is not None:
                return found
    return None
