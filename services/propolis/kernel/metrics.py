"""Prometheus metrics: one HTTP endpoint per service process and a gRPC interceptor."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import REGISTRY, Counter, Histogram, start_http_server

RPC_TOTAL = Counter("propolis_grpc_requests_total", "gRPC requests handled", ["method", "code"])
RPC_SECONDS = Histogram(
    "propolis_grpc_request_seconds",
    "gRPC request latency",
    ["method"],
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5),
)


def serve_metrics(host: str, port: int) -> tuple[Any, int]:
    """Start the /metrics endpoint in a background thread; return (server, bound port)."""
    server, thread = start_http_server(port, addr=host, registry=REGISTRY)
    return (server, thread), server.server_address[1]


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts and times unary RPCs by method and status code."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method
        inner = handler.unary_unary

        async def timed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            start = time.perf_counter()
            code = "OK"
            try:
                return await inner(request, context)
            except BaseException:
                code = "ERROR"
                raise
            finally:
                c = context.code() if hasattr(context, "code") else None
                if c is not None and c != grpc.StatusCode.OK:
                    code = c.name
                RPC_TOTAL.labels(method, code).inc()
                RPC_SECONDS.labels(method).observe(time.perf_counter() - start)

        return grpc.unary_unary_rpc_method_handler(
            timed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
