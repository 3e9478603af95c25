"""A policy bundle: Rego modules, a data tree, a manifest and a revision.

Files follow OPA's bundle layout: ``.manifest`` (``revision``, ``roots``), ``*.rego`` modules,
and ``data.json`` files whose directory gives their place in the data tree
(``propolis/admission/data.json`` → ``data.propolis.admission``). ``.signatures.json`` is kept
apart for verification. Other files (READMEs, ...) are not part of the bundle.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from propolis.policy.domain.errors import BundleError

SIGNATURES_FILE = ".signatures.json"
MANIFEST_FILE = ".manifest"


@dataclass(frozen=True)
class BundleLimits:
    max_files: int = 10_000
    max_file_bytes: int = 8 * 1024 * 1024
    max_total_bytes: int = 64 * 1024 * 1024
    max_json_depth: int = 64


DEFAULT_LIMITS = BundleLimits()


@dataclass(frozen=True)
class Bundle:
    revision: str
    source: str
    roots: tuple[str, ...]
    modules: dict[str, str]
    data: dict[str, Any]
    #: The signed files (bundle-relative path → bytes): manifest, modules, data files.
    files: dict[str, bytes] = field(repr=False)
    manifest: dict[str, Any] = field(default_factory=dict)
    signatures: bytes | None = field(default=None, repr=False)

    @property
    def content_digest(self) -> str:
        return content_digest(self.files)


def content_digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode())
        h.update(b"\0")
        h.update(hashlib.sha256(files[name]).digest())
    return "sha256:" + h.hexdigest()


def normalise_path(name: str) -> str:
    """Bundle-relative POSIX path; reject traversal and absolute escapes."""
    raw = name.replace("\\", "/")
    while raw.startswith("./"):
        raw = raw[2:]
    raw = raw.lstrip("/")
    norm = posixpath.normpath(raw) if raw else ""
    if norm in ("", ".") or norm.startswith("../") or norm == ".." or "\0" in norm:
        raise BundleError(f"bundle file path {name!r} escapes the bundle root")
    return norm


def is_bundle_file(path: str) -> bool:
    base = posixpath.basename(path)
    return path == MANIFEST_FILE or base.endswith(".rego") or base == "data.json"


def _json_depth_ok(obj: Any, limit: int) -> bool:
    stack = [(obj, 1)]
    while stack:
        cur, d = stack.pop()
        if d > limit:
            return False
        if isinstance(cur, dict):
            stack.extend((v, d + 1) for v in cur.values())
        elif isinstance(cur, list):
            stack.extend((v, d + 1) for v in cur)
    return True


def _load_json(path: str, raw: bytes, limits: BundleLimits) -> Any:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BundleError(f"{path}: not valid JSON ({exc})") from None
    if not _json_depth_ok(value, limits.max_json_depth):
        raise BundleError(f"{path}: JSON nested deeper than {limits.max_json_depth}")
    return value


_PACKAGE_RE = re.compile(r"^\s*package\s+([A-Za-z_][\w.]*)", re.MULTILINE)


def _under_roots(path_parts: list[str], roots: tuple[str, ...]) -> bool:
    if not roots or "" in roots:
        return True
    joined = "/".join(path_parts)
    return any(joined == r or joined.startswith(r + "/") or r.startswith(joined + "/") for r in roots)


def build_bundle(files: dict[str, bytes], *, source: str, revision: str = "",
                 signatures: bytes | None = None, limits: BundleLimits = DEFAULT_LIMITS) -> Bundle:
    """Assemble and check a bundle from raw files (already filtered to bundle files).

    ``revision`` (e.g. a Git commit id) wins over the manifest's; with neither, the revision
    is the content digest, so it still changes exactly when the policy changes.
    """
    if len(files) > limits.max_files:
        raise BundleError(f"bundle has {len(files)} files, more than the limit of {limits.max_files}")
    total = 0
    for name, content in files.items():
        if len(content) > limits.max_file_bytes:
            raise BundleError(f"{name}: {len(content)} bytes exceeds the per-file limit of {limits.max_file_bytes}")
        total += len(content)
    if total > limits.max_total_bytes:
        raise BundleError(f"bundle is {total} bytes, more than the limit of {limits.max_total_bytes}")

    manifest: dict[str, Any] = {}
    if MANIFEST_FILE in files:
        m = _load_json(MANIFEST_FILE, files[MANIFEST_FILE], limits)
        if not isinstance(m, dict):
            raise BundleError(".manifest: must be a JSON object")
        manifest = m
    roots_raw = manifest.get("roots", [""])
    if not isinstance(roots_raw, list) or not all(isinstance(r, str) for r in roots_raw):
        raise BundleError(".manifest: 'roots' must be a list of strings")
    roots = tuple(r.strip("/") for r in roots_raw)
    rev_manifest = manifest.get("revision", "")
    if not isinstance(rev_manifest, str):
        raise BundleError(".manifest: 'revision' must be a string")

    modules: dict[str, str] = {}
    data: dict[str, Any] = {}
    for name in sorted(files):
        content = files[name]
        if name.endswith(".rego"):
            try:
                text = content.decode("utf-8")
            except UnicodeDecodeError:
                raise BundleError(f"{name}: Rego module is not valid UTF-8") from None
            m = _PACKAGE_RE.search(text)
            if m is None:
                raise BundleError(f"{name}: no package declaration")
            pkg = m.group(1).split(".")
            if not _under_roots(pkg, roots):
                raise BundleError(f"{name}: package {'.'.join(pkg)} is outside the manifest roots {list(roots)}")
            modules[name] = text
        elif posixpath.basename(name) == "data.json":
            value = _load_json(name, content, limits)
            parts = [p for p in posixpath.dirname(name).split("/") if p]
            if not _under_roots(parts, roots):
                raise BundleError(f"{name}: data path {'/'.join(parts)} is outside the manifest roots {list(roots)}")
            _merge_data(data, parts, value, name)
    if not modules:
        raise BundleError(f"bundle from {source} has no Rego modules")
    rev = revision or rev_manifest or content_digest(files)
    return Bundle(revision=rev, source=source, roots=roots, modules=modules, data=data, files=dict(files),
                  manifest=manifest, signatures=signatures)


def _merge_data(tree: dict[str, Any], parts: list[str], value: Any, name: str) -> None:
    node = tree
    for p in parts[:-1] if parts else []:
        child = node.setdefault(p, {})
        if not isinstance(child, dict):
            raise BundleError(f"{name}: data path conflicts with a value at {p!r}")
        node = child
    if not parts:
        if not isinstance(value, dict):
            raise BundleError(f"{name}: top-level data.json must be an object")
        _deep_merge(node, value, name)
        return
    last = parts[-1]
    if last in node:
        if isinstance(node[last], dict) and isinstance(value, dict):
            _deep_merge(node[last], value, name)
            return
        raise BundleError(f"{name}: data at {'/'.join(parts)} is defined twice")
    node[last] = value


def _deep_merge(dst: dict[str, Any], src: dict[str, Any], name: str) -> None:
    for k, v in src.items():
        if k in dst:
            if isinstance(dst[k], dict) and isinstance(v, dict):
                _deep_merge(dst[k], v, name)
            else:
                raise BundleError(f"{name}: data key {k!r} is defined twice")
        else:
            dst[k] = v
