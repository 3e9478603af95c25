"""OPA's REST Data API served by Propolis, driven by opa-python-client; and remote mode against it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import pytest
import requests
from opa_client import OpaClient

from propolis.common.v1 import common_pb2
from propolis.policy.v1 import policy_pb2, policy_pb2_grpc
from tests.conftest import POLICIES, write_demo_bundle
from tests.service_helpers import config, running

pytestmark = pytest.mark.nats


def _client(url: str) -> OpaClient:
    u = urlsplit(url)
    return OpaClient(host=u.hostname, port=u.port, timeout=5)


async def test_opa_client_queries_propolis(embedded_nats: str, tmp_path: Path) -> None:
    bundle = write_demo_bundle(tmp_path / "b")
    async with running(config(tmp_path, embedded_nats, bundle=str(bundle))) as r:
        url = r.endpoints["opa_rest"]
        client = _client(url)

        def calls() -> None:
            assert client.check_health() is True
            res = client.query_rule({"user": "alice"}, "propolis.demo", "decision",
                                    query_params={"provenance": "true"})
            assert res["result"] == {"allow": True, "reasons": [], "version": 1}
            assert res["decision_id"] and res["provenance"]["revision"] == r.service.revision  # type: ignore[attr-defined]
            assert client.query_rule({"user": "eve"}, "propolis.demo", "allow")["result"] is False
            undefined = client.query_rule({}, "propolis.demo", "nothing_here")
            assert "result" not in undefined and undefined["decision_id"]
            data = client.get_data("propolis/decision_points")
            assert data["result"]["demo"]["path"] == "propolis/demo/decision"
            # Error shapes, over plain HTTP.
            bad = requests.post(f"{url}/v1/data/propolis/demo", data=b"{nope", timeout=5)
            assert bad.status_code == 400 and bad.json()["code"] == "invalid_parameter"
            big = requests.post(f"{url}/v1/data/propolis/demo",
                                data=b'{"input": "' + b"x" * (2 << 20) + b'"}', timeout=5)
            assert big.status_code == 413
            bad_path = requests.post(f"{url}/v1/data/propolis/1bad", json={"input": {}}, timeout=5)
            assert bad_path.status_code in (400, 500) and "code" in bad_path.json()

        await asyncio.to_thread(calls)


async def test_remote_mode_decides_through_opa_rest(embedded_nats: str, tmp_path: Path) -> None:
    upstream_cfg = config(tmp_path / "up", embedded_nats, bundle=str(POLICIES))
    async with running(upstream_cfg) as upstream:
        remote_cfg = config(tmp_path / "remote", embedded_nats, mode="remote",
                            remote_url=upstream.endpoints["opa_rest"], rest_enabled=False)
        async with running(remote_cfg) as remote:
            async with grpc.aio.insecure_channel(remote.endpoints["grpc"].split("://")[1]) as ch:
                stub = policy_pb2_grpc.PolicyServiceStub(ch)
                pod = {"request": {"uid": "1", "kind": {"kind": "Pod"}, "operation": "CREATE", "object": {
                    "kind": "Pod", "metadata": {"name": "p"},
                    "spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "nginx"}]}}}}
                resp = await stub.Evaluate(policy_pb2.EvaluateRequest(path="admission",
                                                                      input_json=json.dumps(pod).encode()))
                d = resp.decision
                assert d.mode == "remote" and d.decision_point == "admission"
                assert d.bundle_revision == upstream.service.revision  # type: ignore[attr-defined]
                assert json.loads(d.result_json)["allow"] is False
                # The decision point name resolved through declarations read from the remote
                # bundle; an undeclared path that is undefined there fails closed.
                resp = await stub.Evaluate(policy_pb2.EvaluateRequest(path="propolis/risk/nothing_here",
                                                                      input_json=b"{}"))
                assert resp.decision.outcome == common_pb2.DECISION_OUTCOME_UNDEFINED_FALLBACK
                assert json.loads(resp.decision.result_json)["allow"] is False
        # Remote OPA down: declared fallback (admission is fail-closed), not an exception.
        async with running(config(tmp_path / "down", embedded_nats, mode="remote",
                                  remote_url="http://127.0.0.1:9", rest_enabled=False, remote_timeout=0.5)) as r2:
            d2 = await r2.service.decide("admission", b"{}")  # type: ignore[attr-defined]
            assert d2.outcome == "error_fallback" and d2.result["allow"] is False and "remote OPA" in d2.error
