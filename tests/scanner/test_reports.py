"""Scan-result formats on hand-built findings: each format's content, SARIF checked against the
official SARIF 2.1.0 schema, CycloneDX against the CycloneDX 1.6 schema, and the filters and
severity order every format shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from propolis.scanner.catalogue import Catalogue, LayerInfo
from propolis.scanner.domain.findings import Finding, FindingLayer, FindingPackage, FixState
from propolis.scanner.domain.model import Location, Package
from propolis.scanner.reports import ReportFormat, all_formats
from propolis.scanner.reports.cyclonedx import CycloneDXReport
from propolis.scanner.reports.interface import (
    DbSummary,
    DecisionSummary,
    ImageSummary,
    ScanReport,
    filter_findings,
    parse_severities,
    short_created_by,
    sort_findings,
    summary,
)
from propolis.scanner.reports.json import JsonReport
from propolis.scanner.reports.sarif import SarifReport, level
from propolis.scanner.reports.table import TableReport

SARIF_SCHEMA = json.loads((Path(__file__).parents[1] / "fixtures" / "sarif-schema-2.1.0.json").read_text())
SITE = "usr/local/lib/python3.11/site-packages"
LAYER_APP = FindingLayer(digest="sha256:" + "a" * 64, diff_id="sha256:" + "b" * 64,
                         created_by="/bin/sh -c #(nop)  RUN pip install requests==2.19.1 duckdb==0.9.2")


def _pkg(name: str, version: str, eco: str = "pypi", purl: str = "") -> FindingPackage:
    return FindingPackage(name=name, version=version, ecosystem=eco, purl=purl or f"pkg:{eco}/{name}@{version}")


def _findings() -> list[Finding]:
    """Findings in no particular order, covering every state and several severities."""
    requests = _pkg("requests", "2.19.1")
    return [
        Finding(id="CVE-2018-18074", aliases=["GHSA-x84v-xcm2-53pg", "PYSEC-2018-28"], severity="medium",
                cvss_score=6.1, cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", package=requests,
                installed_version="2.19.1", fixed_version="2.20.0", state=FixState.FIXED, layer=LAYER_APP,
                path=f"{SITE}/requests-2.19.1.dist-info/METADATA", title="Authorization header sent on redirect",
                data_sources=["osv"]),
        Finding(id="CVE-2024-22682", aliases=["PYSEC-2024-25"], severity="critical", cvss_score=9.8,
                cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", package=_pkg("duckdb", "0.9.2"),
                installed_version="0.9.2", fixed_version="0.9.3.dev6", layer=LAYER_APP,
                path=f"{SITE}/duckdb-0.9.2.dist-info/METADATA", title="Arbitrary file write", data_sources=["osv"]),
        Finding(id="CVE-2020-13921", aliases=["PYSEC-2020-342"], severity="critical", cvss_score=9.8,
                package=_pkg("apache-skywalking", "0.7.0"), installed_version="0.7.0", state=FixState.UNFIXED,
                path=f"{SITE}/apache_skywalking-0.7.0.dist-info/METADATA", title="SQL injection"),
        Finding(id="CVE-2023-0464", severity="high", cvss_score=7.5,
                package=_pkg("openssl", "3.0.8-1", "deb", "pkg:deb/debian/openssl@3.0.8-1?distro=debian-12"),
                installed_version="3.0.8-1", state=FixState.WILL_NOT_FIX, path="var/lib/dpkg/status",
                title="Excessive resource use verifying X.509 policy constraints", data_sources=["debian-tracker"],
                layer=FindingLayer(diff_id="sha256:" + "c" * 64, created_by="ADD rootfs.tar /")),
        Finding(id="CVE-2019-9999", severity="low", package=_pkg("oldlib", "1.0", "deb", "pkg:deb/debian/oldlib@1.0"),
                installed_version="1.0", state=FixState.END_OF_LIFE, path="var/lib/dpkg/status"),
        Finding(id="PYSEC-2099-1", severity="unknown", package=_pkg("weird", "not a version"),
                installed_version="not a version", state=FixState.UNVERIFIABLE, note="version does not parse",
                path=f"{SITE}/weird dir/METADATA"),
    ]


def _catalogue() -> Catalogue:
    """The packages the findings are about (CycloneDX lists them as components)."""
    pkgs = [Package(name=f.package.name, version=f.installed_version, ecosystem=f.package.ecosystem,
                    purl=f.package.purl, locations=[Location(path=f.path, layer_digest=f.layer.digest,
                                                             diff_id=f.layer.diff_id)])
            for f in _findings()[:-1]]  # "weird" is left out: the report must add its component
    pkgs.append(Package(name="urllib3", version="2.2.1", ecosystem="pypi", purl="pkg:pypi/urllib3@2.2.1"))
    return Catalogue(reference="registry.example/app:1.0", manifest_digest="sha256:" + "d" * 64, packages=pkgs,
                     layers=[LayerInfo(index=0, digest=LAYER_APP.digest, diff_id=LAYER_APP.diff_id,
                                       created_by=LAYER_APP.created_by, size=1)])


def _report(findings: list[Finding] | None = None, decision: DecisionSummary | None = None) -> ScanReport:
    return ScanReport(
        image=ImageSummary(reference="registry.example/app:1.0", manifest_digest="sha256:" + "d" * 64,
                           os="Debian GNU/Linux 12 (bookworm)", layers=2, packages=6),
        db=DbSummary(path="/var/lib/propolis/vulndb.sqlite", schema_version=1, built_at="2026-01-01T00:00:00+00:00",
                     advisories=100, sources=["osv:/data/osv"]),
        findings=sort_findings(_findings() if findings is None else findings),
        decision=decision or DecisionSummary(allow=False, reasons=["fixable_finding: CVE-2024-22682 ..."],
                                             blocking_findings=["CVE-2024-22682"], revision="rev-1", decision_id="d1"),
        scanned_at="2026-02-01T10:00:00Z", catalogue=_catalogue())


# ---------------------------------------------------------------------------
# Filters and order
# ---------------------------------------------------------------------------


def test_formats_follow_the_interface() -> None:
    formats = all_formats()
    assert set(formats) == {"table", "json", "sarif", "cyclonedx"}
    assert all(isinstance(f, ReportFormat) and f.name == name for name, f in formats.items())


def test_sort_puts_most_severe_and_highest_score_first() -> None:
    ordered = sort_findings(_findings())
    assert [f.severity for f in ordered] == ["critical", "critical", "high", "medium", "low", "unknown"]
    assert [f.id for f in ordered[:2]] == ["CVE-2020-13921", "CVE-2024-22682"]  # same score: by package name
    assert sort_findings(reversed(_findings())) == ordered


def test_parse_severities() -> None:
    assert parse_severities("LOW, critical,,high") == ["critical", "high", "low"]
    assert parse_severities("") == []
    with pytest.raises(ValueError, match="unknown severity 'severe'"):
        parse_severities("high,severe")
    with pytest.raises(ValueError, match="no severity"):
        parse_severities(" , ")


def test_filters_by_severity_and_fix_state() -> None:
    all_ = _findings()
    assert [f.id for f in filter_findings(all_, ["critical"])] == ["CVE-2020-13921", "CVE-2024-22682"]
    kept = filter_findings(all_, ignore_unfixed=True)
    # unfixed, will-not-fix and end-of-life go; an unverifiable one stays (it may apply)
    assert {f.state for f in kept} == {FixState.FIXED, FixState.UNVERIFIABLE}
    assert [f.id for f in filter_findings(all_, ["critical", "high"], ignore_unfixed=True)] == ["CVE-2024-22682"]
    assert len(filter_findings(all_)) == len(all_)


def test_summary_counts() -> None:
    counts = summary(_findings())
    assert counts == {"critical": 2, "high": 1, "medium": 1, "low": 1, "negligible": 0, "unknown": 1, "total": 6,
                      "fixable": 2}


def test_short_created_by() -> None:
    assert short_created_by("/bin/sh -c #(nop)  CMD [\"python\"]") == 'CMD ["python"]'
    assert short_created_by("/bin/sh -c apt-get update &&\n    apt-get install -y curl") == \
        "apt-get update && apt-get install -y curl"
    assert short_created_by("RUN " + "x" * 100, 20) == "RUN " + "x" * 15 + "…"


# ---------------------------------------------------------------------------
# Table and JSON
# ---------------------------------------------------------------------------


def test_table_lists_every_finding_in_order() -> None:
    out = TableReport().render(_report()).decode()
    lines = [ln for ln in out.splitlines() if "CVE-" in ln or "PYSEC-" in ln]
    assert [next(w for w in ln.split() if w.startswith(("CVE-", "PYSEC-"))) for ln in lines] == \
        [f.id for f in sort_findings(_findings())]
    duck = next(ln for ln in lines if "duckdb" in ln)
    assert "critical" in duck and "0.9.2" in duck and "0.9.3.dev6" in duck
    assert "RUN pip install requests==2.19.…" in duck and "#(nop)" not in duck  # created_by, shortened
    assert "will-not-fix" in next(ln for ln in lines if "openssl" in ln)
    assert "2 critical, 1 high, 1 medium, 1 low, 1 unknown; 2 with a fix available" in out
    assert "ci: blocked (bundle revision rev-1)" in out


def test_json_carries_findings_image_db_and_decision() -> None:
    doc = json.loads(JsonReport().render(_report()))
    assert list(doc) == ["scanned_at", "image", "db", "filters", "summary", "decision", "issues", "findings"]
    assert doc["image"]["reference"] == "registry.example/app:1.0"
    assert doc["db"]["path"] == "/var/lib/propolis/vulndb.sqlite" and doc["db"]["schema_version"] == 1
    assert doc["decision"]["allow"] is False and doc["decision"]["revision"] == "rev-1"
    assert doc["summary"]["total"] == 6
    duck = next(f for f in doc["findings"] if f["id"] == "CVE-2024-22682")
    assert duck["aliases"] == ["PYSEC-2024-25"] and duck["fixed_version"] == "0.9.3.dev6"
    assert duck["package"] == {"name": "duckdb", "version": "0.9.2", "purl": "pkg:pypi/duckdb@0.9.2",
                               "ecosystem": "pypi", "source_name": ""}
    assert duck["layer"]["diff_id"] == LAYER_APP.diff_id and duck["severity"] == "critical"
    assert duck["cvss_score"] == 9.8 and duck["state"] == "fixed" and duck["path"].endswith("METADATA")
    assert "catalogue" not in doc


# ---------------------------------------------------------------------------
# SARIF
# ---------------------------------------------------------------------------


def _sarif_valid(doc: dict[str, Any]) -> None:
    """Schema plus formats: every checker jsonschema has, so ``uri-reference`` (a draft-6 name the SARIF
    schema uses) is checked too."""
    jsonschema.Draft4Validator(SARIF_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(doc)


def test_sarif_is_valid_and_ranks_by_cvss() -> None:
    doc = json.loads(SarifReport().render(_report()))
    _sarif_valid(doc)
    run = doc["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert set(rules) == {f.id for f in _findings()}  # one rule per advisory
    assert rules["CVE-2024-22682"]["properties"]["security-severity"] == "9.8"
    assert rules["CVE-2018-18074"]["properties"]["security-severity"] == "6.1"
    assert "security-severity" not in rules["PYSEC-2099-1"]["properties"]  # unrated: nothing to rank by
    assert rules["CVE-2024-22682"]["defaultConfiguration"]["level"] == "error"
    assert "0.9.3.dev6" in rules["CVE-2024-22682"]["help"]["text"]
    assert rules["CVE-2024-22682"]["helpUri"] == "https://nvd.nist.gov/vuln/detail/CVE-2024-22682"
    results = run["results"]
    assert len(results) == len(_findings())
    for r in results:
        assert run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["properties"]["image"] == "registry.example/app:1.0"
    duck = next(r for r in results if r["ruleId"] == "CVE-2024-22682")
    loc = duck["locations"][0]["physicalLocation"]["artifactLocation"]
    assert loc == {"uri": f"{SITE}/duckdb-0.9.2.dist-info/METADATA", "uriBaseId": "IMAGEROOT"}
    assert duck["properties"]["fixedVersion"] == "0.9.3.dev6" and duck["level"] == "error"
    weird = next(r for r in results if r["ruleId"] == "PYSEC-2099-1")
    assert weird["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == f"{SITE}/weird%20dir/METADATA"
    assert run["properties"]["decision"]["revision"] == "rev-1"


def test_sarif_one_rule_for_an_advisory_in_two_packages() -> None:
    f = _findings()[1]
    twin = Finding(id=f.id, severity=f.severity, cvss_score=f.cvss_score, package=_pkg("duckdb", "0.9.1"),
                   installed_version="0.9.1", fixed_version=f.fixed_version, path="opt/venv/duckdb/METADATA")
    doc = json.loads(SarifReport().render(_report([f, twin])))
    _sarif_valid(doc)
    assert len(doc["runs"][0]["tool"]["driver"]["rules"]) == 1
    assert [r["ruleIndex"] for r in doc["runs"][0]["results"]] == [0, 0]


def test_sarif_levels_and_label_scores() -> None:
    assert [level(s) for s in ("critical", "high", "medium", "low", "negligible", "unknown")] == \
        ["error", "error", "warning", "note", "note", "note"]
    no_score = Finding(id="CVE-2000-1", severity="high", package=_pkg("a", "1"), installed_version="1")
    doc = json.loads(SarifReport().render(_report([no_score])))
    _sarif_valid(doc)
    assert doc["runs"][0]["tool"]["driver"]["rules"][0]["properties"]["security-severity"] == "8.0"


def test_sarif_schema_rejects_what_it_should() -> None:
    """The stored schema is strict where SARIF is: a broken document must not pass."""
    doc = json.loads(SarifReport().render(_report()))
    doc["runs"][0]["results"][0]["level"] = "critical"
    with pytest.raises(jsonschema.ValidationError):
        _sarif_valid(doc)
    doc = json.loads(SarifReport().render(_report()))
    del doc["runs"][0]["tool"]["driver"]["name"]
    with pytest.raises(jsonschema.ValidationError):
        _sarif_valid(doc)
    doc = json.loads(SarifReport().render(_report()))
    doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = "a b/METADATA"
    with pytest.raises(jsonschema.ValidationError, match="uri-reference"):
        _sarif_valid(doc)


def test_sarif_empty_report_is_valid() -> None:
    doc = json.loads(SarifReport().render(_report([])))
    _sarif_valid(doc)
    assert doc["runs"][0]["results"] == [] and doc["runs"][0]["tool"]["driver"]["rules"] == []


# ---------------------------------------------------------------------------
# CycloneDX
# ---------------------------------------------------------------------------


def test_cyclonedx_vulnerabilities_are_valid_and_point_at_components() -> None:
    out = CycloneDXReport().render(_report())
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(out.decode()) is None
    doc = json.loads(out)
    comps = {c["bom-ref"]: c for c in doc["components"]}
    assert len(comps) == len(doc["components"]) == 7  # the 6 catalogued packages + the one only a finding names
    vulns = doc["vulnerabilities"]
    assert len(vulns) == len(_findings())
    for v in vulns:
        assert v["affects"][0]["ref"] in comps
    duck = next(v for v in vulns if v["id"] == "CVE-2024-22682")
    assert comps[duck["affects"][0]["ref"]]["purl"] == "pkg:pypi/duckdb@0.9.2"
    assert duck["ratings"] == [{"source": {"name": "osv", "url": "https://nvd.nist.gov/vuln/detail/CVE-2024-22682"},
                                "score": 9.8, "severity": "critical", "method": "CVSSv31",
                                "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]
    assert duck["recommendation"] == "Upgrade to 0.9.3.dev6"
    assert duck["references"] == [{"id": "PYSEC-2024-25",
                                   "source": {"url": "https://osv.dev/vulnerability/PYSEC-2024-25"}}]
    sky = next(v for v in vulns if v["id"] == "CVE-2020-13921")
    assert sky["analysis"] == {"state": "in_triage", "response": ["can_not_fix"],
                               "detail": "No fixed version is published yet."}
    assert "recommendation" not in sky
    ssl = next(v for v in vulns if v["id"] == "CVE-2023-0464")
    assert ssl["analysis"]["response"] == ["will_not_fix"]
    weird = next(v for v in vulns if v["id"] == "PYSEC-2099-1")
    assert weird["analysis"] == {"state": "in_triage", "detail": "version does not parse"}
    assert comps[weird["affects"][0]["ref"]]["name"] == "weird"
    deps = {d["ref"]: d.get("dependsOn", []) for d in doc["dependencies"]}
    assert weird["affects"][0]["ref"] in deps["image"]


def test_cyclonedx_without_catalogue_still_valid() -> None:
    report = _report()
    report.catalogue = None
    out = CycloneDXReport().render(report)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(out.decode()) is None
    doc = json.loads(out)
    assert doc["metadata"]["component"]["name"] == "registry.example/app:1.0"
    assert len(doc["components"]) == len(doc["vulnerabilities"]) == len(_findings())
