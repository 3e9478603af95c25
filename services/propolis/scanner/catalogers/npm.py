"""JavaScript packages: installed ``node_modules`` trees and npm, yarn and pnpm lock files.

* Installed packages: ``package.json`` directly inside a package folder of a ``node_modules``
  tree (``node_modules/<name>``, ``node_modules/@scope/<name>``, nested ``node_modules`` and
  pnpm's ``node_modules/.pnpm/<entry>/node_modules/...`` store). Other ``package.json`` files in
  those trees (a package's own sub-folders, test fixtures) are not packages; neither is one
  without a name or a version.
* ``package-lock.json`` / ``npm-shrinkwrap.json``: lockfile v1 (the nested ``dependencies``
  tree) and v2/v3 (the flat ``packages`` map keyed by ``node_modules/...`` paths; ``link``
  entries resolved to their target folder).
* ``yarn.lock``: the yarn 1 format and yarn 2+ ("berry") YAML.
* ``pnpm-lock.yaml``: lockfile 5.x (``/name/1.0.0_peer``), 6.x (``/name@1.0.0(peer@1)``) and
  9.x (``name@1.0.0`` with a separate ``snapshots`` graph).

Lock files inside ``node_modules`` are shipped with a package and do not describe the image,
so they are not read. ``dev``, ``optional`` and ``indirect`` are kept in the metadata where the
format tells them (pnpm 9 and uv-style graphs are walked from the project's own dependencies).
The purl is ``pkg:npm/<namespace>/<name>@<version>`` with the ``@scope`` as namespace. A
package listed twice in one file (same name and version) is reported once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, ClassVar

import yaml
from packageurl import PackageURL

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

_LOCK_NAMES = frozenset({"package-lock.json", "npm-shrinkwrap.json"})
_YARN_NAMES = frozenset({"yarn.lock"})
_PNPM_NAMES = frozenset({"pnpm-lock.yaml"})
_DEP_KINDS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")

try:
    _YamlLoader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _YamlLoader = yaml.SafeLoader


# --- helpers --------------------------------------------------------------------------------------


def _load_yaml(text: str, problems: Problems) -> Any:
    """The YAML document, or None (with the reason) when it does not parse or aliases blow it up.

    Anchors and aliases share one node many times (pnpm and yarn never write them): a small file whose
    importers all alias one large dependency map would be walked importers × dependencies times. A
    document that expands to more values than the text has characters is refused.
    """
    doc = _parse_yaml(text, problems)
    budget = len(text) + 1024
    stack, count = [doc], 0
    while stack:
        node = stack.pop()
        children = list(node.values()) if isinstance(node, dict) else node if isinstance(node, list) else ()
        count += len(children)
        if count > budget:
            problems.add(f"YAML aliases expand the document past {budget} values; not read")
            return None
        stack.extend(children)
    return doc


def _parse_yaml(text: str, problems: Problems) -> Any:
    try:
        return yaml.load(text, Loader=_YamlLoader)  # a safe loader (CSafeLoader when libyaml is present)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problems.add(f"invalid YAML: {exc.problem or exc.context or 'syntax error'}{where}")
    except yaml.YAMLError as exc:
        problems.add(f"invalid YAML: {exc}")
    except RecursionError:
        problems.add("invalid YAML: nested too deeply")
    return None


def split_name(full: str) -> tuple[str, str]:
    """``@scope/name`` → (``@scope``, ``name``); ``name`` → ("", ``name``)."""
    if full.startswith("@") and "/" in full:
        scope, _, name = full.partition("/")
        return scope, name
    return "", full


def _valid_name(name: str) -> bool:
    if not name or name != name.strip() or any(c in name for c in "\n\r\t "):
        return False
    scope, bare = split_name(name)
    if name.startswith("@"):
        return len(scope) > 1 and bool(bare) and "/" not in bare
    return "/" not in bare


def npm_purl(name: str, version: str) -> str:
    scope, bare = split_name(name)
    return PackageURL(type="npm", namespace=scope or None, name=bare, version=version or None).to_string()


class _Collector(Collector):
    """Packages of one file, deduplicated on (name, version)."""

    def _check(self, name: str, version: str) -> tuple[str, str, tuple[str, str]] | None:
        version = version.strip()
        if not _valid_name(name):
            self.problems.add(f"{name!r} is not a valid package name")
            return None
        return name, version, (name, version)

    def _package(self, name: str, version: str, *, licenses: Iterable[str],
                 metadata: dict[str, Any] | None) -> Package:
        return Package(name=name, version=version, ecosystem="npm", purl=npm_purl(name, version),
                       licenses=list(licenses), locations=[Location(path=self.path)],
                       metadata=dict(metadata or {}))


class _FileCataloger(FileCataloger):
    collector = _Collector


def _project_file(path: str, names: frozenset[str]) -> bool:
    """``path`` is a file with one of ``names`` that is not inside a ``node_modules`` tree."""
    return path.rpartition("/")[2] in names and "node_modules" not in path.split("/")[:-1]


def _plain_version(version: str) -> bool:
    """A registry version, not a URL, path or other locator (``file:``, ``https://``, ``github:``)."""
    return bool(version) and ":" not in version and "/" not in version and not version.startswith(".")


# --- installed packages ---------------------------------------------------------------------------


def _is_package_manifest(parts: list[str]) -> bool:
    """``.../node_modules/(@scope/)?name(/node_modules/(@scope/)?name)*/package.json``.

    pnpm's store (``node_modules/.pnpm/<entry>/node_modules/...``) is walked through as well.
    """
    if len(parts) < 3 or parts[-1] != "package.json":
        return False
    try:
        i = parts.index("node_modules")
    except ValueError:
        return False
    last = len(parts) - 1  # index of package.json
    while True:
        # parts[i] == "node_modules"
        i += 1
        if i >= last:
            return False
        seg = parts[i]
        if seg == ".pnpm":
            # .pnpm/<entry>/node_modules/...
            if i + 2 >= last or parts[i + 2] != "node_modules":
                return False
            i += 2
            continue
        if not seg or seg.startswith("."):
            return False
        if seg.startswith("@"):
            i += 1
            if i >= last or not parts[i] or parts[i].startswith("."):
                return False
        i += 1
        if i == last:
            return True
        if parts[i] != "node_modules":
            return False


def package_json_licenses(manifest: dict[str, Any]) -> list[str]:
    """``license`` (a string or a legacy ``{type}`` object), else the legacy ``licenses`` list."""
    found: list[str] = []

    def add(value: Any) -> None:
        if isinstance(value, dict):
            value = value.get("type") or value.get("name")
        if isinstance(value, str) and value.strip() and value.strip() not in found:
            found.append(value.strip())

    lic = manifest.get("license")
    if isinstance(lic, list):
        for item in lic:
            add(item)
    else:
        add(lic)
    if not found:
        legacy = manifest.get("licenses")
        for item in legacy if isinstance(legacy, list) else [legacy]:
            add(item)
    return found


class NpmInstalledCataloger(_FileCataloger):
    """Packages installed in ``node_modules`` trees (each one's ``package.json``)."""

    name: ClassVar[str] = "npm-installed"
    #: Old npm versions copied the README into the installed package.json; still well under this.
    max_file_bytes: ClassVar[int] = 2 * MiB

    def wants(self, path: str) -> bool:
        return path.endswith("/package.json") and _is_package_manifest(path.split("/"))

    def _parse(self, data: bytes, path: str, out: _Collector, problems: Problems) -> None:
        manifest = load_json(data, problems)
        if manifest is None:
            return
        if not isinstance(manifest, dict):
            problems.add(f"top level is {type_name(manifest)}, expected a JSON object")
            return
        name, version = manifest.get("name"), manifest.get("version")
        if not isinstance(name, str) or not isinstance(version, str) or not name.strip() or not version.strip():
            return  # a folder marker or stub (e.g. {"type": "module"}), not a package
        metadata: dict[str, Any] = {}
        if manifest.get("private") is True:
            metadata["private"] = True
        out.add(name.strip(), version.strip(), licenses=package_json_licenses(manifest), metadata=metadata)


# --- package-lock.json ----------------------------------------------------------------------------


def _flags(entry: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"dev": entry.get("dev") is True}
    if entry.get("optional") is True:
        metadata["optional"] = True
    if entry.get("devOptional") is True:
        metadata["dev_optional"] = True
    if entry.get("inBundle") is True or entry.get("bundled") is True:
        metadata["bundled"] = True
    return metadata


def _name_from_lock_key(key: str) -> str:
    """``node_modules/a/node_modules/@s/b`` → ``@s/b``; "" when the key is not a node_modules path."""
    marker = "node_modules/"
    at = key.rfind(marker)
    if at < 0 or (at > 0 and key[at - 1] != "/"):
        return ""
    return key[at + len(marker):]


class NpmLockCataloger(_FileCataloger):
    """``package-lock.json`` and ``npm-shrinkwrap.json`` (lockfile v1, v2 and v3)."""

    name: ClassVar[str] = "npm-lock"
    max_file_bytes: ClassVar[int] = 32 * MiB

    def wants(self, path: str) -> bool:
        return _project_file(path, _LOCK_NAMES)

    def _parse(self, data: bytes, path: str, out: _Collector, problems: Problems) -> None:
        doc = load_json(data, problems)
        if doc is None:
            return
        if not isinstance(doc, dict):
            problems.add(f"top level is {type_name(doc)}, expected a JSON object")
            return
        packages = doc.get("packages")
        if packages is not None:
            if isinstance(packages, dict):
                self._packages_map(packages, out, problems)
                return
            problems.add(f"'packages' is {type_name(packages)}, expected an object")
        deps = doc.get("dependencies")
        if deps is None:
            return
        if not isinstance(deps, dict):
            problems.add(f"'dependencies' is {type_name(deps)}, expected an object")
            return
        self._dependencies_tree(deps, out, problems)

    def _packages_map(self, packages: dict[str, Any], out: _Collector, problems: Problems) -> None:
        """Lockfile v2/v3: ``{"": root, "node_modules/x": {...}, "packages/ws": {...}}``."""
        root = packages.get("")
        direct: set[str] | None = None  # the root project's own dependencies, when it lists them
        if isinstance(root, dict):
            direct = set()
            for kind in _DEP_KINDS:
                deps = root.get(kind)
                if isinstance(deps, dict):
                    direct.update(str(k) for k in deps)
        for key, entry in packages.items():
            if key == "":
                continue
            if not isinstance(entry, dict):
                problems.add(f"packages[{key!r}] is {type_name(entry)}, expected an object")
                continue
            name = _name_from_lock_key(key)
            if not name:
                continue  # a workspace folder: its packages are reached through their links
            metadata = _flags(entry)
            target: Any = entry
            if entry.get("link") is True:
                resolved = entry.get("resolved")
                target = packages.get(resolved) if isinstance(resolved, str) else None
                if not isinstance(target, dict):
                    continue  # a link to a folder outside the lock file: nothing to version
                metadata["link"] = True
                metadata["resolved"] = resolved
            if isinstance(entry.get("name"), str) and entry["name"].strip():
                name = entry["name"].strip()  # an alias: the real package name
            version = target.get("version")
            if not isinstance(version, str) or not version.strip():
                problems.add(f"packages[{key!r}] has no version")
                continue
            if direct is not None:
                installed_as = _name_from_lock_key(key)
                metadata["indirect"] = not (key == f"node_modules/{installed_as}" and installed_as in direct)
            out.add(name, version.strip(), licenses=package_json_licenses(target), metadata=metadata)

    def _dependencies_tree(self, deps: dict[str, Any], out: _Collector, problems: Problems) -> None:
        """Lockfile v1: ``dependencies`` nested by ``dependencies`` (iteratively, any depth)."""
        stack: list[tuple[str, dict[str, Any]]] = [("dependencies", deps)]
        while stack:
            where, level = stack.pop()
            for name, entry in level.items():
                if not isinstance(entry, dict):
                    problems.add(f"{where}[{name!r}] is {type_name(entry)}, expected an object")
                    continue
                version = entry.get("version")
                if not isinstance(version, str) or not version.strip():
                    problems.add(f"{where}[{name!r}] has no version")
                else:
                    metadata = _flags(entry)
                    version = version.strip()
                    if version.startswith("npm:") and "@" in version[5:]:  # an alias: npm:real@1.0.0
                        real, _, version = version[4:].rpartition("@")
                        name = real
                    if not _plain_version(version):
                        metadata["resolved"] = version
                        version = ""
                    out.add(name, version, metadata=metadata)
                nested = entry.get("dependencies")
                if isinstance(nested, dict):
                    stack.append((f"{where}[{name!r}].dependencies", nested))


# --- yarn.lock ------------------------------------------------------------------------------------


_BERRY = re.compile(r"^__metadata:", re.MULTILINE)
_LOCAL_PROTOCOLS = ("workspace:",)


def _descriptor_name(descriptor: str) -> tuple[str, str]:
    """``@scope/name@range`` → (``@scope/name``, ``range``); aliases ``a@npm:b@1`` → (``b``, ``1``)."""
    at = descriptor.find("@", 1)
    if at < 0:
        return descriptor, ""
    name, spec = descriptor[:at], descriptor[at + 1:]
    if spec.startswith("npm:"):
        inner = spec[4:]
        inner_at = inner.find("@", 1)
        if inner_at > 0:
            return inner[:inner_at], inner[inner_at + 1:]
    return name, spec


def _split_descriptors(header: str) -> list[str]:
    """``"a@^1", a@^1.2, "b@>= 1 < 2"`` → the descriptors, unquoted."""
    out: list[str] = []
    buf: list[str] = []
    quote = False
    i = 0
    while i < len(header):
        c = header[i]
        if c == '"':
            quote = not quote
        elif c == "\\" and quote and i + 1 < len(header):
            buf.append(header[i + 1])
            i += 1
        elif c == "," and not quote:
            out.append("".join(buf).strip())
            buf = []
        else:
            buf.append(c)
        i += 1
    out.append("".join(buf).strip())
    return [d for d in out if d]


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            decoded = json.loads(value)
            return decoded if isinstance(decoded, str) else value[1:-1]
        except ValueError:
            return value[1:-1]
    return value


class YarnLockCataloger(_FileCataloger):
    """``yarn.lock``: yarn 1 (its own format) and yarn 2+ (YAML)."""

    name: ClassVar[str] = "yarn-lock"
    max_file_bytes: ClassVar[int] = 32 * MiB

    def wants(self, path: str) -> bool:
        return _project_file(path, _YARN_NAMES)

    def _parse(self, data: bytes, path: str, out: _Collector, problems: Problems) -> None:
        text = decode_utf8(data, problems)
        if _BERRY.search(text):
            self._berry(text, out, problems)
        else:
            self._classic(text, out, problems)

    def _classic(self, text: str, out: _Collector, problems: Problems) -> None:
        """Entries: an unindented ``desc, desc:`` header, then two-space indented fields."""
        name = ""
        version: str | None = None
        header_line = 0

        def finish() -> None:
            if not name:
                return
            if version is None or not version:
                problems.add(f"line {header_line}: entry {name!r} has no version")
            else:
                out.add(name, version)

        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if not line[0].isspace():
                finish()
                name, version, header_line = "", None, number
                if not stripped.endswith(":"):
                    problems.add(f"line {number}: expected an entry header ending in ':'")
                    continue
                descriptors = _split_descriptors(stripped[:-1])
                if not descriptors:
                    problems.add(f"line {number}: entry header lists no package")
                    continue
                name, _ = _descriptor_name(descriptors[0])
                if not _valid_name(name):
                    problems.add(f"line {number}: {descriptors[0]!r} does not name a package")
                    name = ""
                continue
            if not name:
                continue  # fields of an entry already reported
            indent = len(line) - len(line.lstrip(" "))
            if indent == 2 and (stripped.startswith("version ") or stripped.startswith("version:")):
                version = _unquote(stripped[len("version"):].lstrip(":").strip())
        finish()

    def _berry(self, text: str, out: _Collector, problems: Problems) -> None:
        doc = _load_yaml(text, problems)
        if doc is None:
            return
        if not isinstance(doc, dict):
            problems.add(f"top level is {type_name(doc)}, expected a mapping")
            return
        for key, entry in doc.items():
            if key == "__metadata":
                continue
            if not isinstance(entry, dict):
                problems.add(f"entry {str(key)!r} is {type_name(entry)}, expected a mapping")
                continue
            resolution = entry.get("resolution")
            source = resolution if isinstance(resolution, str) else str(key).split(",")[0].strip()
            name, spec = _descriptor_name(source)
            if spec.startswith(_LOCAL_PROTOCOLS):
                continue  # the project's own workspaces
            version = entry.get("version")
            if isinstance(version, (int, float)) and not isinstance(version, bool):
                version = str(version)
            if not isinstance(version, str) or not version.strip():
                problems.add(f"entry {str(key)!r} has no version")
                continue
            if version == "0.0.0-use.local":
                continue  # a linked local folder, not a published package
            metadata: dict[str, Any] = {}
            if spec.startswith("patch:"):
                metadata["patched"] = True
            out.add(name, version.strip(), metadata=metadata)


# --- pnpm-lock.yaml -------------------------------------------------------------------------------


def _strip_peers(key: str) -> str:
    """``name@1.0.0(peer@2)(other@3)`` → ``name@1.0.0``."""
    paren = key.find("(")
    return key if paren < 0 else key[:paren]


def parse_pnpm_key(key: str) -> tuple[str, str]:
    """A ``packages`` key → (name, version as written); the version may be a URL or ``file:`` spec.

    ``/name/1.0.0_peer@2`` (5.x), ``/@s/name@1.0.0(peer@2)`` (6.x), ``name@1.0.0`` (9.x).
    """
    k = _strip_peers(key[1:] if key.startswith("/") else key)
    scope = ""
    rest = k
    if k.startswith("@"):
        slash = k.find("/")
        if slash < 0:
            return k, ""
        scope, rest = k[:slash + 1], k[slash + 1:]
    at, slash = rest.find("@"), rest.find("/")
    if at > 0 and (slash < 0 or at < slash):
        return scope + rest[:at], rest[at + 1:]
    if slash > 0:
        version = rest[slash + 1:]
        underscore = version.find("_")
        return scope + rest[:slash], version if underscore < 0 else version[:underscore]
    return scope + rest, ""


def _ref_version(value: Any) -> str | None:
    """An importer/snapshot dependency value: ``1.0.0``, ``{version: 1.0.0}``, ``link:../x``."""
    if isinstance(value, dict):
        value = value.get("version")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and value else None


class PnpmLockCataloger(_FileCataloger):
    """``pnpm-lock.yaml`` (lockfile 5.x, 6.x and 9.x); peer suffixes are not part of the version."""

    name: ClassVar[str] = "pnpm-lock"
    max_file_bytes: ClassVar[int] = 32 * MiB

    def wants(self, path: str) -> bool:
        return _project_file(path, _PNPM_NAMES)

    def _parse(self, data: bytes, path: str, out: _Collector, problems: Problems) -> None:
        doc = _load_yaml(decode_utf8(data, problems), problems)
        if doc is None:
            return
        if not isinstance(doc, dict):
            problems.add(f"top level is {type_name(doc)}, expected a mapping")
            return
        packages = doc.get("packages") or {}
        if not isinstance(packages, dict):
            problems.add(f"'packages' is {type_name(packages)}, expected a mapping")
            return
        snapshots = doc.get("snapshots")
        graph: dict[str, Any] = snapshots if isinstance(snapshots, dict) else packages

        identity: dict[str, tuple[str, str]] = {}  # packages key → (name, version)
        for key, entry in packages.items():
            if not isinstance(key, str):
                problems.add(f"packages key {key!r} is not a string")
                continue
            entry = entry if isinstance(entry, dict) else {}
            name, version = parse_pnpm_key(key)
            if isinstance(entry.get("name"), str) and entry["name"]:
                name = entry["name"]
            declared = _ref_version(entry.get("version"))
            if declared:
                version = declared
            elif not _plain_version(version):
                version = ""  # a local folder or tarball without a declared version
            identity[key] = (name, version)

        dev_of, indirect_of = self._walk(doc, graph, identity)
        optional_snapshots = set()
        if graph is not packages:  # 9.x: the optional flag is on the snapshot
            for node, snap in graph.items():
                if isinstance(node, str) and isinstance(snap, dict) and snap.get("optional") is True:
                    optional_snapshots.add(_strip_peers(node))
        for key, (name, version) in identity.items():
            entry = packages.get(key)
            entry = entry if isinstance(entry, dict) else {}
            metadata: dict[str, Any] = {}
            if isinstance(entry.get("dev"), bool):
                metadata["dev"] = entry["dev"]
            elif key in dev_of:
                metadata["dev"] = dev_of[key]
            if entry.get("optional") is True or key in optional_snapshots:
                metadata["optional"] = True
            if key in indirect_of:
                metadata["indirect"] = indirect_of[key]
            out.add(name, version, metadata=metadata)

    @staticmethod
    def _walk(doc: dict[str, Any], graph: dict[str, Any],
              identity: dict[str, tuple[str, str]]) -> tuple[dict[str, bool], dict[str, bool]]:
        """dev (reached only from devDependencies) and indirect (no importer lists it) per package key."""
        importers = doc.get("importers")
        roots: list[dict[str, Any]] = []
        if isinstance(importers, dict):
            roots = [v for v in importers.values() if isinstance(v, dict)]
        if not roots and any(kind in doc for kind in ("dependencies", "devDependencies", "optionalDependencies")):
            roots = [doc]  # single-project lockfile 5.x/6.x
        if not roots:
            return {}, {}

        def package_key(node: str) -> str | None:
            if node in identity:
                return node
            stripped = _strip_peers(node)
            return stripped if stripped in identity else None

        def resolve(name: str, ref: Any) -> str | None:
            version = _ref_version(ref)
            if version is None or version.startswith("link:"):
                return None
            for candidate in (f"{name}@{version}", f"/{name}@{version}", f"/{name}/{version}", version,
                              f"/{version}"):
                if candidate in graph or candidate in identity:
                    return candidate
            return None

        def targets(entry: dict[str, Any], kinds: tuple[str, ...]) -> list[str]:
            found: list[str] = []
            for kind in kinds:
                deps = entry.get(kind)
                if isinstance(deps, dict):
                    for dep_name, ref in deps.items():
                        target = resolve(str(dep_name), ref)
                        if target is not None:
                            found.append(target)
            return found

        def dependencies(node: str) -> list[str]:
            entry = graph.get(node)
            return targets(entry, ("dependencies", "optionalDependencies")) if isinstance(entry, dict) else []

        prod_starts: list[str] = []
        dev_starts: list[str] = []
        for root in roots:
            prod_starts += targets(root, ("dependencies", "optionalDependencies"))
            dev_starts += targets(root, ("devDependencies",))
        direct = {k for node in prod_starts + dev_starts if (k := package_key(node)) is not None}
        prod = {k for node in reachable(prod_starts, dependencies) if (k := package_key(node)) is not None}
        dev = {k for node in reachable(dev_starts, dependencies) if (k := package_key(node)) is not None}
        dev_of = {key: key in dev and key not in prod for key in identity if key in dev or key in prod}
        indirect_of = {key: key not in direct for key in identity}
        return dev_of, indirect_of


CATALOGERS: list[Cataloger] = [
    NpmInstalledCataloger(),
    NpmLockCataloger(),
    YarnLockCataloger(),
    PnpmLockCataloger(),
]
