"""Image facts for admission, from JetStream key-value buckets (never a synchronous scan).

- Risk scores: bucket ``PROPOLIS_RISK_SCORES`` (key = digest with ``:`` → ``_``; value JSON
  ``{"digest", "score", "factors", "bundle_revision", ...}``, written by the risk service). Kept in
  memory: a KV watch fills and refreshes the cache, ``propolis.risk.changed`` refreshes it too (a
  watch consumer lost in a NATS restart does not leave it stale); a miss is read from the bucket
  once (a score written a moment ago), then remembered as unknown for a few seconds.
- Attestation: the registry gate's state bucket ``PROPOLIS_REGISTRY_GATE`` (key
  ``<repository>=<digest with : → _>``, JSON with ``status`` and ``attestation_digest``): an image is
  attested when the gate allowed it and attached its attestation (an OCI referrer).

Each fact is ``{"score", "digest"}``, ``{"unknown": true}`` or, when the caller's time runs out
first, ``{"unavailable": true}``; ``attested`` is added when the gate's bucket is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from typing import Any

import msgspec

from propolis.kernel.bus import Bus
from propolis.kernel.events import Envelope
from propolis.kernel.tasks import cancel_and_wait

log = logging.getLogger(__name__)

_DIGEST_RE = re.compile(r"@(sha256:[0-9a-f]{64})$")
#: Seconds a digest the bucket does not hold is remembered as unknown (the watch updates it sooner).
NEGATIVE_TTL = 5.0


def digest_of(image: str) -> str:
    """The ``sha256:`` digest an image reference is pinned to, or ""."""
    m = _DIGEST_RE.search(image)
    return m.group(1) if m else ""


def kv_key(digest: str) -> str:
    return digest.replace(":", "_")


def repository_of(image: str) -> tuple[str, str]:
    """(registry host, repository path) of an image reference as the registry gate keys it."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    host, slash, path = name.partition("/")
    if slash and ("." in host or ":" in host or host == "localhost"):
        return host, path
    path = name if "/" in name else f"library/{name}"
    return "docker.io", path


class _Score(msgspec.Struct):
    score: float | int | None = None
    digest: str = ""


class ImageFacts:
    def __init__(self, scores_bucket: str, gate_bucket: str) -> None:
        self.scores_bucket, self.gate_bucket = scores_bucket, gate_bucket
        self.bus: Bus | None = None
        self.kv: Any = None
        self.gate_kv: Any = None
        self.scores: dict[str, dict[str, Any]] = {}
        self._unknown: dict[str, float] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._watcher: Any = None
        self.synced = asyncio.Event()

    async def start(self, bus: Bus) -> None:
        from nats.js.errors import BucketNotFoundError

        self.bus = bus
        try:
            self.kv = await bus.js.key_value(self.scores_bucket)
        except BucketNotFoundError:  # same settings as the risk service, which may race us: both succeed
            self.kv = await bus.js.create_key_value(bucket=self.scores_bucket, history=5,
                                                    description="latest risk score per image digest")
        await bus.subscribe("propolis.risk.changed", self._on_risk_changed)
        self._watcher = await self.kv.watchall(inactive_threshold=60.0)
        self._tasks.append(asyncio.create_task(self._watch(), name="admission-risk-watch"))

    async def stop(self) -> None:
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._watcher.stop(), 2.0)
        await cancel_and_wait(self._tasks)
        self._tasks.clear()

    async def _watch(self) -> None:
        async for entry in self._watcher:
            if entry is None:  # the initial values have all been delivered
                self.synced.set()
                continue
            digest = entry.key.replace("_", ":", 1)
            if entry.operation in ("DEL", "PURGE") or not entry.value:
                self.scores.pop(digest, None)
                continue
            self._remember(digest, entry.value)

    def _remember(self, digest: str, raw: bytes) -> None:
        try:
            doc = msgspec.json.decode(raw, type=_Score)
        except msgspec.DecodeError:
            log.warning("unreadable risk score ignored", extra={"digest": digest})
            return
        if isinstance(doc.score, int | float) and not isinstance(doc.score, bool):
            self.scores[digest] = {"score": doc.score, "digest": doc.digest or digest}
            self._unknown.pop(digest, None)

    async def _on_risk_changed(self, env: Envelope[Any], _msg: Any) -> None:
        data = env.data
        if getattr(data, "workload", ""):
            return  # a workload's score, not an image's
        self.scores[data.image_digest] = {"score": data.score, "digest": data.image_digest}
        self._unknown.pop(data.image_digest, None)

    async def score(self, image: str) -> dict[str, Any]:
        digest = digest_of(image)
        if not digest:
            return {"unknown": True}
        cached = self.scores.get(digest)
        if cached is not None:
            return dict(cached)
        if self.kv is None or time.monotonic() < self._unknown.get(digest, 0.0):
            return {"unknown": True}
        from nats.js.errors import KeyNotFoundError

        try:
            entry = await self.kv.get(kv_key(digest))
        except KeyNotFoundError:
            entry = None
        if entry is not None and entry.value:
            self._remember(digest, entry.value)
        found = self.scores.get(digest)
        if found is None:
            self._unknown[digest] = time.monotonic() + NEGATIVE_TTL
            return {"unknown": True}
        return dict(found)

    async def attested(self, image: str) -> bool | None:
        """Whether the registry gate allowed and attested the image's digest; None when unknown."""
        digest = digest_of(image)
        if not digest or not self.gate_bucket or self.bus is None:
            return None
        from nats.js.errors import BucketNotFoundError, KeyNotFoundError

        if self.gate_kv is None:
            try:
                self.gate_kv = await self.bus.js.key_value(self.gate_bucket)
            except BucketNotFoundError:
                return False  # no gate has run: nothing is attested
        host, repository = repository_of(image)
        try:
            entry = await self.gate_kv.get(f"{repository}={kv_key(digest)}")
        except KeyNotFoundError:
            return False
        try:
            rec = msgspec.json.decode(entry.value or b"{}")
        except msgspec.DecodeError:
            return False
        return bool(isinstance(rec, dict) and rec.get("status") in ("allowed", "released")
                    and rec.get("attestation_digest") and rec.get("registry", host) == host)

    async def fact(self, image: str) -> dict[str, Any]:
        fact = await self.score(image)
        if self.gate_bucket:
            attested = await self.attested(image)
            if attested is not None:
                fact["attested"] = attested
        return fact

    async def facts(self, images: list[str], timeout: float) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """The fact of every image, within ``timeout`` seconds; images whose facts did not come in
        time are ``{"unavailable": true}`` and listed second."""
        if not images:
            return {}, []
        tasks = {image: asyncio.ensure_future(self.fact(image)) for image in dict.fromkeys(images)}
        done, pending = await asyncio.wait(tasks.values(), timeout=max(timeout, 0.0))
        for t in pending:
            t.cancel()
        out: dict[str, dict[str, Any]] = {}
        late: list[str] = []
        for image, t in tasks.items():
            if t in done and t.exception() is None:
                out[image] = t.result()
            else:
                if t in done:
                    log.warning("image facts could not be read", extra={"image": image, "error": repr(t.exception())})
                out[image] = {"unavailable": True}
                late.append(image)
        return out, late
