"""Python package versions (PEP 440) and specifier sets.

Uses ``packaging`` (already a Propolis dependency and the reference implementation pip uses):
it is exact by definition, normalises non-canonical spellings (``1.0.0-RC1`` == ``1.0.0rc1``,
``v2`` == ``2``) and its ``Version`` objects carry a precomputed comparison key, so they serve
as ordering keys directly. Specifiers use ``packaging.specifiers.SpecifierSet``; since an
advisory's range covers pre-releases inside it, pre-releases are always admitted
(``prereleases=True``). ``||`` joins alternative specifier sets, as some advisories write them.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion as PackagingInvalidVersion
from packaging.version import Version as PackagingVersion

from propolis.scanner.versions.interface import InvalidRange, Scheme, Version


class PypiScheme(Scheme):
    """PyPI (``pypi``) versions."""

    ecosystem = "pypi"

    def _parse(self, text: str) -> Version:
        try:
            v = PackagingVersion(text)
        except PackagingInvalidVersion as exc:
            raise self.invalid(text, "not a PEP 440 version") from exc
        return Version(self.ecosystem, text, v)

    def _constraint(self, text: str) -> PypiSpecifiers:
        alternatives = []
        for part in text.split("||"):
            try:
                alternatives.append(SpecifierSet(part.strip(), prereleases=True))
            except InvalidSpecifier as exc:
                raise InvalidRange(self.ecosystem, text, f"invalid PEP 440 specifier {part.strip()!r}") from exc
        return PypiSpecifiers(text, tuple(alternatives))


@dataclass(frozen=True, slots=True)
class PypiSpecifiers:
    """One or more PEP 440 specifier sets; a version inside any of them matches."""

    text: str
    alternatives: tuple[SpecifierSet, ...]

    def contains(self, version: Version) -> bool:
        v = version.key
        return any(s.contains(v, prereleases=True) for s in self.alternatives)
