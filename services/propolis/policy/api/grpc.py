"""gRPC front end of the policy service (``propolis.policy.v1.PolicyService``)."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

import grpc
import msgspec
from google.protobuf.timestamp_pb2 import Timestamp

from propolis.common.v1 import common_pb2
from propolis.policy.domain.decision import Decision
from propolis.policy.domain.errors import DecisionFailed, EvaluationError, InputRejected
from propolis.policy.v1 import policy_pb2, policy_pb2_grpc

if TYPE_CHECKING:
    from propolis.policy.service import PolicyService

_OUTCOME = {
    "evaluated": common_pb2.DECISION_OUTCOME_EVALUATED,
    "undefined_fallback": common_pb2.DECISION_OUTCOME_UNDEFINED_FALLBACK,
    "error_fallback": common_pb2.DECISION_OUTCOME_ERROR_FALLBACK,
}
_FAIL = {"deny": policy_pb2.FAIL_MODE_DENY, "allow": policy_pb2.FAIL_MODE_ALLOW, "error": policy_pb2.FAIL_MODE_ERROR}
_encode = msgspec.json.Encoder().encode


def _ts(seconds: float) -> Timestamp:
    t = Timestamp()
    t.FromNanoseconds(int(seconds * 1e9))
    return t


def decision_to_pb(d: Decision) -> common_pb2.Decision:
    return common_pb2.Decision(
        decision_id=d.decision_id, path=d.path, result_json=_encode(d.result), bundle_revision=d.revision,
        outcome=_OUTCOME[d.outcome], reasons=d.reasons, decided_at=_ts(time.time()),
        eval_duration_micros=int(d.duration_us), input_sha256=d.input_digest.removeprefix("sha256:"),
        decision_point=d.decision_point, error=d.error, mode=d.mode, input_bytes=d.input_bytes)


class PolicyServicer(policy_pb2_grpc.PolicyServiceServicer):
    def __init__(self, svc: PolicyService) -> None:
        self.svc = svc

    async def _decide(self, path: str, raw: bytes, context: grpc.aio.ServicerContext) -> Decision:
        try:
            return await self.svc.decide(path, raw)
        except InputRejected as exc:
            code = grpc.StatusCode.RESOURCE_EXHAUSTED if exc.code == "input_too_large" else \
                grpc.StatusCode.INVALID_ARGUMENT
            await context.abort(code, f"{exc.code}: {exc}")
        except DecisionFailed as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        except EvaluationError as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        raise AssertionError("unreachable")

    async def Evaluate(self, request: policy_pb2.EvaluateRequest, context: grpc.aio.ServicerContext
                       ) -> policy_pb2.EvaluateResponse:
        d = await self._decide(request.path, request.input_json, context)
        return policy_pb2.EvaluateResponse(decision=decision_to_pb(d))

    async def EvaluateBatch(self, request: policy_pb2.EvaluateBatchRequest, context: grpc.aio.ServicerContext
                            ) -> policy_pb2.EvaluateBatchResponse:
        out = [await self._decide(q.path, q.input_json, context) for q in request.queries]
        revs = {d.revision for d in out}
        return policy_pb2.EvaluateBatchResponse(decisions=[decision_to_pb(d) for d in out],
                                                bundle_revision=",".join(sorted(revs)))

    def _revision_pb(self) -> common_pb2.PolicyRevision:
        m = self.svc.manager
        if m is None or not m.revision:
            return common_pb2.PolicyRevision(revision=self.svc.revision,
                                             source=self.svc.remote.url if self.svc.remote else "")
        src = m.source
        return common_pb2.PolicyRevision(revision=m.revision, source=src.describe(),
                                         source_ref=getattr(src, "ref", ""), loaded_at=_ts(m.active.loaded_at))

    async def GetBundleStatus(self, request: policy_pb2.GetBundleStatusRequest,
                              context: grpc.aio.ServicerContext) -> policy_pb2.GetBundleStatusResponse:
        points = self.svc.pdp.points()
        return policy_pb2.GetBundleStatusResponse(
            active_revision=self._revision_pb(),
            decision_points=[policy_pb2.DecisionPoint(name=p.name, path=p.path, on_undefined=_FAIL[p.on_undefined],
                                                      on_error=_FAIL[p.on_error], description=p.description)
                             for p in sorted(points.values(), key=lambda p: p.name)],
            last_reload_error=self.svc.manager.last_error if self.svc.manager else "",
            last_reload_attempt_at=_ts(self.svc.last_reload_attempt))

    async def ReloadBundle(self, request: policy_pb2.ReloadBundleRequest, context: grpc.aio.ServicerContext
                           ) -> policy_pb2.ReloadBundleResponse:
        previous = self.svc.revision
        res = await self.svc.reload("grpc", ref=request.source_ref)
        if res.error:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"bundle rejected: {res.error}")
        return policy_pb2.ReloadBundleResponse(revision=self._revision_pb(), previous_revision=previous,
                                               changed=res.changed)

    async def TestPolicies(self, request: policy_pb2.TestPoliciesRequest, context: grpc.aio.ServicerContext
                           ) -> policy_pb2.TestPoliciesResponse:
        try:
            pattern = re.compile(request.filter) if request.filter else None
        except re.error as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"filter is not a regular expression: {exc}")
        try:
            report = self.svc.run_tests()
        except RuntimeError as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        results = [r for r in report.results if pattern is None or pattern.search(f"{r.package}.{r.name}")]
        return policy_pb2.TestPoliciesResponse(
            bundle_revision=self.svc.revision,
            results=[policy_pb2.PolicyTestResult(
                package=r.package, name=r.name,
                status=policy_pb2.POLICY_TEST_STATUS_PASSED if r.passed else policy_pb2.POLICY_TEST_STATUS_FAILED,
                message=r.error, duration_micros=int(r.duration_us)) for r in results],
            coverage_percent=report.coverage_percent,
            passed=sum(r.passed for r in results), failed=sum(not r.passed for r in results))


def register(server: grpc.aio.Server, svc: PolicyService) -> list[str]:
    policy_pb2_grpc.add_PolicyServiceServicer_to_server(PolicyServicer(svc), server)
    return [policy_pb2.DESCRIPTOR.services_by_name["PolicyService"].full_name]
