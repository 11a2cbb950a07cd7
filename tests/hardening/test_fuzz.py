"""Damaged and crafted inputs of every format through the whole pipeline, in isolated
workers with a time limit: no traceback, no hang, and what was intact is still read.

The CI budget is small (about 30 s on two cores); ``benchmarks/fuzz.py`` runs the same cases
by the hundred thousand.  A failure prints the seed: ``python benchmarks/fuzz.py --replay
SEED`` rebuilds the case, writes its bytes and runs it in this process with a traceback.
"""

from __future__ import annotations

from collections import Counter

import pytest
from fuzzcases import (
    TARGETS,
    CaseResult,
    Op,
    apply_ops,
    bases,
    evtx_boundaries,
    layout_of,
    read_prefix,
    run_case,
    run_data,
    run_many,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CI_SEEDS = 360  # about 60 cases a second on two cores
TIME_LIMIT = 20.0  # seconds per case; a normal one takes milliseconds
HYPOTHESIS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the CI run is the same every time; the benchmark explores
    database=None,  # nothing written into the working tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _problems(results: list[tuple[tuple[object, ...], CaseResult | str]]) -> list[str]:
    out = []
    for task, result in results:
        if isinstance(result, str):
            out.append(f"{task}: {result}")  # the worker hung or died
        elif result.outcome == "bug":
            out.append(f"{task} {result.base} ({result.how}):\n{result.detail}")
    return out


def test_seeded_cases_of_every_format() -> None:
    results = list(run_many(run_case, [(s,) for s in range(CI_SEEDS)], 2, TIME_LIMIT))
    assert _problems(results) == []
    done = [r for _, r in results if isinstance(r, CaseResult)]
    # Not vacuous: every base was damaged, and damage was both survived and refused.
    assert {r.base for r in done} == set(bases())
    outcomes = Counter(r.outcome for r in done)
    assert outcomes["read"] > 0 and outcomes["refused"] > 0
    # Every refusal says why in one line.
    assert all(e and "\n" not in e for r in done for e in r.errors)


def _complete_records_before(base: str, at: int) -> int:
    lay = layout_of(base)
    ends = [chunk + 65536 for chunk in lay.chunks]
    whole = {chunk for chunk, end in zip(lay.chunks, ends, strict=True) if end <= at}
    return sum(1 for start, _ in lay.records if any(c <= start < c + 65536 for c in whole))


@pytest.mark.parametrize("base", ["seed.evtx", "ha.evtx", "drain.evtx"])
def test_evtx_truncated_at_every_boundary(base: str) -> None:
    points = evtx_boundaries(bases()[base][1], layout_of(base))
    if base == "drain.evtx":
        # Six chunks: cut at each chunk's edges and at the records of its first chunk only.
        lay = layout_of(base)
        first_chunk_end = lay.chunks[0] + 65536
        edges = {c + d for c in lay.chunks for d in (0, 8, 128, 512, 65535)}
        points = [p for p in points if p < first_chunk_end or p in edges]
    results = list(run_many(read_prefix, [(base, p) for p in points], 2, TIME_LIMIT))
    assert _problems(results) == []
    full = read_prefix(base, len(bases()[base][1])).records
    for (_, at), result in results:
        assert isinstance(result, CaseResult)
        assert result.records <= full, (at, result)
        # A mail gateway's cut loses the tail, never what came before it.
        assert result.records >= _complete_records_before(base, int(str(at))), (at, result)


@pytest.mark.parametrize(
    "base", sorted(n for n, (kind, _) in bases().items() if kind not in ("evtx", "zip"))
)
def test_text_exports_cut_at_every_line(base: str) -> None:
    data = bases()[base][1]
    cuts = sorted({0, 1, len(data) // 2} | {i + 1 for i, b in enumerate(data) if b == 0x0A})
    results = list(run_many(read_prefix, [(base, c) for c in cuts], 2, TIME_LIMIT))
    assert _problems(results) == []
    counts = [r.events for _, r in results if isinstance(r, CaseResult)]
    # More of the file never means fewer events.
    assert counts == sorted(counts), counts


ops = st.lists(
    st.builds(
        Op,
        st.sampled_from(TARGETS),
        st.integers(0, 2**32 - 1),
        st.one_of(
            st.sampled_from([0, 1, 2**16 - 1, 2**32 - 1, 2**31, 65536, 65537, 512, 4096, 24]),
            st.integers(0, 2**64 - 1),
        ),
    ),
    min_size=1,
    max_size=4,
)


@HYPOTHESIS
@given(base=st.sampled_from(["seed.evtx", "drain.evtx"]), changes=ops, seal=st.booleans())
def test_evtx_structures_lie(base: str, changes: list[Op], seal: bool) -> None:
    """Chunk and record headers, sizes, offsets, templates, substitution arrays and UTF-16
    strings told wrong; with the CRCs resealed, the lies reach the BinXML parser."""
    data, how = apply_ops(bases()[base][1], layout_of(base), changes, seal)
    ((_, result),) = run_many(run_data, [(data, ".evtx")], 1, TIME_LIMIT)
    assert isinstance(result, CaseResult), f"{how}: {result}"
    assert result.outcome != "bug", f"{how}:\n{result.detail}"


_EVENT = (
    "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
    "<Provider Name='Microsoft-Windows-Hyper-V-VMMS'/><EventID>{id}</EventID>"
    "<Level>2</Level><TimeCreated SystemTime='{time}'/><Channel>{channel}</Channel>"
    "<Computer>{host}</Computer></System><EventData><Data Name='VmName'>{vm}</Data>"
    "<Data Name='VmId'>{vmid}</Data><Data Name='ErrorCode'>{code}</Data></EventData>"
    "<RenderingInfo Culture='en-US'><Message>{message}</Message></RenderingInfo></Event>"
)
_BLOCK = (
    "Log Name:      {channel}\nSource:        Microsoft-Windows-Hyper-V-VMMS\n"
    "Date:          {time}\nEvent ID:      {id}\nTask Category: None\nLevel:         Error\n"
    "Keywords:      \nUser:          SYSTEM\nComputer:      {host}\nDescription:\n{message}\n"
)
_CSV = (
    'Level,Date and Time,Source,Event ID,Task Category\nError,{time},{host},{id},None,"{message}"\n'
)

texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"])
    | st.sampled_from("\x1b<>&'\"\x00\r\n,=@"),
    max_size=60,
)
times = st.one_of(
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59.9999999-14:00", "x"]),
    texts,
)


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("'", "&apos;")


@HYPOTHESIS
@given(
    fmt=st.sampled_from(["xml", "text", "csv"]),
    values=st.fixed_dictionaries(
        {
            "id": st.one_of(st.integers(0, 2**70).map(str), texts),
            "time": times,
            "channel": texts,
            "host": texts,
            "vm": texts,
            "vmid": texts,
            "code": texts,
            "message": texts,
        }
    ),
    encoding=st.sampled_from(["utf-8", "utf-16", "cp1252"]),
)
def test_text_exports_with_arbitrary_field_values(
    fmt: str, values: dict[str, str], encoding: str
) -> None:
    if fmt == "xml":
        body = "<Events>" + _EVENT.format(**{k: _xml_escape(v) for k, v in values.items()})
        text, suffix = body + "</Events>", ".xml"
    elif fmt == "text":
        text, suffix = _BLOCK.format(**values), ".txt"
    else:
        text, suffix = _CSV.format(**{k: v.replace('"', '""') for k, v in values.items()}), ".csv"
    data = text.encode(encoding, errors="replace")
    ((_, result),) = run_many(run_data, [(data, suffix)], 1, TIME_LIMIT)
    assert isinstance(result, CaseResult), result
    assert result.outcome != "bug", f"{values!r}:\n{result.detail}"
