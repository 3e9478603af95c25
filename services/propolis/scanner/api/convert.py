"""A stored catalogue as the ``propolis.scanner.v1`` messages (``ScanResult`` and its parts)."""

from __future__ import annotations

import msgspec
from google.protobuf.timestamp_pb2 import Timestamp

from propolis.common.v1 import common_pb2
from propolis.scanner.adapters.store import StoredScan
from propolis.scanner.catalogue import Catalogue, LayerInfo
from propolis.scanner.domain.config_facts import ConfigFacts
from propolis.scanner.domain.findings import Finding
from propolis.scanner.domain.model import Package
from propolis.scanner.v1 import scanner_pb2

SEVERITY = {
    "critical": common_pb2.SEVERITY_CRITICAL,
    "high": common_pb2.SEVERITY_HIGH,
    "medium": common_pb2.SEVERITY_MEDIUM,
    "low": common_pb2.SEVERITY_LOW,
    "negligible": common_pb2.SEVERITY_NEGLIGIBLE,
    "unknown": common_pb2.SEVERITY_UNKNOWN,
}
#: Proto severity → label (``SEVERITY_UNSPECIFIED`` has none: no filter).
SEVERITY_LABEL = {v: k for k, v in SEVERITY.items()}

#: Where each configuration fact comes from; facts not listed are read from the layers.
_FACT_SOURCE = {
    "user": "config.User",
    "runs_as_root": "config.User",
    "exposed_ports": "config.ExposedPorts",
    "env_names": "config.Env",
    "entrypoint": "config.Entrypoint",
    "cmd": "config.Cmd",
    "has_healthcheck": "config.Healthcheck",
    "history_findings": "history",
}

_json = msgspec.json.Encoder().encode


def layer_pb(info: LayerInfo) -> scanner_pb2.Layer:
    return scanner_pb2.Layer(index=info.index, digest=info.digest, diff_id=info.diff_id,
                             created_by=info.created_by, size_bytes=max(info.size, 0))


def _layer_of(cat: Catalogue, digest: str, diff_id: str) -> LayerInfo | None:
    if not digest and not diff_id:
        return None
    for info in cat.layers:
        if (not digest or info.digest == digest) and (not diff_id or info.diff_id == diff_id):
            return info
    return None


def package_pb(cat: Catalogue, pkg: Package) -> scanner_pb2.Package:
    """The package's ``layer`` is the one that introduced its first location."""
    first = pkg.locations[0] if pkg.locations else None
    layer = _layer_of(cat, first.layer_digest, first.diff_id) if first else None
    return scanner_pb2.Package(
        name=pkg.name, version=pkg.version, purl=pkg.purl, ecosystem=pkg.ecosystem,
        source_package=pkg.source_name if pkg.source_name != pkg.name else "", licenses=pkg.licenses,
        locations=[scanner_pb2.PackageLocation(path=loc.path, layer_diff_id=loc.diff_id) for loc in pkg.locations],
        layer=layer_pb(layer) if layer else None)


def config_facts_pb(facts: ConfigFacts | None) -> list[scanner_pb2.ConfigFact]:
    """One fact per field of :class:`ConfigFacts`, so new facts appear without changes here."""
    if facts is None:
        return []
    return [scanner_pb2.ConfigFact(key=key, value_json=_json(value), source=_FACT_SOURCE.get(key, "layers"))
            for key, value in msgspec.structs.asdict(facts).items()]


def _timestamp(seconds: float) -> Timestamp:
    t = Timestamp()
    t.FromNanoseconds(int(seconds * 1e9))
    return t


def finding_pb(cat: Catalogue, f: Finding) -> scanner_pb2.Finding:
    """``layer`` carries the layer's index when the catalogue knows the layer; ``data_source`` joins
    the sources of the merged advisories with commas."""
    info = _layer_of(cat, f.layer.digest, f.layer.diff_id)
    layer = layer_pb(info) if info else scanner_pb2.Layer(digest=f.layer.digest, diff_id=f.layer.diff_id,
                                                          created_by=f.layer.created_by)
    return scanner_pb2.Finding(
        id=f.id, aliases=f.aliases, severity=SEVERITY.get(f.severity, common_pb2.SEVERITY_UNKNOWN),
        cvss_score=f.cvss_score or 0.0, cvss_vector=f.cvss_vector, package_name=f.package.name,
        installed_version=f.installed_version, fixed_version=f.fixed_version, purl=f.package.purl,
        layer=layer if (f.layer.digest or f.layer.diff_id) else None, path=f.path, title=f.title,
        data_source=",".join(f.data_sources))


def summary_pb(findings: list[Finding]) -> scanner_pb2.FindingSummary:
    counts = {k: 0 for k in SEVERITY}
    for f in findings:
        counts[f.severity if f.severity in counts else "unknown"] += 1
    return scanner_pb2.FindingSummary(**counts, fixable=sum(1 for f in findings if f.fixable))


def scan_result_pb(scan: StoredScan, platform: str = "") -> scanner_pb2.ScanResult:
    """The stored catalogue with its findings, their summary and the database revision used."""
    cat = scan.catalogue
    secrets = []
    for s in cat.secrets:
        layer = _layer_of(cat, s.layer_digest, s.diff_id)
        secrets.append(scanner_pb2.Secret(
            rule_id=s.finding.rule_id, severity=SEVERITY.get(s.finding.severity, common_pb2.SEVERITY_UNKNOWN),
            path=s.finding.path, line=max(s.finding.line, 0), redacted_match=s.finding.redacted,
            layer=layer_pb(layer) if layer else None))
    return scanner_pb2.ScanResult(
        scan_id=scan.scan_id,
        image=common_pb2.ImageRef(reference=cat.reference, digest=cat.manifest_digest, platform=platform),
        os_id=cat.os.id if cat.os else "", os_version=cat.os.version_id if cat.os else "",
        layers=[layer_pb(la) for la in cat.layers],
        packages=[package_pb(cat, p) for p in cat.packages],
        secrets=secrets,
        config_facts=config_facts_pb(cat.facts),
        findings=[finding_pb(cat, f) for f in scan.findings],
        summary=summary_pb(scan.findings),
        vulnerability_db_revision=scan.db_revision,
        scanned_at=_timestamp(scan.scanned_at),
        partial=cat.partial, partial_reasons=list(cat.issues))
