"""The normalised advisory model every importer produces and the store persists.

One :class:`Advisory` per advisory id and source; one :class:`AffectedEntry` per
(ecosystem, distro release, package) it names. Version *matching* is not done here: entries
carry the raw OSV range events, explicit version lists and fixed versions, and a separate
comparator module decides whether an installed version is inside them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final


class Status:
    """Per-entry state. Distro trackers record decisions, not just fixes, so they are kept."""

    AFFECTED: Final = "affected"  # OSV: the ranges/versions say which versions are affected
    FIXED: Final = "fixed"  # a distro fixed it in ``fixed`` for that release
    NOT_AFFECTED: Final = "not-affected"  # the release never shipped the vulnerable code
    UNFIXED: Final = "unfixed"  # affected, no fix yet
    WILL_NOT_FIX: Final = "will-not-fix"  # affected; the distro decided not to fix (no-dsa, ignored, postponed)
    END_OF_LIFE: Final = "end-of-life"  # affected; the package is no longer supported in that release
    UNDETERMINED: Final = "undetermined"  # the tracker has not decided yet

    ALL: Final = (AFFECTED, FIXED, NOT_AFFECTED, UNFIXED, WILL_NOT_FIX, END_OF_LIFE, UNDETERMINED)


#: OSV range types. GIT ranges name commits, which a package version cannot be compared with.
RANGE_TYPES: Final = ("ECOSYSTEM", "SEMVER", "GIT")
#: OSV range event kinds.
EVENT_KINDS: Final = ("introduced", "fixed", "last_affected", "limit")


@dataclass(frozen=True)
class Range:
    """One OSV range: ``events`` is the list of single-key dicts, in the order published."""

    type: str
    events: tuple[tuple[str, str], ...]
    repo: str | None = None

    @property
    def matchable(self) -> bool:
        """GIT ranges are stored for reference only: installed packages have versions, not commits."""
        return self.type != "GIT"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "events": [{k: v} for k, v in self.events],
                               "matchable": self.matchable}
        if self.repo:
            out["repo"] = self.repo
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Range:
        events = tuple((k, v) for ev in data.get("events", []) for k, v in ev.items())
        return cls(type=data["type"], events=events, repo=data.get("repo"))


@dataclass(frozen=True)
class AffectedEntry:
    """One package in one ecosystem (and distro release) named by one advisory."""

    ecosystem: str  # purl type: pypi, npm, golang, deb, apk, ...
    name: str  # normalised per ecosystem (PEP 503 for pypi; source package for deb)
    distro: str = ""  # "debian:bookworm", "alpine:v3.18"; empty for language ecosystems
    ranges: tuple[Range, ...] = ()
    versions: tuple[str, ...] = ()  # explicit affected versions (OSV ``versions``)
    fixed: tuple[str, ...] = ()  # fixed versions named by the source, in published order
    status: str = Status.AFFECTED
    severity: str | None = None  # per-entry label (Debian urgency), when the source has one
    note: str | None = None  # the source's free-text remark, e.g. "(Vulnerable code not present)"
    # Filled in by the store on lookup; importers leave them empty.
    advisory_id: str = ""
    source: str = ""
    aliases: tuple[str, ...] = ()
    withdrawn: str | None = None


@dataclass
class Advisory:
    """One advisory as a source publishes it, normalised."""

    id: str
    source: str  # "osv", "debian-dsa", "debian-dla", "debian-tracker", "alpine-secdb"
    aliases: tuple[str, ...] = ()  # true aliases (same vulnerability under another id)
    related: tuple[str, ...] = ()  # ids this advisory covers without being them (a DSA's CVEs)
    summary: str | None = None
    severity: str | None = None  # CRITICAL / HIGH / MEDIUM / LOW / NONE when known
    cvss_score: float | None = None
    cvss_vector: str | None = None
    published: str | None = None
    modified: str | None = None
    withdrawn: str | None = None
    affected: list[AffectedEntry] = field(default_factory=list)
