"""Output formats for scan results: table, JSON, SARIF 2.1.0 and CycloneDX 1.6 with vulnerabilities."""

from __future__ import annotations

from propolis.scanner.reports.interface import ReportFormat, ScanReport


def all_formats() -> dict[str, ReportFormat]:
    from propolis.scanner.reports.cyclonedx import CycloneDXReport
    from propolis.scanner.reports.json import JsonReport
    from propolis.scanner.reports.sarif import SarifReport
    from propolis.scanner.reports.table import TableReport

    return {f.name: f for f in (TableReport(), JsonReport(), SarifReport(), CycloneDXReport())}


__all__ = ["ReportFormat", "ScanReport", "all_formats"]
