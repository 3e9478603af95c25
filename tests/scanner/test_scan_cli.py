"""``propolis scan`` end to end: a real advisory index built from the PyPI OSV test data, real OCI
images whose dist-info declares vulnerable versions, and the real ``ci`` policy bundle (copied and
re-tuned where a test needs other data). Also the ``ci`` decision through the real engine on
hand-built findings."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from propolis.cli.scan import ci_input, decide_ci
from propolis.policy.adapters.sources import DirectorySource
from propolis.scanner.domain.findings import Finding, FindingPackage, FixState
from propolis.scanner.reports.interface import DbSummary, ImageSummary, ScanReport
from tests.conftest import POLICIES, propolis_cli
from tests.scanner.fixtures import TESTDATA
from tests.scanner.images import write_oci_layout

SITE = "usr/local/lib/python3.11/site-packages"
METADATA = "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nLicense: MIT\n\n"
SARIF_SCHEMA = json.loads((Path(__file__).parents[1] / "fixtures" / "sarif-schema-2.1.0.json").read_text())
FAR = "2199-12-31"
PAST = "2020-01-01"


def _matcher_or_skip() -> None:
    """The matcher is written alongside this command; until it is importable these tests cannot run.
    Under CI=true a missing matcher is a failure, never a silent skip."""
    try:
        import propolis.scanner.matching.matcher  # noqa: F401
    except ImportError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"propolis.scanner.matching.matcher is not importable ({exc}) and CI=true requires it")
        pytest.skip(f"propolis.scanner.matching.matcher is not importable yet: {exc}")


def _dist_info(name: str, version: str) -> dict[str, object]:
    return {f"{SITE}/{name}-{version}.dist-info/METADATA": METADATA.format(name=name, version=version).encode()}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The advisory index of the PyPI OSV test data (only that source, for speed)."""
    _matcher_or_skip()
    src = TESTDATA / "vulndb" / "osv-pypi"
    if not src.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"test data {src} is missing (PROPOLIS_TESTDATA={TESTDATA}) and CI=true requires it")
        pytest.skip(f"test data {src} not found; set PROPOLIS_TESTDATA to the shared testdata folder")
    from propolis.scanner.vulndb.importers import detect
    from propolis.scanner.vulndb.store import build

    path = tmp_path_factory.mktemp("vulndb") / "vulndb.sqlite"
    importer = detect(src)
    assert importer is not None
    build(path, [(importer, src)])
    return path


@pytest.fixture(scope="module")
def requests_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Debian base layer, then a layer that installs requests 2.19.1."""
    return write_oci_layout(tmp_path_factory.mktemp("img") / "oci", [
        {"etc/os-release": b'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'},
        _dist_info("requests", "2.19.1"),
    ], created_by=["ADD rootfs.tar /", "/bin/sh -c pip install requests==2.19.1"])


@pytest.fixture(scope="module")
def full_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """requests 2.19.1, plus duckdb 0.9.2 (a critical advisory with a fix) and apache-skywalking 0.7.0 (a
    critical one without a fix), in a third layer."""
    return write_oci_layout(tmp_path_factory.mktemp("img") / "oci", [
        {"etc/os-release": b'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'},
        _dist_info("requests", "2.19.1"),
        {**_dist_info("duckdb", "0.9.2"), **_dist_info("apache_skywalking", "0.7.0")},
    ], created_by=["ADD rootfs.tar /", "/bin/sh -c pip install requests==2.19.1",
                   "RUN pip install duckdb==0.9.2 apache-skywalking==0.7.0"])


def _bundle(tmp_path: Path, **ci_data: Any) -> Path:
    """A copy of the real policy bundle whose ``propolis/ci/data.json`` has ``ci_data`` merged in."""
    dst = tmp_path / "policies"
    shutil.copytree(POLICIES, dst)
    data_file = dst / "propolis" / "ci" / "data.json"
    data_file.write_text(json.dumps({**json.loads(data_file.read_text()), **ci_data}))
    return dst


def _scan(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    p = propolis_cli("scan", *args, env=env)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def _json_scan(image: Path, db: Path, *args: str, bundle: Path = POLICIES) -> tuple[int, dict[str, Any], str]:
    code, out, errs = _scan(str(image), "--db", str(db), "--format", "json", "--bundle", str(bundle), *args)
    assert code in (0, 1), errs
    return code, json.loads(out), errs


# ---------------------------------------------------------------------------
# Output and exit codes
# ---------------------------------------------------------------------------


def test_json_lists_the_requests_advisories(requests_image: Path, db: Path) -> None:
    code, doc, errs = _json_scan(requests_image, db)
    found = {f["id"]: f for f in doc["findings"]}
    assert set(found) == {"CVE-2018-18074", "CVE-2023-32681"}
    assert found["CVE-2018-18074"]["fixed_version"] == "2.20.0"
    assert found["CVE-2023-32681"]["fixed_version"] == "2.31.0"
    assert {"PYSEC-2018-28", "GHSA-x84v-xcm2-53pg"} <= set(found["CVE-2018-18074"]["aliases"])
    for f in found.values():
        assert f["package"]["name"] == "requests" and f["package"]["purl"] == "pkg:pypi/requests@2.19.1"
        assert f["package"]["version"] == "2.19.1" and f["state"] == "fixed"
        assert f["layer"]["created_by"] == "/bin/sh -c pip install requests==2.19.1"
        assert f["layer"]["diff_id"].startswith("sha256:")
        assert f["path"] == f"{SITE}/requests-2.19.1.dist-info/METADATA"
        # The PyPI advisories for requests carry no CVSS rating: the default policy (critical only)
        # lets them through, which is why the blocking cases below re-tune the bundle's data.
        assert f["severity"] == "unknown"
    assert doc["image"]["reference"] == str(requests_image) and doc["image"]["layers"] == 2
    assert doc["db"]["path"] == str(db) and doc["db"]["advisories"] > 2000
    assert doc["decision"]["allow"] is True and code == 0
    assert doc["decision"]["revision"] == DirectorySource(POLICIES).fetch().revision
    assert doc["summary"]["unknown"] == 2 and doc["summary"]["fixable"] == 2
    assert "blocked" not in errs


def test_unrated_fixable_findings_block_when_the_data_says_so(requests_image: Path, db: Path,
                                                               tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, block_unknown=True)
    code, doc, errs = _json_scan(requests_image, db, bundle=bundle)
    assert code == 1
    assert doc["decision"]["allow"] is False
    assert doc["decision"]["blocking_findings"] == ["CVE-2018-18074", "CVE-2023-32681"]
    assert doc["decision"]["revision"] == DirectorySource(bundle).fetch().revision
    blocked = [ln for ln in errs.splitlines() if ln.startswith("propolis: blocked: ")]
    assert len(blocked) == 2
    assert any("CVE-2018-18074" in ln and "in package requests 2.19.1" in ln and "upgrade requests to 2.20.0" in ln
               for ln in blocked)


def test_allow_list_by_id_and_by_alias_lets_the_build_through(requests_image: Path, db: Path,
                                                              tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, block_unknown=True, accepted=[
        {"id": "CVE-2018-18074", "expires": FAR, "reason": "no proxy in use"},
        {"id": "GHSA-j8r2-6x86-q33q", "package": "requests", "expires": FAR, "reason": "no redirects followed"},
    ])
    code, doc, errs = _json_scan(requests_image, db, bundle=bundle)
    assert code == 0 and doc["decision"]["allow"] is True, errs
    warnings = [ln for ln in errs.splitlines() if ln.startswith("propolis: warning: accepted_advisory: ")]
    assert len(warnings) == 2


def test_expired_allow_list_entry_blocks_again(requests_image: Path, db: Path, tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, block_unknown=True, accepted=[
        {"id": "CVE-2018-18074", "expires": PAST, "reason": "no proxy in use"},
        {"id": "CVE-2023-32681", "expires": FAR, "reason": "no redirects followed"},
    ])
    code, doc, errs = _json_scan(requests_image, db, bundle=bundle)
    assert code == 1
    assert doc["decision"]["blocking_findings"] == ["CVE-2018-18074"]
    assert "propolis: blocked: accepted_advisory_expired: the acceptance of CVE-2018-18074" in errs
    assert f"expired at {PAST}" in errs


def test_critical_with_fix_blocks_and_unfixed_critical_does_not(full_image: Path, db: Path) -> None:
    code, doc, errs = _json_scan(full_image, db)
    assert code == 1
    found = {f["id"]: f for f in doc["findings"]}
    assert found["CVE-2024-22682"]["severity"] == "critical" and found["CVE-2024-22682"]["fixed_version"]
    assert found["CVE-2020-13921"]["severity"] == "critical" and found["CVE-2020-13921"]["state"] == "unfixed"
    assert doc["decision"]["blocking_findings"] == ["CVE-2024-22682"]
    assert "upgrade duckdb to 0.9.3.dev6 or later" in errs
    assert "propolis: warning: unfixed_finding: CVE-2020-13921 (critical)" in errs
    assert [f["severity"] for f in doc["findings"]][:2] == ["critical", "critical"]  # most severe first
    duck = found["CVE-2024-22682"]
    assert duck["layer"]["created_by"] == "RUN pip install duckdb==0.9.2 apache-skywalking==0.7.0"


def test_ignore_unfixed_drops_findings_without_a_fix(full_image: Path, db: Path) -> None:
    _, doc, _ = _json_scan(full_image, db, "--ignore-unfixed")
    assert "CVE-2020-13921" not in {f["id"] for f in doc["findings"]}
    assert all(f["state"] == "fixed" for f in doc["findings"]) and len(doc["findings"]) == 3
    assert doc["filters"] == {"severities": [], "ignore_unfixed": True}


def test_severity_filter_applies_before_the_decision(full_image: Path, db: Path) -> None:
    _, doc, _ = _json_scan(full_image, db, "--severity", "CRITICAL")
    assert {f["id"] for f in doc["findings"]} == {"CVE-2024-22682", "CVE-2020-13921"}
    code, doc, _ = _json_scan(full_image, db, "--severity", "unknown,LOW")
    assert {f["id"] for f in doc["findings"]} == {"CVE-2018-18074", "CVE-2023-32681"}
    assert doc["filters"]["severities"] == ["low", "unknown"]
    assert code == 0 and doc["decision"]["allow"] is True  # the critical one was filtered out


def test_sarif_output_validates(full_image: Path, db: Path, tmp_path: Path) -> None:
    out = tmp_path / "scan.sarif"
    code, stdout, _ = _scan(str(full_image), "--db", str(db), "--format", "sarif", "-o", str(out),
                            "--bundle", str(POLICIES))
    assert code == 1 and stdout == ""
    doc = json.loads(out.read_text())
    jsonschema.Draft4Validator(SARIF_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(doc)
    run = doc["runs"][0]
    assert {r["ruleId"] for r in run["results"]} == {"CVE-2018-18074", "CVE-2023-32681", "CVE-2024-22682",
                                                     "CVE-2020-13921"}
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["CVE-2024-22682"]["properties"]["security-severity"] == "9.8"
    duck = next(r for r in run["results"] if r["ruleId"] == "CVE-2024-22682")
    assert duck["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        f"{SITE}/duckdb-0.9.2.dist-info/METADATA"
    assert duck["properties"]["image"] == str(full_image)


def test_cyclonedx_output_validates(full_image: Path, db: Path) -> None:
    code, out, _ = _scan(str(full_image), "--db", str(db), "--format", "cyclonedx", "--bundle", str(POLICIES))
    assert code == 1
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(out) is None
    doc = json.loads(out)
    refs = {c["bom-ref"]: c for c in doc["components"]}
    duck = next(v for v in doc["vulnerabilities"] if v["id"] == "CVE-2024-22682")
    assert refs[duck["affects"][0]["ref"]]["name"] == "duckdb"
    assert duck["recommendation"] == "Upgrade to 0.9.3.dev6"
    sky = next(v for v in doc["vulnerabilities"] if v["id"] == "CVE-2020-13921")
    assert sky["analysis"]["state"] == "in_triage" and sky["analysis"]["response"] == ["can_not_fix"]


def test_table_output_and_env_db(requests_image: Path, db: Path) -> None:
    code, out, errs = _scan(str(requests_image), "--bundle", str(POLICIES), env={"PROPOLIS_VULNDB": str(db)})
    assert code == 0, errs
    assert "CVE-2018-18074" in out and "CVE-2023-32681" in out and "2.20.0" in out
    assert "pip install requests==2.19.1" in out
    assert "ci: allowed" in out


def test_sbom_input_gives_the_same_findings(full_image: Path, db: Path, tmp_path: Path) -> None:
    sbom = tmp_path / "app.cdx.json"
    p = propolis_cli("sbom", str(full_image), "--format", "cyclonedx", "-o", str(sbom))
    assert p.returncode == 0, p.stderr
    _, from_image, _ = _json_scan(full_image, db)
    _, from_sbom, _ = _json_scan(sbom, db)
    assert {(f["id"], f["package"]["purl"]) for f in from_sbom["findings"]} == \
        {(f["id"], f["package"]["purl"]) for f in from_image["findings"]}


@pytest.mark.parametrize(("args", "message"), [
    (["--db", "{tmp}/missing.sqlite"], "does not exist"),
    (["--db", ""], "no vulnerability database"),
    (["--db", "{db}", "--severity", "high,severe"], "--severity: unknown severity 'severe'"),
    (["--db", "{db}", "--format", "xml"], "unknown format 'xml'"),
    (["--db", "{db}", "IMAGE={tmp}/no-such-image.tar"], "no-such-image.tar"),
    (["--db", "{tmp}/not-a-db"], "is not a Propolis vulnerability database"),
    (["--db", "{db}", "--bundle", "{tmp}/no-bundle"], "policy bundle: bundle directory"),
])
def test_bad_input_exits_2_with_one_line(args: list[str], message: str, requests_image: Path, db: Path,
                                         tmp_path: Path) -> None:
    (tmp_path / "not-a-db").write_text("hello")
    image = str(requests_image)
    argv = []
    for a in args:
        a = a.format(tmp=tmp_path, db=db)
        if a.startswith("IMAGE="):
            image = a.removeprefix("IMAGE=")
        else:
            argv.append(a)
    code, out, errs = _scan(image, *argv, env={"PROPOLIS_VULNDB": ""})
    assert code == 2, errs
    lines = errs.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("propolis: error: ") and message in lines[0], errs
    assert out == ""


# ---------------------------------------------------------------------------
# The ci decision through the real engine, on hand-built findings
# ---------------------------------------------------------------------------


def _finding(id: str, severity: str, fixed: str = "", state: str = FixState.FIXED, name: str = "libfoo",
             aliases: list[str] | None = None) -> Finding:
    return Finding(id=id, aliases=aliases or [], severity=severity,
                   package=FindingPackage(name=name, version="1.0", ecosystem="pypi", purl=f"pkg:pypi/{name}@1.0"),
                   installed_version="1.0", fixed_version=fixed, state=state)


def _decide(findings: list[Finding], bundle: Path = POLICIES) -> Any:
    report = ScanReport(image=ImageSummary(reference="registry.example/app:1"),
                        db=DbSummary(path="db", schema_version=1, built_at="", advisories=0),
                        findings=findings, scanned_at="2026-06-01T00:00:00Z")
    return decide_ci(ci_input(report), str(bundle))


def test_ci_input_shape() -> None:
    report = ScanReport(image=ImageSummary(reference="r", manifest_digest="sha256:1"),
                        db=DbSummary(path="db", schema_version=1, built_at="", advisories=0),
                        findings=[_finding("CVE-1", "high", "2.0", aliases=["GHSA-1"])],
                        scanned_at="2026-06-01T00:00:00Z")
    assert ci_input(report) == {
        "image": {"reference": "r", "digest": "sha256:1"},
        "findings": [{"id": "CVE-1", "aliases": ["GHSA-1"], "severity": "high", "cvss_score": None,
                      "fixed_version": "2.0", "state": "fixed",
                      "package": {"name": "libfoo", "version": "1.0", "ecosystem": "pypi",
                                  "purl": "pkg:pypi/libfoo@1.0"}}],
        "summary": {"critical": 0, "high": 1, "medium": 0, "low": 0, "negligible": 0, "unknown": 0, "total": 1,
                    "fixable": 1},
        "now": "2026-06-01T00:00:00Z"}


def test_ci_blocks_critical_with_fix() -> None:
    d = _decide([_finding("CVE-2024-0001", "critical", "1.1")])
    assert d.allow is False and d.outcome == "evaluated"
    assert d.blocking_findings == ["CVE-2024-0001"]
    assert d.reasons == ["fixable_finding: CVE-2024-0001 (critical) in package libfoo 1.0 has a fix available; "
                         "upgrade libfoo to 1.1 or later, or add a time-boxed entry to data.propolis.ci.accepted"]
    assert d.revision == DirectorySource(POLICIES).fetch().revision and d.decision_id


def test_ci_allows_unfixed_critical_by_default() -> None:
    d = _decide([_finding("CVE-2024-0002", "critical", state=FixState.UNFIXED),
                 _finding("CVE-2024-0003", "high", "2.0")])
    assert d.allow is True and d.reasons == []
    assert [w.split(":")[0] for w in d.warnings] == ["fixable_high_finding", "unfixed_finding"]


def test_ci_allow_list_by_id_and_alias_and_expiry(tmp_path: Path) -> None:
    findings = [_finding("CVE-2024-0001", "critical", "1.1"),
                _finding("CVE-2024-0004", "critical", "3.0", name="libbar", aliases=["GHSA-aaaa-bbbb-cccc"])]
    ok = _bundle(tmp_path / "ok", accepted=[{"id": "CVE-2024-0001", "expires": "2026-12-31", "reason": "r"},
                                            {"id": "ghsa-aaaa-bbbb-cccc", "package": "libbar",
                                             "expires": "2026-12-31", "reason": "r"}])
    d = _decide(findings, ok)
    assert d.allow is True and len(d.warnings) == 2
    expired = _bundle(tmp_path / "expired", accepted=[{"id": "CVE-2024-0001", "expires": "2026-05-31", "reason": "r"},
                                                      {"id": "GHSA-aaaa-bbbb-cccc", "expires": "2026-12-31",
                                                       "reason": "r"}])
    d = _decide(findings, expired)
    assert d.allow is False and d.blocking_findings == ["CVE-2024-0001"]
    assert any(r.startswith("accepted_advisory_expired: the acceptance of CVE-2024-0001") for r in d.reasons)
    wrong_package = _bundle(tmp_path / "pkg", accepted=[{"id": "GHSA-aaaa-bbbb-cccc", "package": "libfoo",
                                                         "expires": "2026-12-31"}])
    assert _decide(findings[1:], wrong_package).allow is False


def test_ci_decides_on_many_findings() -> None:
    """A large image has thousands of findings: more than the 1 MiB a policy service accepts from a
    client, still judged (the input is produced by the scan, not received)."""
    many = [_finding(f"CVE-2024-{i:05d}", "medium", "2.0", name=f"pkg{i}") for i in range(6000)]
    payload = ci_input(ScanReport(image=ImageSummary(reference="r"),
                                  db=DbSummary(path="db", schema_version=1, built_at="", advisories=0),
                                  findings=many, scanned_at="2026-06-01T00:00:00Z"))
    assert len(json.dumps(payload)) > 1024 * 1024
    d = decide_ci(payload, str(POLICIES))
    assert d.allow is True and d.outcome == "evaluated"
