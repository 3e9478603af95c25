"""The decision log: every decision appended to JetStream (``propolis.decisions.logged``).

Records go through a bounded queue to a background publisher, so evaluating never waits on
the network; when the queue is full, :meth:`put` waits (back-pressure) instead of dropping.
Each record is published with ``Nats-Msg-Id`` = decision id, so a retried publish is not
stored twice. A record whose publish fails is retried with back-off until it is stored or
the log is closed, at which point what is left is counted and reported.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import Counter, Gauge

from propolis.kernel.bus import Bus
from propolis.kernel.events import DecisionLogged
from propolis.kernel.tasks import cancel_and_wait
from propolis.policy.domain.decision import Decision

log = logging.getLogger(__name__)

LOGGED = Counter("propolis_decision_log_published_total", "decisions stored in the decision log")
RETRIES = Counter("propolis_decision_log_retries_total", "decision log publishes retried")
UNSENT = Counter("propolis_decision_log_unsent_total", "decisions not stored when the log closed")
DEPTH = Gauge("propolis_decision_log_queue_depth", "decisions waiting to be published")


def to_event(d: Decision) -> DecisionLogged:
    return DecisionLogged(decision_id=d.decision_id, decision_point=d.decision_point, path=d.path,
                          revision=d.revision, input_digest=d.input_digest, input_bytes=d.input_bytes,
                          result=d.result, outcome=d.outcome, reasons=d.reasons, error=d.error,
                          duration_us=round(d.duration_us, 1), mode=d.mode)


class JetStreamDecisionLog:
    def __init__(self, bus: Bus, capacity: int = 10_000, batch: int = 256) -> None:
        self.bus = bus
        self.batch = batch
        self.queue: asyncio.Queue[Decision] = asyncio.Queue(capacity)
        self._task: asyncio.Task[None] | None = None
        self._inflight = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="decision-log")

    async def put(self, decision: Decision) -> None:
        await self.queue.put(decision)
        DEPTH.set(self.queue.qsize())

    async def _run(self) -> None:
        # Publishes are pipelined: up to ``batch`` in flight at once, each awaiting its own ack.
        while True:
            pending = [await self.queue.get()]
            while len(pending) < self.batch and not self.queue.empty():
                pending.append(self.queue.get_nowait())
            delay = 0.05
            self._inflight = len(pending)
            while pending:
                results = await asyncio.gather(*(self._publish(d) for d in pending), return_exceptions=True)
                failed = [d for d, r in zip(pending, results, strict=True) if isinstance(r, BaseException)]
                for _ in range(len(pending) - len(failed)):
                    self.queue.task_done()
                LOGGED.inc(len(pending) - len(failed))
                if failed:
                    RETRIES.inc(len(failed))
                    log.warning("decision log publish failed; retrying",
                                extra={"failed": len(failed), "error": repr(next(
                                    r for r in results if isinstance(r, BaseException)))})
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
                pending = failed
                self._inflight = len(pending)
            DEPTH.set(self.queue.qsize())

    async def _publish(self, d: Decision) -> None:
        await self.bus.publish(to_event(d), subject=d.decision_point or d.path, policy_revision=d.revision,
                               id=d.decision_id)

    async def flush(self, timeout: float = 5.0) -> bool:
        try:
            await asyncio.wait_for(self.queue.join(), timeout)
            return True
        except TimeoutError:
            return False

    async def close(self, timeout: float = 5.0) -> None:
        flushed = await self.flush(timeout)
        if self._task:
            await cancel_and_wait([self._task])
        if not flushed:
            left = self.queue.qsize() + self._inflight
            UNSENT.inc(left)
            log.error("decision log closed with unsent decisions", extra={"unsent": left})
