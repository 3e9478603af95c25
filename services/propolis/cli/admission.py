"""``propolis admission``: certificates and the ValidatingWebhookConfiguration of the admission webhook.

Errors are one line on stderr and exit code 2, like the rest of the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

admission_app = typer.Typer(no_args_is_help=True, help="Kubernetes admission webhook: certificates, configuration.")

err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> None:
    err.print(f"propolis: error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@admission_app.command("certs")
def certs_cmd(
    out: Annotated[Path, typer.Option("--out", help="Directory for ca.crt/ca.key and webhook.crt/webhook.key.")],
    service: Annotated[str, typer.Option("--service", help="Name of the webhook's Kubernetes Service.")] =
    "propolis-admission",
    namespace: Annotated[str, typer.Option("--namespace", help="Namespace of that Service.")] = "propolis",
    ip: Annotated[list[str] | None, typer.Option("--ip", help="Extra IP SAN (repeatable), for local use.")] = None,
    dns: Annotated[list[str] | None, typer.Option("--dns", help="Extra DNS SAN (repeatable).")] = None,
    port: Annotated[int, typer.Option(help="Service port the API server calls.")] = 443,
    path: Annotated[str, typer.Option(help="URL path of the webhook.")] = "/validate",
    timeout_seconds: Annotated[int, typer.Option("--timeout-seconds", help="The webhook's timeoutSeconds (1-30); "
                                                 "keep admission.timeout_budget_ms below it.")] = 5,
    failure_policy: Annotated[str, typer.Option("--failure-policy", help="Fail or Ignore: what the API server "
                                                "does when the webhook cannot be reached.")] = "Fail",
    url: Annotated[str, typer.Option(help="Call this https URL instead of the Service (a webhook outside "
                                          "the cluster; its host must be in the SANs).")] = "",
    force: Annotated[bool, typer.Option(help="Overwrite existing files in --out.")] = False,
) -> None:
    """Make a CA and a serving certificate for NAME.NS.svc, and print the ValidatingWebhookConfiguration."""
    from propolis.admission.domain import certs

    if not force and any((out / f).exists() for f in ("ca.crt", "ca.key", "webhook.crt", "webhook.key")):
        _fail(f"{out} already holds certificates; pass --force to replace them")
    if url and not url.startswith("https://"):
        _fail(f"--url {url!r} must be an https:// URL: the API server calls webhooks over TLS only")
    names = [*certs.service_names(service, namespace), *(dns or [])]
    try:
        ca = certs.make_ca()
        pair = certs.make_serving_cert(ca, names, list(ip or []))
        text = certs.webhook_configuration(ca_pem=ca.cert_pem, service=service, namespace=namespace, path=path,
                                           port=port, timeout_seconds=timeout_seconds,
                                           failure_policy=failure_policy, url=url)
    except ValueError as exc:
        _fail(str(exc))
        return
    try:
        certs.write_pair(out, "ca", ca)
        cert, key = certs.write_pair(out, "webhook", pair)
    except OSError as exc:
        _fail(f"cannot write to {out}: {exc}")
        return
    err.print(f"wrote {out / 'ca.crt'}, {cert} and {key}; serve with admission.tls_cert_file={cert} "
              f"admission.tls_key_file={key}", markup=False, highlight=False, soft_wrap=True)
    typer.echo(text, nl=False)
