"""Python and npm catalogers: shared fixtures against their upstream expectations, format details,
malformed input, and property tests (no input makes a cataloger raise)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packageurl import PackageURL
from packaging.utils import canonicalize_name

from propolis.scanner.catalogers import all_catalogers
from propolis.scanner.catalogers import npm as npm_mod
from propolis.scanner.catalogers import python as py_mod
from propolis.scanner.catalogers.interface import CatalogOutput
from propolis.scanner.catalogers.npm import (
    NpmInstalledCataloger,
    NpmLockCataloger,
    PnpmLockCataloger,
    YarnLockCataloger,
    parse_pnpm_key,
)
from propolis.scanner.catalogers.python import (
    PipfileLockCataloger,
    PoetryLockCataloger,
    PythonInstalledCataloger,
    RequirementsCataloger,
    UvLockCataloger,
)
from propolis.scanner.domain.model import Package
from tests.scanner.fixtures import CTX, by_name, expected, nv, pkgdb, run

ALL = [*py_mod.CATALOGERS, *npm_mod.CATALOGERS]
BY_NAME = {c.name: c for c in ALL}


def only(out: CatalogOutput) -> Package:
    assert not out.issues, out.issues
    assert len(out.packages) == 1, out.packages
    return out.packages[0]


# --- shared fixtures ------------------------------------------------------------------------------

#: fixture (under pkgdb/lang) → where it sits in a realistic image.
FIXTURES: dict[str, str] = {
    "pip/trivy-requirements-hash/requirements.txt": "app/requirements.txt",
    "pip/trivy-requirements-operator/requirements.txt": "srv/api/requirements-prod.txt",
    "pipenv/trivy-many/Pipfile.lock": "app/Pipfile.lock",
    "poetry/trivy-flask-v1/poetry.lock": "app/poetry.lock",
    "poetry/trivy-flask-v2/poetry.lock": "opt/service/poetry.lock",
    "uv/trivy-normal/uv.lock": "workspace/uv.lock",
    "python-site-packages/syft-Pygments-2.6.1/dist-info/METADATA":
        "usr/local/lib/python3.11/site-packages/Pygments-2.6.1.dist-info/METADATA",
    "python-site-packages/syft-requests-2.22.0/egg-info/PKG-INFO":
        "usr/lib/python3/dist-packages/requests-2.22.0.egg-info/PKG-INFO",
    "npm/trivy-lockfile-v1/package-lock.json": "app/package-lock.json",
    "npm/trivy-lockfile-v3/package-lock.json": "usr/src/app/package-lock.json",
    "npm/trivy-yarn-v1/yarn.lock": "app/yarn.lock",
    "npm/trivy-pnpm-v9/pnpm-lock.yaml": "app/pnpm-lock.yaml",
}
FIXTURE_DIRS = ("pip", "pipenv", "poetry", "uv", "python-site-packages", "npm")

#: expected-file field → how to read it from a Package.
_FIELDS = {
    "name": lambda p: p.name,
    "version": lambda p: p.version,
    "license": lambda p: tuple(p.licenses),
    "licenses": lambda p: tuple(p.licenses),
    "dev": lambda p: bool(p.metadata.get("dev", False)),
    "indirect": lambda p: bool(p.metadata.get("indirect", False)),
    "optional": lambda p: bool(p.metadata.get("optional", False)),
}


def _expected_value(field: str, value: Any) -> Any:
    if field == "version":
        return value or ""  # an unknown version (null upstream) is "" here
    if field == "license":
        return (value,) if value else ()
    if field == "licenses":
        return tuple(value)
    if field in ("dev", "indirect", "optional"):
        return bool(value)
    return value


def test_every_fixture_is_covered() -> None:
    root = pkgdb("lang")
    found = {str(p.relative_to(root))[: -len(".expected.json")]
             for d in FIXTURE_DIRS for p in (root / d).rglob("*.expected.json")}
    assert found == set(FIXTURES), "fixtures without a test (or tests without a fixture)"


@pytest.mark.parametrize("fixture", sorted(FIXTURES))
def test_fixture_matches_upstream_expectation(fixture: str) -> None:
    source = pkgdb("lang", *fixture.split("/"))
    image_path = FIXTURES[fixture]
    want = expected(source)
    takers = [c for c in ALL if c.wants(image_path)]
    assert len(takers) == 1, f"{image_path} is wanted by {[c.name for c in takers]}"
    out = takers[0].catalog({image_path: source.read_bytes()}, CTX)

    assert out.issues == []
    assert len(out.packages) == want["package_count"] == len(want["packages"])
    fields = sorted({f for e in want["packages"] for f in e})
    unknown = set(fields) - set(_FIELDS)
    assert not unknown, f"expected file asserts fields this test does not compare: {unknown}"
    got = sorted(tuple(_FIELDS[f](p) for f in fields) for p in out.packages)
    exp = sorted(tuple(_expected_value(f, e.get(f)) for f in fields) for e in want["packages"])
    assert got == exp
    for p in out.packages:
        assert [loc.path for loc in p.locations] == [image_path]
        assert_purl_round_trips(p)


def assert_purl_round_trips(p: Package) -> None:
    parsed = PackageURL.from_string(p.purl)
    assert parsed.to_string() == p.purl
    assert parsed.type == p.ecosystem
    assert (parsed.version or "") == p.version
    if p.ecosystem == "pypi":
        assert parsed.name == canonicalize_name(p.name)
        assert parsed.namespace is None
    else:
        scope, _, bare = p.name.rpartition("/")
        assert parsed.name == bare.lower()  # the purl spec lowercases npm names
        assert (parsed.namespace or "") == scope.lower()


def test_scoped_npm_purl() -> None:
    out = run(NpmLockCataloger(), "app/package-lock.json",
              pkgdb("lang", "npm", "trivy-lockfile-v3", "package-lock.json").read_bytes())
    babel = by_name(out)["@babel/helper-string-parser"]
    assert babel.purl == "pkg:npm/%40babel/helper-string-parser@7.19.4"
    parsed = PackageURL.from_string(babel.purl)
    assert (parsed.namespace, parsed.name, parsed.version) == ("@babel", "helper-string-parser", "7.19.4")


def test_fixture_flags_are_kept() -> None:
    """Details the upstream expectations leave out: dev, optional and indirect flags."""
    v3 = run(NpmLockCataloger(), "app/package-lock.json",
             pkgdb("lang", "npm", "trivy-lockfile-v3", "package-lock.json").read_bytes())
    flags = {(p.name, p.version): p.metadata for p in v3.packages}
    assert flags[("debug", "2.5.2")] == {"dev": True, "indirect": False}
    assert flags[("ms", "0.7.2")] == {"dev": True, "indirect": True}
    assert flags[("promise", "8.3.0")] == {"dev": False, "optional": True, "indirect": False}
    assert flags[("debug", "2.6.9")]["dev"] is False

    v1 = run(NpmLockCataloger(), "app/package-lock.json",
             pkgdb("lang", "npm", "trivy-lockfile-v1", "package-lock.json").read_bytes())
    assert {(p.name, p.version) for p in v1.packages if p.metadata.get("dev")} == {("debug", "2.5.2"), ("ms", "0.7.2")}

    pnpm = run(PnpmLockCataloger(), "app/pnpm-lock.yaml",
               pkgdb("lang", "npm", "trivy-pnpm-v9", "pnpm-lock.yaml").read_bytes())
    meta = {(p.name, p.version): p.metadata for p in pnpm.packages}
    assert meta[("jquery", "3.6.0")]["dev"] is True
    assert meta[("await-sleep", "0.0.1")]["dev"] is True  # a workspace package's devDependency
    assert meta[("ms", "2.0.0")]["dev"] is False  # also reached from finalhandler → debug
    assert meta[("asap", "2.0.6")]["optional"] is True
    assert meta[("ee-first", "1.1.1")]["indirect"] is True
    assert meta[("debug", "4.3.5")] == {"dev": False, "indirect": False}
    assert meta[("lodash", "4.17.21")]["dev"] is True  # a file: tarball with a declared version

    poetry = run(PoetryLockCataloger(), "app/poetry.lock",
                 pkgdb("lang", "poetry", "trivy-flask-v2", "poetry.lock").read_bytes())
    dev = {p.name for p in poetry.packages if p.metadata["dev"]}
    assert dev == {"atomicwrites", "attrs", "more-itertools", "packaging", "py", "pytest", "wcwidth"}
    assert by_name(poetry)["colorama"].metadata == {"groups": ["main", "dev"], "dev": False}

    uv = run(UvLockCataloger(), "app/uv.lock", pkgdb("lang", "uv", "trivy-normal", "uv.lock").read_bytes())
    u = by_name(uv)
    assert u["normal"].metadata == {"source": "virtual", "project": True}
    assert u["pytest"].metadata == {"source": "registry", "dev": True, "indirect": False}
    assert u["httpx"].metadata == {"source": "registry", "dev": False, "indirect": False}
    assert u["iniconfig"].metadata["dev"] is True
    assert u["socksio"].metadata == {"source": "registry", "dev": False, "indirect": True}  # httpx[socks]


# --- wants ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "cataloger"), [
    ("usr/lib/python3/dist-packages/foo-1.0.dist-info/METADATA", "python-installed"),
    ("usr/local/lib/python3.12/site-packages/foo-1.0.dist-info/METADATA", "python-installed"),
    ("opt/venv/lib/python3.11/site-packages/foo-1.0.egg-info/PKG-INFO", "python-installed"),
    ("usr/lib/python3/dist-packages/foo-1.0.egg-info", "python-installed"),
    ("usr/lib/python2.7/site-packages/foo-1.0-py2.7.egg/EGG-INFO/PKG-INFO", "python-installed"),
    ("app/src/myproj.egg-info/PKG-INFO", "python-installed"),
    ("app/requirements.txt", "python-requirements"),
    ("app/requirements-dev.txt", "python-requirements"),
    ("requirements_prod.txt", "python-requirements"),
    ("app/poetry.lock", "python-poetry"),
    ("app/Pipfile.lock", "python-pipenv"),
    ("app/uv.lock", "python-uv"),
    ("app/node_modules/express/package.json", "npm-installed"),
    ("usr/lib/node_modules/npm/node_modules/@npmcli/arborist/package.json", "npm-installed"),
    ("app/node_modules/a/node_modules/b/package.json", "npm-installed"),
    ("app/node_modules/.pnpm/lodash@4.17.21/node_modules/lodash/package.json", "npm-installed"),
    ("app/node_modules/.pnpm/@types+node@20.0.0/node_modules/@types/node/package.json", "npm-installed"),
    ("app/package-lock.json", "npm-lock"),
    ("app/npm-shrinkwrap.json", "npm-lock"),
    ("app/yarn.lock", "yarn-lock"),
    ("app/pnpm-lock.yaml", "pnpm-lock"),
])
def test_wants(path: str, cataloger: str) -> None:
    assert [c.name for c in ALL if c.wants(path)] == [cataloger]


@pytest.mark.parametrize("path", [
    "usr/lib/python3/dist-packages/foo-1.0.dist-info/RECORD",
    "usr/lib/python3/dist-packages/foo-1.0.dist-info/METADATA.bak",
    "app/build/foo-1.0.dist-info/METADATA",  # an unpacked wheel, not an installed one
    "app/PKG-INFO",
    "app/requirements.in",
    "app/dev-requirements.txt",
    "usr/lib/python3/dist-packages/foo/requirements.txt",  # shipped inside an installed package
    "app/node_modules/foo/poetry.lock",
    "app/package.json",  # the project itself, not an installed package
    "app/node_modules/foo/lib/package.json",
    "app/node_modules/foo/test/fixtures/node_modules/bar/package.json",
    "app/node_modules/.cache/x/package.json",
    "app/node_modules/@scope/package.json",
    "app/node_modules/package.json",
    "app/node_modules/foo/package-lock.json",
    "app/node_modules/foo/yarn.lock",
    "app/node_modules/.package-lock.json",
    "app/node_modules/foo/pnpm-lock.yaml",
    "app/package-lock.json.orig",
])
def test_not_wanted(path: str) -> None:
    assert [c.name for c in ALL if c.wants(path)] == []


def test_discovery_and_limits() -> None:
    names = {c.name for c in all_catalogers()}
    assert set(BY_NAME) <= names
    for c in ALL:
        assert 1024 * 1024 <= c.max_file_bytes <= 32 * 1024 * 1024
    for name in ("npm-lock", "yarn-lock", "pnpm-lock", "python-poetry", "python-pipenv", "python-uv"):
        assert BY_NAME[name].max_file_bytes == 32 * 1024 * 1024


# --- installed Python distributions ---------------------------------------------------------------

DIST = "usr/lib/python3/dist-packages/foo-1.0.dist-info/METADATA"


def test_metadata_license_expression_wins() -> None:
    p = only(run(PythonInstalledCataloger(), DIST,
                 "Metadata-Version: 2.4\nName: Foo_Bar\nVersion: 1.0\nLicense-Expression: MIT OR Apache-2.0\n"
                 "License: MIT\nClassifier: License :: OSI Approved :: MIT License\n\nbody\n"))
    assert (p.name, p.version, p.licenses) == ("Foo_Bar", "1.0", ["MIT OR Apache-2.0"])
    assert p.purl == "pkg:pypi/foo-bar@1.0"
    assert p.ecosystem == "pypi"


def test_metadata_license_from_classifiers_when_license_is_unknown_or_a_full_text() -> None:
    for license_header in ("License: UNKNOWN\n", "License: Copyright (c) Someone\n        Permission is granted\n", ""):
        p = only(run(PythonInstalledCataloger(), DIST,
                     f"Metadata-Version: 2.1\nName: foo\nVersion: 2.0\n{license_header}"
                     "Classifier: License :: OSI Approved :: BSD License\n"
                     "Classifier: License :: OSI Approved :: MIT License\n"
                     "Classifier: Programming Language :: Python\n"))
        assert p.licenses == ["BSD License", "MIT License"]


def test_metadata_without_license() -> None:
    p = only(run(PythonInstalledCataloger(), DIST, "Name: foo\nVersion: 2.0\n"))
    assert p.licenses == []


def test_egg_info_file() -> None:
    p = only(run(PythonInstalledCataloger(), "usr/lib/python3/dist-packages/six-1.16.0.egg-info",
                 "Metadata-Version: 1.1\nName: six\nVersion: 1.16.0\nLicense: MIT\nDescription: long\n  text\n"))
    assert (p.name, p.version, p.licenses) == ("six", "1.16.0", ["MIT"])


def test_metadata_without_version_is_an_issue() -> None:
    out = run(PythonInstalledCataloger(), DIST, "Metadata-Version: 2.1\nName: foo\n\n")
    assert out.packages == []
    assert [(i.cataloger, i.path, i.message) for i in out.issues] == [
        ("python-installed", DIST, "core metadata has no Version header")]


def test_metadata_latin1_is_read_with_an_issue() -> None:
    out = run(PythonInstalledCataloger(), DIST, "Name: foo\nVersion: 1.0\nAuthor: Andr\xe9\n".encode("latin-1"))
    assert nv(out) == [("foo", "1.0")]
    assert len(out.issues) == 1
    assert out.issues[0].message.startswith("not valid UTF-8 (byte 0xe9 at offset 35)")


# --- requirements.txt -----------------------------------------------------------------------------


REQUIREMENTS = r"""# a comment
-r base.txt
--requirement other.txt
-c constraints.txt
-e git+https://github.com/org/editable.git#egg=editable
--index-url https://pypi.example.com/simple
Django==4.2.1  # trailing comment
requests[security,socks] == 2.31.0 ; python_version >= "3.8"
urllib3==2.0.4 \
    --hash=sha256:aaaa \
    --hash=sha256:bbbb
flask>=2.0
numpy~=1.24
pinned-wildcard==1.*
arbitrary===1.0-custom
six==1.16.0
Six==1.16.0
zope.interface==6.0 --global-option="--quiet"
https://example.com/pkg-1.0.tar.gz
./local/path
mypkg @ https://example.com/mypkg-1.0-py3-none-any.whl
name#not-a-comment==1.0
"""


def test_requirements_pins_only() -> None:
    out = run(RequirementsCataloger(), "app/requirements.txt", REQUIREMENTS)
    assert nv(out) == [("Django", "4.2.1"), ("arbitrary", "1.0-custom"), ("requests", "2.31.0"),
                       ("six", "1.16.0"), ("urllib3", "2.0.4"), ("zope.interface", "6.0")]
    r = by_name(out)
    assert r["requests"].metadata == {"markers": 'python_version >= "3.8"', "extras": ["security", "socks"]}
    assert r["zope.interface"].purl == "pkg:pypi/zope-interface@6.0"
    # "name#not-a-comment==1.0": '#' without a preceding space is not a comment, so the line is invalid
    assert [i.message for i in out.issues] == [out.issues[0].message]
    assert out.issues[0].message.startswith("line 22: not a requirement")


def test_requirements_continuation_and_crlf() -> None:
    out = run(RequirementsCataloger(), "app/requirements.txt",
              "alpha==1.0 \\\r\n    --hash=sha256:00\r\nbeta \\\n==\\\n2.0\n# comment \\\ngamma==3.0\n")
    assert nv(out) == [("alpha", "1.0"), ("beta", "2.0"), ("gamma", "3.0")]
    assert out.issues == []


def test_requirements_non_utf8_still_reads_the_rest() -> None:
    out = run(RequirementsCataloger(), "app/requirements.txt", b"# caf\xe9\nalpha==1.0\n")
    assert nv(out) == [("alpha", "1.0")]
    assert [i.message for i in out.issues] == [
        "not valid UTF-8 (byte 0xe9 at offset 5); undecodable bytes were replaced"]


# --- poetry.lock / Pipfile.lock / uv.lock ---------------------------------------------------------


def test_poetry_optional_and_duplicates() -> None:
    out = run(PoetryLockCataloger(), "app/poetry.lock", """
[[package]]
name = "Foo"
version = "1.0"
category = "main"
optional = true

[[package]]
name = "foo"
version = "1.0"
category = "dev"
optional = false

[[package]]
name = "bar"
version = "2.0"
groups = ["docs"]
""")
    assert out.issues == []
    assert nv(out) == [("Foo", "1.0"), ("bar", "2.0")]
    r = by_name(out)
    assert r["Foo"].metadata == {"category": "main", "dev": False}
    assert r["bar"].metadata == {"groups": ["docs"], "dev": True}


def test_poetry_invalid_toml() -> None:
    out = run(PoetryLockCataloger(), "app/poetry.lock", '[[package]]\nname = "foo"\nversion = "1.0\n')
    assert out.packages == []
    assert len(out.issues) == 1
    msg = out.issues[0].message
    assert msg.startswith("invalid TOML: ") and "line 3" in msg


def test_poetry_entries_without_version_are_reported_and_the_rest_kept() -> None:
    out = run(PoetryLockCataloger(), "app/poetry.lock",
              '[[package]]\nname = "a"\n\n[[package]]\nname = "b"\nversion = "1"\n\n[[package]]\nversion = "3"\n')
    assert nv(out) == [("b", "1")]
    assert out.issues[0].message == "package[0] (a) has no version; package[2] has no name"


def test_pipfile_develop_and_default() -> None:
    out = run(PipfileLockCataloger(), "app/Pipfile.lock", json.dumps({
        "_meta": {},
        "default": {"requests": {"version": "==2.31.0"}, "shared": {"version": "==1.0"},
                    "editable": {"editable": True, "path": "."}},
        "develop": {"pytest": {"version": "==7.4.0"}, "shared": {"version": "==1.0"}},
    }))
    assert out.issues == []
    assert {p.name: p.metadata["dev"] for p in out.packages} == {"requests": False, "shared": False, "pytest": True}


def test_pipfile_truncated_json() -> None:
    out = run(PipfileLockCataloger(), "app/Pipfile.lock", '{"default": {"requests": {"version": "==2.3')
    assert out.packages == []
    assert out.issues[0].message == ("invalid JSON: the file ends inside a string that starts at line 1 column 38 "
                                     "(truncated?)")
    out = run(PipfileLockCataloger(), "app/Pipfile.lock", '{"default": {"requests": {"version": "==2.3"}')
    assert out.issues[0].message == "invalid JSON: the file ends unexpectedly at line 1 column 46 (truncated?)"


def test_pipfile_wrong_types() -> None:
    out = run(PipfileLockCataloger(), "app/Pipfile.lock",
              json.dumps({"default": [], "develop": {"a": "==1", "b": {"version": ">=2"}, "c": {"version": "==3"}}}))
    assert nv(out) == [("c", "3")]
    assert out.issues[0].message == ("'default' is an array, expected an object; develop.a is a string, expected an "
                                     "object; develop.b: version '>=2' is not an exact '==' pin")


def test_uv_workspace_without_static_version() -> None:
    out = run(UvLockCataloger(), "app/uv.lock", """version = 1
[[package]]
name = "member"
source = { editable = "packages/member" }
dependencies = [{ name = "dep" }]

[[package]]
name = "dep"
version = "1.0"
source = { registry = "https://pypi.org/simple" }
""")
    assert out.issues == []
    assert nv(out) == [("dep", "1.0")]


# --- npm: installed packages ----------------------------------------------------------------------


NODE = "app/node_modules/@types/node/package.json"


@pytest.mark.parametrize(("manifest", "licenses"), [
    ({"license": "MIT"}, ["MIT"]),
    ({"license": {"type": "ISC", "url": "x"}}, ["ISC"]),
    ({"licenses": [{"type": "MIT"}, {"type": "Apache-2.0"}]}, ["MIT", "Apache-2.0"]),
    ({"licenses": ["BSD-3-Clause"]}, ["BSD-3-Clause"]),
    ({"license": "(MIT OR GPL-3.0)", "licenses": [{"type": "x"}]}, ["(MIT OR GPL-3.0)"]),
    ({"license": 7}, []),
    ({}, []),
])
def test_package_json_licenses(manifest: dict[str, Any], licenses: list[str]) -> None:
    p = only(run(NpmInstalledCataloger(), NODE, json.dumps({"name": "@types/node", "version": "20.1.0", **manifest})))
    assert p.licenses == licenses
    assert p.purl == "pkg:npm/%40types/node@20.1.0"


@pytest.mark.parametrize("manifest", [
    {"type": "module"},
    {"name": "foo"},
    {"version": "1.0.0"},
    {"name": "", "version": "1.0.0"},
    {"name": "foo", "version": 1},
])
def test_package_json_that_is_not_a_package(manifest: dict[str, Any]) -> None:
    out = run(NpmInstalledCataloger(), "app/node_modules/foo/package.json", json.dumps(manifest))
    assert out.packages == [] and out.issues == []


def test_package_json_errors() -> None:
    out = run(NpmInstalledCataloger(), "app/node_modules/foo/package.json", b'["name"]')
    assert out.issues[0].message == "top level is an array, expected a JSON object"
    out = run(NpmInstalledCataloger(), "app/node_modules/foo/package.json", b"\xff\xfe{")
    assert out.issues[0].message.startswith("not valid UTF-8 (byte 0xff at offset 0)")
    assert "invalid JSON" in out.issues[0].message


# --- npm: package-lock.json -----------------------------------------------------------------------


def test_package_lock_v2_links_aliases_and_workspaces() -> None:
    out = run(NpmLockCataloger(), "app/package-lock.json", json.dumps({
        "lockfileVersion": 2,
        "packages": {
            "": {"name": "root", "version": "1.0.0", "workspaces": ["packages/*"],
                 "dependencies": {"lodash": "^4", "ws-lib": "*", "str": "npm:string-width@^4"}},
            "node_modules/lodash": {"version": "4.17.21", "license": "MIT"},
            "node_modules/ws-lib": {"resolved": "packages/ws-lib", "link": True},
            "node_modules/outside": {"resolved": "../elsewhere", "link": True},
            "node_modules/str": {"name": "string-width", "version": "4.2.3"},
            "node_modules/@scope/pkg": {"version": "2.0.0", "dev": True},
            "node_modules/@scope/pkg/node_modules/lodash": {"version": "3.10.1", "dev": True},
            "packages/ws-lib": {"name": "ws-lib", "version": "0.3.0", "license": "ISC"},
            "packages/ws-lib/node_modules/left-pad": {"version": "1.3.0"},
        },
        "dependencies": {"ignored": {"version": "9.9.9"}},
    }))
    assert out.issues == []
    assert nv(out) == [("@scope/pkg", "2.0.0"), ("left-pad", "1.3.0"), ("lodash", "3.10.1"), ("lodash", "4.17.21"),
                       ("string-width", "4.2.3"), ("ws-lib", "0.3.0")]
    got = {(p.name, p.version): p for p in out.packages}
    assert got[("ws-lib", "0.3.0")].metadata == {"dev": False, "link": True, "resolved": "packages/ws-lib",
                                                  "indirect": False}
    assert got[("ws-lib", "0.3.0")].licenses == ["ISC"]
    assert got[("lodash", "4.17.21")].licenses == ["MIT"]
    assert got[("lodash", "3.10.1")].metadata == {"dev": True, "indirect": True}
    assert got[("@scope/pkg", "2.0.0")].metadata == {"dev": True, "indirect": True}
    assert got[("string-width", "4.2.3")].metadata["indirect"] is False


def test_package_lock_v1_nested_and_odd_versions() -> None:
    out = run(NpmLockCataloger(), "app/package-lock.json", json.dumps({
        "lockfileVersion": 1,
        "dependencies": {
            "a": {"version": "1.0.0", "dependencies": {"b": {"version": "2.0.0", "dev": True,
                                                             "dependencies": {"c": {"version": "3.0.0"}}}}},
            "b": {"version": "2.0.0"},
            "local": {"version": "file:../local"},
            "alias": {"version": "npm:@scope/real@1.2.3"},
            "broken": {"resolved": "x"},
            "bad": "1.0.0",
        },
    }))
    assert nv(out) == [("@scope/real", "1.2.3"), ("a", "1.0.0"), ("b", "2.0.0"), ("c", "3.0.0"), ("local", "")]
    assert by_name(out)["b"].metadata == {"dev": False}  # listed twice: once as a production dependency
    assert by_name(out)["local"].metadata == {"dev": False, "resolved": "file:../local"}
    assert out.issues[0].message == ("dependencies['broken'] has no version; "
                                     "dependencies['bad'] is a string, expected an object")


def test_package_lock_deep_nesting_does_not_recurse() -> None:
    doc: dict[str, Any] = {"version": "1.0.0"}
    inner = doc
    for i in range(300):
        child = {"version": f"2.0.{i}"}
        inner["dependencies"] = {"x": child}
        inner = child
    out = run(NpmLockCataloger(), "app/package-lock.json", json.dumps({"dependencies": {"x": doc}}))
    assert len(out.packages) == 301 and out.issues == []


@pytest.mark.parametrize(("content", "message"), [
    (b'{"lockfileVersion": 3, "packages": {"node_modules/a": {"version": "1',
     "invalid JSON: the file ends inside a string that starts at line 1 column 67 (truncated?)"),
    (b'{"lockfileVersion": 3, "packages": {"node_modules/a": {"version": "1.0.0"}',
     "invalid JSON: the file ends unexpectedly at line 1 column 75 (truncated?)"),
    (b'{"packages": {,}}', "invalid JSON: Expecting property name enclosed in double quotes at line 1 column 15"),
    (b"", "empty file, expected a JSON object"),
    (b"[1, 2]", "top level is an array, expected a JSON object"),
    (b'{"packages": []}', "'packages' is an array, expected an object"),
    (b'{"packages": {"node_modules/a": 3}}', "packages['node_modules/a'] is a number, expected an object"),
    (b'{"packages": {"node_modules/a": {}}}', "packages['node_modules/a'] has no version"),
    (b"[" * 100_000, "invalid JSON: nested too deeply"),
])
def test_package_lock_malformed(content: bytes, message: str) -> None:
    out = run(NpmLockCataloger(), "app/package-lock.json", content)
    assert out.packages == []
    assert [(i.cataloger, i.path, i.message) for i in out.issues] == [("npm-lock", "app/package-lock.json", message)]


# --- npm: yarn.lock -------------------------------------------------------------------------------


YARN_V1 = '''# yarn lockfile v1


"@babel/code-frame@^7.0.0", "@babel/code-frame@^7.10.4":
  version "7.12.13"
  resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.12.13.tgz"
  dependencies:
    "@babel/highlight" "^7.12.13"

"string-width@^1.0.2 || 2", string-width@^2.1.1:
  version "2.1.1"

string-width-cjs@npm:string-width@^4.2.0:
  version "4.2.3"

left-pad@1.3.0:
  version 1.3.0

no-version@^1:
  resolved "x"

this line is not a header
'''


def test_yarn_v1_details() -> None:
    out = run(YarnLockCataloger(), "app/yarn.lock", YARN_V1)
    assert nv(out) == [("@babel/code-frame", "7.12.13"), ("left-pad", "1.3.0"), ("string-width", "2.1.1"),
                       ("string-width", "4.2.3")]
    assert out.issues[0].message == ("line 19: entry 'no-version' has no version; "
                                     "line 22: expected an entry header ending in ':'")


YARN_BERRY = '''# This file is generated by running "yarn install" inside your project.

__metadata:
  version: 6
  cacheKey: 8

"@babel/core@npm:^7.0.0, @babel/core@npm:^7.12.3":
  version: 7.21.0
  resolution: "@babel/core@npm:7.21.0"
  languageName: node
  linkType: hard

"myapp@workspace:.":
  version: 0.0.0-use.local
  resolution: "myapp@workspace:."
  languageName: unknown
  linkType: soft

"resolve@npm:^1.22.1":
  version: 1.22.1
  resolution: "resolve@npm:1.22.1"

"resolve@patch:resolve@npm%3A^1.22.1#~builtin<compat/resolve>":
  version: 1.22.1
  resolution: "resolve@patch:resolve@npm%3A1.22.1#~builtin<compat/resolve>::version=1.22.1&hash=c3c19d"

"string-width-cjs@npm:string-width@^4.2.0":
  version: 4.2.3
  resolution: "string-width@npm:4.2.3"

"linked@link:../linked::locator=myapp%40workspace%3A.":
  version: 0.0.0-use.local
  resolution: "linked@link:../linked::locator=myapp%40workspace%3A."
'''


def test_yarn_berry() -> None:
    out = run(YarnLockCataloger(), "app/yarn.lock", YARN_BERRY)
    assert out.issues == []
    assert nv(out) == [("@babel/core", "7.21.0"), ("resolve", "1.22.1"), ("string-width", "4.2.3")]


def test_yarn_berry_invalid_yaml() -> None:
    out = run(YarnLockCataloger(), "app/yarn.lock", "__metadata:\n  version: 6\n\"a@npm:1\":\n  version: [1\n")
    assert out.packages == []
    assert out.issues[0].message.startswith("invalid YAML: ")
    assert "line 5" in out.issues[0].message


# --- npm: pnpm-lock.yaml --------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "name", "version"), [
    ("/lodash/4.17.21", "lodash", "4.17.21"),
    ("/@babel/core/7.21.0_supports-color@8.1.1", "@babel/core", "7.21.0"),
    ("/ts-node/10.9.1_x2utdhayajzrh747hktprshhby", "ts-node", "10.9.1"),
    ("/lodash@4.17.21", "lodash", "4.17.21"),
    ("/@babel/core@7.21.0(supports-color@8.1.1)", "@babel/core", "7.21.0"),
    ("debug@4.3.4(supports-color@8.1.1)(other@1.0.0)", "debug", "4.3.4"),
    ("@scope/x@1.0.0-rc.1", "@scope/x", "1.0.0-rc.1"),
    ("debug@https://github.com/debug-js/debug/tarball/4.3.5", "debug", "https://github.com/debug-js/debug/tarball/4.3.5"),
])
def test_pnpm_keys(key: str, name: str, version: str) -> None:
    assert parse_pnpm_key(key) == (name, version)


PNPM_V5 = """lockfileVersion: 5.4

specifiers:
  react-dom: ^18.2.0
  typescript: ^4.9.0

dependencies:
  react-dom: 18.2.0_react@18.2.0

devDependencies:
  typescript: 4.9.5

packages:

  /react-dom/18.2.0_react@18.2.0:
    resolution: {integrity: sha512-x}
    peerDependencies:
      react: ^18.2.0
    dependencies:
      react: 18.2.0
    dev: false

  /react/18.2.0:
    resolution: {integrity: sha512-y}
    dev: false

  /typescript/4.9.5:
    resolution: {integrity: sha512-z}
    dev: true

  github.com/user/repo/0123abc:
    resolution: {tarball: https://codeload.github.com/user/repo/tar.gz/0123abc}
    name: repo-pkg
    version: 0.1.0
    dev: false
"""

PNPM_V6 = """lockfileVersion: '6.0'

dependencies:
  react-dom:
    specifier: ^18.2.0
    version: 18.2.0(react@18.2.0)

packages:

  /react-dom@18.2.0(react@18.2.0):
    resolution: {integrity: sha512-x}
    dependencies:
      react: 18.2.0
    dev: false

  /react-dom@18.2.0(react@18.3.0):
    resolution: {integrity: sha512-x}
    dev: false

  /react@18.2.0:
    resolution: {integrity: sha512-y}
    dev: false

  /@types/node@20.1.0:
    resolution: {integrity: sha512-w}
    dev: true
"""


def test_pnpm_v5() -> None:
    out = run(PnpmLockCataloger(), "app/pnpm-lock.yaml", PNPM_V5)
    assert out.issues == []
    got = {(p.name, p.version): p.metadata for p in out.packages}
    assert got == {
        ("react-dom", "18.2.0"): {"dev": False, "indirect": False},
        ("react", "18.2.0"): {"dev": False, "indirect": True},
        ("typescript", "4.9.5"): {"dev": True, "indirect": False},
        ("repo-pkg", "0.1.0"): {"dev": False, "indirect": True},
    }


def test_pnpm_v6_peer_variants_are_one_package() -> None:
    out = run(PnpmLockCataloger(), "app/pnpm-lock.yaml", PNPM_V6)
    assert out.issues == []
    assert nv(out) == [("@types/node", "20.1.0"), ("react", "18.2.0"), ("react-dom", "18.2.0")]
    assert by_name(out)["react-dom"].metadata == {"dev": False, "indirect": False}
    assert by_name(out)["@types/node"].purl == "pkg:npm/%40types/node@20.1.0"


def test_pnpm_malformed() -> None:
    out = run(PnpmLockCataloger(), "app/pnpm-lock.yaml", "lockfileVersion: '9.0'\npackages:\n  - a\n")
    assert out.issues[0].message == "'packages' is an array, expected a mapping"
    out = run(PnpmLockCataloger(), "app/pnpm-lock.yaml", "lockfileVersion: '9.0'\npackages: {a@1: {\n")
    assert out.issues[0].message.startswith("invalid YAML: ")
    out = run(PnpmLockCataloger(), "app/pnpm-lock.yaml", "- just\n- a list\n")
    assert out.issues[0].message == "top level is an array, expected a mapping"


# --- property tests -------------------------------------------------------------------------------

PATHS = {
    "python-installed": DIST,
    "python-requirements": "app/requirements.txt",
    "python-poetry": "app/poetry.lock",
    "python-pipenv": "app/Pipfile.lock",
    "python-uv": "app/uv.lock",
    "npm-installed": "app/node_modules/foo/package.json",
    "npm-lock": "app/package-lock.json",
    "yarn-lock": "app/yarn.lock",
    "pnpm-lock": "app/pnpm-lock.yaml",
}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_output(name: str, out: CatalogOutput) -> None:
    assert isinstance(out, CatalogOutput)
    for issue in out.issues:
        assert issue.cataloger == name and issue.path == PATHS[name] and issue.message
    for p in out.packages:
        assert isinstance(p.name, str) and p.name and isinstance(p.version, str)
        assert [loc.path for loc in p.locations] == [PATHS[name]]
        assert_purl_round_trips(p)
    keys = [(p.name, p.version) for p in out.packages]
    assert len(keys) == len(set(keys))


def test_paths_table_matches_catalogers() -> None:
    assert set(PATHS) == set(BY_NAME)


@pytest.mark.parametrize("name", sorted(PATHS))
@FUZZ
@given(data=st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(name: str, data: bytes) -> None:
    check_output(name, run(BY_NAME[name], PATHS[name], data))


@pytest.mark.parametrize("name", sorted(PATHS))
@FUZZ
@given(text=st.text(max_size=2000))
def test_arbitrary_text_never_raises(name: str, text: str) -> None:
    check_output(name, run(BY_NAME[name], PATHS[name], text.encode("utf-8", "surrogatepass")))


_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
            | st.sampled_from(["1.0.0", "==1.0", "node_modules/a", "link:../x", "file:x", "@s/n", "name@1.0.0",
                               "a@npm:b@1"]))
_keys = st.text(max_size=10) | st.sampled_from(
    ["", "name", "version", "dependencies", "packages", "node_modules/a", "node_modules/@s/b", "link", "resolved",
     "dev", "optional", "license", "licenses", "default", "develop", "importers", "snapshots", "devDependencies",
     "__metadata", "resolution", "a@npm:^1", "/a/1.0.0", "a@1.0.0", "lockfileVersion"])
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=5),
                     max_leaves=30)


@pytest.mark.parametrize("name", ["npm-installed", "npm-lock", "python-pipenv"])
@FUZZ
@given(doc=_json)
def test_arbitrary_json_structures_never_raise(name: str, doc: Any) -> None:
    check_output(name, run(BY_NAME[name], PATHS[name], json.dumps(doc)))


@pytest.mark.parametrize("name", ["npm-lock", "pnpm-lock", "yarn-lock"])
@FUZZ
@given(body=st.dictionaries(_keys, _json, max_size=4), wrapper=st.sampled_from(["packages", "dependencies", "top"]))
def test_lock_shaped_documents_never_raise(name: str, body: dict[str, Any], wrapper: str) -> None:
    doc: dict[str, Any] = dict(body) if wrapper == "top" else {wrapper: body}
    if name == "npm-lock":
        text = json.dumps(doc)
    else:
        if name == "yarn-lock":
            doc["__metadata"] = {"version": 6}
        if name == "pnpm-lock":
            doc.setdefault("importers", {".": {"dependencies": body}})
            doc.setdefault("snapshots", body)
        text = yaml.safe_dump(doc)
    check_output(name, run(BY_NAME[name], PATHS[name], text))


_toml_str = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"\\'),
                    max_size=10)
_toml_value = st.one_of(
    _toml_str.map(lambda s: f'"{s}"'), st.integers(-5, 5).map(str), st.booleans().map(lambda b: str(b).lower()),
    st.lists(_toml_str, max_size=3).map(lambda xs: "[" + ", ".join(f'"{x}"' for x in xs) + "]"),
    st.dictionaries(st.sampled_from(["name", "version", "virtual", "editable", "registry"]), _toml_str,
                    max_size=2).map(lambda d: "{ " + ", ".join(f'{k} = "{v}"' for k, v in d.items()) + " }"),
    st.lists(st.sampled_from(['{ name = "a" }', '{ name = "b", version = "1.0" }', '"x"', "1"]),
             max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
)
_toml_table = st.dictionaries(
    st.sampled_from(["name", "version", "category", "groups", "optional", "source", "dependencies",
                     "dev-dependencies", "optional-dependencies"]), _toml_value, max_size=6)


@pytest.mark.parametrize("name", ["python-poetry", "python-uv"])
@FUZZ
@given(tables=st.lists(_toml_table, max_size=5))
def test_toml_lock_shapes_never_raise(name: str, tables: list[dict[str, str]]) -> None:
    text = "\n".join("[[package]]\n" + "".join(f"{k} = {v}\n" for k, v in t.items()) for t in tables)
    check_output(name, run(BY_NAME[name], PATHS[name], text))


_npm_name = st.from_regex(r"(@[a-z0-9][a-z0-9._-]{0,8}/)?[a-z0-9][a-z0-9._-]{0,12}", fullmatch=True)
_version = st.from_regex(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(-[a-z0-9.]{1,8})?(\+[a-z0-9.]{1,6})?", fullmatch=True)


@FUZZ
@given(name=_npm_name, version=_version)
def test_npm_purls_round_trip(name: str, version: str) -> None:
    p = only(run(NpmInstalledCataloger(), PATHS["npm-installed"], json.dumps({"name": name, "version": version})))
    assert (p.name, p.version) == (name, version)
    assert_purl_round_trips(p)


@FUZZ
@given(name=st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,15}[A-Za-z0-9])?", fullmatch=True),
       version=st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}((a|b|rc)[0-9]{1,2})?(\.post[0-9])?(\.dev[0-9])?"
                             r"(\+[a-z0-9]{1,5})?", fullmatch=True))
def test_pypi_purls_round_trip(name: str, version: str) -> None:
    out = run(RequirementsCataloger(), PATHS["python-requirements"], f"{name}=={version}\n")
    p = only(out)
    assert (p.name, p.version) == (name, version)
    assert_purl_round_trips(p)
