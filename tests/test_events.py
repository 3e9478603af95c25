"""Envelope codec: every event type round-trips; any bytes decode or raise EnvelopeError."""

from __future__ import annotations

import json
import typing
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from propolis.kernel import events
from propolis.kernel.eventdoc import render_markdown
from tests.conftest import ROOT

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def strategy_for(tp: Any) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is str:
        return st.text(max_size=30)
    if tp is int:
        return st.integers(-(2**53), 2**53)
    if tp is float:
        return st.floats(allow_nan=False, allow_infinity=False, width=64)
    if tp is bool:
        return st.booleans()
    if tp is Any:
        return json_values
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin is list:
        return st.lists(strategy_for(args[0]), max_size=4)
    if origin is dict:
        return st.dictionaries(strategy_for(args[0]), strategy_for(args[1]), max_size=4)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return st.one_of(*[st.none() if a is type(None) else strategy_for(a) for a in args])
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        hints = typing.get_type_hints(tp)
        return st.builds(tp, **{f.name: strategy_for(hints[f.name]) for f in msgspec.structs.fields(tp)})
    raise NotImplementedError(tp)


payloads = st.one_of(*[strategy_for(spec.payload) for spec in events.CATALOGUE.values()])


@settings(max_examples=400)
@given(payload=payloads, subject=st.text(max_size=20), revision=st.text(max_size=20))
def test_every_event_type_round_trips(payload: events.Event, subject: str, revision: str) -> None:
    env = events.envelope(payload, source="propolis/test", subject=subject, policy_revision=revision)
    raw = events.encode(env)
    back = events.decode(raw)
    assert back == env
    doc = json.loads(raw)
    # CloudEvents structured mode: required attributes present and well-formed.
    assert doc["specversion"] == "1.0" and doc["id"] and doc["source"] and doc["type"] == env.type
    assert doc["type"].startswith("propolis.") and doc["datacontenttype"] == "application/json"


@given(st.binary(max_size=300))
def test_arbitrary_bytes_decode_or_raise_envelope_error(raw: bytes) -> None:
    try:
        events.decode(raw)
    except events.EnvelopeError:
        pass


@given(st.dictionaries(st.sampled_from(["specversion", "id", "source", "type", "time", "data", "x"]),
                       json_values, max_size=7))
def test_arbitrary_json_objects_decode_or_raise_envelope_error(doc: dict[str, Any]) -> None:
    try:
        events.decode(json.dumps(doc).encode())
    except events.EnvelopeError:
        pass


def test_unknown_type_and_oversized_are_refused() -> None:
    env = events.envelope(events.BundleUpdated(reason="x"), source="t")
    doc = json.loads(events.encode(env))
    doc["type"] = "propolis.nope.nothing"
    try:
        events.decode(json.dumps(doc).encode())
        raise AssertionError("unknown type accepted")
    except events.EnvelopeError as exc:
        assert "unknown event type" in str(exc)
    try:
        events.decode(b" " * (events.MAX_ENVELOPE_BYTES + 1))
        raise AssertionError("oversized envelope accepted")
    except events.EnvelopeError as exc:
        assert "exceeds" in str(exc)


def test_subjects_are_namespaced_and_in_a_stream() -> None:
    for spec in events.CATALOGUE.values():
        parts = spec.subject.split(".")
        assert parts[0] == "propolis" and len(parts) >= 3, spec.subject
        stream = events.STREAMS[spec.stream]
        assert any(spec.subject.startswith(s[:-1]) for s in stream.subjects)


def test_events_doc_is_up_to_date() -> None:
    assert (ROOT / "docs" / "events.md").read_text() == render_markdown(), \
        "docs/events.md is stale: run `propolis events > docs/events.md`"
