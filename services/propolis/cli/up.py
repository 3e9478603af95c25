"""``propolis up``: the embedded NATS plus every implemented service, each its own process."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from propolis.kernel.config import Config
from propolis.kernel.embedded_nats import EmbeddedNats
from propolis.kernel.errors import PropolisError
from propolis.kernel.services import runnable

REGISTRY_BIN = "/usr/bin/docker-registry"


def webhook_token(cfg: Config, data_dir: Path) -> str:
    """The gate's shared token, made here first (the gate reads the same file) so the registry can send it."""
    if cfg.registry.webhook_token:
        return cfg.registry.webhook_token
    path = Path(cfg.registry.webhook_token_file) if cfg.registry.webhook_token_file \
        else data_dir / "registry" / "webhook-token"
    if not path.is_file() or not path.read_text().strip():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def start_registry(cfg: Config, data_dir: Path, port: int) -> tuple[subprocess.Popen[bytes], str]:
    """Debian's docker-registry on loopback, sending its push notifications to the gate's webhook."""
    import httpx
    import yaml

    binary = shutil.which("docker-registry") or REGISTRY_BIN
    if not Path(binary).is_file():
        raise PropolisError("docker-registry is not installed (apt-get install docker-registry, or "
                            "`make system-deps` as root)")
    r = cfg.registry
    hook = f"http://{r.webhook_host}:{r.webhook_port if r.webhook_port > 0 else 8182}{r.webhook_path}"
    work = data_dir / "registry"
    work.mkdir(parents=True, exist_ok=True)
    conf = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(work / "storage")}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
        "notifications": {"endpoints": [{"name": "propolis-gate", "url": hook, "timeout": "10s", "threshold": 5,
                                         "backoff": "1s",
                                         "headers": {"Authorization": [f"Bearer {webhook_token(cfg, data_dir)}"]}}]},
    }
    (work / "config.yml").write_text(yaml.safe_dump(conf))
    log = (work / "registry.log").open("ab")
    p = subprocess.Popen([binary, "serve", str(work / "config.yml")], stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and p.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 200:
                return p, f"127.0.0.1:{port}  (notifications → {hook}; log {work / 'registry.log'})"
        except httpx.HTTPError:
            time.sleep(0.1)
    p.kill()
    raise PropolisError(f"docker-registry did not start on 127.0.0.1:{port}; see {work / 'registry.log'}")


def up(cfg: Config, console: Console, ready_timeout: float = 60.0, registry_port: int = 0) -> int:
    """``registry_port``: also start a registry there whose pushes the gate verifies (0: none)."""
    data_dir = Path(cfg.data_dir)
    nats: EmbeddedNats | None = None
    env = dict(os.environ)
    url = cfg.nats.url
    if not url:
        nats = EmbeddedNats(data_dir / "nats", port=cfg.nats.embedded_port).start()
        url = nats.url
    env["PROPOLIS_NATS__URL"] = url
    procs: list[tuple[str, subprocess.Popen[Any]]] = []
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
        if registry_port:
            reg, where = start_registry(cfg, data_dir, registry_port)
            procs.append(("docker-registry", reg))
            table.add_row("docker-registry", where)
        for spec in runnable():
            p = subprocess.Popen([sys.executable, "-m", "propolis.cli", "serve", spec.name], env=env,
                                 stdout=subprocess.PIPE, text=True, start_new_session=True)
            procs.append((spec.name, p))
            endpoints = _wait_ready(spec.name, p, ready_timeout, stopping)
            table.add_row(spec.name, "\n".join(f"{k}: {v}" for k, v in endpoints.items() if k != "nats"))
            if spec.name == "admission":  # more webhook processes on the same port (see AdmissionConfig)
                extra_env = {**env, "PROPOLIS_GRPC__PORT": "-1", "PROPOLIS_METRICS__PORT": "-1"}
                for i in range(2, cfg.admission.processes + 1):
                    p = subprocess.Popen([sys.executable, "-m", "propolis.cli", "serve", spec.name], env=extra_env,
                                         stdout=subprocess.PIPE, text=True, start_new_session=True)
                    procs.append((f"{spec.name}-{i}", p))
                    extra = _wait_ready(spec.name, p, ready_timeout, stopping)
                    table.add_row(f"{spec.name} #{i}", f"webhook: {extra.get('webhook', '')}")
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
