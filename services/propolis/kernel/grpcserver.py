"""gRPC server bootstrap on grpc.aio: health, reflection, metrics, TLS/mTLS, graceful drain."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from propolis.kernel.config import GrpcConfig, TLSConfig
from propolis.kernel.errors import ConfigError
from propolis.kernel.metrics import MetricsInterceptor

log = logging.getLogger(__name__)

#: Registers a servicer on a server; returns the full service names it added.
Registrar = Callable[[grpc.aio.Server], Iterable[str]]


def server_credentials(tls: TLSConfig) -> grpc.ServerCredentials | None:
    if not tls.enabled:
        if tls.cert_file or tls.key_file or tls.client_ca_file:
            raise ConfigError("grpc.tls needs both cert_file and key_file (client_ca_file is optional)")
        return None
    try:
        cert = Path(tls.cert_file).read_bytes()
        key = Path(tls.key_file).read_bytes()
        ca = Path(tls.client_ca_file).read_bytes() if tls.client_ca_file else None
    except OSError as exc:
        raise ConfigError(f"grpc.tls: cannot read {exc.filename}: {exc.strerror}") from None
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=ca is not None)


class GrpcServer:
    """A grpc.aio server with the standard Propolis furniture."""

    def __init__(self, cfg: GrpcConfig, port: int, registrars: Iterable[Registrar]) -> None:
        self.cfg = cfg
        opts = [
            ("grpc.max_receive_message_length", cfg.max_message_bytes),
            ("grpc.max_send_message_length", cfg.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ]
        self.server = grpc.aio.server(interceptors=[MetricsInterceptor()], options=opts)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        names: list[str] = []
        for register in registrars:
            names.extend(register(self.server))
        self.service_names = names
        reflection.enable_server_reflection(
            [*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
            self.server,
        )
        creds = server_credentials(cfg.tls)
        address = f"{cfg.host}:{port}"
        if creds is None:
            self.port = self.server.add_insecure_port(address)
        else:
            self.port = self.server.add_secure_port(address, creds)
        if self.port == 0:
            raise ConfigError(f"grpc: cannot bind {address}")
        self.address = f"{cfg.host}:{self.port}"
        self.tls = creds is not None

    async def start(self) -> None:
        await self.server.start()
        await self._set_all(health_pb2.HealthCheckResponse.SERVING)
        log.info("grpc serving", extra={"address": self.address, "tls": self.tls, "services": self.service_names})

    async def _set_all(self, status: int) -> None:
        for name in ["", *self.service_names]:
            await self.health.set(name, status)

    async def stop(self) -> None:
        """Stop taking new RPCs, let in-flight ones finish within the grace period."""
        await self._set_all(health_pb2.HealthCheckResponse.NOT_SERVING)
        # grpc.aio's stop waits for the core's shutdown event without a bound of its own; a lost
        # event must not keep the process from exiting, so the wait is capped past the grace.
        try:
            await asyncio.wait_for(self.server.stop(self.cfg.shutdown_grace), self.cfg.shutdown_grace + 5.0)
        except TimeoutError:
            log.error("grpc shutdown did not complete in time; continuing", extra={"address": self.address})
            return
        log.info("grpc stopped", extra={"address": self.address})
