"""Kubernetes admission: a ValidatingAdmissionWebhook (HTTPS) and the ``Admit`` RPC for pipelines.

- Every verdict is ``data.propolis.admission.decision`` (decision point ``admission``), evaluated
  in-process on the active bundle; Python gathers facts and enforces. The decision carries the
  namespace's enforcement mode and what to answer (``enforcement``: enforce, warn or audit).
- Image facts come from JetStream KV, never a scan: the latest risk score of each pinned digest
  (cached, kept fresh by a KV watch and ``propolis.risk.changed``) and whether the registry gate
  attested it (:mod:`propolis.admission.adapters.facts`).
- A time budget (``admission.timeout_budget_ms``) bounds every answer: facts get the budget less
  ``evaluation_reserve_ms``; images whose facts are late are ``{"unavailable": true}`` and the
  policy's ``failure_policy.risk`` decides. If the evaluation itself is not done within the budget,
  ``failure_policy.evaluation`` (read from the bundle, per revision) answers: open allows with a
  warning, closed denies; the late decision is still logged when it completes.
- Every decision goes to the decision log with its bundle revision, and
  ``propolis.admission.decided`` is published (``dry_run`` marked; consumers filter).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from propolis.admission.adapters.facts import ImageFacts
from propolis.admission.domain import review as rv
from propolis.kernel.app import Context
from propolis.kernel.config import Config
from propolis.kernel.events import AdmissionDecided, Envelope
from propolis.kernel.grpcserver import Registrar
from propolis.kernel.tasks import cancel_and_wait
from propolis.policy.adapters.decision_log import JetStreamDecisionLog
from propolis.policy.adapters.regorus_engine import RegorusEngine
from propolis.policy.adapters.sources import source_for
from propolis.policy.domain.decision import Decision, DecisionPoints, InputLimits
from propolis.policy.domain.engine import UNDEFINED
from propolis.policy.domain.errors import EvaluationError, InputRejected
from propolis.policy.domain.manager import BundleManager

log = logging.getLogger(__name__)

DECISION_POINT = "admission"
FAILURE_POLICY_PATH = "propolis/admission/effective_failure_policy"
EXEMPTIONS_PATH = "propolis/admission/exemptions"
#: Budget of an ``Admit`` call (a pipeline can wait; the API server cannot).
ADMIT_BUDGET_SECONDS = 30.0
_MODES = ("enforce", "warn", "audit")


class AdmitError(Exception):
    """An ``Admit`` request the service refuses; ``code`` names the gRPC status."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Verdict:
    """The answer to one admission request."""

    uid: str
    allowed: bool
    mode: str
    kind: str
    name: str
    namespace: str
    reasons: list[str]
    warnings: list[str]
    decision: Decision
    dry_run: bool = False
    #: Ids of the exemptions that dropped a violation of this request.
    exemptions: list[str] = field(default_factory=list)
    #: "" or what the failure policy did: "evaluation=open", "risk=closed"...
    failure: str = ""
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def message(self) -> str:
        if self.allowed:
            return ""
        body = "; ".join(self.reasons) or "denied by the admission policy"
        rules = ", ".join(rv.rule_ids(self.reasons))
        where = f"{self.namespace}/" if self.namespace else ""
        return (f"Propolis admission denied {self.kind or 'the object'} {where}{self.name or '<unnamed>'}"
                + (f" (rules: {rules})" if rules else "")
                + f": {body} [decision {self.decision.decision_id}, policy revision {self.decision.revision}]")

    def review_response(self) -> dict[str, Any]:
        return rv.response(self.uid, allowed=self.allowed, message=self.message, warnings=self.warnings,
                           annotations=self.annotations)


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AdmissionService:
    """The admission use cases; the webhook and gRPC front ends only convert and map errors."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        p, a = cfg.policy, cfg.admission
        src = source_for(p.bundle, ref=p.ref, subdir=p.subdir, data_dir=Path(cfg.data_dir))
        self.manager = BundleManager(src, RegorusEngine(use_vm=p.engine_vm))
        # The input is the API server's request (up to max_request_bytes) plus the image facts.
        self.pdp = DecisionPoints(self.manager, self.manager.points,
                                  InputLimits(max(p.max_input_bytes, a.max_request_bytes + 1024 * 1024),
                                              max(p.max_input_depth, 128)))
        self.facts = ImageFacts(a.scores_bucket, a.gate_bucket)
        self.ctx: Context | None = None
        self.decision_log: JetStreamDecisionLog | None = None
        self.webhook: Any = None
        self._background: set[asyncio.Task[Any]] = set()
        self._failure_policy: tuple[str, dict[str, str]] = ("", {})

    # -- lifecycle ----------------------------------------------------------------------------
    def registrars(self) -> list[Registrar]:
        from propolis.admission.api.grpc import register

        return [lambda server: register(server, self)]

    async def start(self, ctx: Context) -> None:
        from propolis.admission.api.webhook import Webhook

        self.ctx = ctx
        await asyncio.to_thread(self.manager.load_initial)
        if ctx.bus is not None:
            await self.facts.start(ctx.bus)
            if self.cfg.policy.decision_log:
                self.decision_log = JetStreamDecisionLog(ctx.bus)
                self.decision_log.start()
            await ctx.bus.subscribe("propolis.policy.bundle.updated", self._on_bundle_updated)
        self.webhook = Webhook(self)
        ctx.endpoints["webhook"] = await self.webhook.start()

    async def stop(self) -> None:
        if self.webhook is not None:
            await self.webhook.stop()
        if self._background:
            await asyncio.wait(self._background, timeout=5.0)
        await cancel_and_wait(list(self._background))
        await self.facts.stop()
        if self.decision_log is not None:
            await self.decision_log.close()

    async def _on_bundle_updated(self, env: Envelope[Any], _msg: Any) -> None:
        with contextlib.suppress(Exception):
            await self.manager.reload(f"bus:{getattr(env.data, 'reason', '') or env.source}")

    @property
    def revision(self) -> str:
        return self.manager.revision

    def failure_policy(self) -> dict[str, str]:
        """``{"risk": ..., "evaluation": ...}`` of the active revision (read once per revision)."""
        revision, policy = self._failure_policy
        if revision == self.manager.revision and policy:
            return policy
        try:
            value, revision = self.manager.evaluate(FAILURE_POLICY_PATH, "{}")
        except EvaluationError:
            value = UNDEFINED
        policy = {"risk": "open", "evaluation": "closed"}
        if isinstance(value, dict):
            policy.update({k: v for k, v in value.items() if v in ("open", "closed")})
        self._failure_policy = (revision, policy)
        return policy

    # -- deciding -----------------------------------------------------------------------------
    async def review(self, request: dict[str, Any], *, started: float | None = None,
                     budget: float | None = None) -> Verdict:
        """Decide one AdmissionReview v1 ``request`` within the time budget (seconds)."""
        loop = asyncio.get_running_loop()
        a = self.cfg.admission
        started = loop.time() if started is None else started
        budget = a.timeout_budget_ms / 1000 if budget is None else budget
        deadline = started + budget
        dry_run = request.get("dryRun") is True
        images = rv.images_of(request)
        if self.facts.kv is not None:
            facts, late = await self.facts.facts(images, deadline - a.evaluation_reserve_ms / 1000 - loop.time())
        else:  # no bus: nothing can be read
            facts, late = {i: {"unavailable": True} for i in images}, list(images)
        inp = {"request": request, "risk": {"images": facts}, "now": now_rfc3339()}
        try:
            raw = msgspec.json.encode(inp)
        except (TypeError, msgspec.EncodeError) as exc:
            raise rv.ReviewError(400, "malformed_request", f"the request cannot be encoded: {exc}") from None
        fut = asyncio.ensure_future(asyncio.to_thread(self.pdp.decide, DECISION_POINT, raw))
        done, _ = await asyncio.wait({fut}, timeout=max(deadline - loop.time(), 0.0))
        failure = ""
        if fut in done:
            try:
                decision = fut.result()
            except InputRejected as exc:
                raise rv.ReviewError(413 if exc.code == "input_too_large" else 400, exc.code, str(exc)) from None
        else:
            fut.add_done_callback(self._log_late)
            decision, failure = self._budget_exhausted(budget, len(raw)), "evaluation"
        verdict = self._verdict(request, decision, dry_run=dry_run)
        if failure:
            verdict.failure = f"evaluation={self.failure_policy()['evaluation']}"
        elif late:
            verdict.failure = f"risk={self.failure_policy()['risk']}"
            verdict.annotations["risk-unavailable"] = ",".join(late)[:1000]
        if verdict.failure:
            verdict.annotations["failure-policy"] = verdict.failure
        await self._record(verdict)
        return verdict

    def _budget_exhausted(self, budget: float, size: int) -> Decision:
        policy = self.failure_policy()["evaluation"]
        text = (f"admission_budget_exhausted: no decision within the {budget * 1000:.0f} ms budget; "
                f"failure_policy.evaluation is {policy}")
        reasons = [] if policy == "open" else [text]
        result = {"allow": policy == "open", "reasons": reasons, "warnings": [text] if policy == "open" else [],
                  "mode": "enforce"}
        return Decision(decision_id=uuid.uuid4().hex, decision_point=DECISION_POINT,
                        path=f"propolis/{DECISION_POINT}/decision", revision=self.manager.revision, result=result,
                        outcome="error_fallback", reasons=reasons, input_digest="", input_bytes=size,
                        duration_us=budget * 1e6, mode="embedded", error=f"time budget of {budget * 1000:.0f} ms "
                                                                         "exhausted")

    def _log_late(self, fut: asyncio.Future[Decision]) -> None:
        if fut.cancelled() or fut.exception() is not None:
            return
        decision = fut.result()
        log.warning("admission decision arrived after the budget",
                    extra={"decision_id": decision.decision_id, "duration_us": round(decision.duration_us)})
        self._spawn(self._log(decision))

    async def _log(self, decision: Decision) -> None:
        if self.decision_log is not None:
            await self.decision_log.put(decision)

    def _verdict(self, request: dict[str, Any], decision: Decision, *, dry_run: bool) -> Verdict:
        result = decision.result if isinstance(decision.result, dict) else {}
        enf = result.get("enforcement")
        if decision.outcome == "evaluated" and isinstance(enf, dict) and enf.get("mode") in _MODES:
            mode = str(enf["mode"])
            allowed = enf.get("allowed") is True
            warnings = [w for w in enf.get("warnings", []) if isinstance(w, str)]
        else:  # a declared fallback (undefined or failed evaluation, or the budget): enforce it
            mode = "enforce"
            allowed = decision.allowed
            warnings = [w for w in result.get("warnings", []) if isinstance(w, str)]
        reasons = list(decision.reasons)
        v = Verdict(uid=str(request.get("uid", "")), allowed=allowed, mode=mode, kind=rv.kind_of(request),
                    name=rv.name_of(request), namespace=rv.namespace_of(request), reasons=reasons,
                    warnings=warnings, decision=decision, dry_run=dry_run,
                    exemptions=[x for x in result.get("exemptions", []) if isinstance(x, str)])
        v.annotations = {"decision-id": decision.decision_id, "policy-revision": decision.revision,
                         "mode": mode, "verdict": "allowed" if allowed else "denied"}
        if reasons and mode != "enforce":
            v.annotations["would-deny"] = ",".join(rv.rule_ids(reasons))
        elif reasons:
            v.annotations["denied-by"] = ",".join(rv.rule_ids(reasons))
        if v.exemptions:
            v.annotations["exemptions"] = ",".join(v.exemptions)[:1000]
        if dry_run:
            v.annotations["dry-run"] = "true"
        return v

    async def _record(self, v: Verdict) -> None:
        """Decision log (queued, never waits on the network) and ``propolis.admission.decided`` (in the
        background: a slow bus never delays the answer)."""
        await self._log(v.decision)
        if self.ctx is None or self.ctx.bus is None:
            return
        event = AdmissionDecided(uid=v.uid, namespace=v.namespace, kind=v.kind, name=v.name, allowed=v.allowed,
                                 mode=v.mode, reasons=v.reasons, warnings=v.warnings, dry_run=v.dry_run)  # type: ignore[arg-type]
        subject = "/".join(p for p in (v.namespace, v.kind, v.name) if p)
        self._spawn(self._publish(event, subject, v.decision))

    async def _publish(self, event: AdmissionDecided, subject: str, decision: Decision) -> None:
        assert self.ctx is not None and self.ctx.bus is not None
        try:
            await self.ctx.bus.publish(event, subject=subject, policy_revision=decision.revision,
                                       id=f"admission-{decision.decision_id}")
        except Exception as exc:
            log.warning("admission.decided not published", extra={"uid": event.uid, "error": repr(exc)})

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def failed(self, request: dict[str, Any], error: str) -> Verdict:
        """The answer when deciding raised unexpectedly: the evaluation failure policy, loudly."""
        policy = self.failure_policy()["evaluation"]
        text = f"admission_error: the request could not be decided ({error}); failure_policy.evaluation is {policy}"
        reasons = [] if policy == "open" else [text]
        result = {"allow": policy == "open", "reasons": reasons, "warnings": [text] if policy == "open" else []}
        decision = Decision(decision_id=uuid.uuid4().hex, decision_point=DECISION_POINT,
                            path=f"propolis/{DECISION_POINT}/decision", revision=self.manager.revision, result=result,
                            outcome="error_fallback", reasons=reasons, input_digest="", input_bytes=0,
                            duration_us=0.0, mode="embedded", error=error)
        v = self._verdict(request, decision, dry_run=request.get("dryRun") is True)
        v.failure = v.annotations["failure-policy"] = f"evaluation={policy}"
        self._spawn(self._record(v))
        return v

    # -- Admit --------------------------------------------------------------------------------
    async def admit(self, manifests: bytes, *, namespace: str = "", dry_run: bool = False,
                    requested_by: str = "", source: str = "manifests") -> list[tuple[Any, Verdict]]:
        """(object, verdict) for every object of YAML/JSON manifests (multi-document)."""
        from propolis.admission.domain.manifests import ManifestError, admission_input, load_documents

        limit = self.cfg.admission.max_manifest_bytes
        if len(manifests) > limit:
            raise AdmitError("invalid_argument", f"manifests of {len(manifests)} bytes exceed the {limit}-byte limit")
        try:
            text = manifests.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise AdmitError("invalid_argument", f"manifests are not UTF-8 text: {exc}") from None
        try:
            objects = await asyncio.to_thread(load_documents, text, source, max_bytes=limit)
        except ManifestError as exc:
            raise AdmitError("invalid_argument", str(exc)) from None
        if not objects:
            raise AdmitError("invalid_argument", f"{source}: no Kubernetes object found")
        out = []
        for obj in objects:
            request = admission_input(obj, operation="CREATE", namespace=namespace, dry_run=dry_run,
                                      user=requested_by or "propolis-admit")["request"]
            try:
                verdict = await self.review(request, budget=ADMIT_BUDGET_SECONDS)
            except rv.ReviewError as exc:
                raise AdmitError("invalid_argument", f"{obj.file}:{obj.line}: {exc}") from None
            out.append((obj, verdict))
        return out

    # -- exemptions ---------------------------------------------------------------------------
    def exemptions(self) -> list[dict[str, Any]]:
        """The exemptions of the active bundle (data.propolis.admission.exemptions), as written."""
        try:
            value, _ = self.manager.evaluate(EXEMPTIONS_PATH, "{}")
        except EvaluationError:
            return []
        return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []


def parse_expiry(value: Any) -> float | None:
    """Seconds since the epoch of an RFC 3339 ``expires``, or None."""
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def expired(e: dict[str, Any], now: float | None = None) -> bool:
    at = parse_expiry(e.get("expires"))
    return at is not None and at <= (time.time() if now is None else now)


def build(cfg: Config) -> AdmissionService:
    return AdmissionService(cfg)


__all__ = ["AdmissionService", "AdmitError", "Verdict", "build", "expired", "parse_expiry"]
