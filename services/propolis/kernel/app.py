"""Running one service process: config → logs → metrics → bus → service → gRPC → drain.

A service implements :class:`Service`; :func:`run` does the rest, the same way for every
service. SIGTERM/SIGINT stop it gracefully: health goes NOT_SERVING, in-flight RPCs finish
within ``grpc.shutdown_grace``, the service flushes, the bus drains, an embedded NATS stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import msgspec

from propolis.kernel.bus import Bus
from propolis.kernel.config import Config
from propolis.kernel.grpcserver import GrpcServer, Registrar
from propolis.kernel.logs import setup_logging
from propolis.kernel.metrics import serve_metrics
from propolis.kernel.services import SERVICES, ServiceSpec

log = logging.getLogger(__name__)


@dataclass
class Context:
    cfg: Config
    spec: ServiceSpec
    bus: Bus | None
    data_dir: Path
    endpoints: dict[str, str] = field(default_factory=dict)


class Service(Protocol):
    def registrars(self) -> list[Registrar]: ...

    async def start(self, ctx: Context) -> None:
        """Called after the bus is connected and before gRPC starts serving."""
        ...

    async def stop(self) -> None:
        """Called after gRPC stopped taking requests and drained."""
        ...


def build_service(spec: ServiceSpec, cfg: Config) -> Service:
    if not spec.factory:
        raise RuntimeError(f"service {spec.name!r} has a contract but no implementation yet")
    module, func = spec.factory.split(":")
    return getattr(importlib.import_module(module), func)(cfg)  # type: ignore[no-any-return]


class Running:
    """A started service; :meth:`stop` shuts it down in order. Used by :func:`run` and tests."""

    def __init__(self, ctx: Context, service: Service, server: GrpcServer, metrics: tuple[Any, Any] | None) -> None:
        self.ctx, self.service, self.server, self.metrics = ctx, service, server, metrics

    @property
    def endpoints(self) -> dict[str, str]:
        return self.ctx.endpoints

    async def stop(self) -> None:
        await self.server.stop()
        await self.service.stop()
        if self.ctx.bus is not None:
            await self.ctx.bus.close()
        if self.metrics is not None:
            http_server = self.metrics[0]
            http_server.shutdown()
            http_server.server_close()


async def start(name: str, cfg: Config, *, with_bus: bool = True, service: Service | None = None) -> Running:
    spec = SERVICES[name]
    data_dir = Path(cfg.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context(cfg=cfg, spec=spec, bus=None, data_dir=data_dir)
    metrics = None
    if cfg.metrics.enabled:
        metrics, mport = serve_metrics(cfg.metrics.host, pick_port(cfg.metrics.port, spec.metrics_port))
        ctx.endpoints["metrics"] = f"http://{cfg.metrics.host}:{mport}/metrics"
    svc = service or build_service(spec, cfg)
    try:
        if with_bus:
            ctx.bus = await Bus(cfg.nats, data_dir=data_dir, source=f"propolis/{name}").connect()
            await ctx.bus.ensure_streams()
            ctx.endpoints["nats"] = ctx.bus.url
        await svc.start(ctx)
        server = GrpcServer(cfg.grpc, pick_port(cfg.grpc.port, spec.grpc_port), svc.registrars())
        await server.start()
    except BaseException:
        with contextlib.suppress(Exception):
            await svc.stop()
        if ctx.bus is not None:
            await ctx.bus.close()
        if metrics is not None:
            metrics[0].shutdown()
            metrics[0].server_close()
        raise
    ctx.endpoints["grpc"] = ("grpcs://" if server.tls else "grpc://") + server.address
    return Running(ctx, svc, server, metrics)


def pick_port(configured: int, default: int) -> int:
    """Configured port; 0 means the service default, a negative one any free port."""
    return configured if configured > 0 else (0 if configured < 0 else default)


async def serve(name: str, cfg: Config) -> None:
    running = await start(name, cfg)
    ready = {"service": name, "status": "ready", "endpoints": running.endpoints}
    # One machine-readable line on stdout: ``propolis up`` and tests wait for it.
    sys.stdout.write(msgspec.json.encode(ready).decode() + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping", extra={"service": name})
    await running.stop()


def run(name: str, cfg: Config) -> None:
    setup_logging(name, cfg.log_level)
    asyncio.run(serve(name, cfg))
