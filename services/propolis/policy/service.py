"""Wiring of the policy service: config → bundle manager or remote evaluator → APIs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from pathlib import Path
from typing import Any

from propolis.kernel.app import Context, pick_port
from propolis.kernel.config import Config
from propolis.kernel.errors import ConfigError
from propolis.kernel.events import BundleActivated, BundleRejected, BundleUpdated, Envelope
from propolis.kernel.grpcserver import Registrar
from propolis.kernel.tasks import cancel_and_wait
from propolis.policy.adapters.decision_log import JetStreamDecisionLog
from propolis.policy.adapters.regorus_engine import RegorusEngine
from propolis.policy.adapters.remote_opa import RemoteOPAEvaluator
from propolis.policy.adapters.sources import GitSource, source_for
from propolis.policy.domain.decision import Decision, DecisionPoints, InputLimits, prepare_input
from propolis.policy.domain.engine import UNDEFINED
from propolis.policy.domain.manager import ActiveBundle, BundleManager, ReloadResult
from propolis.policy.domain.signing import VerificationKey
from propolis.policy.domain.testing import TestReport

log = logging.getLogger(__name__)


class PolicyService:
    """The policy service's use cases, shared by the gRPC and REST front ends."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        p = cfg.policy
        self.manager: BundleManager | None = None
        self.remote: RemoteOPAEvaluator | None = None
        limits = InputLimits(p.max_input_bytes, p.max_input_depth)
        if p.mode == "remote":
            if not p.remote_url:
                raise ConfigError("policy.remote_url is required when policy.mode is 'remote'")
            self.remote = RemoteOPAEvaluator(p.remote_url, timeout=p.remote_timeout)
            self.pdp = DecisionPoints(self.remote, self.remote.points, limits)
        else:
            key = (VerificationKey.from_config(p.verification_key, p.verification_alg, p.verification_keyid,
                                               p.verification_scope) if p.verification_key else None)
            src = source_for(p.bundle, ref=p.ref, subdir=p.subdir, data_dir=Path(cfg.data_dir))
            self.manager = BundleManager(src, RegorusEngine(use_vm=p.engine_vm), key, on_activated=self._activated,
                                         on_rejected=self._rejected)
            self.pdp = DecisionPoints(self.manager, self.manager.points, limits)
        self.ctx: Context | None = None
        self.decision_log: JetStreamDecisionLog | None = None
        self.rest: Any = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.last_reload_attempt = 0.0

    # -- lifecycle (kernel Service protocol) ----------------------------------------------
    def registrars(self) -> list[Registrar]:
        from propolis.policy.api.grpc import register

        return [lambda server: register(server, self)]

    async def start(self, ctx: Context) -> None:
        self.ctx = ctx
        if self.manager is not None:
            await asyncio.to_thread(self.manager.load_initial)
            self.last_reload_attempt = time.time()
        if ctx.bus is not None:
            if self.cfg.policy.decision_log:
                self.decision_log = JetStreamDecisionLog(ctx.bus)
                self.decision_log.start()
            if self.manager is not None:
                await ctx.bus.subscribe("propolis.policy.bundle.updated", self._on_updated)
        if self.manager is not None and self.cfg.policy.poll_seconds > 0:
            self._tasks.append(asyncio.create_task(self.manager.poll(self.cfg.policy.poll_seconds)))
        if self.cfg.policy.rest_enabled:
            from propolis.policy.api.rest import RestServer

            self.rest = RestServer(self, self.cfg.policy.rest_host,
                                   pick_port(self.cfg.policy.rest_port, ctx.spec.rest_port))
            await self.rest.start()
            ctx.endpoints["opa_rest"] = self.rest.url

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        if self.rest is not None:
            await self.rest.stop()
        if self.decision_log is not None:
            await self.decision_log.close()

    # -- use cases --------------------------------------------------------------------------
    @property
    def revision(self) -> str:
        return (self.manager or self.remote).revision  # type: ignore[union-attr]

    async def decide(self, name_or_path: str, raw_input: bytes | str) -> Decision:
        """Evaluate at a decision point and append the decision to the decision log."""
        if self.remote is not None:
            decision = await asyncio.to_thread(self.pdp.decide, name_or_path, raw_input)
        else:
            decision = self.pdp.decide(name_or_path, raw_input)
        if self.decision_log is not None:
            await self.decision_log.put(decision)
        return decision

    async def query(self, path: str, raw_input: bytes | str) -> tuple[Any, Decision]:
        """OPA Data API semantics: (raw value or ``UNDEFINED``, the logged decision); errors raise."""
        start = time.perf_counter()
        text, digest, size = prepare_input(raw_input, self.pdp.limits)
        evaluate = self.pdp.evaluator.evaluate
        value, revision = (await asyncio.to_thread(evaluate, path, text) if self.remote is not None
                           else evaluate(path, text))
        defined = value is not UNDEFINED
        d = Decision(decision_id=uuid.uuid4().hex, decision_point="", path=path.strip("/"), revision=revision,
                     result=value if defined else None,
                     outcome="evaluated" if defined else "undefined_fallback",
                     reasons=[], input_digest=digest, input_bytes=size,
                     duration_us=(time.perf_counter() - start) * 1e6, mode=self.pdp.evaluator.mode)
        if self.decision_log is not None:
            await self.decision_log.put(d)
        return value, d

    async def reload(self, reason: str = "api", ref: str = "") -> ReloadResult:
        """Reload now; with ``ref``, switch a Git bundle to that branch, tag or commit."""
        if self.manager is None:
            return ReloadResult(False, self.revision, "remote mode: the remote OPA manages its bundles")
        self.last_reload_attempt = time.time()
        if ref:
            if not isinstance(self.manager.source, GitSource):
                return ReloadResult(False, self.revision, "only a Git bundle can switch ref")
            return await self.manager.reload(reason, source=self.manager.source.at_ref(ref))
        return await self.manager.reload(reason)

    def run_tests(self) -> TestReport:
        if self.manager is None:
            raise RuntimeError("remote mode: run the tests where the bundle lives")
        return self.manager.active.compiled.run_tests()

    # -- bus hooks --------------------------------------------------------------------------
    async def _on_updated(self, env: Envelope[Any], _msg: Any) -> None:
        data: BundleUpdated = env.data
        await self.reload(f"bus:{data.reason or env.source}")

    async def _activated(self, active: ActiveBundle, previous: ActiveBundle | None) -> None:
        if self.ctx and self.ctx.bus:
            with contextlib.suppress(Exception):
                await self.ctx.bus.publish(
                    BundleActivated(revision=active.revision, previous_revision=previous.revision if previous else "",
                                    source=active.bundle.source, decision_points=sorted(active.points)),
                    policy_revision=active.revision)

    async def _rejected(self, error: str, active_revision: str) -> None:
        if self.ctx and self.ctx.bus and self.manager:
            with contextlib.suppress(Exception):
                await self.ctx.bus.publish(BundleRejected(source=self.manager.source.describe(), revision="",
                                                          error=error, active_revision=active_revision),
                                           policy_revision=active_revision)


def build(cfg: Config) -> PolicyService:
    return PolicyService(cfg)
