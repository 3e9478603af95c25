"""The catalogue of Propolis services: name, default ports and how to build each one.

``propolis up`` starts every service listed here whose ``factory`` exists; a service that is
only a contract so far (its ``.proto``) has ``factory=None``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    grpc_port: int
    metrics_port: int
    #: "module:function" returning a :class:`propolis.kernel.app.Service`; None = not built yet.
    factory: str | None
    summary: str
    rest_port: int = 0


SERVICES: dict[str, ServiceSpec] = {
    s.name: s
    for s in [
        ServiceSpec("policy", 50051, 9151, "propolis.policy.service:build",
                    "Rego decision point: bundles, hot reload, decision log, OPA REST API", rest_port=8181),
        ServiceSpec("scanner", 50052, 9152, "propolis.scanner.service:build",
                    "image cataloguing, SBOM and vulnerability matching"),
        ServiceSpec("risk", 50053, 9153, "propolis.risk.service:build", "risk scores and checkpoint verdicts"),
        ServiceSpec("registry", 50054, 9154, "propolis.registry.service:build",
                    "registry gate: push notifications, verdicts, quarantine and attestations", rest_port=8182),
        ServiceSpec("admission", 50055, 9155, "propolis.admission.service:build",
                    "Kubernetes admission webhook (HTTPS) and pipeline admit API", rest_port=8443),
        ServiceSpec("runtime", 50056, 9156, None, "runtime detection and response"),
        ServiceSpec("isolation", 50057, 9157, None, "learned network rules and quarantine"),
        ServiceSpec("compliance", 50058, 9158, None, "CIS benchmarks and weak-credential checks"),
        ServiceSpec("inventory", 50059, 9159, None, "asset inventory and traffic graph"),
        ServiceSpec("audit", 50060, 9160, None, "tamper-evident decision audit trail"),
    ]
}


def runnable() -> list[ServiceSpec]:
    return [s for s in SERVICES.values() if s.factory]
