"""Policy errors. Each one is a single line a person can act on."""

from propolis.kernel.errors import PropolisError


class BundleError(PropolisError):
    """A bundle that cannot be read: malformed files, limits exceeded, roots violated."""


class BundleSignatureError(BundleError):
    """A bundle that is unsigned, tampered with or signed by the wrong key."""


class CompileError(BundleError):
    """Rego that does not parse or compile."""


class EvaluationError(PropolisError):
    """The engine failed while evaluating (a failing builtin, an engine panic, a remote error)."""


class InputRejected(PropolisError):
    """A decision input refused before evaluation (too large, too deep, not JSON)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class DecisionFailed(PropolisError):
    """Evaluation failed or was undefined at a decision point declared ``on_*: error``."""
