"""Go, Rust, Ruby, PHP and Java catalogers: shared fixtures against their upstream expectations,
binaries and archives built here, malformed input, limits, and property tests (no input makes a
cataloger raise)."""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from propolis.scanner.catalogers import all_catalogers
from propolis.scanner.catalogers import golang as go_mod
from propolis.scanner.catalogers import java as java_mod
from propolis.scanner.catalogers import php as php_mod
from propolis.scanner.catalogers import ruby as ruby_mod
from propolis.scanner.catalogers import rust as rust_mod
from propolis.scanner.catalogers.golang import (
    BUILDINFO_MAGIC,
    BuildInfoError,
    GoBinaryCataloger,
    GoModuleCataloger,
    looks_like_executable_path,
    read_buildinfo,
)
from propolis.scanner.catalogers.interface import CatalogOutput
from propolis.scanner.catalogers.java import JavaCataloger
from propolis.scanner.catalogers.php import ComposerCataloger
from propolis.scanner.catalogers.ruby import GemfileLockCataloger, GemspecCataloger
from propolis.scanner.catalogers.rust import CargoAuditableCataloger, CargoLockCataloger
from propolis.scanner.domain.model import Package
from tests.scanner.fixtures import CTX, by_name, expected, nv, pkgdb, run

ALL = [*go_mod.CATALOGERS, *rust_mod.CATALOGERS, *ruby_mod.CATALOGERS, *php_mod.CATALOGERS, *java_mod.CATALOGERS]
BY_NAME = {c.name: c for c in ALL}


def test_discovered_with_unique_names() -> None:
    names = {c.name for c in all_catalogers()}
    assert {c.name for c in ALL} <= names
    assert len(BY_NAME) == len(ALL)


# ---------------------------------------------------------------------------------------------
# Shared fixtures: the exact package list the upstream test asserts

FIXTURES = [
    # (fixture under pkgdb/lang, cataloger, path in the image, purl type)
    ("go/trivy-gomod-normal/go.mod", "go-module", "src/app/go.mod", "golang"),
    ("go/trivy-gosum-many/go.sum", "go-module", "src/app/go.sum", "golang"),
    ("cargo/trivy-normal/Cargo.lock", "cargo-lock", "usr/src/normal/Cargo.lock", "cargo"),
    ("cargo/trivy-v3/Cargo.lock", "cargo-lock", "usr/src/app/Cargo.lock", "cargo"),
    ("gems/syft-rails41/Gemfile.lock", "gemfile-lock", "srv/rails/Gemfile.lock", "gem"),
    ("gems/trivy-bundler2/Gemfile.lock", "gemfile-lock", "app/Gemfile.lock", "gem"),
    ("gems/trivy-normal/Gemfile.lock", "gemfile-lock", "app/Gemfile.lock", "gem"),
    (
        "gems/syft-specifications/bundler.gemspec",
        "gemspec",
        "usr/local/lib/ruby/gems/2.7.0/specifications/bundler-2.1.4.gemspec",
        "gem",
    ),
    (
        "gems/syft-specifications/formatador.gemspec",
        "gemspec",
        "usr/local/bundle/specifications/formatador-1.1.0.gemspec",
        "gem",
    ),
    ("composer/trivy-happy/composer.lock", "composer", "var/www/html/composer.lock", "composer"),
    ("maven/trivy-happy/pom.xml", "java-archive", "usr/src/happy/pom.xml", "maven"),
]


def _fields(pkg: Package, keys: list[str]) -> tuple[Any, ...]:
    return tuple(getattr(pkg, k) for k in keys)


@pytest.mark.parametrize(("fixture", "cataloger", "image_path", "purl_type"), FIXTURES, ids=[f[0] for f in FIXTURES])
def test_fixture_matches_upstream_expectation(fixture: str, cataloger: str, image_path: str, purl_type: str) -> None:
    path = pkgdb("lang", *fixture.split("/"))
    exp = expected(path)
    out = run(BY_NAME[cataloger], image_path, path.read_bytes())
    assert out.issues == []
    keys = sorted({k for p in exp["packages"] for k in p})
    want = sorted(tuple("" if p.get(k) is None else p[k] for k in keys) for p in exp["packages"])
    got = sorted(_fields(p, keys) for p in out.packages)
    assert got == want
    assert len(out.packages) == exp["package_count"]
    for pkg in out.packages:
        assert pkg.ecosystem == purl_type
        assert pkg.purl.startswith(f"pkg:{purl_type}/")
        assert [loc.path for loc in pkg.locations] == [image_path]


def test_go_mod_details() -> None:
    path = pkgdb("lang", "go", "trivy-gomod-normal", "go.mod")
    pkgs = by_name(run(GoModuleCataloger(), "src/app/go.mod", path.read_bytes()))
    assert pkgs["github.com/org/repo"].purl == "pkg:golang/github.com/org/repo"
    assert pkgs["github.com/org/repo"].metadata == {"main": True}
    assert pkgs["github.com/aquasecurity/go-version"].metadata == {}
    assert pkgs["github.com/stretchr/testify"].metadata == {"indirect": True}
    assert pkgs["github.com/stretchr/testify"].purl == "pkg:golang/github.com/stretchr/testify@v1.9.0"
    assert pkgs["stdlib"].purl == "pkg:golang/stdlib@v1.22.5"


def test_go_mod_with_its_go_sum_is_the_go_mod_list() -> None:
    folder = pkgdb("lang", "go", "trivy-gomod-normal")
    exp = expected(folder / "go.mod")
    cat = GoModuleCataloger()
    files = {f"app/{n}": (folder / n).read_bytes() for n in ("go.mod", "go.sum")}
    assert all(cat.wants(p) for p in files)
    out = cat.catalog(files, CTX)
    assert out.issues == []
    assert nv(out) == sorted((p["name"], p["version"] or "") for p in exp["packages"])


def test_go_sum_supplements_a_pre_1_17_go_mod() -> None:
    gomod = "module example.com/old\n\ngo 1.16\n\nrequire github.com/pkg/errors v0.9.1\n"
    gosum = (
        "github.com/pkg/errors v0.9.1 h1:FEBLx1zS214owpjy7qsBeixbURkuhQAwrK5UwLGTwt4=\n"
        "github.com/pkg/errors v0.9.1/go.mod h1:bwawxfHBFNV+L2hUp1rHADufV3IMtnDRdf1r5NINEl0=\n"
        "golang.org/x/sys v0.1.0/go.mod h1:oPkhp1MJrh7nUepCBck5+mAzfO9JrbApNNgaTdGDITg=\n"
        "golang.org/x/text v0.3.7 h1:olpwvP2KacW1ZWvsR7uQhoyTYvKAupfQrRGBFM352Gk=\n"
    )
    out = GoModuleCataloger().catalog({"src/go.mod": gomod.encode(), "src/go.sum": gosum.encode()}, CTX)
    assert out.issues == []
    pkgs = {(p.name, p.version): p for p in out.packages}
    assert set(pkgs) == {
        ("example.com/old", ""),
        ("github.com/pkg/errors", "v0.9.1"),
        ("golang.org/x/sys", "v0.1.0"),
        ("golang.org/x/text", "v0.3.7"),
        ("stdlib", "v1.16"),
    }
    assert pkgs[("golang.org/x/sys", "v0.1.0")].metadata == {"go_mod_only": True}
    assert pkgs[("golang.org/x/sys", "v0.1.0")].locations[0].path == "src/go.sum"
    assert pkgs[("stdlib", "v1.16")].metadata == {"from": "go", "min_version": True}


def test_go_mod_replace_and_syntax() -> None:
    gomod = """// a comment
module "example.com/app" // quoted path

go 1.21

require (
	github.com/a/one v1.0.0
	github.com/b/two v2.0.0+incompatible // indirect
	github.com/c/three v0.1.0
	github.com/d/four v1.2.3
)
require `github.com/e/five` v1.5.0

replace github.com/a/one => github.com/fork/one v1.0.1
replace github.com/c/three v0.0.9 => github.com/fork/three v0.2.0
replace (
	github.com/d/four => ../four
)
exclude github.com/a/one v0.9.0
retract [v1.0.0, v1.0.5]
"""
    out = run(GoModuleCataloger(), "go/src/app/go.mod", gomod)
    assert out.issues == []
    pkgs = by_name(out)
    assert nv(out) == [
        ("example.com/app", ""),
        ("github.com/b/two", "v2.0.0+incompatible"),
        ("github.com/c/three", "v0.1.0"),
        ("github.com/d/four", ""),
        ("github.com/e/five", "v1.5.0"),
        ("github.com/fork/one", "v1.0.1"),
        ("stdlib", "v1.21"),
    ]
    assert pkgs["github.com/fork/one"].metadata == {"replaces": "github.com/a/one@v1.0.0"}
    assert pkgs["github.com/d/four"].metadata == {"replaced_by": "../four", "replaced_version": "v1.2.3"}
    assert pkgs["github.com/b/two"].metadata == {"indirect": True}


def test_go_mod_malformed_lines_are_issues_and_the_rest_is_read() -> None:
    gomod = "module example.com/x\nrequire github.com/a/b\nrequire github.com/c/d v1.0.0\nreplace x y\nrequire (\n"
    out = run(GoModuleCataloger(), "app/go.mod", gomod)
    assert ("github.com/c/d", "v1.0.0") in nv(out)
    messages = [i.message for i in out.issues]
    assert "go.mod line 2: require needs a module path and a version" in messages
    assert "go.mod line 4: replace has no '=>'" in messages
    assert "go.mod 'require (' block is not closed before the end of the file" in messages
    assert {i.cataloger for i in out.issues} == {"go-module"}
    assert {i.path for i in out.issues} == {"app/go.mod"}


def test_go_sum_malformed_line() -> None:
    out = run(GoModuleCataloger(), "app/go.sum", "github.com/a/b v1.0.0 h1:abc=\nnot a go.sum line at all\n")
    assert nv(out) == [("github.com/a/b", "v1.0.0")]
    assert [i.message for i in out.issues] == ["go.sum line 2: expected 'module version hash'"]


def test_go_module_wants() -> None:
    cat = GoModuleCataloger()
    assert cat.wants("go.mod") and cat.wants("src/app/go.sum")
    assert not cat.wants("root/go/pkg/mod/github.com/a/b@v1.0.0/go.mod")
    assert not cat.wants("usr/local/go/src/go.mod")
    assert not cat.wants("usr/lib/go-1.19/src/cmd/go.mod")
    assert not cat.wants("src/app/go.mod.bak")


# ---------------------------------------------------------------------------------------------
# Go binaries


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


SENTINEL_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
SENTINEL_END = bytes.fromhex("f932433186182072008242104116d8f2")

MODINFO = (
    "path\texample.com/tool/cmd/tool\n"
    "mod\texample.com/tool\tv1.4.2\th1:main=\n"
    "dep\tgithub.com/spf13/cobra\tv1.8.0\th1:cobra=\n"
    "dep\tgolang.org/x/net\tv0.10.0\th1:old=\n"
    "=>\tgithub.com/fork/net\tv0.10.1\th1:fork=\n"
    "dep\texample.com/internal/lib\tv0.0.0\n"
    "=>\t../lib\t\n"
    "build\t-compiler=gc\n"
    'build\t-ldflags="-s -w"\n'
    "build\tvcs.revision=0123456789abcdef\n"
)


def inline_buildinfo(go_version: str = "go1.21.6", modinfo: str = MODINFO) -> bytes:
    mod = SENTINEL_START + modinfo.encode() + SENTINEL_END
    header = BUILDINFO_MAGIC + bytes([8, 0x02]) + b"\x00" * 16
    v = go_version.encode()
    return header + _uvarint(len(v)) + v + _uvarint(len(mod)) + mod


def _check_synthetic(out: CatalogOutput, path: str, go_version: str = "go1.21.6") -> None:
    assert out.issues == []
    pkgs = by_name(out)
    assert nv(out) == [
        ("example.com/internal/lib", ""),
        ("example.com/tool", "v1.4.2"),
        ("github.com/fork/net", "v0.10.1"),
        ("github.com/spf13/cobra", "v1.8.0"),
        ("stdlib", "v" + go_version[2:]),
    ]
    main = pkgs["example.com/tool"]
    assert main.purl == "pkg:golang/example.com/tool@v1.4.2"
    assert main.metadata["main"] is True
    assert main.metadata["go_version"] == go_version
    assert main.metadata["build_settings"]["-ldflags"] == "-s -w"
    assert main.metadata["build_settings"]["vcs.revision"] == "0123456789abcdef"
    assert pkgs["github.com/fork/net"].metadata["replaces"] == "golang.org/x/net@v0.10.0"
    assert pkgs["github.com/fork/net"].purl == "pkg:golang/github.com/fork/net@v0.10.1"
    assert pkgs["example.com/internal/lib"].metadata["replaced_by"] == "../lib"
    assert pkgs["stdlib"].purl == f"pkg:golang/stdlib@v{go_version[2:]}"
    assert all(p.locations[0].path == path for p in out.packages)


def test_go_inline_buildinfo_without_elf() -> None:
    blob = b"MZ" + b"\x90" * 62 + b"junk" * 100 + inline_buildinfo() + b"\x00" * 64
    info = read_buildinfo(blob)
    assert info is not None and info.go_version == "go1.21.6" and info.path == "example.com/tool/cmd/tool"
    _check_synthetic(run(GoBinaryCataloger(), "usr/local/bin/tool", blob), "usr/local/bin/tool")


def test_go_inline_buildinfo_in_elf_section() -> None:
    elf = make_elf({".go.buildinfo": inline_buildinfo("go1.22.1")})
    _check_synthetic(run(GoBinaryCataloger(), "app/tool", elf), "app/tool", "go1.22.1")


@pytest.mark.parametrize(("bits", "big_endian"), [(64, False), (32, True)])
def test_go_pointer_buildinfo_pre_1_18(bits: int, big_endian: bool) -> None:
    """Go 1.13–1.17: the header points at two Go string headers, resolved through PT_LOAD."""
    elf = make_pointer_buildinfo_elf("go1.16.15", MODINFO, bits=bits, big_endian=big_endian)
    _check_synthetic(run(GoBinaryCataloger(), "bin/tool", elf), "bin/tool", "go1.16.15")


def test_go_pointer_buildinfo_outside_elf_is_an_issue() -> None:
    blob = b"MZ" + b"\x00" * 14 + BUILDINFO_MAGIC + bytes([8, 0]) + struct.pack("<QQ", 0x1000, 0x2000) + b"\x00" * 64
    out = run(GoBinaryCataloger(), "usr/bin/tool", blob)
    assert out.packages == []
    assert [i.message for i in out.issues] == [
        "Go build information: pre-1.18 build information uses pointers, which are only resolved in ELF files"
    ]


def test_go_buildinfo_truncated_is_an_issue() -> None:
    blob = b"\x7fELF" + b"\x00" * 12 + inline_buildinfo()[:60]
    out = run(GoBinaryCataloger(), "usr/bin/tool", blob)
    assert out.packages == []
    assert len(out.issues) == 1
    assert out.issues[0].message.startswith("Go build information: ")
    with pytest.raises(BuildInfoError):
        read_buildinfo(blob)


def test_go_binary_skips_programs_without_buildinfo() -> None:
    out = GoBinaryCataloger().catalog(
        {"usr/bin/cprog": make_elf({".text": b"\x90" * 64}), "usr/bin/script": b"#!/bin/sh\necho hi\n"}, CTX
    )
    assert out.packages == [] and out.issues == []


def test_go_modinfo_bad_line_is_an_issue_and_the_rest_is_read() -> None:
    modinfo = "path\tx\n=>\torphan\tv1\nmod\texample.com/x\tv1.0.0\t\n=>\t\n"
    modinfo += "dep\tgithub.com/a/b\tv1.2.0\th1:x=\ndep\tonly-a-path\nbuild\tGOOS=linux\n"
    out = run(GoBinaryCataloger(), "bin/x", b"MZ" + b"\x00" * 14 + inline_buildinfo("go1.20.1", modinfo))
    assert nv(out) == [("example.com/x", "v1.0.0"), ("github.com/a/b", "v1.2.0"), ("stdlib", "v1.20.1")]
    assert [i.message for i in out.issues] == [
        "Go build information: module information line 2: replacement without a module before it",
        "Go build information: module information line 4: replacement has no module path",
        "Go build information: module information line 6: 'dep' needs a path and a version",
    ]


def test_go_devel_main_module_has_no_version() -> None:
    modinfo = "path\tcmd/x\nmod\texample.com/x\t(devel)\t\n"
    out = run(GoBinaryCataloger(), "x", b"MZ" + b"\x00" * 14 + inline_buildinfo("go1.20", modinfo))
    assert nv(out) == [("example.com/x", ""), ("stdlib", "v1.20")]
    assert by_name(out)["example.com/x"].purl == "pkg:golang/example.com/x"


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("usr/bin/kubectl", True),
        ("usr/local/bin/helm", True),
        ("bin/busybox", True),
        ("sbin/init", True),
        ("usr/sbin/nginx", True),
        ("root/go/bin/dlv", True),
        ("go/bin/app", True),
        ("opt/tool/bin/tool-1.2", True),
        ("app/server", True),
        ("opt/vendor/agent", True),
        ("ko-app/controller", True),
        ("manager", True),
        ("usr/bin/script.sh", False),
        ("usr/bin/tool.py", False),
        ("app/config.yaml", False),
        ("app/main.go", False),
        ("usr/lib/x86_64-linux-gnu/libc.so.6", False),
        ("etc/passwd", False),
        ("usr/share/doc/readme", False),
        ("config.json", False),
        ("", False),
        ("usr/bin/", False),
    ],
)
def test_executable_path_rule(path: str, wanted: bool) -> None:
    assert looks_like_executable_path(path) is wanted
    assert GoBinaryCataloger().wants(path) is wanted
    assert CargoAuditableCataloger().wants(path) is wanted


def _go_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GO")}


def test_go_binary_built_with_go(tmp_path: Path) -> None:
    go = shutil.which("go")
    if go is None:
        msg = "the go toolchain is not installed (`make system-deps` installs golang-go)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + " and CI=true requires it")
        pytest.skip(msg)
    src = tmp_path / "src"
    (src / "greet").mkdir(parents=True)
    # A dependency replaced by a local folder: the only kind of dependency that builds offline.
    (src / "greet" / "go.mod").write_text("module example.com/greet\n\ngo 1.18\n")
    (src / "greet" / "greet.go").write_text('package greet\n\nfunc Hello() string { return "hello" }\n')
    (src / "go.mod").write_text(
        "module example.com/hello\n\ngo 1.18\n\n"
        "require example.com/greet v0.0.0\n\nreplace example.com/greet => ./greet\n"
    )
    (src / "main.go").write_text(
        'package main\n\nimport "example.com/greet"\n\nfunc main() { println(greet.Hello()) }\n'
    )
    env = {
        **_go_env(),
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "GO111MODULE": "on",
        "CGO_ENABLED": "0",
        "GOCACHE": str(tmp_path / "cache"),
        "GOPATH": str(tmp_path / "gopath"),
        "HOME": str(tmp_path),
    }
    version = subprocess.run([go, "env", "GOVERSION"], env=env, capture_output=True, text=True, check=True)
    go_version = version.stdout.strip()
    build = subprocess.run(
        [go, "build", "-o", str(tmp_path / "hello"), "."], cwd=src, env=env, capture_output=True, text=True
    )
    assert build.returncode == 0, build.stderr
    data = (tmp_path / "hello").read_bytes()
    assert data.startswith(b"\x7fELF")
    out = run(GoBinaryCataloger(), "usr/local/bin/hello", data)
    assert out.issues == []
    pkgs = by_name(out)
    assert set(pkgs) == {"example.com/hello", "example.com/greet", "stdlib"}
    assert pkgs["example.com/greet"].version == ""
    assert pkgs["example.com/greet"].metadata["replaced_by"] == "./greet"
    assert pkgs["example.com/greet"].metadata["replaced_version"] == "v0.0.0"
    main = pkgs["example.com/hello"]
    assert main.metadata["main"] is True
    assert main.metadata["go_version"] == go_version
    assert main.metadata["build_settings"]["CGO_ENABLED"] == "0"
    assert main.purl.startswith("pkg:golang/example.com/hello")
    assert pkgs["stdlib"].version == go_mod.stdlib_version(go_version)
    assert pkgs["stdlib"].version.startswith("v1.")
    # Without the section headers the magic scan finds the same header.
    stripped = _drop_section_headers(data)
    again = by_name(run(GoBinaryCataloger(), "usr/local/bin/hello", stripped))
    assert set(again) == set(pkgs)


def _drop_section_headers(elf: bytes) -> bytes:
    """An ELF64 LE file whose section header table is gone (as after some packers)."""
    out = bytearray(elf)
    struct.pack_into("<Q", out, 0x28, 0)  # e_shoff
    struct.pack_into("<HHH", out, 0x3A, 0, 0, 0)  # e_shentsize, e_shnum, e_shstrndx
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# Minimal ELF files built for the tests


def make_elf(
    sections: dict[str, bytes],
    *,
    bits: int = 64,
    big_endian: bool = False,
    base: int = 0x400000,
    raw: bytes = b"",
    raw_offset: int = 0x100,
) -> bytes:
    """An ELF file with one PT_LOAD segment mapping the whole file at ``base`` and the named sections.

    ``raw`` is placed at ``raw_offset`` (for content addressed by virtual address).
    """
    e = ">" if big_endian else "<"
    is64 = bits == 64
    ehsize, phentsize, shentsize = (64, 56, 64) if is64 else (52, 32, 40)
    body = bytearray(b"\x00" * raw_offset)
    body[raw_offset:] = raw
    names = b"\x00.shstrtab\x00"
    placed: list[tuple[int, int, int]] = []  # (name offset, file offset, size)
    for name, content in sections.items():
        while len(body) % 16:
            body.append(0)
        name_off = len(names)
        names += name.encode() + b"\x00"
        placed.append((name_off, len(body), len(content)))
        body += content
    shstr_off = len(body)
    body += names
    while len(body) % 8:
        body.append(0)
    shoff = len(body)
    shnum = len(placed) + 2

    def shdr(name: int, typ: int, flags: int, addr: int, off: int, size: int) -> bytes:
        if is64:
            return struct.pack(e + "IIQQQQIIQQ", name, typ, flags, addr, off, size, 0, 0, 16, 0)
        return struct.pack(e + "IIIIIIIIII", name, typ, flags, addr, off, size, 0, 0, 16, 0)

    table = shdr(0, 0, 0, 0, 0, 0)
    for name_off, off, size in placed:
        table += shdr(name_off, 1, 3, base + off, off, size)
    table += shdr(1, 3, 0, 0, shstr_off, len(names))
    body += table
    total = len(body)
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 2 if big_endian else 1, 1]) + b"\x00" * 9
    machine = 62 if is64 else 8
    tail = (ehsize, phentsize, 1, shentsize, shnum, shnum - 1)
    if is64:
        header = ident + struct.pack(e + "HHIQQQI6H", 2, machine, 1, base, ehsize, shoff, 0, *tail)
        phdr = struct.pack(e + "IIQQQQQQ", 1, 5, 0, base, base, total, total, 0x1000)
    else:
        header = ident + struct.pack(e + "HHIIIII6H", 2, machine, 1, base, ehsize, shoff, 0, *tail)
        phdr = struct.pack(e + "IIIIIIII", 1, 0, base, base, total, total, 5, 0x1000)
    body[0 : len(header) + len(phdr)] = header + phdr
    return bytes(body)


def make_pointer_buildinfo_elf(go_version: str, modinfo: str, *, bits: int, big_endian: bool) -> bytes:
    """The pre-1.18 layout: magic, pointer size, endianness, then pointers to two string headers."""
    base = 0x10000
    offset = 0x100
    e = ">" if big_endian else "<"
    ptr = "Q" if bits == 64 else "I"
    psize = bits // 8
    mod = SENTINEL_START + modinfo.encode() + SENTINEL_END
    version = go_version.encode()
    # Layout after the 32-byte header: two string headers, then the string bytes.
    headers_at = offset + 32
    version_at = headers_at + 4 * psize
    mod_at = version_at + len(version)
    header = BUILDINFO_MAGIC + bytes([psize, 1 if big_endian else 0])
    header += struct.pack(e + ptr + ptr, base + headers_at, base + headers_at + 2 * psize)
    header = header.ljust(32, b"\x00")
    strings = struct.pack(e + 4 * ptr, base + version_at, len(version), base + mod_at, len(mod))
    raw = header + strings + version + mod
    return make_elf({}, bits=bits, big_endian=big_endian, base=base, raw=raw, raw_offset=offset)


# ---------------------------------------------------------------------------------------------
# Rust


def test_cargo_lock_v1_checksums_and_sources() -> None:
    path = pkgdb("lang", "cargo", "trivy-normal", "Cargo.lock")
    pkgs = by_name(run(CargoLockCataloger(), "app/Cargo.lock", path.read_bytes()))
    assert pkgs["libc"].metadata == {
        "source": "registry+https://github.com/rust-lang/crates.io-index",
        "checksum": "c6785aa7dd976f5fbf3b71cfd9cd49d7f783c1ff565a858d71031c6c313aa5c6",
    }
    assert pkgs["normal"].metadata == {}
    assert pkgs["libc"].purl == "pkg:cargo/libc@0.2.54"


def test_cargo_lock_malformed() -> None:
    out = run(CargoLockCataloger(), "app/Cargo.lock", '[[package]]\nname = "a"\nversion = \n')
    assert out.packages == []
    assert len(out.issues) == 1 and out.issues[0].message.startswith("Cargo.lock is not valid TOML: ")
    out = run(CargoLockCataloger(), "app/Cargo.lock", '[[package]]\nname = "a"\n\n[[package]]\nname="b"\nversion="1"\n')
    assert nv(out) == [("b", "1")]
    assert [i.message for i in out.issues] == ["Cargo.lock package #1 has no name or version"]


def auditable_section(packages: list[dict[str, Any]]) -> bytes:
    return zlib.compress(json.dumps({"packages": packages}).encode())


def test_cargo_auditable_binary() -> None:
    section = auditable_section(
        [
            {"name": "myapp", "version": "0.3.0", "source": "local", "dependencies": [1, 2], "root": True},
            {"name": "serde", "version": "1.0.197", "source": "crates.io"},
            {"name": "cc", "version": "1.0.90", "source": "crates.io", "kind": "build"},
        ]
    )
    elf = make_elf({".text": b"\x90" * 32, ".dep-v0": section})
    out = run(CargoAuditableCataloger(), "usr/local/bin/myapp", elf)
    assert out.issues == []
    pkgs = by_name(out)
    assert nv(out) == [("cc", "1.0.90"), ("myapp", "0.3.0"), ("serde", "1.0.197")]
    assert pkgs["myapp"].metadata == {"source": "local", "root": True}
    assert pkgs["cc"].metadata == {"source": "crates.io", "kind": "build"}
    assert pkgs["serde"].purl == "pkg:cargo/serde@1.0.197"
    assert pkgs["serde"].locations[0].path == "usr/local/bin/myapp"


def test_cargo_auditable_damaged_section() -> None:
    out = run(CargoAuditableCataloger(), "bin/x", make_elf({".dep-v0": b"not zlib at all"}))
    assert out.packages == []
    assert len(out.issues) == 1 and out.issues[0].message.startswith(".dep-v0 is not zlib data: ")


def test_cargo_auditable_inflation_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rust_mod, "MAX_AUDIT_JSON", 1024)
    bomb = zlib.compress(b"[" + b" " * 100_000 + b"]")
    out = run(CargoAuditableCataloger(), "bin/x", make_elf({".dep-v0": bomb}))
    assert out.packages == []
    assert [i.message for i in out.issues] == [".dep-v0 inflates to more than 1024 bytes; not read"]


def _hostile_variants(elf: bytes) -> list[bytes]:
    """ELF64 LE files with damaged or implausible section tables (followed by NUL-less bytes)."""
    shoff = struct.unpack_from("<Q", elf, 0x28)[0]
    shstrndx = struct.unpack_from("<H", elf, 0x3E)[0]
    extended = bytearray(elf)
    struct.pack_into("<H", extended, 0x3C, 0)  # e_shnum 0: the count would come from section 0
    struct.pack_into("<Q", extended, shoff + 32, 1 << 40)  # ... which claims 2**40 sections
    names_outside = bytearray(elf)
    struct.pack_into("<Q", names_outside, shoff + shstrndx * 64 + 32, 1)  # name table of one NUL byte
    past_eof = bytearray(elf)
    struct.pack_into("<Q", past_eof, 0x28, len(elf) - 16)
    padding = b"\xff" * (1024 * 1024)  # no NUL for a name read to stop at
    return [bytes(v) + padding for v in (extended, names_outside, past_eof)]


def test_hostile_elf_section_tables_are_not_walked() -> None:
    section = auditable_section([{"name": "serde", "version": "1.0.0"}])
    elf = make_elf({".dep-v0": section, ".go.buildinfo": inline_buildinfo()})
    assert go_mod.elf_sanity(elf) == go_mod.ElfSanity(segments=True, sections=True)
    for hostile in _hostile_variants(elf):
        assert go_mod.elf_sanity(hostile).sections is False
        out = run(CargoAuditableCataloger(), "usr/bin/x", hostile)
        assert out.packages == []
        assert [i.message for i in out.issues] == [
            "ELF file unreadable: ValueError: section header table is damaged or implausibly large"
        ]
        # The Go build information is still found by scanning for its header.
        assert ("github.com/spf13/cobra", "v1.8.0") in nv(run(GoBinaryCataloger(), "usr/bin/x", hostile))


# ---------------------------------------------------------------------------------------------
# Ruby


def test_gemspec_license_and_stub_fallback() -> None:
    path = pkgdb("lang", "gems", "syft-specifications", "bundler.gemspec")
    pkg = run(GemspecCataloger(), "usr/local/bundle/specifications/bundler-2.1.4.gemspec", path.read_bytes())
    assert pkg.packages[0].licenses == ["MIT"]
    assert pkg.packages[0].purl == "pkg:gem/bundler@2.1.4"
    stub_only = "# -*- encoding: utf-8 -*-\n# stub: rake 13.0.6 ruby lib\n\nGem::Specification.new do |s|\nend\n"
    out = run(GemspecCataloger(), "var/lib/gems/3.1.0/specifications/default/rake-13.0.6.gemspec", stub_only)
    assert nv(out) == [("rake", "13.0.6")]
    spec = 'Gem::Specification.new do |spec|\n  spec.name = "nokogiri"\n  spec.version = "1.15.4"\n'
    spec += '  spec.license = "MIT"\nend\n'
    out = run(GemspecCataloger(), "gems/specifications/nokogiri-1.15.4-x86_64-linux.gemspec", spec)
    assert nv(out) == [("nokogiri", "1.15.4")] and out.packages[0].licenses == ["MIT"]


def test_gemspec_unreadable() -> None:
    out = run(GemspecCataloger(), "gems/specifications/weird.gemspec", "Gem::Specification.load(File.read(x))\n")
    assert out.packages == []
    assert [i.message for i in out.issues] == ["gemspec has no readable name and version"]
    assert not GemspecCataloger().wants("src/mygem/mygem.gemspec")


def test_gemfile_lock_platforms_and_direct() -> None:
    lock = """GEM
  remote: https://rubygems.org/
  specs:
    nokogiri (1.15.4-x86_64-linux)
      racc (~> 1.4)
    nokogiri (1.15.4-arm64-darwin)
      racc (~> 1.4)
    racc (1.7.1)

PLATFORMS
  arm64-darwin
  x86_64-linux

DEPENDENCIES
  nokogiri

BUNDLED WITH
   2.4.19
"""
    out = run(GemfileLockCataloger(), "app/Gemfile.lock", lock)
    assert out.issues == []
    assert nv(out) == [("nokogiri", "1.15.4"), ("racc", "1.7.1")]
    pkgs = by_name(out)
    assert pkgs["nokogiri"].metadata == {
        "source": "rubygems",
        "remote": "https://rubygems.org/",
        "platforms": ["x86_64-linux", "arm64-darwin"],
        "direct": True,
    }
    assert "direct" not in pkgs["racc"].metadata
    assert pkgs["nokogiri"].purl == "pkg:gem/nokogiri@1.15.4"


def test_gemfile_lock_malformed() -> None:
    out = run(GemfileLockCataloger(), "app/Gemfile.lock", "GEM\n  specs:\n    ok (1.0)\n    broken entry\n")
    assert nv(out) == [("ok", "1.0")]
    assert [i.message for i in out.issues] == ["Gemfile.lock line 4: expected '    name (version)' in GEM specs"]
    out = run(GemfileLockCataloger(), "app/Gemfile.lock", "this is not a lock file\n")
    assert [i.message for i in out.issues] == ["not a Gemfile.lock: no GEM, GIT, PATH or DEPENDENCIES section"]


# ---------------------------------------------------------------------------------------------
# PHP


def test_composer_lock_dev_and_licenses() -> None:
    path = pkgdb("lang", "composer", "trivy-happy", "composer.lock")
    pkgs = by_name(run(ComposerCataloger(), "var/www/composer.lock", path.read_bytes()))
    assert pkgs["pear/log"].metadata == {"dev": True}
    assert pkgs["pear/pear_exception"].metadata == {"dev": True}
    assert pkgs["guzzlehttp/guzzle"].metadata == {}
    assert pkgs["guzzlehttp/guzzle"].licenses == ["MIT"]
    assert pkgs["symfony/polyfill-php72"].licenses == ["MIT or BSD-2-Clause"]
    assert pkgs["pear/pear_exception"].purl == "pkg:composer/pear/pear_exception@v1.0.2"


def test_installed_json_v1_and_v2() -> None:
    v1 = [{"name": "monolog/monolog", "version": "1.27.1", "license": ["MIT"]}, {"name": "x"}]
    out = run(ComposerCataloger(), "app/vendor/composer/installed.json", json.dumps(v1))
    assert nv(out) == [("monolog/monolog", "1.27.1")]
    assert [i.message for i in out.issues] == ["installed.json entry #2 has no name or version"]
    v2 = {
        "packages": [
            {"name": "psr/log", "version": "3.0.0", "license": "MIT"},
            {"name": "phpunit/phpunit", "version": "10.5.0", "license": ["BSD-3-Clause"]},
        ],
        "dev": True,
        "dev-package-names": ["phpunit/phpunit"],
    }
    out = run(ComposerCataloger(), "app/vendor/composer/installed.json", json.dumps(v2))
    assert out.issues == []
    pkgs = by_name(out)
    assert pkgs["psr/log"].metadata == {} and pkgs["psr/log"].licenses == ["MIT"]
    assert pkgs["phpunit/phpunit"].metadata == {"dev": True}


def test_composer_lock_and_installed_json_merge() -> None:
    lock = {"packages": [{"name": "psr/log", "version": "3.0.0"}], "packages-dev": []}
    installed = {"packages": [{"name": "psr/log", "version": "3.0.0", "license": ["MIT"]}]}
    out = ComposerCataloger().catalog(
        {
            "app/vendor/composer/installed.json": json.dumps(installed).encode(),
            "app/composer.lock": json.dumps(lock).encode(),
            "other/composer.lock": json.dumps(lock).encode(),
        },
        CTX,
    )
    assert out.issues == []
    assert len(out.packages) == 2
    merged = next(p for p in out.packages if p.locations[0].path == "app/composer.lock")
    assert [loc.path for loc in merged.locations] == ["app/composer.lock", "app/vendor/composer/installed.json"]
    assert merged.licenses == ["MIT"]


def test_composer_malformed() -> None:
    out = run(ComposerCataloger(), "composer.lock", "{not json")
    assert out.packages == [] and len(out.issues) == 1
    assert out.issues[0].message.startswith("composer.lock is not valid JSON: ")
    out = run(ComposerCataloger(), "composer.lock", b'{"packages": ["\xff"]}')
    assert len(out.issues) == 1 and out.issues[0].message.startswith("composer.lock is not UTF-8: ")
    out = run(ComposerCataloger(), "composer.lock", '{"packages": {"a": 1}}')
    assert [i.message for i in out.issues] == ["'packages' is not a list"]
    assert not ComposerCataloger().wants("app/installed.json")


# ---------------------------------------------------------------------------------------------
# Java


def jar(entries: dict[str, bytes | str], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, content in entries.items():
            zf.writestr(name, content)
    return buf.getvalue()


def pom_properties(group: str, artifact: str, version: str) -> tuple[str, str]:
    return (
        f"META-INF/maven/{group}/{artifact}/pom.properties",
        f"#Generated by Maven\nartifactId={artifact}\ngroupId={group}\nversion={version}\n",
    )


def test_war_with_nested_jars() -> None:
    inner = jar(dict([pom_properties("org.slf4j", "slf4j-api", "2.0.9")]))
    manifest_only = jar(
        {
            "META-INF/MANIFEST.MF": "Manifest-Version: 1.0\r\nImplementation-Title: legacy-lib\r\n"
            "Implementation-Version: 0.9\r\nImplementation-Vendor-Id: com.legacy\r\n\r\n"
        }
    )
    bundle = jar(
        {
            "META-INF/MANIFEST.MF": "Manifest-Version: 1.0\nBundle-SymbolicName: org.example.very.long.bundle.name.th\n"
            " at.wraps;singleton:=true\nBundle-Version: 3.1.0\n"
        }
    )
    named = jar({"a.txt": "x"})
    shaded = jar(dict([pom_properties("com.acme", "app", "1.0"), pom_properties("com.google.guava", "guava", "32.1")]))
    war = jar(
        {
            **dict([pom_properties("com.acme", "webapp", "2.0.0")]),
            "WEB-INF/lib/slf4j-api-2.0.9.jar": inner,
            "WEB-INF/lib/legacy.jar": manifest_only,
            "WEB-INF/lib/bundle.jar": bundle,
            "WEB-INF/lib/commons-lang3-3.12.0.jar": named,
            "WEB-INF/lib/shaded.jar": shaded,
            "WEB-INF/lib/": b"",
        },
        zipfile.ZIP_STORED,
    )
    out = run(JavaCataloger(), "usr/local/tomcat/webapps/app.war", war)
    assert out.issues == []
    got = {(p.name, p.version, p.locations[0].path, p.metadata["from"]) for p in out.packages}
    outer = "usr/local/tomcat/webapps/app.war"
    assert got == {
        ("com.acme:webapp", "2.0.0", outer, "pom.properties"),
        ("org.slf4j:slf4j-api", "2.0.9", f"{outer}!/WEB-INF/lib/slf4j-api-2.0.9.jar", "pom.properties"),
        ("com.legacy:legacy-lib", "0.9", f"{outer}!/WEB-INF/lib/legacy.jar", "manifest"),
        ("org.example.very.long.bundle.name.that.wraps", "3.1.0", f"{outer}!/WEB-INF/lib/bundle.jar", "manifest"),
        ("commons-lang3", "3.12.0", f"{outer}!/WEB-INF/lib/commons-lang3-3.12.0.jar", "file-name"),
        ("com.acme:app", "1.0", f"{outer}!/WEB-INF/lib/shaded.jar", "pom.properties"),
        ("com.google.guava:guava", "32.1", f"{outer}!/WEB-INF/lib/shaded.jar", "pom.properties"),
    }
    pkgs = by_name(out)
    assert pkgs["org.slf4j:slf4j-api"].purl == "pkg:maven/org.slf4j/slf4j-api@2.0.9"
    assert pkgs["org.slf4j:slf4j-api"].ecosystem == "maven"


def test_nesting_depth_limit() -> None:
    data = jar(dict([pom_properties("g", "level5", "5")]))
    for level in (4, 3, 2, 1):
        data = jar({**dict([pom_properties("g", f"level{level}", str(level))]), f"lib/level{level + 1}.jar": data})
    data = jar({**dict([pom_properties("g", "level0", "0")]), "BOOT-INF/lib/level1.jar": data})
    out = run(JavaCataloger(), "app/app.jar", data)
    assert nv(out) == [("g:level0", "0"), ("g:level1", "1"), ("g:level2", "2"), ("g:level3", "3")]
    deepest = "app/app.jar!/BOOT-INF/lib/level1.jar!/lib/level2.jar!/lib/level3.jar!/lib/level4.jar"
    assert [i.message for i in out.issues] == [f"{deepest}: archive nested more than 3 levels deep; not read"]


def _bomb_jar(size: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("lib/bomb.jar", "w", force_zip64=True) as fh:
            chunk = b"\x00" * (1024 * 1024)
            for _ in range(size // len(chunk)):
                fh.write(chunk)
        zf.writestr(pom_properties("com.acme", "outer", "1.0")[0], pom_properties("com.acme", "outer", "1.0")[1])
    return buf.getvalue()


def test_zip_bomb_declared_size_is_refused() -> None:
    data = _bomb_jar(java_mod.MAX_NESTED_ARCHIVE + 1024 * 1024)
    assert len(data) < 1024 * 1024
    out = run(JavaCataloger(), "app/bomb.jar", data)
    assert nv(out) == [("com.acme:outer", "1.0")]
    assert len(out.issues) == 1
    assert "lib/bomb.jar declares" in out.issues[0].message and "limit" in out.issues[0].message


def test_zip_bomb_lying_header_is_bounded() -> None:
    """A nested entry whose directory entry understates its size cannot inflate past that size."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("lib/bomb.jar", b"\x00" * (8 * 1024 * 1024))
        zf.writestr(*pom_properties("com.acme", "outer", "1.0"))
    data = bytearray(buf.getvalue())
    cd = data.find(b"PK\x01\x02")
    assert data[cd + 46 : cd + 46 + len(b"lib/bomb.jar")] == b"lib/bomb.jar"
    struct.pack_into("<I", data, cd + 24, 1024)  # uncompressed size: 1 KiB instead of 8 MiB
    out = run(JavaCataloger(), "app/bomb.jar", bytes(data))
    assert nv(out) == [("com.acme:outer", "1.0")]
    assert len(out.issues) == 1
    assert out.issues[0].message.startswith("lib/bomb.jar unreadable: Bad CRC-32")


def test_total_inflation_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(java_mod, "MAX_TOTAL_INFLATED", 3 * 1024 * 1024)
    filler = os.urandom(1024 * 1024)
    libs = {
        f"BOOT-INF/lib/lib{i}.jar": jar({**dict([pom_properties("g", f"lib{i}", "1")]), "blob": filler}, 0)
        for i in range(5)
    }
    out = run(JavaCataloger(), "app/app.jar", jar(libs, zipfile.ZIP_STORED))
    assert nv(out) == [("g:lib0", "1"), ("g:lib1", "1")]
    messages = [i.message for i in out.issues]
    assert any("total limit" in m for m in messages), messages
    assert any("inflation limit reached; rest not read" in m for m in messages), messages


def test_too_many_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(java_mod, "MAX_ENTRIES", 10)
    out = run(JavaCataloger(), "app/big.jar", jar({f"f{i}": "x" for i in range(20)}))
    assert out.packages == []
    assert len(out.issues) == 1
    assert out.issues[0].message.startswith("zip archive too large to index: 20 entries, ")


def test_not_a_zip() -> None:
    out = run(JavaCataloger(), "app/broken.jar", b"this is not a zip")
    assert [i.message for i in out.issues] == ["not a zip archive: no end-of-central-directory record"]
    damaged = bytearray(jar(dict([pom_properties("g", "a", "1")])))
    damaged[10:30] = b"\xff" * 20
    out = run(JavaCataloger(), "app/damaged.jar", bytes(damaged))
    assert out.packages == [] and len(out.issues) == 1


POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <parent>
    <groupId>org.acme</groupId>
    <artifactId>parent</artifactId>
    <version>7</version>
  </parent>
  <artifactId>service</artifactId>
  <properties>
    <jackson.version>2.15.2</jackson.version>
    <jackson.ref>${jackson.version}</jackson.ref>
  </properties>
  <dependencyManagement>
    <dependencies>
      <dependency><groupId>io.netty</groupId><artifactId>netty-all</artifactId><version>4.1.100.Final</version>
      </dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency><groupId>com.fasterxml.jackson.core</groupId><artifactId>jackson-databind</artifactId>
      <version>${jackson.ref}</version></dependency>
    <dependency><groupId>${project.groupId}</groupId><artifactId>service-api</artifactId>
      <version>${project.version}</version></dependency>
    <dependency><groupId>io.netty</groupId><artifactId>netty-all</artifactId></dependency>
    <dependency><groupId>junit</groupId><artifactId>junit</artifactId><version>4.13.2</version>
      <scope>test</scope></dependency>
    <dependency><groupId>org.unknown</groupId><artifactId>from-parent</artifactId></dependency>
    <dependency><groupId>org.unknown</groupId><artifactId>undefined</artifactId><version>${nope}</version>
    </dependency>
    <dependency><groupId>org.range</groupId><artifactId>ranged</artifactId><version>[1.0,2.0)</version>
    </dependency>
  </dependencies>
</project>
"""


def test_pom_properties_parent_and_management() -> None:
    out = run(JavaCataloger(), "src/service/pom.xml", POM)
    assert out.issues == []
    assert nv(out) == [
        ("com.fasterxml.jackson.core:jackson-databind", "2.15.2"),
        ("io.netty:netty-all", "4.1.100.Final"),
        ("org.acme:service", "7"),
        ("org.acme:service-api", "7"),
    ]
    assert by_name(out)["org.acme:service"].metadata == {"main": True}
    assert by_name(out)["io.netty:netty-all"].metadata == {"scope": "compile"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
            "<project><artifactId>&lol2;</artifactId></project>",
            "pom.xml has a DOCTYPE or ENTITY declaration; refused",
        ),
        (
            '<!DOCTYPE project SYSTEM "file:///etc/passwd"><project/>',
            "pom.xml has a DOCTYPE or ENTITY declaration; refused",
        ),
        (
            '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY e "e">]><project/>'.encode("utf-16"),
            "pom.xml has a DOCTYPE or ENTITY declaration; refused",
        ),
        ("<settings><x/></settings>", "not a Maven POM: the root element is <settings>, not <project>"),
        ('<?xml version="1.0" encoding="x-no-such"?><project/>', "pom.xml names an unknown encoding 'x-no-such'"),
    ],
)
def test_pom_refused(content: str | bytes, message: str) -> None:
    out = run(JavaCataloger(), "app/pom.xml", content)
    assert out.packages == []
    assert [i.message for i in out.issues] == [message]


def test_pom_not_well_formed() -> None:
    out = run(JavaCataloger(), "app/pom.xml", "<project><artifactId>x</project>")
    assert len(out.issues) == 1 and out.issues[0].message.startswith("pom.xml is not well-formed XML: ")


def test_java_wants() -> None:
    cat = JavaCataloger()
    assert cat.wants("app/app.jar") and cat.wants("opt/x/A.WAR") and cat.wants("a.ear") and cat.wants("x/pom.xml")
    assert not cat.wants("app/jar") and not cat.wants("x/pom.xml.bak") and not cat.wants("a/b.class")


# ---------------------------------------------------------------------------------------------
# Property tests: nothing makes a cataloger raise

PATHS = {
    "go-module": ["app/go.mod", "app/go.sum"],
    "go-binary": ["usr/bin/tool"],
    "cargo-lock": ["app/Cargo.lock"],
    "cargo-auditable": ["usr/bin/tool"],
    "gemfile-lock": ["app/Gemfile.lock"],
    "gemspec": ["usr/local/bundle/specifications/x-1.0.gemspec"],
    "composer": ["app/composer.lock", "app/vendor/composer/installed.json"],
    "java-archive": ["app/app.jar", "app/pom.xml"],
}
CASES = [(name, path) for name, paths in PATHS.items() for path in paths]


def _check_output(out: CatalogOutput, name: str) -> None:
    assert isinstance(out, CatalogOutput)
    for issue in out.issues:
        assert issue.cataloger == name and issue.message
    for pkg in out.packages:
        assert pkg.name and isinstance(pkg.version, str)


@pytest.mark.parametrize(("name", "path"), CASES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(name: str, path: str, data: bytes) -> None:
    cat = BY_NAME[name]
    assert cat.wants(path)
    _check_output(cat.catalog({path: data}, CTX), name)


@pytest.mark.parametrize(("name", "path"), CASES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=2048))
def test_arbitrary_text_never_raises(name: str, path: str, text: str) -> None:
    cat = BY_NAME[name]
    _check_output(cat.catalog({path: text.encode("utf-8", errors="surrogatepass")}, CTX), name)


_LINE_ALPHABET = st.sampled_from(
    ["GEM", "GIT", "PATH", "  specs:", "    a (1.0)", "    b (2-x86)", "      c", "require (", ")", "module m",
     "replace a => b v1", "require a v1 // indirect", "go 1.16", "[[package]]", 'name = "x"', 'version = "1"',
     "version = 3", "<project>", "</project>", "<!DOCTYPE", "${x}", "=>", "  remote: r", "DEPENDENCIES", "\t", " "]
)  # fmt: skip


@pytest.mark.parametrize(("name", "path"), CASES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_LINE_ALPHABET | st.text(max_size=20), max_size=40))
def test_format_like_lines_never_raise(name: str, path: str, lines: list[str]) -> None:
    cat = BY_NAME[name]
    _check_output(cat.catalog({path: "\n".join(lines).encode("utf-8", errors="surrogatepass")}, CTX), name)


_BINARY_SEED = inline_buildinfo()
_ELF_SEED = make_pointer_buildinfo_elf("go1.17.1", MODINFO, bits=64, big_endian=False)
_AUDIT_SEED = make_elf({".dep-v0": auditable_section([{"name": "a", "version": "1"}])})
_JAR_SEED = jar(
    {**dict([pom_properties("g", "a", "1")]), "lib/in.jar": jar(dict([pom_properties("g", "b", "2")]))},
    zipfile.ZIP_STORED,
)


def _mutate(seed: bytes, edits: list[tuple[int, bytes]]) -> bytes:
    data = bytearray(seed)
    for pos, chunk in edits:
        pos %= max(len(data), 1)
        data[pos : pos + len(chunk)] = chunk
    return bytes(data)


_EDITS = st.lists(st.tuples(st.integers(min_value=0, max_value=1 << 20), st.binary(min_size=1, max_size=8)), max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=_EDITS, prefix=st.sampled_from([b"MZ" + b"\x00" * 14, b"\x7fELF" + b"\x02\x01\x01" + b"\x00" * 9]))
def test_mutated_go_buildinfo_never_raises(edits: list[tuple[int, bytes]], prefix: bytes) -> None:
    _check_output(GoBinaryCataloger().catalog({"usr/bin/x": _mutate(prefix + _BINARY_SEED, edits)}, CTX), "go-binary")
    _check_output(GoBinaryCataloger().catalog({"usr/bin/x": _mutate(_ELF_SEED, edits)}, CTX), "go-binary")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=_EDITS)
def test_mutated_archives_and_elf_never_raise(edits: list[tuple[int, bytes]]) -> None:
    _check_output(JavaCataloger().catalog({"app/a.jar": _mutate(_JAR_SEED, edits)}, CTX), "java-archive")
    _check_output(CargoAuditableCataloger().catalog({"usr/bin/x": _mutate(_AUDIT_SEED, edits)}, CTX), "cargo-auditable")
