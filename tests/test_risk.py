"""Image risk scoring: facts from a real catalogue and a real advisory index, KEV matching, the
``propolis risk`` command end to end on the real policy bundle (copied and re-tuned where a test
needs other bars), and properties of the score through the real Rego engine."""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from propolis.policy.adapters.regorus_engine import RegorusEngine
from propolis.policy.adapters.sources import DirectorySource
from propolis.risk.adapters.kev import KEVError, load_kev, parse_kev
from propolis.risk.domain.facts import finding_facts, image_age_days, image_facts
from propolis.scanner.catalogue import Catalogue
from propolis.scanner.domain.findings import Finding, FindingPackage, FixState
from tests.conftest import POLICIES, propolis_cli
from tests.scanner.fixtures import TESTDATA
from tests.scanner.images import write_oci_layout

KEV = Path(__file__).parent / "fixtures" / "kev-sample.json"
SITE = "usr/local/lib/python3.11/site-packages"
METADATA = "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nLicense: MIT\n\n"
RISK_PATH = "propolis/risk/decision"


def _dist_info(name: str, version: str) -> dict[str, object]:
    return {f"{SITE}/{name}-{version}.dist-info/METADATA": METADATA.format(name=name, version=version).encode()}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The advisory index of the PyPI OSV test data; skipped without the data, a failure under CI=true."""
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
def airflow_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Apache Airflow 1.10.10 (CVE-2020-11978, in the KEV sample) and pip, an attacker-useful package."""
    return write_oci_layout(tmp_path_factory.mktemp("img") / "oci", [
        {"etc/os-release": b'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'},
        {**_dist_info("apache-airflow", "1.10.10"), **_dist_info("pip", "24.2")},
    ], created_by=["ADD rootfs.tar /", "RUN pip install apache-airflow==1.10.10"])


@pytest.fixture(scope="module")
def requests_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """requests 2.19.1: two moderate advisories, nothing known exploited, no attacker tools."""
    return write_oci_layout(tmp_path_factory.mktemp("img") / "oci", [
        {"etc/os-release": b'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'},
        _dist_info("requests", "2.19.1"),
    ], created_by=["ADD rootfs.tar /", "RUN pip install requests==2.19.1"])


@functools.cache
def _compiled() -> Any:
    """The real bundle compiled once for the module (Hypothesis examples reuse it)."""
    return RegorusEngine().compile(DirectorySource(POLICIES).fetch(), [RISK_PATH])


def _decide(facts: dict[str, Any]) -> dict[str, Any]:
    return _compiled().evaluate(RISK_PATH, json.dumps(facts))


def _factor(decision: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in decision["factors"] if f["factor"] == name)


def _finding(id: str, aliases: list[str], severity: str = "critical") -> Finding:
    package = FindingPackage(name="apache-airflow", version="1.10.10", purl="pkg:pypi/apache-airflow@1.10.10",
                             ecosystem="pypi")
    return Finding(id=id, aliases=aliases, severity=severity, installed_version="1.10.10", fixed_version="1.10.11",
                   state=FixState.FIXED, package=package)


# ---------------------------------------------------------------------------
# Facts
# ---------------------------------------------------------------------------


def test_facts_from_a_real_catalogue(airflow_image: Path, db: Path) -> None:
    from propolis.scanner.adapters.sources import open_image
    from propolis.scanner.catalogue import catalogue_image
    from propolis.scanner.matching import Matcher

    cat = catalogue_image(open_image(str(airflow_image)))
    result = Matcher(str(db)).match(cat)
    facts = image_facts(cat, result.findings, load_kev(KEV))

    assert {"apache-airflow", "pip"} <= set(facts["packages"])
    assert facts["component_count"] == len(cat.packages)
    assert facts["config"]["runs_as_root"] is True  # the test image sets no USER
    assert facts["secrets"] == {}
    assert "image_age_days" not in facts  # its config has no `created`
    assert "deployment" not in facts and "runtime" not in facts
    exploited = [f for f in facts["findings"] if f["known_exploited"]]
    assert [f["id"] for f in exploited] == ["CVE-2020-11978"]
    keys = {"id", "severity", "cvss_score", "fix_available", "known_exploited"}
    assert all(set(f) == keys for f in facts["findings"])

    decision = _decide(facts)
    assert _factor(decision, "known_exploited")["raw_value"] == 1
    assert _factor(decision, "attacker_tools")["detail"] == "attacker tools in the image: pip"
    assert _factor(decision, "runs_as_root")["contribution"] > 0
    assert 0 < decision["score"] < 100


def test_without_kev_nothing_is_known_exploited(airflow_image: Path, db: Path) -> None:
    from propolis.scanner.adapters.sources import open_image
    from propolis.scanner.catalogue import catalogue_image
    from propolis.scanner.matching import Matcher

    cat = catalogue_image(open_image(str(airflow_image)))
    facts = image_facts(cat, Matcher(str(db)).match(cat).findings)
    assert facts["findings"] and not any(f["known_exploited"] for f in facts["findings"])


def test_kev_marks_known_exploited_through_an_alias() -> None:
    kev = load_kev(KEV)
    assert kev == {"CVE-2021-44228", "CVE-2020-11978", "CVE-2023-4863"}
    # The GHSA id of the Airflow advisory aliases the CVE that CISA lists.
    assert finding_facts(_finding("GHSA-rvmq-4x66-q7j3", ["PYSEC-2020-14", "cve-2020-11978"]), kev)["known_exploited"]
    assert finding_facts(_finding("CVE-2020-11978", []), kev)["known_exploited"]
    assert not finding_facts(_finding("GHSA-rvmq-4x66-q7j3", ["PYSEC-2020-14"]), kev)["known_exploited"]
    assert not finding_facts(_finding("CVE-2020-11978", []), None)["known_exploited"]


@pytest.mark.parametrize(("raw", "message"), [
    ("not json", "not a JSON KEV catalogue"),
    ('{"catalogVersion": "1"}', "expected an object with a 'vulnerabilities' list"),
    ('[{"cveID": "CVE-2021-44228"}]', "expected an object"),
    ('{"vulnerabilities": [{"cveId": "CVE-2021-44228"}]}', "vulnerabilities[0] has no cveID"),
    ('{"vulnerabilities": [{"cveID": "GHSA-rvmq-4x66-q7j3"}]}', "vulnerabilities[0] has no cveID"),
])
def test_malformed_kev_is_a_clear_error(raw: str, message: str) -> None:
    with pytest.raises(KEVError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_kev(raw, "kev.json")


def test_missing_kev_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KEVError, match="cannot read KEV catalogue"):
        load_kev(tmp_path / "absent.json")


def test_image_age_and_context_facts() -> None:
    now = datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert image_age_days({"created": "2024-01-01T00:00:00.123456789Z"}, now) == 60
    assert image_age_days({"created": "2024-02-29T13:00:00+01:00"}, now) == 1
    assert image_age_days({"created": "2024-02-29T13:00:01+01:00"}, now) == 0  # whole days only
    assert image_age_days({"created": "2030-01-01T00:00:00Z"}, now) == 0  # a clock skew is not negative age
    assert image_age_days({"created": "yesterday"}, now) is None
    assert image_age_days({}, now) is None
    cat = Catalogue(reference="r", config={"created": "2023-09-01T00:00:00Z"})
    facts = image_facts(cat, [], now=now, deployment={"privileged": True}, runtime={"alerts": {"critical": 1}})
    assert facts["image_age_days"] == 182
    assert "config" not in facts  # no config facts (e.g. an SBOM): nothing to guess
    decision = _decide(facts)
    assert _factor(decision, "privileged")["raw_value"] == 1
    assert _factor(decision, "runtime_alerts")["raw_value"] == 10
    assert _factor(decision, "image_age")["raw_value"] == 182


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def _bundle(tmp_path: Path, **checkpoints: Any) -> Path:
    """A copy of the real bundle whose ``propolis/checkpoints/data.json`` has ``checkpoints`` merged in."""
    dst = tmp_path / "policies"
    shutil.copytree(POLICIES, dst)
    data_file = dst / "propolis" / "checkpoints" / "data.json"
    data_file.write_text(json.dumps({**json.loads(data_file.read_text()), **checkpoints}))
    return dst


def _risk(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    p = propolis_cli("risk", *args, env=env)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_cli_json_explains_the_score(airflow_image: Path, db: Path) -> None:
    code, out, errs = _risk(str(airflow_image), "--db", str(db), "--format", "json", "--kev", str(KEV),
                            "--bundle", str(POLICIES), "--checkpoint", "runtime")
    assert code in (0, 1), errs
    doc = json.loads(out)
    factors = {f["factor"]: f for f in doc["factors"]}
    assert set(factors["known_exploited"]) == {"factor", "raw_value", "multiplier", "contribution", "detail"}
    assert factors["known_exploited"]["raw_value"] == 1
    assert abs(sum(f["contribution"] for f in doc["factors"]) - doc["score"]) < 0.1
    d = doc["decision"]
    assert d["checkpoint"] == "runtime" and d["bar"] == {"warn": 50, "block": 85}
    assert d["verdict"] == ("block" if doc["score"] > 85 else "warn" if doc["score"] > 50 else "allow")
    assert code == (1 if d["verdict"] == "block" else 0)
    assert doc["revision"].startswith("sha256:")


def test_cli_exit_0_then_1_when_the_bar_is_lowered(requests_image: Path, db: Path, tmp_path: Path) -> None:
    code, out, errs = _risk(str(requests_image), "--db", str(db), "--format", "json", "--bundle", str(POLICIES))
    assert code == 0, errs
    doc = json.loads(out)
    assert 0 < doc["score"] < 40 and doc["decision"]["verdict"] == "allow"

    low = _bundle(tmp_path, bars={"ci": {"warn": 0, "block": 1}})
    code, out, errs = _risk(str(requests_image), "--db", str(db), "--format", "json", "--bundle", str(low))
    assert code == 1
    doc = json.loads(out)
    assert doc["decision"]["verdict"] == "block"
    assert any(r.startswith("score_above_block_bar:") for r in doc["decision"]["reasons"])
    assert "the ci checkpoint" in errs and "blocks this image" in errs


def test_cli_namespace_override_and_table(requests_image: Path, db: Path, tmp_path: Path) -> None:
    b = _bundle(tmp_path, namespace_overrides={"payments": {"deploy": {"warn": 1, "block": 99}}})
    code, out, errs = _risk(str(requests_image), "--db", str(db), "--bundle", str(b), "--checkpoint", "deploy",
                            "--namespace", "payments", env={"COLUMNS": "200"})
    assert code == 0, errs
    assert "Risk factors" in out and "vulnerabilities" in out
    assert "deploy checkpoint: WARN (warn above 1, block above 99" in out
    assert "(namespace payments override)" in out
    code, out, _ = _risk(str(requests_image), "--db", str(db), "--bundle", str(b), "--checkpoint", "deploy",
                         env={"COLUMNS": "200"})
    assert code == 0 and "deploy checkpoint: ALLOW" in out


def test_cli_takes_the_db_from_the_environment(requests_image: Path, db: Path) -> None:
    code, out, errs = _risk(str(requests_image), "--format", "json", "--bundle", str(POLICIES),
                            env={"PROPOLIS_VULNDB": str(db)})
    assert code == 0, errs
    assert json.loads(out)["decision"]["verdict"] == "allow"


@pytest.mark.parametrize(("args", "message"), [
    (["--checkpoint", "prod"], "unknown checkpoint 'prod'"),
    (["--format", "sarif"], "unknown format 'sarif'"),
    (["--kev", "/nonexistent/kev.json"], "cannot read KEV catalogue"),
    (["--kev", str(POLICIES / "propolis" / "risk" / "data.json")], "not a KEV catalogue"),
    (["--bundle", "/nonexistent/bundle"], "policy bundle"),
])
def test_cli_bad_input_exits_2_with_one_line(args: list[str], message: str, requests_image: Path, db: Path) -> None:
    code, out, errs = _risk(str(requests_image), "--db", str(db), *args)
    assert code == 2
    assert out == ""
    assert len(errs.strip().splitlines()) == 1 and message in errs, errs


def test_cli_without_db_or_image_exits_2(tmp_path: Path, db: Path) -> None:
    code, _, errs = _risk(str(tmp_path / "missing.tar"), env={"PROPOLIS_VULNDB": ""})
    assert code == 2 and "no vulnerability database" in errs
    code, _, errs = _risk(str(tmp_path / "missing.tar"), "--db", str(db), "--bundle", str(POLICIES))
    assert code == 2 and len(errs.strip().splitlines()) == 1, errs


# ---------------------------------------------------------------------------
# Properties, through the real engine
# ---------------------------------------------------------------------------

SEVERITIES = ["critical", "high", "medium", "low", "negligible", "unknown"]
PACKAGES = ["bash", "curl", "openssl", "libc6", "nmap", "pip", "zlib1g", "socat"]

finding_st = st.fixed_dictionaries({"severity": st.sampled_from(SEVERITIES), "fix_available": st.booleans(),
                                    "known_exploited": st.booleans()})
facts_st = st.fixed_dictionaries({
    "findings": st.lists(finding_st, max_size=15),
    "secrets": st.dictionaries(st.sampled_from(SEVERITIES), st.integers(0, 5), max_size=3),
    "packages": st.lists(st.sampled_from(PACKAGES), max_size=6, unique=True),
    "config": st.fixed_dictionaries({"runs_as_root": st.booleans(), "setuid_files": st.integers(0, 20),
                                     "world_writable": st.integers(0, 20)}),
    "image_age_days": st.integers(0, 2000),
    "component_count": st.integers(0, 3000),
    "deployment": st.fixed_dictionaries({"privileged": st.booleans(),
                                         "capabilities": st.lists(st.sampled_from(["NET_ADMIN", "SYS_ADMIN"]),
                                                                  max_size=2),
                                         "host_mounts": st.integers(0, 3), "host_network": st.booleans(),
                                         "exposed_ports": st.lists(st.integers(1, 65535), max_size=3),
                                         "ingress": st.booleans()}),
    "runtime": st.fixed_dictionaries({"alerts": st.dictionaries(st.sampled_from(["critical", "warning", "notice"]),
                                                                st.integers(0, 5), max_size=3)}),
})


def _riskier(facts: dict[str, Any], change: int, finding: dict[str, Any]) -> dict[str, Any]:
    """``facts`` with one more finding or one risky fact more (never less)."""
    f = json.loads(json.dumps(facts))
    dep, cfg = f["deployment"], f["config"]
    match change:
        case 0:
            f["findings"].append(finding)
        case 1:
            f["secrets"]["critical"] = f["secrets"].get("critical", 0) + 1
        case 2:
            f["packages"].append("netcat-openbsd")
        case 3:
            cfg["runs_as_root"] = True
        case 4:
            cfg["world_writable"] += 1
        case 5:
            dep["privileged"] = True
        case 6:
            dep["capabilities"].append("SYS_PTRACE")
        case 7:
            dep["host_mounts"] += 1
        case 8:
            dep["host_network"] = True
        case 9:
            dep["ingress"] = True
        case 10:
            f["runtime"]["alerts"]["critical"] = f["runtime"]["alerts"].get("critical", 0) + 1
        case _:
            f["image_age_days"] += 30
    return f


@settings(max_examples=50, deadline=None)
@given(facts=facts_st, change=st.integers(0, 11), finding=finding_st)
def test_more_risk_never_lowers_the_score(facts: dict[str, Any], change: int, finding: dict[str, Any]) -> None:
    assert _decide(_riskier(facts, change, finding))["score"] >= _decide(facts)["score"]


@settings(max_examples=50, deadline=None)
@given(facts=facts_st, seed=st.integers(0, 2**32 - 1))
def test_equal_facts_give_equal_scores(facts: dict[str, Any], seed: int) -> None:
    rng = random.Random(seed)
    shuffled = json.loads(json.dumps(facts))
    for key in ("findings", "packages"):
        rng.shuffle(shuffled[key])
    shuffled["deployment"]["capabilities"].reverse()
    shuffled = dict(reversed(list(shuffled.items())))
    first, second = _decide(facts), _decide(shuffled)
    assert first == second
    assert first == _decide(facts)
