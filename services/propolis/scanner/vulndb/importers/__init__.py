"""Advisory-source importers, one module per format; :func:`detect` picks the one for a path."""

from __future__ import annotations

from pathlib import Path

from propolis.scanner.vulndb.importers.alpine_secdb import AlpineSecdbImporter
from propolis.scanner.vulndb.importers.debian_json import DebianJSONImporter
from propolis.scanner.vulndb.importers.debian_list import DebianListImporter
from propolis.scanner.vulndb.importers.interface import Importer, ImportStats, Sink
from propolis.scanner.vulndb.importers.osv import OSVImporter

#: Most specific first: OSV detection is the broadest (any directory with an OSV-looking file).
IMPORTERS: tuple[Importer, ...] = (DebianListImporter(), DebianJSONImporter(), AlpineSecdbImporter(), OSVImporter())


def detect(path: Path) -> Importer | None:
    """The importer that understands ``path``, or None when no format matches."""
    for importer in IMPORTERS:
        if importer.detect(path):
            return importer
    return None


__all__ = ["IMPORTERS", "ImportStats", "Importer", "Sink", "detect"]
