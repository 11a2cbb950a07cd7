"""Diagnosis: match the signature library against each migration and rank the findings.

load_library(extra_dirs) -> Library      the shipped signatures plus the user's folders
validate_dir(path) -> list[str]          every "file:line: message" problem of a folder
diagnose(migration, library, catalog, context) -> MigrationResult
run_cases(cases_dir, library) -> list[CaseResult]   the signatures' positive/negative cases

The names load on first use: ``run_cases`` brings the scenario writer and ``diagnose`` the
matcher, and a command that only loads the library must not pay for either at start-up.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from migdiag.diagnose.cases import CaseResult, run_cases
    from migdiag.diagnose.loader import Library, builtin_dir, load_library, validate_dir
    from migdiag.diagnose.rank import diagnose
    from migdiag.diagnose.signature import Signature

_HOMES = {
    "CaseResult": "cases",
    "run_cases": "cases",
    "Library": "loader",
    "builtin_dir": "loader",
    "load_library": "loader",
    "validate_dir": "loader",
    "diagnose": "rank",
    "Signature": "signature",
}

__all__ = [
    "CaseResult",
    "Library",
    "Signature",
    "builtin_dir",
    "diagnose",
    "load_library",
    "run_cases",
    "validate_dir",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(name)
    return getattr(import_module(f"migdiag.diagnose.{home}"), name)
