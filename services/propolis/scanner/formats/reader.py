"""Read a CycloneDX or SPDX JSON SBOM back into a :class:`Catalogue`, so an SBOM can stand in for an image."""

from __future__ import annotations

import json
from typing import Any

from packageurl import PackageURL

from propolis.scanner.catalogue import Catalogue, LayerInfo
from propolis.scanner.domain.model import Location, Package
from propolis.scanner.formats.interface import IMAGE_LAYER, LAYER_DIFF_ID, LAYER_DIGEST, LOCATION_PATH


class SBOMError(ValueError):
    """A malformed SBOM; the message is one line naming where the problem is."""


def read_sbom(data: bytes | str) -> Catalogue:
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SBOMError(f"SBOM is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise SBOMError(f"SBOM must be a JSON object, not {type(doc).__name__}")
    if doc.get("bomFormat") == "CycloneDX":
        return _cyclonedx(doc)
    if isinstance(doc.get("spdxVersion"), str):
        return _spdx(doc)
    raise SBOMError("not a CycloneDX or SPDX JSON SBOM: no bomFormat \"CycloneDX\" or spdxVersion field")


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def _obj(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SBOMError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _list(value: object, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SBOMError(f"{where}: expected an array, got {type(value).__name__}")
    return value


def _str(obj: dict[str, Any], key: str, where: str, *, required: bool = False) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise SBOMError(f"{where}: missing required field {key!r}")
        return ""
    if not isinstance(value, str):
        raise SBOMError(f"{where}.{key}: expected a string, got {type(value).__name__}")
    return value


def _ecosystem(purl: str, where: str) -> str:
    if not purl:
        return ""
    try:
        return PackageURL.from_string(purl).type
    except ValueError as exc:
        raise SBOMError(f"{where}: invalid purl {purl!r}: {_one_line(exc)}") from None


def _layers(values: list[str], where: str) -> list[LayerInfo]:
    out = []
    for v in values:
        parts = v.split(" ")
        if len(parts) != 3 or not parts[0].isdigit():
            raise SBOMError(f"{where}: {IMAGE_LAYER} must be 'INDEX DIGEST DIFF_ID', got {_one_line(v)!r}")
        out.append(LayerInfo(index=int(parts[0]), digest=parts[1], diff_id=parts[2], created_by="", size=0))
    return sorted(out, key=lambda la: la.index)


def _locations(paths: list[str], digests: list[str], diff_ids: list[str]) -> list[Location]:
    """CycloneDX properties are unordered: layer info pairs with a path only when it is unambiguous."""
    digest = digests[0] if len(set(digests)) == 1 else ""
    diff_id = diff_ids[0] if len(set(diff_ids)) == 1 else ""
    return [Location(path=p, layer_digest=digest, diff_id=diff_id) for p in paths]


# --- CycloneDX -----------------------------------------------------------------------------------------------


def _cdx_licenses(comp: dict[str, Any], where: str) -> list[str]:
    out = []
    for j, entry in enumerate(_list(comp.get("licenses"), f"{where}.licenses")):
        w = f"{where}.licenses[{j}]"
        entry = _obj(entry, w)
        if "expression" in entry:
            out.append(_str(entry, "expression", w, required=True))
            continue
        lic = _obj(entry.get("license"), f"{w}.license")
        value = _str(lic, "id", f"{w}.license") or _str(lic, "name", f"{w}.license")
        if not value:
            raise SBOMError(f"{w}.license: needs an 'id' or a 'name'")
        out.append(value)
    return out


def _props(comp: dict[str, Any], where: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for j, prop in enumerate(_list(comp.get("properties"), f"{where}.properties")):
        prop = _obj(prop, f"{where}.properties[{j}]")
        out.setdefault(_str(prop, "name", f"{where}.properties[{j}]", required=True), []).append(
            _str(prop, "value", f"{where}.properties[{j}]"))
    return out


def _cdx_components(items: object, where: str, into: list[Package]) -> None:
    for i, comp in enumerate(_list(items, where)):
        w = f"{where}[{i}]"
        comp = _obj(comp, w)
        purl = _str(comp, "purl", w)
        props = _props(comp, w)
        into.append(Package(name=_str(comp, "name", w, required=True), version=_str(comp, "version", w),
                            ecosystem=_ecosystem(purl, f"{w}.purl"), purl=purl, licenses=_cdx_licenses(comp, w),
                            locations=_locations(props.get(LOCATION_PATH, []), props.get(LAYER_DIGEST, []),
                                                 props.get(LAYER_DIFF_ID, []))))
        _cdx_components(comp.get("components"), f"{w}.components", into)


def _cyclonedx(doc: dict[str, Any]) -> Catalogue:
    meta = _obj(doc.get("metadata", {}), "metadata")
    image = _obj(meta.get("component", {}), "metadata.component")
    digest = ""
    for j, h in enumerate(_list(image.get("hashes"), "metadata.component.hashes")):
        h = _obj(h, f"metadata.component.hashes[{j}]")
        if h.get("alg") == "SHA-256":
            digest = "sha256:" + _str(h, "content", f"metadata.component.hashes[{j}]", required=True)
    packages: list[Package] = []
    _cdx_components(doc.get("components"), "components", packages)
    return Catalogue(reference=_str(image, "name", "metadata.component"), manifest_digest=digest,
                     layers=_layers(_props(image, "metadata.component").get(IMAGE_LAYER, []), "metadata.component"),
                     packages=packages)


# --- SPDX ----------------------------------------------------------------------------------------------------


def _comment_values(comment: str) -> list[tuple[str, str]]:
    out = []
    for line in comment.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.startswith("propolis:"):
            out.append((key, value))
    return out


def _spdx_locations(comment: str) -> list[Location]:
    locs: list[dict[str, str]] = []
    for key, value in _comment_values(comment):
        if key == LOCATION_PATH:
            locs.append({"path": value})
        elif locs and key == LAYER_DIGEST:
            locs[-1]["layer_digest"] = value
        elif locs and key == LAYER_DIFF_ID:
            locs[-1]["diff_id"] = value
    return [Location(**loc) for loc in locs]


def _spdx(doc: dict[str, Any]) -> Catalogue:
    if not doc["spdxVersion"].startswith("SPDX-2."):
        raise SBOMError(f"unsupported SPDX version {doc['spdxVersion']!r}: only SPDX-2.x JSON is read")
    described = {_str(_obj(r, f"relationships[{j}]"), "relatedSpdxElement", f"relationships[{j}]")
                 for j, r in enumerate(_list(doc.get("relationships"), "relationships"))
                 if isinstance(r, dict) and r.get("relationshipType") == "DESCRIBES"}
    described.update(x for x in _list(doc.get("documentDescribes"), "documentDescribes") if isinstance(x, str))
    raw = [(i, _obj(p, f"packages[{i}]")) for i, p in enumerate(_list(doc.get("packages"), "packages"))]
    roots = [(i, p) for i, p in raw if p.get("SPDXID") in described] if len(raw) > 1 else []
    root_ids = {id(p) for _, p in roots}
    packages = []
    for i, p in raw:
        w = f"packages[{i}]"
        if id(p) in root_ids:
            continue
        purl = ""
        for j, ref in enumerate(_list(p.get("externalRefs"), f"{w}.externalRefs")):
            ref = _obj(ref, f"{w}.externalRefs[{j}]")
            if ref.get("referenceType") == "purl":
                purl = _str(ref, "referenceLocator", f"{w}.externalRefs[{j}]", required=True)
                break
        declared = _str(p, "licenseDeclared", w)
        packages.append(Package(name=_str(p, "name", w, required=True), version=_str(p, "versionInfo", w),
                                ecosystem=_ecosystem(purl, f"{w}.externalRefs"), purl=purl,
                                licenses=[declared] if declared and declared not in ("NOASSERTION", "NONE") else [],
                                locations=_spdx_locations(_str(p, "comment", w))))
    reference, digest, layers = _str(doc, "name", "document"), "", []
    if roots:
        i, root = roots[0]
        reference = _str(root, "name", f"packages[{i}]") or reference
        for j, c in enumerate(_list(root.get("checksums"), f"packages[{i}].checksums")):
            c = _obj(c, f"packages[{i}].checksums[{j}]")
            if c.get("algorithm") == "SHA256":
                digest = "sha256:" + _str(c, "checksumValue", f"packages[{i}].checksums[{j}]", required=True)
        layers = _layers([v for k, v in _comment_values(_str(root, "comment", f"packages[{i}]")) if k == IMAGE_LAYER],
                         f"packages[{i}].comment")
    return Catalogue(reference=reference, manifest_digest=digest, layers=layers, packages=packages)
