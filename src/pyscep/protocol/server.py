"""The sans-IO SCEP responder: one HTTP request in, exactly one event out.

The application hands `ScepResponder.receive` what arrived (method, path,
query, body) and the time. Everything SCEP is done here: the operation is
read from the HTTP values, the pkiMessage is parsed, verified, checked
against the message types the application handles (default deny), decrypted
and checked for a requester pyscep can answer. What is left is the
application's decision, asked for with an event that carries only proven
facts:

- `Answered`: nothing to decide (capabilities, CA certificates, a poll, a
  re-sent request, an HTTP 400, a FAILURE the responder owes the client);
  send ``event.response``;
- `EnrollmentRequested` (PKCSReq, RenewalReq, and draft-era renewals: a
  PKCSReq signed with an existing certificate): call `issue`, `pending` or
  `reject`. ``event.challenge`` is the challenge checker's verdict (read
  ``.accepted``); ``event.renewal`` is a `VerifiedRenewal` only when the
  request is signed by a certificate this CA issued, valid now, not revoked,
  known to the store, and asks for the same identity; otherwise it is None
  and ``event.why_not_renewal`` says why;
- `PollRequested` (CertPoll, or a re-sent PKCSReq, for a transaction that
  awaits the application's fresh decision): call `issue`, `pending` or
  `reject`. A transaction held for the operator is answered PENDING until
  `approve` or `deny`;
- `CertificateRequested` (GetCert) and `CRLRequested` (GetCRL), only when
  the application said it handles them: call `send_certificates`,
  `send_crl` or `reject`.

Every failure after the request's signature checked out is a signed CertRep
FAILURE with its failInfo, never an HTTP 500; input that is no pkiMessage is
an HTTP 400. Transactions live in a `TransactionStore` and change only as
`pyscep.protocol.transactions.resolve` allows: a decision stays decided, a
transaction belongs to the keys that opened it, and a certificate is signed
once per transaction (`issue` claims the transaction before it asks the
application's issuer to sign). Whether a poll is the application's turn is
the table's answer too. The events are defined in `pyscep.protocol.events`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from pyscep._deprecation import renamed
from pyscep.algorithms import DEFAULT_POLICY, AlgorithmPolicy
from pyscep.certificate import Certificate
from pyscep.cms.degenerate import build_certs_only
from pyscep.cms.enveloped import recipient_problem, signature_only
from pyscep.crypto import Decrypter, Signer, get_backend
from pyscep.crypto.signed_object import is_issued_by
from pyscep.enums import CACapability, FailInfo, MessageType, PKIStatus
from pyscep.errors import LocalProtocolError, ParseError, RemoteProtocolError, ScepError
from pyscep.http import (
    CONTENT_TYPE_CA_RA_CERT,
    CONTENT_TYPE_CAPS,
    CONTENT_TYPE_NEXT_CA_CERT,
    CONTENT_TYPE_PKI_MESSAGE,
    HTTPResponse,
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
from pyscep.policy import DistinguishedName
from pyscep.protocol.challenges import (
    ChallengeChecker,
    ChallengeVerdict,
    StaticChallenge,
    challenge_findings,
)
from pyscep.protocol.events import (
    Answered,
    CertificateRequested,
    CRLRequested,
    Enrollment,
    EnrollmentRequested,
    PollRequested,
    ServerEvent,
    VerifiedRenewal,
)
from pyscep.protocol.profiles import STRICT, CACertificatesShape, InteropProfile
from pyscep.protocol.transactions import (
    Act,
    Awaiting,
    InMemoryTransactions,
    Transaction,
    TransactionState,
    TransactionStore,
    deny,
    resolve,
)

__all__ = [
    "Answered",
    "CRLRequested",
    "CertificateIssuer",
    "CertificateRequested",
    "Enrollment",
    "EnrollmentRequested",
    "PollRequested",
    "ResponderConfig",
    "ScepResponder",
    "ServerEvent",
    "VerifiedRenewal",
]

#: Message types answered by default; anything else is refused (default deny).
_ENROLLMENT = frozenset({MessageType.PKCS_REQ, MessageType.RENEWAL_REQ, MessageType.CERT_POLL})


# Slotted, but positional as well: deployments spell it ResponderConfig(ca, signer, decrypter).
@dataclass(frozen=True, slots=True)
class ResponderConfig:
    """Who the responder is and what it answers.

    ``signer`` signs CertReps and ``decrypter`` opens requests: the CA's key,
    or RA keys (``ra_certificates`` are then sent with the CA certificate).
    ``handled`` is the allowlist of message types the application decides
    on; ``next_ca_certificates`` is a ready GetNextCACert body. Without a
    ``challenge`` checker no challenge is ever accepted.
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
    #: SHA-256 fingerprints of certificates (RAs of other CAs) that may sign requests
    #: for keys other than their own; this CA's certificates may anyway.
    trusted_signers: frozenset[bytes] = frozenset()


class CertificateIssuer(Protocol):
    """What signs a certificate for a request: the application's CA (a file, an HSM...)."""

    def issue(self, request: CertificationRequest, *, now: datetime) -> Certificate:
        """A certificate for ``request``'s key."""
        ...


def _pki(body: bytes) -> HTTPResponse:
    return HTTPResponse(200, CONTENT_TYPE_PKI_MESSAGE, body)


def _bad_request(reason: str) -> Answered:
    return Answered(response=HTTPResponse(400, "text/plain", b"bad request\n"), reason=reason)


def _opening(
    transaction_id: str, request: CertificationRequest, signer: Certificate
) -> Transaction:
    """The transaction a request opens: bound to its CSR and to the key that signed it."""
    requested, signing = request.public_key_der, signer.public_key_der
    return Transaction(
        transaction_id,
        requested,
        TransactionState.PENDING,
        request.der,
        signer_key=b"" if signing == requested else signing,
    )


def _opened_by(event: Enrollment) -> Transaction:
    """The transaction as the event's requester opens (or opened) it."""
    if isinstance(event, PollRequested):
        return event.transaction
    opened = _opening(event.transaction_id, event.request, event.signer_certificate)
    if event.renewal is not None:
        return replace(opened, renews=event.renewal.certificate.sha256_fingerprint)
    return opened


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

    def receive(
        self, method: str, path: str, query: str, body: bytes = b"", *, now: datetime
    ) -> ServerEvent:
        """One request in, one event out; never raises for what a client sent.

        ``now`` is when it arrived: the time a renewal's certificate must be valid at.
        """
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
            return Answered(
                response=HTTPResponse(200, CONTENT_TYPE_CAPS, caps.dump()), reason="caps"
            )
        if incoming.operation is Operation.GET_CA_CERT:
            ca, ras = self.config.ca_certificate, self.config.ra_certificates
            if ras or profile.ca_certificates is CACertificatesShape.DER_CA:
                der, content_type = build_ca_certificates(ca, ras)
            else:
                # The CA alone, as a certs-only SignedData (some clients want that shape).
                der, content_type = build_certs_only([ca]), CONTENT_TYPE_CA_RA_CERT
            return Answered(response=HTTPResponse(200, content_type, der), reason="CA certificates")
        if incoming.operation is Operation.GET_NEXT_CA_CERT:
            if self.config.next_ca_certificates is None:
                no_next = HTTPResponse(404, "text/plain", b"no next CA\n")
                return Answered(response=no_next, reason="no next CA")
            body = self.config.next_ca_certificates
            return Answered(
                response=HTTPResponse(200, CONTENT_TYPE_NEXT_CA_CERT, body), reason="next CA"
            )
        assert incoming.message is not None  # read_request guarantees it for PKIOperation
        return self._pki_operation(incoming.message, now)

    def _pki_operation(self, der: bytes, now: datetime) -> ServerEvent:
        try:
            message = verify_request(parse_pki_message(der), algorithms=self.config.algorithms)
        except ScepError as exc:
            answer_to = ReplyTo.of_error(exc)
            if answer_to is None:
                return _bad_request(f"unreadable pkiMessage: {exc}")
            return self._failure(answer_to, _fail_info(exc), f"refused: {exc}")
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
                return self._failure(
                    reply_to, fail_info, f"refused before decrypting: {text}", text
                )
        try:
            content = decrypt_pki_message(
                message, self.config.decrypter, password=self._request_password()
            )
        except ScepError as exc:
            return self._failure(reply_to, _fail_info(exc), f"refused: {exc}")
        try:
            # What the client sent is read further while it is judged (the signer's names,
            # the CSR's subject): anything unreadable there is a FAILURE, never a raise.
            if isinstance(content, CertificationRequest):
                return self._enrollment(message, content, reply_to, now)
            if isinstance(content, IssuerAndSubject):
                return self._poll(message, reply_to, now)
        except ParseError as exc:
            return self._failure(reply_to, FailInfo.BAD_REQUEST, f"unreadable request: {exc}")
        if isinstance(content, IssuerAndSerial):
            event = CertificateRequested if kind is MessageType.GET_CERT else CRLRequested
            return event(
                transaction_id=reply_to.transaction_id,
                wanted=content,
                signer_certificate=message.signer_certificate,
                reply_to=reply_to,
            )
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
        now: datetime,
    ) -> ServerEvent:
        signer = message.signer_certificate
        ours = not signer.self_signed and is_issued_by(
            signer,
            self.config.ca_certificate,
            backend=get_backend(),
            algorithms=self.config.algorithms,
        )
        if signer.public_key_der != request.public_key_der and not (
            ours or signer.sha256_fingerprint in self.config.trusted_signers
        ):
            # RFC 8894 section 3: without a certificate of this CA, a request is signed by a
            # self-signed certificate for the CSR's own key. Otherwise anyone could wrap
            # someone else's CSR and have its reply (and its one-time challenge).
            return self._failure(
                reply_to,
                FailInfo.BAD_MESSAGE_CHECK,
                "the signer's key is not the requested key, and the signer is not this CA's",
                "the request must be signed by the requested key, or by a certificate of this CA",
            )
        if signature_only(signer):
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
            if not known.same_request(_opening(reply_to.transaction_id, request, signer)):
                # Only the very request that opened the transaction may be re-sent: another
                # CSR (or signer) under its ID would be decided as if it were that one.
                return self._failure(
                    reply_to, FailInfo.BAD_REQUEST, "transactionID in use for another request"
                )
            # A re-sent PKCSReq is how draft-era clients poll.
            return self._known(known, message, reply_to, "re-sent request", now)
        # Everything read from the CSR, read before anything is decided or consumed (a
        # ParseError here is the caller's FAILURE).
        policy_view = policy_request_view(message, request)
        request.subject  # noqa: B018 - the readable subject (logs), read while guarded
        renewal, why_not = self._renewal(signer, ours, policy_view.subject, request, now)
        verdict = self._challenge_verdict(request)
        return EnrollmentRequested(
            transaction_id=reply_to.transaction_id,
            message_type=message.message_type,
            request=request,
            signer_certificate=signer,
            challenge=verdict,
            challenge_findings=challenge_findings(request),
            renewal=renewal,
            why_not_renewal=why_not,
            policy_view=replace(policy_view, challenge=verdict),
            message=message,
            reply_to=reply_to,
        )

    def _challenge_verdict(self, request: CertificationRequest) -> ChallengeVerdict:
        checker, password = self.config.challenge, request.challenge_password
        if checker is None:
            if password is None:
                return ChallengeVerdict.absent()
            return ChallengeVerdict.refuse("this server checks no challenge password")
        return checker.check(password, request)

    def _renewal(
        self,
        signer: Certificate,
        ours: bool,
        wanted: DistinguishedName,
        request: CertificationRequest,
        now: datetime,
    ) -> tuple[VerifiedRenewal | None, str | None]:
        """The proof that ``signer`` renews a certificate of ours, or why there is none.

        ``ours``: the CA's signature on ``signer`` verified. It is checked before the
        store is asked about the signer, so nothing is learnt of the store without it.
        """
        if signer.self_signed:
            return None, "signed with a self-signed certificate (a first enrollment)"
        if not ours:
            return None, f"the signer certificate {signer.subject!r} was not issued by this CA"
        if now < signer.not_valid_before:
            return None, "the signer certificate is not valid yet"
        if now > signer.not_valid_after:
            return None, f"the signer certificate expired on {signer.not_valid_after.isoformat()}"
        issued = self.store.find_certificate(signer.sha256_fingerprint)
        if issued is None:
            return None, "the signer certificate is not one this server issued"
        if issued.revoked:
            return None, f"the signer certificate (serial {signer.serial_number}) is revoked"
        if issued.renewed_by is not None:
            # One successor per certificate (catalog #95): a stolen old key cannot keep
            # making new certificates once its holder has renewed.
            return None, (
                f"the signer certificate (serial {signer.serial_number}) was already renewed"
                f" by transaction {issued.renewed_by}"
            )
        current = DistinguishedName.from_certificate(signer)
        if wanted != current:
            return None, (
                f"a renewal keeps its subject: the request asks for {wanted},"
                f" the certificate is for {current}"
            )
        added = sorted(set(request.subject_alt_names) - set(signer.subject_alt_names))
        if added:
            return None, f"a renewal keeps its subjectAltNames: the request adds {added}"
        return VerifiedRenewal(certificate=signer, transaction_id=issued.transaction_id), None

    def _poll(self, message: PKIMessage, reply_to: ReplyTo, now: datetime) -> ServerEvent:
        known = self.store.get(reply_to.transaction_id)
        # The poll must come from the requester (catalog #65, #68): the requested key, or
        # the certificate that signed the request.
        if known is None or not known.signed_by_requester(
            message.signer_certificate.public_key_der
        ):
            return self._failure(reply_to, FailInfo.BAD_CERT_ID, "no such transaction")
        password = CertificationRequest.load(known.csr).challenge_password
        if signature_only(message.signer_certificate) and password is not None:
            reply_to = replace(reply_to, password=password.encode())
        return self._known(known, message, reply_to, "poll", now)

    def _known(
        self,
        known: Transaction,
        message: PKIMessage,
        reply_to: ReplyTo,
        why: str,
        now: datetime,
    ) -> ServerEvent:
        """A message about a stored transaction: the application's turn, or the store's answer.

        The application decides on the stored request, never on what the message carries.
        It is the application's turn exactly when the lifecycle table lets it decide
        (`Act.CLAIM`) now: PENDING awaiting the application, or a claim whose worker died.
        """
        if resolve(known, Act.CLAIM, replace(known, updated=now)) is not None:
            return PollRequested(
                transaction_id=reply_to.transaction_id,
                transaction=known,
                request=CertificationRequest.load(known.csr),
                message=message,
                reply_to=reply_to,
            )
        return self._from_store(known, reply_to, why)

    def _from_store(self, known: Transaction, reply_to: ReplyTo, why: str) -> Answered:
        if known.state is TransactionState.ISSUED:
            certificates = [Certificate.load(der) for der in known.certificates]
            body = build_cert_rep_success(
                reply_to, certificates, signer=self.config.signer, options=self._reply_options
            )
            return Answered(
                response=_pki(body), reason=f"{why}: already issued", pki_status=PKIStatus.SUCCESS
            )
        if known.state is TransactionState.REJECTED:
            fail_info = known.fail_info or FailInfo.BAD_REQUEST
            return self._failure(reply_to, fail_info, f"{why}: rejected before")
        waiting = "being issued" if known.state is TransactionState.ISSUING else "still pending"
        return self._pending_answer(reply_to, f"{why}: {waiting}")

    def _pending_answer(self, reply_to: ReplyTo, reason: str) -> Answered:
        body = build_cert_rep_pending(
            reply_to, signer=self.config.signer, options=self._reply_options
        )
        return Answered(response=_pki(body), reason=reason, pki_status=PKIStatus.PENDING)

    def _answer(self, stored: Transaction | None, event: Enrollment, why: str) -> HTTPResponse:
        """What the client is told once the store has answered an act."""
        if stored is None or not stored.same_request(_opened_by(event)):
            return self._failure(
                event.reply_to, FailInfo.BAD_REQUEST, "transactionID in use for another request"
            ).response
        return self._from_store(stored, event.reply_to, why).response

    def _failure(
        self, reply_to: ReplyTo, fail_info: FailInfo, reason: str, text: str | None = None
    ) -> Answered:
        body = build_cert_rep_failure(
            reply_to, fail_info, text, signer=self.config.signer, options=self._reply_options
        )
        return Answered(response=_pki(body), reason=reason, pki_status=PKIStatus.FAILURE)

    # --- out: the application's decisions ------------------------------------------

    def issue(
        self,
        event: Enrollment,
        issuer: CertificateIssuer,
        *,
        chain: Sequence[Certificate] = (),
        now: datetime,
        context: str = "",
    ) -> HTTPResponse:
        """Answer SUCCESS with a certificate ``issuer`` signs for the request (and ``chain``).

        The transaction is claimed first, so ``issuer`` signs at most once per
        transaction: a retry racing this one is answered PENDING while it signs,
        and gets this certificate afterwards. A transaction held for the operator
        is not the application's to issue (the answer stays PENDING). If ``issuer``
        raises, the claim is given back (the transaction awaits the application,
        with ``context``) and the exception goes on.
        """
        opened = _opened_by(event)
        proposal = replace(opened, updated=now, context=context or opened.context)
        claimed = self._claim(Act.CLAIM, proposal)
        if claimed is None:
            stored = self.store.get(event.transaction_id)
            return self._answer(stored, event, "issue")
        delivered = self._sign_and_deliver(claimed, issuer, chain, now)
        return self._answer(delivered, event, "issued")

    def _claim(self, act: Act, opened: Transaction) -> Transaction | None:
        """Claim the right to sign for ``opened``; the claimed transaction, or None."""
        proposal = replace(opened, state=TransactionState.ISSUING, claim=secrets.token_hex(16))
        outcome = self.store.record(act, proposal)
        return outcome.transaction if outcome.applied else None

    def _sign_and_deliver(
        self,
        claimed: Transaction,
        issuer: CertificateIssuer,
        chain: Sequence[Certificate],
        now: datetime,
    ) -> Transaction | None:
        """Sign under the claim, record ISSUED; the claim is given back if signing fails."""
        release = replace(claimed, updated=now)
        try:
            certificate = issuer.issue(CertificationRequest.load(claimed.csr), now=now)
            if certificate.public_key_der != claimed.requester_key:
                raise LocalProtocolError("the certificate is not for the requested key")
        except BaseException:
            self.store.record(Act.RELEASE, release)
            raise
        certificates = tuple(c.der for c in (certificate, *chain))
        outcome = self.store.record(Act.DELIVER, replace(release, certificates=certificates))
        return outcome.transaction

    def pending(
        self,
        event: Enrollment,
        *,
        now: datetime,
        awaiting: Awaiting = Awaiting.OPERATOR,
        context: str = "",
    ) -> HTTPResponse:
        """Answer PENDING: the client polls.

        With ``awaiting=Awaiting.OPERATOR`` (the default) the decision stays
        until the operator calls `approve` or `deny`: polls are answered PENDING
        without asking the application. With ``Awaiting.APPLICATION`` each poll
        comes back as a `PollRequested` for a fresh decision. ``context`` is kept
        with the transaction (e.g. the terms an approval issues on).
        """
        proposal = replace(_opened_by(event), updated=now, awaiting=awaiting, context=context)
        outcome = self.store.record(Act.HOLD, proposal)
        return self._answer(outcome.transaction, event, "pending")

    def reject(
        self,
        event: Enrollment | CertificateRequested | CRLRequested,
        fail_info: FailInfo,
        *,
        now: datetime,
        text: str | None = None,
    ) -> HTTPResponse:
        """Answer FAILURE with ``fail_info`` (and ``text`` as failInfoText: keep it generic).

        A rejected poll ends its transaction (later polls get the same
        FAILURE). A rejected new request is not remembered: the same key may
        ask again (a mistyped challenge must not lock it out for good).
        """
        if isinstance(event, PollRequested):
            proposal = replace(event.transaction, fail_info=fail_info, updated=now)
            outcome = self.store.record(Act.REJECT, proposal)
            if not outcome.applied:  # decided meanwhile (approved, say): that answer stands
                return self._answer(outcome.transaction, event, "reject")
        return self._failure(event.reply_to, fail_info, "rejected", text).response

    def send_certificates(
        self, event: CertificateRequested, certificates: Sequence[Certificate]
    ) -> HTTPResponse:
        """Answer a GetCert with the certificate(s) found."""
        body = build_cert_rep_success(
            event.reply_to, certificates, signer=self.config.signer, options=self._reply_options
        )
        return _pki(body)

    def send_crl(self, event: CRLRequested, crl: bytes) -> HTTPResponse:
        """Answer a GetCRL with a DER CRL."""
        body = build_cert_rep_success(
            event.reply_to, crls=[crl], signer=self.config.signer, options=self._reply_options
        )
        return _pki(body)

    def approve(
        self,
        transaction_id: str,
        issuer: CertificateIssuer,
        *,
        chain: Sequence[Certificate] = (),
        now: datetime,
    ) -> Transaction:
        """The operator's yes to a PENDING transaction: sign (once), the next poll gets it."""
        known = self.store.get(transaction_id)
        if known is None:
            raise LocalProtocolError(f"no transaction {transaction_id!r}")
        claimed = self._claim(Act.APPROVE, replace(known, updated=now))
        if claimed is None:
            raise LocalProtocolError(
                f"transaction {transaction_id!r} is {known.state.value}, not pending"
            )
        delivered = self._sign_and_deliver(claimed, issuer, chain, now)
        if delivered is None or delivered.state is not TransactionState.ISSUED:
            raise LocalProtocolError(f"transaction {transaction_id!r} changed while it was signed")
        return delivered

    def deny(self, transaction_id: str, fail_info: FailInfo, *, now: datetime) -> Transaction:
        """The operator's no to a PENDING transaction; the next poll gets FAILURE."""
        return deny(self.store, transaction_id, fail_info, now=now)


def _fail_info(error: ScepError) -> FailInfo:
    return error.fail_info if error.fail_info is not None else FailInfo.BAD_REQUEST


#: Old spellings, before one acronym style (all capitals, as in PKIMessage and CACaps).
_RENAMES = {"CrlRequested": "CRLRequested"}


def __getattr__(name: str) -> object:
    """The deprecated spellings (`CrlReceived`, `CrlRequested`), for one release."""
    return renamed(__name__, name, _RENAMES, globals())
