"""The command line's contract with a user who makes mistakes (issue 15).

For every command: a bad path, an output that cannot be written, an empty input, a truncated
EVTX and invalid option values each give the documented exit status and one line on stderr,
never a traceback, never Python's or pydantic's wording, and never output before the error.
Every case runs ``migdiag`` in its own process, the way a user does.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common import run_in_terminal, run_migdiag

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_logs"
SEED = SAMPLES / "seed-mtu-reset"
SEED_EVTX = SEED / "SRV1" / "Microsoft-Windows-Hyper-V-VMMS-Admin.evtx"
SCENARIO = SEED / "scenario.yaml"

# What must never reach a user: a traceback, or the wording of the libraries underneath.
INTERNAL = re.compile(
    r"Traceback|KeyboardInterrupt|Value error,|Input should be|pydantic|list\[|<int>|<str>|"
    r"<float>|<Path>|\{paths\}|NoneType|Errno"
)

EMPTY, UNWRITABLE_DIR = "EMPTY", "/nonexistent/sub"


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert not INTERNAL.search(result.stderr), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def empty_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("empty")


@pytest.fixture(scope="module")
def truncated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed's VMMS log cut inside its only chunk, as a transfer that stopped early."""
    path = tmp_path_factory.mktemp("cut") / "SRV1-vmms.evtx"
    path.write_bytes(SEED_EVTX.read_bytes()[:8000])
    return path


# -- bad paths --------------------------------------------------------------------------------

READERS = ("analyze", "timeline", "events")


@pytest.mark.parametrize("command", [*READERS, "triage"])
def test_missing_input_is_one_line_and_exit_7(command: str, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    result = run_migdiag(command, str(missing))
    assert result.returncode == 7
    assert str(missing) in one_error_line(result)


@pytest.mark.parametrize(
    "args",
    [
        ("explain", "/nonexistent/ticket.txt"),
        ("synth", "/nonexistent/scenario.yaml", "--out", "OUT"),
        ("catalog", "import", "/nonexistent/provider.xml"),
        ("signatures", "validate", "/nonexistent"),
        ("signatures", "test", "/nonexistent"),
    ],
)
def test_missing_file_argument_is_a_usage_error(args: tuple[str, ...], tmp_path: Path) -> None:
    result = run_migdiag(*(str(tmp_path / "out") if a == "OUT" else a for a in args))
    assert result.returncode == 2, result.stderr
    assert "/nonexistent" in one_error_line(result)
    assert result.stdout == ""


# -- outputs that cannot be written: refused before any work, nothing on stdout ---------------


@pytest.mark.parametrize(
    "args",
    [
        ("analyze", str(SEED), "--html", f"{UNWRITABLE_DIR}/r.html"),
        ("analyze", str(SEED), "--html", "TMPDIR"),
        ("analyze", str(SEED), "-o", f"{UNWRITABLE_DIR}/x.txt"),
        ("events", str(SEED), "-o", f"{UNWRITABLE_DIR}/x.csv"),
        ("timeline", str(SEED), "-o", f"{UNWRITABLE_DIR}/x.txt"),
        ("synth", str(SCENARIO), "--out", "/proc/x"),
        ("triage", str(SEED), "--html-dir", "AFILE"),
        ("analyze", "AFILE", "-o", "AFILE"),
        ("events", "AFILE", "-o", "AFILE"),
    ],
)
def test_unwritable_output_is_refused_before_the_work(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder", encoding="utf-8")
    swap = {"TMPDIR": str(tmp_path), "AFILE": str(a_file)}
    result = run_migdiag(*(swap.get(a, a) for a in args))
    assert result.returncode == 2, result.stderr
    line = one_error_line(result)
    assert line.startswith("error:")
    assert result.stdout == "", "the report must not go out before the error"
    assert a_file.read_text(encoding="utf-8") == "not a folder", "an input was overwritten"


# -- empty inputs: said, and exit 7 -----------------------------------------------------------


@pytest.mark.parametrize("command", [*READERS, "triage"])
def test_folder_without_logs_says_no_logs_found(command: str, empty_dir: Path) -> None:
    (empty_dir / "README.txt").write_text("notes about the case, not a log\n", encoding="utf-8")
    result = run_migdiag(command, str(empty_dir))
    assert result.returncode == 7, result.stderr
    assert "no logs found" in one_error_line(result)


def test_triage_labels_a_case_without_logs(empty_dir: Path) -> None:
    result = run_migdiag("triage", str(empty_dir), str(SEED), "--format", "json")
    import json

    cases = {c["case"]: c for c in json.loads(result.stdout)["cases"]}
    assert cases[str(empty_dir)]["urgency"] == "no logs"
    assert cases[str(SEED)]["urgency"] == "failed"


@pytest.mark.parametrize("command", ["timeline", "events"])
def test_garbage_is_not_a_log_for_every_command(command: str, tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01garbage\xff" * 10)
    result = run_migdiag(command, str(junk))
    assert result.returncode == 7
    assert str(junk) in one_error_line(result)


# -- a truncated EVTX: what was recovered, what was lost, exit 6 -----------------------------


@pytest.mark.parametrize("command", READERS)
def test_truncated_evtx_is_reported_with_exit_6(command: str, truncated: Path) -> None:
    result = run_migdiag(command, str(truncated))
    assert result.returncode == 6, result.stderr
    line = one_error_line(result)
    assert str(truncated) in line and "truncated" in line
    assert "record(s) recovered" in line and "bytes of it missing" in line


def test_truncated_evtx_keeps_its_records_in_json(truncated: Path) -> None:
    import json

    result = run_migdiag("analyze", str(truncated), "--format", "json")
    [report] = json.loads(result.stdout)["inputs"]
    assert report["records"] == 3 and report["skipped"] is False
    assert report["incomplete"].startswith("truncated")


# -- invalid option values --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("analyze", str(SEED), "--utc-offset", "+99:99"), "+99:99"),
        (("analyze", str(SEED), "--utc-offset", "SRV1=+25:00"), "SRV1=+25:00"),
        (("analyze", str(SEED), "--utc-offset", "NOPE=+01:00"), "NOPE"),
        (("timeline", str(SEED), "--utc-offset", "NOPE=+01:00"), "NOPE"),
        (("events", str(SEED), "--host", "NOPE"), "NOPE: no such host"),
        (("analyze", str(SEED), "-j", "-3"), "--jobs"),
        (("events", str(SEED), "-j", "abc"), "--jobs"),
        (("analyze", str(SEED), "--skew-tolerance", "-5"), "--skew-tolerance"),
        (("analyze", str(SEED), "--signatures", "EMPTY"), "no signature files"),
        (("triage", str(SEED), "--signatures", "EMPTY"), "no signature files"),
        (("explain", "-", "--signatures", "EMPTY"), "no signature files"),
        (("signatures", "test", "EMPTY"), "no signature cases"),
        (("signatures", "validate", "EMPTY"), "no signature files"),
        (("analyze", str(SEED), "--format", "bogus"), "'bogus' is not one of"),
        (("timeline", str(SEED), "--format", "bogus"), "'bogus' is not one of"),
        (("triage", str(SEED), "--fail-on", "bogus"), "'bogus' is not one of"),
        (("events", str(SEED), "--since", "yesterday"), "ISO 8601"),
        (("analyze", str(SEED), "--bogus"), "No such option"),
        (("analyze",), "Missing argument"),
        (("analyze", str(SEED), "--engine", "dask"), "--scheduler"),
    ],
)
def test_invalid_option_is_one_plain_line(
    args: tuple[str, ...], words: str, empty_dir: Path
) -> None:
    result = run_migdiag(*(str(empty_dir) if a == EMPTY else a for a in args))
    assert result.returncode == 2, result.stderr
    line = one_error_line(result)
    assert line.startswith("error:") and words in line
    assert result.stdout == ""


# -- basics -----------------------------------------------------------------------------------


def test_version_and_short_help() -> None:
    from migdiag import __version__

    version = run_migdiag("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"migdiag {__version__}"
    for args in (("-h",), ("analyze", "-h"), ("signatures", "list", "-h")):
        result = run_migdiag(*args)
        assert result.returncode == 0 and "Usage:" in result.stdout


def test_shell_completion_is_offered() -> None:
    result = run_migdiag("--help")
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout


def _commands() -> list[tuple[str, ...]]:
    return [
        (),
        *((c,) for c in ("analyze", "synth", "timeline", "events", "triage", "schema", "explain")),
        ("signatures",),
        *(("signatures", c) for c in ("list", "show", "catalog", "validate", "test")),
        ("catalog",),
        ("catalog", "import"),
        ("catalog", "tools"),
    ]


def help_pages() -> dict[str, str]:
    """Every command's --help, in-process: what a user reads, without 16 process starts."""
    from typer.testing import CliRunner

    from migdiag.cli import app

    runner = CliRunner()
    pages = {}
    for command in _commands():
        result = runner.invoke(app, [*command, "--help"], env={"NO_COLOR": "1"})
        assert result.exit_code == 0, result.output
        pages[" ".join(command) or "migdiag"] = result.output
    return pages


def test_help_has_no_python_types() -> None:
    for name, page in help_pages().items():
        assert not INTERNAL.search(page), (name, page)
        assert not re.search(r"<(?:list|int|float|str|bool|path)\b", page, re.IGNORECASE), name
        assert "Usage:" in page


def test_fail_on_and_format_json_for_triage() -> None:
    import json

    result = run_migdiag("triage", str(SEED), str(SAMPLES / "healthy-drain"), "-f", "json")
    assert result.returncode == 0
    ranked = [c["urgency"] for c in json.loads(result.stdout)["cases"]]
    assert ranked == ["failed", "healthy"]
    assert run_migdiag("triage", str(SEED), "--fail-on", "failed").returncode == 3
    assert (
        run_migdiag("triage", str(SAMPLES / "healthy-drain"), "--fail-on", "failed").returncode == 0
    )


def test_timeline_writes_json_to_a_file(tmp_path: Path) -> None:
    import json

    out = tmp_path / "timeline.json"
    result = run_migdiag("timeline", str(SEED), "-f", "json", "-o", str(out), "-q")
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""
    [migration] = json.loads(out.read_text(encoding="utf-8"))["migrations"]
    assert migration["vm_name"] == "DidierTest01" and migration["outcome"] == "failed"


def test_no_color_everywhere() -> None:
    for args in (("signatures", "list"), ("signatures", "show", "mtu-mismatch-reset")):
        result = run_migdiag(*args, env={"NO_COLOR": "1"})
        assert result.returncode == 0 and "\x1b[" not in result.stdout


def test_signatures_list_on_a_pipe_gives_whole_ids() -> None:
    result = run_migdiag("signatures", "list")
    ids = {line.split("\t")[0] for line in result.stdout.splitlines()[1:]}
    assert "network-unreachable-connect-timeout" in ids
    assert all((ROOT / "signatures" / f"{i}.yaml").is_file() for i in ids)


def test_signatures_show_dev_keeps_developer_notes_apart() -> None:
    plain = run_migdiag("signatures", "show", "mtu-mismatch-reset").stdout
    dev = run_migdiag("signatures", "show", "mtu-mismatch-reset", "--dev").stdout
    assert "Developer notes" not in plain and "hyperv-events.md" not in plain
    assert "Developer notes" in dev and "hyperv-events.md" in dev


def test_explain_counts_lines_and_bounds_a_huge_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "migdiag", "explain", "-"],
        input="line one\nline two\n",
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    assert "(2 lines read from -)" in result.stdout
    huge = tmp_path / "one-line.txt"
    word = "Failed to send data for a Virtual Machine migration (0x80072746) "
    with huge.open("w", encoding="utf-8") as f:
        for _ in range(50 * 1024 * 1024 // len(word)):
            f.write(word)
    result = run_migdiag("explain", str(huge), timeout=120)
    assert result.returncode == 0
    assert "only the first" in one_error_line(result)
    assert len(result.stdout) < 20_000, "the input must not be echoed back"
    assert "mtu-mismatch" in result.stdout
    # Named among analyze's inputs, a 1 MB line is not echoed back by any report either.
    cut = tmp_path / "one-mb.txt"
    cut.write_bytes(huge.read_bytes()[: 1024 * 1024])
    for fmt in ("terminal", "markdown", "json", "html"):
        result = run_migdiag("analyze", str(cut), "--format", fmt, "-q", timeout=120)
        assert result.returncode == 0, result.stderr
        assert len(result.stdout) < 50_000, fmt


# -- Ctrl-C -----------------------------------------------------------------------------------


def test_ctrl_c_during_a_multi_file_run_exits_130_quietly(tmp_path: Path) -> None:
    """SIGINT to the whole process group, as a terminal sends it: workers included."""
    for n in range(40):  # enough files that the read is still running when the signal comes
        shutil.copytree(SAMPLES, tmp_path / f"copy{n:02d}")
    process = subprocess.Popen(
        [sys.executable, "-m", "migdiag", "analyze", str(tmp_path), "-j", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        start_new_session=True,
    )
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    deadline = time.monotonic() + 60
    while not children.read_text().split():  # until the worker processes are reading
        assert process.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.2)
    assert process.poll() is None, "the run ended before it could be interrupted"
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert not INTERNAL.search(stderr), stderr
    assert stdout == ""


# -- on a terminal ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("signatures", "list"),
        ("signatures", "show", "mtu-mismatch-reset"),
        ("signatures", "test"),
        ("analyze", str(SEED)),
        ("triage", str(SEED)),
        ("events", str(SEED)),
        ("timeline", str(SEED)),
        ("analyze", "--help"),
    ],
)
def test_no_color_on_a_terminal_means_no_styling(args: tuple[str, ...]) -> None:
    code, shown = run_in_terminal(*args, env={"NO_COLOR": "1"})
    assert code == 0, shown
    # No colour and no bold (SGR); a progress bar may still move the cursor.
    assert not re.search(r"\x1b\[[0-9;]*m", shown), shown[:400]


def test_terminal_report_uses_the_terminal_width() -> None:
    code, shown = run_in_terminal("analyze", str(SAMPLES), "-q", columns=220)
    assert code == 0
    assert max(len(line) for line in shown.splitlines()) > 120
    # The cause that wrapped at 100 columns fits on its row at 220.
    assert any(
        "DidierTest01" in line and "(jumbo-frame / MTU mismatch on the path)" in line
        for line in shown.splitlines()
    )


def test_vm_names_are_not_broken_mid_word(tmp_path: Path) -> None:
    name = "Contoso-SQL-Cluster-Node-07"
    scenario = tmp_path / "long-name.yaml"
    scenario.write_text(
        SCENARIO.read_text(encoding="utf-8").replace("DidierTest01", name), encoding="utf-8"
    )
    assert run_migdiag("synth", str(scenario), "--out", str(tmp_path / "logs")).returncode == 0
    code, shown = run_in_terminal("analyze", str(tmp_path / "logs"), "-q", columns=90)
    assert code == 0
    [row] = [line for line in shown.splitlines() if "SRV1 → SRV2" in line]
    assert row.startswith(name), row


def test_events_on_a_terminal_fit_it_and_say_where_they_were_cut() -> None:
    code, shown = run_in_terminal("events", str(SEED), columns=100)
    assert code == 0
    lines = shown.splitlines()
    assert lines[0].split() == ["time", "(UTC)", "host", "id", "codes", "message"]
    assert all(len(line) <= 100 for line in lines)
    assert any(line.endswith("…") for line in lines)
    times = {line[:25] for line in lines[1:]}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z ", t) for t in times)


def test_events_on_a_pipe_are_whole() -> None:
    result = run_migdiag("events", str(SEED))
    assert result.returncode == 0
    assert "…" not in result.stdout
    assert "VMID 41EF2DB0-0C0A-12FE-25CB-C3330D937F27)." in result.stdout


def test_explain_prompts_when_reading_a_terminal() -> None:
    code, shown = run_in_terminal(
        "explain", typed="Failed to send data for a Virtual Machine migration (0x80072746)."
    )
    assert code == 0, shown
    assert shown.startswith("Paste the error text")
    assert "mtu-mismatch" in shown


def test_evtx_cut_inside_its_last_chunk_is_reported_with_exit_6(tmp_path: Path) -> None:
    """A multi-chunk log copied while it was being written: the earlier chunks are whole,
    the last one stops mid-way."""
    from datetime import UTC, datetime, timedelta

    from migdiag.catalog import default_catalog
    from migdiag.model import Event, Origin
    from migdiag.synth.evtx_writer import write_evtx

    start = datetime(2024, 5, 14, 9, 0, tzinfo=UTC)
    events = [
        Event(
            time=start + timedelta(seconds=n),
            host="HV07.corp.example",
            channel="System",
            provider="Microsoft-Windows-FailoverClustering",
            event_id=1126,
            level=3,
            record_id=None,
            fields=(("", f"Cluster Network {n % 3}"), ("", "HV07"), ("", "LM")),
            message=None,
            origin=Origin(path="test", format="synth"),
        )
        for n in range(1, 3000)
    ]
    data = write_evtx(events, default_catalog().provider_guids)
    chunks = (len(data) - 4096) // 65536
    assert chunks >= 3
    path = tmp_path / "HV07-System.evtx"
    path.write_bytes(data[: 4096 + (chunks - 1) * 65536 + 20000])  # inside the last chunk
    result = run_migdiag("analyze", str(path), "--format", "json")
    assert result.returncode == 6, result.stderr
    line = one_error_line(result)
    assert str(path) in line and "truncated" in line and "record(s) recovered" in line
    import json

    [report] = json.loads(result.stdout)["inputs"]
    assert report["records"] > 0 and report["incomplete"].startswith("truncated")
