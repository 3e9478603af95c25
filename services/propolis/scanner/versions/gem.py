"""RubyGems versions (``Gem::Version``) and requirements (``Gem::Requirement``).

Written here: no kept PyPI library reproduces ``Gem::Version#<=>`` (``univers``' ``RubygemsVersion``
is a port of an older RubyGems without canonical segments). The rules, from RubyGems'
``version.rb``: a version matches ``[0-9]+(\\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?``
(surrounding whitespace allowed, blank means ``0``); ``-`` is read as ``.pre.``; segments are runs
of digits or letters; trailing zeros are dropped from the numeric part and from the part after
the first letter segment (``canonical_segments``); then segments compare pairwise, a missing one
counting as ``0``, letters before numbers, strings by byte order. So ``1.0.a`` < ``1.0`` and
``1.0`` == ``1``.

Key: the implicit ``0`` padding makes prefix comparison wrong when a shorter version meets
zeros followed by a letter segment (``1.a`` > ``1.a.0.b``). A zero is therefore encoded by what
follows it (a letter segment or a number), and the end of the version sits between the two, so
plain tuple comparison gives RubyGems' answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from propolis.scanner.versions.interface import InvalidRange, Scheme, Version

_RUBY_WS = " \t\r\n\f\v"
_VERSION = r"[0-9]+(?>\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
_ANCHORED = re.compile(rf"[{_RUBY_WS}]*({_VERSION})?[{_RUBY_WS}]*\Z", re.ASCII)
_SEGMENT = re.compile(r"[0-9]+|[a-z]+", re.ASCII | re.IGNORECASE)
_REQUIREMENT = re.compile(rf"[{_RUBY_WS}]*(=|!=|>=|>|<=|<|~>)?[{_RUBY_WS}]*({_VERSION})[{_RUBY_WS}]*\Z", re.ASCII)

_STRING, _ZERO_THEN_STRING, _END, _ZERO_THEN_NUMBER, _NUMBER = range(5)
_END_TOKEN = (_END,)


def segments(version: str) -> list[int | str]:
    """``Gem::Version#segments`` of an already normalised version string."""
    return [int(s) if s.isdigit() else s for s in _SEGMENT.findall(version)]


def canonical_segments(segs: list[int | str]) -> list[int | str]:
    first_string = next((i for i, s in enumerate(segs) if isinstance(s, str)), len(segs))
    numeric, rest = segs[:first_string], segs[first_string:]
    while numeric and numeric[-1] == 0:
        numeric.pop()
    while rest and rest[-1] == 0:
        rest.pop()
    return numeric + rest


def _key(canon: list[int | str]) -> tuple[tuple[Any, ...], ...]:
    out: list[tuple[Any, ...]] = []
    following = _END  # what the next non-zero segment is, scanning from the end
    for s in reversed(canon):
        if isinstance(s, str):
            out.append((_STRING, s))
            following = _STRING
        elif s == 0:
            out.append((_ZERO_THEN_STRING,) if following == _STRING else (_ZERO_THEN_NUMBER,))
        else:
            out.append((_NUMBER, s))
            following = _NUMBER
    out.reverse()
    out.append(_END_TOKEN)
    return tuple(out)


class GemScheme(Scheme):
    """RubyGems (``gem``) versions and requirements."""

    ecosystem = "gem"

    def _parse(self, text: str) -> Version:
        m = _ANCHORED.match(text)
        if m is None:
            raise self.invalid(text, "malformed version number string")
        normalised = (m.group(1) or "0").replace("-", ".pre.")
        canon = canonical_segments(segments(normalised))
        return Version(self.ecosystem, text, _key(canon))

    def _constraint(self, text: str) -> GemRequirement:
        reqs: list[tuple[str, Version, Any]] = []
        for part in text.split(","):
            m = _REQUIREMENT.match(part)
            if m is None:
                raise InvalidRange(self.ecosystem, text, f"illformed requirement {part.strip()!r}")
            op = m.group(1) or "="
            v = self.parse(m.group(2))
            bump = None
            if op == "~>":
                bump = self.parse(_bump(m.group(2))).key
            reqs.append((op, v, bump))
        return GemRequirement(text, tuple(reqs))


def _release(key: tuple[tuple[Any, ...], ...]) -> tuple[tuple[Any, ...], ...]:
    """Key of ``Gem::Version#release``: everything from the first letter segment dropped."""
    out: list[tuple[Any, ...]] = []
    for tok in key:
        if tok[0] in (_STRING, _END):
            break
        out.append(tok)
    # zeros kept before a dropped letter segment become trailing zeros: drop them too
    while out and out[-1][0] in (_ZERO_THEN_STRING, _ZERO_THEN_NUMBER):
        out.pop()
    out.append(_END_TOKEN)
    return tuple(out)


def _bump(version: str) -> str:
    """``Gem::Version#bump``: drop letter segments and the last segment, increment the new last."""
    segs = segments(version.strip(_RUBY_WS).replace("-", ".pre.") or "0")
    while any(isinstance(s, str) for s in segs):
        segs.pop()
    if len(segs) > 1:
        segs.pop()
    last = segs[-1]
    assert isinstance(last, int)
    segs[-1] = last + 1
    return ".".join(str(s) for s in segs)


@dataclass(frozen=True, slots=True)
class GemRequirement:
    """``Gem::Requirement``: every listed requirement must hold."""

    text: str
    requirements: tuple[tuple[str, Version, Any], ...]

    def contains(self, version: Version) -> bool:
        k = version.key
        for op, req, bump in self.requirements:
            r = req.key
            if op == "=":
                ok = k == r
            elif op == "!=":
                ok = k != r
            elif op == ">":
                ok = k > r
            elif op == "<":
                ok = k < r
            elif op == ">=":
                ok = k >= r
            elif op == "<=":
                ok = k <= r
            else:  # "~>"
                ok = k >= r and _release(k) < bump
            if not ok:
                return False
        return True
