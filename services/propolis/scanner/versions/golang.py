"""Go module versions: ``golang.org/x/mod/semver`` ordering, pseudo-versions included.

Written here (a dozen lines of grammar): no kept PyPI library implements Go's variant of SemVer
(mandatory ``v`` prefix in module versions, ``vMAJOR`` / ``vMAJOR.MINOR`` shorthands, build
metadata such as ``+incompatible`` ignored). Pseudo-versions need no special case: they are
pre-releases, so ``v1.2.4-0.20191109021931-daa7c04131f5`` sorts after ``v1.2.3`` and before
``v1.2.4``, and ``v0.0.0-20191109021931-daa7c04131f5`` before every tagged release; the commit
time leads the pre-release identifiers so pseudo-versions of one base sort chronologically.

The ``v`` is optional here because OSV advisories (``SEMVER`` ranges) spell Go versions
without it; with or without it the same version results.
"""

from __future__ import annotations

import re

from propolis.scanner.versions.interface import Scheme, Version

_NUM = r"(0|[1-9][0-9]*)"
_GO_SEMVER = re.compile(
    rf"v?{_NUM}(?:\.{_NUM}(?:\.{_NUM}(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?)?)?\Z",
    re.ASCII,
)
_PSEUDO = re.compile(
    r"v?[0-9]+\.(?:0\.0-|[0-9]+\.[0-9]+-(?:[^+]*\.)?0\.)[0-9]{14}-[A-Za-z0-9]+(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?\Z",
    re.ASCII,
)
_RELEASE = (1,)


def prerelease_key(pre: str | None) -> tuple[object, ...]:
    """SemVer 2.0 pre-release precedence as a key: releases after pre-releases, numeric
    identifiers before alphanumeric ones, a shorter identifier list first when it is a prefix."""
    if pre is None:
        return _RELEASE
    return (0, tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split(".")))


def is_pseudo_version(text: str) -> bool:
    """Whether ``text`` has the form of a Go pseudo-version (any of its three shapes)."""
    return _PSEUDO.match(text) is not None


class GoScheme(Scheme):
    """Go modules (``golang``)."""

    ecosystem = "golang"

    def _parse(self, text: str) -> Version:
        m = _GO_SEMVER.match(text)
        if m is None:
            raise self.invalid(text, "not a Go semantic version (vMAJOR[.MINOR[.PATCH[-PRE][+BUILD]]])")
        major, minor, patch, pre, build = m.groups()
        if (minor is None or patch is None) and (pre is not None or build is not None):
            raise self.invalid(text, "a shorthand version cannot carry a pre-release or build")
        for ident in (pre or "").split(".") if pre else ():
            if ident.isdigit() and len(ident) > 1 and ident[0] == "0":
                raise self.invalid(text, f"numeric pre-release identifier {ident!r} has a leading zero")
        key = (int(major), int(minor or 0), int(patch or 0), prerelease_key(pre))
        return Version(self.ecosystem, text, key)
