"""Rust crates: ``Cargo.lock`` files and the dependency list ``cargo auditable`` embeds in binaries.

``cargo-lock``
    Lockfile versions 1 to 4 (TOML, read with :mod:`tomllib`). Every ``[[package]]`` entry is a
    package, the workspace's own crates (entries without a ``source``) included; ``source`` and
    ``checksum`` (for version 1 from the ``[metadata]`` table) are kept in the metadata.

``cargo-auditable``
    Binaries built with ``cargo auditable`` carry a ``.dep-v0`` ELF section: zlib-compressed JSON
    with a ``packages`` list (``name``, ``version``, ``source``, ``kind``, ``root``). It is inflated
    to at most 8 MiB. Only ELF files are read (the section is found with pyelftools); which paths are
    wanted follows the same rule as Go binaries (see :func:`golang.looks_like_executable_path`).
"""

from __future__ import annotations

import re
import tomllib
import zlib
from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec

from propolis.scanner.catalogers._common import catalog_each, named_entries, problem_issues, purl_or_empty
from propolis.scanner.catalogers.golang import ExecutableCataloger, open_elf
from propolis.scanner.catalogers.interface import CatalogContext, CatalogOutput
from propolis.scanner.domain.model import CatalogIssue, Location, Package

AUDITABLE_SECTION = ".dep-v0"
#: Largest inflated ``.dep-v0`` payload accepted (real ones are a few KiB).
MAX_AUDIT_JSON = 8 * 1024 * 1024

_V1_CHECKSUM_KEY = re.compile(r"^checksum (\S+) (\S+) \((.+)\)$")
def cargo_purl(name: str, version: str) -> str:
    return purl_or_empty("cargo", name, version)


def _crate(name: str, version: str, path: str, metadata: dict[str, Any]) -> Package:
    return Package(
        name=name,
        version=version,
        ecosystem="cargo",
        purl=cargo_purl(name, version),
        locations=[Location(path=path)],
        metadata=metadata,
    )


def parse_cargo_lock(data: bytes, path: str) -> tuple[list[Package], list[str]]:
    """Packages of one Cargo.lock and the problems met (TOML errors, incomplete entries)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [], [f"Cargo.lock is not UTF-8: {exc}"]
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return [], [f"Cargo.lock is not valid TOML: {exc}"]
    entries = doc.get("package", [])
    if not isinstance(entries, list):
        return [], ["Cargo.lock 'package' is not an array of tables"]
    v1_checksums: dict[tuple[str, str], str] = {}
    meta_table = doc.get("metadata")
    if isinstance(meta_table, dict):
        for key, value in meta_table.items():
            m = _V1_CHECKSUM_KEY.match(key)
            if m and isinstance(value, str) and value != "<none>":
                v1_checksums[(m.group(1), m.group(2))] = value
    packages: list[Package] = []
    problems: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for entry, name, version in named_entries(entries, "Cargo.lock package", problems, kind="a table"):
        source = entry.get("source", "")
        source = source if isinstance(source, str) else ""
        if (name, version, source) in seen:
            continue
        seen.add((name, version, source))
        meta: dict[str, Any] = {}
        if source:
            meta["source"] = source
        checksum = entry.get("checksum") or v1_checksums.get((name, version))
        if isinstance(checksum, str):
            meta["checksum"] = checksum
        packages.append(_crate(name, version, path, meta))
    return packages, problems


def _dep_v0_section(data: bytes) -> bytes | None:
    elf, sanity = open_elf(data)
    if elf is None or not sanity.sections:
        raise ValueError("section header table is damaged or implausibly large")
    section = elf.get_section_by_name(AUDITABLE_SECTION)
    if section is None or section["sh_type"] == "SHT_NOBITS":
        return None
    offset, size = int(section["sh_offset"]), int(section["sh_size"])
    if offset + size > len(data):
        raise ValueError(f"{AUDITABLE_SECTION} section runs past the end of the file")
    return data[offset : offset + size]


def parse_auditable(compressed: bytes, path: str) -> tuple[list[Package], list[str]]:
    """Packages from a ``.dep-v0`` payload (zlib-compressed JSON)."""
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(compressed, MAX_AUDIT_JSON)
    except zlib.error as exc:
        return [], [f"{AUDITABLE_SECTION} is not zlib data: {exc}"]
    if inflater.unconsumed_tail:
        return [], [f"{AUDITABLE_SECTION} inflates to more than {MAX_AUDIT_JSON} bytes; not read"]
    try:
        doc = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        return [], [f"{AUDITABLE_SECTION} is not valid JSON: {exc}"]
    except UnicodeDecodeError as exc:
        return [], [f"{AUDITABLE_SECTION} JSON is not UTF-8: {exc}"]
    entries = doc.get("packages") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        return [], [f"{AUDITABLE_SECTION} JSON has no 'packages' list"]
    packages: list[Package] = []
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for entry, name, version in named_entries(entries, f"{AUDITABLE_SECTION} package", problems):
        if (name, version) in seen:
            continue
        seen.add((name, version))
        meta: dict[str, Any] = {}
        for key in ("source", "kind"):
            if isinstance(entry.get(key), str):
                meta[key] = entry[key]
        if entry.get("root") is True:
            meta["root"] = True
        packages.append(_crate(name, version, path, meta))
    return packages, problems


class CargoLockCataloger:
    name: ClassVar[str] = "cargo-lock"
    max_file_bytes: ClassVar[int] = 16 * 1024 * 1024

    def wants(self, path: str) -> bool:
        return path.rpartition("/")[2] == "Cargo.lock"

    def catalog(self, files: Mapping[str, bytes], ctx: CatalogContext) -> CatalogOutput:
        return catalog_each(self.name, files, parse_cargo_lock, "Cargo.lock")


class CargoAuditableCataloger(ExecutableCataloger):
    name: ClassVar[str] = "cargo-auditable"

    def keeps(self, path: str, data: bytes) -> bool:
        return data.startswith(b"\x7fELF") and AUDITABLE_SECTION.encode() in data

    def catalog(self, files: Mapping[str, bytes], ctx: CatalogContext) -> CatalogOutput:
        out = CatalogOutput()
        for path, data in files.items():
            if not self.keeps(path, data):
                continue
            try:
                section = _dep_v0_section(data)
            except Exception as exc:  # pyelftools raises many kinds of errors on damaged ELF files
                out.issues.append(
                    CatalogIssue(
                        cataloger=self.name, path=path, message=f"ELF file unreadable: {type(exc).__name__}: {exc}"
                    )
                )
                continue
            if section is None:
                continue
            try:
                packages, problems = parse_auditable(section, path)
            except Exception as exc:  # safety net
                packages, problems = [], [f"{AUDITABLE_SECTION} unreadable: {type(exc).__name__}: {exc}"]
            out.packages.extend(packages)
            out.issues.extend(problem_issues(self.name, path, problems))
        return out


CATALOGERS = [CargoLockCataloger(), CargoAuditableCataloger()]
