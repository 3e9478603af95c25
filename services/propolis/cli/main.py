"""``propolis``: run services and work with policy bundles.

Errors are one line on stderr and exit code 2 (1 for failing Rego tests); never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from propolis.cli.admission import admission_app
from propolis.cli.check import check as check_command
from propolis.cli.registry import registry_app
from propolis.cli.risk import risk as risk_command
from propolis.cli.scan import scan as scan_command
from propolis.cli.vulndb import vulndb_app
from propolis.kernel.config import load_config
from propolis.kernel.errors import PropolisError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Propolis: container security across the whole lifecycle.")
policy_app = typer.Typer(no_args_is_help=True, help="Policy bundles: test, evaluate, build, sign.")
bundle_app = typer.Typer(no_args_is_help=True, help="Build and sign OPA-format bundles.")
app.add_typer(policy_app, name="policy")
policy_app.add_typer(bundle_app, name="bundle")
app.add_typer(vulndb_app, name="vulndb")
app.add_typer(registry_app, name="registry")
app.add_typer(admission_app, name="admission")
app.command("scan")(scan_command)
app.command("risk")(risk_command)
app.command("check")(check_command)

console = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="TOML configuration file.")]  # noqa: UP045


def _fail(message: str, code: int = 2) -> None:
    err.print(f"propolis: error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@app.command()
def up(config: ConfigOpt = None,
       registry: Annotated[int, typer.Option(help="Also start a docker-registry on this loopback port whose "
                                                  "pushes the registry gate verifies (0: none).")] = 0) -> None:
    """Start the embedded NATS (unless a URL is configured) and every service; Ctrl-C stops them."""
    from propolis.cli.up import up as run_up

    raise typer.Exit(run_up(load_config(config), console, registry_port=registry))


@app.command()
def serve(service: str, config: ConfigOpt = None) -> None:
    """Run one service in the foreground."""
    from propolis.kernel.app import run
    from propolis.kernel.services import SERVICES

    if service not in SERVICES:
        _fail(f"unknown service {service!r}; known: {', '.join(SERVICES)}")
    if not SERVICES[service].factory:
        _fail(f"service {service!r} has a contract (proto/propolis/{service}/v1) but no implementation yet")
    run(service, load_config(config))


@app.command()
def events(markdown: Annotated[bool, typer.Option(help="Print the catalogue as Markdown.")] = True) -> None:
    """Print the NATS event catalogue (what docs/events.md is made from)."""
    from propolis.kernel.eventdoc import render_markdown

    sys.stdout.write(render_markdown())


@app.command()
def sbom(image: Annotated[str, typer.Argument(help="docker-archive tarball, OCI layout DIR[:TAG], "
                                                   "oci-archive:FILE, a root filesystem directory, or a "
                                                   "registry reference host[:port]/repo:tag or "
                                                   "host[:port]/repo@sha256:DIGEST, or a CycloneDX or SPDX "
                                                   "JSON SBOM (read, not scanned: convert it with --format).")],
         format: Annotated[str, typer.Option("--format", "-f", help="json, table, cyclonedx or spdx.")] = "table",
         output: Annotated[str, typer.Option("--output", "-o", help="Write to FILE instead of stdout.")] = "",
         platform: Annotated[str, typer.Option(help="os/arch to pick from a multi-arch index.")] = "") -> None:
    """List every package in an image, layer by layer."""
    import msgspec
    from rich.progress import BarColumn, Progress, TextColumn

    from propolis.scanner.adapters.sources import open_image
    from propolis.scanner.catalogue import catalogue_image
    from propolis.scanner.domain.image import ImageError
    from propolis.scanner.formats import all_formats

    formats = all_formats()
    if format not in ("json", "table", *formats):
        _fail(f"unknown format {format!r}: choose json, table, {', '.join(formats)}")
    from_sbom = _sbom_input(image)
    if from_sbom is not None:
        cat = from_sbom
    else:
        try:
            img = open_image(image, platform=platform)
        except ImageError as exc:
            _fail(str(exc))
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      console=err, transient=True) as bar:
            task = bar.add_task("reading layers", total=len(img.layers))
            cat = catalogue_image(img, progress=lambda i, n, info: bar.update(
                task, completed=i + 1, description=f"layer {info.digest[:19]}"))
    if format in formats:
        data = formats[format].render(cat)
        if output:
            Path(output).write_bytes(data)
        else:
            sys.stdout.buffer.write(data)
    elif format == "json":
        text = msgspec.json.format(msgspec.json.encode(cat), indent=2).decode() + "\n"
        if output:
            Path(output).write_text(text)
        else:
            sys.stdout.write(text)
    else:
        t = Table(title=f"{cat.reference} ({len(cat.packages)} packages{', PARTIAL' if cat.partial else ''})")
        for col in ("package", "version", "type", "source", "layer", "path"):
            t.add_column(col)
        for p in cat.packages:
            loc = p.locations[0] if p.locations else None
            layer = (loc.diff_id or loc.layer_digest)[:19] if loc else ""
            t.add_row(p.name, p.version, p.ecosystem, p.source_name, layer, loc.path if loc else "")
        out_console = Console(file=open(output, "w"), width=200) if output else console  # noqa: SIM115
        out_console.print(t)
        for extra in _risk_tables(cat):
            out_console.print(extra)
    for issue in cat.issues:
        err.print(f"partial: {issue}", markup=False, highlight=False, soft_wrap=True)


def _sbom_input(image: str):  # noqa: ANN202
    """The catalogue of ``image`` when it is a JSON file (a CycloneDX or SPDX SBOM), else None.

    Detected by content so ``app.cdx.json`` and ``bom`` both work; a tarball does not start with ``{``
    or ``[`` (its first bytes are a member name, and ``ustar`` sits at offset 257), so archives go to
    open_image. Any other JSON file is refused with the reader's one-line reason.
    """
    from propolis.scanner.formats.reader import SBOMError, read_sbom

    path = Path(image)
    try:
        if not path.is_file():
            return None
        with path.open("rb") as fh:
            head = fh.read(512)
    except OSError:
        return None
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")) or head[257:262] == b"ustar":
        return None
    try:
        return read_sbom(path.read_bytes())
    except SBOMError as exc:
        _fail(f"{image}: {exc}")
    except OSError as exc:
        _fail(f"cannot read {image}: {exc.strerror}")
    return None


def _risk_tables(cat) -> list[Table]:  # noqa: ANN001
    """Secrets and notable filesystem/config facts, shown after the package table when there are any."""
    from rich.markup import escape

    tables = []
    if cat.secrets:
        t = Table(title=f"Secrets ({len(cat.secrets)})")
        for col in ("rule", "severity", "location", "layer", "match"):
            t.add_column(col)
        for s in cat.secrets:
            f = s.finding
            t.add_row(escape(f.rule_id), f.severity, escape(f"{f.path}:{f.line}" if f.line else f.path),
                      (s.diff_id or s.layer_digest)[:19], escape(f.redacted))
        tables.append(t)
    facts = cat.facts
    if facts is not None:
        rows = []
        if facts.runs_as_root:
            rows.append(("runs as root", escape(f"user {facts.user!r}" if facts.user else "no USER set")))
        if facts.setuid_files:
            rows.append(("setuid files", str(len(facts.setuid_files))))
        if facts.setgid_files:
            rows.append(("setgid files", str(len(facts.setgid_files))))
        if facts.world_writable:
            open_dirs = sum(1 for w in facts.world_writable if w.kind == "dir" and not w.sticky)
            rows.append(("world-writable paths",
                         f"{len(facts.world_writable)} ({open_dirs} directories without sticky)"))
        if rows:
            t = Table(title="Facts")
            t.add_column("fact")
            t.add_column("value")
            for row in rows:
                t.add_row(*row)
            tables.append(t)
    return tables


def _load(bundle: str, ref: str, subdir: str):  # noqa: ANN202
    from propolis.policy.adapters.regorus_engine import RegorusEngine
    from propolis.policy.adapters.sources import source_for
    from propolis.policy.domain.decision import parse_decision_points

    b = source_for(bundle, ref=ref, subdir=subdir, data_dir=Path(load_config().data_dir)).fetch()
    points = parse_decision_points((b.data.get("propolis") or {}).get("decision_points"))
    return b, points, RegorusEngine().compile(b, sorted({p.path for p in points.values()}))


BundleArg = Annotated[str, typer.Argument(help="Bundle directory, .tar.gz, or Git URL/path (with --ref).")]
RefOpt = Annotated[str, typer.Option("--ref", help="Git branch, tag or commit.")]
SubdirOpt = Annotated[str, typer.Option("--subdir", help="Bundle folder inside the Git repository.")]


@policy_app.command("test")
def policy_test(bundle: BundleArg = "policies", ref: RefOpt = "", subdir: SubdirOpt = "",
                verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
                coverage: Annotated[bool, typer.Option(help="Report rule coverage.")] = True) -> None:
    """Run every test_* rule in the bundle; exit 1 if any fails."""
    b, _points, compiled = _load(bundle, ref, subdir)
    report = compiled.run_tests(coverage=coverage)
    for r in report.results:
        if verbose or not r.passed:
            mark = "[green]PASS[/]" if r.passed else "[red]FAIL[/]"
            console.print(f"{mark} data.{r.package}.{r.name}" + (f"  {r.error}" if r.error else ""),
                          highlight=False)
    if coverage and report.coverage:
        t = Table(title=f"Coverage (revision {b.revision[:19]})")
        t.add_column("file")
        t.add_column("covered", justify="right")
        t.add_column("lines", justify="right")
        t.add_column("%", justify="right")
        for c in report.coverage:
            t.add_row(c.path, str(c.covered), str(c.covered + c.not_covered), f"{c.percent:.1f}")
        t.add_row("[b]total[/]", "", "", f"[b]{report.coverage_percent:.1f}[/]")
        console.print(t)
    console.print(f"{report.passed} passed, {report.failed} failed", highlight=False)
    if report.failed or not report.results:
        raise typer.Exit(1)


@policy_app.command("eval")
def policy_eval(path: Annotated[str, typer.Argument(help="Decision point name or data path.")],
                input: Annotated[str, typer.Option("--input", "-i", help="JSON input file, or - for stdin.")] = "",
                bundle: Annotated[str, typer.Option("--bundle", "-b")] = "policies",
                ref: RefOpt = "", subdir: SubdirOpt = "") -> None:
    """Evaluate one decision and print it as JSON."""
    import msgspec

    from propolis.policy.domain.decision import DecisionPoints

    raw = b"{}"
    if input == "-":
        raw = sys.stdin.buffer.read()
    elif input:
        try:
            raw = Path(input).read_bytes()
        except OSError as exc:
            _fail(f"cannot read input {input}: {exc.strerror}")
    b, points, compiled = _load(bundle, ref, subdir)

    class _Eval:
        mode = "embedded"
        revision = b.revision

        def evaluate(self, p: str, text: str) -> tuple[object, str]:
            return compiled.evaluate(p, text), b.revision

    decision = DecisionPoints(_Eval(), lambda: points).decide(path, raw)
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(decision), indent=2).decode() + "\n")


@bundle_app.command("build")
def bundle_build(directory: Annotated[Path, typer.Argument(help="Bundle directory.")] = Path("policies"),
                 output: Annotated[Path, typer.Option("--output", "-o")] = Path("bundle.tar.gz"),
                 revision: Annotated[str, typer.Option(help="Revision to write into .manifest.")] = "",
                 signing_key: Annotated[str, typer.Option(help="Sign with this PEM private key (or HS secret).")] = "",
                 signing_alg: Annotated[str, typer.Option()] = "RS256",
                 keyid: Annotated[str, typer.Option()] = "") -> None:
    """Build an OPA bundle tarball from a directory (optionally signed)."""
    from propolis.policy.adapters.sources import DirectorySource, write_tarball
    from propolis.policy.domain.bundle import MANIFEST_FILE, build_bundle
    from propolis.policy.domain.signing import sign_files

    files = dict(DirectorySource(directory).fetch().files)
    manifest = json.loads(files.get(MANIFEST_FILE, b"{}") or b"{}")
    if revision:
        manifest["revision"] = revision
    files[MANIFEST_FILE] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    build_bundle(files, source=str(directory))  # validate before writing
    sigs = sign_files(files, key=_key_text(signing_key, signing_alg), algorithm=signing_alg,
                      keyid=keyid) if signing_key else None
    output.write_bytes(write_tarball(files, sigs))
    console.print(f"wrote {output} ({len(files)} files{', signed' if sigs else ''})", highlight=False)


@bundle_app.command("sign")
def bundle_sign(bundle: Annotated[Path, typer.Argument(help="Bundle directory or .tar.gz.")] = Path("policies"),
                signing_key: Annotated[str, typer.Option(help="PEM private key file (or HS secret).")] = "",
                signing_alg: Annotated[str, typer.Option()] = "RS256",
                keyid: Annotated[str, typer.Option()] = "",
                scope: Annotated[str, typer.Option()] = "") -> None:
    """Write .signatures.json into a bundle directory, or re-pack a tarball with it."""
    from propolis.policy.adapters.sources import DirectorySource, TarballSource, read_tarball, write_tarball
    from propolis.policy.domain.bundle import SIGNATURES_FILE
    from propolis.policy.domain.signing import sign_files

    if not signing_key:
        _fail("--signing-key is required")
    key = _key_text(signing_key, signing_alg)
    if bundle.is_dir():
        files = DirectorySource(bundle).fetch().files
        (bundle / SIGNATURES_FILE).write_bytes(sign_files(files, key=key, algorithm=signing_alg, keyid=keyid,
                                                          scope=scope))
        console.print(f"wrote {bundle / SIGNATURES_FILE} over {len(files)} files", highlight=False)
    else:
        TarballSource(bundle).fetch()  # validate
        files, _old = read_tarball(bundle.read_bytes())
        bundle.write_bytes(write_tarball(files, sign_files(files, key=key, algorithm=signing_alg, keyid=keyid,
                                                           scope=scope)))
        console.print(f"signed {bundle} over {len(files)} files", highlight=False)


def _key_text(key: str, alg: str) -> str:
    p = Path(key)
    if p.is_file():
        return p.read_text()
    if not alg.startswith("HS"):
        _fail(f"signing key {key} is not a readable file")
    return key


def main() -> None:
    try:
        app()
    except PropolisError as exc:
        err.print(f"propolis: error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
