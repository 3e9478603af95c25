"""Java (Maven) artifacts: JAR/WAR/EAR archives and ``pom.xml`` files.

``java-archive``
    ``*.jar``, ``*.war``, ``*.ear`` (and Jenkins' ``*.jpi``/``*.hpi``) are read as zip files from
    memory. Every ``META-INF/maven/<groupId>/<artifactId>/pom.properties`` is a package (a shaded
    jar carries several). An archive without any is described by its ``META-INF/MANIFEST.MF``
    (``Implementation-Title``/``Implementation-Version``, else ``Bundle-SymbolicName``/
    ``Bundle-Version``; ``Implementation-Vendor-Id`` as the group) or, failing that, by a file name
    of the form ``<artifact>-<version>.jar``. Archives inside archives (``WEB-INF/lib/*.jar``,
    ``BOOT-INF/lib/*.jar``, an EAR's modules …) are read the same way, at most three levels deep;
    their location is ``outer.war!/WEB-INF/lib/inner.jar``.

    Zip bombs and oversized archives are bounded: an archive whose central directory is larger
    than 16 MiB or declares more than 250,000 entries is not opened; every entry is inflated
    through a capped reader (metadata files at most 1 MiB, a nested archive at most 64 MiB), and
    all inflation for one file in the image stops at 512 MiB. Whatever was read before a limit
    was hit is still returned, together with an issue naming the limit.

``pom.xml``
    The project itself and its ``<dependencies>`` whose version is literal or resolves through
    ``${…}`` properties (``<properties>``, ``project.version``, ``project.groupId``, the parent's
    version …) or the POM's own ``<dependencyManagement>``. ``test`` and ``provided`` scope
    dependencies are left out (they are not shipped in the application); a version range or a
    version that only a parent POM could supply is skipped. A POM with a ``<!DOCTYPE`` or
    ``<!ENTITY`` declaration is refused before parsing (entity expansion attacks), and the text is
    decoded by Propolis and parsed as a ``str``, so no declared encoding can smuggle one past that
    check.
"""

from __future__ import annotations

import codecs
import io
import re
import struct
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from packageurl import PackageURL

from propolis.scanner.catalogers.interface import CatalogContext, CatalogOutput
from propolis.scanner.domain.model import CatalogIssue, Location, Package

ARCHIVE_SUFFIXES = (".jar", ".war", ".ear", ".jpi", ".hpi")
MAX_NESTING = 3
MAX_TOTAL_INFLATED = 512 * 1024 * 1024
MAX_NESTED_ARCHIVE = 64 * 1024 * 1024
MAX_METADATA_FILE = 1024 * 1024
MAX_CENTRAL_DIRECTORY = 16 * 1024 * 1024
MAX_ENTRIES = 250_000
MAX_POM_BYTES = 8 * 1024 * 1024
#: At most this many problems are kept per file in the image.
MAX_PROBLEMS = 50

_POM_PROPERTIES = re.compile(r"^META-INF/maven/([^/]+)/([^/]+)/pom\.properties$")
_FILE_VERSION = re.compile(r"^(?P<name>[A-Za-z0-9_.]+(?:-[A-Za-z][A-Za-z0-9_.]*)*)-(?P<version>\d[A-Za-z0-9_.+\-]*)$")
_PROPERTY_REF = re.compile(r"\$\{([^}]+)\}")
_SKIPPED_SCOPES = frozenset({"test", "provided"})


def maven_purl(group: str, artifact: str, version: str) -> str:
    try:
        return PackageURL(type="maven", namespace=group or None, name=artifact, version=version or None).to_string()
    except ValueError:
        return ""


def _maven_package(
    group: str,
    artifact: str,
    version: str,
    path: str,
    metadata: dict[str, Any],
    licenses: list[str] | None = None,
) -> Package:
    return Package(
        name=f"{group}:{artifact}" if group else artifact,
        version=version,
        ecosystem="maven",
        purl=maven_purl(group, artifact, version),
        licenses=licenses or [],
        locations=[Location(path=path)],
        metadata=metadata,
    )


# ---------------------------------------------------------------------------------------------
# Archives


class _LimitReached(Exception):
    pass


@dataclass
class _Budget:
    remaining: int
    exhausted: bool = False


@dataclass
class _ArchiveResult:
    packages: list[Package] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (location, message)

    def add(self, problem: tuple[str, str]) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)


def central_directory_size(data: bytes) -> tuple[int, int] | None:
    """(declared entry count, central directory size) from the end-of-central-directory record."""
    pos = data.rfind(b"PK\x05\x06", max(0, len(data) - 65557))
    if pos < 0 or pos + 22 > len(data):
        return None
    fields = struct.unpack("<4s4H2LH", data[pos : pos + 22])
    entries, cd_size, cd_offset = fields[4], fields[5], fields[6]
    if entries == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        loc = pos - 20
        if loc >= 0 and data[loc : loc + 4] == b"PK\x06\x07":
            z64 = struct.unpack("<4sLQL", data[loc : loc + 20])[2]
            if 0 <= z64 and z64 + 56 <= len(data) and data[z64 : z64 + 4] == b"PK\x06\x06":
                rec = struct.unpack("<4sQ2H2L4Q", data[z64 : z64 + 56])
                entries, cd_size = rec[7], rec[8]
    return int(entries), int(cd_size)


def _read_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, budget: _Budget) -> bytes:
    """An entry's bytes, inflating no more than ``limit`` (and the file's remaining budget)."""
    if info.file_size > limit:
        raise _LimitReached(f"{info.filename} declares {info.file_size} bytes, more than the {limit}-byte limit")
    cap = min(limit, budget.remaining)
    with zf.open(info) as fh:
        data = fh.read(cap + 1)
    if len(data) > cap:
        if cap < limit:
            budget.exhausted = True
            raise _LimitReached(f"inflating {info.filename} would pass the {MAX_TOTAL_INFLATED}-byte total limit")
        raise _LimitReached(f"{info.filename} inflates to more than {limit} bytes")
    budget.remaining -= len(data)
    return data


def parse_properties(text: str) -> dict[str, str]:
    """A Java ``.properties`` file (enough of the format for pom.properties)."""
    props: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        m = re.match(r"([^=:\s]+)\s*[=:\s]\s*(.*)$", line)
        if m:
            props[m.group(1)] = m.group(2).strip()
    return props


def parse_manifest(text: str) -> dict[str, str]:
    """The main section of a JAR manifest; keys lower-cased, continuation lines joined."""
    attrs: dict[str, str] = {}
    last = ""
    for raw in text.splitlines():
        if not raw.strip():
            break  # the main section ends at the first blank line
        if raw.startswith(" ") and last:
            attrs[last] += raw[1:]
            continue
        key, sep, value = raw.partition(":")
        if sep:
            last = key.strip().lower()
            attrs[last] = value.strip()
    return attrs


def _from_manifest(attrs: dict[str, str], file_name: str) -> tuple[str, str, str, str] | None:
    """(group, artifact, version, origin) for an archive without pom.properties."""
    stem = file_name.rsplit(".", 1)[0]
    fm = _FILE_VERSION.match(stem) if len(stem) <= 256 else None
    title = attrs.get("implementation-title", "")
    symbolic = attrs.get("bundle-symbolicname", "").split(";", 1)[0].strip()
    version = attrs.get("implementation-version", "") or attrs.get("bundle-version", "")
    name = title if title and attrs.get("implementation-version") else (symbolic or title)
    if name and version:
        return attrs.get("implementation-vendor-id", ""), name, version, "manifest"
    if fm:
        return attrs.get("implementation-vendor-id", ""), fm.group("name"), fm.group("version"), "file-name"
    return None


def _scan_archive(data: bytes, location: str, depth: int, budget: _Budget, result: _ArchiveResult) -> None:
    counts = central_directory_size(data)
    if counts is None:
        result.add((location, "not a zip archive: no end-of-central-directory record"))
        return
    entries, cd_size = counts
    if cd_size > MAX_CENTRAL_DIRECTORY or entries > MAX_ENTRIES:
        result.add((location, f"zip archive too large to index: {entries} entries, {cd_size}-byte central directory"))
        return
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:  # zipfile raises several kinds on damaged archives
        result.add((location, f"not a readable zip archive: {exc}"))
        return
    with zf:
        infos = zf.infolist()
        poms: list[tuple[zipfile.ZipInfo, re.Match[str]]] = []
        manifest: zipfile.ZipInfo | None = None
        nested: list[zipfile.ZipInfo] = []
        for info in infos:
            if info.is_dir():
                continue
            name = info.filename
            if pom_match := _POM_PROPERTIES.match(name):
                poms.append((info, pom_match))
            elif name.upper() == "META-INF/MANIFEST.MF":
                manifest = info
            elif name.lower().endswith(ARCHIVE_SUFFIXES):
                nested.append(info)
        seen: set[tuple[str, str, str]] = set()
        for info, m in poms:
            try:
                props = parse_properties(
                    _read_capped(zf, info, MAX_METADATA_FILE, budget).decode("utf-8", errors="replace")
                )
            except _LimitReached as exc:
                result.add((location, str(exc)))
                continue
            except Exception as exc:  # damaged entry, encryption, unknown compression …
                result.add((location, f"{info.filename} unreadable: {exc}"))
                continue
            group = props.get("groupId") or m.group(1)
            artifact = props.get("artifactId") or m.group(2)
            version = props.get("version", "")
            if not version:
                result.add((location, f"{info.filename} has no version"))
                continue
            if (group, artifact, version) in seen:
                continue
            seen.add((group, artifact, version))
            result.packages.append(_maven_package(group, artifact, version, location, {"from": "pom.properties"}))
        if not poms:
            attrs: dict[str, str] = {}
            if manifest is not None:
                try:
                    attrs = parse_manifest(
                        _read_capped(zf, manifest, MAX_METADATA_FILE, budget).decode("utf-8", errors="replace")
                    )
                except _LimitReached as exc:
                    result.add((location, str(exc)))
                except Exception as exc:  # damaged entry, encryption, unknown compression …
                    result.add((location, f"{manifest.filename} unreadable: {exc}"))
            found = _from_manifest(attrs, location.rpartition("/")[2])
            if found is not None:
                group, artifact, version, origin = found
                result.packages.append(_maven_package(group, artifact, version, location, {"from": origin}))
        for info in nested:
            inner = f"{location}!/{info.filename}"
            if depth >= MAX_NESTING:
                result.add((inner, f"archive nested more than {MAX_NESTING} levels deep; not read"))
                continue
            if budget.exhausted:
                result.add((location, f"{MAX_TOTAL_INFLATED}-byte inflation limit reached; rest not read"))
                return
            try:
                inner_data = _read_capped(zf, info, MAX_NESTED_ARCHIVE, budget)
            except _LimitReached as exc:
                result.add((location, str(exc)))
                continue
            except Exception as exc:  # damaged entry, encryption, unknown compression …
                result.add((location, f"{info.filename} unreadable: {exc}"))
                continue
            _scan_archive(inner_data, inner, depth + 1, budget, result)
            del inner_data


def scan_archive(data: bytes, path: str) -> _ArchiveResult:
    result = _ArchiveResult()
    _scan_archive(data, path, 0, _Budget(remaining=MAX_TOTAL_INFLATED), result)
    return result


# ---------------------------------------------------------------------------------------------
# pom.xml


class PomError(ValueError):
    pass


def decode_xml(data: bytes) -> str:
    """XML bytes → text, by BOM, else by the encoding the XML declaration names (default UTF-8)."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return _decode(data[len(bom) :], encoding)
    if data.startswith(b"<\x00?\x00"):
        return _decode(data, "utf-16-le")
    if data.startswith(b"\x00<\x00?"):
        return _decode(data, "utf-16-be")
    encoding = "utf-8"
    m = re.match(rb"""<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._\-]+)["']""", data[:200])
    if m:
        encoding = m.group(1).decode("ascii")
    return _decode(data, encoding)


def _decode(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except LookupError as exc:
        raise PomError(f"pom.xml names an unknown encoding {encoding!r}") from exc
    except UnicodeDecodeError as exc:
        raise PomError(f"pom.xml is not valid {encoding}: {exc}") from exc


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(elem: ET.Element | None, name: str) -> ET.Element | None:
    if elem is None:
        return None
    for c in elem:
        if _local(c.tag) == name:
            return c
    return None


def _children(elem: ET.Element | None, name: str) -> list[ET.Element]:
    return [c for c in elem if _local(c.tag) == name] if elem is not None else []


def _text(elem: ET.Element | None, name: str) -> str:
    c = _child(elem, name)
    return (c.text or "").strip() if c is not None else ""


def parse_pom(data: bytes, path: str) -> list[Package]:
    """Packages named by a pom.xml; raises :class:`PomError` when it cannot be read."""
    if len(data) > MAX_POM_BYTES:
        raise PomError(f"pom.xml is larger than {MAX_POM_BYTES} bytes; not read")
    text = decode_xml(data)
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise PomError("pom.xml has a DOCTYPE or ENTITY declaration; refused")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise PomError(f"pom.xml is not well-formed XML: {exc}") from exc
    if _local(root.tag) != "project":
        raise PomError(f"not a Maven POM: the root element is <{_local(root.tag)}>, not <project>")
    parent = _child(root, "parent")
    group = _text(root, "groupId") or _text(parent, "groupId")
    artifact = _text(root, "artifactId")
    version = _text(root, "version") or _text(parent, "version")

    props: dict[str, str] = {}
    for p in list(_child(root, "properties") or []):
        if _local(p.tag):
            props[_local(p.tag)] = (p.text or "").strip()
    for prefix in ("project.", "pom.", ""):
        props.setdefault(prefix + "groupId", group)
        props.setdefault(prefix + "artifactId", artifact)
        props.setdefault(prefix + "version", version)
    for prefix in ("project.parent.", "parent."):
        props.setdefault(prefix + "groupId", _text(parent, "groupId"))
        props.setdefault(prefix + "artifactId", _text(parent, "artifactId"))
        props.setdefault(prefix + "version", _text(parent, "version"))

    def resolve(value: str) -> str:
        for _ in range(10):
            if "${" not in value:
                break
            new = _PROPERTY_REF.sub(lambda m: props.get(m.group(1), m.group(0)), value)
            if new == value:
                break
            value = new[: 64 * 1024]
        return value

    def usable(v: str) -> bool:
        return bool(v) and "${" not in v and not v.startswith(("[", "("))

    packages: list[Package] = []
    group, artifact, version = resolve(group), resolve(artifact), resolve(version)
    if artifact and usable(version):
        licenses = [_text(lic, "name") for lic in _children(_child(root, "licenses"), "license") if _text(lic, "name")]
        packages.append(_maven_package(group, artifact, version, path, {"main": True}, licenses))

    managed: dict[tuple[str, str], str] = {}
    for dep in _children(_child(_child(root, "dependencyManagement"), "dependencies"), "dependency"):
        managed[(resolve(_text(dep, "groupId")), resolve(_text(dep, "artifactId")))] = resolve(_text(dep, "version"))
    seen: set[tuple[str, str, str]] = set()
    for dep in _children(_child(root, "dependencies"), "dependency"):
        g, a = resolve(_text(dep, "groupId")), resolve(_text(dep, "artifactId"))
        scope = resolve(_text(dep, "scope")) or "compile"
        if not a or scope in _SKIPPED_SCOPES:
            continue
        v = resolve(_text(dep, "version")) or managed.get((g, a), "")
        if not usable(v) or (g, a, v) in seen:
            continue
        seen.add((g, a, v))
        meta: dict[str, Any] = {"scope": scope}
        if _text(dep, "optional") == "true":
            meta["optional"] = True
        packages.append(_maven_package(g, a, v, path, meta))
    return packages


class JavaCataloger:
    name: ClassVar[str] = "java-archive"
    max_file_bytes: ClassVar[int] = 256 * 1024 * 1024

    def wants(self, path: str) -> bool:
        base = path.rpartition("/")[2]
        return base == "pom.xml" or base.lower().endswith(ARCHIVE_SUFFIXES)

    def catalog(self, files: Mapping[str, bytes], ctx: CatalogContext) -> CatalogOutput:
        out = CatalogOutput()
        for path, data in files.items():
            if path.rpartition("/")[2] == "pom.xml":
                try:
                    out.packages.extend(parse_pom(data, path))
                except PomError as exc:
                    out.issues.append(CatalogIssue(cataloger=self.name, path=path, message=str(exc)))
                except Exception as exc:  # safety net: a cataloger never raises
                    out.issues.append(
                        CatalogIssue(
                            cataloger=self.name, path=path, message=f"pom.xml unreadable: {type(exc).__name__}"
                        )
                    )
                continue
            try:
                result = scan_archive(data, path)
            except Exception as exc:  # safety net
                out.issues.append(
                    CatalogIssue(
                        cataloger=self.name, path=path, message=f"archive unreadable: {type(exc).__name__}: {exc}"
                    )
                )
                continue
            out.packages.extend(result.packages)
            for location, message in result.problems[:50]:
                where = "" if location == path else f"{location}: "
                out.issues.append(CatalogIssue(cataloger=self.name, path=path, message=f"{where}{message}"))
        return out


CATALOGERS = [JavaCataloger()]
