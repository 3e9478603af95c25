"""Facts about a Kubernetes workload, read from its manifest: what it runs and how it is deployed.

Only observations are gathered here (the ``deployment`` input of ``propolis.risk`` and the images
to score); how much privilege or exposure weighs is decided in Rego. A manifest that cannot be read
is a :class:`WorkloadError` naming the offending field, never a guess: ingress in particular is
known only when the manifest says so (:data:`INGRESS_ANNOTATION`), since nothing in a pod spec tells.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

from propolis.common.workloads import CONTAINER_LISTS, POD_SPEC_PATHS

#: Annotation saying the workload is reachable from outside the cluster ("true"/"false"): an ingress
#: or load balancer is a separate object, so only the one who deploys can state it.
INGRESS_ANNOTATION = "propolis.dev/ingress"

_DIGEST = re.compile(r"@(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")


class WorkloadError(ValueError):
    """A manifest that is not a workload this module can read; the message names the field."""


class DeploymentFacts(msgspec.Struct, kw_only=True):
    """The ``deployment`` input of ``propolis.risk`` (see the header of ``risk.rego``)."""

    privileged: bool = False
    capabilities: list[str] = []
    host_mounts: list[str] = []
    host_network: bool = False
    exposed_ports: list[int] = []
    ingress: bool = False


class WorkloadImage(msgspec.Struct, kw_only=True):
    """An image the workload runs; ``digest`` only when the reference pins one."""

    reference: str
    digest: str = ""
    containers: list[str] = []


class Workload(msgspec.Struct, kw_only=True):
    """Everything rescoring a workload needs, so its manifest need not be kept."""

    namespace: str
    kind: str
    name: str
    team: str = ""
    images: list[WorkloadImage] = []
    deployment: DeploymentFacts = msgspec.field(default_factory=DeploymentFacts)

    @property
    def id(self) -> str:
        """``namespace/Kind/name``: how runtime alerts (``RuntimeAlert.workload``) name a workload."""
        return workload_id(self.namespace, self.kind, self.name)


def workload_id(namespace: str, kind: str, name: str) -> str:
    return f"{namespace}/{kind}/{name}"


def canonical_kind(kind: str) -> str:
    """A supported kind as Kubernetes spells it (``deployment`` → ``Deployment``), so one workload has one key."""
    return next((k for k in POD_SPEC_PATHS if k.lower() == kind.lower()), kind)


def parse_workload_id(text: str) -> tuple[str, str, str] | None:
    """``namespace/Kind/name`` as its three parts, or None when it is not of that form."""
    parts = text.strip().split("/")
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], canonical_kind(parts[1]), parts[2]


def image_digest(reference: str) -> str:
    """The digest pinned by ``name@sha256:…``, else "" (a tag alone says nothing about content)."""
    m = _DIGEST.search(reference.strip())
    return m.group(1) if m else ""


# -- typed access to untyped JSON, each error naming its path --------------------------------------
def _type_name(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def _expect(value: object, kind: type, what: str, path: str) -> Any:
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        raise WorkloadError(f"{path} must be {what}, not {_type_name(value)}")
    return value


def _object(parent: dict[str, Any], key: str, path: str, *, required: bool = False) -> dict[str, Any]:
    if key not in parent or (parent[key] is None and not required):
        if required:
            raise WorkloadError(f"{path} is required")
        return {}
    return dict(_expect(parent[key], dict, "an object", path))


def _array(parent: dict[str, Any], key: str, path: str) -> list[Any]:
    if parent.get(key) is None:
        return []
    return list(_expect(parent[key], list, "an array", path))


def _string(parent: dict[str, Any], key: str, path: str, *, required: bool = False) -> str:
    value = parent.get(key)
    if value is None or (value == "" and required):
        if required:
            raise WorkloadError(f"{path} is required")
        return ""
    return str(_expect(value, str, "a string", path))


def _flag(parent: dict[str, Any], key: str, path: str) -> bool:
    value = parent.get(key)
    return False if value is None else bool(_expect(value, bool, "a boolean", path))


def _labels(meta: dict[str, Any], key: str, path: str) -> dict[str, str]:
    labels = _object(meta, key, path)
    for k, v in labels.items():
        _expect(v, str, "a string", f"{path}.{k}")
    return labels


# -- the manifest -----------------------------------------------------------------------------------
def load_manifest(raw: bytes | str) -> dict[str, Any]:
    """The manifest as a JSON object; anything else is a :class:`WorkloadError`."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WorkloadError(f"manifest_json is not JSON: {exc}") from None
    except RecursionError:
        raise WorkloadError("manifest_json is nested too deeply to be a Kubernetes object") from None
    if not isinstance(doc, dict):
        raise WorkloadError(f"manifest_json must be a JSON object (a Kubernetes workload), not {_type_name(doc)}")
    return doc


def pod_spec(doc: dict[str, Any], kind: str) -> tuple[dict[str, Any], str]:
    """The pod spec of a ``kind`` manifest and its path (for error messages)."""
    node, path = doc, ""
    for key in POD_SPEC_PATHS[kind]:
        path = f"{path}.{key}" if path else key
        if not isinstance(node.get(key), dict):
            if key not in node or node[key] is None:
                raise WorkloadError(f"{kind} has no pod spec: {path} is missing")
            raise WorkloadError(f"{path} must be an object, not {_type_name(node[key])}")
        node = node[key]
    return node, path


def _containers(spec: dict[str, Any], path: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(list name, path, container) of every container; a pod must have at least one regular one."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    for list_name in CONTAINER_LISTS:
        for i, c in enumerate(_array(spec, list_name, f"{path}.{list_name}")):
            cpath = f"{path}.{list_name}[{i}]"
            out.append((list_name, cpath, _expect(c, dict, "an object", cpath)))
    if not any(list_name == "containers" for list_name, _, _ in out):
        raise WorkloadError(f"{path}.containers must list at least one container")
    return out


def _ports(container: dict[str, Any], path: str) -> list[int]:
    ports = []
    for i, p in enumerate(_array(container, "ports", f"{path}.ports")):
        ppath = f"{path}.ports[{i}]"
        port = _expect(_expect(p, dict, "an object", ppath).get("containerPort"), int, "an integer",
                       f"{ppath}.containerPort")
        if not 0 < port < 65536:
            raise WorkloadError(f"{ppath}.containerPort must be between 1 and 65535, not {port}")
        ports.append(port)
    return ports


def _ingress(annotations: dict[str, str], path: str) -> bool:
    value = annotations.get(INGRESS_ANNOTATION, "false").strip().lower()
    if value not in ("true", "false"):
        raise WorkloadError(f"{path}.{INGRESS_ANNOTATION} must be \"true\" or \"false\", not {value!r}")
    return value == "true"


def deployment_facts(spec: dict[str, Any], path: str = "spec", *, ingress: bool = False) -> DeploymentFacts:
    """The ``deployment`` facts of a pod spec.

    Ports come from regular containers only: init containers finish before the pod serves, and
    ephemeral containers may not declare ports.
    """
    privileged, caps, ports = False, set(), set()
    for list_name, cpath, c in _containers(spec, path):
        sc = _object(c, "securityContext", f"{cpath}.securityContext")
        privileged |= _flag(sc, "privileged", f"{cpath}.securityContext.privileged")
        cap_obj = _object(sc, "capabilities", f"{cpath}.securityContext.capabilities")
        for j, cap in enumerate(_array(cap_obj, "add", f"{cpath}.securityContext.capabilities.add")):
            caps.add(str(_expect(cap, str, "a string", f"{cpath}.securityContext.capabilities.add[{j}]")).upper())
        if list_name == "containers":
            ports.update(_ports(c, cpath))
    mounts = []
    for i, v in enumerate(_array(spec, "volumes", f"{path}.volumes")):
        vpath = f"{path}.volumes[{i}]"
        host_path = _object(_expect(v, dict, "an object", vpath), "hostPath", f"{vpath}.hostPath")
        if host_path:
            mounts.append(_string(host_path, "path", f"{vpath}.hostPath.path", required=True))
    return DeploymentFacts(privileged=privileged, capabilities=sorted(caps), host_mounts=sorted(set(mounts)),
                           host_network=_flag(spec, "hostNetwork", f"{path}.hostNetwork"),
                           exposed_ports=sorted(ports), ingress=ingress)


def workload_images(spec: dict[str, Any], path: str = "spec") -> list[WorkloadImage]:
    """The distinct images of every container list, in manifest order, with the containers running each."""
    by_ref: dict[str, WorkloadImage] = {}
    for _, cpath, c in _containers(spec, path):
        ref = _string(c, "image", f"{cpath}.image", required=True).strip()
        img = by_ref.setdefault(ref, WorkloadImage(reference=ref, digest=image_digest(ref)))
        img.containers.append(_string(c, "name", f"{cpath}.name") or cpath)
    return list(by_ref.values())


def parse_workload(raw: bytes | str, *, team_label: str = "team", namespace: str = "") -> Workload:
    """A workload manifest (Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob) as facts.

    ``namespace`` is used when the manifest has none (manifests are often applied with ``-n``);
    without either, the namespace is Kubernetes' ``default``. The team is the ``team_label`` label of
    the workload, else of its pod template.
    """
    doc = load_manifest(raw)
    kind = _string(doc, "kind", "kind", required=True)
    if kind not in POD_SPEC_PATHS:
        raise WorkloadError(f"unsupported kind {kind!r}: expected one of {', '.join(POD_SPEC_PATHS)}")
    meta = _object(doc, "metadata", "metadata", required=True)
    name = _string(meta, "name", "metadata.name", required=True)
    manifest_ns = _string(meta, "namespace", "metadata.namespace")
    if namespace and manifest_ns and namespace != manifest_ns:
        raise WorkloadError(f"metadata.namespace {manifest_ns!r} differs from the requested namespace {namespace!r}")
    spec, path = pod_spec(doc, kind)
    labels = _labels(meta, "labels", "metadata.labels")
    annotations = _labels(meta, "annotations", "metadata.annotations")
    template_labels: dict[str, str] = {}
    if kind != "Pod":
        template_path = path.removesuffix(".spec")
        template = _nested(doc, template_path)
        template_meta = _object(template, "metadata", f"{template_path}.metadata")
        template_labels = _labels(template_meta, "labels", f"{template_path}.metadata.labels")
    return Workload(namespace=manifest_ns or namespace or "default", kind=kind, name=name,
                    team=labels.get(team_label) or template_labels.get(team_label, ""),
                    images=workload_images(spec, path),
                    deployment=deployment_facts(spec, path, ingress=_ingress(annotations, "metadata.annotations")))


def _nested(doc: dict[str, Any], path: str) -> dict[str, Any]:
    node = doc
    for key in path.split("."):
        node = node[key]
    return node
