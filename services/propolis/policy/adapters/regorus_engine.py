"""The embedded engine: regorus (Rust Rego interpreter), through its Python bindings.

Sharp edges handled here, each covered by tests:
- regorus objects are *unsendable*: an ``Engine``/``Program``/``Rvm`` must be used and dropped
  in the thread that made it. Compilation for a new revision therefore happens off to the side
  only to *validate* and serialize the program; each evaluating thread then builds its own VM
  from plain bytes/text and keeps it in thread-local state, pruned in that same thread.
- it holds the GIL while evaluating: scale with processes, not threads.
- undefined comes back as the JSON string ``"<undefined>"``; hot paths are wrapped in an
  object (``{"v": <rule>}``) so a rule whose value *is* that string is not mistaken for it.
- failures raise ``RuntimeError``, and some inputs raise a Rust ``PanicException``, which is a
  ``BaseException``: both become :class:`EvaluationError` / :class:`CompileError`.
- sets of arrays/objects cannot become Python values: only ``*_as_json`` calls are used.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import threading
import time
import weakref
from typing import Any

os.environ.setdefault("RUST_LIB_BACKTRACE", "0")  # no backtrace capture on every Rego error

import regorus  # noqa: E402

from propolis.policy.domain.bundle import Bundle  # noqa: E402
from propolis.policy.domain.engine import UNDEFINED, path_to_ref  # noqa: E402
from propolis.policy.domain.errors import CompileError, EvaluationError  # noqa: E402
from propolis.policy.domain.testing import FileCoverage, TestReport, TestResult  # noqa: E402

_ENTRY_PKG = "propolis_internal_entry"
_UNDEF_JSON = '"<undefined>"'
_TEST_RE = re.compile(r"^(test_[A-Za-z0-9_]*)\b", re.MULTILINE)
_PACKAGE_RE = re.compile(r"^\s*package\s+([A-Za-z_][\w.]*)", re.MULTILINE)
_FATAL = (KeyboardInterrupt, SystemExit, GeneratorExit)


def engine_message(exc: BaseException) -> str:
    """regorus error text without the Rust backtrace, on one line."""
    text = str(exc).split("Stack backtrace:", 1)[0].strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and set(ln.strip()) != {"|"}]
    msg = " ".join(lines) or type(exc).__name__
    return msg[:2000]


class RegorusEngine:
    """``use_vm=False`` (the default) evaluates every path with regorus's interpreter.

    regorus's compiled VM is 2-3x faster but does not always agree with the interpreter (and
    OPA): ``not`` over an undefined value and assignments from undefined values behave
    differently, so some rules fire wrongly on it (``tests/test_engine.py`` keeps a case). It is
    available for measurement and for bundles that pass the equivalence check, not by default.
    """

    name = "regorus"

    def __init__(self, use_vm: bool = False) -> None:
        self.use_vm = use_vm

    def compile(self, bundle: Bundle, entrypoints: list[str]) -> RegorusCompiled:
        refs = [path_to_ref(e) for e in entrypoints]
        data_json = json.dumps(bundle.data)
        modules = sorted(bundle.modules.items())
        wrapper = _entry_module(refs)
        eng: Any = None
        program: Any = None
        failure = ""
        blob = b""
        try:
            eng = regorus.Engine()
            for name, text in modules:
                eng.add_policy(name, text)
            eng.add_data_json(data_json)
            if refs:  # the compiled path needs at least one entry point
                program = regorus.Program.compile_from_modules(
                    data_json, [*modules, ("<entrypoints>", wrapper)],
                    [f"data.{_ENTRY_PKG}.e{i}" for i in range(len(refs))])
                blob = bytes(program.serialize_binary())
        except BaseException as exc:
            if isinstance(exc, _FATAL):
                raise
            failure = engine_message(exc)
        finally:
            # Drop the regorus objects here, in their own thread: an exception carried to
            # another thread must not keep them alive through its traceback.
            del eng, program
        if failure:
            raise CompileError(f"bundle {bundle.revision} does not compile: {failure}")
        return RegorusCompiled(next(_TOKENS), bundle.revision, modules, data_json, refs, blob, self.use_vm)


def _entry_module(refs: list[str]) -> str:
    body = "".join(f'e{i} := {{"v": {ref}}}\n' for i, ref in enumerate(refs))
    return f"package {_ENTRY_PKG}\nimport rego.v1\n{body}"


class _ThreadState:
    """The regorus objects of one compiled policy, owned by one thread."""

    __slots__ = ("owner", "rvm", "engine")

    def __init__(self, owner: weakref.ref[RegorusCompiled]) -> None:
        self.owner = owner
        self.rvm: Any = None
        self.engine: Any = None


_tls = threading.local()
#: Process-wide, so two engines never hand out the same key into a thread's state table.
_TOKENS = itertools.count(1)


class RegorusCompiled:
    def __init__(self, token: int, revision: str, modules: list[tuple[str, str]], data_json: str,
                 refs: list[str], program: bytes, use_vm: bool = False) -> None:
        self.token = token
        self.use_vm = use_vm
        self.wrapper = _entry_module(refs)
        self.revision = revision
        self.modules = modules
        self.data_json = data_json
        self.entry = {ref: f"data.{_ENTRY_PKG}.e{i}" for i, ref in enumerate(refs)}
        self.program = program

    # -- per-thread state -------------------------------------------------------------
    def _state(self) -> _ThreadState:
        states: dict[int, _ThreadState] | None = getattr(_tls, "states", None)
        if states is None:
            states = _tls.states = {}
        st = states.get(self.token)
        if st is None:
            # Prune states of policies that are gone; dropping them here keeps regorus happy.
            for tok in [t for t, s in states.items() if s.owner() is None]:
                del states[tok]
            st = states[self.token] = _ThreadState(weakref.ref(self))
        return st

    def _rvm(self) -> Any:
        st = self._state()
        if st.rvm is None:
            vm = regorus.Rvm()
            program, _partial = regorus.Program.deserialize_binary(self.program)
            vm.load_program(program)
            vm.set_data_json(self.data_json)  # the program does not carry the data tree
            st.rvm = vm
        return st.rvm

    def _engine(self) -> Any:
        st = self._state()
        if st.engine is None:
            eng = regorus.Engine()
            for name, text in self.modules:
                eng.add_policy(name, text)
            if self.entry:
                eng.add_policy("<entrypoints>", self.wrapper)
            eng.add_data_json(self.data_json)
            st.engine = eng
        return st.engine

    # -- evaluation -------------------------------------------------------------------
    def evaluate(self, path: str, input_json: str) -> Any:
        try:
            ref = path_to_ref(path)
        except ValueError as exc:
            raise EvaluationError(str(exc)) from None
        entry = self.entry.get(ref)
        try:
            if entry is not None:
                if self.use_vm:
                    vm = self._rvm()
                    vm.set_input_json(input_json)
                    out = vm.execute_entry_point(entry)
                else:
                    eng = self._engine()
                    eng.set_input_json(input_json)
                    out = eng.eval_rule_as_json(entry)
                if out == _UNDEF_JSON:
                    return UNDEFINED
                return json.loads(out)["v"]
            eng = self._engine()
            eng.set_input_json(input_json)
            res = json.loads(eng.eval_query_as_json(ref))
        except BaseException as exc:
            if isinstance(exc, _FATAL):
                raise
            raise EvaluationError(f"evaluation of {ref} failed: {engine_message(exc)}") from None
        rows = res.get("result") or []
        if not rows:
            return UNDEFINED
        return rows[0]["expressions"][0]["value"]

    # -- Rego unit tests ---------------------------------------------------------------
    def run_tests(self, coverage: bool = True) -> TestReport:
        tests: list[tuple[str, str]] = []
        for _name, text in self.modules:
            pkg = _PACKAGE_RE.search(text)
            if pkg is None:
                continue
            for t in dict.fromkeys(_TEST_RE.findall(text)):
                tests.append((pkg.group(1), t))
        eng = regorus.Engine()
        for name, text in self.modules:
            eng.add_policy(name, text)
        eng.add_data_json(self.data_json)
        if coverage:
            eng.set_enable_coverage(True)
        results: list[TestResult] = []
        for pkg, test in sorted(set(tests)):
            start = time.perf_counter()
            try:
                eng.set_input_json("{}")
                res = json.loads(eng.eval_query_as_json(f"data.{pkg}.{test}"))
                rows = res.get("result") or []
                value = rows[0]["expressions"][0]["value"] if rows else UNDEFINED
                ok = value is True
                err = "" if ok else ("undefined" if value is UNDEFINED else f"evaluated to {json.dumps(value)}")
            except BaseException as exc:
                if isinstance(exc, _FATAL):
                    raise
                ok, err = False, engine_message(exc)
            results.append(TestResult(pkg, test, ok, err, (time.perf_counter() - start) * 1e6))
        cov: list[FileCoverage] = []
        if coverage:
            try:
                report = json.loads(eng.get_coverage_report_as_json())
                for f in report.get("files", []):
                    if f["path"].endswith("_test.rego"):
                        continue
                    cov.append(FileCoverage(f["path"], len(f.get("covered", [])), len(f.get("not_covered", []))))
            except BaseException as exc:
                if isinstance(exc, _FATAL):
                    raise
        return TestReport(results, sorted(cov, key=lambda c: c.path))
