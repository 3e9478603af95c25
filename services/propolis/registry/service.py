"""The registry gate: push notification → scan → registry checkpoint → verdict → quarantine or attestation.

- The webhook (:mod:`propolis.registry.api.webhook`) checks the shared token, keeps the tagged
  manifest pushes and publishes each as ``propolis.registry.pushed`` with the notification's event
  id as the JetStream message id, so a replayed notification is one message. It answers 503 when
  the backlog is full, and the registry retries: a storm is slowed, never dropped.
- Gate workers (a durable pull consumer) verify each push: the scanner service scans the manifest
  from the registry itself, the risk service judges the score at the ``registry`` checkpoint, and
  ``propolis.registry`` decides (decision logged with the bundle revision).
- ``block``: the manifest and its blobs are copied to ``<quarantine_prefix>/<repository>:<tag>``
  (cross-repository mounts), the original is deleted, ``propolis.registry.quarantined`` is
  published. ``allow``/``warn``: the verdict is attached as an OCI referrer artifact.
- Every step is idempotent (mount, put, delete-if-still-there, attach-unless-present), so replays
  and redeliveries change nothing twice. A registry, scanner or risk service that is unavailable
  makes the push wait and come back with exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import grpc
import msgspec

from propolis.common.v1 import common_pb2
from propolis.kernel.app import Context
from propolis.kernel.config import Config
from propolis.kernel.events import Envelope, ImagePushed, ImageQuarantined, ImageReleased
from propolis.kernel.grpcserver import Registrar
from propolis.kernel.tasks import cancel_and_wait
from propolis.policy.adapters.decision_log import JetStreamDecisionLog
from propolis.policy.adapters.regorus_engine import RegorusEngine
from propolis.policy.adapters.sources import source_for
from propolis.policy.domain.decision import Decision, DecisionPoints, InputLimits
from propolis.policy.domain.manager import BundleManager
from propolis.registry.adapters.distribution import (
    INDEX_TYPES,
    DistributionClient,
    Manifest,
    RegistryRefused,
    RegistryUnavailable,
    sha256,
)
from propolis.registry.domain import attestation
from propolis.registry.domain.notifications import PushedImage, Sorted, parse, sort_events
from propolis.risk.v1 import risk_pb2, risk_pb2_grpc
from propolis.scanner.adapters.registry import parse_reference
from propolis.scanner.v1 import scanner_pb2, scanner_pb2_grpc

log = logging.getLogger(__name__)

GATE_PATH = "propolis/registry/decision"
RELEASE_PATH = "propolis/registry/release"
_VERDICT_NAME = {common_pb2.VERDICT_ALLOW: "allow", common_pb2.VERDICT_WARN: "warn",
                 common_pb2.VERDICT_BLOCK: "block"}
_RETRYABLE_GRPC = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                   grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED, grpc.StatusCode.INTERNAL,
                   grpc.StatusCode.UNKNOWN, grpc.StatusCode.CANCELLED}


class GateRequestError(Exception):
    """A request the gate refuses; ``code`` names the gRPC status."""

    def __init__(self, code: Literal["invalid_argument", "not_found", "failed_precondition", "unavailable"],
                 message: str) -> None:
        super().__init__(message)
        self.code = code


class Retry(Exception):
    """A dependency is unavailable: verify this push again later."""


class Backlogged(Exception):
    """More pushes wait for a verdict than ``registry.max_backlog``: the registry should retry."""


def state_key(repository: str, digest: str) -> str:
    """A KV key for (repository, digest): KV keys allow ``[-/_=.a-zA-Z0-9]``; ``/`` and ``.`` are kept
    (repository names cannot hold ``=``, so ``=`` separates the digest unambiguously)."""
    return f"{repository}={digest.replace(':', '_')}"


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class GateRecord(msgspec.Struct, kw_only=True):
    """What the gate did with one (repository, digest), kept in the state bucket."""

    registry: str
    repository: str
    digest: str
    tags: list[str] = []
    status: Literal["allowed", "quarantined", "released"] = "allowed"
    verdict: str = ""
    reasons: list[str] = []
    warnings: list[str] = []
    score: float | None = None
    revision: str = ""
    decision_id: str = ""
    scan_id: str = ""
    quarantine_repository: str = ""
    copied: bool = False
    attestation_digest: str = ""
    event_ids: list[str] = []
    updated_at: float = 0.0
    released_by: str = ""
    justification: str = ""
    release_expires: str = ""


@dataclass
class Outcome:
    """The verdict on one pushed image and what the gate did about it."""

    target: PushedImage
    verdict: str
    allow: bool
    reasons: list[str]
    warnings: list[str]
    score: float | None
    decision: Decision
    scan_id: str = ""
    quarantined: bool = False
    quarantine_repository: str = ""
    copied: bool = False
    attestation_digest: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class _ScanFacts:
    scan_id: str = ""
    error: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    partial: bool = False
    partial_reasons: list[str] = field(default_factory=list)


def _backoff(initial: float, cap: float) -> Any:
    def delay(delivered: int) -> float:
        return float(min(cap, initial * (2 ** max(delivered - 1, 0))))
    return delay


class RegistryGate:
    """The gate's use cases; the webhook and gRPC front ends only convert and map errors."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        p, r = cfg.policy, cfg.registry
        src = source_for(p.bundle, ref=p.ref, subdir=p.subdir, data_dir=Path(cfg.data_dir))
        self.manager = BundleManager(src, RegorusEngine(use_vm=p.engine_vm))
        self.pdp = DecisionPoints(self.manager, self.manager.points,
                                  InputLimits(max(p.max_input_bytes, 4 * 1024 * 1024), p.max_input_depth))
        self.allowed_hosts = tuple(r.allowed_hosts)
        self.prefix = r.quarantine_prefix.strip("/") or "quarantine"
        self.token = ""
        self.ctx: Context | None = None
        self.kv: Any = None
        self.decision_log: JetStreamDecisionLog | None = None
        self._clients: dict[str, DistributionClient] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._backlog = (0.0, 0)
        self._admit = asyncio.Lock()
        self.webhook: Any = None

    # -- lifecycle ----------------------------------------------------------------------------
    def registrars(self) -> list[Registrar]:
        from propolis.registry.api.grpc import register

        return [lambda server: register(server, self)]

    async def start(self, ctx: Context) -> None:
        from propolis.registry.api.webhook import Webhook

        self.ctx = ctx
        await asyncio.to_thread(self.manager.load_initial)
        self.token = self._webhook_token(ctx.data_dir)
        if ctx.bus is not None:
            self.kv = await self._bucket()
            if self.cfg.policy.decision_log:
                self.decision_log = JetStreamDecisionLog(ctx.bus)
                self.decision_log.start()
            await ctx.bus.subscribe("propolis.policy.bundle.updated", self._on_bundle_updated)
            r = self.cfg.registry
            for _ in range(max(r.concurrency, 1)):
                self._tasks.append(await ctx.bus.consume(
                    durable=r.pushes_durable, subject="propolis.registry.pushed", handler=self._on_pushed,
                    max_deliver=r.max_deliver, ack_wait=r.scan_timeout + 60, batch=1,
                    nak_delay=_backoff(r.retry_initial, r.retry_max), deliver_new=r.pushes_deliver == "new"))
        self.webhook = Webhook(self)
        ctx.endpoints["webhook"] = await self.webhook.start()

    async def stop(self) -> None:
        if self.webhook is not None:
            await self.webhook.stop()
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        if self.decision_log is not None:
            await self.decision_log.close()
        for ch in self._channels.values():
            await ch.close()
        for c in self._clients.values():
            c.close()

    def _webhook_token(self, data_dir: Path) -> str:
        r = self.cfg.registry
        if r.webhook_token:
            return r.webhook_token
        path = Path(r.webhook_token_file) if r.webhook_token_file else data_dir / "registry" / "webhook-token"
        if path.is_file():
            token = path.read_text().strip()
            if token:
                return token
        if r.webhook_token_file:
            raise RuntimeError(f"registry.webhook_token_file {path} is missing or empty")
        path.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        path.touch(mode=0o600)
        path.write_text(token + "\n")
        log.info("generated the webhook token", extra={"path": str(path)})
        return token

    async def _bucket(self) -> Any:
        from nats.js.errors import BucketNotFoundError

        assert self.ctx is not None and self.ctx.bus is not None
        name = self.cfg.registry.state_bucket
        try:
            return await self.ctx.bus.js.key_value(name)
        except BucketNotFoundError:
            return await self.ctx.bus.js.create_key_value(bucket=name, history=5,
                                                          description="registry gate state per repository@digest")

    @property
    def revision(self) -> str:
        return self.manager.revision

    async def _on_bundle_updated(self, env: Envelope[Any], _msg: Any) -> None:
        with contextlib.suppress(Exception):
            await self.manager.reload(f"bus:{getattr(env.data, 'reason', '') or env.source}")

    # -- ingest -------------------------------------------------------------------------------
    async def ingest(self, body: bytes) -> Sorted:
        """A notification body → ``propolis.registry.pushed`` per tagged manifest push.
        Raises NotificationError (bad body), Backlogged (retry later) or a bus error."""
        note = parse(body)
        sorted_ = sort_events(note, quarantine_prefix=self.prefix, allowed_hosts=self.allowed_hosts)
        if not sorted_.pushed:
            return sorted_
        if self.ctx is None or self.ctx.bus is None:
            raise GateRequestError("unavailable", "the gate has no bus: pushes cannot be queued")
        async with self._admit:  # check and count together, or concurrent requests all see room
            if await self.backlog() + len(sorted_.pushed) > self.cfg.registry.max_backlog:
                raise Backlogged(f"{self.cfg.registry.max_backlog} or more pushes are waiting for a verdict")
            at, value = self._backlog
            self._backlog = (at, value + len(sorted_.pushed))  # counted until the next refresh reads the consumer
        for p in sorted_.pushed:
            event = ImagePushed(registry=p.registry, repository=p.repository, tag=p.tag, digest=p.digest,
                                event_id=p.event_id, media_type=p.media_type)
            # The event id is the message id: JetStream keeps one message per replayed notification.
            await self.ctx.bus.publish(event, subject=f"{p.registry}/{p.repository}", id=f"push-{p.event_id}")
        return sorted_

    async def backlog(self) -> int:
        """Pushes not yet verified (pending + in progress), refreshed at most every 0.2 s."""
        at, value = self._backlog
        if time.monotonic() - at < 0.2:
            return value
        assert self.ctx is not None and self.ctx.bus is not None
        try:
            info = await self.ctx.bus.js.consumer_info("PROPOLIS_REGISTRY", self.cfg.registry.pushes_durable)
            value = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        except Exception:  # no consumer yet (no gate worker): nothing is being waited on here
            value = 0
        self._backlog = (time.monotonic(), value)
        return value

    # -- verify -------------------------------------------------------------------------------
    async def _on_pushed(self, env: Envelope[Any], _msg: Any) -> None:
        data: ImagePushed = env.data
        target = PushedImage(event_id=data.event_id or env.id, registry=data.registry, repository=data.repository,
                             tag=data.tag, digest=data.digest, media_type=data.media_type)
        try:
            outcome = await self.verify(target)
        except Retry as exc:
            log.warning("push will be verified again later", extra={"image": _ref(target), "reason": str(exc)})
            raise
        except GateRequestError as exc:  # e.g. deleted by its owner before the gate saw it: nothing to do
            log.warning("push not verified", extra={"image": _ref(target), "reason": str(exc)})
            return
        log.info("push verified", extra={"image": _ref(target), "verdict": outcome.verdict,
                                         "quarantined": outcome.quarantined, "revision": outcome.decision.revision})

    def _client(self, host: str) -> DistributionClient:
        c = self._clients.get(host)
        if c is None:
            c = self._clients[host] = DistributionClient(host)
        return c

    async def _registry(self, fn: Any, *args: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args)
        except RegistryUnavailable as exc:
            raise Retry(str(exc)) from None

    async def verify(self, target: PushedImage, *, dry_run: bool = False, team: str = "") -> Outcome:
        """Scan, judge and act on one pushed image (one at a time per repository and digest)."""
        lock = self._locks.setdefault(state_key(target.repository, target.digest), asyncio.Lock())
        async with lock:
            return await self._verify(target, dry_run=dry_run, team=team)

    async def _verify(self, target: PushedImage, *, dry_run: bool, team: str) -> Outcome:
        client = self._client(target.registry)
        manifest: Manifest | None = await self._registry(client.get_manifest, target.repository, target.digest)
        if manifest is None:
            return await self._gone(target)
        missing = await self._registry(self._missing_blobs, client, target.repository, manifest)
        scan = _ScanFacts(error="the manifest references blobs the registry does not have") if missing \
            else await self._scan(target, client)
        checkpoint: dict[str, Any] | None = None
        if not scan.error:
            checkpoint = await self._checkpoint(target, team)
        inp: dict[str, Any] = {
            "image": {"registry": target.registry, "repository": target.repository, "tag": target.tag,
                      "digest": target.digest},
            "registry": {"missing_blobs": missing},
            "scan": {"error": scan.error, "partial": scan.partial, "partial_reasons": scan.partial_reasons,
                     "findings_summary": scan.summary},
        }
        if checkpoint is not None:
            inp["checkpoint"] = checkpoint
        decision = await asyncio.to_thread(self.pdp.decide, GATE_PATH, msgspec.json.encode(inp))
        if self.decision_log is not None:
            await self.decision_log.put(decision)
        result = decision.result if isinstance(decision.result, dict) else {}
        allow = bool(decision.allowed and result.get("allow") is True)
        verdict = "block" if not allow else ("warn" if checkpoint and checkpoint.get("verdict") == "warn" else "allow")
        score = checkpoint.get("score") if checkpoint else None
        warnings = [w for w in result.get("warnings", []) if isinstance(w, str)]
        outcome = Outcome(target=target, verdict=verdict, allow=allow, reasons=decision.reasons if not allow else [],
                          warnings=warnings, score=score if isinstance(score, int | float) else None,
                          decision=decision, scan_id=scan.scan_id)
        if dry_run:
            return outcome
        if allow:
            outcome.attestation_digest = await self._attest(client, target, manifest, outcome)
        else:
            await self._quarantine(client, target, manifest, outcome)
        await self._record(outcome)
        return outcome

    async def _gone(self, target: PushedImage) -> Outcome:
        """The manifest is no longer in the repository: already quarantined, or deleted by its owner."""
        rec = await self.record(target.repository, target.digest)
        if rec is not None and rec.status == "quarantined":
            return Outcome(target=target, verdict="block", allow=False, reasons=rec.reasons, warnings=rec.warnings,
                           score=rec.score, decision=_no_decision(rec.revision, rec.decision_id), quarantined=True,
                           quarantine_repository=rec.quarantine_repository, copied=rec.copied,
                           notes=["already quarantined"])
        raise GateRequestError("not_found", f"{_ref(target)}: the registry no longer has this manifest; "
                                            "nothing to verify")

    async def _scan(self, target: PushedImage, client: DistributionClient) -> _ScanFacts:
        stub = scanner_pb2_grpc.ScannerServiceStub(self._channel(self.cfg.registry.scanner_address))
        ref = f"{target.registry}/{target.repository}@{target.digest}"
        try:
            resp = await stub.ScanImage(scanner_pb2.ScanImageRequest(image=common_pb2.ImageRef(reference=ref)),
                                        timeout=self.cfg.registry.scan_timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in _RETRYABLE_GRPC:
                raise Retry(f"scanner at {self.cfg.registry.scanner_address}: {exc.code().name}: "
                            f"{exc.details()}") from None
            # The scanner refused the image. If the registry itself is down, that is the cause: retry.
            await self._registry(client.get_manifest, target.repository, target.digest)
            return _ScanFacts(error=exc.details() or exc.code().name)
        result = resp.result
        fixable: dict[str, int] = {}
        counts: dict[str, int] = {}
        for f in result.findings:
            sev = common_pb2.Severity.Name(f.severity).removeprefix("SEVERITY_").lower()
            counts[sev] = counts.get(sev, 0) + 1
            if f.fixed_version:
                fixable[sev] = fixable.get(sev, 0) + 1
        return _ScanFacts(scan_id=result.scan_id, summary={**counts, "fixable": fixable}, partial=result.partial,
                          partial_reasons=list(result.partial_reasons))

    async def _checkpoint(self, target: PushedImage, team: str) -> dict[str, Any]:
        stub = risk_pb2_grpc.RiskServiceStub(self._channel(self.cfg.registry.risk_address))
        req = risk_pb2.EvaluateCheckpointRequest(
            checkpoint=risk_pb2.CHECKPOINT_REGISTRY, team=team,
            image=common_pb2.ImageRef(registry=target.registry, repository=target.repository, tag=target.tag,
                                      digest=target.digest))
        try:
            resp = await stub.EvaluateCheckpoint(req, timeout=60)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in _RETRYABLE_GRPC or exc.code() == grpc.StatusCode.NOT_FOUND:
                # NOT_FOUND: the report the scanner just stored is not visible to risk yet.
                raise Retry(f"risk at {self.cfg.registry.risk_address}: {exc.code().name}: {exc.details()}") from None
            return {"verdict": None, "reasons": [f"risk service refused: {exc.details()}"], "score": None}
        return {"verdict": _VERDICT_NAME.get(resp.verdict), "reasons": list(resp.reasons), "score": resp.score,
                "revision": resp.decision.bundle_revision}

    def _channel(self, address: str) -> grpc.aio.Channel:
        ch = self._channels.get(address)
        if ch is None:
            ch = self._channels[address] = grpc.aio.insecure_channel(address)
        return ch

    # -- quarantine ---------------------------------------------------------------------------
    async def _quarantine(self, client: DistributionClient, target: PushedImage, manifest: Manifest,
                          outcome: Outcome) -> None:
        """Copy to the quarantine repository (mounts, no bytes move), then delete the original."""
        qrepo = f"{self.prefix}/{target.repository}"
        outcome.quarantine_repository = qrepo
        try:
            await self._registry(self._copy, client, target.repository, qrepo, manifest, target.tag)
            outcome.copied = True
        except RegistryRefused as exc:
            # Blobs the registry lost cannot be mounted; the verdict and manifest stay in the record.
            outcome.notes.append(f"quarantine copy failed: {exc}")
        current = await self._registry(client.resolve, target.repository, target.tag)
        if current not in (None, target.digest):
            outcome.notes.append(f"tag {target.tag} now points to {current}; only {target.digest} is removed")
        try:
            await self._registry(client.delete_manifest, target.repository, target.digest)
        except RegistryRefused as exc:
            raise Retry(f"deleting {_ref(target)} was refused ({exc}); enable storage.delete on the registry") from None
        outcome.quarantined = True
        rec = await self.record(target.repository, target.digest)
        if rec is not None and rec.status == "quarantined" and target.event_id in rec.event_ids:
            return  # a replay: the event was published the first time
        if self.ctx is not None and self.ctx.bus is not None:
            await self.ctx.bus.publish(
                ImageQuarantined(registry=target.registry, repository=target.repository, digest=target.digest,
                                 reasons=outcome.reasons, tag=target.tag, quarantine_repository=qrepo,
                                 copied=outcome.copied, score=outcome.score,
                                 decision_id=outcome.decision.decision_id),
                subject=f"{target.registry}/{target.repository}", policy_revision=outcome.decision.revision,
                id=f"quarantined-{target.event_id}")

    @staticmethod
    def _parts(client: DistributionClient, repo: str, manifest: Manifest
               ) -> tuple[list[tuple[str, Manifest | None]], list[str]]:
        """An index's children (digest, manifest or None when missing), or an image's blob digests."""
        doc = manifest.doc()
        if manifest.media_type in INDEX_TYPES or isinstance(doc.get("manifests"), list):
            digests = [c.get("digest") for c in doc.get("manifests") or [] if isinstance(c, dict)]
            return [(d, client.get_manifest(repo, d)) for d in digests if isinstance(d, str)], []
        descs = [doc.get("config"), *(doc.get("layers") or [])]
        return [], [d["digest"] for d in descs if isinstance(d, dict) and isinstance(d.get("digest"), str)]

    def _missing_blobs(self, client: DistributionClient, repo: str, manifest: Manifest) -> list[str]:
        """Digests the manifest (or an index's children) references that the repository lacks."""
        children, blobs = self._parts(client, repo, manifest)
        missing = [d for d in blobs if not client.blob_exists(repo, d)]
        for digest, sub in children:
            missing.extend([digest] if sub is None else self._missing_blobs(client, repo, sub))
        return missing

    def _copy(self, client: DistributionClient, repo: str, qrepo: str, manifest: Manifest, tag: str) -> None:
        """Copy ``manifest`` (children first) into ``qrepo`` by mounting its blobs."""
        children, blobs = self._parts(client, repo, manifest)
        for digest, sub in children:
            if sub is None:
                raise RegistryRefused(f"index child {digest} is missing from {repo}")
            self._copy(client, repo, qrepo, sub, "")
        for digest in blobs:
            if not client.mount_blob(qrepo, digest, repo):
                raise RegistryRefused(f"blob {digest} of {repo}@{manifest.digest} is missing from the registry")
        client.put_manifest(qrepo, tag or manifest.digest, manifest.raw, manifest.media_type)

    # -- attestation --------------------------------------------------------------------------
    async def _attest(self, client: DistributionClient, target: PushedImage, manifest: Manifest,
                      outcome: Outcome) -> str:
        return str(await self._registry(self._attach, client, target, manifest, outcome))

    def _attach(self, client: DistributionClient, target: PushedImage, manifest: Manifest, outcome: Outcome) -> str:
        revision = outcome.decision.revision
        existing, _ = client.referrers(target.repository, target.digest)
        found = attestation.current(existing, revision, outcome.verdict)
        if found is not None:
            return str(found["digest"])
        issued = now_rfc3339()
        body = attestation.statement(registry=target.registry, repository=target.repository, tag=target.tag,
                                     digest=target.digest, verdict=outcome.verdict, score=outcome.score,
                                     reasons=outcome.reasons, warnings=outcome.warnings, revision=revision,
                                     decision_id=outcome.decision.decision_id, scan_id=outcome.scan_id,
                                     issued_at=issued)
        statement_digest = client.put_blob(target.repository, body)
        empty_digest = client.put_blob(target.repository, attestation.EMPTY_CONFIG)
        art = attestation.artifact(body, statement_digest, empty_digest, subject_digest=target.digest,
                                   subject_media_type=manifest.media_type or target.media_type,
                                   subject_size=len(manifest.raw), verdict=outcome.verdict, revision=revision,
                                   issued_at=issued)
        digest = sha256(art.manifest)
        resp = client.put_manifest(target.repository, digest, art.manifest, attestation.OCI_MANIFEST)
        if resp.headers.get("OCI-Subject") != target.digest:
            # No Referrers API (distribution 2.x): keep the OCI 1.1 tag-schema index up to date.
            client.add_referrer_to_fallback(target.repository, target.digest, {**art.descriptor_base, "digest": digest})
        return digest

    # -- state --------------------------------------------------------------------------------
    async def record(self, repository: str, digest: str) -> GateRecord | None:
        from nats.js.errors import KeyNotFoundError

        if self.kv is None:
            return None
        try:
            entry = await self.kv.get(state_key(repository, digest))
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        try:
            return msgspec.json.decode(entry.value, type=GateRecord)
        except msgspec.DecodeError:
            log.error("unreadable gate record ignored", extra={"key": state_key(repository, digest)})
            return None

    async def _record(self, o: Outcome) -> None:
        if self.kv is None:
            return
        t = o.target
        prev = await self.record(t.repository, t.digest)
        tags = sorted({*(prev.tags if prev else []), t.tag} - {""})
        event_ids = [*(prev.event_ids if prev else []), t.event_id][-20:]
        if prev is not None and t.event_id in prev.event_ids:
            event_ids = prev.event_ids
        rec = GateRecord(registry=t.registry, repository=t.repository, digest=t.digest, tags=tags,
                         status="quarantined" if o.quarantined else "allowed", verdict=o.verdict, reasons=o.reasons,
                         warnings=o.warnings, score=o.score, revision=o.decision.revision,
                         decision_id=o.decision.decision_id, scan_id=o.scan_id,
                         quarantine_repository=o.quarantine_repository, copied=o.copied,
                         attestation_digest=o.attestation_digest, event_ids=event_ids, updated_at=time.time())
        await self.kv.put(state_key(t.repository, t.digest), msgspec.json.encode(rec))

    async def quarantined(self, prefix: str = "") -> list[GateRecord]:
        """Quarantined images, most recent first."""
        if self.kv is None:
            return []
        from nats.js.errors import NoKeysError

        try:
            keys = await self.kv.keys()
        except NoKeysError:
            return []
        out: list[GateRecord] = []
        for key in keys:
            with contextlib.suppress(Exception):
                entry = await self.kv.get(key)
                rec = msgspec.json.decode(entry.value, type=GateRecord)
                if rec.status == "quarantined" and f"{rec.registry}/{rec.repository}".startswith(prefix):
                    out.append(rec)
        out.sort(key=lambda r: (-r.updated_at, r.repository, r.digest))
        return out

    # -- targets from references ---------------------------------------------------------------
    async def target_of(self, reference: str, digest: str = "") -> PushedImage:
        """A VerifyImage reference (``host/repo:tag`` or ``@digest``) with its digest resolved."""
        ref = parse_reference(reference)
        if ref is None:
            raise GateRequestError("invalid_argument", f"{reference!r} is not a registry reference "
                                                       "(host[:port]/repository[:tag][@digest])")
        digest = ref.digest or digest
        client = self._client(ref.host)
        if not digest:
            if not ref.tag:
                raise GateRequestError("invalid_argument", f"{reference}: give a tag or a digest")
            try:
                resolved = await asyncio.to_thread(client.resolve, ref.repository, ref.tag)
            except RegistryUnavailable as exc:
                raise GateRequestError("unavailable", str(exc)) from None
            except RegistryRefused as exc:
                raise GateRequestError("failed_precondition", str(exc)) from None
            if resolved is None:
                raise GateRequestError("not_found", f"{reference}: no such tag in the registry")
            digest = resolved
        return PushedImage(event_id=f"verify-{secrets.token_hex(8)}", registry=ref.host, repository=ref.repository,
                           tag=ref.tag, digest=digest, media_type="")

    # -- release ------------------------------------------------------------------------------
    async def release(self, reference: str, digest: str, *, owner: str, justification: str,
                      expires_at: str) -> tuple[GateRecord, Decision]:
        """Restore a quarantined image to its repository, when ``propolis.registry.release`` allows it."""
        target = await self.target_of(reference, digest)
        rec = await self.record(target.repository, target.digest)
        if rec is None or rec.status != "quarantined":
            raise GateRequestError("not_found", f"{_ref(target)} is not quarantined")
        inp = {"release": {"owner": owner, "justification": justification, "expires": expires_at},
               "image": {"registry": rec.registry, "repository": rec.repository, "digest": rec.digest},
               "quarantine": {"reasons": rec.reasons, "score": rec.score}, "now": now_rfc3339()}
        decision = await asyncio.to_thread(self.pdp.decide, RELEASE_PATH, msgspec.json.encode(inp))
        if self.decision_log is not None:
            await self.decision_log.put(decision)
        if not decision.allowed:
            raise GateRequestError("failed_precondition", "release refused: " + "; ".join(decision.reasons))
        if not rec.copied:
            raise GateRequestError("failed_precondition", f"{_ref(target)} was not copied to quarantine "
                                                          "(its blobs were missing); push it again instead")
        client = self._client(rec.registry)
        src = await self._registry(client.get_manifest, rec.quarantine_repository, rec.digest)
        if src is None:
            raise GateRequestError("not_found", f"{rec.quarantine_repository}@{rec.digest} is gone from quarantine")
        for tag in rec.tags or [""]:
            await self._registry(self._copy, client, rec.quarantine_repository, rec.repository, src, tag)
        rec = msgspec.structs.replace(rec, status="released", released_by=owner, justification=justification,
                                      release_expires=expires_at, updated_at=time.time(),
                                      decision_id=decision.decision_id, revision=decision.revision)
        if self.kv is not None:
            await self.kv.put(state_key(rec.repository, rec.digest), msgspec.json.encode(rec))
        if self.ctx is not None and self.ctx.bus is not None:
            await self.ctx.bus.publish(ImageReleased(registry=rec.registry, repository=rec.repository,
                                                     digest=rec.digest, owner=owner, justification=justification),
                                       subject=f"{rec.registry}/{rec.repository}", policy_revision=decision.revision,
                                       id=f"released-{decision.decision_id}")
        return rec, decision


def _ref(t: PushedImage) -> str:
    return f"{t.registry}/{t.repository}" + (f":{t.tag}" if t.tag else "") + f"@{t.digest}"


def _no_decision(revision: str, decision_id: str) -> Decision:
    """The record of an earlier decision, for answers about an image already handled."""
    return Decision(decision_id=decision_id, decision_point="registry", path=GATE_PATH, revision=revision,
                    input_digest="", input_bytes=0, result={"allow": False}, outcome="evaluated", reasons=[],
                    duration_us=0.0, mode="embedded")


def outcome_json(o: Outcome) -> dict[str, Any]:
    """An outcome as JSON (the webhook's and the CLI's view)."""
    return {"image": _ref(o.target), "verdict": o.verdict, "allow": o.allow, "reasons": o.reasons,
            "warnings": o.warnings, "score": o.score, "quarantined": o.quarantined,
            "quarantine_repository": o.quarantine_repository, "attestation": o.attestation_digest,
            "policy_revision": o.decision.revision, "decision_id": o.decision.decision_id, "notes": o.notes}


def build(cfg: Config) -> RegistryGate:
    return RegistryGate(cfg)


__all__ = ["Backlogged", "GateRecord", "GateRequestError", "Outcome", "RegistryGate", "Retry", "build",
           "outcome_json", "state_key"]
