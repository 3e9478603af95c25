"""The advisory index held in memory for matching: entries keyed (ecosystem, distro, name).

Matching must check ~100k packages per second, which a SQL query per package cannot do. The
index is read from the SQLite store once per (ecosystem, distro release) *partition*, the first
time a package of that partition is matched (a Debian 12 scan never loads Alpine rows), and kept.
Advisory metadata, alias groups and related ids are read in bulk once. Withdrawn advisories are
left out at load time, so they can never match.

An entry's OSV ranges are compiled (:class:`~propolis.scanner.versions.osv.OsvAffected`) the first
time a package hits it, and the compiled form is memoised on the entry.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from propolis.scanner.versions import InvalidRange, InvalidVersion, OsvAffected, Scheme, UnknownEcosystem, get_scheme
from propolis.scanner.vulndb import store
from propolis.scanner.vulndb.model import Status
from propolis.scanner.vulndb.store import VulnDB

#: The store schema this module's queries are written for; a bump must revisit them.
_SCHEMA_READ = 1


@dataclass(slots=True, eq=False)
class AdvisoryMeta:
    """What a finding needs from one advisory record (one id in one source)."""

    id: str
    source: str
    summary: str | None
    severity: str | None
    cvss_score: float | None
    cvss_vector: str | None
    #: Key of the alias group (connected component of alias links) the id belongs to.
    group: str
    #: Ids this advisory covers without being them (a DSA's CVEs).
    related: tuple[str, ...] = ()


@dataclass(slots=True)
class Compiled:
    """An entry made ready for comparisons, or the reason it cannot be (bad data in the advisory)."""

    osv: OsvAffected | None = None
    #: Per OSV range (same order as ``osv.ranges``): its scheme and its fixed events, sorted by key.
    fixes: tuple[tuple[Scheme, tuple[tuple[Any, str], ...]], ...] = ()
    #: Distro entries: the fixed version's ordering key and text.
    fixed_key: Any = None
    fixed_text: str = ""
    error: str = ""


@dataclass(slots=True)
class Entry:
    """One affected row: a package named by an advisory in one ecosystem and release, still raw."""

    advisory: AdvisoryMeta
    ecosystem: str
    status: str
    ranges_json: str
    versions_json: str
    fixed: tuple[str, ...]
    severity: str | None
    note: str | None
    compiled: Compiled | None = None

    def compile(self) -> Compiled:
        """Parse ranges / fixed version once; errors are kept, not raised (the entry becomes unverifiable)."""
        c = self.compiled
        if c is not None:
            return c
        try:
            scheme = get_scheme(self.ecosystem)
            if self.status == Status.AFFECTED:
                ranges = [r for r in json.loads(self.ranges_json) if r.get("type") != "GIT"]
                shaped = [{"type": r["type"], "events": [next(iter(e.items())) for e in r["events"]]} for r in ranges]
                osv = OsvAffected.build(self.ecosystem, shaped, json.loads(self.versions_json))
                fixes = []
                for r, compiled_range in zip(shaped, osv.ranges, strict=True):
                    rs = compiled_range.scheme or scheme
                    fixed = sorted(((rs.parse(v).key, v) for k, v in r["events"] if k == "fixed"),
                                   key=lambda kv: kv[0])
                    fixes.append((rs, tuple(fixed)))
                c = Compiled(osv=osv, fixes=tuple(fixes))
            elif self.status == Status.FIXED:
                if not self.fixed:
                    raise ValueError("status fixed without a fixed version")
                c = Compiled(fixed_key=scheme.parse(self.fixed[0]).key, fixed_text=self.fixed[0])
            else:
                c = Compiled()
        except (InvalidVersion, InvalidRange, UnknownEcosystem, ValueError, KeyError, TypeError,
                StopIteration) as exc:
            c = Compiled(error=f"{self.advisory.id} ({self.advisory.source}): affected data for {self.ecosystem} "
                               f"does not parse: {exc}")
        self.compiled = c
        return c


@dataclass
class LoadStats:
    """What the index has loaded so far and how long it took (reported by the benchmark)."""

    partitions: int = 0
    entries: int = 0
    advisories: int = 0
    seconds: float = 0.0
    loaded: list[tuple[str, str]] = field(default_factory=list)


class MatchIndex:
    """Lazy in-memory view of a :class:`VulnDB` for matching. Safe to share between threads."""

    def __init__(self, db: VulnDB | str | Path) -> None:
        self._owned = not isinstance(db, VulnDB)
        self.db = VulnDB(db) if not isinstance(db, VulnDB) else db
        if store.SCHEMA_VERSION != _SCHEMA_READ:
            raise RuntimeError(f"matching reads vulndb schema {_SCHEMA_READ}, the store is at {store.SCHEMA_VERSION}")
        self._lock = threading.Lock()
        self._advisories: dict[int, AdvisoryMeta] | None = None
        self._members: dict[str, tuple[str, ...]] = {}
        self._groups: dict[str, str] = {}
        self._partitions: dict[tuple[str, str], dict[str, list[Entry]]] = {}
        self._distros: dict[str, frozenset[str]] | None = None
        self.stats = LoadStats()

    def close(self) -> None:
        if self._owned:
            self.db.close()

    # -- bulk metadata -------------------------------------------------------------------------
    def _load_advisories(self) -> dict[int, AdvisoryMeta]:
        started = time.monotonic()
        con = self.db.connection
        groups: dict[str, str] = dict(con.execute("SELECT id, grp FROM alias_groups"))
        members: dict[str, list[str]] = {}
        for i, g in groups.items():
            members.setdefault(g, []).append(i)
        self._members = {g: tuple(sorted(ids)) for g, ids in members.items()}
        self._groups = groups
        related: dict[int, list[str]] = {}
        for rowid, alias in con.execute("SELECT advisory, alias FROM aliases WHERE kind = 'related' ORDER BY rowid"):
            related.setdefault(rowid, []).append(alias)
        out: dict[int, AdvisoryMeta] = {}
        for rowid, aid, source, summary, severity, score, vector in con.execute(
                "SELECT id, advisory_id, source, summary, severity, cvss_score, cvss_vector FROM advisories"
                " WHERE withdrawn IS NULL"):
            out[rowid] = AdvisoryMeta(id=aid, source=source, summary=summary, severity=severity, cvss_score=score,
                                      cvss_vector=vector, group=groups.get(aid, aid),
                                      related=tuple(related.get(rowid, ())))
        self.stats.advisories = len(out)
        self.stats.seconds += time.monotonic() - started
        return out

    def advisories(self) -> dict[int, AdvisoryMeta]:
        adv = self._advisories
        if adv is None:
            with self._lock:
                if self._advisories is None:
                    self._advisories = self._load_advisories()
                adv = self._advisories
        return adv

    def members(self, group: str) -> tuple[str, ...]:
        """Every id of an alias group (the group key itself when the id has no aliases)."""
        self.advisories()
        return self._members.get(group, (group,))

    def advisory_group(self, advisory_id: str) -> str:
        """The alias group key of an id (the id itself when it has no aliases)."""
        self.advisories()
        return self._groups.get(advisory_id, advisory_id)

    def distros(self, ecosystem: str) -> frozenset[str]:
        """Distro releases the index holds entries for, per ecosystem ("" for language ecosystems)."""
        d = self._distros
        if d is None:
            found: dict[str, set[str]] = {}
            for eco, distro in self.db.connection.execute("SELECT DISTINCT ecosystem, distro FROM affected"):
                found.setdefault(eco, set()).add(distro)
            d = self._distros = {k: frozenset(v) for k, v in found.items()}
        return d.get(ecosystem, frozenset())

    # -- partitions ----------------------------------------------------------------------------
    def partition(self, ecosystem: str, distro: str) -> dict[str, list[Entry]]:
        """name → entries of one (ecosystem, distro); loaded on first use, then kept."""
        part = self._partitions.get((ecosystem, distro))
        if part is not None:
            return part
        advisories = self.advisories()
        with self._lock:
            part = self._partitions.get((ecosystem, distro))
            if part is not None:
                return part
            started = time.monotonic()
            part = {}
            n = 0
            for rowid, name, ranges, versions, fixed, status, severity, note in self.db.connection.execute(
                    "SELECT advisory, name, ranges, versions, fixed, status, severity, note FROM affected"
                    " WHERE ecosystem = ? AND distro = ? ORDER BY rowid", (ecosystem, distro)):
                meta = advisories.get(rowid)
                if meta is None or status in (Status.NOT_AFFECTED, Status.UNDETERMINED):
                    continue  # withdrawn, or nothing to report
                part.setdefault(name, []).append(Entry(
                    advisory=meta, ecosystem=ecosystem, status=status, ranges_json=ranges, versions_json=versions,
                    fixed=tuple(json.loads(fixed)), severity=severity, note=note))
                n += 1
            self._partitions[(ecosystem, distro)] = part
            self.stats.partitions += 1
            self.stats.entries += n
            self.stats.loaded.append((ecosystem, distro))
            self.stats.seconds += time.monotonic() - started
            return part

    def preload(self, partitions: Iterable[tuple[str, str]] | None = None) -> float:
        """Load the given partitions (default: all of them) now; seconds spent. For services that
        want their first scan as fast as the next ones."""
        started = time.monotonic()
        if partitions is None:
            partitions = [(eco, d) for eco, d in self.db.connection.execute(
                "SELECT DISTINCT ecosystem, distro FROM affected")]
        for eco, d in partitions:
            self.partition(eco, d)
        return time.monotonic() - started
