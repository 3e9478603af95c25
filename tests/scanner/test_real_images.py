"""Images assembled from real packages: Debian .debs, PyPI wheels, npm tarballs and a Go binary,
laid out in layers as a Dockerfile would leave them, with a later layer removing one .deb (files
and dpkg status, as ``apt-get remove`` does) and one wheel.

The expected catalogue is what was put in, read from the artefacts themselves (control fields,
``go version -m``), minus what was removed; every package must carry the layer that added it.
The artefacts are downloaded once into ``PROPOLIS_TEST_CACHE`` (see ``realpkgs``); without
network the tests skip, under ``CI=true`` they fail.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from packageurl import PackageURL

from propolis.scanner.adapters.sources import open_image
from propolis.scanner.catalogue import Catalogue, catalogue_image
from propolis.scanner.domain.model import Package
from tests.scanner import realpkgs
from tests.scanner.images import WHITEOUT, Link, layer_tar, write_docker_archive, write_oci_layout
from tests.scanner.realpkgs import DPKG_STATUS, Deb, GoBuildInfo, NpmPackage, Wheel

CREATED_BY = [
    "ADD debian-rootfs.tar /",
    "RUN apt-get install -y jq tree",
    "RUN pip install six idna certifi && npm install -g is-number lodash",
    "COPY propolis-demo /usr/local/bin/propolis-demo",
    "RUN apt-get remove -y hello && pip uninstall -y six",
]
GO_PATH = "usr/local/bin/propolis-demo"


@dataclass
class Built:
    layers: list[dict[str, object]]
    debs: dict[str, Deb]
    wheels: dict[str, Wheel]
    npm: dict[str, NpmPackage]
    go: GoBuildInfo
    os_release: dict[str, str]
    oci: Path
    archive: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    with realpkgs.require():
        deb_files = realpkgs.debs("hello", "libonig5", "jq", "libjq1", "tree")
        wheel_files = realpkgs.wheels("six==1.16.0", "idna==3.7", "certifi==2024.7.4")
        npm_files = realpkgs.npm_tarballs("is-number@7.0.0", "lodash@4.17.21")
        go = realpkgs.go_binary()
        os_release = realpkgs.os_release()
    debs = {d.name: d for d in map(realpkgs.read_deb, deb_files.values())}
    wheels = {w.name: w for w in map(realpkgs.read_wheel, wheel_files.values())}
    npm = {p.name: p for p in map(realpkgs.read_npm_tarball, npm_files.values())}

    base: dict[str, object] = {"usr/lib/os-release": os_release, "etc/os-release": Link("../usr/lib/os-release")}
    base.update(realpkgs.deb_layer([debs["hello"], debs["libonig5"]], [debs["hello"], debs["libonig5"]]))
    installed = [debs[n] for n in ("hello", "libonig5", "jq", "libjq1", "tree")]
    apt = realpkgs.deb_layer([debs["jq"], debs["libjq1"], debs["tree"]], installed)
    lang: dict[str, object] = {}
    for w in wheels.values():
        lang.update(w.files)
    for p in npm.values():
        lang.update(p.files)
    gobin: dict[str, object] = {GO_PATH: go.path.read_bytes()}
    cleanup = {**debs["hello"].removal(), **wheels["six"].removal(),
               DPKG_STATUS: realpkgs.dpkg_status([d for d in installed if d.name != "hello"])}
    layers = [base, apt, lang, gobin, cleanup]

    tmp = tmp_path_factory.mktemp("real-image")
    oci = write_oci_layout(tmp / "oci", layers, created_by=CREATED_BY)
    archive = write_docker_archive(tmp / "image.tar", layers, created_by=CREATED_BY)
    fields = {}
    for line in os_release.decode().splitlines():
        k, sep, v = line.partition("=")
        if sep:
            fields[k] = v.strip().strip('"')
    return Built(layers=layers, debs=debs, wheels=wheels, npm=npm, go=realpkgs.parse_go_version_m(go.version_m),
                 os_release=fields, oci=oci, archive=archive)


@pytest.fixture(scope="module", params=["oci-layout", "docker-archive"])
def scanned(request: pytest.FixtureRequest, built: Built) -> Catalogue:
    path = built.oci if request.param == "oci-layout" else built.archive
    return catalogue_image(open_image(str(path)))


def _eco(cat: Catalogue, ecosystem: str) -> dict[str, Package]:
    found = [p for p in cat.packages if p.ecosystem == ecosystem]
    by_name = {p.name: p for p in found}
    assert len(by_name) == len(found), f"{ecosystem} package reported twice: {[p.name for p in found]}"
    return by_name


def _layer_of(pkg: Package) -> int:
    """Index in CREATED_BY of the layer the package's first location names."""
    return CREATED_BY.index(pkg.locations[0].created_by)


def test_catalogue_is_exactly_what_was_installed_minus_what_was_removed(built: Built, scanned: Catalogue) -> None:
    want = {("deb", d.name, d.version) for d in built.debs.values() if d.name != "hello"}
    want |= {("pypi", w.name, w.version) for w in built.wheels.values() if w.name != "six"}
    want |= {("npm", p.name, p.version) for p in built.npm.values()}
    assert built.go.main_version == "(devel)"  # a local build: the scanner claims no version
    stdlib = "v" + built.go.go_version.removeprefix("go")
    want |= {("golang", realpkgs.GO_MAIN, ""), ("golang", realpkgs.GO_DEP, ""), ("golang", "stdlib", stdlib)}
    got = {(p.ecosystem, p.name, p.version) for p in scanned.packages}
    assert got == want
    # What was removed was really there first, and really removed (files, dist-info and status).
    base, cleanup = built.layers[0], built.layers[-1]
    assert isinstance(base["usr/bin/hello"], bytes) and cleanup["usr/bin/hello"] is WHITEOUT
    assert b"Package: hello\n" in base[DPKG_STATUS] and b"Package: hello\n" not in cleanup[DPKG_STATUS]
    assert cleanup[built.wheels["six"].dist_info] is WHITEOUT
    assert scanned.issues == [] and not scanned.partial
    assert len(scanned.layers) == len(CREATED_BY)


def test_os_release_is_this_machines(built: Built, scanned: Catalogue) -> None:
    assert scanned.os is not None
    assert scanned.os.id == built.os_release["ID"] == "debian"
    assert scanned.os.version_id == built.os_release["VERSION_ID"]
    assert scanned.os.version_codename == built.os_release.get("VERSION_CODENAME", "")


def test_debian_packages_carry_their_control_fields(built: Built, scanned: Catalogue) -> None:
    debs = _eco(scanned, "deb")
    distro = f"debian-{built.os_release['VERSION_ID']}"
    for name, pkg in debs.items():
        control = built.debs[name].control
        purl = PackageURL.from_string(pkg.purl)
        assert (purl.type, purl.namespace, purl.name, purl.version) == ("deb", "debian", name, control["Version"])
        assert purl.qualifiers == {"arch": control["Architecture"], "distro": distro}
        assert pkg.arch == control["Architecture"]
        source = control.get("Source", name).split(" ")[0]
        assert (pkg.source_name, pkg.source_version) == (source, control["Version"])
        assert pkg.locations[0].path == DPKG_STATUS
    # Real Source: fields: libjq1 is built from jq, libonig5 from libonig; jq's .deb has no Source.
    assert debs["libjq1"].source_name == "jq" and debs["libonig5"].source_name == "libonig"
    assert "Source" not in built.debs["jq"].control and debs["jq"].source_name == "jq"
    # Depends resolved to the installed packages only (libc6 is not in this image).
    assert debs["jq"].metadata.get("depends") == ["libjq1"]
    assert debs["libjq1"].metadata.get("depends") == ["libonig5"]


def test_language_packages_with_purls_and_licenses(built: Built, scanned: Catalogue) -> None:
    pypi = _eco(scanned, "pypi")
    assert pypi["certifi"].purl == "pkg:pypi/certifi@2024.7.4"
    assert pypi["certifi"].licenses == ["MPL-2.0"]  # the License header
    assert pypi["idna"].purl == "pkg:pypi/idna@3.7"
    assert pypi["idna"].licenses == ["BSD License"]  # no License header: the classifier
    assert pypi["idna"].locations[0].path == f"{built.wheels['idna'].dist_info}/METADATA"
    npm = _eco(scanned, "npm")
    for name, pkg in npm.items():
        manifest = json.loads(built.npm[name].manifest)
        assert pkg.purl == f"pkg:npm/{name}@{manifest['version']}"
        assert pkg.licenses == [manifest["license"]] == ["MIT"]
        assert pkg.locations[0].path == f"{realpkgs.NODE_MODULES}/{name}/package.json"


def test_go_binary_matches_go_version_m(built: Built, scanned: Catalogue) -> None:
    go = _eco(scanned, "golang")
    info = built.go
    assert info.main == realpkgs.GO_MAIN
    assert info.deps == [(realpkgs.GO_DEP, realpkgs.GO_DEP_VERSION)]
    main, dep, std = go[realpkgs.GO_MAIN], go[realpkgs.GO_DEP], go["stdlib"]
    assert main.metadata["main"] is True
    assert {p.metadata["go_version"] for p in go.values()} == {info.go_version}
    assert std.version == "v" + info.go_version.removeprefix("go")
    # A local replace: no version can be claimed, the required one and the target are kept.
    assert dep.metadata["replaced_by"] == info.replaces[realpkgs.GO_DEP] == "../greet"
    assert dep.metadata["replaced_version"] == realpkgs.GO_DEP_VERSION
    assert {p.locations[0].path for p in go.values()} == {GO_PATH}


def test_every_package_is_attributed_to_the_layer_that_added_it(built: Built, scanned: Catalogue) -> None:
    diff_ids = ["sha256:" + hashlib.sha256(layer_tar(spec)).hexdigest() for spec in built.layers]
    assert [info.diff_id for info in scanned.layers] == diff_ids
    want = {("deb", "libonig5"): 0, ("deb", "jq"): 1, ("deb", "libjq1"): 1, ("deb", "tree"): 1,
            ("pypi", "idna"): 2, ("pypi", "certifi"): 2, ("npm", "is-number"): 2, ("npm", "lodash"): 2,
            ("golang", realpkgs.GO_MAIN): 3, ("golang", realpkgs.GO_DEP): 3, ("golang", "stdlib"): 3}
    got = {}
    for pkg in scanned.packages:
        loc = pkg.locations[0]
        idx = _layer_of(pkg)
        assert loc.diff_id == diff_ids[idx] == scanned.layers[idx].diff_id
        assert loc.layer_digest == scanned.layers[idx].digest
        got[(pkg.ecosystem, pkg.name)] = idx
    assert got == want
    # The status file was rewritten by the removal layer; the packages it kept keep their layer.
    assert all(_layer_of(p) != 4 for p in scanned.packages)
