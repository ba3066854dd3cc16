"""The one interface every risk rule implements, and the result it returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from backend.core.settings import RiskSettings
from backend.risk.schemas import Candidate, PortfolioState


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One rule's verdict: `code` is the machine-readable reason, `message` says why for a person."""

    passed: bool
    code: str
    message: str = ""

    @classmethod
    def ok(cls, code: str, message: str = "") -> RuleResult:
        return cls(passed=True, code=code, message=message)

    @classmethod
    def fail(cls, code: str, message: str) -> RuleResult:
        return cls(passed=False, code=code, message=message)


class RiskRule(ABC):
    """A stateless pre-trade check of a BUY candidate against the portfolio."""

    code: str

    @abstractmethod
    def check(self, candidate: Candidate, state: PortfolioState, settings: RiskSettings) -> RuleResult:
        """Pass, or fail with `self.code` and a message naming the numbers that failed."""

    def passed(self, message: str = "") -> RuleResult:
        return RuleResult.ok(self.code, message)

    def failed(self, message: str) -> RuleResult:
        return RuleResult.fail(self.code, message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
