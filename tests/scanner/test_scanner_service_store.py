"""Report stores and vulnerability findings through the scanner service.

Every test here runs twice, against SQLite and against the machine's real PostgreSQL
(``PROPOLIS_TEST_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``), each run
in a schema of its own that is dropped afterwards; an unreachable PostgreSQL skips, and fails
under ``CI=true``. The vulnerability index is built by the real importers from advisories written
here for the demo image's packages, so the expected findings are known exactly.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import msgspec
import pytest

from propolis.common.v1 import common_pb2
from propolis.scanner.adapters.store import DuplicateRequest, ReportStore, StoredScan, open_store
from propolis.scanner.catalogue import Catalogue
from propolis.scanner.domain.findings import Finding, FindingPackage
from propolis.scanner.v1 import scanner_pb2
from propolis.scanner.vulndb import build
from propolis.scanner.vulndb.importers import detect
from tests.conftest import IN_CI
from tests.scanner.test_scanner_service import config, demo_image, scan_req, scanner

pytestmark = pytest.mark.nats

POSTGRES_URL = os.environ.get("PROPOLIS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_url() -> str:
    """A store URL on the machine's PostgreSQL with a fresh schema name (the store creates it)."""
    import psycopg

    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        msg = f"PostgreSQL at {POSTGRES_URL} is not reachable ({' '.join(str(exc).split())[:200]})"
        if IN_CI:
            pytest.fail(msg + " and CI=true requires it")
        pytest.skip(msg + "; set PROPOLIS_TEST_POSTGRES_URL")
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}schema=propolis_test_{uuid.uuid4().hex[:12]}"


def drop_postgres_schema(url: str) -> None:
    import psycopg

    from propolis.scanner.adapters.store import _split_schema

    conninfo, schema = _split_schema(url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same tests against both report stores."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'reports' / 'scans.db'}"
        return
    url = postgres_url()
    try:
        yield url
    finally:
        drop_postgres_schema(url)


@pytest.fixture
def report_store(store_url: str, tmp_path: Path) -> Iterator[ReportStore]:
    store = open_store(store_url, tmp_path)
    try:
        yield store
    finally:
        store.close()


# ---------------------------------------------------------------------------------------- the index
def write_vulndb(root: Path, *, extra_osv: list[dict[str, Any]] | None = None) -> Path:
    """Advisories for the demo image: one critical fixable and one low unfixed PyPI advisory (OSV),
    Debian tracker issues for pkg0..pkg5 fixed in the next revision (high/medium/low in turn) and
    an open one for pkg7. The image then has 9 findings: 1 critical, 2 high, 3 medium, 3 low; 7 fixable."""
    osv = root / "osv"
    osv.mkdir(parents=True)
    records = [
        {"id": "GHSA-aaaa-0000-0001", "aliases": ["CVE-2099-1001"], "summary": "app-lib2 remote code execution",
         "modified": "2026-01-01T00:00:00Z",
         "affected": [{"package": {"ecosystem": "PyPI", "name": "app-lib2"},
                       "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "0.3"}]}]}],
         "database_specific": {"severity": "CRITICAL"}},
        {"id": "GHSA-aaaa-0000-0002", "summary": "app-lib3 information leak", "modified": "2026-01-01T00:00:00Z",
         "affected": [{"package": {"ecosystem": "PyPI", "name": "app-lib3"},
                       "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}],
         "database_specific": {"severity": "LOW"}},
        *(extra_osv or []),
    ]
    for r in records:
        (osv / f"{r['id']}.json").write_text(json.dumps(r))
    tracker: dict[str, Any] = {
        f"pkg{i}": {f"CVE-2099-2{i:03d}": {"description": f"pkg{i} issue", "releases": {"bookworm": {
            "status": "resolved", "fixed_version": f"1.{i}-2", "urgency": ("high", "medium", "low")[i % 3]}}}}
        for i in range(6)}
    tracker["pkg7"] = {"CVE-2099-3007": {"description": "not fixed yet", "releases": {
        "bookworm": {"status": "open", "urgency": "medium"}}}}
    (root / "tracker.json").write_text(json.dumps(tracker))
    db = root / "vulndb.sqlite"
    build(db, [(detect(osv), osv), (detect(root / "tracker.json"), root / "tracker.json")])  # type: ignore[list-item]
    return db


S = common_pb2


# ---------------------------------------------------------------------------------------- the store
def _finding(i: int, severity: str = "high") -> Finding:
    return Finding(id=f"CVE-2099-{i:04d}", severity=severity, installed_version="1.0", fixed_version="1.1",
                   package=FindingPackage(name=f"p{i}", version="1.0", purl=f"pkg:deb/debian/p{i}@1.0",
                                          ecosystem="deb"))


def test_store_round_trip_latest_and_failed_reports(report_store: ReportStore) -> None:
    cat = Catalogue(reference="registry.local/app:1", manifest_digest="sha256:" + "a" * 64)
    a = report_store.put("s1", cat, analysis="x", findings=[_finding(1), _finding(2, "low")],
                         db_revision="rev1", scanned_at=100.0)
    report_store.put("s2", cat, analysis="y", scanned_at=200.0)
    got = report_store.get("s1")
    assert got == a and got.findings[1].severity == "low" and got.db_revision == "rev1"
    assert report_store.latest(cat.manifest_digest).scan_id == "s2"  # type: ignore[union-attr]
    assert report_store.latest(cat.manifest_digest, "x").scan_id == "s1"  # type: ignore[union-attr]
    assert report_store.latest(cat.manifest_digest, "z") is None and report_store.latest("") is None
    # A failed report is found by id and request, never as an image's latest report.
    failed = report_store.put("s3", cat, request_id="r-failed", error="registry down", scanned_at=300.0)
    assert report_store.by_request("r-failed") == failed and failed.catalogue.packages == []
    assert report_store.latest(cat.manifest_digest).scan_id == "s2"  # type: ignore[union-attr]
    assert report_store.get("nope") is None and report_store.by_request("nope") is None
    assert report_store.count() == 3


def test_a_second_report_for_a_request_is_refused_even_when_racing(report_store: ReportStore) -> None:
    cat = Catalogue(reference="img")
    first = report_store.put("a", cat, request_id="req-1")
    with pytest.raises(DuplicateRequest) as exc:
        report_store.put("b", cat, request_id="req-1")
    assert exc.value.existing == first
    # Eight threads race to store a report for one request: exactly one wins.
    winners: list[StoredScan] = []
    losers: list[DuplicateRequest] = []
    gate = threading.Barrier(8)

    def race(i: int) -> None:
        gate.wait()
        try:
            winners.append(report_store.put(f"race{i}", cat, request_id="req-2"))
        except DuplicateRequest as dup:
            losers.append(dup)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and len(losers) == 7
    assert {d.existing.scan_id for d in losers if d.existing} == {winners[0].scan_id}
    assert report_store.count() == 2


def test_an_older_sqlite_file_is_migrated(tmp_path: Path) -> None:
    """A scans.db written before findings and requests existed keeps its scans and gains the columns."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE scans (scan_id TEXT PRIMARY KEY, manifest_digest TEXT NOT NULL, reference TEXT "
                     "NOT NULL, analysis TEXT NOT NULL, scanned_at REAL NOT NULL, catalogue BLOB NOT NULL);")
    db.execute("INSERT INTO scans VALUES (?,?,?,?,?,?)", ("old", "sha256:1", "img", "a", 1.0,
                                                         msgspec.msgpack.encode(Catalogue(reference="img"))))
    db.commit()
    db.close()
    store = open_store(f"sqlite://{path}", tmp_path)
    try:
        old = store.get("old")
        assert old is not None and old.findings == [] and old.error == "" and old.request_id == ""
        store.put("new", Catalogue(reference="img"), request_id="r")
        with pytest.raises(DuplicateRequest):
            store.put("new2", Catalogue(reference="img"), request_id="r")
    finally:
        store.close()


def test_unknown_store_urls_are_refused(tmp_path: Path) -> None:
    from propolis.scanner.adapters.store import StoreError

    for url in ("mysql://x/y", "sqlite://"):
        with pytest.raises(StoreError):
            open_store(url, tmp_path)


# ---------------------------------------------------------------------------------------- findings over gRPC
async def test_scan_findings_summary_and_list_findings(embedded_nats: str, tmp_path: Path, store_url: str) -> None:
    vdb = write_vulndb(tmp_path / "vdb")
    root = demo_image(tmp_path)
    cfg = config(tmp_path, embedded_nats, store_url=store_url, vulndb_path=str(vdb))
    async with scanner(cfg) as (_, stub):
        res = (await stub.ScanImage(scan_req(root))).result
        sev = [f.severity for f in res.findings]
        assert sev == sorted(sev, reverse=True) and len(sev) == 9
        s = res.summary
        assert (s.critical, s.high, s.medium, s.low, s.negligible, s.unknown, s.fixable) == (1, 2, 3, 3, 0, 0, 7)
        assert res.vulnerability_db_revision and "+sha256:" in res.vulnerability_db_revision
        top = res.findings[0]
        assert (top.id, top.package_name, top.installed_version, top.fixed_version) == (
            "CVE-2099-1001", "app-lib2", "0.2", "0.3")
        assert list(top.aliases) == ["GHSA-aaaa-0000-0001"] and top.purl == "pkg:pypi/app-lib2@0.2"
        assert top.layer.index == 1 and top.layer.diff_id == res.layers[1].diff_id and top.data_source == "osv"
        assert top.title == "app-lib2 remote code execution"

        report = (await stub.GetReport(scanner_pb2.GetReportRequest(scan_id=res.scan_id))).result
        assert report.SerializeToString() == res.SerializeToString()

        async def listing(**kw: Any) -> scanner_pb2.ListFindingsResponse:
            return await stub.ListFindings(scanner_pb2.ListFindingsRequest(scan_id=res.scan_id, **kw))

        assert [f.id for f in (await listing()).findings] == [f.id for f in res.findings]
        high = await listing(min_severity=S.SEVERITY_HIGH)
        assert [f.severity for f in high.findings] == [S.SEVERITY_CRITICAL, S.SEVERITY_HIGH, S.SEVERITY_HIGH]
        assert high.total_size == 3 and high.next_page_token == ""
        unfixable = await listing(fixable=False)
        assert {f.id for f in unfixable.findings} == {"CVE-2099-3007", "GHSA-aaaa-0000-0002"}
        assert all(f.fixed_version for f in (await listing(fixable=True)).findings)
        assert (await listing(fixable=True)).total_size == 7
        assert [f.id for f in (await listing(package_name="pkg7")).findings] == ["CVE-2099-3007"]
        assert (await listing(package_name="pkg7", fixable=True)).total_size == 0
        assert (await listing(min_severity=S.SEVERITY_MEDIUM, fixable=True)).total_size == 5

        # Pages of 4: 4 + 4 + 1, in the same order as one page, each telling the total.
        pages, token = [], ""
        while True:
            page = await listing(page_size=4, page_token=token)
            assert page.total_size == 9
            pages.append([f.id for f in page.findings])
            token = page.next_page_token
            if not token:
                break
        assert [len(p) for p in pages] == [4, 4, 1]
        assert [i for p in pages for i in p] == [f.id for f in res.findings]
        first = await listing(page_size=4)
        for bad in ({"page_token": "garbage!"}, {"page_token": first.next_page_token, "fixable": True}):
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await listing(page_size=4, **bad)
            assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT, bad

        # The stream shows the MATCHING stage between the layers and COMPLETED.
        msgs = [m async for m in stub.ScanImageStream(scanner_pb2.ScanImageStreamRequest(
            image=common_pb2.ImageRef(reference=str(root)), options=scanner_pb2.ScanOptions(force=True)))]
        stages = [m.progress.stage for m in msgs[:-1]]
        assert stages[-2:] == [scanner_pb2.SCAN_STAGE_MATCHING, scanner_pb2.SCAN_STAGE_COMPLETED]
        assert msgs[-2].progress.packages_found == 25 and len(msgs[-1].result.findings) == 9

        # skip_vulnerabilities: a report without findings, which never answers a matching request.
        bare = (await stub.ScanImage(scanner_pb2.ScanImageRequest(
            image=common_pb2.ImageRef(reference=str(root)),
            options=scanner_pb2.ScanOptions(skip_vulnerabilities=True)))).result
        assert list(bare.findings) == [] and bare.vulnerability_db_revision == "" and bare.scan_id != res.scan_id
        again = (await stub.ScanImage(scan_req(root))).result
        assert len(again.findings) == 9 and again.scan_id != bare.scan_id


async def test_a_rebuilt_index_is_picked_up_and_stored_reports_are_not_reused(
        embedded_nats: str, tmp_path: Path, store_url: str) -> None:
    vdb = write_vulndb(tmp_path / "vdb")
    root = demo_image(tmp_path)
    async with scanner(config(tmp_path, embedded_nats, store_url=store_url, vulndb_path=str(vdb))) as (_, stub):
        first = (await stub.ScanImage(scan_req(root))).result
        new = {"id": "GHSA-aaaa-0000-0009", "summary": "app-lib0 flaw", "modified": "2026-02-01T00:00:00Z",
               "affected": [{"package": {"ecosystem": "PyPI", "name": "app-lib0"},
                             "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}]}],
               "database_specific": {"severity": "HIGH"}}
        rebuilt = write_vulndb(tmp_path / "vdb2", extra_osv=[new])
        os.replace(rebuilt, vdb)  # what `propolis vulndb build` does
        second = (await stub.ScanImage(scan_req(root))).result
    assert second.scan_id != first.scan_id
    assert second.vulnerability_db_revision != first.vulnerability_db_revision
    assert len(second.findings) == 10 and second.summary.high == 3


async def test_without_an_index_findings_are_empty_and_a_log_line_says_so(
        embedded_nats: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROPOLIS_VULNDB", raising=False)
    root = demo_image(tmp_path)
    with caplog.at_level(logging.INFO, logger="propolis.scanner.service"):
        async with scanner(config(tmp_path, embedded_nats)) as (_, stub):
            for force in (False, True):
                res = (await stub.ScanImage(scan_req(root, force=force))).result
                assert list(res.findings) == [] and res.vulnerability_db_revision == ""
    said = [r for r in caplog.records if "no vulnerability database" in r.getMessage()]
    assert len(said) == 1


async def test_the_index_comes_from_propolis_vulndb_when_not_configured(
        embedded_nats: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vdb = write_vulndb(tmp_path / "vdb")
    monkeypatch.setenv("PROPOLIS_VULNDB", str(vdb))
    from propolis.kernel.config import load_config

    assert load_config(environ={"PROPOLIS_VULNDB": str(vdb)}).scanner.vulndb_path == ""  # not a config key
    async with scanner(config(tmp_path, embedded_nats)) as (_, stub):
        res = (await stub.ScanImage(scan_req(demo_image(tmp_path)))).result
    assert len(res.findings) == 9


async def test_a_missing_index_stops_the_service_from_starting(embedded_nats: str, tmp_path: Path) -> None:
    from propolis.scanner.vulndb import VulnDBError

    with pytest.raises(VulnDBError, match="does not exist"):
        async with scanner(config(tmp_path, embedded_nats, vulndb_path=str(tmp_path / "missing.sqlite"))):
            pass
