"""Debian Security Tracker ``DSA/list`` and ``DLA/list`` files.

Each entry is a header line, an optional ``{CVE-...}`` line, and one line per release::

    [29 Mar 2023] DSA-5380-1 xorg-server - security update
        {CVE-2023-1393}
        [bullseye] - xorg-server 2:1.20.11-1+deb11u6
        [lenny] - vlc <not-affected> (Vulnerable code not present)

Each release line becomes an affected entry for that source package in ``debian:<codename>``:
fixed in the given version, or the tracker's status (``<not-affected>``, ``<unfixed>``,
``<end-of-life>``, ``<no-dsa>``, ``<ignored>``, ``<postponed>``) kept as a status. ``NOTE:`` lines
are comments to the tracker and are ignored, as the tracker itself does.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from propolis.scanner.vulndb.ecosystems import normalise_distro
from propolis.scanner.vulndb.importers.interface import (
    UNEXPECTED,
    ImportStats,
    RecordError,
    Sink,
    log,
    read_limited,
)
from propolis.scanner.vulndb.model import Advisory, AffectedEntry, Status

#: The list files are a few MB; 256 MiB leaves room for decades of growth and stops garbage early.
MAX_LIST_BYTES = 256 * 1024 * 1024
LISTS = ("DSA", "DLA", "DTSA")

HEADER = re.compile(r"^\[(\d{1,2}) ([A-Za-z]{3}) (\d{4})\]\s+((?:DSA|DLA|DTSA)-\d+(?:-\d+)?)\s*(.*?)\s*$")
_ANY_HEADER = re.compile(r"^\[")
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_IDS = re.compile(r"^\s*\{([^}]*)\}\s*$")
_PACKAGE = re.compile(r"^\s*\[([a-z0-9-]+)\]\s+-\s+(\S+)(?:\s+(\S+))?\s*(?:\((.*)\))?\s*$")
_ID_TOKEN = re.compile(r"^[A-Z][A-Z0-9]*-\d{4}-[0-9A-Za-z]+$|^[A-Z]+-\d+(?:-\d+)?$|^TEMP-\d+-[0-9A-F]+$")
STATUSES = {
    "<not-affected>": Status.NOT_AFFECTED,
    "<unfixed>": Status.UNFIXED,
    "<end-of-life>": Status.END_OF_LIFE,
    "<no-dsa>": Status.WILL_NOT_FIX,
    "<ignored>": Status.WILL_NOT_FIX,
    "<postponed>": Status.WILL_NOT_FIX,
}
NO_PACKAGES = "no package lines"
_URGENCIES = ("unimportant", "low", "medium", "high")


class DebianListImporter:
    kind: ClassVar[str] = "debian-list"

    def detect(self, path: Path) -> bool:
        """A ``list`` file whose first line is a DSA/DLA header, or a directory holding ``DSA/list`` etc."""
        return bool(self._lists(path))

    def _lists(self, path: Path) -> list[Path]:
        if path.is_dir():
            found = [path / name / "list" for name in LISTS if (path / name / "list").is_file()]
            if not found and (path / "list").is_file():
                found = [path / "list"]
            return [f for f in found if _starts_with_header(f)]
        return [path] if path.is_file() and _starts_with_header(path) else []

    def import_(self, path: Path, sink: Sink) -> ImportStats:
        stats = ImportStats(source=str(path), kind=self.kind)
        for lst in self._lists(path) or [path]:
            try:
                # Undecodable bytes are kept as surrogates so only the entry holding them is refused.
                text = read_limited(lst, MAX_LIST_BYTES).decode("utf-8", "surrogateescape")
            except RecordError as exc:
                stats.skip(str(lst), exc.reason, exc.detail)
                continue
            for lineno, block in _blocks(text):
                where = f"{lst}:{lineno}"
                try:
                    advisory = parse_entry(block)
                except RecordError as exc:
                    stats.skip(where, exc.reason, exc.detail,
                               logging.INFO if exc.reason == NO_PACKAGES else logging.WARNING)
                    continue
                except Exception as exc:  # noqa: BLE001 - one bad entry must not abort the import
                    log.exception("vulndb debian-list: %s", where)
                    stats.skip(where, UNEXPECTED, f"{type(exc).__name__}: {exc}")
                    continue
                stats.emitted(sink, advisory, advisory.published)
        return stats


def _starts_with_header(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            first = fh.readline(4096).decode("utf-8", "replace")
    except OSError:
        return False
    return bool(HEADER.match(first))


def _blocks(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, lines) per entry: a line starting with ``[`` opens an entry."""
    start, block = 0, list[str]()
    for n, line in enumerate(text.splitlines(), 1):
        if _ANY_HEADER.match(line):
            if block:
                yield start, block
            start, block = n, [line]
        elif block:
            block.append(line)
        elif line.strip():
            yield n, [line]  # text before the first header: reported as a bad header
    if block:
        yield start, block


def parse_entry(lines: list[str]) -> Advisory:
    """One DSA/DLA entry → Advisory with an affected entry per release line."""
    if any(_UNDECODABLE.search(line) for line in lines):
        raise RecordError("not UTF-8", lines[0][:80].encode("utf-8", "replace").decode())
    m = HEADER.match(lines[0])
    if not m:
        raise RecordError("bad header", lines[0][:80])
    day, mon, year, aid, title = m.groups()
    try:
        published = datetime.strptime(f"{day} {mon} {year}", "%d %b %Y").date().isoformat()
    except ValueError as exc:
        raise RecordError("bad date", f"{day} {mon} {year}") from exc
    summary = title.lstrip("- ").strip() or None
    ids: list[str] = []
    affected: list[AffectedEntry] = []
    for line in lines[1:]:
        s = line.strip()
        if not s or s.startswith("NOTE:"):
            continue
        if im := _IDS.match(line):
            for tok in im.group(1).split():
                if not _ID_TOKEN.match(tok):
                    raise RecordError("bad id", tok[:40])
                ids.append(tok)
            continue
        pm = _PACKAGE.match(line)
        if not pm:
            raise RecordError("bad package line", s[:80])
        affected.append(_entry(*pm.groups()))
    if not affected:
        raise RecordError(NO_PACKAGES, "announcement without fixes")
    return Advisory(id=aid, source=f"debian-{aid.split('-')[0].lower()}", related=tuple(dict.fromkeys(ids)),
                    summary=summary, published=published, affected=affected)


def _entry(release: str, package: str, version: str | None, note: str | None) -> AffectedEntry:
    if version is None:
        raise RecordError("bad package line", f"[{release}] - {package} without version or status")
    severity = None
    if note:
        for part in (p.strip() for p in note.split(";")):
            if part in _URGENCIES:
                severity = part
    distro = normalise_distro(f"debian:{release}")
    if version.startswith("<"):
        status = STATUSES.get(version)
        if status is None:
            raise RecordError("unknown status", version)
        return AffectedEntry(ecosystem="deb", distro=distro, name=package, status=status, severity=severity,
                             note=note)
    return AffectedEntry(ecosystem="deb", distro=distro, name=package, fixed=(version,), status=Status.FIXED,
                         severity=severity, note=note)
