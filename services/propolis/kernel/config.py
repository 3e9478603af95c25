"""Typed configuration from environment variables and an optional TOML file.

Precedence: defaults < TOML file (``PROPOLIS_CONFIG`` or an explicit path) < environment.
Environment keys are ``PROPOLIS_<SECTION>__<KEY>`` (double underscore between levels), e.g.
``PROPOLIS_NATS__URL=nats://127.0.0.1:4222`` or ``PROPOLIS_POLICY__BUNDLE=./policies``.
Every value is validated by msgspec; an invalid one raises :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from propolis.kernel.errors import ConfigError

ENV_PREFIX = "PROPOLIS_"


class TLSConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Server TLS. ``client_ca_file`` set means mutual TLS: clients must present a cert it signed."""

    cert_file: str = ""
    key_file: str = ""
    client_ca_file: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.cert_file and self.key_file)


class GrpcConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    host: str = "127.0.0.1"
    #: 0: the service's default port (``propolis.kernel.services``); -1: any free port.
    port: int = 0
    tls: TLSConfig = TLSConfig()
    #: Seconds in-flight RPCs get to finish on shutdown.
    shutdown_grace: float = 10.0
    max_message_bytes: int = 8 * 1024 * 1024


class NatsConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    #: Empty: start a private embedded nats-server with JetStream under the data dir.
    url: str = ""
    connect_timeout: float = 5.0
    #: -1 reconnects forever.
    max_reconnect_attempts: int = -1
    reconnect_wait: float = 0.5
    #: Embedded server port; 0 picks a free one.
    embedded_port: int = 0


class MetricsConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    enabled: bool = True
    host: str = "127.0.0.1"
    #: 0: the service's default metrics port; -1: any free port.
    port: int = 0


class PolicyConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    #: ``embedded`` evaluates in-process; ``remote`` asks an external OPA over its REST API.
    mode: Literal["embedded", "remote"] = "embedded"
    #: A directory, an OPA bundle tarball (``.tar.gz``), or a Git URL/path (with ``ref``).
    bundle: str = "policies"
    #: Git only: branch, tag or commit id. Empty means the remote HEAD.
    ref: str = ""
    #: Git only: the bundle's folder inside the repository.
    subdir: str = ""
    #: Seconds between checks for a new revision; 0 disables polling.
    poll_seconds: float = 0.0
    #: Verification key: a PEM file path (RS*/ES*/PS*) or, for HS*, the shared secret itself.
    verification_key: str = ""
    verification_alg: str = "RS256"
    verification_keyid: str = ""
    verification_scope: str = ""
    #: Largest accepted decision input, in bytes of JSON.
    max_input_bytes: int = 1024 * 1024
    #: Deepest accepted nesting of a decision input.
    max_input_depth: int = 64
    decision_log: bool = True
    #: Evaluate declared decision points on regorus's compiled VM (faster; see docs/policy.md).
    engine_vm: bool = False
    #: OPA-compatible REST Data API: 0 the service default (8181), -1 any free port.
    rest_enabled: bool = True
    rest_port: int = 0
    rest_host: str = "127.0.0.1"
    #: Remote mode: the external OPA's base URL, e.g. ``http://127.0.0.1:8181``.
    remote_url: str = ""
    remote_timeout: float = 2.0


class ScannerConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    #: Layer analysis cache; empty: ``<data_dir>/cache/layers``.
    cache_dir: str = ""
    #: Bound of the layer cache on disk (least recently used layers go first); 0 disables the cache.
    cache_max_bytes: int = 2 * 1024**3
    #: Scans running at once (each is CPU work in a thread); more requests wait their turn.
    max_concurrent_scans: int = 2
    #: Accept local paths (OCI layout, archives, root filesystems) as image references. On for
    #: ``make run`` demos only: production sets false so a client cannot make the service read its
    #: filesystem, and only registry references are accepted.
    allow_local_paths: bool = True
    #: SQLite file of stored scans; empty: ``<data_dir>/scanner/scans.db``. ``store_url`` wins when set.
    store_path: str = ""
    #: Report store: ``sqlite:///path/scans.db`` or ``postgresql://user@host:5432/db[?schema=NAME]``;
    #: empty: SQLite at ``store_path``. Scanner processes sharing a work queue share one store.
    store_url: str = ""
    #: Vulnerability index (``propolis vulndb build``) findings are matched against; empty: the
    #: ``PROPOLIS_VULNDB`` environment variable if set, else no matching (findings stay empty).
    vulndb_path: str = ""
    #: Take scan requests from the ``propolis.scan.requests`` work queue (needs the bus).
    queue_enabled: bool = True
    #: Durable consumer every scanner process shares: each request goes to one of them.
    queue_durable: str = "scanner"
    #: ``all``: a new consumer also takes requests published before it existed; ``new``: only later ones.
    queue_deliver: Literal["all", "new"] = "all"
    #: Seconds without an ack or heartbeat after which a request is redelivered (its scanner died).
    queue_ack_wait: float = 30.0
    #: Deliveries of one request at most (caps crash loops); the last one stores a failed report.
    queue_max_deliver: int = 5


class RiskConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    #: CISA KEV catalogue (JSON feed format) marking findings as known exploited; empty: none known.
    kev_path: str = ""
    #: The scanner's report store, read to score images; empty: the ``scanner`` section's store.
    store_url: str = ""
    #: JetStream key-value bucket of the latest score per image digest (admission reads it).
    scores_bucket: str = "PROPOLIS_RISK_SCORES"
    #: Rescore images on ``propolis.scan.completed`` (needs the bus).
    consume_scans: bool = True
    #: Durable consumer of ``propolis.scan.completed`` shared by risk processes.
    scans_durable: str = "risk"
    #: ``all``: a new consumer also rescores scans completed before it existed; ``new``: only later ones.
    scans_deliver: Literal["all", "new"] = "all"
    #: JetStream key-value bucket of the latest score per workload (RankWorkloads reads it), with the
    #: manifest facts and runtime alert counts needed to rescore it.
    workloads_bucket: str = "PROPOLIS_RISK_WORKLOADS"
    #: Label of a workload (else of its pod template) naming the team that owns it.
    team_label: str = "team"
    #: Count ``propolis.runtime.alert`` per workload and rescore the workload (needs the bus).
    consume_alerts: bool = True
    #: Durable consumer of ``propolis.runtime.alert`` shared by risk processes.
    alerts_durable: str = "risk-alerts"
    #: ``all``: a new consumer also counts alerts raised before it existed; ``new``: only later ones.
    alerts_deliver: Literal["all", "new"] = "all"
    #: Take workload manifests from ``propolis.inventory.changed`` (kind ``workload``, the Kubernetes
    #: object under ``attributes.manifest``): new deployment context rescores the workload, a removed
    #: workload leaves the ranking.
    consume_inventory: bool = True
    inventory_durable: str = "risk-inventory"
    inventory_deliver: Literal["all", "new"] = "all"


class RegistryConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    #: Where the push-notification webhook listens (HTTP; put TLS in front of it across hosts).
    webhook_host: str = "127.0.0.1"
    #: 0: the service's default port (8182); negative: any free port.
    webhook_port: int = 0
    webhook_path: str = "/v1/registry/notifications"
    #: Shared secret the registry sends as ``Authorization: Bearer <token>``; empty: read
    #: ``webhook_token_file``, else generate one into ``<data_dir>/registry/webhook-token``.
    webhook_token: str = ""
    webhook_token_file: str = ""
    #: Largest notification body accepted (distribution sends one small event per request).
    max_notification_bytes: int = 1024 * 1024
    #: Pushes waiting for a verdict beyond which the webhook answers 503 (the registry retries).
    max_backlog: int = 1000
    #: Registry hosts (``host:port``) the gate verifies; empty: any host the registry names.
    allowed_hosts: list[str] = []
    #: Quarantined images are copied to ``<prefix>/<repository>:<tag>``.
    quarantine_prefix: str = "quarantine"
    #: The scanner and risk services the gate calls.
    scanner_address: str = "127.0.0.1:50052"
    risk_address: str = "127.0.0.1:50053"
    scan_timeout: float = 600.0
    #: Durable consumer of ``propolis.registry.pushed`` shared by gate processes, and how many
    #: pushes one process verifies at once.
    pushes_durable: str = "registry-gate"
    pushes_deliver: Literal["all", "new"] = "all"
    concurrency: int = 2
    #: Retries of a push whose registry or scanner is unavailable: delay doubles from
    #: ``retry_initial`` up to ``retry_max`` seconds, for at most ``max_deliver`` attempts.
    retry_initial: float = 1.0
    retry_max: float = 60.0
    max_deliver: int = 50
    #: JetStream key-value bucket of the gate's state per repository and digest.
    state_bucket: str = "PROPOLIS_REGISTRY_GATE"


class AdmissionConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    #: Where the ValidatingAdmissionWebhook listens (HTTPS only: the API server calls webhooks over TLS).
    webhook_host: str = "127.0.0.1"
    #: 0: the default port (8443); negative: any free port.
    webhook_port: int = 0
    webhook_path: str = "/validate"
    #: Webhook processes sharing ``webhook_port`` (SO_REUSEPORT; the kernel spreads connections):
    #: one evaluation holds a core, so one process per core. ``propolis up`` starts this many; the
    #: extra ones serve gRPC and metrics on any free port.
    processes: int = 1
    #: Serving certificate and key (PEM). Both empty: a self-signed pair is generated into
    #: ``<data_dir>/admission/`` at start (``propolis admission certs`` makes one signed by a CA).
    tls_cert_file: str = ""
    tls_key_file: str = ""
    #: Largest AdmissionReview body accepted (the API server's own request limit is 3 MiB).
    max_request_bytes: int = 3 * 1024 * 1024
    #: Milliseconds within which every AdmissionReview is answered, whatever a dependency does; past it the
    #: policy's ``failure_policy.evaluation`` applies. Keep it below the webhook's ``timeoutSeconds``.
    timeout_budget_ms: int = 2500
    #: Part of the budget kept for evaluating the policy: reading image risk scores gets the rest.
    evaluation_reserve_ms: int = 500
    #: JetStream key-value buckets read for facts: image risk scores, and the registry gate's state
    #: (``attested``). Empty ``gate_bucket``: attestation facts are not read.
    scores_bucket: str = "PROPOLIS_RISK_SCORES"
    gate_bucket: str = "PROPOLIS_REGISTRY_GATE"
    #: Largest manifest text the ``Admit`` RPC accepts.
    max_manifest_bytes: int = 8 * 1024 * 1024


class Config(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    data_dir: str = "var"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    grpc: GrpcConfig = GrpcConfig()
    nats: NatsConfig = NatsConfig()
    metrics: MetricsConfig = MetricsConfig()
    policy: PolicyConfig = PolicyConfig()
    scanner: ScannerConfig = ScannerConfig()
    risk: RiskConfig = RiskConfig()
    registry: RegistryConfig = RegistryConfig()
    admission: AdmissionConfig = AdmissionConfig()


def _env_tree(environ: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX) or key == "PROPOLIS_CONFIG":
            continue
        if key in ("PROPOLIS_TESTDATA", "PROPOLIS_VULNDB") or key.startswith("PROPOLIS_TEST_"):
            continue  # test-suite knobs and the CLI's index path, not service configuration
        parts = [p.lower() for p in key[len(ENV_PREFIX) :].split("__")]
        node = tree
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"configuration key {key} conflicts with a value set for {part!r}")
            node = child
        node[parts[-1]] = value
    return tree


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _key_of(err: msgspec.ValidationError) -> str:
    text = str(err)
    if "`$." in text:
        return text.split("`$.", 1)[1].split("`", 1)[0]
    return ""


def load_config(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load configuration; raise :class:`ConfigError` with the bad key on invalid input."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    toml_path = path or env.get("PROPOLIS_CONFIG") or ""
    if toml_path:
        p = Path(toml_path)
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"configuration file {p} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration file {p} is not valid TOML: {exc}") from None
    try:
        env_tree = _env_tree(env)
    except ConfigError:
        raise
    merged = _merge(raw, env_tree)
    try:
        # strict=False lets "8080" become 8080 and "true" become True for environment values.
        return msgspec.convert(merged, type=Config, strict=False)
    except msgspec.ValidationError as exc:
        key = _key_of(exc)
        where = f" (key {key}; environment PROPOLIS_{key.upper().replace('.', '__')})" if key else ""
        raise ConfigError(f"invalid configuration{where}: {exc}") from None
