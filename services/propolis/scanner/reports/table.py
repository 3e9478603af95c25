"""Table: what a person reads in a terminal or a CI log, most severe first."""

from __future__ import annotations

import io

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from propolis.scanner.domain.findings import SEVERITIES
from propolis.scanner.reports.interface import ScanReport, layer_label, summary

_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "negligible": "dim",
          "unknown": "dim"}


def _fixed(state: str, fixed_version: str) -> str:
    return fixed_version or ("" if state in ("fixed", "unfixed") else state)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


class TableReport:
    name = "table"

    def renderables(self, report: ScanReport) -> list[RenderableType]:
        """The findings table and a summary line, for printing on a live console (colours, width)."""
        img = report.image
        counts = summary(report.findings)
        title = f"{img.reference}{' (' + img.os + ')' if img.os else ''}: {counts['total']} vulnerabilities"
        t = Table(title=escape(title), title_justify="left")
        rows = [(f.severity, f.id, f.package.name, f.installed_version, _fixed(f.state, f.fixed_version),
                 layer_label(f, 32), _cut(" ".join(f.title.split()), 60)) for f in report.findings]
        # Ids keep their full width (a cut id cannot be looked up); the rest folds on narrow terminals.
        t.add_column("severity", no_wrap=True)
        t.add_column("id", no_wrap=True, min_width=max([2, *(len(r[1]) for r in rows)]))
        for col in ("package", "installed", "fixed"):
            t.add_column(col, overflow="fold")
        t.add_column("layer", overflow="fold", max_width=32)
        t.add_column("title", overflow="fold")
        for sev, *cells in rows:
            t.add_row(Text(sev, style=_STYLE.get(sev, "")), *(escape(c) for c in cells))
        parts = [f"{counts[s]} {s}" for s in SEVERITIES if counts[s]]
        line = Text(f"{', '.join(parts) or 'no vulnerabilities'}; {counts['fixable']} with a fix available")
        out: list[RenderableType] = [t, line]
        if report.decision is not None:
            d = report.decision
            verdict = Text("ci: allowed" if d.allow else "ci: blocked", style="green" if d.allow else "bold red")
            verdict.append(f" (bundle revision {d.revision[:19]})", style="")
            out.append(verdict)
        return out

    def render(self, report: ScanReport) -> bytes:
        buf = io.StringIO()
        console = Console(file=buf, width=200, no_color=True, highlight=False, soft_wrap=False)
        for r in self.renderables(report):
            console.print(r)
        return buf.getvalue().encode()
