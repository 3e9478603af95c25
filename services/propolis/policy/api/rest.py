"""OPA's REST Data API, served by Propolis, so OPA clients can query it unchanged.

- ``POST /v1/data/{path}`` with ``{"input": ...}`` → ``{"result": ..., "decision_id": ...}``;
  an undefined result has no ``result`` key, as in OPA.
- ``GET /v1/data/{path}`` evaluates without input.
- ``?provenance`` adds ``{"provenance": {"revision": ..., "bundles": {"propolis": {"revision": ...}}}}``.
- ``GET /health`` → ``{}``.
Errors use OPA's shape: ``{"code": "...", "message": "..."}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

import propolis
from propolis.policy.domain.engine import UNDEFINED
from propolis.policy.domain.errors import EvaluationError, InputRejected

if TYPE_CHECKING:
    from propolis.policy.service import PolicyService

_body_decoder = msgspec.json.Decoder(dict[str, msgspec.Raw])
_encode = msgspec.json.Encoder().encode


def _json(status: int, doc: dict[str, Any]) -> web.Response:
    return web.Response(status=status, body=_encode(doc), content_type="application/json")


def _error(status: int, code: str, message: str) -> web.Response:
    return _json(status, {"code": code, "message": message})


class RestServer:
    def __init__(self, svc: PolicyService, host: str, port: int) -> None:
        self.svc = svc
        self.host = host
        self.port = port
        limit = svc.pdp.limits.max_bytes + 64 * 1024
        self.app = web.Application(client_max_size=limit)
        self.app.add_routes([
            web.get("/health", self.health),
            web.post("/v1/data", self.data),
            web.get("/v1/data", self.data),
            web.post("/v1/data/{path:.*}", self.data),
            web.get("/v1/data/{path:.*}", self.data),
        ])
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def health(self, request: web.Request) -> web.Response:
        return _json(200, {})

    async def data(self, request: web.Request) -> web.Response:
        path = request.match_info.get("path", "")
        raw_input: bytes = b"{}"
        if request.method == "POST":
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                return _error(413, "invalid_parameter", "request body exceeds the input size limit")
            if body.strip():
                try:
                    doc = _body_decoder.decode(body)
                except msgspec.DecodeError as exc:
                    return _error(400, "invalid_parameter", f"body must be a JSON object: {exc}")
                if "input" in doc:
                    raw_input = bytes(doc["input"])
        try:
            value, decision = await self.svc.query(path or "", raw_input)
        except InputRejected as exc:
            status = 413 if exc.code == "input_too_large" else 400
            return _error(status, "invalid_parameter", str(exc))
        except EvaluationError as exc:
            return _error(500, "internal_error", str(exc))
        out: dict[str, Any] = {"decision_id": decision.decision_id}
        if value is not UNDEFINED:
            out["result"] = value
        if "provenance" in request.query and request.query.get("provenance", "true") != "false":
            out["provenance"] = {"version": propolis.__version__, "revision": decision.revision,
                                 "bundles": {"propolis": {"revision": decision.revision}}}
        return _json(200, out)
