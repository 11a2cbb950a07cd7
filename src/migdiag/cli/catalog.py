"""``migdiag catalog``: list, show and import the events migdiag knows; list the tool wordings
that ``explain`` reads.

Mounted by the main CLI with ``app.add_typer(catalog.app, name="catalog")``.
Exit codes: 0 fine, 2 bad input (an unreadable metadata dump, an unknown event).
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from migdiag.errors import MigdiagError

app = typer.Typer(
    help="The catalog of events migdiag understands.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold customer log data
)


def _error(message: str) -> None:
    """One plain line on stderr (rich is imported only when there is an error to show)."""
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False).print(f"error: {escape(message)}")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ListFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def _plain(text: str) -> str:
    # Imported templates come from a user's file: no control characters reach the terminal.
    return _CONTROL.sub(" ", text)


@app.command("list")
def list_(
    provider: Annotated[
        str | None,
        typer.Option(
            "--provider", "-p", help="Only this provider (full name, vmms, ha, worker, cluster)."
        ),
    ] = None,
    output: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.TABLE,
) -> None:
    """Every event migdiag knows, one per line: provider, id, OS tables, kind, side, roles and
    template, separated by tabs.

    Templates are Windows' own (its message tables for 2012 R2, 2012 and 2008 R2, or a host's
    templates imported with `migdiag catalog import`); kind, side and roles are migdiag's.
    """
    from migdiag.catalog import default_catalog
    from migdiag.catalog_entries import entries

    found = entries(default_catalog(), provider)
    if output is ListFormat.JSON:
        typer.echo(json.dumps([e.as_dict() for e in found], indent=1, ensure_ascii=False))
        return
    for e in found:
        spec = e.spec
        roles = ",".join(f"{r}=%{n}" for r, n in spec.params) if spec else ""
        fields = (
            e.provider,
            str(e.event_id),
            "+".join(e.os) or "-",
            spec.kind if spec else "-",
            spec.side if spec else "-",
            roles or "-",
            e.template,
        )
        typer.echo("\t".join(_plain(f) for f in fields))


@app.command()
def show(
    provider: Annotated[
        str, typer.Argument(metavar="PROVIDER", help="Provider: full name or vmms, ha, worker...")
    ],
    event_id: Annotated[int, typer.Argument(metavar="ID", help="Event id.")],
) -> None:
    """Everything migdiag knows about one (provider, id): Windows' text and migdiag's meaning."""
    from migdiag.catalog import default_catalog
    from migdiag.catalog_entries import entry

    found = entry(default_catalog(), provider, event_id)
    if found is None:
        _error(f"no event {event_id} of provider {provider!r} is known")
        raise typer.Exit(2)
    data = found.as_dict()
    lines = [f"{data['provider']} {data['id']}", f"template: {data['template']}"]
    lines.append(f"verified: {'yes' if data['verified'] else 'no'} ({data['source']})")
    lines.append(f"OS tables: {', '.join(data['os']) or 'none'}")
    for os_key, text in data["templates"].items():
        lines.append(f"  {os_key}: {text}")
    if found.spec is not None:
        lines.append(f"kind: {data['kind']}  side: {data['side']}")
        lines.append(f"channel: {data['channel']}  level: {data['level']}")
        roles = ", ".join(f"%{n} {r}" for r, n in data["roles"].items())
        lines.append(f"roles: {roles or 'none'}")
        if data["names"]:
            lines.append(
                "payload names: " + ", ".join(f"{r}={n}" for r, n in data["names"].items())
            )
        if data["guessed"]:
            lines.append("guessed (no table holds it): " + ", ".join(data["guessed"]))
    else:
        lines.append("migdiag has no semantics for this event: it is rendered, not interpreted")
    typer.echo("\n".join(_plain(line) for line in lines))


@app.command()
def tools(
    tool: Annotated[
        str | None,
        typer.Argument(
            metavar="[TOOL]",
            help="Only this tool: move-vm, hyper-v-manager, failover-cluster-manager, "
            "scvmm-job, scvmm-rating, bpa.",
        ),
    ] = None,
    output: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.TABLE,
) -> None:
    """The wording of the tools people paste from, as `explain` reads it: one per line, tool,
    kind, language, source, confidence and text, separated by tabs.

    Kinds: context (a failed live migration: a code beside it is evidence), job (a failed job
    that names no operation: a code beside it names candidates), advisory (advice or a
    finished job: its paragraph is a decoy), precheck (a placement rating: no migration was
    attempted), marker (recognises the tool's text only).  See docs/explain.md.
    """
    from migdiag.catalog import default_catalog

    known = default_catalog().tools
    chosen = [t for t in known if tool is None or t.id == tool]
    if not chosen:
        _error(f"no tool {tool!r} (see: migdiag catalog tools)")
        raise typer.Exit(2)
    if output is ListFormat.JSON:
        data = [
            {
                "id": t.id,
                "name": t.name,
                "shape": t.shape or None,
                "wordings": [
                    {
                        "kind": w.kind,
                        "lang": w.lang,
                        "text": w.text,
                        "source": w.source,
                        "confidence": w.confidence,
                    }
                    for w in t.wordings
                ],
            }
            for t in chosen
        ]
        typer.echo(json.dumps(data, indent=1, ensure_ascii=False))
        return
    for t in chosen:
        for w in t.wordings:
            fields = (t.id, w.kind, w.lang, w.source, w.confidence, w.text)
            typer.echo("\t".join(_plain(f) for f in fields))


@app.command("import")
def import_(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE...",
            help="Output of: wevtutil gp PROVIDER /ge /gm:true /f:xml > provider.xml",
        ),
    ],
) -> None:
    """Use a Hyper-V host's own message templates: they win over the shipped tables.

    On any Hyper-V host run, for each provider:

        wevtutil gp Microsoft-Windows-Hyper-V-VMMS /ge /gm:true /f:xml > vmms.xml

        wevtutil gp Microsoft-Windows-Hyper-V-High-Availability /ge /gm:true /f:xml > ha.xml

    then `migdiag catalog import vmms.xml ha.xml`.  The templates are stored in your user
    catalog ($MIGDIAG_CONFIG_DIR or ~/.config/migdiag) and override the shipped ones.
    """
    from migdiag.catalog_import import import_metadata

    for path in files:
        try:
            target, count = import_metadata(path)
        except MigdiagError as exc:
            _error(str(exc))
            raise typer.Exit(2) from None
        typer.echo(f"{path}: {count} event templates imported into {target}")
