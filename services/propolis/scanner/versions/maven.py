"""Maven artifact versions (``ComparableVersion``) and Maven version ranges.

Written here: no kept PyPI library is exact (``univers``' ``MavenVersion`` vendors an older
``ComparableVersion`` port; ``pymaven-patch`` is unmaintained). This is a port of
``org.apache.maven.artifact.versioning.ComparableVersion`` as shipped with Maven 3.8/3.9: the
text is lower-cased and split into items on ``.``, ``-`` and digit/letter transitions; ``-``, a
transition, and a qualifier after ``.`` open a nested list (``1.0.RC1`` == ``1.0-rc1``); numbers
compare numerically, qualifiers by ``alpha < beta < milestone < rc = cr < snapshot < "" = ga =
final = release < sp`` then other qualifiers lexically (``a1``/``b1``/``m1`` mean
``alpha-1``/``beta-1``/``milestone-1``); trailing null items (``0``, ``""``, empty lists) are
trimmed; a missing item compares as null. The tests check it against the ``ComparableVersion``
of the machine's Maven installation (Debian's ``libmaven3-core-java``).

The nested-list comparison with type-dependent padding has no compact tuple form, so the key
is a small object that compares through the item tree; equality follows ``compareTo`` (Maven's
own ``equals`` compares canonical strings and can disagree with it) and hashing the canonical form.

Ranges follow ``VersionRange.createFromVersionSpec``: ``[1.0,2.0)``, ``(,1.0]``, ``[1.5]``,
unions such as ``(,1.0],[1.2,)``. A bare version (Maven's "soft" requirement) is taken as an
exact match, which is what an advisory listing one version means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from propolis.scanner.versions.interface import InvalidRange, Scheme, Version

_QUALIFIERS = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"]
_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_RELEASE_INDEX = "5"
_INT, _STR, _LIST = 0, 1, 2


def _comparable_qualifier(q: str) -> str:
    try:
        return str(_QUALIFIERS.index(q))
    except ValueError:
        return f"{len(_QUALIFIERS)}-{q}"


def _sign(a: Any, b: Any) -> int:
    return -1 if a < b else (1 if a > b else 0)


# Items are tuples: (_INT, value) | (_STR, comparable_qualifier, value) | (_LIST, [items]).
Item = tuple[Any, ...]


def _is_null(item: Item) -> bool:
    if item[0] == _INT:
        return bool(item[1] == 0)
    if item[0] == _STR:
        return bool(item[1] == _RELEASE_INDEX)
    return not item[1]


def _string_item(value: str, followed_by_digit: bool) -> Item:
    if followed_by_digit and len(value) == 1:
        value = {"a": "alpha", "b": "beta", "m": "milestone"}.get(value, value)
    value = _ALIASES.get(value, value)
    return (_STR, _comparable_qualifier(value), value)


def _parse_item(is_digit: bool, buf: str) -> Item:
    return (_INT, int(buf)) if is_digit else _string_item(buf, False)


def _compare(a: Item, b: Item | None) -> int:
    kind = a[0]
    if kind == _INT:
        if b is None:
            return 0 if a[1] == 0 else 1
        if b[0] == _INT:
            return _sign(a[1], b[1])
        return 1
    if kind == _STR:
        if b is None:
            return _sign(a[1], _RELEASE_INDEX)
        if b[0] == _STR:
            return _sign(a[1], b[1])
        return -1
    items = a[1]
    if b is None:
        for it in items:  # the whole list against null, not just its first item (MNG-6964)
            result = _compare(it, None)
            if result:
                return result
        return 0
    if b[0] == _INT:
        return -1
    if b[0] == _STR:
        return 1
    other = b[1]
    for i in range(max(len(items), len(other))):
        left = items[i] if i < len(items) else None
        right = other[i] if i < len(other) else None
        if left is None:
            result = 0 if right is None else -_compare(right, None)
        else:
            result = _compare(left, right)
        if result:
            return result
    return 0


def _normalize(items: list[Item]) -> None:
    for i in range(len(items) - 1, -1, -1):
        last = items[i]
        if _is_null(last):
            del items[i]
        elif last[0] != _LIST:
            break


def _canonical(items: list[Item]) -> str:
    out: list[str] = []
    for it in items:
        if out:
            out.append("-" if it[0] == _LIST else ".")
        if it[0] == _INT:
            out.append(str(it[1]))
        elif it[0] == _STR:
            out.append(it[2])
        else:
            out.append(_canonical(it[1]))
    return "".join(out)


def parse_items(version: str) -> list[Item]:
    """``ComparableVersion.parseVersion``: the normalised item tree of ``version``."""
    version = version.lower()
    items: list[Item] = []
    lst = items
    stack = [lst]
    is_digit = False
    start = 0
    for i, c in enumerate(version):
        if c == ".":
            lst.append((_INT, 0) if i == start else _parse_item(is_digit, version[start:i]))
            start = i + 1
        elif c == "-":
            lst.append((_INT, 0) if i == start else _parse_item(is_digit, version[start:i]))
            start = i + 1
            new: list[Item] = []
            lst.append((_LIST, new))
            lst = new
            stack.append(lst)
        elif c.isdigit():
            if not is_digit and i > start:
                if lst:  # 1.0.0.X1 < 1.0.0-X2: a qualifier after '.' opens a list like '-' does
                    new = []
                    lst.append((_LIST, new))
                    lst = new
                    stack.append(lst)
                lst.append(_string_item(version[start:i], True))
                start = i
                new = []
                lst.append((_LIST, new))
                lst = new
                stack.append(lst)
            is_digit = True
        else:
            if is_digit and i > start:
                lst.append(_parse_item(True, version[start:i]))
                start = i
                new = []
                lst.append((_LIST, new))
                lst = new
                stack.append(lst)
            is_digit = False
    if len(version) > start:
        if not is_digit and lst:
            new = []
            lst.append((_LIST, new))
            lst = new
            stack.append(lst)
        lst.append(_parse_item(is_digit, version[start:]))
    while stack:
        _normalize(stack.pop())
    return items


class MavenKey:
    """Ordering key of one Maven version: compares item trees like ``ComparableVersion``."""

    __slots__ = ("items", "canonical")

    def __init__(self, items: list[Item]) -> None:
        self.items: Item = (_LIST, items)
        self.canonical = _canonical(items)

    def _cmp(self, other: MavenKey) -> int:
        return _compare(self.items, other.items)

    def __lt__(self, other: MavenKey) -> bool:
        return self._cmp(other) < 0

    def __le__(self, other: MavenKey) -> bool:
        return self._cmp(other) <= 0

    def __gt__(self, other: MavenKey) -> bool:
        return self._cmp(other) > 0

    def __ge__(self, other: MavenKey) -> bool:
        return self._cmp(other) >= 0

    def __eq__(self, other: object) -> bool:
        # by comparison, not canonical text: Maven's ``equals`` says "0.a" == "a" while ``compareTo`` says ">"
        return isinstance(other, MavenKey) and self._cmp(other) == 0

    def __hash__(self) -> int:
        return hash(self.canonical)  # compare-equal keys share a canonical form (checked by the tests)

    def __repr__(self) -> str:
        return f"MavenKey({self.canonical!r})"


class MavenScheme(Scheme):
    """Maven (``maven``) versions and ranges."""

    ecosystem = "maven"

    def _parse(self, text: str) -> Version:
        if not text:
            raise self.invalid(text, "empty version")
        if not text.isascii() or not text.isprintable() or any(c.isspace() for c in text):
            raise self.invalid(text, "only printable ASCII without whitespace is allowed")
        if any(c in text for c in "[](),"):
            raise self.invalid(text, "range punctuation in a version")
        return Version(self.ecosystem, text, MavenKey(parse_items(text)))

    def _constraint(self, text: str) -> MavenRange:
        spec = text.strip()
        if not spec:
            raise InvalidRange(self.ecosystem, text, "empty range")
        intervals: list[_Interval] = []
        rest = spec
        while rest.startswith(("[", "(")):
            close = min((i for i in (rest.find("]"), rest.find(")")) if i >= 0), default=-1)
            if close < 0:
                raise InvalidRange(self.ecosystem, text, "unbounded range")
            intervals.append(self._interval(text, rest[: close + 1]))
            rest = rest[close + 1 :].strip()
            if rest.startswith(","):
                rest = rest[1:].strip()
                if not rest:
                    raise InvalidRange(self.ecosystem, text, "trailing ','")
        if intervals:
            if rest:
                raise InvalidRange(self.ecosystem, text, f"unexpected {rest!r} after the ranges")
            return MavenRange(text, tuple(intervals))
        v = self.parse(spec)
        return MavenRange(text, (_Interval(v, True, v, True),))

    def _interval(self, text: str, spec: str) -> _Interval:
        lower_inclusive = spec[0] == "["
        upper_inclusive = spec[-1] == "]"
        body = spec[1:-1].strip()
        if "," not in body:
            if not (lower_inclusive and upper_inclusive) or not body:
                raise InvalidRange(self.ecosystem, text, f"single version {spec!r} must be written [v]")
            v = self.parse(body)
            return _Interval(v, True, v, True)
        lo_text, _, hi_text = body.partition(",")
        if "," in hi_text:
            raise InvalidRange(self.ecosystem, text, f"more than two bounds in {spec!r}")
        lo = self.parse(lo_text.strip()) if lo_text.strip() else None
        hi = self.parse(hi_text.strip()) if hi_text.strip() else None
        if lo is None and lower_inclusive or hi is None and upper_inclusive:
            raise InvalidRange(self.ecosystem, text, f"a missing bound must be exclusive in {spec!r}")
        if lo is not None and hi is not None and hi < lo:
            raise InvalidRange(self.ecosystem, text, f"upper bound below lower bound in {spec!r}")
        return _Interval(lo, lower_inclusive, hi, upper_inclusive)


@dataclass(frozen=True, slots=True)
class _Interval:
    lower: Version | None
    lower_inclusive: bool
    upper: Version | None
    upper_inclusive: bool

    def contains(self, v: Version) -> bool:
        lo, hi = self.lower, self.upper
        if lo is not None and (v < lo if self.lower_inclusive else v <= lo):
            return False
        if hi is not None and (v > hi if self.upper_inclusive else v >= hi):
            return False
        return True


@dataclass(frozen=True, slots=True)
class MavenRange:
    """A union of Maven intervals."""

    text: str
    intervals: tuple[_Interval, ...]

    def contains(self, version: Version) -> bool:
        return any(i.contains(version) for i in self.intervals)
