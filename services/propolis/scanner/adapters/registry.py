"""Images pulled from a remote registry through the OCI Distribution API.

Synchronous on purpose: the catalogue streams layers from worker threads. Manifests and the
config are small and read whole (bounded by ``MAX_JSON_BYTES``); layer blobs are streamed
through :class:`VerifyingReader`, so nothing is downloaded to memory or disk in full. Every
manifest, the config and every layer is checked against its digest.
"""

from __future__ import annotations

import base64
import hashlib
import io
import ipaddress
import json
import os
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import httpx

from propolis.scanner.adapters.sources import MAX_JSON_BYTES, VerifyingReader, _diff_ids, _history, _json
from propolis.scanner.domain.image import Image, ImageError, LayerRef

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
           "application/vnd.docker.distribution.manifest.v1+prettyjws")
ACCEPT = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST))
DEFAULT_PLATFORM = "linux/amd64"
_MAX_TOKEN_BYTES = 1024 * 1024
_GZIP_MEDIA = "application/vnd.oci.image.layer.v1.tar+gzip"

# Reference grammar (the subset every registry accepts): host[:port]/path[:tag][@digest].
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST_RE = re.compile(rf"^(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?$")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST_RE = re.compile(r"^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")
_DOCKER_HUB = {"docker.io", "index.docker.io", "registry-1.docker.io"}


@dataclass(frozen=True)
class Reference:
    """A parsed ``host[:port]/repo[:tag][@sha256:...]``; ``raw`` is the string as given."""

    raw: str
    host: str
    repository: str
    tag: str = ""
    digest: str = ""

    @property
    def api_host(self) -> str:
        """Where the API lives (Docker Hub's API host differs from its name)."""
        return "registry-1.docker.io" if self.host in _DOCKER_HUB else self.host

    @property
    def manifest_ref(self) -> str:
        """What to ask the manifests endpoint for: the digest wins over the tag."""
        return self.digest or self.tag or "latest"

    @property
    def hostname(self) -> str:
        h = self.host
        if h.startswith("["):
            return h[1:h.index("]")]
        return h.rpartition(":")[0] if ":" in h else h


def parse_reference(ref: str) -> Reference | None:
    """The reference, or None when ``ref`` is not a registry reference with an explicit host."""
    name, at, digest = ref.partition("@")
    if at and not _DIGEST_RE.match(digest):
        return None
    host, slash, path = name.partition("/")
    if not slash or not _HOST_RE.match(host):
        return None
    if not ("." in host or ":" in host or host == "localhost" or host.startswith("[")):
        return None  # "user/repo" is a path, not a registry
    tag = ""
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, _, tag = path.rpartition(":")
        if not _TAG_RE.match(tag):
            return None
    if not _PATH_RE.match(path):
        return None
    if host in _DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return Reference(raw=ref, host=host, repository=path, tag=tag, digest=digest)


def is_loopback(hostname: str) -> bool:
    if hostname == "localhost" or hostname.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------- credentials
@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    #: Where they came from, for error messages (never the secret itself).
    source: str


def docker_config_path() -> Path:
    d = os.environ.get("DOCKER_CONFIG")
    return Path(d) / "config.json" if d else Path.home() / ".docker" / "config.json"


def _config_key_host(key: str) -> str:
    k = key.removeprefix("https://").removeprefix("http://")
    return k.split("/", 1)[0]


def find_credentials(host: str) -> Credentials | None:
    """Environment first (``PROPOLIS_REGISTRY_USERNAME``/``_PASSWORD``), then Docker's config.json."""
    user, pw = os.environ.get("PROPOLIS_REGISTRY_USERNAME", ""), os.environ.get("PROPOLIS_REGISTRY_PASSWORD", "")
    if user and pw:
        return Credentials(user, pw, "PROPOLIS_REGISTRY_USERNAME/PASSWORD")
    path = docker_config_path()
    try:
        doc = json.loads(path.read_bytes()[: MAX_JSON_BYTES])
    except (OSError, ValueError):
        return None
    auths = doc.get("auths") if isinstance(doc, dict) else None
    if not isinstance(auths, dict):
        return None
    wanted = _DOCKER_HUB if host in _DOCKER_HUB else {host}
    for key, entry in auths.items():
        if _config_key_host(str(key)) not in wanted or not isinstance(entry, dict):
            continue
        u, p = entry.get("username"), entry.get("password")
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                u, _, p = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                continue
        if isinstance(u, str) and isinstance(p, str) and u:
            return Credentials(u, p, str(path))
    return None


# ---------------------------------------------------------------- auth
_PARAM_RE = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="...",scope="..."`` → ("bearer", {realm, service, scope})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): re.sub(r"\\(.)", r"\1", quoted) if quoted else bare
              for k, quoted, bare in _PARAM_RE.findall(rest)}
    return scheme.lower(), params


@dataclass
class _Token:
    value: str
    expires: float


@dataclass
class RegistryAuth:
    """Which scheme the registry asked for and the bearer tokens obtained, shared by all streams."""

    credentials: Credentials | None
    scheme: str = ""
    realm: str = ""
    tokens: dict[str, _Token] = field(default_factory=dict)
    scope: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def header(self) -> dict[str, str]:
        with self.lock:
            if self.scheme == "basic" and self.credentials:
                raw = f"{self.credentials.username}:{self.credentials.password}".encode()
                return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
            if self.scheme == "bearer":
                tok = self.tokens.get(self.scope)
                if tok and tok.expires > time.monotonic():
                    return {"Authorization": f"Bearer {tok.value}"}
        return {}

    def describe(self) -> str:
        who = (f"credentials for {self.credentials.username} from {self.credentials.source}"
               if self.credentials else "no credentials")
        if self.scheme == "basic":
            return f"basic auth with {who}" if self.credentials else "anonymous (basic auth needs credentials)"
        if self.scheme == "bearer":
            return f"bearer token from {self.realm} with {who}"
        return f"anonymous ({who})"

    def challenge(self, http: httpx.Client, resp: httpx.Response, default_scope: str, what: str) -> bool:
        """React to a 401; True when a retry with new authorization makes sense."""
        header = resp.headers.get("WWW-Authenticate", "")
        scheme, params = parse_challenge(header) if header else ("", {})
        if scheme == "basic":
            with self.lock:
                first = self.scheme != "basic"
                self.scheme = "basic"
            return first and self.credentials is not None
        if scheme == "bearer" and params.get("realm"):
            scope = params.get("scope") or default_scope
            self._fetch_token(http, params["realm"], params.get("service", ""), scope, what)
            return True
        return False

    def _fetch_token(self, http: httpx.Client, realm: str, service: str, scope: str, what: str) -> None:
        if not realm.startswith(("https://", "http://")):
            raise ImageError(f"{what}: the registry's token realm {realm!r} is not an http(s) URL")
        query: list[tuple[str, str | int | float | bool | None]] = []
        if service:
            query.append(("service", service))
        query.extend(("scope", s) for s in scope.split(" ") if s)
        headers: dict[str, str] = {}
        if self.credentials:
            raw = f"{self.credentials.username}:{self.credentials.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        with self.lock:
            self.scheme, self.realm = "bearer", realm
        try:
            with http.stream("GET", realm, params=query, headers=headers, follow_redirects=True) as resp:
                status = resp.status_code
                body = b""
                for chunk in resp.iter_bytes():
                    body += chunk
                    if len(body) > _MAX_TOKEN_BYTES:
                        raise ImageError(f"{what}: token server {realm} answered more than {_MAX_TOKEN_BYTES} bytes")
        except httpx.HTTPError as exc:
            raise ImageError(f"{what}: token server {realm} is unreachable: {_why(exc)}") from None
        if status in (401, 403):
            raise ImageError(f"{what}: token server {realm} refused access ({status}; tried {self.describe()})")
        if status != 200:
            raise ImageError(f"{what}: token server {realm} answered HTTP {status}")
        try:
            doc = json.loads(body)
        except ValueError:
            raise ImageError(f"{what}: token server {realm} did not answer JSON") from None
        value = (doc.get("token") or doc.get("access_token")) if isinstance(doc, dict) else None
        if not isinstance(value, str) or not value:
            raise ImageError(f"{what}: token server {realm} answered without a token")
        expires_in = doc.get("expires_in")
        ttl = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 60.0
        with self.lock:
            # A little early, so a token never expires between being attached and being checked.
            self.tokens[scope] = _Token(value, time.monotonic() + max(ttl - 10, ttl / 2))
            self.scope = scope


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())


# ---------------------------------------------------------------- client
class _ResponseStream(io.RawIOBase):
    """A streamed blob response as a file object; network errors surface as OSError."""

    def __init__(self, http: httpx.Client, resp: httpx.Response) -> None:
        self.http, self.resp = http, resp
        self.chunks = resp.iter_raw(1 << 16)
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self.pending:
            try:
                chunk = next(self.chunks, None)
            except httpx.HTTPError as exc:
                raise OSError(f"reading the blob from the registry failed: {_why(exc)}") from None
            if chunk is None:
                return 0
            self.pending = chunk
        n = min(len(b), len(self.pending))
        b[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            self.resp.close()
            self.http.close()
        super().close()


class RegistryClient:
    """One repository on one registry: manifests, small blobs, streamed layer blobs."""

    def __init__(self, ref: Reference, *, insecure: bool | None = None, credentials: Credentials | None = None,
                 timeout: float = 60.0) -> None:
        self.ref = ref
        if insecure is None:
            insecure = os.environ.get("PROPOLIS_REGISTRY_INSECURE", "") in ("1", "true", "yes")
        scheme = "http" if insecure or is_loopback(ref.hostname) else "https"
        self.base = f"{scheme}://{ref.api_host}"
        self.auth = RegistryAuth(credentials if credentials is not None else find_credentials(ref.host))
        self.timeout = httpx.Timeout(timeout, connect=min(timeout, 15.0))
        self._ssl: ssl.SSLContext | None = None
        self.http = self._client()

    def _client(self) -> httpx.Client:
        if self.base.startswith("https://") and self._ssl is None:
            self._ssl = ssl.create_default_context()
        return httpx.Client(timeout=self.timeout, verify=self._ssl or True,
                            headers={"User-Agent": "propolis-scanner", "Accept-Encoding": "identity"})

    def close(self) -> None:
        self.http.close()

    def _url(self, kind: str, ref: str) -> str:
        return f"{self.base}/v2/{self.ref.repository}/{kind}/{quote(ref, safe=':')}"

    def _send(self, http: httpx.Client, url: str, what: str, *, accept: str = "") -> httpx.Response:
        """GET with the current authorization, answering one 401 challenge; redirects are followed
        (blob storage often lives elsewhere) and httpx drops Authorization on a cross-origin hop."""
        scope = f"repository:{self.ref.repository}:pull"
        for attempt in (0, 1):
            headers = {**self.auth.header(), **({"Accept": accept} if accept else {})}
            try:
                resp = http.send(http.build_request("GET", url, headers=headers), stream=True,
                                 follow_redirects=True)
            except httpx.ConnectError as exc:
                raise ImageError(f"{self.ref.raw}: cannot connect to registry {self.ref.api_host} "
                                 f"({_why(exc)})") from None
            except httpx.TimeoutException:
                raise ImageError(f"{self.ref.raw}: registry {self.ref.api_host} timed out") from None
            except httpx.HTTPError as exc:
                raise ImageError(f"{self.ref.raw}: registry {self.ref.api_host} failed: {_why(exc)}") from None
            if resp.status_code == 401 and attempt == 0:
                try:
                    retry = self.auth.challenge(http, resp, scope, self.ref.raw)
                except BaseException:
                    resp.close()
                    raise
                if retry:
                    resp.close()
                    continue
            if resp.status_code >= 300:
                try:
                    self._fail(resp, what)
                finally:
                    resp.close()
            return resp
        raise AssertionError("unreachable")

    def _fail(self, resp: httpx.Response, what: str) -> None:
        host = self.ref.api_host
        code = resp.status_code
        if code in (401, 403):
            label = "401 Unauthorized" if code == 401 else "403 Forbidden"
            raise ImageError(f"{self.ref.raw}: registry {host} denied access to the {what} ({label}; tried "
                             f"{self.auth.describe()})")
        detail = ""
        try:
            body = resp.read()[:65536]
            errors = json.loads(body).get("errors") or []
            if errors and isinstance(errors[0], dict):
                detail = f" ({errors[0].get('code', '')}: {errors[0].get('message', '')})"
        except (ValueError, AttributeError, httpx.HTTPError):
            pass
        if code == 404:
            raise ImageError(f"{self.ref.raw}: {what} unknown to registry {host}{detail}")
        raise ImageError(f"{self.ref.raw}: registry {host} answered HTTP {code} for the {what}{detail}")

    def _read_small(self, resp: httpx.Response, what: str) -> bytes:
        try:
            declared = resp.headers.get("Content-Length", "0")
            if declared.isdigit() and int(declared) > MAX_JSON_BYTES:
                raise ImageError(f"{self.ref.raw}: the {what} is larger than {MAX_JSON_BYTES} bytes")
            buf = bytearray()
            for chunk in resp.iter_bytes():
                buf += chunk
                if len(buf) > MAX_JSON_BYTES:
                    raise ImageError(f"{self.ref.raw}: the {what} is larger than {MAX_JSON_BYTES} bytes")
            return bytes(buf)
        except httpx.HTTPError as exc:
            raise ImageError(f"{self.ref.raw}: reading the {what} failed: {_why(exc)}") from None
        finally:
            resp.close()

    def manifest(self, ref: str, expect_digest: str = "") -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of a manifest, its digest verified."""
        what = f"manifest {ref}" if ref.startswith("sha") else f"manifest for tag {ref}"
        resp = self._send(self.http, self._url("manifests", ref), what, accept=ACCEPT)
        header_digest = resp.headers.get("Docker-Content-Digest", "")
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        raw = self._read_small(resp, what)
        want = expect_digest or header_digest
        got = _digest_of(raw, want)
        if want and got != want:
            source = "the requested digest" if expect_digest else "the registry's Docker-Content-Digest"
            raise ImageError(f"{self.ref.raw}: manifest digest mismatch: expected {want} ({source}), got {got}")
        return raw, media_type, got

    def blob_small(self, digest: str, what: str, size: int = 0) -> bytes:
        if size > MAX_JSON_BYTES:
            raise ImageError(f"{self.ref.raw}: the {what} is larger than {MAX_JSON_BYTES} bytes")
        raw = self._read_small(self._send(self.http, self._url("blobs", digest), what), what)
        got = _digest_of(raw, digest)
        if got != digest:
            raise ImageError(f"{self.ref.raw}: {what} digest mismatch: expected {digest}, got {got}")
        return raw

    def open_blob(self, digest: str) -> IO[bytes]:
        """A streamed, digest-checked layer blob on its own connection (safe from any thread)."""
        http = self._client()
        try:
            resp = self._send(http, self._url("blobs", digest), f"blob {digest}")
        except BaseException:
            http.close()
            raise
        return VerifyingReader(_ResponseStream(http, resp), digest)  # type: ignore[arg-type,return-value]


def _digest_of(raw: bytes, like: str) -> str:
    algo = "sha512" if like.startswith("sha512:") else "sha256"
    return f"{algo}:{hashlib.new(algo, raw).hexdigest()}"


def _kind(media_type: str, doc: dict[str, Any]) -> str:
    """"index", "manifest", or an ImageError for schema 1 and anything else."""
    mt = media_type if media_type and media_type not in ("application/json", "text/plain") else ""
    mt = mt or str(doc.get("mediaType") or "")
    if mt in SCHEMA1 or doc.get("schemaVersion") == 1:
        raise ImageError("Docker schema 1 manifests are not supported (deprecated format); "
                         "push the image again with a current client")
    if mt in (OCI_INDEX, DOCKER_LIST) or (not mt and isinstance(doc.get("manifests"), list)):
        return "index"
    if mt in (OCI_MANIFEST, DOCKER_MANIFEST) or (not mt and isinstance(doc.get("layers"), list)):
        return "manifest"
    raise ImageError(f"unsupported manifest media type {mt or '(none)'}")


def _obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _platform_of(desc: dict[str, Any]) -> str:
    p = _obj(desc.get("platform"))
    parts = [str(p.get("os", "")), str(p.get("architecture", ""))] + ([str(p["variant"])] if p.get("variant") else [])
    return "/".join(parts)


def pick_platform(index: dict[str, Any], platform: str) -> dict[str, Any]:
    """The descriptor for ``os/arch[/variant]`` (variant optional unless given)."""
    want = platform or DEFAULT_PLATFORM
    w_os, _, rest = want.partition("/")
    w_arch, _, w_var = rest.partition("/")
    descs = [d for d in _list(index.get("manifests")) if isinstance(d, dict) and isinstance(d.get("digest"), str)]
    for d in descs:
        p = _obj(d.get("platform"))
        if p.get("os") == w_os and p.get("architecture") == w_arch and (not w_var or p.get("variant") == w_var):
            return d
    available = sorted({pl for d in descs if (pl := _platform_of(d)) and "unknown" not in pl})
    raise ImageError(f"the image index has no manifest for platform {want}; available: "
                     f"{', '.join(available) or 'none'}")


def _check_digest(digest: object, what: str) -> str:
    if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
        raise ImageError(f"{what} has an invalid or unsupported digest {digest!r}")
    return digest


def open_registry_image(ref: str | Reference, platform: str = "", *, insecure: bool | None = None,
                        credentials: Credentials | None = None, timeout: float = 60.0) -> Image:
    """Resolve the reference to one platform's manifest and config; layers stream on demand."""
    parsed = parse_reference(ref) if isinstance(ref, str) else ref
    if parsed is None:
        raise ImageError(f"{ref}: not a registry reference (host[:port]/repo[:tag][@sha256:...])")
    client = RegistryClient(parsed, insecure=insecure, credentials=credentials, timeout=timeout)
    try:
        return _resolve(client, parsed, platform)
    except ImageError as exc:
        if str(exc).startswith(parsed.raw):
            raise
        raise ImageError(f"{parsed.raw}: {exc}") from None
    finally:
        client.close()  # the manifest connection; each layer opens its own


def _resolve(client: RegistryClient, ref: Reference, platform: str) -> Image:
    raw, media_type, digest = client.manifest(ref.manifest_ref, ref.digest)
    for _depth in range(3):
        doc = _json(raw, "manifest")
        if not isinstance(doc, dict):
            raise ImageError("the manifest is not a JSON object")
        if _kind(media_type, doc) == "manifest":
            break
        child = _check_digest(pick_platform(doc, platform).get("digest"), "the index entry")
        raw, media_type, digest = client.manifest(child, child)
    else:
        raise ImageError("image indexes nest too deeply")
    cfg_desc = _obj(doc.get("config"))
    cfg_digest = _check_digest(cfg_desc.get("digest"), "the manifest's config")
    config = _json(client.blob_small(cfg_digest, "image config", _int(cfg_desc.get("size"))), "image config")
    if not isinstance(config, dict):
        raise ImageError("the image config is not a JSON object")
    layers_desc = [d for d in _list(doc.get("layers")) if isinstance(d, dict)]
    diff_ids = _diff_ids(config)
    created = _history(config, len(layers_desc))
    layers: list[LayerRef] = []
    for i, d in enumerate(layers_desc):
        ld = _check_digest(d.get("digest"), f"layer {i}")
        layers.append(LayerRef(digest=ld, diff_id=diff_ids[i] if i < len(diff_ids) else "",
                               media_type=str(d.get("mediaType") or _GZIP_MEDIA), size=_int(d.get("size")),
                               created_by=created[i], open=_opener(client, ld)))
    return Image(reference=ref.raw, config=config, layers=layers, manifest_digest=digest)


def _opener(client: RegistryClient, digest: str) -> Callable[[], IO[bytes]]:
    return lambda: client.open_blob(digest)
