#!/usr/bin/env python3
"""Generate the Python gRPC stubs for the Propolis contracts.

Every ``proto/**/*.proto`` is compiled with the protoc bundled in grpcio-tools into
``services/``, mirroring the proto package layout::

    proto/propolis/policy/v1/policy.proto
        -> services/propolis/policy/v1/policy_pb2.py
           services/propolis/policy/v1/policy_pb2_grpc.py
           services/propolis/policy/v1/policy_pb2.pyi

Each generated ``v1`` directory gets an empty ``__init__.py``; the package directories above it
(``services/propolis/<svc>/`` and ``services/propolis/``) get one only if they have none, so
hand-written package modules are never overwritten. Generated files that no longer correspond to
a proto file are removed.

Usage::

    python tools/genproto.py           # bring services/ up to date
    python tools/genproto.py --check   # exit 1, listing the differences, if services/ is stale

The output depends only on the proto files and the grpcio-tools version, so ``--check`` is
suitable for CI.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUT_DIR = ROOT / "services"
WELL_KNOWN_TYPES_DIR = Path(grpc_tools.__file__).resolve().parent / "_proto"

GENERATED_SUFFIXES = ("_pb2.py", "_pb2_grpc.py", "_pb2.pyi")
INIT = "__init__.py"


def proto_files(proto_dir: Path) -> list[Path]:
    """Every .proto file under proto_dir, in a stable order."""
    return sorted(proto_dir.rglob("*.proto"), key=lambda p: p.relative_to(proto_dir).as_posix())


def is_generated_name(name: str) -> bool:
    """Whether a file name has the shape protoc gives its Python output."""
    return name.endswith(GENERATED_SUFFIXES)


def generate(proto_dir: Path, out_dir: Path) -> dict[str, bytes]:
    """Compile every proto into out_dir and return the generated files by relative path.

    The result includes an empty ``__init__.py`` for every directory that received stubs.
    """
    protos = proto_files(proto_dir)
    if not protos:
        raise SystemExit(f"genproto: no .proto files under {proto_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"--proto_path={proto_dir}",
        f"--proto_path={WELL_KNOWN_TYPES_DIR}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *(str(p) for p in protos),
    ]
    status = protoc.main(args)
    if status != 0:
        raise SystemExit(f"genproto: protoc failed with status {status}")

    files: dict[str, bytes] = {}
    for path in sorted(out_dir.rglob("*")):
        if path.is_file() and is_generated_name(path.name):
            files[path.relative_to(out_dir).as_posix()] = path.read_bytes()
    for stub_dir in sorted({rel.rpartition("/")[0] for rel in files}):
        init = f"{stub_dir}/{INIT}" if stub_dir else INIT
        files[init] = b""
    return files


def package_inits(generated: Iterable[str]) -> list[str]:
    """``__init__.py`` paths of the package directories above the generated directories."""
    stub_dirs = {rel.rpartition("/")[0] for rel in generated}
    parents: set[str] = set()
    for stub_dir in stub_dirs:
        parts = stub_dir.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent not in stub_dirs:
                parents.add(f"{parent}/{INIT}")
    return sorted(parents)


def existing_generated(out_dir: Path) -> set[str]:
    """Relative paths of protoc output files currently under out_dir."""
    found: set[str] = set()
    if not out_dir.is_dir():
        return found
    for path in out_dir.rglob("*"):
        rel = path.relative_to(out_dir)
        if any(part == "__pycache__" or part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and is_generated_name(path.name):
            found.add(rel.as_posix())
    return found


def compare(files: dict[str, bytes], out_dir: Path) -> tuple[list[str], list[str], list[str]]:
    """Differing, missing and stale files of out_dir relative to the fresh output."""
    differing: list[str] = []
    missing: list[str] = []
    for rel, content in sorted(files.items()):
        target = out_dir / rel
        if not target.is_file():
            missing.append(rel)
        elif target.read_bytes() != content:
            differing.append(rel)
    missing.extend(rel for rel in package_inits(files) if not (out_dir / rel).is_file())
    stale = sorted(existing_generated(out_dir) - files.keys())
    return differing, sorted(missing), stale


def sync(files: dict[str, bytes], out_dir: Path) -> tuple[int, int]:
    """Write changed files into out_dir and remove stale ones; return (written, removed)."""
    differing, missing, stale = compare(files, out_dir)
    written = 0
    for rel in sorted(set(differing) | set(missing)):
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        # Package __init__.py files above the stub directories are only created, never replaced;
        # compare() reports them only when they are missing.
        target.write_bytes(files.get(rel, b""))
        written += 1
    for rel in stale:
        (out_dir / rel).unlink()
    return written, len(stale)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the Python gRPC stubs from proto/.")
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 and list the differences if services/ is not up to date",
    )
    options = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="propolis-genproto-") as tmp:
        files = generate(PROTO_DIR, Path(tmp))

    if options.check:
        differing, missing, stale = compare(files, OUT_DIR)
        if not (differing or missing or stale):
            print(f"genproto: {len(files)} generated files in {OUT_DIR.name}/ are up to date")
            return 0
        for label, paths in (("differs", differing), ("missing", missing), ("stale", stale)):
            for rel in paths:
                print(f"{label}: {OUT_DIR.name}/{rel}")
        print("genproto: stubs are out of date; run `python tools/genproto.py`", file=sys.stderr)
        return 1

    written, removed = sync(files, OUT_DIR)
    print(f"genproto: {len(files)} generated files, {written} written, {removed} stale removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
