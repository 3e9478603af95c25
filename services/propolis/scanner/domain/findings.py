"""Vulnerability findings: what matching a catalogue against the advisory index produces.

One :class:`Finding` per (advisory, package, location), after aliases are merged (a CVE, its
GHSA, its PYSEC id and a DSA naming it are one finding whose ``aliases`` hold the other ids).
These structs are what reports store, what ``ListFindings`` and the ``ci`` policy see, and what
the output formats (table, JSON, SARIF, CycloneDX) render.
"""

from __future__ import annotations

from typing import Final

import msgspec

#: Severity labels, most severe first (the order reports sort by).
SEVERITIES: Final = ("critical", "high", "medium", "low", "negligible", "unknown")


class FixState:
    """Whether and how the installed package can be fixed."""

    #: A fixed version exists (``Finding.fixed_version``).
    FIXED: Final = "fixed"
    #: Affected, and no fix is published yet.
    UNFIXED: Final = "unfixed"
    #: Affected; the distribution decided not to fix it in this release (no-dsa, ignored, postponed).
    WILL_NOT_FIX: Final = "will-not-fix"
    #: Affected; the release or package is no longer supported by the distribution.
    END_OF_LIFE: Final = "end-of-life"
    #: The installed version does not parse in its ecosystem, so it could not be compared: the
    #: advisory names this package and it may or may not apply (never silently dropped).
    UNVERIFIABLE: Final = "unverifiable"

    ALL: Final = (FIXED, UNFIXED, WILL_NOT_FIX, END_OF_LIFE, UNVERIFIABLE)


class FindingPackage(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    version: str
    purl: str
    #: purl type: deb, apk, rpm, pypi, npm, golang, maven, gem, cargo, composer.
    ecosystem: str
    #: Source package matched for OS packages (dpkg ``Source:``, apk origin, rpm SRPM name).
    source_name: str = ""


class FindingLayer(msgspec.Struct, frozen=True, kw_only=True):
    digest: str = ""
    diff_id: str = ""
    created_by: str = ""


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    #: The advisory id reported (a CVE when the merged group has one, else the source's id).
    id: str
    #: Every other id of the same vulnerability (GHSA, PYSEC, DSA/DLA, ...), sorted.
    aliases: list[str] = []
    #: One of :data:`SEVERITIES`.
    severity: str = "unknown"
    cvss_score: float | None = None
    cvss_vector: str = ""
    package: FindingPackage
    installed_version: str
    #: First fixed version above the installed one; empty when there is none.
    fixed_version: str = ""
    #: One of :class:`FixState`.
    state: str = FixState.FIXED
    layer: FindingLayer = FindingLayer()
    #: Where the package was found in the image (its metadata file).
    path: str = ""
    title: str = ""
    #: Sources the merged advisories came from, e.g. ["osv"], ["debian-dsa", "debian-tracker"].
    data_sources: list[str] = []
    #: Why the finding is what it is, when not obvious (e.g. the parse error of an unverifiable one).
    note: str = ""

    @property
    def fixable(self) -> bool:
        return bool(self.fixed_version) and self.state == FixState.FIXED


def severity_rank(severity: str) -> int:
    """0 for critical … 5 for unknown (sort key: most severe first)."""
    try:
        return SEVERITIES.index(severity)
    except ValueError:
        return len(SEVERITIES) - 1
