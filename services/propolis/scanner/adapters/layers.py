"""Reading image layers as streams: decompression, tar walking, whiteouts, wanted files.

A layer is never extracted to disk. Its tar stream is walked once; only the files some
cataloger wants are read into memory (each within that cataloger's size limit), symlinks and
hard links are recorded so the final view can resolve them, and whiteouts are collected.
Hostile input (corrupt compression, truncated tar, entries escaping the root, bombs, millions
of entries) ends the walk with a precise reason: the layer's result is then *partial*.
"""

from __future__ import annotations

import array
import hashlib
import io
import posixpath
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

import msgspec

from propolis.scanner.secrets.scanner import SecretFinding

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
    #: setuid/setgid/world-writable entries recorded for one layer (see :class:`ModeEntry`).
    max_mode_entries: int = 10_000
    #: Symbolic links, hard links and whiteouts recorded for one layer (about 250 bytes each).
    max_links: int = 1_000_000


DEFAULT_LIMITS = LayerLimits()

SETUID, SETGID, STICKY, OTHER_WRITE = 0o4000, 0o2000, 0o1000, 0o002
#: Messages kept in ``LayerContent.skipped`` and ``partial`` for one kind of repeated problem.
MAX_MESSAGES = 100


class ModeEntry(msgspec.Struct, frozen=True):
    """A regular file with setuid/setgid bits, or a world-writable file or directory."""

    path: str
    #: Permission bits including setuid/setgid/sticky (``mode & 0o7777``).
    mode: int
    #: "file" (regular files and hard links, which share their target's mode) or "dir".
    kind: str


def risky_mode(mode: int, kind: str) -> bool:
    """Whether an entry of this mode is a filesystem fact worth recording."""
    if kind == "dir":
        return bool(mode & OTHER_WRITE)
    return bool(mode & (SETUID | SETGID | OTHER_WRITE))


def path_key(path: str) -> int:
    """A stable 64-bit key of an image path (the same in every process, so cached layers stay valid)."""
    return int.from_bytes(hashlib.blake2b(path.encode("utf-8", "surrogateescape"), digest_size=8).digest(), "little")


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
    #: setuid/setgid regular files and world-writable files and directories (at most
    #: ``LayerLimits.max_mode_entries``; the layer is partial beyond that).
    modes: list[ModeEntry] = field(default_factory=list)
    #: :func:`path_key` of every file, directory and link this layer writes, as native uint64s: a
    #: later layer that rewrites a path with a harmless mode (``chmod u-s``) clears its mode fact.
    #: 8 bytes an entry, instead of keeping every path.
    written: bytes = b""
    #: Bytes of ``files`` (kept as a running total: summing per entry is quadratic).
    wanted_bytes: int = 0
    #: Secrets found in this layer's files (see ``catalogue.analyse_layer``): a secret stays in the
    #: image even when a later layer deletes the file, so every layer is searched, not the final view.
    secrets: list[SecretFinding] = field(default_factory=list)


class LayerFormatError(ValueError):
    pass


def valid_text(name: str) -> str:
    """``name`` with bytes that are not UTF-8 (tarfile and os.walk give them as lone surrogates) replaced
    by U+FFFD: such a path could not be encoded to JSON or msgpack (the catalogue, the layer cache)."""
    if name.isascii():
        return name
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def normalise(name: str) -> str | None:
    """Image-relative POSIX path, or None when the entry escapes the root."""
    raw = valid_text(name).replace("\\", "/")
    if raw.startswith("/"):
        raw = raw.lstrip("/")  # absolute names are rooted at the image root
    norm = posixpath.normpath(raw) if raw else "."
    if norm == "." or norm == "..":
        return "" if norm == "." else None
    if norm.startswith("../"):
        return None
    return norm


class _CountingReader(io.RawIOBase):
    """Counts decompressed bytes and stops a stream that exceeds the limit; optionally hashes
    them, so the uncompressed tar can be checked against the layer's diff_id."""

    def __init__(self, inner: IO[bytes], limit: int, hasher: hashlib._Hash | None = None) -> None:
        self.inner = inner
        self.limit = limit
        self.count = 0
        self.hasher = hasher

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(len(b))
        n = len(data)
        self.count += n
        if self.count > self.limit:
            raise LayerFormatError(f"layer expands past {self.limit} bytes (decompression bomb?)")
        if self.hasher is not None:
            self.hasher.update(data)
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
               limits: LayerLimits = DEFAULT_LIMITS, diff_id: str = "") -> LayerContent:
    """Walk one layer tar stream; never raises on malformed content (see ``partial``).

    With ``diff_id``, the uncompressed tar is hashed as it streams and a mismatch makes the layer
    partial: a complete (not partial) result then proves the content is the one ``diff_id`` names,
    which is what makes it safe to cache under that id.
    """
    out = LayerContent()
    algo, _, want = diff_id.partition(":")
    hasher = hashlib.new(algo) if want and algo in ("sha256", "sha512") else None
    if diff_id and hasher is None:
        out.partial.append(f"diff_id {diff_id!r} is not a sha256/sha512 digest; the layer cannot be verified")
    written = array.array("Q")
    try:
        counting = _CountingReader(decompressed(stream, media_type), limits.max_uncompressed_bytes, hasher)
        reader = io.BufferedReader(counting, buffer_size=1 << 20)
        for member, tar in _members(reader):
            out.entries += 1
            if out.entries > limits.max_entries:
                out.partial.append(f"layer has more than {limits.max_entries} entries; the rest was not read")
                break
            _take(member, tar, out, wants, limits, written)
        else:
            # Read to the end so the blob's digest is checked and trailing garbage is noticed.
            while reader.read(1 << 20):
                pass
            if hasher is not None and hasher.hexdigest() != want:
                out.partial.append(f"uncompressed layer does not match its diff_id: expected {diff_id}, "
                                   f"got {algo}:{hasher.hexdigest()}")
        out.uncompressed_bytes = counting.count
    except LayerFormatError as exc:
        out.partial.append(str(exc))
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        out.partial.append(f"layer is corrupt or truncated: {type(exc).__name__}: {exc}")
    except Exception as exc:  # a decompressor's own error types (zstd, isal)
        out.partial.append(f"layer could not be read: {type(exc).__name__}: {exc}")
    out.written = written.tobytes()
    return out


class _TarInfo(tarfile.TarInfo):
    """Remembers why tarfile stopped: past the first entry it ends the walk *silently* on a damaged,
    short or missing header, which would pass a truncated or corrupt layer off as complete."""

    @classmethod
    def fromtarfile(cls, tar: tarfile.TarFile) -> tarfile.TarInfo:  # type: ignore[override]
        try:
            return super().fromtarfile(tar)
        except tarfile.HeaderError as exc:
            tar.propolis_end = exc  # type: ignore[attr-defined]
            raise


def _members(reader: IO[bytes]) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    with tarfile.open(fileobj=reader, mode="r|", errorlevel=1, tarinfo=_TarInfo) as tar:
        while (member := tar.next()) is not None:
            yield member, tar
            # tarfile keeps every TarInfo it has read (~0.5 KiB each), even in stream mode: a layer
            # of millions of entries would otherwise hold them all.
            tar.members.clear()
        end = getattr(tar, "propolis_end", None)
        if isinstance(end, tarfile.EOFHeaderError):
            return  # the end-of-archive zero block
        at = tar.offset
        if isinstance(end, tarfile.InvalidHeaderError):
            raise LayerFormatError(f"layer is corrupt: invalid tar header at byte {at} ({end}); the rest was not read")
        raise LayerFormatError(f"layer is truncated: it ends at byte {at} without the tar end-of-archive marker")


def _take(member: tarfile.TarInfo, tar: tarfile.TarFile, out: LayerContent, wants: Wants,
          limits: LayerLimits, written: array.array[int] | None = None) -> None:
    path = normalise(member.name)
    if path is None:
        _note(out.skipped, f"entry {member.name!r} escapes the image root; ignored")
        return
    if path == "":
        return
    parent, base = posixpath.split(path)
    if (base.startswith(WHITEOUT_PREFIX) or member.issym() or member.islnk()) and \
            len(out.symlinks) + len(out.hardlinks) + len(out.deleted) + len(out.opaque) >= limits.max_links:
        reason = f"more than {limits.max_links} links and whiteouts; the rest were not recorded"
        if reason not in out.partial:
            out.partial.append(reason)
        return
    if base == OPAQUE_MARKER:
        out.opaque.add(parent)
        return
    if base.startswith(WHITEOUT_PREFIX):
        out.deleted.add(posixpath.join(parent, base[len(WHITEOUT_PREFIX):]))
        return
    if written is not None:
        written.append(path_key(path))
    kind = "dir" if member.isdir() else "file" if member.isfile() or member.islnk() else ""
    if kind:
        _note_mode(out, path, member.mode & 0o7777, kind, limits)
    if member.issym():
        out.symlinks[path] = _link_target(parent, member.linkname)
        return
    if member.islnk():
        target = normalise(member.linkname)
        if target is None:
            _note(out.skipped, f"hard link {path!r} points outside the image root; ignored")
        else:
            out.hardlinks[path] = target
        return
    if not member.isfile():
        return
    limit = wants(path)
    if limit <= 0:
        return
    if member.size > limit:
        _note(out.skipped, f"{path}: {member.size} bytes is larger than its cataloger reads ({limit}); not read")
        return
    if out.wanted_bytes + member.size > limits.max_wanted_bytes:
        _note(out.partial, f"{path}: wanted files exceed {limits.max_wanted_bytes} bytes in one layer; not read")
        return
    fh = tar.extractfile(member)
    data = fh.read(member.size + 1) if fh is not None else b""
    out.wanted_bytes += len(data) - len(out.files.get(path, b""))
    out.files[path] = data


def _note(messages: list[str], message: str) -> None:
    """Keep ``message`` unless :data:`MAX_MESSAGES` are kept already (a hostile layer can earn millions)."""
    if len(messages) < MAX_MESSAGES:
        messages.append(message)
    elif len(messages) == MAX_MESSAGES:
        messages.append("further entries like these were not listed")


def _note_mode(out: LayerContent, path: str, mode: int, kind: str, limits: LayerLimits) -> None:
    if not risky_mode(mode, kind):
        return
    if len(out.modes) < limits.max_mode_entries:
        out.modes.append(ModeEntry(path=path, mode=mode, kind=kind))
        return
    reason = f"more than {limits.max_mode_entries} setuid/setgid/world-writable entries; the rest were not recorded"
    if reason not in out.partial:
        out.partial.append(reason)


def _link_target(parent: str, target: str) -> str:
    parent, target = valid_text(parent), valid_text(target)
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/")) or "."
    return posixpath.normpath(posixpath.join(parent, target))


def read_directory(root: str, wants: Wants, limits: LayerLimits = DEFAULT_LIMITS) -> LayerContent:
    """A root filesystem directory as one layer: walked in place, links recorded, not followed."""
    import os
    import stat

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
            path = valid_text(f"{rel_dir}/{name}" if rel_dir else name)
            if os.path.islink(full):
                out.symlinks[path] = _link_target(rel_dir, os.readlink(full))
                continue
            try:
                st_mode = os.lstat(full).st_mode
            except OSError:
                st_mode = 0
            if stat.S_ISDIR(st_mode) or stat.S_ISREG(st_mode):
                _note_mode(out, path, stat.S_IMODE(st_mode), "dir" if stat.S_ISDIR(st_mode) else "file", limits)
            if name in dirnames or not os.path.isfile(full):
                continue
            limit = wants(path)
            if limit <= 0:
                continue
            size = os.path.getsize(full)
            if size > limit:
                _note(out.skipped, f"{path}: {size} bytes is larger than its cataloger reads ({limit}); not read")
                continue
            if used + size > limits.max_wanted_bytes:
                _note(out.partial, f"{path}: wanted files exceed {limits.max_wanted_bytes} bytes; not read")
                continue
            try:
                with open(full, "rb") as fh:
                    out.files[path] = fh.read(limit + 1)
                used += size
                out.wanted_bytes = used
            except OSError as exc:
                _note(out.skipped, f"{path}: cannot read ({exc.strerror})")
    return out
