"""An image as the scanner sees it: a config and an ordered list of layers to stream."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any


@dataclass(frozen=True)
class LayerRef:
    digest: str
    diff_id: str
    media_type: str
    size: int
    created_by: str
    #: Opens the (possibly compressed) blob for streaming.
    open: Callable[[], IO[bytes]] = field(repr=False)
    #: For a directory "layer": where its files are read from instead of a tar stream.
    directory: str = ""


@dataclass
class Image:
    reference: str
    config: dict[str, Any]
    layers: list[LayerRef]
    manifest_digest: str = ""
    #: Problems met while reading the manifest/config (the scan is then partial).
    issues: list[str] = field(default_factory=list)


class ImageError(Exception):
    """An image that cannot be read at all (missing, not an image, unsupported layout)."""
