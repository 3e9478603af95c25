"""The risk service over real sockets: a real scanner stores a report of a real image matched against the
PyPI OSV test data, and the risk service scores it with the real bundle (ScoreImage, EvaluateCheckpoint
under two bars), refuses unknown digests, keeps the score in JetStream KV on ``propolis.scan.completed``
(and on ScoreImage) and announces it on ``propolis.risk.changed``. Workloads: ``test_risk_workloads.py``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import msgspec
import pytest

from propolis.common.v1 import common_pb2
from propolis.kernel import events
from propolis.kernel.app import Running, start
from propolis.kernel.config import Config
from propolis.risk.service import RiskService, kv_key
from propolis.risk.v1 import risk_pb2, risk_pb2_grpc
from propolis.scanner.v1 import scanner_pb2, scanner_pb2_grpc
from tests.conftest import POLICIES
from tests.scanner.fixtures import TESTDATA
from tests.test_risk import KEV, _bundle, _dist_info

pytestmark = pytest.mark.nats

OS_RELEASE: dict[str, object] = {"etc/os-release": b'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'}


@pytest.fixture(scope="module")
def vulndb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The advisory index of the PyPI OSV test data; skipped without the data, a failure under CI=true."""
    from propolis.scanner.vulndb.importers import detect
    from propolis.scanner.vulndb.store import build

    src = TESTDATA / "vulndb" / "osv-pypi"
    if not src.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"test data {src} is missing and CI=true requires it")
        pytest.skip(f"test data {src} not found; set PROPOLIS_TESTDATA to the shared testdata folder")
    path = tmp_path_factory.mktemp("vulndb") / "vulndb.sqlite"
    importer = detect(src)
    assert importer is not None
    build(path, [(importer, src)])
    return path


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Apache Airflow 1.10.10 (CVE-2020-11978, in the KEV sample) and pip, an attacker-useful package."""
    from tests.scanner.images import write_oci_layout

    return write_oci_layout(tmp_path_factory.mktemp("img") / "oci", [
        OS_RELEASE, {**_dist_info("apache-airflow", "1.10.10"), **_dist_info("pip", "24.2")},
    ], created_by=["ADD rootfs.tar /", "RUN pip install apache-airflow==1.10.10"])


@pytest.fixture(scope="module")
def requests_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """requests 2.19.1: two moderate advisories, a low score that the default CI bar allows."""
    from tests.scanner.images import write_oci_layout

    return write_oci_layout(tmp_path_factory.mktemp("img") / "oci", [OS_RELEASE, _dist_info("requests", "2.19.1")],
                            created_by=["ADD rootfs.tar /", "RUN pip install requests==2.19.1"])


def config(tmp_path: Path, nats_url: str, vulndb: Path, *, bundle: Path = POLICIES, **risk: Any) -> Config:
    """Scanner and risk share ``data_dir`` and so the report store; the scan queue stays off (a shared
    NATS may hold other runs' requests) and the risk consumer takes only new events."""
    return msgspec.convert({
        "data_dir": str(tmp_path / "var"), "grpc": {"port": -1}, "metrics": {"port": -1}, "nats": {"url": nats_url},
        "policy": {"bundle": str(bundle)},
        "scanner": {"queue_enabled": False, "vulndb_path": str(vulndb)},
        "risk": {"kev_path": str(KEV), "scans_deliver": "new", "scans_durable": f"risk-t{uuid.uuid4().hex}",
                 "alerts_deliver": "new", "alerts_durable": f"risk-a{uuid.uuid4().hex}",
                 "inventory_deliver": "new", "inventory_durable": f"risk-i{uuid.uuid4().hex}", **risk},
    }, Config)


def _addr(r: Running) -> str:
    return r.endpoints["grpc"].split("://", 1)[1]


@contextlib.asynccontextmanager
async def services(cfg: Config) -> AsyncIterator[tuple[Running, scanner_pb2_grpc.ScannerServiceStub,
                                                       Running, risk_pb2_grpc.RiskServiceStub]]:
    scanner = await start("scanner", cfg)
    risk = await start("risk", cfg)
    try:
        async with grpc.aio.insecure_channel(_addr(scanner)) as sch, grpc.aio.insecure_channel(_addr(risk)) as rch:
            yield scanner, scanner_pb2_grpc.ScannerServiceStub(sch), risk, risk_pb2_grpc.RiskServiceStub(rch)
    finally:
        await risk.stop()
        await scanner.stop()
        with contextlib.suppress(Exception):  # the test's durables must not outlive it on a shared NATS
            await _drop_consumers(cfg)


async def _drop_consumers(cfg: Config) -> None:
    import nats

    nc = await nats.connect(cfg.nats.url)
    try:
        for on, stream, durable in ((cfg.risk.consume_scans, "PROPOLIS_SCAN", cfg.risk.scans_durable),
                                    (cfg.risk.consume_alerts, "PROPOLIS_RUNTIME", cfg.risk.alerts_durable),
                                    (cfg.risk.consume_inventory, "PROPOLIS_INVENTORY", cfg.risk.inventory_durable)):
            if on:
                with contextlib.suppress(Exception):
                    await nc.jetstream().delete_consumer(stream, durable)
    finally:
        await nc.close()


async def _scan(stub: scanner_pb2_grpc.ScannerServiceStub, image: Path) -> scanner_pb2.ScanResult:
    req = scanner_pb2.ScanImageRequest(image=common_pb2.ImageRef(reference=str(image)))
    return (await stub.ScanImage(req)).result


def _image(digest: str) -> common_pb2.ImageRef:
    return common_pb2.ImageRef(digest=digest)


async def test_score_image_explains_the_score_and_refuses_unknown_images(
        nats_url: str, tmp_path: Path, vulndb: Path, airflow: Path) -> None:
    async with services(config(tmp_path, nats_url, vulndb)) as (_, scanner, risk_r, risk):
        scan = await _scan(scanner, airflow)
        assert scan.findings, "the OSV test data has advisories for apache-airflow 1.10.10"
        res = await risk.ScoreImage(risk_pb2.ScoreImageRequest(image=_image(scan.image.digest)))
        assert res.image.digest == scan.image.digest and res.image.reference == str(airflow)
        factors = {f.factor: f for f in res.factors}
        assert factors["known_exploited"].raw_value == 1 and factors["known_exploited"].contribution > 0
        assert factors["known_exploited"].detail
        contributions = [f.contribution for f in res.factors]
        assert contributions == sorted(contributions, reverse=True)
        assert 0 < res.score <= 100 and abs(sum(contributions) - res.score) < 0.1
        assert res.decision.bundle_revision.startswith("sha256:")
        assert res.decision.path == "propolis/risk/decision"
        assert json.loads(res.decision.result_json)["score"] == res.score
        svc = risk_r.service
        assert isinstance(svc, RiskService) and res.decision.bundle_revision == svc.revision

        by_scan = await risk.ScoreImage(risk_pb2.ScoreImageRequest(scan_id=scan.scan_id))
        assert by_scan.score == res.score

        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await risk.ScoreImage(risk_pb2.ScoreImageRequest(image=_image("sha256:" + "0" * 64)))
        assert exc.value.code() == grpc.StatusCode.NOT_FOUND and "scan it first" in str(exc.value.details())
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await risk.ScoreImage(risk_pb2.ScoreImageRequest(image=common_pb2.ImageRef(reference="x:1")))
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_checkpoint_allows_then_blocks_when_the_bar_is_lowered(
        embedded_nats: str, tmp_path: Path, vulndb: Path, requests_image: Path) -> None:
    req = risk_pb2.EvaluateCheckpointRequest(checkpoint=risk_pb2.CHECKPOINT_CI, team="team-a")
    async with services(config(tmp_path, embedded_nats, vulndb, consume_scans=False)) as (_, scanner, _r, risk):
        digest = (await _scan(scanner, requests_image)).image.digest
        req.image.CopyFrom(_image(digest))
        allowed = await risk.EvaluateCheckpoint(req)
        assert allowed.verdict == common_pb2.VERDICT_ALLOW and list(allowed.reasons) == []
        assert 0 < allowed.score < 40 and allowed.factors
        assert json.loads(allowed.decision.result_json)["bar"] == {"warn": 40, "block": 75}
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await risk.EvaluateCheckpoint(risk_pb2.EvaluateCheckpointRequest(image=_image(digest)))
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "checkpoint" in str(exc.value.details())

    low = _bundle(tmp_path, bars={"ci": {"warn": 0, "block": 1}})
    cfg = config(tmp_path, embedded_nats, vulndb, bundle=low, consume_scans=False)
    async with services(cfg) as (_, _s, _r, risk):  # same data_dir: the stored report is read again
        blocked = await risk.EvaluateCheckpoint(req)
    assert blocked.verdict == common_pb2.VERDICT_BLOCK and blocked.score == allowed.score
    assert any(r.startswith("score_above_block_bar:") for r in blocked.reasons)
    assert blocked.decision.bundle_revision != allowed.decision.bundle_revision


async def test_scan_completed_updates_kv_and_publishes_risk_changed(
        nats_url: str, tmp_path: Path, vulndb: Path, airflow: Path) -> None:
    cfg = config(tmp_path, nats_url, vulndb)
    async with services(cfg) as (scanner_r, scanner, risk_r, risk):
        scan = await _scan(scanner, airflow)
        expected = (await risk.ScoreImage(risk_pb2.ScoreImageRequest(image=_image(scan.image.digest)))).score
        bus = scanner_r.ctx.bus
        assert bus is not None and bus.nc is not None
        changed: asyncio.Queue[events.Envelope[Any]] = asyncio.Queue()

        async def on_changed(msg: Any) -> None:
            env = events.decode(msg.data)
            if env.subject == scan.image.digest:
                changed.put_nowait(env)

        sub = await bus.nc.subscribe("propolis.risk.changed", cb=on_changed)
        try:
            await bus.publish(events.ScanCompleted(request_id=uuid.uuid4().hex, report_id=scan.scan_id,
                                                   image=events.ImageRef(reference=str(airflow),
                                                                         digest=scan.image.digest)),
                              subject=scan.scan_id)
            env = await asyncio.wait_for(changed.get(), timeout=20)
        finally:
            await sub.unsubscribe()
        data = env.data
        assert isinstance(data, events.RiskChanged) and env.type == "propolis.risk.changed"
        assert data.image_digest == scan.image.digest and data.score == expected
        assert {f.factor for f in data.factors} >= {"known_exploited"}
        svc = risk_r.service
        assert isinstance(svc, RiskService) and env.policyrevision == svc.revision
        stored = await svc.latest_score(scan.image.digest)
        assert stored is not None and stored["scan_id"] == scan.scan_id and stored["score"] == expected
        assert stored["bundle_revision"] == svc.revision
        assert kv_key(scan.image.digest) == scan.image.digest.replace("sha256:", "sha256_")
        tasks = list(svc._tasks)
        assert tasks and not any(t.done() for t in tasks)
    # Stopped cleanly: the consumer task ended and the bus is closed.
    assert all(t.done() for t in tasks)
    assert risk_r.ctx.bus is not None and risk_r.ctx.bus.nc is None
