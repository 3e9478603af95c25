"""SBOM formats: CycloneDX 1.6 and SPDX 2.3 rendered from a real image, checked against the official schemas
and validators, read back into a catalogue, and malformed SBOMs refused with a precise message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from propolis.scanner.adapters.sources import open_image
from propolis.scanner.catalogue import Catalogue, catalogue_image
from propolis.scanner.domain.model import Location, Package
from propolis.scanner.formats import Format, all_formats
from propolis.scanner.formats.cyclonedx import CycloneDXFormat
from propolis.scanner.formats.reader import SBOMError, read_sbom
from propolis.scanner.formats.spdx import SPDXFormat
from tests.conftest import propolis_cli
from tests.scanner.images import write_oci_layout
from tests.scanner.test_image_catalogue import _layers


@pytest.fixture(scope="module")
def cat(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    layers, _ = _layers()
    c = catalogue_image(open_image(str(write_oci_layout(tmp_path_factory.mktemp("img") / "oci", layers))))
    assert len(c.packages) > 2 and {p.ecosystem for p in c.packages} == {"deb", "pypi"}
    return c


def _keys(c: Catalogue) -> set[tuple[str, str, str]]:
    return {(p.name, p.version, p.purl) for p in c.packages}


def test_formats_follow_the_interface() -> None:
    formats = all_formats()
    assert set(formats) == {"cyclonedx", "spdx"}
    assert all(isinstance(f, Format) for f in formats.values())


def test_cyclonedx_is_valid_and_carries_layers(cat: Catalogue) -> None:
    out = CycloneDXFormat().render(cat)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(out.decode()) is None
    doc = json.loads(out)
    assert doc["specVersion"] == "1.6"
    assert doc["metadata"]["component"]["type"] == "container"
    comps = doc["components"]
    assert len(comps) == len(cat.packages)
    assert len({c["bom-ref"] for c in comps}) == len(comps)
    req = next(c for c in comps if c["name"] == "requests")
    assert req["purl"] == "pkg:pypi/requests@2.19.1" and req["licenses"] == [{"license": {"id": "MIT"}}]
    props = {p["name"]: p["value"] for p in req["properties"]}
    assert props["propolis:layer:diff_id"] == cat.layers[1].diff_id
    assert props["propolis:layer:digest"] == cat.layers[1].digest
    assert props["propolis:location:path"].endswith("requests-2.19.1.dist-info/METADATA")


def test_spdx_is_valid_and_carries_layers(cat: Catalogue, tmp_path: Path) -> None:
    out = SPDXFormat().render(cat)
    path = tmp_path / "sbom.spdx.json"
    path.write_bytes(out)
    parsed = parse_file(str(path))
    assert validate_full_spdx_document(parsed) == []
    assert len(parsed.packages) == len(cat.packages) + 1
    doc = json.loads(out)
    assert doc["spdxVersion"] == "SPDX-2.3"
    contains = [r for r in doc["relationships"] if r["relationshipType"] == "CONTAINS"]
    assert len(contains) == len(cat.packages) and {r["spdxElementId"] for r in contains} == {"SPDXRef-Image"}
    req = next(p for p in doc["packages"] if p["name"] == "requests")
    assert req["licenseDeclared"] == "MIT"
    assert [(r["referenceType"], r["referenceLocator"]) for r in req["externalRefs"]] == \
        [("purl", "pkg:pypi/requests@2.19.1")]
    assert f"propolis:layer:diff_id={cat.layers[1].diff_id}" in req["comment"]


def test_spdx_license_noassertion_when_not_spdx() -> None:
    c = Catalogue(reference="x", packages=[
        Package(name="a", version="1", ecosystem="deb", purl="pkg:deb/debian/a@1", licenses=["GPL-2+ with weird"]),
        Package(name="b", version="1", ecosystem="deb", purl="pkg:deb/debian/b@1"),
        Package(name="c", version="1", ecosystem="deb", purl="pkg:deb/debian/c@1", licenses=["MIT", "Apache-2.0"]),
    ])
    doc = json.loads(SPDXFormat().render(c))
    declared = {p["name"]: p.get("licenseDeclared") for p in doc["packages"]}
    assert declared == {"x": None, "a": "NOASSERTION", "b": "NOASSERTION", "c": "MIT AND Apache-2.0"}
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(CycloneDXFormat().render(c).decode()) is None


@pytest.mark.parametrize("fmt", [CycloneDXFormat(), SPDXFormat()], ids=lambda f: f.name)
def test_round_trip(cat: Catalogue, fmt: Format) -> None:
    back = read_sbom(fmt.render(cat))
    assert _keys(back) == _keys(cat)
    assert back.reference == cat.reference and back.manifest_digest == cat.manifest_digest
    assert [(la.digest, la.diff_id) for la in back.layers] == [(la.digest, la.diff_id) for la in cat.layers]
    orig = {(p.name, p.version): p for p in cat.packages}
    for p in back.packages:
        o = orig[(p.name, p.version)]
        assert p.ecosystem == o.ecosystem
        assert [(loc.path, loc.diff_id, loc.layer_digest) for loc in p.locations] == \
            [(loc.path, loc.diff_id, loc.layer_digest) for loc in o.locations]
    assert next(p for p in back.packages if p.name == "requests").licenses == ["MIT"]


def test_round_trip_multiple_locations_in_spdx() -> None:
    locs = [Location(path="/a", layer_digest="sha256:1", diff_id="sha256:2"),
            Location(path="/b", layer_digest="sha256:3", diff_id="sha256:4")]
    c = Catalogue(reference="x", packages=[Package(name="n", version="1", ecosystem="npm", purl="pkg:npm/n@1",
                                                   locations=locs)])
    assert read_sbom(SPDXFormat().render(c)).packages[0].locations == locs


CDX = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1}
SPDX = {"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "d"}


@pytest.mark.parametrize(("data", "message"), [
    (b"{not json",
     "SBOM is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    (b"[]", "SBOM must be a JSON object, not list"),
    (b'{"hello": 1}', 'not a CycloneDX or SPDX JSON SBOM: no bomFormat "CycloneDX" or spdxVersion field'),
    ({**CDX, "components": {}}, "components: expected an array, got dict"),
    ({**CDX, "components": [{"type": "library", "version": "1"}]}, "components[0]: missing required field 'name'"),
    ({**CDX, "components": [{"name": "a", "purl": "npm/a@1"}]},
     "components[0].purl: invalid purl 'npm/a@1': "),
    ({**CDX, "components": [{"name": "a", "licenses": [{"license": {}}]}]},
     "components[0].licenses[0].license: needs an 'id' or a 'name'"),
    ({**CDX, "components": [{"name": "a", "components": [{"name": 3}]}]},
     "components[0].components[0].name: expected a string, got int"),
    ({**SPDX, "spdxVersion": "SPDX-3.0"}, "unsupported SPDX version 'SPDX-3.0': only SPDX-2.x JSON is read"),
    ({**SPDX, "packages": [{"SPDXID": "SPDXRef-a"}]}, "packages[0]: missing required field 'name'"),
    ({**SPDX, "packages": [{"name": "a", "externalRefs": [{"referenceType": "purl"}]}]},
     "packages[0].externalRefs[0]: missing required field 'referenceLocator'"),
])
def test_malformed_sbom(data: bytes | dict[str, object], message: str) -> None:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    with pytest.raises(SBOMError) as exc:
        read_sbom(raw)
    assert isinstance(exc.value, ValueError)
    text = str(exc.value)
    assert (text.startswith(message) if message.endswith(": ") else text == message) and "\n" not in text


def test_sbom_cli_cyclonedx_and_spdx(tmp_path: Path) -> None:
    layers, _ = _layers()
    root = write_oci_layout(tmp_path / "oci", layers, tag="v1")
    for fmt, key in (("cyclonedx", "bomFormat"), ("spdx", "spdxVersion")):
        out = tmp_path / f"sbom.{fmt}.json"
        p = propolis_cli("sbom", f"{root}:v1", "--format", fmt, "--output", str(out))
        assert p.returncode == 0, p.stderr.decode()
        assert key in json.loads(out.read_text())
        assert any(pk.name == "requests" for pk in read_sbom(out.read_bytes()).packages)
    p = propolis_cli("sbom", str(root), "--format", "xml")
    err = p.stderr.decode()
    assert p.returncode == 2 and err.count("\n") == 1 and "unknown format 'xml'" in err
    assert all(f in err for f in ("json", "table", "cyclonedx", "spdx"))
