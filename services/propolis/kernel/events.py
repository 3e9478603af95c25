"""Every message on the bus: one versioned envelope and one ``msgspec.Struct`` per event type.

The envelope encodes as CloudEvents 1.0 structured-mode JSON (``specversion``, ``id``,
``source``, ``type``, ``subject``, ``time``, ``datacontenttype``, ``data``) with two extension
attributes: ``policyrevision`` (the bundle revision, where a decision was made) and
``envelopeversion`` (this module's envelope schema version). ``docs/events.md`` is generated
from :data:`CATALOGUE` and lists subject, stream, producer, consumers and schema of each event.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Generic, Literal, TypeVar

import msgspec

ENVELOPE_VERSION = 1

T = TypeVar("T", bound=msgspec.Struct)


class Event(msgspec.Struct, forbid_unknown_fields=False, omit_defaults=False, kw_only=True):
    """Base of every payload. Subclasses set ``__event__`` via :func:`event`."""


# ---------------------------------------------------------------- policy
class BundleUpdated(Event, kw_only=True):
    """Someone (a Git hook, CI, an operator) says a new bundle revision is available."""

    source: str = ""
    revision: str = ""
    reason: str = ""


class BundleActivated(Event, kw_only=True):
    revision: str
    previous_revision: str
    source: str
    decision_points: list[str]


class BundleRejected(Event, kw_only=True):
    """A candidate bundle failed to load, verify or compile; the active one stays."""

    source: str
    revision: str
    error: str
    active_revision: str


# ---------------------------------------------------------------- decisions
class DecisionLogged(Event, kw_only=True):
    decision_id: str
    decision_point: str
    path: str
    revision: str
    #: "sha256:<hex>" of the canonical (sorted-key, compact) JSON input.
    input_digest: str
    input_bytes: int
    result: Any
    #: evaluated | undefined_fallback | error_fallback | error
    outcome: str
    reasons: list[str] = []
    error: str = ""
    duration_us: float = 0.0
    mode: str = "embedded"


# ---------------------------------------------------------------- scanner
class ImageRef(msgspec.Struct, kw_only=True):
    reference: str
    digest: str = ""


class ScanRequested(Event, kw_only=True):
    """Scan this image; ``request_id`` makes it idempotent (one report per id, whoever scans it)."""

    request_id: str
    image: ImageRef
    formats: list[str] = []
    #: ``os/arch[/variant]`` of a multi-arch image; empty: linux/amd64.
    platform: str = ""
    #: Scan again even if a report of the same digest (made the same way) is stored.
    force: bool = False
    skip_secrets: bool = False
    skip_config: bool = False
    skip_vulnerabilities: bool = False


class ScanCatalogued(Event, kw_only=True):
    image: ImageRef
    layers: int
    packages: int
    ecosystems: dict[str, int] = {}
    partial: bool = False
    partial_reasons: list[str] = []


class ScanCompleted(Event, kw_only=True):
    request_id: str
    report_id: str
    image: ImageRef
    findings_by_severity: dict[str, int] = {}
    verdict: str = ""
    error: str = ""


# ---------------------------------------------------------------- risk
class RiskFactor(msgspec.Struct, kw_only=True):
    factor: str
    raw_value: Any
    contribution: float


class RiskChanged(Event, kw_only=True):
    """An image's score, or a workload's (``workload`` set; ``image_digest`` then names the image whose
    factors the score has, "" when none of its images has a stored scan)."""

    image_digest: str
    score: float
    previous_score: float | None = None
    factors: list[RiskFactor] = []
    #: ``namespace/Kind/name`` of a rescored workload; "" for an image score.
    workload: str = ""


# ---------------------------------------------------------------- registry
class ImagePushed(Event, kw_only=True):
    registry: str
    repository: str
    tag: str = ""
    digest: str
    #: The registry notification's event id (replays of one notification carry the same id).
    event_id: str = ""
    media_type: str = ""


class ImageQuarantined(Event, kw_only=True):
    registry: str
    repository: str
    digest: str
    reasons: list[str]
    tag: str = ""
    #: Where the manifest was copied (``<prefix>/<repository>``); ``copied`` false when its blobs were missing.
    quarantine_repository: str = ""
    copied: bool = False
    score: float | None = None
    decision_id: str = ""


class ImageReleased(Event, kw_only=True):
    registry: str
    repository: str
    digest: str
    owner: str
    justification: str


# ---------------------------------------------------------------- admission
class AdmissionDecided(Event, kw_only=True):
    uid: str
    namespace: str
    kind: str
    name: str
    allowed: bool
    mode: Literal["enforce", "warn", "audit"] = "enforce"
    reasons: list[str] = []
    warnings: list[str] = []
    dry_run: bool = False


# ---------------------------------------------------------------- runtime
class RuntimeObserved(Event, kw_only=True):
    """A raw runtime event (process, network, file, Kubernetes audit) from an event source."""

    source_kind: str
    container_id: str = ""
    body: Any = None


class RuntimeAlert(Event, kw_only=True):
    rule: str
    severity: str
    description: str
    container_id: str = ""
    #: ``namespace/Kind/name`` (e.g. ``payments/Deployment/api``): the risk service counts alerts by it.
    workload: str = ""
    evidence: Any = None
    response: str = "alert"


# ---------------------------------------------------------------- isolation
class WorkloadQuarantined(Event, kw_only=True):
    workload: str
    namespace: str
    reason: str
    released: bool = False


class ConnectionObserved(Event, kw_only=True):
    src: str
    dst: str
    port: int
    protocol: str = "tcp"
    learned: bool = False


# ---------------------------------------------------------------- compliance
class BenchmarkCompleted(Event, kw_only=True):
    benchmark: str
    target: str
    passed: int
    failed: int
    warned: int = 0


# ---------------------------------------------------------------- inventory
class AssetChanged(Event, kw_only=True):
    kind: str
    asset_id: str
    change: Literal["added", "updated", "removed"]
    attributes: dict[str, Any] = {}


# ================================================================ envelope
class Envelope(msgspec.Struct, Generic[T], kw_only=True):
    """CloudEvents-compatible envelope around one payload."""

    specversion: str = "1.0"
    id: str
    source: str
    type: str
    subject: str = ""
    time: str
    datacontenttype: str = "application/json"
    envelopeversion: int = ENVELOPE_VERSION
    policyrevision: str = ""
    data: T


class StreamSpec(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    subjects: list[str]
    retention: Literal["limits", "workqueue", "interest"] = "limits"
    max_age_seconds: int = 7 * 24 * 3600
    description: str = ""


PayloadType = type[Event]


class EventSpec(msgspec.Struct, frozen=True, kw_only=True):
    type: str
    subject: str
    stream: str
    payload: PayloadType
    producer: str
    consumers: list[str]
    description: str


STREAMS: dict[str, StreamSpec] = {
    s.name: s
    for s in [
        StreamSpec(name="PROPOLIS_POLICY", subjects=["propolis.policy.>"],
                   description="bundle lifecycle: update requests, activations, rejections"),
        StreamSpec(name="PROPOLIS_DECISIONS", subjects=["propolis.decisions.>"], max_age_seconds=30 * 24 * 3600,
                   description="the decision log: every decision with its input digest and revision"),
        StreamSpec(name="PROPOLIS_SCAN", subjects=["propolis.scan.>"], description="scan requests and results"),
        StreamSpec(name="PROPOLIS_RISK", subjects=["propolis.risk.>"], description="risk score changes"),
        StreamSpec(name="PROPOLIS_REGISTRY", subjects=["propolis.registry.>"], description="registry gate"),
        StreamSpec(name="PROPOLIS_ADMISSION", subjects=["propolis.admission.>"], description="admission"),
        StreamSpec(name="PROPOLIS_RUNTIME", subjects=["propolis.runtime.>"], max_age_seconds=3 * 24 * 3600,
                   description="runtime events and alerts (the black box)"),
        StreamSpec(name="PROPOLIS_ISOLATION", subjects=["propolis.isolation.>"], description="isolation"),
        StreamSpec(name="PROPOLIS_COMPLIANCE", subjects=["propolis.compliance.>"], description="compliance"),
        StreamSpec(name="PROPOLIS_INVENTORY", subjects=["propolis.inventory.>"], description="inventory"),
    ]
}


def _spec(type_: str, payload: type[Event], producer: str, consumers: list[str], description: str,
          subject: str | None = None) -> EventSpec:
    subject = subject or type_
    stream = next(s.name for s in STREAMS.values() if subject.startswith(s.subjects[0][:-1]))
    return EventSpec(type=type_, subject=subject, stream=stream, payload=payload, producer=producer,
                     consumers=consumers, description=description)


CATALOGUE: dict[str, EventSpec] = {
    e.type: e
    for e in [
        _spec("propolis.policy.bundle.updated", BundleUpdated, "Git hooks, CI, operators", ["policy"],
              "a new bundle revision is available: reload now instead of waiting for the poll"),
        _spec("propolis.policy.bundle.activated", BundleActivated, "policy", ["audit", "every service"],
              "a bundle revision passed verification and compilation and now makes every decision"),
        _spec("propolis.policy.bundle.rejected", BundleRejected, "policy", ["audit", "operators"],
              "a candidate bundle was refused; the previously active revision stays active"),
        _spec("propolis.decisions.logged", DecisionLogged, "policy (and every embedded decision point)",
              ["audit"], "one decision: path, revision, input digest, result, outcome"),
        _spec("propolis.scan.requests", ScanRequested, "CLI, registry gate, CI", ["scanner (work queue)"],
              "scan this image; any scanner process may take it"),
        _spec("propolis.scan.catalogued", ScanCatalogued, "scanner", ["risk", "inventory"],
              "the package catalogue of an image is ready"),
        _spec("propolis.scan.completed", ScanCompleted, "scanner", ["risk", "registry", "audit"],
              "a vulnerability report is stored"),
        _spec("propolis.risk.changed", RiskChanged, "risk", ["admission", "registry", "inventory"],
              "an image's or a workload's risk score changed, with the factors that produced it"),
        _spec("propolis.registry.pushed", ImagePushed, "registry", ["scanner", "registry"],
              "an image arrived in a watched registry"),
        _spec("propolis.registry.quarantined", ImageQuarantined, "registry", ["audit", "admission"],
              "an image failed the registry checkpoint and was quarantined"),
        _spec("propolis.registry.released", ImageReleased, "registry", ["audit"],
              "a quarantined image was released by an owner, with a justification"),
        _spec("propolis.admission.decided", AdmissionDecided, "admission", ["audit", "risk"],
              "an admission request was answered"),
        _spec("propolis.runtime.observed", RuntimeObserved, "runtime event sources", ["runtime"],
              "a raw process, network, file or Kubernetes audit event"),
        _spec("propolis.runtime.alert", RuntimeAlert, "runtime", ["risk", "isolation", "audit"],
              "a detection fired, with its evidence and the response taken"),
        _spec("propolis.isolation.quarantined", WorkloadQuarantined, "isolation", ["audit", "inventory"],
              "a workload was cut off from the network (or released)"),
        _spec("propolis.isolation.connection", ConnectionObserved, "isolation", ["inventory", "isolation"],
              "a connection between two workloads was seen"),
        _spec("propolis.compliance.completed", BenchmarkCompleted, "compliance", ["risk", "audit"],
              "a CIS benchmark run finished on a target"),
        _spec("propolis.inventory.changed", AssetChanged, "inventory", ["risk", "isolation"],
              "an asset was added, changed or removed"),
    ]
}

_BY_PAYLOAD: dict[type[Event], EventSpec] = {e.payload: e for e in CATALOGUE.values()}


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def spec_for(payload: Event) -> EventSpec:
    try:
        return _BY_PAYLOAD[type(payload)]
    except KeyError:
        raise TypeError(f"{type(payload).__name__} is not a catalogued event payload") from None


def envelope(payload: Event, *, source: str, subject: str = "", policy_revision: str = "",
             id: str | None = None) -> Envelope[Any]:
    spec = spec_for(payload)
    return Envelope(id=id or uuid.uuid4().hex, source=source, type=spec.type, subject=subject,
                    time=now_rfc3339(), policyrevision=policy_revision, data=payload)


_encoder = msgspec.json.Encoder()


def encode(env: Envelope[Any]) -> bytes:
    return _encoder.encode(env)


class EnvelopeError(ValueError):
    """A message that is not a valid Propolis envelope (bad JSON, unknown type, bad payload)."""


class _RawEnvelope(Envelope[Any], kw_only=True):  # type: ignore[type-var]
    data: msgspec.Raw


_raw_decoder = msgspec.json.Decoder(_RawEnvelope)
_payload_decoders: dict[str, msgspec.json.Decoder[Any]] = {
    t: msgspec.json.Decoder(s.payload) for t, s in CATALOGUE.items()
}

#: The largest envelope a consumer accepts; a larger one is refused, not parsed.
MAX_ENVELOPE_BYTES = 4 * 1024 * 1024


def decode(raw: bytes) -> Envelope[Any]:
    """Decode and validate an envelope and its payload; raise :class:`EnvelopeError` otherwise."""
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise EnvelopeError(f"envelope of {len(raw)} bytes exceeds the {MAX_ENVELOPE_BYTES}-byte limit")
    try:
        env = _raw_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise EnvelopeError(f"not a Propolis envelope: {exc}") from None
    if env.specversion != "1.0":
        raise EnvelopeError(f"unsupported CloudEvents specversion {env.specversion!r}")
    if env.envelopeversion > ENVELOPE_VERSION:
        raise EnvelopeError(f"envelope version {env.envelopeversion} is newer than {ENVELOPE_VERSION}")
    dec = _payload_decoders.get(env.type)
    if dec is None:
        raise EnvelopeError(f"unknown event type {env.type!r}")
    try:
        data = dec.decode(env.data)
    except msgspec.DecodeError as exc:
        raise EnvelopeError(f"invalid {env.type} payload: {exc}") from None
    return Envelope(id=env.id, source=env.source, type=env.type, subject=env.subject, time=env.time,
                    datacontenttype=env.datacontenttype, envelopeversion=env.envelopeversion,
                    policyrevision=env.policyrevision, data=data)
