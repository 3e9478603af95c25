"""The scanner service over real sockets: gRPC scans (unary and streamed), stored reports and SBOMs,
refused references, the ``propolis.scan.catalogued`` event on JetStream, and concurrent scans
sharing a layer through the analysis cache."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import msgspec
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from propolis.common.v1 import common_pb2
from propolis.kernel import events
from propolis.kernel.app import Running, start
from propolis.kernel.config import Config
from propolis.scanner.adapters.sources import open_image
from propolis.scanner.service import ScannerService
from propolis.scanner.v1 import scanner_pb2, scanner_pb2_grpc
from tests.scanner.images import write_oci_layout
from tests.scanner.test_cache import app_layer, base_layer

pytestmark = pytest.mark.nats

AWS_KEY = "AKIAZ7Q2XW4RT5YU8IOP"


def config(tmp_path: Path, nats_url: str, **scanner: Any) -> Config:
    """gRPC tests leave the work queue off: a shared NATS may hold other runs' scan requests."""
    return msgspec.convert({"data_dir": str(tmp_path / "var"), "grpc": {"port": -1}, "metrics": {"port": -1},
                            "nats": {"url": nats_url}, "scanner": {"queue_enabled": False, **scanner}}, Config)


@contextlib.asynccontextmanager
async def scanner(cfg: Config) -> AsyncIterator[tuple[Running, scanner_pb2_grpc.ScannerServiceStub]]:
    r = await start("scanner", cfg)
    try:
        async with grpc.aio.insecure_channel(r.endpoints["grpc"].split("://", 1)[1]) as ch:
            yield r, scanner_pb2_grpc.ScannerServiceStub(ch)
    finally:
        await r.stop()


def demo_image(tmp_path: Path, name: str = "img", app: str = "app") -> Path:
    secret_layer: dict[str, object] = {"etc/app/credentials.conf": f"aws_access_key_id = {AWS_KEY}\n".encode()}
    return write_oci_layout(tmp_path / name, [base_layer(), app_layer(app), secret_layer])


def scan_req(ref: str | Path, *, force: bool = False, digest: str = "") -> scanner_pb2.ScanImageRequest:
    return scanner_pb2.ScanImageRequest(image=common_pb2.ImageRef(reference=str(ref), digest=digest),
                                        options=scanner_pb2.ScanOptions(force=force))


def svc(r: Running) -> ScannerService:
    assert isinstance(r.service, ScannerService)
    return r.service


async def test_scan_report_sbom_and_lookups(embedded_nats: str, tmp_path: Path) -> None:
    root = demo_image(tmp_path)
    async with scanner(config(tmp_path, embedded_nats)) as (r, stub):
        res = (await stub.ScanImage(scan_req(root))).result
        assert res.scan_id and res.image.digest.startswith("sha256:") and res.os_id == "debian"
        assert [la.index for la in res.layers] == [0, 1, 2] and all(la.diff_id for la in res.layers)
        by_name = {p.name: p for p in res.packages}
        assert {f"pkg{i}" for i in range(20)} | {f"app-lib{i}" for i in range(5)} == set(by_name)
        assert by_name["pkg3"].ecosystem == "deb" and by_name["pkg3"].layer.diff_id == res.layers[0].diff_id
        assert by_name["app-lib2"].purl == "pkg:pypi/app-lib2@0.2"
        assert by_name["app-lib2"].layer.index == 1
        assert by_name["app-lib2"].locations[0].layer_diff_id == res.layers[1].diff_id
        secret = next(s for s in res.secrets if s.rule_id == "aws-access-key-id")
        assert secret.path == "etc/app/credentials.conf" and secret.layer.index == 2
        assert secret.severity == common_pb2.SEVERITY_HIGH and AWS_KEY not in res.SerializeToString().decode("latin1")
        facts = {f.key: json.loads(f.value_json) for f in res.config_facts}
        assert facts["runs_as_root"] is True and facts["env_names"] == ["PATH"]
        assert list(res.findings) == [] and res.summary.critical == 0

        # Stored: by scan id and by digest; the same digest is answered from the store unless forced.
        by_id = (await stub.GetReport(scanner_pb2.GetReportRequest(scan_id=res.scan_id))).result
        assert by_id.SerializeToString() == res.SerializeToString()
        by_digest = (await stub.GetReport(scanner_pb2.GetReportRequest(
            image=common_pb2.ImageRef(digest=res.image.digest)))).result
        assert by_digest.scan_id == res.scan_id
        again = (await stub.ScanImage(scan_req(root))).result
        assert again.scan_id == res.scan_id
        forced = (await stub.ScanImage(scan_req(root, force=True))).result
        assert forced.scan_id != res.scan_id and len(forced.packages) == len(res.packages)
        latest = (await stub.GetReport(scanner_pb2.GetReportRequest(
            image=common_pb2.ImageRef(digest=res.image.digest)))).result
        assert latest.scan_id == forced.scan_id
        # A digest in the request is enough to answer from the store, without reading the image.
        quick = (await stub.ScanImage(scan_req(tmp_path / "not-there", digest=res.image.digest))).result
        assert quick.scan_id == forced.scan_id

        sbom = await stub.GetSBOM(scanner_pb2.GetSBOMRequest(scan_id=res.scan_id))
        assert sbom.media_type == "application/vnd.cyclonedx+json" and sbom.scan_id == res.scan_id
        assert sbom.format == scanner_pb2.SBOM_FORMAT_CYCLONEDX_JSON
        doc = json.loads(sbom.document_json)
        assert doc["bomFormat"] == "CycloneDX"
        assert {c["name"] for c in doc["components"]} == set(by_name)
        spdx = await stub.GetSBOM(scanner_pb2.GetSBOMRequest(image=common_pb2.ImageRef(digest=res.image.digest),
                                                             format=scanner_pb2.SBOM_FORMAT_SPDX_JSON))
        assert spdx.media_type == "application/spdx+json" and json.loads(spdx.document_json)["spdxVersion"]

        page = await stub.ListFindings(scanner_pb2.ListFindingsRequest(scan_id=res.scan_id))
        assert list(page.findings) == [] and page.total_size == 0 and page.next_page_token == ""

        for call in (stub.GetReport(scanner_pb2.GetReportRequest(scan_id="nope")),
                     stub.GetSBOM(scanner_pb2.GetSBOMRequest(scan_id="nope")),
                     stub.ListFindings(scanner_pb2.ListFindingsRequest(scan_id="nope")),
                     stub.GetReport(scanner_pb2.GetReportRequest(image=common_pb2.ImageRef(digest="sha256:0")))):
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await call
            assert exc.value.code() == grpc.StatusCode.NOT_FOUND, exc.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await stub.GetReport(scanner_pb2.GetReportRequest(image=common_pb2.ImageRef(reference="x")))
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_stream_reports_each_layer_in_order_then_one_result(embedded_nats: str, tmp_path: Path) -> None:
    root = demo_image(tmp_path)
    async with scanner(config(tmp_path, embedded_nats)) as (_, stub):
        req = scanner_pb2.ScanImageStreamRequest(image=common_pb2.ImageRef(reference=str(root)))
        msgs = [m async for m in stub.ScanImageStream(req)]
    kinds = [m.WhichOneof("event") for m in msgs]
    assert kinds.count("result") == 1 and kinds[-1] == "result"
    stages = [m.progress.stage for m in msgs[:-1]]
    S = scanner_pb2
    assert stages == [S.SCAN_STAGE_RESOLVING, S.SCAN_STAGE_FETCHING, *[S.SCAN_STAGE_ANALYZING_LAYER] * 3,
                      S.SCAN_STAGE_COMPLETED]
    layers = [m.progress for m in msgs if m.progress.stage == S.SCAN_STAGE_ANALYZING_LAYER]
    assert [p.layer.index for p in layers] == [0, 1, 2] and {p.layer_count for p in layers} == {3}
    result = msgs[-1].result
    assert [p.layer.diff_id for p in layers] == [la.diff_id for la in result.layers]
    assert msgs[-2].progress.packages_found == len(result.packages) == 25


async def test_refused_references(embedded_nats: str, tmp_path: Path) -> None:
    root = demo_image(tmp_path)
    async with scanner(config(tmp_path, embedded_nats)) as (_, stub):
        junk = tmp_path / "junk.tar"
        junk.write_bytes(b"not an image archive")
        for ref in (str(tmp_path / "no-such-image.tar"), str(junk), ""):
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await stub.ScanImage(scan_req(ref))
            assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (ref, exc.value.details())
            assert "\n" not in exc.value.details()
        stream = stub.ScanImageStream(scanner_pb2.ScanImageStreamRequest(
            image=common_pb2.ImageRef(reference=str(tmp_path / "missing"))))
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            _ = [m async for m in stream]
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    async with scanner(config(tmp_path / "prod", embedded_nats, allow_local_paths=False)) as (_, stub):
        for ref in (str(root), f"oci-archive:{tmp_path}/x.tar", "./img"):
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await stub.ScanImage(scan_req(ref))
            assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "allow_local_paths" in exc.value.details()


async def test_catalogued_event_arrives_on_jetstream(nats_url: str, tmp_path: Path) -> None:
    root = demo_image(tmp_path)
    async with scanner(config(tmp_path, nats_url)) as (r, stub):
        assert r.ctx.bus is not None
        durable = f"t{uuid.uuid4().hex}"
        sub = await r.ctx.bus.js.pull_subscribe(
            "propolis.scan.catalogued", durable=durable, stream="PROPOLIS_SCAN",
            config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW))
        try:
            res = (await stub.ScanImage(scan_req(root, force=True))).result
            found = None
            for _ in range(10):
                msgs = await sub.fetch(10, timeout=5)
                for m in msgs:
                    await m.ack()
                envs = [events.decode(m.data) for m in msgs]
                found = next((e for e in envs if e.subject == res.scan_id), None)
                if found is not None:
                    break
        finally:
            await r.ctx.bus.js.delete_consumer("PROPOLIS_SCAN", durable)
    assert found is not None and found.type == "propolis.scan.catalogued"
    data = found.data
    assert isinstance(data, events.ScanCatalogued)
    assert data.image.digest == res.image.digest and data.image.reference == str(root)
    assert (data.layers, data.packages) == (3, 25) and data.ecosystems == {"deb": 20, "pypi": 5}
    assert data.partial is False and data.partial_reasons == []


async def test_concurrent_scans_share_the_base_layer_analysis(embedded_nats: str, tmp_path: Path) -> None:
    a, b = demo_image(tmp_path, "a", "a"), demo_image(tmp_path, "b", "b")
    async with scanner(config(tmp_path, embedded_nats, max_concurrent_scans=2)) as (r, stub):
        ra, rb = await asyncio.gather(stub.ScanImage(scan_req(a)), stub.ScanImage(scan_req(b)))
        cache = svc(r).cache
        assert cache is not None
    assert ra.result.layers[0].diff_id == rb.result.layers[0].diff_id
    assert ra.result.layers[2].diff_id == rb.result.layers[2].diff_id  # the same secret layer too
    assert {p.name for p in ra.result.packages} >= {"a-lib0"} and {p.name for p in rb.result.packages} >= {"b-lib0"}
    # Six layers, two of them shared: four analyses, two answered by the cache.
    assert cache.stats.analyses == 4 and cache.stats.hits == 2, cache.stats


async def test_a_cancelled_stream_stops_its_scan_and_frees_its_slot(embedded_nats: str, tmp_path: Path) -> None:
    filler = {f"usr/share/doc/x/f{i}.txt": b"text" for i in range(3000)}
    layers = [base_layer(), *[{**app_layer(f"l{i}", 40), **filler} for i in range(5)]]
    root = write_oci_layout(tmp_path / "big", layers)
    digest = open_image(str(root)).manifest_digest
    async with scanner(config(tmp_path, embedded_nats, max_concurrent_scans=1)) as (r, stub):
        call = stub.ScanImageStream(scanner_pb2.ScanImageStreamRequest(
            image=common_pb2.ImageRef(reference=str(root))))
        async for m in call:
            if m.progress.stage == scanner_pb2.SCAN_STAGE_ANALYZING_LAYER:
                call.cancel()
                break
        for _ in range(200):
            if not svc(r)._working:
                break
            await asyncio.sleep(0.05)
        # The abandoned scan stopped at a layer boundary: nothing was stored or announced.
        assert not svc(r)._working and svc(r).store.latest(digest) is None
        assert svc(r).cache is not None and svc(r).cache.stats.analyses < 6  # type: ignore[union-attr]
        # The only slot is free again: the next scan runs.
        res = (await asyncio.wait_for(stub.ScanImage(scan_req(root)), timeout=60)).result
        assert len(res.layers) == 6 and len(res.packages) == 20 + 5 * 40
