"""Alpine ``apk`` package versions, following apk-tools' ``src/version.c``.

Written here because no kept PyPI library implements apk-tools' current algorithm (``univers``'
``AlpineLinuxVersion`` predates commit-hash tokens and the leading-zero string sort). The grammar
is ``digit{.digit}...{letter}{_suf{#}}...{~hash}{-r#}``; a version apk-tools would not validate is
rejected, because apk orders invalid versions arbitrarily.

apk compares token by token. While both sides have the same token type the values decide
(numbers numerically, except that a dotted number with a leading zero on either side is
compared as a string; suffixes by ``alpha<beta<pre<rc<(none)<cvs<svn<git<hg<p``). At the first
token-type mismatch the side with a pre-release suffix is older, otherwise the side whose token
type comes later in the grammar is older (so ``1.2`` < ``1.2.1`` and ``1.2-r1`` > ``1.2``). Each
token therefore becomes ``(rank, value)`` where the rank encodes that mismatch rule and the value
only meets values of the same token type.
"""

from __future__ import annotations

import re

from propolis.scanner.versions.interface import Scheme, Version

_INITIAL, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NO, _HASH, _REVISION, _END = range(8)
_SUFFIXES = {"alpha": 1, "beta": 2, "pre": 3, "rc": 4, "cvs": 6, "svn": 7, "git": 8, "hg": 9, "p": 10}
_SUFFIX_NONE = 5
_PRE_RANK = -1  # a pre-release suffix loses every type mismatch
_DIGITS = re.compile(r"[0-9]*", re.ASCII)
_LOWER = re.compile(r"[a-z]*", re.ASCII)
_HEX = re.compile(r"[0-9a-f]*", re.ASCII)


def _rank(token: int) -> int:
    return 10 - token


class ApkScheme(Scheme):
    """Alpine (``apk``) versions."""

    ecosystem = "apk"

    def _parse(self, text: str) -> Version:
        s = text
        n = len(s)
        m = _DIGITS.match(s, 0)
        assert m is not None
        if not m.group():
            raise self.invalid(text, "must start with a digit")
        key: list[tuple[int, object]] = [(_rank(_INITIAL), int(m.group()))]
        tok = _INITIAL
        i = m.end()
        while i < n:
            c = s[i]
            if "a" <= c <= "z":
                if tok > _DIGIT:
                    raise self.invalid(text, f"letter {c!r} not allowed here")
                key.append((_rank(_LETTER), c))
                tok = _LETTER
                i += 1
            elif c == "." or "0" <= c <= "9":
                if c == ".":
                    if tok > _DIGIT:
                        raise self.invalid(text, "'.' not allowed after a letter or suffix")
                    i += 1
                if tok in (_INITIAL, _DIGIT):
                    new = _DIGIT
                elif tok == _SUFFIX:
                    new = _SUFFIX_NO
                else:
                    raise self.invalid(text, "digit not allowed here")
                m = _DIGITS.match(s, i)
                assert m is not None
                digits = m.group()
                if not digits:
                    raise self.invalid(text, "expected digits")
                if new == _DIGIT:
                    value: object = (0, digits) if digits[0] == "0" else (1, int(digits))
                else:
                    value = int(digits)
                key.append((_rank(new), value))
                tok = new
                i = m.end()
            elif c == "_":
                if tok > _SUFFIX_NO:
                    raise self.invalid(text, "'_' suffix not allowed here")
                m = _LOWER.match(s, i + 1)
                assert m is not None
                suffix = _SUFFIXES.get(m.group())
                if suffix is None:
                    raise self.invalid(text, f"unknown suffix {m.group()!r}")
                key.append((_PRE_RANK if suffix < _SUFFIX_NONE else _rank(_SUFFIX), suffix))
                tok = _SUFFIX
                i = m.end()
            elif c == "~":
                if tok >= _HASH:
                    raise self.invalid(text, "'~' commit hash not allowed here")
                m = _HEX.match(s, i + 1)
                assert m is not None
                if not m.group():
                    raise self.invalid(text, "empty commit hash")
                key.append((_rank(_HASH), m.group()))
                tok = _HASH
                i = m.end()
            elif c == "-":
                if tok >= _REVISION or not s.startswith("-r", i):
                    raise self.invalid(text, "'-' must introduce the one '-r<number>' release")
                m = _DIGITS.match(s, i + 2)
                assert m is not None
                if not m.group():
                    raise self.invalid(text, "empty release number")
                key.append((_rank(_REVISION), int(m.group())))
                tok = _REVISION
                i = m.end()
            else:
                raise self.invalid(text, f"unexpected character {c!r}")
        key.append((_rank(_END), 0))
        return Version(self.ecosystem, text, tuple(key))
