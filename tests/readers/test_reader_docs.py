"""docs/collecting.md stays in step with the readers and the catalog's channels."""

from __future__ import annotations

from pathlib import Path

from migdiag.catalog import default_catalog
from migdiag.readers.registry import READERS

PAGE = Path(__file__).resolve().parents[2] / "docs" / "collecting.md"


def test_every_channel_has_its_wevtutil_command() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for channel in set(default_catalog().channels.values()):
        quoted = f'"{channel}"' if "/" in channel else channel
        assert f"wevtutil epl {quoted} " in text, channel


def test_every_format_is_in_the_table() -> None:
    text = PAGE.read_text(encoding="utf-8")
    names = {
        "evtx": "| EVTX |",
        "xml": "| Event Viewer XML |",
        "wevtutil-text": "| `wevtutil qe /f:text` |",
        "csv": "| Event Viewer CSV |",
        "text": "| Copy details as text",
        "mta": "| LocaleMetaData `.MTA` |",
        "powershell-list": "| PowerShell `Format-List` |",
        "powershell-table": "| PowerShell default table |",
        "powershell-csv": "| PowerShell `Export-Csv` |",
        "powershell-json": "| PowerShell `ConvertTo-Json` |",
        "powershell-clixml": "| PowerShell `Export-Clixml` |",
    }
    assert set(names) == set(READERS)
    for fmt, row in names.items():
        assert row in text, fmt
