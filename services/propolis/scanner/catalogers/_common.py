"""Helpers shared by the catalogers: collecting and reporting a file's problems, the per-file
loops, UTF-8 and JSON decoding, purls, and the deduplicating package collector.

Modules whose name starts with ``_`` are not catalogers (see :func:`all_catalogers`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

from packageurl import PackageURL

from propolis.scanner.catalogers.interface import CatalogContext, CatalogOutput
from propolis.scanner.domain.model import CatalogIssue, OSRelease, Package

#: Problems listed per file before the rest are only counted (OS package databases).
MAX_ISSUES_PER_FILE = 20
#: At most this many problems are kept per file (a damaged file can have millions).
MAX_PROBLEMS = 20

T = TypeVar("T")


# --- problems -------------------------------------------------------------------------------------


class Problems:
    """What went wrong while reading one file: the first ``limit`` messages are kept, the rest counted.

    They are reported either as one issue per message (:meth:`issues`) or as a single issue that
    shows the kept messages in full (:meth:`issue`).
    """

    def __init__(self, limit: int = MAX_ISSUES_PER_FILE) -> None:
        self.limit = limit
        self.messages: list[str] = []
        self.extra = 0

    def add(self, message: str) -> None:
        if len(self.messages) < self.limit:
            self.messages.append(message)
        else:
            self.extra += 1

    def issues(self, cataloger: str, path: str) -> list[CatalogIssue]:
        out = [CatalogIssue(cataloger=cataloger, path=path, message=m) for m in self.messages]
        if self.extra:
            out.append(CatalogIssue(cataloger=cataloger, path=path,
                                    message=f"{self.extra} further problems in this file not listed"))
        return out

    def issue(self, cataloger: str, path: str) -> CatalogIssue | None:
        if not self.messages:
            return None
        shown = "; ".join(self.messages)
        if self.extra:
            shown += f" (and {self.extra} more)"
        return CatalogIssue(cataloger=cataloger, path=path, message=shown)


def read_each(cataloger: str, paths: Iterable[str], files: Mapping[str, bytes],
              read: Callable[[str, bytes, Problems], Iterable[T]]) -> tuple[list[T], list[CatalogIssue]]:
    """What ``read`` finds in each of ``paths``, and the problems of each file as issues (see
    :meth:`Problems.issues`); a reader that raises is reported, never passed on."""
    found: list[T] = []
    issues: list[CatalogIssue] = []
    for path in paths:
        problems = Problems(MAX_ISSUES_PER_FILE)
        try:
            found.extend(read(path, files[path], problems))
        except Exception as exc:  # defensive: report, never raise
            problems.add(f"unexpected error while reading: {type(exc).__name__}: {exc}")
        issues.extend(problems.issues(cataloger, path))
    return found, issues


def note(problems: list[str], message: str) -> None:
    """Keep ``message`` unless ``problems`` already holds :data:`MAX_PROBLEMS` of them."""
    if len(problems) < MAX_PROBLEMS:
        problems.append(message)


def catalog_each(cataloger: str, files: Mapping[str, bytes],
                 parse: Callable[[bytes, str], tuple[list[Package], list[str]]], what: str) -> CatalogOutput:
    """Packages and problems of each file on its own; a parser that raises becomes ``<what> unreadable``."""
    out = CatalogOutput()
    for path, data in files.items():
        try:
            packages, problems = parse(data, path)
        except Exception as exc:  # safety net: a cataloger never raises
            packages, problems = [], [f"{what} unreadable: {type(exc).__name__}: {exc}"]
        out.packages.extend(packages)
        out.issues.extend(problem_issues(cataloger, path, problems))
    return out


def named_entries(entries: list[Any], what: str, problems: list[str], *,
                  kind: str = "an object") -> Iterator[tuple[dict[str, Any], str, str]]:
    """(entry, name, version) of each entry that is a mapping with a non-empty string ``name`` and
    ``version``; the others are noted as ``<what> #<n> ...`` problems and skipped."""
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            note(problems, f"{what} #{index + 1} is not {kind}")
            continue
        name, version = entry.get("name"), entry.get("version")
        if not isinstance(name, str) or not name or not isinstance(version, str) or not version:
            note(problems, f"{what} #{index + 1} has no name or version")
            continue
        yield entry, name, version


def problem_issues(cataloger: str, path: str, problems: Iterable[str]) -> list[CatalogIssue]:
    """One issue per problem, at most :data:`MAX_PROBLEMS` of them."""
    return [CatalogIssue(cataloger=cataloger, path=path, message=p) for p in list(problems)[:MAX_PROBLEMS]]


# --- text -----------------------------------------------------------------------------------------


def decode_utf8(data: bytes, problems: Problems) -> str:
    """UTF-8 text (a BOM is dropped); undecodable bytes are replaced and reported."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.add(f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                     "undecodable bytes were replaced")
        return data.decode("utf-8-sig", errors="replace")


def lenient_text(data: bytes) -> str:
    """UTF-8 text with undecodable bytes replaced and a leading BOM dropped, silently."""
    text = data.decode("utf-8", errors="replace")
    return text[1:] if text.startswith("\ufeff") else text


def json_error(exc: json.JSONDecodeError) -> str:
    msg = exc.msg.removesuffix(" at").strip()
    where = f"line {exc.lineno} column {exc.colno}"
    if msg.startswith("Unterminated string"):  # the scanner reached the end inside a string
        return f"invalid JSON: the file ends inside a string that starts at {where} (truncated?)"
    if exc.pos >= len(exc.doc.rstrip()):
        return f"invalid JSON: the file ends unexpectedly at {where} (truncated?)"
    return f"invalid JSON: {msg} at {where}"


def load_json(data: bytes, problems: Problems) -> Any:
    """The JSON document in ``data``, or None (with the reason added to ``problems``)."""
    text = decode_utf8(data, problems)
    if not text.strip():
        problems.add("empty file, expected a JSON object")
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        problems.add(json_error(exc))
    except RecursionError:
        problems.add("invalid JSON: nested too deeply")
    return None


def type_name(value: object, *, mapping: str = "an object") -> str:
    """How a parsed value is named in messages (``mapping`` for a dict: an object, a table ...)."""
    return {dict: mapping, list: "an array", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


# --- packages -------------------------------------------------------------------------------------


def purl_or_empty(type_: str, name: str, version: str, namespace: str | None = None) -> str:
    """The package URL, or ``""`` when ``packageurl`` refuses the parts."""
    try:
        return PackageURL(type=type_, namespace=namespace, name=name, version=version or None).to_string()
    except ValueError:
        return ""


def distro_purl(type_: str, namespace: str, name: str, version: str, arch: str, os: OSRelease | None) -> str:
    """An OS package's purl: ``arch`` and, when the image's OS is the namespace, ``distro`` qualifiers."""
    qualifiers: dict[str, str] = {}
    if arch:
        qualifiers["arch"] = arch
    if os is not None and os.id == namespace and os.version_id:
        qualifiers["distro"] = f"{os.id}-{os.version_id}"
    return PackageURL(type=type_, namespace=namespace, name=name, version=version or None,
                      qualifiers=qualifiers).to_string()


def reachable(starts: Iterable[T], neighbours: Callable[[T], Iterable[T]]) -> set[T]:
    """Every node reachable from ``starts`` (which are included), walked without recursion."""
    seen: set[T] = set()
    stack = list(starts)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(neighbours(node))
    return seen


def merge_flags(into: dict[str, Any], other: dict[str, Any]) -> None:
    """A package listed twice is a dev/indirect/optional dependency only if it is so every time."""
    for flag in ("dev", "indirect"):
        if flag in other:
            into[flag] = bool(into.get(flag, other[flag])) and bool(other[flag])
    if into.get("optional") and not other.get("optional"):
        del into["optional"]


class Collector:
    """Packages of one file, deduplicated on the key :meth:`_check` gives (flags merged).

    Subclasses check and normalise a name and version (:meth:`_check`, reporting why an entry is
    refused) and build the package (:meth:`_package`, raising ``ValueError`` when no purl can be
    formed).
    """

    def __init__(self, path: str, problems: Problems) -> None:
        self.path = path
        self.problems = problems
        self.packages: list[Package] = []
        self._index: dict[tuple[str, str], Package] = {}

    def _check(self, name: str, version: str) -> tuple[str, str, tuple[str, str]] | None:
        """(name, version, dedup key), or None when the entry is refused."""
        raise NotImplementedError

    def _package(self, name: str, version: str, *, licenses: Iterable[str],
                 metadata: dict[str, Any] | None) -> Package:
        raise NotImplementedError

    def add(self, name: str, version: str, *, licenses: Iterable[str] = (),
            metadata: dict[str, Any] | None = None) -> Package | None:
        checked = self._check(name, version)
        if checked is None:
            return None
        name, version, key = checked
        known = self._index.get(key)
        if known is not None:
            merge_flags(known.metadata, metadata or {})
            return known
        try:
            pkg = self._package(name, version, licenses=licenses, metadata=metadata)
        except ValueError as exc:
            self.problems.add(f"{name!r} {version!r}: no purl can be formed ({exc})")
            return None
        self._index[key] = pkg
        self.packages.append(pkg)
        return pkg


class FileCataloger:
    """One file at a time; a file that breaks the parser becomes an issue, never an exception.

    A file's problems are reported as a single issue that shows the first :attr:`SHOWN` in full.
    """

    name: ClassVar[str]
    max_file_bytes: ClassVar[int]
    #: The collector type of the ecosystem (a :class:`Collector`).
    collector: ClassVar[type[Collector]]
    SHOWN: ClassVar[int] = 3

    def catalog(self, files: Mapping[str, bytes], ctx: CatalogContext) -> CatalogOutput:
        out = CatalogOutput()
        for path in sorted(files):
            problems = Problems(self.SHOWN)
            collector = self.collector(path, problems)
            try:
                self._parse(bytes(files[path]), path, collector, problems)
            except Exception as exc:  # a parser bug must not lose the whole scan
                problems.add(f"could not be parsed: {type(exc).__name__}: {exc}")
            out.packages.extend(collector.packages)
            issue = problems.issue(self.name, path)
            if issue is not None:
                out.issues.append(issue)
        return out

    def _parse(self, data: bytes, path: str, out: Any, problems: Problems) -> None:
        raise NotImplementedError
