"""OS package catalogers (dpkg, apk, rpm) and os-release, against the shared package-database
fixtures, hand-built databases and hostile input."""

from __future__ import annotations

import sqlite3
import struct
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packageurl import PackageURL

from propolis.scanner.catalogers import apk, dpkg, osrelease, rpm
from propolis.scanner.catalogers.interface import CatalogContext, Cataloger, CatalogOutput
from propolis.scanner.domain.model import OSRelease, Package
from tests.scanner.fixtures import TESTDATA, expected, pkgdb

DPKG = dpkg.DpkgCataloger()
APK = apk.ApkCataloger()
RPM = rpm.RpmCataloger()
CATALOGER_OF: dict[str, Cataloger] = {"dpkg": DPKG, "apk": APK, "rpm": RPM}

# --- fixture discovery --------------------------------------------------------------------------


def _fixture_ids(ecosystem: str) -> list[str]:
    """``<ecosystem>/<relative fixture path>`` for every fixture with an expected file."""
    base = TESTDATA / "pkgdb" / ecosystem
    found = sorted(str(p.relative_to(base)).removesuffix(".expected.json") for p in base.rglob("*.expected.json"))
    # Without the shared data the single placeholder makes pkgdb() skip (or fail under CI) visibly.
    return [f"{ecosystem}/{f}" for f in found] or [f"{ecosystem}/<missing>"]


FIXTURES = _fixture_ids("dpkg") + _fixture_ids("apk") + _fixture_ids("rpm")


def image_path(fixture: Path) -> str:
    """Where the fixture lives in an image."""
    eco = fixture.relative_to(TESTDATA / "pkgdb").parts[0]
    if eco == "dpkg":
        if fixture.parent.name == "status.d":
            return f"var/lib/dpkg/status.d/{fixture.name}"
        return "var/lib/dpkg/status"
    if eco == "apk":
        return "lib/apk/db/installed"
    return f"var/lib/rpm/{fixture.name}"


#: The OS each fixture came from (per its SOURCES.md row and expected-file notes), for purl qualifiers.
FIXTURE_OS: dict[str, OSRelease] = {
    "ubuntu-18.04_trivy": OSRelease(id="ubuntu", version_id="18.04", version_codename="bionic"),
    "ubuntu-18.04_clair": OSRelease(id="ubuntu", version_id="18.04", version_codename="bionic"),
    "ubuntu-18.04-texlive_claircore": OSRelease(id="ubuntu", version_id="18.04"),
    "ubuntu-20.04_scancode": OSRelease(id="ubuntu", version_id="20.04"),
    "debian-10-keyring_claircore": OSRelease(id="debian", version_id="10"),
    "debian-10-status.d_syft": OSRelease(id="debian", version_id="10"),
    "debian-12-status.d_syft": OSRelease(id="debian", version_id="12"),
    "debian-12_scalibr": OSRelease(id="debian", version_id="12", version_codename="bookworm"),
    "alpine-3.4_trivy": OSRelease(id="alpine", version_id="3.4.6"),
    "alpine-3.12_scancode": OSRelease(id="alpine", version_id="3.12.0"),
    "alpine-3.16_syft": OSRelease(id="alpine", version_id="3.16.2"),
    "alpine-3.18_scalibr": OSRelease(id="alpine", version_id="3.18.0"),
    "cbl-mariner-2.0-sqlite_go-rpmdb": OSRelease(id="mariner", version_id="2.0"),
    "rhel8-libuuid-bdb_go-rpmdb": OSRelease(id="rhel", version_id="8.8"),
    "sle15-bci-ndb_go-rpmdb": OSRelease(id="sles", version_id="15.3"),
}

#: Fixtures that hold deliberately malformed records: the issues each must report (substrings).
EXPECTED_ISSUES: dict[str, list[str]] = {
    "apk/alpine-3.4_trivy/installed": ["line 23: package 'invalidPackageWithoutAVersion' has no version (V:); skipped"],
    "dpkg/debian-10-status.d_syft/status.d/multiple": [
        "line 1: stanza has an empty Package field; skipped",
        "line 3: package 'no-version' has no Version field",
    ],
}

# --- comparing against expected files -----------------------------------------------------------


def field_value(pkg: Package, key: str) -> Any:
    """A package's value for an expected-file key."""
    if key in ("origin", "source"):
        return pkg.source_name
    if key == "license":
        return " AND ".join(pkg.licenses) if pkg.licenses else None
    if key in ("source_rpm", "vendor"):
        return pkg.metadata.get(key)
    return getattr(pkg, key)


def normalise(value: Any) -> Any:
    return "" if value is None else value


def project(pkg: Package, keys: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(normalise(field_value(pkg, k)) for k in keys)


def expected_rows(items: list[dict[str, Any]]) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    keys = tuple(sorted({k for item in items for k in item}))
    return keys, [tuple(normalise(item.get(k)) for k in keys) for item in items]


def catalog_fixture(fixture: Path, os: OSRelease | None) -> CatalogOutput:
    eco = fixture.relative_to(TESTDATA / "pkgdb").parts[0]
    cat = CATALOGER_OF[eco]
    path = image_path(fixture)
    assert cat.wants(path), path
    return cat.catalog({path: fixture.read_bytes()}, CatalogContext(os=os))


def check_purl(pkg: Package, os: OSRelease | None) -> None:
    parsed = PackageURL.from_string(pkg.purl)
    assert parsed.to_string() == pkg.purl
    assert parsed.type == pkg.ecosystem
    assert parsed.name == (pkg.name.lower() if pkg.ecosystem == "apk" else pkg.name)
    quals = parsed.qualifiers if isinstance(parsed.qualifiers, dict) else {}
    if pkg.arch:
        assert quals.get("arch") == pkg.arch
    if pkg.ecosystem == "rpm":
        epoch, _, vr = pkg.version.rpartition(":")
        assert parsed.version == vr
        assert quals.get("epoch", "") == epoch
    else:
        assert (parsed.version or "") == pkg.version
    if os is not None and os.version_id:
        assert quals.get("distro") == f"{os.id}-{os.version_id}"
        assert parsed.namespace == os.id
    if os is None:
        assert "distro" not in quals
        assert parsed.namespace == {"deb": "debian", "apk": "alpine", "rpm": None}[pkg.ecosystem]


@pytest.mark.parametrize("fixture_id", FIXTURES)
def test_fixture_matches_expected(fixture_id: str) -> None:
    eco, rel = fixture_id.split("/", 1)
    fixture = pkgdb(eco, rel)
    exp = expected(fixture)
    os = FIXTURE_OS.get(fixture.relative_to(TESTDATA / "pkgdb" / eco).parts[0])
    out = catalog_fixture(fixture, os)

    # Issues: none, except the deliberately malformed records some fixtures hold.
    assert [i.message for i in out.issues] == EXPECTED_ISSUES.get(fixture_id, [])
    assert all(i.cataloger == CATALOGER_OF[eco].name and i.path == image_path(fixture) for i in out.issues)

    for pkg in out.packages:
        check_purl(pkg, os)
        assert [loc.path for loc in pkg.locations] == [image_path(fixture)]
        assert pkg.ecosystem == {"dpkg": "deb", "apk": "apk", "rpm": "rpm"}[eco]

    assertion = exp.get("assertion", "")
    items = exp.get("packages")
    if isinstance(items, list):
        keys, want = expected_rows(items)
        if "looks up" in assertion:
            # The upstream test asserts one package of a larger database.
            for row in want:
                name = row[keys.index("name")]
                got = [project(p, keys) for p in out.packages if p.name == name]
                assert got == [row], name
        else:
            got = [project(p, keys) for p in out.packages]
            assert len(got) == exp["package_count"] == len(want)
            if "database order" in assertion:
                assert got == want
            else:
                assert Counter(got) == Counter(want)
    else:
        assert "package_count" in exp or "asserted_dependencies" in exp or "asserted_relationships" in exp
    if "package_count" in exp and "looks up" not in assertion:
        assert len(out.packages) == exp["package_count"]

    if "source_packages" in exp:
        want_src = {(s["name"], s["version"]) for s in exp["source_packages"]}
        assert {(p.source_name, p.source_version) for p in out.packages} == want_src

    for key in ("asserted_dependencies", "asserted_relationships"):
        if key in exp:
            got_deps = {p.name: set(p.metadata["depends"]) for p in out.packages if p.metadata.get("depends")}
            assert got_deps == {k: set(v) for k, v in exp[key].items()}
            # Every name in the assertion is a catalogued package.
            names = {p.name for p in out.packages}
            assert set(exp[key]) | {d for v in exp[key].values() for d in v} <= names


def test_sqlite_fixture_holds_every_row() -> None:
    """The SQLite fixture only asserts one package upstream: check the total against SQLite itself."""
    fixture = pkgdb("rpm", "cbl-mariner-2.0-sqlite_go-rpmdb", "rpmdb.sqlite")
    conn = sqlite3.connect(f"file:{fixture}?mode=ro&immutable=1", uri=True)
    try:
        (rows,) = conn.execute("SELECT count(*) FROM Packages").fetchone()
    finally:
        conn.close()
    out = catalog_fixture(fixture, None)
    assert out.issues == []
    assert len(out.packages) == rows - sum(1 for p in out.packages if p.name == "gpg-pubkey") == 129
    curl = next(p for p in out.packages if p.name == "curl")
    assert (curl.source_name, curl.source_version) == ("curl", "7.76.0-6.cm2")
    assert curl.licenses == ["MIT"]


def test_rpm_fixture_purls() -> None:
    fixture = pkgdb("rpm", "sle15-bci-ndb_go-rpmdb", "Packages.db")
    out = catalog_fixture(fixture, OSRelease(id="sles", version_id="15.3"))
    gcc = next(p for p in out.packages if p.name == "libstdc++6")
    assert gcc.purl == "pkg:rpm/sles/libstdc%2B%2B6@11.2.1%2Bgit610-1.3.9?arch=x86_64&distro=sles-15.3"
    assert (gcc.source_name, gcc.source_version) == ("gcc11", "11.2.1+git610-1.3.9")


def test_dpkg_fixture_epoch_and_source_version() -> None:
    fixture = pkgdb("dpkg", "ubuntu-18.04_trivy", "status")
    out = catalog_fixture(fixture, OSRelease(id="ubuntu", version_id="18.04"))
    by_name = {p.name: p for p in out.packages}
    assert "git" not in by_name  # deinstall ok config-files
    lzma = by_name["liblzma5"]
    assert (lzma.version, lzma.source_name, lzma.source_version) == (
        "5.1.1alpha+20120614-2+b3", "xz-utils", "5.1.1alpha+20120614-2")
    assert by_name["bsdutils"].purl == (
        "pkg:deb/ubuntu/bsdutils@1:2.31.1-0.4ubuntu3.1?arch=amd64&distro=ubuntu-18.04")


# --- osrelease ----------------------------------------------------------------------------------


def test_os_release_quoting() -> None:
    text = (
        "# comment\n"
        'NAME="Debian GNU/Linux"\n'
        "ID=debian\n"
        "VERSION_ID='12'\n"
        'PRETTY_NAME="Say \\"hi\\" for \\$5 \\\\ \\n"\n'
        "VERSION_CODENAME=book\\ worm\n"
        "ID_LIKE=\"a  b\"\n"
        "BROKEN LINE\n"
        "HOME_URL='https://x/'\"y\"z\n"
    )
    kv = osrelease.parse_env_file(text)
    assert kv["PRETTY_NAME"] == 'Say "hi" for $5 \\ \\n'
    assert kv["VERSION_CODENAME"] == "book worm"
    assert kv["HOME_URL"] == "https://x/yz"
    found = osrelease.parse_os_release({"etc/os-release": text.encode()})
    assert found == OSRelease(id="debian", version_id="12", version_codename="book worm", name="Debian GNU/Linux",
                              pretty_name='Say "hi" for $5 \\ \\n', id_like=["a", "b"])


def test_os_release_multiline_and_crlf() -> None:
    kv = osrelease.parse_env_file('A="one\ntwo"\r\nB=x  \r\nC=\'\'\nexport D=4\n')
    assert kv == {"A": "one\ntwo", "B": "x", "C": "", "D": "4"}


def _os(files: dict[str, bytes]) -> OSRelease:
    found = osrelease.parse_os_release(files)
    assert found is not None
    return found


def test_os_release_precedence_and_fallbacks() -> None:
    etc = b'ID=ubuntu\nVERSION_ID="22.04"\nVERSION_CODENAME=jammy\n'
    usr = b"ID=debian\nVERSION_ID=12\n"
    assert _os({"etc/os-release": etc, "usr/lib/os-release": usr}).id == "ubuntu"
    assert _os({"usr/lib/os-release": usr}).version_id == "12"
    assert _os({"etc/alpine-release": b"3.19.1\n"}) == OSRelease(
        id="alpine", version_id="3.19.1", name="Alpine Linux", pretty_name="Alpine Linux v3.19.1")
    deb = _os({"etc/debian_version": b"10.13\n"})
    assert (deb.id, deb.version_id) == ("debian", "10")
    sid = _os({"etc/debian_version": b"bookworm/sid\n"})
    assert (sid.id, sid.version_id, sid.version_codename) == ("debian", "", "bookworm")
    rh = _os({"etc/redhat-release": b"CentOS Linux release 7.9.2009 (Core)\n"})
    assert (rh.id, rh.version_id, rh.version_codename) == ("centos", "7.9.2009", "Core")
    rhel = _os({"etc/redhat-release": b"Red Hat Enterprise Linux Server release 7.9 (Maipo)"})
    assert (rhel.id, rhel.version_id) == ("rhel", "7.9")
    lsb_release = (b'DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=18.04\nDISTRIB_CODENAME=bionic\n'
                   b'DISTRIB_DESCRIPTION="Ubuntu 18.04"\n')
    lsb = _os({"etc/lsb-release": lsb_release})
    assert (lsb.id, lsb.version_id, lsb.version_codename, lsb.pretty_name) == ("ubuntu", "18.04", "bionic",
                                                                               "Ubuntu 18.04")
    # os-release without ID: "linux" per os-release(5), unless an older file says more.
    assert _os({"etc/os-release": b"NAME=Thing\n"}).id == "linux"
    both = {"etc/os-release": b"NAME=Thing\n", "etc/alpine-release": b"3.4.6"}
    assert _os(both).id == "alpine"
    assert osrelease.parse_os_release({}) is None
    assert osrelease.parse_os_release({"etc/os-release": b"\n# nothing\n"}) is None
    assert _os({"/etc/os-release": b"ID=fedora\n"}).id == "fedora"
    assert set(osrelease.OS_RELEASE_PATHS) == {"etc/os-release", "usr/lib/os-release", "etc/alpine-release",
                                               "etc/debian_version", "etc/redhat-release", "etc/lsb-release"}
    assert osrelease.CATALOGERS == []


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(osrelease.OS_RELEASE_PATHS), st.binary(max_size=300) | st.text().map(
    lambda s: s.encode("utf-8", "surrogatepass")), max_size=6))
def test_os_release_never_raises(files: dict[str, bytes]) -> None:
    found = osrelease.parse_os_release(files)
    assert found is None or (isinstance(found, OSRelease) and found.id)


# --- dpkg ---------------------------------------------------------------------------------------

STANZA = (
    "Package: libfoo1\n"
    "Status: install ok installed\n"
    "Architecture: amd64\n"
    "Source: foo (1:2.0-1)\n"
    "Version: 1:2.0-1+b1\n"
    "Depends: libc6 (>= 2.34), missing | libbar:any\n"
    "Description: a library\n"
    " with a long description\n"
    " .\n"
)


def _dpkg(text: str | bytes, path: str = "var/lib/dpkg/status", os: OSRelease | None = None) -> CatalogOutput:
    data = text.encode() if isinstance(text, str) else text
    return DPKG.catalog({path: data}, CatalogContext(os=os))


def test_dpkg_fields_and_purl() -> None:
    text = STANZA + "\nPackage: libc6\nStatus: install ok installed\nVersion: 2.36-9\nArchitecture: amd64\n" \
        "Source: glibc\n\nPackage: libbaz\nStatus: hold ok installed\nVersion: 1\nProvides: libbar\n"
    out = _dpkg(text, os=OSRelease(id="debian", version_id="12"))
    assert out.issues == []
    foo, libc, baz = out.packages
    assert (foo.name, foo.version, foo.arch, foo.source_name, foo.source_version) == (
        "libfoo1", "1:2.0-1+b1", "amd64", "foo", "1:2.0-1")
    assert foo.purl == "pkg:deb/debian/libfoo1@1:2.0-1%2Bb1?arch=amd64&distro=debian-12"
    assert foo.licenses == []
    assert foo.metadata["depends"] == ["libc6", "libbaz"]  # libbar is provided by libbaz
    assert (libc.source_name, libc.source_version) == ("glibc", "2.36-9")
    assert (baz.source_name, baz.purl) == ("libbaz", "pkg:deb/debian/libbaz@1?distro=debian-12")


def test_dpkg_namespace_follows_os() -> None:
    ubuntu = _dpkg(STANZA, os=OSRelease(id="ubuntu", version_id="22.04")).packages[0]
    assert ubuntu.purl.startswith("pkg:deb/ubuntu/libfoo1@") and ubuntu.purl.endswith("distro=ubuntu-22.04")
    mint = _dpkg(STANZA, os=OSRelease(id="linuxmint", version_id="21", id_like=["ubuntu"])).packages[0]
    assert mint.purl == "pkg:deb/ubuntu/libfoo1@1:2.0-1%2Bb1?arch=amd64"
    none = _dpkg(STANZA).packages[0]
    assert none.purl == "pkg:deb/debian/libfoo1@1:2.0-1%2Bb1?arch=amd64"


def test_dpkg_only_installed() -> None:
    text = "\n".join(
        f"Package: p{i}\nStatus: {status}\nVersion: 1\n" for i, status in enumerate([
            "install ok installed", "deinstall ok config-files", "install ok half-installed",
            "install ok unpacked", "purge ok not-installed", "install ok triggers-pending"]))
    out = _dpkg(text)
    assert [p.name for p in out.packages] == ["p0", "p5"]
    assert out.issues == []


def test_dpkg_status_d() -> None:
    assert DPKG.wants("var/lib/dpkg/status")
    assert DPKG.wants("var/lib/dpkg/status.d/base-files")
    assert not DPKG.wants("var/lib/dpkg/status.d/base-files.md5sums")
    assert not DPKG.wants("var/lib/dpkg/status.d/")
    assert not DPKG.wants("var/lib/dpkg/status-old")
    assert not DPKG.wants("var/lib/dpkg/status.d/sub/x")
    files = {
        "var/lib/dpkg/status.d/tzdata": b"Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n",
        "var/lib/dpkg/status.d/libc6": b"Package: libc6\nVersion: 2.36-9\nArchitecture: amd64\nSource: glibc\n\n"
                                       b"Package: libc-bin\nVersion: 2.36-9\nArchitecture: amd64\nSource: glibc\n"
                                       b"Depends: libc6\n",
    }
    out = DPKG.catalog(files, CatalogContext())
    assert out.issues == []
    assert [(p.name, p.locations[0].path) for p in out.packages] == [
        ("libc6", "var/lib/dpkg/status.d/libc6"), ("libc-bin", "var/lib/dpkg/status.d/libc6"),
        ("tzdata", "var/lib/dpkg/status.d/tzdata")]
    assert out.packages[1].metadata == {"depends": ["libc6"]}


def test_dpkg_crlf_and_continuations() -> None:
    out = _dpkg(STANZA.replace("\n", "\r\n"))
    assert out.issues == []
    assert [(p.name, p.version) for p in out.packages] == [("libfoo1", "1:2.0-1+b1")]


@pytest.mark.parametrize(("text", "message"), [
    ("Status: install ok installed\nVersion: 1\n", "line 1: stanza has no Package field; skipped"),
    ("Package:\nVersion: 1\n", "line 1: stanza has an empty Package field; skipped"),
    ("Package: a\nVersion: 1\n", "line 1: package 'a' has no Status field; skipped"),
    ("Package: a\nStatus: installed\nVersion: 1\n",
     "line 1: package 'a' has a malformed Status 'installed' (expected 'want flag state'); skipped"),
    (" orphan continuation\n", "line 1: continuation line outside any field; ignored"),
    ("this is not a field\n", "line 1: not a 'Field: value' line; ignored"),
    ("Package: a\nPackage: b\nStatus: install ok installed\n",
     "line 2: field 'Package' repeated in the stanza starting at line 1; the first value is kept"),
    ("Package: x/y\nStatus: install ok installed\nVersion: 1\n",
     "line 1: package name 'x/y' contains whitespace, '/' or control characters; skipped"),
])
def test_dpkg_malformed(text: str, message: str) -> None:
    out = _dpkg(text)
    assert message in [i.message for i in out.issues]
    assert all(i.cataloger == "dpkg" and i.path == "var/lib/dpkg/status" for i in out.issues)


def test_dpkg_non_utf8_still_reads_packages() -> None:
    data = STANZA.encode().replace(b"a library", b"a libr\xe4ry")
    out = _dpkg(data)
    assert [p.name for p in out.packages] == ["libfoo1"]
    offset = data.index(b"\xe4")
    assert [i.message for i in out.issues] == [
        f"not valid UTF-8 (first invalid byte at offset {offset}); undecodable bytes replaced"]


def test_dpkg_too_big_and_issue_cap() -> None:
    small = dpkg.DpkgCataloger()
    small.max_file_bytes = 10  # type: ignore[misc]
    out = small.catalog({"var/lib/dpkg/status": STANZA.encode()}, CatalogContext())
    assert out.packages == []
    assert out.issues[0].message == f"file is {len(STANZA)} bytes, over the 10-byte limit; not read"
    out = _dpkg("garbage\n" * 100)
    assert len(out.issues) == dpkg.MAX_ISSUES_PER_FILE + 1
    assert out.issues[-1].message == "80 further problems in this file not listed"


# --- apk ----------------------------------------------------------------------------------------

APK_DB = (
    "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\np:so:libc.musl-x86_64.so.1=1\nF:lib\nR:libc.so\n\n"
    "P:busybox\nV:1.36.1-r5\nA:x86_64\nL:GPL-2.0-only\no:busybox\nD:so:libc.musl-x86_64.so.1 !busybox-extras\n"
    "p:/bin/sh cmd:busybox=1.36.1-r5\n\n"
    "P:alpine-baselayout\nV:3.4.3-r2\nA:x86_64\nL:GPL-2.0-only\nD:/bin/sh musl>=1.2\n"
)


def _apk(text: str | bytes, os: OSRelease | None = None) -> CatalogOutput:
    data = text.encode() if isinstance(text, str) else text
    return APK.catalog({"lib/apk/db/installed": data}, CatalogContext(os=os))


def test_apk_fields_and_purl() -> None:
    assert APK.wants("lib/apk/db/installed") and not APK.wants("lib/apk/db/installed.old")
    out = _apk(APK_DB, os=OSRelease(id="alpine", version_id="3.19.1"))
    assert out.issues == []
    musl, busybox, base = out.packages
    assert (musl.name, musl.version, musl.arch, musl.licenses, musl.source_name, musl.source_version) == (
        "musl", "1.2.4-r2", "x86_64", ["MIT"], "musl", "1.2.4-r2")
    assert musl.purl == "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1"
    assert busybox.metadata == {"depends": ["musl"]}
    assert base.source_name == "alpine-baselayout"  # no origin: the package itself
    assert base.metadata == {"depends": ["busybox", "musl"]}
    assert _apk(APK_DB).packages[0].purl == "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64"
    wolfi = _apk(APK_DB, os=OSRelease(id="wolfi", version_id="20230201")).packages[0]
    assert wolfi.purl == "pkg:apk/wolfi/musl@1.2.4-r2?arch=x86_64&distro=wolfi-20230201"


@pytest.mark.parametrize(("text", "message"), [
    ("V:1.0-r0\nA:x86_64\n", "line 1: package record has no name (P:); skipped"),
    ("P:foo\nA:x86_64\n", "line 1: package 'foo' has no version (V:); skipped"),
    ("P:foo\nV:1\nnot a field\n", "line 3: not a '<letter>:<value>' field line; ignored"),
    ("P:/lpine\nV:1\n", "line 1: package name '/lpine' contains whitespace, '/' or control characters; skipped"),
])
def test_apk_malformed(text: str, message: str) -> None:
    out = _apk(text)
    assert message in [i.message for i in out.issues]


def test_apk_record_without_blank_line_and_non_utf8() -> None:
    data = b"P:a\nV:1\nm:Tim\xe4 <t@x>\nP:b\nV:2\n"
    out = _apk(data)
    assert [(p.name, p.version) for p in out.packages] == [("a", "1"), ("b", "2")]
    assert [i.message for i in out.issues] == [
        f"not valid UTF-8 (first invalid byte at offset {data.index(0xE4)}); undecodable bytes replaced"]


# --- rpm: hand-built headers and databases ------------------------------------------------------


def make_header(name: str = "pkg", version: str = "1.0", release: str = "1.el9", *, epoch: int | None = None,
                arch: str | None = "x86_64", license_: str | None = "MIT", vendor: str | None = None,
                source_rpm: str | None = "", region: bool = True) -> bytes:
    """An rpm header blob as rpm stores it in its database (index, then data store)."""
    entries: list[tuple[int, int, bytes, int]] = []

    def string(tag: int, value: str | None) -> None:
        if value is not None:
            entries.append((tag, rpm.TYPE_STRING, value.encode() + b"\x00", 1))

    string(rpm.TAG_NAME, name)
    string(rpm.TAG_VERSION, version)
    string(rpm.TAG_RELEASE, release)
    if epoch is not None:
        entries.append((rpm.TAG_EPOCH, rpm.TYPE_INT32, struct.pack(">I", epoch), 1))
    if license_ is not None:
        entries.append((rpm.TAG_LICENSE, rpm.TYPE_I18NSTRING, license_.encode() + b"\x00", 1))
    string(rpm.TAG_VENDOR, vendor)
    string(rpm.TAG_ARCH, arch)
    string(rpm.TAG_SOURCERPM, f"{name}-{version}-{release}.src.rpm" if source_rpm == "" else source_rpm)
    entries.append((1116, rpm.TYPE_INT32, struct.pack(">III", 1, 2, 3), 3))  # DIRINDEXES: ignored
    entries.sort(key=lambda e: e[0])
    index, store = [], b""
    for tag, typ, data, count in entries:
        if typ == rpm.TYPE_INT32:
            store += b"\x00" * (-len(store) % 4)
        index.append(struct.pack(">IIiI", tag, typ, len(store), count))
        store += data
    if region:  # HEADER_IMMUTABLE region: its trailer is the last 16 data bytes
        il = len(index) + 1
        trailer = struct.pack(">IIiI", 63, rpm.TYPE_BIN, -(il * 16), 16)
        index.insert(0, struct.pack(">IIiI", 63, rpm.TYPE_BIN, len(store), 16))
        store += trailer
    return struct.pack(">II", len(index), len(store)) + b"".join(index) + store


def make_sqlite(blobs: list[bytes], wal: bool = True) -> bytes:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
    conn.executemany("INSERT INTO Packages (blob) VALUES (?)", [(b,) for b in blobs])
    conn.commit()
    data = bytearray(conn.serialize())
    conn.close()
    if wal:
        data[18] = data[19] = 2
    return bytes(data)


def make_ndb(blobs: list[bytes]) -> bytes:
    page = 4096
    slots, area = [], b""
    for idx, blob in enumerate(blobs, start=1):
        body = struct.pack("<4sIII", b"BlbS", idx, 1, len(blob)) + blob
        body += b"\x00" * (-(len(body) + 12) % 16)
        body += struct.pack("<II4s", zlib.adler32(body), len(blob), b"BlbE")
        slots.append(struct.pack("<4sIII", b"Slot", idx, (page + len(area)) // 16, len(body) // 16))
        area += body
    header = struct.pack("<4sIIII", b"RpmP", 0, 1, 1, len(blobs) + 1).ljust(32, b"\x00")
    slot_page = header + b"".join(slots)
    slot_page += struct.pack("<4sIII", b"Slot", 0, 0, 0) * ((page - len(slot_page)) // 16)
    return slot_page + area


def make_bdb(blobs: list[bytes], order: str = "<", pagesize: int = 512, inline_below: int = 0) -> bytes:
    """A Berkeley DB hash file: key 0 counter and one key/data pair per blob; blobs at least
    ``inline_below`` bytes long go to overflow pages, shorter ones stay on the hash page."""
    pages: list[bytearray] = [bytearray(pagesize)]

    def header(pg: bytearray, pgno: int, nxt: int, entries: int, hf: int, ptype: int) -> None:
        struct.pack_into(order + "QIIIHHBB", pg, 0, 0, pgno, 0, nxt, entries, hf, 0, ptype)

    items: list[bytes] = []
    for key, blob in [(0, struct.pack(order + "I", len(blobs) + 1))] + list(enumerate(blobs, start=1)):
        items.append(bytes([rpm.H_KEYDATA]) + struct.pack(order + "I", key))
        if len(blob) < inline_below or key == 0:
            items.append(bytes([rpm.H_KEYDATA]) + blob)
            continue
        first = len(pages) + 1  # the hash page goes in position 1, overflow pages after it
        room = pagesize - rpm.BDB_PAGE_HEADER
        chunks = [blob[i:i + room] for i in range(0, len(blob), room)]
        for n, chunk in enumerate(chunks):
            pg = bytearray(pagesize)
            pgno = first + n
            header(pg, pgno, pgno + 1 if n + 1 < len(chunks) else 0, 1, len(chunk), rpm.P_OVERFLOW)
            pg[rpm.BDB_PAGE_HEADER:rpm.BDB_PAGE_HEADER + len(chunk)] = chunk
            pages.append(pg)
        items.append(bytes([rpm.H_OFFPAGE, 0, 0, 0]) + struct.pack(order + "II", first, len(blob)))
    hash_page = bytearray(pagesize)
    top = pagesize
    offsets = []
    for item in items:
        top -= len(item)
        hash_page[top:top + len(item)] = item
        offsets.append(top)
    assert rpm.BDB_PAGE_HEADER + 2 * len(offsets) <= top, "test database: items do not fit one hash page"
    struct.pack_into(f"{order}{len(offsets)}H", hash_page, rpm.BDB_PAGE_HEADER, *offsets)
    header(hash_page, 1, 0, len(offsets), top, rpm.P_HASH)
    # The hash page is page 1; the overflow pages follow it.
    all_pages = [pages[0], hash_page, *pages[1:]]
    meta = all_pages[0]
    struct.pack_into(order + "QIIIIBBBBII", meta, 0, 0, 0, rpm.BDB_HASH_MAGIC, 9, pagesize, 0, rpm.P_HASHMETA,
                     0, 0, 0, len(all_pages) - 1)
    return b"".join(bytes(p) for p in all_pages)


def _rpm(data: bytes, path: str = "var/lib/rpm/Packages", os: OSRelease | None = None) -> CatalogOutput:
    return RPM.catalog({path: data}, CatalogContext(os=os))


def test_parse_header_tags() -> None:
    h = rpm.parse_header(make_header("bash", "5.1.8", "6.el9", epoch=2, vendor="Acme", license_="GPLv3+"))
    assert h == rpm.RpmHeader(name="bash", epoch=2, version="5.1.8", release="6.el9", arch="x86_64",
                              license="GPLv3+", vendor="Acme", source_rpm="bash-5.1.8-6.el9.src.rpm")
    assert rpm.parse_header(make_header(region=False)).name == "pkg"


@pytest.mark.parametrize(("blob", "message"), [
    (b"\x00\x00\x00", "header is 3 bytes, shorter than its 8-byte index/data counts"),
    (struct.pack(">II", 0, 0), "header has 0 index entries (expected 1 to 65535)"),
    (struct.pack(">II", 0x10000, 0), "header has 65536 index entries (expected 1 to 65535)"),
    (make_header()[:-7], "header is truncated"),
    (struct.pack(">II", 1, 4) + struct.pack(">IIiI", 1000, 6, 9, 1) + b"abc\x00",
     "tag NAME (1000) points at offset 9, outside the 4-byte data store"),
    (struct.pack(">II", 1, 4) + struct.pack(">IIiI", 1000, 4, 0, 1) + b"abc\x00",
     "tag NAME (1000) has type 4, expected a string"),
    (struct.pack(">II", 1, 3) + struct.pack(">IIiI", 1000, 6, 0, 1) + b"abc",
     "string of tag NAME (1000) at offset 0 is not NUL-terminated within the data store"),
    (struct.pack(">II", 1, 4) + struct.pack(">IIiI", 1003, 4, 2, 1) + b"abcd",
     "tag EPOCH (1003) at offset 2 runs past the 4-byte data store"),
])
def test_parse_header_errors(blob: bytes, message: str) -> None:
    with pytest.raises(rpm.HeaderError) as err:
        rpm.parse_header(blob)
    assert message in str(err.value)


BLOBS = [
    make_header("filesystem", "3.16", "2.el9", arch="x86_64", license_="Public Domain", vendor="Acme"),
    make_header("shadow-utils", "4.9", "6.el9", epoch=2, source_rpm="shadow-utils-4.9-6.el9.src.rpm"),
    make_header("gpg-pubkey", "fd431d51", "4ae0493b", arch=None, license_="pubkey", source_rpm=None),
    make_header("libgcc", "11.4.1", "2.1.el9", source_rpm="gcc-11.4.1-2.1.el9.src.rpm", license_=None),
]
BIG = make_header("big", vendor="v" * 2000)
WANT = [
    ("filesystem", "3.16-2.el9", "filesystem", "3.16-2.el9", ["Public Domain"]),
    ("shadow-utils", "2:4.9-6.el9", "shadow-utils", "2:4.9-6.el9", ["MIT"]),
    ("libgcc", "11.4.1-2.1.el9", "gcc", "11.4.1-2.1.el9", []),
]


@pytest.mark.parametrize(("name", "data", "path"), [
    ("sqlite", make_sqlite(BLOBS), "var/lib/rpm/rpmdb.sqlite"),
    ("sqlite-rollback-journal", make_sqlite(BLOBS, wal=False), "usr/lib/sysimage/rpm/rpmdb.sqlite"),
    ("ndb", make_ndb(BLOBS), "usr/lib/sysimage/rpm/Packages.db"),
    ("bdb-le-overflow", make_bdb(BLOBS), "var/lib/rpm/Packages"),
    ("bdb-be-overflow", make_bdb(BLOBS, order=">"), "var/lib/rpm/Packages"),
    ("bdb-inline", make_bdb(BLOBS, pagesize=4096, inline_below=10_000), "var/lib/rpm/Packages"),
    ("bdb-mixed", make_bdb(BLOBS, pagesize=4096, inline_below=300), "var/lib/rpm/Packages"),
    # The file name does not decide the format: the content does.
    ("sqlite-named-Packages", make_sqlite(BLOBS), "var/lib/rpm/Packages"),
])
def test_rpm_formats(name: str, data: bytes, path: str) -> None:
    assert RPM.wants(path)
    out = _rpm(data, path, os=OSRelease(id="rhel", version_id="9.3"))
    assert out.issues == []
    got = [(p.name, p.version, p.source_name, p.source_version, p.licenses) for p in out.packages]
    assert got == WANT
    shadow = out.packages[1]
    assert shadow.purl == "pkg:rpm/rhel/shadow-utils@4.9-6.el9?arch=x86_64&distro=rhel-9.3&epoch=2"
    assert shadow.metadata == {"source_rpm": "shadow-utils-4.9-6.el9.src.rpm", "epoch": 2}
    assert out.packages[0].metadata["vendor"] == "Acme"
    for p in out.packages:
        check_purl(p, OSRelease(id="rhel", version_id="9.3"))
        assert p.locations[0].path == path


def test_rpm_purl_without_os() -> None:
    out = _rpm(make_sqlite(BLOBS[:1]), "var/lib/rpm/rpmdb.sqlite")
    assert out.packages[0].purl == "pkg:rpm/filesystem@3.16-2.el9?arch=x86_64"


def test_rpm_wants() -> None:
    for d in ("var/lib/rpm", "usr/lib/sysimage/rpm"):
        for f in ("Packages", "Packages.db", "rpmdb.sqlite"):
            assert RPM.wants(f"{d}/{f}")
    assert not RPM.wants("var/lib/rpm/Name")
    assert not RPM.wants("var/lib/rpm/rpmdb.sqlite-shm")
    assert not RPM.wants("opt/var/lib/rpm/Packages")


def test_rpm_one_database_per_directory() -> None:
    files = {"var/lib/rpm/Packages": make_bdb(BLOBS[:1]), "var/lib/rpm/rpmdb.sqlite": make_sqlite(BLOBS[1:2])}
    out = RPM.catalog(files, CatalogContext())
    assert [(p.name, p.locations[0].path) for p in out.packages] == [("shadow-utils", "var/lib/rpm/rpmdb.sqlite")]
    files["usr/lib/sysimage/rpm/Packages.db"] = make_ndb(BLOBS[3:])
    out = RPM.catalog(files, CatalogContext())
    assert [p.name for p in out.packages] == ["libgcc", "shadow-utils"]


def test_rpm_truncated_header_in_database() -> None:
    blobs = [BLOBS[0], make_header("broken")[:40], BLOBS[3]]
    for data in (make_sqlite(blobs), make_ndb(blobs), make_bdb(blobs)):
        out = _rpm(data)
        assert [p.name for p in out.packages] == ["filesystem", "libgcc"]
        [issue] = out.issues
        assert issue.message.startswith("package 2: header is truncated: ")
        assert "the blob has 40" in issue.message


def test_rpm_missing_name_and_version() -> None:
    blobs = [make_header(name=None), make_header(version=None), make_header(name="a b")]  # type: ignore[arg-type]
    out = _rpm(make_ndb(blobs))
    assert out.packages == []
    assert [i.message for i in out.issues] == [
        "package 1: header has no NAME tag; skipped",
        "package 2 (pkg): header has no VERSION tag; skipped",
        "package 3: name 'a b' contains whitespace, '/' or control characters; skipped",
    ]


@pytest.mark.parametrize(("data", "message"), [
    (b"", "not an rpm database: no SQLite, NDB or Berkeley DB signature (first bytes b'')"),
    (b"\x7fELF" + b"\x00" * 60, "not an rpm database: no SQLite, NDB or Berkeley DB signature"),
    (b"RpmP" + struct.pack("<III", 1, 0, 1) + b"\x00" * 5000, "NDB version 1 is not supported (0 is)"),
    (b"RpmP" + struct.pack("<III", 0, 0, 9) + b"\x00" * 5000, "NDB header says 9 slot pages; the file holds 1"),
    (b"SQLite format 3\x00" + b"\xff" * 200, "not a readable SQLite rpm database"),
])
def test_rpm_bad_files(data: bytes, message: str) -> None:
    out = _rpm(data)
    assert out.packages == []
    assert any(i.message.startswith(message) for i in out.issues), out.issues


def test_rpm_sqlite_without_packages_table() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE other (x)")
    data = conn.serialize()
    conn.close()
    [issue] = _rpm(data, "var/lib/rpm/rpmdb.sqlite").issues
    assert issue.message == "not a readable SQLite rpm database: no such table: Packages"


def test_bdb_damage() -> None:
    good = make_bdb(BLOBS)
    # A btree database (rpm's index files) is not a package database.
    btree = bytearray(good)
    struct.pack_into("<I", btree, 12, rpm.BDB_BTREE_MAGIC)
    assert _rpm(bytes(btree)).issues[0].message.startswith("Berkeley DB file is not a hash database")
    # Encrypted and checksummed files are reported, not misread.
    enc = bytearray(good)
    enc[24] = 1
    assert _rpm(bytes(enc)).issues[0].message == "Berkeley DB file is encrypted; not read"
    chk = bytearray(good)
    chk[26] = 1
    assert "page checksums" in _rpm(bytes(chk)).issues[0].message
    # Truncation: the overflow chain that left the file is reported; the other packages survive.
    out = _rpm(good[:-512])
    messages = [i.message for i in out.issues]
    assert messages[0] == f"database is truncated: the metadata says {len(good) // 512} pages, " \
        f"the file holds {len(good) // 512 - 1}"
    assert any(m.startswith("hash page 1 pair 4 (package 4): overflow chain from page")
               and "past the end of the file; skipped" in m for m in messages), messages
    assert [p.name for p in out.packages] == ["filesystem", "shadow-utils"]
    # A loop in a chain of overflow pages.
    loop = bytearray(make_bdb([BIG]))
    struct.pack_into("<I", loop, 3 * 512 + 16, 2)  # the second overflow page leads back to the first
    messages = [i.message for i in _rpm(bytes(loop)).issues]
    assert messages == ["hash page 1 pair 1 (package 1): overflow chain from page 2 loops at page 2; skipped"]
    # A chain that ends early.
    short = bytearray(make_bdb([BIG]))
    struct.pack_into("<I", short, 3 * 512 + 16, 0)
    [issue] = _rpm(bytes(short)).issues
    assert "overflow chain from page 2 ends after 972 of" in issue.message


def test_ndb_damage() -> None:
    good = make_ndb(BLOBS)
    bad = bytearray(good)
    bad[4096 + 40] ^= 0xFF  # inside the first blob's data
    out = _rpm(bytes(bad), "var/lib/rpm/Packages.db")
    assert [p.name for p in out.packages] == ["shadow-utils", "libgcc"]
    [issue] = out.issues
    assert issue.message.startswith("slot 2 (package 1): blob checksum mismatch (adler32 ")
    bad = bytearray(good)
    bad[32:36] = b"Slox"
    assert "slot 2 has magic b'Slox', expected b'Slot'; skipped" in [i.message for i in _rpm(bytes(bad)).issues]


def test_rpm_size_limit() -> None:
    small = rpm.RpmCataloger()
    small.max_file_bytes = 100  # type: ignore[misc]
    out = small.catalog({"var/lib/rpm/Packages": make_bdb(BLOBS)}, CatalogContext())
    assert out.issues[0].message.endswith("over the 100-byte limit; not read")


def test_split_source_rpm() -> None:
    assert rpm.split_source_rpm("util-linux-2.32.1-42.el8_8.src.rpm") == ("util-linux", "2.32.1", "42.el8_8")
    assert rpm.split_source_rpm("foo-1-2.nosrc.rpm") == ("foo", "1", "2")
    assert rpm.split_source_rpm("foo-1.src.rpm") == ("", "", "")
    assert rpm.split_source_rpm("foo-1-2.rpm") == ("", "", "")


# --- hostile input: never raise -----------------------------------------------------------------


def _assert_well_formed(out: CatalogOutput, cataloger: str) -> None:
    assert isinstance(out, CatalogOutput)
    for p in out.packages:
        assert p.name
        parsed = PackageURL.from_string(p.purl)
        assert parsed.to_string() == p.purl
        # The purl spec lower-cases apk names; other types keep them.
        assert parsed.name == (p.name.lower() if p.ecosystem == "apk" else p.name)
    assert all(i.cataloger == cataloger and i.message for i in out.issues)


def _has_content(text: str) -> bool:
    return any(line.strip() for line in text.split("\n"))


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few bytes overwritten, a slice removed or duplicated, and maybe truncated."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 8))):
        if not out:
            break
        pos = draw(st.integers(0, len(out) - 1))
        out[pos] = draw(st.integers(0, 255))
    if out and draw(st.booleans()):
        a = draw(st.integers(0, len(out) - 1))
        b = draw(st.integers(a, min(len(out), a + 64)))
        if draw(st.booleans()):
            del out[a:b]
        else:
            out[a:a] = out[a:b]
    if draw(st.booleans()):
        out = out[: draw(st.integers(0, len(out)))]
    return bytes(out)


def _fixture_bytes(*parts: str) -> bytes:
    p = TESTDATA.joinpath("pkgdb", *parts)
    return p.read_bytes() if p.exists() else b""


DPKG_SEED = _fixture_bytes("dpkg", "ubuntu-20.04_scancode", "status") or STANZA.encode()
APK_SEED = _fixture_bytes("apk", "alpine-3.18_scalibr", "installed") or APK_DB.encode()
HYPO = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@HYPO
@given(st.text() | st.binary().map(lambda b: b.decode("latin-1")))
def test_dpkg_arbitrary_text(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    out = _dpkg(data)
    _assert_well_formed(out, "dpkg")
    if _has_content(data.decode("utf-8", "replace")) and "status" not in text.lower():
        assert out.packages or out.issues


@HYPO
@given(st.binary())
def test_dpkg_arbitrary_bytes(data: bytes) -> None:
    for path in ("var/lib/dpkg/status", "var/lib/dpkg/status.d/x"):
        _assert_well_formed(_dpkg(data, path), "dpkg")


@HYPO
@given(mutated(DPKG_SEED))
def test_dpkg_mutated_fixture(data: bytes) -> None:
    out = _dpkg(data, os=OSRelease(id="ubuntu", version_id="20.04"))
    _assert_well_formed(out, "dpkg")
    if len(data) > len(DPKG_SEED) // 2:
        assert out.packages or out.issues


@HYPO
@given(st.text() | st.binary().map(lambda b: b.decode("latin-1")))
def test_apk_arbitrary_text(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    out = _apk(data)
    _assert_well_formed(out, "apk")
    if _has_content(data.decode("utf-8", "replace")):
        assert out.packages or out.issues


@HYPO
@given(st.binary())
def test_apk_arbitrary_bytes(data: bytes) -> None:
    _assert_well_formed(_apk(data), "apk")


@HYPO
@given(mutated(APK_SEED))
def test_apk_mutated_fixture(data: bytes) -> None:
    out = _apk(data, os=OSRelease(id="alpine", version_id="3.18.0"))
    _assert_well_formed(out, "apk")
    if _has_content(data.decode("utf-8", "replace")):
        assert out.packages or out.issues


@HYPO
@given(st.binary(max_size=2048))
def test_parse_header_arbitrary(blob: bytes) -> None:
    try:
        h = rpm.parse_header(blob)
    except rpm.HeaderError as exc:
        assert str(exc)
    else:
        assert isinstance(h, rpm.RpmHeader)


@HYPO
@given(mutated(make_header("bash", "5.1", "2", epoch=1)))
def test_parse_header_mutated(blob: bytes) -> None:
    try:
        rpm.parse_header(blob)
    except rpm.HeaderError as exc:
        assert str(exc)


@HYPO
@given(st.sampled_from([b"", b"RpmP", b"SQLite format 3\x00", b"\x00" * 12 + struct.pack("<I", rpm.BDB_HASH_MAGIC),
                        b"\x00" * 12 + struct.pack(">I", rpm.BDB_HASH_MAGIC)]), st.binary(max_size=6000))
def test_rpm_arbitrary_bytes(prefix: bytes, rest: bytes) -> None:
    data = prefix + rest
    out = _rpm(data)
    _assert_well_formed(out, "rpm")
    if data:
        assert out.packages or out.issues


SYNTHETIC_DBS = [make_bdb(BLOBS), make_bdb(BLOBS, order=">", pagesize=4096, inline_below=300), make_ndb(BLOBS),
                 make_sqlite(BLOBS)]


@HYPO
@given(st.sampled_from(range(len(SYNTHETIC_DBS))).flatmap(lambda i: mutated(SYNTHETIC_DBS[i])))
def test_rpm_mutated_synthetic(data: bytes) -> None:
    out = _rpm(data)
    _assert_well_formed(out, "rpm")
    if data:
        assert out.packages or out.issues


RPM_SEEDS = [s for s in (_fixture_bytes("rpm", "bdb-dive_syft", "Packages"),
                         _fixture_bytes("rpm", "rhel8-libuuid-bdb_go-rpmdb", "Packages"),
                         _fixture_bytes("rpm", "sle15-bci-ndb_go-rpmdb", "Packages.db")) if s] or SYNTHETIC_DBS


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from(range(len(RPM_SEEDS))).flatmap(lambda i: mutated(RPM_SEEDS[i])))
def test_rpm_mutated_fixture(data: bytes) -> None:
    out = _rpm(data)
    _assert_well_formed(out, "rpm")
    if data:
        assert out.packages or out.issues


def test_catalogers_exported() -> None:
    assert [c.name for c in dpkg.CATALOGERS + apk.CATALOGERS + rpm.CATALOGERS] == ["dpkg", "apk", "rpm"]
    for c in (DPKG, APK, RPM):
        assert c.max_file_bytes > 0
    assert RPM.max_file_bytes == 64 * 1024 * 1024 and DPKG.max_file_bytes == 32 * 1024 * 1024
