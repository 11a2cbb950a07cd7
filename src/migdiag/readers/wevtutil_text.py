"""``wevtutil qe <log> /f:text`` output (reference 9.2): ``Event[N]:`` blocks.

Header lines are indented two spaces (``  Log Name: System``), the description body is not,
and the next ``Event[N]:`` line ends it.  ``Date`` is ISO 8601: with a ``Z`` on newer builds
(UTC, exact) and without a zone on older ones (local time: converted with ``TimeOptions``
and marked ``time_assumed``).  The output can be large (a whole channel), so the file is
streamed line by line and only the current block is held.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from migdiag.errors import InputError
from migdiag.model import Event, Origin
from migdiag.readers import InputSource, Keep, Reader, ReadStats, keeps_event
from migdiag.readers.localtime import DEFAULT_OPTIONS, TimeOptions, to_utc
from migdiag.readers.text import clean_line, level_number, open_text, provider_name

FORMAT = "wevtutil-text"
EVENT_LINE = re.compile(r"^\s*Event\[(\d+)\]:\s*$")
_HEADER = re.compile(r"^\s+([^:]{1,40}?)\s*:\s?(.*)$")

_LABELS = {
    "log name": "log",
    "source": "source",
    "date": "date",
    "event id": "id",
    "task": "task",
    "level": "level",
    "opcode": "opcode",
    "keyword": "keywords",
    "keywords": "keywords",
    "user": "user",
    "user name": "user_name",
    "computer": "computer",
    "description": "description",
}
# wevtutil's fixed order (reference 9.2): labels it prints in another language are taken
# by position.
_POSITIONS = (
    "log",
    "source",
    "date",
    "id",
    "task",
    "level",
    "opcode",
    "keywords",
    "user",
    "user_name",
    "computer",
    "description",
)


@dataclass(frozen=True, slots=True)
class _Block:
    number: int  # 1-based block number in the file
    line: int  # line of its Event[N]: header
    header: tuple[tuple[str, str], ...]
    body: tuple[str, ...]


def _blocks(lines: Iterator[str]) -> Iterator[_Block]:
    number = 0
    start = 0
    header: list[tuple[str, str]] = []
    body: list[str] = []
    in_body = False
    for lineno, raw in enumerate(lines, 1):
        line = clean_line(raw)
        if EVENT_LINE.match(line):
            if number:
                yield _Block(number, start, tuple(header), tuple(body))
            number += 1
            start = lineno
            header, body, in_body = [], [], False
            continue
        if not number:
            continue  # text before the first block (a command echo, a banner)
        m = None if in_body else _HEADER.match(line)
        if m:
            label = " ".join(m.group(1).split()).lower()
            key = _LABELS.get(label)
            if key is None and len(header) < len(_POSITIONS):
                key = _POSITIONS[len(header)]
            key = key or label
            header.append((key, m.group(2).strip()))
            if key == "description":
                in_body = True
            continue
        in_body = True
        body.append(line)
    if number:
        yield _Block(number, start, tuple(header), tuple(body))


def _event(block: _Block, name: str, options: TimeOptions) -> Event:
    header = dict(reversed(block.header))  # the first of a repeated label wins
    event_id = header.get("id", "")
    if not event_id.isdigit():
        raise ValueError(f"no numeric Event ID ({event_id[:20]!r})")
    host = header.get("computer", "")
    # ISO dates have one order; for anything else wevtutil prints, use the user's hint.
    time, assumed = to_utc(header.get("date", ""), host, options, options.day_first)
    body = list(block.body)
    first = header.get("description", "")
    if first:
        body.insert(0, first)
    while body and not body[-1].strip():
        body.pop()
    while body and not body[0].strip():
        body.pop(0)
    level = level_number(header.get("level", ""))
    return Event(
        time=time,
        host=host,
        channel=header.get("log", ""),
        provider=provider_name(header.get("source", "")),
        event_id=int(event_id) & 0xFFFF,
        level=4 if level is None else level,
        record_id=None,
        fields=(),  # wevtutil's text rendering has no payload
        message="\n".join(body) or None,
        origin=Origin(path=name, format=FORMAT, record=block.number, offset=block.line),
        time_assumed=assumed,
    )


def make_reader(options: TimeOptions) -> Reader:
    """A wevtutil /f:text reader that converts zone-less dates with ``options``."""

    def read(source: InputSource, stats: ReadStats, keep: Keep) -> Iterator[Event]:
        seen = 0
        try:
            with open_text(source) as f:
                for block in _blocks(iter(f)):
                    seen += 1
                    stats.records += 1
                    try:
                        event = _event(block, source.name, options)
                    except ValueError as exc:
                        stats.dropped += 1
                        stats.warn(
                            f"{source.name} Event[{block.number - 1}] (line {block.line}): "
                            f"unreadable ({str(exc)[:200]})"
                        )
                        continue
                    if not keeps_event(keep, event):
                        continue
                    stats.relevant += 1
                    yield event
        except OSError as exc:
            raise InputError(source.name, f"cannot read: {str(exc)[:200]}") from exc
        if not seen:
            raise InputError(source.name, "no wevtutil 'Event[N]:' block found")

    return read


read: Reader = make_reader(DEFAULT_OPTIONS)


def sniff_text(text: str) -> bool:
    """True when the text starts (after blank lines) with ``Event[N]:``."""
    for line in text.splitlines():
        if line.strip():
            return bool(EVENT_LINE.match(line))
    return False
