"""Hostile and broken input: every case ends in a precise reason or a result marked partial, within a
stated memory bound, never a crash, a hang or memory that grows with the input.

What tests elsewhere already cover is not repeated here: corrupt/truncated gzip, ``../`` and absolute
entry names, hard links outside the root, gzip bombs, the entry limit, non-UTF-8 names in one layer and
arbitrary or mutated bytes (test_layers.py); jar bombs, nesting and entry limits, hostile ELF tables
(test_catalog_lang.py); arbitrary text and bytes for every cataloger (test_catalog_*.py). This file adds
generated streams of millions of entries and gigabytes, truncation at every offset, corrupt headers in
mid-layer, link loops and escapes in a real image, quadratic-time and alias-amplification inputs, and a
Hypothesis model of malformed tar streams. Big streams are generated while read, so the test itself
holds nothing the size of its input.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import re
import struct
import tarfile
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from propolis.scanner.adapters.layers import LayerContent, LayerLimits, read_layer, risky_mode
from propolis.scanner.adapters.sources import open_image
from propolis.scanner.catalogers import all_catalogers, rpm
from propolis.scanner.catalogers.interface import CatalogContext, CatalogOutput
from propolis.scanner.catalogue import Catalogue, catalogue_image
from propolis.scanner.domain import filesystem
from propolis.scanner.domain.filesystem import FileView
from tests.scanner.images import Hard, Link, layer_tar, write_oci_layout
from tests.scanner.test_catalog_lang import (
    MODINFO,
    POM,
    auditable_section,
    jar,
    make_elf,
    make_pointer_buildinfo_elf,
    pom_properties,
)
from tests.scanner.test_catalog_os import make_bdb, make_header, make_ndb, make_sqlite

MiB = 1024 * 1024
#: The bound the streaming tests hold the layer walk to (tracemalloc peak).
MEMORY_BOUND = 64 * MiB
T = TypeVar("T")


def peak(fn: Callable[[], T]) -> tuple[T, int]:
    """``fn()`` and the peak of Python memory allocated while it ran."""
    tracemalloc.start()
    try:
        return fn(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


class TinyEntries(io.RawIOBase):
    """An uncompressed tar stream of ``n`` empty regular files, produced while it is read."""

    def __init__(self, n: int) -> None:
        info = tarfile.TarInfo("f/0000000000")
        info.mode = 0o644
        self.header = bytearray(info.tobuf(format=tarfile.USTAR_FORMAT))
        self.header[148:156] = b" " * 8
        self.base = sum(self.header) - sum(b"f/0000000000")
        self.n, self.i, self.buf = n, 0, b""

    def readable(self) -> bool:
        return True

    def _entries(self, count: int) -> bytes:
        out = []
        for i in range(self.i, self.i + count):
            name = b"f/%010d" % i
            self.header[0:12] = name
            self.header[148:156] = b"%06o\0 " % (self.base + sum(name))
            out.append(bytes(self.header))
        self.i += count
        return b"".join(out)

    def readinto(self, b: Any) -> int:
        while len(self.buf) < len(b) and self.i <= self.n:
            if self.i < self.n:
                self.buf += self._entries(min(512, self.n - self.i))
            else:
                self.buf += b"\0" * 1024  # end-of-archive marker
                self.i += 1
        n = min(len(b), len(self.buf))
        b[:n] = self.buf[:n]
        self.buf = self.buf[n:]
        return n


class OneHugeFile(io.RawIOBase):
    """An uncompressed tar stream holding one regular file of ``size`` zero bytes, produced while read."""

    def __init__(self, name: str, size: int) -> None:
        info = tarfile.TarInfo(name)
        info.size = size
        self.head = info.tobuf(format=tarfile.GNU_FORMAT)
        self.left = size + (-size % 512) + 1024
        self.zeros = bytes(MiB)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.head:
            n = min(len(b), len(self.head))
            b[:n], self.head = self.head[:n], self.head[n:]
            return n
        n = min(len(b), self.left, len(self.zeros))
        b[:n] = self.zeros[:n]
        self.left -= n
        return n


def _nothing_wanted(path: str) -> int:
    return 0


def _conf(path: str) -> int:
    return 4096 if path.endswith(".conf") else 0


# --- streams: size, count, damage -------------------------------------------------------------


def test_many_tiny_entries_are_counted_in_bounded_memory() -> None:
    """300,000 empty files (1,000,000 take ~20 s without tracemalloc, ~55 s with it): every entry counted,
    memory flat. tarfile keeps each TarInfo it reads, which grew ~0.5 KiB per entry before the walk
    cleared that list: 140 MiB here, about 1 GiB at the 2-million entry limit."""
    n = 300_000
    out, used = peak(lambda: read_layer(TinyEntries(n), _nothing_wanted))
    assert out.entries == n and out.partial == [] and out.files == {}
    assert len(out.written) == 8 * n  # the 8-byte-per-entry key list is all that grows
    assert used < MEMORY_BOUND, f"peak {used / MiB:.1f} MiB"


def test_an_endless_stream_of_entries_stops_at_the_entry_limit() -> None:
    out = read_layer(TinyEntries(10**12), _nothing_wanted, limits=LayerLimits(max_entries=20_000))
    assert out.entries == 20_001 and out.partial == ["layer has more than 20000 entries; the rest was not read"]


def test_a_2_gib_file_nobody_wants_is_streamed_past_not_read() -> None:
    out, used = peak(lambda: read_layer(OneHugeFile("srv/data/blob.bin", 2 * 1024**3), _nothing_wanted))
    assert out.entries == 1 and out.partial == [] and out.files == {}
    assert out.uncompressed_bytes >= 2 * 1024**3
    assert used < MEMORY_BOUND, f"peak {used / MiB:.1f} MiB"


def test_an_endless_file_is_stopped_by_the_uncompressed_limit() -> None:
    out = read_layer(OneHugeFile("srv/x", 2**60), _nothing_wanted, limits=LayerLimits(max_uncompressed_bytes=32 * MiB))
    assert out.partial == [f"layer expands past {32 * MiB} bytes (decompression bomb?)"]


def test_a_wanted_file_over_its_cataloger_limit_makes_the_catalogue_partial(tmp_path: Path) -> None:
    """The file is skipped, not read; the catalogue says so (the reason used to stay in the layer walk)."""
    spec = "usr/local/bundle/specifications/rack-3.0.8.gemspec"  # the gemspec cataloger reads up to 1 MiB
    root = write_oci_layout(tmp_path / "oci", [{spec: b"#" * (MiB + 1), "etc/a.conf": b"x"}])
    cat = catalogue_image(open_image(str(root)))
    assert cat.partial and not cat.packages
    assert [i for i in cat.issues if spec in i] == [
        f"layer 0 ({cat.layers[0].digest}): {spec}: {MiB + 1} bytes is larger than its cataloger reads ({MiB}); "
        "not read"]


def test_skipped_entries_are_listed_a_bounded_number_of_times() -> None:
    """A layer of 50,000 entries escaping the root keeps 100 messages, not 50,000."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for i in range(50_000):
            t.addfile(tarfile.TarInfo(f"../escape/{i}"))
    out = read_layer(io.BytesIO(buf.getvalue()), _nothing_wanted)
    assert out.entries == 50_000 and len(out.skipped) == 101
    assert out.skipped[-1] == "further entries like these were not listed"


def _raw_layer() -> tuple[bytes, int]:
    """A small layer and the offset of its end-of-archive marker."""
    raw = layer_tar({"etc/a.conf": b"1" * 700, "etc/b.conf": b"2" * 10, "etc/c.conf": b""})
    with tarfile.open(fileobj=io.BytesIO(raw)) as t:
        end = max(m.offset_data + -(-m.size // 512) * 512 for m in t.getmembers())
    return raw, end


def test_a_layer_truncated_anywhere_is_partial() -> None:
    """Every cut before the end-of-archive marker is noticed. tarfile ends a stream silently at a missing
    or short header once past the first entry, so a cut between entries used to look complete."""
    raw, end = _raw_layer()
    for cut in range(0, end + 512, 64):
        out = read_layer(io.BytesIO(raw[:cut]), _conf)
        assert out.partial, f"cut at {cut} of {len(raw)} bytes went unnoticed"
        assert re.search(r"truncated|end of data|empty file", out.partial[0]), out.partial
    for cut in (end + 512, end + 1024, len(raw)):
        out = read_layer(io.BytesIO(raw[:cut]), _conf)
        assert out.partial == [] and set(out.files) == {"etc/a.conf", "etc/b.conf", "etc/c.conf"}


def test_a_corrupt_header_in_mid_layer_is_partial() -> None:
    """A damaged header past the first entry used to end the walk silently, dropping the rest of the layer."""
    raw, _ = _raw_layer()
    with tarfile.open(fileobj=io.BytesIO(raw)) as t:
        second_file = [m for m in t.getmembers() if m.isfile()][1]
    bad = bytearray(raw)
    bad[second_file.offset + 3] ^= 0xFF
    out = read_layer(io.BytesIO(bytes(bad)), _conf)
    assert set(out.files) == {"etc/a.conf"}
    assert out.partial == [f"layer is corrupt: invalid tar header at byte {second_file.offset} (bad checksum); "
                           "the rest was not read"]


@pytest.mark.parametrize(("blob", "reason"), [
    (lambda raw: gzip.compress(raw)[:-8] + b"\0" * 8, "CRC check failed"),
    (lambda raw: gzip.compress(raw) + b"trailing garbage", "Not a gzipped file"),
    (lambda raw: zstandard.ZstdCompressor().compress(b"\0" * (64 * MiB)), "decompression bomb"),
    (lambda raw: zstandard.ZstdCompressor().compress(raw)[:120], "truncated"),
    (lambda raw: b"\x28\xb5\x2f\xfd" + b"garbage" * 50, "zstd decompress error"),
], ids=["gzip-crc", "gzip-trailing-garbage", "zstd-bomb", "zstd-truncated", "zstd-garbage"])
def test_damaged_compression_is_partial(blob: Callable[[bytes], bytes], reason: str) -> None:
    raw = layer_tar({f"d/{i}.conf": bytes([i]) * 3000 for i in range(8)})
    out = read_layer(io.BytesIO(blob(raw)), _conf, limits=LayerLimits(max_uncompressed_bytes=16 * MiB))
    assert out.partial and reason in out.partial[0], out.partial


# --- paths: links that loop, escape or dangle; names that are not UTF-8 -------------------------------------


def _catalogue(tmp_path: Path, layers: list[dict[str, object]] | None = None,
               raw: list[bytes] | None = None) -> Catalogue:
    root = write_oci_layout(tmp_path / "oci", layers or [],
                            raw_layers=[gzip.compress(r, mtime=0) for r in raw] if raw else None)
    return catalogue_image(open_image(str(root)))


def _found(cat: Catalogue) -> dict[str, set[str]]:
    """Package name → every path it was found at (one package per file)."""
    found: dict[str, set[str]] = {}
    for p in cat.packages:
        found.setdefault(p.name, set()).update(loc.path for loc in p.locations)
    return found


def test_links_pointing_outside_the_root_resolve_inside_it(tmp_path: Path) -> None:
    """``..`` at the root stays at the root, as in a chroot; a name starting with a dot keeps its dot."""
    cat = _catalogue(tmp_path, [{
        ".deps/requirements.txt": b"flask==3.0.0\n",
        "srv/app/requirements.txt": Link("../../../../../../.deps/requirements.txt"),
        "srv/abs/requirements.txt": Link("/../../.deps/requirements.txt"),
    }])
    assert _found(cat) == {"flask": {".deps/requirements.txt", "srv/app/requirements.txt",
                                     "srv/abs/requirements.txt"}}
    assert not cat.partial, cat.issues


def test_symbolic_link_loops_are_reported_not_followed(tmp_path: Path) -> None:
    """Two links pointing at each other, a link to itself, a loop of directories and a chain longer
    than the hop limit: each is one issue naming the path, nothing recurses, the rest is read."""
    chain: dict[str, object] = {f"srv/chain/requirements-{i}.txt": Link(f"requirements-{i + 1}.txt") for i in range(45)}
    cat = _catalogue(tmp_path, [{
        "srv/ok/requirements.txt": b"click==8.1.7\n",
        "srv/app/requirements.txt": Link("requirements-dev.txt"),
        "srv/app/requirements-dev.txt": Link("requirements.txt"),
        "srv/self/requirements.txt": Link("requirements.txt"),
        "srv/x": Link("y"), "srv/y": Link("x"),
        "srv/dir/requirements.txt": Link("../x/requirements.txt"),
        **chain, "srv/chain/requirements-45.txt": b"rich==13.7.0\n",
    }])
    # Link i of the chain is 45 - i hops from the file: 40 hops are followed, more are a loop.
    assert _found(cat) == {"click": {"srv/ok/requirements.txt"},
                           "rich": {f"srv/chain/requirements-{i}.txt" for i in range(5, 46)}}
    loops = sorted(i.split(":")[0] for i in cat.issues if "more than 40 symbolic links (a loop?)" in i)
    assert {"srv/app/requirements-dev.txt", "srv/app/requirements.txt", "srv/dir/requirements.txt",
            "srv/self/requirements.txt", *(f"srv/chain/requirements-{i}.txt" for i in range(5))} <= set(loops)
    assert len(loops) == len(set(loops))  # once each, though every reader of the path resolves it
    assert not any("requirements-5.txt" in i or "srv/ok" in i for i in cat.issues)
    assert cat.partial


def test_hard_links_to_missing_targets_are_reported(tmp_path: Path) -> None:
    """A tar hard link names an earlier entry of its layer; one naming nothing there is reported. One whose
    target exists but is kept by no cataloger (a hard-linked executable without Go build info) is not."""
    cat = _catalogue(tmp_path, [{
        "srv/real/requirements.txt": b"flask==3.0.0\n",
        "srv/real/data.bin": b"\0" * 10,
        "srv/good/requirements.txt": Hard("srv/real/requirements.txt"),
        "srv/gone/requirements.txt": Hard("nowhere/requirements.txt"),
        "srv/unwanted/requirements.txt": Hard("srv/real/data.bin"),
    }, {"srv/later/requirements.txt": Hard("srv/real/requirements.txt")}])  # names a file of another layer
    assert _found(cat) == {"flask": {"srv/real/requirements.txt", "srv/good/requirements.txt",
                                     "srv/later/requirements.txt"}}
    problems = [i for i in cat.issues if "hard link" in i]
    assert problems == ["srv/gone/requirements.txt: hard link to nowhere/requirements.txt, which is not in its layer; "
                        "not read"]


def _latin1_layer(spec: dict[str, bytes | None]) -> bytes:
    """A GNU tar whose names are latin-1 bytes (not UTF-8); None makes a whiteout of the name."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT, encoding="latin-1") as t:
        for name, data in spec.items():
            head, _, base = name.rpartition("/")
            info = tarfile.TarInfo(name if data is not None else f"{head}/.wh.{base}")
            info.size = len(data or b"")
            t.addfile(info, io.BytesIO(data or b""))
    return buf.getvalue()


def test_non_utf8_names_reach_json_and_the_cache_encoding(tmp_path: Path) -> None:
    """Undecodable name bytes became lone surrogates, which JSON and msgpack refuse: the catalogue's
    output and the layer cache raised UnicodeEncodeError. They are now U+FFFD, the same in every layer."""
    site = "usr/lib/python3.11/site-packages"
    meta = b"Metadata-Version: 2.1\nName: cafe\nVersion: 1.0\n\n"
    first = _latin1_layer({f"{site}/caf\xe9-1.0.dist-info/METADATA": meta, f"{site}/d\xe9j\xe0-2.0.dist-info/METADATA":
                           meta.replace(b"cafe\nVersion: 1.0", b"deja\nVersion: 2.0")})
    content = read_layer(io.BytesIO(first), lambda p: 4096 if p.endswith("METADATA") else 0)
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(content), type=LayerContent) == content
    cat = _catalogue(tmp_path, raw=[first, _latin1_layer({f"{site}/d\xe9j\xe0-2.0.dist-info": None})])
    assert _found(cat) == {"cafe": {f"{site}/caf\ufffd-1.0.dist-info/METADATA"}}  # deja was whited out
    doc = json.loads(msgspec.json.encode(cat))
    assert doc["packages"][0]["locations"][0]["path"].endswith("caf\ufffd-1.0.dist-info/METADATA")


def test_many_whiteouts_over_many_links_take_linear_time() -> None:
    """Each whiteout used to scan the whole view: 20,000 of them over 20,000 links took 20 s."""
    view = FileView()
    view.apply(LayerContent(symlinks={f"usr/lib/x{i}.so": f"x{i}.so.1" for i in range(50_000)}), 0)
    started = time.perf_counter()
    view.apply(LayerContent(deleted={f"usr/share/doc/d{i}" for i in range(50_000)} | {"usr/lib/x7.so"}), 1)
    assert time.perf_counter() - started < 5
    assert len(view.symlinks) == 49_999 and "usr/lib/x7.so" not in view.symlinks


def test_links_and_whiteouts_per_layer_are_bounded() -> None:
    """Links and whiteouts are kept for the whole walk (~250 bytes each): a layer of millions of them is cut off."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for i in range(3000):
            link = tarfile.TarInfo(f"l/{i}")
            link.type, link.linkname = tarfile.SYMTYPE, "x"
            t.addfile(link)
            t.addfile(tarfile.TarInfo(f"w/.wh.{i}"))
    out = read_layer(io.BytesIO(buf.getvalue()), _nothing_wanted, limits=LayerLimits(max_links=1000))
    assert len(out.symlinks) + len(out.deleted) == 1000 and out.entries == 6000
    assert out.partial == ["more than 1000 links and whiteouts; the rest were not recorded"]


def test_the_view_holds_a_bounded_number_of_links_and_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each layer is bounded, so the view bounds what all layers add up to; a file over the budget is
    dropped with its older versions, so the view never passes an old version off as the final one."""
    monkeypatch.setattr(filesystem, "MAX_VIEW_BYTES", 1000)
    monkeypatch.setattr(filesystem, "MAX_VIEW_LINKS", 10)
    view = FileView()
    view.apply(LayerContent(files={"etc/a.conf": b"1" * 600}, symlinks={f"l/{i}": "x" for i in range(25)}), 0)
    assert len(view.symlinks) == 10 and view.resolve("etc/a.conf") is not None
    view.apply(LayerContent(files={"etc/a.conf": b"2" * 600, "etc/b.conf": b"3" * 300}), 1)
    assert view.resolve("etc/a.conf") is None and view.files["etc/b.conf"].content == b"3" * 300
    assert view.issues == ["more than 10 links in the image; the rest were not recorded",
                           "wanted files of all layers exceed 1000 bytes; the rest were not read"]


# --- catalogers: garbage, truncation, pathological sizes, amplification -----------------------------------------------

HEADERS = [make_header("bash", "5.1", "2"), make_header("zlib", "1.2.13", "3", vendor="v" * 3000)]
#: key → (cataloger, path, a valid file with packages in it).
SEEDS: dict[str, tuple[str, str, bytes]] = {
    "dpkg": ("dpkg", "var/lib/dpkg/status",
             b"Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\nArchitecture: amd64\n\n"
             b"Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\nArchitecture: amd64\n"),
    "apk": ("apk", "lib/apk/db/installed",
            b"P:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\n\nP:busybox\nV:1.36.1-r5\nA:x86_64\nL:GPL-2.0-only\n\n"),
    "rpm-sqlite": ("rpm", "var/lib/rpm/rpmdb.sqlite", make_sqlite(HEADERS)),
    "rpm-bdb": ("rpm", "var/lib/rpm/Packages", make_bdb(HEADERS)),
    "rpm-ndb": ("rpm", "usr/lib/sysimage/rpm/Packages.db", make_ndb(HEADERS)),
    "python-metadata": ("python-installed", "usr/lib/python3.11/site-packages/flask-3.0.0.dist-info/METADATA",
                        b"Metadata-Version: 2.1\nName: Flask\nVersion: 3.0.0\nLicense: BSD-3-Clause\n\nlong text\n"),
    "requirements": ("python-requirements", "app/requirements.txt",
                     b"flask==3.0.0\nrequests==2.31.0 ; python_version >= '3.8'\n"),
    "poetry": ("python-poetry", "app/poetry.lock",
               b'[[package]]\nname = "flask"\nversion = "3.0.0"\n\n[[package]]\nname = "click"\nversion = "8.1.7"\n'),
    "pipenv": ("python-pipenv", "app/Pipfile.lock", json.dumps(
        {"_meta": {}, "default": {"flask": {"version": "==3.0.0"}}, "develop": {"pytest": {"version": "==8.0.0"}}}
    ).encode()),
    "uv": ("python-uv", "app/uv.lock",
           b'version = 1\n\n[[package]]\nname = "flask"\nversion = "3.0.0"\n'
           b'source = { registry = "https://pypi.org/simple" }\n\n[[package]]\nname = "click"\nversion = "8.1.7"\n'
           b'source = { registry = "https://pypi.org/simple" }\n'),
    "package-json": ("npm-installed", "app/node_modules/left-pad/package.json",
                     b'{"name": "left-pad", "version": "1.3.0", "license": "WTFPL"}'),
    "package-lock": ("npm-lock", "app/package-lock.json", json.dumps(
        {"name": "app", "lockfileVersion": 3, "packages": {
            "": {"name": "app"}, "node_modules/left-pad": {"version": "1.3.0"},
            "node_modules/ms": {"version": "2.1.3"}}}
    ).encode()),
    "yarn-v1": ("yarn-lock", "app/yarn.lock",
                b'# yarn lockfile v1\n\n\nleft-pad@^1.3.0:\n  version "1.3.0"\n  resolved "https://r.example/l.tgz"\n\n'
                b'ms@^2.1.3:\n  version "2.1.3"\n'),
    "yarn-berry": ("yarn-lock", "app/yarn.lock",
                   b'__metadata:\n  version: 6\n\n"left-pad@npm:^1.3.0":\n  version: 1.3.0\n'
                   b'  resolution: "left-pad@npm:1.3.0"\n\n"ms@npm:^2.1.3":\n  version: 2.1.3\n'
                   b'  resolution: "ms@npm:2.1.3"\n'),
    "pnpm": ("pnpm-lock", "app/pnpm-lock.yaml",
             b"lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      ms:\n        specifier: ^2.1.3\n"
             b"        version: 2.1.3\npackages:\n  ms@2.1.3:\n    resolution: {integrity: sha512-x}\n"
             b"  left-pad@1.3.0:\n    resolution: {integrity: sha512-y}\n"
             b"snapshots:\n  ms@2.1.3: {}\n  left-pad@1.3.0: {}\n"),
    "go-mod": ("go-module", "app/go.mod",
               b"module example.com/app\n\ngo 1.21\n\nrequire (\n\tgithub.com/pkg/errors v0.9.1\n"
               b"\tgolang.org/x/sys v0.15.0 // indirect\n)\n"),
    "go-sum": ("go-module", "app/go.sum",
               b"github.com/pkg/errors v0.9.1 h1:abc=\ngithub.com/pkg/errors v0.9.1/go.mod h1:def=\n"),
    "go-binary": ("go-binary", "usr/bin/tool",
                  make_pointer_buildinfo_elf("go1.17.1", MODINFO, bits=64, big_endian=False)),
    "jar": ("java-archive", "app/app.jar", jar({**dict([pom_properties("org.example", "a", "1.0")]),
                                                "lib/in.jar": jar(dict([pom_properties("org.example", "b", "2.0")]))})),
    "pom": ("java-archive", "app/pom.xml", POM.encode()),
    "gemfile-lock": ("gemfile-lock", "app/Gemfile.lock",
                     b"GEM\n  remote: https://rubygems.org/\n  specs:\n    rack (3.0.8)\n    rake (13.1.0)\n\n"
                     b"PLATFORMS\n  ruby\n\nDEPENDENCIES\n  rack\n"),
    "gemspec": ("gemspec", "usr/local/bundle/specifications/rack-3.0.8.gemspec",
                b'Gem::Specification.new do |s|\n  s.name = "rack".freeze\n  s.version = "3.0.8"\nend\n'),
    "cargo-lock": ("cargo-lock", "app/Cargo.lock",
                   b'version = 3\n\n[[package]]\nname = "serde"\nversion = "1.0.193"\n'
                   b'source = "registry+https://github.com/rust-lang/crates.io-index"\n\n'
                   b'[[package]]\nname = "app"\nversion = "0.1.0"\n'),
    "cargo-auditable": ("cargo-auditable", "usr/bin/rtool", make_elf({".dep-v0": auditable_section(
        [{"name": "serde", "version": "1.0.193", "source": "crates.io"},
         {"name": "rtool", "version": "0.1.0", "source": "local", "root": True}])})),
    "composer-lock": ("composer", "app/composer.lock", json.dumps(
        {"packages": [{"name": "monolog/monolog", "version": "3.5.0", "license": ["MIT"]}],
         "packages-dev": [{"name": "phpunit/phpunit", "version": "10.5.0"}]}).encode()),
    "installed-json": ("composer", "app/vendor/composer/installed.json",
                       json.dumps({"packages": [{"name": "monolog/monolog", "version": "3.5.0"}]}).encode()),
}
CATALOGERS = {c.name: c for c in all_catalogers()}
#: Files that are not of the cataloger's kind are skipped without an issue, by design: every executable
#: goes to the Go and Rust binary catalogers, and a gemspec body without fields falls back to its file name.
SILENT_ON_GARBAGE = {"go-binary", "cargo-auditable", "gemspec"}
#: Formats with a mandatory end (JSON, zip, XML, the rpm databases): any cut is detectable.
TRUNCATION_DETECTED = {"rpm-sqlite", "rpm-bdb", "rpm-ndb", "pipenv", "package-json", "package-lock", "jar", "pom",
                       "composer-lock", "installed-json"}


def _catalog(key: str, data: bytes) -> CatalogOutput:
    name, path, _ = SEEDS[key]
    cat = CATALOGERS[name]
    assert cat.wants(path)
    out = cat.catalog({path: data}, CatalogContext())
    for issue in out.issues:
        assert issue.cataloger == name and issue.path.split("!")[0] == path and issue.message, issue
    return out


def _names(out: CatalogOutput) -> set[str]:
    return {p.name for p in out.packages}


def test_every_cataloger_is_exercised() -> None:
    assert {name for name, _, _ in SEEDS.values()} == set(CATALOGERS)


@pytest.mark.parametrize("key", sorted(SEEDS))
def test_seed_is_read(key: str) -> None:
    """The hostile variants below start from files each cataloger reads fully."""
    out = _catalog(key, SEEDS[key][2])
    assert out.packages and not out.issues


@pytest.mark.parametrize("key", sorted(SEEDS))
def test_garbage_and_binary_input_is_an_issue_naming_the_file(key: str) -> None:
    seed = SEEDS[key][2]
    rnd = random.Random(key)
    garbage = rnd.randbytes(4096)
    out = _catalog(key, garbage)
    assert not out.packages or SEEDS[key][0] == "gemspec"
    assert out.issues or SEEDS[key][0] in SILENT_ON_GARBAGE
    for data in (b"\0" * 4096, seed[: len(seed) // 2] + garbage + seed[len(seed) // 2:], seed + b"\xff\xfe" * 100):
        _catalog(key, data)  # no exception, every issue names the file


@pytest.mark.parametrize("key", sorted(SEEDS))
def test_truncated_input_is_partial_never_invented(key: str) -> None:
    seed = SEEDS[key][2]
    full = _names(_catalog(key, seed))
    for cut in (len(seed) // 3, len(seed) // 2, 2 * len(seed) // 3, len(seed) - 1):
        out = _catalog(key, seed[:cut])
        assert _names(out) <= full  # a cut file can lose packages, never invent a name
        if key in TRUNCATION_DETECTED and cut < len(seed) - 1:
            assert out.issues, f"{key} cut at {cut} of {len(seed)} gave no issue"


PATHOLOGICAL = [b" " * 256 * 1024, b"\t \n" * 80_000, b"a" * 256 * 1024, b"\n" * 256 * 1024, b"[" * 256 * 1024,
                b"{" * 256 * 1024, b"(" * 256 * 1024, b'"' * 256 * 1024, b"- " * 128 * 1024, b"\\" * 256 * 1024]


@pytest.mark.parametrize("key", sorted(SEEDS))
def test_pathological_large_inputs_finish_quickly(key: str) -> None:
    """256 KiB of one repeated character, alone and around a valid file. requirements.txt comments and
    options were matched with ``\\s+`` before a literal, which backtracks over every run of blanks:
    256 KiB of spaces took minutes (an 8 MiB file, its limit, days)."""
    seed = SEEDS[key][2]
    for data in [*PATHOLOGICAL, seed + b" " * 256 * 1024 + seed, seed * (256 * 1024 // len(seed))]:
        started = time.perf_counter()
        _catalog(key, data)
        assert time.perf_counter() - started < 5, f"{key}: {data[:8]!r}… took too long"


def _alias_bomb(kind: str, n: int = 3000) -> bytes:
    """n importers (or entries) aliasing one map of n dependencies: O(n) text, O(n²) when walked."""
    deps = "".join(f"    d{i}: 1.0.{i}\n" for i in range(n))
    if kind == "pnpm":
        importers = "".join(f"  i{i}: {{dependencies: *deps}}\n" for i in range(1, n))
        packages = "".join(f"  /d{i}@1.0.{i}: {{}}\n" for i in range(n))
        return (f"lockfileVersion: '6.0'\nbase:\n  dependencies: &deps\n{deps}importers:\n"
                f"  i0: {{dependencies: *deps}}\n{importers}packages:\n{packages}").encode()
    entries = "".join(f'"e{i}@npm:1":\n  version: 1.0.{i}\n  dependencies: *deps\n' for i in range(1, n))
    return (f'__metadata:\n  version: 6\n"e0@npm:1":\n  version: 1.0.0\n  dependencies: &deps\n'
            f"{deps}{entries}").encode()


@pytest.mark.parametrize("key", ["pnpm", "yarn-berry"])
def test_yaml_alias_amplification_is_refused(key: str) -> None:
    """pnpm and yarn never write anchors; a lock whose aliases multiply it was walked importers × deps
    times (3,000 × 3,000 here; 10,000 × 10,000 in a 700 KB file took minutes and gigabytes)."""
    started = time.perf_counter()
    out = _catalog(key, _alias_bomb("pnpm" if key == "pnpm" else "yarn"))
    assert time.perf_counter() - started < 5
    assert not out.packages and len(out.issues) == 1
    assert re.fullmatch(r"YAML aliases expand the document past \d+ values; not read", out.issues[0].message)


def test_rpm_ndb_slots_naming_one_package_are_read_once() -> None:
    """Every slot of a slot page pointing at one large blob re-read and re-checksummed it each time."""
    data = bytearray(make_ndb([make_header("bash", "5.1", "2", vendor="v" * 200_000)]))
    first = bytes(data[32:48])
    for off in range(48, 4096, 16):
        data[off:off + 16] = first
    out = _catalog("rpm-ndb", bytes(data))
    assert [(p.name, p.version) for p in out.packages] == [("bash", "5.1-2")]
    assert any("an earlier slot names the same package; skipped" in i.message for i in out.issues)


def test_rpm_bdb_items_sharing_an_overflow_chain_are_refused() -> None:
    """A second item pointing into another item's overflow pages would read them again (n items × chain)."""
    a, b = make_header("bash", "5.1", "2", vendor="v" * 2000), make_header("zlib", "1.2.13", "3")
    data = bytearray(make_bdb([a, b]))  # 512-byte pages: a's chain runs from page 2 over several pages
    room = 512 - rpm.BDB_PAGE_HEADER
    ref = bytes([rpm.H_OFFPAGE, 0, 0, 0]) + struct.pack("<II", 2 + -(-len(a) // room), len(b))
    at = bytes(data).index(ref)
    data[at + 4:at + 12] = struct.pack("<II", 3, len(a) - room)  # the rest of a's chain, from its 2nd page
    out = _catalog("rpm-bdb", bytes(data))
    assert [p.name for p in out.packages] == ["bash"]
    assert any("part of another item" in i.message for i in out.issues), out.issues


# --- Hypothesis: malformed tar streams and package-database texts -----------------------------------------

_PARTS = st.sampled_from(["etc", "a.conf", "..", ".", "", "usr", ".wh.a.conf", ".wh..wh..opq", "b\\c.conf",
                          "caf\udce9.conf", "x" * 110, "tmp", "f\x00g"])
_NAMES = st.tuples(st.sampled_from(["", "/", "./", "../"]), st.lists(_PARTS, min_size=1, max_size=4)).map(
    lambda t: t[0] + "/".join(t[1])) | st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
_ENTRY = st.tuples(_NAMES, st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE,
                                            tarfile.FIFOTYPE, tarfile.CHRTYPE, b"Z"]),
                   st.integers(0, 0o7777), _NAMES, st.integers(0, 1500))


def _stream(entries: list[tuple[str, bytes, int, str, int]], cut: int | None, compress: bool) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT, encoding="utf-8",
                      errors="surrogateescape") as t:
        for name, kind, mode, link, size in entries:
            info = tarfile.TarInfo(name)
            info.type, info.mode = kind, mode
            data = b""
            if kind == tarfile.REGTYPE:
                data = bytes([size % 251]) * size
                info.size = size
            elif kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = link
            t.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()[:cut] if cut is not None else buf.getvalue()
    return gzip.compress(raw, mtime=0) if compress else raw


def _normal(path: str) -> bool:
    return not path.startswith("/") and ".." not in path.split("/") and path.encode("utf-8") is not None


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers=st.lists(st.tuples(st.lists(_ENTRY, max_size=12), st.none() | st.integers(0, 20_000), st.booleans()),
                       min_size=1, max_size=3))
def test_generated_tar_streams_never_raise_and_stay_inside_the_root(
        layers: list[tuple[list[tuple[str, bytes, int, str, int]], int | None, bool]]) -> None:
    """Layers of odd names (escapes, whiteouts, NUL, surrogates), any entry type and mode, links anywhere,
    cut anywhere, plain or gzip: the walk, the view and the encodings the cache and output use all hold."""
    view = FileView()
    for index, (entries, cut, compress) in enumerate(layers):
        content = read_layer(io.BytesIO(_stream(entries, cut, compress)), _conf)
        recorded = [*content.files, *content.symlinks, *content.hardlinks, *content.hardlinks.values(),
                    *content.deleted, *(m.path for m in content.modes)]
        assert all(_normal(p) for p in recorded), recorded
        assert all(risky_mode(m.mode, m.kind) for m in content.modes)
        assert len(content.written) % 8 == 0
        if cut is None:
            assert content.partial == [], content.partial
        assert msgspec.msgpack.decode(msgspec.msgpack.encode(content), type=LayerContent) == content
        view.apply(content, index)
    for path in sorted(view.wanted_paths()):
        view.resolve(path)
    msgspec.json.encode(view.issues)


_TEXT_KEYS = sorted(k for k in SEEDS if k not in {"rpm-sqlite", "rpm-bdb", "rpm-ndb", "go-binary", "jar",
                                                  "cargo-auditable"})
_SPLICE = st.text(max_size=40) | st.sampled_from(["\n", "\n\n", " " * 300, "\t", '"', "'", "[", "]", "{", "}", ":",
                                                  "#", "==", "(", ")", "\\", "\r\n", "\ufeff", "\x00", "*a", "&a"])


@pytest.mark.parametrize("key", _TEXT_KEYS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 12), _SPLICE), min_size=1, max_size=5))
def test_spliced_package_database_texts_never_raise(key: str, edits: list[tuple[float, int, str]]) -> None:
    """Valid files with random text spliced in (and bits cut out) reach deeper parser states than random text."""
    text = SEEDS[key][2].decode()
    for where, drop, insert in edits:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + drop:]
    _catalog(key, text.encode("utf-8", "surrogatepass"))


def test_zlib_is_what_the_rpm_ndb_checksum_uses() -> None:
    """make_ndb's blobs carry an adler32 the reader checks, so the NDB tests above reach the slot logic."""
    data = make_ndb([HEADERS[0]])
    start = struct.unpack_from("<I", data, 40)[0] * 16
    length = struct.unpack_from("<I", data, 44)[0] * 16
    assert zlib.adler32(data[start:start + length - 12]) == struct.unpack_from("<I", data, start + length - 12)[0]
