"""The Debian Security Tracker's JSON export (``/tracker/data/json``).

Shape, as the tracker's ``tracker_service.py`` writes it::

    {"<source package>": {"<CVE-… or TEMP-…>": {
        "description": "...", "scope": "remote", "debianbug": 123,
        "releases": {"bookworm": {"status": "resolved" | "open" | "undetermined",
                                  "repositories": {"bookworm": "1.2-3"},
                                  "fixed_version": "1.2-4", "urgency": "low",
                                  "nodsa": "Minor issue", "nodsa_reason": "postponed"}}}}}

``fixed_version`` ``"0"`` means the release never had the vulnerable code. An ``open`` issue with a
``nodsa`` decision (``ignored``/``postponed`` or a plain no-DSA note) will not be fixed by a DSA;
urgency ``end-of-life`` marks unsupported packages. Advisories are per issue id (one per CVE,
with an affected entry per package and release), from source ``debian-tracker``.
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
    log,
    read_limited,
)
from propolis.scanner.vulndb.model import Advisory, AffectedEntry, Status

#: The full export is a few hundred MB uncompressed.
MAX_EXPORT_BYTES = 2 * 1024 * 1024 * 1024
_HEAD = re.compile(rb'^\s*\{\s*"[^"\\]{1,200}"\s*:\s*\{\s*"(?:CVE|TEMP|DSA|DLA)-')
_ISSUE = re.compile(r"^(?:CVE-\d{4}-\d+|TEMP-\d+-[0-9A-Fa-f]+|D[SL]A-\d+(?:-\d+)?)$")
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]*$")
_WILL_NOT_FIX = ("ignored", "postponed")


class DebianJSONImporter:
    kind: ClassVar[str] = "debian-json"

    def detect(self, path: Path) -> bool:
        """A file opening with ``{"<package>": {"CVE-…``."""
        if not path.is_file():
            return False
        try:
            with path.open("rb") as fh:
                return bool(_HEAD.match(fh.read(4096)))
        except OSError:
            return False

    def import_(self, path: Path, sink: Sink) -> ImportStats:
        stats = ImportStats(source=str(path), kind=self.kind)
        try:
            doc = load_json(read_limited(path, MAX_EXPORT_BYTES))
        except RecordError as exc:
            stats.skip(str(path), exc.reason, exc.detail)
            return stats
        if not isinstance(doc, dict):
            stats.skip(str(path), "not a tracker export", f"top level is {type(doc).__name__}")
            return stats
        for package, issues in doc.items():
            if not isinstance(package, str) or not _PACKAGE.match(package):
                stats.skip(f"{path}:{str(package)[:60]}", "bad package name")
                continue
            if not isinstance(issues, dict):
                stats.skip(f"{path}:{package}", "wrong type: package issues", type(issues).__name__)
                continue
            for issue, data in issues.items():
                where = f"{path}:{package}/{issue}"
                try:
                    advisory = parse_issue(package, issue, data)
                except RecordError as exc:
                    stats.skip(where, exc.reason, exc.detail)
                    continue
                except Exception as exc:  # noqa: BLE001 - one bad issue must not abort the import
                    log.exception("vulndb debian-json: %s", where)
                    stats.skip(where, UNEXPECTED, f"{type(exc).__name__}: {exc}")
                    continue
                stats.emitted(sink, advisory)
        return stats


def parse_issue(package: str, issue: str, data: Any) -> Advisory:
    """One (package, issue) → Advisory with an affected entry per release."""
    if not _ISSUE.match(issue):
        raise RecordError("bad issue id", issue[:60])
    if not isinstance(data, dict):
        raise RecordError("wrong type: issue", type(data).__name__)
    releases = data.get("releases")
    if not isinstance(releases, dict):
        raise RecordError("wrong type: releases", type(releases).__name__)
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise RecordError("wrong type: description", type(description).__name__)
    affected = [_release(package, rel, info) for rel, info in releases.items()]
    if not affected:
        raise RecordError("no releases")
    return Advisory(id=issue, source="debian-tracker", summary=description or None, affected=affected)


def _release(package: str, release: str, info: Any) -> AffectedEntry:
    if not re.match(r"^[a-z][a-z0-9-]*$", release):
        raise RecordError("bad release", release[:40])
    if not isinstance(info, dict):
        raise RecordError("wrong type: release", type(info).__name__)
    for key in ("status", "fixed_version", "urgency", "nodsa", "nodsa_reason"):
        if info.get(key) is not None and not isinstance(info[key], str):
            raise RecordError(f"wrong type: {key}", type(info[key]).__name__)
    status_raw = info.get("status")
    fixed = info.get("fixed_version") or ""
    urgency = info.get("urgency") or None
    nodsa, reason = info.get("nodsa") or "", info.get("nodsa_reason") or ""
    note = "; ".join(x for x in (nodsa, reason) if x) or None
    if status_raw == "resolved":
        if not fixed:
            raise RecordError("resolved without fixed_version")
        status = Status.NOT_AFFECTED if fixed == "0" else Status.FIXED
    elif status_raw == "open":
        if urgency == "end-of-life":
            status = Status.END_OF_LIFE
        elif reason in _WILL_NOT_FIX or nodsa:
            status = Status.WILL_NOT_FIX
        else:
            status = Status.UNFIXED
    elif status_raw == "undetermined":
        status = Status.UNDETERMINED
    else:
        raise RecordError("unknown status", repr(status_raw)[:40])
    return AffectedEntry(ecosystem="deb", distro=normalise_distro(f"debian:{release}"), name=package,
                         fixed=(fixed,) if status == Status.FIXED else (), status=status,
                         severity=urgency if urgency not in (None, "not yet assigned", "end-of-life") else None,
                         note=note)
