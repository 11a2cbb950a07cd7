"""migdiag: why did this Hyper-V live migration fail, or crawl?

from migdiag import analyze
analysis = analyze(["logs/"])
for result in analysis.results:
    print(result.migration.vm_name, result.migration.outcome, result.diagnosis)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from migdiag import dataclass_code

__version__ = "0.1.0"

# Before any migdiag class is defined: their dataclass methods come compiled from the cache.
dataclass_code.install()

if TYPE_CHECKING:
    from migdiag.api import Options, analyze

__all__ = ["Options", "__version__", "analyze"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `import migdiag` stays cheap for tools that only want the model.
    if name in ("analyze", "Options"):
        from migdiag import api

        return getattr(api, name)
    raise AttributeError(name)
