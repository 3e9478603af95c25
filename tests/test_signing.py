"""OPA-format bundle signatures: signed, unsigned, tampered, wrong key, wrong algorithm."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jwt
import pytest

from propolis.policy.adapters.regorus_engine import RegorusEngine
from propolis.policy.adapters.sources import DirectorySource, TarballSource, write_tarball
from propolis.policy.domain.errors import BundleSignatureError
from propolis.policy.domain.manager import BundleManager
from propolis.policy.domain.signing import VerificationKey, file_hash, sign_files, verify_files
from tests.conftest import write_demo_bundle
from tests.keys import ec_pair, rsa_pair


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    rp, rpub = rsa_pair(tmp_path, "rsa")
    op, opub = rsa_pair(tmp_path, "other")
    ep, epub = ec_pair(tmp_path, "ec")
    return {"rsa": rp, "rsa_pub": rpub, "other": op, "other_pub": opub, "ec": ep, "ec_pub": epub}


def _files(demo_bundle: Path) -> dict[str, bytes]:
    return DirectorySource(demo_bundle).fetch().files


@pytest.mark.parametrize("alg", ["RS256", "PS384", "ES256", "HS256"])
def test_sign_then_verify(demo_bundle: Path, keys: dict[str, Path], alg: str) -> None:
    files = _files(demo_bundle)
    if alg.startswith("HS"):
        priv = pub = "a-shared-secret-of-at-least-32-bytes!!"
    else:
        kind = "ec" if alg.startswith("ES") else "rsa"
        priv, pub = keys[kind].read_text(), str(keys[f"{kind}_pub"])
    sigs = sign_files(files, key=priv, algorithm=alg, keyid="k1", scope="write")
    verify_files(files, sigs, VerificationKey.from_config(pub, alg, "k1", "write"))


def test_signature_payload_is_opa_format(demo_bundle: Path, keys: dict[str, Path]) -> None:
    files = _files(demo_bundle)
    doc = json.loads(sign_files(files, key=keys["rsa"].read_text(), keyid="k1"))
    payload = jwt.decode(doc["signatures"][0], options={"verify_signature": False})
    assert sorted(f["name"] for f in payload["files"]) == sorted(files)
    assert all(f["algorithm"] == "SHA-256" and len(f["hash"]) == 64 for f in payload["files"])
    assert payload["keyid"] == "k1"


def test_json_files_hash_over_canonical_form() -> None:
    # OPA hashes JSON by value: key order and white space do not matter, number text does.
    a = file_hash("x/data.json", b'{"b": [1, 2.50], "a": {"z": true, "y": null}}')
    b = file_hash("x/data.json", b'{"a":{"y":null,"z":true},"b":[1,2.50]}')
    c = file_hash("x/data.json", b'{"a":{"y":null,"z":true},"b":[1,2.5]}')
    assert a == b != c
    assert file_hash("p.rego", b"package p\n") != file_hash("p.rego", b"package p \n")


def _key(keys: dict[str, Path], name: str = "rsa_pub") -> VerificationKey:
    return VerificationKey.from_config(str(keys[name]), "RS256")


def test_unsigned_bundle_is_refused(demo_bundle: Path, keys: dict[str, Path]) -> None:
    with pytest.raises(BundleSignatureError, match="not signed"):
        verify_files(_files(demo_bundle), None, _key(keys))


def test_tampered_file_is_refused(demo_bundle: Path, keys: dict[str, Path]) -> None:
    files = _files(demo_bundle)
    sigs = sign_files(files, key=keys["rsa"].read_text())
    files["propolis/demo/data.json"] = b'{"users": ["alice", "mallory"]}'
    with pytest.raises(BundleSignatureError, match="does not match its signed hash"):
        verify_files(files, sigs, _key(keys))


def test_added_and_removed_files_are_refused(demo_bundle: Path, keys: dict[str, Path]) -> None:
    files = _files(demo_bundle)
    sigs = sign_files(files, key=keys["rsa"].read_text())
    with pytest.raises(BundleSignatureError, match="not in its signature"):
        verify_files({**files, "propolis/evil.rego": b"package propolis.evil\n"}, sigs, _key(keys))
    fewer = dict(files)
    del fewer["propolis/demo/data.json"]
    with pytest.raises(BundleSignatureError, match="missing from the bundle"):
        verify_files(fewer, sigs, _key(keys))


def test_wrong_key_wrong_alg_and_none_alg_are_refused(demo_bundle: Path, keys: dict[str, Path]) -> None:
    files = _files(demo_bundle)
    sigs = sign_files(files, key=keys["other"].read_text())
    with pytest.raises(BundleSignatureError, match="does not verify"):
        verify_files(files, sigs, _key(keys))
    # An HS256 token "signed" with the public key text must not pass an RS256 verifier.
    forged = sign_files(files, key="x" * 40, algorithm="HS256")
    with pytest.raises(BundleSignatureError, match="configured algorithm is RS256"):
        verify_files(files, forged, _key(keys))
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(b'{"files":[]}').rstrip(b"=").decode()
    none = json.dumps({"signatures": [f"{header}.{body}."]}).encode()
    with pytest.raises(BundleSignatureError):
        verify_files(files, none, _key(keys))


@pytest.mark.parametrize("raw", [b"", b"{}", b'{"signatures": []}', b'{"signatures": ["a", "b"]}',
                                 b'{"signatures": ["not-a-jwt"]}', b"\xff"])
def test_malformed_signature_files(demo_bundle: Path, keys: dict[str, Path], raw: bytes) -> None:
    with pytest.raises(BundleSignatureError):
        verify_files(_files(demo_bundle), raw, _key(keys))


def test_keyid_and_scope_mismatch(demo_bundle: Path, keys: dict[str, Path]) -> None:
    files = _files(demo_bundle)
    sigs = sign_files(files, key=keys["rsa"].read_text(), keyid="k1", scope="read")
    with pytest.raises(BundleSignatureError, match="key id"):
        verify_files(files, sigs, VerificationKey.from_config(str(keys["rsa_pub"]), "RS256", keyid="k2"))
    with pytest.raises(BundleSignatureError, match="scope"):
        verify_files(files, sigs, VerificationKey.from_config(str(keys["rsa_pub"]), "RS256", scope="write"))


async def test_bad_bundle_keeps_the_previous_one_active(tmp_path: Path, keys: dict[str, Path]) -> None:
    bundle = write_demo_bundle(tmp_path / "b", version=1)
    tar = tmp_path / "bundle.tar.gz"
    files = DirectorySource(bundle).fetch().files
    tar.write_bytes(write_tarball(files, sign_files(files, key=keys["rsa"].read_text())))
    mgr = BundleManager(TarballSource(tar), RegorusEngine(), _key(keys))
    mgr.load_initial()
    first = mgr.revision
    # Tampered tarball: same signature, different data.
    files2 = dict(files)
    files2["propolis/demo/data.json"] = b'{"users": ["mallory"]}'
    tar.write_bytes(write_tarball(files2, sign_files(files, key=keys["rsa"].read_text())))
    res = await mgr.reload("test")
    assert not res.changed and "tampered" in res.error and mgr.revision == first
    assert mgr.evaluate("propolis/demo/decision", '{"user": "alice"}')[0]["allow"] is True
    # Unsigned.
    tar.write_bytes(write_tarball(files2))
    res = await mgr.reload("test")
    assert "not signed" in res.error and mgr.revision == first
    # Properly signed new revision is accepted.
    tar.write_bytes(write_tarball(files2, sign_files(files2, key=keys["rsa"].read_text())))
    res = await mgr.reload("test")
    assert res.changed and not res.error and mgr.revision != first
    assert mgr.evaluate("propolis/demo/decision", '{"user": "mallory"}')[0]["allow"] is True
