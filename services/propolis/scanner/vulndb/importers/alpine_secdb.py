"""alpine-secdb release files (``v3.11/main.yaml``, or the JSON that secdb.alpinelinux.org serves).

Shape::

    distroversion: v3.11
    reponame: main
    packages:
      - pkg:
          name: openssl
          secfixes:
            1.1.1d-r2: [CVE-2019-1551]
            "0": [CVE-2016-0682]     # never affected in Alpine's build

Each (package, version, id) is one fix: the package is fixed in that version for that release.
Version ``0`` is secdb's convention for "never affected" and becomes status not-affected. An item
may hold several ids (``CVE-2016-9932 XSA-200``): each CVE is an advisory id, the XSA its alias (or
related id when the item names several CVEs);
parenthesised remarks and ``CVE-????-?????`` placeholders are dropped.
Advisories are per id from source ``alpine-secdb``, with one affected entry per release and package.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

from propolis.scanner.vulndb.ecosystems import normalise_distro
from propolis.scanner.vulndb.importers.interface import (
    UNEXPECTED,
    ImportStats,
    RecordError,
    Sink,
    load_json,
    load_yaml,
    log,
    read_limited,
)
from propolis.scanner.vulndb.model import Advisory, AffectedEntry, Status

SUFFIXES = (".yaml", ".yml", ".json")
_ID = re.compile(r"^[A-Z][A-Z0-9]*-[0-9][0-9A-Za-z-]*$")
_REMARK = re.compile(r"\([^)]*\)")
_VERSION = re.compile(r"^[0-9][0-9A-Za-z._+~-]*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._-]*$")


class AlpineSecdbImporter:
    kind: ClassVar[str] = "alpine-secdb"

    def detect(self, path: Path) -> bool:
        """A secdb file (``distroversion`` near the top), or a directory holding some."""
        return any(True for _ in self._files(path, limit=1))

    def _files(self, path: Path, limit: int | None = None) -> list[Path]:
        # A release file, a folder of them, or a folder of release folders (v3.11/main.yaml): no deeper,
        # so a tree that merely contains a secdb somewhere is not taken for one.
        candidates = [path] if path.is_file() else sorted(
            f for pattern in ("*", "*/*") for f in path.glob(pattern)
            if f.is_file() and f.name.endswith(SUFFIXES)) if path.is_dir() else []
        out = []
        for f in candidates:
            if _looks_like_secdb(f):
                out.append(f)
                if limit and len(out) >= limit:
                    break
        return out

    def import_(self, path: Path, sink: Sink) -> ImportStats:
        stats = ImportStats(source=str(path), kind=self.kind)
        merged: dict[str, Advisory] = {}
        for f in self._files(path) or [path]:
            try:
                data = read_limited(f)
                doc = load_json(data) if f.suffix == ".json" else load_yaml(data)
                distro, packages = _release(doc)
            except RecordError as exc:
                stats.skip(str(f), exc.reason, exc.detail)
                continue
            for i, pkg in enumerate(packages):
                where = f"{f}:packages[{i}]"
                try:
                    fixes = list(_fixes(pkg, distro))
                except RecordError as exc:
                    stats.skip(where, exc.reason, exc.detail)
                    continue
                except Exception as exc:  # noqa: BLE001 - one bad package must not abort the import
                    log.exception("vulndb alpine-secdb: %s", where)
                    stats.skip(where, UNEXPECTED, f"{type(exc).__name__}: {exc}")
                    continue
                for item in fixes:
                    if isinstance(item, RecordError):
                        stats.skip(where, item.reason, item.detail)
                        continue
                    if isinstance(item, Warning):
                        stats.warn(where, *item.args)
                        continue
                    for aid, aliases, related, entry in item:
                        adv = merged.setdefault(aid, Advisory(id=aid, source="alpine-secdb"))
                        adv.aliases = tuple(dict.fromkeys((*adv.aliases, *aliases)))
                        adv.related = tuple(dict.fromkeys((*adv.related, *related)))
                        if entry not in adv.affected:
                            adv.affected.append(entry)
                    stats.imported += 1
        # Emitted once per id, after every release file is read, so each advisory carries all its releases.
        for adv in merged.values():
            sink.add(adv)
            stats.affected += len(adv.affected)
            stats.ecosystems["apk"] += len(adv.affected)
        return stats


def _looks_like_secdb(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(2048)
    except OSError:
        return False
    return b"distroversion" in head


def _release(doc: Any) -> tuple[str, list[Any]]:
    if not isinstance(doc, dict):
        raise RecordError("not a secdb file", f"top level is {type(doc).__name__}")
    version = doc.get("distroversion")
    if not isinstance(version, str) or not re.match(r"^v?\d+\.\d+$|^edge$", version):
        raise RecordError("bad distroversion", repr(version)[:40])
    packages = doc.get("packages")
    if packages in (None, ""):
        packages = []
    if not isinstance(packages, list):
        raise RecordError("wrong type: packages", type(packages).__name__)
    return normalise_distro(f"alpine:{version}"), packages


def _fixes(pkg: Any, distro: str) -> Any:
    """Per fix item: a list of (id, aliases, related, entry), a RecordError, or a Warning (a dropped word)."""
    inner = pkg.get("pkg") if isinstance(pkg, dict) else None
    if not isinstance(inner, dict):
        raise RecordError("wrong type: pkg", type(inner).__name__)
    name = inner.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise RecordError("bad package name", repr(name)[:60])
    secfixes = inner.get("secfixes")
    if secfixes in (None, ""):
        return
    if not isinstance(secfixes, dict):
        raise RecordError("wrong type: secfixes", type(secfixes).__name__)
    for version, items in secfixes.items():
        if not isinstance(version, str) or not _VERSION.match(version):
            yield RecordError("bad version", repr(version)[:40])
            continue
        if items in (None, ""):
            continue
        if not isinstance(items, list):
            yield RecordError("wrong type: secfix ids", type(items).__name__)
            continue
        never = version == "0"
        entry = AffectedEntry(ecosystem="apk", distro=distro, name=name, fixed=() if never else (version,),
                              status=Status.NOT_AFFECTED if never else Status.FIXED)
        for item in items:
            # "CVE-2018-14468 (FrameRelay)": the remark names the affected part; "CVE-????-?????
            # XSA-288": a placeholder until a CVE is assigned, so the XSA id stands alone.
            words = [t for t in _REMARK.sub(" ", item).split() if "?" not in t] if isinstance(item, str) else []
            tokens = [t for t in words if _ID.match(t)]
            if not tokens:
                yield RecordError("bad id", repr(item)[:60])
                continue
            if len(tokens) < len(words):  # "… XSA-254 XPTI": keep the ids, drop the word
                yield Warning("non-id word ignored", repr(item)[:60])
            cves = [t for t in tokens if t.startswith("CVE-")] or tokens[:1]
            others = tuple(t for t in tokens if t not in cves)
            # One CVE with an XSA id: the same issue twice. Several CVEs: distinct issues one XSA covers.
            yield [(aid, others if len(cves) == 1 else (), others if len(cves) > 1 else (), entry) for aid in cves]
