"""The sans-IO SCEP client: calls make HTTP requests, responses make events.

`ScepClient` knows one CA (one URL path). The application sends the
`HTTPRequest` a call returns, feeds the response back with `receive`, and
acts on the event it gets. Time is an argument, never read. The client's
state is a record holding exactly what that state has (a READY client has its
capabilities, algorithms and CA certificates), and every transition, for
calls and answers alike, is in one table
(`pyscep.protocol._client_state.TRANSITIONS`): a call that does not fit the
state raises LocalProtocolError and changes nothing.

PENDING, FAILURE and an issued certificate are events, not exceptions. A
reply that breaks the protocol (wrong transactionID, recipientNonce not
echoed, bad signature, wrong Content-Type) moves the client to FAILED with a
`ProtocolFailed` event. An issued certificate is accepted (`CertificateIssued`)
only when it is for the requested key and subject, signed by the CA of
GetCACert and valid at ``now``; any other is `CertificateRefused`, with why.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from pyscep._deprecation import renamed
from pyscep.algorithms import DEFAULT_POLICY, AlgorithmPolicy
from pyscep.certificate import Certificate, names_equal
from pyscep.cms.enveloped import signature_only
from pyscep.crypto import KeyPair, PrivateKey, get_backend
from pyscep.crypto.signed_object import is_issued_by
from pyscep.enums import FailInfo, MessageType, PKIStatus
from pyscep.errors import (
    LocalProtocolError,
    RemoteProtocolError,
    ScepError,
    UnsupportedAlgorithmError,
)
from pyscep.http import HTTPRequest, Operation, classify_response, client_request
from pyscep.messages import (
    CACaps,
    CACertificates,
    CertificationRequest,
    CertsOnly,
    DecryptedContent,
    IssuerAndSerial,
    IssuerAndSubject,
    MessageOptions,
    Negotiated,
    PKIMessage,
    build_cert_poll,
    build_pkcs_req,
    build_request,
    decrypt_pki_message,
    negotiate,
    parse_ca_certificates,
    parse_next_ca_certificates,
    parse_pki_message,
    self_signed_signer,
    transaction_id_for_key,
    verify_cert_rep,
)
from pyscep.protocol import _client_state as st
from pyscep.protocol._client_state import Call, ClientState, Outcome
from pyscep.protocol.events import (
    CACertificatesReceived,
    CapabilitiesReceived,
    CertificateIssued,
    CertificateRefused,
    CertificatesReceived,
    ClientEvent,
    CRLReceived,
    NextCAReceived,
    ProtocolFailed,
    ReplyUnreadable,
    RequestPending,
    RequestRejected,
)
from pyscep.protocol.profiles import STRICT, InteropProfile, Renewal

__all__ = [
    "CACertificatesReceived",
    "CRLReceived",
    "CapabilitiesReceived",
    "CertificateIssued",
    "CertificateRefused",
    "CertificatesReceived",
    "ClientEvent",
    "ClientState",
    "NextCAReceived",
    "PollSchedule",
    "ProtocolFailed",
    "ReplyUnreadable",
    "RequestPending",
    "RequestRejected",
    "ScepClient",
]


#: Old spellings, before one acronym style (all capitals, as in PKIMessage and CACaps).
_RENAMES = {"CrlReceived": "CRLReceived"}


def __getattr__(name: str) -> object:
    """The deprecated spellings (`CrlReceived`, `CrlRequested`), for one release."""
    return renamed(__name__, name, _RENAMES, globals())


@dataclass(frozen=True, slots=True, kw_only=True)
class PollSchedule:
    """When to poll a PENDING request: ``first``, then ``factor`` times longer each time
    (at most ``maximum``), giving up ``give_up_after`` the first PENDING."""

    first: timedelta = timedelta(seconds=30)
    factor: float = 2.0
    maximum: timedelta = timedelta(hours=1)
    give_up_after: timedelta = timedelta(days=7)

    def delay(self, attempt: int) -> timedelta:
        """How long to wait before poll number ``attempt`` (0 for the first)."""
        longest = self.maximum.total_seconds()
        try:
            seconds = self.first.total_seconds() * self.factor**attempt
        except OverflowError:  # a float can be larger than any wait
            seconds = longest
        # Capped as seconds: a timedelta that large would not exist.
        return timedelta(seconds=min(seconds, longest))


class ScepClient:
    """The client side of SCEP against one CA, sans I/O.

    ``allow_subject_rewrite``: accept an issued certificate whose subject is not
    the one requested (for CAs that set it themselves, from a template or a
    directory); the key, the CA's signature and the validity are still checked.
    """

    def __init__(
        self,
        *,
        path: str = "/scep",
        algorithms: AlgorithmPolicy = DEFAULT_POLICY,
        profile: InteropProfile = STRICT,
        ca_fingerprint: bytes | None = None,
        poll_schedule: PollSchedule = PollSchedule(),
        allow_subject_rewrite: bool = False,
    ) -> None:
        self.path = path
        self.allow_subject_rewrite = allow_subject_rewrite
        self.algorithms = algorithms
        self.profile = profile
        self.ca_fingerprint = ca_fingerprint
        self.poll_schedule = poll_schedule
        self._state: st.State = st.Idle()
        #: A SUCCESS the policy could not read, whatever the state (see `reopen`).
        self._unread: st.Unread | None = None

    # --- what the client holds ---------------------------------------------------

    @property
    def state(self) -> ClientState:
        """Where the client stands."""
        return self._state.kind

    @property
    def caps(self) -> CACaps | None:
        """The CA's capabilities, once GetCACaps was answered."""
        return st.known_in(self._state).caps

    @property
    def negotiated(self) -> Negotiated | None:
        """The algorithms requests use, once agreed with the CA's capabilities."""
        return st.known_in(self._state).negotiated

    @property
    def ca(self) -> CACertificates | None:
        """The CA's certificates, once GetCACert was answered."""
        return st.known_in(self._state).ca

    @property
    def next_poll_at(self) -> datetime | None:
        """PENDING: when to poll next."""
        state = self._state
        if isinstance(state, st.Pending | st.AwaitingReply) and state.polling is not None:
            return state.polling.next_poll_at
        return None

    # --- transitions ----------------------------------------------------------

    def _enter(self, event: st.Input, state: st.State) -> None:
        """Move to ``state``, which must be where the table leads for ``event``."""
        after = st.step(self._state.kind, event)
        if state.kind is not after:  # a client defect, never the peer's doing
            raise LocalProtocolError(
                f"{event.value} in state {self.state.value} leads to {after.value},"
                f" not {state.kind.value}"
            )
        self._state = state

    def _ready_for(self, call: Call) -> st.Ready:
        """The READY record, if ``call`` is possible now; it changes nothing."""
        state = self._state
        if not isinstance(state, st.Ready):
            raise self._refusal_of(call)
        st.step(state.kind, call)  # the table has the last word
        return state

    def _refusal_of(self, event: st.Input) -> LocalProtocolError:
        """Why ``event`` cannot happen in this state: the table's own refusal."""
        try:
            after = st.step(self._state.kind, event)
        except LocalProtocolError as exc:
            return exc
        # The table allows it but the state's record lacks what it needs: a client defect.
        return LocalProtocolError(
            f"{event.value} leads to {after.value}, but state {self.state.value} cannot take it"
        )

    def _requests_from(self, call: Call) -> st.Ready:
        """`_ready_for`, for a pkiMessage: also refuses what the profile says fails."""
        state = self._state
        if isinstance(state, st.Idle) and state.known.no_algorithms is not None:
            raise UnsupportedAlgorithmError(
                f"{call.value}: no algorithms agreed with the CA: {state.known.no_algorithms}"
            )
        ready = self._ready_for(call)
        # Refuse, before anything is sent, what the CA is known to answer with
        # algorithms this client's policy refuses: the CA may issue and the
        # certificate would then be unreadable.
        try:
            if self.profile.reply_cipher is not None:
                self.algorithms.check_cipher(self.profile.reply_cipher)
            if self.profile.reply_digest is not None:
                self.algorithms.check_digest(self.profile.reply_digest)
        except UnsupportedAlgorithmError as exc:
            raise UnsupportedAlgorithmError(
                f"the {self.profile.name} profile says this CA answers with an algorithm"
                f" your policy refuses ({exc}); allow it before enrolling"
            ) from None
        return ready

    # --- calls: each returns the request to send ------------------------------

    def get_caps(self) -> HTTPRequest:
        """GetCACaps."""
        before = self._state
        if not isinstance(before, st.Idle | st.Ready):
            raise self._refusal_of(Call.GET_CAPS)
        self._enter(Call.GET_CAPS, st.AwaitingCaps(before))
        return client_request(Operation.GET_CA_CAPS, path=self.path)

    def get_ca_certificates(self) -> HTTPRequest:
        """GetCACert."""
        before = self._state
        if not isinstance(before, st.Idle | st.Ready):
            raise self._refusal_of(Call.GET_CA_CERTIFICATES)
        self._enter(Call.GET_CA_CERTIFICATES, st.AwaitingCA(before))
        return client_request(Operation.GET_CA_CERT, path=self.path)

    def get_next_ca_certificates(self) -> HTTPRequest:
        """GetNextCACert (CA rollover), verified against the current CA."""
        ready = self._ready_for(Call.GET_NEXT_CA_CERTIFICATES)
        self._enter(Call.GET_NEXT_CA_CERTIFICATES, st.AwaitingNextCA(ready))
        return client_request(Operation.GET_NEXT_CA_CERT, path=self.path)

    def enroll(
        self, request: CertificationRequest, key: PrivateKey, *, now: datetime
    ) -> HTTPRequest:
        """PKCSReq for ``request``, signed by a throw-away certificate for ``key``."""
        ready = self._requests_from(Call.ENROLL)
        signer = self_signed_signer(key, request.subject_der, now=now)
        return self._enroll(ready, Call.ENROLL, MessageType.PKCS_REQ, request, signer)

    def renew(
        self, request: CertificationRequest, current: KeyPair, *, now: datetime
    ) -> HTTPRequest:
        """Renewal signed with the existing certificate and key (``current``).

        RenewalReq when the CA advertises Renewal and the profile renews by
        caps, else a PKCSReq signed with the existing certificate, as
        draft-era servers expect.
        """
        ready = self._requests_from(Call.RENEW)
        by_caps = self.profile.renewal is Renewal.BY_CAPS and ready.negotiated.renewal_supported
        kind = MessageType.RENEWAL_REQ if by_caps else MessageType.PKCS_REQ
        return self._enroll(ready, Call.RENEW, kind, request, current)

    def get_cert(self, wanted: IssuerAndSerial, keys: KeyPair) -> HTTPRequest:
        """GetCert for the certificate ``wanted`` names, signed with ``keys``."""
        ready = self._requests_from(Call.GET_CERT)
        return self._query(ready, Call.GET_CERT, MessageType.GET_CERT, wanted, keys)

    def get_crl(self, wanted: IssuerAndSerial, keys: KeyPair) -> HTTPRequest:
        """GetCRL for the CRL covering ``wanted``, signed with ``keys``."""
        ready = self._requests_from(Call.GET_CRL)
        return self._query(ready, Call.GET_CRL, MessageType.GET_CRL, wanted, keys)

    def poll(self, *, now: datetime) -> HTTPRequest:
        """CertPoll for the PENDING request (same transactionID, same signer)."""
        state = self._state
        if not isinstance(state, st.Pending):
            raise self._refusal_of(Call.POLL)
        polling, ready = state.polling, state.ready
        enrollment = polling.enrollment
        built = build_cert_poll(
            enrollment.poll,
            signer=enrollment.keys,
            recipient=ready.ca.encryption,
            transaction_id=enrollment.built.transaction_id,
            options=self._options(ready),
        )
        polling = replace(polling, polls=polling.polls + 1)
        return self._send(Call.POLL, ready, replace(enrollment, built=built), polling)

    def resume(
        self,
        request: CertificationRequest,
        key: PrivateKey,
        transaction_id: str,
        *,
        now: datetime,
    ) -> None:
        """Take up a PENDING enrollment a previous process left (then `poll`)."""
        ready = self._requests_from(Call.RESUME)
        keys = self_signed_signer(key, request.subject_der, now=now)
        poll = IssuerAndSubject(ready.ca.ca.subject_der, request.subject_der)
        # What the enrollment would have sent last: a CertPoll of that transaction
        # (`poll` sends a fresh one; a request carries its IDs in its own bytes).
        last = build_cert_poll(
            poll,
            signer=keys,
            recipient=ready.ca.encryption,
            transaction_id=transaction_id,
            options=self._options(ready),
        )
        enrollment = st.Enrolling(
            built=last,
            keys=keys,
            requested_key=request.public_key_der,
            poll=poll,
            password=_reply_password(keys.certificate, request),
        )
        polling = st.Polling(enrollment=enrollment, since=now, polls=0, next_poll_at=now)
        self._enter(Call.RESUME, st.Pending(ready, polling))

    # --- building ---------------------------------------------------------------

    def _options(self, ready: st.Ready) -> MessageOptions:
        chosen = ready.negotiated.options
        return MessageOptions(
            digest=chosen.digest, cipher=chosen.cipher, algorithms=self.algorithms
        )

    def _enroll(
        self,
        ready: st.Ready,
        call: Call,
        kind: MessageType,
        request: CertificationRequest,
        keys: KeyPair,
    ) -> HTTPRequest:
        family = keys.certificate.public_key_algorithm
        if family not in self.profile.requester_keys:
            # The CertRep goes to this key: refuse before the CA issues a certificate
            # that could not be delivered.
            raise UnsupportedAlgorithmError(
                f"the {self.profile.name} profile says this CA answers "
                f"{', '.join(sorted(self.profile.requester_keys))} keys only, not {family}"
            )
        password = _reply_password(keys.certificate, request)
        built = build_pkcs_req(
            request,
            signer=keys,
            recipient=ready.ca.encryption,
            message_type=kind,
            transaction_id=transaction_id_for_key(request.public_key_der),
            options=self._options(ready),
            password=password,
        )
        enrollment = st.Enrolling(
            built=built,
            keys=keys,
            requested_key=request.public_key_der,
            poll=IssuerAndSubject(ready.ca.ca.subject_der, request.subject_der),
            password=password,
        )
        return self._send(call, ready, enrollment, None)

    def _query(
        self,
        ready: st.Ready,
        call: Call,
        kind: MessageType,
        wanted: IssuerAndSerial,
        keys: KeyPair,
    ) -> HTTPRequest:
        built = build_request(
            kind,
            wanted.dump(),
            signer=keys,
            recipient=ready.ca.encryption,
            transaction_id=transaction_id_for_key(keys.certificate.public_key_der + wanted.dump()),
            options=self._options(ready),
        )
        return self._send(call, ready, st.Querying(built=built, keys=keys), None)

    def _send(
        self,
        call: Call,
        ready: st.Ready,
        exchange: st.Exchange,
        polling: st.Polling | None,
    ) -> HTTPRequest:
        self._enter(call, st.AwaitingReply(ready, exchange, polling))
        use_post = self.profile.use_post
        if use_post is None:
            use_post = ready.negotiated.use_post
        return client_request(
            Operation.PKI_OPERATION,
            path=self.path,
            message=exchange.built.der,
            use_post=use_post,
        )

    # --- receiving ----------------------------------------------------------------

    def receive(
        self, status: int, content_type: str | None, body: bytes, *, now: datetime
    ) -> ClientEvent:
        """The response to the request last sent, as an event."""
        state = self._state
        awaiting = st.AwaitingCaps | st.AwaitingCA | st.AwaitingNextCA | st.AwaitingReply
        if not isinstance(state, awaiting):
            raise self._refusal_of(Outcome.BROKEN)
        try:
            classify_response(state.operation, status, content_type, body)
            if isinstance(state, st.AwaitingCaps):
                # RFC 8894 section 3.5.1: an HTTP error means no capabilities.
                return self._caps(state, body if status == 200 else b"")
            if isinstance(state, st.AwaitingCA):
                return self._ca(state, body, now)
            if isinstance(state, st.AwaitingNextCA):
                return self._next_ca(state, body)
            return self._cert_rep(state, body, now)
        except ScepError as exc:
            self._enter(Outcome.BROKEN, st.Failed(st.known_in(state), str(exc)))
            return ProtocolFailed(reason=str(exc), error=exc)

    def _settle(self, known: st.Known) -> None:
        after = st.settled(known)
        self._enter(Outcome.COMPLETE if isinstance(after, st.Ready) else Outcome.INCOMPLETE, after)

    def _caps(self, state: st.AwaitingCaps, body: bytes) -> CapabilitiesReceived:
        caps = CACaps.parse(body)
        negotiated: Negotiated | None = None
        why_not: str | None = None
        try:
            negotiated = negotiate(caps, self.algorithms)
        except UnsupportedAlgorithmError as exc:
            why_not = str(exc)
        known = replace(state.before.known, caps=caps, negotiated=negotiated, no_algorithms=why_not)
        self._settle(known)
        return CapabilitiesReceived(caps=caps, negotiated=negotiated)

    def _ca(self, state: st.AwaitingCA, body: bytes, now: datetime) -> CACertificatesReceived:
        ca = parse_ca_certificates(
            body, now=now, ca_fingerprint=self.ca_fingerprint, algorithms=self.algorithms
        )
        self._settle(replace(state.before.known, ca=ca))
        return CACertificatesReceived(certificates=ca)

    def _next_ca(self, state: st.AwaitingNextCA, body: bytes) -> NextCAReceived:
        chain = parse_next_ca_certificates(body, state.ready.ca, algorithms=self.algorithms)
        self._enter(Outcome.NEXT_CA, state.ready)
        return NextCAReceived(certificates=chain)

    def _cert_rep(self, state: st.AwaitingReply, body: bytes, now: datetime) -> ClientEvent:
        exchange, ready = state.exchange, state.ready
        message = verify_cert_rep(
            parse_pki_message(body),
            ca_certificates=ready.ca.verification,
            request=exchange.built,
            algorithms=self.algorithms,
            strict_recipient_nonce=self.profile.strict_recipient_nonce,
        )
        status = message.pki_status
        txid = exchange.built.transaction_id
        if status is PKIStatus.PENDING:
            if not isinstance(exchange, st.Enrolling):
                raise RemoteProtocolError("PENDING answers enrollments only, not GetCert or GetCRL")
            return self._now_pending(state, exchange, now)
        if status is PKIStatus.FAILURE and message.fail_info is not None:
            self._enter(Outcome.FINAL, ready)
            return RequestRejected(
                transaction_id=txid,
                fail_info=message.fail_info,
                fail_info_text=message.fail_info_text,
            )
        if status is not PKIStatus.SUCCESS:
            raise RemoteProtocolError("a CertRep needs a pkiStatus (and a FAILURE its failInfo)")
        event = self._success(ready, message, exchange, body, now)
        self._enter(Outcome.FINAL, ready)
        return event

    def _now_pending(
        self, state: st.AwaitingReply, enrollment: st.Enrolling, now: datetime
    ) -> ClientEvent:
        polling = state.polling
        if polling is None:
            polling = st.Polling(enrollment=enrollment, since=now, polls=0, next_poll_at=now)
        give_up_at = polling.since + self.poll_schedule.give_up_after
        # The first poll waits delay(0); each PENDING after a poll waits longer.
        poll_at = now + self.poll_schedule.delay(polling.polls)
        txid = enrollment.built.transaction_id
        if poll_at > give_up_at:
            self._enter(Outcome.GAVE_UP, state.ready)
            return RequestRejected(
                transaction_id=txid,
                fail_info=FailInfo.BAD_REQUEST,
                fail_info_text="gave up polling",
            )
        self._enter(
            Outcome.PENDING, st.Pending(state.ready, replace(polling, next_poll_at=poll_at))
        )
        return RequestPending(transaction_id=txid, poll_at=poll_at, give_up_at=give_up_at)

    def _success(
        self,
        ready: st.Ready,
        message: PKIMessage,
        exchange: st.Exchange,
        body: bytes,
        now: datetime,
    ) -> ClientEvent:
        try:
            content = decrypt_pki_message(
                message, exchange.keys, algorithms=self.algorithms, password=exchange.password
            )
        except UnsupportedAlgorithmError as exc:
            self._unread = st.Unread(exchange=exchange, ca=ready.ca, received_at=now)
            return ReplyUnreadable(reply=body, reason=str(exc))
        return self._content(content, exchange, ready.ca, self.algorithms, now)

    def _content(
        self,
        content: DecryptedContent,
        exchange: st.Exchange,
        ca: CACertificates,
        algorithms: AlgorithmPolicy,
        now: datetime,
    ) -> ClientEvent:
        if not isinstance(content, CertsOnly):
            raise LocalProtocolError("a CertRep SUCCESS carries a certs-only SignedData")
        if isinstance(exchange, st.Querying):
            if exchange.kind is MessageType.GET_CRL:
                return CRLReceived(crls=content.crls)
            return CertificatesReceived(certificates=content.certificates)
        if not content.certificates:
            raise RemoteProtocolError("the CertRep carries no certificate")
        # RFC 8894: the issued certificate comes first, any chain after it.
        issued, txid = content.certificates[0], exchange.built.transaction_id
        reason = self._refusal(issued, exchange, ca, algorithms, now)
        if reason is not None:
            return CertificateRefused(certificate=issued, reason=reason, transaction_id=txid)
        chain = tuple(c for c in content.certificates if c != issued)
        return CertificateIssued(certificate=issued, chain=chain, transaction_id=txid)

    def _refusal(
        self,
        issued: Certificate,
        enrollment: st.Enrolling,
        ca: CACertificates,
        algorithms: AlgorithmPolicy,
        now: datetime,
    ) -> str | None:
        """Why ``issued`` is not the certificate requested, or None: the one acceptance check."""
        if issued.public_key_der != enrollment.requested_key:
            return "it is not for the requested key"
        # The CA's key, whoever signed the CertRep (an RA signs replies, not certificates).
        if not is_issued_by(issued, ca.ca, backend=get_backend(), algorithms=algorithms):
            return f"it is not signed by the CA ({ca.ca.subject})"
        if now + _CLOCK_SKEW < issued.not_valid_before:
            return f"it is not valid before {issued.not_valid_before.isoformat()}"
        if now > issued.not_valid_after:
            return f"it expired at {issued.not_valid_after.isoformat()}"
        requested = enrollment.poll.subject_der
        if not self.allow_subject_rewrite and not names_equal(issued.subject_der, requested):
            return f"it is for another subject ({issued.subject})"
        return None

    def reopen(
        self, reply: bytes, *, algorithms: AlgorithmPolicy, now: datetime | None = None
    ) -> ClientEvent:
        """Open a kept `ReplyUnreadable` reply under a policy that allows its algorithms.

        The certificate is judged valid or not at ``now`` (default: when the
        reply was received).
        """
        unread = self._unread
        if unread is None:
            raise LocalProtocolError("no unreadable reply to reopen")
        when = unread.received_at if now is None else now
        message = verify_cert_rep(
            parse_pki_message(reply),
            ca_certificates=unread.ca.verification,
            request=unread.exchange.built,
            algorithms=algorithms,
            strict_recipient_nonce=self.profile.strict_recipient_nonce,
        )
        content = decrypt_pki_message(
            message, unread.exchange.keys, algorithms=algorithms, password=unread.exchange.password
        )
        return self._content(content, unread.exchange, unread.ca, algorithms, when)


def _reply_password(signer: Certificate, request: CertificationRequest) -> bytes | None:
    """The password a CertRep to ``signer`` will be keyed with, when its key only signs."""
    if not signature_only(signer):
        return None
    if request.challenge_password is None:
        raise LocalProtocolError(
            "a key that only signs (Ed25519) needs a challengePassword in its CSR: "
            "the CA envelopes the CertRep with it (RFC 8894 section 3.1)"
        )
    return request.challenge_password.encode()


#: How far ahead of the client's clock a new certificate's notBefore may be (clocks differ).
_CLOCK_SKEW = timedelta(minutes=5)
