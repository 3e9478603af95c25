"""Wiring of the scanner service: config → layer cache and scan store → scans → gRPC API.

A scan is CPU work (decompression, tar walking, cataloguing), so it runs in a worker thread
(``asyncio.to_thread``) and at most ``scanner.max_concurrent_scans`` run at once; the event loop
only relays progress and serves stored results. After a scan is stored, the
``propolis.scan.catalogued`` event announces it (its CloudEvents ``subject`` is the scan id).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from propolis.kernel.app import Context
from propolis.kernel.config import Config
from propolis.kernel.events import ImageRef, ScanCatalogued
from propolis.kernel.grpcserver import Registrar
from propolis.scanner.adapters.cache import LayerCache, analysis_fingerprint, file_hash, source_hash
from propolis.scanner.adapters.layers import DEFAULT_LIMITS
from propolis.scanner.adapters.sources import open_image
from propolis.scanner.adapters.store import ScanStore, StoredScan
from propolis.scanner.catalogers import all_catalogers
from propolis.scanner.catalogue import Catalogue, LayerInfo, catalogue_image
from propolis.scanner.domain.image import ImageError
from propolis.scanner.secrets import scanner as secret_scanner

log = logging.getLogger(__name__)

Stage = Literal["resolving", "fetching", "analyzing_layer", "completed"]
#: Local image forms that name no path that exists yet (``open_image`` strips these prefixes).
_LOCAL_PREFIXES = ("oci-archive:", "docker-archive:")
#: At most this many partial reasons travel in the event (the stored scan has all of them).
_MAX_EVENT_REASONS = 100


class ScanRequestError(Exception):
    """A request the scanner refuses; ``code`` says which gRPC status it maps to."""

    def __init__(self, code: Literal["invalid_argument", "not_found"], message: str) -> None:
        super().__init__(message)
        self.code = code


class _Cancelled(Exception):
    """Raised inside the worker thread when the caller went away: stop at the next layer."""


@dataclass(frozen=True)
class ScanRequest:
    reference: str
    platform: str = ""
    #: When set, the image must resolve to this manifest digest (and a stored scan of it may answer).
    digest: str = ""
    secrets: bool = True
    config: bool = True
    force: bool = False


@dataclass(frozen=True)
class ScanEvent:
    """Progress of one scan; ``packages_found`` is known only once the final view is catalogued."""

    stage: Stage
    layer: LayerInfo | None = None
    layer_count: int = 0
    packages_found: int = 0
    message: str = ""


@dataclass(frozen=True)
class ScanOutcome:
    scan: StoredScan
    #: True when a stored scan of the same digest (made the same way) answered instead of a new scan.
    reused: bool


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def is_local_reference(ref: str) -> bool:
    """Whether ``ref`` names something on this machine's filesystem (``open_image`` prefers those)."""
    if ref.startswith(_LOCAL_PREFIXES) or ref.startswith(("/", "./", "../", "~")) or ref in (".", ".."):
        return True
    base = ref.rpartition(":")[0]
    with contextlib.suppress(OSError, ValueError):
        if Path(ref).exists() or (base and Path(base).exists()):
            return True
    return False


class ScannerService:
    """The scanner's use cases; the gRPC front end only converts messages and status codes."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        sc = cfg.scanner
        data = Path(cfg.data_dir)
        self.cache = (LayerCache(sc.cache_dir or data / "cache" / "layers", sc.cache_max_bytes)
                      if sc.cache_max_bytes > 0 else None)
        self.store = ScanStore(sc.store_path or data / "scanner" / "scans.db")
        self._slots = asyncio.Semaphore(max(1, sc.max_concurrent_scans))
        #: Worker threads still running (a cancelled RPC's thread finishes its current layer).
        self._working: set[asyncio.Future[ScanOutcome]] = set()
        self.ctx: Context | None = None

    # -- lifecycle (kernel Service protocol) ----------------------------------------------
    def registrars(self) -> list[Registrar]:
        from propolis.scanner.api.grpc import register

        return [lambda server: register(server, self)]

    async def start(self, ctx: Context) -> None:
        self.ctx = ctx

    async def stop(self) -> None:
        if self._working:
            await asyncio.wait(set(self._working), timeout=self.cfg.grpc.shutdown_grace)
        self.store.close()

    # -- use cases --------------------------------------------------------------------------
    async def scan(self, req: ScanRequest, progress: Callable[[ScanEvent], None] | None = None) -> ScanOutcome:
        """Scan (or reuse a stored scan of the same digest); ``progress`` is called from the worker thread."""
        reference = req.reference.strip()
        if not reference:
            raise ScanRequestError("invalid_argument", "image.reference is required")
        if not self.cfg.scanner.allow_local_paths and is_local_reference(reference):
            raise ScanRequestError("invalid_argument", f"{reference}: local paths are not accepted "
                                   "(scanner.allow_local_paths is false); give a registry reference")
        analysis = self.analysis(req)
        if req.digest and not req.force:
            stored = await asyncio.to_thread(self.store.latest, req.digest, analysis)
            if stored is not None:
                return ScanOutcome(stored, reused=True)
        cancelled = threading.Event()
        async with self._slots:
            work = asyncio.ensure_future(asyncio.to_thread(self._scan_sync, req, analysis, progress, cancelled))
            self._working.add(work)
            work.add_done_callback(self._working.discard)
            try:
                outcome = await asyncio.shield(work)
            except asyncio.CancelledError:
                # Keep the slot until the thread really stops (at its next layer), so the bound holds.
                cancelled.set()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await work
                raise
        if not outcome.reused:
            await self._announce(outcome.scan)
        return outcome

    def analysis(self, req: ScanRequest) -> str:
        """What a stored scan must have been made with to answer ``req``: the code and rules that
        decide a catalogue, and the options."""
        parts = [
            analysis_fingerprint(all_catalogers(), secrets=req.secrets, limits=DEFAULT_LIMITS),
            source_hash("propolis.scanner.catalogue"),
            source_hash("propolis.scanner.domain.config_facts"),
            source_hash("propolis.scanner.domain.filesystem"),
            file_hash(str(Path(secret_scanner.__file__).with_name("rules.json"))),
            f"secrets={int(req.secrets)};config={int(req.config)}",
        ]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def _scan_sync(self, req: ScanRequest, analysis: str, progress: Callable[[ScanEvent], None] | None,
                   cancelled: threading.Event) -> ScanOutcome:
        def emit(event: ScanEvent) -> None:
            if cancelled.is_set():
                raise _Cancelled("the caller went away")
            if progress is not None:
                progress(event)

        emit(ScanEvent("resolving", message=f"resolving {req.reference}"))
        try:
            image = open_image(req.reference.strip(), platform=req.platform)
        except ImageError as exc:
            raise ScanRequestError("invalid_argument", _one_line(exc)) from None
        if req.digest and image.manifest_digest and image.manifest_digest != req.digest:
            raise ScanRequestError("invalid_argument", f"{req.reference} resolves to {image.manifest_digest}, "
                                   f"not the requested {req.digest}")
        count = len(image.layers)
        emit(ScanEvent("fetching", layer_count=count,
                       message=f"{image.manifest_digest or image.reference}: {count} layers"))
        if not req.force and image.manifest_digest:
            stored = self.store.latest(image.manifest_digest, analysis)
            if stored is not None:
                emit(ScanEvent("completed", layer_count=count, packages_found=len(stored.catalogue.packages),
                               message=f"stored scan {stored.scan_id} of the same digest"))
                return ScanOutcome(stored, reused=True)

        def on_layer(index: int, total: int, info: LayerInfo) -> None:
            emit(ScanEvent("analyzing_layer", layer=info, layer_count=total,
                           message=f"layer {index + 1}/{total}: {info.entries} entries"))

        cat = catalogue_image(image, secrets=req.secrets, cache=self.cache, progress=on_layer)
        if not req.config:
            cat.facts = None
        stored = self.store.put(uuid.uuid4().hex, cat, analysis=analysis)
        emit(ScanEvent("completed", layer_count=count, packages_found=len(cat.packages),
                       message=f"{len(cat.packages)} packages" + (" (partial)" if cat.partial else "")))
        return ScanOutcome(stored, reused=False)

    async def find(self, scan_id: str = "", digest: str = "") -> StoredScan:
        """A stored scan by id, or the latest one of an image digest."""
        if scan_id:
            stored = await asyncio.to_thread(self.store.get, scan_id)
            if stored is None:
                raise ScanRequestError("not_found", f"no scan with id {scan_id!r}")
            return stored
        if not digest:
            raise ScanRequestError("invalid_argument", "give a scan_id or an image with its digest")
        stored = await asyncio.to_thread(self.store.latest, digest)
        if stored is None:
            raise ScanRequestError("not_found", f"no stored scan of image {digest}")
        return stored

    async def render(self, scan: StoredScan, fmt: str) -> bytes:
        from propolis.scanner.formats import all_formats

        return await asyncio.to_thread(all_formats()[fmt].render, scan.catalogue)

    # -- bus --------------------------------------------------------------------------------
    async def _announce(self, scan: StoredScan) -> None:
        bus = self.ctx.bus if self.ctx else None
        if bus is None:
            return
        try:
            await bus.publish(catalogued_event(scan.catalogue), subject=scan.scan_id)
        except Exception as exc:  # the scan is stored; a lost notification must not fail the request
            log.warning("scan.catalogued not published", extra={"scan_id": scan.scan_id, "error": _one_line(exc)})


def catalogued_event(cat: Catalogue) -> ScanCatalogued:
    ecosystems = collections.Counter(p.ecosystem for p in cat.packages)
    return ScanCatalogued(image=ImageRef(reference=cat.reference, digest=cat.manifest_digest),
                          layers=len(cat.layers), packages=len(cat.packages),
                          ecosystems=dict(sorted(ecosystems.items())), partial=cat.partial,
                          partial_reasons=cat.issues[:_MAX_EVENT_REASONS])


def build(cfg: Config) -> ScannerService:
    return ScannerService(cfg)
