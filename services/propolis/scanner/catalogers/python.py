"""Python packages: installed distributions and the lock/requirement files of Python projects.

Installed distributions are read from their core metadata (RFC 822 headers): ``METADATA`` in a
``*.dist-info`` directory of ``site-packages``/``dist-packages``, ``PKG-INFO`` in a ``*.egg-info``
directory (or an ``.egg``'s ``EGG-INFO``) and single-file ``*.egg-info`` metadata.

Project files are read wherever they are, except inside installed package trees
(``site-packages``, ``dist-packages``, ``node_modules``), where they are shipped data and not
what is installed:

* ``requirements*.txt`` — only exact pins (``==``/``===``) are packages; ranges, URLs, paths
  and option lines (``-r``, ``-e``, ``--index-url`` ...) say nothing about the version in use;
* ``poetry.lock`` (Poetry 1.x ``category`` and 2.x ``groups``), ``Pipfile.lock`` (``default``
  and ``develop``) and ``uv.lock`` (dev and indirect dependencies derived from the project's
  own entries).

Every package gets the purl ``pkg:pypi/<PEP 503 name>@<version>``; ``Package.name`` keeps the
spelling of the file. A package listed twice in one file is reported once.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from email.parser import HeaderParser
from email.policy import compat32
from typing import Any, ClassVar

from packageurl import PackageURL
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from propolis.scanner.catalogers._common import (
    Collector,
    FileCataloger,
    Problems,
    decode_utf8,
    load_json,
    reachable,
    type_name,
)
from propolis.scanner.catalogers.interface import Cataloger
from propolis.scanner.domain.model import Location, Package

MiB = 1024 * 1024

#: Directories whose contents are installed packages, not a project's own files.
_INSTALLED_TREES = frozenset({"site-packages", "dist-packages", "node_modules"})
_SITE_DIRS = frozenset({"site-packages", "dist-packages"})
#: A distribution name (PEP 508): letters, digits, ``.``, ``_``, ``-``, starting and ending alphanumeric.
_VALID_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


# --- helpers --------------------------------------------------------------------------------------


def _type_name(value: object) -> str:
    return type_name(value, mapping="a table/object")


def _in_installed_tree(parts: list[str]) -> bool:
    return any(p in _INSTALLED_TREES for p in parts[:-1])


def _project_file(path: str, name: str) -> bool:
    """``path`` is a file called ``name`` that is not inside an installed package tree."""
    return path.rpartition("/")[2] == name and not _in_installed_tree(path.split("/"))


def _pypi_package(name: str, version: str, path: str, *, licenses: Iterable[str] = (),
                  metadata: dict[str, Any] | None = None) -> Package:
    purl = PackageURL(type="pypi", name=canonicalize_name(name), version=version or None).to_string()
    return Package(name=name, version=version, ecosystem="pypi", purl=purl, licenses=list(licenses),
                   locations=[Location(path=path)], metadata=metadata or {})


class _Collector(Collector):
    """Packages of one file, deduplicated on (normalised name, version)."""

    def _check(self, name: str, version: str) -> tuple[str, str, tuple[str, str]] | None:
        name, version = name.strip(), version.strip()
        if not name:
            self.problems.add("an entry has an empty name")
            return None
        if not _VALID_NAME.match(name):
            self.problems.add(f"{name!r} is not a valid distribution name")
            return None
        return name, version, (canonicalize_name(name), version)

    def _package(self, name: str, version: str, *, licenses: Iterable[str],
                 metadata: dict[str, Any] | None) -> Package:
        return _pypi_package(name, version, self.path, licenses=licenses, metadata=metadata)


class _FileCataloger(FileCataloger):
    collector = _Collector


# --- installed distributions ----------------------------------------------------------------------


_LICENSE_CLASSIFIER = "License ::"
#: A ``License:`` value longer than this (or spanning lines) is the licence text, not its name.
_MAX_LICENSE_NAME = 200


def _licenses(headers: Any) -> list[str]:
    """``License-Expression`` (PEP 639), else ``License``, else the ``License ::`` classifiers."""
    expression = (headers.get("License-Expression") or "").strip()
    if expression:
        return [expression]
    declared = (headers.get("License") or "").strip()
    if declared and declared.upper() != "UNKNOWN" and "\n" not in declared and len(declared) <= _MAX_LICENSE_NAME:
        return [declared]
    found: list[str] = []
    for classifier in headers.get_all("Classifier") or []:
        classifier = str(classifier).strip()
        if not classifier.startswith(_LICENSE_CLASSIFIER):
            continue
        last = classifier.split("::")[-1].strip()
        if last and last != "OSI Approved" and last not in found:
            found.append(last)
    return found


class PythonInstalledCataloger(_FileCataloger):
    """Distributions installed by pip, distro packages or setuptools (core metadata headers)."""

    name: ClassVar[str] = "python-installed"
    #: Core metadata is a few KiB; long descriptions can reach a few hundred KiB.
    max_file_bytes: ClassVar[int] = 2 * MiB

    def wants(self, path: str) -> bool:
        base = path.rpartition("/")[2]
        if base != "METADATA" and base != "PKG-INFO" and not base.endswith(".egg-info"):
            return False
        parts = path.split("/")
        if base == "METADATA":
            return len(parts) >= 3 and parts[-2].endswith(".dist-info") and parts[-3] in _SITE_DIRS
        if base == "PKG-INFO":
            return len(parts) >= 2 and (
                parts[-2].endswith(".egg-info") or (parts[-2] == "EGG-INFO" and len(parts) >= 3
                                                    and parts[-3].endswith(".egg")))
        if base.endswith(".egg-info"):
            return len(parts) >= 2 and parts[-2] in _SITE_DIRS
        return False

    def _parse(self, data: bytes, path: str, out: _Collector, problems: Problems) -> None:
        text = decode_utf8(data, problems)
        headers = HeaderParser(policy=compat32).parsestr(text)
        name = str(headers.get("Name") or "").strip()
        version = str(headers.get("Version") or "").strip()
        if not name or not version:
            missing = " and ".join(h for h, v in (("Name", name), ("Version", version)) if not v)
            problems.add(f"core metadata has no {missing} header")
            return
        metadata: dict[str, Any] = {}
        meta_version = str(headers.get("Metadata-Version") or "").strip()
        if meta_version:
            metadata["metadata_version"] = meta_version
        out.add(name, version, licenses=_licenses(headers), metadata=metadata)


# --- requirements files ---------------------------------------------------------------------------


# Both look at one whitespace character only: ``\s+`` before a literal backtracks over every long
# run of blanks, which made a requirements file of spaces take quadratic time.
_COMMENT = re.compile(r"(?:^|(?<=\s))#.*$")
_OPTION_AFTER_REQUIREMENT = re.compile(r"\s--?[A-Za-z]")
_PINNING_OPERATORS = ("==", "===")


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Lines joined at trailing backslashes (as pip does), with the number of the first one."""
    pending: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if line.endswith("\\") and not line.lstrip().startswith("#"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        yield start, " ".join(pending)
        pending = []
    if pending:
        yield start, " ".join(pending)


def _is_path_or_url(line: str) -> bool:
    head = line.split(";", 1)[0].strip()
    return head.startswith((".", "/", "~", "\\")) or "://" in head.split(" @ ", 1)[0] or head.startswith(
        ("git+", "hg+", "svn+", "bzr+")) or head.endswith((".whl", ".zip", ".tar.gz", ".tgz"))


class RequirementsCataloger(_FileCataloger):
    """Exact pins in pip requirements files (``requirements*.txt``)."""

    name: ClassVar[str] = "python-requirements"
    max_file_bytes: ClassVar[int] = 8 * MiB

    def wants(self, path: str) -> bool:
        base = path.rpartition("/")[2]
        return base.startswith("requirements") and base.endswith(".txt") and not _in_installed_tree(path.split("/"))

    def _parse(self, data: bytes, path: str, out: _Collector, problems: Problems) -> None:
        text = decode_utf8(data, problems)
        for number, raw in _logical_lines(text):
            line = _COMMENT.sub("", raw).strip()
            if not line or line.startswith("-"):
                continue  # blank, or an option line: -r/-c/-e, --index-url, --hash ...
            option = _OPTION_AFTER_REQUIREMENT.search(line)
            if option:
                line = line[:option.start()].strip()
            if not line or _is_path_or_url(line):
                continue
            try:
                req = Requirement(line)
            except InvalidRequirement as exc:
                problems.add(f"line {number}: not a requirement ({_first_line(str(exc))})")
                continue
            specs = list(req.specifier)
            if len(specs) != 1 or specs[0].operator not in _PINNING_OPERATORS or specs[0].version.endswith("*"):
                continue  # not pinned: the installed version is unknown
            if req.url:
                continue
            metadata: dict[str, Any] = {}
            if req.marker is not None:
                metadata["markers"] = str(req.marker)
            if req.extras:
                metadata["extras"] = sorted(req.extras)
            out.add(req.name, specs[0].version, metadata=metadata)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


# --- poetry.lock ----------------------------------------------------------------------------------


def _load_toml(data: bytes, problems: Problems) -> dict[str, Any] | None:
    text = decode_utf8(data, problems)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problems.add(f"invalid TOML: {exc}")
    except RecursionError:
        problems.add("invalid TOML: nested too deeply")
    return None


def _package_tables(doc: dict[str, Any], problems: Problems) -> list[tuple[int, dict[str, Any]]]:
    """The ``[[package]]`` array of a TOML lock file, each table with its position."""
    tables = doc.get("package", [])
    if not isinstance(tables, list):
        problems.add(f"'package' is {_type_name(tables)}, expected an array of tables")
        return []
    found = []
    for i, table in enumerate(tables):
        if not isinstance(table, dict):
            problems.add(f"package[{i}] is {_type_name(table)}, expected a table")
            continue
        found.append((i, table))
    return found


def _name_version(table: dict[str, Any], where: str, problems: Problems,
                  *, version_required: bool = True) -> tuple[str, str] | None:
    name, version = table.get("name"), table.get("version", "")
    if not isinstance(name, str) or not name.strip():
        problems.add(f"{where} has no name")
        return None
    if not isinstance(version, str) or (version_required and not version.strip()):
        problems.add(f"{where} ({name}) has no version")
        return None
    return name, version


class PoetryLockCataloger(_FileCataloger):
    """``poetry.lock``: every locked package; dev/optional membership kept in metadata."""

    name: ClassVar[str] = "python-poetry"
    max_file_bytes: ClassVar[int] = 32 * MiB

    def wants(self, path: str) -> bool:
        return _project_file(path, "poetry.lock")

    def _parse(self, data: bytes, path: str, out: _Collector, problems: Problems) -> None:
        doc = _load_toml(data, problems)
        if doc is None:
            return
        for i, table in _package_tables(doc, problems):
            nv = _name_version(table, f"package[{i}]", problems)
            if nv is None:
                continue
            metadata: dict[str, Any] = {}
            category = table.get("category")
            groups = table.get("groups")
            if isinstance(category, str):  # Poetry 1.x
                metadata["category"] = category
                metadata["dev"] = category == "dev"
            if isinstance(groups, list) and all(isinstance(g, str) for g in groups):  # Poetry 2.x
                metadata["groups"] = list(groups)
                metadata["dev"] = bool(groups) and "main" not in groups
            if table.get("optional") is True:
                metadata["optional"] = True
            out.add(*nv, metadata=metadata)


# --- Pipfile.lock ---------------------------------------------------------------------------------


def _pinned_version(spec: str) -> str:
    for op in ("===", "=="):
        if spec.startswith(op):
            return spec[len(op):].strip()
    return ""


class PipfileLockCataloger(_FileCataloger):
    """``Pipfile.lock``: the ``default`` and ``develop`` (dev) sections."""

    name: ClassVar[str] = "python-pipenv"
    max_file_bytes: ClassVar[int] = 32 * MiB

    def wants(self, path: str) -> bool:
        return _project_file(path, "Pipfile.lock")

    def _parse(self, data: bytes, path: str, out: _Collector, problems: Problems) -> None:
        doc = load_json(data, problems)
        if doc is None:
            return
        if not isinstance(doc, dict):
            problems.add(f"top level is {_type_name(doc)}, expected a JSON object")
            return
        for section, dev in (("default", False), ("develop", True)):
            entries = doc.get(section, {})
            if not isinstance(entries, dict):
                problems.add(f"'{section}' is {_type_name(entries)}, expected an object")
                continue
            for name, entry in entries.items():
                if not isinstance(entry, dict):
                    problems.add(f"{section}.{name} is {_type_name(entry)}, expected an object")
                    continue
                spec = entry.get("version")
                if spec is None:
                    continue  # a VCS, path or editable dependency: no released version
                if not isinstance(spec, str) or not _pinned_version(spec):
                    problems.add(f"{section}.{name}: version {spec!r} is not an exact '==' pin")
                    continue
                out.add(name, _pinned_version(spec), metadata={"dev": dev})


# --- uv.lock --------------------------------------------------------------------------------------


def _uv_refs(value: Any) -> list[tuple[str, str]]:
    """``[{name = "x", version = "1.0"?, ...}, ...]`` → [(normalised name, version or "")]."""
    refs: list[tuple[str, str]] = []
    if not isinstance(value, list):
        return refs
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            version = item.get("version")
            refs.append((canonicalize_name(item["name"]), version if isinstance(version, str) else ""))
    return refs


def _uv_group_refs(value: Any) -> list[tuple[str, str]]:
    """``{group = [refs...], ...}`` (optional-dependencies, dev-dependencies) → all refs."""
    refs: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for group in value.values():
            refs.extend(_uv_refs(group))
    return refs


class UvLockCataloger(_FileCataloger):
    """``uv.lock``: every locked package, the project's own entries marked as such.

    A package reached from a project only through its ``dev-dependencies`` is ``dev``; one that
    no project entry depends on directly is ``indirect``.
    """

    name: ClassVar[str] = "python-uv"
    max_file_bytes: ClassVar[int] = 32 * MiB

    def wants(self, path: str) -> bool:
        return _project_file(path, "uv.lock")

    def _parse(self, data: bytes, path: str, out: _Collector, problems: Problems) -> None:
        doc = _load_toml(data, problems)
        if doc is None:
            return
        nodes: list[tuple[str, str, dict[str, Any], bool]] = []  # name, version, table, is project
        for i, table in _package_tables(doc, problems):
            source = table.get("source")
            is_project = isinstance(source, dict) and ("virtual" in source or "editable" in source)
            nv = _name_version(table, f"package[{i}]", problems, version_required=not is_project)
            if nv is None:
                continue
            if not nv[1]:
                continue  # a project entry without a static version
            nodes.append((nv[0], nv[1], table, is_project))

        by_name: dict[str, list[int]] = {}
        for idx, (name, _, _, _) in enumerate(nodes):
            by_name.setdefault(canonicalize_name(name), []).append(idx)

        def resolve(refs: list[tuple[str, str]]) -> list[int]:
            found: list[int] = []
            for name, version in refs:
                candidates = by_name.get(name, [])
                found.extend(c for c in candidates if not version or nodes[c][1] == version)
            return found

        def dependencies(idx: int) -> list[int]:
            table = nodes[idx][2]
            return resolve(_uv_refs(table.get("dependencies")) + _uv_group_refs(table.get("optional-dependencies")))

        projects = [i for i, node in enumerate(nodes) if node[3]]
        prod_direct: list[int] = []
        dev_direct: list[int] = []
        for p in projects:
            prod_direct += dependencies(p)
            dev_direct += resolve(_uv_group_refs(nodes[p][2].get("dev-dependencies")))
        prod = reachable(prod_direct + projects, dependencies)
        dev = reachable(dev_direct, dependencies)
        direct = set(prod_direct) | set(dev_direct)

        for idx, (name, version, table, is_project) in enumerate(nodes):
            metadata: dict[str, Any] = {}
            source = table.get("source")
            if isinstance(source, dict) and source:
                metadata["source"] = next(iter(source))
            if is_project:
                metadata["project"] = True
            elif projects:
                metadata["dev"] = idx in dev and idx not in prod
                metadata["indirect"] = idx not in direct
            out.add(name, version, metadata=metadata)


CATALOGERS: list[Cataloger] = [
    PythonInstalledCataloger(),
    RequirementsCataloger(),
    PoetryLockCataloger(),
    PipfileLockCataloger(),
    UvLockCataloger(),
]
