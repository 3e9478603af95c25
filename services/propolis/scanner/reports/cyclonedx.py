"""CycloneDX 1.6 with vulnerabilities: the image's SBOM (``propolis sbom --format cyclonedx``) plus
one ``vulnerabilities`` entry per finding, whose ``affects`` points at the package's component.

Built on the SBOM renderer so a VEX-aware consumer sees the same components, bom-refs and layer
properties as in the plain SBOM. Findings without a fix carry an ``analysis``: ``in_triage`` with
the response that says why nothing can be upgraded (``can_not_fix`` / ``will_not_fix``).
"""

from __future__ import annotations

import json
from typing import Any

from propolis.scanner.catalogue import Catalogue
from propolis.scanner.domain.findings import Finding, FixState
from propolis.scanner.formats.cyclonedx import CycloneDXFormat
from propolis.scanner.formats.interface import LAYER_DIFF_ID, LAYER_DIGEST, LOCATION_PATH
from propolis.scanner.reports.interface import ScanReport, advisory_url

_SEVERITY = {"critical": "critical", "high": "high", "medium": "medium", "low": "low", "negligible": "info",
             "unknown": "unknown"}

#: analysis.response and detail for findings that cannot be fixed by upgrading.
_NO_FIX: dict[str, tuple[str, str]] = {
    FixState.UNFIXED: ("can_not_fix", "No fixed version is published yet."),
    FixState.WILL_NOT_FIX: ("will_not_fix", "The distribution decided not to fix this in this release."),
    FixState.END_OF_LIFE: ("can_not_fix", "The release or package is no longer supported by the distribution."),
}


def _method(vector: str) -> str:
    if vector.startswith("CVSS:3.1/"):
        return "CVSSv31"
    if vector.startswith("CVSS:3.0/"):
        return "CVSSv3"
    if vector.startswith("CVSS:4.0/"):
        return "CVSSv4"
    if vector.startswith("AV:"):
        return "CVSSv2"
    return "other"


def _source(f: Finding) -> dict[str, str]:
    return {"name": ", ".join(f.data_sources) or "propolis-vulndb", "url": advisory_url(f.id)}


def _rating(f: Finding) -> dict[str, Any]:
    rating: dict[str, Any] = {"source": _source(f), "severity": _SEVERITY.get(f.severity, "unknown")}
    if f.cvss_score is not None:
        rating["score"] = f.cvss_score
    if f.cvss_vector:
        rating["method"] = _method(f.cvss_vector)
        rating["vector"] = f.cvss_vector
    return rating


def _vulnerability(f: Finding, ref: str, n: int) -> dict[str, Any]:
    v: dict[str, Any] = {
        "bom-ref": f"vulnerability:{n}:{f.id}",
        "id": f.id,
        "source": _source(f),
        "ratings": [_rating(f)],
        "affects": [{"ref": ref, "versions": [{"version": f.installed_version, "status": "affected"}]}],
    }
    if f.aliases:
        v["references"] = [{"id": a, "source": {"url": advisory_url(a)}} for a in f.aliases]
    if f.title:
        v["description"] = f.title
    if f.fixed_version and f.state == FixState.FIXED:
        v["recommendation"] = f"Upgrade to {f.fixed_version}"
        v["analysis"] = {"response": ["update"], "detail": f"Fixed in {f.package.name} {f.fixed_version}."}
    elif f.state in _NO_FIX:
        response, detail = _NO_FIX[f.state]
        v["analysis"] = {"state": "in_triage", "response": [response], "detail": detail}
    elif f.state == FixState.UNVERIFIABLE:
        v["analysis"] = {"state": "in_triage", "detail": f.note or "The installed version could not be compared."}
    props = [{"name": "propolis:finding:state", "value": f.state}]
    if f.path:
        props.append({"name": LOCATION_PATH, "value": f.path})
    if f.layer.diff_id:
        props.append({"name": LAYER_DIFF_ID, "value": f.layer.diff_id})
    if f.layer.digest:
        props.append({"name": LAYER_DIGEST, "value": f.layer.digest})
    v["properties"] = props
    return v


class _Components:
    """Finds the SBOM component a finding's package is, adding one when the SBOM lacks it."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.by_location: dict[tuple[str, str], str] = {}
        self.by_purl: dict[str, str] = {}
        self.by_name: dict[tuple[str, str], str] = {}
        self.refs: set[str] = {doc["metadata"]["component"]["bom-ref"]}
        for c in doc.get("components", []):
            ref = c["bom-ref"]
            self.refs.add(ref)
            purl = c.get("purl", "")
            for p in c.get("properties", []):
                if p["name"] == LOCATION_PATH:
                    self.by_location.setdefault((purl, p["value"]), ref)
            if purl:
                self.by_purl.setdefault(purl, ref)
            self.by_name.setdefault((c["name"], c.get("version", "")), ref)

    def ref(self, f: Finding) -> str:
        pkg = f.package
        ref = (self.by_location.get((pkg.purl, f.path)) or (self.by_purl.get(pkg.purl) if pkg.purl else None)
               or self.by_name.get((pkg.name, pkg.version)))
        if ref:
            return ref
        ref = pkg.purl or f"{pkg.ecosystem}/{pkg.name}@{pkg.version}"
        while ref in self.refs:
            ref += "#"
        component: dict[str, Any] = {"type": "library", "bom-ref": ref, "name": pkg.name}
        if pkg.version:
            component["version"] = pkg.version
        if pkg.purl:
            component["purl"] = pkg.purl
            self.by_purl[pkg.purl] = ref
        if f.path:
            component["properties"] = [{"name": LOCATION_PATH, "value": f.path}]
        self.doc.setdefault("components", []).append(component)
        self.refs.add(ref)
        self.by_name[(pkg.name, pkg.version)] = ref
        image_ref = self.doc["metadata"]["component"]["bom-ref"]
        deps = self.doc.setdefault("dependencies", [])
        entry = next((d for d in deps if d["ref"] == image_ref), None)
        if entry is None:
            deps.append({"ref": image_ref, "dependsOn": [ref]})
        else:
            entry.setdefault("dependsOn", []).append(ref)
        deps.append({"ref": ref})
        return ref


class CycloneDXReport:
    name = "cyclonedx"

    def document(self, report: ScanReport) -> dict[str, Any]:
        cat = report.catalogue or Catalogue(reference=report.image.reference,
                                            manifest_digest=report.image.manifest_digest)
        doc: dict[str, Any] = json.loads(CycloneDXFormat().render(cat))
        components = _Components(doc)
        doc["vulnerabilities"] = [_vulnerability(f, components.ref(f), i) for i, f in enumerate(report.findings)]
        return doc

    def render(self, report: ScanReport) -> bytes:
        return json.dumps(self.document(report), indent=2).encode() + b"\n"
