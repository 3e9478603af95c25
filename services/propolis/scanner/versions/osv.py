"""Deciding "affected?" from OSV ``affected`` entries: ``ranges`` events and ``versions`` lists.

Follows the evaluation the OSV schema specifies. Per range, events are sorted by version
(``introduced: "0"`` first); walking them, an ``introduced`` at or below the version sets
affected, a ``fixed`` at or below it clears it, a ``last_affected`` strictly below it clears it.
``limit`` events cap the range: the version must be below at least one limit (``"*"`` = none).
So a fixed version itself is not affected, and ``last_affected`` is inclusive. ``ECOSYSTEM``
ranges use the package's ecosystem ordering, ``SEMVER`` ranges SemVer 2.0; ``GIT`` ranges say
nothing about package versions and match nothing. A version listed in ``versions`` is affected
whatever the ranges say.

Event versions are parsed once, when the range is built; checking a package is a short loop of
key comparisons.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from propolis.scanner.versions.interface import InvalidRange, InvalidVersion, Scheme, Version
from propolis.scanner.versions.registry import get_scheme

INTRODUCED, FIXED, LAST_AFFECTED, LIMIT = "introduced", "fixed", "last_affected", "limit"
_KINDS = (INTRODUCED, FIXED, LAST_AFFECTED, LIMIT)
_MIN = object()  # introduced "0"
_MAX = object()  # limit "*"


@dataclass(frozen=True, slots=True)
class OsvRange:
    """One compiled OSV range: sorted ``(kind, key)`` events and limits."""

    scheme: Scheme | None  # None for GIT ranges
    events: tuple[tuple[str, Any], ...]
    limits: tuple[Any, ...]

    @classmethod
    def build(cls, ecosystem: str, range_type: str, events: Iterable[Mapping[str, str] | tuple[str, str]]) -> OsvRange:
        """Compile OSV events (``{"introduced": "1.0"}`` mappings or ``(kind, version)`` pairs)."""
        rtype = range_type.upper()
        if rtype == "GIT":
            return cls(None, (), ())
        if rtype == "ECOSYSTEM":
            scheme = get_scheme(ecosystem)
        elif rtype == "SEMVER":
            scheme = get_scheme("semver")
        else:
            raise InvalidRange(ecosystem, range_type, "range type must be ECOSYSTEM, SEMVER or GIT")
        pairs: list[tuple[str, str]] = []
        for e in events:
            if isinstance(e, tuple):
                pairs.append(e)
            else:
                items = [(k, v) for k, v in e.items() if k in _KINDS]
                if len(items) != 1:
                    raise InvalidRange(scheme.ecosystem, dict(e), "an event has exactly one of " + ", ".join(_KINDS))
                pairs.append(items[0])
        compiled: list[tuple[str, Any]] = []
        limits: list[Any] = []
        for kind, text in pairs:
            if kind not in _KINDS:
                raise InvalidRange(scheme.ecosystem, kind, "unknown event kind")
            if kind == INTRODUCED and text == "0":
                compiled.append((kind, _MIN))
            elif kind == LIMIT:
                limits.append(_MAX if text == "*" else scheme.parse(text).key)
            else:
                compiled.append((kind, scheme.parse(text).key))
        order = sorted(range(len(compiled)), key=lambda i: _SortKey(compiled[i][1], i))
        return cls(scheme, tuple(compiled[i] for i in order), tuple(limits))

    def contains(self, version: str | Version) -> bool:
        """Whether ``version`` (text of the package's ecosystem, or a parsed Version) is inside."""
        if self.scheme is None:
            return False
        if isinstance(version, Version) and version.ecosystem == self.scheme.ecosystem:
            key = version.key
        else:
            key = self.scheme.parse(version.text if isinstance(version, Version) else version).key
        return self.contains_key(key)

    def contains_key(self, key: Any) -> bool:
        if self.limits and not any(limit is _MAX or key < limit for limit in self.limits):
            return False
        affected = False
        for kind, at in self.events:
            if kind == INTRODUCED:
                if at is _MIN or key >= at:
                    affected = True
            elif kind == FIXED:
                if key >= at:
                    affected = False
            elif key > at:  # last_affected
                affected = False
        return affected


class _SortKey:
    """Sort helper: ``introduced: "0"`` first, then versions in order, ties by position."""

    __slots__ = ("key", "pos")

    def __init__(self, key: Any, pos: int) -> None:
        self.key = key
        self.pos = pos

    def __lt__(self, other: _SortKey) -> bool:
        a, b = self.key, other.key
        if a is _MIN or b is _MIN:
            if a is _MIN and b is _MIN:
                return self.pos < other.pos
            return a is _MIN
        if a < b:
            return True
        if b < a:
            return False
        return self.pos < other.pos


@dataclass(frozen=True, slots=True)
class OsvAffected:
    """One OSV ``affected[]`` entry for a package: its ranges and explicit versions."""

    scheme: Scheme
    ranges: tuple[OsvRange, ...]
    versions: frozenset[Any]
    version_texts: frozenset[str]

    @classmethod
    def build(
        cls, ecosystem: str, ranges: Sequence[Mapping[str, Any]] = (), versions: Iterable[str] = ()
    ) -> OsvAffected:
        """From OSV JSON shapes: ``ranges=[{"type": ..., "events": [...]}]``, ``versions=[...]``."""
        scheme = get_scheme(ecosystem)
        compiled = tuple(OsvRange.build(ecosystem, r.get("type", "ECOSYSTEM"), r.get("events", ())) for r in ranges)
        keys: set[Any] = set()
        texts: set[str] = set()
        for text in versions:
            texts.add(text)
            try:
                keys.add(scheme.parse(text).key)
            except InvalidVersion:
                pass  # an unparsable listed version can still match by exact text
        return cls(scheme, compiled, frozenset(keys), frozenset(texts))

    def contains(self, version: str | Version) -> bool:
        """Whether the package at ``version`` is affected by this entry."""
        scheme = self.scheme
        text = version.text if isinstance(version, Version) else version
        if text in self.version_texts:
            return True
        parsed = scheme.parse(version)
        if parsed.key in self.versions:
            return True
        return any(r.contains(parsed if r.scheme is scheme else text) for r in self.ranges)


def is_affected(
    ecosystem: str,
    version: str | Version,
    ranges: Sequence[Mapping[str, Any]] = (),
    versions: Iterable[str] = (),
) -> bool:
    """One-shot form of :class:`OsvAffected` (build it once instead when matching many packages)."""
    return OsvAffected.build(ecosystem, ranges, versions).contains(version)
