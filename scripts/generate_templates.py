#!/usr/bin/env python3
"""Generate src/migdiag/data/windows/*.json from Windows' own message tables.

The tables (one TSV per OS and provider, ``event_id<TAB>message``) are the WELM extracts
described in ../shared/reference/message-tables/README.md.  Only the providers migdiag reads
are kept, so that the package stays small and loads fast:

- ws2012r2.json holds every template of those providers (2012 R2 is the default);
- ws2012.json and ws2008r2.json hold only the (provider, id) whose text differs from
  2012 R2's or that 2012 R2 does not define.

Run from the repository root:  python scripts/generate_templates.py [TABLES_DIR]
The output is deterministic (sorted keys, one provider per line) so that a test can
regenerate it and compare bytes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TABLES = ROOT.parent / "shared" / "reference" / "message-tables"
OUT_DIR = ROOT / "src" / "migdiag" / "data" / "windows"

SOURCE = (
    "NSA Cybersecurity WELM 2.3.0.0 extracts (2017-04-06) as republished by Velocidex "
    "evtx-data commit 9de3c60e0895af81f190cdb014e299720962fe14 (welm/*.db); "
    "read from message-tables/<os>--<provider>.tsv"
)
DEFAULT_OS = "ws2012r2"
# Newest first: the order in which a template is looked for when the default lacks it.
OS_VERSIONS = {
    "ws2012r2": "Windows Server 2012 R2 (6.3.9600)",
    "ws2012": "Windows Server 2012 (6.2.9200)",
    "ws2008r2": "Windows Server 2008 R2 SP1 (6.1.7601)",
}
PROVIDERS = (
    "Microsoft-Windows-Hyper-V-VMMS",
    "Microsoft-Windows-Hyper-V-Worker",
    "Microsoft-Windows-Hyper-V-High-Availability",
    "Microsoft-Windows-Hyper-V-VmSwitch",
    "Microsoft-Windows-Hyper-V-Config",
    "Microsoft-Windows-FailoverClustering",
    "Microsoft-Windows-NDIS",
    "Microsoft-Windows-MsLbfoEventProvider",
    "Microsoft-Windows-MsLbfoSysEvtProvider",
    "Microsoft-Windows-SMBClient",
    "Microsoft-Windows-SMBDirect",
    "Microsoft-Windows-TCPIP",
    "Microsoft-Windows-Time-Service",
    "Microsoft-Windows-GroupPolicy",
    "Microsoft-Windows-Kernel-General",
)


def read_table(path: Path) -> dict[str, str]:
    """``{id: template}`` of one TSV; an id defined twice (event versions) keeps the last."""
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines[0] != "event_id\tmessage":
        raise SystemExit(f"{path}: unexpected header {lines[0]!r}")
    table: dict[str, str] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        event_id, sep, message = line.partition("\t")
        if not sep or not event_id.isdigit():
            raise SystemExit(f"{path}:{number}: not 'id<TAB>message'")
        table[str(int(event_id))] = message
    return table


def read_all(tables: Path) -> dict[str, dict[str, dict[str, str]]]:
    """``{os: {provider: {id: template}}}`` for the providers migdiag reads."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for os_key in OS_VERSIONS:
        out[os_key] = {}
        for provider in PROVIDERS:
            path = tables / f"{os_key}--{provider}.tsv"
            if path.is_file():
                out[os_key][provider] = read_table(path)
    return out


def _ranges(ids: list[int]) -> str:
    """[1, 2, 3, 7] -> "1-3,7": the compact form of a sorted id list."""
    parts: list[str] = []
    start = prev = ids[0]
    for n in [*ids[1:], -1]:
        if n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = n
    return ",".join(parts)


def documents(tables: Path) -> dict[str, str]:
    """File name -> JSON text, for every file this script writes."""
    everything = read_all(tables)
    default = everything[DEFAULT_OS]
    out: dict[str, str] = {}
    for os_key, providers in everything.items():
        kept: dict[str, dict[str, str]] = {}
        absent: dict[str, str] = {}  # ids the default defines and this version does not
        for provider, table in providers.items():
            base = default.get(provider, {}) if os_key != DEFAULT_OS else {}
            delta = {k: v for k, v in table.items() if base.get(k) != v}
            if delta:
                kept[provider] = dict(sorted(delta.items(), key=lambda kv: int(kv[0])))
            missing = sorted(int(k) for k in base if k not in table)
            if missing:
                absent[provider] = _ranges(missing)
        head = {
            "os": os_key,
            "name": OS_VERSIONS[os_key],
            "complete": os_key == DEFAULT_OS,
            "source": SOURCE,
            "generated_by": "scripts/generate_templates.py",
            "providers_defined": sorted(providers),
        }
        lines = ["{"]
        lines += [f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in head.items()]
        lines.append('"templates": {')
        items = sorted(kept.items())
        for i, (provider, templates) in enumerate(items):
            comma = "," if i < len(items) - 1 else ""
            lines.append(
                f"{json.dumps(provider)}: {json.dumps(templates, ensure_ascii=False)}{comma}"
            )
        lines.append("},")
        lines.append(f'"absent": {json.dumps(dict(sorted(absent.items())))}')
        lines.append("}")
        out[f"{os_key}.json"] = "\n".join(lines) + "\n"
    return out


def main(argv: list[str]) -> int:
    tables = Path(argv[1]) if len(argv) > 1 else DEFAULT_TABLES
    if not tables.is_dir():
        print(f"{tables}: message tables not found", file=sys.stderr)
        return 1
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in documents(tables).items():
        (OUT_DIR / name).write_text(text, encoding="utf-8")
        print(f"wrote {OUT_DIR / name} ({len(text):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
