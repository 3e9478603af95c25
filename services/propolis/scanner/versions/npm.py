"""npm versions (SemVer 2.0 as node-semver parses it) and node-semver range expressions.

Written here, not taken from PyPI: ``node-semver`` (the Python port) follows node-semver 5/6 and
differs from node-semver 7 on build-metadata stripping, the ``<X.Y.Z-0`` upper bounds of caret,
tilde and x-ranges and whitespace handling; ``semver`` and ``semantic-version`` implement other
range grammars. This module ports node-semver 7's regular expressions and desugaring rules
(``internal/re.js``, ``classes/range.js``) to Python, including the "safe" bounded quantifiers
(at most one whitespace character wherever the source has ``\\s*``) applied after all whitespace
runs are collapsed to one space. The tests compare it, pair by pair, with node's ``semver``
package (``tests/oracles``).

Versions are the strict (non-loose) form: optional ``v``, surrounding whitespace ignored,
``MAJOR.MINOR.PATCH`` without leading zeros and at most 2**53-1, dotted pre-release identifiers,
optional build metadata (ignored for ordering, as in ``semver.compare``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from propolis.scanner.versions.interface import InvalidRange, Scheme, Version

MAX_LENGTH = 256
MAX_SAFE_INTEGER = 2**53 - 1
_MAX_BUILD = MAX_LENGTH - 6

# ECMAScript ``\s``: what String.prototype.trim and /\s/ treat as whitespace.
_WS_CLASS = "\\t\\n\\x0b\\x0c\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_WS_CHARS = (
    "\t\n\x0b\x0c\r \xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + ("\u2028\u2029\u202f\u205f\u3000\ufeff")
)
_LDN = "[a-zA-Z0-9-]"


def _safe(src: str) -> str:
    """node-semver's ``makeSafeRegex`` then JS-to-Python: bound ``\\s``/``\\d``/identifier runs."""
    for token, mx in (("\\s", 1), ("\\d", MAX_LENGTH), (_LDN, _MAX_BUILD)):
        src = src.replace(f"{token}*", f"{token}{{0,{mx}}}").replace(f"{token}+", f"{token}{{1,{mx}}}")
    return src.replace("[v=\\s]", f"[v={_WS_CLASS}]").replace("\\s", f"[{_WS_CLASS}]").replace("\\d", "[0-9]")


def _re(src: str) -> re.Pattern[str]:
    return re.compile(_safe(src).replace("$", "\\Z"))


NUMERICIDENTIFIER = "0|[1-9]\\d*"
NUMERICIDENTIFIERLOOSE = "\\d+"
NONNUMERICIDENTIFIER = f"\\d*[a-zA-Z-]{_LDN}*"
MAINVERSION = f"({NUMERICIDENTIFIER})\\.({NUMERICIDENTIFIER})\\.({NUMERICIDENTIFIER})"
MAINVERSIONLOOSE = f"({NUMERICIDENTIFIERLOOSE})\\.({NUMERICIDENTIFIERLOOSE})\\.({NUMERICIDENTIFIERLOOSE})"
PRERELEASEIDENTIFIER = f"(?:{NONNUMERICIDENTIFIER}|{NUMERICIDENTIFIER})"
PRERELEASEIDENTIFIERLOOSE = f"(?:{NONNUMERICIDENTIFIER}|{NUMERICIDENTIFIERLOOSE})"
PRERELEASE = f"(?:-({PRERELEASEIDENTIFIER}(?:\\.{PRERELEASEIDENTIFIER})*))"
PRERELEASELOOSE = f"(?:-?({PRERELEASEIDENTIFIERLOOSE}(?:\\.{PRERELEASEIDENTIFIERLOOSE})*))"
BUILDIDENTIFIER = f"{_LDN}+"
BUILD = f"(?:\\+({BUILDIDENTIFIER}(?:\\.{BUILDIDENTIFIER})*))"
FULLPLAIN = f"v?{MAINVERSION}{PRERELEASE}?{BUILD}?"
LOOSEPLAIN = f"[v=\\s]*{MAINVERSIONLOOSE}{PRERELEASELOOSE}?{BUILD}?"
GTLT = "((?:<|>)?=?)"
XRANGEIDENTIFIER = f"{NUMERICIDENTIFIER}|x|X|\\*"
XRANGEPLAIN = (
    f"[v=\\s]*({XRANGEIDENTIFIER})(?:\\.({XRANGEIDENTIFIER})(?:\\.({XRANGEIDENTIFIER})(?:{PRERELEASE})?{BUILD}?)?)?"
)
LONETILDE = "(?:~>?)"
LONECARET = "(?:\\^)"

RE_FULL = _re(f"^{FULLPLAIN}$")
RE_XRANGE = _re(f"^{GTLT}\\s*{XRANGEPLAIN}$")
RE_TILDETRIM = _re(f"(\\s*){LONETILDE}\\s+")
RE_TILDE = _re(f"^{LONETILDE}{XRANGEPLAIN}$")
RE_CARETTRIM = _re(f"(\\s*){LONECARET}\\s+")
RE_CARET = _re(f"^{LONECARET}{XRANGEPLAIN}$")
RE_COMPARATOR = _re(f"^{GTLT}\\s*({FULLPLAIN})$|^$")
RE_COMPARATORTRIM = _re(f"(\\s*){GTLT}\\s*({LOOSEPLAIN}|{XRANGEPLAIN})")
RE_HYPHENRANGE = _re(f"^\\s*({XRANGEPLAIN})\\s+-\\s+({XRANGEPLAIN})\\s*$")
RE_STAR = _re("(<|>)?=?\\s*\\*")
RE_GTE0 = _re("^\\s*>=\\s*0\\.0\\.0\\s*$")
RE_BUILDSTRIP = re.compile(BUILD)  # Range.parseRange strips with the unbounded source
RE_BUILDSTRIP_SAFE = _re(BUILD)  # parseComparator strips with the bounded one
RE_WS_RUN = re.compile(f"[{_WS_CLASS}]+")

_RELEASE = (1,)


def _trim(s: str) -> str:
    return s.strip(_WS_CHARS)


def _split_ws(s: str) -> list[str]:
    return RE_WS_RUN.split(s)


def _is_x(v: str | None) -> bool:
    return not v or v.lower() == "x" or v == "*"


def _inc(v: str | int) -> str:
    return str(int(v) + 1)


class NpmScheme(Scheme):
    """npm (``npm``) versions and ranges."""

    ecosystem = "npm"

    def _parse(self, text: str) -> Version:
        if len(text) > MAX_LENGTH:
            raise self.invalid(text, f"longer than {MAX_LENGTH} characters")
        m = RE_FULL.match(_trim(text))
        if m is None:
            raise self.invalid(text, "not MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]")
        major, minor, patch = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if max(major, minor, patch) > MAX_SAFE_INTEGER:
            raise self.invalid(text, "component larger than Number.MAX_SAFE_INTEGER")
        pre = m.group(4)
        if pre is None:
            prekey: tuple[object, ...] = _RELEASE
        else:
            prekey = (0, tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split(".")))
        return Version(self.ecosystem, text, (major, minor, patch, prekey))

    def _constraint(self, text: str) -> NpmRange:
        return NpmRange.parse(self, text)


@dataclass(frozen=True, slots=True)
class _Comparator:
    op: str  # "", "<", "<=", ">", ">="; "" with key None is the match-anything comparator
    key: tuple[object, ...] | None
    value: str

    def test(self, key: tuple[object, ...]) -> bool:
        k = self.key
        if k is None:
            return True
        op = self.op
        if op == "":
            return key == k
        if op == "<":
            return key < k
        if op == "<=":
            return key <= k
        if op == ">":
            return key > k
        return key >= k


_NULL_SET = "<0.0.0-0"


@dataclass(frozen=True, slots=True)
class NpmRange:
    """A parsed node-semver range: a disjunction of comparator conjunctions."""

    text: str
    sets: tuple[tuple[_Comparator, ...], ...]

    def contains(self, version: Version) -> bool:
        key = version.key
        is_pre = key[3] != _RELEASE
        for comps in self.sets:
            if not all(c.test(key) for c in comps):
                continue
            if not is_pre:
                return True
            for c in comps:
                if c.key is not None and c.key[3] != _RELEASE and c.key[:3] == key[:3]:
                    return True
        return False

    @classmethod
    def parse(cls, scheme: NpmScheme, text: str) -> NpmRange:
        def comparator(comp: str) -> _Comparator:
            comp = " ".join(_split_ws(_trim(comp)))
            m = RE_COMPARATOR.match(comp)
            if m is None:
                raise InvalidRange(scheme.ecosystem, text, f"invalid comparator {comp!r}")
            op = m.group(1) or ""
            if op == "=":
                op = ""
            if not m.group(2):
                return _Comparator("", None, "")
            v = scheme.parse(m.group(2))
            return _Comparator(op, v.key, op + _canonical(v.key))

        raw = RE_WS_RUN.sub(" ", _trim(text))
        sets: list[tuple[_Comparator, ...]] = []
        for part in raw.split("||"):
            comps = [comparator(c) for c in _parse_range(_trim(part))]  # all must parse, even past a null set
            null = next((c for c in comps if c.value == _NULL_SET), None)
            if null is not None:
                sets.append((null,))
                continue
            parsed: dict[str, _Comparator] = {}
            for pc in comps:
                parsed[pc.value] = pc
            if len(parsed) > 1 and "" in parsed:
                del parsed[""]
            if parsed:
                sets.append(tuple(parsed.values()))
        if not sets:
            raise InvalidRange(scheme.ecosystem, text, "empty range")
        if len(sets) > 1:
            first = sets[0]
            sets = [s for s in sets if s[0].value != _NULL_SET]
            if not sets:
                sets = [first]
            elif len(sets) > 1:
                for s in sets:
                    if len(s) == 1 and s[0].value == "":
                        sets = [s]
                        break
        return cls(text, tuple(sets))


def _canonical(key: tuple[object, ...]) -> str:
    major, minor, patch, pre = key
    s = f"{major}.{minor}.{patch}"
    if pre != _RELEASE:
        assert isinstance(pre, tuple)
        s += "-" + ".".join(str(v) for _, v in pre[1])
    return s


def _sub(pattern: re.Pattern[str], fn: Callable[[re.Match[str]], str], s: str) -> str:
    return pattern.sub(fn, s, count=1)


def _hyphen(m: re.Match[str]) -> str:
    frm, f_major, f_minor, f_patch = m.group(1), m.group(2), m.group(3), m.group(4)
    to, t_major, t_minor, t_patch, t_pre = m.group(7), m.group(8), m.group(9), m.group(10), m.group(11)
    if _is_x(f_major):
        frm = ""
    elif _is_x(f_minor):
        frm = f">={f_major}.0.0"
    elif _is_x(f_patch):
        frm = f">={f_major}.{f_minor}.0"
    else:
        frm = f">={frm}"
    if _is_x(t_major):
        to = ""
    elif _is_x(t_minor):
        to = f"<{_inc(t_major)}.0.0-0"
    elif _is_x(t_patch):
        to = f"<{t_major}.{_inc(t_minor)}.0-0"
    elif t_pre:
        to = f"<={t_major}.{t_minor}.{t_patch}-{t_pre}"
    else:
        to = f"<={to}"
    return _trim(f"{frm} {to}")


def _caret(m: re.Match[str]) -> str:
    major, minor, patch, pre = m.group(1), m.group(2), m.group(3), m.group(4)
    if _is_x(major):
        return ""
    if _is_x(minor):
        return f">={major}.0.0 <{_inc(major)}.0.0-0"
    if _is_x(patch):
        if major == "0":
            return f">={major}.{minor}.0 <{major}.{_inc(minor)}.0-0"
        return f">={major}.{minor}.0 <{_inc(major)}.0.0-0"
    low = f">={major}.{minor}.{patch}-{pre}" if pre else f">={major}.{minor}.{patch}"
    if major == "0":
        if minor == "0":
            return f"{low} <{major}.{minor}.{_inc(patch)}-0"
        return f"{low} <{major}.{_inc(minor)}.0-0"
    return f"{low} <{_inc(major)}.0.0-0"


def _tilde(m: re.Match[str]) -> str:
    major, minor, patch, pre = m.group(1), m.group(2), m.group(3), m.group(4)
    if _is_x(major):
        return ""
    if _is_x(minor):
        return f">={major}.0.0 <{_inc(major)}.0.0-0"
    if _is_x(patch):
        return f">={major}.{minor}.0 <{major}.{_inc(minor)}.0-0"
    if pre:
        return f">={major}.{minor}.{patch}-{pre} <{major}.{_inc(minor)}.0-0"
    return f">={major}.{minor}.{patch} <{major}.{_inc(minor)}.0-0"


def _xrange(comp: str) -> str:
    comp = _trim(comp)
    m = RE_XRANGE.match(comp)
    if m is None:
        return comp
    ret, gtlt = m.group(0), m.group(1)
    major, minor, patch = m.group(2), m.group(3), m.group(4)
    if (_is_x(major) and not _is_x(minor)) or (_is_x(minor) and patch and not _is_x(patch)):
        return comp
    x_major = _is_x(major)
    x_minor = x_major or _is_x(minor)
    x_patch = x_minor or _is_x(patch)
    if gtlt == "=" and x_patch:
        gtlt = ""
    pr = ""
    if x_major:
        return "<0.0.0-0" if gtlt in (">", "<") else "*"
    if gtlt and x_patch:
        mi: str | int = 0 if x_minor else (minor or "0")
        ma: str | int = major
        pa: str | int = 0
        if gtlt == ">":
            gtlt = ">="
            if x_minor:
                ma, mi, pa = _inc(ma), 0, 0
            else:
                mi, pa = _inc(mi), 0
        elif gtlt == "<=":
            gtlt = "<"
            if x_minor:
                ma = _inc(ma)
            else:
                mi = _inc(mi)
        if gtlt == "<":
            pr = "-0"
        return f"{gtlt}{ma}.{mi}.{pa}{pr}"
    if x_minor:
        return f">={major}.0.0{pr} <{_inc(major)}.0.0-0"
    if x_patch:
        return f">={major}.{minor}.0{pr} <{major}.{_inc(minor or '0')}.0-0"
    return ret


def _parse_comparator(comp: str) -> str:
    comp = RE_BUILDSTRIP_SAFE.sub("", comp, count=1)
    comp = " ".join(_sub(RE_CARET, _caret, c) for c in _split_ws(_trim(comp)))
    comp = " ".join(_sub(RE_TILDE, _tilde, c) for c in _split_ws(_trim(comp)))
    comp = " ".join(_xrange(c) for c in _split_ws(comp))
    return RE_STAR.sub("", _trim(comp), count=1)


def _parse_range(rng: str) -> list[str]:
    rng = RE_BUILDSTRIP.sub("", rng)
    rng = _sub(RE_HYPHENRANGE, _hyphen, rng)
    rng = RE_COMPARATORTRIM.sub(lambda m: (m.group(1) or "") + (m.group(2) or "") + (m.group(3) or ""), rng)
    rng = RE_TILDETRIM.sub(lambda m: (m.group(1) or "") + "~", rng)
    rng = RE_CARETTRIM.sub(lambda m: (m.group(1) or "") + "^", rng)
    joined = " ".join(_parse_comparator(c) for c in rng.split(" "))
    return [RE_GTE0.sub("", _trim(c), count=1) for c in _split_ws(joined)]
