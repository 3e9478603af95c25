"""Image sources: OCI layout directory, OCI archive, docker-archive (``docker save``), root
filesystem directory. Each yields an :class:`Image` whose layers are streamed on demand, and
every blob is checked against its digest while it is read.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path
from typing import IO, Any

from propolis.scanner.domain.image import Image, ImageError, LayerRef

MAX_JSON_BYTES = 8 * 1024 * 1024
_GZIP_MEDIA = "application/vnd.oci.image.layer.v1.tar+gzip"


class DigestMismatch(Exception):
    pass


class VerifyingReader(io.RawIOBase):
    """Hashes a blob while it streams; raises DigestMismatch at EOF when it does not match."""

    def __init__(self, inner: IO[bytes], digest: str) -> None:
        self.inner = inner
        algo, _, self.want = digest.partition(":")
        self.h = hashlib.new(algo if algo in ("sha256", "sha512") else "sha256")
        self.digest = digest
        self.checked = not self.want

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(len(b))
        if data:
            self.h.update(data)
            b[: len(data)] = data
            return len(data)
        if not self.checked:
            self.checked = True
            if self.h.hexdigest() != self.want:
                raise DigestMismatch(f"blob digest mismatch: expected {self.digest}, got sha256:{self.h.hexdigest()}")
        return 0

    def close(self) -> None:
        self.inner.close()
        super().close()


def _json(raw: bytes, what: str) -> Any:
    if len(raw) > MAX_JSON_BYTES:
        raise ImageError(f"{what} is larger than {MAX_JSON_BYTES} bytes")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImageError(f"{what} is not valid JSON: {exc}") from None


def _history(config: dict[str, Any], n_layers: int) -> list[str]:
    """``created_by`` of each layer (history entries with ``empty_layer`` make no layer)."""
    lines = [h.get("created_by", "") for h in config.get("history", []) if isinstance(h, dict)
             and not h.get("empty_layer")]
    return (lines + [""] * n_layers)[:n_layers]


def _diff_ids(config: dict[str, Any]) -> list[str]:
    rootfs = config.get("rootfs") if isinstance(config.get("rootfs"), dict) else {}
    ids = rootfs.get("diff_ids", []) if rootfs else []
    return [d for d in ids if isinstance(d, str)]


# ---------------------------------------------------------------- OCI layout
class _BlobStore:
    """Blobs of an OCI layout: a directory, or the members of an OCI archive."""

    def __init__(self, root: Path | None = None, archive: Path | None = None) -> None:
        self.root = root
        self.archive = archive
        self.members: dict[str, tarfile.TarInfo] = {}
        if archive is not None:
            try:
                with tarfile.open(archive, "r:*") as t:
                    for m in t:
                        if m.isfile():
                            self.members[m.name.lstrip("./")] = m
            except (tarfile.TarError, OSError, EOFError) as exc:
                raise ImageError(f"{archive}: not a readable archive ({exc})") from None

    def read_small(self, name: str) -> bytes:
        with self.open(name) as fh:
            data = fh.read(MAX_JSON_BYTES + 1)
        return data

    def open(self, name: str) -> IO[bytes]:
        if self.root is not None:
            p = self.root / name
            try:
                return p.open("rb")
            except OSError as exc:
                raise ImageError(f"{p}: {exc.strerror}") from None
        assert self.archive is not None
        m = self.members.get(name)
        if m is None:
            raise ImageError(f"{self.archive}: no member {name}")
        fh = open(self.archive, "rb")  # noqa: SIM115 - returned to the caller, who closes it
        fh.seek(m.offset_data)
        return _Window(fh, m.size)  # type: ignore[return-value]

    def blob(self, digest: str) -> str:
        algo, _, hexd = digest.partition(":")
        if not hexd or "/" in hexd or ".." in hexd:
            raise ImageError(f"invalid digest {digest!r}")
        return f"blobs/{algo}/{hexd}"


class _Window(io.RawIOBase):
    """A bounded view of a file (one member of an uncompressed tar)."""

    def __init__(self, fh: IO[bytes], size: int) -> None:
        self.fh, self.left = fh, size

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.left <= 0:
            return 0
        data = self.fh.read(min(len(b), self.left))
        self.left -= len(data)
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.fh.close()
        super().close()


def _pick_manifest(store: _BlobStore, index: dict[str, Any], tag: str, platform: str) -> dict[str, Any]:
    manifests = [m for m in index.get("manifests", []) if isinstance(m, dict)]
    if tag:
        manifests = [m for m in manifests
                     if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") == tag]
        if not manifests:
            raise ImageError(f"no manifest tagged {tag!r} in the OCI layout")
    if not manifests:
        raise ImageError("the OCI layout's index.json lists no manifests")
    desc = manifests[0]
    mt = desc.get("mediaType", "")
    if mt.endswith("image.index.v1+json") or mt.endswith("manifest.list.v2+json"):
        nested = _json(store.read_small(store.blob(desc["digest"])), "image index")
        return _pick_platform(store, nested, platform)
    return desc


def _pick_platform(store: _BlobStore, index: dict[str, Any], platform: str) -> dict[str, Any]:
    want_os, _, want_arch = (platform or "linux/amd64").partition("/")
    for m in index.get("manifests", []):
        p = m.get("platform") or {}
        if p.get("os") == want_os and p.get("architecture") == want_arch:
            return m
    raise ImageError(f"the image index has no manifest for platform {platform or 'linux/amd64'}")


def _from_layout(store: _BlobStore, reference: str, tag: str, platform: str) -> Image:
    index = _json(store.read_small("index.json"), "index.json")
    desc = _pick_manifest(store, index, tag, platform)
    manifest = _json(store.read_small(store.blob(desc["digest"])), "manifest")
    config = _json(store.read_small(store.blob(manifest["config"]["digest"])), "image config")
    layers_desc = [d for d in manifest.get("layers", []) if isinstance(d, dict)]
    diff_ids = _diff_ids(config)
    created = _history(config, len(layers_desc))
    layers: list[LayerRef] = []
    for i, d in enumerate(layers_desc):
        digest = d["digest"]
        name = store.blob(digest)
        layers.append(LayerRef(digest=digest, diff_id=diff_ids[i] if i < len(diff_ids) else "",
                               media_type=d.get("mediaType", _GZIP_MEDIA), size=int(d.get("size", 0)),
                               created_by=created[i],
                               open=lambda name=name, digest=digest: VerifyingReader(store.open(name), digest)))
    return Image(reference=reference, config=config, layers=layers, manifest_digest=desc.get("digest", ""))


def open_oci_layout(path: str | os.PathLike[str], tag: str = "", platform: str = "") -> Image:
    root = Path(path)
    if not (root / "oci-layout").is_file() or not (root / "index.json").is_file():
        raise ImageError(f"{root} is not an OCI image layout (no oci-layout / index.json)")
    return _from_layout(_BlobStore(root=root), str(root) + (f":{tag}" if tag else ""), tag, platform)


def open_oci_archive(path: str | os.PathLike[str], tag: str = "", platform: str = "") -> Image:
    store = _BlobStore(archive=Path(path))
    if "index.json" not in store.members:
        raise ImageError(f"{path} is not an OCI archive (no index.json)")
    return _from_layout(store, f"oci-archive:{path}", tag, platform)


# ---------------------------------------------------------------- docker-archive
def open_docker_archive(path: str | os.PathLike[str]) -> Image:
    store = _BlobStore(archive=Path(path))
    if "manifest.json" not in store.members:
        if "index.json" in store.members:
            return open_oci_archive(path)
        raise ImageError(f"{path} is not a docker-archive (no manifest.json)")
    manifest = _json(store.read_small("manifest.json"), "manifest.json")
    if not isinstance(manifest, list) or not manifest or not isinstance(manifest[0], dict):
        raise ImageError(f"{path}: manifest.json is not a list of images")
    entry = manifest[0]
    config = _json(store.read_small(entry["Config"]), "image config")
    diff_ids = _diff_ids(config)
    created = _history(config, len(entry.get("Layers", [])))
    layers: list[LayerRef] = []
    for i, name in enumerate(entry.get("Layers", [])):
        m = store.members.get(name)
        if m is None:
            raise ImageError(f"{path}: layer {name} is missing from the archive")
        diff_id = diff_ids[i] if i < len(diff_ids) else ""
        # A docker-archive layer is usually the uncompressed tar: its sha256 is the diff_id.
        digest = "sha256:" + name.split("/")[-1].removesuffix(".tar.gz").removesuffix(".tar") \
            if name.startswith("blobs/sha256/") else diff_id
        layers.append(LayerRef(digest=digest, diff_id=diff_id, media_type="", size=m.size, created_by=created[i],
                               open=lambda name=name, digest=digest: VerifyingReader(store.open(name), digest)
                               if name.startswith("blobs/") else store.open(name)))
    tags = entry.get("RepoTags") or []
    return Image(reference=tags[0] if tags else str(path), config=config, layers=layers)


# ---------------------------------------------------------------- root filesystem
def open_rootfs(path: str | os.PathLike[str]) -> Image:
    """A directory as a single-layer image (a tar of it is streamed on demand)."""
    root = Path(path)
    if not root.is_dir():
        raise ImageError(f"{root} is not a directory")

    def opener() -> IO[bytes]:
        raise ImageError("a root filesystem is read in place, not streamed")

    return Image(reference=str(root), config={},
                 layers=[LayerRef(digest="", diff_id="", media_type="", size=0, created_by="", open=opener,
                                  directory=str(root))])


def open_image(ref: str, platform: str = "") -> Image:
    """IMAGE as the command line takes it (see ``propolis sbom --help``)."""
    if ref.startswith("oci-archive:"):
        return open_oci_archive(ref.removeprefix("oci-archive:"), platform=platform)
    if ref.startswith("docker-archive:"):
        return open_docker_archive(ref.removeprefix("docker-archive:"))
    p = Path(ref)
    if p.is_file():
        return open_docker_archive(p)
    base, _, tag = ref.rpartition(":")
    if p.is_dir() and (p / "oci-layout").exists():
        return open_oci_layout(p, platform=platform)
    if base and Path(base).is_dir() and (Path(base) / "oci-layout").exists():
        return open_oci_layout(base, tag=tag, platform=platform)
    if p.is_dir():
        return open_rootfs(p)
    from propolis.scanner.adapters.registry import open_registry_image, parse_reference

    remote = parse_reference(ref)  # only when no local path matched: a local file always wins
    if remote is not None:
        return open_registry_image(remote, platform=platform)
    raise ImageError(f"{ref}: no such file or directory, and not a registry reference "
                     "(host[:port]/repo[:tag][@sha256:...])")
