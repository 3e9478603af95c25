"""gRPC front end of the risk service (``propolis.risk.v1.RiskService``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NoReturn

import grpc

from propolis.policy.domain.errors import DecisionFailed, InputRejected
from propolis.risk.api.convert import CHECKPOINT, checkpoint_pb, rank_pb, score_image_pb, score_workload_pb
from propolis.risk.service import RiskRequestError
from propolis.risk.v1 import risk_pb2, risk_pb2_grpc

if TYPE_CHECKING:
    from propolis.risk.service import RiskService

_CODE = {"invalid_argument": grpc.StatusCode.INVALID_ARGUMENT, "not_found": grpc.StatusCode.NOT_FOUND,
         "failed_precondition": grpc.StatusCode.FAILED_PRECONDITION}


async def _abort(context: grpc.aio.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    await context.abort(code, message)
    raise AssertionError("unreachable")


async def _refused(context: grpc.aio.ServicerContext, exc: Exception) -> NoReturn:
    if isinstance(exc, RiskRequestError):
        await _abort(context, _CODE[exc.code], str(exc))
    if isinstance(exc, InputRejected):
        await _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, f"{exc.code}: {exc}")
    # DecisionFailed: the bundle's risk or checkpoints point is undefined or broken (fails loudly).
    await _abort(context, grpc.StatusCode.FAILED_PRECONDITION, f"policy: {exc}")


class RiskServicer(risk_pb2_grpc.RiskServiceServicer):
    def __init__(self, svc: RiskService) -> None:
        self.svc = svc

    async def ScoreImage(self, request: risk_pb2.ScoreImageRequest, context: grpc.aio.ServicerContext
                         ) -> risk_pb2.ScoreImageResponse:
        try:
            scored = await self.svc.score_image(request.image.digest, request.scan_id)
        except (RiskRequestError, InputRejected, DecisionFailed) as exc:
            await _refused(context, exc)
        return score_image_pb(scored)

    async def EvaluateCheckpoint(self, request: risk_pb2.EvaluateCheckpointRequest,
                                 context: grpc.aio.ServicerContext) -> risk_pb2.EvaluateCheckpointResponse:
        ctx: Any = {}
        if request.context_json:
            try:
                ctx = json.loads(request.context_json)
            except (ValueError, UnicodeDecodeError) as exc:
                await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"context_json is not JSON: {exc}")
            if not isinstance(ctx, dict):
                await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "context_json must be a JSON object")
        namespace = request.namespace or request.workload.namespace
        try:
            verdict = await self.svc.evaluate_checkpoint(CHECKPOINT.get(request.checkpoint, ""), request.image.digest,
                                                         namespace=namespace, team=request.team, context=ctx)
        except (RiskRequestError, InputRejected, DecisionFailed) as exc:
            await _refused(context, exc)
        return checkpoint_pb(verdict)

    async def ScoreWorkload(self, request: risk_pb2.ScoreWorkloadRequest, context: grpc.aio.ServicerContext
                            ) -> risk_pb2.ScoreWorkloadResponse:
        ref = request.workload
        try:
            scored = await self.svc.score_workload(ref.namespace, ref.kind, ref.name, bytes(request.manifest_json))
        except (RiskRequestError, InputRejected, DecisionFailed) as exc:
            await _refused(context, exc)
        return score_workload_pb(scored, ref.cluster)

    async def RankWorkloads(self, request: risk_pb2.RankWorkloadsRequest, context: grpc.aio.ServicerContext
                            ) -> risk_pb2.RankWorkloadsResponse:
        try:
            ranked = await self.svc.rank_workloads(request.namespace, request.team, request.limit)
        except RiskRequestError as exc:
            await _refused(context, exc)
        return rank_pb(ranked)


def register(server: grpc.aio.Server, svc: RiskService) -> list[str]:
    risk_pb2_grpc.add_RiskServiceServicer_to_server(RiskServicer(svc), server)
    return [risk_pb2.DESCRIPTOR.services_by_name["RiskService"].full_name]
