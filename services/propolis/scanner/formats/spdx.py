"""SPDX 2.3 JSON: a document describing the image package, which CONTAINS one package per catalogued package."""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime

from license_expression import ExpressionError
from spdx_tools.common.spdx_licensing import spdx_licensing
from spdx_tools.spdx.model import (
    Actor,
    ActorType,
    Checksum,
    ChecksumAlgorithm,
    CreationInfo,
    Document,
    ExternalPackageRef,
    ExternalPackageRefCategory,
    PackagePurpose,
    Relationship,
    RelationshipType,
    SpdxNoAssertion,
)
from spdx_tools.spdx.model import (
    Package as SpdxPackage,
)
from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream

from propolis.scanner.catalogue import Catalogue
from propolis.scanner.domain.model import Package
from propolis.scanner.formats.interface import IMAGE_LAYER, LAYER_DIFF_ID, LAYER_DIGEST, LOCATION_PATH

_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def _license(values: list[str]):  # noqa: ANN202
    """The declared licenses as one SPDX expression, or NOASSERTION when any is not valid SPDX."""
    values = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    if not values:
        return SpdxNoAssertion()
    try:
        parts = [spdx_licensing.parse(v, validate=True, strict=True) for v in values]
    except ExpressionError:
        return SpdxNoAssertion()
    if any(p is None for p in parts):
        return SpdxNoAssertion()
    return parts[0] if len(parts) == 1 else spdx_licensing.AND(*parts)


def _comment(pkg: Package) -> str | None:
    lines = []
    for loc in pkg.locations:
        lines.append(f"{LOCATION_PATH}={loc.path}")
        lines.append(f"{LAYER_DIGEST}={loc.layer_digest}")
        lines.append(f"{LAYER_DIFF_ID}={loc.diff_id}")
    return "\n".join(lines) or None


class SPDXFormat:
    name = "spdx"

    def render(self, catalogue: Catalogue) -> bytes:
        name = catalogue.reference or "image"
        info = CreationInfo(spdx_version="SPDX-2.3", spdx_id="SPDXRef-DOCUMENT", name=name,
                            document_namespace=f"https://spdx.org/spdxdocs/{_UNSAFE.sub('-', name)}-{uuid.uuid4()}",
                            creators=[Actor(ActorType.TOOL, "propolis")],
                            created=datetime.now(UTC).replace(microsecond=0))
        checksums = []
        if catalogue.manifest_digest.startswith("sha256:"):
            checksums.append(Checksum(ChecksumAlgorithm.SHA256, catalogue.manifest_digest.split(":", 1)[1]))
        image = SpdxPackage(spdx_id="SPDXRef-Image", name=name, download_location=SpdxNoAssertion(),
                            version=catalogue.manifest_digest or None, files_analyzed=False, checksums=checksums,
                            primary_package_purpose=PackagePurpose.CONTAINER,
                            comment="\n".join(f"{IMAGE_LAYER}={la.index} {la.digest} {la.diff_id}"
                                              for la in catalogue.layers) or None)
        packages = [image]
        relationships = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, image.spdx_id)]
        for i, pkg in enumerate(catalogue.packages):
            spdx_id = f"SPDXRef-Package-{_UNSAFE.sub('-', pkg.ecosystem or 'x')}-{_UNSAFE.sub('-', pkg.name)}-{i}"
            refs = [ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", pkg.purl)] if pkg.purl \
                else []
            packages.append(SpdxPackage(spdx_id=spdx_id, name=pkg.name, download_location=SpdxNoAssertion(),
                                        version=pkg.version or None, files_analyzed=False,
                                        license_concluded=SpdxNoAssertion(), license_declared=_license(pkg.licenses),
                                        copyright_text=SpdxNoAssertion(), external_references=refs,
                                        comment=_comment(pkg)))
            relationships.append(Relationship(image.spdx_id, RelationshipType.CONTAINS, spdx_id))
        doc = Document(info, packages=packages, relationships=relationships)
        out = io.StringIO()
        write_document_to_stream(doc, out, validate=False, drop_duplicates=False)
        return out.getvalue().encode() + b"\n"
