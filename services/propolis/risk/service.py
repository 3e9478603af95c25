"""Wiring of the risk service: the scanner's stored reports → image facts (+ KEV) → ``propolis.risk``
and ``propolis.checkpoints`` decided in-process → gRPC API, a score per digest in JetStream KV and
``propolis.risk.changed``. Workloads add their manifest's deployment facts and their runtime alert
counts to the facts of each image they run; their scores are kept in a second KV bucket, which
``RankWorkloads`` reads, and are recomputed when a scan of one of their images or an alert arrives.

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
import string
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec

from propolis.kernel.app import Context
from propolis.kernel.config import Config
from propolis.kernel.events import AssetChanged, Envelope, RiskChanged, RiskFactor, RuntimeAlert, ScanCompleted
from propolis.kernel.grpcserver import Registrar
from propolis.kernel.tasks import cancel_and_wait
from propolis.policy.adapters.regorus_engine import RegorusEngine
from propolis.policy.adapters.sources import source_for
from propolis.policy.domain.decision import Decision, DecisionPoints, InputLimits
from propolis.policy.domain.manager import BundleManager
from propolis.risk.adapters.kev import load_kev
from propolis.risk.domain.facts import image_facts
from propolis.risk.domain.workload import (
    Workload,
    WorkloadError,
    canonical_kind,
    parse_workload,
    parse_workload_id,
    workload_id,
)
from propolis.scanner.adapters.store import ReportStore, StoredScan, open_store
from propolis.scanner.catalogue import Catalogue

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


class ImageResult(msgspec.Struct, kw_only=True):
    """One image of a workload as scored in the workload's context; ``note`` says why it had no findings."""

    reference: str
    digest: str = ""
    score: float = 0.0
    scan_id: str = ""
    note: str = ""


@dataclass(frozen=True)
class WorkloadScore:
    """A scored workload: the highest of its images' scores, whose factors and decision it carries."""

    workload: Workload
    score: float
    factors: list[dict[str, Any]]
    images: list[ImageResult]
    #: The image the score (and factors) come from; its ``scan_id`` is "" when it has no stored scan.
    top: ImageScore


class WorkloadRecord(msgspec.Struct, kw_only=True):
    """A workload's entry in the workloads bucket: facts to rescore it, alert counts and latest score.

    ``workload`` is None while only alerts have been seen (no manifest yet): such entries count the
    alerts for a later ``ScoreWorkload`` but are not ranked.
    """

    namespace: str
    kind: str
    name: str
    team: str = ""
    workload: Workload | None = None
    alerts: dict[str, int] = {}
    #: Envelope ids of the latest alerts counted, so a redelivered alert is not counted twice.
    alert_ids: list[str] = []
    score: float | None = None
    top_factors: list[dict[str, Any]] = []
    images: list[ImageResult] = []
    image_digest: str = ""
    bundle_revision: str = ""
    decision_id: str = ""
    scored_at: float = 0.0


#: How many alert ids a workload entry remembers (redeliveries come within seconds, not thousands later).
MAX_ALERT_IDS = 256
#: Factors a workload entry keeps for the ranking (the largest contributions).
TOP_FACTORS = 5
#: Attempts at a compare-and-set of one workload entry before the update fails (and is redelivered).
CAS_ATTEMPTS = 8
RANK_LIMIT = 50
_KEY_SAFE = frozenset(string.ascii_letters + string.digits + "-")
_record_decoder = msgspec.json.Decoder(WorkloadRecord)


def kv_key(digest: str) -> str:
    """A digest as a KV key: KV keys allow ``[-/_=.a-zA-Z0-9]``, so ``sha256:…`` becomes ``sha256_…``."""
    return digest.replace(":", "_")


def key_token(text: str) -> str:
    """Any text as one KV key token, injectively: ``[-a-zA-Z0-9]`` stay, every other UTF-8 byte becomes
    ``_XX`` (so ``.`` and ``_`` cannot collide), and "" is a lone ``_`` (a token may not be empty)."""
    if not text:
        return "_"
    return "".join(c if c in _KEY_SAFE else "".join(f"_{b:02X}" for b in c.encode()) for c in text)


def workload_key(namespace: str, kind: str, name: str) -> str:
    """The workloads-bucket key of a workload: ``wl.<namespace>.<kind>.<name>``, each part a :func:`key_token`."""
    return f"wl.{key_token(namespace)}.{key_token(kind)}.{key_token(name)}"


def index_key(digest: str, wkey: str) -> str:
    """``img.<digest>.<namespace>.<kind>.<name>``: says the workload runs the digest (a scan rescores it)."""
    return f"img.{key_token(digest)}.{wkey.removeprefix('wl.')}"


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
        self.wkv: Any = None
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
        r = self.cfg.risk
        self.kv = await self._bucket(ctx, r.scores_bucket, "latest risk score per image digest")
        self.wkv = await self._bucket(ctx, r.workloads_bucket, "latest risk score, facts and alerts per workload")
        await ctx.bus.subscribe("propolis.policy.bundle.updated", self._on_bundle_updated)
        if r.consume_scans:
            self._tasks.append(await ctx.bus.consume(durable=r.scans_durable,
                                                     subject="propolis.scan.completed", handler=self._on_scan,
                                                     deliver_new=r.scans_deliver == "new"))
        if r.consume_alerts:
            self._tasks.append(await ctx.bus.consume(durable=r.alerts_durable,
                                                     subject="propolis.runtime.alert", handler=self._on_alert,
                                                     deliver_new=r.alerts_deliver == "new"))
        if r.consume_inventory:
            self._tasks.append(await ctx.bus.consume(durable=r.inventory_durable,
                                                     subject="propolis.inventory.changed",
                                                     handler=self._on_inventory,
                                                     deliver_new=r.inventory_deliver == "new"))

    @staticmethod
    async def _bucket(ctx: Context, name: str, description: str) -> Any:
        """A KV bucket, created on first use (several risk processes may race: both succeed)."""
        from nats.js.errors import BucketNotFoundError

        assert ctx.bus is not None
        try:
            return await ctx.bus.js.key_value(name)
        except BucketNotFoundError:
            return await ctx.bus.js.create_key_value(bucket=name, history=5, description=description)

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
        return self._decide(facts, stored.catalogue.reference, stored.catalogue.manifest_digest, stored.scan_id)

    def _decide(self, facts: dict[str, Any], reference: str, digest: str, scan_id: str) -> ImageScore:
        d = self.pdp.decide(RISK_PATH, msgspec.json.encode(facts))  # DecisionFailed: the point fails loudly
        result = d.result if isinstance(d.result, dict) else {}
        factors = [f for f in result.get("factors", []) if isinstance(f, dict)]
        factors.sort(key=lambda f: -_number(f.get("contribution")))
        return ImageScore(reference=reference, digest=digest, scan_id=scan_id, score=_number(result.get("score")),
                          factors=factors, decision=d)

    async def score_image(self, digest: str = "", scan_id: str = "") -> ImageScore:
        """Score an image from its stored report and keep the score (admission reads the latest one)."""
        stored = await self.report(digest, scan_id)
        scored = await asyncio.to_thread(self._score_sync, stored)
        await self._keep(scored)
        return scored

    async def _keep(self, scored: ImageScore) -> None:
        """:meth:`record` for a score computed on request: a bus failure is logged, not the caller's error
        (the answer is right; the next scan or request records it again)."""
        if self.kv is None or self.ctx is None or self.ctx.bus is None:
            return
        try:
            await self.record(scored)
        except Exception as exc:
            log.warning("could not record the image score", extra={"digest": scored.digest, "error": repr(exc)})

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

        def judge() -> tuple[CheckpointVerdict, ImageScore]:
            scored = self._score_sync(stored, deployment, runtime)
            # The KV keeps the image's own score: deployment or runtime facts are this request's context.
            image_only = scored if deployment is None and runtime is None else self._score_sync(stored)
            payload: dict[str, Any] = {"checkpoint": checkpoint, "score": scored.score,
                                       "image": {"repository": scored.reference.partition("@")[0],
                                                 "digest": scored.digest},
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
                                     bar=bar if isinstance(bar, dict) else {}, decision=d), image_only

        verdict, image_only = await asyncio.to_thread(judge)
        await self._keep(image_only)
        return verdict

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

    # -- workloads --------------------------------------------------------------------------
    def _score_workload_sync(self, w: Workload, alerts: dict[str, int]) -> WorkloadScore:
        """Score every image of ``w`` with its deployment facts and runtime alerts; the highest wins.

        An image without a stored scan (or pinned by tag only) is scored without findings, so the
        workload's own facts still count, and its note says so.
        """
        deployment = msgspec.to_builtins(w.deployment)
        runtime = {"alerts": dict(alerts)}
        top: ImageScore | None = None
        results: list[ImageResult] = []
        for img in w.images:
            stored = self.store.latest(img.digest) if img.digest else None
            if stored is not None and not stored.error:
                scored = self._score_sync(stored, deployment, runtime)
                note = ""
            else:
                facts = image_facts(Catalogue(reference=img.reference), [], self.kev, deployment=deployment,
                                    runtime=runtime)
                scored = self._decide(facts, img.reference, img.digest, "")
                note = ("pinned by tag only: pin a digest to score its findings" if not img.digest
                        else f"scan {stored.scan_id} failed: scored without findings" if stored is not None
                        else "no stored scan of this digest: scored without findings (scan it)")
            results.append(ImageResult(reference=img.reference, digest=img.digest, score=scored.score,
                                       scan_id=scored.scan_id, note=note))
            if top is None or scored.score > top.score:
                top = scored
        if top is None:  # parse_workload refuses a pod without containers
            raise RiskRequestError("invalid_argument", f"workload {w.id} runs no image")
        return WorkloadScore(workload=w, score=top.score, factors=top.factors, images=results, top=top)

    async def score_workload(self, namespace: str, kind: str, name: str, manifest: bytes = b"") -> WorkloadScore:
        """Score a workload from ``manifest`` (else from the facts stored by the last one) and keep the score."""
        if manifest:
            try:
                w = parse_workload(manifest, team_label=self.cfg.risk.team_label, namespace=namespace)
            except WorkloadError as exc:
                raise RiskRequestError("invalid_argument", str(exc)) from None
            for field, asked, read in (("kind", kind and canonical_kind(kind), w.kind), ("name", name, w.name)):
                if asked and asked != read:
                    raise RiskRequestError("invalid_argument", f"workload.{field} {asked!r} differs from the "
                                           f"manifest's {read!r}")
        else:
            if not (namespace and kind and name):
                raise RiskRequestError("invalid_argument", "manifest_json is empty: workload.namespace, kind and "
                                       "name are required to rescore a stored workload")
            kind = canonical_kind(kind)
            record = await self._workload_record(workload_key(namespace, kind, name))
            if record is None or record[0].workload is None:
                wid = workload_id(namespace, kind, name)
                raise RiskRequestError("not_found", f"no stored manifest of workload {wid}: send manifest_json")
            w = record[0].workload
        if self.wkv is None:
            return await asyncio.to_thread(self._score_workload_sync, w, {})
        result = await self._rescore(workload_key(w.namespace, w.kind, w.name), w)
        assert result is not None
        return result

    async def rank_workloads(self, namespace: str = "", team: str = "", limit: int = 0) -> list[WorkloadRecord]:
        """The scored workloads (of ``namespace`` and ``team`` when given), highest score first."""
        if self.wkv is None:
            raise RiskRequestError("failed_precondition", "workload scores are kept in JetStream KV: the risk "
                                   "service runs without a bus")
        pattern = f"wl.{key_token(namespace)}.*.*" if namespace else "wl.*.*.*"
        ranked = []
        for entry in await self._entries(pattern):
            try:
                rec = _record_decoder.decode(entry.value)
            except msgspec.DecodeError:
                log.warning("unreadable workload entry skipped", extra={"key": entry.key})
                continue
            if rec.workload is not None and rec.score is not None and (not team or rec.team == team):
                ranked.append(rec)
        ranked.sort(key=lambda r: (-(r.score or 0.0), r.name, r.namespace, r.kind))
        return ranked[:limit or RANK_LIMIT]

    async def _entries(self, pattern: str, *, meta_only: bool = False) -> list[Any]:
        """The current entries of the workloads bucket whose keys match ``pattern`` (deleted ones left out)."""
        import nats.errors

        # The watcher's ephemeral consumer goes soon after it stops (the default keeps it 5 minutes).
        watcher = await self.wkv.watch(pattern, ignore_deletes=True, meta_only=meta_only, inactive_threshold=10.0)
        entries = []
        try:
            while (entry := await watcher.updates(timeout=10.0)) is not None:
                entries.append(entry)
        except nats.errors.TimeoutError:
            raise RuntimeError(f"listing {pattern} of the workloads bucket timed out") from None
        finally:
            await watcher.stop()
        return entries

    async def _workload_record(self, key: str) -> tuple[WorkloadRecord, int] | None:
        """A workload entry and its revision (for compare-and-set), or None."""
        from nats.js.errors import KeyNotFoundError

        try:
            entry = await self.wkv.get(key)
        except KeyNotFoundError:
            return None
        return _record_decoder.decode(entry.value), entry.revision

    async def _update(self, key: str, change: Callable[[WorkloadRecord | None], Awaitable[WorkloadRecord]]
                      ) -> tuple[WorkloadRecord | None, WorkloadRecord]:
        """Compare-and-set ``change`` of one workload entry (concurrent writers retry); (previous, new)."""
        from nats.js.errors import KeyWrongLastSequenceError

        for _ in range(CAS_ATTEMPTS):
            current = await self._workload_record(key)
            previous = current[0] if current else None
            new = await change(previous)
            try:
                if current is None:
                    await self.wkv.create(key, msgspec.json.encode(new))
                else:
                    await self.wkv.update(key, msgspec.json.encode(new), last=current[1])
            except KeyWrongLastSequenceError:
                continue
            return previous, new
        raise RuntimeError(f"workload entry {key} changed under {CAS_ATTEMPTS} attempts to update it")

    async def _rescore(self, key: str, workload: Workload | None = None, alert: RuntimeAlert | None = None,
                       alert_id: str = "") -> WorkloadScore | None:
        """Rescore the workload at ``key`` (with a new manifest's facts, or one more alert), keep the entry,
        index its digests and announce the score. None when the workload has no manifest yet."""
        scored: WorkloadScore | None = None

        async def change(old: WorkloadRecord | None) -> WorkloadRecord:
            nonlocal scored
            rec = msgspec.structs.replace(old) if old is not None else _new_record(key, workload, alert)
            if workload is not None:
                rec.workload = workload
            if alert is not None and alert_id not in rec.alert_ids:
                severity = alert.severity.strip().lower() or "unknown"
                rec.alerts = {**rec.alerts, severity: rec.alerts.get(severity, 0) + 1}
                rec.alert_ids = [*rec.alert_ids, alert_id][-MAX_ALERT_IDS:]
            if rec.workload is None:
                scored = None
                return rec
            scored = await asyncio.to_thread(self._score_workload_sync, rec.workload, rec.alerts)
            return _scored_record(rec, scored)

        previous, new = await self._update(key, change)
        if scored is None:
            return None
        await self._index(key, previous, new)
        await self._announce(scored, previous.score if previous else None)
        return scored

    async def _index(self, key: str, previous: WorkloadRecord | None, new: WorkloadRecord) -> None:
        """Keep the digest → workload index in step with the images ``new`` runs."""
        digests = {i.digest for i in new.images if i.digest}
        stale = {i.digest for i in previous.images if i.digest} - digests if previous else set()
        for digest in sorted(digests):
            await self.wkv.put(index_key(digest, key), key.encode())
        for digest in sorted(stale):
            await self.wkv.delete(index_key(digest, key))

    async def _announce(self, scored: WorkloadScore, previous: float | None) -> None:
        assert self.ctx is not None and self.ctx.bus is not None
        w = scored.workload
        event = RiskChanged(image_digest=scored.top.digest if scored.top.scan_id else "", score=scored.score,
                            previous_score=previous, factors=_event_factors(scored.factors), workload=w.id)
        await self.ctx.bus.publish(event, subject=w.id, policy_revision=scored.top.decision.revision)

    async def rescore_workloads_of(self, digest: str) -> int:
        """Rescore every workload the index says runs ``digest`` (a new scan of it changed its findings)."""
        count = 0
        for entry in await self._entries(f"img.{key_token(digest)}.>", meta_only=True):
            key = "wl." + entry.key.split(".", 2)[2]
            current = await self._workload_record(key)
            if current is None or digest not in {i.digest for i in current[0].images}:
                await self.wkv.delete(entry.key)  # the workload is gone or no longer runs the digest
                continue
            if await self._rescore(key) is not None:
                count += 1
        return count

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
        await self.rescore_workloads_of(scored.digest or data.image.digest)

    async def _on_alert(self, env: Envelope[Any], _msg: Any) -> None:
        """Count ``propolis.runtime.alert`` for its workload and rescore the workload if its manifest is known;
        the envelope id guards the count against redelivery."""
        data: RuntimeAlert = env.data
        parts = parse_workload_id(data.workload)
        if parts is None:
            log.warning("runtime alert names no namespace/Kind/name workload; not counted",
                        extra={"workload": data.workload, "rule": data.rule})
            return
        await self._rescore(workload_key(*parts), alert=data, alert_id=env.id)

    async def _on_inventory(self, env: Envelope[Any], _msg: Any) -> None:
        """New deployment context: a workload's manifest added or changed rescores it; removed, it leaves
        the ranking (its entry and digest index go). Other asset kinds are not the risk service's."""
        data: AssetChanged = env.data
        if data.kind != "workload":
            return
        manifest = data.attributes.get("manifest") if isinstance(data.attributes, dict) else None
        if data.change == "removed":
            parts = parse_workload_id(data.asset_id)
            if parts is None:
                log.warning("removed workload asset id is not namespace/Kind/name", extra={"asset": data.asset_id})
                return
            key = workload_key(*parts)
            found = await self._workload_record(key)
            if found is not None:
                for digest in {i.digest for i in found[0].images if i.digest}:
                    await self.wkv.delete(index_key(digest, key))
                await self.wkv.delete(key)
            return
        if not isinstance(manifest, dict):
            log.warning("workload asset without attributes.manifest; nothing to score",
                        extra={"asset": data.asset_id})
            return
        try:
            w = parse_workload(json.dumps(manifest), team_label=self.cfg.risk.team_label)
        except WorkloadError as exc:  # a bad manifest is the sender's error: logged, never retried
            log.warning("workload asset manifest refused", extra={"asset": data.asset_id, "error": str(exc)})
            return
        await self._rescore(workload_key(w.namespace, w.kind, w.name), w)

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
                            factors=_event_factors(scored.factors))
        await self.ctx.bus.publish(event, subject=scored.digest, policy_revision=scored.decision.revision)
        return event

    async def _on_bundle_updated(self, env: Envelope[Any], _msg: Any) -> None:
        with contextlib.suppress(Exception):
            await self.manager.reload(f"bus:{getattr(env.data, 'reason', '') or env.source}")


def _event_factors(factors: list[dict[str, Any]]) -> list[RiskFactor]:
    return [RiskFactor(factor=str(f.get("factor", "")), raw_value=f.get("raw_value"),
                       contribution=_number(f.get("contribution"))) for f in factors]


def _new_record(key: str, workload: Workload | None, alert: RuntimeAlert | None) -> WorkloadRecord:
    """A first entry: from the manifest's workload, else from the alert's ``namespace/Kind/name``."""
    if workload is not None:
        return WorkloadRecord(namespace=workload.namespace, kind=workload.kind, name=workload.name)
    parts = parse_workload_id(alert.workload) if alert is not None else None
    if parts is None:
        raise RuntimeError(f"workload entry {key} is gone")  # a scan's index outlived its entry: retried
    return WorkloadRecord(namespace=parts[0], kind=parts[1], name=parts[2])


def _scored_record(rec: WorkloadRecord, scored: WorkloadScore) -> WorkloadRecord:
    top = [f for f in scored.factors if _number(f.get("contribution")) > 0][:TOP_FACTORS]
    d = scored.top.decision
    return msgspec.structs.replace(rec, team=scored.workload.team, score=scored.score, top_factors=top,
                                   images=scored.images,
                                   image_digest=scored.top.digest if scored.top.scan_id else "",
                                   bundle_revision=d.revision, decision_id=d.decision_id, scored_at=time.time())


def build(cfg: Config) -> RiskService:
    return RiskService(cfg)
