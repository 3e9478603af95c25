"""Kubernetes manifests (YAML or JSON, one or many documents) read into objects, and the
AdmissionReview v1 ``request`` the admission policy reads for each.

Used by ``propolis check`` (files, ``helm template`` and ``kustomize build`` output) and by the admission
webhook and the ``Admit`` RPC. Reading is safe: ``yaml.safe_load`` semantics (no Python objects), a size
limit on the text, and a limit on the size of every document *as expanded* (an alias bomb, "billion
laughs", is refused before anything is built); recursive aliases are refused. Every failure is a
:class:`ManifestError` whose message starts with ``source:line:``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import yaml

try:  # libyaml when available: several times faster on large helm outputs
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

#: Total text accepted by :func:`load_documents` (bytes, UTF-8).
MAX_TEXT_BYTES = 8 * 1024 * 1024
#: Nodes one document may have once its aliases are expanded.
MAX_EXPANDED_NODES = 1_000_000

#: Kinds that have no namespace (their objects get namespace "").
CLUSTER_SCOPED = frozenset({
    "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "StorageClass", "PriorityClass", "RuntimeClass", "IngressClass", "APIService", "CSIDriver", "CSINode",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "PodSecurityPolicy", "VolumeAttachment", "CertificateSigningRequest",
})


@dataclass(frozen=True)
class ManifestObject:
    """One Kubernetes object of a manifest: ``line`` (1-based) is where its document (or, for an item of a
    ``List``, the item) starts in ``file``; ``doc`` is the object as JSON-compatible data."""

    kind: str
    api_version: str
    name: str
    namespace: str
    file: str
    line: int
    doc: dict[str, Any]


class ManifestError(ValueError):
    """A manifest that cannot be read; the message names the source and the line (``file:12: ...``)."""


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader whose scalars stay JSON-compatible: timestamps stay the strings written (as
    Kubernetes reads them), ``!!binary`` stays its base64 text, ``!!set`` becomes a list."""


def _as_text(loader: Any, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))


def _as_list(loader: Any, node: yaml.Node) -> Any:
    value: list[Any] = []
    yield value
    value.extend(loader.construct_mapping(node).keys())


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _as_text)
_Loader.add_constructor("tag:yaml.org,2002:binary", _as_text)
_Loader.add_constructor("tag:yaml.org,2002:set", _as_list)


def load_documents(text: str, source: str, *, max_bytes: int = MAX_TEXT_BYTES,
                   max_nodes: int = MAX_EXPANDED_NODES) -> list[ManifestObject]:
    """Every object in ``text`` (YAML, one or many ``---``-separated documents, or JSON), in order.

    Empty documents are skipped; a ``List`` (``kind: List`` or any ``*List`` kind with ``items``, as
    ``kubectl get -o yaml`` and some kustomize outputs give) is replaced by its items. ``source`` names
    the text in messages and in :attr:`ManifestObject.file`. Raises :class:`ManifestError` for text over
    ``max_bytes``, a syntax error, an alias bomb (a document over ``max_nodes`` nodes once expanded), a
    document that is not a mapping, or an object without a ``kind``.
    """
    if not isinstance(text, str):
        raise ManifestError(f"{source}:1: expected text, got {type(text).__name__}")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise ManifestError(f"{source}:1: {size} bytes is over the {max_bytes}-byte limit for a manifest")
    if text.startswith("\ufeff"):
        text = text[1:]
    stripped = text.lstrip(" \t\r\n")
    if source.endswith(".json") or stripped.startswith(("{", "[")):
        doc = _json(text, source, strict=source.endswith(".json"))
        if doc is not _NOT_JSON:
            out: list[ManifestObject] = []
            line = text[: len(text) - len(stripped)].count("\n") + 1
            _objects(_jsonable(doc, source, line), None, source, line, out)
            return out
    return _yaml(text, source, max_nodes)


_NOT_JSON = object()


def _json(text: str, source: str, *, strict: bool) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if strict:
            raise ManifestError(f"{source}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})") from None
        return _NOT_JSON  # flow-style YAML starts with "{" or "[" too
    except (RecursionError, ValueError) as exc:
        raise ManifestError(f"{source}:1: invalid JSON: {exc}") from None


def _yaml(text: str, source: str, max_nodes: int) -> list[ManifestObject]:
    out: list[ManifestObject] = []
    loader = _Loader(text)
    line = 1
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = node.start_mark.line + 1
            _check_expansion(node, source, line, max_nodes)
            doc = loader.construct_document(node)
            if doc is None:
                continue  # an empty document ("---" alone, or only comments)
            _objects(_jsonable(doc, source, line), node, source, line, out)
    except ManifestError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = mark.line + 1 if mark is not None else line
        what = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise ManifestError(f"{source}:{where}: invalid YAML: {what}") from None
    except yaml.reader.ReaderError as exc:
        where = text.count("\n", 0, max(0, exc.position)) + 1
        raise ManifestError(f"{source}:{where}: invalid YAML: {exc.reason} (character {exc.character!r})") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"{source}:{line}: invalid YAML: {str(exc).splitlines()[0] if str(exc) else exc!r}") \
            from None
    except RecursionError:
        raise ManifestError(f"{source}:{line}: invalid YAML: nested too deeply") from None
    except Exception as exc:  # noqa: BLE001 - a constructor's ValueError/TypeError/OverflowError on odd input
        raise ManifestError(f"{source}:{line}: invalid YAML: {type(exc).__name__}: {exc}") from None
    finally:
        loader.dispose()
    return out


def _check_expansion(root: yaml.Node, source: str, line: int, max_nodes: int) -> None:
    """Refuse a document whose aliases expand past ``max_nodes`` nodes, or that refers to itself.

    Sizes are memoised per node, so a bomb of nine levels of ten aliases costs nine steps, not 10**9.
    Iterative (no recursion limit on deep documents)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if done:
            active.discard(key)
            total = 1 + sum(sizes[id(c)] for c in children)
            if total > max_nodes:
                raise ManifestError(f"{source}:{line}: document expands to over {max_nodes} nodes through "
                                    "aliases (an alias bomb?); refused")
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in active:
            raise ManifestError(f"{source}:{node.start_mark.line + 1}: recursive alias; refused")
        active.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in active:
                raise ManifestError(f"{source}:{child.start_mark.line + 1}: recursive alias; refused")
            if id(child) not in sizes:
                stack.append((child, False))


def _jsonable(value: Any, source: str, line: int) -> Any:
    """``value`` with JSON-compatible keys and scalars (keys as strings, as Kubernetes reads them)."""
    def convert(v: Any, depth: int) -> Any:
        if depth > 200:
            raise ManifestError(f"{source}:{line}: document nested over 200 levels deep; refused")
        if isinstance(v, dict):
            return {_key(k): convert(x, depth + 1) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [convert(x, depth + 1) for x in v]
        if v is None or isinstance(v, (str, bool, int, float)):
            return v
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace")
        return str(v)

    return convert(value, 0)


def _key(k: Any) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, bool):
        return "true" if k else "false"
    if k is None:
        return "null"
    if isinstance(k, (tuple, list)):
        return json.dumps(k, default=str)
    return str(k)


def _objects(doc: Any, node: yaml.Node | None, source: str, line: int, out: list[ManifestObject]) -> None:
    if not isinstance(doc, dict):
        raise ManifestError(f"{source}:{line}: document is not a mapping (got {_type_name(doc)}); "
                            "expected a Kubernetes object")
    kind = doc.get("kind")
    if not isinstance(kind, str) or not kind:
        raise ManifestError(f"{source}:{line}: object has no kind" if kind in (None, "")
                            else f"{source}:{line}: kind is not a string ({_type_name(kind)})")
    items = doc.get("items")
    if kind.endswith("List") and isinstance(items, list):
        lines = _item_lines(node, len(items), line)
        for item, item_line in zip(items, lines, strict=True):
            _objects(item, None, source, item_line, out)
        return
    meta = doc.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    name = meta.get("name") or meta.get("generateName") or ""
    namespace = "" if kind in CLUSTER_SCOPED else meta.get("namespace") or ""
    api_version = doc.get("apiVersion")
    out.append(ManifestObject(kind=kind, api_version=api_version if isinstance(api_version, str) else "",
                              name=name if isinstance(name, str) else str(name),
                              namespace=namespace if isinstance(namespace, str) else str(namespace),
                              file=source, line=line, doc=doc))


def _item_lines(node: yaml.Node | None, count: int, line: int) -> list[int]:
    """The line of each item of a List document (the document's line when unknown, as for JSON)."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == "items" and isinstance(v, yaml.SequenceNode) \
                    and len(v.value) == count:
                return [n.start_mark.line + 1 for n in v.value]
    return [line] * count


def _type_name(v: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(v), type(v).__name__)


def _split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def admission_input(obj: ManifestObject, *, operation: str = "CREATE", namespace: str = "", dry_run: bool = False,
                    user: str = "propolis-check") -> dict[str, Any]:
    """The input of ``data.propolis.admission.decision`` for ``obj``: ``{"request": {...}}`` shaped as the
    ``request`` of an AdmissionReview v1 (``kind`` {group, version, kind}, ``object``, ``namespace``,
    ``operation``, ``dryRun``, ``userInfo``...).

    The request's namespace is the object's own, else ``namespace`` (the namespace the object would be
    created in); cluster-scoped kinds have none. ``oldObject`` is the object itself for UPDATE, null
    otherwise; for DELETE ``object`` is null and ``oldObject`` the object, as the API server sends them.
    """
    group, version = _split_api_version(obj.api_version)
    ns = "" if obj.kind in CLUSTER_SCOPED else obj.namespace or namespace
    op = operation.upper()
    gvk = {"group": group, "version": version, "kind": obj.kind}
    request: dict[str, Any] = {
        "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"propolis:{obj.file}:{obj.line}:{obj.kind}:{ns}/{obj.name}")),
        "kind": gvk,
        "requestKind": gvk,
        "name": obj.name,
        "namespace": ns,
        "operation": op,
        "userInfo": {"username": user, "groups": ["system:authenticated"]},
        "object": None if op == "DELETE" else obj.doc,
        "oldObject": obj.doc if op in ("UPDATE", "DELETE") else None,
        "dryRun": dry_run,
    }
    return {"request": request}
