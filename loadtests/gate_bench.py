"""Registry gate: push → verdict latency and burst throughput, everything real.

A real ``docker-registry`` (tests/registry.py, loopback, its own storage) sends its push
notifications to the gate's webhook; the gate queues them on NATS JetStream, scans each pushed
manifest with the scanner gRPC service (which pulls it from the registry), scores it with the
risk gRPC service at the ``registry`` checkpoint, decides with the Rego bundle and quarantines or
attaches an attestation referrer. The three services run in one child process, started with the
integration tests' ``gate()`` helper (tests/test_registry_gate.py: default ``registry.concurrency``
2 and ``max_backlog`` 1000); this process only pushes, listens and times, so its threads do not
share the services' interpreter lock.

1. Push → verdict, small image (requests 2.19.1 dist-info, 2 layers, a handful of files) and
   large image (5 layers, ~3,400 text files, ~30 MB uncompressed, flask/jinja2/urllib3/requests
   dist-info packages with advisories). Every image is salted in every layer and pushed under a
   fresh repository, so neither the scanner's layer cache (keyed by diff_id) nor its stored
   result (keyed by manifest digest) can answer. Timed from just before the manifest PUT (the
   blobs are uploaded before: their upload time is the client's) to the moment the gate's record
   is written to its JetStream key-value bucket (seen by a core NATS subscription on
   ``$KV.<bucket>.>``, not by polling). Reference in the same run: the scan alone, a direct
   ``ScannerService.ScanImage`` call to the same scanner on an equally built image with its own
   salt, pushed by digest to a fresh repository (the gate ignores pushes without a tag).
   Stages come from the events seen on the bus: ``propolis.registry.pushed`` (webhook queued
   the push), ``propolis.scan.catalogued`` (scan stored), ``propolis.decisions.logged`` of the
   record's decision id (published in the background after the decision), the record.
2. Burst: ``--burst`` distinct small images (salted, fresh repositories) pushed from 4 threads as
   fast as possible; time until every push has a gate record, pushes/s, push → verdict p50/p90
   inside the burst, 503 (backlog) answers of the webhook, retries, and a check that every digest
   has exactly one record written once, seen by exactly one notification.

Usage: python loadtests/gate_bench.py [--runs 5] [--burst 40] [--nats URL] [--json out.json]
Without ``--nats`` an embedded nats-server (propolis.kernel.embedded_nats) is started. The
vulnerability index is built from the PyPA OSV test data (``$PROPOLIS_TESTDATA``, default
/work/shared/testdata) as in tests/test_risk_service.py. Figures are ratios against the scan
alone measured in the same run; nothing asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import hashlib
import json
import logging
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.registry import Registry, push_blob, push_manifest, start_registry  # noqa: E402
from tests.scanner.images import layer_tar  # noqa: E402
from tests.scanner.oci_blobs import OCI_CONFIG, OCI_MANIFEST, BuiltImage  # noqa: E402

MB = 1024 * 1024
TESTDATA = Path(os.environ.get("PROPOLIS_TESTDATA", "/work/shared/testdata"))
SITE = "usr/local/lib/python3.11/site-packages"
OS_RELEASE = b'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'
BUCKET = "PROPOLIS_REGISTRY_GATE"  # registry.state_bucket's default, which tests' config() keeps


# ---------------------------------------------------------------------------------------- images
def _sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


@dataclass
class Image:
    kind: str
    built: BuiltImage
    files: int
    uncompressed: int

    @property
    def compressed(self) -> int:
        return sum(len(b) for b in self.built.blobs.values())


def build(kind: str, layers: list[dict[str, object]], created_by: list[str]) -> Image:
    """An OCI image as tests/scanner/oci_blobs.build_image makes it, with gzip level 6 (level 9
    takes ~20 s for the large image and changes nothing the gate does)."""
    blobs: dict[str, bytes] = {}
    descs, diff_ids, digests = [], [], []
    uncompressed = 0
    for spec in layers:
        raw = layer_tar(spec)
        uncompressed += len(raw)
        blob = gzip.compress(raw, compresslevel=6, mtime=0)
        d = _sha(blob)
        blobs[d] = blob
        diff_ids.append(_sha(raw))
        digests.append(d)
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": len(blob)})
    config = json.dumps({"os": "linux", "architecture": "amd64",
                         "config": {"User": "", "Env": ["PATH=/usr/bin"], "Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids},
                         "history": [{"created_by": c} for c in created_by]}).encode()
    blobs[_sha(config)] = config
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": OCI_CONFIG, "digest": _sha(config), "size": len(config)},
                           "layers": descs}).encode()
    img = BuiltImage(manifest=manifest, media_type=OCI_MANIFEST, config=config, blobs=blobs, layer_digests=digests,
                     diff_ids=diff_ids, platform={"os": "linux", "architecture": "amd64"})
    return Image(kind=kind, built=img, files=sum(len(s) for s in layers), uncompressed=uncompressed)


def dist_info(name: str, version: str, modules: dict[str, bytes] | None = None,
              requires: tuple[str, ...] = ()) -> dict[str, object]:
    """An installed wheel as pip leaves it: METADATA, WHEEL, top_level.txt, RECORD and its modules."""
    di = f"{SITE}/{name}-{version}.dist-info"
    top = name.replace("-", "_").lower()
    files: dict[str, object] = {
        f"{di}/METADATA": (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {name}\n"
                           f"License: BSD-3-Clause\nRequires-Python: >=3.7\n"
                           + "".join(f"Requires-Dist: {r}\n" for r in requires) + "\n").encode(),
        f"{di}/WHEEL": (b"Wheel-Version: 1.0\nGenerator: bdist_wheel (0.41.2)\nRoot-Is-Purelib: true\n"
                        b"Tag: py3-none-any\n"),
        f"{di}/top_level.txt": f"{top}\n".encode(),
        f"{di}/INSTALLER": b"pip\n",
    }
    for mod, data in (modules or {"__init__.py": f'__version__ = "{version}"\n'.encode()}).items():
        files[f"{SITE}/{top}/{mod}"] = data
    record = "".join(f"{p.removeprefix(SITE + '/')},sha256={hashlib.sha256(v).hexdigest()},{len(v)}\n"  # type: ignore[arg-type]
                     for p, v in files.items() if isinstance(v, bytes))
    files[f"{di}/RECORD"] = (record + f"{name}-{version}.dist-info/RECORD,,\n").encode()
    return files


def small_image(salt: str) -> Image:
    """requests 2.19.1 (two moderate advisories) on a Debian os-release; both layers salted."""
    return build("small", [
        {"etc/os-release": OS_RELEASE, "etc/bench-salt": salt.encode()},
        {**dist_info("requests", "2.19.1", requires=("chardet<3.1.0,>=3.0.2", "idna<2.8,>=2.5")),
         f"{SITE}/bench-salt.txt": salt.encode()},
    ], ["ADD rootfs.tar /", f"RUN pip install requests==2.19.1 # {salt}"])


_WORDS = ("def return self import from class if else for in None True False value data result config request "
          "response logger path name items error raise with open json key list dict str int await async yield "
          "lambda pass try except finally while break continue assert global").split() + [
              f"name_{i}" for i in range(400)]


class LargeContent:
    """The large image's file contents, generated once (seeded); only the salts change per image."""

    def __init__(self, app_files: int = 3200, lines: int = 120) -> None:
        rng = random.Random(20261129)

        def text(n: int) -> bytes:
            return "\n".join(" ".join(rng.choices(_WORDS, k=10)) for _ in range(n)).encode() + b"\n"

        self.docs = {f"usr/share/doc/pkg{i // 8}/README{i % 8}.txt": text(12) for i in range(200)}
        self.app = [{f"srv/app/part{part}/mod{i // 50}/file{i}.py": text(lines)
                     for i in range(part * app_files // 3, (part + 1) * app_files // 3)} for part in range(3)]
        pkgs: dict[str, object] = {}
        for name, version, n in (("flask", "2.0.1", 24), ("jinja2", "2.11.3", 30), ("urllib3", "1.26.5", 28),
                                 ("requests", "2.25.1", 18)):
            pkgs.update(dist_info(name, version, {f"m{i}.py": text(40) for i in range(n)}))
        self.pkgs = pkgs


def large_image(content: LargeContent, salt: str) -> Image:
    layers: list[dict[str, object]] = [
        {"etc/os-release": OS_RELEASE, **content.docs, "etc/bench-salt": salt.encode()},
        *({**part, f"srv/app/salt{i}.txt": salt.encode()} for i, part in enumerate(content.app)),  # type: ignore[list-item]
        {**content.pkgs, f"{SITE}/bench-salt.txt": salt.encode()},
    ]
    return build("large", layers, ["ADD rootfs.tar /", "COPY app/part0 /srv/app", "COPY app/part1 /srv/app",
                                   f"COPY app/part2 /srv/app # {salt}", "RUN pip install -r requirements.txt"])


# ---------------------------------------------------------------------------------------- the gate (child process)
def serve_gate(conn: Any, nats_url: str, vulndb: str, work: str) -> None:
    """Child process: scanner, risk and registry gate as the integration tests start them."""
    asyncio.run(_serve_gate(conn, nats_url, Path(vulndb), Path(work)))


async def _serve_gate(conn: Any, nats_url: str, vulndb: Path, work: Path) -> None:
    from propolis.registry.service import Backlogged
    from tests.test_registry_gate import config, gate

    stats: dict[str, float] = defaultdict(int)

    class Counting(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                stats[f"log: {record.getMessage()}"] += 1

    work.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.WARNING, filename=str(work / "gate.log"),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger().addHandler(Counting())
    cfg = config(work, nats_url, vulndb)
    async with gate(cfg) as g:
        svc = g.svc
        ingest = svc.ingest

        async def counted(body: bytes) -> Any:
            stats["notifications"] += 1
            try:
                return await ingest(body)
            except Backlogged:
                stats["503 backlogged"] += 1
                raise

        svc.ingest = counted  # type: ignore[method-assign]  # the webhook calls gate.ingest per request
        conn.send({"webhook": g.webhook, "token": g.token, "scanner": g.cfg.registry.scanner_address,
                   "concurrency": g.cfg.registry.concurrency, "max_backlog": g.cfg.registry.max_backlog,
                   "bucket": g.cfg.registry.state_bucket, "pid": os.getpid()})
        while True:
            cmd = await asyncio.to_thread(conn.recv)
            if cmd == "stats":
                t = os.times()
                conn.send({**stats, "cpu_s": t.user + t.system})
            else:
                break
    conn.send(dict(stats))


def ask_stats(conn: Any) -> dict[str, float]:
    conn.send("stats")
    return dict(conn.recv())


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (/proc/<pid>/stat), 0 when unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


# ---------------------------------------------------------------------------------------- watching the bus
class Watcher:
    """Arrival times (monotonic, this process) of the events that mark each stage."""

    def __init__(self, nats_url: str, bucket: str) -> None:
        self.url, self.bucket = nats_url, bucket
        self.nc: Any = None
        self.pushed: dict[tuple[str, str], float] = {}
        self.scanned: dict[str, float] = {}
        self.decided: dict[str, float] = {}
        self.records: dict[str, list[tuple[float, dict[str, Any]]]] = defaultdict(list)
        self._waiters: dict[str, asyncio.Event] = defaultdict(asyncio.Event)

    async def start(self) -> None:
        import nats

        from propolis.kernel import events

        self.nc = await nats.connect(self.url)

        async def on_pushed(msg: Any) -> None:
            d = events.decode(msg.data).data
            self.pushed.setdefault((d.repository, d.digest), time.monotonic())

        async def on_scanned(msg: Any) -> None:
            d = events.decode(msg.data).data
            self.scanned.setdefault(d.image.digest, time.monotonic())

        async def on_decided(msg: Any) -> None:
            d = events.decode(msg.data).data
            self.decided.setdefault(d.decision_id, time.monotonic())

        prefix = f"$KV.{self.bucket}."

        async def on_record(msg: Any) -> None:
            t = time.monotonic()
            key = msg.subject[len(prefix):]
            with contextlib.suppress(ValueError):
                self.records[key].append((t, json.loads(msg.data) if msg.data else {}))
                self._waiters[key].set()

        await self.nc.subscribe("propolis.registry.pushed", cb=on_pushed)
        await self.nc.subscribe("propolis.scan.catalogued", cb=on_scanned)
        await self.nc.subscribe("propolis.decisions.logged", cb=on_decided)
        await self.nc.subscribe(prefix + ">", cb=on_record)
        await self.nc.flush()

    async def record(self, repo: str, digest: str, timeout: float) -> tuple[float, dict[str, Any]]:
        from propolis.registry.service import state_key

        key = state_key(repo, digest)
        await asyncio.wait_for(self._waiters[key].wait(), timeout)
        return self.records[key][0]

    async def stored(self, repo: str, digest: str) -> dict[str, Any] | None:
        """The record as stored in the bucket now (read back, not from the subscription)."""
        from nats.js.errors import KeyNotFoundError

        from propolis.registry.service import state_key

        kv = await self.nc.jetstream().key_value(self.bucket)
        try:
            entry = await kv.get(state_key(repo, digest))
        except KeyNotFoundError:
            return None
        return json.loads(entry.value) if entry.value else None

    async def close(self) -> None:
        if self.nc is not None:
            await self.nc.close()


# ---------------------------------------------------------------------------------------- measurements
@dataclass
class Push:
    repo: str
    digest: str
    t_blobs: float  # blob uploads start
    t_put: float  # just before the manifest PUT
    t_put_done: float


def push(reg: Registry, repo: str, tag: str | None, img: BuiltImage) -> Push:
    """Blobs, then the manifest under ``tag`` (``None``: by digest, which the gate ignores)."""
    with httpx.Client(base_url=f"http://{reg.host}", timeout=120) as c:
        t_blobs = time.monotonic()
        for digest, data in img.blobs.items():
            push_blob(c, repo, digest, data)
        t_put = time.monotonic()
        digest = push_manifest(c, repo, tag or img.digest, img.manifest, img.media_type)
        done = time.monotonic()
    assert digest == img.digest, (digest, img.digest)
    return Push(repo, digest, t_blobs, t_put, done)


@dataclass
class Verdict:
    kind: str
    repo: str
    total_s: float
    put_s: float
    #: PUT start → propolis.registry.pushed (registry notification, webhook, JetStream publish)
    notify_s: float | None
    #: pushed → scan.catalogued (consumer pick-up, manifest and blob checks, scan, matching, store)
    scan_s: float | None
    #: catalogued → decision logged (risk checkpoint, policy decision, background decision log publish)
    decide_s: float | None
    #: decision logged → record (attestation or quarantine, record write; may be < 0: the log is async)
    act_s: float | None
    status: str
    verdict: str
    score: float | None


def _between(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def verdict_of(w: Watcher, kind: str, p: Push, t_rec: float, rec: dict[str, Any]) -> Verdict:
    repo = p.repo
    t_pushed = w.pushed.get((repo, p.digest))
    t_scanned = w.scanned.get(p.digest)
    t_decided = w.decided.get(rec.get("decision_id", ""))
    return Verdict(kind=kind, repo=repo, total_s=t_rec - p.t_put, put_s=p.t_put_done - p.t_put,
                   notify_s=_between(p.t_put, t_pushed), scan_s=_between(t_pushed, t_scanned),
                   decide_s=_between(t_scanned, t_decided), act_s=_between(t_decided, t_rec),
                   status=rec.get("status", "?"), verdict=rec.get("verdict", "?"), score=rec.get("score"))


async def push_to_verdict(reg: Registry, w: Watcher, img: Image, tag: str, timeout: float) -> Verdict:
    repo = f"bench/{img.kind}-{uuid.uuid4().hex[:10]}"
    p = await asyncio.to_thread(push, reg, repo, tag, img.built)
    t_rec, rec = await w.record(repo, p.digest, timeout)
    await asyncio.sleep(0.3)  # let the background decision log publish arrive
    return verdict_of(w, img.kind, p, t_rec, rec)


async def scan_alone(reg: Registry, stub: Any, img: Image) -> tuple[float, int, int]:
    from propolis.common.v1 import common_pb2
    from propolis.scanner.v1 import scanner_pb2

    repo = f"bench/ref-{img.kind}-{uuid.uuid4().hex[:10]}"
    p = await asyncio.to_thread(push, reg, repo, None, img.built)
    t0 = time.monotonic()
    resp = await stub.ScanImage(scanner_pb2.ScanImageRequest(
        image=common_pb2.ImageRef(reference=f"{reg.host}/{repo}@{p.digest}")), timeout=600)
    dt = time.monotonic() - t0
    return dt, len(resp.result.packages), len(resp.result.findings)


def pct(xs: list[float], q: float) -> float:
    """Percentile with linear interpolation between closest ranks (q in 0..100)."""
    s = sorted(xs)
    if len(s) == 1:
        return s[0]
    k = (len(s) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


@dataclass
class KindResult:
    kind: str
    files: int
    layers: int
    uncompressed_mb: float
    compressed_mb: float
    packages: int
    findings: int
    verdicts: list[str]
    scan_s: list[float]
    verdict_s: list[float]
    stages: dict[str, list[float]] = field(default_factory=dict)
    put_s: list[float] = field(default_factory=list)


@dataclass
class BurstResult:
    pushes: int
    threads: int
    client_s: float
    #: first gate record → last gate record: the rate at which verdicts come out once the queue is full
    drain_rate: float
    #: CPU seconds used during the burst by the gate process (scanner, risk, gate) and by the registry
    gate_cpu_s: float
    registry_cpu_s: float
    wall_s: float
    latencies: list[float]
    lost: int
    duplicate_records: int
    multi_event_records: int
    statuses: dict[str, int]
    notifications: int
    backlogged_503: int
    retries: int
    stages: dict[str, list[float]] = field(default_factory=dict)


async def burst(reg: Registry, w: Watcher, images: list[Image], threads: int, timeout: float) -> tuple[
        float, float, list[Push], list[tuple[float, dict[str, Any]] | None]]:
    repos = [f"bench/burst-{i}-{uuid.uuid4().hex[:8]}" for i in range(len(images))]
    shares = [list(range(t, len(images), threads)) for t in range(threads)]
    results: dict[int, Push] = {}
    start_gate = threading.Barrier(threads + 1)

    def worker(idx: list[int]) -> None:
        start_gate.wait()
        for i in idx:
            results[i] = push(reg, repos[i], "1.0", images[i].built)

    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(threads) as ex:
        futs = [loop.run_in_executor(ex, worker, s) for s in shares]
        await asyncio.to_thread(start_gate.wait)
        t_start = time.monotonic()
        await asyncio.gather(*futs)
        t_pushed = time.monotonic()
    pushes = [results[i] for i in range(len(images))]
    recs: list[tuple[float, dict[str, Any]] | None] = []
    deadline = time.monotonic() + timeout
    for p in pushes:
        try:
            recs.append(await w.record(p.repo, p.digest, max(deadline - time.monotonic(), 0.01)))
        except TimeoutError:
            recs.append(None)
    return t_start, t_pushed - t_start, pushes, recs


# ---------------------------------------------------------------------------------------- reporting
def _s(x: float | None, fmt: str = "{:.3f}") -> str:
    return "–" if x is None else fmt.format(x)


def table(kinds: list[KindResult], b: BurstResult | None, runs: int) -> str:
    lines = [f"Push → verdict ({runs} runs each; p50 / p90 in seconds; ratio = push→verdict p50 / scan alone p50)",
             "",
             "| image | layers | files | uncompressed MB | compressed MB | packages | findings | verdict "
             "| scan alone p50 | scan alone p90 | push→verdict p50 | push→verdict p90 | ratio p50 | overhead p50 s |",
             "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for k in kinds:
        sp50, vp50 = statistics.median(k.scan_s), statistics.median(k.verdict_s)
        verdicts = ", ".join(sorted(set(k.verdicts)))
        lines.append(f"| {k.kind} | {k.layers} | {k.files} | {k.uncompressed_mb:.2f} | {k.compressed_mb:.2f} "
                     f"| {k.packages} | {k.findings} | {verdicts} | {sp50:.3f} | {pct(k.scan_s, 90):.3f} "
                     f"| {vp50:.3f} | {pct(k.verdict_s, 90):.3f} | {vp50 / sp50:.2f} | {vp50 - sp50:.3f} |")
    lines += ["", "Stages of push → verdict (p50 s; from bus event arrival times):", "",
              "| image | manifest PUT | PUT → pushed (notification, webhook, queue) | pushed → scan stored "
              "| scan stored → decision logged (risk, policy) | decision logged → record (act, write) |",
              "|---|---:|---:|---:|---:|---:|"]
    for k in kinds:
        st = {n: (statistics.median(v) if v else None) for n, v in k.stages.items()}
        lines.append(f"| {k.kind} | {statistics.median(k.put_s):.3f} | {_s(st.get('notify'))} | {_s(st.get('scan'))} "
                     f"| {_s(st.get('decide'))} | {_s(st.get('act'))} |")
    if b is not None:
        st = {n: (statistics.median(v) if v else None) for n, v in b.stages.items()}
        lines.append(f"| burst (small) | – | {_s(st.get('notify'))} | {_s(st.get('scan'))} "
                     f"| {_s(st.get('decide'))} | {_s(st.get('act'))} |")
    if b is not None:
        small_scan = next((statistics.median(k.scan_s) for k in kinds if k.kind == "small"), None)
        rate = b.pushes / b.wall_s
        ref = (1 / small_scan) if small_scan else None
        lat = b.latencies or [float("nan")]
        lines += ["", f"Burst: {b.pushes} distinct small images from {b.threads} threads "
                      "(wall = first blob upload → last gate record; latency = manifest PUT → record)", "",
                  "| pushes | client push s | wall s | pushes/s | serial scan-alone rate /s | ratio | p50 s | p90 s "
                  "| max s | 503 backlogged | retries | lost | duplicate records |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
                  f"| {b.pushes} | {b.client_s:.2f} | {b.wall_s:.2f} | {rate:.2f} | {_s(ref, '{:.2f}')} "
                  f"| {_s(rate / ref if ref else None, '{:.2f}')} | {pct(lat, 50):.3f} | {pct(lat, 90):.3f} "
                  f"| {max(lat):.3f} | {b.backlogged_503} | {b.retries} | {b.lost} | {b.duplicate_records} |",
                  "", f"Verdicts per second from the first to the last record: {b.drain_rate:.2f}; CPU used during "
                      f"the burst: gate process {b.gate_cpu_s:.2f} s ({b.gate_cpu_s / b.wall_s:.2f} of a core, "
                      f"{b.gate_cpu_s / b.pushes * 1000:.0f} ms per push), registry {b.registry_cpu_s:.2f} s "
                      f"({b.registry_cpu_s / b.wall_s:.2f} of a core)",
                  "", f"Burst record statuses: {b.statuses}; records with more than one event id: "
                      f"{b.multi_event_records}; webhook requests during the burst (every registry event: blob "
                      f"and manifest pushes, pulls, the gate's own attestation pushes): {b.notifications}"]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- main
def build_vulndb(path: Path) -> Path:
    from propolis.scanner.vulndb.importers import detect
    from propolis.scanner.vulndb.store import build as build_db

    src = TESTDATA / "vulndb" / "osv-pypi"
    if not src.is_dir():
        raise SystemExit(f"test data {src} not found; set PROPOLIS_TESTDATA to the shared testdata folder")
    importer = detect(src)
    assert importer is not None
    build_db(path, [(importer, src)])
    return path


async def amain(args: argparse.Namespace, work: Path) -> int:
    import grpc

    from propolis.kernel.embedded_nats import EmbeddedNats
    from propolis.scanner.v1 import scanner_pb2_grpc

    t0 = time.monotonic()
    nats_srv = None
    if args.nats:
        nats_url = args.nats
    else:
        nats_srv = EmbeddedNats(work / "nats").start()
        nats_url = nats_srv.url
    proc = None
    reg = None
    w = None
    parent = None
    try:
        vulndb = await asyncio.to_thread(build_vulndb, work / "vulndb.sqlite")
        print(f"vulnerability index built ({time.monotonic() - t0:.1f} s); building images", file=sys.stderr)
        content = await asyncio.to_thread(LargeContent)
        with ThreadPoolExecutor(2) as ex:  # zlib and hashing release the GIL
            larges = list(ex.map(lambda _: large_image(content, uuid.uuid4().hex), range(2 * args.runs)))
        smalls = [small_image(uuid.uuid4().hex) for _ in range(2 * args.runs)]
        bursts = [small_image(uuid.uuid4().hex) for _ in range(args.burst)]
        lg = larges[0]
        print(f"large image: {len(lg.built.layer_digests)} layers, {lg.files} files, {lg.uncompressed / MB:.1f} MB "
              f"uncompressed, {lg.compressed / MB:.1f} MB compressed; images built "
              f"({time.monotonic() - t0:.1f} s)", file=sys.stderr)

        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=serve_gate, args=(child, nats_url, str(vulndb), str(work / "gate")), daemon=True)
        proc.start()
        if not await asyncio.to_thread(parent.poll, 120):
            raise RuntimeError("the gate did not start within 120 s (see its log under the work directory)")
        info = parent.recv()
        print(f"gate up (pid {info['pid']}, concurrency {info['concurrency']}, max_backlog {info['max_backlog']}); "
              f"webhook {info['webhook']}", file=sys.stderr)
        reg = await asyncio.to_thread(start_registry, work / "reg", notify=(info["webhook"], info["token"]))
        w = Watcher(nats_url, info["bucket"])
        await w.start()

        async with grpc.aio.insecure_channel(info["scanner"]) as ch:
            stub = scanner_pb2_grpc.ScannerServiceStub(ch)
            # Warm-up (not counted): first imports, first vulnerability index load, first channels.
            await push_to_verdict(reg, w, small_image(uuid.uuid4().hex), "warmup", args.timeout)
            await scan_alone(reg, stub, small_image(uuid.uuid4().hex))
            kinds: dict[str, KindResult] = {}
            for kind, sample in (("small", smalls[0]), ("large", larges[0])):
                kinds[kind] = KindResult(kind=kind, files=sample.files, layers=len(sample.built.layer_digests),
                                         uncompressed_mb=sample.uncompressed / MB, compressed_mb=sample.compressed / MB,
                                         packages=0, findings=0, verdicts=[], scan_s=[], verdict_s=[],
                                         stages={"notify": [], "scan": [], "decide": [], "act": []})
            for r in range(args.runs):
                for kind, pool in (("small", smalls), ("large", larges)):
                    k = kinds[kind]
                    gate_img, ref_img = pool[2 * r], pool[2 * r + 1]
                    order = ("gate", "ref") if r % 2 == 0 else ("ref", "gate")  # interleaved
                    for what in order:
                        if what == "ref":
                            dt, k.packages, k.findings = await scan_alone(reg, stub, ref_img)
                            k.scan_s.append(dt)
                        else:
                            v = await push_to_verdict(reg, w, gate_img, "1.0", args.timeout)
                            k.verdict_s.append(v.total_s)
                            k.put_s.append(v.put_s)
                            k.verdicts.append(f"{v.status} ({v.verdict}, score {_s(v.score, '{:.0f}')})")
                            for name, val in (("notify", v.notify_s), ("scan", v.scan_s), ("decide", v.decide_s),
                                              ("act", v.act_s)):
                                if val is not None:
                                    k.stages[name].append(val)
                    print(f"  run {r + 1} {kind}: scan alone {k.scan_s[-1]:.3f} s, "
                          f"push→verdict {k.verdict_s[-1]:.3f} s ({k.verdicts[-1]})", file=sys.stderr)

        b = None
        if args.burst:
            before = await asyncio.to_thread(ask_stats, parent)
            reg_cpu0 = proc_cpu(reg.proc.pid)
            t_start, client_s, pushes, recs = await burst(reg, w, bursts, args.threads, args.timeout)
            await asyncio.sleep(1.0)  # let late duplicate writes, if any, arrive
            after = await asyncio.to_thread(ask_stats, parent)
            reg_cpu = proc_cpu(reg.proc.pid) - reg_cpu0
            from propolis.registry.service import state_key

            lost = dup = multi = 0
            statuses: dict[str, int] = defaultdict(int)
            for p, rec in zip(pushes, recs, strict=True):
                stored = await w.stored(p.repo, p.digest)
                if rec is None or stored is None:
                    lost += 1
                    continue
                statuses[stored.get("status", "?")] += 1
                if len(w.records[state_key(p.repo, p.digest)]) != 1:
                    dup += 1
                if len(stored.get("event_ids") or []) != 1:
                    multi += 1
            stages: dict[str, list[float]] = {"notify": [], "scan": [], "decide": [], "act": []}
            for p, rec in zip(pushes, recs, strict=True):
                if rec is not None:
                    v = verdict_of(w, "small", p, *rec)
                    for name, val in (("notify", v.notify_s), ("scan", v.scan_s), ("decide", v.decide_s),
                                      ("act", v.act_s)):
                        if val is not None:
                            stages[name].append(val)
            done = [rec[0] for rec in recs if rec is not None]
            lat = [rec[0] - p.t_put for p, rec in zip(pushes, recs, strict=True) if rec is not None]
            retries = sum(v - before.get(k, 0) for k, v in after.items() if "verified again later" in k)
            b = BurstResult(pushes=len(pushes), threads=args.threads, client_s=client_s,
                            wall_s=(max(done) - t_start) if done else float("nan"), latencies=lat, lost=lost,
                            drain_rate=(len(done) - 1) / (max(done) - min(done)) if len(done) > 1 else float("nan"),
                            gate_cpu_s=after["cpu_s"] - before["cpu_s"], registry_cpu_s=reg_cpu,
                            duplicate_records=dup, multi_event_records=multi, statuses=dict(statuses),
                            notifications=int(after.get("notifications", 0) - before.get("notifications", 0)),
                            backlogged_503=int(after.get("503 backlogged", 0) - before.get("503 backlogged", 0)),
                            retries=int(retries), stages=stages)
        stats = await asyncio.to_thread(ask_stats, parent)
        print(f"\nRegistry gate, Python {sys.version.split()[0]}, {os.cpu_count()} cores, NATS "
              f"{'embedded' if nats_srv else nats_url}, load average before/after: {args.load_before} / "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
        print(table(list(kinds.values()), b, args.runs))
        warnings = {k: v for k, v in stats.items() if k.startswith("log: ")}
        if warnings:
            print(f"\ngate warnings during the run: {warnings}")
        if args.json:
            args.json.write_text(json.dumps({"kinds": [asdict(k) for k in kinds.values()],
                                             "burst": asdict(b) if b else None, "gate_stats": stats}, indent=2))
        return 0 if b is None or (b.lost == 0 and b.duplicate_records == 0) else 1
    finally:
        if w is not None:
            await w.close()
        if reg is not None:
            reg.stop()
        if proc is not None:
            with contextlib.suppress(Exception):
                if parent is not None and proc.is_alive():
                    parent.send("stop")
            proc.join(30)
            if proc.is_alive():
                proc.terminate()
                proc.join(10)
        if nats_srv is not None:
            nats_srv.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="push → verdict measurements per image size")
    ap.add_argument("--burst", type=int, default=40, help="distinct small images pushed at once (0: skip)")
    ap.add_argument("--threads", type=int, default=4, help="pushing threads in the burst")
    ap.add_argument("--nats", default="", help="NATS URL (default: an embedded nats-server)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for a verdict")
    ap.add_argument("--keep", type=Path, help="work directory to keep (logs, registry storage)")
    ap.add_argument("--json", type=Path, help="write the results as JSON too")
    args = ap.parse_args()
    args.load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return asyncio.run(amain(args, args.keep.resolve()))
    with tempfile.TemporaryDirectory(prefix="propolis-gate-bench-") as tmp:
        return asyncio.run(amain(args, Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
