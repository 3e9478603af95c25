"""Images built as in-memory blobs (config, layers, manifest, index) for pushing to a registry.

The layer specs are those of :mod:`tests.scanner.images`; both OCI and Docker v2 media types
can be produced, so the registry source is tested against either kind of manifest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tests.scanner.images import _compress, _sha, layer_tar

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


@dataclass
class BuiltImage:
    manifest: bytes
    media_type: str
    config: bytes
    #: Every blob the manifest references (config and layers), by digest.
    blobs: dict[str, bytes] = field(default_factory=dict)
    layer_digests: list[str] = field(default_factory=list)
    diff_ids: list[str] = field(default_factory=list)
    platform: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return _sha(self.manifest)


def build_image(layers: list[dict[str, object]], *, compression: str = "gzip", docker: bool = False,
                created_by: list[str] | None = None, os: str = "linux", arch: str = "amd64",
                variant: str = "") -> BuiltImage:
    """One platform's manifest, config and layer blobs (Docker media types need gzip)."""
    if docker and compression != "gzip":
        raise ValueError("Docker v2 layers are gzip")
    created = created_by or [f"RUN step {i}" for i in range(len(layers))]
    blobs: dict[str, bytes] = {}
    descs, diff_ids, digests = [], [], []
    for spec in layers:
        raw = layer_tar(spec)
        blob, mt = _compress(raw, compression)
        d = _sha(blob)
        blobs[d] = blob
        diff_ids.append(_sha(raw))
        digests.append(d)
        descs.append({"mediaType": DOCKER_LAYER if docker else mt, "digest": d, "size": len(blob)})
    platform = {"os": os, "architecture": arch, **({"variant": variant} if variant else {})}
    config = json.dumps({
        **platform,
        "config": {"User": "", "Env": ["PATH=/usr/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": c} for c in created],
    }).encode()
    blobs[_sha(config)] = config
    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": media_type,
        "config": {"mediaType": DOCKER_CONFIG if docker else OCI_CONFIG, "digest": _sha(config), "size": len(config)},
        "layers": descs}).encode()
    return BuiltImage(manifest=manifest, media_type=media_type, config=config, blobs=blobs, layer_digests=digests,
                      diff_ids=diff_ids, platform=platform)


def build_index(images: list[BuiltImage], *, docker: bool = False) -> tuple[bytes, str]:
    """(bytes, media type) of an image index / manifest list over already-built images."""
    media_type = DOCKER_LIST if docker else OCI_INDEX
    return json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": [
        {"mediaType": i.media_type, "digest": i.digest, "size": len(i.manifest), "platform": i.platform}
        for i in images]}).encode(), media_type
