"""Access to the shared package-database fixtures and their expected package lists, and helpers
that run one cataloger on one file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from propolis.scanner.catalogers.interface import CatalogContext, CatalogOutput
from propolis.scanner.domain.model import Package

ROOT = Path(__file__).resolve().parents[2]
TESTDATA = Path(os.environ.get("PROPOLIS_TESTDATA", ROOT.parent / "shared" / "testdata"))
CTX = CatalogContext()


def pkgdb(*parts: str) -> Path:
    """Path under testdata/pkgdb; skips the test with a clear reason when the data is absent."""
    p = TESTDATA.joinpath("pkgdb", *parts)
    if not p.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"test data {p} is missing (PROPOLIS_TESTDATA={TESTDATA}) and CI=true requires it")
        pytest.skip(f"test data {p} not found; set PROPOLIS_TESTDATA to the shared testdata folder")
    return p


def expected(fixture: Path) -> dict[str, Any]:
    """The ``<fixture>.expected.json`` next to a fixture file."""
    return json.loads(fixture.with_name(fixture.name + ".expected.json").read_text())


def run(cataloger: Any, path: str, content: bytes | str) -> CatalogOutput:
    data = content.encode() if isinstance(content, str) else content
    assert cataloger.wants(path), f"{cataloger.name} does not want {path}"
    return cataloger.catalog({path: data}, CTX)


def nv(out: CatalogOutput) -> list[tuple[str, str]]:
    return sorted((p.name, p.version) for p in out.packages)


def by_name(out: CatalogOutput) -> dict[str, Package]:
    return {p.name: p for p in out.packages}
