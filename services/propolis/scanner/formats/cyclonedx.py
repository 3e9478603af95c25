"""CycloneDX 1.6 JSON: the image as the metadata component, one component per package."""

from __future__ import annotations

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.license import DisjunctiveLicense, License, LicenseExpression
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.spdx import fixup_id, is_expression
from packageurl import PackageURL

from propolis.scanner.catalogue import Catalogue
from propolis.scanner.domain.model import Package
from propolis.scanner.formats.interface import IMAGE_LAYER, LAYER_DIFF_ID, LAYER_DIGEST, LOCATION_PATH


def _licenses(values: list[str]) -> list[License]:
    values = [v.strip() for v in values if v.strip()]
    if len(values) == 1 and not fixup_id(values[0]) and is_expression(values[0]):
        return [LicenseExpression(values[0])]  # an expression must stand alone
    out: list[License] = []
    for v in dict.fromkeys(values):
        spdx_id = fixup_id(v)
        out.append(DisjunctiveLicense(id=spdx_id) if spdx_id else DisjunctiveLicense(name=v))
    return out


def _purl(value: str) -> PackageURL | None:
    try:
        return PackageURL.from_string(value) if value else None
    except ValueError:
        return None


def _component(pkg: Package, ref: str) -> Component:
    props = []
    for loc in pkg.locations:
        props.append(Property(name=LOCATION_PATH, value=loc.path))
        if loc.layer_digest:
            props.append(Property(name=LAYER_DIGEST, value=loc.layer_digest))
        if loc.diff_id:
            props.append(Property(name=LAYER_DIFF_ID, value=loc.diff_id))
    return Component(type=ComponentType.LIBRARY, name=pkg.name, version=pkg.version or None, bom_ref=ref,
                     purl=_purl(pkg.purl), licenses=_licenses(pkg.licenses), properties=props)


class CycloneDXFormat:
    name = "cyclonedx"

    def render(self, catalogue: Catalogue) -> bytes:
        hashes = []
        if catalogue.manifest_digest.startswith("sha256:"):
            hashes.append(HashType(alg=HashAlgorithm.SHA_256, content=catalogue.manifest_digest.split(":", 1)[1]))
        image = Component(type=ComponentType.CONTAINER, name=catalogue.reference or "image",
                          version=catalogue.manifest_digest or None, bom_ref="image", hashes=hashes,
                          properties=[Property(name=IMAGE_LAYER, value=f"{la.index} {la.digest} {la.diff_id}")
                                      for la in catalogue.layers])
        bom = Bom()
        bom.metadata.component = image
        seen: set[str] = {"image"}
        components = []
        for i, pkg in enumerate(catalogue.packages):
            ref = pkg.purl or f"{pkg.ecosystem}/{pkg.name}@{pkg.version}"
            if ref in seen:
                ref = f"{ref}#{i}"
            seen.add(ref)
            components.append(_component(pkg, ref))
        bom.components.update(components)
        bom.register_dependency(image, components)
        return JsonV1Dot6(bom).output_as_string(indent=2).encode() + b"\n"
