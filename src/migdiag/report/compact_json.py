"""Compact JSON text, byte for byte what ``json.dumps(obj, separators=(",", ":"))`` writes
(``ensure_ascii`` on), written by the Rust-backed ``orjson`` where it can be.

Why: a fleet's document is tens of MB, and Python's C encoder took ~0.4 s of CPU on the
1 GB benchmark bundle against ~0.07 s for orjson (docs/performance.md).  The two differ in
three ways, each handled here so that the text stays the one the json module writes:

* orjson writes non-ASCII characters (and DEL) as UTF-8; ``ensure_ascii`` writes ``\\uXXXX``
  (a surrogate pair above U+FFFF).  Such characters can only stand inside strings, so they
  are escaped in orjson's output afterwards, the same way.
* Floats: both write the shortest text that reads back, but orjson drops ``+`` and leading
  zeros from exponents (``1e16``, not ``1e+16``) and writes NaN and infinities as ``null``.
  Every float of a report goes through ``report_number``, which hands the values that need
  an exponent or are not finite over as ``UnusualNumber``: a float subclass the json
  module writes as any float, and orjson refuses, so such a document is written by json.
* Anything else orjson refuses (a lone surrogate in text, an integer beyond 64 bits) is
  written by json too.

Without orjson installed every document is written by json; orjson is imported on first use.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from functools import cache
from typing import Any

# What json.dumps(obj, separators=(",", ":")) uses: its C encoder (the json module has one
# only without indent).
_STANDARD = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))

# What orjson writes unescaped and ensure_ascii escapes: DEL and everything past ASCII.
_NOT_ASCII = re.compile("[^\x00-\x7e]")  # a negated small range: compiled in microseconds


class UnusualNumber(float):
    """A float whose orjson text would differ from json's (see the module's docstring)."""

    __slots__ = ()


# Python writes floats from 1e16 up, and below 1e-4, with an exponent (repr's rule).
_PLAIN_FROM, _PLAIN_UP_TO = 1e-4, 1e16


def report_number(value: float | None) -> float | None:
    """A time, duration or ratio as every report writes it: three decimals (milliseconds,
    the precision every time in the report carries)."""
    if value is None:
        return None
    rounded = round(value, 3)
    size = abs(rounded)
    if not math.isfinite(rounded) or (size and not _PLAIN_FROM <= size < _PLAIN_UP_TO):
        return UnusualNumber(rounded)
    return rounded


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"


def standard(obj: Any) -> str:
    """The json module's compact text (the reference the fast path must match)."""
    return _STANDARD.encode(obj)


def _fast_encoder() -> Callable[[Any], str]:
    try:
        import orjson
    except ImportError:  # a platform without its wheel: the same text, slower
        return standard

    dumps = orjson.dumps

    def encode(obj: Any) -> str:
        try:
            raw = dumps(obj)
        except TypeError:  # orjson.JSONEncodeError is one: see the module's docstring
            return standard(obj)
        text = raw.decode()
        if raw.isascii() and "\x7f" not in text:
            return text
        return _NOT_ASCII.sub(_escape, text)

    return encode


# Imported on first use, not with the module: only a fleet-sized document is written so.
_encoder = cache(_fast_encoder)


def encode(obj: Any) -> str:
    """The compact text of ``obj``: orjson's where it can be, the json module's byte for byte."""
    return _encoder()(obj)
