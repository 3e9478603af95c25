"""gRPC front end of admission (``propolis.admission.v1.AdmissionService``): Admit and ListExemptions."""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING, Any, NoReturn

import grpc
from google.protobuf import timestamp_pb2

from propolis.admission.service import AdmitError, Verdict, expired, parse_expiry
from propolis.admission.v1 import admission_pb2, admission_pb2_grpc
from propolis.common.v1 import common_pb2
from propolis.policy.api.grpc import decision_to_pb

if TYPE_CHECKING:
    from propolis.admission.service import AdmissionService

_CODE = {"invalid_argument": grpc.StatusCode.INVALID_ARGUMENT, "unimplemented": grpc.StatusCode.UNIMPLEMENTED}
_SEVERITY = {common_pb2.VERDICT_ALLOW: 0, common_pb2.VERDICT_WARN: 1, common_pb2.VERDICT_BLOCK: 2}
_PAGE = 100


async def _abort(context: grpc.aio.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    await context.abort(code, message)
    raise AssertionError("unreachable")


def verdict_of(v: Verdict) -> Any:
    if not v.allowed:
        return common_pb2.VERDICT_BLOCK
    return common_pb2.VERDICT_WARN if v.warnings else common_pb2.VERDICT_ALLOW


def _strings(value: Any) -> list[str]:
    return [x for x in value if isinstance(x, str)] if isinstance(value, list) else []


def exemption_pbs(index: int, e: dict[str, Any]) -> list[admission_pb2.Exemption]:
    """One message per (namespace, kind) an exemption names (its lists; absent = all)."""
    ident = e.get("id") if isinstance(e.get("id"), str) and e.get("id") else f"exemption-{index}"
    expires = parse_expiry(e.get("expires"))
    ts = None
    if expires is not None:
        ts = timestamp_pb2.Timestamp()
        ts.FromNanoseconds(int(expires * 1e9))
    justification = next((e[k] for k in ("reason", "justification") if isinstance(e.get(k), str)), "")
    images = _strings(e.get("images"))
    if images:
        justification = (justification + " " if justification else "") + f"(images: {', '.join(images)})"
    out = []
    for ns in _strings(e.get("namespaces")) or [""]:
        for kind in _strings(e.get("kinds")) or [""]:
            out.append(admission_pb2.Exemption(
                exemption_id=str(ident), namespace=ns, kind=kind, rules=_strings(e.get("rules")),
                justification=justification, owner=e.get("owner") if isinstance(e.get("owner"), str) else "",
                expires_at=ts))
    return out


class AdmissionServicer(admission_pb2_grpc.AdmissionServiceServicer):
    def __init__(self, svc: AdmissionService) -> None:
        self.svc = svc

    async def Admit(self, request: admission_pb2.AdmitRequest, context: grpc.aio.ServicerContext
                    ) -> admission_pb2.AdmitResponse:
        if request.format in (admission_pb2.MANIFEST_FORMAT_HELM, admission_pb2.MANIFEST_FORMAT_DOCKERFILE):
            await _abort(context, grpc.StatusCode.UNIMPLEMENTED,
                         "Admit takes YAML or JSON manifests; render Helm charts first (helm template), and "
                         "check Dockerfiles with `propolis check`")
        source = "manifests.json" if request.format == admission_pb2.MANIFEST_FORMAT_JSON else "manifests"
        try:
            pairs = await self.svc.admit(request.manifests, namespace=request.namespace, dry_run=request.dry_run,
                                         requested_by=request.requested_by, source=source)
        except AdmitError as exc:
            await _abort(context, _CODE.get(exc.code, grpc.StatusCode.INVALID_ARGUMENT), str(exc))
        results = []
        for i, (obj, v) in enumerate(pairs):
            results.append(admission_pb2.ObjectResult(
                index=i, api_version=obj.api_version, kind=obj.kind, namespace=v.namespace, name=obj.name,
                verdict=verdict_of(v), messages=v.reasons, warnings=v.warnings, decision=decision_to_pb(v.decision),
                exemption_ids=v.exemptions))
        overall = max((r.verdict for r in results), key=lambda x: _SEVERITY[x], default=common_pb2.VERDICT_ALLOW)
        return admission_pb2.AdmitResponse(verdict=overall, results=results, dry_run=request.dry_run)

    async def ListExemptions(self, request: admission_pb2.ListExemptionsRequest, context: grpc.aio.ServicerContext
                             ) -> admission_pb2.ListExemptionsResponse:
        try:
            offset = int(base64.urlsafe_b64decode(request.page_token.encode()).decode()) if request.page_token else 0
        except ValueError:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "page_token is not a token this service issued")
        now = time.time()
        items: list[admission_pb2.Exemption] = []
        for i, e in enumerate(self.svc.exemptions()):
            if not request.include_expired and expired(e, now):
                continue
            items.extend(x for x in exemption_pbs(i, e)
                         if not request.namespace or x.namespace in ("", request.namespace))
        size = min(request.page_size or _PAGE, 1000)
        page = items[offset:offset + size]
        nxt = base64.urlsafe_b64encode(str(offset + size).encode()).decode() if offset + size < len(items) else ""
        return admission_pb2.ListExemptionsResponse(exemptions=page, next_page_token=nxt)


def register(server: grpc.aio.Server, svc: AdmissionService) -> list[str]:
    admission_pb2_grpc.add_AdmissionServiceServicer_to_server(AdmissionServicer(svc), server)
    return [admission_pb2.DESCRIPTOR.services_by_name["AdmissionService"].full_name]
