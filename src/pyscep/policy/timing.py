"""Client side: is renewal due? (what OpenCA's CertMonitor did from cron)

Pure: `now` is a parameter and the optional jitter is derived from the
certificate itself, so a fleet of clients spreads out without any hidden
random source and the same inputs always give the same answer.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pyscep.certificate import Certificate
from pyscep.enums import MessageType
from pyscep.errors import PolicyConfigError

__all__ = ["RenewalCheck", "RenewalState", "RenewalThresholds", "check_renewal"]


class RenewalState(enum.IntEnum):
    """Ordered: a later time never gives an earlier state."""

    NOT_DUE = 0
    DUE = 1
    OVERDUE = 2
    EXPIRED = 3


@dataclass(frozen=True)
class RenewalThresholds:
    """Renew when less than ``days`` or ``percent`` of the lifetime remains (whichever
    comes first); ``jitter`` moves the renewal time earlier by up to that much.

    OVERDUE means less than half of the renewal window is left.
    """

    days: float | None = 30
    percent: float | None = 20
    jitter: timedelta = timedelta(0)
    retry_interval: timedelta = timedelta(hours=12)

    def __post_init__(self) -> None:
        if self.days is None and self.percent is None:
            raise PolicyConfigError("give renewal thresholds in days, percent or both")
        if self.percent is not None and not 0 < self.percent < 100:
            raise PolicyConfigError("percent must be between 0 and 100")
        if (self.days is not None and self.days < 0) or self.jitter < timedelta(0):
            raise PolicyConfigError("thresholds cannot be negative")


@dataclass(frozen=True)
class RenewalCheck:
    """The answer: the state, when renewal starts, when to check next, and how to ask."""

    state: RenewalState
    renew_at: datetime
    next_check: datetime
    #: RenewalReq when the CA advertises "Renewal", otherwise a PKCSReq signed
    #: with the old certificate (what sscep, jscep and certmonger do).
    request_type: MessageType


def check_renewal(
    certificate: Certificate,
    thresholds: RenewalThresholds,
    *,
    now: datetime,
    ca_capabilities: Iterable[str] = (),
) -> RenewalCheck:
    """Where ``certificate`` stands at ``now``."""
    start, end = certificate.not_valid_before, certificate.not_valid_after
    lifetime = end - start
    leads = []
    if thresholds.days is not None:
        leads.append(timedelta(days=thresholds.days))
    if thresholds.percent is not None:
        leads.append(lifetime * (thresholds.percent / 100))
    lead = min(max(leads), lifetime)
    if thresholds.jitter:
        fraction = int.from_bytes(hashlib.sha256(certificate.der).digest()[:8], "big") / 2**64
        lead = min(lead + thresholds.jitter * fraction, lifetime)
    renew_at = end - lead
    overdue_at = renew_at + lead / 2
    if now >= end:
        state = RenewalState.EXPIRED
    elif now >= overdue_at:
        state = RenewalState.OVERDUE
    elif now >= renew_at:
        state = RenewalState.DUE
    else:
        state = RenewalState.NOT_DUE
    if state is RenewalState.NOT_DUE:
        next_check = renew_at
    else:
        next_check = now + thresholds.retry_interval
        if state is not RenewalState.EXPIRED:
            next_check = min(next_check, max(now, end - (end - now) / 2))
    renewal = any(c.strip().lower() == "renewal" for c in ca_capabilities)
    return RenewalCheck(
        state=state,
        renew_at=renew_at,
        next_check=next_check,
        request_type=MessageType.RENEWAL_REQ if renewal else MessageType.PKCS_REQ,
    )
