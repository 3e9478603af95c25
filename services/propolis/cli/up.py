"""``propolis up``: the embedded NATS plus every implemented service, each its own process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from propolis.kernel.config import Config
from propolis.kernel.embedded_nats import EmbeddedNats
from propolis.kernel.errors import PropolisError
from propolis.kernel.services import runnable


def up(cfg: Config, console: Console, ready_timeout: float = 60.0) -> int:
    data_dir = Path(cfg.data_dir)
    nats: EmbeddedNats | None = None
    env = dict(os.environ)
    url = cfg.nats.url
    if not url:
        nats = EmbeddedNats(data_dir / "nats", port=cfg.nats.embedded_port).start()
        url = nats.url
    env["PROPOLIS_NATS__URL"] = url
    procs: list[tuple[str, subprocess.Popen[str]]] = []
    stopping = threading.Event()

    def stop(*_: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        table = Table(title="Propolis is up", show_lines=False)
        table.add_column("service")
        table.add_column("endpoints")
        table.add_row("nats", url + ("  (embedded)" if nats else ""))
        for spec in runnable():
            p = subprocess.Popen([sys.executable, "-m", "propolis.cli", "serve", spec.name], env=env,
                                 stdout=subprocess.PIPE, text=True, start_new_session=True)
            procs.append((spec.name, p))
            endpoints = _wait_ready(spec.name, p, ready_timeout, stopping)
            table.add_row(spec.name, "\n".join(f"{k}: {v}" for k, v in endpoints.items() if k != "nats"))
        console.print(table)
        console.print("Press Ctrl-C to stop.")
        sys.stdout.flush()
        while not stopping.is_set():
            for name, p in procs:
                if p.poll() is not None:
                    raise PropolisError(f"service {name} exited with code {p.returncode}")
            stopping.wait(0.5)
        return 0
    finally:
        for _name, p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for _name, p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        if nats is not None:
            nats.stop()
        console.print("Propolis stopped.")


def _wait_ready(name: str, p: subprocess.Popen[str], timeout: float, stopping: threading.Event) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    assert p.stdout is not None
    while time.monotonic() < deadline and not stopping.is_set():
        line = p.stdout.readline()
        if not line:
            if p.poll() is not None:
                raise PropolisError(f"service {name} exited with code {p.returncode} before it was ready")
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if doc.get("status") == "ready":
            return dict(doc.get("endpoints", {}))
    raise PropolisError(f"service {name} was not ready within {timeout:.0f}s")
