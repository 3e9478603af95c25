"""Ecosystem name → version scheme.

Names are package-URL types (``deb``, ``apk``, ``rpm``, ``pypi``, ``npm``, ``golang``, ``maven``,
``gem``, ``cargo``, ``composer``) plus ``semver`` for OSV ``SEMVER`` ranges. OSV ecosystem names
(``Debian:12``, ``Alpine:v3.20``, ``Rocky Linux:9``, ``crates.io``, ...) resolve to the same
schemes, so advisories and catalogued packages meet on one ordering. Schemes are created once
and shared: they hold the parse caches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from propolis.scanner.versions.apk import ApkScheme
from propolis.scanner.versions.cargo import CargoScheme
from propolis.scanner.versions.composer import ComposerScheme
from propolis.scanner.versions.dpkg import DpkgScheme
from propolis.scanner.versions.gem import GemScheme
from propolis.scanner.versions.golang import GoScheme
from propolis.scanner.versions.interface import Scheme
from propolis.scanner.versions.maven import MavenScheme
from propolis.scanner.versions.npm import NpmScheme
from propolis.scanner.versions.pypi import PypiScheme
from propolis.scanner.versions.rpm import RpmScheme
from propolis.scanner.versions.semver import SemverScheme

FACTORIES: dict[str, Callable[[], Scheme]] = {
    "deb": DpkgScheme,
    "apk": ApkScheme,
    "rpm": RpmScheme,
    "pypi": PypiScheme,
    "npm": NpmScheme,
    "golang": GoScheme,
    "maven": MavenScheme,
    "gem": GemScheme,
    "cargo": CargoScheme,
    "composer": ComposerScheme,
    "semver": SemverScheme,
}

#: OSV ecosystem names (the part before any ``:release``), lower-cased, to purl types
OSV_ECOSYSTEMS: dict[str, str] = {
    "debian": "deb",
    "ubuntu": "deb",
    "alpine": "apk",
    "wolfi": "apk",
    "chainguard": "apk",
    "red hat": "rpm",
    "almalinux": "rpm",
    "rocky linux": "rpm",
    "opensuse": "rpm",
    "suse": "rpm",
    "mageia": "rpm",
    "openeuler": "rpm",
    "azure linux": "rpm",
    "pypi": "pypi",
    "npm": "npm",
    "go": "golang",
    "maven": "maven",
    "rubygems": "gem",
    "crates.io": "cargo",
    "packagist": "composer",
}

_schemes: dict[str, Scheme] = {}
_lock = threading.Lock()


class UnknownEcosystem(KeyError):
    """No version scheme is registered for this ecosystem name."""


def canonical_ecosystem(name: str) -> str:
    """The purl type for a purl type or an OSV ecosystem name (``Debian:12`` → ``deb``)."""
    if name in FACTORIES:
        return name
    lowered = name.lower()
    if lowered in FACTORIES:
        return lowered
    base = lowered.split(":", 1)[0].strip()
    if base in OSV_ECOSYSTEMS:
        return OSV_ECOSYSTEMS[base]
    raise UnknownEcosystem(name)


def get_scheme(name: str) -> Scheme:
    """The shared scheme for ``name`` (purl type or OSV ecosystem name)."""
    key = canonical_ecosystem(name)
    scheme = _schemes.get(key)
    if scheme is None:
        with _lock:
            scheme = _schemes.get(key)
            if scheme is None:
                scheme = _schemes[key] = FACTORIES[key]()
    return scheme


def ecosystems() -> tuple[str, ...]:
    """Every registered scheme name."""
    return tuple(FACTORIES)
