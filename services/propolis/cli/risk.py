"""``propolis risk``: score an image's risk from its facts and judge the score at a lifecycle checkpoint.

catalogue → matcher → facts (+ KEV) → ``risk`` decision (score, factors) → ``checkpoints`` decision
(verdict, bar) → output → exit code. Both decisions are Rego in the policy bundle, evaluated in-process.
Exit codes: 0 the checkpoint allows or warns, 1 it blocks, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console

from propolis.cli.common import PolicyGate, catalogue_input, err, fail

console = Console()

CHECKPOINTS = ("ci", "registry", "deploy", "runtime")
FORMATS = ("table", "json")
#: Decision points asked, and the path asked when the bundle does not declare one.
POINTS = {"risk": "propolis/risk/decision", "checkpoints": "propolis/checkpoints/decision"}


def risk_report(facts: dict[str, Any], reference: str, digest: str, gate: PolicyGate, checkpoint: str,
                namespace: str = "", team: str = "", now: str = "") -> dict[str, Any]:
    """Score ``facts`` and judge the score at ``checkpoint``: the document ``--format json`` prints."""
    scored = gate.decide("risk", facts)
    result = scored.result if isinstance(scored.result, dict) else {}
    score = result.get("score")
    payload: dict[str, Any] = {"checkpoint": checkpoint, "score": score,
                               "image": {"repository": reference, "digest": digest},
                               "now": now or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if namespace:
        payload["namespace"] = namespace
    if team:
        payload["team"] = team
    judged = gate.decide("checkpoints", payload)
    verdict = judged.result if isinstance(judged.result, dict) else {}
    return {
        "image": {"reference": reference, "digest": digest},
        "score": score,
        "multiplier": result.get("multiplier"),
        "factors": result.get("factors", []),
        "decision": {"checkpoint": checkpoint, "verdict": verdict.get("verdict", "block"),
                     "allow": judged.allowed, "reasons": judged.reasons, "bar": verdict.get("bar"),
                     "exception": verdict.get("exception"), "namespace": namespace, "team": team},
        "revision": judged.revision,
        "facts": facts,
    }


def _print_table(doc: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = console if console.is_terminal or os.environ.get("COLUMNS") else Console(width=160)
    img = doc["image"]
    out.print(f"{escape(img['reference'])} {img['digest'][:19]}: risk score {doc['score']} "
              f"(multiplier x{doc['multiplier']})", highlight=False)
    t = Table(title="Risk factors")
    for col, justify in (("factor", "left"), ("raw value", "right"), ("multiplier", "right"),
                         ("contribution", "right"), ("detail", "left")):
        t.add_column(col, justify=justify)  # type: ignore[arg-type]
    for f in doc["factors"]:
        t.add_row(escape(str(f.get("factor"))), str(f.get("raw_value")), f"x{f.get('multiplier')}",
                  str(f.get("contribution")), escape(str(f.get("detail"))))
    out.print(t)
    d = doc["decision"]
    bar = d["bar"] or {}
    out.print(f"{d['checkpoint']} checkpoint: {d['verdict'].upper()} (warn above {bar.get('warn')}, block above "
              f"{bar.get('block')}; policy bundle revision {doc['revision'][:19]})", highlight=False)
    for reason in d["reasons"]:
        out.print(f"  - {escape(reason)}", highlight=False, soft_wrap=True)  # one reason, one line (grep)


def risk(image: Annotated[str, typer.Argument(help="docker-archive tarball, OCI layout DIR[:TAG], oci-archive:FILE, "
                                                   "a root filesystem directory, a registry reference, or a "
                                                   "CycloneDX or SPDX JSON SBOM.")],
         db: Annotated[str, typer.Option("--db", envvar="PROPOLIS_VULNDB", show_default=False,
                                         help="Advisory index built by `propolis vulndb build` "
                                              "(or set PROPOLIS_VULNDB).")] = "",
         checkpoint: Annotated[str, typer.Option("--checkpoint", help="ci, registry, deploy or runtime.")] = "ci",
         format: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
         kev: Annotated[str, typer.Option("--kev", help="CISA KEV catalogue (JSON feed format): its CVEs mark "
                                                        "findings as known exploited.")] = "",
         bundle: Annotated[str, typer.Option("--bundle", "-b", help="Policy bundle scoring and judging (default: "
                                                                    "the configured policy.bundle).")] = "",
         namespace: Annotated[str, typer.Option("--namespace", help="Namespace whose bar overrides apply.")] = "",
         team: Annotated[str, typer.Option("--team", help="Team whose bar overrides apply.")] = "",
         platform: Annotated[str, typer.Option(help="os/arch to pick from a multi-arch index.")] = "") -> None:
    """Score an image's risk, explain it, and judge it at a checkpoint (exit 0 allow/warn, 1 block, 2 bad input)."""
    from propolis.kernel.errors import PropolisError
    from propolis.risk.adapters.kev import load_kev
    from propolis.risk.domain.facts import image_facts
    from propolis.scanner.matching import Matcher
    from propolis.scanner.vulndb.store import VulnDB, VulnDBError

    if checkpoint not in CHECKPOINTS:
        fail(f"unknown checkpoint {checkpoint!r}: choose {', '.join(CHECKPOINTS)}")
    if format not in FORMATS:
        fail(f"unknown format {format!r}: choose {', '.join(FORMATS)}")
    if not db:
        fail("no vulnerability database: pass --db DB_PATH or set PROPOLIS_VULNDB (build one with "
             "`propolis vulndb build`)")
    try:
        known = load_kev(kev) if kev else None
    except PropolisError as exc:
        fail(str(exc))
    try:
        vdb = VulnDB(db)
    except VulnDBError as exc:
        fail(str(exc))
    try:
        gate = PolicyGate(POINTS, bundle)
    except (PropolisError, ValueError) as exc:  # ValueError: malformed decision point declarations
        vdb.close()
        fail(f"policy bundle: {exc}")
    with vdb:
        cat = catalogue_input(image, platform)
        try:
            with err.status("matching advisories"):
                result = Matcher(vdb).match(cat)
        except VulnDBError as exc:
            fail(str(exc))
    facts = image_facts(cat, result.findings, known)
    try:
        doc = risk_report(facts, cat.reference, cat.manifest_digest, gate, checkpoint, namespace, team)
    except PropolisError as exc:  # the risk point fails loudly (on_error/on_undefined: error)
        fail(f"risk decision: {exc}")
    if format == "json":
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        sys.stdout.flush()
    else:
        _print_table(doc)
    for issue in [*cat.issues, *result.issues]:
        err.print(f"partial: {issue}", markup=False, highlight=False, soft_wrap=True)
    if doc["decision"]["verdict"] == "block" or not doc["decision"]["allow"]:
        err.print(f"propolis: the {checkpoint} checkpoint (bundle revision {doc['revision'][:19]}) blocks this image "
                  f"with risk score {doc['score']}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)
