"""Reading image layers as streams: decompression, tar walking, whiteouts, wanted files.

A layer is never extracted to disk. Its tar stream is walked once; only the files some
cataloger wants are read into memory (each within that cataloger's size limit), symlinks and
hard links are recorded so the final view can resolve them, and whiteouts are collected.
Hostile input (corrupt compression, truncated tar, entries escaping the root, bombs, millions
of entries) ends the walk with a precise reason: the layer's result is then *partial*.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


@dataclass(frozen=True)
class LayerLimits:
    #: Entries in one layer before the walk stops (a "millions of tiny files" layer).
    max_entries: int = 2_000_000
    #: Uncompressed bytes in one layer before the walk stops (decompression bombs).
    max_uncompressed_bytes: int = 16 * 1024**3
    #: Bytes of wanted files kept in memory for one layer.
    max_wanted_bytes: int = 512 * 1024**2


DEFAULT_LIMITS = LayerLimits()


@dataclass
class LayerContent:
    """What one layer contributes to the filesystem view."""

    files: dict[str, bytes] = field(default_factory=dict)
    #: path → link target (already made image-relative for absolute targets).
    symlinks: dict[str, str] = field(default_factory=dict)
    hardlinks: dict[str, str] = field(default_factory=dict)
    #: Paths removed by ``.wh.<name>`` entries (files or whole directories).
    deleted: set[str] = field(default_factory=set)
    #: Directories made opaque by ``.wh..wh..opq``: lower layers' content below them is hidden.
    opaque: set[str] = field(default_factory=set)
    entries: int = 0
    uncompressed_bytes: int = 0
    partial: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class LayerFormatError(ValueError):
    pass


def normalise(name: str) -> str | None:
    """Image-relative POSIX path, or None when the entry escapes the root."""
    raw = name.replace("\\", "/")
    if raw.startswith("/"):
        raw = raw.lstrip("/")  # absolute names are rooted at the image root
    norm = posixpath.normpath(raw) if raw else "."
    if norm == "." or norm == "..":
        return "" if norm == "." else None
    if norm.startswith("../"):
        return None
    return norm


class _CountingReader(io.RawIOBase):
    """Counts decompressed bytes and stops a stream that exceeds the limit."""

    def __init__(self, inner: IO[bytes], limit: int) -> None:
        self.inner = inner
        self.limit = limit
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(len(b))
        n = len(data)
        self.count += n
        if self.count > self.limit:
            raise LayerFormatError(f"layer expands past {self.limit} bytes (decompression bomb?)")
        b[:n] = data
        return n


def _sniff(head: bytes, media_type: str) -> str:
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    if "gzip" in media_type:
        return "gzip"
    if "zstd" in media_type:
        return "zstd"
    return "none"


def decompressed(stream: IO[bytes], media_type: str = "") -> IO[bytes]:
    """A decompressing reader for a layer blob; the format is sniffed from its first bytes."""
    buffered = io.BufferedReader(stream) if not isinstance(stream, io.BufferedReader) else stream  # type: ignore[arg-type]
    head = buffered.peek(4)[:4]
    kind = _sniff(head, media_type)
    if kind == "gzip":
        try:
            from isal import igzip  # ISA-L: several times faster than zlib on this hardware

            return igzip.IGzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
        except ImportError:  # pragma: no cover - isal is a declared dependency
            import gzip

            return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(buffered, read_across_frames=True)  # type: ignore[return-value]
    return buffered


Wants = Callable[[str], int]
"""path → largest size wanted for it (0 = not wanted)."""


def read_layer(stream: IO[bytes], wants: Wants, *, media_type: str = "",
               limits: LayerLimits = DEFAULT_LIMITS) -> LayerContent:
    """Walk one layer tar stream; never raises on malformed content (see ``partial``)."""
    out = LayerContent()
    try:
        counting = _CountingReader(decompressed(stream, media_type), limits.max_uncompressed_bytes)
        reader = io.BufferedReader(counting, buffer_size=1 << 20)
        for member, tar in _members(reader):
            out.entries += 1
            if out.entries > limits.max_entries:
                out.partial.append(f"layer has more than {limits.max_entries} entries; the rest was not read")
                break
            _take(member, tar, out, wants, limits)
        else:
            # Read to the end so the blob's digest is checked and trailing garbage is noticed.
            while reader.read(1 << 20):
                pass
        out.uncompressed_bytes = counting.count
    except LayerFormatError as exc:
        out.partial.append(str(exc))
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        out.partial.append(f"layer is corrupt or truncated: {type(exc).__name__}: {exc}")
    except Exception as exc:  # a decompressor's own error types (zstd, isal)
        out.partial.append(f"layer could not be read: {type(exc).__name__}: {exc}")
    return out


def _members(reader: IO[bytes]) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    with tarfile.open(fileobj=reader, mode="r|", errorlevel=1) as tar:
        for member in tar:
            yield member, tar


def _take(member: tarfile.TarInfo, tar: tarfile.TarFile, out: LayerContent, wants: Wants,
          limits: LayerLimits) -> None:
    path = normalise(member.name)
    if path is None:
        out.skipped.append(f"entry {member.name!r} escapes the image root; ignored")
        return
    if path == "":
        return
    parent, base = posixpath.split(path)
    if base == OPAQUE_MARKER:
        out.opaque.add(parent)
        return
    if base.startswith(WHITEOUT_PREFIX):
        out.deleted.add(posixpath.join(parent, base[len(WHITEOUT_PREFIX):]))
        return
    if member.issym():
        out.symlinks[path] = _link_target(parent, member.linkname)
        return
    if member.islnk():
        target = normalise(member.linkname)
        if target is None:
            out.skipped.append(f"hard link {path!r} points outside the image root; ignored")
        else:
            out.hardlinks[path] = target
        return
    if not member.isfile():
        return
    limit = wants(path)
    if limit <= 0:
        return
    if member.size > limit:
        out.skipped.append(f"{path}: {member.size} bytes is larger than its cataloger reads ({limit}); not read")
        return
    used = sum(len(v) for v in out.files.values())
    if used + member.size > limits.max_wanted_bytes:
        out.partial.append(f"{path}: wanted files exceed {limits.max_wanted_bytes} bytes in one layer; not read")
        return
    fh = tar.extractfile(member)
    data = fh.read(member.size + 1) if fh is not None else b""
    out.files[path] = data


def _link_target(parent: str, target: str) -> str:
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/")) or "."
    return posixpath.normpath(posixpath.join(parent, target))


def read_directory(root: str, wants: Wants, limits: LayerLimits = DEFAULT_LIMITS) -> LayerContent:
    """A root filesystem directory as one layer: walked in place, links recorded, not followed."""
    import os

    out = LayerContent()
    used = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
        for name in dirnames + filenames:
            out.entries += 1
            if out.entries > limits.max_entries:
                out.partial.append(f"directory has more than {limits.max_entries} entries; the rest was not read")
                return out
            full = os.path.join(dirpath, name)
            path = f"{rel_dir}/{name}" if rel_dir else name
            if os.path.islink(full):
                out.symlinks[path] = _link_target(rel_dir, os.readlink(full))
                continue
            if name in dirnames or not os.path.isfile(full):
                continue
            limit = wants(path)
            if limit <= 0:
                continue
            size = os.path.getsize(full)
            if size > limit:
                out.skipped.append(f"{path}: {size} bytes is larger than its cataloger reads ({limit}); not read")
                continue
            if used + size > limits.max_wanted_bytes:
                out.partial.append(f"{path}: wanted files exceed {limits.max_wanted_bytes} bytes; not read")
                continue
            try:
                with open(full, "rb") as fh:
                    out.files[path] = fh.read(limit + 1)
                used += size
            except OSError as exc:
                out.skipped.append(f"{path}: cannot read ({exc.strerror})")
    return out
