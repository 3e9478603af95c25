"""Vulnerability matching speed (packages/s) against the full test index, cold and warm.

The index is built from all five advisory sources of the shared test data (PyPA OSV, Go OSV, GHSA
npm, Debian DSA/DLA lists, Alpine secdb). The package mix is synthetic but made of real names and
versions: the packages of the pkgdb fixtures' ``.expected.json`` lists (dpkg fixtures go into Debian
images, apk fixtures into Alpine images of the releases the data covers, so they meet data) and, for
a ``--share`` of each image (default 20 %), packages from the advisory data itself: each named
package at its fixed versions, just below them, at introduced and listed affected versions. Images
hold ``--image-size`` packages (70 % OS packages of one release, 30 % language packages) and are
matched one by one with ``Matcher.match_packages``, as the scanner does.

Figures:
- cold: a new ``Matcher`` on the index file, first pass over every image (index partitions loaded,
  entries compiled, memo empty); the index load time inside it is reported separately;
- warm: the same ``Matcher``, second pass (memo of per-package verdicts filled);
- warm, no memo: loaded and compiled index, memo dropped before the pass (what a fleet of
  never-seen packages costs).

Usage: python loadtests/match_bench.py [--packages 100000] [--image-size 300] [--share 0.2] [--json out.json]
Test data: ``PROPOLIS_TESTDATA`` (default ``../shared/testdata`` from the repository root).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from propolis.scanner.domain.model import Location, OSRelease, Package
from propolis.scanner.matching import Matcher
from propolis.scanner.vulndb import VulnDB, build
from propolis.scanner.vulndb.importers import detect

ROOT = Path(__file__).resolve().parent.parent
TESTDATA = Path(os.environ.get("PROPOLIS_TESTDATA", ROOT.parent / "shared" / "testdata"))
SOURCES = ("osv-pypi", "osv-go/data", "osv-npm", "debian", "alpine")
LANG_DIRS = {"npm": "npm", "go": "golang", "composer": "composer", "gems": "gem", "cargo": "cargo", "pip": "pypi",
             "pipenv": "pypi", "poetry": "pypi", "uv": "pypi", "python-site-packages": "pypi", "maven": "maven"}
LANG = ("pypi", "npm", "golang", "maven", "gem", "cargo", "composer")
BUSTER = OSRelease(id="debian", version_id="10", version_codename="buster")

Item = tuple[str, str, str, str]  # ecosystem, name, version, source name


def build_index(dest: Path) -> float:
    started = time.monotonic()
    plan = []
    for s in SOURCES:
        p = TESTDATA.joinpath("vulndb", *s.split("/"))
        if not p.exists():
            sys.exit(f"test data {p} not found; set PROPOLIS_TESTDATA")
        importer = detect(p)
        assert importer is not None, p
        plan.append((importer, p))
    build(dest, plan)
    return time.monotonic() - started


def fixture_items() -> dict[str, list[Item]]:
    """OS key ("deb:debian:buster", "apk:alpine:v3.N", "lang") → items from the fixtures' expected lists."""
    out: dict[str, list[Item]] = {"deb": [], "apk": [], "lang": []}
    for f in sorted(TESTDATA.joinpath("pkgdb").rglob("*.expected.json")):
        rel = f.relative_to(TESTDATA / "pkgdb").parts
        eco = {"dpkg": "deb", "apk": "apk"}.get(rel[0]) or (LANG_DIRS.get(rel[1]) if rel[0] == "lang" else None)
        if eco is None:
            continue
        for p in json.loads(f.read_text()).get("packages", []):
            name, version = str(p.get("name", "")), str(p.get("version", ""))
            if name and version:
                src = str(p.get("source") or p.get("origin") or name) if eco in ("deb", "apk") else ""
                out[eco if eco in ("deb", "apk") else "lang"].append((eco, name, version, src))
    return out


def advisory_items(db_path: Path) -> tuple[dict[str, list[Item]], list[Item]]:
    """From the index: per distro release the fixed versions and just below them; for language
    ecosystems the fixed, introduced and listed versions."""
    per_distro: dict[str, list[Item]] = {}
    lang: list[Item] = []
    with VulnDB(db_path) as vdb:
        rows = vdb.connection.execute(
            "SELECT ecosystem, distro, name, ranges, versions, fixed FROM affected").fetchall()
    for eco, distro, name, ranges, versions, fixed in rows:
        if distro:
            for v in json.loads(fixed):
                below = v + "~" if eco == "deb" else re.sub(r"-r(\d+)$", lambda m: f"-r{max(0, int(m[1]) - 1)}", v)
                per_distro.setdefault(distro, []).extend([(eco, name, v, name), (eco, name, below, name)])
        elif eco in LANG:
            vs = set(json.loads(fixed)) | set(json.loads(versions)[:3])
            vs |= {v for r in json.loads(ranges) for e in r["events"] for k, v in e.items()
                   if k == "introduced" and v != "0" and r["type"] != "GIT"}
            lang.extend((eco, name, v, "") for v in sorted(vs))
    return per_distro, lang


def os_for(distro: str) -> OSRelease:
    family, _, release = distro.partition(":")
    if family == "debian":
        return OSRelease(id="debian", version_codename=release)
    return OSRelease(id="alpine", version_id=release.lstrip("v") + ".0")


def images(total: int, size: int, share: float, seed: int = 7) -> list[tuple[OSRelease, list[Package]]]:
    """``total`` packages in images of ``size``: per image an OS release, 70 % OS packages of it and 30 %
    language packages; in each part a ``share`` drawn from the advisory data, the rest from the fixtures."""
    fx = fixture_items()
    per_distro, lang = advisory_items(DB)
    rng = random.Random(seed)
    distros = sorted(per_distro)
    weights = [len(per_distro[d]) for d in distros]
    out: list[tuple[OSRelease, list[Package]]] = []
    made = 0
    while made < total:
        n = min(size, total - made)
        distro = rng.choices(distros, weights)[0]
        family = fx["deb"] if distro.startswith("debian:") else fx["apk"]
        n_os = int(n * 0.7)
        n_os_adv = round(n_os * share)
        n_lang_adv = round((n - n_os) * share)
        items = (rng.sample(per_distro[distro], min(n_os_adv, len(per_distro[distro])))
                 + rng.choices(family, k=n_os - n_os_adv) + rng.sample(lang, n_lang_adv)
                 + rng.choices(fx["lang"], k=n - n_os - n_lang_adv))
        pkgs = [Package(name=name, version=version, ecosystem=eco, purl=f"pkg:{eco}/{name}@{version}",
                        source_name=src, source_version=version if eco == "deb" else "",
                        locations=[Location(path=f"{eco}/{i}", layer_digest="sha256:" + "0" * 64)])
                for i, (eco, name, version, src) in enumerate(items)]
        out.append((os_for(distro), pkgs))
        made += len(pkgs)
    return out


def run(matcher: Matcher, imgs: list[tuple[OSRelease, list[Package]]]) -> tuple[float, Counter[str], int]:
    started = time.perf_counter()
    states: Counter[str] = Counter()
    checked = 0
    for os_release, pkgs in imgs:
        r = matcher.match_packages(pkgs, os_release)
        states.update(r.stats.by_state)
        checked += r.stats.checked
    return time.perf_counter() - started, states, checked


DB = Path()


def main() -> None:
    global DB
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packages", type=int, default=100_000)
    ap.add_argument("--image-size", type=int, default=300)
    ap.add_argument("--share", type=float, default=0.2,
                    help="fraction of packages taken from the advisory data (the rest: fixture packages)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        DB = Path(tmp) / "vulndb.sqlite"
        build_s = build_index(DB)
        imgs = images(args.packages, args.image_size, args.share)
        n = sum(len(p) for _, p in imgs)
        distinct = len({(p.ecosystem, p.name, p.version) for _, ps in imgs for p in ps})
        with Matcher(DB) as m:
            cold_s, states, checked = run(m, imgs)
            load_s = m.index.stats.seconds
            warm_s, states_w, _ = run(m, imgs)
            m.forget()
            nomemo_s, states_n, _ = run(m, imgs)
            assert states == states_w == states_n, "the memo must not change any verdict"
            loaded = m.index.stats
    findings = sum(states.values())
    rows: list[tuple[str, float]] = [("cold (first pass, index loading included)", cold_s),
                                     ("warm (verdict memo filled)", warm_s),
                                     ("warm, memo dropped (index loaded and compiled)", nomemo_s)]
    print(f"Index: {len(SOURCES)} sources, built in {build_s:.2f} s; loaded on first use: {loaded.partitions} "
          f"partitions, {loaded.entries} entries, {loaded.advisories} advisories in {load_s:.3f} s.")
    print(f"Mix: --share {args.share} of the packages from the advisory data, the rest from the pkgdb fixtures.")
    print(f"Packages: {n} in {len(imgs)} images ({distinct} distinct ecosystem/name/version), {checked} with data "
          f"for their ecosystem/release; findings per pass: {findings} ({dict(sorted(states.items()))}).\n")
    print("| pass | seconds | packages/s |")
    print("|---|---:|---:|")
    for label, s in rows:
        print(f"| {label} | {s:.3f} | {n / s:,.0f} |")
    print(f"| index loading alone (inside cold) | {load_s:.3f} | |")
    if args.json:
        out: dict[str, Any] = {"packages": n, "images": len(imgs), "distinct": distinct, "findings": findings,
                               "build_s": build_s, "load_s": load_s, "cold_s": cold_s, "warm_s": warm_s,
                               "warm_nomemo_s": nomemo_s}
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
