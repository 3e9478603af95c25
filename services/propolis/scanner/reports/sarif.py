"""SARIF 2.1.0: one rule per advisory, one result per finding, for GitHub code scanning and other
SARIF consumers.

GitHub ranks security results by ``properties.security-severity`` (a CVSS score as a string);
when an advisory has no CVSS score the severity label's usual score stands in, and an unrated
advisory gets none. A result is located at the package's metadata file inside the image (relative
to the ``IMAGEROOT`` base, the image's root filesystem); the image reference is in ``properties``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from propolis import __version__
from propolis.scanner.domain.findings import Finding, severity_rank
from propolis.scanner.reports.interface import ScanReport, advisory_url, layer_label

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

#: Score used for ``security-severity`` when the advisory has a label but no CVSS score.
LABEL_SCORE = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0", "negligible": "0.1"}

_LEVEL = {"critical": "error", "high": "error", "medium": "warning"}


def level(severity: str) -> str:
    """SARIF level from a severity label: error for critical/high, warning for medium, else note."""
    return _LEVEL.get(severity, "note")


def security_severity(f: Finding) -> str | None:
    if f.cvss_score is not None:
        return f"{f.cvss_score:.1f}"
    return LABEL_SCORE.get(f.severity)


def _uri(f: Finding) -> str:
    if f.path:
        return quote(f.path.lstrip("/"), safe="/")
    return f.package.purl or f.package.name


def _fixed_text(f: Finding) -> str:
    return f"fixed in {f.fixed_version}" if f.fixed_version else f"no fix available ({f.state})"


def _rule(f: Finding) -> dict[str, Any]:
    """The rule for an advisory, from its most severe finding (the first in the sorted report)."""
    title = f.title or f.id
    aliases = ", ".join(f.aliases) or "none"
    help_text = (f"Vulnerability {f.id} ({f.severity}"
                 + (f", CVSS {f.cvss_score:.1f}" if f.cvss_score is not None else "")
                 + f")\nAliases: {aliases}\nPackage: {f.package.name} {f.installed_version}, {_fixed_text(f)}\n"
                 + f"Details: {advisory_url(f.id)}")
    help_md = ("| Package | Installed | Fixed | Severity | Aliases |\n| --- | --- | --- | --- | --- |\n"
               f"| {f.package.name} | {f.installed_version} | {f.fixed_version or f.state} | {f.severity} | {aliases} |"
               f"\n\n[{f.id}]({advisory_url(f.id)})")
    props: dict[str, Any] = {"tags": ["vulnerability", "security", f.severity], "precision": "very-high"}
    score = security_severity(f)
    if score is not None:
        props["security-severity"] = score
    return {
        "id": f.id,
        "name": "PackageVulnerability",
        "shortDescription": {"text": f"{f.id}: {title}"[:1024]},
        "fullDescription": {"text": title},
        "helpUri": advisory_url(f.id),
        "help": {"text": help_text, "markdown": help_md},
        "defaultConfiguration": {"level": level(f.severity)},
        "properties": props,
    }


def _result(f: Finding, rule_index: int, report: ScanReport) -> dict[str, Any]:
    message = (f"{f.package.name} {f.installed_version} is affected by {f.id} ({f.severity}); {_fixed_text(f)}."
               + (f" Layer: {layer_label(f, 80)}." if f.layer.created_by or f.layer.diff_id else ""))
    props: dict[str, Any] = {
        "image": report.image.reference,
        "imageDigest": report.image.manifest_digest,
        "purl": f.package.purl,
        "installedVersion": f.installed_version,
        "fixedVersion": f.fixed_version,
        "state": f.state,
        "aliases": list(f.aliases),
        "layerDiffId": f.layer.diff_id,
        "layerDigest": f.layer.digest,
    }
    return {
        "ruleId": f.id,
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": {"text": message},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": _uri(f), "uriBaseId": "IMAGEROOT"},
                "region": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1},
            },
            "message": {"text": f"{f.package.purl or f.package.name} in {report.image.reference}"},
        }],
        "properties": props,
    }


class SarifReport:
    name = "sarif"

    def document(self, report: ScanReport) -> dict[str, Any]:
        rules: list[dict[str, Any]] = []
        index: dict[str, int] = {}
        # most severe first, so each rule is described by its worst finding
        for f in sorted(report.findings, key=lambda f: (severity_rank(f.severity), -(f.cvss_score or 0.0))):
            if f.id not in index:
                index[f.id] = len(rules)
                rules.append(_rule(f))
        results = [_result(f, index[f.id], report) for f in report.findings]
        run: dict[str, Any] = {
            "tool": {"driver": {"name": "Propolis", "version": __version__, "semanticVersion": __version__,
                                "rules": rules}},
            "originalUriBaseIds": {"IMAGEROOT": {
                "uri": "file:///", "description": {"text": f"root filesystem of {report.image.reference}"}}},
            "results": results,
            "properties": {"image": report.image.reference, "imageDigest": report.image.manifest_digest,
                           "vulnerabilityDatabase": report.db.path, "vulnerabilityDatabaseBuiltAt": report.db.built_at},
        }
        if report.decision is not None:
            run["properties"]["decision"] = {"allow": report.decision.allow, "reasons": report.decision.reasons,
                                             "revision": report.decision.revision}
        return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}

    def render(self, report: ScanReport) -> bytes:
        return json.dumps(self.document(report), indent=2).encode() + b"\n"
