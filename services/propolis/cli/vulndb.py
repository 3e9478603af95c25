"""``propolis vulndb``: build the local vulnerability index from advisory sources, describe it, and push or
pull it as an OCI artifact (so an air-gapped site mirrors it like an image).

Errors are one line on stderr and exit code 2, like the rest of the CLI.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from propolis.scanner.vulndb.store import DbInfo

vulndb_app = typer.Typer(no_args_is_help=True, help="Vulnerability index: build, describe, push, pull.")

console = Console()
err = Console(stderr=True)

DbOpt = Annotated[Path, typer.Option("--db", envvar="PROPOLIS_VULNDB",
                                     help="Index file (or set PROPOLIS_VULNDB).", show_default=False)]


def _fail(message: str, code: int = 2) -> None:
    err.print(f"propolis: error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@vulndb_app.command("build")
def build_cmd(sources: Annotated[list[Path], typer.Argument(help="OSV directory or all.zip, Debian DSA/DLA list or "
                                                                  "tracker JSON, alpine-secdb directory or file.")],
              db: DbOpt) -> None:
    """Import every SOURCE (its kind is detected) into a new index that replaces DB atomically."""
    from propolis.scanner.vulndb.importers import detect
    from propolis.scanner.vulndb.store import build

    plan = []
    for src in sources:
        if not src.exists():
            _fail(f"source {src} does not exist")
        importer = detect(src)
        if importer is None:
            _fail(f"source {src}: unknown kind (expected OSV records, a Debian DSA/DLA list or tracker JSON, "
                  "or alpine-secdb files)")
        plan.append((importer, src))
    with console.status("importing advisories"):
        try:
            info, stats = build(db, plan)
        except OSError as exc:
            _fail(f"cannot write {db}: {exc}")
    t = Table(title=f"{db}: {info.advisories} advisories, {info.affected} affected entries")
    for col in ("source", "kind", "imported", "affected", "skipped", "reasons"):
        t.add_column(col, overflow="fold")
    for s in stats:
        reasons = ", ".join(f"{r}: {n}" for r, n in s.skipped.most_common())
        t.add_row(s.source, s.kind, str(s.imported), str(s.affected), str(sum(s.skipped.values())), reasons)
    console.print(t)
    console.print(f"built in {info.build_seconds:.2f}s, {info.size_bytes / 1e6:.1f} MB, schema {info.schema_version}",
                  highlight=False)


@vulndb_app.command("info")
def info_cmd(db: DbOpt,
             as_json: Annotated[bool, typer.Option("--json", help="Print the metadata as JSON.")] = False) -> None:
    """What the index holds: sources, counts per ecosystem, build time, schema version."""
    from propolis.scanner.vulndb.store import VulnDB, VulnDBError

    try:
        with VulnDB(db) as vdb:
            info = vdb.info()
    except VulnDBError as exc:
        _fail(str(exc))
    if as_json:
        sys.stdout.write(json.dumps(info.to_json(), indent=2) + "\n")
        return
    _print_info(info)


def _print_info(info: DbInfo) -> None:
    meta = Table(title=f"{info.path}", show_header=False)
    for k, v in (("schema version", info.schema_version), ("built at", info.built_at),
                 ("build seconds", info.build_seconds), ("size (bytes)", info.size_bytes),
                 ("advisories", info.advisories), ("affected entries", info.affected),
                 ("withdrawn", info.withdrawn)):
        meta.add_row(k, str(v))
    for eco, n in info.ecosystems.items():
        meta.add_row(f"entries: {eco}", str(n))
    console.print(meta)
    src = Table(title="sources")
    for col in ("source", "kind", "imported", "skipped", "newest"):
        src.add_column(col, overflow="fold")
    for s in info.sources:
        src.add_row(s.path, s.kind, str(s.imported), ", ".join(f"{r}: {n}" for r, n in s.skipped.items()) or "0",
                    s.newest)
    console.print(src)


RefArg = Annotated[str, typer.Argument(help="REGISTRY/REPO:TAG (loopback registries are reached over plain http).",
                                       show_default=False)]
InsecureOpt = Annotated[bool, typer.Option("--insecure", help="Plain http to a non-loopback registry (or set "
                                                               "PROPOLIS_REGISTRY_INSECURE=1).")]


@vulndb_app.command("push")
def push_cmd(reference: RefArg, db: DbOpt,
             level: Annotated[int, typer.Option("--level", min=1, max=22, help="zstd compression level.")] = 19,
             insecure: InsecureOpt = False) -> None:
    """Push the index to a registry as an OCI artifact; prints the manifest digest.

    Credentials: PROPOLIS_REGISTRY_USERNAME/PASSWORD, else Docker's config.json.
    """
    from propolis.scanner.vulndb.distribution import DistributionError, push

    try:
        res = push(db, reference, level=level, insecure=insecure or None)
    except DistributionError as exc:
        _fail(str(exc))
    err.print(f"pushed {reference}: {res.size / 1e6:.1f} MB index, {res.compressed_size / 1e6:.1f} MB zstd "
              f"({res.size / max(res.compressed_size, 1):.1f}x)", highlight=False, markup=False)
    sys.stdout.write(res.digest + "\n")


@vulndb_app.command("pull")
def pull_cmd(reference: RefArg, db: DbOpt, insecure: InsecureOpt = False,
             as_json: Annotated[bool, typer.Option("--json", help="Print the metadata as JSON.")] = False) -> None:
    """Pull an index pushed by `propolis vulndb push`, verify it, and replace DB atomically.

    A failed pull (unreachable, denied, tampered, newer schema) leaves DB as it was.
    """
    from propolis.scanner.vulndb.distribution import DistributionError, pull

    try:
        res = pull(reference, db, insecure=insecure or None)
    except DistributionError as exc:
        _fail(str(exc))
    if as_json:
        sys.stdout.write(json.dumps({"reference": res.reference, "digest": res.digest, **res.info.to_json()},
                                    indent=2) + "\n")
        return
    err.print(f"pulled {reference}@{res.digest}", highlight=False, markup=False)
    _print_info(res.info)
