"""CVSS base scores from vector strings (v2, v3.x, v4) with the ``cvss`` package."""

from __future__ import annotations

from functools import lru_cache

from cvss import CVSS2, CVSS3, CVSS4
from cvss.exceptions import CVSSError


@lru_cache(maxsize=4096)
def cvss_base(vector: str) -> tuple[float, str | None] | None:
    """(base score, qualitative label) or None when the vector does not parse.

    Thousands of advisories share a few hundred vectors, hence the cache.
    """
    v = vector.strip()
    try:
        if v.startswith("CVSS:4"):
            c4 = CVSS4(v)
            return float(c4.base_score), _label(str(c4.severity))
        if v.startswith("CVSS:3"):
            c3 = CVSS3(v)
            return float(c3.base_score), _label(c3.severities()[0])
        c2 = CVSS2(v)
        return float(c2.base_score), _label(c2.severities()[0])
    except (CVSSError, ValueError, KeyError, IndexError, TypeError, ArithmeticError):
        return None


def _label(name: str) -> str | None:
    n = name.strip().upper()
    return n if n in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "NONE") else None
