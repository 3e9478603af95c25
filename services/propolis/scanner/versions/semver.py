"""Plain SemVer 2.0, the ordering of OSV ``SEMVER`` ranges whatever the package's ecosystem.

OSV advisories for npm, crates.io, Go and others express ranges as ``SEMVER`` events; the OSV
schema defines them as SemVer 2.0 precedence (build metadata ignored). Go advisories omit the
``v`` prefix while Go module versions carry it, so a leading ``v`` is accepted and ignored.
"""

from __future__ import annotations

import re

from propolis.scanner.versions.golang import prerelease_key
from propolis.scanner.versions.interface import Scheme, Version

_NUM = r"(0|[1-9][0-9]*)"
_IDENT = r"[0-9A-Za-z-]+"
_SEMVER = re.compile(
    rf"v?{_NUM}\.{_NUM}\.{_NUM}(?:-({_IDENT}(?:\.{_IDENT})*))?(?:\+({_IDENT}(?:\.{_IDENT})*))?\Z", re.ASCII
)


class SemverScheme(Scheme):
    """SemVer 2.0 (``semver``), used for OSV ``SEMVER`` ranges."""

    ecosystem = "semver"

    def _parse(self, text: str) -> Version:
        m = _SEMVER.match(text)
        if m is None:
            raise self.invalid(text, "not MAJOR.MINOR.PATCH[-PRE][+BUILD]")
        major, minor, patch, pre, _build = m.groups()
        if pre is not None:
            for ident in pre.split("."):
                if ident.isdigit() and len(ident) > 1 and ident[0] == "0":
                    raise self.invalid(text, f"numeric pre-release identifier {ident!r} has a leading zero")
        return Version(self.ecosystem, text, (int(major), int(minor), int(patch), prerelease_key(pre)))
