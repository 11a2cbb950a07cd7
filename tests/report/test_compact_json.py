"""The fleet's JSON is written by orjson, yet must be byte for byte what the json module
writes (``compact_json``'s docstring lists how the two differ).  Compared on generated
documents holding every kind of text and number a report can hold."""

from __future__ import annotations

import json
import math
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migdiag.report import compact_json
from migdiag.report.compact_json import UnusualNumber, report_number

orjson = pytest.importorskip("orjson", reason="the fast path needs orjson's wheel")

# Any text Python can hold: lone surrogates included (orjson refuses them: json writes those).
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
NUMBERS = st.floats(allow_nan=True, allow_infinity=True).map(report_number)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # beyond 64 bits too
    | NUMBERS
    | TEXT
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TEXT, inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(DOCUMENTS)
def test_the_text_is_the_json_modules(document: object) -> None:
    assert compact_json.encode(document) == json.dumps(document, separators=(",", ":"))


@pytest.mark.parametrize(
    ("value", "unusual"),
    [
        (1e16, True),  # json: 1e+16, orjson: 1e16
        (-2.5e17, True),
        (float("nan"), True),  # json: NaN, orjson: null
        (float("inf"), True),
        (9999999999999998.0, False),  # the largest float below 1e16: no exponent either way
        (0.0004, False),  # rounds to 0.0
        (0.0006, False),  # rounds to 0.001
        (-0.0, False),
        (12.3456, False),
    ],
)
def test_numbers_that_orjson_writes_otherwise_are_marked(value: float, unusual: bool) -> None:
    number = report_number(value)
    assert isinstance(number, UnusualNumber) is unusual
    assert number is not None
    assert (math.isnan(number) and math.isnan(value)) or number == round(value, 3)
    # Whichever encoder writes it, the text is json's.
    expected = json.dumps({"n": number}, separators=(",", ":"))
    assert compact_json.encode({"n": number}) == expected
    if not unusual:  # the fast path is taken for ordinary numbers
        assert orjson.dumps({"n": number}).decode() == expected


def test_non_ascii_text_is_escaped_as_ensure_ascii_does() -> None:
    text = "Live Migration – 移行 \U0001f600 \x7f \x1f \u2028 ü"
    assert compact_json.encode([text]) == json.dumps([text], separators=(",", ":"))
    assert compact_json.encode([text]).isascii()
    # DEL is ASCII, and orjson leaves it be: alone in a text, it still has to be escaped.
    assert compact_json.encode(["a\x7fb"]) == '["a\\u007fb"]'


def test_without_orjson_the_json_module_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "orjson", None)  # import orjson now raises ImportError
    encode = compact_json._fast_encoder()
    assert encode is compact_json.standard
    assert encode({"a": [1.5, "ü"]}) == '{"a":[1.5,"\\u00fc"]}'
