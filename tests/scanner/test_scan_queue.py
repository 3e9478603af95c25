"""The ``propolis.scan.requests`` work queue with real NATS (machine and embedded), real scanner
services (in-process and ``propolis serve scanner`` subprocesses) and real report stores.

Each test uses a durable consumer of its own (created with deliver policy ``new``, deleted after)
so runs sharing the machine's NATS do not take each other's requests; assertions count only the
test's own request ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from propolis.kernel import events
from propolis.kernel.app import Running, start
from propolis.kernel.bus import Bus
from propolis.kernel.config import Config, NatsConfig
from propolis.scanner.adapters.queue import STREAM, ScanQueueWorker, queue_depth, submit
from propolis.scanner.adapters.store import ReportStore, open_store
from propolis.scanner.service import ScannerService
from tests.conftest import ROOT
from tests.scanner.images import write_oci_layout
from tests.scanner.test_cache import app_layer, base_layer
from tests.scanner.test_scanner_service import demo_image
from tests.scanner.test_scanner_service_store import drop_postgres_schema, postgres_url

pytestmark = pytest.mark.nats


def scanner_config(data_dir: Path, nats_url: str, store_url: str, durable: str, **scanner: Any) -> Config:
    return msgspec.convert({
        "data_dir": str(data_dir), "grpc": {"port": -1}, "metrics": {"port": -1}, "nats": {"url": nats_url},
        "scanner": {"store_url": store_url, "queue_durable": durable, "queue_deliver": "new",
                    "max_concurrent_scans": 1, **scanner}}, Config)


@contextlib.asynccontextmanager
async def scanner(cfg: Config) -> AsyncIterator[ScannerService]:
    r: Running = await start("scanner", cfg)
    try:
        assert isinstance(r.service, ScannerService)
        yield r.service
    finally:
        await r.stop()


def worker(svc: ScannerService) -> ScanQueueWorker:
    assert isinstance(svc.queue, ScanQueueWorker)
    return svc.queue


@pytest.fixture
async def bus(nats_url: str, tmp_path: Path) -> AsyncIterator[Bus]:
    b = await Bus(NatsConfig(url=nats_url), data_dir=tmp_path, source="propolis/test").connect()
    await b.ensure_streams()
    try:
        yield b
    finally:
        if b.nc is not None:  # close, not drain: a timed-out fetch leaves a pull request that drain waits 30 s on
            await b.nc.close()
        await b.close()


@pytest.fixture
async def durable(bus: Bus) -> AsyncIterator[str]:
    name = f"scanner-test-{uuid.uuid4().hex[:10]}"
    yield name
    with contextlib.suppress(Exception):
        await bus.js.delete_consumer(STREAM, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """One store URL every scanner of a test shares."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'shared' / 'scans.db'}"
        return
    url = postgres_url()
    try:
        yield url
    finally:
        drop_postgres_schema(url)


class Completed:
    """Every ``propolis.scan.completed`` event published after creation (an ephemeral consumer)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.events: list[events.ScanCompleted] = []
        self._sub: Any = None

    async def start(self) -> Completed:
        self._sub = await self.bus.js.pull_subscribe(
            "propolis.scan.completed", stream=STREAM,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW, inactive_threshold=60.0))
        return self

    async def drain(self, seconds: float = 0.3) -> None:
        with contextlib.suppress(Exception):
            for m in await self._sub.fetch(256, timeout=seconds):
                await m.ack()
                self.events.append(events.decode(m.data).data)

    def of(self, ids: set[str]) -> list[events.ScanCompleted]:
        return [e for e in self.events if e.request_id in ids]

    async def wait_for(self, ids: set[str], timeout: float = 60.0) -> list[events.ScanCompleted]:
        deadline = time.monotonic() + timeout
        while {e.request_id for e in self.of(ids)} != ids:
            if time.monotonic() > deadline:
                raise AssertionError(f"completed {len({e.request_id for e in self.of(ids)})} of {len(ids)}")
            await self.drain(0.5)
        return self.of(ids)


def reports(store_url: str, tmp_path: Path, ids: set[str]) -> dict[str, Any]:
    store: ReportStore = open_store(store_url, tmp_path)
    try:
        return {rid: r for rid in ids if (r := store.by_request(rid)) is not None}
    finally:
        store.close()


# ---------------------------------------------------------------------------------------- sharing the work
async def test_two_scanners_share_requests_each_handled_once(bus: Bus, durable: str, tmp_path: Path,
                                                             nats_url: str, shared_store: str) -> None:
    n = 12
    images = [demo_image(tmp_path / "images", f"img{i}", f"a{i}") for i in range(n)]
    done = await Completed(bus).start()
    cfg_a = scanner_config(tmp_path / "a", nats_url, shared_store, durable)
    cfg_b = scanner_config(tmp_path / "b", nats_url, shared_store, durable)
    async with scanner(cfg_a) as a, scanner(cfg_b) as b:
        ids = {await submit(bus, str(img)) for img in images}
        got = await done.wait_for(ids)
        await asyncio.sleep(1.0)
        await done.drain()
        wa, wb = worker(a).stats, worker(b).stats
    assert len(done.of(ids)) == n and all(e.error == "" and e.report_id for e in got)
    assert wa.scanned > 0 and wb.scanned > 0, (wa, wb)  # both took part
    assert wa.scanned + wb.scanned == n and wa.duplicates + wb.duplicates == 0
    stored = reports(shared_store, tmp_path, ids)
    assert len(stored) == n and {e.report_id for e in got} == {r.scan_id for r in stored.values()}
    assert all(len(r.catalogue.packages) == 25 for r in stored.values())
    assert await queue_depth(bus, durable) == (0, 0)


# ---------------------------------------------------------------------------------------- failures
async def test_missing_images_and_unreachable_registries_give_failed_reports_once(
        bus: Bus, durable: str, tmp_path: Path, nats_url: str) -> None:
    store_url = f"sqlite://{tmp_path / 'scans.db'}"
    done = await Completed(bus).start()
    async with scanner(scanner_config(tmp_path / "a", nats_url, store_url, durable, queue_ack_wait=1.0)) as svc:
        missing = await submit(bus, str(tmp_path / "no-such-image.tar"))
        down = await submit(bus, "127.0.0.1:1/nothing/here:1")  # nothing listens on port 1
        got = {e.request_id: e for e in await done.wait_for({missing, down})}
        await asyncio.sleep(2.5)  # longer than ack_wait: an unacked request would come back
        await done.drain()
        stats = worker(svc).stats
        depth = await queue_depth(bus, durable)
    assert "no-such-image.tar" in got[missing].error and "cannot connect" in got[down].error
    assert got[missing].findings_by_severity == {} and got[missing].report_id
    assert len(done.of({missing, down})) == 2
    assert (stats.delivered, stats.failed, stats.redeliveries, stats.retried) == (2, 2, 0, 0)
    assert depth == (0, 0)
    stored = reports(store_url, tmp_path, {missing, down})
    assert stored[missing].error == got[missing].error and stored[missing].scan_id == got[missing].report_id


async def test_a_request_published_twice_gives_one_report(bus: Bus, durable: str, tmp_path: Path,
                                                          nats_url: str) -> None:
    store_url = f"sqlite://{tmp_path / 'scans.db'}"
    img = demo_image(tmp_path)
    done = await Completed(bus).start()
    async with scanner(scanner_config(tmp_path / "a", nats_url, store_url, durable)) as svc:
        rid = f"req-{uuid.uuid4().hex}"
        # Within the duplicate window the server drops the second publish (same Nats-Msg-Id) ...
        assert await submit(bus, str(img), request_id=rid) == await submit(bus, str(img), request_id=rid)
        await done.wait_for({rid})
        # ... and after it (simulated: another envelope id) the stored report answers, nothing is rescanned.
        await bus.publish(events.ScanRequested(request_id=rid, image=events.ImageRef(reference=str(img))),
                          id=uuid.uuid4().hex)
        for _ in range(300):
            if worker(svc).stats.duplicates:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        await done.drain()
        stats = worker(svc).stats
    assert (stats.delivered, stats.scanned, stats.duplicates) == (2, 1, 1)
    # The completed event is published again under the same message id: JetStream drops it.
    assert len(done.of({rid})) == 1
    store = open_store(store_url, tmp_path)
    try:
        assert store.count() == 1 and store.by_request(rid) is not None
    finally:
        store.close()


# ---------------------------------------------------------------------------------------- slow scans and crashes
@pytest.fixture(scope="module")
def slow_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An image whose scan takes seconds (8 layers of 20,000 files each)."""
    filler = [f"usr/share/doc/x/f{i}.txt" for i in range(20_000)]
    layers = [base_layer(), *[{**app_layer(f"l{n}", 40), **{f"{p}{n}": b"text" for p in filler}} for n in range(8)]]
    return write_oci_layout(tmp_path_factory.mktemp("slow") / "slow", layers)


async def test_heartbeats_keep_a_long_scan_with_its_scanner(bus: Bus, durable: str, tmp_path: Path, nats_url: str,
                                                            slow_image: Path) -> None:
    """ack_wait is 1 s and the scan takes longer: without ``in_progress`` the other scanner would get it."""
    store_url = f"sqlite://{tmp_path / 'scans.db'}"
    done = await Completed(bus).start()
    kw: dict[str, Any] = {"queue_ack_wait": 1.0, "cache_max_bytes": 0}
    async with (scanner(scanner_config(tmp_path / "a", nats_url, store_url, durable, **kw)) as a,
                scanner(scanner_config(tmp_path / "b", nats_url, store_url, durable, **kw)) as b):
        started = time.monotonic()
        rid = await submit(bus, str(slow_image))
        await done.wait_for({rid}, timeout=120)
        took = time.monotonic() - started
        sa, sb = worker(a).stats, worker(b).stats
    assert took > 3.0, f"the scan took {took:.1f}s: too fast to show anything"
    assert (sa.delivered + sb.delivered, sa.scanned + sb.scanned, sa.redeliveries + sb.redeliveries) == (1, 1, 0)


class Subprocess:
    """``propolis serve scanner`` in its own process, ready once it printed its ready line."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.log = data_dir / "scanner.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        full = {k: v for k, v in os.environ.items() if not k.startswith("PROPOLIS_")} | env
        self.proc = subprocess.Popen([sys.executable, "-m", "propolis.cli", "serve", "scanner"], cwd=ROOT, env=full,
                                     stdout=subprocess.PIPE, stderr=self.log.open("wb"))
        ready: list[str] = []
        t = threading.Thread(target=lambda: ready.append(self.proc.stdout.readline().decode()))  # type: ignore[union-attr]
        t.start()
        t.join(60)
        if not ready or '"ready"' not in ready[0]:
            self.proc.kill()
            raise AssertionError(f"scanner subprocess not ready: {ready} {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


def subprocess_env(data_dir: Path, nats_url: str, store_url: str, durable: str, **scanner: str) -> dict[str, str]:
    env = {"PROPOLIS_DATA_DIR": str(data_dir), "PROPOLIS_NATS__URL": nats_url, "PROPOLIS_GRPC__PORT": "-1",
           "PROPOLIS_METRICS__PORT": "-1", "PROPOLIS_SCANNER__STORE_URL": store_url,
           "PROPOLIS_SCANNER__QUEUE_DURABLE": durable, "PROPOLIS_SCANNER__QUEUE_DELIVER": "new",
           "PROPOLIS_SCANNER__MAX_CONCURRENT_SCANS": "1"}
    env.update({f"PROPOLIS_SCANNER__{k.upper()}": v for k, v in scanner.items()})
    return env


async def test_a_scanner_killed_mid_scan_loses_nothing(bus: Bus, durable: str, tmp_path: Path, nats_url: str,
                                                       shared_store: str, slow_image: Path) -> None:
    done = await Completed(bus).start()
    proc = Subprocess(tmp_path / "p", subprocess_env(tmp_path / "p", nats_url, shared_store, durable,
                                                     queue_ack_wait="2", cache_max_bytes="0"))
    try:
        rid = await submit(bus, str(slow_image))
        deadline = time.monotonic() + 30
        while await queue_depth(bus, durable) != (0, 1):  # the subprocess has it in hand
            assert time.monotonic() < deadline, "the subprocess never took the request"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
    finally:
        proc.kill()
    assert reports(shared_store, tmp_path, {rid}) == {}, "killed after storing: not mid-scan"
    await done.drain()
    assert done.of({rid}) == []
    async with scanner(scanner_config(tmp_path / "a", nats_url, shared_store, durable, queue_ack_wait=2.0)) as svc:
        got = await done.wait_for({rid}, timeout=120)
        await asyncio.sleep(0.5)
        await done.drain()
        stats = worker(svc).stats
        depth = await queue_depth(bus, durable)
    assert len(done.of({rid})) == 1 and got[0].error == ""
    assert (stats.delivered, stats.redeliveries, stats.scanned, stats.duplicates) == (1, 1, 1, 0)
    stored = reports(shared_store, tmp_path, {rid})
    assert stored[rid].scan_id == got[0].report_id and len(stored[rid].catalogue.packages) == 20 + 8 * 40
    assert depth == (0, 0)
    log = (tmp_path / "p" / "scanner.log").read_text()
    assert "taking scan requests" in log, log[-2000:]


async def test_submitted_options_reach_the_scan(bus: Bus, durable: str, tmp_path: Path, nats_url: str) -> None:
    store_url = f"sqlite://{tmp_path / 'scans.db'}"
    img = demo_image(tmp_path)
    done = await Completed(bus).start()
    async with scanner(scanner_config(tmp_path / "a", nats_url, store_url, durable)):
        plain = await submit(bus, str(img))
        bare = await submit(bus, str(img), force=True, skip_secrets=True, skip_config=True)
        got = {e.request_id: e for e in await done.wait_for({plain, bare})}
    stored = reports(store_url, tmp_path, {plain, bare})
    assert stored[plain].catalogue.secrets and stored[plain].catalogue.facts is not None
    assert stored[bare].catalogue.secrets == [] and stored[bare].catalogue.facts is None
    assert got[plain].image.digest.startswith("sha256:") and got[plain].image.reference == str(img)
    assert got[plain].findings_by_severity == {s: 0 for s in ("critical", "high", "medium", "low", "negligible",
                                                              "unknown")}
    assert json.loads(msgspec.json.encode(got[bare]))["verdict"] == ""
