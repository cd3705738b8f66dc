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
the table's answer too. The events are defined in `pyscep.protocol.events`,
`ResponderConfig` and `CertificateIssuer` in `pyscep.protocol.config` (both
importable from here); what the responder reads from a request before the
application decides is in `pyscep.protocol._server_requests`, how its CertReps
are built in `pyscep.protocol._server_replies`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from pyscep._deprecation import renamed
from pyscep.algorithms import DigestAlgorithm
from pyscep.certificate import Certificate
from pyscep.cms.enveloped import recipient_problem, signature_only
from pyscep.crypto import get_backend
from pyscep.crypto.signed_object import is_issued_by
from pyscep.enums import FailInfo, MessageType
from pyscep.errors import LocalProtocolError, ParseError, RemoteProtocolError, ScepError
from pyscep.http import HTTPResponse, read_request
from pyscep.messages import (
    CertificationRequest,
    IssuerAndSerial,
    IssuerAndSubject,
    PKIMessage,
    ReplyTo,
    decrypt_pki_message,
    parse_pki_message,
    policy_request_view,
    verify_request,
)
from pyscep.messages.reply_key import named_reply_certificate
from pyscep.policy import ChallengeVerdict
from pyscep.protocol import _server_requests as reading
from pyscep.protocol._server_replies import CertReps
from pyscep.protocol.challenges import challenge_findings
from pyscep.protocol.config import CertificateIssuer, ResponderConfig
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
from pyscep.public_key import PublicKey

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


#: Why a post-quantum requester is refused by a responder without the profile.
_POST_QUANTUM_ONLY = "ML-DSA and ML-KEM keys are answered only with the post-quantum profile"


class ScepResponder:
    """The server side of SCEP for one CA (or one route), sans I/O."""

    def __init__(self, config: ResponderConfig, store: TransactionStore | None = None) -> None:
        self.config = config
        self.store: TransactionStore = store if store is not None else InMemoryTransactions()

    @property
    def _replies(self) -> CertReps:
        # Read from config at each reply: an application may replace config
        # (a CA rollover), and the next CertRep must be signed by the new signer.
        return CertReps.of(self.config)

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
            return reading.bad_request(f"not a SCEP request: {exc}")
        answered = reading.get_answer(self.config, incoming.operation)
        if answered is not None:
            return answered
        assert incoming.message is not None  # read_request guarantees it for PKIOperation
        return self._pki_operation(incoming.message, now)

    def _pki_operation(self, der: bytes, now: datetime) -> ServerEvent:
        try:
            message = verify_request(parse_pki_message(der), algorithms=self.config.algorithms)
        except ScepError as exc:
            answer_to = ReplyTo.of_error(exc)
            if answer_to is None:
                return reading.bad_request(f"unreadable pkiMessage: {exc}")
            return self._replies.failure(
                self._signable(answer_to), reading.fail_info_of(exc), f"refused: {exc}"
            )
        reply_to = self._signable(ReplyTo.of(message))
        if reply_to.digest is not message.digest:
            # Refused first, in a CertRep the key can sign: any answer must be signed.
            return self._replies.failure(
                reply_to,
                FailInfo.BAD_ALG,
                f"the CA's key cannot sign with {message.digest.value}",
            )
        kind = message.message_type
        if kind not in self.config.handled:
            # Default deny: a type the application did not take on is refused,
            # before its content is even decrypted.
            return self._replies.failure(
                reply_to, FailInfo.BAD_REQUEST, f"{kind.rfc_name} not handled"
            )
        if self._post_quantum_refused(message.signer_certificate.public_key):
            # Opt-in on both sides: before anything is decrypted.
            return self._replies.failure(
                reply_to, FailInfo.BAD_ALG, "a post-quantum signer", _POST_QUANTUM_ONLY
            )
        problem = recipient_problem(
            message.signer_certificate, backend=get_backend(), algorithms=self.config.algorithms
        )
        if problem is not None and not signature_only(message.signer_certificate):
            # A CertRep SUCCESS is enveloped to the requester's key: refuse before the
            # application decides, rather than issue a certificate nobody can read.
            # (A key that only signs is answered with its challengePassword.)
            return self._replies.failure(
                reply_to, FailInfo.BAD_ALG, "no reply can be protected", problem
            )
        if kind.carries_csr and self.config.before_decrypt is not None:
            refusal = self.config.before_decrypt(message)
            if refusal is not None:
                fail_info, text = refusal
                return self._replies.failure(
                    reply_to, fail_info, f"refused before decrypting: {text}", text
                )
        try:
            content = decrypt_pki_message(
                message,
                self.config.decrypter,
                password=reading.request_password(self.config.challenge),
            )
        except ScepError as exc:
            return self._replies.failure(reply_to, reading.fail_info_of(exc), f"refused: {exc}")
        try:
            # What the client sent is read further while it is judged (the signer's names,
            # the CSR's subject): anything unreadable there is a FAILURE, never a raise.
            if isinstance(content, CertificationRequest):
                return self._enrollment(message, content, reply_to, now)
            if isinstance(content, IssuerAndSubject):
                return self._poll(message, reply_to, now)
        except ParseError as exc:
            return self._replies.failure(
                reply_to, FailInfo.BAD_REQUEST, f"unreadable request: {exc}"
            )
        if isinstance(content, IssuerAndSerial):
            event = CertificateRequested if kind is MessageType.GET_CERT else CRLRequested
            return event(
                transaction_id=reply_to.transaction_id,
                wanted=content,
                signer_certificate=message.signer_certificate,
                reply_to=reply_to,
            )
        return self._replies.failure(reply_to, FailInfo.BAD_REQUEST, "unexpected content")

    def _signable(self, reply_to: ReplyTo) -> ReplyTo:
        """``reply_to`` with a digest the signer can sign with: the request's if it can,
        else SHA-256, else the longest it can (`ResponderConfig.signer_digests`)."""
        if self.config.signable(reply_to.digest):
            return reply_to
        sha256 = DigestAlgorithm.SHA256
        if self.config.signable(sha256):
            return replace(reply_to, digest=sha256)
        longest = max(self.config.signer_digests or (), key=lambda d: d.digest_size)
        return replace(reply_to, digest=longest)

    def _enrollment(
        self,
        message: PKIMessage,
        request: CertificationRequest,
        reply_to: ReplyTo,
        now: datetime,
    ) -> ServerEvent:
        signer = message.signer_certificate
        if self._post_quantum_refused(request.public_key):
            return self._replies.failure(
                reply_to, FailInfo.BAD_ALG, "a post-quantum key requested", _POST_QUANTUM_ONLY
            )
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
            return self._replies.failure(
                reply_to,
                FailInfo.BAD_MESSAGE_CHECK,
                "the signer's key is not the requested key, and the signer is not this CA's",
                "the request must be signed by the requested key, or by a certificate of this CA",
            )
        keyed = self._to_named_reply_key(message, reply_to, now)
        if not isinstance(keyed, ReplyTo):
            return keyed
        if keyed is not reply_to:
            reply_to = keyed  # the requester's ML-KEM reply key: no password
        elif signature_only(signer):
            if request.challenge_password is None:
                return self._replies.failure(
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
                return self._replies.failure(
                    reply_to, FailInfo.BAD_REQUEST, "transactionID in use for another key"
                )
            if not known.same_request(reading.opening(reply_to.transaction_id, request, signer)):
                # Only the very request that opened the transaction may be re-sent: another
                # CSR (or signer) under its ID would be decided as if it were that one.
                return self._replies.failure(
                    reply_to, FailInfo.BAD_REQUEST, "transactionID in use for another request"
                )
            # A re-sent PKCSReq is how draft-era clients poll.
            return self._known(known, message, reply_to, "re-sent request", now)
        # Everything read from the CSR, read before anything is decided or consumed (a
        # ParseError here is the caller's FAILURE).
        policy_view = policy_request_view(message, request)
        request.subject  # noqa: B018 - the readable subject (logs), read while guarded
        renewal, why_not = reading.renewal_proof(
            self.store, signer, ours, policy_view.subject, request, now
        )
        verdict = reading.challenge_verdict(self.config.challenge, request, reply_to.transaction_id)
        if renewal is not None and signature_only(signer) and not verdict.accepted:
            # The password keys the reply to a key that only signs (RFC 8894 section 3.1)
            # and claims nothing: a renewal proven by its signer needs no challenge. What
            # the checker said stays in the reason (the trace shows it).
            verdict = ChallengeVerdict.absent(
                f"not a challenge ({verdict.reason}): the challengePassword only keys the"
                " reply to a signing-only key, and this renewal is proven by its signer"
            )
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

    def _poll(self, message: PKIMessage, reply_to: ReplyTo, now: datetime) -> ServerEvent:
        known = self.store.get(reply_to.transaction_id)
        # The poll must come from the requester (catalog #65, #68): the requested key, or
        # the certificate that signed the request. An imported certificate had no request.
        if (
            known is None
            or not known.csr
            or not known.signed_by_requester(message.signer_certificate.public_key_der)
        ):
            return self._replies.failure(reply_to, FailInfo.BAD_CERT_ID, "no such transaction")
        password = CertificationRequest.load(known.csr).challenge_password
        keyed = self._to_named_reply_key(message, reply_to, now)
        if not isinstance(keyed, ReplyTo):
            return keyed
        if keyed is not reply_to:
            reply_to = keyed
        elif signature_only(message.signer_certificate):
            if password is None:
                # Nothing could protect the reply: the poll names no reply key, and the
                # request no challengePassword to key it with.
                return self._replies.failure(
                    reply_to,
                    FailInfo.BAD_REQUEST,
                    "a signing-only poll with no reply key and no challengePassword",
                    "name the reply key again in the poll (pyscep.messages.reply_key)",
                )
            reply_to = replace(reply_to, password=password.encode())
        return self._known(known, message, reply_to, "poll", now)

    def _post_quantum_refused(self, public_key: PublicKey) -> bool:
        """An ML-DSA or ML-KEM key, and no post-quantum profile: refused (opt-in)."""
        return not self.config.profile.post_quantum and public_key.parameter_set is not None

    def _to_named_reply_key(
        self, message: PKIMessage, reply_to: ReplyTo, now: datetime
    ) -> ReplyTo | ServerEvent:
        """``reply_to`` addressed to the ML-KEM reply certificate a signing-only requester
        names, with the post-quantum profile (`pyscep.messages.reply_key`); unchanged
        when it names none; a FAILURE when it names one that cannot be used."""
        if not self.config.profile.post_quantum or not signature_only(message.signer_certificate):
            return reply_to
        try:
            named = named_reply_certificate(
                message, now=now, backend=get_backend(), algorithms=self.config.algorithms
            )
        except ScepError as exc:
            return self._replies.failure(
                reply_to, FailInfo.BAD_REQUEST, f"the reply key named: {exc}", str(exc)
            )
        return reply_to if named is None else replace(reply_to, recipient=named)

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
        return self._replies.from_store(known, reply_to, why)

    def _answer(
        self,
        stored: Transaction | None,
        event: Enrollment,
        why: str,
        issued: Certificate | None = None,
    ) -> HTTPResponse:
        """What the client is told once the store has answered an act (``issued``: the
        certificate this call signed and delivered, as `_sign_and_deliver` gives it)."""
        if stored is None or not stored.same_request(reading.opened_by(event)):
            return self._replies.failure(
                event.reply_to, FailInfo.BAD_REQUEST, "transactionID in use for another request"
            ).response
        return self._replies.from_store(stored, event.reply_to, why, issued).response

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
        opened = reading.opened_by(event)
        proposal = replace(opened, updated=now, context=context or opened.context)
        claimed = self._claim(Act.CLAIM, proposal)
        if claimed is None:
            stored = self.store.get(event.transaction_id)
            return self._answer(stored, event, "issue")
        delivered, issued = self._sign_and_deliver(claimed, issuer, chain, now, event.request)
        return self._answer(delivered, event, "issued", issued)

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
        request: CertificationRequest | None = None,
    ) -> tuple[Transaction | None, Certificate]:
        """Sign under the claim, record ISSUED; the claim is given back if signing fails.
        The transaction the store holds then, and the certificate signed (read: its key
        was checked).

        ``request`` is the transaction's CSR as the event read it: not read again.
        """
        release = replace(claimed, updated=now)
        try:
            if request is None or request.der != claimed.csr:
                request = CertificationRequest.load(claimed.csr)
            certificate = issuer.issue(request, now=now)
            if certificate.public_key_der != claimed.requester_key:
                raise LocalProtocolError("the certificate is not for the requested key")
        except BaseException:
            self.store.record(Act.RELEASE, release)
            raise
        delivered = tuple(c.der for c in (certificate, *chain))
        outcome = self.store.record(Act.DELIVER, replace(release, certificates=delivered))
        return outcome.transaction, certificate

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
        proposal = replace(
            reading.opened_by(event), updated=now, awaiting=awaiting, context=context
        )
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
        return self._replies.failure(event.reply_to, fail_info, "rejected", text).response

    def send_certificates(
        self, event: CertificateRequested, certificates: Sequence[Certificate]
    ) -> HTTPResponse:
        """Answer a GetCert with the certificate(s) found."""
        return self._replies.success(event.reply_to, certificates)

    def send_crl(self, event: CRLRequested, crl: bytes) -> HTTPResponse:
        """Answer a GetCRL with a DER CRL."""
        return self._replies.success(event.reply_to, crls=[crl])

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
        delivered, _ = self._sign_and_deliver(claimed, issuer, chain, now)
        if delivered is None or delivered.state is not TransactionState.ISSUED:
            raise LocalProtocolError(f"transaction {transaction_id!r} changed while it was signed")
        return delivered

    def deny(self, transaction_id: str, fail_info: FailInfo, *, now: datetime) -> Transaction:
        """The operator's no to a PENDING transaction; the next poll gets FAILURE."""
        return deny(self.store, transaction_id, fail_info, now=now)


#: Old spellings, before one acronym style (all capitals, as in PKIMessage and CACaps).
_RENAMES = {"CrlRequested": "CRLRequested"}


def __getattr__(name: str) -> object:
    """The deprecated spellings (`CrlReceived`, `CrlRequested`), for one release."""
    return renamed(__name__, name, _RENAMES, globals())
