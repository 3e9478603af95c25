"""Vulnerability matching against the real advisory index, with the real version comparators.

Every expected set is computed here from the raw advisory files by other means than the matcher:
``packaging`` for PyPI (OSV events walked by hand), node's ``semver`` for npm, ``dpkg
--compare-versions`` for Debian, apk-tools' comparison transcribed in the oracle tests for Alpine.
Packages come from catalogued images: real wheels and npm tarballs, the real dpkg/apk fixtures.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cmp_to_key
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.version import InvalidVersion as PkgInvalidVersion
from packaging.version import Version as PkgVersion

from propolis.scanner.adapters.sources import open_image
from propolis.scanner.catalogue import Catalogue, catalogue_image
from propolis.scanner.domain.findings import SEVERITIES, Finding, FixState
from propolis.scanner.domain.model import Location, OSRelease, Package
from propolis.scanner.matching import Matcher, MatchResult, distro_release
from propolis.scanner.versions import get_scheme
from propolis.scanner.vulndb import VulnDB, build
from propolis.scanner.vulndb.importers import detect
from propolis.scanner.vulndb.importers.osv import OSVImporter
from tests.scanner import realpkgs
from tests.scanner.fixtures import TESTDATA, pkgdb
from tests.scanner.images import write_oci_layout
from tests.scanner.test_versions_oracles import _apk_reference

ROOT = Path(__file__).resolve().parents[2]
ORACLES = ROOT / "tests" / "oracles"
IN_CI = os.environ.get("CI", "").lower() == "true"
SOURCES = ("osv-pypi", "osv-go/data", "osv-npm", "debian", "alpine")
SITE = realpkgs.DIST_PACKAGES
VENV_SITE = "opt/app/lib/python3.11/site-packages"
DEBIAN_10_OS_RELEASE = (b'PRETTY_NAME="Debian GNU/Linux 10 (buster)"\nNAME="Debian GNU/Linux"\nVERSION_ID="10"\n'
                        b'VERSION="10 (buster)"\nVERSION_CODENAME=buster\nID=debian\n')
DEBIAN_12_OS_RELEASE = (b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
                        b'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n')
ALPINE_34_OS_RELEASE = b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.4.6\nPRETTY_NAME="Alpine Linux v3.4"\n'


def vulndb_data(*parts: str) -> Path:
    """Path under testdata/vulndb; skips with a clear reason when absent, fails under CI=true."""
    p = TESTDATA.joinpath("vulndb", *parts)
    if not p.exists():
        if IN_CI:
            pytest.fail(f"test data {p} is missing (PROPOLIS_TESTDATA={TESTDATA}) and CI=true requires it")
        pytest.skip(f"test data {p} not found; set PROPOLIS_TESTDATA to the shared testdata folder")
    return p


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The index of all five real sources, built once for the module."""
    plan = []
    for s in SOURCES:
        p = vulndb_data(*s.split("/"))
        importer = detect(p)
        assert importer is not None, p
        plan.append((importer, p))
    path = tmp_path_factory.mktemp("vulndb") / "vulndb.sqlite"
    build(path, plan)
    return path


@pytest.fixture(scope="module")
def matcher(db_path: Path) -> Iterator[Matcher]:
    with Matcher(db_path) as m:
        yield m


def image(tmp: Path, layers: list[dict[str, object]], created_by: list[str]) -> Catalogue:
    """Catalogue a real OCI layout written from ``layers`` (what a scan of that image would see)."""
    return catalogue_image(open_image(str(write_oci_layout(tmp, layers, created_by=created_by))))


def all_ids(f: Finding) -> set[str]:
    return {f.id, *f.aliases}


def by_package(result: MatchResult, name: str) -> list[Finding]:
    return [f for f in result.findings if f.package.name == name]


# -- PyPI ---------------------------------------------------------------------------------------------


def _osv_affected_pypi(version: str, entry: dict[str, Any]) -> bool:
    """OSV evaluation written out with ``packaging``: listed versions, then ECOSYSTEM ranges."""
    v = PkgVersion(version)
    for listed in entry.get("versions") or []:
        try:
            if PkgVersion(listed) == v:
                return True
        except PkgInvalidVersion:
            if listed == version:
                return True
    for r in entry.get("ranges") or []:
        if r["type"] != "ECOSYSTEM":
            continue
        events = sorted(((k, val) for e in r["events"] for k, val in e.items()),
                        key=lambda kv: PkgVersion("0") if kv[1] == "0" else PkgVersion(kv[1]))
        affected = False
        for kind, at in events:
            if kind == "introduced" and (at == "0" or v >= PkgVersion(at)):
                affected = True
            elif kind == "fixed" and v >= PkgVersion(at):
                affected = False
            elif kind == "last_affected" and v > PkgVersion(at):
                affected = False
        if affected:
            return True
    return False


@dataclass
class Expected:
    advisory: str
    finding_id: str
    fixed: str


def pypi_expected(name: str, version: str) -> dict[str, Expected]:
    """PYSEC id → expected finding, from the raw YAML records of ``vulns/<name>/``."""
    out = {}
    for f in sorted(vulndb_data("osv-pypi", "vulns", name).glob("*.yaml")):
        doc = yaml.safe_load(f.read_text())
        if doc.get("withdrawn"):
            continue
        entries = [a for a in doc["affected"] if a["package"]["ecosystem"] == "PyPI"
                   and re.sub(r"[-_.]+", "-", a["package"]["name"]).lower() == name]
        hit = [a for a in entries if _osv_affected_pypi(version, a)]
        if not hit:
            continue
        fixes = sorted(PkgVersion(val) for a in hit for r in a.get("ranges") or [] if r["type"] == "ECOSYSTEM"
                       for e in r["events"] for k, val in e.items()
                       if k == "fixed" and PkgVersion(val) > PkgVersion(version))
        cves = [a for a in doc.get("aliases") or [] if a.startswith("CVE-")]
        out[doc["id"]] = Expected(doc["id"], cves[0] if len(cves) == 1 else doc["id"], str(fixes[0]) if fixes else "")
    return out


@pytest.fixture(scope="module")
def python_image(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    """Vulnerable wheels in the system site-packages (layer 1), patched ones in a venv (layer 2)."""
    with realpkgs.require():
        old = realpkgs.wheels("requests==2.19.1", "urllib3==1.24.1", "Jinja2==2.10")
        new = realpkgs.wheels("requests==2.32.3", "urllib3==2.2.2", "jinja2==3.1.4")
    layer1: dict[str, object] = {"etc/os-release": DEBIAN_12_OS_RELEASE}
    for p in old.values():
        layer1.update(realpkgs.read_wheel(p).files)
    layer2: dict[str, object] = {}
    for p in new.values():
        layer2.update(realpkgs.read_wheel(p, site=VENV_SITE).files)
    return image(tmp_path_factory.mktemp("py"), [layer1, layer2],
                 ["RUN pip install requests==2.19.1 urllib3==1.24.1 Jinja2==2.10",
                  "RUN python -m venv /opt/app && /opt/app/bin/pip install requests urllib3 jinja2"])


def test_pypi_findings_are_exactly_the_raw_osv_evaluation(matcher: Matcher, python_image: Catalogue) -> None:
    """requests/urllib3/jinja2 at old versions: every advisory the raw YAML says applies, nothing else,
    one finding each, id = its single CVE, fixed = the lowest fix above the installed version."""
    result = matcher.match(python_image)
    pkgs = {(p.name.lower(), p.version): p for p in python_image.packages if p.ecosystem == "pypi"}
    assert set(pkgs) == {("requests", "2.19.1"), ("urllib3", "1.24.1"), ("jinja2", "2.10"),
                         ("requests", "2.32.3"), ("urllib3", "2.2.2"), ("jinja2", "3.1.4")}
    total = 0
    for (name, version), pkg in pkgs.items():
        want = pypi_expected(name, version)
        got = [f for f in result.findings if f.package.name == pkg.name and f.installed_version == version]
        if version in ("2.32.3", "2.2.2", "3.1.4"):
            assert want == {} and got == [], f"{name} {version} is past every fix in the data"
            continue
        assert want, f"{name} {version}: the data should hold advisories for it"
        pysec = {f.id if f.id.startswith("PYSEC") else next(a for a in f.aliases if a.startswith("PYSEC")): f
                 for f in got}
        assert len(pysec) == len(got) == len(want), (name, sorted(pysec), sorted(want))
        assert set(pysec) == set(want)
        for aid, exp in want.items():
            f = pysec[aid]
            assert (f.id, f.fixed_version, f.state) == (exp.finding_id, exp.fixed, FixState.FIXED), aid
            assert f.data_sources == ["osv"] and f.path.startswith(SITE) and f.layer.created_by.startswith("RUN pip")
        total += len(got)
    assert total == len(result.findings)
    assert [f.severity for f in result.findings] == sorted((f.severity for f in result.findings), key=SEVERITIES.index)


# -- npm ----------------------------------------------------------------------------------------------

NODE_SATISFIES = r"""
const semver = require('semver');
const out = [];
for (const line of require('fs').readFileSync(0, 'utf8').split('\n')) {
  if (!line) continue;
  const q = JSON.parse(line);
  out.push(semver.satisfies(q.v, q.r) ? 1 : 0);
}
process.stdout.write(out.join('\n') + '\n');
"""


@pytest.fixture(scope="module")
def semver_satisfies() -> Callable[[list[tuple[str, str]]], list[bool]]:
    """node's ``semver.satisfies`` (pinned in tests/oracles) for (version, range) pairs."""
    missing = [t for t in ("node", "npm") if shutil.which(t) is None]
    if missing:
        if IN_CI:
            pytest.fail(f"{' and '.join(missing)} missing: the npm oracle is required under CI=true")
        pytest.skip(f"{' and '.join(missing)} not installed: cannot run node's semver as the npm oracle")
    if not (ORACLES / "node_modules" / "semver" / "package.json").exists():
        proc = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(ORACLES)], capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, f"npm ci for tests/oracles failed: {proc.stderr[-2000:]}"

    def ask(pairs: list[tuple[str, str]]) -> list[bool]:
        stdin = "\n".join(json.dumps({"v": v, "r": r}) for v, r in pairs) + "\n"
        proc = subprocess.run(["node", "-e", NODE_SATISFIES], input=stdin, capture_output=True, text=True,
                              cwd=ORACLES, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return [x == "1" for x in proc.stdout.split()]

    return ask


def _semver_range(events: list[dict[str, str]]) -> str:
    """OSV events of a GHSA npm range as one node-semver range (intervals joined by ``||``)."""
    parts, lower = [], None
    for ev in events:
        ((kind, v),) = ev.items()
        if kind == "introduced":
            lower = ">=0.0.0" if v == "0" else f">={v}"
        elif kind in ("fixed", "last_affected"):
            parts.append(f"{lower} {'<' if kind == 'fixed' else '<='}{v}")
            lower = None
    if lower:
        parts.append(lower)
    return " || ".join(parts)


@pytest.fixture(scope="module")
def node_image(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    with realpkgs.require():
        old = realpkgs.npm_tarballs("lodash@4.17.15", "minimist@1.2.0")
        new = realpkgs.npm_tarballs("lodash@4.17.21", "minimist@1.2.8")
    layer1: dict[str, object] = {"etc/os-release": DEBIAN_12_OS_RELEASE}
    for p in old.values():
        layer1.update(realpkgs.read_npm_tarball(p).files)
    layer2: dict[str, object] = {}
    for p in new.values():
        layer2.update(realpkgs.read_npm_tarball(p, node_modules="srv/app/node_modules").files)
    return image(tmp_path_factory.mktemp("npm"), [layer1, layer2], ["RUN npm i -g lodash@4.17.15 minimist@1.2.0",
                                                                     "RUN cd /srv/app && npm i lodash minimist"])


def test_npm_findings_match_node_semver(matcher: Matcher, node_image: Catalogue,
                                        semver_satisfies: Callable[[list[tuple[str, str]]], list[bool]]) -> None:
    """lodash 4.17.15 / minimist 1.2.0: the GHSA advisories node's semver places them in; 4.17.21 / 1.2.8: none."""
    records = [json.loads(p.read_text()) for p in sorted(vulndb_data("osv-npm").rglob("GHSA-*.json"))]
    result = matcher.match(node_image)
    pkgs = [(p.name, p.version) for p in node_image.packages if p.ecosystem == "npm"]
    assert sorted(pkgs) == [("lodash", "4.17.15"), ("lodash", "4.17.21"), ("minimist", "1.2.0"), ("minimist", "1.2.8")]
    queries: list[tuple[str, str, str, str]] = []  # (package, version, GHSA, range)
    for name, version in pkgs:
        for doc in records:
            for a in doc["affected"]:
                if a["package"] == {"ecosystem": "npm", "name": name} or (
                        a["package"]["ecosystem"] == "npm" and a["package"]["name"] == name):
                    queries += [(name, version, doc["id"], _semver_range(r["events"])) for r in a["ranges"]]
    answers = semver_satisfies([(v, r) for _, v, _, r in queries])
    want: dict[tuple[str, str], set[str]] = {p: set() for p in pkgs}
    for (name, version, ghsa, _), yes in zip(queries, answers, strict=True):
        if yes:
            want[(name, version)].add(ghsa)
    assert want[("lodash", "4.17.21")] == set() and want[("minimist", "1.2.8")] == set()
    assert want[("lodash", "4.17.15")] and want[("minimist", "1.2.0")]
    for name, version in pkgs:
        got = [f for f in result.findings if (f.package.name, f.installed_version) == (name, version)]
        ghsas = [next(i for i in sorted(all_ids(f)) if i.startswith("GHSA-")) for f in got]
        assert sorted(ghsas) == sorted(want[(name, version)]), (name, version)
    fixed = {f.id: f.fixed_version for f in result.findings if f.package.name == "lodash"}
    assert fixed == {"CVE-2020-8203": "4.17.20", "CVE-2021-23337": "4.17.21"}  # read from the two GHSA records


# -- Debian -------------------------------------------------------------------------------------------

_LIST_HEADER = re.compile(r"^\[[^\]]+\]\s+((?:DSA|DLA)-\S+)")
_LIST_RELEASE = re.compile(r"^\s+\[([a-z]+)\]\s+-\s+(\S+)\s+(\S+)")


def debian_list_entries(release: str, source: str) -> list[tuple[str, str, set[str]]]:
    """(DSA/DLA id, fixed version, its CVEs) for every ``[release] - source <version>`` line of the raw lists."""
    out = []
    for lst in ("DSA", "DLA"):
        current, cves = "", set[str]()
        for line in vulndb_data("debian", lst, "list").read_text(errors="replace").splitlines():
            if m := _LIST_HEADER.match(line):
                current, cves = m.group(1), set()
            elif line.strip().startswith("{"):
                cves |= set(re.findall(r"CVE-\d{4}-\d+", line))
            elif (m := _LIST_RELEASE.match(line)) and m.group(1) == release and m.group(2) == source:
                out.append((current, m.group(3), cves))
    return out


def debian_list_lines(release: str, source: str) -> list[tuple[str, str]]:
    """(DSA/DLA id, fixed version) for every ``[release] - source <version>`` line of the raw lists."""
    return [(aid, fixed) for aid, fixed, _ in debian_list_entries(release, source)]


def dpkg_lt(pairs: list[tuple[str, str]]) -> list[bool]:
    """``dpkg --compare-versions a lt b`` for each pair, one shell for all."""
    if shutil.which("dpkg") is None:
        if IN_CI:
            pytest.fail("dpkg is required under CI=true")
        pytest.skip("dpkg not installed: no oracle for Debian version order")
    script = "\n".join(f"dpkg --compare-versions {shlex.quote(a)} lt {shlex.quote(b)} && echo 1 || echo 0"
                       for a, b in pairs)
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True, timeout=120).stdout
    return [x == "1" for x in out.split()]


#: Real buster packages (binary name, source, version) that no fixture of the shared data holds: glibc
#: and pcre2 as Debian 10.0 shipped them, openssl as DSA-4855-1 updated it (so earlier fixes must not
#: match). The ``openssl`` binary has no Source field (same name as its source).
BUSTER = [("libssl1.1", "openssl", "1.1.1d-0+deb10u5"), ("openssl", "", "1.1.1d-0+deb10u5"),
          ("libc6", "glibc", "2.28-10"), ("libpcre2-8-0", "pcre2", "10.32-5")]


def buster_status() -> bytes:
    """The real Debian 10 ``status.d`` fixture plus stanzas for the :data:`BUSTER` packages."""
    fixture = pkgdb("dpkg", "debian-10-status.d_syft", "status.d", "multiple").read_bytes()
    extra = "".join(f"\nPackage: {n}\nStatus: install ok installed\n" + (f"Source: {s}\n" if s else "")
                    + f"Version: {v}\nArchitecture: amd64\n" for n, s, v in BUSTER)
    return fixture.rstrip(b"\n") + b"\n" + extra.encode()


@pytest.fixture(scope="module")
def buster_image(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    return image(tmp_path_factory.mktemp("buster"), [{"etc/os-release": DEBIAN_10_OS_RELEASE,
                                                      "var/lib/dpkg/status": buster_status()}],
                 ["ADD rootfs.tar /"])


def test_debian_findings_are_the_release_lines_above_the_installed_source_version(
        matcher: Matcher, buster_image: Catalogue) -> None:
    """Every ``[buster] - <source> <fixed>`` line with installed < fixed (dpkg) is reported, on the source
    package, as FIXED; DSAs sharing a CVE are one finding; nothing from other releases."""
    result = matcher.match(buster_image)
    debs = {p.name: p for p in buster_image.packages}
    assert {"libssl1.1", "openssl", "libc6", "libpcre2-8-0", "tzdata", "util-linux"} <= set(debs)
    for name, source, version in BUSTER:
        src = source or name
        lines = debian_list_lines("buster", src)
        lt = dpkg_lt([(version, fixed) for _, fixed in lines])
        want = {aid for (aid, _), yes in zip(lines, lt, strict=True) if yes}
        assert want, f"{src} {version} should be affected by some buster advisory"
        assert len(want) < len(lines) or src != "openssl"  # five buster fixes are at or below 1.1.1d-0+deb10u5
        got = by_package(result, name)
        seen = {i for f in got for i in all_ids(f) if i.startswith(("DSA-", "DLA-"))}
        assert seen == want, (name, sorted(seen ^ want))
        for f in got:
            assert f.package.source_name == src and f.installed_version == version and f.state == FixState.FIXED
            assert f.data_sources and set(f.data_sources) <= {"debian-dsa", "debian-dla"}
            mine = [(aid, fx) for aid, fx in lines if aid in all_ids(f)]
            assert mine and all(dpkg_lt([(version, fx) for _, fx in mine]))
            # the fix reported is the highest of the merged advisories' (upgrading to it clears them all)
            assert not any(dpkg_lt([(f.fixed_version, fx) for _, fx in mine]))
            assert f.fixed_version in {fx for _, fx in mine}
        ids = [f.id for f in got]
        assert len(ids) == len(set(ids)), f"{name}: duplicate findings"
        if src == "openssl":
            assert {f.id for f in got} == {f.id for f in by_package(result, "libssl1.1")}
    # tzdata's Source here is tzdata-dev (as in the fixture): the binary name's own buster DLAs do not apply.
    assert debian_list_lines("buster", "tzdata") and not debian_list_lines("buster", "tzdata-dev")
    assert debs["tzdata"].source_name == "tzdata-dev" and by_package(result, "tzdata") == []
    assert debian_list_lines("buster", "util-linux") == [] and by_package(result, "util-linux") == []
    assert result.issues == []


def test_debian_packages_never_match_another_release_or_distro(matcher: Matcher, buster_image: Catalogue) -> None:
    """The same packages on Debian 12 (no bookworm data) and on Ubuntu 18.04 (no Ubuntu data): nothing,
    with an issue naming the release; the stretch lines for openssl are never used for buster."""
    pkgs = buster_image.packages
    for os_release, key in ((OSRelease(id="debian", version_id="12"), "debian:bookworm"),
                            (OSRelease(id="ubuntu", version_id="18.04", version_codename="bionic",
                                       id_like=["debian"]), "ubuntu:18.04")):
        r = matcher.match_packages(pkgs, os_release)
        assert r.findings == [] and len(r.issues) == 1 and key in r.issues[0], r.issues
    stretch_only = {a for a, _ in debian_list_lines("stretch", "openssl")} - \
        {a for a, _ in debian_list_lines("buster", "openssl")}
    assert stretch_only
    r = matcher.match(buster_image)
    assert not stretch_only & {i for f in r.findings for i in all_ids(f)}
    assert distro_release(OSRelease(id="debian", version_id="10")) == "debian:buster"
    assert distro_release(OSRelease(id="alpine", version_id="3.18.4")) == "alpine:v3.18"


def test_real_ubuntu_fixture_gets_no_debian_findings(matcher: Matcher, tmp_path: Path) -> None:
    """A real Ubuntu 18.04 status (openssl, glibc, ... that Debian's lists name) is not judged by Debian data."""
    status = pkgdb("dpkg", "ubuntu-18.04_trivy", "status").read_bytes()
    os_rel = b'NAME="Ubuntu"\nVERSION="18.04.6 LTS (Bionic Beaver)"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="18.04"\n' \
             b'VERSION_CODENAME=bionic\n'
    cat = image(tmp_path, [{"etc/os-release": os_rel, "var/lib/dpkg/status": status}], ["ADD rootfs.tar /"])
    assert len(cat.packages) > 50
    r = matcher.match(cat)
    assert r.findings == [] and r.stats.checked == 0 and r.stats.unchecked == {"deb:ubuntu:18.04": len(cat.packages)}


def test_dsas_sharing_a_cve_are_one_finding(matcher: Matcher) -> None:
    """woody's libpng: DSA-536 and its follow-up DSA-570-1 both fix CVE-2004-0599. Advisories are grouped
    here by the CVEs their raw list blocks name (transitively); each group must be exactly one finding,
    reported at the highest of the group's fixes."""
    installed = "1.0.12-3.woody.5"
    entries = debian_list_entries("woody", "libpng")
    lt = dpkg_lt([(installed, fixed) for _, fixed, _ in entries])
    hit = [(aid, fixed, cves) for (aid, fixed, cves), yes in zip(entries, lt, strict=True) if yes]
    groups: list[tuple[set[str], set[str]]] = []  # (advisory ids, CVEs)
    for aid, _, cves in hit:
        joined = [g for g in groups if g[1] & cves]
        merged = ({aid} | {a for g in joined for a in g[0]}, set(cves) | {c for g in joined for c in g[1]})
        groups = [g for g in groups if g not in joined] + [merged]
    assert any({"DSA-536", "DSA-570-1"} <= ids for ids, _ in groups)
    r = matcher.match_packages([Package(name="libpng2", version=installed, ecosystem="deb", purl="",
                                        source_name="libpng", locations=[Location(path="var/lib/dpkg/status")])],
                               OSRelease(id="debian", version_id="3.0"))
    got = sorted(sorted(i for i in all_ids(f) if i.startswith("DSA-")) for f in r.findings)
    assert got == sorted(sorted(ids) for ids, _ in groups)
    for f in r.findings:
        fixes = [fixed for aid, fixed, _ in hit if aid in all_ids(f)]
        assert f.fixed_version in fixes and not any(dpkg_lt([(f.fixed_version, x) for x in fixes]))
        cves = {c for aid, _, cs in hit if aid in all_ids(f) for c in cs}
        assert f.id == (next(iter(cves)) if len(cves) == 1 else min(i for i in all_ids(f) if i.startswith("DSA-")))


# -- Alpine -------------------------------------------------------------------------------------------


def secdb_fixes(release: str, name: str) -> list[tuple[str, str]]:
    """(CVE or other id, fixed version) for a package in ``<release>/main.yaml``, read with plain YAML."""
    doc = yaml.safe_load(vulndb_data("alpine", release, "main.yaml").read_text())
    out = []
    for p in doc["packages"]:
        if p["pkg"]["name"] == name:
            for version, items in (p["pkg"].get("secfixes") or {}).items():
                for item in items or []:
                    ids = [t for t in re.sub(r"\([^)]*\)", " ", str(item)).split() if re.match(r"^[A-Z]+-\d", t)]
                    out += [(i, str(version)) for i in ids]
    return out


def test_alpine_findings_follow_secdb_fixed_in_semantics(matcher: Matcher, tmp_path: Path) -> None:
    """The real Alpine 3.4 installed DB (secdb has v3.4): a finding per secdb fix above the installed
    version of the package's origin (apk ordering), none for ``0`` (never affected)."""
    installed = pkgdb("apk", "alpine-3.4_trivy", "installed").read_bytes()
    cat = image(tmp_path, [{"etc/os-release": ALPINE_34_OS_RELEASE, "lib/apk/db/installed": installed}],
                ["ADD alpine-minirootfs-3.4.6.tar.gz /"])
    r = matcher.match(cat)
    assert r.issues == []
    checked = 0
    for pkg in cat.packages:
        fixes = secdb_fixes("v3.4", pkg.source_name)
        want: dict[str, str] = {}
        for aid, fixed in fixes:
            if fixed != "0" and _apk_reference(pkg.version, fixed) < 0:
                want[aid] = fixed if aid not in want or _apk_reference(want[aid], fixed) < 0 else want[aid]
        got = by_package(r, pkg.name)
        covered = {i for f in got for i in all_ids(f)}
        assert set(want) <= covered, (pkg.name, sorted(set(want) - covered))
        assert {f.id for f in got} <= set(want), pkg.name
        for f in got:
            assert f.fixed_version == max((want[i] for i in all_ids(f) if i in want), key=cmp_to_key(_apk_reference))
            assert f.package.source_name == pkg.source_name and f.data_sources == ["alpine-secdb"]
            assert f.path == "lib/apk/db/installed" and f.layer.created_by.startswith("ADD alpine")
        never = {aid for aid, fixed in fixes if fixed == "0"}
        assert not never & {f.id for f in got}
        checked += bool(want)
    assert checked >= 3  # musl, busybox, openssl (x2 binaries) ... at these 2016 versions
    assert {f.package.name for f in r.findings} >= {"libcrypto1.0", "libssl1.0", "musl", "busybox"}


# -- merging, withdrawn, unverifiable, duplicates ------------------------------------------------------


def pypi(name: str, version: str, path: str = f"{SITE}/x.dist-info/METADATA") -> Package:
    return Package(name=name, version=version, ecosystem="pypi", purl=f"pkg:pypi/{name.lower()}@{version}",
                   locations=[Location(path=path, layer_digest="sha256:aa", created_by="RUN pip install")])


def test_advisories_aliasing_each_other_are_one_finding(matcher: Matcher, db_path: Path) -> None:
    """distributed: PYSEC-2021-871 and PYSEC-2021-872 both alias CVE-2021-42343 (and a GHSA): one finding,
    id the CVE, the rest as aliases."""
    recs = [yaml.safe_load(vulndb_data("osv-pypi", "vulns", "distributed", f"{i}.yaml").read_text())
            for i in ("PYSEC-2021-871", "PYSEC-2021-872")]
    assert all("CVE-2021-42343" in r["aliases"] for r in recs)
    # Every record of the data naming the CVE (dask's PYSEC-2021-387 too) is the same vulnerability.
    naming = [yaml.safe_load(f.read_text()) for f in vulndb_data("osv-pypi", "vulns").rglob("*.yaml")
              if "CVE-2021-42343" in f.read_text()]
    assert len(naming) == 3
    expected_aliases = sorted({r["id"] for r in naming} | {a for r in naming for a in r["aliases"]}
                              - {"CVE-2021-42343"})
    assert any(a.startswith("GHSA-") for a in expected_aliases)
    assert all(_osv_affected_pypi("2021.9.1", r["affected"][0]) for r in recs)
    r = matcher.match_packages([pypi("distributed", "2021.9.1")], None)
    got = [f for f in r.findings if "CVE-2021-42343" in all_ids(f)]
    assert len(got) == 1
    assert got[0].id == "CVE-2021-42343" and got[0].aliases == expected_aliases
    assert got[0].fixed_version == "2021.10.0" and got[0].state == FixState.FIXED  # both records' fix
    with VulnDB(db_path) as vdb:  # both records really are separate advisories that match this package
        assert {e.advisory_id for e in vdb.lookup("pypi", "distributed")} >= {"PYSEC-2021-871", "PYSEC-2021-872"}


def test_withdrawn_advisory_never_matches(matcher: Matcher) -> None:
    """PYSEC-2019-144 (arrayfire < 3.6.0) is withdrawn: 3.5.0 is inside its range and still gets nothing."""
    doc = yaml.safe_load(vulndb_data("osv-pypi", "vulns", "arrayfire", "PYSEC-2019-144.yaml").read_text())
    assert doc.get("withdrawn") and _osv_affected_pypi("3.5.0", doc["affected"][0])
    r = matcher.match_packages([pypi("arrayfire", "3.5.0")], None)
    assert not any("PYSEC-2019-144" in all_ids(f) for f in r.findings)


def test_unparsable_version_is_unverifiable_never_dropped(matcher: Matcher) -> None:
    r = matcher.match_packages([pypi("requests", "2.19.1-final-final!"), pypi("requests", "2.19.1")], None)
    bad = [f for f in r.findings if f.installed_version != "2.19.1"]
    good = [f for f in r.findings if f.installed_version == "2.19.1"]
    live = [f for f in vulndb_data("osv-pypi", "vulns", "requests").glob("*.yaml")
            if not yaml.safe_load(f.read_text()).get("withdrawn")]
    assert len(bad) == len(live) > len(good) > 0
    assert all(f.state == FixState.UNVERIFIABLE and f.fixed_version == "" and "PEP 440" in f.note for f in bad)
    assert r.stats.by_state[FixState.UNVERIFIABLE] == len(bad)


def test_duplicates_never_two_locations_twice(matcher: Matcher) -> None:
    one = pypi("urllib3", "1.24.1", f"{SITE}/urllib3-1.24.1.dist-info/METADATA")
    other = pypi("urllib3", "1.24.1", f"{VENV_SITE}/urllib3-1.24.1.dist-info/METADATA")
    single = matcher.match_packages([one], None).findings
    assert single
    twice = matcher.match_packages([one, one], None)
    assert twice.findings == single and twice.stats.duplicates == 1
    both = matcher.match_packages([one, other], None).findings
    assert len(both) == 2 * len(single)
    assert sorted(f.path for f in both) == sorted([one.locations[0].path] * len(single)
                                                  + [other.locations[0].path] * len(single))
    keys = [(f.id, f.package.name, f.path) for f in both]
    assert len(keys) == len(set(keys))


def test_git_only_ranges_match_nothing(tmp_path: Path) -> None:
    """PYSEC-2021-88 (zope) with its ECOSYSTEM range and version list removed keeps only a GIT range:
    zope 4.0 then matches nothing, while the unmodified record does match it."""
    raw = yaml.safe_load(vulndb_data("osv-pypi", "vulns", "zope", "PYSEC-2021-88.yaml").read_text())
    for variant, keep in (("orig", None), ("git", "GIT")):
        doc = json.loads(json.dumps(raw, default=str))
        if keep:
            for a in doc["affected"]:
                a["ranges"] = [r for r in a["ranges"] if r["type"] == keep]
                a.pop("versions", None)
            assert doc["affected"][0]["ranges"]
        src = tmp_path / variant
        src.mkdir()
        (src / "PYSEC-2021-88.json").write_text(json.dumps(doc))
        build(tmp_path / f"{variant}.sqlite", [(OSVImporter(), src)])
        with Matcher(tmp_path / f"{variant}.sqlite") as m:
            found = m.match_packages([pypi("Zope", "4.0")], None).findings
        assert bool(found) == (keep is None), variant


# -- property: a finding exists iff installed < fixed ------------------------------------------------


def _buster_openssl() -> list[tuple[str, str]]:
    return debian_list_lines("buster", "openssl")


_DEB_MUTATIONS = st.sampled_from(["", "~1", "+b1", "+deb10u1", ".1", "-1"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_finding_iff_installed_below_fixed(matcher: Matcher, data: st.DataObject) -> None:
    """Installed versions generated around each buster openssl fix and around requests' 2.20.0 fix: an
    advisory's finding exists exactly when the comparator puts the installed version below its fix."""
    dpkg = get_scheme("deb")
    lines = _buster_openssl()
    base = data.draw(st.sampled_from(sorted({fx for _, fx in lines})))
    m = re.match(r"^(.*\+deb10u)(\d+)$", base)
    if m and data.draw(st.booleans()):
        base = f"{m.group(1)}{max(0, int(m.group(2)) + data.draw(st.integers(-2, 2)))}"
    installed = base + data.draw(_DEB_MUTATIONS)
    r = matcher.match_packages([Package(name="openssl", version=installed, ecosystem="deb", purl="",
                                        locations=[Location(path="var/lib/dpkg/status")])],
                               OSRelease(id="debian", version_id="10", version_codename="buster"))
    got = {i for f in r.findings for i in all_ids(f) if i.startswith(("DSA-", "DLA-"))}
    assert got == {aid for aid, fx in lines if dpkg.compare(installed, fx) < 0}, installed
    for f in r.findings:
        assert dpkg.compare(installed, f.fixed_version) < 0

    pep = get_scheme("pypi")
    release = data.draw(st.tuples(st.integers(1, 3), st.integers(15, 25), st.integers(0, 2)))
    suffix = data.draw(st.sampled_from(["", "rc1", "b2", ".post1", ".dev0", "a1"]))
    version = ".".join(map(str, release)) + suffix
    found = {i for f in matcher.match_packages([pypi("requests", version)], None).findings for i in all_ids(f)}
    doc = yaml.safe_load(vulndb_data("osv-pypi", "vulns", "requests", "PYSEC-2018-28.yaml").read_text())
    assert [e for r_ in doc["affected"][0]["ranges"] if r_["type"] == "ECOSYSTEM" for e in r_["events"]] == [
        {"introduced": "0"}, {"fixed": "2.20.0"}]
    listed = version in (doc["affected"][0].get("versions") or [])
    assert ("PYSEC-2018-28" in found) == (pep.compare(version, "2.20.0") < 0 or listed), version


def test_packages_without_data_are_counted_and_reported(matcher: Matcher) -> None:
    """No silent gaps: an ecosystem the index has no data for, and OS packages of an unknown release."""
    cargo = Package(name="smallvec", version="1.6.0", ecosystem="cargo", purl="pkg:cargo/smallvec@1.6.0")
    deb = Package(name="libssl1.1", version="1.1.1d-0+deb10u5", ecosystem="deb", purl="", source_name="openssl")
    r = matcher.match_packages([cargo, deb, pypi("requests", "2.19.1")], None)
    assert r.stats.unchecked == {"cargo": 1, "deb:None": 1} and r.stats.checked == 1
    assert any("ecosystem cargo" in i for i in r.issues) and any("distro release is unknown" in i for i in r.issues)
    assert r.findings and all(f.package.ecosystem == "pypi" for f in r.findings)
