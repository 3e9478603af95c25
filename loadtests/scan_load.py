"""Scanner load: gRPC ``ScanImage`` under concurrent clients, and the scan work queue with one and
then two scanner processes.

(a) gRPC: one ``propolis serve scanner`` process (``max_concurrent_scans`` 2); ``--clients``
    concurrent clients scan a corpus of ``--images`` distinct images (written with
    ``tests/scanner/images.py``: a Debian-like base of its own per image plus application
    layers). *Cold*: a fresh data dir, so an empty layer cache; every image is new, so the stored
    result shortcut cannot answer. *Warm*: the same images again with ``force`` (the shortcut is
    bypassed, the layer cache answers).
(b) Queue: ``--requests`` distinct images (no layer shared between them, so no cache helps),
    published as one burst on ``propolis.scan.requests`` to 1 and then 2 ``propolis serve
    scanner`` processes (separate data dirs, ``--slots`` scans each, one shared NATS and one
    shared store, a fresh store schema or file per run). Latency is publish → receipt of
    ``propolis.scan.completed``; queue depth is the consumer's ``num_pending`` sampled every
    100 ms; the ratio is 2-process throughput over 1-process throughput.

Usage: python loadtests/scan_load.py [--clients 4] [--images 16] [--requests 30] [--slots 1]
       [--nats URL] [--store auto|sqlite|postgresql://...] [--json out.json]
The machine NATS (nats://127.0.0.1:4222) is used when it answers, else an embedded server; the
store is the machine PostgreSQL when it answers (``auto``), else a shared SQLite file.
Everything runs on loopback and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402

from propolis.common.v1 import common_pb2  # noqa: E402
from propolis.kernel import events  # noqa: E402
from propolis.kernel.bus import Bus  # noqa: E402
from propolis.kernel.config import NatsConfig  # noqa: E402
from propolis.kernel.embedded_nats import EmbeddedNats  # noqa: E402
from propolis.scanner.adapters.queue import STREAM, queue_depth, submit  # noqa: E402
from propolis.scanner.v1 import scanner_pb2, scanner_pb2_grpc  # noqa: E402
from tests.scanner.images import Link, write_oci_layout  # noqa: E402

#: Set from ``--vulndb``: the index every scanner process matches against ("" = no matching).
VULNDB = ""
POSTGRES = os.environ.get("PROPOLIS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


# ---------------------------------------------------------------------------------------- corpus
def image_layers(tag: str, files: int, pkgs: int) -> list[dict[str, object]]:
    """A base (os-release, a dpkg status of ``pkgs`` packages, ``files`` doc files) and two
    application layers (Python packages and files); every path and byte is unique to ``tag``."""
    status = "".join(f"Package: {tag}-pkg{i}\nStatus: install ok installed\nVersion: 1.{i}-1\nArchitecture: amd64\n"
                     f"Maintainer: m\nDescription: d\n\n" for i in range(pkgs)).encode()
    base: dict[str, object] = {"usr/lib/os-release": b'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
                               "etc/os-release": Link("../usr/lib/os-release"), "var/lib/dpkg/status": status}
    for i in range(files):
        base[f"usr/share/doc/{tag}-pkg{i % pkgs}/f{i}.txt"] = f"{tag} documentation {i}\n".encode() * 4
    site = "usr/local/lib/python3.11/site-packages"
    layers = [base]
    for n in range(2):
        layer: dict[str, object] = {}
        for i in range(20):
            layer[f"{site}/{tag}_l{n}_lib{i}-0.{i}.dist-info/METADATA"] = (
                f"Metadata-Version: 2.1\nName: {tag}-l{n}-lib{i}\nVersion: 0.{i}\n\n".encode())
        for i in range(files // 2):
            layer[f"srv/{tag}/l{n}/m{i}.py"] = f"# {tag} module {i}\nVALUE = {i}\n".encode()
        layers.append(layer)
    return layers


def write_corpus(root: Path, prefix: str, count: int, files: int, pkgs: int) -> list[Path]:
    return [write_oci_layout(root / f"{prefix}{i}", image_layers(f"{prefix}{i}-{uuid.uuid4().hex[:6]}", files, pkgs))
            for i in range(count)]


# ---------------------------------------------------------------------------------------- processes
class Scanner:
    """``propolis serve scanner`` in its own process; its endpoints come from the ready line."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        full = {k: v for k, v in os.environ.items() if not k.startswith("PROPOLIS_")} | env
        full["PROPOLIS_DATA_DIR"] = str(data_dir)
        full.setdefault("PROPOLIS_LOG_LEVEL", "warning")
        if VULNDB:
            full["PROPOLIS_SCANNER__VULNDB_PATH"] = VULNDB
        self.proc = subprocess.Popen([sys.executable, "-m", "propolis.cli", "serve", "scanner"], cwd=ROOT, env=full,
                                     stdout=subprocess.PIPE, stderr=(data_dir / "scanner.log").open("wb"))
        line: list[bytes] = []
        t = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()))  # type: ignore[union-attr]
        t.start()
        t.join(60)
        if not line or b'"ready"' not in line[0]:
            self.stop()
            raise SystemExit(f"scanner did not start: {(data_dir / 'scanner.log').read_text()[-2000:]}")
        self.endpoints: dict[str, str] = json.loads(line[0])["endpoints"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def reachable(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


# ---------------------------------------------------------------------------------------- (a) gRPC
async def grpc_round(target: str, images: list[Path], clients: int, force: bool) -> dict[str, Any]:
    todo: asyncio.Queue[Path] = asyncio.Queue()
    for img in images:
        todo.put_nowait(img)
    latencies: list[float] = []
    packages = 0

    async def client() -> None:
        nonlocal packages
        async with grpc.aio.insecure_channel(target) as ch:
            stub = scanner_pb2_grpc.ScannerServiceStub(ch)
            while not todo.empty():
                img = todo.get_nowait()
                t0 = time.perf_counter()
                res = await stub.ScanImage(scanner_pb2.ScanImageRequest(
                    image=common_pb2.ImageRef(reference=str(img)), options=scanner_pb2.ScanOptions(force=force)),
                    timeout=600)
                latencies.append(time.perf_counter() - t0)
                packages += len(res.result.packages)

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - t0
    return {"scans": len(latencies), "seconds": wall, "per_second": len(latencies) / wall,
            "p50": pct(latencies, 0.5), "p99": pct(latencies, 0.99), "packages": packages}


async def part_a(work: Path, nats_url: str, images: list[Path], clients: int) -> list[dict[str, Any]]:
    srv = Scanner(work / "grpc-scanner", {"PROPOLIS_NATS__URL": nats_url, "PROPOLIS_GRPC__PORT": "-1",
                                          "PROPOLIS_METRICS__PORT": "-1", "PROPOLIS_SCANNER__QUEUE_ENABLED": "false"})
    try:
        target = srv.endpoints["grpc"].split("://", 1)[1]
        cold = await grpc_round(target, images, clients, force=False)
        warm = await grpc_round(target, images, clients, force=True)
    finally:
        srv.stop()
    return [{"mode": "cold (empty layer cache, new images)", **cold},
            {"mode": "warm (layer cache, force=true)", **warm}]


# ---------------------------------------------------------------------------------------- (b) queue
async def queue_round(work: Path, nats_url: str, store_url: str, images: list[Path], procs: int,
                      slots: int) -> dict[str, Any]:
    durable = f"scanner-load-{uuid.uuid4().hex[:8]}"
    env = {"PROPOLIS_NATS__URL": nats_url, "PROPOLIS_GRPC__PORT": "-1", "PROPOLIS_METRICS__PORT": "-1",
           "PROPOLIS_SCANNER__STORE_URL": store_url, "PROPOLIS_SCANNER__QUEUE_DURABLE": durable,
           "PROPOLIS_SCANNER__QUEUE_DELIVER": "new", "PROPOLIS_SCANNER__MAX_CONCURRENT_SCANS": str(slots)}
    scanners = [Scanner(work / f"q{procs}-scanner{i}", env) for i in range(procs)]
    bus = await Bus(NatsConfig(url=nats_url), data_dir=work, source="propolis/loadtest").connect()
    assert bus.nc is not None
    published: dict[str, float] = {}
    completed: dict[str, float] = {}
    errors: list[str] = []
    all_done = asyncio.Event()

    async def on_completed(msg: Any) -> None:
        data = events.decode(msg.data).data
        if data.request_id in published and data.request_id not in completed:
            completed[data.request_id] = time.perf_counter()
            if data.error:
                errors.append(data.error)
            if len(completed) == len(images):
                all_done.set()

    sub = await bus.nc.subscribe("propolis.scan.completed", cb=on_completed)
    max_depth = 0

    async def sample() -> None:
        nonlocal max_depth
        while not all_done.is_set():
            with contextlib.suppress(Exception):
                pending, _ = await queue_depth(bus, durable)
                max_depth = max(max_depth, pending)
            await asyncio.sleep(0.1)

    try:
        sampler = asyncio.create_task(sample())
        t0 = time.perf_counter()
        for img in images:
            rid = uuid.uuid4().hex
            published[rid] = time.perf_counter()
            await submit(bus, str(img), request_id=rid, force=True)
        await asyncio.wait_for(all_done.wait(), timeout=1800)
        wall = max(completed.values()) - t0
        await sampler
    finally:
        await sub.unsubscribe()
        for s in scanners:
            s.stop()
        with contextlib.suppress(Exception):
            await bus.js.delete_consumer(STREAM, durable)
        await bus.nc.close()
        await bus.close()
    lat = [completed[r] - published[r] for r in completed]
    return {"processes": procs, "requests": len(images), "failed": len(errors), "seconds": wall,
            "per_second": len(images) / wall, "p50": pct(lat, 0.5), "p99": pct(lat, 0.99), "max_depth": max_depth}


def fresh_store(kind: str, work: Path, run: str) -> tuple[str, Any]:
    """A store URL for one run and how to remove it afterwards."""
    if kind.startswith("postgres"):
        import psycopg

        base = POSTGRES if kind == "postgresql" else kind
        schema = f"propolis_load_{run}_{uuid.uuid4().hex[:8]}"

        def drop() -> None:
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

        return f"{base}{'&' if '?' in base else '?'}schema={schema}", drop
    path = work / f"store-{run}" / "scans.db"
    return f"sqlite://{path}", lambda: shutil.rmtree(path.parent, ignore_errors=True)


# ---------------------------------------------------------------------------------------- report
def table(rows: list[dict[str, Any]], cols: list[tuple[str, str, str]]) -> str:
    out = ["| " + " | ".join(h for h, _, _ in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join(format(r[k], f) if f else str(r[k]) for _, k, f in cols) + " |")
    return "\n".join(out)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--images", type=int, default=16, help="gRPC corpus size")
    ap.add_argument("--requests", type=int, default=30, help="queued requests per run (distinct images)")
    ap.add_argument("--slots", type=int, default=1, help="max_concurrent_scans of each queue scanner process")
    ap.add_argument("--files", type=int, default=6000, help="files in an image's base layer")
    ap.add_argument("--nats", default="")
    ap.add_argument("--store", default="auto")
    ap.add_argument("--vulndb", default="", help="vulnerability index every scanner matches against (default: none)")
    ap.add_argument("--skip-grpc", action="store_true")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    global VULNDB
    VULNDB = str(Path(args.vulndb).resolve()) if args.vulndb else ""

    embedded = None
    nats_url = args.nats or "nats://127.0.0.1:4222"
    if not args.nats and not reachable("127.0.0.1", 4222):
        embedded = EmbeddedNats(Path(tempfile.mkdtemp(prefix="propolis-load-nats-"))).start()
        nats_url = embedded.url
    store = args.store
    if store == "auto":
        u = urlsplit(POSTGRES)
        store = "postgresql" if reachable(u.hostname or "127.0.0.1", u.port or 5432) else "sqlite"
    bus = await Bus(NatsConfig(url=nats_url), data_dir=tempfile.gettempdir(), source="propolis/loadtest").connect()
    await bus.ensure_streams()
    await bus.close()

    work = Path(tempfile.mkdtemp(prefix="propolis-scan-load-"))
    results: dict[str, Any] = {"nats": "machine" if embedded is None else "embedded", "store": store.split(":")[0],
                               "cpus": os.cpu_count(), "args": vars(args)}
    try:
        t = time.perf_counter()
        print(f"writing corpora in {work} ...", file=sys.stderr)
        grpc_images = [] if args.skip_grpc else write_corpus(work / "grpc", "g", args.images, args.files, 200)
        queue_images = {n: write_corpus(work / f"queue{n}", f"q{n}-", args.requests, args.files, 200) for n in (1, 2)}
        print(f"corpora written in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        if grpc_images:
            results["grpc"] = await part_a(work, nats_url, grpc_images, args.clients)
        runs = []
        for n in (1, 2):
            url, drop = fresh_store(store, work, f"p{n}")
            try:
                runs.append(await queue_round(work, nats_url, url, queue_images[n], n, args.slots))
            finally:
                drop()
        results["queue"] = runs
        results["scaling"] = runs[1]["per_second"] / runs[0]["per_second"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if embedded is not None:
            embedded.stop()

    print(f"\nNATS: {results['nats']}, store: {results['store']}, {results['cpus']} CPUs, "
          f"vulnerability matching: {VULNDB or 'off'}\n")
    if "grpc" in results:
        print(f"### gRPC ScanImage: {args.images} distinct images, {args.clients} concurrent clients, "
              "one scanner process (max_concurrent_scans 2)\n")
        print(table(results["grpc"], [("mode", "mode", ""), ("scans", "scans", ""), ("wall s", "seconds", ".2f"),
                                      ("scans/s", "per_second", ".2f"), ("p50 s", "p50", ".3f"),
                                      ("p99 s", "p99", ".3f")]))
    print(f"\n### Work queue: {args.requests} distinct images per run (force=true), {args.slots} scan slot(s) "
          "per process, fresh stores and caches per run\n")
    print(table(results["queue"], [("processes", "processes", ""), ("requests", "requests", ""),
                                   ("failed", "failed", ""), ("wall s", "seconds", ".2f"),
                                   ("requests/s", "per_second", ".2f"), ("p50 s", "p50", ".2f"),
                                   ("p99 s", "p99", ".2f"), ("max queue depth", "max_depth", "")]))
    print(f"\nscaling 2 vs 1 process: {results['scaling']:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
