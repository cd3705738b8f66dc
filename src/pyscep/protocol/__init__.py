"""The protocol layer: sans-IO SCEP server and client, on the message layer.

- `pyscep.protocol.client`: `ScepClient`, the client's state machine;
- `pyscep.protocol.server`: `ScepResponder`, one HTTP request in, one event out;
- `pyscep.protocol.config`: what the application configures both with, as values
  (`PollSchedule`, `ResponderConfig`, `CertificateIssuer`);
- `pyscep.protocol.events`: what both tell the application, as frozen values;
- `pyscep.protocol.transactions`: what a server remembers, and its lifecycle table;
- `pyscep.protocol.challenges`: challenge passwords, static, one-time or the application's;
- `pyscep.protocol.profiles`: how real peers differ, as named values.

Every public name of those modules is importable from here too. The machines'
steps sit beside them in private modules: `_client_state` (the client's states
and table), `_client_requests` and `_client_replies` (what it sends, how it
reads the answers), `_server_requests` and `_server_replies` (what the
responder reads from a request, the CertReps it answers with).
"""

from __future__ import annotations

from pyscep._deprecation import renamed
from pyscep.protocol.challenges import (
    CHALLENGE_ALPHABET,
    MIN_CHALLENGE_LENGTH,
    CallbackChallenge,
    ChallengeChecker,
    ChallengeOutcome,
    ChallengeStore,
    ChallengeVerdict,
    Consumed,
    InMemoryChallenges,
    IssuedChallenge,
    OneTimeChallenges,
    StaticChallenge,
    TransactionChallengeChecker,
    challenge_digest,
    challenge_findings,
    decide_consumption,
    new_challenge,
    require_secret,
)
from pyscep.protocol.client import ClientState, ScepClient
from pyscep.protocol.config import CertificateIssuer, PollSchedule, ResponderConfig
from pyscep.protocol.events import (
    Answered,
    CACertificatesReceived,
    CapabilitiesReceived,
    CertificateIssued,
    CertificateRefused,
    CertificateRequested,
    CertificatesReceived,
    ClientEvent,
    CRLReceived,
    CRLRequested,
    Enrollment,
    EnrollmentRequested,
    NextCAReceived,
    PollRequested,
    ProtocolFailed,
    ReplyUnreadable,
    RequestPending,
    RequestRejected,
    ServerEvent,
    VerifiedRenewal,
)
from pyscep.protocol.profiles import (
    APPLE,
    CISCO_IOS,
    DEFAULT_CAPS,
    DRAFT,
    MICROMDM,
    MIKROTIK,
    NDES,
    POST_QUANTUM,
    PROFILES,
    STRICT,
    WINDOWS,
    CACertificatesShape,
    InteropProfile,
    Renewal,
)
from pyscep.protocol.server import ScepResponder
from pyscep.protocol.transactions import (
    CLAIM_LEASE,
    TRANSITIONS,
    Act,
    Awaiting,
    InMemoryTransactions,
    IssuedCertificate,
    Phase,
    Recorded,
    Transaction,
    TransactionState,
    TransactionStore,
    certificate_fingerprint,
    claim_is_stale,
    deny,
    resolve,
)

__all__ = [
    "APPLE",
    "CHALLENGE_ALPHABET",
    "CISCO_IOS",
    "CLAIM_LEASE",
    "DEFAULT_CAPS",
    "DRAFT",
    "MICROMDM",
    "MIKROTIK",
    "MIN_CHALLENGE_LENGTH",
    "NDES",
    "POST_QUANTUM",
    "PROFILES",
    "STRICT",
    "TRANSITIONS",
    "WINDOWS",
    "Act",
    "Answered",
    "Awaiting",
    "CACertificatesReceived",
    "CACertificatesShape",
    "CRLReceived",
    "CRLRequested",
    "CallbackChallenge",
    "CapabilitiesReceived",
    "CertificateIssued",
    "CertificateIssuer",
    "CertificateRefused",
    "CertificateRequested",
    "CertificatesReceived",
    "ChallengeChecker",
    "ChallengeOutcome",
    "ChallengeStore",
    "ChallengeVerdict",
    "ClientEvent",
    "ClientState",
    "Consumed",
    "Enrollment",
    "EnrollmentRequested",
    "InMemoryChallenges",
    "InMemoryTransactions",
    "InteropProfile",
    "IssuedCertificate",
    "IssuedChallenge",
    "NextCAReceived",
    "OneTimeChallenges",
    "Phase",
    "PollRequested",
    "PollSchedule",
    "ProtocolFailed",
    "Recorded",
    "Renewal",
    "ReplyUnreadable",
    "RequestPending",
    "RequestRejected",
    "ResponderConfig",
    "ScepClient",
    "ScepResponder",
    "ServerEvent",
    "StaticChallenge",
    "Transaction",
    "TransactionChallengeChecker",
    "TransactionState",
    "TransactionStore",
    "VerifiedRenewal",
    "certificate_fingerprint",
    "challenge_digest",
    "challenge_findings",
    "claim_is_stale",
    "decide_consumption",
    "deny",
    "new_challenge",
    "require_secret",
    "resolve",
]


#: Old spellings, before one acronym style (all capitals, as in PKIMessage and CACaps).
_RENAMES = {"CrlReceived": "CRLReceived", "CrlRequested": "CRLRequested"}


def __getattr__(name: str) -> object:
    """The deprecated spellings (`CrlReceived`, `CrlRequested`), for one release."""
    return renamed(__name__, name, _RENAMES, globals())
