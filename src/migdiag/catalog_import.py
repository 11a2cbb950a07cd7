"""``migdiag catalog import``: real message templates from a Hyper-V host's provider metadata.

Many VMMS id<->message pairings in the shipped catalog are guesses (reference section 12).
The fix is the host's own metadata, dumped on any Hyper-V host with

    wevtutil gp Microsoft-Windows-Hyper-V-VMMS /ge /gm /f:xml > vmms.xml

Importing it writes a user catalog (YAML) of overrides: for every event in the dump its
message template, level and channel, marked verified.  The shipped catalog loads it on top
of its own entries (``catalog.default_catalog``); rendered text in an input still wins.

The reader is tolerant: it takes every element named ``event`` with a numeric ``value`` and
a ``message`` attribute, under a ``provider``/``publisher`` element with a ``name``, and
resolves a numeric ``channel`` through the provider's ``channel`` list.  No public copy of
this output for the Hyper-V providers was found to test against (docs/collecting.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from lxml import etree

from migdiag.catalog import load_overrides, user_catalog_path
from migdiag.errors import InputError
from migdiag.readers.xmlevent import local_name, safe_parser


def parse_metadata(data: bytes, name: str) -> dict[str, dict[int, dict[str, Any]]]:
    """``{provider: {event id: {template, level, channel}}}`` from one metadata dump."""
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data:
        raise InputError(name, "DTDs and entities are not accepted in provider metadata")
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise InputError(name, f"not XML: {exc.msg}") from None
    out: dict[str, dict[int, dict[str, Any]]] = {}
    providers = [e for e in root.iter() if local_name(e.tag).lower() in ("provider", "publisher")]
    for provider in providers:
        provider_name = provider.get("name")
        if not provider_name:
            continue
        channels = {
            c.get("value") or c.get("id") or "": c.get("name") or ""
            for c in provider.iter()
            if local_name(c.tag).lower() == "channel" and c.get("name")
        }
        events: dict[int, dict[str, Any]] = {}
        for event in provider.iter():
            if local_name(event.tag).lower() != "event":
                continue
            value, message = event.get("value"), event.get("message")
            if not value or not value.isdigit() or message is None:
                continue
            channel = event.get("channel") or ""
            entry: dict[str, Any] = {"template": message.strip()}
            if channel:
                entry["channel"] = channels.get(channel, channel)
            level = event.get("level") or ""
            if level.isdigit():
                entry["level"] = int(level)
            events[int(value) & 0xFFFF] = entry
        if events:
            out.setdefault(provider_name, {}).update(events)
    if not out:
        raise InputError(
            name,
            "no provider events with messages found (expected wevtutil gp /ge /gm /f:xml output)",
        )
    return out


def import_metadata(path: Path, target: Path | None = None) -> tuple[Path, int]:
    """Merge one dump into the user catalog; returns (its path, events imported)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), exc.strerror or "cannot read") from None
    imported = parse_metadata(data, str(path))
    target = target or user_catalog_path()
    current: dict[str, dict[int, dict[str, Any]]] = load_overrides(target)
    for provider, events in imported.items():
        current.setdefault(provider, {}).update(events)
    target.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "source": "imported with migdiag catalog import from wevtutil gp output",
        "providers": {
            p: {int(k): v for k, v in sorted(e.items())} for p, e in sorted(current.items())
        },
    }
    target.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), "utf-8")
    return target, sum(len(e) for e in imported.values())
