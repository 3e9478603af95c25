"""Whole images: OS and language packages across layers, a whiteout removing a package,
per-layer attribution, and the ``propolis sbom`` command line."""

from __future__ import annotations

import json
from pathlib import Path

from propolis.scanner.adapters.sources import open_image
from propolis.scanner.catalogue import catalogue_image
from tests.conftest import propolis_cli
from tests.scanner.fixtures import expected, pkgdb
from tests.scanner.images import WHITEOUT, Link, write_docker_archive, write_oci_layout

METADATA = "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nLicense: MIT\n\n"


def _layers() -> tuple[list[dict[str, object]], dict[str, object]]:
    status = pkgdb("dpkg", "debian-12_scalibr", "status")
    base: dict[str, object] = {
        "usr/lib/os-release": b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
                              b"VERSION_CODENAME=bookworm\n",
        "etc/os-release": Link("../usr/lib/os-release"),
        "var/lib/dpkg/status": status.read_bytes(),
    }
    site = "usr/local/lib/python3.11/site-packages"
    app: dict[str, object] = {
        f"{site}/requests-2.19.1.dist-info/METADATA": METADATA.format(name="requests", version="2.19.1").encode(),
        f"{site}/urllib3-1.24.1.dist-info/METADATA": METADATA.format(name="urllib3", version="1.24.1").encode(),
    }
    cleanup: dict[str, object] = {f"{site}/urllib3-1.24.1.dist-info": WHITEOUT}
    return [base, app, cleanup], {"status": status}


def _check(cat: object, n_layers: int) -> None:
    layers, ctx = _layers()
    want_deb = {(p["name"], p["version"]) for p in expected(ctx["status"])["packages"]}  # type: ignore[arg-type]
    debs = {(p.name, p.version) for p in cat.packages if p.ecosystem == "deb"}  # type: ignore[attr-defined]
    assert debs == want_deb
    pypi = {p.name: p for p in cat.packages if p.ecosystem == "pypi"}  # type: ignore[attr-defined]
    assert set(pypi) == {"requests"}  # urllib3 was whited out in the last layer
    assert pypi["requests"].purl == "pkg:pypi/requests@2.19.1"
    img_layers = cat.layers  # type: ignore[attr-defined]
    assert len(img_layers) == n_layers
    assert pypi["requests"].locations[0].diff_id == img_layers[1].diff_id
    deb = next(p for p in cat.packages if p.ecosystem == "deb")  # type: ignore[attr-defined]
    assert deb.locations[0].diff_id == img_layers[0].diff_id and "distro=debian-12" in deb.purl
    assert cat.os.id == "debian"  # type: ignore[attr-defined]


def test_oci_layout_catalogue(tmp_path: Path) -> None:
    layers, _ = _layers()
    root = write_oci_layout(tmp_path / "oci", layers)
    _check(catalogue_image(open_image(str(root))), 3)


def test_docker_archive_catalogue(tmp_path: Path) -> None:
    layers, _ = _layers()
    _check(catalogue_image(open_image(str(write_docker_archive(tmp_path / "img.tar", layers)))), 3)


def test_package_added_in_a_later_layer_is_attributed_to_it(tmp_path: Path) -> None:
    layers, ctx = _layers()
    status = ctx["status"].read_bytes()  # type: ignore[attr-defined]
    extra = (b"\nPackage: propolis-demo\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: all\n"
             b"Maintainer: x\nDescription: demo\n")
    layers.append({"var/lib/dpkg/status": status.rstrip(b"\n") + b"\n" + extra})
    cat = catalogue_image(open_image(str(write_oci_layout(tmp_path / "oci", layers))))
    demo = next(p for p in cat.packages if p.name == "propolis-demo")
    other = next(p for p in cat.packages if p.ecosystem == "deb" and p.name != "propolis-demo")
    assert demo.locations[0].diff_id == cat.layers[3].diff_id
    assert other.locations[0].diff_id == cat.layers[0].diff_id  # unchanged packages keep their layer


def test_sbom_cli_json_and_errors(tmp_path: Path) -> None:
    layers, _ = _layers()
    root = write_oci_layout(tmp_path / "oci", layers, tag="v1")
    p = propolis_cli("sbom", f"{root}:v1", "--format", "json")
    assert p.returncode == 0, p.stderr.decode()
    doc = json.loads(p.stdout)
    assert any(pk["name"] == "requests" for pk in doc["packages"]) and doc["os"]["id"] == "debian"
    p = propolis_cli("sbom", str(tmp_path / "nope"))
    assert p.returncode == 2 and "no such file" in p.stderr.decode() and p.stderr.decode().count("\n") == 1
    p = propolis_cli("sbom", str(root), "--format", "xml")
    assert p.returncode == 2 and "unknown format" in p.stderr.decode()


def test_secrets_and_config_facts_are_reported_with_their_layer_and_redacted(tmp_path: Path) -> None:
    layers, _ = _layers()
    key_body = "MIIEowIBAAKCAQEA" + "x" * 40
    pem = f"-----BEGIN RSA PRIVATE KEY-----\n{key_body}\n-----END RSA PRIVATE KEY-----\n"
    layers.append({"root/.ssh/id_rsa": pem.encode()})
    cat = catalogue_image(open_image(str(write_oci_layout(tmp_path / "oci", layers))))
    keys = [s for s in cat.secrets if s.finding.path == "root/.ssh/id_rsa"]
    assert keys and keys[0].diff_id == cat.layers[3].diff_id and keys[0].finding.line == 1
    encoded = json.dumps(json.loads(__import__("msgspec").json.encode(cat)))
    assert key_body not in encoded  # redacted everywhere, including the JSON output
    assert cat.facts is not None and cat.facts.runs_as_root is True  # the test config sets no User


def test_a_secret_deleted_by_a_later_layer_is_still_reported_once_with_its_layer(tmp_path: Path) -> None:
    """Deleting a file in a later layer does not remove it from the image: every layer is searched.
    A file carried over unchanged is reported once, where it first appeared."""
    aws = "AKIAIOSFODNN7EXAMPLQ"
    layers: list[dict[str, object]] = [
        {"app/.env": f"AWS_ACCESS_KEY_ID={aws}\n".encode(), "etc/app.conf": f"key={aws}\n".encode()},
        {"app/.env": WHITEOUT, "etc/other.conf": b"nothing here\n"},
        {"etc/app.conf": f"key={aws}\n".encode()},  # rewritten, same content
    ]
    cat = catalogue_image(open_image(str(write_oci_layout(tmp_path / "oci", layers))))
    by_path = {}
    for s in cat.secrets:
        by_path.setdefault(s.finding.path, []).append(s)
    assert set(by_path) == {"app/.env", "etc/app.conf"}, [s.finding for s in cat.secrets]
    assert {s.diff_id for s in by_path["app/.env"]} == {cat.layers[0].diff_id}
    assert [s.diff_id for s in by_path["etc/app.conf"]] == [cat.layers[0].diff_id] * len(by_path["etc/app.conf"])
    assert aws not in json.dumps(json.loads(__import__("msgspec").json.encode(cat)))
