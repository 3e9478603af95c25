"""The NATS JetStream bus: connect (or embed a server), declare streams, publish, consume.

- Streams and durable consumers are declared idempotently at start.
- Every publish carries ``Nats-Msg-Id`` = envelope id, so a retried publish is de-duplicated.
- Consumers ack only after the handler returned (its work is durable); a handler that raises
  gets the message redelivered (``nak`` with a delay) up to ``max_deliver`` times. A message that
  is not a valid envelope is terminated (never redelivered) and logged; it stays in the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StreamConfig
from nats.js.errors import NotFoundError

from propolis.kernel import events
from propolis.kernel.config import NatsConfig
from propolis.kernel.embedded_nats import EmbeddedNats
from propolis.kernel.errors import PropolisError
from propolis.kernel.tasks import cancel_and_wait

log = logging.getLogger(__name__)

Handler = Callable[[events.Envelope[Any], Msg], Awaitable[None]]

_RETENTION = {
    "limits": RetentionPolicy.LIMITS,
    "workqueue": RetentionPolicy.WORK_QUEUE,
    "interest": RetentionPolicy.INTEREST,
}


class BusError(PropolisError):
    pass


class Bus:
    def __init__(self, cfg: NatsConfig, *, data_dir: str | Path, source: str) -> None:
        self.cfg = cfg
        self.data_dir = Path(data_dir)
        self.source = source
        self.embedded: EmbeddedNats | None = None
        self.nc: NATS | None = None
        self._js: JetStreamContext | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pull_subs: list[Any] = []
        self._closing = False
        self.url = cfg.url

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise BusError("bus is not connected")
        return self._js

    async def connect(self) -> Bus:
        self._closing = False
        if not self.url:
            self.embedded = EmbeddedNats(self.data_dir / "nats", port=self.cfg.embedded_port)
            self.embedded.start()  # in this thread: the child is tied to it (see EmbeddedNats)
            self.url = self.embedded.url

        async def on_error(exc: Exception) -> None:
            log.warning("nats error", extra={"error": str(exc)})

        async def on_disconnect() -> None:
            log.warning("nats disconnected", extra={"url": self.url})

        async def on_reconnect() -> None:
            log.info("nats reconnected", extra={"url": self.url})

        try:
            # The first connection must succeed within the timeout; reconnects are unbounded after.
            self.nc = await asyncio.wait_for(nats.connect(
                self.url,
                name=self.source,
                connect_timeout=self.cfg.connect_timeout,
                max_reconnect_attempts=self.cfg.max_reconnect_attempts,
                reconnect_time_wait=self.cfg.reconnect_wait,
                error_cb=on_error,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
                allow_reconnect=True,
            ), timeout=self.cfg.connect_timeout * 2 + 1)
        except Exception as exc:  # nats raises several unrelated types for "cannot connect"
            await self._stop_embedded()
            raise BusError(f"cannot connect to NATS at {self.url}: {exc or type(exc).__name__}") from None
        self._js = self.nc.jetstream()
        return self

    async def ensure_streams(self, specs: Iterable[events.StreamSpec] | None = None) -> None:
        """Create each stream, or bring its configuration up to date; safe to call repeatedly."""
        for spec in specs if specs is not None else events.STREAMS.values():
            cfg = StreamConfig(
                name=spec.name,
                subjects=list(spec.subjects),
                retention=_RETENTION[spec.retention],
                max_age=float(spec.max_age_seconds),
                duplicate_window=120.0,
                description=spec.description or None,
            )
            try:
                info = await self.js.stream_info(spec.name)
            except NotFoundError:
                await self.js.add_stream(cfg)
                continue
            if list(info.config.subjects or []) != list(spec.subjects):
                await self.js.update_stream(cfg)

    async def publish(self, payload: events.Event, *, subject: str = "", policy_revision: str = "",
                      id: str | None = None, timeout: float = 5.0) -> events.Envelope[Any]:
        env = events.envelope(payload, source=self.source, subject=subject,
                              policy_revision=policy_revision, id=id)
        await self.publish_envelope(env, timeout=timeout)
        return env

    async def publish_envelope(self, env: events.Envelope[Any], *, timeout: float = 5.0) -> None:
        spec = events.CATALOGUE[env.type]
        await self.js.publish(spec.subject, events.encode(env), timeout=timeout,
                              headers={"Nats-Msg-Id": env.id})

    async def subscribe(self, subject: str, handler: Handler) -> None:
        """Fan-out (every subscriber gets every message, nothing is acked): for notifications
        such as ``propolis.policy.bundle.updated`` that each replica must see."""
        if self.nc is None:
            raise BusError("bus is not connected")

        async def cb(msg: Msg) -> None:
            try:
                env = events.decode(msg.data)
            except events.EnvelopeError as exc:
                log.error("malformed notification ignored", extra={"subject": msg.subject, "error": str(exc)})
                return
            try:
                await handler(env, msg)
            except Exception:
                log.exception("notification handler failed", extra={"subject": msg.subject})

        await self.nc.subscribe(subject, cb=cb)

    async def consume(self, *, durable: str, subject: str, handler: Handler, stream: str | None = None,
                      max_deliver: int = 5, ack_wait: float = 30.0, batch: int = 32,
                      nak_delay: float | Callable[[int], float] = 0.5, deliver_new: bool = False
                      ) -> asyncio.Task[None]:
        """Start a durable pull consumer; returns the task running it (cancelled on close).
        ``nak_delay`` may be a function of the delivery count, for backoff."""
        stream = stream or next(s.name for s in events.STREAMS.values()
                                if subject.startswith(s.subjects[0][:-1]))
        ccfg = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ack_wait,
            max_deliver=max_deliver,
            filter_subject=subject,
            deliver_policy=DeliverPolicy.NEW if deliver_new else DeliverPolicy.ALL,
        )
        sub = await self.js.pull_subscribe(subject, durable=durable, stream=stream, config=ccfg)
        self._pull_subs.append(sub)

        async def run() -> None:
            while not self._closing:
                try:
                    msgs = await sub.fetch(batch, timeout=1.0)
                except NatsTimeout:
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("fetch failed", extra={"durable": durable, "error": str(exc)})
                    await asyncio.sleep(0.5)
                    continue
                for msg in msgs:
                    await self._deliver(msg, handler, durable, nak_delay)

        task = asyncio.create_task(run(), name=f"consumer:{durable}")
        self._tasks.append(task)
        return task

    async def _deliver(self, msg: Msg, handler: Handler, durable: str,
                       nak_delay: float | Callable[[int], float]) -> None:
        try:
            env = events.decode(msg.data)
        except events.EnvelopeError as exc:
            log.error("poison message terminated", extra={"durable": durable, "subject": msg.subject,
                                                           "error": str(exc), "stream_seq": _seq(msg)})
            await msg.term()
            return
        try:
            await handler(env, msg)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await msg.nak()
            raise
        except Exception as exc:
            log.warning("handler failed; message will be redelivered",
                        extra={"durable": durable, "event_id": env.id, "error": repr(exc),
                               "delivered": _delivered(msg)})
            delay = nak_delay(_delivered(msg) or 1) if callable(nak_delay) else nak_delay
            await msg.nak(delay=delay)
            return
        await msg.ack()

    async def close(self) -> None:
        self._closing = True
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        # A pull subscription whose fetch was cancelled mid-request keeps drain() waiting for its full
        # timeout (30 s); nothing is in flight on it any more, so it is simply removed first.
        for sub in self._pull_subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._pull_subs.clear()
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await self.nc.drain()
        self.nc = None
        self._js = None
        await self._stop_embedded()

    async def _stop_embedded(self) -> None:
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)
            self.embedded = None
            self.url = self.cfg.url


def _seq(msg: Msg) -> int | None:
    with contextlib.suppress(Exception):
        return int(msg.metadata.sequence.stream)
    return None


def _delivered(msg: Msg) -> int | None:
    with contextlib.suppress(Exception):
        return int(msg.metadata.num_delivered)
    return None
