"""Ecosystem names → purl types, package-name and distro-release normalisation.

Importers and lookups both go through here, so a query for ``Flask_Login`` finds advisories
published for ``flask-login`` and a query for ``debian:12`` finds entries filed under bookworm.
"""

from __future__ import annotations

import re
from typing import Final

#: OSV ecosystem (the part before ``:``) → purl type.
OSV_TO_PURL: Final[dict[str, str]] = {
    "PyPI": "pypi",
    "npm": "npm",
    "Go": "golang",
    "Maven": "maven",
    "RubyGems": "gem",
    "crates.io": "cargo",
    "Packagist": "composer",
    "NuGet": "nuget",
    "Hex": "hex",
    "Pub": "pub",
    "Hackage": "hackage",
    "CRAN": "cran",
    "SwiftURL": "swift",
    "Debian": "deb",
    "Ubuntu": "deb",
    "Alpine": "apk",
    "AlmaLinux": "rpm",
    "Rocky Linux": "rpm",
    "Red Hat": "rpm",
    "SUSE": "rpm",
    "openSUSE": "rpm",
}
#: Ecosystems whose packages belong to one distro release (the OSV ecosystem suffix).
DISTRO_ECOSYSTEMS: Final = frozenset({"Debian", "Ubuntu", "Alpine", "AlmaLinux", "Rocky Linux", "Red Hat",
                                      "SUSE", "openSUSE"})

#: Debian release numbers → codenames, so OSV ``Debian:12`` and the tracker's ``bookworm`` agree.
DEBIAN_CODENAMES: Final[dict[str, str]] = {
    "3.0": "woody", "3.1": "sarge", "4": "etch", "5": "lenny", "6": "squeeze", "7": "wheezy", "8": "jessie",
    "9": "stretch", "10": "buster", "11": "bullseye", "12": "bookworm", "13": "trixie", "14": "forky",
}
_CODENAMES = frozenset(DEBIAN_CODENAMES.values()) | {"sid"}
_PEP503 = re.compile(r"[-_.]+")
_ALPINE = re.compile(r"v?(\d+\.\d+)(?:\.\d+)?|edge")


def purl_type(osv_ecosystem: str) -> tuple[str, str]:
    """(purl type, distro) for an OSV ``package.ecosystem`` such as ``Debian:12`` or ``PyPI``.

    Unknown ecosystems keep their name lowercased, so they are still stored and can be looked up.
    """
    base, _, suffix = osv_ecosystem.partition(":")
    ptype = OSV_TO_PURL.get(base, base.lower())
    if base not in DISTRO_ECOSYSTEMS or not suffix:
        return ptype, ""
    return ptype, normalise_distro(f"{base.lower().replace(' ', '-')}:{suffix}")


def normalise_name(ecosystem: str, name: str) -> str:
    """The form names are stored and looked up in: PEP 503 for pypi, as published elsewhere.

    npm names are already lowercase on the registry (and case-sensitive for old packages), Go
    module paths and Maven coordinates are case-sensitive, deb/apk names are lowercase by policy.
    """
    if ecosystem == "pypi":
        return _PEP503.sub("-", name).lower()
    return name


def normalise_distro(distro: str) -> str:
    """``debian:12``, ``debian:bookworm``, ``bookworm`` → ``debian:bookworm``; ``alpine:3.18`` → ``alpine:v3.18``."""
    d = distro.strip().lower()
    if not d:
        return ""
    family, sep, release = d.partition(":")
    if not sep:
        if d in _CODENAMES or d in DEBIAN_CODENAMES:
            family, release = "debian", d
        elif _ALPINE.fullmatch(d):
            family, release = "alpine", d
        else:
            return d
    if family == "debian":
        release = DEBIAN_CODENAMES.get(release, DEBIAN_CODENAMES.get(release.split(".")[0], release)) \
            if release[:1].isdigit() else release
    elif family == "alpine":
        m = _ALPINE.fullmatch(release)
        if m and m.group(1):
            release = f"v{m.group(1)}"
    return f"{family}:{release}"
