"""gRPC front end of the registry gate (``propolis.registry.v1.RegistryGateService``)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import TYPE_CHECKING, NoReturn

import grpc
from google.protobuf import timestamp_pb2

from propolis.common.v1 import common_pb2
from propolis.policy.api.grpc import decision_to_pb
from propolis.policy.domain.errors import DecisionFailed, InputRejected
from propolis.registry.domain.notifications import NotificationError
from propolis.registry.service import Backlogged, GateRecord, GateRequestError, Outcome, Retry
from propolis.registry.v1 import registry_pb2, registry_pb2_grpc

if TYPE_CHECKING:
    from propolis.registry.service import RegistryGate

_CODE = {"invalid_argument": grpc.StatusCode.INVALID_ARGUMENT, "not_found": grpc.StatusCode.NOT_FOUND,
         "failed_precondition": grpc.StatusCode.FAILED_PRECONDITION, "unavailable": grpc.StatusCode.UNAVAILABLE}
_VERDICT = {"allow": common_pb2.VERDICT_ALLOW, "warn": common_pb2.VERDICT_WARN, "block": common_pb2.VERDICT_BLOCK}
_PAGE = 50


async def _abort(context: grpc.aio.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    await context.abort(code, message)
    raise AssertionError("unreachable")


def _image(registry: str, repository: str, tag: str, digest: str) -> common_pb2.ImageRef:
    ref = f"{registry}/{repository}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    return common_pb2.ImageRef(reference=ref, registry=registry, repository=repository, tag=tag, digest=digest)


def _ts(seconds: float) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def verify_pb(o: Outcome) -> registry_pb2.VerifyImageResponse:
    t = o.target
    return registry_pb2.VerifyImageResponse(
        image=_image(t.registry, t.repository, t.tag, t.digest), verdict=_VERDICT[o.verdict],
        reasons=[*o.reasons, *o.warnings, *o.notes], quarantined=o.quarantined, signature_verified=False,
        risk_score=o.score or 0.0, decision=decision_to_pb(o.decision))


def quarantined_pb(r: GateRecord) -> registry_pb2.QuarantinedImage:
    return registry_pb2.QuarantinedImage(image=_image(r.registry, r.repository, r.tags[0] if r.tags else "", r.digest),
                                         reasons=r.reasons, quarantined_at=_ts(r.updated_at),
                                         decision_id=r.decision_id, risk_score=r.score or 0.0)


class RegistryGateServicer(registry_pb2_grpc.RegistryGateServiceServicer):
    def __init__(self, gate: RegistryGate) -> None:
        self.gate = gate

    async def VerifyImage(self, request: registry_pb2.VerifyImageRequest, context: grpc.aio.ServicerContext
                          ) -> registry_pb2.VerifyImageResponse:
        img = request.image
        reference = img.reference or (f"{img.registry}/{img.repository}" + (f":{img.tag}" if img.tag else "")
                                      if img.registry and img.repository else "")
        try:
            target = await self.gate.target_of(reference, img.digest)
            outcome = await self.gate.verify(target, dry_run=request.dry_run, team=request.team)
        except GateRequestError as exc:
            await _abort(context, _CODE[exc.code], str(exc))
        except Retry as exc:
            await _abort(context, grpc.StatusCode.UNAVAILABLE, str(exc))
        except (InputRejected, DecisionFailed) as exc:
            await _abort(context, grpc.StatusCode.FAILED_PRECONDITION, f"policy: {exc}")
        return verify_pb(outcome)

    async def ListQuarantined(self, request: registry_pb2.ListQuarantinedRequest, context: grpc.aio.ServicerContext
                              ) -> registry_pb2.ListQuarantinedResponse:
        try:
            offset = int(base64.urlsafe_b64decode(request.page_token.encode()).decode()) if request.page_token else 0
        except ValueError:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "page_token is not a token this service issued")
        size = min(request.page_size or _PAGE, 500)
        records = await self.gate.quarantined(request.repository_prefix)
        page = records[offset:offset + size]
        nxt = base64.urlsafe_b64encode(str(offset + size).encode()).decode() if offset + size < len(records) else ""
        return registry_pb2.ListQuarantinedResponse(images=[quarantined_pb(r) for r in page], next_page_token=nxt)

    async def ReleaseImage(self, request: registry_pb2.ReleaseImageRequest, context: grpc.aio.ServicerContext
                           ) -> registry_pb2.ReleaseImageResponse:
        img = request.image
        expires = ""
        if request.HasField("expires_at"):
            expires = request.expires_at.ToDatetime(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        reference = img.reference or f"{img.registry}/{img.repository}"
        try:
            rec, decision = await self.gate.release(reference, img.digest, owner=request.owner,
                                                    justification=request.justification, expires_at=expires)
        except GateRequestError as exc:
            await _abort(context, _CODE[exc.code], str(exc))
        except Retry as exc:
            await _abort(context, grpc.StatusCode.UNAVAILABLE, str(exc))
        return registry_pb2.ReleaseImageResponse(
            image=_image(rec.registry, rec.repository, rec.tags[0] if rec.tags else "", rec.digest),
            release_id=decision.decision_id, released_at=_ts(rec.updated_at), decision=decision_to_pb(decision))

    async def HandleRegistryEvent(self, request: registry_pb2.HandleRegistryEventRequest,
                                  context: grpc.aio.ServicerContext) -> registry_pb2.HandleRegistryEventResponse:
        try:
            sorted_ = await self.gate.ingest(request.notification_json)
        except NotificationError as exc:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except Backlogged as exc:
            await _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        except GateRequestError as exc:
            await _abort(context, _CODE[exc.code], str(exc))
        return registry_pb2.HandleRegistryEventResponse(
            events_received=sorted_.received,
            images=[_image(p.registry, p.repository, p.tag, p.digest) for p in sorted_.pushed])


def register(server: grpc.aio.Server, gate: RegistryGate) -> list[str]:
    registry_pb2_grpc.add_RegistryGateServiceServicer_to_server(RegistryGateServicer(gate), server)
    return [registry_pb2.DESCRIPTOR.services_by_name["RegistryGateService"].full_name]
