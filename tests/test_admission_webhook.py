"""The admission webhook over real HTTPS with real AdmissionReview v1 JSON, real NATS and the real bundle.

The service runs in-process (``propolis.kernel.app.start``) with a serving certificate made by
``propolis.admission.domain.certs`` in tmp_path; risk scores and gate records are written to the
real JetStream KV buckets the risk service and the registry gate write. The slow-dependency tests
freeze a private nats-server (SIGSTOP) so every KV read hangs, and check the answer still comes
within the budget with the declared failure policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import json
import os
import secrets
import shutil
import signal
import ssl
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import msgspec
import nats
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from propolis.admission.domain import certs
from propolis.admission.v1 import admission_pb2, admission_pb2_grpc
from propolis.common.v1 import common_pb2
from propolis.kernel.app import Running, start
from propolis.kernel.config import Config
from propolis.kernel.embedded_nats import EmbeddedNats
from propolis.policy.adapters.regorus_engine import RegorusEngine
from propolis.policy.adapters.sources import DirectorySource
from tests.conftest import POLICIES, propolis_cli

pytestmark = pytest.mark.nats

REGISTRY = "registry.propolis.internal"


# ---------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tls")
    ca = certs.make_ca()
    pair = certs.make_serving_cert(ca, ["localhost"], ["127.0.0.1"])
    certs.write_pair(d, "ca", ca)
    cert, key = certs.write_pair(d, "webhook", pair)
    return {"ca": d / "ca.crt", "cert": cert, "key": key}


def bundle(root: Path, **admission_data: Any) -> Path:
    """A copy of the repository's bundle with data.propolis.admission keys replaced."""
    dst = root / f"bundle-{secrets.token_hex(4)}"
    shutil.copytree(POLICIES, dst)
    p = dst / "propolis" / "admission" / "data.json"
    data = json.loads(p.read_text())
    data.update(admission_data)
    p.write_text(json.dumps(data))
    return dst


MODES = {"default": "enforce", "namespaces": {"relaxed": "warn", "observed": "audit"}}


def config(tmp_path: Path, nats_url: str, tls: dict[str, Path], policies: Path, **admission: Any) -> Config:
    raw = {
        "data_dir": str(tmp_path / "var"), "grpc": {"port": -1}, "metrics": {"port": -1},
        "nats": {"url": nats_url}, "policy": {"bundle": str(policies)},
        "admission": {"webhook_port": -1, "tls_cert_file": str(tls["cert"]), "tls_key_file": str(tls["key"]),
                      **admission},
    }
    return msgspec.convert(raw, Config)


@contextlib.asynccontextmanager
async def admission(cfg: Config) -> AsyncIterator[Running]:
    r = await start("admission", cfg)
    try:
        yield r
    finally:
        await r.stop()


def client(tls: dict[str, Path]) -> aiohttp.ClientSession:
    ctx = ssl.create_default_context(cafile=str(tls["ca"]))
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx))


async def post(session: aiohttp.ClientSession, url: str, doc: Any = None, *, data: bytes | None = None,
               headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    body = data if data is not None else json.dumps(doc).encode()
    async with session.post(url, data=body, headers={"Content-Type": "application/json", **(headers or {})}) as resp:
        assert resp.content_type == "application/json", await resp.text()
        return resp.status, await resp.json()


# -------------------------------------------------------------------------------- AdmissionReviews
def container(image: str, name: str = "app", **sc: Any) -> dict[str, Any]:
    return {"name": name, "image": image,
            "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
            "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                                "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
                                **sc}}


def pod_spec(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"automountServiceAccountToken": False, "securityContext": {"runAsNonRoot": True},
            "containers": list(containers)}


GOOD_IMAGE = f"{REGISTRY}/payments/api:1.4.2"

_GROUPS = {"Pod": ("", "v1"), "Deployment": ("apps", "v1"), "ReplicaSet": ("apps", "v1"),
           "StatefulSet": ("apps", "v1"), "DaemonSet": ("apps", "v1"), "Job": ("batch", "v1"),
           "CronJob": ("batch", "v1")}
_RESOURCES = {"Pod": "pods", "Deployment": "deployments", "ReplicaSet": "replicasets",
              "StatefulSet": "statefulsets", "DaemonSet": "daemonsets", "Job": "jobs", "CronJob": "cronjobs"}


def workload(kind: str, spec: dict[str, Any], name: str = "api", namespace: str = "payments") -> dict[str, Any]:
    group, version = _GROUPS[kind]
    meta = {"name": name, "namespace": namespace}
    template = {"metadata": {"labels": {"app": name}}, "spec": spec}
    body: dict[str, Any]
    if kind == "Pod":
        body = {"spec": spec}
    elif kind == "CronJob":
        body = {"spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template}}}}
    elif kind == "Job":
        body = {"spec": {"template": template}}
    else:
        body = {"spec": {"selector": {"matchLabels": {"app": name}}, "template": template}}
    return {"apiVersion": f"{group}/{version}".lstrip("/"), "kind": kind, "metadata": meta, **body}


def review(obj: dict[str, Any], *, namespace: str = "payments", dry_run: bool = False,
           operation: str = "CREATE") -> dict[str, Any]:
    kind = obj["kind"]
    group, version = _GROUPS[kind]
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": str(uuid.uuid4()),
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": _RESOURCES[kind]},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "requestResource": {"group": group, "version": version, "resource": _RESOURCES[kind]},
        "name": obj["metadata"]["name"], "namespace": namespace, "operation": operation,
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
        "object": obj, "oldObject": None, "dryRun": dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    }}


def pod_review(*containers: dict[str, Any], **kw: Any) -> dict[str, Any]:
    ns = kw.pop("namespace", "payments")
    return review(workload("Pod", pod_spec(*containers), namespace=ns), namespace=ns, **kw)


def digest() -> str:
    return "sha256:" + secrets.token_hex(32)


async def put_score(nats_url: str, dig: str, score: float) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        try:
            kv = await js.key_value("PROPOLIS_RISK_SCORES")
        except Exception:
            kv = await js.create_key_value(bucket="PROPOLIS_RISK_SCORES", history=5)
        doc = {"digest": dig, "reference": "", "score": score, "factors": [], "bundle_revision": "test",
               "scored_at": time.time()}
        await kv.put(dig.replace(":", "_"), json.dumps(doc).encode())
    finally:
        await nc.close()


# ------------------------------------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def modes_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bundle(tmp_path_factory.mktemp("b"), modes=MODES)


async def test_allowed_denied_modes_dry_run_and_the_decision_log(
        nats_url: str, tmp_path: Path, tls: dict[str, Path], modes_bundle: Path) -> None:
    cfg = config(tmp_path, nats_url, tls, modes_bundle)
    nc = await nats.connect(nats_url)
    logged: dict[str, dict[str, Any]] = {}
    decided: dict[str, dict[str, Any]] = {}
    arrived = asyncio.Event()

    async def on_logged(msg: Any) -> None:
        env = json.loads(msg.data)
        logged[env["data"]["decision_id"]] = env
        arrived.set()

    async def on_decided(msg: Any) -> None:
        env = json.loads(msg.data)
        decided[env["data"]["uid"]] = env
        arrived.set()

    await nc.subscribe("propolis.decisions.logged", cb=on_logged)
    await nc.subscribe("propolis.admission.decided", cb=on_decided)
    try:
        async with admission(cfg) as r, client(tls) as http:
            url = r.endpoints["webhook"]
            assert url.startswith("https://")

            # An allowed pod: allowed, no status, the decision id and revision in the audit annotations.
            req = pod_review(container(GOOD_IMAGE))
            status, body = await post(http, url, req)
            assert status == 200, body
            assert body["apiVersion"] == "admission.k8s.io/v1" and body["kind"] == "AdmissionReview"
            resp = body["response"]
            assert resp["uid"] == req["request"]["uid"] and resp["allowed"] is True and "status" not in resp
            ann = resp["auditAnnotations"]
            assert ann["policy-revision"].startswith("sha256:") and ann["mode"] == "enforce"
            assert ann["verdict"] == "allowed"
            # Unknown image (no digest, so no score): a warning by default.
            assert any(w.startswith("image_risk_unknown:") for w in resp["warnings"]), resp
            allowed_id, revision = ann["decision-id"], ann["policy-revision"]

            # A privileged pod: 403 with the rule ids in the message.
            req = pod_review(container(GOOD_IMAGE, privileged=True))
            status, body = await post(http, url, req)
            resp = body["response"]
            assert status == 200 and resp["allowed"] is False and resp["status"]["code"] == 403
            assert "pss_baseline_privileged" in resp["status"]["message"]
            assert "rules: " in resp["status"]["message"] and revision in resp["status"]["message"]
            assert "pss_baseline_privileged" in resp["auditAnnotations"]["denied-by"]
            denied_id = resp["auditAnnotations"]["decision-id"]

            # Warn mode: allowed, the denial becomes a warning.
            req = pod_review(container(GOOD_IMAGE, privileged=True), namespace="relaxed")
            resp = (await post(http, url, req))[1]["response"]
            assert resp["allowed"] is True and "status" not in resp
            assert any(w.startswith("pss_baseline_privileged:") for w in resp["warnings"])
            assert resp["auditAnnotations"]["mode"] == "warn"
            assert "pss_baseline_privileged" in resp["auditAnnotations"]["would-deny"]

            # Audit mode: allowed, nothing returned, only logged.
            req = pod_review(container(GOOD_IMAGE, privileged=True), namespace="observed")
            resp = (await post(http, url, req))[1]["response"]
            assert resp["allowed"] is True and "warnings" not in resp
            assert resp["auditAnnotations"]["mode"] == "audit"
            assert "pss_baseline_privileged" in resp["auditAnnotations"]["would-deny"]
            audit_uid = req["request"]["uid"]

            # Dry run: decided as usual, marked.
            req = pod_review(container(GOOD_IMAGE, privileged=True), dry_run=True)
            resp = (await post(http, url, req))[1]["response"]
            assert resp["allowed"] is False and resp["auditAnnotations"]["dry-run"] == "true"
            dry_uid = req["request"]["uid"]

            async def everything() -> None:
                while not ({allowed_id, denied_id} <= logged.keys() and {audit_uid, dry_uid} <= decided.keys()):
                    arrived.clear()
                    await arrived.wait()

            await asyncio.wait_for(everything(), timeout=10)
    finally:
        await nc.close()
    # The decision log has both decisions, with the revision the answer named.
    assert logged[allowed_id]["data"]["revision"] == revision == logged[allowed_id]["policyrevision"]
    assert logged[denied_id]["data"]["decision_point"] == "admission"
    assert logged[denied_id]["data"]["result"]["allow"] is False
    # propolis.admission.decided: the audit-mode request was allowed (mode audit); the dry run is marked.
    assert decided[audit_uid]["data"]["allowed"] is True and decided[audit_uid]["data"]["mode"] == "audit"
    assert decided[dry_uid]["data"]["dry_run"] is True and decided[dry_uid]["data"]["allowed"] is False
    assert decided[dry_uid]["policyrevision"] == revision


@pytest.mark.parametrize("kind", list(_GROUPS))
async def test_every_workload_kind(embedded_nats: str, tmp_path: Path, tls: dict[str, Path], modes_bundle: Path,
                                   kind: str) -> None:
    async with admission(config(tmp_path, embedded_nats, tls, modes_bundle)) as r, client(tls) as http:
        url = r.endpoints["webhook"]
        good = review(workload(kind, pod_spec(container(GOOD_IMAGE))))
        resp = (await post(http, url, good))[1]["response"]
        assert resp["allowed"] is True, resp
        bad_spec = pod_spec(container(GOOD_IMAGE))
        bad_spec["hostNetwork"] = True
        bad = review(workload(kind, bad_spec))
        resp = (await post(http, url, bad))[1]["response"]
        assert resp["allowed"] is False and resp["status"]["code"] == 403
        assert "pss_baseline_host_namespaces" in resp["status"]["message"], resp
        assert f"{kind} payments/api" in resp["status"]["message"]


async def test_malformed_oversized_and_wrong_version_bodies(
        embedded_nats: str, tmp_path: Path, tls: dict[str, Path], modes_bundle: Path) -> None:
    cfg = config(tmp_path, embedded_nats, tls, modes_bundle, max_request_bytes=64 * 1024)
    async with admission(cfg) as r, client(tls) as http:
        url = r.endpoints["webhook"]
        ok = pod_review(container(GOOD_IMAGE))
        cases: list[tuple[bytes, int, str]] = [
            (b"{not json", 400, "malformed_json"),
            (b"[]", 400, "not_an_admission_review"),
            (json.dumps({**ok, "apiVersion": "admission.k8s.io/v1beta1"}).encode(), 400, "unsupported_version"),
            (json.dumps({**ok, "kind": "Pod"}).encode(), 400, "not_an_admission_review"),
            (json.dumps({k: v for k, v in ok.items() if k != "request"}).encode(), 400, "missing_request"),
            (json.dumps({**ok, "request": {**ok["request"], "uid": ""}}).encode(), 400, "missing_uid"),
            (json.dumps({**ok, "request": {**ok["request"], "object": "x"}}).encode(), 400, "malformed_request"),
            (b"{" + b" " * (64 * 1024) + b"}", 413, "too_large"),
        ]
        for data, code, error in cases:
            status, body = await post(http, url, data=data)
            assert (status, body["error"]) == (code, error), body
            assert body["message"]
        # Chunked (no Content-Length) oversized bodies are refused too.

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(40):
                yield b" " * 4096

        async with http.post(url, data=chunks(), headers={"Content-Type": "application/json"}) as resp:
            assert resp.status == 413 and (await resp.json())["error"] == "too_large"
        status, body = await post(http, url, ok, headers={"Content-Type": "text/plain"})
        assert status == 415 and body["error"] == "unsupported_media_type"
        async with http.get(url) as resp:
            assert resp.status == 405 and (await resp.json())["error"] == "method_not_allowed"
        async with http.post(url.replace("/validate", "/mutate"), json=ok) as resp:
            assert resp.status == 404 and (await resp.json())["error"] == "not_found"
    # Plain HTTP is not served.
    async with aiohttp.ClientSession() as plain:
        with pytest.raises(aiohttp.ClientError):
            async with plain.post(url.replace("https://", "http://"), json=ok) as resp:
                await resp.read()


async def test_risk_scores_from_kv_at_the_deploy_checkpoint(
        nats_url: str, tmp_path: Path, tls: dict[str, Path], modes_bundle: Path) -> None:
    risky, fine, unscored, later = digest(), digest(), digest(), digest()
    await put_score(nats_url, risky, 87.5)
    await put_score(nats_url, fine, 12.0)
    async with admission(config(tmp_path, nats_url, tls, modes_bundle)) as r, client(tls) as http:
        url = r.endpoints["webhook"]
        resp = (await post(http, url, pod_review(container(f"{REGISTRY}/payments/api@{risky}"))))[1]["response"]
        assert resp["allowed"] is False
        assert "image_risk_blocked" in resp["status"]["message"] and "risk score 87.5" in resp["status"]["message"]
        assert "above the deploy block bar 60" in resp["status"]["message"]

        resp = (await post(http, url, pod_review(container(f"{REGISTRY}/payments/api@{fine}"))))[1]["response"]
        assert resp["allowed"] is True and "warnings" not in resp, resp

        resp = (await post(http, url, pod_review(container(f"{REGISTRY}/payments/api@{unscored}"))))[1]["response"]
        assert resp["allowed"] is True
        assert [w.split(":")[0] for w in resp["warnings"]] == ["image_risk_unknown"]

        # A score written while the service runs is seen (KV watch / risk.changed / read on miss).
        await put_score(nats_url, later, 45.0)
        for _ in range(50):
            resp = (await post(http, url, pod_review(container(f"{REGISTRY}/payments/api@{later}"))))[1]["response"]
            if any(w.startswith("image_risk_high:") for w in resp.get("warnings", [])):
                break
            await asyncio.sleep(0.1)
        assert resp["allowed"] is True and resp["warnings"][0].startswith("image_risk_high:"), resp


async def test_require_attestation_reads_the_registry_gate_state(
        embedded_nats: str, tmp_path: Path, tls: dict[str, Path]) -> None:
    policies = bundle(tmp_path, require_attestation=True, unknown_images="allow")
    attested, pending = digest(), digest()
    nc = await nats.connect(embedded_nats)
    js = nc.jetstream()
    try:
        kv = await js.key_value("PROPOLIS_REGISTRY_GATE")
    except Exception:
        kv = await js.create_key_value(bucket="PROPOLIS_REGISTRY_GATE", history=5)
    await kv.put(f"payments/api={attested.replace(':', '_')}", json.dumps(
        {"registry": REGISTRY, "repository": "payments/api", "digest": attested, "status": "allowed",
         "attestation_digest": digest()}).encode())
    await kv.put(f"payments/api={pending.replace(':', '_')}", json.dumps(
        {"registry": REGISTRY, "repository": "payments/api", "digest": pending, "status": "quarantined"}).encode())
    await nc.close()
    async with admission(config(tmp_path, embedded_nats, tls, policies)) as r, client(tls) as http:
        url = r.endpoints["webhook"]
        resp = (await post(http, url, pod_review(container(f"{REGISTRY}/payments/api@{attested}"))))[1]["response"]
        assert resp["allowed"] is True, resp
        for image in (f"{REGISTRY}/payments/api@{pending}", GOOD_IMAGE):
            resp = (await post(http, url, pod_review(container(image))))[1]["response"]
            assert resp["allowed"] is False and "image_not_attested" in resp["status"]["message"], resp


@contextlib.contextmanager
def frozen(srv: EmbeddedNats) -> Any:
    """The server stops answering (SIGSTOP) until the block ends."""
    assert srv.proc is not None
    os.kill(srv.proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(srv.proc.pid, signal.SIGCONT)


@pytest.mark.parametrize(("failure_policy", "reserve_ms", "allowed", "rule"), [
    ({"risk": "open"}, 500, True, "image_risk_unavailable"),
    ({"risk": "closed"}, 500, False, "image_risk_unavailable"),
    ({"evaluation": "closed"}, 0, False, "admission_budget_exhausted"),
    ({"evaluation": "open"}, 0, True, "admission_budget_exhausted"),
])
async def test_a_hanging_kv_is_answered_within_the_budget_with_the_failure_policy(
        tmp_path: Path, tls: dict[str, Path], failure_policy: dict[str, str], reserve_ms: int, allowed: bool,
        rule: str) -> None:
    budget_ms = 1500
    policies = bundle(tmp_path, failure_policy=failure_policy)
    with EmbeddedNats(tmp_path / "nats") as srv:
        cfg = config(tmp_path, srv.url, tls, policies, timeout_budget_ms=budget_ms, evaluation_reserve_ms=reserve_ms)
        async with admission(cfg) as r, client(tls) as http:
            url = r.endpoints["webhook"]
            req = pod_review(container(f"{REGISTRY}/payments/api@{digest()}"))
            with frozen(srv):
                t0 = time.monotonic()
                status, body = await post(http, url, req)
                elapsed = time.monotonic() - t0
            resp = body["response"]
            assert status == 200 and resp["uid"] == req["request"]["uid"]
            assert elapsed < budget_ms / 1000 + 0.5, elapsed
            assert resp["allowed"] is allowed, resp
            group, policy = next(iter(failure_policy.items()))
            assert resp["auditAnnotations"]["failure-policy"] == f"{group}={policy}"
            text = resp["status"]["message"] if not allowed else " ".join(resp["warnings"])
            assert rule in text, resp
            if rule == "image_risk_unavailable":
                assert "could not be read in time" in text
                assert resp["auditAnnotations"]["risk-unavailable"].startswith(f"{REGISTRY}/payments/api@")


async def test_admit_grpc_on_multi_document_yaml(
        nats_url: str, tmp_path: Path, tls: dict[str, Path], modes_bundle: Path) -> None:
    ok = workload("Deployment", pod_spec(container(GOOD_IMAGE)), name="web", namespace="")
    ok["metadata"].pop("namespace")
    bad_spec = pod_spec(container(GOOD_IMAGE, privileged=True))
    bad = workload("CronJob", bad_spec, name="nightly", namespace="batch")
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    text = "\n---\n".join(yaml.safe_dump(d) for d in (ok, bad, svc))
    async with admission(config(tmp_path, nats_url, tls, modes_bundle)) as r:
        async with grpc.aio.insecure_channel(r.endpoints["grpc"].removeprefix("grpc://")) as ch:
            stub = admission_pb2_grpc.AdmissionServiceStub(ch)
            resp = await stub.Admit(admission_pb2.AdmitRequest(manifests=text.encode(), namespace="payments",
                                                               requested_by="ci"))
            assert resp.verdict == common_pb2.VERDICT_BLOCK
            assert [(x.kind, x.name, x.namespace) for x in resp.results] == [
                ("Deployment", "web", "payments"), ("CronJob", "nightly", "batch"), ("Service", "web", "payments")]
            assert [x.verdict for x in resp.results] == [common_pb2.VERDICT_WARN, common_pb2.VERDICT_BLOCK,
                                                         common_pb2.VERDICT_ALLOW]
            assert any(m.startswith("pss_baseline_privileged:") for m in resp.results[1].messages)
            assert resp.results[0].warnings[0].startswith("image_risk_unknown:")
            assert all(x.decision.bundle_revision.startswith("sha256:") for x in resp.results)
            assert resp.results[1].decision.decision_point == "admission"

            with pytest.raises(grpc.aio.AioRpcError) as bad_yaml:
                await stub.Admit(admission_pb2.AdmitRequest(manifests=b"kind: [unclosed"))
            assert bad_yaml.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            with pytest.raises(grpc.aio.AioRpcError) as helm:
                await stub.Admit(admission_pb2.AdmitRequest(manifests=b"x",
                                                           format=admission_pb2.MANIFEST_FORMAT_HELM))
            assert helm.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_list_exemptions(embedded_nats: str, tmp_path: Path, tls: dict[str, Path]) -> None:
    policies = bundle(tmp_path, exemptions=[
        {"id": "api-risk", "owner": "team-payments", "reason": "CVE fix in progress", "rules": ["image_risk_blocked"],
         "namespaces": ["payments"], "expires": "2099-01-01T00:00:00Z"},
        {"id": "old", "owner": "ops", "rules": ["pss_baseline_privileged"], "expires": "2020-01-01T00:00:00Z"},
    ])
    async with admission(config(tmp_path, embedded_nats, tls, policies)) as r:
        async with grpc.aio.insecure_channel(r.endpoints["grpc"].removeprefix("grpc://")) as ch:
            stub = admission_pb2_grpc.AdmissionServiceStub(ch)
            resp = await stub.ListExemptions(admission_pb2.ListExemptionsRequest())
            assert [(e.exemption_id, e.owner, e.namespace) for e in resp.exemptions] == [
                ("api-risk", "team-payments", "payments")]
            assert resp.exemptions[0].expires_at.ToSeconds() == 4070908800
            resp = await stub.ListExemptions(admission_pb2.ListExemptionsRequest(include_expired=True))
            assert [e.exemption_id for e in resp.exemptions] == ["api-risk", "old"]
            resp = await stub.ListExemptions(admission_pb2.ListExemptionsRequest(namespace="other"))
            assert list(resp.exemptions) == []
        # The live exemption lets a blocked image through, and is named in the audit annotations and by Admit.
        risky = digest()
        await put_score(embedded_nats, risky, 90.0)
        obj = workload("Pod", pod_spec(container(f"{REGISTRY}/payments/api@{risky}")))
        async with client(tls) as http:
            resp = (await post(http, r.endpoints["webhook"], review(obj)))[1]["response"]
        assert resp["allowed"] is True and resp["auditAnnotations"]["exemptions"] == "api-risk", resp
        async with grpc.aio.insecure_channel(r.endpoints["grpc"].removeprefix("grpc://")) as ch:
            stub = admission_pb2_grpc.AdmissionServiceStub(ch)
            admitted = await stub.Admit(admission_pb2.AdmitRequest(manifests=json.dumps(obj).encode(),
                                                                   format=admission_pb2.MANIFEST_FORMAT_JSON))
            assert list(admitted.results[0].exemption_ids) == ["api-risk"]
            assert admitted.verdict == common_pb2.VERDICT_ALLOW


async def test_generated_self_signed_certificate_when_none_is_configured(
        embedded_nats: str, tmp_path: Path, modes_bundle: Path) -> None:
    raw = {"data_dir": str(tmp_path / "var"), "grpc": {"port": -1}, "metrics": {"port": -1},
           "nats": {"url": embedded_nats}, "policy": {"bundle": str(modes_bundle)},
           "admission": {"webhook_port": -1}}
    async with admission(msgspec.convert(raw, Config)) as r:
        ca = tmp_path / "var" / "admission" / "ca.crt"
        assert ca.is_file() and (tmp_path / "var" / "admission" / "webhook.key").stat().st_mode & 0o077 == 0
        async with client({"ca": ca}) as http:
            status, body = await post(http, r.endpoints["webhook"], pod_review(container(GOOD_IMAGE)))
            assert status == 200 and body["response"]["allowed"] is True


def test_certs_command_writes_a_ca_a_serving_pair_and_the_webhook_configuration(tmp_path: Path) -> None:
    from cryptography import x509

    out = tmp_path / "certs"
    p = propolis_cli("admission", "certs", "--out", str(out), "--service", "guard", "--namespace", "sec",
                     "--ip", "10.0.0.7", "--timeout-seconds", "5")
    assert p.returncode == 0, p.stderr.decode()
    doc = yaml.safe_load(p.stdout)
    assert doc["apiVersion"] == "admissionregistration.k8s.io/v1" and doc["kind"] == "ValidatingWebhookConfiguration"
    hook = doc["webhooks"][0]
    assert hook["sideEffects"] == "None" and hook["admissionReviewVersions"] == ["v1"]
    assert hook["timeoutSeconds"] == 5 and hook["failurePolicy"] == "Fail"
    assert hook["clientConfig"]["service"] == {"name": "guard", "namespace": "sec", "path": "/validate", "port": 443}
    import base64

    assert base64.b64decode(hook["clientConfig"]["caBundle"]) == (out / "ca.crt").read_bytes()
    resources = {r for rule in hook["rules"] for r in rule["resources"]}
    assert {"pods", "deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "cronjobs"} <= resources
    cert = x509.load_pem_x509_certificate((out / "webhook.crt").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["guard.sec.svc", "guard.sec.svc.cluster.local"]
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.7"]
    ca = x509.load_pem_x509_certificate((out / "ca.crt").read_bytes())
    cert.verify_directly_issued_by(ca)
    again = propolis_cli("admission", "certs", "--out", str(out))
    assert again.returncode == 2 and "--force" in again.stderr.decode()
    bad = propolis_cli("admission", "certs", "--out", str(tmp_path / "x"), "--ip", "not-an-ip")
    assert bad.returncode == 2 and "not an IP address" in bad.stderr.decode()


# ------------------------------------------------------------------------- property: monotonicity
DECISION = "propolis/admission/decision"


@functools.cache
def _compiled() -> Any:
    return RegorusEngine().compile(DirectorySource(POLICIES).fetch(), [DECISION])


def _allowed(spec: dict[str, Any]) -> bool:
    req = review(workload("Pod", spec))["request"]
    result = _compiled().evaluate(DECISION, json.dumps({"request": req}))
    return bool(result["allow"])


_sc = st.fixed_dictionaries({}, optional={
    "privileged": st.booleans(), "allowPrivilegeEscalation": st.booleans(), "runAsNonRoot": st.booleans(),
    "runAsUser": st.sampled_from([0, 1000]), "readOnlyRootFilesystem": st.booleans(),
    "capabilities": st.fixed_dictionaries({}, optional={
        "drop": st.lists(st.sampled_from(["ALL", "NET_RAW", "CHOWN"]), max_size=2, unique=True),
        "add": st.lists(st.sampled_from(["NET_BIND_SERVICE", "CHOWN", "SYS_ADMIN"]), max_size=2, unique=True)}),
    "seccompProfile": st.sampled_from([{"type": "RuntimeDefault"}, {"type": "Unconfined"}]),
})
_containers = st.lists(st.builds(
    lambda image, sc, limits: {"name": "c", "image": image, "securityContext": sc,
                               **({"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}} if limits else {})},
    st.sampled_from([GOOD_IMAGE, f"{REGISTRY}/payments/api:latest", "docker.io/library/nginx:1.25",
                     f"{REGISTRY}/x@sha256:" + "a" * 64]),
    _sc, st.booleans()), min_size=1, max_size=2)
_pod_specs = st.builds(
    lambda cs, pod, extra: {"containers": [{**c, "name": f"c{i}"} for i, c in enumerate(cs)], **pod, **extra},
    _containers,
    st.fixed_dictionaries({}, optional={"hostNetwork": st.booleans(), "hostPID": st.booleans(),
                                        "automountServiceAccountToken": st.booleans(),
                                        "securityContext": st.fixed_dictionaries({}, optional={
                                            "runAsNonRoot": st.booleans()})}),
    st.fixed_dictionaries({}, optional={"volumes": st.just([{"name": "tmp", "emptyDir": {}}])}))


def _escalate(spec: dict[str, Any], how: str, i: int) -> dict[str, Any]:
    s = copy.deepcopy(spec)
    c = s["containers"][i % len(s["containers"])]
    sc = c.setdefault("securityContext", {})
    if how == "capability":
        caps = sc.setdefault("capabilities", {})
        caps["add"] = [*caps.get("add", []), "SYS_ADMIN"]
    elif how == "hostPath":
        s["volumes"] = [*s.get("volumes", []), {"name": "host", "hostPath": {"path": "/var/run"}}]
        c["volumeMounts"] = [*c.get("volumeMounts", []), {"name": "host", "mountPath": "/host"}]
    elif how == "privileged":
        sc["privileged"] = True
    elif how == "hostNetwork":
        s["hostNetwork"] = True
    elif how == "runAsNonRoot":
        sc.pop("runAsNonRoot", None)
        s.get("securityContext", {}).pop("runAsNonRoot", None)
    return s


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=_pod_specs, how=st.sampled_from(["capability", "hostPath", "privileged", "hostNetwork", "runAsNonRoot"]),
       i=st.integers(min_value=0, max_value=1))
def test_more_privilege_never_turns_a_deny_into_an_allow(spec: dict[str, Any], how: str, i: int) -> None:
    if _allowed(spec):
        return
    assert not _allowed(_escalate(spec, how, i)), (how, spec)


async def test_processes_share_the_webhook_port(embedded_nats: str, tmp_path: Path, tls: dict[str, Path],
                                                modes_bundle: Path) -> None:
    """``admission.processes`` > 1: every process binds the same port (SO_REUSEPORT) and answers on it; with
    one process a second bind of the port is refused, so nobody shares a port by accident."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    shared = config(tmp_path, embedded_nats, tls, modes_bundle, webhook_port=port, processes=2)
    async with admission(shared) as first, admission(shared) as second:
        assert first.endpoints["webhook"] == second.endpoints["webhook"]
        for _ in range(6):  # new connections, spread over both processes by the kernel
            async with client(tls) as fresh:
                status, doc = await post(fresh, first.endpoints["webhook"], review(workload("Pod", pod_spec(
                    container(GOOD_IMAGE)))))
                assert status == 200 and doc["response"]["allowed"] is True
    single = config(tmp_path, embedded_nats, tls, modes_bundle, webhook_port=port)
    async with admission(single):
        with pytest.raises(OSError):
            async with admission(single):
                pass
