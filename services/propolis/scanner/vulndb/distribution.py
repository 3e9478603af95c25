"""The built index as an OCI artifact, so a registry (and an air-gapped mirror of it) distributes it like an image.

One manifest, one config, one layer:

- ``config`` (:data:`CONFIG_MEDIA_TYPE`, also the manifest's ``artifactType``): the index's
  :meth:`VulnDB.info` as JSON (schema version, build time, counts, sources) plus the digest and size
  of the uncompressed SQLite file. A puller reads it before downloading the layer, so it refuses a
  schema version it cannot read without fetching the data.
- the layer (:data:`LAYER_MEDIA_TYPE`): the SQLite file compressed with zstd.
- annotations: ``org.opencontainers.image.created`` (the build time) and ``...title``.

Transport and authentication are oras-py's (:class:`oras.provider.Registry`), with three
adjustments made here because of how oras-py 0.2 behaves:

- Its ``do_request`` retries every failure, refused credentials included, sleeping 2 + 3**n
  seconds (over two minutes in all); a command line must fail in seconds, so the undecorated
  function is used, and requests get timeouts (requests has none by default).
- Its default token backend takes a ``Basic`` challenge's realm for a token server URL. A GET of
  ``/v2/`` (the distribution spec's version check) tells which scheme the registry wants, and
  the matching oras backend is picked; Basic credentials are checked there for a clear message.
- It caches one bearer token whatever its scope, so the pull-scoped token got for a blob HEAD
  would be replayed on the push; a 401 with a token in hand fetches a new one once.

oras-py does not verify what it downloads; pulling checks the manifest, config and layer
digests and the uncompressed file's digest here. A pull writes next to the target and renames
over it only once the file opens as an index: a failed pull leaves the existing index as it was.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import oras.auth
import oras.defaults
import oras.provider
import requests
import requests.adapters
import zstandard

from propolis.scanner.adapters.registry import (
    ACCEPT,
    DOCKER_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    Credentials,
    Reference,
    find_credentials,
    is_loopback,
    parse_challenge,
    parse_reference,
)
from propolis.scanner.vulndb.store import SCHEMA_VERSION, DbInfo, VulnDB, VulnDBError

CONFIG_MEDIA_TYPE = "application/vnd.propolis.vulndb.config.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.propolis.vulndb.layer.v1.sqlite+zstd"
ARTIFACT_TYPE = CONFIG_MEDIA_TYPE
TITLE = "vulndb.sqlite"
#: zstd level for pushing: pushed once, pulled by every site, so size matters more than seconds.
DEFAULT_LEVEL = 19
_MAX_JSON = 4 * 1024 * 1024
_CHUNK = 1 << 20

# oras-py logs through the standard logging module; its messages would bypass our one-line errors.
logging.getLogger("oras").addHandler(logging.NullHandler())


class DistributionError(Exception):
    """Pushing or pulling failed; the message is one line and names the reference."""


@dataclass(frozen=True)
class PushResult:
    reference: str
    digest: str  # the manifest's
    size: int  # the SQLite file's
    compressed_size: int


@dataclass(frozen=True)
class PullResult:
    reference: str
    digest: str  # the manifest's
    info: DbInfo
    compressed_size: int


# ---------------------------------------------------------------- oras client
class _TimeoutAdapter(requests.adapters.HTTPAdapter):
    """Default timeouts for every request oras-py sends (it passes none)."""

    def __init__(self, timeout: tuple[float, float]) -> None:
        super().__init__()
        self._timeout = timeout

    def send(self, request: requests.PreparedRequest, **kw: Any) -> requests.Response:  # type: ignore[override]
        if kw.get("timeout") is None:
            kw["timeout"] = self._timeout
        return super().send(request, **kw)


_unretried = oras.provider.Registry.do_request.__wrapped__  # type: ignore[attr-defined]


class _Oras(oras.provider.Registry):
    """oras-py's client without the sleeping retries, renewing a bearer token whose scope is too narrow."""

    def do_request(self, url: str, method: str = "GET", data: Any = None, headers: dict[str, str] | None = None,
                   json: dict[str, Any] | None = None, stream: bool = False) -> requests.Response:
        resp: requests.Response = _unretried(self, url, method, data, dict(headers or {}), json, stream)
        if resp.status_code == 401 and isinstance(self.auth, oras.auth.TokenAuth) and self.auth.token:
            resp.close()
            self.auth.token = None  # the next challenge names the scope this request needs
            resp = _unretried(self, url, method, data, dict(headers or {}), json, stream)
        return resp


class _Session:
    """One repository on one registry through oras-py, with the scheme, credentials and errors decided here."""

    def __init__(self, ref: Reference, *, credentials: Credentials | None, insecure: bool | None,
                 timeout: float) -> None:
        self.ref = ref
        if insecure is None:
            insecure = os.environ.get("PROPOLIS_REGISTRY_INSECURE", "") in ("1", "true", "yes")
        plain = insecure or is_loopback(ref.hostname)
        self.base = f"{'http' if plain else 'https'}://{ref.api_host}"
        self.credentials = credentials if credentials is not None else find_credentials(ref.host)
        self.timeout = timeout
        backend = self._probe()
        self.oras = _Oras(hostname=ref.api_host, insecure=plain, auth_backend=backend)
        adapter = _TimeoutAdapter((min(timeout, 15.0), timeout))
        self.oras.session.mount("http://", adapter)
        self.oras.session.mount("https://", adapter)
        if backend == "basic":
            assert self.credentials is not None
            self.oras.auth.set_basic_auth(self.credentials.username, self.credentials.password)
            # Sent up front: otherwise every request, blob uploads included, is sent twice (401, then again).
            self.oras.session.headers.update(self.oras.auth.get_auth_header())
        elif self.credentials is not None:
            self.oras.auth.set_basic_auth(self.credentials.username, self.credentials.password)
        self.container = self.oras.get_container(f"{ref.api_host}/{ref.repository}:{ref.tag or 'latest'}")

    def close(self) -> None:
        self.oras.session.close()

    # -- helpers ------------------------------------------------------------------------------
    def error(self, message: str) -> DistributionError:
        return DistributionError(f"{self.ref.raw}: {message}")

    def _who(self) -> str:
        c = self.credentials
        return f"credentials for {c.username} from {c.source}" if c else "no credentials"

    def _probe(self) -> str:
        """Which oras auth backend fits: the registry's answer to ``GET /v2/`` names its scheme."""
        url = f"{self.base}/v2/"
        host = self.ref.api_host
        try:
            with httpx.Client(timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 15.0))) as http:
                resp = http.get(url)
                scheme, _ = parse_challenge(resp.headers.get("WWW-Authenticate", "")) \
                    if resp.status_code == 401 else ("", {})
                if scheme == "basic":
                    if self.credentials is None:
                        raise self.error(f"registry {host} requires basic auth and no credentials were found "
                                         "(set PROPOLIS_REGISTRY_USERNAME/PASSWORD or log in with docker)")
                    c = self.credentials
                    if http.get(url, auth=(c.username, c.password)).status_code in (401, 403):
                        raise self.error(f"registry {host} denied access (401 Unauthorized; tried basic auth with "
                                         f"{self._who()})")
                    return "basic"
        except httpx.ConnectError as exc:
            raise self.error(f"cannot connect to registry {host} ({_why(exc)})") from None
        except httpx.TimeoutException:
            raise self.error(f"registry {host} timed out") from None
        except httpx.HTTPError as exc:
            raise self.error(f"registry {host} failed: {_why(exc)}") from None
        if resp.status_code == 200 or scheme == "bearer":
            return "token"
        raise self.error(f"{url} answered HTTP {resp.status_code}: not an OCI distribution registry")

    @contextmanager
    def call(self, what: str) -> Iterator[None]:
        """Turn what oras-py and requests raise into one-line errors."""
        try:
            yield
        except DistributionError:
            raise
        except requests.ConnectionError as exc:
            raise self.error(f"cannot connect to registry {self.ref.api_host} while {what} ({_why(exc)})") from None
        except requests.Timeout:
            raise self.error(f"registry {self.ref.api_host} timed out while {what}") from None
        except requests.RequestException as exc:
            raise self.error(f"{what} failed: {_why(exc)}") from None
        except ValueError as exc:  # oras-py's errors, e.g. a token server that refused the credentials
            text = _why(exc)
            if text.startswith("Cannot respond to request for authentication"):
                raise self.error(f"registry {self.ref.api_host} denied access while {what} (the token server "
                                 f"refused; tried {self._who()})") from None
            if "UNAUTHORIZED" in text or "DENIED" in text:  # oras-py's upload steps fold the registry's answer in
                raise self.error(f"registry {self.ref.api_host} denied access while {what} (tried {self._who()})"
                                 ) from None
            raise self.error(f"{what} failed: {text}") from None

    def check(self, resp: requests.Response, what: str, ok: tuple[int, ...] = (200, 201, 202)) -> requests.Response:
        if resp.status_code in ok:
            return resp
        code = resp.status_code
        detail = ""
        try:
            errors = json.loads(resp.content[:65536]).get("errors") or []
            if errors and isinstance(errors[0], dict):
                detail = f" ({errors[0].get('code', '')}: {errors[0].get('message', '')})"
        except (ValueError, AttributeError, requests.RequestException):
            pass
        finally:
            resp.close()
        if code in (401, 403):
            raise self.error(f"registry {self.ref.api_host} denied access while {what} (HTTP {code}; tried "
                             f"{self._who()}){detail}")
        if code == 404:
            raise self.error(f"{what}: unknown to registry {self.ref.api_host}{detail}")
        raise self.error(f"registry {self.ref.api_host} answered HTTP {code} while {what}{detail}")

    def url(self, kind: str, ref: str) -> str:
        return f"{self.oras.prefix}://{self.ref.api_host}/v2/{self.ref.repository}/{kind}/{ref}"


def _why(exc: BaseException) -> str:
    return " ".join((str(exc) or type(exc).__name__).split())


def _session(raw: str, credentials: Credentials | None, insecure: bool | None, timeout: float) -> _Session:
    ref = parse_reference(raw)
    if ref is None:
        raise DistributionError(f"{raw}: not a registry reference (host[:port]/repo[:tag][@sha256:...])")
    return _Session(ref, credentials=credentials, insecure=insecure, timeout=timeout)


def _sha256_file(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return f"sha256:{h.hexdigest()}", size


# ---------------------------------------------------------------- push
def config_document(info: DbInfo, digest: str, size: int) -> dict[str, Any]:
    """What a puller learns before downloading: the index's metadata (its local path left out) and the
    uncompressed file's digest and size."""
    doc = info.to_json()
    doc.pop("path", None)
    doc["database"] = {"digest": digest, "size": size, "compression": "zstd"}
    return doc


def push(db_path: Path, reference: str, *, credentials: Credentials | None = None, insecure: bool | None = None,
         level: int = DEFAULT_LEVEL, timeout: float = 60.0) -> PushResult:
    """Push the index at ``db_path`` to ``reference`` (host/repo:tag); returns the manifest digest."""
    ref = parse_reference(reference)
    if ref is None:
        raise DistributionError(f"{reference}: not a registry reference (host[:port]/repo[:tag])")
    if ref.digest:
        raise DistributionError(f"{reference}: push to a tag, not a digest (the digest is the result)")
    try:
        with VulnDB(db_path) as vdb:
            info = vdb.info()
    except VulnDBError as exc:
        raise DistributionError(str(exc)) from None
    session = _session(reference, credentials, insecure, timeout)
    try:
        with tempfile.TemporaryDirectory(prefix="propolis-vulndb-push-") as tmp:
            layer_path, config_path = Path(tmp) / f"{TITLE}.zst", Path(tmp) / "config.json"
            raw_digest, raw_size = _sha256_file(db_path)
            with db_path.open("rb") as src, layer_path.open("wb") as dst:
                zstandard.ZstdCompressor(level=level, write_checksum=True, threads=-1).copy_stream(
                    src, dst, size=raw_size)
            layer_digest, layer_size = _sha256_file(layer_path)
            config_path.write_bytes(json.dumps(config_document(info, raw_digest, raw_size), sort_keys=True,
                                               separators=(",", ":")).encode())
            config_digest, config_size = _sha256_file(config_path)
            config = {"mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest, "size": config_size}
            layer = {"mediaType": LAYER_MEDIA_TYPE, "digest": layer_digest, "size": layer_size,
                     "annotations": {oras.defaults.annotation_title: TITLE}}
            manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": ARTIFACT_TYPE,
                        "config": config, "layers": [layer],
                        "annotations": {"org.opencontainers.image.created": info.built_at,
                                        "org.opencontainers.image.title": "Propolis vulnerability database",
                                        "org.opencontainers.image.description":
                                            f"{info.advisories} advisories, {info.affected} affected entries, "
                                            f"schema {info.schema_version}"}}
            c = session.oras
            with session.call("uploading the config"):
                session.check(c.upload_blob(str(config_path), session.container, config), "uploading the config")
            with session.call("uploading the database"):
                chunked = layer_size > oras.defaults.default_chunksize  # monolithic PUT reads the file whole
                session.check(c.upload_blob(str(layer_path), session.container, layer, do_chunked=chunked),
                              "uploading the database")
            with session.call("uploading the manifest"):
                resp = session.check(c.upload_manifest(manifest, session.container), "uploading the manifest")
            sent = hashlib.sha256(resp.request.body if isinstance(resp.request.body, bytes)
                                  else str(resp.request.body or "").encode()).hexdigest()
            digest = resp.headers.get("Docker-Content-Digest") or f"sha256:{sent}"
            if digest != f"sha256:{sent}":
                raise session.error(f"the registry reports manifest digest {digest}, but sha256:{sent} was sent")
            return PushResult(reference=reference, digest=digest, size=raw_size, compressed_size=layer_size)
    finally:
        session.close()


# ---------------------------------------------------------------- pull
def _read_small(session: _Session, resp: requests.Response, what: str) -> bytes:
    with session.call(f"reading the {what}"):
        buf = bytearray()
        try:
            for chunk in resp.iter_content(_CHUNK):
                buf += chunk
                if len(buf) > _MAX_JSON:
                    raise session.error(f"the {what} is larger than {_MAX_JSON} bytes")
        finally:
            resp.close()
        return bytes(buf)


def _digest_check(session: _Session, data: bytes, want: str, what: str) -> None:
    if not want.startswith("sha256:"):
        raise session.error(f"the {what} has an unsupported digest {want!r} (sha256 expected)")
    got = f"sha256:{hashlib.sha256(data).hexdigest()}"
    if got != want:
        raise session.error(f"{what} digest mismatch: expected {want}, got {got}")


def _manifest(session: _Session) -> tuple[dict[str, Any], str]:
    ref = session.ref
    what = f"fetching manifest {ref.manifest_ref}"
    with session.call(what):
        resp = session.check(session.oras.do_request(session.url("manifests", ref.manifest_ref), "GET",
                                                     headers={"Accept": ACCEPT}, stream=True), what)
    header = resp.headers.get("Docker-Content-Digest", "")
    media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
    raw = _read_small(session, resp, "manifest")
    want = ref.digest or header
    if want:
        _digest_check(session, raw, want, "manifest")
    digest = want or f"sha256:{hashlib.sha256(raw).hexdigest()}"
    try:
        doc = json.loads(raw)
    except ValueError:
        raise session.error("the manifest is not JSON") from None
    if not isinstance(doc, dict):
        raise session.error("the manifest is not a JSON object")
    kind = doc.get("mediaType") or media_type
    if kind in (OCI_INDEX, DOCKER_LIST) or isinstance(doc.get("manifests"), list):
        raise session.error("this is an image index (a multi-platform image), not a Propolis vulnerability "
                            "database")
    raw_config = doc.get("config")
    config: dict[str, Any] = raw_config if isinstance(raw_config, dict) else {}
    if config.get("mediaType") != CONFIG_MEDIA_TYPE and doc.get("artifactType") != ARTIFACT_TYPE:
        found = doc.get("artifactType") or config.get("mediaType") or "none"
        raise session.error(f"not a Propolis vulnerability database (artifact type {found}; expected "
                            f"{ARTIFACT_TYPE}): is it a container image?")
    return doc, digest


def _check_schema(session: _Session, config: dict[str, Any]) -> None:
    version = config.get("schema_version")
    if not isinstance(version, int):
        raise session.error("the database config has no schema version")
    if version > SCHEMA_VERSION:
        raise session.error(f"the database has schema version {version}, newer than this Propolis reads "
                            f"({SCHEMA_VERSION}): upgrade Propolis, or pull a database built by this version")
    if version < SCHEMA_VERSION:
        raise session.error(f"the database has schema version {version}, older than this Propolis reads "
                            f"({SCHEMA_VERSION}): push a database built by this version")


def _descriptor(session: _Session, desc: object, what: str) -> tuple[str, int]:
    if not isinstance(desc, dict):
        raise session.error(f"the {what} descriptor is missing")
    digest, size = desc.get("digest"), desc.get("size")
    if not isinstance(digest, str) or not isinstance(size, int) or size < 0:
        raise session.error(f"the {what} descriptor has no valid digest and size")
    return digest, size


def pull(reference: str, db_path: Path, *, credentials: Credentials | None = None, insecure: bool | None = None,
         timeout: float = 60.0) -> PullResult:
    """Download the index at ``reference``, verify it, and replace ``db_path`` with it atomically."""
    db_path = Path(db_path)
    session = _session(reference, credentials, insecure, timeout)
    try:
        manifest, digest = _manifest(session)
        cfg_digest, cfg_size = _descriptor(session, manifest.get("config"), "manifest's config")
        if cfg_size > _MAX_JSON:
            raise session.error(f"the database config is larger than {_MAX_JSON} bytes")
        with session.call("fetching the database config"):
            resp = session.check(session.oras.get_blob(session.container, cfg_digest, stream=True),
                                 "fetching the database config")
        raw = _read_small(session, resp, "database config")
        _digest_check(session, raw, cfg_digest, "database config")
        try:
            config = json.loads(raw)
        except ValueError:
            raise session.error("the database config is not JSON") from None
        if not isinstance(config, dict):
            raise session.error("the database config is not a JSON object")
        _check_schema(session, config)
        database = config.get("database")
        want_raw, want_raw_size = _descriptor(session, database, "config's database")
        layers = [d for d in manifest.get("layers") or [] if isinstance(d, dict)]
        if len(layers) != 1 or layers[0].get("mediaType") != LAYER_MEDIA_TYPE:
            found = ", ".join(str(d.get("mediaType")) for d in layers) or "none"
            raise session.error(f"expected one {LAYER_MEDIA_TYPE} layer, found: {found}")
        layer_digest, layer_size = _descriptor(session, layers[0], "manifest's layer")
        if not layer_digest.startswith("sha256:"):
            raise session.error(f"the layer has an unsupported digest {layer_digest!r} (sha256 expected)")
        db_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{db_path.name}.pull-", suffix=".tmp", dir=db_path.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                _download(session, layer_digest, layer_size, want_raw, want_raw_size, out)
                out.flush()
                os.fsync(out.fileno())
            try:
                with VulnDB(tmp) as vdb:
                    got = vdb.info()
            except VulnDBError as exc:
                raise session.error(f"the downloaded database does not open: {exc}") from None
            if (got.advisories, got.affected) != (config.get("advisories"), config.get("affected")):
                raise session.error(f"the downloaded database holds {got.advisories} advisories and {got.affected} "
                                    f"affected entries, its config says {config.get('advisories')} and "
                                    f"{config.get('affected')}")
            os.chmod(tmp, 0o644)
            os.replace(tmp, db_path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        with VulnDB(db_path) as vdb:
            return PullResult(reference=reference, digest=digest, info=vdb.info(), compressed_size=layer_size)
    finally:
        session.close()


def _download(session: _Session, digest: str, size: int, raw_digest: str, raw_size: int, out: Any) -> None:
    """Stream the layer into ``out`` decompressed, checking the compressed and uncompressed digests and sizes.

    The decompressed output is capped at the size the (verified) config declares, so a hostile layer
    cannot fill the disk; on a zstd error the rest is still hashed, so tampering is reported as such.
    """
    what = "downloading the database"
    with session.call(what):
        resp = session.check(session.oras.get_blob(session.container, digest, stream=True), what)
        packed, unpacked = hashlib.sha256(), hashlib.sha256()
        n_packed = n_unpacked = 0
        broken = ""
        dec = zstandard.ZstdDecompressor().decompressobj()
        try:
            for chunk in resp.iter_content(_CHUNK):
                packed.update(chunk)
                n_packed += len(chunk)
                if n_packed > size:
                    raise session.error(f"the layer is larger than its descriptor's {size} bytes")
                if broken:
                    continue
                try:
                    data = dec.decompress(chunk)
                except zstandard.ZstdError as exc:
                    broken = _why(exc)
                    continue
                n_unpacked += len(data)
                if n_unpacked > raw_size:
                    broken = f"decompresses to more than the {raw_size} bytes its config declares"
                    continue
                unpacked.update(data)
                out.write(data)
        finally:
            resp.close()
    got = f"sha256:{packed.hexdigest()}"
    if got != digest or n_packed != size:
        raise session.error(f"database layer digest mismatch: expected {digest} ({size} bytes), got {got} "
                            f"({n_packed} bytes)")
    if broken:
        raise session.error(f"the database layer does not decompress: {broken}")
    got_raw = f"sha256:{unpacked.hexdigest()}"
    if got_raw != raw_digest or n_unpacked != raw_size:
        raise session.error(f"the decompressed database does not match its config: expected {raw_digest} "
                            f"({raw_size} bytes), got {got_raw} ({n_unpacked} bytes)")
