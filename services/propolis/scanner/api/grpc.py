"""gRPC front end of the scanner service (``propolis.scanner.v1.ScannerService``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, NoReturn

import grpc

from propolis.common.v1 import common_pb2
from propolis.scanner.adapters.store import StoredScan
from propolis.scanner.api.convert import SEVERITY_LABEL, finding_pb, layer_pb, scan_result_pb
from propolis.scanner.service import ScanEvent, ScanOutcome, ScanRequest, ScanRequestError
from propolis.scanner.v1 import scanner_pb2, scanner_pb2_grpc

if TYPE_CHECKING:
    from propolis.scanner.service import ScannerService

_CODE = {"invalid_argument": grpc.StatusCode.INVALID_ARGUMENT, "not_found": grpc.StatusCode.NOT_FOUND,
         "failed_precondition": grpc.StatusCode.FAILED_PRECONDITION}
_STAGE = {
    "resolving": scanner_pb2.SCAN_STAGE_RESOLVING,
    "fetching": scanner_pb2.SCAN_STAGE_FETCHING,
    "analyzing_layer": scanner_pb2.SCAN_STAGE_ANALYZING_LAYER,
    "matching": scanner_pb2.SCAN_STAGE_MATCHING,
    "completed": scanner_pb2.SCAN_STAGE_COMPLETED,
}
#: SBOM format → (name in ``propolis.scanner.formats``, media type); unspecified means CycloneDX.
_SBOM = {
    scanner_pb2.SBOM_FORMAT_UNSPECIFIED: ("cyclonedx", "application/vnd.cyclonedx+json"),
    scanner_pb2.SBOM_FORMAT_CYCLONEDX_JSON: ("cyclonedx", "application/vnd.cyclonedx+json"),
    scanner_pb2.SBOM_FORMAT_SPDX_JSON: ("spdx", "application/spdx+json"),
}


def scan_request(image: common_pb2.ImageRef, options: scanner_pb2.ScanOptions) -> ScanRequest:
    """The reference as written, or else rebuilt from registry/repository/tag/digest."""
    ref = image.reference
    if not ref and image.repository:
        ref = "/".join(p for p in (image.registry, image.repository) if p)
        ref += f":{image.tag}" if image.tag else ""
        ref += f"@{image.digest}" if image.digest else ""
    return ScanRequest(reference=ref, platform=image.platform, digest=image.digest,
                       secrets=not options.skip_secrets, config=not options.skip_config, force=options.force,
                       vulnerabilities=not options.skip_vulnerabilities)


def progress_pb(event: ScanEvent) -> scanner_pb2.ScanProgress:
    return scanner_pb2.ScanProgress(stage=_STAGE[event.stage], layer=layer_pb(event.layer) if event.layer else None,
                                    layer_count=event.layer_count, packages_found=event.packages_found,
                                    message=event.message)


async def _abort(context: grpc.aio.ServicerContext, exc: ScanRequestError) -> NoReturn:
    await context.abort(_CODE[exc.code], str(exc))
    raise AssertionError("unreachable")


class ScannerServicer(scanner_pb2_grpc.ScannerServiceServicer):
    def __init__(self, svc: ScannerService) -> None:
        self.svc = svc

    async def ScanImage(self, request: scanner_pb2.ScanImageRequest, context: grpc.aio.ServicerContext
                        ) -> scanner_pb2.ScanImageResponse:
        try:
            outcome = await self.svc.scan(scan_request(request.image, request.options))
        except ScanRequestError as exc:
            await _abort(context, exc)
        return scanner_pb2.ScanImageResponse(result=scan_result_pb(outcome.scan, request.image.platform))

    async def ScanImageStream(self, request: scanner_pb2.ScanImageStreamRequest,
                              context: grpc.aio.ServicerContext) -> AsyncIterator[scanner_pb2.ScanImageStreamResponse]:
        """Progress from the worker thread crosses to the loop through a queue; the scan's outcome is
        queued last, after every progress event the thread queued before it returned."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[ScanEvent | ScanOutcome | BaseException] = asyncio.Queue()

        def on_progress(event: ScanEvent) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, event)

        async def run() -> None:
            try:
                queue.put_nowait(await self.svc.scan(scan_request(request.image, request.options), on_progress))
            except Exception as exc:
                queue.put_nowait(exc)

        task = asyncio.create_task(run())
        try:
            while True:
                item = await queue.get()
                if isinstance(item, ScanEvent):
                    yield scanner_pb2.ScanImageStreamResponse(progress=progress_pb(item))
                    continue
                if isinstance(item, ScanRequestError):
                    await _abort(context, item)
                if isinstance(item, BaseException):
                    raise item
                yield scanner_pb2.ScanImageStreamResponse(result=scan_result_pb(item.scan, request.image.platform))
                return
        finally:
            if not task.done():
                task.cancel()  # the client went away: the scan stops at its next layer

    async def _find(self, request: scanner_pb2.GetReportRequest | scanner_pb2.GetSBOMRequest
                    | scanner_pb2.ListFindingsRequest, context: grpc.aio.ServicerContext) -> StoredScan:
        subject = request.WhichOneof("subject")
        try:
            if subject == "scan_id":
                return await self.svc.find(scan_id=request.scan_id)
            return await self.svc.find(digest=request.image.digest if subject == "image" else "")
        except ScanRequestError as exc:
            await _abort(context, exc)

    async def GetSBOM(self, request: scanner_pb2.GetSBOMRequest, context: grpc.aio.ServicerContext
                      ) -> scanner_pb2.GetSBOMResponse:
        if request.format not in _SBOM:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unknown SBOM format {request.format}")
        scan = await self._find(request, context)
        name, media_type = _SBOM[request.format]
        fmt = request.format or scanner_pb2.SBOM_FORMAT_CYCLONEDX_JSON
        return scanner_pb2.GetSBOMResponse(scan_id=scan.scan_id, format=fmt, media_type=media_type,
                                           document_json=await self.svc.render(scan, name))

    async def GetReport(self, request: scanner_pb2.GetReportRequest, context: grpc.aio.ServicerContext
                        ) -> scanner_pb2.GetReportResponse:
        scan = await self._find(request, context)
        return scanner_pb2.GetReportResponse(result=scan_result_pb(scan))

    async def ListFindings(self, request: scanner_pb2.ListFindingsRequest, context: grpc.aio.ServicerContext
                           ) -> scanner_pb2.ListFindingsResponse:
        """Filtered, paged findings of a stored report, most severe first (see ``findings_page``)."""
        scan = await self._find(request, context)
        if request.min_severity and request.min_severity not in SEVERITY_LABEL:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unknown severity {request.min_severity}")
        try:
            page, token, total = await self.svc.findings_page(
                scan, min_severity=SEVERITY_LABEL.get(request.min_severity, ""),
                fixable=request.fixable if request.HasField("fixable") else None,
                package_name=request.package_name, page_size=request.page_size, page_token=request.page_token)
        except ScanRequestError as exc:
            await _abort(context, exc)
        return scanner_pb2.ListFindingsResponse(findings=[finding_pb(scan.catalogue, f) for f in page],
                                                next_page_token=token, total_size=total)


def register(server: grpc.aio.Server, svc: ScannerService) -> list[str]:
    scanner_pb2_grpc.add_ScannerServiceServicer_to_server(ScannerServicer(svc), server)
    return [scanner_pb2.DESCRIPTOR.services_by_name["ScannerService"].full_name]
