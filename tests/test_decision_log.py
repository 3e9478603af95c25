"""The decision log keeps retrying until JetStream stores the decision; nothing is dropped."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from propolis.kernel import events
from propolis.kernel.bus import Bus
from propolis.kernel.config import NatsConfig
from propolis.policy.adapters.decision_log import JetStreamDecisionLog
from propolis.policy.domain.decision import Decision

pytestmark = pytest.mark.nats


def _decision() -> Decision:
    return Decision(decision_id=uuid.uuid4().hex, decision_point="demo", path="propolis/demo/decision",
                    revision="r1", result={"allow": True}, outcome="evaluated", reasons=[],
                    input_digest="sha256:00", input_bytes=2, duration_us=1.0, mode="embedded")


async def test_decisions_survive_a_missing_stream_and_arrive_once(tmp_path: Path) -> None:
    # A private server, so deleting the stream disturbs nobody.
    bus = await Bus(NatsConfig(url=""), data_dir=tmp_path, source="t").connect()
    try:
        await bus.ensure_streams([s for s in events.STREAMS.values() if s.name != "PROPOLIS_DECISIONS"])
        dlog = JetStreamDecisionLog(bus)
        dlog.start()
        sent = [_decision() for _ in range(20)]
        for d in sent:
            await dlog.put(d)
        await asyncio.sleep(0.5)  # publishes fail: no stream listens on propolis.decisions.>
        assert not await dlog.flush(0.1)
        await bus.ensure_streams([events.STREAMS["PROPOLIS_DECISIONS"]])
        assert await dlog.flush(15)
        await dlog.close()
        info = await bus.js.stream_info("PROPOLIS_DECISIONS")
        assert info.state.messages == len(sent)  # every decision stored, none twice
        sub = await bus.js.pull_subscribe("propolis.decisions.logged", durable="check", stream="PROPOLIS_DECISIONS")
        got = {events.decode(m.data).data.decision_id for m in await sub.fetch(len(sent), timeout=5)}
        assert got == {d.decision_id for d in sent}
    finally:
        await bus.close()
