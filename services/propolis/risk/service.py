"""Wiring of the risk service: the scanner's stored reports → image facts (+ KEV) → ``propolis.risk``
and ``propolis.checkpoints`` decided in-process → gRPC API, a score per digest in JetStream KV and
``propolis.risk.changed``.

Decisions are made against an embedded :class:`BundleManager` over ``policy.bundle`` (the same bundle
the policy service serves), so every score carries the bundle revision that produced it and a
``propolis.policy.bundle.updated`` notification reloads it. Images are scored from stored reports
only: the risk service never scans, so a missing report is the caller's cue to scan first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec

from propolis.kernel.app import Context
from propolis.kernel.config import Config
from propolis.kernel.events import Envelope, RiskChanged, RiskFactor, ScanCompleted
from propolis.kernel.grpcserver import Registrar
from propolis.kernel.tasks import cancel_and_wait
from propolis.policy.adapters.regorus_engine import RegorusEngine
from propolis.policy.adapters.sources import source_for
from propolis.policy.domain.decision import Decision, DecisionPoints, InputLimits
from propolis.policy.domain.manager import BundleManager
from propolis.risk.adapters.kev import load_kev
from propolis.risk.domain.facts import image_facts
from propolis.scanner.adapters.store import ReportStore, StoredScan, open_store

log = logging.getLogger(__name__)

#: Decision paths asked (the bundle's declared points with these paths apply their fallbacks).
RISK_PATH = "propolis/risk/decision"
CHECKPOINTS_PATH = "propolis/checkpoints/decision"
CHECKPOINTS = ("ci", "registry", "deploy", "runtime")


class RiskRequestError(Exception):
    """A request the risk service refuses; ``code`` says which gRPC status it maps to."""

    def __init__(self, code: Literal["invalid_argument", "not_found", "failed_precondition"], message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ImageScore:
    """A scored image: the ``propolis.risk`` decision and the report it was computed from."""

    reference: str
    digest: str
    scan_id: str
    score: float
    factors: list[dict[str, Any]]
    decision: Decision


@dataclass(frozen=True)
class CheckpointVerdict:
    scored: ImageScore
    verdict: str
    reasons: list[str]
    bar: dict[str, Any]
    decision: Decision


def kv_key(digest: str) -> str:
    """A digest as a KV key: KV keys allow ``[-/_=.a-zA-Z0-9]``, so ``sha256:…`` becomes ``sha256_…``."""
    return digest.replace(":", "_")


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


class RiskService:
    """The risk service's use cases; the gRPC front end only converts messages and status codes."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        p, r = cfg.policy, cfg.risk
        self.kev = load_kev(r.kev_path) if r.kev_path else None  # unreadable KEV: fail at start, loudly
        self.store: ReportStore = open_store(r.store_url or cfg.scanner.store_url or cfg.scanner.store_path,
                                             Path(cfg.data_dir))
        src = source_for(p.bundle, ref=p.ref, subdir=p.subdir, data_dir=Path(cfg.data_dir))
        self.manager = BundleManager(src, RegorusEngine(use_vm=p.engine_vm))
        # Facts of a large image exceed the 1 MiB client-input limit; they are our own input, not a client's.
        self.pdp = DecisionPoints(self.manager, self.manager.points,
                                  InputLimits(max(p.max_input_bytes, 64 * 1024 * 1024), p.max_input_depth))
        self.ctx: Context | None = None
        self.kv: Any = None
        self._tasks: list[asyncio.Task[Any]] = []

    # -- lifecycle (kernel Service protocol) ----------------------------------------------
    def registrars(self) -> list[Registrar]:
        from propolis.risk.api.grpc import register

        return [lambda server: register(server, self)]

    async def start(self, ctx: Context) -> None:
        self.ctx = ctx
        await asyncio.to_thread(self.manager.load_initial)
        if ctx.bus is None:
            return
        self.kv = await self._bucket(ctx)
        await ctx.bus.subscribe("propolis.policy.bundle.updated", self._on_bundle_updated)
        if self.cfg.risk.consume_scans:
            self._tasks.append(await ctx.bus.consume(durable=self.cfg.risk.scans_durable,
                                                     subject="propolis.scan.completed", handler=self._on_scan,
                                                     deliver_new=self.cfg.risk.scans_deliver == "new"))

    async def _bucket(self, ctx: Context) -> Any:
        """The scores bucket, created on first use (several risk processes may race: both succeed)."""
        from nats.js.errors import BucketNotFoundError

        assert ctx.bus is not None
        name = self.cfg.risk.scores_bucket
        try:
            return await ctx.bus.js.key_value(name)
        except BucketNotFoundError:
            return await ctx.bus.js.create_key_value(bucket=name, history=5,
                                                     description="latest risk score per image digest")

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        self.store.close()

    @property
    def revision(self) -> str:
        return self.manager.revision

    # -- use cases --------------------------------------------------------------------------
    async def report(self, digest: str = "", scan_id: str = "") -> StoredScan:
        """The report to score: by scan id, else the latest one of ``digest``."""
        if scan_id:
            stored = await asyncio.to_thread(self.store.get, scan_id)
            if stored is None:
                raise RiskRequestError("not_found", f"no scan with id {scan_id!r}")
        else:
            if not digest:
                raise RiskRequestError("invalid_argument", "image.digest (or scan_id) is required: the risk "
                                       "service scores stored scans, which are keyed by manifest digest")
            stored = await asyncio.to_thread(self.store.latest, digest)
            if stored is None:
                raise RiskRequestError("not_found", f"no stored scan of image {digest}: scan it first "
                                       "(ScannerService.ScanImage or propolis.scan.requests)")
        if stored.error:
            raise RiskRequestError("failed_precondition", f"scan {stored.scan_id} of {stored.catalogue.reference} "
                                   f"failed ({stored.error}); it cannot be scored")
        return stored

    def _score_sync(self, stored: StoredScan, deployment: dict[str, Any] | None = None,
                    runtime: dict[str, Any] | None = None) -> ImageScore:
        facts = image_facts(stored.catalogue, stored.findings, self.kev, deployment=deployment, runtime=runtime)
        d = self.pdp.decide(RISK_PATH, msgspec.json.encode(facts))  # DecisionFailed: the point fails loudly
        result = d.result if isinstance(d.result, dict) else {}
        factors = [f for f in result.get("factors", []) if isinstance(f, dict)]
        factors.sort(key=lambda f: -_number(f.get("contribution")))
        return ImageScore(reference=stored.catalogue.reference, digest=stored.catalogue.manifest_digest,
                          scan_id=stored.scan_id, score=_number(result.get("score")), factors=factors, decision=d)

    async def score_image(self, digest: str = "", scan_id: str = "") -> ImageScore:
        """Score an image from its stored report."""
        stored = await self.report(digest, scan_id)
        return await asyncio.to_thread(self._score_sync, stored)

    async def evaluate_checkpoint(self, checkpoint: str, digest: str, *, scan_id: str = "", namespace: str = "",
                                  team: str = "", context: dict[str, Any] | None = None) -> CheckpointVerdict:
        """Score the image (with any ``deployment``/``runtime`` facts in ``context``) and judge the score."""
        if checkpoint not in CHECKPOINTS:
            raise RiskRequestError("invalid_argument", f"checkpoint is required: one of {', '.join(CHECKPOINTS)}")
        context = context or {}
        deployment, runtime = context.get("deployment"), context.get("runtime")
        for name, value in (("deployment", deployment), ("runtime", runtime)):
            if value is not None and not isinstance(value, dict):
                raise RiskRequestError("invalid_argument", f"context_json.{name} must be an object")
        stored = await self.report(digest, scan_id)

        def judge() -> CheckpointVerdict:
            scored = self._score_sync(stored, deployment, runtime)
            payload: dict[str, Any] = {"checkpoint": checkpoint, "score": scored.score,
                                       "image": {"repository": scored.reference, "digest": scored.digest},
                                       "now": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                       "context": context}
            if namespace:
                payload["namespace"] = namespace
            if team:
                payload["team"] = team
            d = self.pdp.decide(CHECKPOINTS_PATH, msgspec.json.encode(payload))
            v = d.result if isinstance(d.result, dict) else {}
            verdict = v.get("verdict") if v.get("verdict") in ("allow", "warn", "block") else "block"
            if not d.allowed:
                verdict = "block"
            bar = v.get("bar")
            return CheckpointVerdict(scored=scored, verdict=str(verdict), reasons=d.reasons,
                                     bar=bar if isinstance(bar, dict) else {}, decision=d)

        return await asyncio.to_thread(judge)

    async def latest_score(self, digest: str) -> dict[str, Any] | None:
        """The stored KV score of ``digest`` (what admission reads), or None."""
        from nats.js.errors import KeyNotFoundError

        if self.kv is None:
            return None
        try:
            entry = await self.kv.get(kv_key(digest))
        except KeyNotFoundError:
            return None
        return json.loads(entry.value) if entry.value else None

    # -- bus --------------------------------------------------------------------------------
    async def _on_scan(self, env: Envelope[Any], _msg: Any) -> None:
        """Rescore on ``propolis.scan.completed``; returning acks, so the KV put and the publish come first
        (a failure raises and the event is redelivered)."""
        data: ScanCompleted = env.data
        if data.error or not data.image.digest:
            return  # a failed scan has nothing to score
        stored = await asyncio.to_thread(self.store.get, data.report_id) if data.report_id else None
        if stored is None:
            stored = await asyncio.to_thread(self.store.latest, data.image.digest)
        if stored is None or stored.error:
            log.warning("scan.completed names no scorable report", extra={"report_id": data.report_id,
                                                                          "digest": data.image.digest})
            return
        scored = await asyncio.to_thread(self._score_sync, stored)
        await self.record(scored)

    async def record(self, scored: ImageScore) -> RiskChanged:
        """Keep ``scored`` as the digest's latest score and announce it on ``propolis.risk.changed``."""
        assert self.ctx is not None and self.ctx.bus is not None and self.kv is not None
        previous = await self.latest_score(scored.digest)
        doc = {"digest": scored.digest, "reference": scored.reference, "scan_id": scored.scan_id,
               "score": scored.score, "factors": scored.factors, "bundle_revision": scored.decision.revision,
               "decision_id": scored.decision.decision_id, "scored_at": time.time()}
        await self.kv.put(kv_key(scored.digest), msgspec.json.encode(doc))
        event = RiskChanged(image_digest=scored.digest, score=scored.score,
                            previous_score=_number(previous["score"]) if previous else None,
                            factors=[RiskFactor(factor=str(f.get("factor", "")), raw_value=f.get("raw_value"),
                                                contribution=_number(f.get("contribution")))
                                     for f in scored.factors])
        await self.ctx.bus.publish(event, subject=scored.digest, policy_revision=scored.decision.revision)
        return event

    async def _on_bundle_updated(self, env: Envelope[Any], _msg: Any) -> None:
        with contextlib.suppress(Exception):
            await self.manager.reload(f"bus:{getattr(env.data, 'reason', '') or env.source}")


def build(cfg: Config) -> RiskService:
    return RiskService(cfg)
