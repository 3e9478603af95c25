"""Start the real policy service in-process (real sockets, real NATS) for integration tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec

from propolis.kernel.app import Running, start
from propolis.kernel.config import Config


def config(tmp_path: Path, nats_url: str, **policy: Any) -> Config:
    raw = {
        "data_dir": str(tmp_path / "var"),
        "grpc": {"port": -1},
        "metrics": {"port": -1},
        "nats": {"url": nats_url},
        "policy": {"rest_port": -1, **policy},
    }
    return msgspec.convert(raw, Config)


@contextlib.asynccontextmanager
async def running(cfg: Config, with_bus: bool = True) -> AsyncIterator[Running]:
    r = await start("policy", cfg, with_bus=with_bus)
    try:
        yield r
    finally:
        await r.stop()
