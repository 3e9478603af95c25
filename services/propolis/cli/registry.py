"""``propolis registry``: push an OCI layout to a registry, ask the gate for a verdict, list quarantine.

Errors are one line on stderr and exit code 2, like the rest of the CLI; ``verify`` exits 1 on block.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

registry_app = typer.Typer(no_args_is_help=True, help="Registry gate: push, verify, list quarantined images.")

console = Console()
err = Console(stderr=True)

GateOpt = Annotated[str, typer.Option("--gate", envvar="PROPOLIS_REGISTRY_GATE",
                                      help="The registry gate's gRPC address.")]


def _fail(message: str, code: int = 2) -> None:
    err.print(f"propolis: error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@registry_app.command("push")
def push_cmd(layout: Annotated[Path, typer.Argument(help="OCI image layout directory (one image).")],
             reference: Annotated[str, typer.Argument(help="host[:port]/repository:tag")]) -> None:
    """Upload an OCI layout's blobs and manifest (as ``crane push`` or ``skopeo copy oci:`` would)."""
    from propolis.registry.adapters.distribution import DistributionClient, RegistryRefused, RegistryUnavailable
    from propolis.scanner.adapters.registry import parse_reference

    ref = parse_reference(reference)
    if ref is None or not ref.tag:
        _fail(f"{reference!r} is not host[:port]/repository:tag")
        return
    try:
        index = json.loads((layout / "index.json").read_text())
        desc = index["manifests"][0]
        blobs = layout / "blobs" / "sha256"
        manifest = (blobs / desc["digest"].split(":", 1)[1]).read_bytes()
        doc = json.loads(manifest)
        parts = [doc["config"], *doc["layers"]]
        data = [(blobs / p["digest"].split(":", 1)[1]).read_bytes() for p in parts]
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        _fail(f"{layout} is not a one-image OCI layout: {exc}")
        return
    client = DistributionClient(ref.host)
    try:
        for blob in data:
            client.put_blob(ref.repository, blob)
        resp = client.put_manifest(ref.repository, ref.tag, manifest,
                                   desc.get("mediaType") or "application/vnd.oci.image.manifest.v1+json")
    except (RegistryRefused, RegistryUnavailable) as exc:
        _fail(str(exc))
        return
    finally:
        client.close()
    console.print(f"pushed {reference}@{resp.headers.get('Docker-Content-Digest', '')}", markup=False, soft_wrap=True)


@registry_app.command("verify")
def verify_cmd(reference: Annotated[str, typer.Argument(help="host[:port]/repository[:tag][@digest]")],
               gate: GateOpt = "127.0.0.1:50054",
               dry_run: Annotated[bool, typer.Option(help="Judge only; never quarantine or attest.")] = False) -> None:
    """Ask the gate for the image's verdict (VerifyImage); exit 1 when it blocks."""
    import grpc

    from propolis.common.v1 import common_pb2
    from propolis.registry.v1 import registry_pb2, registry_pb2_grpc

    async def call() -> registry_pb2.VerifyImageResponse:
        async with grpc.aio.insecure_channel(gate) as ch:
            return await registry_pb2_grpc.RegistryGateServiceStub(ch).VerifyImage(registry_pb2.VerifyImageRequest(
                image=common_pb2.ImageRef(reference=reference), dry_run=dry_run), timeout=900)

    try:
        resp = asyncio.run(call())
    except grpc.aio.AioRpcError as exc:
        _fail(f"gate at {gate}: {exc.code().name}: {exc.details()}")
        return
    verdict = common_pb2.Verdict.Name(resp.verdict).removeprefix("VERDICT_").lower()
    console.print(f"{resp.image.reference}: {verdict.upper()} (risk score {resp.risk_score:.2f}; policy bundle "
                  f"revision {resp.decision.bundle_revision[:19]})" + ("; quarantined" if resp.quarantined else ""),
                  markup=False, soft_wrap=True)
    for r in resp.reasons:
        console.print(f"  - {r}", markup=False, soft_wrap=True)
    raise typer.Exit(1 if verdict == "block" else 0)


@registry_app.command("quarantined")
def quarantined_cmd(gate: GateOpt = "127.0.0.1:50054",
                    prefix: Annotated[str, typer.Option(help="Only images under this registry/repository prefix.")]
                    = "") -> None:
    """List quarantined images with their reasons (ListQuarantined)."""
    import grpc

    from propolis.registry.v1 import registry_pb2, registry_pb2_grpc

    async def call() -> list[registry_pb2.QuarantinedImage]:
        out: list[registry_pb2.QuarantinedImage] = []
        token = ""
        async with grpc.aio.insecure_channel(gate) as ch:
            stub = registry_pb2_grpc.RegistryGateServiceStub(ch)
            while True:
                page = await stub.ListQuarantined(registry_pb2.ListQuarantinedRequest(
                    repository_prefix=prefix, page_token=token), timeout=30)
                out.extend(page.images)
                token = page.next_page_token
                if not token:
                    return out

    try:
        images = asyncio.run(call())
    except grpc.aio.AioRpcError as exc:
        _fail(f"gate at {gate}: {exc.code().name}: {exc.details()}")
        return
    if not images:
        console.print("no quarantined images")
    for im in images:
        console.print(f"{im.image.reference}  (risk score {im.risk_score:.2f}, decision {im.decision_id})",
                      markup=False, soft_wrap=True)
        for r in im.reasons:
            console.print(f"  - {r}", markup=False, soft_wrap=True)
