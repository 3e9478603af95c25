"""Remote mode: decisions evaluated by an external OPA (or another Propolis) over OPA's REST API.

Uses ``opa-python-client``. The decision point declarations are read from the remote data
(``data.propolis.decision_points``) so fallbacks stay declared in the bundle, and the revision
comes from OPA's provenance, so remote decisions are as attributable as embedded ones.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from opa_client import OpaClient

from propolis.policy.domain.decision import DecisionPoint, parse_decision_points
from propolis.policy.domain.engine import UNDEFINED, path_to_ref, ref_to_path
from propolis.policy.domain.errors import EvaluationError


class RemoteOPAEvaluator:
    mode = "remote"

    def __init__(self, url: str, timeout: float = 2.0, points_ttl: float = 30.0) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if not parts.hostname:
            raise ValueError(f"policy.remote_url {url!r} has no host")
        self.url = url
        self._local = threading.local()
        self._args = {"host": parts.hostname, "port": parts.port or (443 if parts.scheme == "https" else 8181),
                      "ssl": parts.scheme == "https", "timeout": timeout, "retries": 0}
        self._revision = ""
        self._points: dict[str, DecisionPoint] = {}
        self._points_at = 0.0
        self.points_ttl = points_ttl

    def _client(self) -> OpaClient:
        c = getattr(self._local, "client", None)
        if c is None:
            c = self._local.client = OpaClient(**self._args)
        return c

    @property
    def revision(self) -> str:
        return self._revision

    def evaluate(self, path: str, input_json: str) -> tuple[Any, str]:
        ref = path_to_ref(path)
        try:
            res = self._client().query_rule(json.loads(input_json), ref_to_path(ref).replace("/", "."),
                                            query_params={"provenance": "true"})
        except (requests.RequestException, ValueError) as exc:
            raise EvaluationError(f"remote OPA at {self.url} failed for {ref}: {exc}") from None
        rev = _revision_of(res)
        if rev:
            self._revision = rev
        if "result" not in res:
            return UNDEFINED, self._revision
        return res["result"], self._revision

    def points(self) -> dict[str, DecisionPoint]:
        now = time.monotonic()
        if now - self._points_at > self.points_ttl:
            try:
                raw = self._client().get_data("propolis/decision_points")
                self._points = parse_decision_points(raw.get("result"))
            except Exception:  # opa_client raises its own types too
                pass  # keep the last known declarations; undeclared paths fail closed anyway
            self._points_at = now
        return self._points


def _revision_of(res: dict[str, Any]) -> str:
    prov = res.get("provenance") or {}
    if prov.get("revision"):
        return str(prov["revision"])
    bundles = prov.get("bundles") or {}
    revs = sorted(str(b.get("revision", "")) for b in bundles.values() if isinstance(b, dict))
    return ",".join(r for r in revs if r)
