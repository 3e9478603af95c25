"""A content-addressed cache of per-layer analysis, so a layer shared by many images is read once.

An entry is the :class:`~propolis.scanner.adapters.layers.LayerContent` a layer walk produced,
keyed by the layer's ``diff_id`` (the digest of its uncompressed tar, so the same content under
any compression is one entry) and an *analysis fingerprint*: a hash of everything that decides
what the walk keeps (wanted-path rules and size limits of every cataloger, whether secrets are
searched, the layer limits, the shape of ``LayerContent`` and :data:`SCHEMA_VERSION`). Changing
any of them simply misses; stale entries age out through LRU eviction.

Only complete analyses whose uncompressed stream was verified against the ``diff_id`` are
stored (see :meth:`LayerCache.layer`): an image cannot poison the cache by lying about the
content of a layer another image shares.

On disk, each entry is one file ``<dir>/<key[:2]>/<key>.layer``: a magic, the SHA-256 of the
payload, then the msgpack payload. Files are written to a temporary name and ``os.replace``d,
so concurrent writers (threads or processes) never expose a torn entry; a file that fails its
checksum or does not decode is a miss and is removed. The directory is kept under a byte
bound by evicting the least recently used files (a hit touches the file's mtime).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import msgspec
from prometheus_client import Counter

from propolis.scanner.adapters.layers import LayerContent, LayerLimits

log = logging.getLogger(__name__)

#: Bump when the meaning of a stored entry changes in a way the fingerprint does not capture.
SCHEMA_VERSION = 1
DEFAULT_MAX_BYTES = 2 * 1024**3
_MAGIC = b"PLYC\x01"
_SUFFIX = ".layer"
_TMP_PREFIX = ".tmp-"
#: Temporary files older than this are leftovers of a crashed writer.
_STALE_TMP_SECONDS = 3600.0
#: Re-measure the directory at least every this many puts (other processes write to it too).
_RESCAN_EVERY = 64
#: Modules whose code decides what a layer walk keeps, whatever catalogers are passed.
_ANALYSIS_MODULES = ("propolis.scanner.adapters.layers", "propolis.scanner.secrets.scanner",
                     "propolis.scanner.catalogue")
#: Data files that decide it too (the secret rules are searched per layer and cached with it).
_ANALYSIS_DATA = (("propolis.scanner.secrets", "rules.json"),)
_ANALYSIS_PACKAGES = ("propolis.scanner.catalogers",)

CACHE_EVENTS = Counter("propolis_scanner_layer_cache_events_total",
                       "Layer analysis cache events: hits, misses, analyses, stores, evictions, corrupt", ["event"])


class _Entry(msgspec.Struct, frozen=True):
    diff_id: str
    fingerprint: str
    content: LayerContent


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(_Entry).decode


@dataclasses.dataclass
class CacheStats:
    """Counters of one :class:`LayerCache` (also exported to Prometheus)."""

    hits: int = 0
    misses: int = 0
    #: Layer walks run through the cache (misses, and layers that cannot be cached).
    analyses: int = 0
    stores: int = 0
    evictions: int = 0
    corrupt: int = 0


# ---------------------------------------------------------------- fingerprint
_source_hashes: dict[str, str] = {}


def file_hash(path: str) -> str:
    """SHA-256 of a source file, memoised: code does not change under a running process."""
    h = _source_hashes.get(path)
    if h is None:
        try:
            h = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            h = "unreadable"
        _source_hashes[path] = h
    return h


def _module_file(module: str) -> str:
    mod = sys.modules.get(module)
    if mod is None:
        import importlib

        mod = importlib.import_module(module)
    return getattr(mod, "__file__", None) or ""


def source_hash(module: str) -> str:
    """SHA-256 of a module's source (memoised), for keys that must change when that code does."""
    return file_hash(_module_file(module))


def _package_files(package: str) -> list[str]:
    root = Path(_module_file(package)).parent
    return sorted(str(p) for p in root.glob("*.py"))


def analysis_fingerprint(wanters: Iterable[object], *, secrets: bool, limits: LayerLimits) -> str:
    """Hash of what decides a layer's analysis. ``wanters`` are the catalogers (or anything with
    ``name``, ``max_file_bytes`` and ``wants``) whose wanted paths the walk keeps; since their
    ``wants`` rules are code, the source of the module defining each one is part of the hash."""
    files = {f for pkg in _ANALYSIS_PACKAGES for f in _package_files(pkg)}
    files.update(_module_file(m) for m in _ANALYSIS_MODULES)
    files.update(str(Path(_module_file(pkg)).parent / name) for pkg, name in _ANALYSIS_DATA)
    described = []
    for w in wanters:
        cls = type(w)
        src = _module_file(cls.__module__)
        files.add(src)
        described.append([str(getattr(w, "name", cls.__qualname__)), int(getattr(w, "max_file_bytes", 0)),
                          f"{cls.__module__}.{cls.__qualname__}"])
    doc = {
        "schema": SCHEMA_VERSION,
        "wanters": described,
        "secrets": bool(secrets),
        "limits": sorted(dataclasses.asdict(limits).items()),
        "content": [[f.name, str(f.type)] for f in dataclasses.fields(LayerContent)],
        "sources": sorted((os.path.basename(f), file_hash(f)) for f in files if f),
    }
    return hashlib.sha256(msgspec.json.encode(doc)).hexdigest()


# ---------------------------------------------------------------- the cache
class LayerCache:
    """Per-layer analysis on disk, shared by threads and processes; see the module docstring."""

    def __init__(self, directory: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.stats = CacheStats()
        self._guard = threading.Lock()
        self._flights: dict[str, tuple[threading.Lock, int]] = {}
        self._evict_lock = threading.Lock()
        #: Bytes in the directory as last measured plus what this process wrote since.
        self._approx: int | None = None
        self._puts_since_scan = 0
        self.directory.mkdir(parents=True, exist_ok=True)

    # -- use ------------------------------------------------------------------------------------
    def fingerprint(self, wanters: Iterable[object], *, secrets: bool, limits: LayerLimits) -> str:
        return analysis_fingerprint(wanters, secrets=secrets, limits=limits)

    def layer(self, diff_id: str, fingerprint: str, analyse: Callable[[], LayerContent]) -> LayerContent:
        """The cached analysis of the layer ``diff_id`` names, or ``analyse()`` run once and stored.

        ``analyse`` must check the uncompressed stream against ``diff_id`` (``read_layer`` does when
        given it) and report a mismatch as partial: only a complete result is stored. Concurrent
        calls for the same key in this process wait for the first one instead of walking again.
        """
        if not diff_id:
            self._count("analyses")
            return analyse()
        with self._flight(self.key(diff_id, fingerprint)):
            cached = self.get(diff_id, fingerprint)
            if cached is not None:
                return cached
            content = analyse()
            self._count("analyses")
            if not content.partial:
                self.put(diff_id, fingerprint, content)
            return content

    def key(self, diff_id: str, fingerprint: str) -> str:
        return hashlib.sha256(f"{fingerprint}\n{diff_id}".encode()).hexdigest()

    def path(self, diff_id: str, fingerprint: str) -> Path:
        key = self.key(diff_id, fingerprint)
        return self.directory / key[:2] / f"{key}{_SUFFIX}"

    def get(self, diff_id: str, fingerprint: str) -> LayerContent | None:
        """A stored entry (its mtime touched for LRU), or None; a damaged file is removed."""
        p = self.path(diff_id, fingerprint)
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            self._count("misses")
            return None
        except OSError as exc:
            log.warning("layer cache entry unreadable; analysing again", extra={"path": str(p), "error": str(exc)})
            self._drop(p)
            self._count("misses")
            return None
        entry = self._parse(raw)
        if entry is None or entry.diff_id != diff_id or entry.fingerprint != fingerprint:
            log.warning("layer cache entry corrupt; removed", extra={"path": str(p)})
            self._drop(p)
            self._count("corrupt")
            self._count("misses")
            return None
        with contextlib.suppress(OSError):
            os.utime(p)
        self._count("hits")
        return entry.content

    def put(self, diff_id: str, fingerprint: str, content: LayerContent) -> bool:
        """Store atomically; never raises (a cache that cannot write only costs speed)."""
        payload = _encode(_Entry(diff_id=diff_id, fingerprint=fingerprint, content=content))
        data = _MAGIC + hashlib.sha256(payload).digest() + payload
        if len(data) > self.max_bytes:
            return False
        p = self.path(diff_id, fingerprint)
        tmp = ""
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=p.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, p)
        except OSError as exc:
            log.warning("layer cache write failed", extra={"path": str(p), "error": str(exc)})
            if tmp:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            return False
        self._count("stores")
        with self._guard:
            self._puts_since_scan += 1
            if self._approx is not None:
                self._approx += len(data)
            due = self._approx is None or self._approx > self.max_bytes or self._puts_since_scan >= _RESCAN_EVERY
        if due:
            self.evict()
        return True

    def evict(self) -> int:
        """Measure the directory and remove least recently used entries until it is under the bound."""
        with self._evict_lock:
            entries: list[tuple[float, int, str]] = []
            now = time.time()
            for sub in _scandir(self.directory):
                if not sub.is_dir(follow_symlinks=False):
                    continue
                for f in _scandir(Path(sub.path)):
                    try:
                        st = f.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if f.name.endswith(_SUFFIX):
                        entries.append((st.st_mtime, st.st_size, f.path))
                    elif f.name.startswith(_TMP_PREFIX) and now - st.st_mtime > _STALE_TMP_SECONDS:
                        self._drop(Path(f.path))
            total = sum(size for _, size, _ in entries)
            entries.sort()
            removed = 0
            for _, size, path in entries:
                if total <= self.max_bytes:
                    break
                self._drop(Path(path))
                total -= size
                removed += 1
            with self._guard:
                self._approx = total
                self._puts_since_scan = 0
            if removed:
                self._count("evictions", removed)
            return removed

    def size_bytes(self) -> int:
        """Bytes of entries on disk now (a fresh measurement)."""
        return sum(f.stat().st_size for sub in _scandir(self.directory) if sub.is_dir()
                   for f in _scandir(Path(sub.path)) if f.name.endswith(_SUFFIX))

    # -- internals ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _flight(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._flights.get(key, (threading.Lock(), 0))
            self._flights[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._flights[key]
                if users <= 1:
                    del self._flights[key]
                else:
                    self._flights[key] = (lock, users - 1)

    @staticmethod
    def _parse(raw: bytes) -> _Entry | None:
        head = len(_MAGIC) + 32
        if len(raw) < head or not raw.startswith(_MAGIC):
            return None
        payload = raw[head:]
        if hashlib.sha256(payload).digest() != raw[len(_MAGIC):head]:
            return None
        try:
            return _decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError):
            return None

    @staticmethod
    def _drop(p: Path) -> None:
        with contextlib.suppress(OSError):
            p.unlink()

    def _count(self, event: str, n: int = 1) -> None:
        with self._guard:
            setattr(self.stats, event, getattr(self.stats, event) + n)
        CACHE_EVENTS.labels(event).inc(n)


def _scandir(path: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError:
        return []
