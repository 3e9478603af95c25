"""Pulling images through the OCI Distribution API from a real registry (distribution 2.8):
anonymous, Basic and bearer-token auth, multi-arch indexes, by-digest references, digest
checks on what the registry serves, clear errors, and ``propolis sbom`` end to end."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from propolis.scanner.adapters.registry import (
    Credentials,
    RegistryClient,
    _kind,
    find_credentials,
    open_registry_image,
    parse_challenge,
    parse_reference,
)
from propolis.scanner.adapters.sources import open_image
from propolis.scanner.catalogue import Catalogue, catalogue_image
from propolis.scanner.domain.image import ImageError
from tests.conftest import propolis_cli
from tests.registry import Registry, free_port, push_image, push_index, registries
from tests.scanner.images import write_oci_layout
from tests.scanner.oci_blobs import BuiltImage, build_image, build_index

SITE = "usr/local/lib/python3.11/site-packages"
STANZA = "Package: {name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: {version}\n\n"
BASE_DEBS = [("base-files", "12.4+deb12u5"), ("libc6", "2.36-9+deb12u4")]
ALICE = Credentials("alice", "s3cret-pw", "the test")


def _status(pkgs: list[tuple[str, str]]) -> bytes:
    return "".join(STANZA.format(name=n, version=v) for n, v in pkgs).encode()


def _metadata(name: str, version: str) -> bytes:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n".encode()


def _debian_layers() -> list[dict[str, object]]:
    """Base OS, a Python package, then an apt-get install that rewrites the dpkg status."""
    return [
        {"usr/lib/os-release": b'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
         "var/lib/dpkg/status": _status(BASE_DEBS)},
        {f"{SITE}/requests-2.19.1.dist-info/METADATA": _metadata("requests", "2.19.1")},
        {"var/lib/dpkg/status": _status([*BASE_DEBS, ("curl", "7.88.1-10+deb12u5")])},
    ]


def _alpine_layers() -> list[dict[str, object]]:
    return [{"usr/lib/os-release": b'ID=alpine\nVERSION_ID=3.20.0\n',
             f"{SITE}/flask-3.0.3.dist-info/METADATA": _metadata("flask", "3.0.3")}]


def _nv(cat: Catalogue, ecosystem: str) -> set[tuple[str, str]]:
    return {(p.name, p.version) for p in cat.packages if p.ecosystem == ecosystem}


def _check_debian(cat: Catalogue, image: BuiltImage) -> None:
    """Packages, OS and the layer each package came from, as built."""
    assert not cat.partial, cat.issues
    assert cat.os is not None and (cat.os.id, cat.os.version_id) == ("debian", "12")
    assert _nv(cat, "deb") == {*BASE_DEBS, ("curl", "7.88.1-10+deb12u5")}
    assert _nv(cat, "pypi") == {("requests", "2.19.1")}
    layer_of = {p.name: p.locations[0] for p in cat.packages}
    assert layer_of["libc6"].layer_digest == image.layer_digests[0]
    assert layer_of["libc6"].diff_id == image.diff_ids[0] and layer_of["libc6"].created_by == "RUN step 0"
    assert layer_of["requests"].layer_digest == image.layer_digests[1]
    assert layer_of["curl"].layer_digest == image.layer_digests[2] and layer_of["curl"].created_by == "RUN step 2"
    assert [layer.digest for layer in cat.layers] == image.layer_digests


Start = Callable[..., Registry]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """Start registries (anonymous/basic/token) for this test; all are stopped afterwards."""
    with registries(tmp_path) as factory:
        yield factory


@pytest.fixture
def anon(start: Start) -> Registry:
    return start("anonymous")


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The developer's own ~/.docker/config.json or env must not change what the tests see."""
    for var in ("PROPOLIS_REGISTRY_USERNAME", "PROPOLIS_REGISTRY_PASSWORD", "PROPOLIS_REGISTRY_INSECURE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))


# ---------------------------------------------------------------- pulling
@pytest.mark.parametrize("docker", [False, True], ids=["oci", "docker-v2"])
def test_anonymous_pull_is_catalogued_with_layer_attribution(anon: Registry, docker: bool) -> None:
    image = build_image(_debian_layers(), docker=docker)
    pushed = push_image(anon, "team/app", "1.0", image)
    ref = anon.ref("team/app", "1.0")
    img = open_image(ref)  # the command line's path: not a local file, so the registry
    assert img.reference == ref and img.manifest_digest == pushed == image.digest
    assert [layer.media_type for layer in img.layers][0].endswith("gzip")
    cat = catalogue_image(img)
    _check_debian(cat, image)
    assert cat.reference == ref and cat.manifest_digest == image.digest


def test_zstd_and_uncompressed_layers_stream_from_the_registry(anon: Registry) -> None:
    for compression in ("zstd", "none"):
        image = build_image(_debian_layers(), compression=compression)
        push_image(anon, "team/app", compression, image)
        _check_debian(catalogue_image(open_registry_image(anon.ref("team/app", compression))), image)


def test_by_digest_references(anon: Registry) -> None:
    image = build_image(_debian_layers())
    digest = push_image(anon, "team/app", "1.0", image)
    for ref in (anon.ref("team/app", digest=digest), anon.ref("team/app", "not-this-tag", digest)):
        img = open_registry_image(ref)
        assert img.reference == ref and img.manifest_digest == digest  # the digest wins over the tag
        _check_debian(catalogue_image(img), image)
    missing = "sha256:" + "0" * 64
    with pytest.raises(ImageError, match=r"manifest sha256:0{64} unknown to registry .*MANIFEST_UNKNOWN"):
        open_registry_image(anon.ref("team/app", digest=missing))


@pytest.mark.parametrize("docker", [False, True], ids=["oci-index", "docker-manifest-list"])
def test_multi_arch_index_picks_the_platform(anon: Registry, docker: bool) -> None:
    amd = build_image(_debian_layers(), docker=docker)
    arm = build_image(_alpine_layers(), docker=docker, arch="arm64", variant="v8")
    index = build_index([amd, arm], docker=docker)
    push_index(anon, "team/multi", "2.0", [amd, arm], index)
    ref = anon.ref("team/multi", "2.0")

    default = open_registry_image(ref)
    assert default.manifest_digest == amd.digest  # linux/amd64 unless asked otherwise
    _check_debian(catalogue_image(default), amd)
    for platform in ("linux/arm64", "linux/arm64/v8"):
        img = open_image(ref, platform=platform)
        assert img.manifest_digest == arm.digest
        cat = catalogue_image(img)
        assert cat.os is not None and cat.os.id == "alpine"
        assert _nv(cat, "pypi") == {("flask", "3.0.3")} and not _nv(cat, "deb")
    with pytest.raises(ImageError, match=r"no manifest for platform linux/s390x; available: linux/amd64, "
                                         r"linux/arm64/v8$"):
        open_registry_image(ref, platform="linux/s390x")
    with pytest.raises(ImageError, match="no manifest for platform linux/arm64/v7"):
        open_registry_image(ref, platform="linux/arm64/v7")


# ---------------------------------------------------------------- digests served wrong
def test_layer_digest_mismatch_served_by_the_registry_makes_a_partial_catalogue(anon: Registry) -> None:
    image = build_image(_debian_layers(), compression="none")
    push_image(anon, "team/app", "1.0", image)
    data = anon.blob_data(image.layer_digests[2])
    blob = bytearray(data.read_bytes())
    assert blob[-1] == 0  # tar end padding: flipping it keeps the tar readable, only the digest breaks
    blob[-1] = 0x55
    data.write_bytes(bytes(blob))
    cat = catalogue_image(open_registry_image(anon.ref("team/app", "1.0")))
    assert cat.partial
    mismatch = [i for i in cat.issues if "digest mismatch" in i]
    assert len(mismatch) == 1 and image.layer_digests[2] in mismatch[0] and mismatch[0].startswith("layer 2 ")
    assert cat.layers[2].partial and not cat.layers[0].partial and not cat.layers[1].partial


def test_manifest_bytes_that_do_not_match_their_digest_are_refused(anon: Registry) -> None:
    image = build_image(_debian_layers())
    digest = push_image(anon, "team/app", "1.0", image)
    data = anon.blob_data(digest)
    data.write_bytes(data.read_bytes() + b"\n")  # still valid JSON, so the registry serves it as is
    with pytest.raises(ImageError, match=rf"manifest digest mismatch: expected {digest} \(the requested digest\)"):
        open_registry_image(anon.ref("team/app", digest=digest))
    with pytest.raises(ImageError, match=rf"manifest digest mismatch: expected {digest} \(the registry's"):
        open_registry_image(anon.ref("team/app", "1.0"))


def test_config_digest_mismatch_is_refused(anon: Registry) -> None:
    image = build_image(_debian_layers())
    push_image(anon, "team/app", "1.0", image)
    cfg_digest = json.loads(image.manifest)["config"]["digest"]
    data = anon.blob_data(cfg_digest)
    data.write_bytes(data.read_bytes().replace(b'"amd64"', b'"arm64"'))
    with pytest.raises(ImageError, match=f"image config digest mismatch: expected {cfg_digest}"):
        open_registry_image(anon.ref("team/app", "1.0"))


# ---------------------------------------------------------------- auth
def test_basic_auth(start: Start, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    reg = start("basic", users={"alice": "s3cret-pw"})
    image = build_image(_debian_layers())
    push_image(reg, "private/app", "1.0", image)
    ref = reg.ref("private/app", "1.0")

    _check_debian(catalogue_image(open_registry_image(ref, credentials=ALICE)), image)

    with pytest.raises(ImageError) as exc:
        open_registry_image(ref, credentials=Credentials("alice", "wrong-pw", "the test"))
    msg = str(exc.value)
    assert "401 Unauthorized" in msg and "basic auth with credentials for alice from the test" in msg
    assert "wrong-pw" not in msg and "\n" not in msg
    with pytest.raises(ImageError, match=r"401 Unauthorized; tried anonymous \(basic auth needs credentials\)"):
        open_registry_image(ref)

    # The same credentials from a Docker config.json, then from the environment (which wins).
    cfg = tmp_path / "docker-cfg"
    cfg.mkdir()
    auth = base64.b64encode(b"alice:s3cret-pw").decode()
    (cfg / "config.json").write_text(json.dumps({"auths": {f"http://{reg.host}": {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(cfg))
    assert find_credentials(reg.host) == Credentials("alice", "s3cret-pw", str(cfg / "config.json"))
    _check_debian(catalogue_image(open_image(ref)), image)
    monkeypatch.setenv("PROPOLIS_REGISTRY_USERNAME", "alice")
    monkeypatch.setenv("PROPOLIS_REGISTRY_PASSWORD", "not-her-password")
    with pytest.raises(ImageError, match="from PROPOLIS_REGISTRY_USERNAME/PASSWORD"):
        open_image(ref)


def test_blob_redirects_to_storage_are_followed_without_leaking_credentials(start: Start) -> None:
    reg = start("basic", users={"alice": "s3cret-pw"}, redirect=True)
    image = build_image(_debian_layers())
    push_image(reg, "private/app", "1.0", image)
    _check_debian(catalogue_image(open_registry_image(reg.ref("private/app", "1.0"), credentials=ALICE)), image)
    assert reg.storage_server is not None
    served = reg.storage_server.requests
    blob_paths = {path.split("/")[-2] for path, _ in served}
    assert {d.split(":")[1] for d in image.layer_digests} <= blob_paths  # every layer came from storage
    assert all(auth == "" for _, auth in served)  # Authorization is not forwarded to another origin


@pytest.mark.parametrize("token_field", ["token", "access_token"])
def test_bearer_token_auth(start: Start, token_field: str) -> None:
    reg = start("token", users={"alice": "s3cret-pw"}, token_field=token_field)
    assert reg.tokens is not None
    image = build_image(_debian_layers())
    push_image(reg, "private/app", "1.0", image)
    ref = reg.ref("private/app", "1.0")

    _check_debian(catalogue_image(open_registry_image(ref, credentials=ALICE)), image)
    # One token for the whole pull (manifest, config, three layers on their own connections).
    assert reg.tokens.requests == [("alice", ["repository:private/app:pull"])]

    with pytest.raises(ImageError, match=r"token server http://127\.0\.0\.1:\d+/token refused access \(401; "
                                         r"tried bearer token from .* with credentials for alice"):
        open_registry_image(ref, credentials=Credentials("alice", "wrong-pw", "the test"))
    with pytest.raises(ImageError, match="refused access .*with no credentials"):
        open_registry_image(ref)


def test_a_token_the_registry_rejects_is_replaced_once(start: Start) -> None:
    """A cached token the registry no longer accepts (expired, revoked) is refetched, not fatal."""
    reg = start("token", users={})  # anonymous tokens, but only for what they ask
    image = build_image(_alpine_layers())
    push_image(reg, "open/app", "1.0", image)
    img = open_registry_image(reg.ref("open/app", "1.0"))
    assert catalogue_image(img).os.id == "alpine"  # type: ignore[union-attr]
    assert reg.tokens is not None and reg.tokens.requests[-1] == ("", ["repository:open/app:pull"])
    client = RegistryClient(parse_reference(reg.ref("open/app", "1.0")))  # type: ignore[arg-type]
    try:
        client.manifest("1.0")
        client.auth.tokens[client.auth.scope].value = reg.tokens.issue("x", [])  # a token without access
        raw, _, digest = client.manifest("1.0")  # 401 → fresh token → retried once
        assert digest == image.digest and raw == image.manifest
    finally:
        client.close()


# ---------------------------------------------------------------- errors and the command line
def test_unknown_repository_tag_and_unreachable_registries(anon: Registry) -> None:
    push_image(anon, "team/app", "1.0", build_image(_alpine_layers()))
    with pytest.raises(ImageError, match=r"manifest for tag latest unknown to registry 127\.0\.0\.1:\d+ "
                                         r"\((MANIFEST|NAME)_UNKNOWN: "):
        open_registry_image(anon.ref("nobody/here"))
    with pytest.raises(ImageError, match=r"manifest for tag 9\.9 unknown to registry .*MANIFEST_UNKNOWN"):
        open_registry_image(anon.ref("team/app", "9.9"))
    with pytest.raises(ImageError, match=r"cannot connect to registry 127\.0\.0\.1:\d+ \(.*refused"):
        open_image(f"127.0.0.1:{free_port()}/team/app:1.0")
    with pytest.raises(ImageError, match=r"cannot connect to registry registry\.invalid"):
        open_registry_image("registry.invalid/team/app:1.0", timeout=10)


def test_sbom_command_line_against_the_registry(anon: Registry) -> None:
    image = build_image(_debian_layers())
    push_image(anon, "team/app", "1.0", image)
    p = propolis_cli("sbom", anon.ref("team/app", "1.0"), "--format", "json")
    assert p.returncode == 0, p.stderr.decode()
    doc = json.loads(p.stdout)
    assert doc["reference"] == anon.ref("team/app", "1.0") and doc["manifest_digest"] == image.digest
    assert doc["os"]["id"] == "debian" and not doc["partial"]
    curl = next(pk for pk in doc["packages"] if pk["name"] == "curl")
    assert curl["locations"][0]["layer_digest"] == image.layer_digests[2]
    p = propolis_cli("sbom", anon.ref("nobody/here", "1.0"))
    err = p.stderr.decode()
    assert p.returncode == 2 and "unknown to registry" in err and err.count("\n") == 1, err


# ---------------------------------------------------------------- parsing and rules
def test_reference_parsing_and_local_path_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    d = "sha256:" + "ab" * 32
    r = parse_reference(f"reg.example:5000/a/b/c:v1.2@{d}")
    assert r is not None and (r.host, r.repository, r.tag, r.digest, r.manifest_ref) == \
        ("reg.example:5000", "a/b/c", "v1.2", d, d)
    r = parse_reference("localhost/app")
    assert r is not None and (r.repository, r.manifest_ref) == ("app", "latest")
    r = parse_reference("docker.io/alpine:3")
    assert r is not None and (r.api_host, r.repository) == ("registry-1.docker.io", "library/alpine")
    r = parse_reference("[::1]:5000/app:1")
    assert r is not None and r.hostname == "::1"
    for not_a_ref in ("app:1", "team/app:1", "./x/y", "/abs/path", "img.tar", "reg.example/App:1",
                      "reg.example/app@sha256:short", "reg.example/app:bad tag"):
        assert parse_reference(not_a_ref) is None, not_a_ref
    # A local OCI layout whose relative path looks like a reference is still read locally.
    monkeypatch.chdir(tmp_path)
    write_oci_layout(tmp_path / "reg.example:5000" / "app", [{"etc/x.conf": b"1"}], tag="v1")
    assert open_image("reg.example:5000/app:v1").reference.endswith("app:v1")
    with pytest.raises(ImageError, match="no such file or directory, and not a registry reference"):
        open_image("missing/app:v1")


def test_scheme_rule_and_challenge_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def base(ref: str, **kw: object) -> str:
        c = RegistryClient(parse_reference(ref), credentials=None, **kw)  # type: ignore[arg-type]
        c.close()
        return c.base

    assert base("localhost:5000/a") == "http://localhost:5000"
    assert base("127.1.2.3:5000/a") == "http://127.1.2.3:5000"
    assert base("[::1]:5000/a") == "http://[::1]:5000"
    assert base("reg.example/a") == "https://reg.example"
    assert base("reg.example/a", insecure=True) == "http://reg.example"
    monkeypatch.setenv("PROPOLIS_REGISTRY_INSECURE", "1")
    assert base("reg.example/a") == "http://reg.example"
    assert parse_challenge('Bearer realm="https://auth.example/token",service="reg",'
                           'scope="repository:a/b:pull,push"') == \
        ("bearer", {"realm": "https://auth.example/token", "service": "reg", "scope": "repository:a/b:pull,push"})
    assert parse_challenge('Basic realm="x \\"y\\"", charset=UTF-8') == ("basic", {"realm": 'x "y"',
                                                                                 "charset": "UTF-8"})


def test_manifest_kinds_and_schema1_refusal() -> None:
    assert _kind("application/vnd.oci.image.index.v1+json", {}) == "index"
    assert _kind("application/json", {"manifests": []}) == "index"
    assert _kind("", {"mediaType": "application/vnd.docker.distribution.manifest.v2+json"}) == "manifest"
    with pytest.raises(ImageError, match="schema 1 manifests are not supported"):
        _kind("application/vnd.docker.distribution.manifest.v1+prettyjws", {"schemaVersion": 1})
    with pytest.raises(ImageError, match="schema 1 manifests are not supported"):
        _kind("application/json", {"schemaVersion": 1, "fsLayers": []})
    with pytest.raises(ImageError, match="unsupported manifest media type application/vnd.example.thing"):
        _kind("application/vnd.example.thing", {"schemaVersion": 2})
