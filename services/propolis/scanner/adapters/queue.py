"""The ``propolis.scan.requests`` work queue: scanners share requests, each handled once.

Clients publish :class:`~propolis.kernel.events.ScanRequested` envelopes (:func:`submit`); the
envelope id is the ``request_id``, so JetStream's duplicate window (``Nats-Msg-Id``) drops a
re-published request. Every scanner process pulls from one shared durable consumer
(``scanner.queue_durable`` on the ``PROPOLIS_SCAN`` stream), so each request is delivered to one
of them at a time. A scanner takes only as many requests as it has free scan slots, so a busy
scanner leaves the rest to the others.

Delivery guarantees, request by request:

- **Ack after the report is stored** and ``propolis.scan.completed`` is published. A scanner that
  dies mid-scan never acks; after ``scanner.queue_ack_wait`` seconds the request is redelivered
  to a live scanner. A long scan keeps its request with ``in_progress`` heartbeats (every third
  of the ack wait), so only a dead scanner loses it.
- **One report per request.** The store refuses a second report for a ``request_id`` (unique
  constraint); a redelivered request whose report exists is answered from it (the completed
  event is published again under the same message id, so JetStream drops it if the first one got
  through) and acked.
- **Failures are reports too.** An image that does not exist, or a registry that does not
  answer, gives a failed report with the error and a completed event with ``error`` set; the
  request is acked, not retried. Anything else (store or bus down) is nak'ed with a delay and
  retried, at most ``scanner.queue_max_deliver`` deliveries: the last one stores a failed report.
  A scanner crashing on every delivery is stopped by the same cap (JetStream stops delivering).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from propolis.kernel import events
from propolis.kernel.bus import Bus
from propolis.kernel.tasks import cancel_and_wait
from propolis.scanner.adapters.store import DuplicateRequest, StoredScan

if TYPE_CHECKING:
    from propolis.scanner.service import ScannerService, ScanRequest

log = logging.getLogger(__name__)

SUBJECT = "propolis.scan.requests"
STREAM = events.CATALOGUE[SUBJECT].stream
#: Delay before a request whose handling failed unexpectedly is offered again.
_NAK_DELAY = 2.0


async def submit(bus: Bus, reference: str, *, request_id: str = "", digest: str = "", platform: str = "",
                 force: bool = False, skip_secrets: bool = False, skip_config: bool = False,
                 skip_vulnerabilities: bool = False, formats: list[str] | None = None) -> str:
    """Queue a scan of ``reference``; returns the request id (a new one unless given).

    Publishing the same ``request_id`` again within JetStream's duplicate window (2 minutes) is
    dropped by the server; after it, the scanners still store one report per id."""
    rid = request_id or uuid.uuid4().hex
    payload = events.ScanRequested(request_id=rid, image=events.ImageRef(reference=reference, digest=digest),
                                   formats=list(formats or []), platform=platform, force=force,
                                   skip_secrets=skip_secrets, skip_config=skip_config,
                                   skip_vulnerabilities=skip_vulnerabilities)
    await bus.publish(payload, id=rid, subject=rid)
    return rid


def completed_event(req: events.ScanRequested, report: StoredScan) -> events.ScanCompleted:
    from propolis.scanner.service import findings_by_severity

    cat = report.catalogue
    return events.ScanCompleted(
        request_id=req.request_id, report_id=report.scan_id,
        image=events.ImageRef(reference=cat.reference or req.image.reference,
                              digest=cat.manifest_digest or req.image.digest),
        findings_by_severity={} if report.error else findings_by_severity(report.findings),
        verdict="", error=report.error)


@dataclass
class QueueStats:
    """What this scanner did with the requests it was given (tests and load runs read it)."""

    delivered: int = 0
    scanned: int = 0
    failed: int = 0
    #: Requests whose report already existed (redelivery, duplicate publish after the window).
    duplicates: int = 0
    #: Deliveries nak'ed for a retry.
    retried: int = 0
    #: Deliveries that were not a request's first (its earlier scanner died, or nak'ed it).
    redeliveries: int = 0


class ScanQueueWorker:
    """Pulls scan requests for one scanner process, at most ``max_concurrent_scans`` at a time."""

    def __init__(self, svc: ScannerService, bus: Bus) -> None:
        self.svc = svc
        self.bus = bus
        sc = svc.cfg.scanner
        self.durable = sc.queue_durable
        self.ack_wait = max(1.0, sc.queue_ack_wait)
        self.max_deliver = max(1, sc.queue_max_deliver)
        self.deliver_new = sc.queue_deliver == "new"
        self.slots = max(1, sc.max_concurrent_scans)
        self.stats = QueueStats()
        self._free = asyncio.Semaphore(self.slots)
        self._loop_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sub: Any = None

    async def start(self) -> None:
        """Create (or bind to) the shared durable consumer and start pulling."""
        cfg = ConsumerConfig(durable_name=self.durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=self.ack_wait,
                             max_deliver=self.max_deliver, filter_subject=SUBJECT, max_ack_pending=10_000,
                             deliver_policy=DeliverPolicy.NEW if self.deliver_new else DeliverPolicy.ALL)
        self._sub = await self.bus.js.pull_subscribe(SUBJECT, durable=self.durable, stream=STREAM, config=cfg)
        self._loop_task = asyncio.create_task(self._run(), name=f"scan-queue:{self.durable}")
        log.info("taking scan requests", extra={"durable": self.durable, "slots": self.slots,
                                                "ack_wait": self.ack_wait, "max_deliver": self.max_deliver})

    async def stop(self, grace: float = 10.0) -> None:
        """Stop pulling; requests in hand get ``grace`` seconds, then are nak'ed for another scanner."""
        if self._loop_task is not None:
            await cancel_and_wait([self._loop_task])
            self._loop_task = None
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            if pending:
                await cancel_and_wait(pending, timeout=5)
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def _run(self) -> None:
        while True:
            await self._free.acquire()
            free = 1
            while free < self.slots and not self._free.locked():  # take every free slot at once
                await self._free.acquire()
                free += 1
            try:
                msgs = await self._sub.fetch(free, timeout=1.0)
            except NatsTimeout:
                msgs = []
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("fetching scan requests failed", extra={"durable": self.durable, "error": str(exc)})
                msgs = []
                await asyncio.sleep(0.5)
            for _ in range(free - len(msgs)):
                self._free.release()
            for msg in msgs:
                task = asyncio.create_task(self._handle(msg))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _heartbeat(self, msg: Msg) -> None:
        while True:
            await asyncio.sleep(self.ack_wait / 3)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def _handle(self, msg: Msg) -> None:
        beat = asyncio.create_task(self._heartbeat(msg))
        try:
            await self._process(msg)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await msg.nak()
            raise
        finally:
            beat.cancel()
            self._free.release()

    async def _process(self, msg: Msg) -> None:
        self.stats.delivered += 1
        try:
            env = events.decode(msg.data)
            if not isinstance(env.data, events.ScanRequested):
                raise events.EnvelopeError(f"{env.type} is not a scan request")
        except events.EnvelopeError as exc:
            log.error("malformed scan request terminated", extra={"error": str(exc)})
            await msg.term()
            return
        req: events.ScanRequested = env.data
        delivered = _delivered(msg)
        self.stats.redeliveries += delivered > 1
        started = time.monotonic()
        try:
            report = await self._report(req, last=delivered >= self.max_deliver)
            await self.bus.publish(completed_event(req, report), subject=report.scan_id,
                                   id=f"{req.request_id}.completed")
        except Exception as exc:
            self.stats.retried += 1
            log.warning("scan request failed; it will be redelivered",
                        extra={"request_id": req.request_id, "delivered": delivered, "error": repr(exc)})
            await msg.nak(delay=_NAK_DELAY)
            return
        await msg.ack()
        log.info("scan request done", extra={"request_id": req.request_id, "report_id": report.scan_id,
                                             "error": report.error, "delivered": delivered,
                                             "seconds": round(time.monotonic() - started, 3)})

    async def _report(self, req: events.ScanRequested, *, last: bool) -> StoredScan:
        """The request's report: the stored one, a new scan's, or a failed one."""
        from propolis.scanner.service import ScanRequest, ScanRequestError

        store = self.svc.store
        existing = await asyncio.to_thread(store.by_request, req.request_id)
        if existing is not None:
            self.stats.duplicates += 1
            return existing
        sreq = ScanRequest(reference=req.image.reference, platform=req.platform, digest=req.image.digest,
                           secrets=not req.skip_secrets, config=not req.skip_config, force=req.force,
                           vulnerabilities=not req.skip_vulnerabilities, request_id=req.request_id)
        try:
            outcome = await self.svc.scan(sreq)
        except DuplicateRequest as dup:  # another scanner stored it meanwhile (ack_wait ran out)
            self.stats.duplicates += 1
            if dup.existing is None:
                raise
            return dup.existing
        except ScanRequestError as exc:
            return await self._fail(sreq, str(exc))
        except Exception as exc:
            if not last:
                raise
            return await self._fail(sreq, f"gave up after {self.max_deliver} deliveries: {exc!r}")
        self.stats.scanned += 1
        return outcome.scan

    async def _fail(self, sreq: ScanRequest, error: str) -> StoredScan:
        try:
            report = await asyncio.to_thread(self.svc.store_failure, sreq, error)
        except DuplicateRequest as dup:
            self.stats.duplicates += 1
            if dup.existing is None:
                raise
            return dup.existing
        self.stats.failed += 1
        return report


async def queue_depth(bus: Bus, durable: str) -> tuple[int, int]:
    """(requests not yet delivered, delivered but not acked) of the shared consumer."""
    info = await bus.js.consumer_info(STREAM, durable)
    return int(info.num_pending or 0), int(info.num_ack_pending or 0)


def _delivered(msg: Msg) -> int:
    with contextlib.suppress(Exception):
        return int(msg.metadata.num_delivered)
    return 1
