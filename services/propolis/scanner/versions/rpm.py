"""RPM ``[epoch:]version[-release]`` (EVR) ordering: ``rpmvercmp`` as in rpm's ``rpmio/rpmvercmp.c``.

Written here: the kept PyPI ports (``rpm-vercmp``, ``univers``' ``RpmVersion``) re-run the
character loop on every comparison; this module tokenises once. The tests compare against the
machine's ``rpm`` (``rpm.vercmp`` through ``rpm --eval``) when installed, and always against the
cases in rpm's own ``tests/rpmvercmp.at``.

``rpmvercmp`` skips separators (anything but ASCII letters, digits, ``~`` and ``^``), then
compares segment by segment. ``~`` sorts before everything, even the end of the string; ``^``
sorts after the end but before any segment; a letter segment sorts before a digit segment;
digits compare numerically and letters by ``strcmp``. That is a total order on token lists,
so a version becomes a tuple of ``(class, value)`` tokens closed by an end token.

The EVR split follows rpm's ``parseEVR``: an all-digit prefix before ``:`` is the epoch
(missing or empty = 0), the text after the last ``-`` the release. As rpm 4.18's
``rpm.vercmp`` does, a missing release sorts before any present one.
"""

from __future__ import annotations

import re

from propolis.scanner.versions.interface import Scheme, Version

_TILDE, _END, _CARET, _ALPHA, _NUM = range(5)
_TOKENS = re.compile(r"(~)|(\^)|([A-Za-z]+)|([0-9]+)", re.ASCII)
_END_TOKEN: tuple[int, int] = (_END, 0)


def vercmp_key(s: str) -> tuple[tuple[int, object], ...]:
    """Ordering key of one version or release string under ``rpmvercmp``."""
    out: list[tuple[int, object]] = []
    for m in _TOKENS.finditer(s):
        if m.group(1):
            out.append((_TILDE, 0))
        elif m.group(2):
            out.append((_CARET, 0))
        elif m.group(3):
            out.append((_ALPHA, m.group(3)))
        else:
            out.append((_NUM, int(m.group(4))))
    out.append(_END_TOKEN)
    return tuple(out)


class RpmScheme(Scheme):
    """RPM (``rpm``) EVR versions."""

    ecosystem = "rpm"

    def _parse(self, text: str) -> Version:
        s = text
        if not s:
            raise self.invalid(text, "empty version")
        if not s.isascii() or not s.isprintable() or any(c.isspace() for c in s):
            raise self.invalid(text, "only printable ASCII without whitespace is allowed")
        epoch = 0
        head, colon, tail = s.partition(":")
        if colon:
            if head and not head.isdigit():
                raise self.invalid(text, "':' may only follow a numeric epoch")
            epoch = int(head) if head else 0
            s = tail
            if ":" in s:
                raise self.invalid(text, "more than one ':'")
        version, dash, release = s.rpartition("-")
        if not dash:
            version, release_key = s, None
        else:
            if not release:
                raise self.invalid(text, "empty release after '-'")
            release_key = vercmp_key(release)
        if not version:
            raise self.invalid(text, "empty version")
        rel = (0,) if release_key is None else (1, release_key)
        return Version(self.ecosystem, text, (epoch, vercmp_key(version), rel))
