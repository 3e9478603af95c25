"""Debian package versions (``[epoch:]upstream[-revision]``), Debian Policy 5.6.12.

Written here rather than taken from a library: ``python-debian``'s ``Version`` and
``univers``' ``DebianVersion`` both compare with a per-call character loop; this module turns the
policy algorithm (dpkg's ``verrevcmp``) into a tuple key once, so comparisons are plain tuple
comparisons. Agreement with ``dpkg --compare-versions`` is checked by the tests.

Key layout. ``verrevcmp`` alternates a non-digit run (compared character by character with
``~`` < end < letters < everything else) and a digit run (compared numerically). Each run pair
becomes ``((orders..., 0), int)``; the trailing ``0`` is the end-of-run order, so a shorter run
compares as dpkg pads it. dpkg pads a version that ends early with empty pairs; one empty pair
closes every key. Only the first pair can itself be empty (a version starting with zeros, or an
empty revision, which gets one), so the closing pair always meets a pair with a non-empty
non-digit run, where it decides exactly as dpkg's padding does (``1.0~`` < ``1.0`` < ``1.0.0``).

Accepted syntax is dpkg's warning-free syntax: the epoch is decimal, the upstream part starts
with a digit and holds only alphanumerics and ``.+-~:``, the revision (after the last hyphen)
only alphanumerics and ``.+~``. Surrounding whitespace is ignored, as dpkg does.
"""

from __future__ import annotations

import re

from propolis.scanner.versions.interface import Scheme, Version

_UPSTREAM_OK = re.compile(r"[0-9][A-Za-z0-9.+~:-]*\Z", re.ASCII)
_REVISION_OK = re.compile(r"[A-Za-z0-9.+~]+\Z", re.ASCII)
_RUNS = re.compile(r"([^0-9]*)([0-9]*)", re.ASCII)
_PAD: tuple[tuple[int, ...], int] = ((0,), 0)
_INT_MAX = 2**31 - 1


def _order(c: str) -> int:
    if c.isalpha():
        return ord(c)
    if c == "~":
        return -1
    return ord(c) + 256


_ORDER = {chr(i): _order(chr(i)) for i in range(128)}


def part_key(s: str) -> tuple[tuple[tuple[int, ...], int], ...]:
    """Ordering key of an upstream version or revision under dpkg's ``verrevcmp``."""
    out: list[tuple[tuple[int, ...], int]] = []
    pos = 0
    n = len(s)
    while pos < n:
        m = _RUNS.match(s, pos)
        assert m is not None
        nondigit, digits = m.group(1), m.group(2)
        out.append((tuple([_ORDER[c] for c in nondigit] + [0]), int(digits) if digits else 0))
        pos = m.end()
    if not out:
        out.append(_PAD)  # "" compares like "0": one empty run pair
    out.append(_PAD)
    return tuple(out)


class DpkgScheme(Scheme):
    """Debian (``deb``) versions."""

    ecosystem = "deb"

    def _parse(self, text: str) -> Version:
        s = text.strip(" \t\n\r\f\v")
        if not s:
            raise self.invalid(text, "version string is empty")
        if any(c.isspace() for c in s):
            raise self.invalid(text, "version string has embedded spaces")
        if not s.isascii():
            raise self.invalid(text, "non-ASCII character")
        epoch = 0
        rest = s
        if ":" in s:
            e, rest = s.split(":", 1)
            if not e:
                raise self.invalid(text, "epoch in version is empty")
            if not e.isdigit():
                raise self.invalid(text, "epoch in version is not number")
            epoch = int(e)
            if epoch > _INT_MAX:
                raise self.invalid(text, "epoch in version is too big")
            if not rest:
                raise self.invalid(text, "nothing after colon in version number")
        upstream, sep, revision = rest.rpartition("-")
        if not sep:
            upstream, revision = rest, ""
        elif not revision:
            raise self.invalid(text, "revision number is empty")
        if not upstream:
            raise self.invalid(text, "version number is empty")
        if not _UPSTREAM_OK.match(upstream):
            if not upstream[0].isdigit():
                raise self.invalid(text, "version number does not start with digit")
            raise self.invalid(text, "invalid character in version number")
        if revision and not _REVISION_OK.match(revision):
            raise self.invalid(text, "invalid character in revision number")
        return Version(self.ecosystem, text, (epoch, part_key(upstream), part_key(revision)))
