"""The vulnerability index: each real advisory source imports completely and correctly, malformed
input is skipped with a counted reason instead of aborting, and the built index is read-only.

Expected counts are computed here from the raw files with simpler means (file counts, line
patterns, a plain YAML/JSON load), not copied from the importers' output.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import re
import shutil
import sqlite3
import tempfile
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from propolis.scanner.vulndb import Advisory, DbInfo, Status, VulnDB, VulnDBError, build
from propolis.scanner.vulndb.importers import detect
from propolis.scanner.vulndb.importers.alpine_secdb import AlpineSecdbImporter
from propolis.scanner.vulndb.importers.debian_json import DebianJSONImporter
from propolis.scanner.vulndb.importers.debian_list import DebianListImporter
from propolis.scanner.vulndb.importers.interface import UNEXPECTED, ImportStats, RecordError
from propolis.scanner.vulndb.importers.osv import OSVImporter, parse_record
from propolis.scanner.vulndb.store import Builder
from tests.conftest import propolis_cli
from tests.scanner.fixtures import TESTDATA


def vulndb_data(*parts: str) -> Path:
    """Path under testdata/vulndb; skips with a clear reason when absent, fails under CI=true."""
    p = TESTDATA.joinpath("vulndb", *parts)
    if not p.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"test data {p} is missing (PROPOLIS_TESTDATA={TESTDATA}) and CI=true requires it")
        pytest.skip(f"test data {p} not found; set PROPOLIS_TESTDATA to the shared testdata folder")
    return p


class Collect:
    """A sink that keeps what it is given, for tests of one importer."""

    def __init__(self) -> None:
        self.advisories: list[Advisory] = []

    def add(self, advisory: Advisory) -> None:
        self.advisories.append(advisory)

    def by_id(self) -> dict[str, Advisory]:
        return {a.id: a for a in self.advisories}


SOURCES = ("osv-pypi", "osv-go/data", "osv-npm", "debian", "alpine")


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DbInfo, dict[str, ImportStats]]:
    """The index of all real sources, built once for the module."""
    paths = [vulndb_data(*s.split("/")) for s in SOURCES]
    plan = []
    for p in paths:
        importer = detect(p)
        assert importer is not None, p
        plan.append((importer, p))
    db_path = tmp_path_factory.mktemp("vulndb") / "vulndb.sqlite"
    info, stats = build(db_path, plan)
    return db_path, info, dict(zip(SOURCES, stats, strict=True))


@pytest.fixture(scope="module")
def db(full: tuple[Path, DbInfo, dict[str, ImportStats]]) -> VulnDB:
    return VulnDB(full[0])


# -- detection ------------------------------------------------------------------------------------

def test_each_source_kind_is_detected() -> None:
    kinds = {s: detect(vulndb_data(*s.split("/"))) for s in SOURCES}
    assert {s: i.kind if i else None for s, i in kinds.items()} == {
        "osv-pypi": "osv", "osv-go/data": "osv", "osv-npm": "osv", "debian": "debian-list",
        "alpine": "alpine-secdb"}
    assert detect(vulndb_data("debian", "DLA", "list")).kind == "debian-list"  # type: ignore[union-attr]
    assert detect(vulndb_data("alpine", "v3.8", "main.yaml")).kind == "alpine-secdb"  # type: ignore[union-attr]
    assert detect(vulndb_data("osv-pypi", "SOURCES.md")) is None
    assert detect(vulndb_data("osv-go")).kind == "osv"  # type: ignore[union-attr]  # despite selection.json
    assert detect(vulndb_data()) is None  # a tree of several kinds is not one source


# -- counts per real source ---------------------------------------------------------------------------

def test_osv_pypi_counts(full: tuple[Path, DbInfo, dict[str, ImportStats]]) -> None:
    """Every PyPA YAML file is one advisory; each top-level ``- package:`` item one affected entry."""
    root = vulndb_data("osv-pypi", "vulns")
    files = list(root.rglob("*.yaml"))
    entries = sum(len(re.findall(r"(?m)^- package:", f.read_text())) for f in files)
    stats = full[2]["osv-pypi"]
    assert len(files) > 2000
    assert (stats.imported, dict(stats.skipped), stats.affected) == (len(files), {}, entries)
    assert stats.ecosystems == Counter({"pypi": entries})


def test_osv_go_counts(full: tuple[Path, DbInfo, dict[str, ImportStats]]) -> None:
    files = sorted(vulndb_data("osv-go", "data", "osv").glob("GO-*.json"))
    entries = sum(len(json.loads(f.read_bytes())["affected"]) for f in files)
    stats = full[2]["osv-go/data"]
    assert (stats.imported, dict(stats.skipped), stats.affected) == (len(files), {}, entries)
    assert set(stats.ecosystems) == {"golang"}


def test_osv_go_selection_file_is_counted_not_fatal() -> None:
    """The folder's selection.json is not an OSV record: skipped with a reason, the rest imported."""
    stats = OSVImporter().import_(vulndb_data("osv-go"), Collect())
    assert dict(stats.skipped) == {"missing id": 1}
    assert stats.imported == len(list(vulndb_data("osv-go", "data", "osv").glob("*.json")))


def test_osv_npm_counts(full: tuple[Path, DbInfo, dict[str, ImportStats]]) -> None:
    files = sorted(vulndb_data("osv-npm").rglob("GHSA-*.json"))
    ecos = Counter(a["package"]["ecosystem"] for f in files for a in json.loads(f.read_bytes())["affected"])
    stats = full[2]["osv-npm"]
    assert (stats.imported, dict(stats.skipped)) == (len(files), {})
    assert stats.ecosystems == Counter({{"npm": "npm", "Maven": "maven", "NuGet": "nuget"}[k]: n
                                        for k, n in ecos.items()})


HEADER = re.compile(r"^\[\d\d \w{3} \d{4}\] D[SL]A-\d+")
RELEASE_LINE = re.compile(r"^\s+\[\w+\] - ")  # NOTE: lines start with "NOTE:", never with "["


def test_debian_list_counts(full: tuple[Path, DbInfo, dict[str, ImportStats]]) -> None:
    """One advisory per DSA/DLA entry that names at least one release; announcements are counted skips."""
    headers = with_packages = lines = 0
    for name in ("DSA", "DLA"):
        current = False
        for line in vulndb_data("debian", name, "list").read_text().splitlines():
            if HEADER.match(line):
                headers += 1
                current = False
            elif RELEASE_LINE.match(line):
                lines += 1
                if not current:
                    with_packages += 1
                    current = True
    stats = full[2]["debian"]
    assert headers > 8000
    assert stats.imported == with_packages
    assert dict(stats.skipped) == {"no package lines": headers - with_packages}
    assert stats.affected == lines


def test_alpine_counts(full: tuple[Path, DbInfo, dict[str, ImportStats]]) -> None:
    """Every secfix item is imported or skipped under a reason; the few bad ones are real typos."""
    items = 0
    for f in vulndb_data("alpine").glob("v*/*.yaml"):
        doc = yaml.safe_load(f.read_text())
        for p in doc.get("packages") or []:
            for ids in (p["pkg"].get("secfixes") or {}).values():
                items += len(ids or [])
    stats = full[2]["alpine"]
    assert stats.imported + stats.skipped["bad id"] == items
    assert set(stats.skipped) == {"bad id"}
    assert stats.skipped["bad id"] < items / 500  # e.g. "CVE_2019-2426", "CVE-2017-8073.patch"


def test_info_sums_the_sources(full: tuple[Path, DbInfo, dict[str, ImportStats]], db: VulnDB) -> None:
    path, info, stats = full
    withdrawn = sum(1 for f in vulndb_data("osv-pypi", "vulns").rglob("*.yaml")
                    if re.search(r"(?m)^withdrawn:", f.read_text()))
    withdrawn += sum(1 for f in vulndb_data("osv-go", "data", "osv").glob("*.json")
                     if "withdrawn" in json.loads(f.read_bytes()))
    assert info == db.info()
    assert info.withdrawn == withdrawn > 0
    assert [s.kind for s in info.sources] == ["osv", "osv", "osv", "debian-list", "alpine-secdb"]
    assert info.sources[3].skipped == dict(stats["debian"].skipped)
    assert info.size_bytes == path.stat().st_size
    assert set(info.ecosystems) == {"pypi", "golang", "npm", "maven", "nuget", "deb", "apk"}
    assert info.distros["debian:bullseye"] > 0 and info.distros["alpine:v3.11"] > 0


# -- specific real advisories ---------------------------------------------------------------------------

def test_pysec_requests(db: VulnDB) -> None:
    entries = {e.advisory_id: e for e in db.lookup("pypi", "Requests")}  # PEP 503: any spelling finds it
    assert set(entries) == {p.stem for p in vulndb_data("osv-pypi", "vulns", "requests").glob("*.yaml")}
    e = entries["PYSEC-2018-28"]
    assert (e.ecosystem, e.name, e.distro, e.source, e.status) == ("pypi", "requests", "", "osv", Status.AFFECTED)
    assert {"CVE-2018-18074", "GHSA-x84v-xcm2-53pg"} <= set(e.aliases)
    assert e.fixed == ("2.20.0",)
    git, eco = e.ranges
    assert (git.type, git.matchable, git.repo) == ("GIT", False, "https://github.com/requests/requests")
    assert (eco.type, eco.matchable, eco.events) == ("ECOSYSTEM", True, (("introduced", "0"), ("fixed", "2.20.0")))
    assert "2.19.1" in e.versions and "0.12.01" in entries["PYSEC-2014-13"].versions  # YAML scalars kept as text
    (adv,) = db.advisories("PYSEC-2018-28")
    assert adv.published == "2018-10-09T17:29:00Z" and adv.summary and adv.summary.startswith("The Requests package")


def test_dsa_with_two_releases(db: VulnDB) -> None:
    """DSA-5196-1 fixed libpgjava in buster and bullseye; each release is its own entry."""
    (adv,) = db.advisories("DSA-5196-1")
    assert (adv.source, adv.published, adv.summary) == ("debian-dsa", "2022-07-31", "libpgjava - security update")
    assert adv.related == ("CVE-2022-21724", "CVE-2022-26520")
    fixed = {(e.distro, e.fixed, e.status) for e in adv.affected}
    assert fixed == {("debian:buster", ("42.2.5-2+deb10u1",), Status.FIXED),
                     ("debian:bullseye", ("42.2.15-1+deb11u1",), Status.FIXED)}
    by_number = [e.advisory_id for e in db.lookup("deb", "libpgjava", "debian:11")]
    assert "DSA-5196-1" in by_number and by_number == [e.advisory_id for e in db.lookup("deb", "libpgjava", "bullseye")]


def test_debian_list_statuses_are_kept(db: VulnDB) -> None:
    def entry(aid: str) -> Any:
        (adv,) = db.advisories(aid)
        return [(e.distro, e.name, e.status, e.fixed, e.note) for e in adv.affected]

    assert ("debian:lenny", "openoffice.org", Status.NOT_AFFECTED, (), "Vulnerable code not present") \
        in entry("DSA-2275-1")
    assert entry("DSA-880-1") == [("debian:woody", "phpmyadmin", Status.UNFIXED, (), None),
                                  ("debian:sarge", "phpmyadmin", Status.FIXED, ("4:2.6.2-3sarge1",), None)]
    assert entry("DSA-3699-1") == [("debian:jessie", "virtualbox", Status.END_OF_LIFE, (), None)]
    assert entry("DSA-1075-1") == [("debian:sarge", "awstats", Status.FIXED, ("6.4-1sarge3",), "bug #365910")]


def test_alpine_secfixes(db: VulnDB) -> None:
    e = [x for x in db.lookup("apk", "ansible", "alpine:v3.11") if x.advisory_id == "CVE-2019-14904"]
    assert [(x.fixed, x.status, x.source) for x in e] == [(("2.9.3-r0",), Status.FIXED, "alpine-secdb")]
    never = [x for x in db.lookup("apk", "db", "3.8") if x.advisory_id == "CVE-2016-0682"]
    assert [(x.fixed, x.status) for x in never] == [((), Status.NOT_AFFECTED)]  # secdb version "0"
    xen = {x.distro: x.fixed for x in db.lookup("apk", "xen") if x.advisory_id == "XSA-207"}
    assert xen["alpine:v3.3"] == ("4.6.3-r8",) and xen["alpine:v3.11"] == ("4.7.1-r5",)
    assert "XSA-200" in db.aliases("CVE-2016-9932")


def test_go_semver_ranges(db: VulnDB) -> None:
    """GO-2022-0288: stdlib has plain SEMVER events; x/net's pseudo-version is kept verbatim."""
    (adv,) = db.advisories("GO-2022-0288")
    by_pkg = {e.name: e for e in adv.affected}
    std = by_pkg["stdlib"]
    assert (std.ecosystem, std.ranges[0].type) == ("golang", "SEMVER")
    assert std.ranges[0].events == (("introduced", "0"), ("fixed", "1.16.12"), ("introduced", "1.17.0-0"),
                                    ("fixed", "1.17.5"))
    assert std.fixed == ("1.16.12", "1.17.5")
    assert by_pkg["golang.org/x/net"].fixed == ("0.0.0-20211209124913-491a49abca63",)
    assert adv.modified is None and adv.published == "2022-07-15T23:08:33Z"  # Go's zero time means unknown
    assert {"CVE-2021-44716", "GHSA-vc3p-29h2-gpcp"} == set(adv.aliases)


def test_npm_cvss_score(db: VulnDB) -> None:
    (e,) = [x for x in db.lookup("npm", "follow-redirects") if x.advisory_id == "GHSA-74fj-2j2h-c42q"]
    assert e.fixed == ("1.14.8",) and "CVE-2022-0155" in e.aliases
    (adv,) = db.advisories("GHSA-74fj-2j2h-c42q")
    assert (adv.cvss_vector, adv.cvss_score, adv.severity) == (
        "CVSS:3.0/AV:N/AC:L/PR:L/UI:R/S:U/C:H/I:H/A:H", 8.0, "HIGH")


def test_aliases_merge_across_sources(db: VulnDB) -> None:
    """PyPA's PYSEC-2014-13 and Debian's DSA-3146-1 are both about CVE-2014-1829 in requests."""
    group = db.aliases("PYSEC-2014-13")
    assert {"PYSEC-2014-13", "CVE-2014-1829", "GHSA-cfj3-7x9c-4p3h", "DSA-3146-1"} <= set(group)
    assert set(db.aliases("GHSA-x84v-xcm2-53pg")) >= {"PYSEC-2018-28", "CVE-2018-18074"}
    # A DSA covering two CVEs lists both, but does not make the two CVEs aliases of each other.
    assert {"CVE-2014-1829", "CVE-2014-1830"} <= set(db.aliases("DSA-3146-1"))
    assert "PYSEC-2014-14" not in db.aliases("PYSEC-2014-13")


def test_withdrawn_is_not_matched(db: VulnDB) -> None:
    assert "PYSEC-2023-73" not in {e.advisory_id for e in db.lookup("pypi", "redis")}
    (e,) = [x for x in db.lookup("pypi", "redis", include_withdrawn=True) if x.advisory_id == "PYSEC-2023-73"]
    assert e.withdrawn == "2023-06-06T10:37:00Z"


# -- the index file ---------------------------------------------------------------------------------------

def test_index_is_read_only(full: tuple[Path, DbInfo, dict[str, ImportStats]]) -> None:
    path = full[0]
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with VulnDB(path) as vdb:
        with pytest.raises(sqlite3.OperationalError, match="readonly|read-only"):
            vdb.connection.execute("DELETE FROM advisories")
        with pytest.raises(sqlite3.OperationalError):
            vdb.connection.execute("CREATE TABLE x (y)")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_lookup_uses_the_index(db: VulnDB) -> None:
    plan = " ".join(str(r[-1]) for r in db.connection.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM affected WHERE ecosystem = 'deb' AND distro = 'debian:buster'"
        " AND name = 'openssl'"))
    assert "affected_lookup" in plan


def test_failed_build_leaves_the_old_index(tmp_path: Path, full: tuple[Path, DbInfo, dict[str, ImportStats]]) -> None:
    target = tmp_path / "v.db"
    shutil.copy(full[0], target)
    before = target.read_bytes()
    with pytest.raises(RuntimeError), Builder(target) as b:
        b.add(Advisory(id="X-1", source="osv"))
        raise RuntimeError("import interrupted")
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.db"]  # no temp file left behind


def test_other_schema_version_is_refused(tmp_path: Path, full: tuple[Path, DbInfo, dict[str, ImportStats]]) -> None:
    copy_ = tmp_path / "old.db"
    shutil.copy(full[0], copy_)
    with sqlite3.connect(copy_) as c:
        c.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    with pytest.raises(VulnDBError, match="schema version 0"):
        VulnDB(copy_)
    (tmp_path / "junk.db").write_bytes(b"not sqlite" * 100)
    with pytest.raises(VulnDBError):
        VulnDB(tmp_path / "junk.db")
    with pytest.raises(VulnDBError, match="does not exist"):
        VulnDB(tmp_path / "missing.db")


# -- other shapes: OSV all.zip, tracker JSON ----------------------------------------------------------

def test_osv_all_zip(tmp_path: Path) -> None:
    """osv.dev's per-ecosystem export: a flat zip of <id>.json; a corrupt member is skipped, not fatal."""
    files = sorted(vulndb_data("osv-go", "data", "osv").glob("GO-2023-*.json"))
    z = tmp_path / "all.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            zf.write(f, f.name)
        zf.writestr("broken.json", b'{"id": "GO-X", "affected": [')
    assert detect(z) is not None and detect(z).kind == "osv"  # type: ignore[union-attr]
    sink = Collect()
    stats = OSVImporter().import_(z, sink)
    assert (stats.imported, dict(stats.skipped)) == (len(files), {"invalid JSON": 1})
    assert {a.id for a in sink.advisories} == {f.stem for f in files}


#: Written from the tracker's JSON export format (tracker_service.py): package → issue → releases.
TRACKER_JSON = {
    "openssl": {
        "CVE-2024-4741": {
            "description": "Use After Free with SSL_free_buffers", "scope": "remote",
            "releases": {
                "bookworm": {"status": "resolved", "repositories": {"bookworm": "3.0.13-1~deb12u1"},
                             "fixed_version": "3.0.14-1~deb12u1", "urgency": "not yet assigned"},
                "bullseye": {"status": "open", "repositories": {"bullseye": "1.1.1w-0+deb11u1"},
                             "urgency": "low", "nodsa": "Minor issue", "nodsa_reason": "postponed"},
                "sid": {"status": "resolved", "repositories": {"sid": "3.2.1-3"}, "fixed_version": "0",
                        "urgency": "not yet assigned"},
                "trixie": {"status": "undetermined", "repositories": {"trixie": "3.2.1-3"},
                           "urgency": "not yet assigned"},
                "buster": {"status": "open", "repositories": {"buster": "1.1.1n-0+deb10u3"},
                           "urgency": "end-of-life"},
            }},
        "CVE-2023-5678": {
            "description": "Excessive time spent in DH check / generation", "debianbug": 1055473,
            "releases": {"bookworm": {"status": "open", "urgency": "unimportant"}}},
        "CVE-2099-0001": {"releases": "not an object"},
        "not-an-issue": {"releases": {}},
    },
    "curl": {
        "CVE-2023-38545": {"description": "SOCKS5 heap buffer overflow", "releases": {
            "bookworm": {"status": "resolved", "fixed_version": "7.88.1-10+deb12u4", "urgency": "high"}}},
        "TEMP-0000000-A1B2C3": {"description": "no CVE yet", "releases": {
            "bookworm": {"status": "maybe", "urgency": "low"}}},
    },
    "Bad Name": {"CVE-2024-0001": {"releases": {}}},
}


def test_debian_tracker_json(tmp_path: Path) -> None:
    f = tmp_path / "tracker.json"
    f.write_text(json.dumps(TRACKER_JSON, separators=(",", ":")))
    assert detect(f) is not None and detect(f).kind == "debian-json"  # type: ignore[union-attr]
    sink = Collect()
    stats = DebianJSONImporter().import_(f, sink)
    assert stats.imported == 3
    assert dict(stats.skipped) == {"wrong type: releases": 1, "bad issue id": 1, "unknown status": 1,
                                   "bad package name": 1}
    adv = sink.by_id()["CVE-2024-4741"]
    assert (adv.source, adv.summary) == ("debian-tracker", "Use After Free with SSL_free_buffers")
    got = {e.distro: (e.status, e.fixed, e.severity, e.note) for e in adv.affected}
    assert got == {
        "debian:bookworm": (Status.FIXED, ("3.0.14-1~deb12u1",), None, None),
        "debian:bullseye": (Status.WILL_NOT_FIX, (), "low", "Minor issue; postponed"),
        "debian:sid": (Status.NOT_AFFECTED, (), None, None),
        "debian:trixie": (Status.UNDETERMINED, (), None, None),
        "debian:buster": (Status.END_OF_LIFE, (), None, None),
    }
    assert [(e.status, e.severity) for e in sink.by_id()["CVE-2023-5678"].affected] == [
        (Status.UNFIXED, "unimportant")]


def test_tracker_json_and_osv_share_one_index(tmp_path: Path) -> None:
    """The same CVE from the tracker and from a DSA list ends up in one alias group of one index."""
    f = tmp_path / "tracker.json"
    f.write_text(json.dumps(TRACKER_JSON))
    dsa = tmp_path / "list"
    dsa.write_text("[20 Jun 2024] DSA-5999-1 openssl - security update\n\t{CVE-2024-4741}\n"
                   "\t[bookworm] - openssl 3.0.14-1~deb12u1\n")
    info, _ = build(tmp_path / "v.db", [(detect(f), f), (detect(dsa), dsa)])  # type: ignore[list-item]
    with VulnDB(tmp_path / "v.db") as vdb:
        assert set(vdb.aliases("CVE-2024-4741")) == {"CVE-2024-4741", "DSA-5999-1"}
        ids = {(e.advisory_id, e.source) for e in vdb.lookup("deb", "openssl", "debian:12")}
    assert ids == {("CVE-2024-4741", "debian-tracker"), ("CVE-2023-5678", "debian-tracker"),
                   ("DSA-5999-1", "debian-dsa")}
    assert info.distros["debian:bookworm"] == 4


# -- malformed input ------------------------------------------------------------------------------------

YAML_BOMB = """id: PYSEC-0000-1
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
affected: *g
"""


def _real_osv() -> dict[str, Any]:
    return json.loads(vulndb_data("osv-go", "data", "osv", "GO-2022-0288.json").read_bytes())


def test_malformed_osv_is_skipped_with_reasons(tmp_path: Path) -> None:
    good = _real_osv()
    good_yaml = vulndb_data("osv-pypi", "vulns", "requests", "PYSEC-2018-28.yaml").read_bytes()
    (tmp_path / "good.json").write_text(json.dumps(good))
    (tmp_path / "good.yaml").write_bytes(good_yaml)
    (tmp_path / "truncated.json").write_bytes(json.dumps(good).encode()[:300])
    (tmp_path / "bomb.yaml").write_text(YAML_BOMB)
    (tmp_path / "latin1.yaml").write_bytes(good_yaml.replace(b"Requests package", "Requêsts".encode("latin-1")))
    (tmp_path / "garbage.json").write_bytes(random.Random(7).randbytes(10 * 1024 * 1024))
    (tmp_path / "deep.json").write_text("[" * (10 * 1024 * 1024))  # valid UTF-8, nests past any recursion limit
    (tmp_path / "no-id.json").write_text(json.dumps({k: v for k, v in good.items() if k != "id"}))
    (tmp_path / "list.json").write_text("[1, 2, 3]")
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "bad-yaml.yaml").write_text("id: X\naffected: [\n  - {")
    for name, mutate in {
        "aliases-str": lambda d: d.__setitem__("aliases", "CVE-2021-44716"),
        "affected-obj": lambda d: d.__setitem__("affected", {"package": {}}),
        "id-int": lambda d: d.__setitem__("id", 42),
        "event-int": lambda d: d["affected"][0]["ranges"][0]["events"].__setitem__(1, {"fixed": 5}),
        "event-two-keys": lambda d: d["affected"][0]["ranges"][0]["events"].__setitem__(0, {"introduced": "0",
                                                                                             "fixed": "1"}),
        "range-type": lambda d: d["affected"][0]["ranges"][0].__setitem__("type", "CALVER"),
        "no-package": lambda d: d["affected"][1].pop("package"),
        "severity-str": lambda d: d.__setitem__("severity", "HIGH"),
    }.items():
        d = copy.deepcopy(good)
        mutate(d)
        (tmp_path / f"{name}.json").write_text(json.dumps(d))
    sink = Collect()
    stats = OSVImporter().import_(tmp_path, sink)
    assert [a.id for a in sink.advisories] == ["GO-2022-0288", "PYSEC-2018-28"]
    assert dict(stats.skipped) == {
        "invalid JSON": 2, "not UTF-8": 2, "YAML aliases not allowed": 1, "missing id": 1, "not an OSV record": 1,
        "empty document": 1, "invalid YAML": 1, "wrong type: aliases": 1, "wrong type: affected": 1,
        "wrong type: id": 1, "bad range events": 2, "bad range type": 1, "missing package": 1,
        "wrong type: severity": 1,
    }


def test_malformed_debian_list_entries_are_skipped(tmp_path: Path) -> None:
    real = vulndb_data("debian", "DSA", "list").read_text().splitlines(keepends=True)[:9]  # three real entries
    bad = ["[32 Mar 2023] DSA-9999-1 foo - security update\n", "\t[bullseye] - foo 1.0-1\n",
           "[xx] not a header\n",
           "[01 Apr 2023] DSA-9998-1 bar - security update\n", "\t{CVE-2023-0001}\n", "\t[bullseye] - bar\n",
           "[01 Apr 2023] DSA-9997-1 baz - security update\n", "\t[bullseye] - baz <weird>\n",
           "[01 Apr 2023] DSA-9996-1 qux - security update\n", "\t{CVE-2023-0002 not_an_id}\n",
           "\t[bullseye] - qux 1.0\n"]
    f = tmp_path / "list"
    f.write_bytes("".join(real[:3] + bad + real[3:]).encode() + b"[01 Apr 2023] DSA-9995-1 \xff\xfe\n"
                  b"\t[bullseye] - qux 1.0\n")
    sink = Collect()
    stats = DebianListImporter().import_(f, sink)
    assert [a.id for a in sink.advisories] == ["DSA-5380-1", "DSA-5379-1", "DSA-5378-1"]
    assert dict(stats.skipped) == {"bad date": 1, "bad header": 1, "bad package line": 1, "unknown status": 1,
                                   "bad id": 1, "not UTF-8": 1}


def test_malformed_alpine_secdb_is_skipped(tmp_path: Path) -> None:
    shutil.copy(vulndb_data("alpine", "v3.4", "community.yaml"), tmp_path / "ok.yaml")
    (tmp_path / "types.yaml").write_text(
        "distroversion: v3.12\nreponame: main\npackages:\n"
        "  - pkg: {name: a, secfixes: [CVE-2020-0001]}\n"
        "  - pkg: {name: b, secfixes: {1.0-r0: CVE-2020-0002}}\n"
        "  - pkg: {name: c, secfixes: {1.0-r0: [CVE-2020-0003], 'not a version': [CVE-2020-0004]}}\n"
        "  - {pkg: 3}\n"
        "  - pkg: {name: 'bad name!', secfixes: {}}\n")
    (tmp_path / "noversion.yaml").write_text("distroversion: [3]\npackages: []\n")
    (tmp_path / "bomb.yaml").write_text("distroversion: v3.12\n" + YAML_BOMB.split("\n", 1)[1])
    (tmp_path / "latin1.yaml").write_bytes(b"distroversion: v3.12\npackages:\n  - pkg: {name: \xe9}\n")
    sink = Collect()
    stats = AlpineSecdbImporter().import_(tmp_path, sink)
    assert dict(stats.skipped) == {"wrong type: secfixes": 1, "wrong type: secfix ids": 1, "bad version": 1,
                                   "wrong type: pkg": 1, "bad package name": 1, "bad distroversion": 1,
                                   "YAML aliases not allowed": 1, "not UTF-8": 1}
    ok = yaml.safe_load((tmp_path / "ok.yaml").read_text())
    n_ok = sum(len(v) for p in ok["packages"] for v in p["pkg"]["secfixes"].values())
    assert stats.imported == n_ok + 1  # plus c's CVE-2020-0003
    assert "CVE-2020-0003" in {a.id for a in sink.advisories}


def test_yaml_bomb_is_refused_quickly() -> None:
    from propolis.scanner.vulndb.importers.interface import load_yaml

    with pytest.raises(RecordError, match="aliases"):
        load_yaml(YAML_BOMB.encode())


# -- property: no mutation of a real record escapes the importer ------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated_records(draw: st.DrawFn) -> Any:
    doc: Any = _real_osv()
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        value = draw(_json_values)
        if not path:
            doc = value
            continue
        parent = doc
        for p in path[:-1]:
            parent = parent[p]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
        if not isinstance(doc, dict | list):
            break
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_records())
def test_mutated_osv_records_never_escape(doc: Any) -> None:
    """Every mutation either parses or is a RecordError with a reason: no other exception type."""
    try:
        adv, _ = parse_record(doc)
    except RecordError as exc:
        assert exc.reason
        return
    assert isinstance(adv.id, str) and adv.id
    assert all(isinstance(v, str) for e in adv.affected for r in e.ranges for _, v in r.events)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=64), st.integers(0, 2000), st.sampled_from([".json", ".yaml"]))
def test_corrupted_bytes_never_escape_the_importer(noise: bytes, at: int, suffix: str) -> None:
    """Real record bytes with noise spliced in: the importer finishes and counts, whatever the damage."""
    raw = (vulndb_data("osv-go", "data", "osv", "GO-2022-0288.json") if suffix == ".json"
           else vulndb_data("osv-pypi", "vulns", "requests", "PYSEC-2018-28.yaml")).read_bytes()
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / f"r{suffix}").write_bytes(raw[:at] + noise + raw[at:])
        stats = OSVImporter().import_(Path(d), Collect())
    assert stats.imported + sum(stats.skipped.values()) == 1
    assert UNEXPECTED not in stats.skipped


# -- CLI ----------------------------------------------------------------------------------------------------

def test_cli_build_and_info(tmp_path: Path) -> None:
    out = tmp_path / "cli.db"
    srcs = [str(vulndb_data("osv-npm")), str(vulndb_data("alpine", "v3.11")), str(vulndb_data("debian", "DSA", "list"))]
    p = propolis_cli("vulndb", "build", "--db", str(out), *srcs, env={"COLUMNS": "200"})
    assert p.returncode == 0, p.stderr.decode()
    text = p.stdout.decode()
    assert "osv" in text and "alpine-secdb" in text and "debian-list" in text and "no package lines" in text
    p = propolis_cli("vulndb", "info", "--json", env={"PROPOLIS_VULNDB": str(out)})
    assert p.returncode == 0, p.stderr.decode()
    info = json.loads(p.stdout)
    assert [s["kind"] for s in info["sources"]] == ["osv", "alpine-secdb", "debian-list"]
    assert info["sources"][0]["imported"] == len(list(vulndb_data("osv-npm").rglob("GHSA-*.json")))
    assert info["schema_version"] >= 1 and info["ecosystems"]["apk"] > 0
    p = propolis_cli("vulndb", "info", "--db", str(out), env={"COLUMNS": "200"})
    assert p.returncode == 0 and "advisories" in p.stdout.decode()


def test_cli_unknown_source_kind_exits_2(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("nothing to see\n")
    p = propolis_cli("vulndb", "build", "--db", str(tmp_path / "x.db"), str(junk))
    assert p.returncode == 2
    lines = p.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "unknown kind" in lines[0] and str(junk) in lines[0]
    assert not (tmp_path / "x.db").exists()
    p = propolis_cli("vulndb", "info", "--db", str(tmp_path / "x.db"))
    assert p.returncode == 2 and "does not exist" in p.stderr.decode()
