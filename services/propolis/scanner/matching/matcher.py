"""Matching catalogued packages against the advisory index, producing :class:`Finding` records.

Rules (each one is why a finding exists or not):

- OS packages (deb, apk, rpm) are matched by their *source* package (dpkg ``Source:``, apk origin,
  rpm SRPM name; the binary name when there is none) and only against the image's own distro
  release: Debian ``VERSION_CODENAME`` (or ``VERSION_ID`` → codename), Alpine ``VERSION_ID`` → ``vX.Y``,
  other distros ``<id>:<VERSION_ID>`` when the index holds such data. Without data for the release
  nothing is matched and an issue says so. deb packages compare their source version (the tracker's
  fixed versions are source versions; a binNMU ``+b1`` does not change the source).
- Distro entries: ``fixed`` → affected iff installed < fixed (the ecosystem's ordering), state FIXED;
  ``unfixed`` / ``will-not-fix`` / ``end-of-life`` → affected whatever the version, that state, no
  fixed version; ``not-affected`` (secdb's ``0``) and ``undetermined`` → nothing.
- Language packages match by ecosystem and the name normalised per ecosystem (PEP 503 for PyPI,
  Go module paths and npm names as published) with OSV semantics (``OsvAffected``); GIT ranges
  match nothing. The fixed version is the lowest ``fixed`` event above the installed version in a
  range that contains it; none → state UNFIXED.
- Withdrawn advisories never match (they are not loaded).
- A version that does not parse in its ecosystem cannot be compared: each advisory needing a
  comparison becomes an UNVERIFIABLE finding with the parse error as note. Advisory data that does not
  parse does the same, and is also listed in ``issues``.
- Advisories of one vulnerability are merged per package: ids in one alias group (CVE ⇄ GHSA ⇄
  PYSEC ⇄ GO), and an umbrella advisory (DSA/DLA: an id that is not a CVE) with the CVEs it covers.
  The finding's id is the CVE when the merged set names exactly one, else the matched source id;
  ``aliases`` holds every other id, sorted; severity is the highest known; CVSS comes from an
  advisory with a vector (v4, then v3.1, v3.0, v2; highest score); ``fixed_version`` is the highest of
  the merged advisories' fixes, so that upgrading to it clears all of them.
- One finding per (vulnerability, package, location): a package listed twice at the same location
  is matched once; the same package at two locations gives two findings. Layer and path come from
  the package's first location.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from propolis.scanner.catalogue import Catalogue
from propolis.scanner.domain.findings import SEVERITIES, Finding, FindingLayer, FindingPackage, FixState
from propolis.scanner.domain.model import OSRelease, Package
from propolis.scanner.matching.index import AdvisoryMeta, Entry, MatchIndex
from propolis.scanner.versions import InvalidVersion, OsvAffected, Scheme, UnknownEcosystem, Version, get_scheme
from propolis.scanner.vulndb.ecosystems import DEBIAN_CODENAMES, normalise_distro, normalise_name
from propolis.scanner.vulndb.model import Status
from propolis.scanner.vulndb.store import VulnDB

#: Ecosystems whose advisories are per distro release and per source package.
OS_ECOSYSTEMS = frozenset({"deb", "apk", "rpm"})
#: Advisory / tracker severity labels → :data:`~propolis.scanner.domain.findings.SEVERITIES`.
_SEVERITY = {"critical": "critical", "high": "high", "important": "high", "medium": "medium", "moderate": "medium",
             "low": "low", "none": "negligible", "negligible": "negligible", "unimportant": "negligible"}
#: When merged advisories disagree on the state, the most actionable one wins.
_STATE_ORDER = (FixState.FIXED, FixState.UNFIXED, FixState.WILL_NOT_FIX, FixState.END_OF_LIFE, FixState.UNVERIFIABLE)
_STATUS_STATE = {Status.UNFIXED: FixState.UNFIXED, Status.WILL_NOT_FIX: FixState.WILL_NOT_FIX,
                 Status.END_OF_LIFE: FixState.END_OF_LIFE}
_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_ALPINE_RELEASE = re.compile(r"^v?(\d+)\.(\d+)")
#: Memo of per-(package identity) verdicts; bounded so a long-running service does not grow forever.
_MEMO_MAX = 200_000


class MatchStats(msgspec.Struct, kw_only=True):
    """Counters of one match run."""

    #: Packages given (after dropping exact duplicates: same package at the same location).
    packages: int = 0
    duplicates: int = 0
    #: Packages that were looked up (their ecosystem and release have data in the index).
    checked: int = 0
    #: Packages with at least one finding.
    vulnerable: int = 0
    findings: int = 0
    by_severity: dict[str, int] = {}
    by_state: dict[str, int] = {}
    #: Packages not checked, per reason key (e.g. ``deb:debian:bookworm`` without data).
    unchecked: dict[str, int] = {}
    seconds: float = 0.0


class MatchResult(msgspec.Struct, kw_only=True):
    #: Most severe first (then CVSS score, id, package, path).
    findings: list[Finding] = []
    #: Why the result may be incomplete: releases or ecosystems without data, advisory data that
    #: does not parse.
    issues: list[str] = []
    stats: MatchStats = msgspec.field(default_factory=MatchStats)


def distro_release(os: OSRelease | None) -> str | None:
    """The index's distro key for an image's OS (``debian:bookworm``, ``alpine:v3.18``), None if unknown."""
    if os is None or not os.id:
        return None
    if os.id == "debian":
        codename = os.version_codename or DEBIAN_CODENAMES.get(
            os.version_id, DEBIAN_CODENAMES.get(os.version_id.split(".")[0], ""))
        return f"debian:{codename}" if codename else None
    if os.id == "alpine":
        m = _ALPINE_RELEASE.match(os.version_id)
        if m:
            return f"alpine:v{m.group(1)}.{m.group(2)}"
        return "alpine:edge" if "edge" in os.version_id or not os.version_id else None
    if not os.version_id:
        return None
    return normalise_distro(f"{os.id}:{os.version_id}")


@dataclass(slots=True)
class _Hit:
    """One advisory entry that applies to the package."""

    advisory: AdvisoryMeta
    entry: Entry
    state: str
    fixed_key: Any = None
    fixed_text: str = ""
    note: str = ""


@dataclass(slots=True, frozen=True)
class _AdvInfo:
    #: Keys that put advisories in one finding: alias group, and for umbrella advisories their CVEs.
    keys: frozenset[str]
    #: Every id the advisory stands for (itself, its alias group, its related ids).
    ids: frozenset[str]
    severity: int
    cvss: tuple[int, float] | None


@dataclass(slots=True)
class _Verdict:
    """A merged finding without the package-specific parts (shared by equal packages via the memo)."""

    id: str
    aliases: list[str]
    severity: str
    cvss_score: float | None
    cvss_vector: str
    fixed_version: str
    state: str
    title: str
    data_sources: list[str]
    note: str


def _cvss_rank(vector: str) -> int:
    if vector.startswith("CVSS:4"):
        return 4
    if vector.startswith("CVSS:3.1"):
        return 3
    if vector.startswith("CVSS:3"):
        return 2
    return 1


class Matcher:
    """Matches catalogues against one advisory index. Create once, reuse: the in-memory index and
    the verdict memo make every scan after the first cheap. Thread-safe for concurrent ``match``."""

    def __init__(self, db: VulnDB | MatchIndex | str | Path) -> None:
        self.index = db if isinstance(db, MatchIndex) else MatchIndex(db)
        self._memo: dict[tuple[str, str, str, str], tuple[tuple[_Verdict, ...], tuple[str, ...]]] = {}
        self._schemes: dict[str, Scheme | None] = {}
        self._infos: dict[AdvisoryMeta, _AdvInfo] = {}
        self._names: dict[AdvisoryMeta, tuple[str, list[str], str, list[str]]] = {}

    def close(self) -> None:
        self.index.close()

    def forget(self) -> None:
        """Drop the per-package verdict memo (the loaded index stays): for measurements, or when the
        same ``Matcher`` must re-judge packages it has seen."""
        self._memo.clear()

    def __enter__(self) -> Matcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- API -----------------------------------------------------------------------------------
    def match(self, catalogue: Catalogue) -> MatchResult:
        """Findings for every package of a catalogue, its distro release taken from ``catalogue.os``."""
        return self.match_packages(catalogue.packages, catalogue.os)

    def match_packages(self, packages: Iterable[Package], os_release: OSRelease | None) -> MatchResult:
        """Findings for ``packages`` of an image whose OS is ``os_release`` (None: OS packages unchecked)."""
        started = time.monotonic()
        distro = distro_release(os_release)
        stats = MatchStats()
        issues: list[str] = []
        findings: list[Finding] = []
        unchecked: Counter[str] = Counter()
        seen: set[tuple[str, str, str, str, str]] = set()
        partitions: dict[str, list[dict[str, list[Entry]]]] = {}
        memo = self._memo
        for pkg in packages:
            eco = pkg.ecosystem
            loc = pkg.locations[0] if pkg.locations else None
            path = loc.path if loc is not None else ""
            ident = (eco, pkg.name, pkg.version, pkg.source_name, path)
            if ident in seen:
                stats.duplicates += 1
                continue
            seen.add(ident)
            stats.packages += 1
            parts = partitions.get(eco)
            if parts is None:
                parts = partitions[eco] = self._partitions_for(eco, distro)
            if not parts:
                unchecked[f"{eco}:{distro}" if eco in OS_ECOSYSTEMS else eco] += 1
                continue
            stats.checked += 1
            if eco in OS_ECOSYSTEMS:
                name = pkg.source_name or pkg.name
                version = (pkg.source_version or pkg.version) if eco == "deb" else pkg.version
                key = (eco, distro or "", name, version)
            else:
                name = normalise_name(eco, pkg.name)
                version = pkg.version
                key = (eco, "", name, version)
            judged = memo.get(key)
            if judged is None:
                entries = [e for part in parts for e in part.get(name, ())]
                judged = self._judge(eco, version, entries) if entries else ((), ())
                if len(memo) >= _MEMO_MAX:
                    memo.clear()
                memo[key] = judged
            verdicts, data_errors = judged
            if data_errors:
                issues.extend(data_errors)
            if not verdicts:
                continue
            stats.vulnerable += 1
            fpkg = FindingPackage(name=pkg.name, version=pkg.version, purl=pkg.purl, ecosystem=eco,
                                  source_name=name if eco in OS_ECOSYSTEMS else pkg.source_name)
            layer = FindingLayer(digest=loc.layer_digest, diff_id=loc.diff_id, created_by=loc.created_by) \
                if loc is not None else FindingLayer()
            for v in verdicts:
                findings.append(Finding(
                    id=v.id, aliases=v.aliases, severity=v.severity, cvss_score=v.cvss_score,
                    cvss_vector=v.cvss_vector, package=fpkg, installed_version=pkg.version,
                    fixed_version=v.fixed_version, state=v.state, layer=layer, path=path, title=v.title,
                    data_sources=v.data_sources, note=v.note))
        findings.sort(key=lambda f: (_RANK.get(f.severity, 5), -(f.cvss_score or 0.0), f.id, f.package.ecosystem,
                                     f.package.name, f.package.version, f.path))
        for what, n in sorted(unchecked.items()):
            if what.endswith(":None"):
                issues.append(f"the image's distro release is unknown: {n} {what.split(':')[0]} package(s) "
                              "not checked")
            elif ":" in what:
                eco, _, rel = what.partition(":")
                issues.append(f"no advisory data for {rel} ({eco}) in the index: {n} package(s) not checked")
            else:
                issues.append(f"no advisory data for ecosystem {what} in the index: {n} package(s) not checked")
        stats.unchecked = dict(unchecked)
        stats.findings = len(findings)
        stats.by_severity = dict(Counter(f.severity for f in findings))
        stats.by_state = dict(Counter(f.state for f in findings))
        stats.seconds = round(time.monotonic() - started, 6)
        return MatchResult(findings=findings, issues=list(dict.fromkeys(issues)), stats=stats)

    # -- internals -----------------------------------------------------------------------------
    def _partitions_for(self, eco: str, distro: str | None) -> list[dict[str, list[Entry]]]:
        """The index partitions a package of ``eco`` is matched against in this image."""
        available = self.index.distros(eco)
        if eco not in OS_ECOSYSTEMS:
            return [self.index.partition(eco, "")] if "" in available else []
        if distro is None:
            return []
        # Exact release; OSV distro suffixes such as ``ubuntu:22.04:lts`` count for ``ubuntu:22.04``.
        wanted = sorted(d for d in available if d == distro or d.startswith(distro + ":"))
        return [self.index.partition(eco, d) for d in wanted]

    def _scheme(self, eco: str) -> Scheme | None:
        if eco not in self._schemes:
            try:
                self._schemes[eco] = get_scheme(eco)
            except UnknownEcosystem:
                self._schemes[eco] = None
        return self._schemes[eco]

    def _judge(self, eco: str, version: str, entries: Sequence[Entry]
               ) -> tuple[tuple[_Verdict, ...], tuple[str, ...]]:
        """Every advisory entry that applies to (eco, version), merged into one verdict per vulnerability;
        plus the advisory data that could not be parsed on the way."""
        issues: list[str] = []
        scheme = self._scheme(eco)
        parsed: Version | None = None
        parse_error = ""
        if scheme is None:
            parse_error = f"no version ordering is known for ecosystem {eco}"
        else:
            try:
                parsed = scheme.parse(version)
            except InvalidVersion as exc:
                parse_error = f"cannot compare: {exc}"
        hits: list[_Hit] = []
        for e in entries:
            state = _STATUS_STATE.get(e.status)
            if state is not None:  # decided by the tracker, whatever the version
                hits.append(_Hit(e.advisory, e, state, note=e.note or ""))
                continue
            if parsed is None:
                hits.append(_Hit(e.advisory, e, FixState.UNVERIFIABLE, note=parse_error))
                continue
            c = e.compile()
            if c.error:
                issues.append(c.error)
                hits.append(_Hit(e.advisory, e, FixState.UNVERIFIABLE, note=c.error))
                continue
            if e.status == Status.FIXED:
                if parsed.key < c.fixed_key:
                    hits.append(_Hit(e.advisory, e, FixState.FIXED, c.fixed_key, c.fixed_text, e.note or ""))
                continue
            osv = c.osv
            try:
                inside = osv is not None and osv.contains(parsed)
            except InvalidVersion as exc:  # a SEMVER range and a version valid only in its own ecosystem
                hits.append(_Hit(e.advisory, e, FixState.UNVERIFIABLE, note=f"cannot compare: {exc}"))
                continue
            if not inside or osv is None:
                continue
            fixed_key, fixed_text = self._lowest_fix_above(osv, c.fixes, parsed)
            if fixed_text:
                hits.append(_Hit(e.advisory, e, FixState.FIXED, fixed_key, fixed_text))
            else:
                hits.append(_Hit(e.advisory, e, FixState.UNFIXED))
        if not hits:
            return (), tuple(issues)
        return tuple(self._merge(cluster, scheme) for cluster in self._clusters(hits)), tuple(issues)

    @staticmethod
    def _lowest_fix_above(osv: OsvAffected, fixes: Sequence[tuple[Scheme, tuple[tuple[Any, str], ...]]],
                          parsed: Version) -> tuple[Any, str]:
        """The lowest ``fixed`` event above the installed version, in the first range containing it
        (a version listed explicitly but inside no range: the lowest fix above it in any range).
        The key is returned only when it is in the package's own ordering (not a SEMVER range's)."""
        fallback: tuple[Any, str] = (None, "")
        for r, (rs, fixed) in zip(osv.ranges, fixes, strict=True):
            if not fixed:
                continue
            own = rs.ecosystem == parsed.ecosystem
            try:
                key = parsed.key if own else rs.parse(parsed.text).key
            except InvalidVersion:
                continue
            above = next(((k, t) for k, t in fixed if k > key), None)
            if above is None:
                continue
            found = above if own else (None, above[1])
            if r.contains_key(key):
                return found
            if not fallback[1]:
                fallback = found
        return fallback

    def _info(self, adv: AdvisoryMeta) -> _AdvInfo:
        """Per-advisory parts of a finding, computed once: its ids, severity rank, CVSS rank."""
        info = self._infos.get(adv)
        if info is None:
            keys = {adv.group}
            ids = {adv.id, *self.index.members(adv.group), *adv.related}
            if not adv.id.startswith("CVE-"):  # an umbrella advisory (DSA/DLA): one with the CVEs it covers
                keys.update(adv.related)
                keys.update(self.index.advisory_group(r) for r in adv.related)
            sev = _SEVERITY.get((adv.severity or "").lower(), "unknown")
            info = _AdvInfo(keys=frozenset(keys), ids=frozenset(ids), severity=_RANK[sev],
                            cvss=(_cvss_rank(adv.cvss_vector or ""), adv.cvss_score or 0.0)
                            if adv.cvss_vector and adv.cvss_score is not None else None)
            self._infos[adv] = info
        return info

    def _clusters(self, hits: list[_Hit]) -> list[list[_Hit]]:
        """Hits of one vulnerability together: same alias group, or an umbrella advisory and its CVEs."""
        if len(hits) == 1:
            return [hits]
        owner: dict[str, int] = {}  # key → cluster number; merged clusters are forwarded
        parent: list[int] = []

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        of_hit: list[int] = []
        for h in hits:
            n = len(parent)
            parent.append(n)
            for k in self._info(h.advisory).keys:
                o = owner.get(k)
                if o is None:
                    owner[k] = n
                else:
                    a, b = find(o), find(n)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
            of_hit.append(n)
        clusters: dict[int, list[_Hit]] = {}
        for h, n in zip(hits, of_hit, strict=True):
            clusters.setdefault(find(n), []).append(h)
        return list(clusters.values())

    def _naming(self, advisories: list[AdvisoryMeta], infos: list[_AdvInfo]) -> tuple[str, list[str], str, list[str]]:
        """(id, aliases, title, data sources) of a merged finding; memoised for lone advisories."""
        lone = len(advisories) == 1
        if lone and (cached := self._names.get(advisories[0])) is not None:
            return cached
        matched = sorted({a.id for a in advisories})
        ids = set(infos[0].ids).union(*(i.ids for i in infos[1:])) if not lone else infos[0].ids
        cves = [i for i in ids if i.startswith("CVE-")]
        if len(cves) == 1:
            fid = cves[0]
        else:
            umbrella = [i for i in matched if not i.startswith("CVE-")]
            fid = umbrella[0] if umbrella else matched[0]
        title = next((a.summary for a in advisories if a.id == fid and a.summary), None) \
            or next((a.summary for a in advisories if a.source == "osv" and a.summary), None) \
            or next((a.summary for a in advisories if a.summary), "")
        out = (fid, sorted(ids - {fid}), title or "", sorted({a.source for a in advisories}))
        if lone:
            self._names[advisories[0]] = out
        return out

    def _merge(self, cluster: list[_Hit], scheme: Scheme | None) -> _Verdict:
        if len(cluster) == 1:  # the common case: one advisory entry, most parts precomputed per advisory
            h = cluster[0]
            adv, info = h.advisory, self._info(h.advisory)
            fid, aliases, title, sources = self._naming([adv], [info])
            rank = info.severity
            if h.entry.severity:
                rank = min(rank, _RANK[_SEVERITY.get(h.entry.severity.lower(), "unknown")])
            has_cvss = info.cvss is not None
            return _Verdict(id=fid, aliases=aliases, severity=SEVERITIES[rank],
                            cvss_score=adv.cvss_score if has_cvss else None,
                            cvss_vector=(adv.cvss_vector or "") if has_cvss else "",
                            fixed_version=h.fixed_text if h.state == FixState.FIXED else "", state=h.state,
                            title=title, data_sources=sources, note=h.note)
        advisories = list({id(h.advisory): h.advisory for h in cluster}.values())
        infos = [self._info(a) for a in advisories]
        fid, aliases, title, sources = self._naming(advisories, infos)
        rank = min(i.severity for i in infos)
        for h in cluster:
            if h.entry.severity:
                rank = min(rank, _RANK[_SEVERITY.get(h.entry.severity.lower(), "unknown")])
        scored = [(i.cvss, a) for i, a in zip(infos, advisories, strict=True) if i.cvss is not None]
        best = max(scored, key=lambda ia: ia[0])[1] if scored else None
        state = cluster[0].state if len(cluster) == 1 else min((h.state for h in cluster), key=_STATE_ORDER.index)
        fixed = ""
        if state == FixState.FIXED:
            fixed = cluster[0].fixed_text if len(cluster) == 1 else \
                self._highest_fix([h for h in cluster if h.state == FixState.FIXED], scheme)
        notes = [h.note for h in cluster if h.note and (h.state == state or h.state == FixState.UNVERIFIABLE)]
        return _Verdict(
            id=fid, aliases=aliases, severity=SEVERITIES[rank],
            cvss_score=best.cvss_score if best else None, cvss_vector=best.cvss_vector or "" if best else "",
            fixed_version=fixed, state=state, title=title, data_sources=sources,
            note="; ".join(dict.fromkeys(notes)) if notes else "")

    @staticmethod
    def _highest_fix(hits: list[_Hit], scheme: Scheme | None) -> str:
        """The highest of the merged fixes, in the package's ordering (upgrading to it clears them all)."""
        keyed: list[tuple[Any, str]] = []
        for h in hits:
            if h.fixed_key is not None:
                keyed.append((h.fixed_key, h.fixed_text))
            elif scheme is not None:
                try:
                    keyed.append((scheme.parse(h.fixed_text).key, h.fixed_text))
                except InvalidVersion:
                    continue
        if len(keyed) == len(hits):
            return max(keyed, key=lambda kv: kv[0])[1]
        return max(h.fixed_text for h in hits)  # some fix is not in the package's ordering: text order

