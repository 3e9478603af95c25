"""The active bundle and its hot reload.

A new revision is fetched, verified and compiled off to the side (in a worker thread); only
when all of that succeeded is it swapped in, by replacing one reference. A decision in flight
holds the old :class:`ActiveBundle` and finishes on it. A candidate that fails leaves the
active bundle as it was and is reported (``last_error``, ``propolis.policy.bundle.rejected``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from propolis.policy.domain.bundle import Bundle
from propolis.policy.domain.decision import DecisionPoint, parse_decision_points
from propolis.policy.domain.engine import CompiledPolicy, PolicyEngine
from propolis.policy.domain.errors import BundleError, EvaluationError
from propolis.policy.domain.signing import VerificationKey, verify_files

log = logging.getLogger(__name__)


class BundleSource(Protocol):
    def describe(self) -> str:
        """Where bundles come from, for logs and status (no secrets)."""
        ...

    def probe(self) -> str:
        """A cheap identity of what ``fetch`` would return now (a commit id, a digest)."""
        ...

    def fetch(self) -> Bundle:
        """Read the bundle; raise :class:`BundleError` with a precise message otherwise."""
        ...


@dataclass(frozen=True)
class ActiveBundle:
    bundle: Bundle
    compiled: CompiledPolicy
    points: dict[str, DecisionPoint]
    loaded_at: float
    probe: str

    @property
    def revision(self) -> str:
        return self.bundle.revision


@dataclass(frozen=True)
class ReloadResult:
    changed: bool
    revision: str
    error: str = ""


Hook = Callable[..., Awaitable[None]]


class BundleManager:
    """Owns the active bundle; is the embedded :class:`Evaluator` of the decision points."""

    mode = "embedded"

    def __init__(self, source: BundleSource, engine: PolicyEngine, key: VerificationKey | None = None,
                 on_activated: Hook | None = None, on_rejected: Hook | None = None) -> None:
        self.source = source
        self.engine = engine
        self.key = key
        self.on_activated = on_activated
        self.on_rejected = on_rejected
        self._active: ActiveBundle | None = None
        self._lock = asyncio.Lock()
        self.last_error = ""
        self.reloads = 0

    # -- state ----------------------------------------------------------------------
    @property
    def active(self) -> ActiveBundle:
        if self._active is None:
            raise EvaluationError("no policy bundle is active")
        return self._active

    @property
    def revision(self) -> str:
        return self._active.revision if self._active else ""

    def points(self) -> dict[str, DecisionPoint]:
        return self._active.points if self._active else {}

    def evaluate(self, path: str, input_json: str) -> tuple[Any, str]:
        act = self.active  # one read: the whole evaluation uses this revision
        return act.compiled.evaluate(path, input_json), act.revision

    # -- loading ----------------------------------------------------------------------
    def prepare(self, probe: str | None = None, source: BundleSource | None = None) -> ActiveBundle:
        """Fetch, verify, compile. Blocking; safe in a worker thread."""
        source = source or self.source
        probe = probe if probe is not None else source.probe()
        bundle = source.fetch()
        if self.key is not None:
            verify_files(bundle.files, bundle.signatures, self.key)
        try:
            points = parse_decision_points(
                bundle.data.get("propolis", {}).get("decision_points") if isinstance(bundle.data, dict) else None)
        except ValueError as exc:
            raise BundleError(str(exc)) from None
        compiled = self.engine.compile(bundle, sorted({p.path for p in points.values()}))
        return ActiveBundle(bundle, compiled, points, time.time(), probe)

    def load_initial(self) -> ActiveBundle:
        self._active = self.prepare()
        log.info("bundle loaded", extra={"revision": self.revision, "source": self.source.describe(),
                                         "decision_points": sorted(self._active.points)})
        return self._active

    async def reload(self, reason: str = "", force: bool = False, source: BundleSource | None = None
                     ) -> ReloadResult:
        """Load a new revision if there is one. With ``source`` (e.g. the same Git repository at
        another ref), switch to it, but only if its bundle passes; otherwise keep everything."""
        async with self._lock:
            previous = self._active
            src = source or self.source
            try:
                probe = await asyncio.to_thread(src.probe)
                if not force and source is None and previous is not None and probe == previous.probe:
                    return ReloadResult(False, previous.revision)
                candidate = await asyncio.to_thread(self.prepare, probe, src)
            except BundleError as exc:
                self.last_error = str(exc)
                log.error("bundle rejected; keeping the active one",
                          extra={"error": self.last_error, "active_revision": self.revision, "reason": reason})
                if self.on_rejected:
                    await self.on_rejected(error=self.last_error, active_revision=self.revision)
                return ReloadResult(False, self.revision, self.last_error)
            if previous is not None and candidate.revision == previous.revision and not force:
                self._active = candidate  # same revision, refreshed probe
                self.source = src
                return ReloadResult(False, candidate.revision)
            self._active = candidate
            self.source = src
            self.last_error = ""
            self.reloads += 1
            log.info("bundle activated", extra={"revision": candidate.revision, "reason": reason,
                                                "previous_revision": previous.revision if previous else ""})
            if self.on_activated:
                await self.on_activated(active=candidate, previous=previous)
            return ReloadResult(True, candidate.revision)

    async def poll(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reload("poll")
            except Exception:  # a bug here must not kill the poller
                log.exception("bundle poll failed")
