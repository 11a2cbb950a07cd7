"""How a renderer is asked to render: width, colour, clock and verbosity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """Options every renderer accepts; each ignores the ones that mean nothing to it.

    ``now`` pins the clock so that a report's "generated at" line is reproducible in tests;
    ``None`` leaves the line out rather than reading the wall clock behind the caller's back.
    """

    width: int | None = None
    color: bool = False
    now: datetime | None = None
    quiet: bool = False
    back_link: str | None = None  # HTML: a link back to the page that lists this report
