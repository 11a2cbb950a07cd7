"""Diagnosis: match the signature library against each migration and rank the findings.

load_library(extra_dirs) -> Library      the shipped signatures plus the user's folders
validate_dir(path) -> list[str]          every "file:line: message" problem of a folder
diagnose(migration, library, catalog, context) -> MigrationResult
run_cases(cases_dir, library) -> list[CaseResult]   the signatures' positive/negative cases
"""

from __future__ import annotations

from migdiag.diagnose.cases import CaseResult, run_cases
from migdiag.diagnose.loader import Library, builtin_dir, load_library, validate_dir
from migdiag.diagnose.rank import diagnose
from migdiag.diagnose.signature import Signature

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
