"""Stored scans: one SQLite file (stdlib ``sqlite3``), a msgspec-encoded catalogue per scan.

A scan is found by its id or, for the latest scan of an image, by its manifest digest. Each row
also keeps ``analysis``: what produced it (the analysis fingerprint and the scan options), so a
stored scan is only reused for a request that would have produced the same catalogue.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import msgspec

from propolis.scanner.catalogue import Catalogue

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scans (
    scan_id TEXT PRIMARY KEY,
    manifest_digest TEXT NOT NULL,
    reference TEXT NOT NULL,
    analysis TEXT NOT NULL,
    scanned_at REAL NOT NULL,
    catalogue BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS scans_by_digest ON scans (manifest_digest, scanned_at);
"""

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Catalogue).decode


@dataclass(frozen=True)
class StoredScan:
    scan_id: str
    scanned_at: float
    analysis: str
    catalogue: Catalogue


class ScanStore:
    """Thread-safe (one connection behind a lock); WAL lets other processes read meanwhile."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)

    def put(self, scan_id: str, catalogue: Catalogue, *, analysis: str = "", scanned_at: float | None = None
            ) -> StoredScan:
        at = time.time() if scanned_at is None else scanned_at
        with self._lock:
            self._db.execute(
                "INSERT INTO scans (scan_id, manifest_digest, reference, analysis, scanned_at, catalogue) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (scan_id, catalogue.manifest_digest, catalogue.reference, analysis, at, _encode(catalogue)))
        return StoredScan(scan_id, at, analysis, catalogue)

    def get(self, scan_id: str) -> StoredScan | None:
        with self._lock:
            row = self._db.execute("SELECT scan_id, scanned_at, analysis, catalogue FROM scans WHERE scan_id = ?",
                                   (scan_id,)).fetchone()
        return _row(row)

    def latest(self, manifest_digest: str, analysis: str | None = None) -> StoredScan | None:
        """The newest scan of an image (by manifest digest); with ``analysis``, only one made that way."""
        if not manifest_digest:
            return None
        sql = "SELECT scan_id, scanned_at, analysis, catalogue FROM scans WHERE manifest_digest = ?"
        args: tuple[str, ...] = (manifest_digest,)
        if analysis is not None:
            sql += " AND analysis = ?"
            args += (analysis,)
        with self._lock:
            row = self._db.execute(sql + " ORDER BY scanned_at DESC, rowid DESC LIMIT 1", args).fetchone()
        return _row(row)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _row(row: tuple[str, float, str, bytes] | None) -> StoredScan | None:
    if row is None:
        return None
    return StoredScan(scan_id=row[0], scanned_at=row[1], analysis=row[2], catalogue=_decode(row[3]))
