"""Crafted inputs, end to end through ``analyze`` and the ``migdiag`` command: each attack
of docs/security.md with the defence that stops it.  Reader-level cases already in
tests/readers (the hostile bundle, DTD refusal) are not repeated; these check what reaches
the user: the per-file report, the exit status, the terminal, the CSV."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import time
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from fuzzcases import reseal

from common import run_migdiag
from migdiag.api import Options, analyze
from migdiag.catalog import default_catalog
from migdiag.events_table import render_csv, to_frame
from migdiag.model import Analysis, Event
from migdiag.readers import bundle
from migdiag.report import RENDERERS, RenderOptions
from migdiag.synth.evtx_writer import write_evtx
from migdiag.synth.scenario import expand, load_scenario

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "sample_logs" / "seed-mtu-reset" / "scenario.yaml"
DATA = ROOT / "tests" / "readers" / "data"
PLAIN = RenderOptions(width=100, color=False, now=None)

ESCAPES = "\x1b[2J\x1b[31mRED\x1b]0;pwned\x07\x9b31m\x08\x0c\u202eevil"
# The VM name as logged: the cluster's resource prefix, then a formula, markup and escapes.
PAYLOAD_VM = '=HYPERLINK("http://x")<script>window.__pwned=1</script>' + ESCAPES
PAYLOAD_MSG = "@SUM(1+1)<img src=x onerror=alert(1)>" + ESCAPES + "\nsecond line"
# Terminal-unsafe: C0 (bar tab/newline), DEL, C1, bidi overrides.
UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_migdiag(*args, cwd=cwd, env={"COLUMNS": "100"}, timeout=120)


def _hostile_events() -> list[Event]:
    """The seed migration with attacker-controlled text in the VM name and every message."""
    out = []
    for event in expand(load_scenario(SEED), default_catalog()):
        fields = tuple(
            # Long values are messages: they get the escapes too.  Host names stay plain, so
            # both sides of the migration are still found.
            (name, value.replace("DidierTest01", PAYLOAD_VM) + (ESCAPES if len(value) > 40 else ""))
            for name, value in event.fields
        )
        out.append(replace(event, fields=fields))
    return out


@pytest.fixture(scope="module")
def hostile_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SRV1/ and SRV2/ as synth writes them, but hostile; plus an XML export whose every
    System field is hostile too."""
    root = tmp_path_factory.mktemp("hostile")
    catalog = default_catalog()
    events = _hostile_events()
    for host in ("SRV1", "SRV2"):
        mine = [e for e in events if e.host.startswith(host)]
        (root / host).mkdir()
        (root / host / "vmms.evtx").write_bytes(write_evtx(mine, catalog.provider_guids))
    x = PAYLOAD_MSG.replace("&", "&amp;").replace("<", "&lt;")
    # XML 1.0 forbids C0 controls even as references; C1 and bidi characters are legal.
    x = "".join(c if c in "\n\t" or ord(c) >= 0x20 else chr(0x2400 + ord(c)) for c in x)
    (root / "export.xml").write_text(
        "<Events><Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
        f"<Provider Name='Microsoft-Windows-Hyper-V-VMMS'/><EventID>21502</EventID><Level>2</Level>"
        f"<TimeCreated SystemTime='2013-10-08T08:06:15Z'/><Channel>{x}</Channel>"
        f"<Computer>{x}</Computer></System><EventData><Data Name='VmName'>{x}</Data></EventData>"
        f"<RenderingInfo Culture='en-US'><Message>{x}</Message></RenderingInfo></Event></Events>",
        encoding="utf-8",
    )
    return root


@pytest.fixture(scope="module")
def hostile_analysis(hostile_logs: Path) -> Analysis:
    return analyze([str(hostile_logs)], Options(jobs=1))


def test_hostile_text_reaches_the_analysis_verbatim(hostile_analysis: Analysis) -> None:
    # The pipeline keeps what the log said (JSON shows it exactly); only renderers neutralise.
    # XML 1.0 cannot carry C0 controls: EVTX values keep them as control pictures (U+2400+).
    pictured = "".join(chr(0x2400 + ord(c)) if ord(c) < 0x20 else c for c in PAYLOAD_VM)
    assert [m.vm_name for m in hostile_analysis.migrations] == [pictured]
    assert all(r.error is None for r in hostile_analysis.inputs)


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_every_renderer_keeps_control_characters_out(hostile_analysis: Analysis, fmt: str) -> None:
    out = RENDERERS[fmt](hostile_analysis, PLAIN)
    out.encode("utf-8")  # writable whatever the log held
    if fmt == "json":
        assert "\x1b" not in out and "\u202e" not in out  # escaped as \u001b
        return
    assert not UNSAFE.search(out), UNSAFE.findall(out)[:5]


@pytest.mark.parametrize(
    "command",
    [
        ["analyze"],
        ["timeline"],
        ["events"],
        ["events", "--format", "jsonl"],
    ],
)
def test_the_terminal_never_gets_raw_escapes(hostile_logs: Path, command: list[str]) -> None:
    result = _cli(*command, str(hostile_logs))
    assert result.returncode == 0, result.stderr
    assert not UNSAFE.search(result.stdout), UNSAFE.findall(result.stdout)[:5]
    assert not UNSAFE.search(result.stderr), UNSAFE.findall(result.stderr)[:5]


def test_hostile_file_and_member_names_reach_stderr_neutralised(tmp_path: Path) -> None:
    (tmp_path / "\x1b]0;pwned\x07\x1b[31mred.xml").write_bytes(b"<Events><Event>")
    with zipfile.ZipFile(tmp_path / "z.zip", "w") as z:
        z.writestr("\x1b[2J\x1b[31mevil.xml", b"<Events><Event><x")
    result = _cli("analyze", str(tmp_path))
    assert result.returncode == 7
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr


def test_csv_output_defuses_formulas_in_every_column(hostile_logs: Path) -> None:
    result = _cli("events", "--format", "csv", str(hostile_logs))
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    cells = [cell for row in rows[1:] for cell in row]
    assert any(cell.startswith("'=HYPERLINK") for cell in cells)  # there, defused
    dangerous = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert dangerous == []


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", "\uff1d"])
def test_render_csv_guards_each_formula_start_in_each_text_column(start: str) -> None:
    event = _hostile_events()[0]
    text = f"{start}1+cmd|' /C calc'!A0"
    event = replace(
        event,
        host=text,
        channel=text,
        provider=text,
        message=text,
        vm_name=text,
        vm_id=text,
        peer_host=text,
        origin=replace(event.origin, path=text),
    )
    rows = list(csv.reader(io.StringIO(render_csv(to_frame([event])))))
    for name, cell in zip(rows[0], rows[1], strict=True):
        assert not cell.startswith(start) or cell == "", (name, cell)
    assert rows[1][rows[0].index("message")] == "'" + text.replace("\r", "\n")


# -- XML: entities, DTDs, depth --------------------------------------------------------------


def _xxe(secret: Path) -> bytes:
    return (
        f"<?xml version='1.0'?><!DOCTYPE Events [<!ENTITY x SYSTEM 'file://{secret}'>"
        "<!ENTITY y SYSTEM 'http://127.0.0.1:9/x'>]><Events><Event "
        "xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
        "<Provider Name='Microsoft-Windows-Hyper-V-VMMS'/><EventID>20415</EventID>"
        "<TimeCreated SystemTime='2017-11-21T10:57:53Z'/><Computer>&x;&y;</Computer>"
        "</System></Event></Events>"
    ).encode()


def _copy_as_text_with(xml: str) -> bytes:
    block = (DATA / "copy_as_text_20415_en.txt").read_text(encoding="utf-8")
    head = block.split("Event Xml:")[0]
    return (head + "Event Xml:\n" + xml + "\n").encode()


def test_external_entities_are_never_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "xxe.xml").write_bytes(_xxe(secret))
    body = _xxe(secret).decode().split("?>", 1)[1].replace("<Events>", "").replace("</Events>", "")
    (inputs / "xxe.txt").write_bytes(_copy_as_text_with(body))
    analysis = analyze([str(inputs)], Options(jobs=1))
    reports = {Path(r.path).name: r for r in analysis.inputs}
    assert "document type declaration" in (reports["xxe.xml"].error or "")
    json_out = RENDERERS["json"](analysis, PLAIN)
    assert "TOP-SECRET-MARKER" not in json_out
    assert "TOP-SECRET-MARKER" not in RENDERERS["terminal"](analysis, PLAIN)


BILLION_LAUGHS_DTD = (
    "<!DOCTYPE Event [<!ENTITY a 'aaaaaaaaaa'>"
    + "".join(f"<!ENTITY {chr(98 + i)} '{('&' + chr(97 + i) + ';') * 10}'>" for i in range(9))
    + "]>"
)


def test_entity_bombs_expand_nothing_anywhere(tmp_path: Path) -> None:
    event = (
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
        "<Provider Name='Microsoft-Windows-Hyper-V-VMMS'/><EventID>20415</EventID>"
        "<TimeCreated SystemTime='2017-11-21T10:57:53Z'/><Computer>&j;</Computer>"
        "</System></Event>"
    )
    (tmp_path / "laughs.xml").write_text(BILLION_LAUGHS_DTD + event)
    (tmp_path / "laughs.txt").write_bytes(_copy_as_text_with(BILLION_LAUGHS_DTD + event))
    started = time.monotonic()
    analysis = analyze([str(tmp_path)], Options(jobs=1))
    assert time.monotonic() - started < 10
    assert all(len(e.host) < 100 for r in analysis.results for e in r.migration.events)
    reports = {Path(r.path).name: r for r in analysis.inputs}
    assert "document type declaration" in (reports["laughs.xml"].error or "")
    # In a copy-as-text block a DTD is not where the Event Xml starts: it stays text.
    assert reports["laughs.txt"].error is None
    texts = [str(e) for r in analysis.results for e in r.migration.events]
    assert all("a" * 1000 not in t for t in texts)


@pytest.mark.parametrize("depth", [300, 100_000])
def test_deeply_nested_xml_is_refused_not_recursed(tmp_path: Path, depth: int) -> None:
    nested = "<a>" * depth + "</a>" * depth
    event = (
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
        "<Provider Name='Microsoft-Windows-Hyper-V-VMMS'/><EventID>20415</EventID>"
        "<TimeCreated SystemTime='2017-11-21T10:57:53Z'/><Computer>H</Computer></System>"
        f"<UserData>{nested}</UserData></Event>"
    )
    (tmp_path / "deep.xml").write_text(f"<Events>{event}</Events>")
    (tmp_path / "deep.txt").write_bytes(_copy_as_text_with(event))
    started = time.monotonic()
    analysis = analyze([str(tmp_path)], Options(jobs=2, file_time_limit=30))
    assert time.monotonic() - started < 20
    for report in analysis.inputs:
        assert report.error is None or "unexpected" not in report.error, report
        # Read, or refused with a line that says why: never silently empty.
        assert report.relevant or report.error or report.warnings, report


# -- zips ------------------------------------------------------------------------------------


def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_zip_slip_names_are_refused_and_reported_and_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "slip.zip"
    good = (DATA / "wevtutil_qe.xml").read_bytes()
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("ok/export.xml", good)
        for name in ("../../escape.xml", "/tmp/abs.xml", "C:\\Windows\\x.xml", "..\\..\\w.xml"):
            z.writestr(name, good)
        link = zipfile.ZipInfo("link.xml")
        link.external_attr = 0o120777 << 16  # a symbolic link to /etc/passwd
        z.writestr(link, "/etc/passwd")
    before, cwd_before = _listing(tmp_path), set(os.listdir())
    result = _cli("analyze", "--format", "json", str(path), cwd=tmp_path)
    assert result.returncode == 6  # some inputs could not be read: the rest were analysed
    import json

    inputs = {i["path"]: i for i in json.loads(result.stdout)["inputs"]}
    assert inputs[f"{path}!ok/export.xml"]["relevant"] == 3
    refused = {p: i["error"] for p, i in inputs.items() if i["error"]}
    assert len(refused) == 5, refused
    assert all("refused" in e for e in refused.values())
    assert _listing(tmp_path) == before and set(os.listdir()) == cwd_before


def test_zip_bomb_and_nesting_are_refused_from_the_directory(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        deeper = io.BytesIO()
        with zipfile.ZipFile(deeper, "w") as d:
            d.writestr("x.xml", (DATA / "wevtutil_qe.xml").read_bytes())
        z.writestr("deeper.zip", deeper.getvalue())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("inner.zip", inner.getvalue())
        z.writestr("good.xml", (DATA / "wevtutil_qe.xml").read_bytes())
        with z.open("zeros.evtx", "w", force_zip64=True) as f:
            block = bytes(1 << 20)
            for _ in range(256):  # 256 MiB of zeros, about 250 KiB packed
                f.write(block)
    started = time.monotonic()
    analysis = analyze([str(path)], Options(jobs=1))
    assert time.monotonic() - started < 10  # refused from the central directory, not inflated
    errors = {r.path: r.error for r in analysis.inputs if r.error}
    assert "zip bomb" in errors[f"{path}!zeros.evtx"]
    assert "nested more than one level" in errors[f"{path}!inner.zip!deeper.zip"]
    assert [r.relevant for r in analysis.inputs if r.path.endswith("good.xml")] == [3]


def test_very_many_members_stop_at_the_limit_in_bounded_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each member is a separate input: it used to reopen the archive and parse its whole
    directory per member, so 10,000 members took minutes.  The limit is lowered to keep the
    test quick; the archive is opened once per worker now."""
    monkeypatch.setattr(bundle, "MAX_MEMBERS", 3000)
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as z:
        for i in range(3050):
            z.writestr(f"m/{i:05d}.bin", b"\x00\x01")
    started = time.monotonic()
    analysis = analyze([str(path)], Options(jobs=2))
    assert time.monotonic() - started < 20
    assert len(analysis.inputs) == 3001
    assert [r.error for r in analysis.inputs if r.error] == [
        "more than 3000 members; the rest are not read"
    ]


def test_a_damaged_deflate_stream_costs_one_member(tmp_path: Path) -> None:
    """zlib.error is not a BadZipFile: it used to escape and abort the whole run."""
    body = (DATA / "wevtutil_qe.xml").read_bytes() * 50
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.xml", body)
        z.writestr("b.xml", (DATA / "wevtutil_qe.xml").read_bytes())
    data = bytearray(buffer.getvalue())
    start = 30 + len("a.xml")
    data[start + 5 : start + 25] = bytes(b ^ 0xFF for b in data[start + 5 : start + 25])
    path = tmp_path / "damaged.zip"
    path.write_bytes(bytes(data))
    for jobs in (1, 2):
        analysis = analyze([str(path)], Options(jobs=jobs))
        errors = {Path(r.path).name: r.error for r in analysis.inputs}
        assert errors["damaged.zip!b.xml"] is None
        assert "decompressing" in (errors["damaged.zip!a.xml"] or "")


# -- huge values -----------------------------------------------------------------------------


def _write_huge(path: Path, head: str, tail: str, size: int) -> None:
    block = "A" * (1 << 20)
    with path.open("w", encoding="utf-8") as f:
        f.write(head)
        for _ in range(size >> 20):
            f.write(block)
        f.write(tail)


HUGE = 300 * 1024 * 1024


@pytest.mark.parametrize("fmt", ["xml", "csv", "text"])
def test_a_field_of_hundreds_of_megabytes(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"huge.{fmt}"
    if fmt == "xml":
        text = (DATA / "wevtutil_qe.xml").read_text(encoding="utf-8")
        cut = text.index("</Computer>")
        _write_huge(path, text[:cut], text[cut:], HUGE)
    elif fmt == "csv":
        lines = (DATA / "eventviewer_export.csv").read_text(encoding="utf-8").splitlines(True)
        _write_huge(path, lines[0] + lines[1].rstrip("\n") + ',"', '"\n' + "".join(lines[2:]), HUGE)
    else:
        text = (DATA / "seed_vmms_copy_as_text.txt").read_text(encoding="utf-8")
        cut = text.index("\n", text.index("Description:")) + 1
        _write_huge(path, text[:cut], text[cut:], HUGE)
    started = time.monotonic()
    analysis = analyze([str(path)], Options(jobs=2, file_time_limit=60))
    assert time.monotonic() - started < 30
    (report,) = analysis.inputs
    assert report.error is None or "unexpected" not in report.error
    if report.error is None:
        assert report.warnings or report.relevant, report
    # The decision is reported in one line, not a traceback.
    assert "\n" not in (report.error or "")


def test_an_evtx_record_claiming_hundreds_of_megabytes(tmp_path: Path) -> None:
    data = bytearray(write_evtx(_hostile_events(), default_catalog().provider_guids))
    first = 4096 + 512
    data[first + 4 : first + 8] = (HUGE).to_bytes(4, "little")
    reseal(data)
    (tmp_path / "huge.evtx").write_bytes(bytes(data))
    analysis = analyze([str(tmp_path / "huge.evtx")], Options(jobs=2, file_time_limit=30))
    (report,) = analysis.inputs
    assert report.error is None or "unexpected" not in report.error
    assert report.records < len(_hostile_events())
    assert report.bad_chunks or report.warnings or report.error


# -- NUL bytes and broken encodings -----------------------------------------------------------


def _lone_surrogate_evtx() -> bytes:
    events = _hostile_events()
    events = [replace(e, fields=(*e.fields, ("Parameter9", "QQQQ"))) for e in events]
    data = write_evtx(events, default_catalog().provider_guids)
    # The writer refuses invalid UTF-16, so the lone surrogates are patched in afterwards.
    data = data.replace("QQQQ".encode("utf-16-le"), b"\x00\xd8A\x00\xff\xdfB\x00")
    buf = bytearray(data)
    reseal(buf)
    return bytes(buf)


def _inputs_with_bad_encodings(root: Path) -> Sequence[Path]:
    xml = (DATA / "wevtutil_qe.xml").read_bytes()
    text = (DATA / "seed_vmms_copy_as_text.txt").read_bytes()
    files = {
        "surrogates.evtx": _lone_surrogate_evtx(),
        "nul.xml": xml.replace(b"</Computer>", b"\x00</Computer>", 1),
        "nul-late.txt": text + b"\n" * 5000 + text.replace(b"Description:", b"Description:\x00"),
        "odd-utf16.txt": b"\xff\xfe" + text.decode("utf-8").encode("utf-16-le")[:-1],
        "surrogate-utf16.txt": b"\xff\xfe"
        + text.decode("utf-8")
        .encode("utf-16-le")
        .replace(b"S\x00R\x00V\x001\x00", b"\x00\xd8R\x00V\x001\x00"),
        "bad-utf8.csv": (DATA / "eventviewer_export.csv")
        .read_bytes()
        .replace(b"None", b"\xc3\x28\xed\xa0\x80"),
    }
    paths = []
    for name, data in files.items():
        (root / name).write_bytes(data)
        paths.append(root / name)
    return paths


def test_nul_bytes_and_invalid_utf16_never_break_output(tmp_path: Path) -> None:
    paths = _inputs_with_bad_encodings(tmp_path)
    analysis = analyze([str(p) for p in paths], Options(jobs=2))
    assert len(analysis.inputs) == len(paths)
    for report in analysis.inputs:
        assert report.error is None or "unexpected" not in report.error, report
    for fmt in RENDERERS:
        out = RENDERERS[fmt](analysis, PLAIN)
        out.encode("utf-8")  # a lone surrogate here would crash writing the report
        if fmt != "json":
            assert "\x00" not in out
    frame = to_frame([e for r in analysis.results for e in r.migration.events])
    render_csv(frame).encode("utf-8")
    result = _cli("events", "--format", "csv", *map(str, paths))
    assert result.returncode in (0, 6), result.stderr
    assert "Traceback" not in result.stderr
