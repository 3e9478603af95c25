"""OPA bundle signatures: ``.signatures.json`` holding one JWT over the hashes of every file.

Format (OPA "Bundle Signature"): ``{"signatures": ["<JWT>"]}``; the JWT payload is
``{"files": [{"name", "hash", "algorithm"}], "keyid"?, "scope"?}``. JSON files (``.manifest``,
``*.json``) are hashed over OPA's canonical form (keys sorted, no insignificant white space,
numbers as written); other files over their raw bytes. Verification refuses a bundle that is
unsigned, carries more or fewer files than were signed, has a file whose hash differs, uses an
algorithm other than the configured one, or is signed by another key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from propolis.policy.domain.bundle import normalise_path
from propolis.policy.domain.errors import BundleSignatureError

_HASHES = {
    "MD5": hashlib.md5,
    "SHA-1": hashlib.sha1,
    "SHA-224": hashlib.sha224,
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
}
SUPPORTED_ALGS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
                  "HS256", "HS384", "HS512"}


class _Num(str):
    """A JSON number kept exactly as written (OPA hashes json.Number by its text)."""


def _canonical(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        out.append("{")
        for i, key in enumerate(sorted(value)):
            if i:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _canonical(value[key], out)
        out.append("}")
    elif isinstance(value, list):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _canonical(item, out)
        out.append("]")
    elif isinstance(value, _Num):
        out.append(str(value))
    else:
        out.append(json.dumps(value, ensure_ascii=False))


def file_hash(name: str, content: bytes, algorithm: str = "SHA-256") -> str:
    try:
        h = _HASHES[algorithm]()
    except KeyError:
        raise BundleSignatureError(f"unsupported file hashing algorithm {algorithm!r}") from None
    if name == ".manifest" or name.endswith(".json"):
        try:
            value = json.loads(content.decode("utf-8"), parse_int=_Num, parse_float=_Num)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise BundleSignatureError(f"{name}: cannot hash, not valid JSON ({exc})") from None
        parts: list[str] = []
        _canonical(value, parts)
        h.update("".join(parts).encode("utf-8"))
    else:
        h.update(content)
    return h.hexdigest()


@dataclass(frozen=True)
class VerificationKey:
    """The key bundles must be signed with: PEM public key (asymmetric) or shared secret (HS*)."""

    key: str
    algorithm: str = "RS256"
    keyid: str = ""
    scope: str = ""

    @classmethod
    def from_config(cls, key: str, algorithm: str, keyid: str = "", scope: str = "") -> VerificationKey:
        if algorithm not in SUPPORTED_ALGS:
            raise BundleSignatureError(f"unsupported signing algorithm {algorithm!r}")
        if not algorithm.startswith("HS") or Path(key).is_file():
            try:
                key = Path(key).read_text(encoding="utf-8")
            except OSError as exc:
                raise BundleSignatureError(f"cannot read verification key {key}: {exc.strerror}") from None
        return cls(key=key, algorithm=algorithm, keyid=keyid, scope=scope)


def sign_files(files: dict[str, bytes], *, key: str, algorithm: str = "RS256", keyid: str = "",
               scope: str = "", hash_algorithm: str = "SHA-256") -> bytes:
    """Return the ``.signatures.json`` bytes for these files (``key``: PEM private key or secret)."""
    if algorithm not in SUPPORTED_ALGS:
        raise BundleSignatureError(f"unsupported signing algorithm {algorithm!r}")
    entries = [
        {"name": name, "hash": file_hash(name, files[name], hash_algorithm), "algorithm": hash_algorithm}
        for name in sorted(files)
    ]
    payload: dict[str, Any] = {"files": entries}
    headers: dict[str, Any] = {}
    if keyid:
        payload["keyid"] = keyid
        headers["kid"] = keyid
    if scope:
        payload["scope"] = scope
    try:
        token = jwt.encode(payload, key, algorithm=algorithm, headers=headers or None)
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise BundleSignatureError(f"cannot sign with {algorithm}: {exc}") from None
    return json.dumps({"signatures": [token]}, indent=2).encode() + b"\n"


def verify_files(files: dict[str, bytes], signatures: bytes | None, key: VerificationKey) -> None:
    """Raise :class:`BundleSignatureError` unless ``signatures`` covers exactly ``files``."""
    if signatures is None:
        raise BundleSignatureError("bundle is not signed (no .signatures.json) but a verification key is configured")
    try:
        doc = json.loads(signatures.decode("utf-8"))
        tokens = doc["signatures"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise BundleSignatureError(".signatures.json is malformed: expected {\"signatures\": [\"<JWT>\"]}") from None
    if not isinstance(tokens, list) or len(tokens) != 1 or not isinstance(tokens[0], str):
        raise BundleSignatureError(".signatures.json must hold exactly one JWT")
    token = tokens[0]
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise BundleSignatureError(f"bundle signature is not a JWT: {exc}") from None
    if header.get("alg") != key.algorithm:
        raise BundleSignatureError(
            f"bundle signed with {header.get('alg')!r}, but the configured algorithm is {key.algorithm}")
    try:
        payload = jwt.decode(token, key.key, algorithms=[key.algorithm],
                             options={"verify_aud": False, "verify_iss": False, "require": []})
    except jwt.InvalidSignatureError:
        raise BundleSignatureError("bundle signature does not verify with the configured key") from None
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise BundleSignatureError(f"bundle signature cannot be verified: {exc}") from None
    kid = payload.get("keyid") or header.get("kid") or ""
    if key.keyid and kid and kid != key.keyid:
        raise BundleSignatureError(f"bundle signed with key id {kid!r}, expected {key.keyid!r}")
    if key.scope and payload.get("scope", "") != key.scope:
        raise BundleSignatureError(f"bundle signature scope {payload.get('scope')!r} does not match {key.scope!r}")
    entries = payload.get("files")
    if not isinstance(entries, list):
        raise BundleSignatureError("bundle signature payload has no file list")
    signed: dict[str, tuple[str, str]] = {}
    for e in entries:
        if not isinstance(e, dict) or not all(isinstance(e.get(k), str) for k in ("name", "hash")):
            raise BundleSignatureError("bundle signature payload has a malformed file entry")
        signed[normalise_path(e["name"])] = (e["hash"], e.get("algorithm") or "SHA-256")
    for name, content in files.items():
        if name not in signed:
            raise BundleSignatureError(f"{name} is in the bundle but not in its signature")
        want, alg = signed.pop(name)
        if file_hash(name, content, alg) != want:
            raise BundleSignatureError(f"{name} does not match its signed hash (tampered?)")
    if signed:
        raise BundleSignatureError(f"signed file {sorted(signed)[0]} is missing from the bundle")
