"""The ValidatingAdmissionWebhook endpoint: HTTPS only, AdmissionReview ``admission.k8s.io/v1``.

Every answer has a JSON body. A usable AdmissionReview gets 200 and a review response (allowed
or denied, warnings, audit annotations). Anything else says what is wrong: 400 (malformed JSON,
wrong apiVersion or kind, no request or uid), 413 (body over ``admission.max_request_bytes``),
415 (not JSON), 405/404; an unexpected error after the request was read is answered with the
declared ``failure_policy.evaluation``, and before that with a 500 whose body says why.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from propolis.admission.domain import certs
from propolis.admission.domain.review import ReviewError, parse_review
from propolis.kernel.app import pick_port

if TYPE_CHECKING:
    from propolis.admission.service import AdmissionService

log = logging.getLogger(__name__)


def _answer(status: int, doc: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=json.dumps(doc).encode(), content_type="application/json",
                        headers=headers)


def _error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return _answer(status, {"error": error, "message": message}, headers)


def tls_files(cfg_cert: str, cfg_key: str, data_dir: Path, host: str) -> tuple[Path, Path]:
    """The configured serving pair, or a self-signed one generated into ``<data_dir>/admission/``."""
    if cfg_cert or cfg_key:
        if not (cfg_cert and cfg_key):
            raise RuntimeError("set both admission.tls_cert_file and admission.tls_key_file (or neither, "
                               "for a generated self-signed pair)")
        for p in (cfg_cert, cfg_key):
            if not Path(p).is_file():
                raise RuntimeError(f"admission TLS file {p} does not exist")
        return Path(cfg_cert), Path(cfg_key)
    directory = data_dir / "admission"
    cert, key = directory / "webhook.crt", directory / "webhook.key"
    if cert.is_file() and key.is_file():
        return cert, key
    names = ["localhost", *certs.service_names("propolis-admission", "propolis")]
    ips = ["127.0.0.1", "::1"]
    if host not in ("", "0.0.0.0", "::", "localhost"):
        try:
            import ipaddress

            ipaddress.ip_address(host)
            ips.append(host)
        except ValueError:
            names.append(host)
    ca, pair = certs.self_signed(names, ips)
    certs.write_pair(directory, "ca", ca)
    certs.write_pair(directory, "webhook", pair)
    log.warning("no admission.tls_cert_file configured: generated a self-signed serving certificate",
                extra={"cert": str(cert), "key": str(key), "ca": str(directory / "ca.crt")})
    return cert, key


class Webhook:
    def __init__(self, svc: AdmissionService) -> None:
        self.svc = svc
        self.runner: web.AppRunner | None = None
        self.url = ""
        self.cert_file: Path | None = None

    async def start(self) -> str:
        a = self.svc.cfg.admission
        assert self.svc.ctx is not None
        cert, key = tls_files(a.tls_cert_file, a.tls_key_file, self.svc.ctx.data_dir, a.webhook_host)
        self.cert_file = cert
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(cert), str(key))
        app = web.Application(client_max_size=a.max_request_bytes)
        app.router.add_route("*", a.webhook_path, self.handle)
        app.router.add_route("*", "/healthz", self.health)
        app.router.add_route("*", "/{tail:.*}", self.not_found)
        # The API server keeps connections alive: do not wait the default 60 s for them on shutdown.
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, a.webhook_host, pick_port(a.webhook_port, self.svc.ctx.spec.rest_port),
                           ssl_context=context, reuse_port=a.processes > 1 or None)
        await site.start()
        server: Any = site._server
        port = server.sockets[0].getsockname()[1] if server is not None and server.sockets else 0
        host = f"[{a.webhook_host}]" if ":" in a.webhook_host else a.webhook_host
        self.url = f"https://{host}:{port}{a.webhook_path}"
        return self.url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def health(self, request: web.Request) -> web.Response:
        return _answer(200, {"status": "ok", "policy_revision": self.svc.revision})

    async def not_found(self, request: web.Request) -> web.Response:
        return _error(404, "not_found", f"no such endpoint {request.path}; AdmissionReviews go to "
                                        f"{self.svc.cfg.admission.webhook_path}")

    async def handle(self, request: web.Request) -> web.Response:
        started = asyncio.get_running_loop().time()
        try:
            return await self._handle(request, started)
        except Exception as exc:  # never a bare 500
            log.exception("admission request failed")
            return _error(500, "internal", f"the webhook failed before deciding: {exc!r}")

    async def _handle(self, request: web.Request, started: float) -> web.Response:
        if request.method != "POST":
            return _error(405, "method_not_allowed", "POST an AdmissionReview (admission.k8s.io/v1) here",
                          {"Allow": "POST"})
        if request.content_type not in ("application/json", ""):
            return _error(415, "unsupported_media_type",
                          f"content type {request.content_type!r} is not application/json")
        limit = self.svc.cfg.admission.max_request_bytes
        if request.content_length is not None and request.content_length > limit:
            return _error(413, "too_large", f"AdmissionReviews are limited to {limit} bytes "
                                            f"(this one is {request.content_length})")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _error(413, "too_large", f"AdmissionReviews are limited to {limit} bytes")
        try:
            review = parse_review(body)
        except ReviewError as exc:
            return _error(exc.status, exc.error, str(exc))
        try:
            verdict = await self.svc.review(review, started=started)
        except ReviewError as exc:
            return _error(exc.status, exc.error, str(exc))
        except Exception as exc:
            log.exception("admission decision failed", extra={"uid": review.get("uid")})
            verdict = self.svc.failed(review, repr(exc))
        log.info("admission decided", extra={"uid": verdict.uid, "allowed": verdict.allowed, "mode": verdict.mode,
                                             "kind": verdict.kind, "namespace": verdict.namespace,
                                             "name": verdict.name, "decision_id": verdict.decision.decision_id})
        return _answer(200, verdict.review_response())
