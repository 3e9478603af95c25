"""Rego unit tests, ``opa test`` style: every rule named ``test_*`` must evaluate to true."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TestResult:
    package: str
    name: str
    passed: bool
    error: str = ""
    duration_us: float = 0.0

    @property
    def ref(self) -> str:
        return f"data.{self.package}.{self.name}"


@dataclass(frozen=True)
class FileCoverage:
    path: str
    covered: int
    not_covered: int

    @property
    def percent(self) -> float:
        total = self.covered + self.not_covered
        return 100.0 * self.covered / total if total else 100.0


@dataclass(frozen=True)
class TestReport:
    results: list[TestResult]
    coverage: list[FileCoverage] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return sum(not r.passed for r in self.results)

    @property
    def coverage_percent(self) -> float:
        cov = sum(c.covered for c in self.coverage)
        tot = cov + sum(c.not_covered for c in self.coverage)
        return 100.0 * cov / tot if tot else 0.0
