"""What the client and the responder tell the application: events, as frozen values.

Every event is frozen, slotted and keyword-only: an event is a fact, built by
the protocol layer and read by the application. `ClientEvent` is what
`ScepClient.receive` returns, `ServerEvent` what `ScepResponder.receive` returns.
(Also importable from `pyscep.protocol.client` and `pyscep.protocol.server`.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pyscep._deprecation import renamed
from pyscep.certificate import Certificate
from pyscep.enums import FailInfo, MessageType, PKIStatus
from pyscep.errors import ScepError
from pyscep.findings import Finding
from pyscep.http import HTTPResponse
from pyscep.messages import (
    CACaps,
    CACertificates,
    CertificationRequest,
    IssuerAndSerial,
    Negotiated,
    PKIMessage,
    ReplyTo,
)
from pyscep.policy import ChallengeVerdict, RequestView
from pyscep.protocol.transactions import Transaction

__all__ = [
    "Answered",
    "CACertificatesReceived",
    "CRLReceived",
    "CRLRequested",
    "CapabilitiesReceived",
    "CertificateIssued",
    "CertificateRefused",
    "CertificateRequested",
    "CertificatesReceived",
    "ClientEvent",
    "Enrollment",
    "EnrollmentRequested",
    "NextCAReceived",
    "PollRequested",
    "ProtocolFailed",
    "ReplyUnreadable",
    "RequestPending",
    "RequestRejected",
    "ServerEvent",
    "VerifiedRenewal",
]

# --- the client's events -------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CapabilitiesReceived:
    """GetCACaps answered; ``negotiated`` is what requests will use (None if nothing fits).

    A CA that does not answer GetCACaps (HTTP 404, an empty body) has no
    capabilities: RFC 8894 section 3.5.1 then assumes the draft baseline (MD5,
    single DES, GET), which only a legacy policy (`pyscep.LEGACY`) agrees to.
    """

    caps: CACaps
    negotiated: Negotiated | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CACertificatesReceived:
    """GetCACert answered: the CA, where to encrypt, who may sign replies, and why."""

    certificates: CACertificates


@dataclass(frozen=True, slots=True, kw_only=True)
class NextCAReceived:
    """GetNextCACert answered, verified against the current CA: the rollover chain."""

    certificates: tuple[Certificate, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateIssued:
    """SUCCESS: the certificate for the requested key, and any chain sent with it."""

    certificate: Certificate
    chain: tuple[Certificate, ...]
    transaction_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateRefused:
    """SUCCESS, but the certificate is not the one asked for: ``reason`` says why.

    Not for the requested key, not signed by the CA of GetCACert, not valid
    at ``now``, or (unless ``allow_subject_rewrite``) for another subject.
    The CA has issued it: poll or resume the transaction, never enroll again.
    """

    certificate: Certificate
    reason: str
    transaction_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificatesReceived:
    """GetCert SUCCESS."""

    certificates: tuple[Certificate, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CRLReceived:
    """GetCRL SUCCESS: DER CRLs."""

    crls: tuple[bytes, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestPending:
    """PENDING: call `ScepClient.poll` at ``poll_at`` (or give up after ``give_up_at``)."""

    transaction_id: str
    poll_at: datetime
    give_up_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRejected:
    """FAILURE: the CA said no, and why."""

    transaction_id: str
    fail_info: FailInfo
    fail_info_text: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyUnreadable:
    """SUCCESS, but the reply uses algorithms the client's policy refuses.

    The certificate exists on the CA: ``reply`` is kept so that
    `ScepClient.reopen` with a policy that allows them can still read it.
    """

    reply: bytes
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolFailed:
    """The reply broke the protocol; the client is FAILED."""

    reason: str
    error: ScepError = field(repr=False)


ClientEvent = (
    CapabilitiesReceived
    | CACertificatesReceived
    | NextCAReceived
    | CertificateIssued
    | CertificateRefused
    | CertificatesReceived
    | CRLReceived
    | RequestPending
    | RequestRejected
    | ReplyUnreadable
    | ProtocolFailed
)


# --- the responder's events ------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Answered:
    """Nothing for the application to decide: send ``response`` (``reason`` is for logs).

    ``pki_status`` is the status of the CertRep sent (None when the answer is no
    CertRep: capabilities, CA certificates, an HTTP error).
    """

    response: HTTPResponse
    reason: str
    pki_status: PKIStatus | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedRenewal:
    """Proof that a request renews a certificate of this CA, checked by the responder.

    The request is signed by ``certificate``, whose signature by the CA
    verified, which is valid at the time of the request, is known to the
    store as issued (by ``transaction_id``) and not revoked; and the request
    asks for the same subject and no subjectAltName the certificate lacks.
    Only the responder makes one.
    """

    #: The existing certificate (the request's signer).
    certificate: Certificate
    #: The transaction that issued it.
    transaction_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrollmentRequested:
    """A verified, decrypted PKCSReq or RenewalReq: issue, leave pending, or reject."""

    transaction_id: str
    message_type: MessageType
    request: CertificationRequest
    #: The certificate that signed the request (self-signed for a first enrollment).
    signer_certificate: Certificate
    #: The challenge checker's verdict: ``challenge.accepted``, and ``challenge.reason``.
    challenge: ChallengeVerdict
    #: What the challengePassword may break on some clients (not a PrintableString...).
    challenge_findings: tuple[Finding, ...]
    #: The proven renewal, or None (then ``why_not_renewal`` says why).
    renewal: VerifiedRenewal | None
    #: Why the request is no verified renewal (None when it is one).
    why_not_renewal: str | None
    #: What `pyscep.policy.evaluate` decides on.
    policy_view: RequestView
    #: The verified request itself (its algorithms, findings, attributes).
    message: PKIMessage = field(repr=False)
    reply_to: ReplyTo = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class PollRequested:
    """CertPoll (or a re-sent PKCSReq) for a transaction awaiting the application's decision."""

    transaction_id: str
    transaction: Transaction
    #: The PKCS#10 request of the transaction, parsed (what an approver issues from).
    request: CertificationRequest
    #: The verified CertPoll (or re-sent PKCSReq).
    message: PKIMessage = field(repr=False)
    reply_to: ReplyTo = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Lookup:
    """A request about an existing certificate, named by issuer and serial number."""

    transaction_id: str
    wanted: IssuerAndSerial
    signer_certificate: Certificate
    reply_to: ReplyTo = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateRequested(_Lookup):
    """GetCert: the certificate named by ``wanted``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CRLRequested(_Lookup):
    """GetCRL: the CRL covering the certificate named by ``wanted``."""


ServerEvent = Answered | EnrollmentRequested | PollRequested | CertificateRequested | CRLRequested
#: The events that are about one enrollment transaction.
Enrollment = EnrollmentRequested | PollRequested

#: Old spellings, before one acronym style (all capitals, as in PKIMessage and CACaps).
_RENAMES = {"CrlReceived": "CRLReceived", "CrlRequested": "CRLRequested"}


def __getattr__(name: str) -> object:
    """The deprecated spellings (`CrlReceived`, `CrlRequested`), for one release."""
    return renamed(__name__, name, _RENAMES, globals())
