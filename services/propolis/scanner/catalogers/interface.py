"""The cataloger interface: one small module per ecosystem.

A cataloger declares which paths it wants (:meth:`Cataloger.wants`); the layer reader collects
those files (each at most ``max_file_bytes``) in one pass over the layer and hands them over.
The cataloger returns packages, and an issue for every file it could not read fully — it never
raises on malformed input. Adding an ecosystem is adding one module to this folder that
exports ``CATALOGERS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from propolis.scanner.domain.model import CatalogIssue, OSRelease, Package


@dataclass(frozen=True)
class CatalogContext:
    #: The image's OS release, when one was found (for purl ``distro`` qualifiers).
    os: OSRelease | None = None


@dataclass
class CatalogOutput:
    packages: list[Package] = field(default_factory=list)
    issues: list[CatalogIssue] = field(default_factory=list)


class Cataloger(Protocol):
    #: Short unique name, e.g. "dpkg".
    name: ClassVar[str]
    #: Largest file this cataloger reads; bigger files are reported as an issue, not read.
    max_file_bytes: ClassVar[int]

    def wants(self, path: str) -> bool:
        """``path`` is image-relative POSIX without a leading slash (``var/lib/dpkg/status``)."""
        ...

    def catalog(self, files: Mapping[str, bytes], ctx: CatalogContext) -> CatalogOutput:
        """Packages from the wanted files (path → content). Never raises on malformed content."""
        ...


def keeps(cataloger: Cataloger, path: str, data: bytes) -> bool:
    """Whether a wanted file, once read, is worth keeping for :meth:`Cataloger.catalog`.

    A cataloger may define ``keeps(path, data)`` to drop files by content right after its layer is
    read (e.g. executables without Go build information): most of ``/usr/bin`` is then neither
    held in memory for the rest of the scan nor stored in the layer cache."""
    check = getattr(cataloger, "keeps", None)
    return True if check is None else bool(check(path, data))
