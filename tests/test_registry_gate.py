"""The registry gate end to end: a real ``docker-registry`` sends its push notifications to the gate's
webhook; the real scanner scans the pushed manifest from the registry, the real risk service judges
it at the ``registry`` checkpoint, the bundle decides; vulnerable images are moved to quarantine,
clean ones get a verdict attestation as an OCI referrer. Also: a new bundle revision changes the
verdict, forged and malformed notifications, missing blobs, replays, a registry that is down, and a
notification storm against a bounded backlog."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import msgspec
import pytest

from propolis.common.v1 import common_pb2
from propolis.kernel import events
from propolis.kernel.app import Running, start
from propolis.kernel.config import Config
from propolis.registry.domain import attestation
from propolis.registry.service import GateRecord, RegistryGate, state_key
from propolis.registry.v1 import registry_pb2, registry_pb2_grpc
from tests.conftest import POLICIES
from tests.registry import Registry, push_image, start_registry
from tests.scanner.oci_blobs import OCI_INDEX, BuiltImage, build_image
from tests.test_risk import KEV, _bundle, _dist_info
from tests.test_risk_service import OS_RELEASE, vulndb  # noqa: F401 - the module-scoped advisory index fixture

pytestmark = pytest.mark.nats

NOTIFY_TYPE = "application/vnd.docker.distribution.events.v1+json"


#: A private key left in the image (the secret search reports it as critical).
PRIVATE_KEY = (b"-----BEGIN RSA PRIVATE KEY-----\n"
               + b"MIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi2Yl7v1VdK1lIKrqXQ5wIDAQAB\n" * 8
               + b"-----END RSA PRIVATE KEY-----\n")


def airflow_image(salt: str = "") -> BuiltImage:
    """Apache Airflow 1.10.10 (known exploited: CVE-2020-11978 in the KEV sample) beside an old Django and
    Pillow with dozens of fixed advisories, and an SSH key left behind: a score of about 77, above the
    default registry block bar (70)."""
    pkgs = {**_dist_info("apache-airflow", "1.10.10"), **_dist_info("django", "1.11.0"),
            **_dist_info("pillow", "6.0.0"), **_dist_info("pip", "24.2"), "root/.ssh/id_rsa": PRIVATE_KEY}
    return build_image([OS_RELEASE, pkgs],
                       created_by=["ADD rootfs.tar /", f"RUN pip install -r requirements.txt {salt}"])


def requests_image(salt: str = "") -> BuiltImage:
    """requests 2.19.1: two moderate advisories, a low score under every default bar."""
    return build_image([OS_RELEASE, _dist_info("requests", "2.19.1")],
                       created_by=["ADD rootfs.tar /", f"RUN pip install requests==2.19.1 {salt}"])


def tiny_image(n: int) -> BuiltImage:
    return build_image([OS_RELEASE, {f"srv/{n}.txt": f"payload {n}\n".encode()}], created_by=["ADD x /", f"ADD {n} /"])


def config(tmp_path: Path, nats_url: str, vulndb: Path, *, bundle: Path = POLICIES,  # noqa: F811
           **registry: Any) -> Config:
    tag = uuid.uuid4().hex[:12]
    return msgspec.convert({
        "data_dir": str(tmp_path / "var"), "grpc": {"port": -1}, "metrics": {"port": -1}, "nats": {"url": nats_url},
        "policy": {"bundle": str(bundle)},
        "scanner": {"queue_enabled": False, "vulndb_path": str(vulndb)},
        "risk": {"kev_path": str(KEV), "consume_scans": False, "consume_alerts": False,
                 "consume_inventory": False},
        "registry": {"webhook_port": -1, "webhook_token": f"tok-{tag}", "pushes_durable": f"gate-t{tag}",
                     "pushes_deliver": "new", "retry_initial": 0.2, "retry_max": 1.0, **registry},
    }, Config)


@dataclass
class Gate:
    cfg: Config
    running: Running
    stub: registry_pb2_grpc.RegistryGateServiceStub
    quarantined: asyncio.Queue[events.Envelope[Any]]

    @property
    def svc(self) -> RegistryGate:
        assert isinstance(self.running.service, RegistryGate)
        return self.running.service

    @property
    def webhook(self) -> str:
        return self.running.endpoints["webhook"]

    @property
    def token(self) -> str:
        return self.cfg.registry.webhook_token

    async def record(self, repo: str, digest: str, *, timeout: float = 90.0,
                     until: Callable[[GateRecord], bool] = lambda r: True) -> GateRecord:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rec = await self.svc.record(repo, digest)
            if rec is not None and until(rec):
                return rec
            await asyncio.sleep(0.1)
        raise AssertionError(f"no gate record for {repo}@{digest} within {timeout}s")

    async def post(self, body: bytes | dict[str, Any], *, token: str | None = None,
                   content_type: str = NOTIFY_TYPE) -> httpx.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": content_type}
        if token is None:
            token = self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with httpx.AsyncClient(timeout=30) as c:
            return await c.post(self.webhook, content=raw, headers=headers)


def _addr(r: Running) -> str:
    return r.endpoints["grpc"].split("://", 1)[1]


@contextlib.asynccontextmanager
async def gate(cfg: Config) -> AsyncIterator[Gate]:
    scanner = await start("scanner", cfg)
    risk = await start("risk", cfg)
    reg_cfg = msgspec.structs.replace(cfg, registry=msgspec.structs.replace(
        cfg.registry, scanner_address=_addr(scanner), risk_address=_addr(risk)))
    running = await start("registry", reg_cfg)
    bus = running.ctx.bus
    assert bus is not None and bus.nc is not None
    quarantined: asyncio.Queue[events.Envelope[Any]] = asyncio.Queue()

    async def on_quarantined(msg: Any) -> None:
        quarantined.put_nowait(events.decode(msg.data))

    sub = await bus.nc.subscribe("propolis.registry.quarantined", cb=on_quarantined)
    try:
        async with grpc.aio.insecure_channel(_addr(running)) as ch:
            yield Gate(reg_cfg, running, registry_pb2_grpc.RegistryGateServiceStub(ch), quarantined)
    finally:
        await sub.unsubscribe()
        await running.stop()
        await risk.stop()
        await scanner.stop()
        with contextlib.suppress(Exception):
            import nats

            nc = await nats.connect(cfg.nats.url)
            try:
                await nc.jetstream().delete_consumer("PROPOLIS_REGISTRY", cfg.registry.pushes_durable)
            finally:
                await nc.close()


def _http(reg: Registry) -> httpx.Client:
    return httpx.Client(base_url=f"http://{reg.host}", timeout=30, headers={"Accept": ", ".join((
        "application/vnd.oci.image.manifest.v1+json", OCI_INDEX))})


def tags(reg: Registry, repo: str) -> list[str]:
    with _http(reg) as c:
        r = c.get(f"/v2/{repo}/tags/list")
        return list(r.json().get("tags") or []) if r.status_code == 200 else []


def notification(reg: Registry, repo: str, tag: str, image: BuiltImage, event_id: str = "") -> dict[str, Any]:
    """The notification distribution sends for a manifest push (as in its ``notifications`` package)."""
    return {"events": [{
        "id": event_id or str(uuid.uuid4()), "timestamp": "2026-11-29T12:00:00Z", "action": "push",
        "target": {"mediaType": image.media_type, "size": len(image.manifest), "digest": image.digest,
                   "length": len(image.manifest), "repository": repo, "tag": tag,
                   "url": f"http://{reg.host}/v2/{repo}/manifests/{image.digest}"},
        "request": {"id": str(uuid.uuid4()), "addr": "127.0.0.1:1", "host": reg.host, "method": "PUT",
                    "useragent": "test"},
        "actor": {}, "source": {"addr": "test", "instanceID": "test"}}]}


async def next_quarantined(g: Gate, digest: str, timeout: float = 90.0) -> events.Envelope[Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            env = await asyncio.wait_for(g.quarantined.get(), max(deadline - time.monotonic(), 0.01))
        except TimeoutError:
            records = [r for r in await g.svc.quarantined() if r.digest == digest]
            raise AssertionError(f"{digest} was not quarantined within {timeout}s; gate records: {records}") from None
        if env.data.digest == digest:
            return env


def referrers(reg: Registry, repo: str, digest: str) -> list[dict[str, Any]]:
    with _http(reg) as c:
        r = c.get(f"/v2/{repo}/manifests/sha256-{digest.split(':')[1]}")
        return list(r.json()["manifests"]) if r.status_code == 200 else []


# ---------------------------------------------------------------- end to end
async def test_push_vulnerable_is_quarantined_and_clean_is_attested(
        machine_nats: str, tmp_path: Path, vulndb: Path) -> None:  # noqa: F811
    cfg = config(tmp_path, machine_nats, vulndb)
    async with gate(cfg) as g:
        reg = start_registry(tmp_path / "reg", notify=(g.webhook, g.token))
        try:
            repo = f"shop/api-{uuid.uuid4().hex[:8]}"
            bad = airflow_image()
            digest = await asyncio.to_thread(push_image, reg, repo, "1.0", bad)
            env = await next_quarantined(g, digest)
            assert env.data.repository == repo and env.data.tag == "1.0"
            assert env.data.quarantine_repository == f"quarantine/{repo}" and env.data.copied
            reasons = env.data.reasons
            assert [r.split(":")[0] for r in reasons] == ["checkpoint_blocked"], reasons
            assert "above the registry block bar 70" in reasons[0]
            assert env.policyrevision.startswith("sha256:") and env.policyrevision == g.svc.revision
            # The tag is gone from the repository and present in quarantine, with the same digest.
            assert "1.0" not in tags(reg, repo)
            assert tags(reg, f"quarantine/{repo}") == ["1.0"]
            with _http(reg) as c:
                q = c.get(f"/v2/quarantine/{repo}/manifests/1.0")
                assert q.status_code == 200 and q.headers["Docker-Content-Digest"] == digest
                assert c.get(f"/v2/{repo}/manifests/{digest}").status_code == 404
            rec = await g.record(repo, digest)
            assert rec.status == "quarantined" and rec.reasons == reasons and rec.score and rec.score > 70

            good = requests_image()
            clean = await asyncio.to_thread(push_image, reg, repo, "2.0", good)
            rec = await g.record(repo, clean)
            assert rec.status == "allowed" and rec.verdict == "allow" and rec.attestation_digest
            assert "2.0" in tags(reg, repo)
            # The attestation is a referrer of the clean digest (OCI 1.1 tag schema on distribution 2.x).
            found = referrers(reg, repo, clean)
            assert [d["digest"] for d in found] == [rec.attestation_digest]
            assert found[0]["artifactType"] == attestation.ARTIFACT_TYPE
            assert found[0]["annotations"][attestation.ANNOTATION_REVISION] == g.svc.revision
            with _http(reg) as c:
                art = c.get(f"/v2/{repo}/manifests/{rec.attestation_digest}").json()
                assert art["subject"]["digest"] == clean and art["artifactType"] == attestation.ARTIFACT_TYPE
                statement = c.get(f"/v2/{repo}/blobs/{art['layers'][0]['digest']}").json()
            assert statement["subject"] == {"registry": reg.host, "repository": repo, "tag": "2.0", "digest": clean}
            assert statement["verdict"] == "allow" and statement["policy"]["revision"] == g.svc.revision
            assert statement["policy"]["decision_id"] == rec.decision_id
            assert g.quarantined.empty()

            # VerifyImage for pipelines: a dry run judges without touching the registry.
            resp = await g.stub.VerifyImage(registry_pb2.VerifyImageRequest(
                image=common_pb2.ImageRef(reference=f"{reg.host}/{repo}:2.0"), dry_run=True))
            assert resp.verdict == common_pb2.VERDICT_ALLOW and not resp.quarantined and resp.image.digest == clean
            assert resp.decision.bundle_revision == g.svc.revision
            for ref, code in ((f"{reg.host}/{repo}:nope", grpc.StatusCode.NOT_FOUND),
                              ("not a reference", grpc.StatusCode.INVALID_ARGUMENT)):
                with pytest.raises(grpc.aio.AioRpcError) as exc:
                    await g.stub.VerifyImage(registry_pb2.VerifyImageRequest(image=common_pb2.ImageRef(reference=ref)))
                assert exc.value.code() == code

            # ListQuarantined and ReleaseImage (decided by propolis.registry.release).
            listed = await g.stub.ListQuarantined(registry_pb2.ListQuarantinedRequest(
                repository_prefix=f"{reg.host}/{repo}"))
            assert [i.image.digest for i in listed.images] == [digest]
            release = registry_pb2.ReleaseImageRequest(image=common_pb2.ImageRef(reference=f"{reg.host}/{repo}",
                                                                                 digest=digest),
                                                       owner="team-shop", justification="too short")
            release.expires_at.FromSeconds(int(time.time()) + 7 * 86400)
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await g.stub.ReleaseImage(release)
            assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "release_justification_too_short" in str(exc.value.details())
            release.justification = "CVE-2020-11978 needs the example DAGs, which this build does not load"
            released = await g.stub.ReleaseImage(release)
            assert released.decision.bundle_revision == g.svc.revision and released.release_id
            assert "1.0" in tags(reg, repo)
            assert (await g.svc.record(repo, digest)).status == "released"  # type: ignore[union-attr]
        finally:
            reg.stop()


async def test_new_bundle_revision_changes_the_verdict(embedded_nats: str, tmp_path: Path, vulndb: Path) -> None:  # noqa: F811
    bundle = _bundle(tmp_path)
    cfg = config(tmp_path, embedded_nats, vulndb, bundle=bundle)
    async with gate(cfg) as g:
        bus = g.running.ctx.bus
        assert bus is not None and bus.nc is not None
        logged: list[events.Envelope[Any]] = []

        async def on_logged(msg: Any) -> None:
            env = events.decode(msg.data)
            if env.data.path == "propolis/registry/decision":
                logged.append(env)

        sub = await bus.nc.subscribe("propolis.decisions.logged", cb=on_logged)
        reg = start_registry(tmp_path / "reg", notify=(g.webhook, g.token))
        try:
            repo = f"shop/web-{uuid.uuid4().hex[:8]}"
            first = await asyncio.to_thread(push_image, reg, repo, "1", requests_image("a"))
            rec = await g.record(repo, first)
            assert rec.status == "allowed"
            r1 = rec.revision

            # A new revision lowers the registry bar; the services reload on propolis.policy.bundle.updated.
            data_file = bundle / "propolis" / "checkpoints" / "data.json"
            doc = json.loads(data_file.read_text())
            doc["bars"]["registry"] = {"warn": 0, "block": 1}
            data_file.write_text(json.dumps(doc))
            await bus.publish(events.BundleUpdated(reason="lower the registry bar"))
            deadline = time.monotonic() + 30
            while g.svc.revision == r1 and time.monotonic() < deadline:  # noqa: ASYNC110 - polls another task
                await asyncio.sleep(0.1)
            r2 = g.svc.revision
            assert r2 != r1

            second = await asyncio.to_thread(push_image, reg, repo, "2", requests_image("b"))
            env = await next_quarantined(g, second)
            assert env.policyrevision == r2
            assert any("registry block bar" in r or "score_above_block_bar" in r for r in env.data.reasons), \
                env.data.reasons
            assert "2" not in tags(reg, repo) and "1" in tags(reg, repo)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(e.data.revision == r2 for e in logged):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            revisions = {e.data.revision: e.data.result.get("allow") for e in logged}
            assert revisions.get(r1) is True and revisions.get(r2) is False, revisions
        finally:
            await sub.unsubscribe()
            reg.stop()


# ---------------------------------------------------------------- hostile input
async def test_webhook_refuses_forged_malformed_and_oversized(embedded_nats: str, tmp_path: Path,
                                                              vulndb: Path) -> None:  # noqa: F811
    cfg = config(tmp_path, embedded_nats, vulndb, max_notification_bytes=64 * 1024)
    async with gate(cfg) as g:
        fake = Registry(host="127.0.0.1:1", storage=tmp_path, proc=None, log=tmp_path, mode="anonymous")  # type: ignore[arg-type]
        body = notification(fake, "shop/x", "1", tiny_image(1))
        assert (await g.post(body, token="")).status_code == 401
        forged = await g.post(body, token="not-the-token")
        assert forged.status_code == 401 and forged.json()["error"] == "unauthorized"
        assert (await g.post(body, content_type="text/plain")).status_code == 415
        for bad in (b"{not json", b"[]", b'{"events": "many"}', b'{"events": [{"id": 1}]}', b"\xff\xfe"):
            r = await g.post(bad)
            assert r.status_code == 400 and r.json()["error"] == "malformed_notification", bad
        big = await g.post(b'{"events": [], "pad": "' + b"x" * 100_000 + b'"}')
        assert big.status_code == 413 and big.json()["error"] == "too_large"
        async with httpx.AsyncClient() as c:
            assert (await c.get(g.webhook)).status_code == 405
        hostile = {"events": [
            {**body["events"][0], "target": {**body["events"][0]["target"], "repository": "../../etc"}},
            {**body["events"][0], "target": {**body["events"][0]["target"], "tag": "a b"}},
            {**body["events"][0], "target": {**body["events"][0]["target"], "digest": "md5:abc"}},
            {**body["events"][0], "id": "x" * 500},
            {**body["events"][0], "action": "pull"},
            {**body["events"][0], "target": {**body["events"][0]["target"], "repository": "quarantine/shop/x"}},
            {**body["events"][0], "target": {**body["events"][0]["target"], "tag": "sha256-" + "a" * 64}},
        ]}
        r = await g.post(hostile)
        assert r.status_code == 200 and r.json()["queued"] == [] and len(r.json()["ignored"]) == 7
        assert await g.svc.backlog() == 0


async def test_missing_blob_replay_and_registry_outage(embedded_nats: str, tmp_path: Path,
                                                       vulndb: Path) -> None:  # noqa: F811
    """Notifications posted as the registry would, so each case controls when the gate hears of a push."""
    cfg = config(tmp_path, embedded_nats, vulndb)
    async with gate(cfg) as g:
        reg = start_registry(tmp_path / "reg")
        try:
            # A manifest whose layer blob the registry has lost: unverifiable, quarantined without a copy.
            repo = f"shop/lost-{uuid.uuid4().hex[:8]}"
            img = tiny_image(1)
            digest = await asyncio.to_thread(push_image, reg, repo, "1", img)
            async with httpx.AsyncClient(base_url=f"http://{reg.host}") as c:
                assert (await c.delete(f"/v2/{repo}/blobs/{img.layer_digests[1]}")).status_code == 202
            assert (await g.post(notification(reg, repo, "1", img))).status_code == 200
            env = await next_quarantined(g, digest)
            assert [r.split(":")[0] for r in env.data.reasons] == ["blobs_missing", "image_unverifiable"]
            assert img.layer_digests[1] in env.data.reasons[0]
            assert not env.data.copied and "1" not in tags(reg, repo)

            # The same notification replayed, before and after its verdict: one quarantine.
            repo2 = f"shop/replay-{uuid.uuid4().hex[:8]}"
            bad = airflow_image("replay")
            digest2 = await asyncio.to_thread(push_image, reg, repo2, "1", bad)
            note = notification(reg, repo2, "1", bad)
            for _ in range(3):
                assert (await g.post(note)).status_code == 200
            await next_quarantined(g, digest2)
            assert (await g.post(note)).status_code == 200
            await asyncio.sleep(2)
            assert g.quarantined.empty()
            rec = await g.record(repo2, digest2)
            assert rec.event_ids == [note["events"][0]["id"]] and tags(reg, f"quarantine/{repo2}") == ["1"]

            # The registry goes down after the push: the gate retries with backoff until it is back.
            repo3 = f"shop/outage-{uuid.uuid4().hex[:8]}"
            good = requests_image("outage")
            digest3 = await asyncio.to_thread(push_image, reg, repo3, "1", good)
            port = int(reg.host.rsplit(":", 1)[1])
            reg.stop()
            assert (await g.post(notification(reg, repo3, "1", good))).status_code == 200
            await asyncio.sleep(2)
            assert await g.svc.record(repo3, digest3) is None
            reg = start_registry(tmp_path / "reg", port=port)
            rec = await g.record(repo3, digest3)
            assert rec.status == "allowed" and referrers(reg, repo3, digest3)
        finally:
            reg.stop()


async def test_notification_storm_is_bounded_and_loses_nothing(embedded_nats: str, tmp_path: Path,
                                                               vulndb: Path) -> None:  # noqa: F811
    cfg = config(tmp_path, embedded_nats, vulndb, max_backlog=4)
    async with gate(cfg) as g:
        reg = start_registry(tmp_path / "reg")
        try:
            repo = f"shop/storm-{uuid.uuid4().hex[:8]}"
            images = [tiny_image(i) for i in range(24)]
            digests = [await asyncio.to_thread(push_image, reg, repo, f"v{i}", im) for i, im in enumerate(images)]
            statuses: list[int] = []

            async def deliver(i: int) -> None:  # as the registry does: retry until accepted
                note = notification(reg, repo, f"v{i}", images[i])
                while True:
                    r = await g.post(note)
                    statuses.append(r.status_code)
                    if r.status_code == 200:
                        return
                    assert r.status_code == 503 and r.headers["Retry-After"]
                    await asyncio.sleep(0.2)

            await asyncio.wait_for(asyncio.gather(*(deliver(i) for i in range(len(images)))), 300)
            assert 503 in statuses, "the backlog bound was never reached"
            for d in digests:
                rec = await g.record(repo, d, timeout=180)
                assert rec.status == "allowed" and len(rec.event_ids) == 1
            assert {t for t in tags(reg, repo) if t.startswith("v")} == {f"v{i}" for i in range(len(images))}
        finally:
            reg.stop()


def test_state_keys_are_injective_and_valid() -> None:
    import re

    digests = ("sha256:" + "0" * 64, "sha256:" + "1" * 64)
    keys = {state_key(r, d) for r in ("a/b", "a.b", "a_b", "a/b/c") for d in digests}
    assert len(keys) == 8
    assert all(re.fullmatch(r"[-/_=.a-zA-Z0-9]+", k) for k in keys)
