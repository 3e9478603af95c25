"""What a scan finds: packages with their purl, source package, licenses and locations."""

from __future__ import annotations

from typing import Any

import msgspec


class Location(msgspec.Struct, frozen=True, kw_only=True):
    """Where a package was found: a path in the image and, once known, the layer that added it."""

    path: str
    layer_digest: str = ""
    diff_id: str = ""
    created_by: str = ""


class Package(msgspec.Struct, kw_only=True):
    name: str
    version: str
    #: purl type: deb, apk, rpm, pypi, npm, golang, maven, gem, cargo, composer.
    ecosystem: str
    purl: str
    #: The source package (dpkg ``Source:``, rpm SRPM name, apk origin), where the ecosystem has one.
    source_name: str = ""
    source_version: str = ""
    licenses: list[str] = []
    locations: list[Location] = []
    arch: str = ""
    #: Ecosystem details worth keeping (e.g. ``dev: true`` for a dev dependency, ``indirect``).
    metadata: dict[str, Any] = {}


class OSRelease(msgspec.Struct, frozen=True, kw_only=True):
    """``/etc/os-release`` (or its older equivalents), used for purl qualifiers and matching."""

    id: str
    version_id: str = ""
    version_codename: str = ""
    name: str = ""
    pretty_name: str = ""
    id_like: list[str] = []


class CatalogIssue(msgspec.Struct, frozen=True, kw_only=True):
    """A file a cataloger could not read fully: the result is then marked partial with this reason."""

    cataloger: str
    path: str
    message: str
