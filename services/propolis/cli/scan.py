"""``propolis scan``: find the known vulnerabilities of an image and let the ``ci`` policy decide.

catalogue → matcher → findings → filters → ``ci`` decision → output → exit code. Works offline
from the local advisory index. Exit codes: 0 the ``ci`` decision allows, 1 it denies (the reasons
are printed on stderr), 2 bad input (one line on stderr: missing index, unreadable image, bad
option).
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from propolis.cli.common import CLI_INPUT_MAX_BYTES, PolicyGate, catalogue_input, fail

if TYPE_CHECKING:  # imported when a scan runs, so that `propolis --help` stays fast
    from propolis.scanner.domain.findings import Finding
    from propolis.scanner.reports.interface import DecisionSummary, ScanReport

console = Console()
err = Console(stderr=True)  # the same stream as propolis.cli.common.err

#: The decision point judged (``data.propolis.decision_points.ci``).
CI_POINT = "ci"
#: A scan's input can be large (thousands of findings); see :data:`propolis.cli.common.CLI_INPUT_MAX_BYTES`.
CI_INPUT_MAX_BYTES = CLI_INPUT_MAX_BYTES


def _fail(message: str, code: int = 2) -> None:
    fail(message, code)


def ci_input(report: ScanReport) -> dict[str, Any]:
    """The ``ci`` decision input: the image, each finding in the policy's shape, counts and ``now``."""
    from propolis.scanner.reports.interface import summary

    def one(f: Finding) -> dict[str, Any]:
        return {"id": f.id, "aliases": list(f.aliases), "severity": f.severity, "cvss_score": f.cvss_score,
                "fixed_version": f.fixed_version, "state": f.state,
                "package": {"name": f.package.name, "version": f.installed_version, "ecosystem": f.package.ecosystem,
                            "purl": f.package.purl}}

    return {"image": {"reference": report.image.reference, "digest": report.image.manifest_digest},
            "findings": [one(f) for f in report.findings], "summary": summary(report.findings),
            "now": report.scanned_at}


class CiGate:
    """The ``ci`` decision point of one policy bundle, loaded and compiled once (before a scan starts,
    so a broken bundle fails fast) and evaluated in-process (see :class:`PolicyGate`)."""

    def __init__(self, bundle: str = "", ref: str = "", subdir: str = "") -> None:
        # An undeclared ci point is still asked at its usual path, and fails closed.
        self._gate = PolicyGate({CI_POINT: "propolis/ci/decision"}, bundle, ref, subdir)
        self.path = self._gate.paths[CI_POINT]

    def decide(self, payload: dict[str, Any]) -> DecisionSummary:
        from propolis.scanner.reports.interface import DecisionSummary

        d = self._gate.decide(CI_POINT, payload)
        result = d.result if isinstance(d.result, dict) else {}
        return DecisionSummary(allow=d.allowed, reasons=d.reasons,
                               warnings=[w for w in result.get("warnings", []) if isinstance(w, str)],
                               blocking_findings=[x for x in result.get("blocking_findings", []) if isinstance(x, str)],
                               revision=d.revision, decision_id=d.decision_id, outcome=d.outcome)


def decide_ci(payload: dict[str, Any], bundle: str = "", ref: str = "", subdir: str = "") -> DecisionSummary:
    """One ``ci`` decision on ``bundle`` (default: the configured policy bundle)."""
    return CiGate(bundle, ref, subdir).decide(payload)


def scan(image: Annotated[str, typer.Argument(help="docker-archive tarball, OCI layout DIR[:TAG], oci-archive:FILE, "
                                                   "a root filesystem directory, a registry reference, or a "
                                                   "CycloneDX or SPDX JSON SBOM.")],
         db: Annotated[str, typer.Option("--db", envvar="PROPOLIS_VULNDB", show_default=False,
                                         help="Advisory index built by `propolis vulndb build` "
                                              "(or set PROPOLIS_VULNDB).")] = "",
         format: Annotated[str, typer.Option("--format", "-f", help="table, json, sarif or cyclonedx.")] = "table",
         output: Annotated[str, typer.Option("--output", "-o", help="Write to FILE instead of stdout.")] = "",
         severity: Annotated[str, typer.Option(help="Only these severities, comma-separated "
                                                    "(critical,high,medium,low,negligible,unknown).")] = "",
         ignore_unfixed: Annotated[bool, typer.Option("--ignore-unfixed",
                                                      help="Leave out findings with no fix to install.")] = False,
         platform: Annotated[str, typer.Option(help="os/arch to pick from a multi-arch index.")] = "",
         bundle: Annotated[str, typer.Option("--bundle", "-b", help="Policy bundle deciding `ci` (default: the "
                                                                    "configured policy.bundle).")] = "") -> None:
    """Find the known vulnerabilities of an image and gate on them with the `ci` policy (exit 0/1; 2 bad input)."""
    from propolis.kernel.errors import PropolisError
    from propolis.scanner.reports import all_formats
    from propolis.scanner.reports.interface import (
        DbSummary,
        Filters,
        ImageSummary,
        ScanReport,
        filter_findings,
        parse_severities,
    )
    from propolis.scanner.reports.table import TableReport
    from propolis.scanner.vulndb.store import VulnDB, VulnDBError

    formats = all_formats()
    if format not in formats:
        _fail(f"unknown format {format!r}: choose {', '.join(formats)}")
    try:
        severities = parse_severities(severity)
    except ValueError as exc:
        _fail(f"--severity: {exc}")
    if not db:
        _fail("no vulnerability database: pass --db DB_PATH or set PROPOLIS_VULNDB (build one with "
              "`propolis vulndb build`)")
    try:
        vdb = VulnDB(db)
        info = vdb.info()
    except VulnDBError as exc:
        _fail(str(exc))
    try:
        gate = CiGate(bundle)
    except (PropolisError, ValueError) as exc:  # ValueError: malformed decision point declarations
        vdb.close()
        _fail(f"policy bundle: {exc}")
    with vdb:
        cat = catalogue_input(image, platform)
        from propolis.scanner.matching import Matcher

        try:
            with err.status("matching advisories"):
                result = Matcher(vdb).match(cat)
        except VulnDBError as exc:
            _fail(str(exc))
    os_name = (cat.os.pretty_name or f"{cat.os.id} {cat.os.version_id}".strip()) if cat.os else ""
    report = ScanReport(
        image=ImageSummary(reference=cat.reference, manifest_digest=cat.manifest_digest, os=os_name,
                           layers=len(cat.layers), packages=len(cat.packages), partial=cat.partial,
                           issues=list(cat.issues)),
        db=DbSummary(path=info.path, schema_version=info.schema_version, built_at=info.built_at,
                     advisories=info.advisories, sources=[f"{s.kind}:{s.path}" for s in info.sources]),
        findings=filter_findings(result.findings, severities, ignore_unfixed),
        filters=Filters(severities=severities, ignore_unfixed=ignore_unfixed),
        issues=list(result.issues),
        scanned_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        catalogue=cat)
    try:
        decision = gate.decide(ci_input(report))
    except PropolisError as exc:  # input refused (e.g. nested too deep): nothing to judge
        _fail(f"ci decision: {exc}")
    report.decision = decision
    fmt = formats[format]
    if output:
        try:
            Path(output).write_bytes(fmt.render(report))
        except OSError as exc:
            _fail(f"cannot write {output}: {exc.strerror}")
    elif isinstance(fmt, TableReport):
        # CI logs are not terminals: Rich would assume 80 columns and fold every row.
        out = console if console.is_terminal or os.environ.get("COLUMNS") else Console(width=160)
        for r in fmt.renderables(report):
            out.print(r)
    else:
        sys.stdout.buffer.write(fmt.render(report))
        sys.stdout.flush()
    for issue in [*cat.issues, *result.issues]:
        err.print(f"partial: {issue}", markup=False, highlight=False, soft_wrap=True)
    for warning in decision.warnings:
        err.print(f"propolis: warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    if not decision.allow:
        for reason in decision.reasons:
            err.print(f"propolis: blocked: {reason}", markup=False, highlight=False, soft_wrap=True)
        err.print(f"propolis: the ci policy (bundle revision {decision.revision[:19]}) blocks this image",
                  markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)
