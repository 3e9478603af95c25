"""Cataloguing an image: stream every layer once, build the final view, run the catalogers,
attribute every package to the layer that introduced it."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from propolis.scanner.adapters.cache import LayerCache
from propolis.scanner.adapters.layers import (
    DEFAULT_LIMITS,
    LayerContent,
    LayerLimits,
    read_directory,
    read_layer,
)
from propolis.scanner.catalogers import all_catalogers
from propolis.scanner.catalogers.interface import CatalogContext, Cataloger, keeps
from propolis.scanner.domain.config_facts import ConfigFacts, config_facts, filesystem_facts
from propolis.scanner.domain.filesystem import FileView
from propolis.scanner.domain.image import Image, LayerRef
from propolis.scanner.domain.model import Location, OSRelease, Package
from propolis.scanner.secrets import scanner as secret_scanner
from propolis.scanner.secrets.scanner import SecretFinding

log = logging.getLogger(__name__)


class LayerInfo(msgspec.Struct, kw_only=True):
    index: int
    digest: str
    diff_id: str
    created_by: str
    size: int
    entries: int = 0
    partial: list[str] = []


class LocatedSecret(msgspec.Struct, kw_only=True):
    """A secret found in the image: where, in which layer, and redacted (never the value)."""

    finding: SecretFinding
    layer_digest: str = ""
    diff_id: str = ""
    created_by: str = ""


class Catalogue(msgspec.Struct, kw_only=True):
    reference: str
    manifest_digest: str = ""
    os: OSRelease | None = None
    layers: list[LayerInfo] = []
    packages: list[Package] = []
    partial: bool = False
    issues: list[str] = []
    config: dict[str, Any] = {}
    #: Facts about the image configuration (user, ports, env names, risky build steps) and the final
    #: filesystem (setuid/setgid and world-writable paths, each with the layer that introduced it).
    facts: ConfigFacts | None = None
    secrets: list[LocatedSecret] = []


Progress = Callable[[int, int, LayerInfo], None]


@dataclass
class _Wants:
    """Which wanters want a path, worked out once per path: the largest size any of them reads
    (the layer walk's question) and which of them keep the file once read (``analyse_layer``'s)."""

    catalogers: list[Cataloger]
    #: Wanters that read files without keeping them (the secret search).
    scan_only: tuple[object, ...] = ()
    cache: dict[str, tuple[int, bool, tuple[Cataloger, ...]]] = field(default_factory=dict)

    def _entry(self, path: str) -> tuple[int, bool, tuple[Cataloger, ...]]:
        hit = self.cache.get(path)
        if hit is None:
            limit, plain, hooked = 0, False, []
            for c in self.catalogers:
                if not c.wants(path):
                    continue
                limit = max(limit, c.max_file_bytes)
                if c in self.scan_only:
                    continue
                if hasattr(c, "keeps"):
                    hooked.append(c)
                else:
                    plain = True
            hit = (limit, plain, tuple(hooked))
            if len(self.cache) < 200_000:
                self.cache[path] = hit
        return hit

    def __call__(self, path: str) -> int:
        return self._entry(path)[0]

    def keeps(self, path: str, data: bytes) -> bool:
        """Some cataloger that wants ``path`` still wants it now that its content is known."""
        _, plain, hooked = self._entry(path)
        return plain or any(keeps(c, path, data) for c in hooked)


def catalogue_image(image: Image, catalogers: list[Cataloger] | None = None, *,
                    limits: LayerLimits = DEFAULT_LIMITS, progress: Progress | None = None,
                    secrets: bool = True, cache: LayerCache | None = None) -> Catalogue:
    from propolis.scanner.catalogers.osrelease import OS_RELEASE_PATHS, parse_os_release

    cats = catalogers if catalogers is not None else all_catalogers()
    os_paths = set(OS_RELEASE_PATHS)

    class _OSWant:
        name = "os-release"
        max_file_bytes = 64 * 1024

        def wants(self, path: str) -> bool:
            return path in os_paths

    class _SecretWant:
        name = "secrets"
        max_file_bytes = 1024 * 1024

        def wants(self, path: str) -> bool:
            return secrets and secret_scanner.wants(path) > 0

    secret_want = _SecretWant()
    wants = _Wants([*cats, _OSWant(), secret_want], scan_only=(secret_want,))  # type: ignore[list-item]
    view = FileView()
    result = Catalogue(reference=image.reference, manifest_digest=image.manifest_digest, config=image.config,
                       issues=list(image.issues))
    fingerprint = ""
    per_layer_secrets: list[list[SecretFinding]] = []
    for i, layer in enumerate(image.layers):
        info = LayerInfo(index=i, digest=layer.digest, diff_id=layer.diff_id, created_by=layer.created_by,
                         size=layer.size)
        if layer.directory:
            content = analyse_layer(read_directory(layer.directory, wants, limits), wants, secrets)
        elif cache is not None and layer.diff_id:
            if not fingerprint:
                fingerprint = cache.fingerprint(wants.catalogers, secrets=secrets, limits=limits)
            content = cache.layer(layer.diff_id, fingerprint,
                                  functools.partial(_read_blob, layer, wants, limits, secrets))
        else:
            content = _read_blob(layer, wants, limits, secrets)
        info.entries = content.entries
        info.partial.extend(content.partial)
        info.partial.extend(content.skipped)  # entries ignored or files not read: the result is partial too
        view.apply(content, i)
        per_layer_secrets.append(content.secrets)
        result.layers.append(info)
        if progress:
            progress(i, len(image.layers), info)

    files_os = {p: v.content for p in OS_RELEASE_PATHS if (v := view.resolve(p)) is not None}
    result.os = parse_os_release(files_os)
    ctx = CatalogContext(os=result.os)
    present = view.wanted_paths()
    for cat in cats:
        paths = sorted(p for p in present if cat.wants(p))
        files: dict[str, bytes] = {}
        layer_of: dict[str, int] = {}
        for p in paths:
            v = view.resolve(p)
            if v is not None:
                files[p] = v.content
                layer_of[p] = v.layer
        if not files:
            continue
        out = cat.catalog(files, ctx)
        result.issues.extend(f"{i.cataloger}: {i.path}: {i.message}" for i in out.issues)
        introduced = _introductions(cat, view, files, ctx)
        for pkg in out.packages:
            locs = []
            for loc in pkg.locations or [Location(path=next(iter(files)))]:
                idx = introduced.get((loc.path, pkg.name, pkg.version), layer_of.get(loc.path.split("!")[0], -1))
                if 0 <= idx < len(image.layers):
                    lr = image.layers[idx]
                    loc = Location(path=loc.path, layer_digest=lr.digest, diff_id=lr.diff_id, created_by=lr.created_by)
                locs.append(loc)
            pkg.locations = locs
            result.packages.append(pkg)
    result.facts = msgspec.structs.replace(config_facts(image.config), **filesystem_facts(
        ((p, m.mode, m.kind, i) for p, (m, i) in view.modes.items()), [la.diff_id for la in image.layers]))
    if secrets:
        found = [LocatedSecret(finding=f) for f in secret_scanner.scan_env(
            (image.config.get("config") or {}).get("Env") if isinstance(image.config.get("config"), dict) else None)]
        seen: set[tuple[str, str, int, str]] = set()
        for idx, layer_secrets in enumerate(per_layer_secrets):
            lr = image.layers[idx]
            for f in layer_secrets:
                key = (f.rule_id, f.path, f.line, f.redacted)
                if key in seen:  # the same file carried over unchanged: reported where it first appeared
                    continue
                seen.add(key)
                found.append(LocatedSecret(finding=f, layer_digest=lr.digest, diff_id=lr.diff_id,
                                           created_by=lr.created_by))
        result.secrets = found
    result.issues.extend(view.issues)
    for info in result.layers:
        result.issues.extend(f"layer {info.index} ({info.digest or 'rootfs'}): {p}" for p in info.partial)
    result.partial = bool(result.issues)
    result.packages.sort(key=lambda p: (p.ecosystem, p.name, p.version, p.locations[0].path if p.locations else ""))
    return result


def _read_blob(layer: LayerRef, wants: _Wants, limits: LayerLimits, secrets: bool) -> LayerContent:
    """Stream one layer blob, checked against its diff_id (what makes the result cacheable)."""
    try:
        stream = layer.open()
    except Exception as exc:
        return LayerContent(partial=[f"layer {layer.digest} cannot be opened: {exc}"])
    try:
        content = read_layer(stream, wants, media_type=layer.media_type, limits=limits, diff_id=layer.diff_id)
    finally:
        stream.close()
    return analyse_layer(content, wants, secrets)


def analyse_layer(content: LayerContent, keep: _Wants, secrets: bool) -> LayerContent:
    """The per-layer part of the analysis, done once per layer (and cached with it): search the
    layer's files for secrets, then drop the files no cataloger keeps (wanted only by the secret
    search, or executables without build information), so neither memory nor the cache holds
    every text file and binary of the image."""
    if secrets:
        for path, data in content.files.items():
            if secret_scanner.wants(path) > 0:
                content.secrets.extend(secret_scanner.scan_text(path, data))
    for path in [p for p, data in content.files.items() if not keep.keeps(p, data)]:
        content.wanted_bytes -= len(content.files.pop(path))
    return content


def _introductions(cat: Cataloger, view: FileView, files: dict[str, bytes],
                   ctx: CatalogContext) -> dict[tuple[str, str, str], int]:
    """For files rewritten by several layers (dpkg status, apk installed, rpmdb): the first layer
    from which each package stayed present up to the final image."""
    out: dict[tuple[str, str, str], int] = {}
    for path in files:
        versions = view.history.get(path, [])
        if len(versions) < 2:
            continue
        seen_in: list[tuple[int, set[tuple[str, str]]]] = []
        for v in versions:
            pkgs = cat.catalog({path: v.content}, ctx).packages
            seen_in.append((v.layer, {(p.name, p.version) for p in pkgs}))
        final = seen_in[-1][1]
        for key in final:
            layer = seen_in[-1][0]
            for lay, keys in reversed(seen_in):
                if key not in keys:
                    break
                layer = lay
            out[(path, key[0], key[1])] = layer
    return out
