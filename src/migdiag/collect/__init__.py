"""The PowerShell collector a customer runs on the hosts: ``migdiag collect`` writes it out.

``Collect-MigDiag.ps1`` ships beside this module as a data file.  Per host it exports the
channels migdiag reads (time-filtered ``wevtutil epl``), the providers' message templates
(``wevtutil gp``, for ``migdiag catalog import``) and a configuration snapshot, one JSON file
per cmdlet under ``<HOST>/config/``, then zips them as ``<HOST>-<UTC time>.zip``.  It is
read-only; tests/test_collect_script.py parses it with a real PowerShell grammar to prove
it (no syntax error, no state-changing verb, only allow-listed commands).
"""

from __future__ import annotations

from importlib.resources import files

SCRIPT_NAME = "Collect-MigDiag.ps1"


def script_text() -> str:
    """The collector script, exactly as shipped."""
    return files(__name__).joinpath(SCRIPT_NAME).read_text(encoding="utf-8")


def script_bytes_for_windows() -> bytes:
    """The script as Windows PowerShell 5.1 reads it safely: UTF-8 with a BOM (without
    one, 5.1 reads a script in the ANSI code page) and CRLF line ends."""
    return "\ufeff".encode() + script_text().replace("\n", "\r\n").encode("utf-8")


__all__ = ["SCRIPT_NAME", "script_bytes_for_windows", "script_text"]
