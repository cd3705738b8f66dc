"""Enrollment and renewal policy, standalone.

This package decides, and explains, what a SCEP server does with an
enrollment or renewal request (`evaluate`), and tells a client when to renew
(`check_renewal`). It imports nothing from the message layer: its inputs are
certificates, a `RequestView` the application fills in, and plain values; a
test checks that independence.
"""

from __future__ import annotations

from pyscep.policy.config import (
    EnrollmentMode,
    OutsideWindow,
    PolicyConfig,
    RequestedSid,
    parse_scep_conf,
)
from pyscep.policy.decision import Action, Classification, Decision, Outcome, TraceEntry
from pyscep.policy.evaluate import decide_before_decrypting, evaluate
from pyscep.policy.identity import DistinguishedName, NamePattern
from pyscep.policy.inputs import (
    CertificateStatus,
    ChallengeOutcome,
    ChallengeVerdict,
    InMemoryInventory,
    Inventory,
    InventoryRecord,
    PublicKeyView,
    RequestView,
    SignerView,
    inventory_from_json,
)
from pyscep.policy.timing import RenewalCheck, RenewalState, RenewalThresholds, check_renewal

__all__ = [
    "Action",
    "CertificateStatus",
    "ChallengeOutcome",
    "ChallengeVerdict",
    "Classification",
    "Decision",
    "DistinguishedName",
    "EnrollmentMode",
    "InMemoryInventory",
    "Inventory",
    "InventoryRecord",
    "NamePattern",
    "Outcome",
    "OutsideWindow",
    "PolicyConfig",
    "PublicKeyView",
    "RenewalCheck",
    "RenewalState",
    "RenewalThresholds",
    "RequestView",
    "RequestedSid",
    "SignerView",
    "TraceEntry",
    "check_renewal",
    "decide_before_decrypting",
    "evaluate",
    "inventory_from_json",
    "parse_scep_conf",
]
