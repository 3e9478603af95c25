"""Shutdown must end background tasks even when one cancellation is swallowed (Python 3.11's
``asyncio.wait_for`` race, which nats-py's requests and fetches go through)."""

from __future__ import annotations

import asyncio
import contextlib

from propolis.kernel.tasks import cancel_and_wait


async def test_a_task_that_swallows_one_cancellation_is_cancelled_again() -> None:
    swallowed = 0

    async def loop() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                swallowed += 1
                if swallowed > 1:
                    raise
                # what a lost cancellation looks like from outside: the loop goes on

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    # A single cancel-then-await would wait forever here.
    assert await asyncio.wait_for(cancel_and_wait([task], timeout=5), 10) is True
    assert task.cancelled() and swallowed == 2


async def test_a_task_that_never_ends_is_reported_within_the_bound() -> None:
    stop = asyncio.Event()

    async def stubborn() -> None:
        while not stop.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(10)

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    assert await cancel_and_wait([task], timeout=0.5) is False
    assert not task.done()
    stop.set()
    task.cancel()
    await asyncio.wait([task], timeout=1)
    assert task.done()


async def test_failed_and_finished_tasks_do_not_raise() -> None:
    async def boom() -> None:
        raise RuntimeError("failed earlier")

    failed = asyncio.create_task(boom())
    finished = asyncio.create_task(asyncio.sleep(0))
    await asyncio.sleep(0.01)
    assert await cancel_and_wait([failed, finished]) is True
