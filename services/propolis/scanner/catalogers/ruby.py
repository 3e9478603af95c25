"""Ruby gems: Bundler lock files and the specifications RubyGems writes for installed gems.

``gemfile-lock``
    ``Gemfile.lock`` / ``gems.locked``: the ``specs:`` of the ``GEM``, ``GIT`` and ``PATH`` sections
    (entries indented by four spaces, ``name (version)``; a platform suffix such as
    ``-x86_64-linux`` is split off into the metadata, and a gem locked for several platforms is one
    package). Other sections (``PLUGIN SOURCE``, ``PLATFORMS`` …) name no installed gems; the gems
    listed under ``DEPENDENCIES`` are marked ``direct``.

``gemspec``
    Installed specifications (``…/specifications/*.gemspec`` and ``…/specifications/default/*.gemspec``).
    They are Ruby source, so they are never executed: ``name``, ``version`` and ``license(s)`` are read
    with regular expressions, ``#{name}``/``#{version}`` interpolations are resolved from the fields
    already read, and the ``# stub:`` header line (or the file name) fills in what the body lacks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from propolis.scanner.catalogers._common import catalog_each, lenient_text, note, purl_or_empty
from propolis.scanner.catalogers.interface import CatalogContext, CatalogOutput
from propolis.scanner.domain.model import Location, Package

_SOURCE_KIND = {"GEM": "rubygems", "GIT": "git", "PATH": "path"}
_SPEC_SECTIONS = frozenset(_SOURCE_KIND)
#: ``    name (version[-platform])`` — Bundler never puts ``-`` in the version part.
_SPEC_LINE = re.compile(r"^ {4}(?! )(\S+) \(([^-()\s]+)(?:-([^()\s]+))?\)$")
_DEP_LINE = re.compile(r"^ {2}(?! )([^\s!(]+)")
def gem_purl(name: str, version: str) -> str:
    return purl_or_empty("gem", name, version)


def _gem(name: str, version: str, path: str, metadata: dict[str, Any], licenses: list[str] | None = None) -> Package:
    return Package(
        name=name,
        version=version,
        ecosystem="gem",
        purl=gem_purl(name, version),
        licenses=licenses or [],
        locations=[Location(path=path)],
        metadata=metadata,
    )


def parse_gemfile_lock(text: str, path: str) -> tuple[list[Package], list[str]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    direct: set[str] = set()
    problems: list[str] = []
    section = ""
    in_specs = False
    remote = ""
    saw_section = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if not line.startswith(" "):
            section = line.strip()
            in_specs = False
            remote = ""
            saw_section = saw_section or section in _SPEC_SECTIONS or section == "DEPENDENCIES"
            continue
        if section == "DEPENDENCIES":
            m = _DEP_LINE.match(line)
            if m:
                direct.add(m.group(1))
            continue
        if section not in _SPEC_SECTIONS:
            continue
        if line.startswith("  ") and not line.startswith("   "):
            key, _, value = line.strip().partition(":")
            in_specs = key == "specs"
            if key == "remote":
                remote = value.strip()
            continue
        if not in_specs or line.startswith("      "):
            continue  # a dependency of the spec above, or options of the source
        m = _SPEC_LINE.match(line)
        if not m:
            note(problems, f"Gemfile.lock line {lineno}: expected '    name (version)' in {section} specs")
            continue
        name, version, platform = m.groups()
        meta = found.setdefault((name, version), {"source": _SOURCE_KIND[section]})
        if remote and "remote" not in meta:
            meta["remote"] = remote
        if platform:
            meta.setdefault("platforms", [])
            if platform not in meta["platforms"]:
                meta["platforms"].append(platform)
    if not saw_section and text.strip():
        note(problems, "not a Gemfile.lock: no GEM, GIT, PATH or DEPENDENCIES section")
    packages = []
    for (name, version), meta in found.items():
        if name in direct:
            meta["direct"] = True
        packages.append(_gem(name, version, path, meta))
    return packages, problems


# ---------------------------------------------------------------------------------------------
# Installed specifications

_STR = r"""(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')"""
_NAME = re.compile(r"^[ \t]*\w+\.name[ \t]*=[ \t]*" + _STR, re.M)
_VERSION = re.compile(r"^[ \t]*\w+\.version[ \t]*=[ \t]*(?:Gem::Version\.new\([ \t]*)?" + _STR, re.M)
_LICENSES = re.compile(r"^[ \t]*\w+\.licenses?[ \t]*=[ \t]*(\[[^\]\n]*\]|" + _STR + r")", re.M)
_STRINGS = re.compile(_STR)
_STUB = re.compile(r"^# stub: (\S+) (\S+)", re.M)
_FILE_NAME = re.compile(r"^(.+)-(\d[^-]*)(?:-[^-]+)?\.gemspec$")
_INTERPOLATION = re.compile(r"#\{\s*\w+\.(name|version)\s*\}")


def _str_value(m: re.Match[str], first_group: int = 1) -> str:
    value = m.group(first_group)
    return value if value is not None else m.group(first_group + 1)


def parse_gemspec(text: str, path: str) -> tuple[list[Package], list[str]]:
    fields: dict[str, str] = {}
    if m := _NAME.search(text):
        fields["name"] = _str_value(m)
    if m := _VERSION.search(text):
        fields["version"] = _str_value(m)
    if ("name" not in fields or "version" not in fields) and (stub := _STUB.search(text)):
        fields.setdefault("name", stub.group(1))
        fields.setdefault("version", stub.group(2))
    if "name" not in fields or "version" not in fields:
        fm = _FILE_NAME.match(path.rpartition("/")[2])
        if fm:
            fields.setdefault("name", fm.group(1))
            fields.setdefault("version", fm.group(2))

    def resolve(value: str) -> str:
        return _INTERPOLATION.sub(lambda mm: fields.get(mm.group(1), mm.group(0)), value)

    name, version = resolve(fields.get("name", "")), resolve(fields.get("version", ""))
    if not name or not version:
        return [], ["gemspec has no readable name and version"]
    if "#{" in name or "#{" in version:
        return [], [f"gemspec name or version uses Ruby interpolation that cannot be resolved: {name} {version}"]
    licenses: list[str] = []
    for lm in _LICENSES.finditer(text):
        for sm in _STRINGS.finditer(lm.group(1)):
            value = resolve(_str_value(sm))
            if value and value not in licenses:
                licenses.append(value)
    return [_gem(name, version, path, {}, licenses)], []


def _is_installed_spec(path: str) -> bool:
    if not path.endswith(".gemspec"):
        return False
    parts = path.split("/")
    if len(parts) >= 2 and parts[-2] == "specifications":
        return True
    return len(parts) >= 3 and parts[-2] == "default" and parts[-3] == "specifications"


class GemfileLockCataloger:
    name: ClassVar[str] = "gemfile-lock"
    max_file_bytes: ClassVar[int] = 8 * 1024 * 1024

    def wants(self, path: str) -> bool:
        return path.rpartition("/")[2] in ("Gemfile.lock", "gems.locked")

    def catalog(self, files: Mapping[str, bytes], ctx: CatalogContext) -> CatalogOutput:
        return catalog_each(self.name, files, lambda data, path: parse_gemfile_lock(lenient_text(data), path),
                            "Gemfile.lock")


class GemspecCataloger:
    name: ClassVar[str] = "gemspec"
    max_file_bytes: ClassVar[int] = 1024 * 1024

    def wants(self, path: str) -> bool:
        return _is_installed_spec(path)

    def catalog(self, files: Mapping[str, bytes], ctx: CatalogContext) -> CatalogOutput:
        return catalog_each(self.name, files, lambda data, path: parse_gemspec(lenient_text(data), path), "gemspec")


CATALOGERS = [GemfileLockCataloger(), GemspecCataloger()]
