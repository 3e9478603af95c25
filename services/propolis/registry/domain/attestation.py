"""The gate's verdict attached to an image as an OCI referrer artifact.

The artifact is an OCI image manifest whose ``subject`` is the verified manifest, so it is bound
to that digest: a re-tagged or rebuilt image has a different digest and no attestation. Its one
layer is the verdict statement (JSON); its annotations repeat the verdict and policy revision so
that a client listing referrers can pick the current one without fetching the layer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ARTIFACT_TYPE = "application/vnd.propolis.registry.verdict.v1+json"
STATEMENT_TYPE = "https://propolis.dev/attestations/registry-verdict/v1"
EMPTY_CONFIG = b"{}"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ANNOTATION_VERDICT = "dev.propolis.verdict"
ANNOTATION_REVISION = "dev.propolis.policy.revision"
ANNOTATION_CREATED = "org.opencontainers.image.created"


def _canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Artifact:
    statement: bytes
    manifest: bytes
    #: The descriptor of ``manifest`` as it appears in a referrers index.
    descriptor_base: dict[str, Any]


def statement(*, registry: str, repository: str, tag: str, digest: str, verdict: str, score: float | None,
              reasons: list[str], warnings: list[str], revision: str, decision_id: str, scan_id: str,
              issued_at: str) -> bytes:
    return _canonical({
        "_type": STATEMENT_TYPE,
        "subject": {"registry": registry, "repository": repository, "tag": tag, "digest": digest},
        "verdict": verdict, "score": score, "reasons": reasons, "warnings": warnings,
        "policy": {"revision": revision, "decision_id": decision_id}, "scan_id": scan_id,
        "issued_at": issued_at,
    })


def artifact(statement_bytes: bytes, statement_digest: str, empty_digest: str, *, subject_digest: str,
             subject_media_type: str, subject_size: int, verdict: str, revision: str, issued_at: str) -> Artifact:
    annotations = {ANNOTATION_VERDICT: verdict, ANNOTATION_REVISION: revision, ANNOTATION_CREATED: issued_at}
    manifest = _canonical({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": empty_digest, "size": len(EMPTY_CONFIG)},
        "layers": [{"mediaType": ARTIFACT_TYPE, "digest": statement_digest, "size": len(statement_bytes)}],
        "subject": {"mediaType": subject_media_type, "digest": subject_digest, "size": subject_size},
        "annotations": annotations,
    })
    return Artifact(statement=statement_bytes, manifest=manifest,
                    descriptor_base={"mediaType": OCI_MANIFEST, "size": len(manifest),
                                     "artifactType": ARTIFACT_TYPE, "annotations": annotations})


def current(descriptors: list[dict[str, Any]], revision: str, verdict: str) -> dict[str, Any] | None:
    """The referrer that already records ``verdict`` under ``revision`` (so a replay attaches nothing)."""
    for d in descriptors:
        raw = d.get("annotations")
        ann: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if d.get("artifactType") == ARTIFACT_TYPE and ann.get(ANNOTATION_REVISION) == revision \
                and ann.get(ANNOTATION_VERDICT) == verdict:
            return d
    return None
