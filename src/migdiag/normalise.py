"""One place that turns what a reader saw into comparable values.

Channel spellings, VM identity (GUID forms, cluster resource prefixes), host identity and
error codes in every form they are logged in all become one canonical form here, so that
correlation and diagnosis never see where an event came from.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cached_property, lru_cache

from migdiag import windows_tables
from migdiag.catalog import Catalog, EventSpec
from migdiag.model import Event, short_host

_GUID = re.compile(
    r"\{?([0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12})\}?"
)
# A loose GUID: the seed's VMID "41EF2DB-0C0A-12FE-25CB-C3330D937F27" has 7 digits in its first
# group (a transcription slip in a real log quote); we still want to join on it.
_LOOSE_GUID = re.compile(
    r"\{?\b([0-9A-Fa-f]{7,8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\b\}?"
)
_HEX_CODE = re.compile(r"(?<![0-9A-Za-z])(?:0[xX])?([0-9A-Fa-f]{8})(?![0-9A-Za-z])")
_PCT_CODE = re.compile(r"%%(\d{6,10})")
_NEG_DEC = re.compile(r"(?<![\w.])(-21\d{8})(?!\d)")
_RESOURCE_PREFIXES = ("virtual machine configuration ", "virtual machine ", "scvmm ")

_CHANNEL_ALIASES = {
    "microsoft-windows-hyper-v-vmms/admin": "Microsoft-Windows-Hyper-V-VMMS-Admin",
    "microsoft-windows-hyper-v-vmms-admin": "Microsoft-Windows-Hyper-V-VMMS-Admin",
    "microsoft-windows-hyper-v-vmms/operational": "Microsoft-Windows-Hyper-V-VMMS-Operational",
    "microsoft-windows-hyper-v-vmms-operational": "Microsoft-Windows-Hyper-V-VMMS-Operational",
    "microsoft-windows-hyper-v-high-availability/admin": (
        "Microsoft-Windows-Hyper-V-High-Availability-Admin"
    ),
    "microsoft-windows-hyper-v-high-availability-admin": (
        "Microsoft-Windows-Hyper-V-High-Availability-Admin"
    ),
    "microsoft-windows-hyper-v-worker/admin": "Microsoft-Windows-Hyper-V-Worker-Admin",
    "microsoft-windows-hyper-v-worker-admin": "Microsoft-Windows-Hyper-V-Worker-Admin",
    "microsoft-windows-failoverclustering/operational": (
        "Microsoft-Windows-FailoverClustering/Operational"
    ),
    "microsoft-windows-failoverclustering-operational": (
        "Microsoft-Windows-FailoverClustering/Operational"
    ),
    "system": "System",
}


def canonical_channel(channel: str) -> str:
    """``...-VMMS/Admin`` and ``...-VMMS-Admin`` are one channel (reference section 1)."""
    key = channel.strip().lower()
    if key in _CHANNEL_ALIASES:
        return _CHANNEL_ALIASES[key]
    if key.startswith("microsoft-windows-hyper-v-") and "/" in key:
        return channel.strip().replace("/", "-")
    return channel.strip()


def canonical_vm_id(text: str | None) -> str | None:
    """Upper-case GUID without braces; None when the text holds no GUID."""
    if not text:
        return None
    return _vm_id_in(text)


@lru_cache(maxsize=16384)
def _vm_id_in(text: str) -> str | None:
    # Cached: a VM's id is given in every one of its events.
    match = _GUID.search(text) or _LOOSE_GUID.search(text)
    if not match:
        return None
    raw = match.group(1).replace("-", "").upper()
    if "-" not in match.group(1) and len(raw) == 32:
        return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
    return match.group(1).upper()


def strip_resource_prefix(name: str) -> str:
    """``Virtual Machine VM1`` (a cluster resource) names the VM ``VM1``."""
    stripped = name.strip().strip("'\"“”‘’")
    lowered = stripped.lower()
    for prefix in _RESOURCE_PREFIXES:
        if lowered.startswith(prefix):
            return stripped[len(prefix) :].strip()
    return stripped


def canonical_code(value: int) -> str:
    return f"0x{value & 0xFFFFFFFF:08X}"


def extract_error_codes(text: str) -> tuple[str, ...]:
    """Every HRESULT in a text, in the forms they are logged in (reference section 7):
    ``(0x8007274C)``, ``(0x800705B4).``, bare ``80070534``, ``%%2147942432``, negative decimals.
    Bare 8-digit hex is only taken when it looks like an HRESULT (severity/facility bits)."""
    found: list[tuple[int, str]] = []
    for m in _HEX_CODE.finditer(text):
        digits = m.group(1)
        has_prefix = m.group(0)[:2].lower() == "0x"
        value = int(digits, 16)
        # Bare hex must look like an HRESULT: 0x8..., 0xC..., or the Win32 range 0x0000xxxx.
        # This keeps GUID groups and timestamps out.
        if not has_prefix and not (digits[0] in "8Cc" and digits[1] == "0"):
            continue
        if not has_prefix and _inside_guid(text, m.start(), m.end()):
            continue
        found.append((m.start(), canonical_code(value)))
    for m in _PCT_CODE.finditer(text):
        value = int(m.group(1))
        if value <= 0xFFFFFFFF:
            found.append((m.start(), canonical_code(value)))
    for m in _NEG_DEC.finditer(text):
        found.append((m.start(), canonical_code(int(m.group(1)))))
    seen: dict[str, None] = {}
    for _, code in sorted(found):
        seen.setdefault(code, None)
    return tuple(seen)


def _codes_in(text: str) -> tuple[str, ...]:
    # Every code form is at least 8 characters long; most payload values are shorter.
    return () if len(text) < 8 else _cached_codes(text)


# The same values recur across a VM's events (its GUID, its name, an error text), and a
# message is built from them: remembering them halves normalisation on a big bundle.
_cached_codes = lru_cache(maxsize=16384)(extract_error_codes)


def _inside_guid(text: str, start: int, end: int) -> bool:
    return (start > 0 and text[start - 1] == "-") or (end < len(text) and text[end] == "-")


_INSERTION = re.compile(r"(?<!%)%(\d+)")


def render_template(template: str, event: Event) -> str:
    """Fill ``%n`` insertions from the payload (``%%`` message-table refs are left alone).

    Every kept EVTX record has its text made so: each template is cut at its insertions once
    (the same places the substitution would find), then filled by joining."""
    parts = _template_parts(template)
    out = [parts[0]]
    for at in range(1, len(parts), 2):
        value = event.param(int(parts[at]))
        out.append(value if value is not None else "%" + parts[at])
        out.append(parts[at + 1])
    return "".join(out)


@lru_cache(maxsize=4096)
def _template_parts(template: str) -> list[str]:
    """Text, insertion number, text, ... (``re.split`` keeps the captured numbers)."""
    return _INSERTION.split(template)


def _rendered_by(origin: str) -> str:
    """A note on text rendered from an older Windows version's table: the report says so,
    because the default (2012 R2) text would have read differently."""
    if origin in ("catalog", "imported", windows_tables.DEFAULT_OS):
        return ""
    return f" [text from the {windows_tables.OS_NAMES.get(origin, origin)} message table]"


def _role_value(event: Event, spec: EventSpec | None, role: str) -> str | None:
    if spec is None:
        return None
    element = spec.element_name(role)
    if element is not None:
        value = event.field(element)
        if value is not None:
            return value
    # Named payloads on newer builds: do not read them by position unless they are ParameterN.
    named = bool(event.fields) and not event.fields[0][0].startswith("Parameter")
    if (
        named
        and event.fields[0][0]
        and event.provider.lower().startswith("microsoft-windows-hyper-v")
    ):
        return None
    position = spec.position(role)
    return event.param(position) if position else None


ROLES = ("vm_name", "resource", "vm_id", "peer_host")
_NO_ROLES: tuple[None, None, None, None] = (None, None, None, None)
RolePlan = tuple[int | None, int | None, int | None, int | None]
# (provider, id, payload names) -> (the spec planned for, each role's index in the payload).
_role_plans: dict[tuple[str, int, tuple[str, ...]], tuple[EventSpec, RolePlan]] = {}
_MAX_PLANS = 4096  # payload shapes are few; a crafted input must not grow this forever


def role_values(
    event: Event, spec: EventSpec | None
) -> tuple[str | None, str | None, str | None, str | None]:
    """``_role_value`` of each of ``ROLES``, read by index.

    Which field a role takes depends only on the spec, the provider and the payload's names,
    never on the values: a fleet has a few dozen such shapes and tens of thousands of records.
    Each shape is planned once by asking ``_role_value`` itself about a probe record whose
    values are their own indexes, so the plan is the rule's answer, not a second copy of it."""
    if spec is None:
        return _NO_ROLES
    fields = event.fields
    key = (event.provider, event.event_id, tuple([name for name, _ in fields]))
    planned = _role_plans.get(key)
    if planned is None or planned[0] is not spec:
        probe = replace(event, fields=tuple((name, str(i)) for i, (name, _) in enumerate(fields)))
        a, b, c, d = (_index(_role_value(probe, spec, role)) for role in ROLES)
        plan: RolePlan = (a, b, c, d)
        if len(_role_plans) >= _MAX_PLANS:
            _role_plans.clear()
        planned = _role_plans[key] = (spec, plan)
    a, b, c, d = planned[1]
    return (
        None if a is None else fields[a][1],
        None if b is None else fields[b][1],
        None if c is None else fields[c][1],
        None if d is None else fields[d][1],
    )


def _index(probed: str | None) -> int | None:
    return None if probed is None else int(probed)


_HOST_PHRASES = (
    "destination host",
    "with host",
    "destination node",
    "to cluster node",
    "migration destination",
)
_VM_PHRASES = ("virtual machine", "migration operation for", "live migration of")
# Letters that re.IGNORECASE matches to an ASCII letter of the phrases although str.lower()
# does not turn them into it (dotless and dotted I, long S, Kelvin sign).
_ODD_CASES = "ıİſK"


class _QuotedName:
    """The quoted name after one of ``phrases`` ("... destination host 'HV02' ..."): what
    ``pattern``, their alternation followed by a quoted name, finds case-blind.

    That search tries every position of the text and runs for most records (~4 us each).
    ASCII text (nearly all) is searched in its lower-cased copy by the same pattern without
    re.IGNORECASE instead (~1 us): for ASCII, matching case-blind is matching lower-cased,
    and the copy keeps every position, so the name is cut from the text with its case.
    Other text is searched case-blind, unless its lower-casing holds none of the phrases (a
    letter that case-blind matching treats specially is always searched)."""

    def __init__(self, phrases: tuple[str, ...]) -> None:
        self.phrases = phrases  # lower case
        self._source = rf"(?:{'|'.join(phrases)})\s+['\"“‘]([^'\"”’]+)['\"”’]"
        self._in_lowered = re.compile(self._source)

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """The case-blind search, for text that is not ASCII: compiled when first needed
        (~1 ms each at every start-up, and most runs meet none)."""
        return re.compile(self._source, re.IGNORECASE)

    def find(self, text: str, lowered: str | None) -> str | None:
        """``lowered``: ``text.lower()`` when ``text`` is ASCII, else ``None``."""
        if lowered is not None:
            if not any(map(lowered.__contains__, self.phrases)):
                return None
            m = self._in_lowered.search(lowered)
            return text[m.start(1) : m.end(1)] if m else None
        # Substring tests, not a set of characters: each is one fast scan of the text.
        if not any(map(text.__contains__, _ODD_CASES)) and not any(
            map(text.lower().__contains__, self.phrases)
        ):
            return None
        m = self.pattern.search(text)
        return m.group(1) if m else None


_QUOTED_HOST = _QuotedName(_HOST_PHRASES)
_QUOTED_VM = _QuotedName(_VM_PHRASES)


def ascii_lowered(text: str) -> str | None:
    """``text.lower()`` when ``text`` is ASCII (see ``_QuotedName``), else ``None``."""
    return text.lower() if text.isascii() else None


def normalise(event: Event, catalog: Catalog) -> Event:
    """Fill the derived fields: canonical channel, VM identity, peer host, error codes and,
    when the input carried no rendered text, the message from the catalog's template."""
    spec = catalog.spec(event.provider, event.event_id)
    message = event.message
    from_input = bool(message and message.strip())
    if not from_input:
        chosen = catalog.template(event.provider, event.event_id, len(event.fields))
        if chosen is not None:
            message = render_template(chosen[0], event) + _rendered_by(chosen[1])
        elif event.fields:
            message = " ".join(v for _, v in event.fields if v)

    vm_name, resource, role_vm_id, role_peer = role_values(event, spec)
    if not vm_name and resource:
        vm_name = strip_resource_prefix(resource)
    text = message or ""
    lowered = ascii_lowered(text)
    if not vm_name:
        quoted = _QUOTED_VM.find(text, lowered)
        if quoted:
            vm_name = strip_resource_prefix(quoted)
    vm_id = canonical_vm_id(role_vm_id) or canonical_vm_id(text)

    peer = role_peer
    if not peer:
        peer = _QUOTED_HOST.find(text, lowered)
    peer_short = short_host(peer.strip().rstrip(".")) if peer and peer.strip() else None

    codes: dict[str, None] = dict.fromkeys(_codes_in(text))
    for _, value in event.fields:
        for code in _codes_in(value):
            codes.setdefault(code, None)

    # Built directly rather than with dataclasses.replace, and by position: this runs for
    # every kept record, and CPython matches 18 keywords one by one (~1.2 us).  The order is
    # Event's fields' (model.py).
    return Event(
        event.time,
        event.host,
        canonical_channel(event.channel),
        event.provider,
        event.event_id,
        event.level,
        event.record_id,
        event.fields,
        message,
        event.origin,
        vm_name.strip() if vm_name else None,  # vm_name
        vm_id,
        peer_short,  # peer_host
        tuple(codes),  # error_codes
        from_input,  # message_from_input
        event.time_assumed,
        event.process_id,
        event.thread_id,
    )


_NOT = re.compile(r"\b(is|was|does|do|did|could|can|are|were|has|have)n't\b")
_CANNOT = re.compile(r"\bcan't\b")
_WONT = re.compile(r"\bwon't\b")
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=8192)
def normalise_text(text: str) -> str:
    """Text for fragment matching: quotes unified, contractions expanded, whitespace folded.

    Cached: the same catalog phrases and signature fragments are normalised for every text
    explained and every migration diagnosed."""
    out = text
    for q in ("“", "”", "‘", "’", "„", "«", "»", "`"):
        out = out.replace(q, "'")
    out = out.replace('"', "'")
    out = _NOT.sub(r"\1 not", out)
    out = _CANNOT.sub("cannot", out)
    out = _WONT.sub("will not", out)
    return _SPACES.sub(" ", out).strip().lower()


def fragment_variants(fragment: str, catalog: Catalog) -> tuple[str, ...]:
    """A signature's fragment and its wordings in other languages (``data/phrases.yaml``),
    each normalised like the text it is looked for in; the English first."""
    english = normalise_text(fragment)
    others = (normalise_text(p.text) for p in catalog.translations(fragment))
    return tuple(dict.fromkeys((english, *others)))
