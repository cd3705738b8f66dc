"""The scorecard of a conformance run: every check, its source, its outcome and evidence.

A check that fails carries the severity its catalog entry gives; the run's
exit status is that of the worst failure (`Scorecard.exit_status`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CheckInfo", "CheckResult", "FindingSeverity", "Outcome", "Scorecard"]


class FindingSeverity(str, enum.Enum):
    """How bad a failed check is, from a note to an issuance hole."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 (info) to 4 (critical)."""
        return list(FindingSeverity).index(self)


class Outcome(str, enum.Enum):
    """What a check found."""

    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    #: Not run: what it needs is missing (an option, a certificate, an earlier step).
    SKIP = "skip"


@dataclass(frozen=True)
class CheckInfo:
    """One check of the catalog: what it asks, where the rule comes from, how bad a failure is."""

    id: str
    title: str
    source: str
    severity: FindingSeverity


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome against one server, with the evidence for it."""

    check: CheckInfo
    outcome: Outcome
    evidence: str
    #: A failure milder than the check's worst (a refusal sent as HTTP 500, not an issuance).
    failed_as: FindingSeverity | None = None

    @property
    def severity(self) -> FindingSeverity | None:
        """How bad the failure is (the check's severity unless ``failed_as``); None if none."""
        if self.outcome is not Outcome.FAIL:
            return None
        return self.failed_as or self.check.severity

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready values."""
        return {
            "id": self.check.id,
            "title": self.check.title,
            "source": self.check.source,
            "outcome": self.outcome.value,
            "severity": None if self.severity is None else self.severity.value,
            "evidence": self.evidence,
        }


#: Exit status per worst severity of a failed check (0: none failed, or only notes).
EXIT_STATUS: Mapping[FindingSeverity | None, int] = {
    None: 0,
    FindingSeverity.INFO: 0,
    FindingSeverity.LOW: 1,
    FindingSeverity.MEDIUM: 3,
    FindingSeverity.HIGH: 4,
    FindingSeverity.CRITICAL: 5,
}


@dataclass(frozen=True)
class Scorecard:
    """Every check run against ``target``, in the order run."""

    target: str
    results: tuple[CheckResult, ...]

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        """The failed checks, worst first."""
        failed = [r for r in self.results if r.severity is not None]
        return tuple(sorted(failed, key=lambda r: -(r.severity or FindingSeverity.INFO).rank))

    @property
    def worst(self) -> FindingSeverity | None:
        """The severity of the worst failure, None when nothing failed."""
        return self.failures[0].severity if self.failures else None

    @property
    def exit_status(self) -> int:
        """0 clean (or notes only), 1 low, 3 medium, 4 high, 5 critical."""
        return EXIT_STATUS[self.worst]

    def result(self, check_id: str) -> CheckResult:
        """The result of the check named ``check_id`` (KeyError if it was not run)."""
        for result in self.results:
            if result.check.id == check_id:
                return result
        raise KeyError(check_id)

    def to_json(self) -> dict[str, Any]:
        """The scorecard as JSON-ready values."""
        return {
            "target": self.target,
            "worst": None if self.worst is None else self.worst.value,
            "exit_status": self.exit_status,
            "results": [r.to_json() for r in self.results],
        }

    def to_markdown(self) -> str:
        """The outcomes as a Markdown table (no evidence: it names this run's certificates)."""
        lines = ["| check | outcome | source |", "|---|---|---|"]
        for result in self.results:
            outcome = result.outcome.value
            if result.severity is not None:
                outcome = f"**fail ({result.severity.value})**"
            lines.append(f"| `{result.check.id}` | {outcome} | {result.check.source} |")
        return "\n".join(lines)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], checks: Mapping[str, CheckInfo]) -> Scorecard:
        """A scorecard `to_json` wrote, its checks looked up in ``checks`` by id."""
        results = tuple(
            CheckResult(
                checks[r["id"]],
                Outcome(r["outcome"]),
                r["evidence"],
                None if r["severity"] is None else FindingSeverity(r["severity"]),
            )
            for r in data["results"]
        )
        return cls(str(data["target"]), results)

    def to_text(self) -> str:
        """The scorecard for people: one line per check, evidence under each failure."""
        lines = [f"SCEP conformance of {self.target}"]
        for result in self.results:
            mark = result.outcome.value.upper()
            if result.severity is not None:
                mark = f"FAIL {result.severity.value}"
            lines.append(
                f"  [{mark}] {result.check.id}: {result.check.title} ({result.check.source})"
            )
            lines.append(f"      {result.evidence}")
        counts = {o: sum(r.outcome is o for r in self.results) for o in Outcome}
        worst = "none" if self.worst is None else self.worst.value
        lines.append(
            f"{counts[Outcome.PASS]} passed, {counts[Outcome.FAIL]} failed,"
            f" {counts[Outcome.SKIP]} skipped; worst: {worst}"
        )
        return "\n".join(lines)
