"""PHP Composer packages: ``composer.lock`` and ``vendor/composer/installed.json``.

``composer.lock`` lists ``packages`` and ``packages-dev`` (marked ``dev`` in the metadata).
``installed.json`` is what Composer actually installed: a plain list (Composer 1) or an object
with ``packages`` and ``dev-package-names`` (Composer 2). Licenses come from ``license`` (a list
or one string). When a project has both files (``app/composer.lock`` and
``app/vendor/composer/installed.json``), a package found in both is one package with both
locations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec

from propolis.scanner.catalogers._common import named_entries, note, problem_issues, purl_or_empty
from propolis.scanner.catalogers.interface import CatalogContext, CatalogOutput
from propolis.scanner.domain.model import Location, Package


def composer_purl(name: str, version: str) -> str:
    vendor, _, project = name.rpartition("/")
    return purl_or_empty("composer", project, version, vendor or None)


def _licenses(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v]
    return []


def _entries(entries: Any, label: str, dev: bool | set[str], problems: list[str]) -> list[tuple[str, str, Any, bool]]:
    """(name, version, license, dev) of each well-formed entry of a package list."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        note(problems, f"'{label}' is not a list")
        return []
    found = []
    for entry, name, version in named_entries(entries, f"{label} entry", problems):
        is_dev = dev if isinstance(dev, bool) else name in dev
        found.append((name, version, entry.get("license"), is_dev))
    return found


def parse_composer_json(data: bytes, kind: str) -> tuple[list[tuple[str, str, Any, bool]], list[str]]:
    """Entries of a ``composer.lock`` (``kind="lock"``) or an ``installed.json`` (``kind="installed"``)."""
    problems: list[str] = []
    label = "composer.lock" if kind == "lock" else "installed.json"
    try:
        doc = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        return [], [f"{label} is not valid JSON: {exc}"]
    except UnicodeDecodeError as exc:
        return [], [f"{label} is not UTF-8: {exc}"]
    if kind == "lock":
        if not isinstance(doc, dict):
            return [], ["composer.lock is not a JSON object"]
        found = _entries(doc.get("packages"), "packages", False, problems)
        found += _entries(doc.get("packages-dev"), "packages-dev", True, problems)
        return found, problems
    if isinstance(doc, list):  # Composer 1
        return _entries(doc, "installed.json", False, problems), problems
    if not isinstance(doc, dict):
        return [], ["installed.json is neither a list nor an object"]
    dev_names = doc.get("dev-package-names")
    dev: set[str] = {n for n in dev_names if isinstance(n, str)} if isinstance(dev_names, list) else set()
    if "packages" not in doc:
        return [], ["installed.json object has no 'packages' list"]
    return _entries(doc.get("packages"), "packages", dev, problems), problems


def _project_root(path: str) -> tuple[str, str] | None:
    """(project folder, kind) for a wanted path, or None."""
    parts = path.split("/")
    if parts[-1] == "composer.lock":
        return "/".join(parts[:-1]), "lock"
    if len(parts) >= 3 and parts[-1] == "installed.json" and parts[-2] == "composer":
        return "/".join(parts[:-3]), "installed"
    return None


class ComposerCataloger:
    name: ClassVar[str] = "composer"
    max_file_bytes: ClassVar[int] = 32 * 1024 * 1024

    def wants(self, path: str) -> bool:
        return _project_root(path) is not None

    def catalog(self, files: Mapping[str, bytes], ctx: CatalogContext) -> CatalogOutput:
        out = CatalogOutput()
        merged: dict[tuple[str, str, str], Package] = {}
        # Lock files first, so a package found in both keeps the lock file's location first.
        order = sorted(files, key=lambda p: (0 if p.endswith("composer.lock") else 1, p))
        for path in order:
            root = _project_root(path)
            if root is None:
                continue
            folder, kind = root
            try:
                found, problems = parse_composer_json(files[path], kind)
            except Exception as exc:  # safety net: a cataloger never raises
                found, problems = [], [f"unreadable: {type(exc).__name__}: {exc}"]
            out.issues.extend(problem_issues(self.name, path, problems))
            for name, version, license_value, dev in found:
                key = (folder, name, version)
                existing = merged.get(key)
                if existing is not None:
                    if all(loc.path != path for loc in existing.locations):
                        existing.locations.append(Location(path=path))
                    if not existing.licenses:
                        existing.licenses = _licenses(license_value)
                    if not dev:
                        existing.metadata.pop("dev", None)
                    continue
                meta: dict[str, Any] = {"dev": True} if dev else {}
                pkg = Package(
                    name=name,
                    version=version,
                    ecosystem="composer",
                    purl=composer_purl(name, version),
                    licenses=_licenses(license_value),
                    locations=[Location(path=path)],
                    metadata=meta,
                )
                merged[key] = pkg
                out.packages.append(pkg)
        return out


CATALOGERS = [ComposerCataloger()]
