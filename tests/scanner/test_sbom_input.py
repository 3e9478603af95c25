"""``propolis sbom FILE`` with a CycloneDX or SPDX JSON file as input: packages and their layer information
survive image → SBOM → catalogue, SBOMs convert between formats, and a JSON file that is no SBOM is refused
with one line. Runs the real command line in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from propolis.scanner.adapters.sources import open_image
from propolis.scanner.catalogue import Catalogue, catalogue_image
from tests.conftest import propolis_cli
from tests.scanner.images import write_docker_archive, write_oci_layout

APK = (b"P:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\n\n"
       b"P:busybox\nV:1.36.1-r5\nA:x86_64\nL:GPL-2.0-only\no:busybox\n\n")
SITE = "usr/lib/python3.11/site-packages"
LAYERS: list[dict[str, object]] = [
    {"etc/os-release": b'ID=alpine\nVERSION_ID=3.19.1\n', "lib/apk/db/installed": APK},
    {f"{SITE}/flask-3.0.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: Flask\nVersion: 3.0.0\n\n",
     "srv/app/node_modules/left-pad/package.json": b'{"name": "left-pad", "version": "1.3.0", "license": "WTFPL"}'},
]


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Catalogue]:
    root = write_oci_layout(tmp_path_factory.mktemp("img") / "oci", LAYERS)
    cat = catalogue_image(open_image(str(root)))
    assert {p.name for p in cat.packages} == {"musl", "busybox", "Flask", "left-pad"}, cat.issues
    return root, cat


def _sbom(image: Path, fmt: str, out: Path) -> Path:
    p = propolis_cli("sbom", str(image), "--format", fmt, "--output", str(out))
    assert p.returncode == 0, p.stderr.decode()
    return out


def _packages(doc: dict[str, object]) -> set[tuple[str, str, str, str, str, str]]:
    return {(p["name"], p["version"], p["purl"], p["locations"][0]["path"], p["locations"][0]["diff_id"],
             p["locations"][0]["layer_digest"]) for p in doc["packages"]}  # type: ignore[attr-defined, index]


def _expected(cat: Catalogue) -> set[tuple[str, str, str, str, str, str]]:
    return {(p.name, p.version, p.purl, p.locations[0].path, p.locations[0].diff_id, p.locations[0].layer_digest)
            for p in cat.packages}


@pytest.mark.parametrize("fmt", ["cyclonedx", "spdx"])
def test_sbom_file_as_input_keeps_packages_and_layers(image: tuple[Path, Catalogue], fmt: str,
                                                      tmp_path: Path) -> None:
    root, cat = image
    sbom = _sbom(root, fmt, tmp_path / f"app.{fmt}.json")
    p = propolis_cli("sbom", str(sbom), "--format", "json")
    assert p.returncode == 0, p.stderr.decode()
    doc = json.loads(p.stdout)
    assert _packages(doc) == _expected(cat)
    assert all(loc[4] and loc[5] for loc in _packages(doc))  # every package keeps its layer
    assert [(la["digest"], la["diff_id"]) for la in doc["layers"]] == [(la.digest, la.diff_id) for la in cat.layers]


def test_sbom_converts_between_formats(image: tuple[Path, Catalogue], tmp_path: Path) -> None:
    """A CycloneDX file in, SPDX out (and the SPDX read back), without the image."""
    root, cat = image
    cdx = _sbom(root, "cyclonedx", tmp_path / "bom")  # no extension: detected by content
    spdx = _sbom(cdx, "spdx", tmp_path / "app.spdx.json")
    assert json.loads(spdx.read_text())["spdxVersion"] == "SPDX-2.3"
    p = propolis_cli("sbom", str(spdx), "--format", "json")
    assert p.returncode == 0, p.stderr.decode()
    assert _packages(json.loads(p.stdout)) == _expected(cat)
    p = propolis_cli("sbom", str(cdx), "--format", "table", env={"COLUMNS": "200"})
    assert p.returncode == 0 and "left-pad" in p.stdout.decode() and "4 packages" in p.stdout.decode()


@pytest.mark.parametrize(("content", "message"), [
    (b'{"hello": "world"}\n', 'not a CycloneDX or SPDX JSON SBOM: no bomFormat "CycloneDX" or spdxVersion field'),
    (b'  {"bomFormat": "CycloneDX", "components": {}}', "components: expected an array, got dict"),
    (b"{truncated", "SBOM is not valid JSON"),
    (b'[{"bomFormat": "CycloneDX"}]', "SBOM must be a JSON object, not list"),
])
def test_json_that_is_not_an_sbom_exits_2_with_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "data.json"
    path.write_bytes(content)
    p = propolis_cli("sbom", str(path), "--format", "json")
    err = p.stderr.decode()
    assert p.returncode == 2 and err.count("\n") == 1, err
    assert err.startswith(f"propolis: error: {path}: {message}") and not p.stdout


def test_docker_archive_is_still_an_image(tmp_path: Path) -> None:
    """A tarball is never taken for JSON, even one whose first member is named like a JSON file."""
    archive = write_docker_archive(tmp_path / "img.tar", LAYERS)
    p = propolis_cli("sbom", str(archive), "--format", "json")
    assert p.returncode == 0, p.stderr.decode()
    assert {p["name"] for p in json.loads(p.stdout)["packages"]} == {"musl", "busybox", "Flask", "left-pad"}
