"""The index as an OCI artifact, pushed to and pulled from a real registry (distribution 2.8 on loopback):
anonymous, Basic and bearer-token auth; what a registry serves is verified (a tampered blob, a newer
schema, a container image are refused) and a refused pull leaves the existing index untouched."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import zstandard

from propolis.scanner.adapters.registry import Credentials
from propolis.scanner.vulndb import VulnDB, build
from propolis.scanner.vulndb.distribution import (
    ARTIFACT_TYPE,
    CONFIG_MEDIA_TYPE,
    LAYER_MEDIA_TYPE,
    DistributionError,
    pull,
    push,
)
from propolis.scanner.vulndb.importers import detect
from propolis.scanner.vulndb.store import SCHEMA_VERSION
from tests.conftest import propolis_cli
from tests.registry import Registry, free_port, push_blob, push_image, push_index, push_manifest, registries
from tests.scanner.fixtures import TESTDATA
from tests.scanner.oci_blobs import build_image, build_index

ALICE = Credentials("alice", "s3cret-pw", "the test")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _source(name: str) -> Path:
    """A real advisory source under testdata/vulndb; skips when absent, fails under CI=true."""
    p = TESTDATA / "vulndb" / name
    if not p.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"test data {p} is missing (PROPOLIS_TESTDATA={TESTDATA}) and CI=true requires it")
        pytest.skip(f"test data {p} not found; set PROPOLIS_TESTDATA to the shared testdata folder")
    return p


def _build(path: Path, source: str) -> Path:
    src = _source(source)
    importer = detect(src)
    assert importer is not None, src
    build(path, [(importer, src)])
    return path


@pytest.fixture
def npm_db(tmp_path: Path) -> Path:
    """A small real index: the OSV npm advisories."""
    return _build(tmp_path / "built" / "npm.sqlite", "osv-npm")


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    with registries(tmp_path / "registries") as factory:
        yield factory


@pytest.fixture
def anon(start: Any) -> Registry:
    return start("anonymous")  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The developer's own ~/.docker/config.json or env must not change what the tests see."""
    for var in ("PROPOLIS_REGISTRY_USERNAME", "PROPOLIS_REGISTRY_PASSWORD", "PROPOLIS_REGISTRY_INSECURE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))


def _sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _info(path: Path) -> dict[str, Any]:
    with VulnDB(path) as vdb:
        doc = vdb.info().to_json()
    doc.pop("path")
    return doc


def _lookups(path: Path) -> dict[tuple[str, str], list[Any]]:
    """Every package's raw entries, so two indexes can be compared by what a scan would see."""
    with VulnDB(path) as vdb:
        keys = vdb.connection.execute("SELECT DISTINCT ecosystem, name FROM affected ORDER BY 1, 2").fetchall()
        return {(eco, name): vdb.lookup(eco, name, include_withdrawn=True) for eco, name in keys}


def _manifest(reg: Registry, repo: str, ref: str) -> tuple[dict[str, Any], str]:
    r = httpx.get(f"http://{reg.host}/v2/{repo}/manifests/{ref}", headers={"Accept": OCI_MANIFEST,
                                                                          **reg.push_auth(repo)})
    assert r.status_code == 200, r.text
    return r.json(), r.headers["Docker-Content-Digest"]


def _blob(reg: Registry, repo: str, digest: str) -> bytes:
    r = httpx.get(f"http://{reg.host}/v2/{repo}/blobs/{digest}", headers=reg.push_auth(repo), follow_redirects=True)
    assert r.status_code == 200, r.text
    return r.content


def _untouched(existing: Path, digest: str) -> None:
    """The index a refused pull would have replaced is byte for byte as before, and no temp file is left."""
    assert _sha(existing) == digest
    assert sorted(p.name for p in existing.parent.iterdir()) == [existing.name]


# ---------------------------------------------------------------- round trip
def test_anonymous_round_trip_is_the_same_index(anon: Registry, npm_db: Path, tmp_path: Path) -> None:
    ref = anon.ref("mirror/vulndb", "2026-11-29")
    pushed = push(npm_db, ref)
    assert pushed.size == npm_db.stat().st_size
    assert pushed.compressed_size * 5 < pushed.size  # SQLite pages compress well (about 17x here)

    target = tmp_path / "site" / "vulndb.sqlite"
    pulled = pull(ref, target)
    assert pulled.digest == pushed.digest and pulled.info.path == str(target)
    assert _sha(target) == _sha(npm_db)  # the very file that was built
    assert _info(target) == _info(npm_db)
    lookups = _lookups(target)
    assert len(lookups) > 10 and lookups == _lookups(npm_db)
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)

    # By digest, into a directory that does not exist yet.
    again = pull(anon.ref("mirror/vulndb", digest=pushed.digest), tmp_path / "other" / "db.sqlite")
    assert again.digest == pushed.digest and _sha(tmp_path / "other" / "db.sqlite") == _sha(npm_db)


def test_the_artifact_follows_oci_conventions(anon: Registry, npm_db: Path) -> None:
    """What another OCI tool (a mirror, oras, crane) sees: artifact type, config, one zstd layer, annotations."""
    pushed = push(npm_db, anon.ref("mirror/vulndb", "1"))
    manifest, digest = _manifest(anon, "mirror/vulndb", "1")
    assert digest == pushed.digest
    assert manifest["mediaType"] == OCI_MANIFEST and manifest["artifactType"] == ARTIFACT_TYPE
    assert manifest["config"]["mediaType"] == CONFIG_MEDIA_TYPE
    [layer] = manifest["layers"]
    assert layer["mediaType"] == LAYER_MEDIA_TYPE and layer["size"] == pushed.compressed_size
    assert layer["annotations"]["org.opencontainers.image.title"] == "vulndb.sqlite"
    with VulnDB(npm_db) as vdb:
        info = vdb.info()
    assert manifest["annotations"]["org.opencontainers.image.created"] == info.built_at

    config = json.loads(_blob(anon, "mirror/vulndb", manifest["config"]["digest"]))
    assert config["schema_version"] == SCHEMA_VERSION and "path" not in config
    assert (config["advisories"], config["affected"], config["built_at"]) == (info.advisories, info.affected,
                                                                             info.built_at)
    assert [s["kind"] for s in config["sources"]] == [s.kind for s in info.sources]
    assert config["database"] == {"digest": _sha(npm_db), "size": npm_db.stat().st_size, "compression": "zstd"}
    data = _blob(anon, "mirror/vulndb", layer["digest"])
    assert zstandard.ZstdDecompressor().decompress(data, max_output_size=info.size_bytes) == npm_db.read_bytes()

    # Pushing the same index again uploads nothing new and gives the same digest.
    assert push(npm_db, anon.ref("mirror/vulndb", "again")).digest == pushed.digest


# ---------------------------------------------------------------- auth
def test_basic_auth(start: Any, npm_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = start("basic", users={"alice": "s3cret-pw"})
    ref = reg.ref("private/vulndb", "1")
    existing = _build(tmp_path / "site" / "vulndb.sqlite", "alpine")
    before = _sha(existing)

    with pytest.raises(DistributionError, match=r"requires basic auth and no credentials were found"):
        push(npm_db, ref)
    with pytest.raises(DistributionError) as exc:
        push(npm_db, ref, credentials=Credentials("alice", "wrong-pw", "the test"))
    msg = str(exc.value)
    assert "401 Unauthorized; tried basic auth with credentials for alice from the test" in msg
    assert "wrong-pw" not in msg and "\n" not in msg

    monkeypatch.setenv("PROPOLIS_REGISTRY_USERNAME", "alice")
    monkeypatch.setenv("PROPOLIS_REGISTRY_PASSWORD", "s3cret-pw")
    pushed = push(npm_db, ref)
    monkeypatch.setenv("PROPOLIS_REGISTRY_PASSWORD", "not-her-password")
    with pytest.raises(DistributionError, match="denied access .*from PROPOLIS_REGISTRY_USERNAME/PASSWORD"):
        pull(ref, existing)
    _untouched(existing, before)
    assert pull(ref, existing, credentials=ALICE).digest == pushed.digest
    assert _sha(existing) == _sha(npm_db)


def test_bearer_token_auth(start: Any, npm_db: Path, tmp_path: Path) -> None:
    reg = start("token", users={"alice": "s3cret-pw"})
    ref = reg.ref("private/vulndb", "1")
    pushed = push(npm_db, ref, credentials=ALICE)
    # The push needed a push-scoped token, not only the pull-scoped one a blob HEAD asks for.
    scopes = [(user, scope.rpartition(":")[0], set(scope.rpartition(":")[2].split(",")))
              for user, asked in reg.tokens.requests for scope in asked]
    assert ("alice", "repository:private/vulndb", {"pull", "push"}) in scopes  # the registry varies the order
    assert pull(ref, tmp_path / "db.sqlite", credentials=ALICE).digest == pushed.digest
    assert _lookups(tmp_path / "db.sqlite") == _lookups(npm_db)
    for creds, who in ((Credentials("alice", "wrong-pw", "the test"), "credentials for alice"),
                       (None, "no credentials")):
        with pytest.raises(DistributionError, match=f"denied access .*token server refused; tried {who}"):
            pull(ref, tmp_path / "no.sqlite", credentials=creds)
        with pytest.raises(DistributionError, match="denied access"):
            push(npm_db, reg.ref("private/vulndb", "2"), credentials=creds)
    assert not (tmp_path / "no.sqlite").exists()


# ---------------------------------------------------------------- what the registry serves
def test_a_tampered_layer_is_refused_and_the_existing_index_kept(anon: Registry, npm_db: Path,
                                                                 tmp_path: Path) -> None:
    ref = anon.ref("mirror/vulndb", "1")
    push(npm_db, ref)
    manifest, _ = _manifest(anon, "mirror/vulndb", "1")
    layer_digest = manifest["layers"][0]["digest"]
    existing = _build(tmp_path / "site" / "vulndb.sqlite", "alpine")
    before = _sha(existing)

    blob = anon.blob_data(layer_digest)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, so only the digest (and maybe zstd's checksum) tells
    blob.write_bytes(bytes(data))
    with pytest.raises(DistributionError, match=f"database layer digest mismatch: expected {layer_digest}"):
        pull(ref, existing)
    _untouched(existing, before)


def test_a_tampered_config_is_refused(anon: Registry, npm_db: Path, tmp_path: Path) -> None:
    ref = anon.ref("mirror/vulndb", "1")
    push(npm_db, ref)
    manifest, _ = _manifest(anon, "mirror/vulndb", "1")
    cfg = anon.blob_data(manifest["config"]["digest"])
    cfg.write_bytes(cfg.read_bytes().replace(b'"schema_version":1', b'"schema_version":0'))
    existing = _build(tmp_path / "site" / "vulndb.sqlite", "alpine")
    before = _sha(existing)
    with pytest.raises(DistributionError, match="database config digest mismatch"):
        pull(ref, existing)
    _untouched(existing, before)


def _push_with_config(reg: Registry, repo: str, tag: str, change: dict[str, Any], base: str) -> None:
    """Re-push an artifact whose config is changed, by hand (as another Propolis version would)."""
    manifest, _ = _manifest(reg, repo, base)
    config = json.loads(_blob(reg, repo, manifest["config"]["digest"]))
    config.update(change)
    raw = json.dumps(config).encode()
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    manifest["config"] = {**manifest["config"], "digest": digest, "size": len(raw)}
    with httpx.Client(base_url=f"http://{reg.host}", timeout=30) as c:
        push_blob(c, repo, digest, raw)
        push_manifest(c, repo, tag, json.dumps(manifest).encode(), OCI_MANIFEST)


def test_schema_versions_this_propolis_does_not_read_are_refused(anon: Registry, npm_db: Path,
                                                                 tmp_path: Path) -> None:
    push(npm_db, anon.ref("mirror/vulndb", "1"))
    _push_with_config(anon, "mirror/vulndb", "newer", {"schema_version": SCHEMA_VERSION + 1}, "1")
    _push_with_config(anon, "mirror/vulndb", "older", {"schema_version": SCHEMA_VERSION - 1}, "1")
    existing = _build(tmp_path / "site" / "vulndb.sqlite", "alpine")
    before = _sha(existing)
    with pytest.raises(DistributionError, match=rf"schema version {SCHEMA_VERSION + 1}, newer than this Propolis "
                                                rf"reads \({SCHEMA_VERSION}\): upgrade Propolis"):
        pull(anon.ref("mirror/vulndb", "newer"), existing)
    with pytest.raises(DistributionError, match=rf"schema version {SCHEMA_VERSION - 1}, older"):
        pull(anon.ref("mirror/vulndb", "older"), existing)
    _untouched(existing, before)


def test_a_container_image_is_not_a_database(anon: Registry, tmp_path: Path) -> None:
    image = build_image([{"etc/os-release": b"ID=alpine\n"}])
    push_image(anon, "team/app", "1.0", image)
    with pytest.raises(DistributionError, match=r"team/app:1\.0: not a Propolis vulnerability database \(artifact "
                                                r"type application/vnd\.oci\.image\.config\.v1\+json.*container "
                                                r"image\?"):
        pull(anon.ref("team/app", "1.0"), tmp_path / "db.sqlite")
    arm = build_image([{"etc/os-release": b"ID=alpine\n"}], arch="arm64")
    push_index(anon, "team/multi", "1.0", [image, arm], build_index([image, arm]))
    with pytest.raises(DistributionError, match="image index .*not a Propolis vulnerability database"):
        pull(anon.ref("team/multi", "1.0"), tmp_path / "db.sqlite")
    with pytest.raises(DistributionError, match=r"manifest 9\.9: unknown to registry .*MANIFEST_UNKNOWN"):
        pull(anon.ref("team/app", "9.9"), tmp_path / "db.sqlite")
    assert list(tmp_path.glob("*.sqlite*")) == []


# ---------------------------------------------------------------- the command line
def _one_line_error(p: Any) -> str:
    err = p.stderr.decode()
    assert p.returncode == 2 and err.count("\n") == 1 and err.startswith("propolis: error: "), (p.returncode, err)
    return err


def test_command_line(anon: Registry, npm_db: Path, tmp_path: Path) -> None:
    ref = anon.ref("mirror/vulndb", "cli")
    p = propolis_cli("vulndb", "push", "--db", str(npm_db), ref)
    assert p.returncode == 0, p.stderr.decode()
    _, digest = _manifest(anon, "mirror/vulndb", "cli")
    assert p.stdout.decode() == digest + "\n"
    assert "zstd" in p.stderr.decode()

    target = tmp_path / "site" / "vulndb.sqlite"
    p = propolis_cli("vulndb", "pull", ref, "--db", str(target), "--json")
    assert p.returncode == 0, p.stderr.decode()
    doc = json.loads(p.stdout)
    assert doc["digest"] == digest and doc["path"] == str(target)
    assert doc["schema_version"] == SCHEMA_VERSION and doc["advisories"] == _info(npm_db)["advisories"]
    p = propolis_cli("vulndb", "pull", ref, env={"PROPOLIS_VULNDB": str(target)})
    assert p.returncode == 0 and "advisories" in p.stdout.decode(), p.stderr.decode()

    assert "does not exist" in _one_line_error(propolis_cli("vulndb", "push", "--db", str(tmp_path / "no.db"), ref))
    dead = f"127.0.0.1:{free_port()}/mirror/vulndb:1"
    assert "cannot connect to registry" in _one_line_error(propolis_cli("vulndb", "push", "--db", str(npm_db), dead))
    assert "cannot connect to registry" in _one_line_error(propolis_cli("vulndb", "pull", dead, "--db", str(target)))
    push_image(anon, "team/app", "1.0", build_image([{"etc/os-release": b"ID=alpine\n"}]))
    err = _one_line_error(propolis_cli("vulndb", "pull", anon.ref("team/app", "1.0"), "--db", str(target)))
    assert "not a Propolis vulnerability database" in err
    assert "not a registry reference" in _one_line_error(propolis_cli("vulndb", "pull", "not a ref", "--db",
                                                                      str(target)))
    assert _sha(target) == _sha(npm_db)


def test_command_line_auth_denied(start: Any, npm_db: Path, tmp_path: Path) -> None:
    reg = start("basic", users={"alice": "s3cret-pw"})
    ref = reg.ref("private/vulndb", "1")
    bad = {"PROPOLIS_REGISTRY_USERNAME": "alice", "PROPOLIS_REGISTRY_PASSWORD": "nope"}
    err = _one_line_error(propolis_cli("vulndb", "push", "--db", str(npm_db), ref, env=bad))
    assert "denied access" in err and "nope" not in err
    good = {"PROPOLIS_REGISTRY_USERNAME": "alice", "PROPOLIS_REGISTRY_PASSWORD": "s3cret-pw"}
    assert propolis_cli("vulndb", "push", "--db", str(npm_db), ref, env=good).returncode == 0
    existing = tmp_path / "site" / "vulndb.sqlite"
    existing.parent.mkdir()
    shutil.copy(npm_db, existing)
    before = _sha(existing)
    assert "denied access" in _one_line_error(propolis_cli("vulndb", "pull", ref, "--db", str(existing), env=bad))
    _untouched(existing, before)
