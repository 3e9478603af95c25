"""Stopping background tasks reliably.

On Python 3.11, ``asyncio.wait_for`` can swallow a cancellation that arrives just as the future
it waits on completes (CPython gh-86296, fixed in 3.12). nats-py waits with ``wait_for`` inside
every request and fetch, so a consumer loop cancelled at that moment simply goes on looping,
and a shutdown that awaits it once waits forever. :func:`cancel_and_wait` cancels again until
the task has really ended, within a bound.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)


async def cancel_and_wait(tasks: Iterable[asyncio.Task[object]] | Iterable[asyncio.Task[None]],
                          timeout: float = 10.0) -> bool:
    """Cancel ``tasks`` and wait until all have ended, re-cancelling any that survive a cancel.

    Returns False (and logs which) when some are still running after ``timeout`` seconds. The
    tasks' own exceptions are retrieved and logged, never raised: this is for shutdown paths.
    """
    all_tasks = [t for t in tasks if t is not asyncio.current_task()]
    pending = {t for t in all_tasks if not t.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pending:
        for t in pending:
            t.cancel()
        remaining = deadline - loop.time()
        if remaining <= 0:
            log.error("tasks still running after cancellation", extra={"tasks": sorted(t.get_name() for t in pending)})
            return False
        _, pending = await asyncio.wait(pending, timeout=min(0.25, remaining))
    for t in all_tasks:
        if t.done() and not t.cancelled() and (exc := t.exception()) is not None:
            log.error("task failed before shutdown", extra={"task": t.get_name(), "error": repr(exc)})
    return True
