"""What every scan-result format renders: one :class:`ScanReport`, and the helpers they share.

A report is the outcome of ``propolis scan``: the image, the advisory index it was judged
against, the findings left after the filters (sorted most severe first) and the ``ci`` decision.
Formats turn it into bytes (``render``); none of them decides anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import msgspec

from propolis.scanner.catalogue import Catalogue
from propolis.scanner.domain.findings import SEVERITIES, Finding, FixState, severity_rank


class ImageSummary(msgspec.Struct, kw_only=True):
    """The scanned image (or SBOM) as the report names it."""

    reference: str
    manifest_digest: str = ""
    os: str = ""
    layers: int = 0
    packages: int = 0
    #: Some layer or package database could not be read fully; ``issues`` says which.
    partial: bool = False
    issues: list[str] = []


class DbSummary(msgspec.Struct, kw_only=True):
    """Which advisory index judged the image, so a result can be reproduced or questioned."""

    path: str
    schema_version: int
    built_at: str
    advisories: int
    sources: list[str] = []


class DecisionSummary(msgspec.Struct, kw_only=True):
    """The ``ci`` decision as the report carries it (allow, why, and which bundle said so)."""

    allow: bool
    reasons: list[str] = []
    warnings: list[str] = []
    blocking_findings: list[str] = []
    revision: str = ""
    decision_id: str = ""
    #: ``evaluated``, or the declared fallback that applied (``undefined_fallback``, ``error_fallback``).
    outcome: str = "evaluated"


class Filters(msgspec.Struct, frozen=True, kw_only=True):
    #: Severities kept; empty means all.
    severities: list[str] = []
    ignore_unfixed: bool = False


class ScanReport(msgspec.Struct, kw_only=True):
    image: ImageSummary
    db: DbSummary
    findings: list[Finding] = []
    filters: Filters = Filters()
    decision: DecisionSummary | None = None
    #: Why matching may be incomplete (an OS release or ecosystem without data, advisory data that
    #: does not parse).
    issues: list[str] = []
    #: RFC 3339 UTC time of the scan (also the ``now`` the decision was taken at).
    scanned_at: str = ""
    #: The packages found; CycloneDX lists them as components. Not part of the JSON output.
    catalogue: Catalogue | None = None


@runtime_checkable
class ReportFormat(Protocol):
    #: The name given to ``propolis scan --format``.
    name: str

    def render(self, report: ScanReport) -> bytes:
        """The whole document, encoded as UTF-8."""
        ...


# ---------------------------------------------------------------------------
# Filters and order
# ---------------------------------------------------------------------------

#: States in which no fix can be installed: what ``--ignore-unfixed`` drops. Unverifiable findings
#: stay: the installed version could not be compared, so dropping them would hide a possible hit.
NO_FIX_STATES = frozenset({FixState.UNFIXED, FixState.WILL_NOT_FIX, FixState.END_OF_LIFE})


def parse_severities(text: str) -> list[str]:
    """``"LOW,high"`` → ``["high", "low"]`` (most severe first); ValueError names a bad label."""
    out: set[str] = set()
    for part in text.split(","):
        label = part.strip().lower()
        if not label:
            continue
        if label not in SEVERITIES:
            raise ValueError(f"unknown severity {part.strip()!r}: choose from {', '.join(SEVERITIES)}")
        out.add(label)
    if not out and text.strip():
        raise ValueError(f"no severity in {text!r}: choose from {', '.join(SEVERITIES)}")
    return sorted(out, key=severity_rank)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then highest CVSS score, then package and id (stable output to diff)."""
    return sorted(findings, key=lambda f: (severity_rank(f.severity), -(f.cvss_score or 0.0), f.package.name,
                                           f.installed_version, f.id, f.path))


def filter_findings(findings: Iterable[Finding], severities: Sequence[str] = (),
                    ignore_unfixed: bool = False) -> list[Finding]:
    """The findings a report shows (and the ``ci`` decision judges), sorted by :func:`sort_findings`."""
    keep = set(severities)
    return sort_findings(f for f in findings
                         if (not keep or f.severity in keep) and not (ignore_unfixed and f.state in NO_FIX_STATES))


def summary(findings: Sequence[Finding]) -> dict[str, int]:
    """Counts per severity (every label present, zero included), plus ``total`` and ``fixable``."""
    counts = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        counts[f.severity if f.severity in counts else "unknown"] += 1
    counts["total"] = len(findings)
    counts["fixable"] = sum(1 for f in findings if f.fixable)
    return counts


# ---------------------------------------------------------------------------
# Shared text helpers
# ---------------------------------------------------------------------------

_SHELL_PREFIX = re.compile(r"^(?:/bin/(?:ba)?sh -c\s+)?(?:#\(nop\)\s*)?")


def short_created_by(created_by: str, width: int = 48) -> str:
    """A layer's ``created_by`` for one table cell: no ``/bin/sh -c #(nop)`` noise, one line, cut."""
    text = " ".join(_SHELL_PREFIX.sub("", created_by.strip()).split())
    return text if len(text) <= width else text[:width - 1] + "…"


def layer_label(f: Finding, width: int = 48) -> str:
    """The layer that introduced the package: its command, else its diff_id/digest, shortened."""
    if f.layer.created_by:
        return short_created_by(f.layer.created_by, width)
    return (f.layer.diff_id or f.layer.digest)[:19]


def advisory_url(advisory_id: str) -> str:
    """A public page describing the advisory (used as SARIF helpUri and CycloneDX source URL)."""
    if advisory_id.startswith("GHSA-"):
        return f"https://github.com/advisories/{advisory_id}"
    if advisory_id.startswith("CVE-"):
        return f"https://nvd.nist.gov/vuln/detail/{advisory_id}"
    if advisory_id.startswith(("DSA-", "DLA-")):
        return f"https://security-tracker.debian.org/tracker/{advisory_id}"
    return f"https://osv.dev/vulnerability/{advisory_id}"


def report_json(report: ScanReport) -> dict[str, Any]:
    """The report as plain JSON data (what ``--format json`` writes), without the catalogue."""
    data: dict[str, Any] = msgspec.to_builtins(msgspec.structs.replace(report, catalogue=None))
    return {"scanned_at": data["scanned_at"], "image": data["image"], "db": data["db"], "filters": data["filters"],
            "summary": summary(report.findings), "decision": data["decision"], "issues": data["issues"],
            "findings": data["findings"]}
