"""Debian and Ubuntu packages from the dpkg database.

``var/lib/dpkg/status`` holds one RFC 822-style stanza per package; distroless images have no
status file but one file per package (or a few) in ``var/lib/dpkg/status.d/``, next to
``<name>.md5sums`` files that are not stanzas. Only installed packages count: in ``status`` the
third word of ``Status:`` must say so; in ``status.d`` a stanza without ``Status:`` is installed.

The status file carries no license. Each package records the installed packages it depends on
(``Depends`` and ``Pre-Depends``, virtual packages resolved through ``Provides``) under
``metadata["depends"]``.
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

STATUS_PATH = "var/lib/dpkg/status"
STATUS_DIR = "var/lib/dpkg/status.d/"

#: dpkg states in which a package's files are on disk and configured (triggers may be pending).
INSTALLED_STATES = frozenset({"installed", "triggers-pending", "triggers-awaited"})
#: Distributions whose purl namespace is their own ``ID``; anything else is named ``debian``.
DEB_NAMESPACES = frozenset({"debian", "ubuntu"})

_SOURCE = re.compile(r"^\s*(\S+)(?:\s*\(\s*([^)]*?)\s*\))?\s*$")
#: A field name is printable ASCII without spaces or colons (deb822(5)).
_FIELD = re.compile(r"^([\x21-\x39\x3b-\x7e]+)[ \t]*:(.*)$")
_RESTRICTIONS = re.compile(r"\([^)]*\)|\[[^\]]*\]|<[^>]*>")


@dataclass
class Stanza:
    line: int
    #: Field name (lower case) → value; continuation lines joined with newlines.
    fields: dict[str, str] = field(default_factory=dict)


def decode(data: bytes, problems: Problems) -> str:
    """UTF-8 text; invalid bytes are replaced and reported once with the first offending offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.add(f"not valid UTF-8 (first invalid byte at offset {exc.start}); undecodable bytes replaced")
        return data.decode("utf-8", errors="replace")


def parse_stanzas(text: str, problems: Problems) -> list[Stanza]:
    """Stanzas separated by blank lines; ``Field: value`` lines with indented continuations."""
    stanzas: list[Stanza] = []
    cur: Stanza | None = None
    last: str | None = None
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            if cur is not None:
                stanzas.append(cur)
            cur, last = None, None
            continue
        if line[0] in " \t":
            if cur is None or last is None:
                problems.add(f"line {lineno}: continuation line outside any field; ignored")
                continue
            cur.fields[last] += "\n" + line.strip()
            continue
        m = _FIELD.match(line)
        if not m:
            problems.add(f"line {lineno}: not a 'Field: value' line; ignored")
            continue
        if cur is None:
            cur = Stanza(line=lineno)
        name = m.group(1).lower()
        if name in cur.fields:
            problems.add(f"line {lineno}: field {m.group(1)!r} repeated in the stanza starting at line {cur.line}; "
                         "the first value is kept")
            last = None
            continue
        cur.fields[name] = m.group(2).strip()
        last = name
    if cur is not None:
        stanzas.append(cur)
    return stanzas


def _valid_name(name: str) -> bool:
    """No package manager allows whitespace, ``/`` or control characters in a name (and a purl
    cannot carry a ``/`` in one)."""
    return bool(name) and not any(c.isspace() or c == "/" or ord(c) < 0x20 or ord(c) == 0x7F for c in name)


def relation_names(value: str) -> list[list[str]]:
    """``a (>= 1) | b:any, c [amd64]`` → ``[["a", "b"], ["c"]]``: package names only."""
    groups: list[list[str]] = []
    for group in value.replace("\n", " ").split(","):
        alts: list[str] = []
        for alt in _RESTRICTIONS.sub(" ", group).split("|"):
            words = alt.split()
            if words:
                name = words[0].split(":", 1)[0]
                if name:
                    alts.append(name)
        if alts:
            groups.append(alts)
    return groups


def _namespace(os: OSRelease | None) -> str:
    if os is not None and os.id in DEB_NAMESPACES:
        return os.id
    if os is not None:
        for like in os.id_like:
            if like in DEB_NAMESPACES:
                return like
    return "debian"



@dataclass
class _Found:
    package: Package
    depends: list[list[str]]
    provides: list[str]


class DpkgCataloger:
    name: ClassVar[str] = "dpkg"
    max_file_bytes: ClassVar[int] = 32 * 1024 * 1024

    def wants(self, path: str) -> bool:
        if path == STATUS_PATH:
            return True
        if path.startswith(STATUS_DIR):
            rest = path[len(STATUS_DIR):]
            return bool(rest) and "/" not in rest and not rest.endswith(".md5sums") and not rest.startswith(".")
        return False

    def catalog(self, files: Mapping[str, bytes], ctx: CatalogContext) -> CatalogOutput:
        found, issues = read_each(self.name, sorted(files), files,
                                  lambda path, data, problems: self._catalog_file(path, data, ctx, problems))
        _resolve_depends(found)
        return CatalogOutput(packages=[f.package for f in found], issues=issues)

    def _catalog_file(self, path: str, data: bytes, ctx: CatalogContext, problems: Problems) -> list[_Found]:
        if len(data) > self.max_file_bytes:
            problems.add(f"file is {len(data)} bytes, over the {self.max_file_bytes}-byte limit; not read")
            return []
        in_status_d = path != STATUS_PATH
        text = decode(bytes(data), problems)
        result: list[_Found] = []
        for st in parse_stanzas(text, problems):
            f = st.fields
            name = f.get("package", "").strip()
            if not name:
                what = "an empty Package field" if "package" in f else "no Package field"
                problems.add(f"line {st.line}: stanza has {what}; skipped")
                continue
            if not _valid_name(name):
                problems.add(f"line {st.line}: package name {name!r} contains whitespace, '/' or control "
                             "characters; skipped")
                continue
            status = f.get("status")
            if status is None:
                if not in_status_d:
                    problems.add(f"line {st.line}: package {name!r} has no Status field; skipped")
                    continue
            else:
                words = status.split()
                if len(words) != 3:
                    problems.add(f"line {st.line}: package {name!r} has a malformed Status {status!r} "
                                 "(expected 'want flag state'); skipped")
                    continue
                if words[2] not in INSTALLED_STATES:
                    continue
            version = f.get("version", "").strip()
            if not version:
                problems.add(f"line {st.line}: package {name!r} has no Version field")
            arch = f.get("architecture", "").strip()
            source_name, source_version = name, version
            if "source" in f:
                m = _SOURCE.match(f["source"])
                if m:
                    source_name = m.group(1)
                    source_version = m.group(2) or version
                else:
                    problems.add(f"line {st.line}: package {name!r} has a malformed Source {f['source']!r}; "
                                 "the package name is used")
            pkg = Package(
                name=name,
                version=version,
                ecosystem="deb",
                purl=distro_purl("deb", _namespace(ctx.os), name, version, arch, ctx.os),
                source_name=source_name,
                source_version=source_version,
                locations=[Location(path=path)],
                arch=arch,
            )
            depends = relation_names(f.get("pre-depends", "")) + relation_names(f.get("depends", ""))
            provides = [alts[0] for alts in relation_names(f.get("provides", ""))]
            result.append(_Found(pkg, depends, provides))
        return result


def _resolve_depends(found: list[_Found]) -> None:
    """For each package, the installed packages that satisfy its dependencies (first alternative
    that some installed package satisfies, directly or through ``Provides``)."""
    providers: dict[str, list[str]] = {}
    for f in found:
        providers.setdefault(f.package.name, [])
    installed = set(providers)
    for f in found:
        for virtual in f.provides:
            if virtual not in installed:
                lst = providers.setdefault(virtual, [])
                if f.package.name not in lst:
                    lst.append(f.package.name)
    for f in found:
        deps: list[str] = []
        for alts in f.depends:
            for alt in alts:
                names = [alt] if alt in installed else providers.get(alt, [])
                if names:
                    deps.extend(n for n in names if n != f.package.name and n not in deps)
                    break
        if deps:
            f.package.metadata = {**f.package.metadata, "depends": deps}


CATALOGERS = [DpkgCataloger()]
