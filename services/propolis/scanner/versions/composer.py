"""Composer (Packagist) versions and constraints.

Written here: no kept PyPI library implements Composer's ``VersionParser``. A version is first
normalised as ``Composer\\Semver\\VersionParser::normalize`` does (``v`` prefix dropped, up to four
numeric parts padded to four, stability suffixes expanded: ``a``→``alpha``, ``b``→``beta``,
``rc``→``RC``, ``p``/``pl``→``patch``, ``-stable`` dropped, ``-dev`` kept, build metadata
dropped, ``1.x-dev`` branches to ``1.9999999.9999999.9999999-dev``); Composer then orders
normalised versions with PHP's ``version_compare``, whose special forms rank
``dev < alpha = a < beta = b < RC = rc < (number) < patch = pl = p``. The key encodes that
comparison, including its rule that a version with extra parts is newer when the extra part is a
number or ``patch`` and older when it is a pre-release word (``1.0.0.0-beta2`` < ``1.0.0.0``).

Named branches (``dev-main``) have no place in that order and are rejected.

Constraints follow ``VersionParser::parseConstraints``: ``||`` (or ``|``) alternatives of
``,``/space conjunctions; operators ``= == != <> < <= > >=``; ``^``, ``~``, wildcard
(``1.2.*``) and hyphen (``1.0 - 2.0``) ranges, with Composer's ``-dev`` lower bounds so
pre-releases of the boundary version are inside.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from propolis.scanner.versions.interface import InvalidRange, Scheme, Version

_MODIFIER = r"[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*+)?)?([.-]?dev)?"
_CLASSICAL = re.compile(rf"v?(\d{{1,5}})(\.\d++)?(\.\d++)?(\.\d++)?{_MODIFIER}\Z", re.IGNORECASE | re.ASCII)
_DATETIME = re.compile(
    rf"v?(\d{{4}}(?:[.:-]?\d{{2}}){{1,6}}(?:[.:-]?\d{{1,3}}){{0,2}}){_MODIFIER}\Z", re.IGNORECASE | re.ASCII
)
_BRANCH = re.compile(r"v?(\d++)(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?\Z", re.ASCII)
_DEV_SUFFIX = re.compile(r"(.*?)[.-]?dev\Z", re.IGNORECASE | re.DOTALL)
_BUILD = re.compile(r"([^,\s+]++)\+[^\s]++\Z")
_STABILITY_FLAG = re.compile(r"@(?:stable|RC|beta|alpha|dev)\Z", re.IGNORECASE)
_ALIAS = re.compile(r"([^,\s]++) ++as ++([^,\s]++)\Z")

# PHP version_compare special forms, matched by prefix in this order.
_FORMS = (
    ("dev", 0),
    ("alpha", 1),
    ("a", 1),
    ("beta", 2),
    ("b", 2),
    ("RC", 3),
    ("rc", 3),
    ("#", 4),
    ("pl", 5),
    ("p", 5),
)
_NUMBER_RANK = 4
_END = (_NUMBER_RANK, -1)  # a missing part: after pre-release words, before numbers and patch


def _expand_stability(s: str) -> str:
    s = s.lower()
    return {"a": "alpha", "b": "beta", "p": "patch", "pl": "patch", "rc": "RC"}.get(s, s)


class _Invalid(Exception):
    pass


def normalize(version: str) -> str:
    """``VersionParser::normalize`` for version strings (raises ``_Invalid``)."""
    version = version.strip()
    m = _ALIAS.match(version)
    if m:
        version = m.group(1)
    m = _STABILITY_FLAG.search(version)
    if m:
        version = version[: m.start()]
    if version in ("master", "trunk", "default"):
        version = "dev-" + version
    if version[:4].lower() == "dev-":
        return "dev-" + version[4:]
    m = _BUILD.match(version)
    if m:
        version = m.group(1)
    m = _CLASSICAL.match(version)
    index = 0
    if m:
        version = m.group(1) + (m.group(2) or ".0") + (m.group(3) or ".0") + (m.group(4) or ".0")
        index = 5
    else:
        m = _DATETIME.match(version)
        if m:
            version = re.sub(r"\D", ".", m.group(1))
            index = 2
    if m and index:
        if m.group(index):
            if m.group(index) == "stable":
                return version
            extra = m.group(index + 1) or ""
            version += "-" + _expand_stability(m.group(index)) + extra.lstrip(".-")
        if m.group(index + 2):
            version += "-dev"
        return version
    m = _DEV_SUFFIX.match(version)
    if m:
        normalized = normalize_branch(m.group(1))
        if "dev-" not in normalized:
            return normalized
    raise _Invalid


def normalize_branch(name: str) -> str:
    """``VersionParser::normalizeBranch``."""
    name = name.strip()
    m = _BRANCH.match(name)
    if m:
        parts = [(m.group(i) or ".x").replace("*", "x").replace("X", "x") for i in range(1, 5)]
        return "".join(parts).replace("x", "9999999") + "-dev"
    return "dev-" + name


def _canonicalize(v: str) -> list[str]:
    """PHP ``php_canonicalize_version`` then split on '.'."""
    if not v:
        return []
    out = [v[0]]
    prev = v[0]
    for c in v[1:]:
        last = out[-1]
        if c in "-_+":
            if last != ".":
                out.append(".")
        elif (prev.isdigit() and not c.isdigit() and c != ".") or (not prev.isdigit() and prev != "." and c.isdigit()):
            if last != ".":
                out.append(".")
            out.append(c)
        elif not c.isalnum():
            if last != ".":
                out.append(".")
        else:
            out.append(c)
        prev = c
    return "".join(out).split(".")


def _form_rank(part: str) -> int:
    for name, rank in _FORMS:
        if part.startswith(name):
            return rank
    return -1


def version_compare_key(normalized: str) -> tuple[tuple[int, int], ...]:
    """Key under which tuple order equals PHP ``version_compare`` on ``normalized``."""
    key: list[tuple[int, int]] = []
    for part in _canonicalize(normalized):
        if part.isdigit():
            key.append((_NUMBER_RANK, int(part)))
        else:
            key.append((_form_rank(part), 0))
    key.append(_END)
    return tuple(key)


class ComposerScheme(Scheme):
    """Packagist (``composer``) versions and constraints."""

    ecosystem = "composer"

    def _parse(self, text: str) -> Version:
        if not text.isascii():
            raise self.invalid(text, "non-ASCII character")
        try:
            normalized = normalize(text)
        except _Invalid:
            raise self.invalid(text, "not a Composer version") from None
        if normalized.startswith("dev-"):
            raise self.invalid(text, f"branch {normalized!r} has no version order")
        if any(p == "" for p in normalized.split("-")[0].split(".")):
            raise self.invalid(text, "empty version part")
        return Version(self.ecosystem, text, version_compare_key(normalized))

    def _constraint(self, text: str) -> ComposerConstraint:
        if not text.isascii():
            raise InvalidRange(self.ecosystem, text, "non-ASCII character")
        body = text.strip()
        if not body:
            raise InvalidRange(self.ecosystem, text, "empty constraint")
        alternatives: list[tuple[tuple[str, Any], ...]] = []
        for alt in re.split(r"\s*\|\|?\s*", body):
            conj: list[tuple[str, Any]] = []
            for part in alt.split(","):
                words = part.split()
                if not words:
                    raise InvalidRange(self.ecosystem, text, "empty constraint between separators")
                i = 0
                while i < len(words):
                    if i + 2 < len(words) and words[i + 1] == "-":
                        conj.extend(self._hyphen(text, words[i], words[i + 2]))
                        i += 3
                        continue
                    word = words[i]
                    if _OPERATOR.fullmatch(word) and i + 1 < len(words):
                        word += words[i + 1]
                        i += 1
                    conj.extend(self._single(text, word))
                    i += 1
            alternatives.append(tuple(conj))
        return ComposerConstraint(text, tuple(alternatives))

    def _key(self, text: str, version: str, dev: bool = False) -> Any:
        """Key of ``normalize(version)``, with ``-dev`` appended after normalising when ``dev``."""
        try:
            normalized = normalize(version)
        except _Invalid:
            raise InvalidRange(self.ecosystem, text, f"invalid version {version!r}") from None
        if normalized.startswith("dev-"):
            raise InvalidRange(self.ecosystem, text, f"branch {normalized!r} has no version order")
        return version_compare_key(normalized + "-dev" if dev else normalized)

    def _single(self, text: str, c: str) -> list[tuple[str, Any]]:
        c = _STABILITY_FLAG.sub("", c)
        if _MATCH_ALL.match(c):
            return []
        m = _TILDE_CARET.match(c)
        if m:
            if c.startswith("~>"):
                raise InvalidRange(self.ecosystem, text, "'~>' is not a Composer operator; '~' is")
            nums = [m.group(i) for i in range(3, 7)]
            given = sum(1 for n in nums if n is not None)
            vals = [int(n) if n is not None else 0 for n in nums]
            has_stability = bool(m.group(7) or m.group(9))
            low = self._key(text, m.group("version") + ("" if has_stability else "-dev"))
            if m.group(1) == "^":  # Composer tests the digits as strings: "00" counts as non-zero
                idx = next((i for i in range(min(given, 3)) if nums[i] != "0"), min(given, 3) - 1)
            else:
                idx = max(given - 2, 0)
            upper = vals[: idx + 1]
            upper[-1] += 1
            return [(">=", low), ("<", self._key(text, ".".join(map(str, upper)) + "-dev"))]
        m = _WILDCARD.match(c)
        if m:
            given_nums = [int(g) for g in m.groups() if g is not None]
            bumped = given_nums[:]
            bumped[-1] += 1
            high = ("<", self._key(text, ".".join(map(str, bumped)) + "-dev"))
            if not any(given_nums):
                return [high]
            return [(">=", self._key(text, ".".join(map(str, given_nums)) + "-dev")), high]
        m = _BASIC.match(c)
        if not m:
            raise InvalidRange(self.ecosystem, text, f"invalid constraint {c!r}")
        op = m.group(1) or "="
        op = {"==": "=", "<>": "!="}.get(op, op)
        version = m.group(2)
        dev = op in ("<", ">=") and not _HAS_MODIFIER.search(version.lower()) and not version.startswith("dev-")
        return [(op, self._key(text, version, dev))]

    def _hyphen(self, text: str, low: str, high: str) -> list[tuple[str, Any]]:
        lm = _VERSION.match(low)
        hm = _VERSION.match(high)
        if lm is None or hm is None:
            raise InvalidRange(self.ecosystem, text, f"invalid hyphen range {low} - {high}")
        low_key = self._key(text, low, dev=not (lm.group(5) or lm.group(7)))
        if (hm.group(2) is not None and hm.group(3) is not None) or hm.group(5) or hm.group(7):
            return [(">=", low_key), ("<=", self._key(text, high))]
        self._key(text, high)
        upper = [int(hm.group(1))] if hm.group(2) is None else [int(hm.group(1)), int(hm.group(2)) + 1]
        if hm.group(2) is None:
            upper[0] += 1
        return [(">=", low_key), ("<", self._key(text, ".".join(map(str, upper)) + "-dev"))]


_VERSION_SRC = r"v?(\d++)(?:\.(\d++))?(?:\.(\d++))?(?:\.(\d++))?" + _MODIFIER + r"(?:\+[^\s]+)?"
_VERSION = re.compile(_VERSION_SRC + r"\Z", re.IGNORECASE | re.ASCII)
_TILDE_CARET = re.compile(r"(~>?|\^)(?P<version>" + _VERSION_SRC + r")\Z", re.IGNORECASE | re.ASCII)
_WILDCARD = re.compile(r"v?(\d++)(?:\.(\d++))?(?:\.(\d++))?(?:\.[xX*])+\Z", re.ASCII)
_BASIC = re.compile(r"(<>|!=|>=?|<=?|==?)?\s*(.+)\Z")
_MATCH_ALL = re.compile(r"v?[xX*](?:\.[xX*])*\Z", re.IGNORECASE)
_OPERATOR = re.compile(r"<>|!=|>=?|<=?|==?")
_HAS_MODIFIER = re.compile(r"-" + _MODIFIER + r"\Z")


@dataclass(frozen=True, slots=True)
class ComposerConstraint:
    """Alternatives (OR) of conjunctions (AND) of ``(operator, key)`` comparisons."""

    text: str
    alternatives: tuple[tuple[tuple[str, Any], ...], ...]

    def contains(self, version: Version) -> bool:
        k = version.key
        for conj in self.alternatives:
            for op, r in conj:
                if op == "=":
                    ok = k == r
                elif op == "!=":
                    ok = k != r
                elif op == "<":
                    ok = k < r
                elif op == "<=":
                    ok = k <= r
                elif op == ">":
                    ok = k > r
                else:
                    ok = k >= r
                if not ok:
                    break
            else:
                return True
        return False
