"""Alpine (and other apk-based) packages from ``lib/apk/db/installed``.

The database is a list of package records separated by blank lines; every line is one
``<letter>:<value>`` field. The fields read here: ``P`` name, ``V`` version, ``A`` architecture,
``o`` origin (the source package), ``L`` license, ``D`` dependencies and ``p`` provides (used to
record, under ``metadata["depends"]``, the installed packages each package depends on). File
lists (``F``, ``R``, ``a``, ``Z``) and the rest are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from propolis.scanner.catalogers._common import MAX_ISSUES_PER_FILE as MAX_ISSUES_PER_FILE
from propolis.scanner.catalogers._common import Problems, distro_purl, read_each
from propolis.scanner.catalogers.interface import CatalogContext, CatalogOutput
from propolis.scanner.domain.model import Location, OSRelease, Package

INSTALLED_PATH = "lib/apk/db/installed"

#: Distributions that use apk, named by their os-release ``ID``; the purl namespace otherwise is ``alpine``.
APK_NAMESPACES = frozenset({"alpine", "wolfi", "chainguard", "postmarketos"})

#: Where a dependency or provides token's name ends: a version constraint (``=``, ``<``, ``>``, ``~``)
#: or a repository pin (``@edge``).
_CONSTRAINT = re.compile(r"[<>=~@]")


@dataclass
class _Record:
    line: int
    fields: dict[str, str] = field(default_factory=dict)
    depends: list[str] = field(default_factory=list)
    provides: list[str] = field(default_factory=list)


def _token_name(token: str) -> str:
    return _CONSTRAINT.split(token, maxsplit=1)[0]


def parse_records(text: str, problems: Problems) -> list[_Record]:
    records: list[_Record] = []
    cur: _Record | None = None
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            if cur is not None:
                records.append(cur)
            cur = None
            continue
        if len(line) < 2 or line[1] != ":":
            problems.add(f"line {lineno}: not a '<letter>:<value>' field line; ignored")
            continue
        key, value = line[0], line[2:].strip()
        if key == "P" and cur is not None and "P" in cur.fields:
            # A record that was not closed by a blank line: the new name starts the next package.
            records.append(cur)
            cur = None
        if cur is None:
            cur = _Record(line=lineno)
        if key == "D":
            cur.depends.extend(t for t in value.split() if not t.startswith("!"))
        elif key == "p":
            cur.provides.extend(value.split())
        elif key in "PVAoL" and key not in cur.fields:
            cur.fields[key] = value
    if cur is not None:
        records.append(cur)
    return records


def _valid_name(name: str) -> bool:
    """apk names never hold whitespace, ``/`` or control characters (and a purl cannot carry a ``/``)."""
    return not any(c.isspace() or c == "/" or ord(c) < 0x20 or ord(c) == 0x7F for c in name)


def _namespace(os: OSRelease | None) -> str:
    return os.id if os is not None and os.id in APK_NAMESPACES else "alpine"


class ApkCataloger:
    name: ClassVar[str] = "apk"
    max_file_bytes: ClassVar[int] = 32 * 1024 * 1024

    def wants(self, path: str) -> bool:
        return path == INSTALLED_PATH

    def catalog(self, files: Mapping[str, bytes], ctx: CatalogContext) -> CatalogOutput:
        packages, issues = read_each(self.name, sorted(files), files,
                                     lambda path, data, problems: self._catalog_file(path, data, ctx, problems))
        return CatalogOutput(packages=packages, issues=issues)

    def _catalog_file(self, path: str, data: bytes, ctx: CatalogContext, problems: Problems) -> list[Package]:
        if len(data) > self.max_file_bytes:
            problems.add(f"file is {len(data)} bytes, over the {self.max_file_bytes}-byte limit; not read")
            return []
        raw = bytes(data)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.add(f"not valid UTF-8 (first invalid byte at offset {exc.start}); undecodable bytes replaced")
            text = raw.decode("utf-8", errors="replace")
        found: list[tuple[Package, _Record]] = []
        for rec in parse_records(text, problems):
            name = rec.fields.get("P", "")
            version = rec.fields.get("V", "")
            if not name:
                problems.add(f"line {rec.line}: package record has no name (P:); skipped")
                continue
            if not version:
                problems.add(f"line {rec.line}: package {name!r} has no version (V:); skipped")
                continue
            if not _valid_name(name):
                problems.add(f"line {rec.line}: package name {name!r} contains whitespace, '/' or control "
                             "characters; skipped")
                continue
            arch = rec.fields.get("A", "")
            license_ = rec.fields.get("L", "")
            pkg = Package(
                name=name,
                version=version,
                ecosystem="apk",
                purl=distro_purl("apk", _namespace(ctx.os), name, version, arch, ctx.os),
                source_name=rec.fields.get("o", "") or name,
                source_version=version,
                licenses=[license_] if license_ else [],
                locations=[Location(path=path)],
                arch=arch,
            )
            found.append((pkg, rec))
        _resolve_depends(found)
        return [p for p, _ in found]


def _resolve_depends(found: list[tuple[Package, _Record]]) -> None:
    """Dependencies (``D``) resolved to installed package names, directly or through what
    packages provide (``p``: shared objects ``so:``, commands ``cmd:``, paths like ``/bin/sh``)."""
    installed = {p.name for p, _ in found}
    providers: dict[str, list[str]] = {}
    for pkg, rec in found:
        for token in rec.provides:
            lst = providers.setdefault(_token_name(token), [])
            if pkg.name not in lst:
                lst.append(pkg.name)
    for pkg, rec in found:
        deps: list[str] = []
        for token in rec.depends:
            want = _token_name(token)
            names = [want] if want in installed else providers.get(want, [])
            deps.extend(n for n in names if n != pkg.name and n not in deps)
        if deps:
            pkg.metadata = {**pkg.metadata, "depends": deps}


CATALOGERS = [ApkCataloger()]
