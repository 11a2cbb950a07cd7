"""Read signature files: YAML with line numbers and no duplicate keys, checked against the
published JSON Schema, every problem collected as ``file:line: message`` before failing once.

Loading is on every run's critical path, so a loaded library is kept compiled (pickled) in
the user's cache, keyed by a hash of the signature files and of the code that builds them:
an unchanged library costs one small read.  The shipped library is never checked against
the schema at run time (the test suite and ``migdiag signatures validate`` do that); a
user's ``--signatures`` folder is checked once per content and then served from the cache.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migdiag import compiled
from migdiag.catalog import KEPT_IDS, Catalog, default_catalog, safe_loader
from migdiag.diagnose.signature import Signature, build_signature
from migdiag.errors import SignatureError

if TYPE_CHECKING:
    import yaml  # imported where YAML is read: a cached library never reads any

PathKey = tuple[str | int, ...]


@cache
def schema() -> dict[str, Any]:
    """The published signature schema (docs/signature.schema.json is a copy of it)."""
    text = (Path(__file__).resolve().parent / "signature.schema.json").read_text("utf-8")
    data = json.loads(text)
    assert isinstance(data, dict)
    return data


def schema_text() -> str:
    return json.dumps(schema(), indent=2) + "\n"


@dataclass(frozen=True, slots=True)
class Library:
    """Every loaded signature, ordered by id."""

    signatures: tuple[Signature, ...]

    def get(self, signature_id: str) -> Signature | None:
        for sig in self.signatures:
            if sig.id == signature_id:
                return sig
        return None

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.signatures)


class _Located:
    """YAML node tree -> plain values, with the line of every value and key (1-based)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: dict[PathKey, int] = {}
        self.key_lines: dict[PathKey, int] = {}
        self.problems: list[str] = []
        import yaml

        self._scalar = yaml.SafeLoader("")

    def value(self, node: yaml.Node, path: PathKey) -> Any:
        import yaml

        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self._scalar.construct_object(key_node)
                key = str(key)
                if key in out:
                    first = self.key_lines[(*path, key)]
                    self.problems.append(
                        f"{self.name}:{key_node.start_mark.line + 1}: duplicate key {key!r} "
                        f"(first at line {first})"
                    )
                else:
                    self.key_lines[(*path, key)] = key_node.start_mark.line + 1
                out[key] = self.value(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar.construct_object(node)

    def line(self, path: Iterable[str | int]) -> int:
        key = tuple(path)
        while key:
            if key in self.key_lines:
                return self.key_lines[key]
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), 1)


def _schema_problems(data: Any, doc: _Located) -> list[tuple[int, str]]:
    from jsonschema import Draft202012Validator  # ~0.2 s to import: only when validating

    found: list[tuple[int, str]] = []
    validator = Draft202012Validator(schema())
    for error in validator.iter_errors(data):
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = set(error.schema.get("properties", {}))
            for key in sorted(set(error.instance) - allowed):
                where = ".".join(str(p) for p in (*path, key))
                found.append((doc.line((*path, key)), f"unknown key {where!r}"))
            continue
        where = ".".join(str(p) for p in path) or "(top level)"
        message = error.message
        if error.validator == "enum":
            message = (
                f"{error.instance!r} is not one of {', '.join(map(str, error.validator_value))}"
            )
        found.append((doc.line(path), f"{where}: {message}"))
    return found


def _semantic_problems(
    data: Mapping[str, Any], stem: str, doc: _Located, catalog: Catalog
) -> list[tuple[int, str]]:
    """What the schema cannot say: id == file stem, names used in sequence/within exist,
    providers are known."""
    found: list[tuple[int, str]] = []
    if data.get("id") != stem:
        found.append(
            (doc.line(("id",)), f"id {data.get('id')!r} must equal the file name {stem!r}")
        )
    names = {c.get("name") for c in data.get("require") or () if isinstance(c, dict)}
    for i, seq in enumerate(data.get("sequence") or ()):
        for j, name in enumerate(seq if isinstance(seq, list) else ()):
            if name not in names:
                found.append(
                    (doc.line(("sequence", i, j)), f"sequence names unknown clause {name!r}")
                )
    for i, w in enumerate(data.get("within") or ()):
        for key in ("from", "to"):
            if isinstance(w, dict) and w.get(key) not in names:
                found.append(
                    (
                        doc.line(("within", i, key)),
                        f"within.{key} names unknown clause {w.get(key)!r}",
                    )
                )
    found += _text_problems(data, doc)
    known = {k.lower() for k in catalog.providers} | {v.lower() for v in catalog.providers.values()}
    for path, provider in _providers(data, ()):
        if provider.lower() not in known and not provider.lower().startswith("microsoft-windows-"):
            found.append(
                (
                    doc.line(path),
                    f"unknown provider {provider!r} (use a catalog key or a full name)",
                )
            )
    found += _unread_ids(data, doc, catalog)
    return found


def _unread_ids(data: Any, doc: _Located, catalog: Catalog) -> list[tuple[int, str]]:
    """Ids of a busy provider that the readers never decode (``catalog.KEPT_IDS``): a clause
    naming one could never match."""
    found: list[tuple[int, str]] = []
    for path, clause in _clauses(data, ()):
        provider = str(clause.get("provider", ""))
        name = catalog.providers.get(provider, provider)
        ids = clause.get("id")
        for event_id in ids if isinstance(ids, list) else [ids]:
            if isinstance(event_id, int) and not catalog.keeps_id(name, event_id):
                kept = ", ".join(str(i) for i in sorted(KEPT_IDS[name.lower()]))
                found.append(
                    (
                        doc.line((*path, "id")),
                        f"{name} {event_id} is never read: only its ids {kept} are kept "
                        "(catalog.KEPT_IDS)",
                    )
                )
    return found


def _clauses(value: Any, path: PathKey) -> Iterable[tuple[PathKey, Mapping[str, Any]]]:
    """Every mapping that names a provider, with its path."""
    if isinstance(value, dict):
        if isinstance(value.get("provider"), str):
            yield path, value
        for key, item in value.items():
            yield from _clauses(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _clauses(item, (*path, i))


def _text_problems(data: Mapping[str, Any], doc: _Located) -> list[tuple[int, str]]:
    """Pasted text is weaker evidence than the event chain: its cap must stay below the
    signature's confidence, each alternative under the cap, and an empty rule must say why."""
    text = data.get("text")
    if not isinstance(text, dict):
        return []
    found: list[tuple[int, str]] = []
    cap = text.get("confidence")
    full = data.get("confidence")
    numbers = (int, float)
    if isinstance(cap, numbers) and isinstance(full, numbers) and cap >= full:
        found.append(
            (
                doc.line(("text", "confidence")),
                f"text.confidence {cap} must be below the signature's confidence {full}",
            )
        )
    for i, alt in enumerate(text.get("one_of") or ()):
        if not isinstance(alt, dict):
            continue
        conf = alt.get("confidence")
        if isinstance(conf, numbers) and isinstance(cap, numbers) and conf > cap:
            found.append(
                (
                    doc.line(("text", "one_of", i, "confidence")),
                    f"text.one_of.{i}.confidence {conf} is above the cap text.confidence {cap}",
                )
            )
        if alt.get("alone") and not (alt.get("codes") or alt.get("codes_any")):
            found.append(
                (doc.line(("text", "one_of", i, "alone")), f"text.one_of.{i}: alone needs codes")
            )
    if not text.get("one_of") and not text.get("note"):
        found.append(
            (doc.line(("text",)), "text: without one_of, say in note why text cannot show it")
        )
    return found


def _providers(value: Any, path: PathKey) -> Iterable[tuple[PathKey, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "provider" and isinstance(item, str):
                yield (*path, key), item
            else:
                yield from _providers(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _providers(item, (*path, i))


def read_located(path: Path) -> tuple[_Located | None, Any, list[str]]:
    """A YAML file as plain values with the line of every key and value: (document, data, [])
    or (None, None, [the located problem]) when it cannot be read or parsed.  Duplicate keys
    are collected in ``document.problems``.  Signatures and the configuration rules share it."""
    import yaml

    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=safe_loader())  # libyaml when built in: every run loads
    except (OSError, UnicodeDecodeError) as exc:
        return None, None, [f"{name}:1: cannot read: {exc}"]
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        return None, None, [f"{name}:{line}: invalid YAML: {exc.problem}"]
    if node is None:
        return None, None, [f"{name}:1: empty file"]
    doc = _Located(name)
    return doc, doc.value(node, ()), []


def load_file(
    path: Path, catalog: Catalog | None = None, validate: bool = True
) -> tuple[Signature | None, list[str]]:
    """One signature file -> (signature, []) or (None, problems).

    ``validate=False`` (the shipped library, validated by the test suite) skips the schema
    and the semantic checks; YAML errors and duplicate keys are still found."""
    name = str(path)
    doc, data, unreadable = read_located(path)
    if doc is None:
        return None, unreadable
    located = [(doc.line(()), "a signature is a mapping")] if not isinstance(data, dict) else []
    if not located and validate:
        located = _schema_problems(data, doc)
        located += _semantic_problems(data, path.stem, doc, catalog or default_catalog())
    problems = doc.problems + [f"{name}:{line}: {msg}" for line, msg in sorted(located)]
    if problems:
        return None, problems
    return build_signature(data, path), []


def signature_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if p.is_file())


def load_dirs(
    dirs: Sequence[Path], catalog: Catalog | None = None, trusted: Path | None = None
) -> tuple[Library, list[str]]:
    """Load every ``*.yaml`` of each directory; ids must be unique across all of them.

    ``trusted``: a directory whose files are not schema-checked (the shipped library)."""
    problems: list[str] = []
    found: dict[str, Signature] = {}
    for directory in dirs:
        if not directory.is_dir():
            problems.append(f"{directory}:1: not a directory")
            continue
        files = signature_files(directory)
        if not files and directory != trusted:
            problems.append(f"{directory}:1: no signature files (*.yaml) in this folder")
        for path in files:
            sig, errors = load_file(path, catalog, validate=directory != trusted)
            problems.extend(errors)
            if sig is None:
                continue
            if sig.id in found:
                problems.append(
                    f"{path}:1: duplicate signature id {sig.id!r} (also {found[sig.id].path})"
                )
                continue
            found[sig.id] = sig
    return Library(tuple(found[k] for k in sorted(found))), problems


def builtin_dir() -> Path:
    """The shipped library: inside the installed package, else the source checkout's."""
    # Beside the package's modules (not importlib.resources: ~10 ms to import, every run).
    packaged = Path(__file__).resolve().parents[1] / "signatures"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "signatures"


def load_library(extra_dirs: Sequence[Path] = ()) -> Library:
    """The built-in library plus the user's folders; raises SignatureError with every problem.

    Served from the compiled cache (``migdiag.compiled``) when the files and the code are
    unchanged."""
    builtin = builtin_dir()
    dirs = [builtin, *extra_dirs]
    key = _library_key(dirs)
    cached = compiled.load(_KIND, key, Library) if key else None
    if isinstance(cached, Library):
        return cached
    library, problems = load_dirs(dirs, trusted=builtin)
    if problems:
        raise SignatureError(problems)
    if key:
        compiled.store(_KIND, key, library)
    return library


_KIND = "signatures"
# The modules whose classes a pickled library holds: a change to them invalidates the cache
# even when the version number does not move (an editable install, a development tree).
_BUILDERS = ("signature.py", "loader.py", "../model.py", "../catalog.py", "../data/catalog.yaml")
ENV_CACHE_DIR = compiled.ENV_CACHE_DIR


def _library_key(dirs: Sequence[Path]) -> str | None:
    """A hash of every signature file (name and bytes) and the building code: None when a
    folder cannot be listed (then the loader reports it)."""
    here = Path(__file__).resolve().parent
    parts: list[bytes] = []
    try:
        for name in _BUILDERS:
            parts.append((here / name).read_bytes())
        for directory in dirs:
            parts.append(b"dir\0" + str(directory.resolve()).encode())
            for path in signature_files(directory):
                parts += [path.name.encode(), path.read_bytes()]
    except OSError:
        return None
    return compiled.key(parts)


def validate_dir(path: Path) -> list[str]:
    """Every problem in a folder of signatures; [] when all are valid."""
    return load_dirs([path])[1]
