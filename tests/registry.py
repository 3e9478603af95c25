"""A real registry for tests: Debian's ``docker-registry`` (CNCF distribution 2.8) on 127.0.0.1.

Each instance gets an ephemeral port and its own filesystem storage under the test's tmp_path,
so it never touches a system registry service. Three modes: ``anonymous``; ``basic`` (htpasswd
with bcrypt hashes); ``token`` (the registry trusts a small token server run in a thread here,
which implements the Docker token protocol and signs RS256 JWTs with pyjwt).

The token carries its certificate in the ``x5c`` header: distribution verifies that chain
against ``rootcertbundle`` in every version, while the meaning of ``kid`` changed (a libtrust
fingerprint in 2.x, an RFC 7638 thumbprint in 3.x).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.scanner.oci_blobs import BuiltImage

REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"
SERVICE = "propolis-test-registry"
ISSUER = "propolis-test-issuer"


def require_registry() -> str:
    """The registry binary; skips (fails under CI=true) when it is not installed."""
    if Path(REGISTRY_BIN).is_file() and os.access(REGISTRY_BIN, os.X_OK):
        return REGISTRY_BIN
    reason = f"{REGISTRY_BIN} is not installed (apt-get install docker-registry, or `make system-deps` as root)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true requires it")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- token server
class TokenServer:
    """The Docker token protocol: GET realm?service=&scope=… with optional Basic auth → a JWT."""

    def __init__(self, users: dict[str, str], *, token_field: str = "token") -> None:
        self.users = users
        self.token_field = token_field
        #: (user or "", scopes) of every token request, so tests can see caching and credentials.
        self.requests: list[tuple[str, list[str]]] = []
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "propolis test token signer")])
        now = dt.datetime.now(dt.UTC)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def root_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, subject: str, access: list[dict[str, object]]) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": subject, "aud": SERVICE, "exp": now + 300, "nbf": now - 5, "iat": now,
                  "jti": uuid.uuid4().hex, "access": access}
        x5c = base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"x5c": [x5c]})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                url = urlparse(self.path)
                q = parse_qs(url.query)
                user = outer._user(self.headers.get("Authorization", ""))
                scopes = [s for v in q.get("scope", []) for s in v.split(" ") if s]
                outer.requests.append((user or "", scopes))
                if url.path != "/token" or q.get("service") != [SERVICE]:
                    return self._send(400, {"error": "unknown service"})
                if outer.users and user is None:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="propolis-test-token"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                access: list[dict[str, object]] = []
                for scope in scopes:
                    kind, _, rest = scope.partition(":")
                    name, _, actions = rest.rpartition(":")
                    access.append({"type": kind, "name": name,
                                   "actions": [a for a in actions.split(",") if a in ("pull", "push")]})
                token = outer.issue(user or "anonymous", access)
                return self._send(200, {outer.token_field: token, "expires_in": 300,
                                        "issued_at": dt.datetime.now(dt.UTC).isoformat()})

            def _send(self, status: int, doc: dict[str, object]) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def _user(self, header: str) -> str | None:
        """The authenticated user, or None for no or wrong credentials."""
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, pw = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return None
        return user if self.users.get(user) == pw else None

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class StorageServer:
    """Serves the registry's storage directory over plain HTTP, standing where S3 or a CDN would
    be when the registry's ``redirect`` storage middleware sends blob GETs elsewhere."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        #: (path, Authorization header or "") of every GET, to see what the client sent here.
        self.requests: list[tuple[str, str]] = []
        outer = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, directory=str(root), **kw)

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                outer.requests.append((self.path, self.headers.get("Authorization", "")))
                super().do_GET()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


# ---------------------------------------------------------------- registry process
@dataclass
class Registry:
    host: str
    storage: Path
    proc: subprocess.Popen[bytes]
    log: Path
    mode: str
    users: dict[str, str] = field(default_factory=dict)
    tokens: TokenServer | None = None
    storage_server: StorageServer | None = None

    def ref(self, repo: str, tag: str = "", digest: str = "") -> str:
        return f"{self.host}/{repo}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")

    def blob_data(self, digest: str) -> Path:
        """Where the registry keeps a blob's bytes (manifests included)."""
        hexd = digest.split(":", 1)[1]
        return self.storage / "docker" / "registry" / "v2" / "blobs" / "sha256" / hexd[:2] / hexd / "data"

    def push_auth(self, repo: str) -> dict[str, str]:
        """Authorization for pushing ``repo`` (the pusher is test code, not the client under test)."""
        if self.mode == "basic":
            user, pw = next(iter(self.users.items()))
            return {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}
        if self.mode == "token":
            assert self.tokens is not None
            token = self.tokens.issue("pusher", [{"type": "repository", "name": repo, "actions": ["pull", "push"]}])
            return {"Authorization": f"Bearer {token}"}
        return {}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.tokens is not None:
            self.tokens.stop()
        if self.storage_server is not None:
            self.storage_server.stop()


def _config(storage: Path, port: int, mode: str, work: Path, users: dict[str, str],
            tokens: TokenServer | None, redirect: StorageServer | None,
            notify: tuple[str, str] | None = None) -> dict[str, object]:
    cfg: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True},
                    "maintenance": {"uploadpurging": {"enabled": False}}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "propolis-test-secret"},
    }
    if notify is not None:  # (webhook URL, bearer token): distribution queues and retries with backoff
        cfg["notifications"] = {"endpoints": [{"name": "propolis", "url": notify[0], "timeout": "5s",
                                               "threshold": 3, "backoff": "200ms",
                                               "headers": {"Authorization": [f"Bearer {notify[1]}"]}}]}
    if redirect is not None:
        cfg["middleware"] = {"storage": [{"name": "redirect", "options": {"baseurl": redirect.url}}]}
    if mode == "basic":
        import bcrypt

        htpasswd = work / "htpasswd"
        htpasswd.write_text("".join(f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=4)).decode()}\n"
                                    for u, p in users.items()))
        cfg["auth"] = {"htpasswd": {"realm": "propolis-test", "path": str(htpasswd)}}
    elif mode == "token":
        assert tokens is not None
        bundle = work / "token-root.pem"
        bundle.write_bytes(tokens.root_pem())
        cfg["auth"] = {"token": {"realm": tokens.realm, "service": SERVICE, "issuer": ISSUER,
                                 "rootcertbundle": str(bundle)}}
    elif mode != "anonymous":
        raise ValueError(f"unknown registry mode {mode!r}")
    return cfg


def start_registry(work: Path, mode: str = "anonymous", *, users: dict[str, str] | None = None,
                   token_field: str = "token", redirect: bool = False, notify: tuple[str, str] | None = None,
                   port: int = 0) -> Registry:
    """Start one registry and wait until ``/v2/`` answers; the caller stops it. ``redirect``: blob
    GETs are answered with a redirect to a separate storage server. ``notify``: (URL, token) of a
    push-notification endpoint. ``port``: a fixed port (to restart a registry where it was)."""
    binary = require_registry()
    work.mkdir(parents=True, exist_ok=True)
    users = dict(users if users is not None else ({"alice": "s3cret-pw"} if mode != "anonymous" else {}))
    tokens = TokenServer(users, token_field=token_field) if mode == "token" else None
    if tokens is not None:
        tokens.start()
    storage = work / "storage"
    storage_server = StorageServer(storage) if redirect else None
    last_log = ""
    for _attempt in range(3):  # the port is free when chosen, but another process could take it first
        port = port or free_port()
        cfg_path = work / "config.yml"
        cfg_path.write_text(yaml.safe_dump(_config(storage, port, mode, work, users, tokens, storage_server,
                                                   notify)))
        log = work / "registry.log"
        with log.open("wb") as fh:
            proc = subprocess.Popen([binary, "serve", str(cfg_path)], stdout=fh, stderr=subprocess.STDOUT,
                                    env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work)})
        reg = Registry(host=f"127.0.0.1:{port}", storage=storage, proc=proc, log=log, mode=mode, users=users,
                       tokens=tokens, storage_server=storage_server)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"http://{reg.host}/v2/", timeout=1).status_code in (200, 401):
                    return reg
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        last_log = log.read_text(errors="replace")[-2000:]
        reg.tokens = reg.storage_server = None
        reg.stop()
    if tokens is not None:
        tokens.stop()
    if storage_server is not None:
        storage_server.stop()
    raise RuntimeError(f"docker-registry did not become ready; its log ends with:\n{last_log}")


@contextlib.contextmanager
def registries(work: Path) -> Iterator[Callable[..., Registry]]:
    """A factory of registries under ``work``, all stopped on exit."""
    started: list[Registry] = []

    def start(mode: str = "anonymous", **kw: object) -> Registry:
        reg = start_registry(work / f"registry-{len(started)}", mode, **kw)  # type: ignore[arg-type]
        started.append(reg)
        return reg

    try:
        yield start
    finally:
        for reg in started:
            reg.stop()


# ---------------------------------------------------------------- pushing
def _check(resp: httpx.Response, want: int, what: str) -> httpx.Response:
    if resp.status_code != want:
        raise AssertionError(f"{what}: HTTP {resp.status_code}: {resp.text[:500]}")
    return resp


def push_blob(client: httpx.Client, repo: str, digest: str, data: bytes) -> None:
    """Monolithic upload: POST opens the upload, one PUT with ``?digest=`` completes it."""
    if client.head(f"/v2/{repo}/blobs/{digest}").status_code == 200:
        return
    loc = _check(client.post(f"/v2/{repo}/blobs/uploads/"), 202, f"start upload of {digest}").headers["Location"]
    sep = "&" if "?" in loc else "?"
    _check(client.put(f"{loc}{sep}digest={digest}", content=data,
                      headers={"Content-Type": "application/octet-stream"}), 201, f"upload {digest}")


def push_manifest(client: httpx.Client, repo: str, ref: str, body: bytes, media_type: str) -> str:
    resp = _check(client.put(f"/v2/{repo}/manifests/{ref}", content=body, headers={"Content-Type": media_type}),
                  201, f"put manifest {repo}:{ref}")
    return resp.headers["Docker-Content-Digest"]


def push_image(reg: Registry, repo: str, tag: str, image: BuiltImage) -> str:
    """Push blobs then the manifest; returns the manifest digest the registry reports."""
    with httpx.Client(base_url=f"http://{reg.host}", headers=reg.push_auth(repo), timeout=30) as c:
        for digest, data in image.blobs.items():
            push_blob(c, repo, digest, data)
        return push_manifest(c, repo, tag, image.manifest, image.media_type)


def push_index(reg: Registry, repo: str, tag: str, images: list[BuiltImage], index: tuple[bytes, str]) -> str:
    """Push every platform's image by digest, then the index under ``tag``."""
    with httpx.Client(base_url=f"http://{reg.host}", headers=reg.push_auth(repo), timeout=30) as c:
        for image in images:
            for digest, data in image.blobs.items():
                push_blob(c, repo, digest, data)
            push_manifest(c, repo, image.digest, image.manifest, image.media_type)
        return push_manifest(c, repo, tag, index[0], index[1])
