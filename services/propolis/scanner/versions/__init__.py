"""Exact version semantics per ecosystem, for matching packages against advisories.

``get_scheme("deb").parse("1:2.3~rc1-4")`` parses once into a totally ordered
:class:`~propolis.scanner.versions.interface.Version`; ``scheme.constraint(text)`` parses an
ecosystem's native range syntax; :mod:`propolis.scanner.versions.osv` evaluates OSV
``introduced``/``fixed``/``last_affected``/``limit`` events and explicit version lists.
"""

from propolis.scanner.versions.interface import Constraint, InvalidRange, InvalidVersion, Scheme, Version
from propolis.scanner.versions.osv import OsvAffected, OsvRange, is_affected
from propolis.scanner.versions.registry import UnknownEcosystem, canonical_ecosystem, ecosystems, get_scheme

__all__ = [
    "Constraint",
    "InvalidRange",
    "InvalidVersion",
    "OsvAffected",
    "OsvRange",
    "Scheme",
    "UnknownEcosystem",
    "Version",
    "canonical_ecosystem",
    "compare",
    "ecosystems",
    "get_scheme",
    "is_affected",
    "parse",
]


def parse(ecosystem: str, text: str) -> Version:
    """Parse ``text`` as a version of ``ecosystem`` (purl type or OSV ecosystem name)."""
    return get_scheme(ecosystem).parse(text)


def compare(ecosystem: str, a: str | Version, b: str | Version) -> int:
    """-1, 0 or 1 as ``a`` sorts before, equal to or after ``b`` in ``ecosystem``."""
    return get_scheme(ecosystem).compare(a, b)
