"""Decision points: declared fallbacks, input limits, and never an undeclared exception."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from propolis.policy.adapters.regorus_engine import RegorusEngine
from propolis.policy.adapters.sources import DirectorySource
from propolis.policy.domain.decision import DecisionPoints, InputLimits, parse_decision_points
from propolis.policy.domain.errors import DecisionFailed, InputRejected
from propolis.policy.domain.manager import BundleManager
from tests.conftest import POLICIES, write_demo_bundle

BROKEN = """package propolis.demo
import rego.v1
broken := to_number(input.n)
broken_too := to_number(input.n)
"""


@pytest.fixture
def pdp(tmp_path: Path) -> DecisionPoints:
    b = write_demo_bundle(tmp_path / "b", extra={"propolis/demo/broken.rego": BROKEN})
    m = BundleManager(DirectorySource(b), RegorusEngine())
    m.load_initial()
    return DecisionPoints(m, m.points, InputLimits(max_bytes=4096, max_depth=8))


def test_evaluated_decision_carries_revision_digest_and_id(pdp: DecisionPoints) -> None:
    d = pdp.decide("demo", b'{"user": "alice"}')
    assert d.outcome == "evaluated" and d.result["allow"] is True and d.allowed
    assert d.revision == pdp.evaluator.revision and d.revision.startswith("sha256:")
    assert d.input_digest.startswith("sha256:") and len(d.decision_id) == 32
    # The digest is over canonical JSON: key order and white space do not change it.
    assert pdp.decide("demo", b'{ "user" : "alice" }').input_digest == d.input_digest
    denied = pdp.decide("propolis/demo/decision", b'{"user": "eve"}')
    assert denied.decision_point == "demo" and not denied.allowed
    assert denied.reasons == ["user eve is not allowed"]


def test_undefined_follows_the_declaration(pdp: DecisionPoints) -> None:
    closed = pdp.decide("propolis/demo/not_a_rule", b"{}")  # undeclared path: fail closed
    assert closed.outcome == "undefined_fallback" and closed.result["allow"] is False
    opened = pdp.decide("demo_open", b"{}")
    assert opened.outcome == "undefined_fallback" and opened.result["allow"] is True
    assert "allow by declaration" in opened.reasons[0]


def test_evaluation_error_follows_the_declaration(pdp: DecisionPoints) -> None:
    d = pdp.decide("propolis/demo/broken_too", b'{"n": "not a number"}')
    # Undeclared path -> fail closed. regorus's compiled path turns the failing builtin into
    # undefined (as OPA does) and its interpreter path raises; both end closed.
    assert d.result["allow"] is False and d.outcome in ("undefined_fallback", "error_fallback")
    with pytest.raises(DecisionFailed, match="demo_strict"):
        pdp.decide("demo_strict", b'{"n": "x"}')


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"x" * 5000, "input_too_large"),
        (b"{not json", "input_not_json"),
        (b"\xff\xfe", "input_not_json"),
        (b'{"a":' * 20 + b"1" + b"}" * 20, "input_too_deep"),
        (b"[" * 100000 + b"]" * 100000, "input_too_large"),
    ],
)
def test_hostile_inputs_are_rejected_with_a_code(pdp: DecisionPoints, raw: bytes, code: str) -> None:
    with pytest.raises(InputRejected) as exc:
        pdp.decide("demo", raw)
    assert exc.value.code == code


def test_deep_input_within_size_limit_is_rejected_not_crashing(tmp_path: Path) -> None:
    b = write_demo_bundle(tmp_path / "b")
    m = BundleManager(DirectorySource(b), RegorusEngine())
    m.load_initial()
    pdp = DecisionPoints(m, m.points, InputLimits(max_bytes=10_000_000, max_depth=10_000))
    d = pdp.decide("demo", b"[" * 900 + b"]" * 900)  # past regorus's recursion limit
    assert d.result["allow"] is False and d.outcome == "error_fallback" and "recursion" in d.error
    with pytest.raises(InputRejected, match="too deeply"):  # past the JSON decoder's own limit
        pdp.decide("demo", b"[" * 5000 + b"]" * 5000)


def test_bad_path_and_malformed_declarations(pdp: DecisionPoints) -> None:
    with pytest.raises(InputRejected, match="invalid data path"):
        pdp.decide("propolis/demo/../x", b"{}")
    with pytest.raises(ValueError, match="malformed"):
        parse_decision_points({"x": {"path": "a/b", "on_error": "explode"}})
    with pytest.raises(ValueError, match="malformed"):
        parse_decision_points({"x": {"no_path": True}})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=40,
)

_REPO = BundleManager(DirectorySource(POLICIES), RegorusEngine())
_REPO.load_initial()
_REPO_PDP = DecisionPoints(_REPO, _REPO.points)
_POINTS = sorted(_REPO.points())


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(point=st.sampled_from(_POINTS), value=json_values)
def test_any_json_input_yields_a_decision_or_a_declared_error(point: str, value: Any) -> None:
    raw = json.dumps(value).encode()
    try:
        d = _REPO_PDP.decide(point, raw)
    except DecisionFailed:
        assert _REPO.points()[point].on_error == "error" or _REPO.points()[point].on_undefined == "error"
        return
    except InputRejected:
        return
    assert isinstance(d.result, dict) and isinstance(d.result.get("allow"), bool)
    assert d.revision == _REPO.revision and d.outcome in ("evaluated", "undefined_fallback", "error_fallback")


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=200))
def test_any_bytes_yield_a_decision_or_a_declared_error(raw: bytes) -> None:
    try:
        d = _REPO_PDP.decide("admission", raw)
    except InputRejected:
        return
    assert isinstance(d.result["allow"], bool)
