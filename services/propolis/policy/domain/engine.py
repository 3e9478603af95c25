"""The engine interface: the one seam between Propolis and a Rego interpreter.

An engine turns a :class:`Bundle` into a :class:`CompiledPolicy`; a compiled policy evaluates a
data path against a JSON input. Everything engine-specific (thread affinity, panics, how
"undefined" is spelled) stays behind this interface, so an engine can be swapped.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

from propolis.policy.domain.bundle import Bundle
from propolis.policy.domain.testing import TestReport


class _Undefined:
    """The result of a rule that is not defined for this input (distinct from ``null``)."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Final = _Undefined()


def path_to_ref(path: str) -> str:
    """``propolis/admission/decision`` (or dotted, or ``data.``-prefixed) → ``data.propolis.admission.decision``."""
    p = path.strip().strip("/")
    if p.startswith("data.") or p == "data":
        p = p[5:]
    parts = p.replace("/", ".").split(".") if p else []
    for part in parts:
        if not part or not (part[0].isalpha() or part[0] == "_") or not all(c.isalnum() or c == "_" for c in part):
            raise ValueError(f"invalid data path segment {part!r} in {path!r}")
    return "data" + "".join("." + x for x in parts)


def ref_to_path(ref: str) -> str:
    return ref.removeprefix("data").lstrip(".").replace(".", "/")


class CompiledPolicy(Protocol):
    revision: str

    def evaluate(self, path: str, input_json: str) -> Any:
        """Value of ``path`` for this input (JSON text), or :data:`UNDEFINED`.

        Raises :class:`~propolis.policy.domain.errors.EvaluationError` when evaluation fails.
        Must be cheap to call from the thread it is called in; implementations keep any
        thread-bound state per thread.
        """
        ...

    def run_tests(self, coverage: bool = True) -> TestReport:
        """Evaluate every ``test_*`` rule; see :mod:`propolis.policy.domain.testing`."""
        ...


class PolicyEngine(Protocol):
    name: str

    def compile(self, bundle: Bundle, entrypoints: list[str]) -> CompiledPolicy:
        """Parse and compile; raise :class:`~propolis.policy.domain.errors.CompileError`.

        ``entrypoints`` (data refs) are the hot paths to precompile; other paths still evaluate.
        The result must be safe to hand to another thread.
        """
        ...

