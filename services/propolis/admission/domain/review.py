"""The AdmissionReview ``admission.k8s.io/v1`` wire format: requests checked, responses built (no I/O).

A response carries the request's ``uid``, ``allowed``, a ``status`` ``{"code": 403, "message"}``
when denied, ``warnings`` (shown by kubectl) and ``auditAnnotations``: the API server prefixes
each key with the webhook's name (``validate.propolis.dev/decision-id`` in the audit log), so the
keys themselves are plain qualified names.
"""

from __future__ import annotations

import json
from typing import Any

from propolis.common.workloads import CONTAINER_LISTS, POD_SPEC_PATHS

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"

#: Warnings the API server passes on are best kept short; longer ones may be truncated by it.
MAX_WARNING_CHARS = 1024


class ReviewError(Exception):
    """A request that is not a usable AdmissionReview: ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error = status, error


def parse_review(body: bytes) -> dict[str, Any]:
    """The ``request`` of an AdmissionReview v1 body; raises :class:`ReviewError`."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ReviewError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ReviewError(400, "not_an_admission_review", f"the body is a JSON {type(doc).__name__}, "
                                                          "not an AdmissionReview object")
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if kind != KIND:
        raise ReviewError(400, "not_an_admission_review", f"kind is {kind!r}; expected {KIND!r}")
    if api_version != API_VERSION:
        raise ReviewError(400, "unsupported_version",
                          f"apiVersion is {api_version!r}; this webhook speaks only {API_VERSION!r} "
                          "(set admissionReviewVersions: [\"v1\"] in the webhook configuration)")
    request = doc.get("request")
    if not isinstance(request, dict):
        raise ReviewError(400, "missing_request", "the AdmissionReview has no request object")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise ReviewError(400, "missing_uid", "request.uid is missing or not a non-empty string")
    obj = request.get("object")
    if obj is not None and not isinstance(obj, dict):
        raise ReviewError(400, "malformed_request", "request.object is not an object")
    return request


def kind_of(request: dict[str, Any]) -> str:
    k = request.get("kind")
    if isinstance(k, dict) and isinstance(k.get("kind"), str) and k["kind"]:
        return str(k["kind"])
    obj = request.get("object")
    return str(obj.get("kind", "")) if isinstance(obj, dict) and isinstance(obj.get("kind"), str) else ""


def name_of(request: dict[str, Any]) -> str:
    obj = request.get("object") or request.get("oldObject")
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if isinstance(meta, dict):
        for key in ("name", "generateName"):
            if isinstance(meta.get(key), str) and meta[key]:
                return str(meta[key])
    name = request.get("name")
    return name if isinstance(name, str) else ""


def namespace_of(request: dict[str, Any]) -> str:
    ns = request.get("namespace")
    if isinstance(ns, str) and ns:
        return ns
    obj = request.get("object")
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    value = meta.get("namespace") if isinstance(meta, dict) else None
    return value if isinstance(value, str) else ""


def images_of(request: dict[str, Any]) -> list[str]:
    """Every container image of the object's pod spec, in order, without repeats."""
    node: Any = request.get("object")
    for key in POD_SPEC_PATHS.get(kind_of(request), ()):
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, dict) or kind_of(request) not in POD_SPEC_PATHS:
        return []
    out: list[str] = []
    for lst in CONTAINER_LISTS:
        items = node.get(lst)
        for c in items if isinstance(items, list) else []:
            image = c.get("image") if isinstance(c, dict) else None
            if isinstance(image, str) and image and image not in out:
                out.append(image)
    return out


def rule_ids(messages: list[str]) -> list[str]:
    """The rule ids the messages start with (``rule: text``), in order, without repeats."""
    return list(dict.fromkeys(m.split(":", 1)[0] for m in messages if ":" in m))


def response(uid: str, *, allowed: bool, message: str = "", warnings: list[str] | None = None,
             annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """An AdmissionReview v1 response document."""
    resp: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if not allowed:
        resp["status"] = {"code": 403, "message": message or "denied by Propolis admission policy"}
    if warnings:
        resp["warnings"] = [w if len(w) <= MAX_WARNING_CHARS else w[: MAX_WARNING_CHARS - 1] + "…"
                            for w in warnings]
    if annotations:
        resp["auditAnnotations"] = {k: v for k, v in annotations.items() if v != ""}
    return {"apiVersion": API_VERSION, "kind": KIND, "response": resp}
