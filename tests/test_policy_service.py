"""The policy service over real sockets: gRPC (plain and mTLS), decision log, hot reload, REST."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.js.api import ConsumerConfig, DeliverPolicy

from propolis.kernel import events
from propolis.kernel.bus import Bus
from propolis.kernel.config import GrpcConfig, NatsConfig, TLSConfig
from propolis.kernel.grpcserver import GrpcServer
from propolis.policy.v1 import policy_pb2, policy_pb2_grpc
from tests.conftest import POLICIES, commit_version, git, policy_repo, write_demo_bundle
from tests.keys import tls_material
from tests.service_helpers import config, running

pytestmark = pytest.mark.nats


def _target(r: Any) -> str:
    return r.endpoints["grpc"].split("://", 1)[1]


async def test_evaluate_health_status_and_decision_log(nats_url: str, tmp_path: Path) -> None:
    cfg = config(tmp_path, nats_url, bundle=str(POLICIES))
    async with running(cfg) as r:
        assert r.ctx.bus is not None
        # Watch the decision log from now on (the machine's stream holds other runs' decisions too).
        durable = f"t{uuid.uuid4().hex}"
        sub = await r.ctx.bus.js.pull_subscribe(
            "propolis.decisions.logged", durable=durable, stream="PROPOLIS_DECISIONS",
            config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW))
        async with grpc.aio.insecure_channel(_target(r)) as ch:
            h = await health_pb2_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest(service="propolis.policy.v1.PolicyService"))
            assert h.status == health_pb2.HealthCheckResponse.SERVING
            stub = policy_pb2_grpc.PolicyServiceStub(ch)
            pod = {"request": {"uid": "1", "kind": {"kind": "Pod"}, "operation": "CREATE", "object": {
                "kind": "Pod", "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "c", "image": "nginx:latest",
                                         "securityContext": {"privileged": True}}]}}}}
            resp = await stub.Evaluate(policy_pb2.EvaluateRequest(path="admission",
                                                                  input_json=json.dumps(pod).encode()))
            d = resp.decision
            result = json.loads(d.result_json)
            assert result["allow"] is False and any("privileged" in x for x in result["reasons"])
            assert d.decision_point == "admission" and d.bundle_revision.startswith("sha256:")
            status = await stub.GetBundleStatus(policy_pb2.GetBundleStatusRequest())
            assert status.active_revision.revision == d.bundle_revision
            assert {p.name for p in status.decision_points} >= {"admission", "risk", "ci"}
            risk = next(p for p in status.decision_points if p.name == "risk")
            assert risk.on_error == policy_pb2.FAIL_MODE_ERROR
            tests = await stub.TestPolicies(policy_pb2.TestPoliciesRequest(filter="admission"))
            assert tests.failed == 0 and tests.passed > 10 and tests.coverage_percent > 50
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await stub.Evaluate(policy_pb2.EvaluateRequest(path="admission", input_json=b"{nope"))
            assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await stub.Evaluate(policy_pb2.EvaluateRequest(path="admission", input_json=b" " * (2 << 20)))
            assert exc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # The decision is in the decision log with its revision and input digest.
        await r.service.decision_log.flush()  # type: ignore[attr-defined]
        try:
            msgs = await sub.fetch(10, timeout=5)
            logged = [events.decode(m.data) for m in msgs]
        finally:
            await r.ctx.bus.js.delete_consumer("PROPOLIS_DECISIONS", durable)
        found = next((e for e in logged if e.data.decision_id == d.decision_id), None)
        assert found is not None, [e.data.decision_id for e in logged]
        assert found.policyrevision == d.bundle_revision and found.data.input_digest == "sha256:" + d.input_sha256
        assert found.data.result["allow"] is False


async def test_mtls_health(tmp_path: Path) -> None:
    tls = tls_material(tmp_path)
    cfg = GrpcConfig(port=0, tls=TLSConfig(cert_file=str(tls["server_cert"]), key_file=str(tls["server_key"]),
                                           client_ca_file=str(tls["ca"])))
    server = GrpcServer(cfg, 0, [])
    await server.start()
    try:
        ca = tls["ca"].read_bytes()
        good = grpc.ssl_channel_credentials(ca, tls["client_key"].read_bytes(), tls["client_cert"].read_bytes())
        async with grpc.aio.secure_channel(server.address, good) as ch:
            resp = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
            assert resp.status == health_pb2.HealthCheckResponse.SERVING
        async with grpc.aio.secure_channel(server.address, grpc.ssl_channel_credentials(ca)) as ch:
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert exc.value.code() == grpc.StatusCode.UNAVAILABLE  # no client certificate
        async with grpc.aio.insecure_channel(server.address) as ch:
            with pytest.raises(grpc.aio.AioRpcError):
                await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
    finally:
        await server.stop()


async def test_graceful_shutdown_drains_in_flight_rpcs() -> None:
    started = asyncio.Event()

    async def slow(request: bytes, context: Any) -> bytes:
        started.set()
        await asyncio.sleep(0.5)
        return b"done"

    def register(server: grpc.aio.Server) -> list[str]:
        handler = grpc.method_handlers_generic_handler(
            "test.Slow", {"Call": grpc.unary_unary_rpc_method_handler(slow)})
        server.add_generic_rpc_handlers((handler,))
        return ["test.Slow"]

    server = GrpcServer(GrpcConfig(port=0, shutdown_grace=5), 0, [register])
    await server.start()
    async with grpc.aio.insecure_channel(server.address) as ch:
        call = ch.unary_unary("/test.Slow/Call")(b"x")
        await started.wait()
        stopping = asyncio.create_task(server.stop())
        assert await call == b"done"  # finished during the drain
        await stopping


async def test_hot_reload_from_git_over_nats_and_in_flight_on_old(nats_url: str, tmp_path: Path) -> None:
    repo, c1 = policy_repo(tmp_path / "repo")
    cfg = config(tmp_path, nats_url, bundle=str(repo), ref="main", subdir="policies")
    async with running(cfg) as r:
        svc = r.service
        d1 = await svc.decide("demo", b'{"user": "bob"}')  # type: ignore[attr-defined]
        assert d1.revision == c1 and d1.result["version"] == 1 and d1.result["allow"] is False
        held = svc.manager.active  # type: ignore[attr-defined]  # an evaluation in flight holds this
        c2 = commit_version(repo, 2, users=("alice", "bob"))
        other = await Bus(NatsConfig(url=r.ctx.bus.url), data_dir=tmp_path, source="ci").connect()  # type: ignore[union-attr]
        try:
            await other.publish(events.BundleUpdated(reason="git push", revision=c2))
        finally:
            await other.close()
        for _ in range(100):
            if svc.revision == c2:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.05)
        d2 = await svc.decide("demo", b'{"user": "bob"}')  # type: ignore[attr-defined]
        assert d2.revision == c2 and d2.result == {"allow": True, "reasons": [], "version": 2}
        assert held.compiled.evaluate("propolis/demo/decision", '{"user": "bob"}')["version"] == 1
        # A commit that does not compile is rejected; c2 stays active.
        (repo / "policies" / "propolis" / "demo" / "bad.rego").write_text("package propolis.demo\nx := \n")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "broken")
        res = await svc.reload("test")  # type: ignore[attr-defined]
        assert not res.changed and "does not compile" in res.error and svc.revision == c2  # type: ignore[attr-defined]


async def test_poll_reload_from_directory(nats_url: str, tmp_path: Path) -> None:
    bundle = write_demo_bundle(tmp_path / "b", version=1)
    cfg = config(tmp_path, nats_url, bundle=str(bundle), poll_seconds=0.1)
    async with running(cfg) as r:
        first = r.service.revision  # type: ignore[attr-defined]
        write_demo_bundle(bundle, version=3)
        for _ in range(100):
            if r.service.revision != first:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.05)
        d = await r.service.decide("demo", b'{"user": "alice"}')  # type: ignore[attr-defined]
        assert d.revision != first and d.result["version"] == 3


async def test_switch_git_ref_over_grpc_and_reflection(embedded_nats: str, tmp_path: Path) -> None:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    repo, c1 = policy_repo(tmp_path / "repo")
    c2 = commit_version(repo, 2)
    async with running(config(tmp_path, embedded_nats, bundle=str(repo), ref="main", subdir="policies")) as r:
        async with grpc.aio.insecure_channel(_target(r)) as ch:
            stub = policy_pb2_grpc.PolicyServiceStub(ch)
            assert (await stub.GetBundleStatus(policy_pb2.GetBundleStatusRequest())).active_revision.revision == c2
            res = await stub.ReloadBundle(policy_pb2.ReloadBundleRequest(source_ref="v1"))
            assert res.changed and res.revision.revision == c1 and res.previous_revision == c2
            assert res.revision.source_ref == "v1"
            d = await stub.Evaluate(policy_pb2.EvaluateRequest(path="demo", input_json=b'{"user": "x"}'))
            assert d.decision.bundle_revision == c1 and json.loads(d.decision.result_json)["version"] == 1
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await stub.ReloadBundle(policy_pb2.ReloadBundleRequest(source_ref="no-such-branch"))
            assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "no-such-branch" in exc.value.details()
            status = await stub.GetBundleStatus(policy_pb2.GetBundleStatusRequest())
            assert status.active_revision.revision == c1 and "no-such-branch" in status.last_reload_error
            # Reflection lists the service (so grpcurl and friends work without the protos).
            refl = reflection_pb2_grpc.ServerReflectionStub(ch)
            ask = iter([reflection_pb2.ServerReflectionRequest(list_services="")])
            async for resp in refl.ServerReflectionInfo(ask):
                names = {s.name for s in resp.list_services_response.service}
                assert {"propolis.policy.v1.PolicyService", "grpc.health.v1.Health"} <= names
                break
