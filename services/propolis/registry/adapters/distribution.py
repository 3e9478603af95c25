"""The OCI distribution API calls the gate makes on a registry: read, copy, delete and attach.

Blocking httpx, run in worker threads by the gate. Authentication is the scanner's
(:class:`RegistryAuth`: anonymous, Basic, or Bearer tokens from the registry's realm), with
push scopes where the gate writes. Two kinds of failure are kept apart, because the gate
treats them differently:

- :class:`RegistryUnavailable`: the registry is down, timed out or answered 5xx or 429; the
  gate retries later with backoff and loses nothing.
- :class:`RegistryRefused`: the registry answered and said no (4xx): retrying does not help.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from propolis.scanner.adapters.registry import (
    ACCEPT,
    DOCKER_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    Credentials,
    RegistryAuth,
    find_credentials,
    is_loopback,
)
from propolis.scanner.domain.image import ImageError

#: Manifests are small; anything larger is refused rather than buffered.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)


class RegistryUnavailable(Exception):
    """The registry could not be reached or failed (retry later)."""


class RegistryRefused(Exception):
    """The registry refused a request (a 4xx answer; retrying will not help)."""


@dataclass(frozen=True)
class Manifest:
    raw: bytes
    media_type: str
    digest: str

    def doc(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.raw)
        except ValueError:
            raise RegistryRefused(f"manifest {self.digest} is not JSON") from None
        if not isinstance(doc, dict):
            raise RegistryRefused(f"manifest {self.digest} is not a JSON object")
        return doc


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _error_detail(resp: httpx.Response) -> str:
    try:
        errors = json.loads(resp.content[:65536]).get("errors") or []
        if errors and isinstance(errors[0], dict):
            return f" ({errors[0].get('code', '')}: {errors[0].get('message', '')})"
    except (ValueError, AttributeError):
        pass
    return ""


class DistributionClient:
    """One registry host; every call names its repository."""

    def __init__(self, host: str, *, insecure: bool = False, credentials: Credentials | None = None,
                 timeout: float = 30.0, user_agent: str = "propolis-registry-gate") -> None:
        self.host = host
        hostname = host.rpartition(":")[0] if ":" in host and not host.endswith("]") else host
        self.base = f"{'http' if insecure or is_loopback(hostname) else 'https'}://{host}"
        self.auth = RegistryAuth(credentials if credentials is not None else find_credentials(host))
        self.http = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                                 headers={"User-Agent": user_agent})

    def close(self) -> None:
        self.http.close()

    # -- plumbing -----------------------------------------------------------------------------
    def _request(self, method: str, path: str, what: str, *, scope: str, content: bytes | None = None,
                 headers: dict[str, str] | None = None, ok: tuple[int, ...] = (200,),
                 absent: tuple[int, ...] = ()) -> httpx.Response | None:
        """One call, answering one 401 challenge; ``absent`` statuses return None."""
        url = path if path.startswith(("http://", "https://")) else f"{self.base}{path}"
        for attempt in (0, 1):
            try:
                resp = self.http.request(method, url, content=content,
                                         headers={**self.auth.header(), **(headers or {})})
            except httpx.TimeoutException:
                raise RegistryUnavailable(f"{what}: registry {self.host} timed out") from None
            except httpx.HTTPError as exc:
                raise RegistryUnavailable(f"{what}: registry {self.host} is unreachable: "
                                          f"{type(exc).__name__}: {exc}") from None
            if resp.status_code == 401 and attempt == 0:
                try:
                    retry = self.auth.challenge(self.http, resp, scope, what)
                except ImageError as exc:  # the token server is down or refused
                    raise RegistryUnavailable(str(exc)) from None
                if retry:
                    continue
            break
        if len(resp.content) > MAX_MANIFEST_BYTES:
            raise RegistryRefused(f"{what}: registry {self.host} answered more than {MAX_MANIFEST_BYTES} bytes")
        if resp.status_code in ok:
            return resp
        if resp.status_code in absent:
            return None
        detail = _error_detail(resp)
        if resp.status_code >= 500 or resp.status_code == 429:
            raise RegistryUnavailable(f"{what}: registry {self.host} answered HTTP {resp.status_code}{detail}")
        raise RegistryRefused(f"{what}: registry {self.host} answered HTTP {resp.status_code}{detail}")

    @staticmethod
    def _path(repo: str, kind: str, ref: str) -> str:
        return f"/v2/{repo}/{kind}/{quote(ref, safe=':')}"

    # -- manifests ----------------------------------------------------------------------------
    def get_manifest(self, repo: str, ref: str) -> Manifest | None:
        """The manifest (digest verified when ``ref`` is one), or None when the registry has none."""
        what = f"manifest {repo}:{ref}" if not ref.startswith("sha256:") else f"manifest {repo}@{ref}"
        resp = self._request("GET", self._path(repo, "manifests", ref), what, scope=f"repository:{repo}:pull",
                             headers={"Accept": ACCEPT}, absent=(404,))
        if resp is None:
            return None
        digest = sha256(resp.content)
        if ref.startswith("sha256:") and digest != ref:
            raise RegistryRefused(f"{what}: the registry served content with digest {digest}")
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        return Manifest(resp.content, media_type, digest)

    def resolve(self, repo: str, tag: str) -> str | None:
        """The digest ``repo:tag`` points to now, or None when the tag does not exist."""
        resp = self._request("HEAD", self._path(repo, "manifests", tag), f"tag {repo}:{tag}",
                             scope=f"repository:{repo}:pull", headers={"Accept": ACCEPT}, absent=(404,))
        return None if resp is None else resp.headers.get("Docker-Content-Digest") or None

    def put_manifest(self, repo: str, ref: str, raw: bytes, media_type: str) -> httpx.Response:
        what = f"upload of manifest {repo}:{ref}"
        resp = self._request("PUT", self._path(repo, "manifests", ref), what, scope=f"repository:{repo}:pull,push",
                             content=raw, headers={"Content-Type": media_type}, ok=(201, 200))
        assert resp is not None
        return resp

    def delete_manifest(self, repo: str, digest: str) -> bool:
        """Delete the manifest (and with it every tag of ``repo`` that points to it). Distribution 2.x
        cannot delete a tag alone; the digest is what the OCI spec requires every registry to accept.
        False when it was already gone."""
        resp = self._request("DELETE", self._path(repo, "manifests", digest), f"deletion of {repo}@{digest}",
                             scope=f"repository:{repo}:pull,push,delete", ok=(202, 200), absent=(404,))
        return resp is not None

    # -- blobs --------------------------------------------------------------------------------
    def blob_exists(self, repo: str, digest: str) -> bool:
        resp = self._request("HEAD", self._path(repo, "blobs", digest), f"blob {repo}@{digest}",
                             scope=f"repository:{repo}:pull", absent=(404,))
        return resp is not None

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        """Cross-repository mount (no bytes move). False when the source has no such blob."""
        if self.blob_exists(repo, digest):
            return True
        what = f"mount of {digest} from {from_repo} into {repo}"
        path = f"/v2/{repo}/blobs/uploads/?mount={quote(digest, safe=':')}&from={quote(from_repo, safe='/')}"
        resp = self._request("POST", path, what, scope=f"repository:{repo}:pull,push repository:{from_repo}:pull",
                             ok=(201, 202))
        assert resp is not None
        if resp.status_code == 201:
            return True
        # 202: the registry could not mount and opened an ordinary upload instead; close it.
        location = resp.headers.get("Location", "")
        if location:
            try:
                self._request("DELETE", location if "://" in location else f"{self.base}{location}",
                              f"cancel of upload into {repo}", scope=f"repository:{repo}:pull,push",
                              ok=(204, 200, 202), absent=(404,))
            except RegistryRefused:
                pass
        return False

    def put_blob(self, repo: str, data: bytes) -> str:
        """Monolithic upload (POST, then PUT with the digest); idempotent by digest."""
        digest = sha256(data)
        if self.blob_exists(repo, digest):
            return digest
        scope = f"repository:{repo}:pull,push"
        started = self._request("POST", f"/v2/{repo}/blobs/uploads/", f"upload into {repo}", scope=scope, ok=(202,))
        assert started is not None
        location = started.headers.get("Location", "")
        if not location:
            raise RegistryRefused(f"upload into {repo}: registry {self.host} gave no upload location")
        url = location if "://" in location else f"{self.base}{location}"
        sep = "&" if "?" in url else "?"
        self._request("PUT", f"{url}{sep}digest={quote(digest, safe=':')}", f"upload of {digest} into {repo}",
                      scope=scope, content=data, headers={"Content-Type": "application/octet-stream"}, ok=(201,))
        return digest

    # -- referrers ----------------------------------------------------------------------------
    def referrers(self, repo: str, digest: str) -> tuple[list[dict[str, Any]], bool]:
        """Descriptors of the manifests whose ``subject`` is ``digest``, and whether they came from the
        Referrers API (True) or the OCI 1.1 tag-schema fallback (``sha256-<hex>``, for registries such
        as distribution 2.x that have no referrers endpoint)."""
        resp = self._request("GET", f"/v2/{repo}/referrers/{digest}", f"referrers of {repo}@{digest}",
                             scope=f"repository:{repo}:pull", headers={"Accept": OCI_INDEX}, absent=(404, 405))
        if resp is not None and resp.headers.get("Content-Type", "").startswith(OCI_INDEX):
            return _descriptors(resp.content), True
        index = self.get_manifest(repo, fallback_tag(digest))
        return (_descriptors(index.raw) if index is not None else []), False

    def add_referrer_to_fallback(self, repo: str, subject: str, descriptor: dict[str, Any]) -> None:
        """Add ``descriptor`` to the subject's tag-schema index (read, append, write)."""
        tag = fallback_tag(subject)
        current = self.get_manifest(repo, tag)
        manifests = _descriptors(current.raw) if current is not None else []
        if any(m.get("digest") == descriptor["digest"] for m in manifests):
            return
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [*manifests, descriptor]}
        self.put_manifest(repo, tag, json.dumps(index, separators=(",", ":")).encode(), OCI_INDEX)


def fallback_tag(digest: str) -> str:
    """The OCI 1.1 referrers tag schema: ``<alg>-<hex>``."""
    alg, _, hexd = digest.partition(":")
    return f"{alg}-{hexd}"


def _descriptors(raw: bytes) -> list[dict[str, Any]]:
    try:
        doc = json.loads(raw)
    except ValueError:
        return []
    manifests = doc.get("manifests") if isinstance(doc, dict) else None
    return [m for m in manifests if isinstance(m, dict) and isinstance(m.get("digest"), str)] \
        if isinstance(manifests, list) else []


__all__ = ["INDEX_TYPES", "OCI_MANIFEST", "DistributionClient", "Manifest", "RegistryRefused",
           "RegistryUnavailable", "fallback_tag", "sha256"]
