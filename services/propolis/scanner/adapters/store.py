"""Stored scan reports behind one interface: SQLite (one file, the default) or PostgreSQL.

A report is one scan: the msgspec-encoded catalogue, the vulnerability findings and the revision
of the database they were matched against, or, for a request that could not be scanned, the
error. A report is found by its id, by the ``request_id`` of the queued request that produced it,
or, for the latest good report of an image, by its manifest digest. Each row also keeps
``analysis``: what produced it (analysis fingerprint, options, database revision), so a stored
report is only reused for a request that would have produced the same result.

``request_id`` is unique (NULL for gRPC scans): a second report for the same request is refused
with :class:`DuplicateRequest`, which is what makes the scan work queue idempotent across
scanner processes sharing one store.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec

from propolis.scanner.catalogue import Catalogue
from propolis.scanner.domain.findings import Finding

_encode = msgspec.msgpack.Encoder().encode
_decode_catalogue = msgspec.msgpack.Decoder(Catalogue).decode
_decode_findings = msgspec.msgpack.Decoder(list[Finding]).decode

#: Columns every query reads, in :func:`_row` order.
_COLUMNS = "scan_id, scanned_at, analysis, catalogue, findings, db_revision, request_id, error"


@dataclass(frozen=True)
class StoredScan:
    scan_id: str
    scanned_at: float
    analysis: str
    catalogue: Catalogue
    findings: list[Finding] = field(default_factory=list)
    #: Revision of the vulnerability database the findings come from; empty when none was used.
    db_revision: str = ""
    #: The queued request this report answers; empty for gRPC scans.
    request_id: str = ""
    #: Why the request could not be scanned; a failed report has an empty catalogue.
    error: str = ""


class DuplicateRequest(Exception):
    """A report for this ``request_id`` is already stored (another scanner, or a redelivery, did it)."""

    def __init__(self, request_id: str, existing: StoredScan | None) -> None:
        super().__init__(f"a report for request {request_id} is already stored")
        self.request_id = request_id
        self.existing = existing


class StoreError(Exception):
    """The store URL is not usable (unknown scheme, unreachable database)."""


class ReportStore(Protocol):
    """What the scanner needs from a report store; every method is blocking and thread-safe."""

    url: str

    def put(self, scan_id: str, catalogue: Catalogue, *, analysis: str = "", findings: list[Finding] | None = None,
            db_revision: str = "", request_id: str = "", error: str = "", scanned_at: float | None = None
            ) -> StoredScan: ...

    def get(self, scan_id: str) -> StoredScan | None: ...

    def by_request(self, request_id: str) -> StoredScan | None: ...

    def latest(self, manifest_digest: str, analysis: str | None = None) -> StoredScan | None: ...

    def count(self) -> int: ...

    def close(self) -> None: ...


def open_store(url: str, data_dir: str | Path) -> ReportStore:
    """``sqlite:///abs/path.db`` (or a bare path), ``postgresql://…``; empty means
    ``<data_dir>/scanner/scans.db``. A ``schema=NAME`` query parameter puts the PostgreSQL tables
    in that schema (created when missing), so several deployments or test runs share one database."""
    if not url:
        return SQLiteStore(Path(data_dir) / "scanner" / "scans.db")
    scheme = urlsplit(url).scheme
    if scheme in ("postgresql", "postgres"):
        return PostgresStore(url)
    if scheme == "sqlite":
        path = url[len("sqlite://"):]
        if not path.strip("/"):
            raise StoreError(f"store URL {url!r} names no file (use sqlite:///path/to/scans.db)")
        return SQLiteStore(path)
    if scheme == "":
        return SQLiteStore(url)
    raise StoreError(f"store URL {url!r}: unknown scheme {scheme!r} (expected sqlite:// or postgresql://)")


def _row(row: tuple[Any, ...] | None) -> StoredScan | None:
    if row is None:
        return None
    scan_id, at, analysis, cat, findings, db_revision, request_id, error = row
    return StoredScan(scan_id=scan_id, scanned_at=float(at), analysis=analysis, catalogue=_decode_catalogue(cat),
                      findings=_decode_findings(findings) if findings else [], db_revision=db_revision or "",
                      request_id=request_id or "", error=error or "")


def _values(scan_id: str, catalogue: Catalogue, analysis: str, findings: list[Finding], db_revision: str,
            request_id: str, error: str, at: float) -> tuple[Any, ...]:
    return (scan_id, request_id or None, catalogue.manifest_digest, catalogue.reference, analysis, at, error,
            db_revision, _encode(catalogue), _encode(findings))


_INSERT = ("INSERT INTO scans (scan_id, request_id, manifest_digest, reference, analysis, scanned_at, error,"
           " db_revision, catalogue, findings) VALUES ({})")


# ---------------------------------------------------------------------------------------- SQLite
_SQLITE_SCHEMA = """
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
#: Columns added after the first release: an existing file gets them with ALTER TABLE.
_SQLITE_ADDED = {
    "request_id": "TEXT",
    "error": "TEXT NOT NULL DEFAULT ''",
    "db_revision": "TEXT NOT NULL DEFAULT ''",
    "findings": "BLOB",
}


class SQLiteStore:
    """Thread-safe (one connection behind a lock); WAL lets other processes read meanwhile, and
    several scanner processes may write the same file (writes wait up to 30 s for the lock)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.url = f"sqlite://{self.path.resolve()}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("BEGIN IMMEDIATE")  # one process migrates at a time
            try:
                for stmt in filter(str.strip, _SQLITE_SCHEMA.split(";")):  # executescript would COMMIT
                    self._db.execute(stmt)
                have = {r[1] for r in self._db.execute("PRAGMA table_info(scans)")}
                for col, decl in _SQLITE_ADDED.items():
                    if col not in have:
                        self._db.execute(f"ALTER TABLE scans ADD COLUMN {col} {decl}")
                self._db.execute("CREATE UNIQUE INDEX IF NOT EXISTS scans_by_request ON scans (request_id)"
                                 " WHERE request_id IS NOT NULL")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def put(self, scan_id: str, catalogue: Catalogue, *, analysis: str = "", findings: list[Finding] | None = None,
            db_revision: str = "", request_id: str = "", error: str = "", scanned_at: float | None = None
            ) -> StoredScan:
        at = time.time() if scanned_at is None else scanned_at
        found = list(findings or [])
        values = _values(scan_id, catalogue, analysis, found, db_revision, request_id, error, at)
        try:
            with self._lock:
                self._db.execute(_INSERT.format(",".join("?" * len(values))), values)
        except sqlite3.IntegrityError:
            if request_id and (existing := self.by_request(request_id)) is not None:
                raise DuplicateRequest(request_id, existing) from None
            raise
        return StoredScan(scan_id, at, analysis, catalogue, found, db_revision, request_id, error)

    def _one(self, where: str, args: tuple[Any, ...]) -> StoredScan | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM scans WHERE {where}", args).fetchone()
        return _row(row)

    def get(self, scan_id: str) -> StoredScan | None:
        return self._one("scan_id = ?", (scan_id,))

    def by_request(self, request_id: str) -> StoredScan | None:
        return self._one("request_id = ?", (request_id,)) if request_id else None

    def latest(self, manifest_digest: str, analysis: str | None = None) -> StoredScan | None:
        """The newest good report of an image (by manifest digest); with ``analysis``, one made that way."""
        if not manifest_digest:
            return None
        where = "manifest_digest = ? AND error = ''"
        args: tuple[str, ...] = (manifest_digest,)
        if analysis is not None:
            where, args = where + " AND analysis = ?", (*args, analysis)
        return self._one(where + " ORDER BY scanned_at DESC, rowid DESC LIMIT 1", args)

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM scans").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


# ---------------------------------------------------------------------------------------- PostgreSQL
_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS scans (
    seq BIGSERIAL,
    scan_id TEXT PRIMARY KEY,
    request_id TEXT UNIQUE,
    manifest_digest TEXT NOT NULL,
    reference TEXT NOT NULL,
    analysis TEXT NOT NULL,
    scanned_at DOUBLE PRECISION NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    db_revision TEXT NOT NULL DEFAULT '',
    catalogue BYTEA NOT NULL,
    findings BYTEA
);
CREATE INDEX IF NOT EXISTS scans_by_digest ON scans (manifest_digest, scanned_at)
"""


def _split_schema(url: str) -> tuple[str, str]:
    """The URL without our ``schema`` query parameter (libpq does not know it), and that schema."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), "")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


class PostgresStore:
    """One psycopg connection behind a lock (autocommit: each statement is its own transaction),
    reopened once when the server dropped it. Schema creation takes an advisory lock, so scanner
    processes starting together do not race on ``CREATE TABLE``."""

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - psycopg is a dependency
            raise StoreError("PostgreSQL store needs psycopg (pip install 'psycopg[binary]')") from exc
        self._psycopg = psycopg
        self.url = url
        self._conninfo, self.schema = _split_schema(url)
        if self.schema and not self.schema.replace("_", "").isalnum():
            raise StoreError(f"store URL schema {self.schema!r}: use letters, digits and underscores only")
        self._lock = threading.Lock()
        self._conn: Any = None
        with self._lock:
            conn = self._connect()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('propolis.scanner.scans'))")
                if self.schema:
                    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                    conn.execute(f'SET LOCAL search_path TO "{self.schema}"')
                for stmt in filter(str.strip, _PG_SCHEMA.split(";")):
                    conn.execute(stmt)

    def _connect(self) -> Any:
        psycopg = self._psycopg
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            u = urlsplit(self._conninfo)
            safe = f"{u.hostname or 'localhost'}:{u.port or 5432}{u.path}"  # no credentials in messages
            raise StoreError(f"cannot connect to PostgreSQL at {safe}: {' '.join(str(exc).split())}") from None
        if self.schema:
            conn.execute(f'SET search_path TO "{self.schema}"')
        self._conn = conn
        return conn

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> Any:
        """Execute with the lock held; one reconnect if the connection broke (server restart)."""
        psycopg = self._psycopg
        with self._lock:
            for attempt in (0, 1):
                conn = self._conn if self._conn is not None and not self._conn.closed else self._connect()
                try:
                    cur = conn.execute(sql, args)
                    return cur.fetchall() if cur.description else None
                except psycopg.OperationalError:
                    if attempt or not conn.closed:
                        raise
                    self._conn = None
        raise AssertionError("unreachable")

    def put(self, scan_id: str, catalogue: Catalogue, *, analysis: str = "", findings: list[Finding] | None = None,
            db_revision: str = "", request_id: str = "", error: str = "", scanned_at: float | None = None
            ) -> StoredScan:
        at = time.time() if scanned_at is None else scanned_at
        found = list(findings or [])
        values = _values(scan_id, catalogue, analysis, found, db_revision, request_id, error, at)
        try:
            self._run(_INSERT.format(",".join(["%s"] * len(values))), values)
        except self._psycopg.errors.UniqueViolation:
            if request_id and (existing := self.by_request(request_id)) is not None:
                raise DuplicateRequest(request_id, existing) from None
            raise
        return StoredScan(scan_id, at, analysis, catalogue, found, db_revision, request_id, error)

    def _one(self, where: str, args: tuple[Any, ...]) -> StoredScan | None:
        rows = self._run(f"SELECT {_COLUMNS} FROM scans WHERE {where}", args)
        return _row(tuple(rows[0])) if rows else None

    def get(self, scan_id: str) -> StoredScan | None:
        return self._one("scan_id = %s", (scan_id,))

    def by_request(self, request_id: str) -> StoredScan | None:
        return self._one("request_id = %s", (request_id,)) if request_id else None

    def latest(self, manifest_digest: str, analysis: str | None = None) -> StoredScan | None:
        if not manifest_digest:
            return None
        where = "manifest_digest = %s AND error = ''"
        args: tuple[str, ...] = (manifest_digest,)
        if analysis is not None:
            where, args = where + " AND analysis = %s", (*args, analysis)
        return self._one(where + " ORDER BY scanned_at DESC, seq DESC LIMIT 1", args)

    def count(self) -> int:
        return int(self._run("SELECT count(*) FROM scans")[0][0])

    def drop_schema(self) -> None:
        """Drop this store's schema with everything in it (test runs clean up after themselves)."""
        if not self.schema:
            raise StoreError("refusing to drop the tables of a store without its own schema")
        self._run(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


#: The name the service used before there were two implementations.
ScanStore = SQLiteStore
