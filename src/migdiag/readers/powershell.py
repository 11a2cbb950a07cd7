"""What PowerShell prints, as one entry in the registry: its formats, readers and sniffer.

The formats are tried most distinctive first: CLIXML (``<Objs>`` about event records), the
``Export-Csv`` header, event JSON, the default table's header, and ``Name : value`` lists.
Each sniffer demands PowerShell's own property names (never translated), so none of them
claims another reader's input: XML starts with ``<``, wevtutil text with ``Event[0]:``,
copy-as-text with labels that are not property names, and configuration snapshots (JSON or
lists of ``Get-VMHost`` and the like) have no event id and time together.
"""

from __future__ import annotations

from migdiag.readers import Reader
from migdiag.readers import powershell_clixml as clixml
from migdiag.readers import powershell_csv as csv
from migdiag.readers import powershell_json as json
from migdiag.readers import powershell_list as listing
from migdiag.readers import powershell_table as table
from migdiag.readers.localtime import TimeOptions

_ORDER = (
    (clixml.FORMAT, clixml),
    (csv.FORMAT, csv),
    (json.FORMAT, json),
    (table.FORMAT, table),
    (listing.FORMAT, listing),
)
FORMATS = tuple(name for name, _ in _ORDER)


def readers_for(options: TimeOptions) -> dict[str, Reader]:
    """The PowerShell readers by format name, converting local dates with ``options``."""
    return {name: module.make_reader(options) for name, module in _ORDER}


def sniff_text(text: str) -> str | None:
    """The PowerShell format of a decoded head, or None."""
    for name, module in _ORDER:
        if module.sniff_text(text):
            return name
    return None


__all__ = ["FORMATS", "readers_for", "sniff_text"]
