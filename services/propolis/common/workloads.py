"""Where Kubernetes workloads keep their pods: shared by every service that reads a manifest."""

from __future__ import annotations

#: Where each workload kind keeps its pod spec (the admission policy reads the same paths).
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
#: Container lists of a pod spec; every one runs an image, so every one counts for privilege.
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
