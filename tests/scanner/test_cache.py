"""The layer analysis cache through real OCI layouts: warm scans read no layer blob, shared layers
are analysed once (also under concurrency), the directory stays bounded, damaged entries are
misses, a layer lying about its diff_id is never cached, and a different analysis never reuses."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgspec

from propolis.scanner.adapters.cache import LayerCache, analysis_fingerprint
from propolis.scanner.adapters.layers import LayerContent, LayerLimits
from propolis.scanner.adapters.sources import open_image
from propolis.scanner.catalogers import all_catalogers
from propolis.scanner.catalogue import Catalogue, catalogue_image
from tests.scanner.images import Link, write_oci_layout

SITE = "usr/local/lib/python3.11/site-packages"


def dpkg_status(n: int) -> bytes:
    return "".join(f"Package: pkg{i}\nStatus: install ok installed\nVersion: 1.{i}-1\nArchitecture: amd64\n"
                   f"Maintainer: m\nDescription: d\n\n" for i in range(n)).encode()


def base_layer(filler: int = 50) -> dict[str, object]:
    layer: dict[str, object] = {
        "usr/lib/os-release": b'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
        "etc/os-release": Link("../usr/lib/os-release"),
        "var/lib/dpkg/status": dpkg_status(20),
    }
    for i in range(filler):
        layer[f"usr/share/doc/pkg{i % 20}/file{i}.txt"] = b"documentation " * 8
    return layer


def app_layer(name: str = "app", pkgs: int = 5) -> dict[str, object]:
    layer: dict[str, object] = {}
    for i in range(pkgs):
        meta = f"Metadata-Version: 2.1\nName: {name}-lib{i}\nVersion: 0.{i}\n\n".encode()
        layer[f"{SITE}/{name}_lib{i}-0.{i}.dist-info/METADATA"] = meta
    layer[f"srv/{name}/settings.conf"] = b"debug = false\n"
    return layer


def image(tmp: Path, name: str, layers: list[dict[str, object]]) -> Path:
    return write_oci_layout(tmp / name, layers)


def scan(root: Path, cache: LayerCache | None, **kw: object) -> Catalogue:
    return catalogue_image(open_image(str(root)), cache=cache, **kw)  # type: ignore[arg-type]


def encoded(cat: Catalogue) -> bytes:
    return msgspec.json.encode(cat)


def layer_blobs(root: Path) -> list[Path]:
    index = json.loads((root / "index.json").read_text())
    manifest = json.loads((root / "blobs/sha256" / index["manifests"][0]["digest"].split(":")[1]).read_text())
    return [root / "blobs/sha256" / d["digest"].split(":")[1] for d in manifest["layers"]]


def test_warm_scan_reads_no_layer_blob_and_gives_the_same_catalogue(tmp_path: Path) -> None:
    root = image(tmp_path, "img", [base_layer(), app_layer()])
    cache = LayerCache(tmp_path / "cache")
    cold = scan(root, cache)
    assert not cold.partial and cache.stats.analyses == 2 and cache.stats.stores == 2 and cache.stats.hits == 0
    assert {p.name for p in cold.packages} >= {"pkg0", "app-lib4"}
    for blob in layer_blobs(root):
        blob.write_bytes(b"not the layer any more")  # a read of it would now fail its digest check
    warm = scan(root, cache)
    assert cache.stats.hits == 2 and cache.stats.analyses == 2
    assert encoded(warm) == encoded(cold)
    # Without the cache the same image is now visibly broken: the blobs really were not read.
    assert scan(root, None).partial


def test_images_sharing_a_base_layer_analyse_it_once(tmp_path: Path) -> None:
    a = image(tmp_path, "a", [base_layer(), app_layer("a")])
    b = image(tmp_path, "b", [base_layer(), app_layer("b")])
    cache = LayerCache(tmp_path / "cache")
    cat_a, cat_b = scan(a, cache), scan(b, cache)
    assert cat_a.layers[0].diff_id == cat_b.layers[0].diff_id
    assert cache.stats.analyses == 3 and cache.stats.hits == 1
    assert {p.name for p in cat_b.packages if p.ecosystem == "pypi"} == {f"b-lib{i}" for i in range(5)}
    deb = next(p for p in cat_b.packages if p.ecosystem == "deb")
    assert deb.locations[0].diff_id == cat_b.layers[0].diff_id


def test_concurrent_scans_analyse_each_layer_once(tmp_path: Path) -> None:
    root = image(tmp_path, "img", [base_layer(400), app_layer(), {"etc/extra.conf": b"x = 1\n"}])
    cache = LayerCache(tmp_path / "cache")
    start = threading.Barrier(6)

    def one(_: int) -> bytes:
        start.wait()
        return encoded(scan(root, cache))

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(one, range(6)))
    assert cache.stats.analyses == 3, cache.stats
    assert cache.stats.hits == 5 * 3 and len(set(results)) == 1


def _content(size: int, tag: str) -> LayerContent:
    return LayerContent(files={f"etc/{tag}": os.urandom(size)}, entries=1)


def test_eviction_keeps_the_directory_under_its_bound_least_recently_used_first(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path / "cache", max_bytes=250_000)
    fp = "f" * 64
    for name in ("a", "b"):
        assert cache.put(f"sha256:{name}", fp, _content(100_000, name))
    old = cache.path("sha256:b", fp).stat().st_mtime - 60
    os.utime(cache.path("sha256:b", fp), (old, old))
    os.utime(cache.path("sha256:a", fp), (old - 60, old - 60))
    assert cache.get("sha256:a", fp) is not None  # a hit makes "a" the most recently used
    assert cache.put("sha256:c", fp, _content(100_000, "c"))
    assert cache.size_bytes() <= 250_000 and cache.stats.evictions == 1
    assert cache.get("sha256:b", fp) is None
    assert cache.get("sha256:a", fp) is not None and cache.get("sha256:c", fp) is not None
    # Many more entries: the bound holds after every put.
    for i in range(12):
        cache.put(f"sha256:n{i}", fp, _content(60_000, str(i)))
        assert cache.size_bytes() <= 250_000
    assert not cache.put("sha256:huge", fp, _content(300_000, "huge"))  # never stored: larger than the bound


def test_a_corrupt_or_truncated_cache_file_is_a_miss_and_is_replaced(tmp_path: Path) -> None:
    root = image(tmp_path, "img", [base_layer(), app_layer()])
    cache = LayerCache(tmp_path / "cache")
    cold = scan(root, cache)
    files = sorted((tmp_path / "cache").rglob("*.layer"))
    assert len(files) == 2
    data = bytearray(files[0].read_bytes())
    data[-5] ^= 0xFF  # one flipped bit in the payload
    files[0].write_bytes(bytes(data))
    files[1].write_bytes(files[1].read_bytes()[:20])  # truncated
    again = scan(root, cache)
    assert cache.stats.corrupt == 2 and cache.stats.analyses == 4 and encoded(again) == encoded(cold)
    third = scan(root, cache)  # both entries were rewritten whole
    assert cache.stats.hits == 2 and encoded(third) == encoded(cold)
    # Not even a valid entry stored under another key is accepted.
    fp = "0" * 64
    cache.put("sha256:x", fp, _content(10, "x"))
    src, dst = cache.path("sha256:x", fp), cache.path("sha256:y", fp)
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)
    assert cache.get("sha256:y", fp) is None and not dst.exists()


def _claim_diff_ids(root: Path, diff_ids: list[str]) -> None:
    """Rewrite an OCI layout so its config claims ``diff_ids`` (blobs and digests stay consistent)."""
    blobs = root / "blobs/sha256"
    index = json.loads((root / "index.json").read_text())
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_text())
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_text())
    config["rootfs"]["diff_ids"] = diff_ids

    def put(raw: bytes) -> str:
        digest = hashlib.sha256(raw).hexdigest()
        (blobs / digest).write_bytes(raw)
        return f"sha256:{digest}"

    cfg = json.dumps(config).encode()
    manifest["config"] = {**manifest["config"], "digest": put(cfg), "size": len(cfg)}
    raw = json.dumps(manifest).encode()
    index["manifests"][0] = {**index["manifests"][0], "digest": put(raw), "size": len(raw)}
    (root / "index.json").write_text(json.dumps(index))


def test_a_layer_lying_about_its_diff_id_is_partial_and_never_cached(tmp_path: Path) -> None:
    good = image(tmp_path, "good", [base_layer(), app_layer()])
    base_diff_id = scan(good, None).layers[0].diff_id
    evil_layer = base_layer()
    evil_layer["var/lib/dpkg/status"] = b"Package: trojan\nStatus: install ok installed\nVersion: 6.6.6\n\n"
    evil = image(tmp_path, "evil", [evil_layer])
    _claim_diff_ids(evil, [base_diff_id])  # claims to be good's base layer
    cache = LayerCache(tmp_path / "cache")
    cat = scan(evil, cache)
    assert cat.partial and cat.layers[0].diff_id == base_diff_id
    assert any(f"does not match its diff_id: expected {base_diff_id}" in r for r in cat.layers[0].partial)
    assert cache.stats.stores == 0 and not list((tmp_path / "cache").rglob("*.layer"))
    # The honest image sharing that diff_id is analysed from its own blob, not from the impostor's.
    real = scan(good, cache)
    assert not real.partial and cache.stats.hits == 0 and cache.stats.stores == 2
    assert "trojan" not in {p.name for p in real.packages} and "pkg0" in {p.name for p in real.packages}


def test_a_different_analysis_does_not_reuse_entries(tmp_path: Path) -> None:
    root = image(tmp_path, "img", [base_layer(), app_layer()])
    cache = LayerCache(tmp_path / "cache")
    scan(root, cache)
    scan(root, cache, secrets=False)
    assert cache.stats.hits == 0 and cache.stats.analyses == 4
    python_only = [c for c in all_catalogers() if c.name == "python-installed"]
    cat = scan(root, cache, catalogers=python_only)
    assert cache.stats.hits == 0 and cache.stats.analyses == 6 and cat.packages
    scan(root, cache, limits=LayerLimits(max_wanted_bytes=64 * 1024**2))
    assert cache.stats.hits == 0 and cache.stats.analyses == 8
    scan(root, cache)  # the first analysis again: its entries are still there
    assert cache.stats.hits == 2
    cats = all_catalogers()
    assert analysis_fingerprint(cats, secrets=True, limits=LayerLimits()) == \
        analysis_fingerprint(all_catalogers(), secrets=True, limits=LayerLimits())


def test_a_root_filesystem_directory_is_never_cached(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    (rootfs / "var/lib/dpkg").mkdir(parents=True)
    (rootfs / "var/lib/dpkg/status").write_bytes(dpkg_status(3))
    cache = LayerCache(tmp_path / "cache")
    cat = scan(rootfs, cache)
    assert {p.name for p in cat.packages} == {"pkg0", "pkg1", "pkg2"}
    assert cache.stats.analyses == 0 and not list((tmp_path / "cache").rglob("*.layer"))
