"""Diagnose from pasted text: what a customer copied from the screen, with no log file.

``explain_text(text, library, catalog)`` reads any mix of PowerShell error records
(``Move-VM : ...`` wrapped at the console width, with ``+ CategoryInfo`` blocks), Failover
Cluster Manager's "The action 'Move' did not complete." dialog, Hyper-V Manager's wizard text,
SCVMM job errors and placement ratings, Best Practices Analyzer results (the tools' wording is
data: ``Catalog.tools``), and event descriptions pasted without headers.  It extracts every
error code, host, VM, VM id, event id and known message fragment and runs each signature's
``text:`` rule on that evidence.

Text has no sides, times or event chains, so a text match is capped below what the same
signature scores on logs (the signature's ``text.confidence``), and says what is missing to be
sure.  Text without live-migration evidence yields no finding at all: never a guess.

Evidence cites the pasted lines: each ``Evidence.event`` is a stand-in ``Event`` with
``channel == provider == TEXT_CHANNEL``, ``origin.format == TEXT_CHANNEL``, ``origin.offset``
the 1-based line number in the pasted text, ``message`` the (unwrapped) line, ``time`` the
placeholder ``NO_TIME`` with ``time_assumed=True``: renderers must show the line, not a time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from migdiag.catalog import TOOL_KINDS, Catalog, Tool
from migdiag.diagnose.loader import Library
from migdiag.diagnose.signature import Signature, TextMatcher
from migdiag.model import Event, Evidence, Finding, Origin, short_host
from migdiag.normalise import (
    canonical_vm_id,
    extract_error_codes,
    fragment_variants,
    normalise_text,
    strip_resource_prefix,
)

TEXT_CHANNEL = "pasted-text"
NO_TIME = datetime(1970, 1, 1, tzinfo=UTC)  # pasted text carries no reliable time
NO_EVIDENCE = "no live-migration evidence found"

# Words that place a bare error code in a live migration (any language where the word stem is
# the same: Migration, migración, Livemigration).  Without them, a code alone is no evidence.
# The tools' own wording (Move-VM, Failover Cluster Manager's dialog, SCVMM's errors) is data:
# ``tools:`` in data/phrases.yaml.
_CONTEXT = re.compile(
    r"live[- ]?migrat|virtual machine migration|migration (?:source|destination)"
    r"|migra\w*.{0,80}(?:virtu|\bvm\b|hyper-v|cluster|vmms|\bhost|\bnode|knoten)"
    r"|(?:virtu|\bvm\b|hyper-v|cluster|vmms).{0,80}migra",
    re.IGNORECASE,
)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_QUOTES = str.maketrans({c: "'" for c in '“”‘’„«»`"'})

# PowerShell error-record furniture (Windows PowerShell 5.1 NormalView, PowerShell 7).
_PS_AT = re.compile(r"^\s*At (?:line:\d+|\S.*:\d+) char:\d+\s*$", re.IGNORECASE)
_PS_TILDE = re.compile(r"^\s*\+\s*~+\s*$")
_PS_INFO = re.compile(
    r"^\s*\+\s*(CategoryInfo|FullyQualifiedErrorId|PSComputerName)\s*:\s*(.*)$", re.IGNORECASE
)
_PS_ECHO = re.compile(r"^\s*\+\s+(\S.*)$")
_PS_PREFIX = re.compile(
    r"^\s*((?:Move|Get|Set|Start|Stop|Restart|Invoke|New|Remove|Enable|Disable|Test|Compare"
    r"|Import|Export|Add|Update|Suspend|Resume|Save|Measure|Connect|Checkpoint)-[A-Za-z]+)"
    r"\s?:\s+(?=\S)"
)
# PowerShell 7 ConciseView for scripts: "Line |", "   1 |  Move-VM ...", "     | message".
_PS7_HEAD = re.compile(r"^\s*Line \|\s*$")
_PS7_ECHO = re.compile(r"^\s*\d+ \|\s*(\S.*)$")
_PS7_BODY = re.compile(r"^\s+\|\s?(.*)$")

_EVENT_ID = re.compile(
    r"\b(?:event\s*id|eventid|ereignis-id|id de l'événement|id\. evento)\s*[:#=]?\s*(\d{2,5})\b",
    re.IGNORECASE,
)
_LIST_ID = re.compile(r"^\s*Id\s*:\s*(\d{2,5})\s*$")
_TABLE_ID = re.compile(
    r"^\s*\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\s+\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:\s*[AP]M)?\s+"
    r"(\d{2,5})\s+(?:Error|Warning|Information|Critical|Verbose)\b",
    re.IGNORECASE,
)

_HOST_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9]"
_HOST_QUOTED = re.compile(
    r"(?:destination host|with host|migration source|migration destination|destination node"
    r"|cluster node|physical computer|supported on host|on host|to node|from node)\s+'([^']+)'",
    re.IGNORECASE,
)
_HOST_BARE = re.compile(
    rf"(?:with host|-DestinationHost|-ComputerName)\s+({_HOST_NAME})",
    re.IGNORECASE,
)
_HOST_HEADER = re.compile(rf"^\s*(?:Computer|MachineName|Computername)\s*:\s*({_HOST_NAME})\s*$")
_VM_QUOTED = re.compile(
    r"(?:virtual machine|migration operation for|live migration of|attempting to move"
    r"|failed to move)"
    r"\s+'([^']+)'",
    re.IGNORECASE,
)
_VM_LEADING = re.compile(
    r"^\s*'([^']+)'\s*:?\s+(?:could not|failed to|synthetic|Attachment)", re.IGNORECASE
)
_VM_PARAM = re.compile(r"-(?:VM)?Name\s+'?([^\s',;|]+)", re.IGNORECASE)
_VM_ECHO = re.compile(r"\bMove-VM\s+'?([A-Za-z0-9][^\s',;|]*)", re.IGNORECASE)
_GUID = re.compile(
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"|\b[0-9A-Fa-f]{7}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b"
)
_SYMBOL = re.compile(r"\b([A-Z][A-Z0-9]*_[A-Z0-9_]{3,}|WSAE[A-Z]{4,})\b")

# What may stand beside a code that is pasted on its own ("Error code: 0x80072746", "Fehlercode:
# 0x...", "エラー コード: 0x..."): with nothing else, the code alone is the question.
_FILLER = re.compile(
    r"\b(?:error|errors|code|hresult|hr|status|event|id|fehler|fehlercode|erreur|code d'erreur"
    r"|error code|código|codigo|de|d'erreur|result)\b|エラー|コード|[\s:;,.()\[\]#=\-'\"]",
    re.IGNORECASE,
)
_CODE_FORMS = re.compile(r"%%\d+|-?\d{6,}|\b[A-Z][A-Z0-9]*_[A-Z0-9_]{3,}\b|\bWSAE[A-Z]{4,}\b")
# A code alone (no sentence, no migration wording) still ranks candidates, lower than with
# the wording that places it in a live migration.
CODE_ALONE_PENALTY = 0.1
# A sentence match in text that also says the migration succeeded or the message is benign.
BENIGN_CAP = 0.2


@dataclass(frozen=True, slots=True)
class Line:
    """One logical line of the pasted text (console wrapping undone)."""

    number: int  # 1-based number of its first physical line
    text: str


@dataclass(frozen=True, slots=True)
class DecodedCode:
    code: str  # 0x%08X
    name: str  # symbolic name, "unknown" when the catalog does not know it
    text: str  # the Windows message text, "" when unknown
    meaning: str  # what it usually means in a live migration
    known: bool


@dataclass(frozen=True, slots=True)
class Missing:
    """What would make a cause sure, with the command that collects it."""

    signature_id: str
    what: str
    command: str | None = None


@dataclass(frozen=True, slots=True)
class Explanation:
    """What pasted text says: ranked causes (best first), and every fact extracted."""

    findings: tuple[Finding, ...]
    decoded: tuple[DecodedCode, ...]
    hosts: tuple[str, ...]  # short names, upper-case
    vms: tuple[str, ...]
    vm_ids: tuple[str, ...]
    event_ids: tuple[int, ...]
    missing: tuple[Missing, ...]
    shapes: tuple[str, ...]  # what the text looked like: powershell-error, cluster-dialog, ...
    commands: tuple[str, ...]  # cmdlets whose error records were pasted (Move-VM)
    lines: int  # physical lines read
    # When the diagnosis rests on a code without its sentence: the one check that tells the
    # leading candidates apart.
    question: str | None = None
    # What the text was recognised as when it reports no failure: a tool's advice or a
    # placement rating, whose codes are therefore not causes.
    notes: tuple[str, ...] = ()

    @property
    def evidence_found(self) -> bool:
        return bool(self.findings)

    @property
    def diagnosis(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    @property
    def verdict(self) -> str:
        top = self.diagnosis
        if top is None:
            return NO_EVIDENCE
        if top.cause == "unknown":
            return "live-migration failure of unknown cause"
        return f"likely cause: {top.cause} ({top.confidence:.2f}, {top.signature_id})"

    def missing_for(self, signature_id: str) -> tuple[Missing, ...]:
        return tuple(m for m in self.missing if m.signature_id == signature_id)


# -- reading ----------------------------------------------------------------------------------


def decode_bytes(data: bytes) -> str:
    """Pasted files come as UTF-8, or UTF-16 when PowerShell 5.1 redirected them (``2> x.txt``),
    or a Windows code page; never fail on them."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if data[1:200:2].count(0) > 20 and data[0:200:2].count(0) == 0:
        return data.decode("utf-16-le", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def clean(text: str) -> str:
    """Control characters and terminal escapes out (they must never reach a terminal)."""
    return _CONTROL.sub("", _ANSI.sub("", text))


@dataclass(frozen=True, slots=True)
class _Prepared:
    lines: tuple[Line, ...]
    blocks: tuple[tuple[Line, ...], ...]
    commands: tuple[str, ...]
    echoes: tuple[str, ...]  # the command lines PowerShell echoed under "At line:"
    info: tuple[str, ...]  # CategoryInfo / FullyQualifiedErrorId values
    physical: int


def _physical_lines(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = clean(text.replace("\t", "    ").replace("\ufeff", "").replace("\u00a0", " "))
    return text.split("\n")


def _width(lines: Sequence[str]) -> int:
    """The console width the text was wrapped at, when it looks wrapped: several lines of the
    same maximal length (a lone long line is just a long line)."""
    lengths = [len(x.rstrip("\n")) for x in lines if x.strip()]
    if not lengths:
        return 0
    top = max(lengths)
    return top if top >= 60 and lengths.count(top) >= 2 else 0


def _prepare(text: str) -> _Prepared:
    raw = _physical_lines(text)
    width = _width(raw)
    commands: dict[str, None] = {}
    echoes: list[str] = []
    info: list[str] = []
    kept: list[tuple[int, str, bool]] = []  # (line number, text, wrapped at console width)
    in_info = False
    after_at = False
    for number, line in enumerate(raw, start=1):
        if _PS_AT.match(line):
            after_at, in_info = True, False
            continue
        if _PS_TILDE.match(line):
            continue
        m = _PS_INFO.match(line)
        if m:
            info.append(m.group(2).strip())
            in_info = True
            continue
        if (
            in_info
            and line.startswith("    ")
            and line.strip()
            and not line.lstrip().startswith("+")
        ):
            info[-1] += line.strip()  # a wrapped CategoryInfo continues on indented lines
            continue
        in_info = False
        if after_at:
            m = _PS_ECHO.match(line)
            if m:
                echoes.append(m.group(1).strip())
                continue
            after_at = False
        if _PS7_HEAD.match(line):
            continue
        m = _PS7_ECHO.match(line)
        if m:
            echoes.append(m.group(1).strip())
            continue
        m = _PS7_BODY.match(line)
        if m:
            line = m.group(1)
            if not line.strip() or set(line.strip()) <= {"~"}:
                continue
        full = bool(width) and len(line) >= width
        m = _PS_PREFIX.match(line)
        if m:
            commands.setdefault(m.group(1), None)
            line = line[m.end() :]
        kept.append((number, line.rstrip(), full))
    logical: list[Line] = []
    joining = False
    for number, line, full in kept:
        if joining and line.strip() and logical:
            prev = logical[-1]
            glue = "" if prev.text[-1:].isalnum() and line[:1].isalnum() else " "
            logical[-1] = Line(prev.number, prev.text + glue + line.strip())
        else:
            logical.append(Line(number, line.strip()))
        joining = full and bool(line.strip())
    blocks: list[tuple[Line, ...]] = []
    current: list[Line] = []
    for ln in logical:
        if ln.text:
            current.append(ln)
        elif current:
            blocks.append(tuple(current))
            current = []
    if current:
        blocks.append(tuple(current))
    return _Prepared(
        lines=tuple(ln for ln in logical if ln.text),
        blocks=tuple(blocks),
        commands=tuple(commands),
        echoes=tuple(echoes),
        info=tuple(info),
        # A final newline ends the last line; it does not start another.
        physical=(len(raw) - (raw[-1] == "")) if text.strip() else 0,
    )


# -- extraction -------------------------------------------------------------------------------


def _codes(text: str, catalog: Catalog) -> tuple[str, ...]:
    """Every code in every form (``(0x8007274C)``, ``0X...``, bare, ``%%n``, negative decimal),
    plus the codes a symbolic name stands for (``WSAECONNRESET``)."""
    found: dict[str, None] = dict.fromkeys(extract_error_codes(text))
    by_name = {e.name: e.code for e in catalog.error_codes.values()}
    for m in _SYMBOL.finditer(text):
        code = by_name.get(m.group(1))
        if code:
            found.setdefault(code, None)
    return tuple(found)


_NEEDLES: dict[int, tuple[Catalog, tuple[tuple[str, str], ...]]] = {}


def _code_needles(catalog: Catalog) -> tuple[tuple[str, str], ...]:
    """(normalised message text, code) for every wording of every code's Windows message."""
    entry = _NEEDLES.get(id(catalog))
    if entry is None or entry[0] is not catalog:
        needles = tuple(
            (normalise_text(p.text), code)
            for code, phrases in catalog.code_texts.items()
            for p in phrases
        )
        entry = _NEEDLES[id(catalog)] = (catalog, needles)
    return entry[1]


@dataclass(frozen=True, slots=True)
class _Wording:
    tool: Tool
    kind: str
    pattern: re.Pattern[str]  # the wording normalised like the text it is looked for in
    compact: str  # and without spaces ("« Déplacer »" is "'Déplacer'"); "" when unquoted

    @classmethod
    def of(cls, tool: Tool, kind: str, norm: str) -> _Wording:
        # A Latin word starts a wording only at a word's start: "Move-VM" is not "Remove-VM".
        edge = r"(?<![a-z0-9])" if norm[:1].isascii() and norm[:1].isalnum() else ""
        compact = norm.replace(" ", "") if "'" in norm else ""
        return cls(tool, kind, re.compile(edge + re.escape(norm)), compact)

    def in_text(self, norm: str, compact: str) -> bool:
        return bool(self.pattern.search(norm)) or bool(self.compact and self.compact in compact)


_WORDINGS: dict[int, tuple[Catalog, tuple[_Wording, ...]]] = {}


def _tool_wordings(catalog: Catalog) -> tuple[_Wording, ...]:
    """Every wording of every tool (``tools:`` in data/phrases.yaml), normalised once."""
    entry = _WORDINGS.get(id(catalog))
    if entry is None or entry[0] is not catalog:
        wordings = tuple(
            _Wording.of(tool, p.kind, norm)
            for tool in catalog.tools
            for p in tool.wordings
            if (norm := normalise_text(p.text))
        )
        entry = _WORDINGS[id(catalog)] = (catalog, wordings)
    return entry[1]


def _tools_in(text: str, catalog: Catalog, *kinds: str) -> tuple[_Wording, ...]:
    """The tool wordings of these kinds that the text holds."""
    norm = normalise_text(text)
    compact = norm.replace(" ", "")
    return tuple(w for w in _tool_wordings(catalog) if w.kind in kinds and w.in_text(norm, compact))


def _event_ids(lines: Iterable[Line]) -> tuple[int, ...]:
    found: dict[int, None] = {}
    for ln in lines:
        for m in _EVENT_ID.finditer(ln.text):
            found.setdefault(int(m.group(1)), None)
        for rx in (_LIST_ID, _TABLE_ID):
            m2 = rx.match(ln.text)
            if m2:
                found.setdefault(int(m2.group(1)), None)
    return tuple(found)


def _is_guid(value: str) -> bool:
    return bool(_GUID.fullmatch(value.strip("{} ")))


def _hosts(lines: Iterable[str]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for text in lines:
        quoted = text.translate(_QUOTES)
        for rx in (_HOST_QUOTED, _HOST_BARE, _HOST_HEADER):
            for m in rx.finditer(quoted):
                value = m.group(1).strip().rstrip(".").strip()
                if value and not _is_guid(value) and " " not in value:
                    found.setdefault(short_host(value), None)
    return tuple(found)


def _vms(lines: Iterable[str], echoes: Iterable[str]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for text in lines:
        quoted = text.translate(_QUOTES)
        for rx in (_VM_QUOTED, _VM_LEADING):
            for m in rx.finditer(quoted):
                value = strip_resource_prefix(m.group(1))
                if value and not _is_guid(value):
                    found.setdefault(value, None)
    for echo in echoes:
        for rx in (_VM_PARAM, _VM_ECHO):
            hit = rx.search(echo)
            if hit and not hit.group(1).startswith(("-", "$")):
                found.setdefault(hit.group(1), None)
                break
    return tuple(found)


_URL = re.compile(r"\b(?:https?|ftp)://\S+", re.IGNORECASE)


def _vm_ids(text: str) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for m in _GUID.finditer(_URL.sub(" ", text)):  # a GUID in a link is no VM
        vm_id = canonical_vm_id(m.group(0))
        if vm_id:
            found.setdefault(vm_id, None)
    return tuple(found)


def _shapes(prepared: _Prepared, text: str, catalog: Catalog) -> tuple[str, ...]:
    low = normalise_text(text)
    shapes = []
    if prepared.info or prepared.echoes or prepared.commands:
        shapes.append("powershell-error")
    for w in _tools_in(_tool_text(text, prepared), catalog, *TOOL_KINDS):
        if w.tool.shape and w.tool.shape not in shapes:
            shapes.append(w.tool.shape)  # a dialog, job or result in a tool's own wording
    if "log name:" in low and "event id:" in low:
        shapes.append("event-viewer-copy")
    if re.search(r"(?m)^\s*Event\[\d+\]:", text):
        shapes.append("wevtutil-text")
    if not shapes:
        shapes.append("event-descriptions")
    return tuple(shapes)


# -- matching ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Scope:
    """Lines searched together (a paragraph, or the whole text for corroboration)."""

    lines: tuple[Line, ...]
    norm: str
    compact: str
    starts: tuple[int, ...]  # offset of each line in ``norm``
    cstarts: tuple[int, ...]  # offset of each line in ``compact``
    codes: tuple[tuple[str, ...], ...]  # per line
    all_codes: frozenset[str]
    ids: frozenset[int]
    catalog: Catalog
    benign: bool  # informational, ignorable, advisory or a pre-check: its codes are decoys
    success: bool  # it says the migration completed

    @classmethod
    def of(cls, lines: Sequence[Line], catalog: Catalog) -> _Scope:
        norms = [normalise_text(ln.text) for ln in lines]
        compacts = [n.replace(" ", "") for n in norms]
        starts, cstarts, pos, cpos = [], [], 0, 0
        for n, c in zip(norms, compacts, strict=True):
            starts.append(pos)
            cstarts.append(cpos)
            pos += len(n) + 1
            cpos += len(c)
        per_line = [dict.fromkeys(_codes(ln.text, catalog)) for ln in lines]
        norm = " ".join(norms)
        # A Windows message (in any language the phrases know) stands for its code: a Winsock
        # or SSPI text is often pasted without the number.
        for needle, code in _code_needles(catalog):
            pos = norm.find(needle)
            if pos >= 0:
                for i in cls._lines_at(starts, pos, pos + len(needle)):
                    per_line[i].setdefault(code, None)
        # Codes are also read from the joined paragraph: a word-wrapped paste may split
        # "(0x8007" and "274C)" only when it was wrapped at the console width (joined before).
        joined = _codes(" ".join(ln.text for ln in lines), catalog)
        compact = "".join(compacts)
        return cls(
            lines=tuple(lines),
            norm=norm,
            compact=compact,
            starts=tuple(starts),
            cstarts=tuple(cstarts),
            codes=tuple(tuple(cs) for cs in per_line),
            all_codes=frozenset(joined) | {c for cs in per_line for c in cs},
            ids=frozenset(_event_ids(lines)),
            catalog=catalog,
            benign=any(normalise_text(p.text) in norm for p in catalog.benign)
            # A tool's advice or placement rating (a BPA result, an SCVMM rating explanation)
            or any(
                w.in_text(norm, compact)
                for w in _tool_wordings(catalog)
                if w.kind in ("advisory", "precheck")
            ),
            success=any(
                normalise_text(p.text) in norm for p in catalog.benign if p.kind == "success"
            ),
        )

    @staticmethod
    def _lines_at(starts: Sequence[int], lo: int, hi: int) -> tuple[int, ...]:
        return tuple(
            i
            for i, s in enumerate(starts)
            if s < hi and (i + 1 == len(starts) or starts[i + 1] > lo)
        )

    def _span(self, starts: Sequence[int], lo: int, hi: int) -> tuple[int, ...]:
        return tuple(
            i
            for i, s in enumerate(starts)
            if s < hi and (i + 1 == len(starts) or starts[i + 1] > lo)
        )

    def find(self, fragment: str) -> tuple[int, ...] | None:
        """Indexes of the lines a fragment spans, in English or any wording the phrases give
        for it; None when absent.  Quotes, contractions, case and whitespace do not matter;
        neither do words split by a console wrap."""
        for needle in fragment_variants(fragment, self.catalog):
            where = self._find(needle)
            if where is not None:
                return where
        return None

    def _find(self, needle: str) -> tuple[int, ...] | None:
        pos = self.norm.find(needle)
        if pos >= 0:
            return self._span(self.starts, pos, pos + len(needle))
        compact = needle.replace(" ", "")
        pos = self.compact.find(compact)
        if pos >= 0:
            return self._span(self.cstarts, pos, pos + len(compact))
        return None

    def code_lines(self, code: str) -> tuple[int, ...]:
        return tuple(i for i, cs in enumerate(self.codes) if code in cs) or (0,)


@dataclass(frozen=True, slots=True)
class _Hit:
    matcher: TextMatcher
    scope: _Scope
    lines: tuple[int, ...]
    words: tuple[str, ...]


def _match(m: TextMatcher, scope: _Scope, context: bool) -> _Hit | None:
    words: list[str] = []
    lines: dict[int, None] = {}
    for code in m.codes:
        if code not in scope.all_codes:
            return None
        words.append(code)
        lines.update(dict.fromkeys(scope.code_lines(code)))
    if m.codes_any:
        present = [c for c in m.codes_any if c in scope.all_codes]
        if not present:
            return None
        for code in present:
            words.append(code)
            lines.update(dict.fromkeys(scope.code_lines(code)))
    if m.ids:
        named = [i for i in m.ids if i in scope.ids]
        if not named:
            return None
        words += [f"event {i}" for i in named]
    for fragment in m.fragments:
        where = scope.find(fragment)
        if where is None:
            return None
        words.append(fragment)
        lines.update(dict.fromkeys(where))
    if m.fragments_any:
        found = [(f, w) for f in m.fragments_any if (w := scope.find(f)) is not None]
        if not found:
            return None
        fragment, where = found[0]
        words.append(fragment)
        lines.update(dict.fromkeys(where))
    if not (m.fragments or m.fragments_any or m.alone or context):
        return None  # a bare code is live-migration evidence only beside migration wording
    return _Hit(m, scope, tuple(sorted(lines)), tuple(words))


def _best(sig: Signature, scopes: Sequence[_Scope], context: bool) -> _Hit | None:
    assert sig.text is not None
    hits = [hit for m in sig.text.one_of for scope in scopes if (hit := _match(m, scope, context))]
    if not hits:
        return None
    cap = sig.text.confidence
    return max(
        hits,
        key=lambda h: (
            h.matcher.confidence if h.matcher.confidence is not None else cap,
            h.matcher.specificity,
        ),
    )


def _event_for(line: Line, source: str) -> Event:
    hosts = _hosts([line.text])
    ids = _event_ids([line])
    return Event(
        time=NO_TIME,
        host=hosts[0] if hosts else "",
        channel=TEXT_CHANNEL,
        provider=TEXT_CHANNEL,
        event_id=ids[0] if ids else 0,
        level=0,
        record_id=None,
        fields=(),
        message=line.text,
        origin=Origin(path=source, format=TEXT_CHANNEL, record=None, offset=line.number),
        error_codes=extract_error_codes(line.text),
        message_from_input=True,
        time_assumed=True,
    )


def _evidence(hit: _Hit, source: str, prefix: str = "") -> tuple[Evidence, ...]:
    said = ", ".join(f"“{w}”" for w in hit.words)
    why = f"{prefix}{hit.matcher.why} (matched {said})"
    return tuple(Evidence(event=_event_for(hit.scope.lines[i], source), why=why) for i in hit.lines)


@dataclass(frozen=True, slots=True)
class _Scored:
    signature: Signature
    hit: _Hit
    confidence: float
    raised: tuple[_Hit, ...]
    lowered: tuple[_Hit, ...]
    notes: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[float, int, str]:
        return (-self.confidence, -self.hit.matcher.specificity, self.signature.id)


def _code_only(hit: _Hit) -> bool:
    m = hit.matcher
    return not (m.fragments or m.fragments_any or m.ids)


def _score(
    sig: Signature, hit: _Hit, whole: _Scope, context: bool, alone: bool = False
) -> _Scored | None:
    """The hit's confidence, or None when it is a decoy (a code in benign text)."""
    assert sig.text is not None
    cap = sig.text.confidence
    notes: list[str] = []
    if sig.applies_to == "failed" and (hit.scope.benign or whole.success):
        # Text that calls itself informational, ignorable or a success is no failure: a code
        # in it is a decoy; a failure sentence beside it is weak evidence at most.
        if hit.scope.benign or _code_only(hit):
            return None
        cap = min(cap, BENIGN_CAP)
        notes.append(
            "The text also reports a success or an informational message: this is weak evidence."
        )
    base = hit.matcher.confidence if hit.matcher.confidence is not None else cap
    if alone and not context:
        base -= CODE_ALONE_PENALTY
        notes.append(
            "From an error code alone (no sentence, no migration wording): one of several "
            "candidates for this code."
        )
    raised = tuple(h for m in sig.text.raises if (h := _match(m, whole, True)))
    lowered = tuple(h for m in sig.text.lowers if (h := _match(m, whole, True)))
    delta = sum(h.matcher.delta for h in raised) - sum(h.matcher.delta for h in lowered)
    confidence = round(min(cap, max(0.05, base + delta)), 2) if cap >= 0.05 else round(cap, 2)
    return _Scored(sig, hit, confidence, raised, lowered, tuple(notes))


def _finding(s: _Scored, source: str) -> Finding:
    sig = s.signature
    assert sig.text is not None
    corroboration = tuple(
        ev
        for h in s.raised
        for ev in _evidence(h, source, f"raises confidence (+{h.matcher.delta:.2f}): ")
    ) + tuple(
        ev
        for h in s.lowered
        for ev in _evidence(h, source, f"lowers confidence (-{h.matcher.delta:.2f}): ")
    )
    notes = [
        f"From pasted text only: confidence is capped at {sig.text.confidence:.2f} "
        f"(the event chain in both hosts' logs scores up to {sig.confidence:.2f}).",
        *s.notes,
    ]
    return Finding(
        signature_id=sig.id,
        cause=sig.cause,
        title=sig.title,
        severity=sig.severity,
        confidence=s.confidence,
        evidence=_evidence(s.hit, source),
        explanation=sig.explanation,
        checks=tuple(st.describe() for st in sig.checks),
        remediation=tuple(st.describe() for st in sig.remediation),
        differential=tuple(a.describe() for a in sig.differential),
        corroboration=corroboration,
        references=sig.references,
        notes=tuple(notes),
    )


def _decode(codes: Iterable[str], catalog: Catalog) -> tuple[DecodedCode, ...]:
    out = []
    for code in codes:
        known = catalog.decode(code)
        if known:
            out.append(DecodedCode(code, known.name, known.text, known.meaning, True))
        else:
            out.append(DecodedCode(code, "unknown", "", "", False))
    return tuple(out)


def explain_text(text: str, library: Library, catalog: Catalog, source: str = "-") -> Explanation:
    """Pasted text -> ranked causes (best first), every code decoded, what is missing."""
    prepared = _prepare(text)
    all_lines = prepared.lines
    scopes = [_Scope.of(b, catalog) for b in prepared.blocks]
    whole = _Scope.of(all_lines, catalog)
    joined = "\n".join(ln.text for ln in all_lines)
    context = _speaks_of_migration(joined, prepared, catalog)
    # A code alone, or beside a tool's failed job that does not name its operation (SCVMM's
    # 12700): candidates, ranked lower, with the check that decides.  Such a job is no
    # migration failure by itself (an ISO that cannot be attached gives the same text): only
    # causes its code names, never "unknown cause".
    job = (
        not context
        and not _code_alone(joined, whole)
        and bool(_tools_in(_tool_text(joined, prepared), catalog, "job"))
    )
    alone = not context and (job or _code_alone(joined, whole))
    scored: list[_Scored] = []
    fallback: list[_Scored] = []
    for sig in library.signatures:
        if sig.text is None or not sig.text.one_of or (job and sig.fallback):
            continue
        hit = _best(sig, scopes, context or alone)
        if hit is None:
            continue
        result = _score(sig, hit, whole, context, alone)
        if result is not None:
            (fallback if sig.fallback else scored).append(result)
    ranked = sorted(scored, key=lambda s: s.key) or sorted(fallback, key=lambda s: s.key)[:1]
    ranked += _candidates(ranked, library)
    by_id = [] if ranked else _by_event_id(whole, library, catalog)
    ranked += by_id
    findings = tuple(_finding(s, source) for s in ranked)
    missing = tuple(
        Missing(s.signature.id, st.what, st.command)
        for s in ranked
        if s.signature.text is not None
        for st in s.signature.text.missing
    )
    codes: dict[str, None] = {}
    for scope in scopes:
        for cs in scope.codes:
            codes.update(dict.fromkeys(cs))
        codes.update(dict.fromkeys(sorted(scope.all_codes - set(codes))))
    texts = [ln.text for ln in all_lines]
    echo_hosts = _hosts(prepared.echoes)
    return Explanation(
        findings=findings,
        decoded=_decode(codes, catalog),
        hosts=tuple(dict.fromkeys(_hosts(texts) + echo_hosts)),
        vms=_vms(texts, prepared.echoes),
        vm_ids=_vm_ids(joined),
        event_ids=tuple(sorted(whole.ids)),
        missing=missing,
        shapes=_shapes(prepared, joined, catalog),
        commands=prepared.commands,
        lines=prepared.physical,
        question=_id_question(by_id) if by_id else _question(ranked),
        notes=_advice_notes(prepared, catalog),
    )


# Why a tool's advisory or rating text yields no cause (kind -> the sentence after its name).
_ADVICE = {
    "advisory": "this part is advice or a completed job's information, not a failure report: "
    "its codes and sentences are not causes.",
    "precheck": "a rating made before anything moved, not a failed migration: its reasons "
    "(memory, network, storage on that host) are not causes. If the migration was then "
    "attempted and failed, paste that job's error.",
}


def _advice_notes(prepared: _Prepared, catalog: Catalog) -> tuple[str, ...]:
    """One note per tool whose advisory or rating wording a paragraph holds."""
    notes: dict[str, None] = {}
    for block in prepared.blocks:
        text = "\n".join(ln.text for ln in block)
        for w in _tools_in(text, catalog, *_ADVICE):
            notes.setdefault(f"{w.tool.name}: {_ADVICE[w.kind]}", None)
    return tuple(notes)


def _tool_text(joined: str, prepared: _Prepared) -> str:
    """The text with what PowerShell printed around it (the cmdlet of an error record, its
    echoed command line, its FullyQualifiedErrorId): where a tool's wording is looked for."""
    return "\n".join((joined, *prepared.commands, *prepared.echoes, *prepared.info))


def _speaks_of_migration(joined: str, prepared: _Prepared, catalog: Catalog) -> bool:
    """Whether the text places its codes in a live migration, in any language we know, or in
    the wording of a tool that reports one (Move-VM, Failover Cluster Manager's Move)."""
    if _CONTEXT.search(joined):
        return True
    text = normalise_text(joined)
    if any(normalise_text(w) in text for w in catalog.migration_words):
        return True
    return bool(_tools_in(_tool_text(joined, prepared), catalog, "context"))


def _code_alone(joined: str, whole: _Scope) -> bool:
    """The paste is a known code and nothing else (beside words like "error code")."""
    if not whole.all_codes:
        return False
    rest = joined
    for code in whole.all_codes:
        rest = re.sub(rf"(?i)(?:0x)?{code[2:]}", " ", rest)
    rest = _CODE_FORMS.sub(" ", rest)
    return not _FILLER.sub("", rest).strip()


# A candidate the code alone cannot rule out ranks this far below the code's best reading.
CANDIDATE_GAP = 0.1


def _candidates(ranked: Sequence[_Scored], library: Library) -> list[_Scored]:
    """When the diagnosis rests on a code without its sentence, the causes its signature lists
    as giving the same code join the ranking below it: a code alone names candidates, not one
    cause."""
    if not ranked or not _code_only(ranked[0].hit) or ranked[0].signature.fallback:
        return []
    top = ranked[0]
    present = {s.signature.id for s in ranked}
    out = []
    for alt in top.signature.differential:
        sig = library.get(alt.signature) if alt.signature else None
        if sig is None or sig.id in present or sig.text is None or sig.fallback:
            continue
        present.add(sig.id)
        matcher = TextMatcher(
            why=f"the same code is also what this cause produces ({alt.evidence})",
            codes=top.hit.matcher.codes,
            codes_any=top.hit.matcher.codes_any,
        )
        hit = _Hit(matcher, top.hit.scope, top.hit.lines, top.hit.words)
        confidence = round(max(0.05, top.confidence - CANDIDATE_GAP), 2)
        note = (
            f"A candidate for the same code ({top.signature.id} lists it as an alternative); "
            f"nothing in the text points to it specifically. Tell apart: {alt.tell_apart}"
        )
        out.append(_Scored(sig, hit, confidence, (), (), (note,)))
    return out


# An event id without its code or text names candidates only: this confidence, this many.
ID_ALONE_CONFIDENCE = 0.1
ID_ALONE_CANDIDATES = 5


def _by_event_id(whole: _Scope, library: Library, catalog: Catalog) -> list[_Scored]:
    """A known event id named without its code or sentence: the causes whose signatures
    require that event, as low candidates.  An id the catalog does not know gives nothing."""
    known = sorted(i for i in whole.ids if any(eid == i for _, eid in catalog.events))
    out: list[_Scored] = []
    for sig in sorted(library.signatures, key=lambda s: (-s.confidence, s.id)):
        if sig.fallback or sig.text is None or sig.applies_to != "failed":
            continue
        required = {i for c in sig.require for m in (c.base, *c.one_of) for i in m.ids}
        named = [i for i in known if i in required]
        if not named:
            continue
        lines = tuple(
            n for n, ln in enumerate(whole.lines) if set(named) & set(_event_ids([ln]))
        ) or (0,)
        matcher = TextMatcher(
            why=(
                f"event {named[0]} is one of this cause's events; without its error code or "
                "text it is only a candidate"
            ),
            ids=tuple(named),
        )
        hit = _Hit(matcher, whole, lines, tuple(f"event {i}" for i in named))
        note = "From an event id alone: one of several causes that log this event."
        out.append(_Scored(sig, hit, ID_ALONE_CONFIDENCE, (), (), (note,)))
        if len(out) == ID_ALONE_CANDIDATES:
            break
    return out


def _id_question(candidates: Sequence[_Scored]) -> str:
    ids = sorted({i for s in candidates for i in s.hit.matcher.ids})
    named = "/".join(str(i) for i in ids)
    return (
        f"Which error code (0x...) and sentence does event {named} carry? They decide between "
        "these causes: copy the event's full text, or export the log it is in "
        "(wevtutil epl <log name> <file>.evtx)."
    )


def _question(ranked: Sequence[_Scored]) -> str | None:
    """The one check that tells the leading candidates apart, when the diagnosis rests on a
    code without the sentence that would place it."""
    if not ranked or not _code_only(ranked[0].hit):
        return None
    top = ranked[0].signature
    if len(ranked) > 1:
        runner_up = ranked[1].signature
        for alt in top.differential:
            if alt.signature == runner_up.id or alt.cause == runner_up.cause:
                return f"{top.cause} or {runner_up.cause}? {alt.tell_apart}"
    if top.text is not None and top.text.missing:
        step = top.text.missing[0]
        return step.what + (f": {step.command}" if step.command else "")
    return None
