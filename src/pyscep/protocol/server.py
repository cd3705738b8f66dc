"""The sans-IO SCEP responder: one HTTP request in, exactly one event out.

The application hands `ScepResponder.receive` what arrived (method, path,
query, body). Everything SCEP is done here: the operation is
read from the HTTP values, the pkiMessage is parsed, verified, checked
against the message types the application handles (default deny), decrypted
and checked for a requester pyscep can answer. What is left is the
application's decision, asked for with an event:

- `Answered`: nothing to decide (capabilities, CA certificates, a poll, a
  re-sent request, an HTTP 400, a FAILURE the responder owes the client);
  send ``event.response``;
- `EnrollmentRequested` (PKCSReq, RenewalReq, and draft-era renewals: a
  PKCSReq signed with an existing certificate): call `issue`, `pending` or
  `reject`;
- `PollRequested` (CertPoll for a PENDING transaction, from the key that
  asked): call `issue`, `pending` or `reject` (polls of issued or rejected
  transactions are answered from the store);
- `CertificateRequested` (GetCert) and `CrlRequested` (GetCRL), only when
  the application said it handles them: call `send_certificates`,
  `send_crl` or `reject`.

Every failure after the request's signature checked out is a signed CertRep
FAILURE with its failInfo, never an HTTP 500; input that is no pkiMessage is
an HTTP 400. Transactions live in a `TransactionStore` so that a re-sent
PKCSReq or CertPoll for an issued transaction gets the same certificate back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from pyscep.algorithms import DEFAULT_POLICY, AlgorithmPolicy
from pyscep.certificate import Certificate
from pyscep.cms.degenerate import build_certs_only
from pyscep.cms.enveloped import recipient_problem, signature_only
from pyscep.crypto import Decrypter, Signer, get_backend
from pyscep.enums import CACapability, FailInfo, MessageType
from pyscep.errors import LocalProtocolError, RemoteProtocolError, ScepError
from pyscep.findings import Finding
from pyscep.http import (
    CONTENT_TYPE_CA_RA_CERT,
    CONTENT_TYPE_CAPS,
    CONTENT_TYPE_NEXT_CA_CERT,
    CONTENT_TYPE_PKI_MESSAGE,
    HttpResponse,
    Operation,
    read_request,
)
from pyscep.messages import (
    CACaps,
    CertificationRequest,
    IssuerAndSerial,
    IssuerAndSubject,
    MessageOptions,
    PKIMessage,
    ReplyTo,
    build_ca_certificates,
    build_cert_rep_failure,
    build_cert_rep_pending,
    build_cert_rep_success,
    decrypt_pki_message,
    parse_pki_message,
    policy_request_view,
    verify_request,
)
from pyscep.policy import RequestView
from pyscep.protocol.challenges import (
    ChallengeChecker,
    ChallengeVerdict,
    StaticChallenge,
    challenge_findings,
)
from pyscep.protocol.profiles import STRICT, CACertificatesShape, InteropProfile
from pyscep.protocol.transactions import (
    InMemoryTransactions,
    Transaction,
    TransactionState,
    TransactionStore,
)

__all__ = [
    "Answered",
    "CertificateRequested",
    "CrlRequested",
    "Enrollment",
    "EnrollmentRequested",
    "PollRequested",
    "ResponderConfig",
    "ScepResponder",
    "ServerEvent",
]

#: Message types answered by default; anything else is refused (default deny).
_ENROLLMENT = frozenset({MessageType.PKCS_REQ, MessageType.RENEWAL_REQ, MessageType.CERT_POLL})


@dataclass(frozen=True)
class ResponderConfig:
    """Who the responder is and what it answers.

    ``signer`` signs CertReps and ``decrypter`` opens requests: the CA's key,
    or RA keys (``ra_certificates`` are then sent with the CA certificate).
    ``handled`` is the allowlist of message types the application decides
    on; ``next_ca_certificates`` is a ready GetNextCACert body.
    """

    ca_certificate: Certificate
    signer: Signer
    decrypter: Decrypter
    ra_certificates: tuple[Certificate, ...] = ()
    #: The dialect spoken: capabilities, GetCACert shape, CertRep details.
    profile: InteropProfile = STRICT
    #: The capabilities advertised, if not the profile's.
    caps: CACaps | None = None
    algorithms: AlgorithmPolicy = DEFAULT_POLICY
    handled: frozenset[MessageType] = _ENROLLMENT
    challenge: ChallengeChecker | None = None
    next_ca_certificates: bytes | None = None
    #: The application's decision from a PKCSReq's or RenewalReq's signer alone, before
    #: its envelope is opened (e.g. with `pyscep.policy.decide_before_decrypting`): a
    #: (failInfo, failInfoText) refuses it there.
    before_decrypt: Callable[[PKIMessage], tuple[FailInfo, str] | None] | None = None


@dataclass(frozen=True)
class Answered:
    """Nothing for the application to decide: send ``response`` (``reason`` is for logs)."""

    response: HttpResponse
    reason: str


@dataclass(frozen=True)
class EnrollmentRequested:
    """A verified, decrypted PKCSReq or RenewalReq: issue, leave pending, or reject."""

    transaction_id: str
    message_type: MessageType
    request: CertificationRequest
    #: The certificate that signed the request (self-signed for a first enrollment).
    signer_certificate: Certificate
    #: The challenge checker's verdict (None without a checker or a password).
    challenge_ok: bool | None
    #: Why (what a FAILURE's failInfoText can say).
    challenge_reason: str
    #: What the challengePassword may break on some clients (not a PrintableString...).
    challenge_findings: tuple[Finding, ...]
    #: Signed with a certificate rather than a throw-away self-signed one.
    renewal: bool
    #: What `pyscep.policy.evaluate` decides on.
    policy_view: RequestView
    #: The verified request itself (its algorithms, findings, attributes).
    message: PKIMessage = field(repr=False)
    reply_to: ReplyTo = field(repr=False)


@dataclass(frozen=True)
class PollRequested:
    """CertPoll for a transaction still PENDING: issue it now, keep it pending, or reject."""

    transaction_id: str
    transaction: Transaction
    #: The PKCS#10 request of the transaction, parsed (what an approver issues from).
    request: CertificationRequest
    #: The verified CertPoll (or re-sent PKCSReq).
    message: PKIMessage = field(repr=False)
    reply_to: ReplyTo = field(repr=False)


@dataclass(frozen=True)
class _Lookup:
    """A request about an existing certificate, named by issuer and serial number."""

    transaction_id: str
    wanted: IssuerAndSerial
    signer_certificate: Certificate
    reply_to: ReplyTo = field(repr=False)


@dataclass(frozen=True)
class CertificateRequested(_Lookup):
    """GetCert: the certificate named by ``wanted``."""


@dataclass(frozen=True)
class CrlRequested(_Lookup):
    """GetCRL: the CRL covering the certificate named by ``wanted``."""


ServerEvent = Answered | EnrollmentRequested | PollRequested | CertificateRequested | CrlRequested
#: The events that are about one enrollment transaction.
Enrollment = EnrollmentRequested | PollRequested


def _pki(body: bytes) -> HttpResponse:
    return HttpResponse(200, CONTENT_TYPE_PKI_MESSAGE, body)


def _bad_request(reason: str) -> Answered:
    return Answered(HttpResponse(400, "text/plain", b"bad request\n"), reason)


class ScepResponder:
    """The server side of SCEP for one CA (or one route), sans I/O."""

    def __init__(self, config: ResponderConfig, store: TransactionStore | None = None) -> None:
        self.config = config
        self.store: TransactionStore = store if store is not None else InMemoryTransactions()
        profile = config.profile
        self._reply_options = MessageOptions(
            absent_econtent=not profile.empty_econtent,
            rsa_digest_in_signature_oid=profile.rsa_digest_in_signature_oid,
        )

    # --- in --------------------------------------------------------------------

    def receive(self, method: str, path: str, query: str, body: bytes = b"") -> ServerEvent:
        """One request in, one event out; never raises for what a client sent."""
        try:
            incoming = read_request(method, path, query, body)
        except RemoteProtocolError as exc:
            return _bad_request(f"not a SCEP request: {exc}")
        profile = self.config.profile
        if incoming.operation is Operation.GET_CA_CAPS:
            caps = self.config.caps or profile.advertised_caps
            # A next CA is on offer: say so, or RFC 8894 clients never ask for it.
            offered = self.config.next_ca_certificates is not None
            if offered and CACapability.GET_NEXT_CA_CERT not in caps:
                caps = replace(caps, keywords=(*caps.keywords, "GetNextCACert"))
            return Answered(HttpResponse(200, CONTENT_TYPE_CAPS, caps.dump()), "caps")
        if incoming.operation is Operation.GET_CA_CERT:
            ca, ras = self.config.ca_certificate, self.config.ra_certificates
            if ras or profile.ca_certificates is CACertificatesShape.DER_CA:
                der, content_type = build_ca_certificates(ca, ras)
            else:
                # The CA alone, as a certs-only SignedData (some clients want that shape).
                der, content_type = build_certs_only([ca]), CONTENT_TYPE_CA_RA_CERT
            return Answered(HttpResponse(200, content_type, der), "CA certificates")
        if incoming.operation is Operation.GET_NEXT_CA_CERT:
            if self.config.next_ca_certificates is None:
                return Answered(HttpResponse(404, "text/plain", b"no next CA\n"), "no next CA")
            body = self.config.next_ca_certificates
            return Answered(HttpResponse(200, CONTENT_TYPE_NEXT_CA_CERT, body), "next CA")
        assert incoming.message is not None  # read_request guarantees it for PKIOperation
        return self._pki_operation(incoming.message)

    def _pki_operation(self, der: bytes) -> ServerEvent:
        try:
            message = verify_request(parse_pki_message(der), algorithms=self.config.algorithms)
        except ScepError as exc:
            if exc.reply_to is None:
                return _bad_request(f"unreadable pkiMessage: {exc}")
            return self._failure(exc.reply_to, _fail_info(exc), f"refused: {exc}")
        reply_to = ReplyTo.of(message)
        kind = message.message_type
        if kind not in self.config.handled:
            # Default deny: a type the application did not take on is refused,
            # before its content is even decrypted.
            return self._failure(reply_to, FailInfo.BAD_REQUEST, f"{kind.rfc_name} not handled")
        problem = recipient_problem(
            message.signer_certificate, backend=get_backend(), algorithms=self.config.algorithms
        )
        if problem is not None and not signature_only(message.signer_certificate):
            # A CertRep SUCCESS is enveloped to the requester's key: refuse before the
            # application decides, rather than issue a certificate nobody can read.
            # (A key that only signs is answered with its challengePassword.)
            return self._failure(reply_to, FailInfo.BAD_ALG, "no reply can be protected", problem)
        if kind.carries_csr and self.config.before_decrypt is not None:
            refusal = self.config.before_decrypt(message)
            if refusal is not None:
                fail_info, text = refusal
                return self._failure(reply_to, fail_info, "refused before decrypting", text)
        try:
            content = decrypt_pki_message(
                message, self.config.decrypter, password=self._request_password()
            )
        except ScepError as exc:
            return self._failure(reply_to, _fail_info(exc), f"refused: {exc}")
        if isinstance(content, CertificationRequest):
            return self._enrollment(message, content, reply_to)
        if isinstance(content, IssuerAndSubject):
            return self._poll(message, reply_to)
        if isinstance(content, IssuerAndSerial):
            event = CertificateRequested if kind is MessageType.GET_CERT else CrlRequested
            return event(reply_to.transaction_id, content, message.signer_certificate, reply_to)
        return self._failure(reply_to, FailInfo.BAD_REQUEST, "unexpected content")

    def _request_password(self) -> bytes | None:
        """What opens a request enveloped by password only: the static challenge, if that."""
        checker = self.config.challenge
        return checker.secret.encode() if isinstance(checker, StaticChallenge) else None

    def _enrollment(
        self,
        message: PKIMessage,
        request: CertificationRequest,
        reply_to: ReplyTo,
    ) -> ServerEvent:
        if signature_only(message.signer_certificate):
            if request.challenge_password is None:
                return self._failure(
                    reply_to,
                    FailInfo.BAD_ALG,
                    "a key that only signs, without a challengePassword",
                    "a key that only signs needs a challengePassword in its CSR: the CertRep"
                    " is enveloped with it (RFC 8894 section 3.1)",
                )
            reply_to = replace(reply_to, password=request.challenge_password.encode())
        known = self.store.get(reply_to.transaction_id)
        if known is not None:
            if known.requester_key != request.public_key_der:
                return self._failure(
                    reply_to, FailInfo.BAD_REQUEST, "transactionID in use for another key"
                )
            if known.state is TransactionState.PENDING:
                # A re-sent PKCSReq is how draft-era clients poll.
                return PollRequested(reply_to.transaction_id, known, request, message, reply_to)
            return self._from_store(known, reply_to, "re-sent request")
        checker = self.config.challenge
        verdict = (
            ChallengeVerdict(None, "no challenge checker")
            if checker is None
            else checker.check(request.challenge_password, request)
        )
        challenge_ok = verdict.ok
        signer = message.signer_certificate
        renewal = message.message_type is MessageType.RENEWAL_REQ or not signer.self_signed
        return EnrollmentRequested(
            transaction_id=reply_to.transaction_id,
            message_type=message.message_type,
            request=request,
            signer_certificate=signer,
            challenge_ok=challenge_ok,
            challenge_reason=verdict.reason,
            challenge_findings=challenge_findings(request),
            renewal=renewal,
            policy_view=policy_request_view(message, request, challenge_ok=challenge_ok),
            message=message,
            reply_to=reply_to,
        )

    def _poll(self, message: PKIMessage, reply_to: ReplyTo) -> ServerEvent:
        known = self.store.get(reply_to.transaction_id)
        # The poll must come from the key that asked (catalog #65, #68).
        if known is None or known.requester_key != message.signer_certificate.public_key_der:
            return self._failure(reply_to, FailInfo.BAD_CERT_ID, "no such transaction")
        stored_password = CertificationRequest.load(known.csr).challenge_password
        if signature_only(message.signer_certificate) and stored_password is not None:
            reply_to = replace(reply_to, password=stored_password.encode())
        if known.state is TransactionState.PENDING:
            request = CertificationRequest.load(known.csr)
            return PollRequested(reply_to.transaction_id, known, request, message, reply_to)
        return self._from_store(known, reply_to, "poll")

    def _from_store(self, known: Transaction, reply_to: ReplyTo, why: str) -> Answered:
        if known.state is TransactionState.ISSUED:
            certificates = [Certificate.load(der) for der in known.certificates]
            body = build_cert_rep_success(
                reply_to, certificates, signer=self.config.signer, options=self._reply_options
            )
            return Answered(_pki(body), f"{why}: already issued")
        if known.state is TransactionState.REJECTED:
            fail_info = known.fail_info or FailInfo.BAD_REQUEST
            return self._failure(reply_to, fail_info, f"{why}: rejected before")
        body = build_cert_rep_pending(
            reply_to, signer=self.config.signer, options=self._reply_options
        )
        return Answered(_pki(body), f"{why}: still pending")

    def _failure(
        self, reply_to: ReplyTo, fail_info: FailInfo, reason: str, text: str | None = None
    ) -> Answered:
        body = build_cert_rep_failure(
            reply_to, fail_info, text, signer=self.config.signer, options=self._reply_options
        )
        return Answered(_pki(body), reason)

    # --- out: the application's decisions ------------------------------------------

    def issue(
        self,
        event: Enrollment,
        certificate: Certificate,
        *,
        chain: Sequence[Certificate] = (),
        now: datetime,
    ) -> HttpResponse:
        """Answer SUCCESS with ``certificate`` (for the request's key) and ``chain``.

        If another worker already answered this transaction, its certificate
        is sent instead: one transaction, one certificate.
        """
        if certificate.public_key_der != event.request.public_key_der:
            raise LocalProtocolError("the certificate is not for the requested key")
        stored = self.store.record(
            Transaction(
                event.transaction_id,
                event.request.public_key_der,
                TransactionState.ISSUED,
                event.request.der,
                tuple(c.der for c in (certificate, *chain)),
                updated=now,
            )
        )
        return self._from_store(stored, event.reply_to, "issued").response

    def pending(self, event: Enrollment, *, now: datetime) -> HttpResponse:
        """Answer PENDING; approve later with `approve` (or `deny`), the client polls."""
        stored = self.store.record(
            Transaction(
                event.transaction_id,
                event.request.public_key_der,
                TransactionState.PENDING,
                event.request.der,
                updated=now,
            )
        )
        return self._from_store(stored, event.reply_to, "pending").response

    def reject(
        self,
        event: Enrollment | CertificateRequested | CrlRequested,
        fail_info: FailInfo,
        *,
        now: datetime,
        text: str | None = None,
    ) -> HttpResponse:
        """Answer FAILURE with ``fail_info`` (and ``text`` as failInfoText: keep it generic).

        A rejected poll ends its transaction (later polls get the same
        FAILURE). A rejected new request is not remembered: the same key may
        ask again (a mistyped challenge must not lock it out for good).
        """
        if isinstance(event, PollRequested):
            self.store.record(
                Transaction(
                    event.transaction_id,
                    event.request.public_key_der,
                    TransactionState.REJECTED,
                    event.request.der,
                    fail_info=fail_info,
                    updated=now,
                )
            )
        return self._failure(event.reply_to, fail_info, "rejected", text).response

    def send_certificates(
        self, event: CertificateRequested, certificates: Sequence[Certificate]
    ) -> HttpResponse:
        """Answer a GetCert with the certificate(s) found."""
        body = build_cert_rep_success(
            event.reply_to, certificates, signer=self.config.signer, options=self._reply_options
        )
        return _pki(body)

    def send_crl(self, event: CrlRequested, crl: bytes) -> HttpResponse:
        """Answer a GetCRL with a DER CRL."""
        body = build_cert_rep_success(
            event.reply_to, crls=[crl], signer=self.config.signer, options=self._reply_options
        )
        return _pki(body)

    def approve(
        self,
        transaction_id: str,
        certificate: Certificate,
        *,
        chain: Sequence[Certificate] = (),
        now: datetime,
    ) -> Transaction:
        """Issue a PENDING transaction (manual approval); the next CertPoll gets it."""
        known = self._pending(transaction_id)
        if certificate.public_key_der != known.requester_key:
            raise LocalProtocolError("the certificate is not for the requested key")
        return self.store.record(
            Transaction(
                transaction_id,
                known.requester_key,
                TransactionState.ISSUED,
                known.csr,
                tuple(c.der for c in (certificate, *chain)),
                updated=now,
            )
        )

    def deny(self, transaction_id: str, fail_info: FailInfo, *, now: datetime) -> Transaction:
        """Reject a PENDING transaction; the next CertPoll gets FAILURE."""
        known = self._pending(transaction_id)
        return self.store.record(
            Transaction(
                transaction_id,
                known.requester_key,
                TransactionState.REJECTED,
                known.csr,
                fail_info=fail_info,
                updated=now,
            )
        )

    def _pending(self, transaction_id: str) -> Transaction:
        known = self.store.get(transaction_id)
        if known is None or known.state is not TransactionState.PENDING:
            raise LocalProtocolError(f"no pending transaction {transaction_id!r}")
        return known


def _fail_info(error: ScepError) -> FailInfo:
    return error.fail_info if error.fail_info is not None else FailInfo.BAD_REQUEST
