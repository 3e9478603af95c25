"""The local advisory index: one SQLite file, built once, opened read-only at scan time.

Building writes a temporary file next to the target inside one transaction (bulk
``executemany``), creates the indexes after the rows are in, and renames the file over the
target, so a scanner never sees a half-written index. Scanners open it with
``file:...?mode=ro``: a scan cannot change the data it is judged by.

Tables:
- ``advisories``: one row per (id, source) with summary, severity label, CVSS score and vector,
  published/modified/withdrawn dates.
- ``affected``: one row per (advisory, ecosystem, distro, package): OSV range events and explicit
  versions as JSON, fixed versions, status. Indexed on (ecosystem, distro, name).
- ``aliases``: (advisory, alias, kind). ``alias`` rows are the same vulnerability under another id
  (CVE ⇄ GHSA ⇄ PYSEC ⇄ GO); ``related`` rows are ids an advisory covers (a DSA's CVEs).
- ``alias_groups``: every id mapped to its group, the connected component of ``alias`` links, so
  one lookup finds PYSEC-2018-28, GHSA-x84v-xcm2-53pg and CVE-2018-18074 together.
- ``sources`` and ``meta``: what was imported from where, counts, build time, schema version.

Version matching is not done here: :meth:`VulnDB.lookup` returns the raw entries.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from propolis.scanner.vulndb.ecosystems import normalise_distro, normalise_name
from propolis.scanner.vulndb.importers.interface import ImportStats
from propolis.scanner.vulndb.model import Advisory, AffectedEntry, Range

#: Bump on any change to the tables; readers refuse other versions (rebuild instead of misreading).
SCHEMA_VERSION = 1
_BATCH = 5000

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE sources (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, kind TEXT NOT NULL, imported INTEGER NOT NULL,
    affected INTEGER NOT NULL, skipped TEXT NOT NULL, warnings TEXT NOT NULL, ecosystems TEXT NOT NULL,
    newest TEXT NOT NULL, seconds REAL NOT NULL);
CREATE TABLE advisories (
    id INTEGER PRIMARY KEY, advisory_id TEXT NOT NULL, source TEXT NOT NULL, summary TEXT, severity TEXT,
    cvss_score REAL, cvss_vector TEXT, published TEXT, modified TEXT, withdrawn TEXT);
CREATE TABLE affected (
    advisory INTEGER NOT NULL REFERENCES advisories(id), ecosystem TEXT NOT NULL, distro TEXT NOT NULL,
    name TEXT NOT NULL, ranges TEXT NOT NULL, versions TEXT NOT NULL, fixed TEXT NOT NULL, status TEXT NOT NULL,
    severity TEXT, note TEXT);
CREATE TABLE aliases (advisory INTEGER NOT NULL REFERENCES advisories(id), alias TEXT NOT NULL, kind TEXT NOT NULL);
CREATE TABLE alias_groups (id TEXT PRIMARY KEY, grp TEXT NOT NULL) WITHOUT ROWID;
"""
_INDEXES = """
CREATE UNIQUE INDEX advisories_key ON advisories (advisory_id, source);
CREATE INDEX affected_lookup ON affected (ecosystem, distro, name);
CREATE INDEX affected_advisory ON affected (advisory);
CREATE INDEX aliases_advisory ON aliases (advisory);
CREATE INDEX aliases_alias ON aliases (alias);
CREATE INDEX alias_groups_grp ON alias_groups (grp);
"""


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class VulnDBError(Exception):
    """The index is missing, unreadable, or of another schema version."""


@dataclass
class SourceInfo:
    path: str
    kind: str
    imported: int
    affected: int
    skipped: dict[str, int]
    warnings: dict[str, int]
    ecosystems: dict[str, int]
    newest: str
    seconds: float


@dataclass
class DbInfo:
    path: str
    schema_version: int
    built_at: str
    build_seconds: float
    size_bytes: int
    advisories: int
    affected: int
    withdrawn: int
    ecosystems: dict[str, int]  # affected entries per purl type
    distros: dict[str, int]  # affected entries per distro release
    sources: list[SourceInfo] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Builder:
    """Sink that streams advisories into a new index; :meth:`commit` publishes it atomically.

    A repeated (id, source) merges into the first: its new affected entries and aliases are added,
    identical entries are not duplicated (trackers list one CVE under several packages).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        self._started = time.monotonic()
        self._db = sqlite3.connect(self._tmp, isolation_level=None)
        self._db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA page_size = 8192;")
        self._db.executescript(_SCHEMA)
        self._db.execute("BEGIN")
        self._keys: dict[tuple[str, str], int] = {}
        self._entries: dict[int, set[int]] = {}  # hashes of an advisory's entry rows, to merge repeats
        self._alias_links: dict[int, set[tuple[str, str]]] = {}
        self._ids: dict[int, str] = {}
        self._adv_rows: list[tuple[Any, ...]] = []
        self._aff_rows: list[tuple[Any, ...]] = []
        self._alias_rows: list[tuple[Any, ...]] = []
        self._sources: list[tuple[Any, ...]] = []
        self._closed = False

    # -- sink -------------------------------------------------------------------------------
    def add(self, advisory: Advisory) -> None:
        key = (advisory.id, advisory.source)
        rowid = self._keys.get(key)
        if rowid is None:
            rowid = len(self._keys) + 1
            self._keys[key] = rowid
            self._ids[rowid] = advisory.id
            self._entries[rowid] = set()
            self._alias_links[rowid] = set()
            self._adv_rows.append((rowid, advisory.id, advisory.source, advisory.summary, advisory.severity,
                                   advisory.cvss_score, advisory.cvss_vector, advisory.published, advisory.modified,
                                   advisory.withdrawn))
        links = self._alias_links[rowid]
        for kind, ids in (("alias", advisory.aliases), ("related", advisory.related)):
            for alias in ids:
                if alias != advisory.id and (alias, kind) not in links:
                    links.add((alias, kind))
                    self._alias_rows.append((rowid, alias, kind))
        seen = self._entries[rowid]
        for e in advisory.affected:
            row = (e.ecosystem, e.distro, e.name, _json([r.to_json() for r in e.ranges]), _json(list(e.versions)),
                   _json(list(e.fixed)), e.status, e.severity, e.note)
            if hash(row) not in seen:
                seen.add(hash(row))
                self._aff_rows.append((rowid, *row))
        if len(self._aff_rows) >= _BATCH or len(self._adv_rows) >= _BATCH:
            self._flush()

    def record(self, stats: ImportStats, seconds: float) -> None:
        """Keep one source's import statistics in the index's metadata."""
        self._sources.append((stats.source, stats.kind, stats.imported, stats.affected,
                              json.dumps(dict(stats.skipped)), json.dumps(dict(stats.warnings)),
                              json.dumps(dict(stats.ecosystems)), stats.newest, round(seconds, 3)))

    # -- finish -----------------------------------------------------------------------------
    def _flush(self) -> None:
        db = self._db
        db.executemany("INSERT INTO advisories VALUES (?,?,?,?,?,?,?,?,?,?)", self._adv_rows)
        db.executemany("INSERT INTO affected VALUES (?,?,?,?,?,?,?,?,?,?)", self._aff_rows)
        db.executemany("INSERT INTO aliases VALUES (?,?,?)", self._alias_rows)
        self._adv_rows, self._aff_rows, self._alias_rows = [], [], []

    def _groups(self) -> Iterable[tuple[str, str]]:
        """(id, group) for every id reachable by ``alias`` links; the group is the smallest CVE id, else the
        smallest id, so the group key is stable whatever order sources were imported in."""
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            parent.setdefault(x, x)
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for rowid, links in self._alias_links.items():
            a = self._ids[rowid]
            find(a)
            for alias, kind in links:
                if kind == "alias":
                    ra, rb = find(a), find(alias)
                    if ra != rb:
                        parent[max(ra, rb)] = min(ra, rb)
        members: dict[str, list[str]] = {}
        for x in parent:
            members.setdefault(find(x), []).append(x)
        for ids in members.values():
            cves = sorted(i for i in ids if i.startswith("CVE-"))
            key = cves[0] if cves else min(ids)
            for i in ids:
                yield i, key

    def commit(self) -> DbInfo:
        """Finish the index: indexes, alias groups, metadata; then rename it over the target."""
        try:
            self._flush()
            db = self._db
            db.executemany("INSERT INTO alias_groups VALUES (?,?)", self._groups())
            db.executemany("INSERT INTO sources (path, kind, imported, affected, skipped, warnings, ecosystems, newest,"
                           " seconds) VALUES (?,?,?,?,?,?,?,?,?)", self._sources)
            for stmt in filter(str.strip, _INDEXES.split(";")):  # executescript would COMMIT first
                db.execute(stmt)
            build_seconds = round(time.monotonic() - self._started, 3)
            meta = {"schema_version": str(SCHEMA_VERSION), "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "build_seconds": str(build_seconds)}
            db.executemany("INSERT INTO meta VALUES (?,?)", meta.items())
            db.execute("COMMIT")
            db.execute("ANALYZE")
            db.close()
            self._closed = True
            with self._tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
            os.chmod(self._tmp, 0o644)
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        with VulnDB(self.path) as vdb:
            return vdb.info()

    def abort(self) -> None:
        """Drop the temporary file; the target (if any) is left as it was."""
        if not self._closed:
            self._db.close()
            self._closed = True
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> Builder:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None:
            self.abort()


class VulnDB:
    """Read-only access to a built index."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise VulnDBError(f"vulnerability database {self.path} does not exist (build it with `propolis vulndb "
                              "build`)")
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        try:
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._db.execute("PRAGMA query_only = ON")
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise VulnDBError(f"{self.path} is not a Propolis vulnerability database: {exc}") from exc
        if row is None or row[0] != str(SCHEMA_VERSION):
            self._db.close()
            raise VulnDBError(f"{self.path} has schema version {row[0] if row else '?'}, this Propolis reads "
                              f"{SCHEMA_VERSION}: rebuild it")
        self._distros: dict[str, list[str]] = {}

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> VulnDB:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def connection(self) -> sqlite3.Connection:
        """The read-only connection (for tests and ad-hoc queries)."""
        return self._db

    def lookup(self, ecosystem: str, name: str, distro: str | None = None,
               include_withdrawn: bool = False) -> list[AffectedEntry]:
        """Every affected entry for a package, raw (no version matching), with its advisory's merged aliases.

        ``ecosystem`` is a purl type; ``name`` is normalised as stored (PEP 503 for pypi). ``distro``
        (``debian:12``, ``bookworm``, ``alpine:3.11``) narrows distro ecosystems to one release; None
        means every release. Withdrawn advisories are left out unless ``include_withdrawn``.
        """
        norm = normalise_name(ecosystem, name)
        if distro is not None:
            distros = [normalise_distro(distro)]
        else:
            distros = self._distro_list(ecosystem)
        marks = ",".join("?" * len(distros))
        rows = self._db.execute(
            "SELECT a.id, a.advisory_id, a.source, a.withdrawn, f.ecosystem, f.distro, f.name, f.ranges, f.versions,"
            " f.fixed, f.status, f.severity, f.note FROM affected f JOIN advisories a ON a.id = f.advisory"
            f" WHERE f.ecosystem = ? AND f.distro IN ({marks}) AND f.name = ?"
            + ("" if include_withdrawn else " AND a.withdrawn IS NULL")
            + " ORDER BY a.advisory_id, f.distro, f.rowid",
            (ecosystem, *distros, norm)).fetchall()
        alias_cache: dict[int, tuple[str, ...]] = {}
        out = []
        for rowid, aid, source, withdrawn, eco, dist, pname, ranges, versions, fixed, status, severity, note in rows:
            if rowid not in alias_cache:
                alias_cache[rowid] = tuple(a for a in self.aliases(aid) if a != aid)
            out.append(AffectedEntry(
                ecosystem=eco, distro=dist, name=pname, ranges=tuple(Range.from_json(r) for r in json.loads(ranges)),
                versions=tuple(json.loads(versions)), fixed=tuple(json.loads(fixed)), status=status,
                severity=severity, note=note, advisory_id=aid, source=source, aliases=alias_cache[rowid],
                withdrawn=withdrawn))
        return out

    def _distro_list(self, ecosystem: str) -> list[str]:
        if ecosystem not in self._distros:
            self._distros[ecosystem] = [r[0] for r in self._db.execute(
                "SELECT DISTINCT distro FROM affected WHERE ecosystem = ?", (ecosystem,))] or [""]
        return self._distros[ecosystem]

    def aliases(self, advisory_id: str) -> list[str]:
        """The id's alias group (itself included), plus ids related to any member (a DSA and its CVEs)."""
        grp = self._db.execute("SELECT grp FROM alias_groups WHERE id = ?", (advisory_id,)).fetchone()
        group = [r[0] for r in self._db.execute("SELECT id FROM alias_groups WHERE grp = ? ORDER BY id", grp)] \
            if grp else [advisory_id]
        marks = ",".join("?" * len(group))
        related = [r[0] for r in self._db.execute(
            f"SELECT a.advisory_id FROM aliases l JOIN advisories a ON a.id = l.advisory"
            f" WHERE l.kind = 'related' AND l.alias IN ({marks})"
            f" UNION SELECT l.alias FROM aliases l JOIN advisories a ON a.id = l.advisory"
            f" WHERE l.kind = 'related' AND a.advisory_id IN ({marks})", (*group, *group))]
        return sorted(set(group) | set(related))

    def advisories(self, advisory_id: str) -> list[Advisory]:
        """Every source's record of one id, with its affected entries."""
        rows = self._db.execute("SELECT id, advisory_id, source, summary, severity, cvss_score, cvss_vector, published,"
                                " modified, withdrawn FROM advisories WHERE advisory_id = ? ORDER BY source",
                                (advisory_id,)).fetchall()
        out = []
        for rowid, aid, source, summary, severity, score, vector, published, modified, withdrawn in rows:
            links = self._db.execute("SELECT alias, kind FROM aliases WHERE advisory = ? ORDER BY rowid",
                                     (rowid,)).fetchall()
            entries = self._db.execute("SELECT ecosystem, distro, name, ranges, versions, fixed, status, severity, note"
                                       " FROM affected WHERE advisory = ? ORDER BY rowid", (rowid,)).fetchall()
            out.append(Advisory(
                id=aid, source=source, summary=summary, severity=severity, cvss_score=score, cvss_vector=vector,
                published=published, modified=modified, withdrawn=withdrawn,
                aliases=tuple(a for a, k in links if k == "alias"),
                related=tuple(a for a, k in links if k == "related"),
                affected=[AffectedEntry(ecosystem=e, distro=d, name=n,
                                        ranges=tuple(Range.from_json(r) for r in json.loads(rg)),
                                        versions=tuple(json.loads(v)), fixed=tuple(json.loads(f)), status=st,
                                        severity=sv, note=nt, advisory_id=aid, source=source, withdrawn=withdrawn)
                          for e, d, n, rg, v, f, st, sv, nt in entries]))
        return out

    def info(self) -> DbInfo:
        db = self._db
        meta = dict(db.execute("SELECT key, value FROM meta"))
        sources = [SourceInfo(path=p, kind=k, imported=i, affected=a, skipped=json.loads(s), warnings=json.loads(w),
                              ecosystems=json.loads(e), newest=n, seconds=sec)
                   for p, k, i, a, s, w, e, n, sec in db.execute(
                       "SELECT path, kind, imported, affected, skipped, warnings, ecosystems, newest, seconds"
                       " FROM sources ORDER BY id")]
        return DbInfo(
            path=str(self.path), schema_version=int(meta["schema_version"]), built_at=meta["built_at"],
            build_seconds=float(meta["build_seconds"]), size_bytes=self.path.stat().st_size,
            advisories=db.execute("SELECT count(*) FROM advisories").fetchone()[0],
            affected=db.execute("SELECT count(*) FROM affected").fetchone()[0],
            withdrawn=db.execute("SELECT count(*) FROM advisories WHERE withdrawn IS NOT NULL").fetchone()[0],
            ecosystems=dict(db.execute("SELECT ecosystem, count(*) FROM affected GROUP BY ecosystem ORDER BY 1")),
            distros=dict(db.execute("SELECT distro, count(*) FROM affected WHERE distro != '' GROUP BY distro"
                                    " ORDER BY 1")),
            sources=sources)


def build(db_path: Path, sources: Sequence[tuple[Any, Path]]) -> tuple[DbInfo, list[ImportStats]]:
    """Import every (importer, path) into a fresh index at ``db_path``, replacing it atomically."""
    all_stats = []
    with Builder(db_path) as builder:
        for importer, path in sources:
            started = time.monotonic()
            stats = importer.import_(path, builder)
            builder.record(stats, time.monotonic() - started)
            all_stats.append(stats)
        info = builder.commit()
    return info, all_stats
