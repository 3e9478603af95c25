"""JetStream publish / consume / ack / redelivery, against the machine's NATS and the embedded one."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from propolis.kernel import events
from propolis.kernel.bus import Bus, BusError
from propolis.kernel.config import NatsConfig

pytestmark = pytest.mark.nats


async def _bus(url: str, tmp_path: Path) -> Bus:
    bus = await Bus(NatsConfig(url=url), data_dir=tmp_path, source="propolis/test").connect()
    await bus.ensure_streams()
    await bus.ensure_streams()  # idempotent
    return bus


async def test_publish_consume_ack_and_redelivery(nats_url: str, tmp_path: Path) -> None:
    bus = await _bus(nats_url, tmp_path)
    marker = uuid.uuid4().hex
    seen: list[tuple[str, int]] = []
    done = asyncio.Event()
    attempts: dict[str, int] = {}

    async def handler(env: events.Envelope[Any], msg: Any) -> None:
        if env.data.reason != marker:
            return
        attempts[env.id] = attempts.get(env.id, 0) + 1
        if attempts[env.id] == 1 and env.subject == "fail-once":
            raise RuntimeError("transient failure")  # not acked -> redelivered
        seen.append((env.subject, msg.metadata.num_delivered))
        if len(seen) == 2:
            done.set()

    try:
        await bus.consume(durable=f"t-{marker}", subject="propolis.policy.bundle.updated", handler=handler,
                          nak_delay=0.1, deliver_new=True)
        await bus.publish(events.BundleUpdated(reason=marker), subject="ok")
        await bus.publish(events.BundleUpdated(reason=marker), subject="fail-once")
        await asyncio.wait_for(done.wait(), 15)
        assert sorted(seen) == [("fail-once", 2), ("ok", 1)]
    finally:
        await bus.js.delete_consumer("PROPOLIS_POLICY", f"t-{marker}")
        await bus.close()


async def test_publish_is_deduplicated_by_message_id(nats_url: str, tmp_path: Path) -> None:
    bus = await _bus(nats_url, tmp_path)
    try:
        eid = uuid.uuid4().hex
        env = events.envelope(events.BundleUpdated(reason="dup"), source="t", id=eid)
        await bus.publish_envelope(env)
        ack = await bus.js.publish("propolis.policy.bundle.updated", events.encode(env),
                                   headers={"Nats-Msg-Id": eid})
        assert ack.duplicate is True
    finally:
        await bus.close()


async def test_poison_message_is_terminated_not_redelivered(nats_url: str, tmp_path: Path) -> None:
    bus = await _bus(nats_url, tmp_path)
    marker = uuid.uuid4().hex
    good = asyncio.Event()
    calls: list[str] = []

    async def handler(env: events.Envelope[Any], msg: Any) -> None:
        calls.append(env.data.reason)
        if env.data.reason == marker:
            good.set()

    try:
        await bus.consume(durable=f"p-{marker}", subject="propolis.policy.bundle.updated", handler=handler,
                          deliver_new=True)
        await bus.js.publish("propolis.policy.bundle.updated", b"\xff not an envelope")
        await bus.js.publish("propolis.policy.bundle.updated", b'{"specversion":"1.0"}')
        await bus.publish(events.BundleUpdated(reason=marker))
        await asyncio.wait_for(good.wait(), 10)
        await asyncio.sleep(0.3)
        info = await bus.js.consumer_info("PROPOLIS_POLICY", f"p-{marker}")
        assert info.num_ack_pending == 0 and info.num_redelivered == 0
        assert calls == [marker]
    finally:
        await bus.js.delete_consumer("PROPOLIS_POLICY", f"p-{marker}")
        await bus.close()


async def test_embedded_server_starts_when_no_url(tmp_path: Path) -> None:
    bus = await Bus(NatsConfig(url=""), data_dir=tmp_path, source="t").connect()
    try:
        assert bus.embedded is not None and bus.url.startswith("nats://127.0.0.1:")
        await bus.ensure_streams()
        ack = await bus.js.publish("propolis.policy.bundle.updated",
                                   events.encode(events.envelope(events.BundleUpdated(), source="t")))
        assert ack.stream == "PROPOLIS_POLICY"
        assert (tmp_path / "nats" / "jetstream").is_dir()  # store under the data dir
        proc = bus.embedded.proc
    finally:
        await bus.close()
    assert proc is not None and proc.poll() is not None  # child stopped


async def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    cfg = NatsConfig(url="nats://127.0.0.1:1", connect_timeout=0.5, max_reconnect_attempts=0)
    with pytest.raises(BusError, match="cannot connect to NATS at nats://127.0.0.1:1"):
        await Bus(cfg, data_dir=tmp_path, source="t").connect()
