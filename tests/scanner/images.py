"""Write real OCI layouts and docker-archives from layer specs, for scanner tests.

A layer spec maps image paths to bytes (a regular file), ``Link(target)`` (a symlink),
``Hard(target)`` (a hard link) or ``WHITEOUT`` (delete this path from lower layers); the path
``dir/.wh..wh..opq`` makes ``dir`` opaque.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import zstandard

WHITEOUT = object()


@dataclass(frozen=True)
class Link:
    target: str


@dataclass(frozen=True)
class Hard:
    target: str


def layer_tar(spec: dict[str, object]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        dirs: set[str] = set()
        for path in sorted(spec):
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d and d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    t.addfile(info)
            value = spec[path]
            if value is WHITEOUT:
                head, _, base = path.rpartition("/")
                info = tarfile.TarInfo(f"{head}/.wh.{base}" if head else f".wh.{base}")
                t.addfile(info, io.BytesIO(b""))
            elif isinstance(value, Link):
                info = tarfile.TarInfo(path)
                info.type = tarfile.SYMTYPE
                info.linkname = value.target
                t.addfile(info)
            elif isinstance(value, Hard):
                info = tarfile.TarInfo(path)
                info.type = tarfile.LNKTYPE
                info.linkname = value.target
                t.addfile(info)
            else:
                assert isinstance(value, bytes)
                info = tarfile.TarInfo(path)
                info.size = len(value)
                info.mode = 0o644
                t.addfile(info, io.BytesIO(value))
    return buf.getvalue()


def _sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


def _compress(raw: bytes, compression: str) -> tuple[bytes, str]:
    if compression == "gzip":
        return gzip.compress(raw, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(raw), "application/vnd.oci.image.layer.v1.tar+zstd"
    return raw, "application/vnd.oci.image.layer.v1.tar"


def _config(diff_ids: list[str], created_by: list[str]) -> bytes:
    return json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"User": "", "Env": ["PATH=/usr/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": c} for c in created_by],
    }).encode()


def _raw_diff_id(blob: bytes, cap: int = 64 << 20) -> str:
    """The diff_id a real image would carry for ``blob``: the digest of its gunzipped bytes.
    Blobs that do not decompress (or would expand past ``cap``: bombs) keep the blob's digest."""
    h = hashlib.sha256()
    d = zlib.decompressobj(wbits=47)
    total = 0
    try:
        for i in range(0, len(blob), 1 << 16):
            out = d.decompress(blob[i:i + (1 << 16)], cap - total + 1)
            total += len(out)
            if total > cap or d.unconsumed_tail:
                return _sha(blob)
            h.update(out)
        if not d.eof:
            return _sha(blob)
    except zlib.error:
        return _sha(blob)
    return "sha256:" + h.hexdigest()


def write_oci_layout(root: Path, layers: list[dict[str, object]], *, compression: str = "gzip",
                     tag: str = "latest", created_by: list[str] | None = None,
                     raw_layers: list[bytes] | None = None) -> Path:
    """An OCI image layout directory; ``raw_layers`` (already-encoded blobs) bypass ``layers``."""
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    created = created_by or [f"RUN step {i}" for i in range(len(raw_layers or layers))]

    def put(b: bytes) -> str:
        d = _sha(b)
        (root / "blobs" / "sha256" / d.split(":")[1]).write_bytes(b)
        return d

    descs, diff_ids = [], []
    blobs = raw_layers if raw_layers is not None else None
    for i in range(len(blobs) if blobs is not None else len(layers)):
        if blobs is not None:
            blob, mt = blobs[i], "application/vnd.oci.image.layer.v1.tar+gzip"
            diff_ids.append(_raw_diff_id(blob))
        else:
            raw = layer_tar(layers[i])
            diff_ids.append(_sha(raw))
            blob, mt = _compress(raw, compression)
        descs.append({"mediaType": mt, "digest": put(blob), "size": len(blob)})
    cfg = _config(diff_ids, created)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(cfg),
                                      "size": len(cfg)}, "layers": descs}).encode()
    md = put(manifest)
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": len(manifest),
         "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
    return root


def write_docker_archive(path: Path, layers: list[dict[str, object]], *, tag: str = "propolis/test:1",
                         created_by: list[str] | None = None) -> Path:
    raws = [layer_tar(spec) for spec in layers]
    diff_ids = [_sha(r) for r in raws]
    cfg = _config(diff_ids, created_by or [f"RUN step {i}" for i in range(len(layers))])
    cfg_name = _sha(cfg).split(":")[1] + ".json"
    entries = {cfg_name: cfg}
    names = []
    for r, d in zip(raws, diff_ids, strict=True):
        name = f"{d.split(':')[1]}/layer.tar"
        entries[name] = r
        names.append(name)
    entries["manifest.json"] = json.dumps([{"Config": cfg_name, "RepoTags": [tag], "Layers": names}]).encode()
    with tarfile.open(path, "w") as t:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path
