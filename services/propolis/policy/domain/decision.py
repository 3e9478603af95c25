"""Decision points: validated input in, a structured, attributable decision out.

A decision point is declared in the bundle itself (``data.propolis.decision_points``): its data
path and what happens when evaluation is *undefined* or *fails* — ``deny`` (fail closed, the
default), ``allow`` (fail open) or ``error`` (the caller gets an error). So fail-open is a
reviewed line in Git, never an accident.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

import msgspec

from propolis.policy.domain.engine import UNDEFINED, path_to_ref, ref_to_path
from propolis.policy.domain.errors import DecisionFailed, EvaluationError, InputRejected

FailMode = Literal["deny", "allow", "error"]
Outcome = Literal["evaluated", "undefined_fallback", "error_fallback"]


class DecisionPoint(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    name: str
    path: str
    on_undefined: FailMode = "deny"
    on_error: FailMode = "deny"
    description: str = ""


class Decision(msgspec.Struct, kw_only=True):
    decision_id: str
    decision_point: str
    path: str
    revision: str
    result: Any
    outcome: Outcome
    reasons: list[str]
    input_digest: str
    input_bytes: int
    duration_us: float
    mode: str
    error: str = ""

    @property
    def allowed(self) -> bool:
        return isinstance(self.result, dict) and self.result.get("allow") is True


class Evaluator(Protocol):
    """What a decision point evaluates against: the active embedded bundle, or a remote OPA."""

    mode: str

    @property
    def revision(self) -> str: ...

    def evaluate(self, path: str, input_json: str) -> tuple[Any, str]:
        """(value or UNDEFINED, revision that produced it); raises EvaluationError."""
        ...


class InputLimits(msgspec.Struct, frozen=True):
    max_bytes: int = 1024 * 1024
    max_depth: int = 64


_json_decoder = msgspec.json.Decoder()
_canonical_encoder = msgspec.json.Encoder(order="sorted")


def _check_depth(obj: Any, limit: int) -> None:
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        cur, depth = stack.pop()
        if isinstance(cur, dict):
            if depth >= limit and cur:
                raise InputRejected("input_too_deep", f"input nests deeper than {limit} levels")
            stack.extend((v, depth + 1) for v in cur.values())
        elif isinstance(cur, list):
            if depth >= limit and cur:
                raise InputRejected("input_too_deep", f"input nests deeper than {limit} levels")
            stack.extend((v, depth + 1) for v in cur)


def prepare_input(raw: bytes | str, limits: InputLimits) -> tuple[str, str, int]:
    """Validate raw JSON input; return (JSON text for the engine, canonical digest, size)."""
    data = raw.encode() if isinstance(raw, str) else raw
    if len(data) > limits.max_bytes:
        raise InputRejected("input_too_large",
                            f"input is {len(data)} bytes, more than the limit of {limits.max_bytes}")
    if not data.strip():
        data = b"{}"
    try:
        value = _json_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise InputRejected("input_not_json", f"input is not valid JSON: {exc}") from None
    except RecursionError:
        raise InputRejected("input_too_deep", "input nests too deeply for the JSON decoder") from None
    _check_depth(value, limits.max_depth)
    canonical = _canonical_encoder.encode(value)
    digest = "sha256:" + hashlib.sha256(canonical).hexdigest()
    return canonical.decode("utf-8"), digest, len(data)


def _fallback(mode: FailMode, reason: str) -> Any:
    if mode == "allow":
        return {"allow": True, "reasons": [reason]}
    return {"allow": False, "reasons": [reason]}


def parse_decision_points(raw: Any) -> dict[str, DecisionPoint]:
    """Decision points from bundle data; malformed declarations are refused with a clear error."""
    if raw is UNDEFINED or raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError("data.propolis.decision_points must be an object")
    out: dict[str, DecisionPoint] = {}
    for name, spec in raw.items():
        try:
            dp = msgspec.convert({"name": name, **spec}, DecisionPoint)
            path_to_ref(dp.path)
        except (msgspec.ValidationError, TypeError, ValueError) as exc:
            raise ValueError(f"decision point {name!r} is malformed: {exc}") from None
        out[name] = dp
    return out


class DecisionPoints:
    """Evaluate inputs at named decision points (or any data path) with declared fallbacks."""

    def __init__(self, evaluator: Evaluator, points: Callable[[], Mapping[str, DecisionPoint]],
                 limits: InputLimits = InputLimits()) -> None:
        self.evaluator = evaluator
        self._points = points
        self.limits = limits

    def points(self) -> dict[str, DecisionPoint]:
        return dict(self._points())

    def resolve(self, name_or_path: str) -> DecisionPoint:
        points = self._points()
        if name_or_path in points:
            return points[name_or_path]
        try:
            ref = path_to_ref(name_or_path)
        except ValueError as exc:
            raise InputRejected("bad_path", str(exc)) from None
        for dp in points.values():
            if path_to_ref(dp.path) == ref:
                return dp
        # Not declared: an ad-hoc query, fail closed.
        return DecisionPoint(name="", path=ref_to_path(ref))

    def decide(self, name_or_path: str, raw_input: bytes | str) -> Decision:
        """Validate, evaluate, apply the declared fallback. Raises InputRejected / DecisionFailed."""
        start = time.perf_counter()
        dp = self.resolve(name_or_path)
        text, digest, size = prepare_input(raw_input, self.limits)
        error = ""
        outcome: Outcome = "evaluated"
        revision = self.evaluator.revision
        try:
            value, revision = self.evaluator.evaluate(dp.path, text)
        except EvaluationError as exc:
            error = str(exc)
            if dp.on_error == "error":
                raise DecisionFailed(f"{dp.name or dp.path}: {error}") from None
            value, outcome = _fallback(dp.on_error, f"policy evaluation failed ({dp.on_error} by declaration)"), \
                "error_fallback"
        else:
            if value is UNDEFINED:
                if dp.on_undefined == "error":
                    raise DecisionFailed(f"{dp.name or dp.path}: the policy is undefined for this input")
                value, outcome = _fallback(dp.on_undefined,
                                           f"policy result undefined ({dp.on_undefined} by declaration)"), \
                    "undefined_fallback"
        reasons = value.get("reasons", []) if isinstance(value, dict) else []
        if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
            reasons = [str(r) for r in reasons] if isinstance(reasons, list) else []
        return Decision(
            decision_id=uuid.uuid4().hex,
            decision_point=dp.name,
            path=dp.path,
            revision=revision,
            result=value,
            outcome=outcome,
            reasons=reasons,
            input_digest=digest,
            input_bytes=size,
            duration_us=(time.perf_counter() - start) * 1e6,
            mode=self.evaluator.mode,
            error=error,
        )
