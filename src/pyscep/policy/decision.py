"""The evaluator's answer: what to do, why, and with which role and RA."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pyscep.enums import FailInfo

__all__ = ["Action", "Classification", "Decision", "Outcome", "TraceEntry"]


class Action(str, enum.Enum):
    """What the server does with the request."""

    ISSUE = "ISSUE"
    PENDING = "PENDING"
    REJECT = "REJECT"


class Classification(str, enum.Enum):
    """What kind of request it turned out to be."""

    INITIAL = "initial-enrollment"
    RENEWAL = "renewal"  # same key
    REKEY = "re-key"  # renewal with a new key
    ON_BEHALF = "on-behalf"
    UNCLASSIFIED = "unclassified"


class Outcome(str, enum.Enum):
    """How one rule came out."""

    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    INFO = "info"


@dataclass(frozen=True)
class TraceEntry:
    """One rule consulted, its outcome and why."""

    rule: str
    outcome: Outcome
    detail: str

    def as_dict(self) -> dict[str, str]:
        """``{rule, outcome, detail}``."""
        return {"rule": self.rule, "outcome": self.outcome.value, "detail": self.detail}


@dataclass(frozen=True)
class Decision:
    """The decision, with every rule consulted on the way (the last one decided)."""

    action: Action
    classification: Classification
    trace: tuple[TraceEntry, ...]
    fail_info: FailInfo | None = None
    fail_info_text: str | None = None
    role: str | None = None
    ra: str | None = None
    subject_alt_names: tuple[str, ...] = ()
    #: How long the certificate is to be valid; None: the CA's default.
    validity: timedelta | None = None

    @property
    def deciding_rule(self) -> str:
        """The rule that settled the decision."""
        return self.trace[-1].rule

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: decision, classification, failInfo (name), role, ra, trace..."""
        return {
            "decision": self.action.value,
            "classification": self.classification.value,
            "failInfo": self.fail_info.rfc_name if self.fail_info is not None else None,
            "failInfoText": self.fail_info_text,
            "role": self.role,
            "ra": self.ra,
            "subjectAltNames": list(self.subject_alt_names),
            "validityDays": None if self.validity is None else self.validity.days,
            "decidingRule": self.deciding_rule,
            "trace": [entry.as_dict() for entry in self.trace],
        }
