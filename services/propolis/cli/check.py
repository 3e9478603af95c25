"""``propolis check``: conftest-like checks of Kubernetes manifests and Dockerfiles before they ship.

files / directories / stdin → Kubernetes objects (``load_documents``) and Dockerfile facts
(``dockerfile_facts``) → the ``admission`` and ``dockerfile`` decision points of the policy bundle,
evaluated in-process → table, JSON or SARIF. Python only gathers facts; every verdict is Rego.
Exit codes: 0 every object allowed, 1 any denied, 2 bad input (one line on stderr naming file and line).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.console import Console

from propolis.cli.common import PolicyGate, err, fail

console = Console()

FORMATS = ("table", "json", "sarif")
#: Decision points asked, and the path asked when the bundle does not declare one.
POINTS = {"admission": "propolis/admission/decision", "dockerfile": "propolis/dockerfile/decision"}
STDIN = "-"
#: How standard input is named in messages, output and SARIF.
STDIN_NAME = "<stdin>"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
#: Text read per file (and from standard input) at most; the manifest reader has its own, smaller, limit.
MAX_FILE_BYTES = 16 * 1024 * 1024


def is_dockerfile_name(name: str) -> bool:
    """Dockerfile, Dockerfile.*, *.Dockerfile (any case of "dockerfile"), Containerfile."""
    low = name.lower()
    return low in ("dockerfile", "containerfile") or low.startswith(("dockerfile.", "containerfile.")) \
        or low.endswith((".dockerfile", ".containerfile"))


def is_manifest_name(name: str) -> bool:
    return name.lower().endswith(MANIFEST_SUFFIXES)


@dataclass
class Source:
    """One input: a file path (or ``<stdin>``), its text, and whether it is a Dockerfile."""

    name: str
    text: str
    dockerfile: bool


@dataclass
class Entry:
    """One checked object: what ``--format json`` prints, plus lines for the table and SARIF."""

    kind: str
    name: str
    namespace: str
    file: str
    line: int
    allowed: bool
    violations: list[dict[str, Any]] = field(default_factory=list)  # {"rule", "message", "line"}
    warnings: list[dict[str, Any]] = field(default_factory=list)
    revision: str = ""

    @property
    def label(self) -> str:
        """"Deployment payments/api", "Namespace shop", "Dockerfile"."""
        if self.kind == "Dockerfile":
            return self.kind
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "namespace": self.namespace, "file": self.file,
                "allowed": self.allowed,
                "violations": [{"rule": v["rule"], "message": v["message"]} for v in self.violations],
                "warnings": [{"rule": v["rule"], "message": v["message"]} for v in self.warnings],
                "policy_revision": self.revision}


def collect(paths: list[str], stdin: Any = None) -> list[Source]:
    """Every input named by ``paths``, in order (directories walked in sorted order, hidden folders
    skipped); exits 2 for a path that does not exist or cannot be read."""
    sources: list[Source] = []
    stdin_read = False
    for raw in paths:
        if raw == STDIN:
            if stdin_read:
                fail("standard input (-) can be given once")
            stdin_read = True
            data = (stdin or sys.stdin.buffer).read(MAX_FILE_BYTES + 1)
            text = _decode(data, STDIN_NAME)
            from propolis.check.dockerfile import looks_like_dockerfile

            sources.append(Source(STDIN_NAME, text, looks_like_dockerfile(text)))
            continue
        path = Path(raw)
        if path.is_dir():
            found = []
            for root, dirs, files in os.walk(path, onerror=_walk_error):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in sorted(files):
                    if is_dockerfile_name(f) or is_manifest_name(f):
                        found.append(Path(root) / f)
            sources.extend(_read(p, is_dockerfile_name(p.name)) for p in found)
        elif path.exists():
            sources.append(_read(path, is_dockerfile_name(path.name)))
        else:
            fail(f"cannot read {raw}: no such file or directory")
    return sources


def _walk_error(exc: OSError) -> None:
    fail(f"cannot read {exc.filename}: {exc.strerror}")


def _read(path: Path, dockerfile: bool) -> Source:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    return Source(str(path), _decode(data, str(path)), dockerfile)


def _decode(data: bytes, name: str) -> str:
    if len(data) > MAX_FILE_BYTES:
        fail(f"{name}: over the {MAX_FILE_BYTES}-byte limit")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        fail(f"{name}:{line}: not UTF-8 text")


def _split_rule(message: str, rule: str) -> str:
    """A policy message without its leading ``rule: `` (the rule is reported beside it)."""
    prefix = f"{rule}: "
    return message[len(prefix):] if rule and message.startswith(prefix) else message


def _findings(result: Any, reasons: list[str], allowed: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(deny, warn) lists of {"rule", "message", "line"} from a decision: its ``violations`` when it has
    them, else its reasons (a failed evaluation's fallback)."""
    deny: list[dict[str, Any]] = []
    warn: list[dict[str, Any]] = []
    raw = result.get("violations") if isinstance(result, dict) else None
    if isinstance(raw, list):
        for v in raw:
            if not isinstance(v, dict):
                continue
            rule = str(v.get("rule", ""))
            item = {"rule": rule, "message": _split_rule(str(v.get("message", "")), rule),
                    "line": v.get("line") if isinstance(v.get("line"), int) else 0}
            (warn if v.get("effect") == "warn" else deny).append(item)
    if not allowed and not deny:
        for r in reasons:
            rule = r.split(":", 1)[0] if ":" in r else "policy"
            deny.append({"rule": rule, "message": _split_rule(r, rule), "line": 0})
    return deny, warn


def evaluate(sources: list[Source], gate: PolicyGate, namespace: str) -> list[Entry]:
    """Parse every source (exiting 2 on the first bad one, before any verdict), then decide each object."""
    from propolis.admission.domain.manifests import ManifestError, ManifestObject, admission_input, load_documents
    from propolis.check.dockerfile import DockerfileError, dockerfile_facts, parse_dockerfile

    parsed: list[tuple[Source, list[ManifestObject] | dict[str, Any]]] = []
    for src in sources:
        try:
            if src.dockerfile:
                parsed.append((src, dockerfile_facts(parse_dockerfile(src.text, src.name))))
            else:
                parsed.append((src, load_documents(src.text, src.name)))
        except (ManifestError, DockerfileError) as exc:
            fail(str(exc))
    entries: list[Entry] = []
    for src, what in parsed:
        if isinstance(what, dict):
            d = _decide(gate, "dockerfile", what, src.name, 1)
            deny, warn = _findings(d.result, d.reasons, d.allowed)
            for v in (*deny, *warn):
                v["line"] = v["line"] or 1
            entries.append(Entry(kind="Dockerfile", name=Path(src.name).name, namespace="", file=src.name, line=1,
                                 allowed=d.allowed, violations=sorted(deny, key=lambda v: v["line"]),
                                 warnings=sorted(warn, key=lambda v: v["line"]), revision=d.revision))
            continue
        for obj in what:
            payload = admission_input(obj, namespace=namespace)
            d = _decide(gate, "admission", payload, obj.file, obj.line)
            deny, warn = _findings(d.result, d.reasons, d.allowed)
            for v in (*deny, *warn):
                v["line"] = obj.line
            entries.append(Entry(kind=obj.kind, name=obj.name, namespace=payload["request"]["namespace"],
                                 file=obj.file, line=obj.line, allowed=d.allowed, violations=deny, warnings=warn,
                                 revision=d.revision))
    return entries


def _decide(gate: PolicyGate, point: str, payload: dict[str, Any], file: str, line: int) -> Any:
    """The decision of ``point``; an input the decision point refuses (too deep, too large) exits 2 naming
    the file and line it came from."""
    from propolis.kernel.errors import PropolisError

    try:
        return gate.decide(point, payload)
    except PropolisError as exc:
        fail(f"{file}:{line}: {exc}")


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def render_json(entries: list[Entry]) -> str:
    return json.dumps([e.as_json() for e in entries], indent=2) + "\n"


def render_sarif(entries: list[Entry]) -> str:
    """SARIF 2.1.0: one rule per rule id, one result per violation (error) and warning (warning),
    located at the file and the line where the object's document (or the Dockerfile instruction) starts."""
    from propolis import __version__
    from propolis.scanner.reports.sarif import SCHEMA_URI

    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for e in entries:
        for level, items in (("error", e.violations), ("warning", e.warnings)):
            for v in items:
                rule = v["rule"] or "policy"
                if rule not in rules:
                    rules[rule] = {"id": rule, "name": rule,
                                   "shortDescription": {"text": f"Propolis policy rule {rule}"},
                                   "defaultConfiguration": {"level": level},
                                   "properties": {"tags": ["security",
                                                           "dockerfile" if e.kind == "Dockerfile" else "kubernetes"]}}
                results.append({
                    "ruleId": rule,
                    "ruleIndex": list(rules).index(rule),
                    "level": level,
                    "message": {"text": f"{e.label}: {v['message']}"},
                    "locations": [{"physicalLocation": {
                        "artifactLocation": {"uri": quote(e.file.replace(os.sep, "/"), safe="/")},
                        "region": {"startLine": max(1, int(v.get("line") or e.line or 1))},
                    }}],
                    "properties": {"kind": e.kind, "name": e.name, "namespace": e.namespace},
                })
    revision = next((e.revision for e in entries if e.revision), "")
    doc = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "propolis", "version": __version__,
                                "informationUri": "https://github.com/propolis/propolis",
                                "rules": list(rules.values())}},
            "results": results,
            "properties": {"policy_revision": revision},
        }],
    }
    return json.dumps(doc, indent=2) + "\n"


def render_table(entries: list[Entry], out: Console) -> None:
    """One table per file: line, object, verdict, and each violation and warning on its own row."""
    from rich.markup import escape
    from rich.table import Table

    by_file: dict[str, list[Entry]] = {}
    for e in entries:
        by_file.setdefault(e.file, []).append(e)
    for file, group in by_file.items():
        t = Table(title=escape(file), title_justify="left", show_lines=False)
        for col in ("line", "object", "verdict", "rule", "message"):
            t.add_column(col, overflow="fold")
        for e in group:
            obj = e.label
            verdict = "[green]allowed[/]" if e.allowed else "[red]denied[/]"
            rows = [(v, "[red]deny[/]") for v in e.violations] + [(v, "[yellow]warn[/]") for v in e.warnings]
            if not rows:
                t.add_row(str(e.line), escape(obj), verdict, "", "")
            for i, (v, effect) in enumerate(rows):
                t.add_row(str(v.get("line") or e.line), escape(obj) if i == 0 else "", verdict if i == 0 else "",
                          f"{effect} {escape(v['rule'])}", escape(v["message"]))
        out.print(t)
    denied = sum(1 for e in entries if not e.allowed)
    warnings = sum(len(e.warnings) for e in entries)
    revision = next((e.revision for e in entries if e.revision), "")
    out.print(f"{len(entries)} objects checked, {denied} denied, {warnings} warnings "
              f"(policy bundle revision {revision[:19]})", highlight=False)


def check(paths: Annotated[list[str], typer.Argument(help="Files, directories (searched for *.yaml, *.yml, *.json, "
                                                           "Dockerfile, Dockerfile.*, *.Dockerfile, Containerfile) "
                                                           "or - for standard input (YAML, e.g. `helm template` or "
                                                           "`kustomize build` output, or a Dockerfile).")],
          format: Annotated[str, typer.Option("--format", "-f", help="table, json or sarif.")] = "table",
          bundle: Annotated[str, typer.Option("--bundle", "-b", help="Policy bundle deciding (default: the "
                                                                     "configured policy.bundle).")] = "",
          namespace: Annotated[str, typer.Option("--namespace", "-n", help="Namespace of objects that name "
                                                                           "none.")] = "default",
          output: Annotated[str, typer.Option("--output", "-o", help="Write to FILE instead of stdout.")] = "") -> None:
    """Check Kubernetes manifests and Dockerfiles against the policy bundle (exit 0 allowed, 1 denied, 2 bad input)."""
    from propolis.kernel.errors import PropolisError

    if format not in FORMATS:
        fail(f"unknown format {format!r}: choose {', '.join(FORMATS)}")
    sources = collect(paths)
    if not sources:
        fail(f"no Kubernetes manifests (*.yaml, *.yml, *.json) or Dockerfiles found in {', '.join(paths)}")
    try:
        gate = PolicyGate(POINTS, bundle)
    except (PropolisError, ValueError) as exc:  # ValueError: malformed decision point declarations
        fail(f"policy bundle: {exc}")
    entries = evaluate(sources, gate, namespace)
    if format == "table":
        if output:
            with open(output, "w") as fh:
                render_table(entries, Console(file=fh, width=200))
        else:
            render_table(entries, console if console.is_terminal or os.environ.get("COLUMNS") else Console(width=160))
    else:
        text = render_json(entries) if format == "json" else render_sarif(entries)
        if output:
            Path(output).write_text(text)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
    denied = [e for e in entries if not e.allowed]
    if denied:
        err.print(f"propolis: {len(denied)} of {len(entries)} objects denied", markup=False, highlight=False,
                  soft_wrap=True)
        raise typer.Exit(1)
