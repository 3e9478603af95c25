"""SBOM formats: render a catalogue as CycloneDX or SPDX, and read such SBOMs back."""

from __future__ import annotations

from propolis.scanner.formats.interface import Format


def all_formats() -> dict[str, Format]:
    from propolis.scanner.formats.cyclonedx import CycloneDXFormat
    from propolis.scanner.formats.spdx import SPDXFormat

    return {f.name: f for f in (CycloneDXFormat(), SPDXFormat())}


__all__ = ["Format", "all_formats"]
