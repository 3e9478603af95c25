"""Rust crate versions (SemVer 2.0 as the ``semver`` crate parses it) and Cargo requirements.

Written here: Python's ``semver`` package parses SemVer 2.0 but knows no Cargo requirement
syntax, and ``univers``' Cargo support delegates to ``semantic-version``, whose ``NpmSpec`` /
``SimpleSpec`` grammars differ from Cargo's. Versions are strict: no ``v``, no whitespace, no
leading zeros. Build metadata is ignored for ordering, as SemVer 2.0 precedence requires (the
Rust crate orders by it as a last tie-break; no advisory depends on that).

Requirements follow ``semver::VersionReq::matches``: comma-separated comparators (``=``, ``>``,
``>=``, ``<``, ``<=``, ``~``, ``^``, a bare version meaning ``^``, ``*``/``x`` wildcards) must all
hold, and a pre-release version only matches if some comparator names the same
``MAJOR.MINOR.PATCH`` with a pre-release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from propolis.scanner.versions.golang import prerelease_key
from propolis.scanner.versions.interface import InvalidRange, Scheme, Version

_NUM = r"(0|[1-9][0-9]*)"
_IDENT = r"[0-9A-Za-z-]+"
_SEMVER = re.compile(
    rf"{_NUM}\.{_NUM}\.{_NUM}(?:-({_IDENT}(?:\.{_IDENT})*))?(?:\+({_IDENT}(?:\.{_IDENT})*))?\Z", re.ASCII
)
_U64 = 2**64 - 1
_RELEASE = (1,)
_Key = tuple[Any, ...]
_COMPARATOR = re.compile(
    rf"\s*(=|>=|>|<=|<|~|\^)?\s*(?:(\*|x|X)|{_NUM}(?:\.(?:(\*|x|X)|{_NUM})(?:\.(?:(\*|x|X)|{_NUM})"
    rf"(?:-({_IDENT}(?:\.{_IDENT})*))?(?:\+({_IDENT}(?:\.{_IDENT})*))?)?)?)\s*\Z",
    re.ASCII,
)


class CargoScheme(Scheme):
    """crates.io (``cargo``) versions and requirements."""

    ecosystem = "cargo"

    def _parse(self, text: str) -> Version:
        m = _SEMVER.match(text)
        if m is None:
            raise self.invalid(text, "not MAJOR.MINOR.PATCH[-PRE][+BUILD]")
        major, minor, patch, pre, _build = m.groups()
        nums = int(major), int(minor), int(patch)
        if max(nums) > _U64:
            raise self.invalid(text, "component does not fit in 64 bits")
        if pre is not None:
            for ident in pre.split("."):
                if ident.isdigit() and len(ident) > 1 and ident[0] == "0":
                    raise self.invalid(text, f"pre-release identifier {ident!r} has a leading zero")
        return Version(self.ecosystem, text, (*nums, prerelease_key(pre)))

    def _constraint(self, text: str) -> CargoRequirement:
        if not text.strip():
            raise InvalidRange(self.ecosystem, text, "empty requirement")
        comps: list[_CargoComparator] = []
        for part in text.split(","):
            m = _COMPARATOR.match(part)
            if m is None:
                raise InvalidRange(self.ecosystem, text, f"invalid comparator {part.strip()!r}")
            op, star, major, xminor, minor, xpatch, patch, pre, _build = m.groups()
            if star:
                if op is not None:
                    raise InvalidRange(self.ecosystem, text, "an operator cannot precede a bare wildcard")
                if len(text.split(",")) == 1:
                    return CargoRequirement(text, ())
                raise InvalidRange(self.ecosystem, text, "'*' cannot be combined with other comparators")
            if pre is not None and patch is None:
                raise InvalidRange(self.ecosystem, text, "a pre-release needs MAJOR.MINOR.PATCH")
            if xminor and (minor is not None or patch is not None):
                raise InvalidRange(self.ecosystem, text, "a wildcard must be the last component")
            wildcard = bool(xminor or xpatch)
            if pre is not None:
                for ident in pre.split("."):
                    if ident.isdigit() and len(ident) > 1 and ident[0] == "0":
                        raise InvalidRange(self.ecosystem, text, f"pre-release identifier {ident!r} has a leading zero")
            kind = op or ("=" if wildcard else "^")
            comps.append(
                _CargoComparator(
                    kind,
                    int(major),
                    None if minor is None else int(minor),
                    None if patch is None else int(patch),
                    prerelease_key(pre),
                )
            )
        return CargoRequirement(text, tuple(comps))


@dataclass(frozen=True, slots=True)
class _CargoComparator:
    op: str
    major: int
    minor: int | None
    patch: int | None
    pre: tuple[object, ...]

    def exact(self, v: _Key) -> bool:
        return bool(
            v[0] == self.major
            and (self.minor is None or v[1] == self.minor)
            and (self.patch is None or v[2] == self.patch)
            and v[3] == self.pre
        )

    def greater(self, v: _Key) -> bool:
        if v[0] != self.major:
            return bool(v[0] > self.major)
        if self.minor is None:
            return False
        if v[1] != self.minor:
            return bool(v[1] > self.minor)
        if self.patch is None:
            return False
        if v[2] != self.patch:
            return bool(v[2] > self.patch)
        return bool(v[3] > self.pre)

    def less(self, v: _Key) -> bool:
        if v[0] != self.major:
            return bool(v[0] < self.major)
        if self.minor is None:
            return False
        if v[1] != self.minor:
            return bool(v[1] < self.minor)
        if self.patch is None:
            return False
        if v[2] != self.patch:
            return bool(v[2] < self.patch)
        return bool(v[3] < self.pre)

    def tilde(self, v: _Key) -> bool:
        if v[0] != self.major:
            return False
        if self.minor is not None and v[1] != self.minor:
            return False
        if self.patch is not None and v[2] != self.patch:
            return bool(v[2] > self.patch)
        return bool(v[3] >= self.pre)

    def caret(self, v: _Key) -> bool:
        if v[0] != self.major:
            return False
        if self.minor is None:
            return True
        if self.patch is None:
            return bool(v[1] >= self.minor) if self.major > 0 else bool(v[1] == self.minor)
        if self.major > 0:
            if v[1] != self.minor:
                return bool(v[1] > self.minor)
            if v[2] != self.patch:
                return bool(v[2] > self.patch)
        elif self.minor > 0:
            if v[1] != self.minor:
                return False
            if v[2] != self.patch:
                return bool(v[2] > self.patch)
        elif v[1] != self.minor or v[2] != self.patch:
            return False
        return bool(v[3] >= self.pre)

    def matches(self, v: _Key) -> bool:
        op = self.op
        if op == "=":
            return self.exact(v)
        if op == ">":
            return self.greater(v)
        if op == ">=":
            return self.exact(v) or self.greater(v)
        if op == "<":
            return self.less(v)
        if op == "<=":
            return self.exact(v) or self.less(v)
        if op == "~":
            return self.tilde(v)
        return self.caret(v)


@dataclass(frozen=True, slots=True)
class CargoRequirement:
    """A parsed Cargo version requirement; no comparators means ``*``."""

    text: str
    comparators: tuple[_CargoComparator, ...]

    def contains(self, version: Version) -> bool:
        v = version.key
        if not all(c.matches(v) for c in self.comparators):
            return False
        if v[3] == _RELEASE:
            return True
        return any(
            c.major == v[0] and c.minor == v[1] and c.patch == v[2] and c.pre != _RELEASE for c in self.comparators
        )
