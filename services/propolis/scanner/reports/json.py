"""JSON: the whole report (image, index, filters, summary, decision, findings) for machines."""

from __future__ import annotations

import msgspec

from propolis.scanner.reports.interface import ScanReport, report_json


class JsonReport:
    name = "json"

    def render(self, report: ScanReport) -> bytes:
        return msgspec.json.format(msgspec.json.encode(report_json(report)), indent=2) + b"\n"
