"""The registry's notification endpoint (HTTP POST of ``application/vnd.docker.distribution.events.v1+json``).

Every answer has a JSON body saying what happened. A registry retries any non-2xx answer, so
the status codes are chosen for it: 401/400/413/415 for requests that will never be accepted
(forged, malformed, oversized), 503 with ``Retry-After`` when the push cannot be queued now
(backlog full, bus unavailable) and should come again, 200 once every push is durably queued.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from propolis.kernel.app import pick_port
from propolis.registry.domain.notifications import CONTENT_TYPES, NotificationError

if TYPE_CHECKING:
    from propolis.registry.service import RegistryGate

log = logging.getLogger(__name__)


def _answer(status: int, doc: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=json.dumps(doc).encode(), content_type="application/json",
                        headers=headers)


class Webhook:
    def __init__(self, gate: RegistryGate) -> None:
        self.gate = gate
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        r = self.gate.cfg.registry
        app = web.Application(client_max_size=r.max_notification_bytes)
        app.router.add_route("*", r.webhook_path, self.handle)
        # The registry keeps its connection alive: do not wait the default 60 s for it on shutdown.
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self.runner.setup()
        assert self.gate.ctx is not None
        site = web.TCPSite(self.runner, r.webhook_host, pick_port(r.webhook_port, self.gate.ctx.spec.rest_port))
        await site.start()
        server: Any = site._server
        port = server.sockets[0].getsockname()[1] if server is not None and server.sockets else 0
        self.url = f"http://{r.webhook_host}:{port}{r.webhook_path}"
        return self.url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self.gate.token.encode())

    async def handle(self, request: web.Request) -> web.Response:
        from propolis.registry.service import Backlogged, GateRequestError

        if request.method != "POST":
            return _answer(405, {"error": "method_not_allowed", "message": "POST registry notifications here"},
                           {"Allow": "POST"})
        if not self._authorized(request):
            log.warning("notification refused: missing or wrong token", extra={"peer": request.remote})
            return _answer(401, {"error": "unauthorized",
                                 "message": "a notification needs 'Authorization: Bearer <registry.webhook_token>'"},
                           {"WWW-Authenticate": 'Bearer realm="propolis-registry-gate"'})
        if request.content_type not in CONTENT_TYPES:
            message = f"content type {request.content_type!r} is not one of {list(CONTENT_TYPES)}"
            return _answer(415, {"error": "unsupported_media_type", "message": message})
        limit = self.gate.cfg.registry.max_notification_bytes
        if request.content_length is not None and request.content_length > limit:
            return _answer(413, {"error": "too_large", "message": f"notifications are limited to {limit} bytes"})
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _answer(413, {"error": "too_large", "message": f"notifications are limited to {limit} bytes"})
        try:
            sorted_ = await self.gate.ingest(body)
        except NotificationError as exc:
            return _answer(400, {"error": "malformed_notification", "message": str(exc)})
        except Backlogged as exc:
            return _answer(503, {"error": "backlogged", "message": str(exc)}, {"Retry-After": "1"})
        except GateRequestError as exc:
            return _answer(503, {"error": "unavailable", "message": str(exc)}, {"Retry-After": "5"})
        except Exception as exc:  # the bus failed to store a push: the registry must send it again
            log.warning("notification not queued", extra={"error": repr(exc)})
            return _answer(503, {"error": "unavailable", "message": f"pushes could not be queued: {exc!r}"},
                           {"Retry-After": "2"})
        return _answer(200, {
            "received": sorted_.received,
            "queued": [f"{p.registry}/{p.repository}:{p.tag}@{p.digest}" for p in sorted_.pushed],
            "ignored": [{"id": i, "reason": why} for i, why in sorted_.ignored],
        })
