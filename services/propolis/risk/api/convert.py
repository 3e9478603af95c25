"""Risk scores and checkpoint verdicts as the ``propolis.risk.v1`` messages."""

from __future__ import annotations

from typing import Any

from propolis.common.v1 import common_pb2
from propolis.policy.api.grpc import decision_to_pb
from propolis.risk.service import CHECKPOINTS, CheckpointVerdict, ImageScore, WorkloadRecord, WorkloadScore
from propolis.risk.v1 import risk_pb2

#: Proto checkpoint → the name the ``propolis.checkpoints`` policy reads (unspecified has none).
CHECKPOINT = dict(zip((risk_pb2.CHECKPOINT_CI, risk_pb2.CHECKPOINT_REGISTRY, risk_pb2.CHECKPOINT_DEPLOY,
                       risk_pb2.CHECKPOINT_RUNTIME), CHECKPOINTS, strict=True))
VERDICT = {"allow": common_pb2.VERDICT_ALLOW, "warn": common_pb2.VERDICT_WARN, "block": common_pb2.VERDICT_BLOCK}


def _float(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def factor_pb(f: dict[str, Any]) -> risk_pb2.RiskFactor:
    """A factor of the ``propolis.risk`` decision; a non-numeric raw value reads as 0 (the detail says it)."""
    return risk_pb2.RiskFactor(factor=str(f.get("factor", "")), raw_value=_float(f.get("raw_value")),
                               contribution=_float(f.get("contribution")), detail=str(f.get("detail", "")))


def image_pb(s: ImageScore) -> common_pb2.ImageRef:
    return common_pb2.ImageRef(reference=s.reference, digest=s.digest)


def score_image_pb(s: ImageScore) -> risk_pb2.ScoreImageResponse:
    return risk_pb2.ScoreImageResponse(image=image_pb(s), score=s.score, factors=[factor_pb(f) for f in s.factors],
                                       decision=decision_to_pb(s.decision))


def checkpoint_pb(v: CheckpointVerdict) -> risk_pb2.EvaluateCheckpointResponse:
    return risk_pb2.EvaluateCheckpointResponse(verdict=VERDICT[v.verdict], reasons=v.reasons, score=v.scored.score,
                                               factors=[factor_pb(f) for f in v.scored.factors],
                                               decision=decision_to_pb(v.decision))


def workload_ref_pb(namespace: str, kind: str, name: str, cluster: str = "") -> common_pb2.WorkloadRef:
    return common_pb2.WorkloadRef(cluster=cluster, namespace=namespace, kind=kind, name=name)


def unscanned_factor(w: WorkloadScore) -> dict[str, Any] | None:
    """The note on images scored without findings, as a factor that adds nothing (the proto has no notes)."""
    notes = [f"{i.reference}: {i.note}" for i in w.images if i.note]
    if not notes:
        return None
    return {"factor": "unscanned_images", "raw_value": len(notes), "contribution": 0, "detail": "; ".join(notes)}


def score_workload_pb(w: WorkloadScore, cluster: str = "") -> risk_pb2.ScoreWorkloadResponse:
    wl = w.workload
    factors = [*w.factors, *filter(None, [unscanned_factor(w)])]
    return risk_pb2.ScoreWorkloadResponse(
        workload=workload_ref_pb(wl.namespace, wl.kind, wl.name, cluster), score=w.score,
        factors=[factor_pb(f) for f in factors],
        images=[common_pb2.ImageRef(reference=i.reference, digest=i.digest) for i in w.images],
        decision=decision_to_pb(w.top.decision))


def rank_pb(records: list[WorkloadRecord]) -> risk_pb2.RankWorkloadsResponse:
    return risk_pb2.RankWorkloadsResponse(workloads=[
        risk_pb2.RankedWorkload(rank=i, workload=workload_ref_pb(r.namespace, r.kind, r.name), team=r.team,
                                score=r.score or 0.0, top_factors=[factor_pb(f) for f in r.top_factors])
        for i, r in enumerate(records, start=1)])
