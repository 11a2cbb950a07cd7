"""Helpers several test folders share (``tests/`` is on pytest's path: see pyproject.toml)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from migdiag.model import Event, Origin


def run_migdiag(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``migdiag ARGS`` as a user runs it: its own process, no colour, output captured.
    ``env`` adds to (or overrides) this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "migdiag", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        timeout=timeout,
    )


_fresh_runs: dict[str, subprocess.CompletedProcess[str]] = {}


def ran_in_a_fresh_process(test_file: str) -> bool:
    """True when ``test_file``'s tests have passed in a fresh interpreter instead of this one.

    Work is forked (``migdiag.forked``) only while the process has a single thread, and a
    test run earlier in this session may have left one behind (Dask's offload thread lives
    as long as the process): then nothing would fork and the children's side would go
    untested.  So the module runs once more, alone, in a process of its own, and must pass
    there."""
    if threading.active_count() == 1:
        return False
    if test_file not in _fresh_runs:
        _fresh_runs[test_file] = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file],
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            timeout=900,
        )
    result = _fresh_runs[test_file]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return True


def counted_forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the children ``os.fork`` starts from now on in this process."""
    children: list[int] = []
    fork = os.fork

    def counted_fork() -> int:
        pid = fork()
        if pid:
            children.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", counted_fork)
    return children


def populated_event(**changes: object) -> Event:
    """An event with every field set to a value other than its default."""
    values: dict[str, object] = {
        "time": datetime(2024, 3, 4, 8, 0, 5, 200000, tzinfo=UTC),
        "host": "HV01.fleet.example",
        "channel": "Microsoft-Windows-Hyper-V-VMMS/Admin",
        "provider": "Microsoft-Windows-Hyper-V-VMMS",
        "event_id": 21024,
        "level": 2,
        "record_id": 17,
        "fields": (("VmName", "VM1"), ("", "unnamed")),
        "message": "Migration failed (0x80072746).",
        "origin": Origin(path="a.zip!HV01/x.evtx", format="evtx", record=17, offset=69632),
        "vm_name": "VM1",
        "vm_id": "41EF2DB0-0C0A-12FE-25CB-C3330D937F27",
        "peer_host": "HV02",
        "error_codes": ("0x80072746",),
        "message_from_input": True,
        "time_assumed": True,
        "process_id": 4900,
        "thread_id": 11504,
    }
    values.update(changes)
    return Event(**values)  # type: ignore[arg-type]


def run_in_terminal(
    *args: str,
    columns: int = 100,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    typed: str | None = None,
) -> tuple[int, str]:
    """``migdiag ARGS`` on a pseudo-terminal ``columns`` wide, as a user at a console runs it:
    stdin, stdout and stderr are that terminal; ``typed`` is typed once the first output
    shows, then Ctrl-D.  Returns the exit status and everything shown."""
    import fcntl
    import select
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    environment = {**os.environ, **(env or {})}
    environment.pop("COLUMNS", None)  # the terminal's own size, as a console reports it
    process = subprocess.Popen(
        [sys.executable, "-m", "migdiag", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=environment,
        close_fds=True,
    )
    os.close(slave)
    shown = b""
    try:
        while select.select([master], [], [], timeout)[0]:
            try:
                data = os.read(master, 1 << 16)
            except OSError:  # the terminal closed with the last process on it
                break
            if not data:
                break
            shown += data
            if typed is not None:
                os.write(master, typed.encode("utf-8") + b"\n\x04")
                typed = None
    finally:
        os.close(master)
    return process.wait(timeout=timeout), shown.decode("utf-8", "replace").replace("\r\n", "\n")
