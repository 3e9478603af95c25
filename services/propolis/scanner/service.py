"""Wiring of the scanner service: config → layer cache, report store, vulnerability index →
scans → gRPC API and the ``propolis.scan.requests`` work queue.

A scan is CPU work (decompression, tar walking, cataloguing, matching), so it runs in a worker
thread (``asyncio.to_thread``) and at most ``scanner.max_concurrent_scans`` run at once; the event
loop only relays progress and serves stored results. After a scan is stored, the
``propolis.scan.catalogued`` event announces it (its CloudEvents ``subject`` is the scan id).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from propolis.kernel.app import Context
from propolis.kernel.config import Config
from propolis.kernel.events import ImageRef, ScanCatalogued
from propolis.kernel.grpcserver import Registrar
from propolis.scanner.adapters.cache import LayerCache, analysis_fingerprint, file_hash, source_hash
from propolis.scanner.adapters.layers import DEFAULT_LIMITS
from propolis.scanner.adapters.sources import open_image
from propolis.scanner.adapters.store import ReportStore, StoredScan, open_store
from propolis.scanner.catalogers import all_catalogers
from propolis.scanner.catalogue import Catalogue, LayerInfo, catalogue_image
from propolis.scanner.domain.findings import SEVERITIES, Finding, severity_rank
from propolis.scanner.domain.image import ImageError
from propolis.scanner.secrets import scanner as secret_scanner

log = logging.getLogger(__name__)

Stage = Literal["resolving", "fetching", "analyzing_layer", "matching", "completed"]
#: Local image forms that name no path that exists yet (``open_image`` strips these prefixes).
_LOCAL_PREFIXES = ("oci-archive:", "docker-archive:")
#: At most this many partial reasons travel in the event (the stored scan has all of them).
_MAX_EVENT_REASONS = 100
#: ``ListFindings`` page sizes: the default for 0, and the most one page holds.
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


class ScanRequestError(Exception):
    """A request the scanner refuses; ``code`` says which gRPC status it maps to."""

    def __init__(self, code: Literal["invalid_argument", "not_found", "failed_precondition"], message: str) -> None:
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
    vulnerabilities: bool = True
    #: Set for queued requests: the report is stored under it, at most once.
    request_id: str = ""


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


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first (then highest CVSS score), in a stable order reports and pages agree on."""
    return sorted(findings, key=lambda f: (severity_rank(f.severity), -(f.cvss_score or 0.0), f.id,
                                           f.package.name, f.installed_version, f.path))


def findings_by_severity(findings: list[Finding]) -> dict[str, int]:
    """Counts per severity label, every label present (0 included), for events and summaries."""
    counts = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        counts[f.severity if f.severity in counts else "unknown"] += 1
    return counts


class VulnMatching:
    """The vulnerability index and its matcher, shared by the worker threads.

    The index file is replaced atomically by ``propolis vulndb build``; each match checks the
    file's identity (inode, size, mtime) and reopens a rebuilt index, so a long-running scanner
    picks up new advisories without a restart. ``revision`` (build time + digest of the sources'
    metadata) is what reports record and what decides whether a stored report may be reused.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._identity: tuple[int, int, int] | None = None
        self._db: Any = None
        self._matcher: Any = None
        self.revision = ""
        self._load()

    def _stat(self) -> tuple[int, int, int]:
        st = self.path.stat()
        return st.st_ino, st.st_size, st.st_mtime_ns

    def _load(self) -> None:
        from propolis.scanner.matching.matcher import Matcher
        from propolis.scanner.vulndb.store import VulnDB

        db = VulnDB(self.path)  # raises VulnDBError for a missing or foreign file
        identity = self._stat()
        info = db.info()
        sources = [(s.path, s.kind, s.imported, s.affected, s.newest) for s in info.sources]
        digest = hashlib.sha256(repr((info.schema_version, info.advisories, info.affected, sources)).encode())
        old = self._db
        self._db, self._matcher, self._identity = db, Matcher(db), identity
        self.revision = f"{info.built_at}+sha256:{digest.hexdigest()[:16]}"
        if old is not None:
            with contextlib.suppress(Exception):
                old.close()
        log.info("vulnerability database loaded", extra={"path": str(self.path), "revision": self.revision,
                                                          "advisories": info.advisories})

    def current(self) -> tuple[Any, str]:
        """The matcher and revision to use now, reopening the index if it was rebuilt."""
        with self._lock:
            with contextlib.suppress(OSError):
                if self._stat() != self._identity:
                    self._load()
            return self._matcher, self.revision

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def vulndb_path(cfg: Config) -> str:
    """``scanner.vulndb_path``, else ``PROPOLIS_VULNDB`` (the CLI's variable), else none."""
    return cfg.scanner.vulndb_path or os.environ.get("PROPOLIS_VULNDB", "")


class ScannerService:
    """The scanner's use cases; the gRPC front end only converts messages and status codes."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        sc = cfg.scanner
        data = Path(cfg.data_dir)
        self.cache = (LayerCache(sc.cache_dir or data / "cache" / "layers", sc.cache_max_bytes)
                      if sc.cache_max_bytes > 0 else None)
        self.store: ReportStore = open_store(sc.store_url or sc.store_path, data)
        path = vulndb_path(cfg)
        self.matching = VulnMatching(path) if path else None
        if self.matching is None:
            log.info("no vulnerability database configured (scanner.vulndb_path or PROPOLIS_VULNDB): "
                     "scans report no findings")
        self._slots = asyncio.Semaphore(max(1, sc.max_concurrent_scans))
        #: Worker threads still running (a cancelled RPC's thread finishes its current layer).
        self._working: set[asyncio.Future[ScanOutcome]] = set()
        self.ctx: Context | None = None
        self.queue: Any = None

    # -- lifecycle (kernel Service protocol) ----------------------------------------------
    def registrars(self) -> list[Registrar]:
        from propolis.scanner.api.grpc import register

        return [lambda server: register(server, self)]

    async def start(self, ctx: Context) -> None:
        self.ctx = ctx
        if ctx.bus is not None and self.cfg.scanner.queue_enabled:
            from propolis.scanner.adapters.queue import ScanQueueWorker

            self.queue = ScanQueueWorker(self, ctx.bus)
            await self.queue.start()

    async def stop(self) -> None:
        if self.queue is not None:
            await self.queue.stop(grace=self.cfg.grpc.shutdown_grace)
        if self._working:
            await asyncio.wait(set(self._working), timeout=self.cfg.grpc.shutdown_grace)
        self.store.close()
        if self.matching is not None:
            self.matching.close()

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
                return ScanOutcome(await asyncio.to_thread(self._for_request, stored, req), reused=True)
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
        if self.matching is not None and req.vulnerabilities:
            # A report matched against another index revision, or by other matching code, is not reused.
            _, revision = self.matching.current()
            parts += [f"vulndb={revision}", *(source_hash(f"propolis.scanner.matching.{m}")
                                              for m in ("matcher", "index"))]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def _for_request(self, stored: StoredScan, req: ScanRequest) -> StoredScan:
        """A reused report answers a queued request through a copy under the request's id, so
        every request has exactly one report of its own (and idempotency holds per request)."""
        if not req.request_id or stored.request_id == req.request_id:
            return stored
        return self.store.put(uuid.uuid4().hex, stored.catalogue, analysis=stored.analysis,
                              findings=stored.findings, db_revision=stored.db_revision,
                              request_id=req.request_id)

    def store_failure(self, req: ScanRequest, error: str) -> StoredScan:
        """A failed report: the request, no catalogue, and why (raises DuplicateRequest like put)."""
        from propolis.scanner.catalogue import Catalogue

        return self.store.put(uuid.uuid4().hex, Catalogue(reference=req.reference, manifest_digest=req.digest),
                              analysis="", request_id=req.request_id, error=error)

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
                return ScanOutcome(self._for_request(stored, req), reused=True)

        def on_layer(index: int, total: int, info: LayerInfo) -> None:
            emit(ScanEvent("analyzing_layer", layer=info, layer_count=total,
                           message=f"layer {index + 1}/{total}: {info.entries} entries"))

        cat = catalogue_image(image, secrets=req.secrets, cache=self.cache, progress=on_layer)
        if not req.config:
            cat.facts = None
        findings: list[Finding] = []
        revision = ""
        if self.matching is not None and req.vulnerabilities:
            matcher, revision = self.matching.current()
            emit(ScanEvent("matching", layer_count=count, packages_found=len(cat.packages),
                           message=f"matching {len(cat.packages)} packages against vulnerability database {revision}"))
            findings = sort_findings(list(matcher.match(cat).findings))
        stored = self.store.put(uuid.uuid4().hex, cat, analysis=analysis, findings=findings, db_revision=revision,
                                request_id=req.request_id)
        emit(ScanEvent("completed", layer_count=count, packages_found=len(cat.packages),
                       message=f"{len(cat.packages)} packages, {len(findings)} findings"
                       + (" (partial)" if cat.partial else "")))
        return ScanOutcome(stored, reused=False)

    async def find(self, scan_id: str = "", digest: str = "") -> StoredScan:
        """A stored scan by id, or the latest one of an image digest."""
        if scan_id:
            stored = await asyncio.to_thread(self.store.get, scan_id)
            if stored is None:
                raise ScanRequestError("not_found", f"no scan with id {scan_id!r}")
            if stored.error:
                raise ScanRequestError("failed_precondition", f"scan {scan_id} of {stored.catalogue.reference} "
                                       f"failed: {stored.error}")
            return stored
        if not digest:
            raise ScanRequestError("invalid_argument", "give a scan_id or an image with its digest")
        stored = await asyncio.to_thread(self.store.latest, digest)
        if stored is None:
            raise ScanRequestError("not_found", f"no stored scan of image {digest}")
        return stored

    async def findings_page(self, scan: StoredScan, *, min_severity: str = "", fixable: bool | None = None,
                            package_name: str = "", page_size: int = 0, page_token: str = ""
                            ) -> tuple[list[Finding], str, int]:
        """One page of a report's findings, most severe first: (findings, next token, total matching).

        The token is opaque (base64 of the offset and a hash of the scan and filters); a token
        used with other filters or another scan is refused rather than giving a wrong page."""
        size = DEFAULT_PAGE_SIZE if page_size <= 0 else min(page_size, MAX_PAGE_SIZE)
        key = hashlib.sha256(f"{scan.scan_id}|{min_severity}|{fixable}|{package_name}".encode()).hexdigest()[:16]
        offset = 0
        if page_token:
            try:
                raw = base64.urlsafe_b64decode(page_token.encode() + b"=" * (-len(page_token) % 4)).decode()
                token_key, _, at = raw.partition(":")
                offset = int(at)
            except (ValueError, UnicodeDecodeError):
                raise ScanRequestError("invalid_argument", "page_token is not a token this service issued") from None
            if token_key != key or offset < 0:
                raise ScanRequestError("invalid_argument", "page_token belongs to another scan or other filters")
        limit = severity_rank(min_severity) if min_severity else len(SEVERITIES)
        selected = [f for f in sort_findings(scan.findings)
                    if severity_rank(f.severity) <= limit
                    and (fixable is None or f.fixable == fixable)
                    and (not package_name or f.package.name == package_name)]
        page = selected[offset:offset + size]
        end = offset + len(page)
        token = base64.urlsafe_b64encode(f"{key}:{end}".encode()).decode().rstrip("=") if end < len(selected) else ""
        return page, token, len(selected)

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
