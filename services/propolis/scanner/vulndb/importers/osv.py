"""OSV records: a directory tree of ``.json``/``.yaml`` files, a single file, or an OSV ``all.zip``.

Covers the PyPA advisory database (YAML), the Go vulnerability database and GitHub's advisory
database (JSON), and osv.dev's per-ecosystem ``all.zip`` exports. Schema:
https://ossf.github.io/osv-schema/ — ``affected[].ranges[].events`` are single-key objects
(``introduced``, ``fixed``, ``last_affected``, ``limit``); GIT ranges name commits and are
stored but flagged not matchable.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from propolis.scanner.vulndb.ecosystems import normalise_name, purl_type
from propolis.scanner.vulndb.importers.interface import (
    MAX_RECORD_BYTES,
    UNEXPECTED,
    ImportStats,
    RecordError,
    Sink,
    list_of_str,
    load_json,
    load_yaml,
    log,
    read_limited,
    text_or_none,
)
from propolis.scanner.vulndb.model import EVENT_KINDS, RANGE_TYPES, Advisory, AffectedEntry, Range, Status
from propolis.scanner.vulndb.severity import cvss_base

SUFFIXES = (".json", ".yaml", ".yml")
_SEVERITY_ORDER = {"CVSS_V4": 0, "CVSS_V3": 1, "CVSS_V2": 2}
_LABELS = {"CRITICAL": "CRITICAL", "HIGH": "HIGH", "MODERATE": "MEDIUM", "MEDIUM": "MEDIUM", "LOW": "LOW",
           "NONE": "NONE"}


class OSVImporter:
    kind: ClassVar[str] = "osv"

    def detect(self, path: Path) -> bool:
        """A zip with .json members, an OSV file, or a directory whose first record files are mostly OSV."""
        if path.is_file():
            if zipfile.is_zipfile(path):
                try:
                    with zipfile.ZipFile(path) as zf:
                        return any(n.endswith(".json") for n in zf.namelist()[:1000])
                except (OSError, zipfile.BadZipFile):
                    return False
            return path.suffix in SUFFIXES and _looks_like_osv(path)
        if path.is_dir():
            # Most of the first files must look like OSV: a stray index file is fine, a mixed tree is not.
            sample = [_looks_like_osv(f) for f, _ in zip(_walk(path), range(20), strict=False)]
            return sum(sample) * 2 > len(sample)
        return False

    def import_(self, path: Path, sink: Sink) -> ImportStats:
        stats = ImportStats(source=str(path), kind=self.kind)
        for where, load in _records(path, stats):
            try:
                advisory, warnings = parse_record(load())
            except RecordError as exc:
                stats.skip(where, exc.reason, exc.detail)
                continue
            except Exception as exc:  # noqa: BLE001 - one bad record must not abort the import
                log.exception("vulndb osv: %s", where)
                stats.skip(where, UNEXPECTED, f"{type(exc).__name__}: {exc}")
                continue
            for w in warnings:
                stats.warn(where, w)
            stats.emitted(sink, advisory, advisory.modified or advisory.published)
        return stats


def _walk(root: Path) -> Iterator[Path]:
    """Record files under ``root`` in a stable order, skipping dot-directories (``.git``)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(SUFFIXES) and not name.startswith("."):
                yield Path(dirpath, name)


def _looks_like_osv(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    if path.suffix == ".json":
        return b'"id"' in head and (b'"modified"' in head or b'"affected"' in head)
    return (b"\nid:" in head or head.startswith(b"id:")) and (b"modified:" in head or b"affected:" in head)


def _records(path: Path, stats: ImportStats) -> Iterator[tuple[str, Any]]:
    """(where, thunk) per record: loading is deferred so its errors are counted per record."""
    if path.is_file() and zipfile.is_zipfile(path):
        try:
            zf = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            stats.skip(str(path), "unreadable zip", str(exc))
            return
        with zf:
            for info in zf.infolist():
                if info.is_dir() or not info.filename.endswith(".json"):
                    continue
                yield f"{path}!{info.filename}", lambda info=info: _zip_member(zf, info)
        return
    files = [path] if path.is_file() else _walk(path)
    for f in files:
        yield str(f), lambda f=f: _load_file(f)


def _zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Any:
    if info.file_size > MAX_RECORD_BYTES:
        raise RecordError("file too large", f"{info.file_size} bytes")
    try:
        with zf.open(info) as fh:
            data = fh.read(MAX_RECORD_BYTES + 1)
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as exc:  # zlib.error is not an OSError
        raise RecordError("unreadable zip member", str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - zlib.error and friends
        raise RecordError("unreadable zip member", f"{type(exc).__name__}: {exc}") from exc
    if len(data) > MAX_RECORD_BYTES:
        raise RecordError("file too large", "member larger than it claims")
    return load_json(data)


def _load_file(path: Path) -> Any:
    data = read_limited(path)
    return load_json(data) if path.suffix == ".json" else load_yaml(data)


def parse_record(doc: Any) -> tuple[Advisory, list[str]]:
    """One OSV document → (Advisory, warnings), or RecordError naming what is wrong with it."""
    if not isinstance(doc, dict):
        raise RecordError("not an OSV record", f"top level is {type(doc).__name__}")
    rid = doc.get("id")
    if not rid:
        raise RecordError("missing id")
    if not isinstance(rid, str):
        raise RecordError("wrong type: id", type(rid).__name__)
    summary = text_or_none(doc.get("summary"), "summary")
    details = text_or_none(doc.get("details"), "details")
    if not summary and details:
        first = details.strip().split("\n", 1)[0]
        summary = first if len(first) <= 200 else first[:197] + "..."
    adv = Advisory(
        id=rid,
        source="osv",
        aliases=tuple(a for a in list_of_str(doc.get("aliases"), "aliases") if a != rid),
        summary=summary,
        published=_date(text_or_none(doc.get("published"), "published")),
        modified=_date(text_or_none(doc.get("modified"), "modified")),
        withdrawn=text_or_none(doc.get("withdrawn"), "withdrawn"),
    )
    warnings: list[str] = []
    adv.severity, vectors = _severity(doc)
    for vector in vectors:  # newest CVSS version first; the first one that parses wins
        parsed = cvss_base(vector)
        if parsed is not None:
            adv.cvss_vector = vector
            adv.cvss_score, label = parsed
            adv.severity = label or adv.severity
            break
    else:
        if vectors:
            warnings.append("unparseable CVSS vector")
    affected = doc.get("affected")
    if affected in (None, ""):
        affected = []
    if not isinstance(affected, list):
        raise RecordError("wrong type: affected", type(affected).__name__)
    for i, aff in enumerate(affected):
        adv.affected.append(_affected(aff, i))
    return adv, warnings


def _date(value: str | None) -> str | None:
    """Go's in-repository records carry the zero time ``0001-01-01T00:00:00Z`` until published: unknown."""
    return None if value is None or value.startswith("0001-01-01") else value


def _severity(doc: dict[str, Any]) -> tuple[str | None, list[str]]:
    """(fallback label, CVSS vectors newest version first) from ``severity`` and ``database_specific``."""
    sev = doc.get("severity")
    vectors: list[tuple[int, str]] = []
    if sev not in (None, ""):
        if not isinstance(sev, list):
            raise RecordError("wrong type: severity", type(sev).__name__)
        for s in sev:
            if not isinstance(s, dict) or not isinstance(s.get("type"), str) or not isinstance(s.get("score"), str):
                raise RecordError("wrong type: severity", "expected {type, score} strings")
            if s["type"] in _SEVERITY_ORDER:
                vectors.append((_SEVERITY_ORDER[s["type"]], s["score"]))
    label = None
    ds = doc.get("database_specific")
    if isinstance(ds, dict) and isinstance(ds.get("severity"), str):
        label = _LABELS.get(ds["severity"].upper())
    return label, [v for _, v in sorted(vectors)]


def _affected(aff: Any, i: int) -> AffectedEntry:
    if not isinstance(aff, dict):
        raise RecordError("wrong type: affected", f"affected[{i}] is {type(aff).__name__}")
    pkg = aff.get("package")
    if not isinstance(pkg, dict) or not isinstance(pkg.get("ecosystem"), str) or not isinstance(pkg.get("name"), str) \
            or not pkg["ecosystem"] or not pkg["name"]:
        raise RecordError("missing package", f"affected[{i}].package needs ecosystem and name strings")
    ecosystem, distro = purl_type(pkg["ecosystem"])
    ranges_raw = aff.get("ranges")
    if ranges_raw in (None, ""):
        ranges_raw = []
    if not isinstance(ranges_raw, list):
        raise RecordError("wrong type: ranges", type(ranges_raw).__name__)
    ranges = tuple(_range(r, i) for r in ranges_raw)
    versions = list_of_str(aff.get("versions"), "versions")
    fixed = tuple(v for r in ranges if r.matchable for k, v in r.events if k == "fixed")
    return AffectedEntry(ecosystem=ecosystem, distro=distro, name=normalise_name(ecosystem, pkg["name"]),
                         ranges=ranges, versions=versions, fixed=fixed, status=Status.AFFECTED)


def _range(r: Any, i: int) -> Range:
    if not isinstance(r, dict):
        raise RecordError("bad range", f"affected[{i}].ranges item is {type(r).__name__}")
    rtype = r.get("type")
    if rtype not in RANGE_TYPES:
        raise RecordError("bad range type", repr(rtype)[:50])
    events_raw = r.get("events")
    if not isinstance(events_raw, list) or not events_raw:
        raise RecordError("bad range events", "events must be a non-empty list")
    events: list[tuple[str, str]] = []
    for ev in events_raw:
        if not isinstance(ev, dict) or len(ev) != 1:
            raise RecordError("bad range events", "each event must be an object with one key")
        ((k, v),) = ev.items()
        if k not in EVENT_KINDS or not isinstance(v, str) or not v:
            raise RecordError("bad range events", f"{k!r}: {v!r}"[:80])
        events.append((k, v))
    if not any(k == "introduced" for k, _ in events):
        raise RecordError("bad range events", "no introduced event")
    repo = r.get("repo")
    if rtype == "GIT" and not isinstance(repo, str):
        raise RecordError("bad range", "GIT range without repo")
    return Range(type=rtype, events=tuple(events), repo=repo if isinstance(repo, str) else None)
