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

The requests are built in `pyscep.protocol._client_requests`, the replies
judged in `pyscep.protocol._client_replies`; `PollSchedule` lives in
`pyscep.protocol.config` (and is importable from here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from pyscep._deprecation import renamed
from pyscep.algorithms import DEFAULT_POLICY, AlgorithmPolicy
from pyscep.certificate import Certificate
from pyscep.cms.enveloped import signature_only
from pyscep.crypto import KeyPair, PrivateKey
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
    DecryptedContent,
    IssuerAndSerial,
    Negotiated,
    PKIMessage,
    decrypt_pki_message,
    negotiate,
    parse_ca_certificates,
    parse_next_ca_certificates,
    self_signed_signer,
)
from pyscep.messages.reply_key import reply_key_certificate
from pyscep.protocol import _client_replies as incoming
from pyscep.protocol import _client_requests as outgoing
from pyscep.protocol import _client_state as st
from pyscep.protocol._client_state import Call, ClientState, Outcome
from pyscep.protocol.config import PollSchedule
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


#: The default `PollSchedule` (one value, shared: it is frozen).
_DEFAULT_POLL_SCHEDULE = PollSchedule()


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
        poll_schedule: PollSchedule = _DEFAULT_POLL_SCHEDULE,
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
        outgoing.check_reply_algorithms(self.profile, self.algorithms)
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
        self,
        request: CertificationRequest,
        key: PrivateKey,
        *,
        now: datetime,
        reply_key: PrivateKey | None = None,
    ) -> HTTPRequest:
        """PKCSReq for ``request``, signed by a throw-away certificate for ``key``.

        ``reply_key`` (an ML-KEM key, with the post-quantum profile) is named for the
        CertRep of a key that only signs (`pyscep.messages.reply_key`).
        """
        ready = self._requests_from(Call.ENROLL)
        signer = self_signed_signer(key, request.subject_der, now=now)
        reply_keys = self._reply_keys(signer, reply_key, now)
        return self._enroll(ready, Call.ENROLL, MessageType.PKCS_REQ, request, signer, reply_keys)

    def renew(
        self,
        request: CertificationRequest,
        current: KeyPair,
        *,
        now: datetime,
        reply_key: PrivateKey | None = None,
    ) -> HTTPRequest:
        """Renewal signed with the existing certificate and key (``current``).

        RenewalReq when the CA advertises Renewal and the profile renews by
        caps, else a PKCSReq signed with the existing certificate, as
        draft-era servers expect. ``reply_key``: as for `enroll`.
        """
        ready = self._requests_from(Call.RENEW)
        by_caps = self.profile.renewal is Renewal.BY_CAPS and ready.negotiated.renewal_supported
        kind = MessageType.RENEWAL_REQ if by_caps else MessageType.PKCS_REQ
        reply_keys = self._reply_keys(current, reply_key, now)
        return self._enroll(ready, Call.RENEW, kind, request, current, reply_keys)

    def _reply_keys(
        self, signer: KeyPair, reply_key: PrivateKey | None, now: datetime
    ) -> KeyPair | None:
        """The reply certificate ``signer`` issues for ``reply_key``, with the key."""
        if reply_key is None:
            return None
        if not self.profile.post_quantum:
            raise LocalProtocolError("a reply key is named with the post-quantum profile only")
        if not signature_only(signer.certificate):
            raise LocalProtocolError(
                "a reply key is for a signer whose key only signs (ML-DSA, Ed25519): the"
                " CertRep to this one is encrypted to its own key"
            )
        return reply_key_certificate(signer, reply_key, now=now)

    def get_cert(self, wanted: IssuerAndSerial, keys: KeyPair) -> HTTPRequest:
        """GetCert for the certificate ``wanted`` names, signed with ``keys``."""
        ready = self._requests_from(Call.GET_CERT)
        querying = outgoing.query(
            ready, MessageType.GET_CERT, wanted, keys, algorithms=self.algorithms
        )
        return self._send(Call.GET_CERT, ready, querying, None)

    def get_crl(self, wanted: IssuerAndSerial, keys: KeyPair) -> HTTPRequest:
        """GetCRL for the CRL covering ``wanted``, signed with ``keys``."""
        ready = self._requests_from(Call.GET_CRL)
        querying = outgoing.query(
            ready, MessageType.GET_CRL, wanted, keys, algorithms=self.algorithms
        )
        return self._send(Call.GET_CRL, ready, querying, None)

    def poll(self, *, now: datetime) -> HTTPRequest:
        """CertPoll for the PENDING request (same transactionID, same signer)."""
        state = self._state
        if not isinstance(state, st.Pending):
            raise self._refusal_of(Call.POLL)
        polling, ready = state.polling, state.ready
        enrollment = polling.enrollment
        reply_keys = enrollment.reply_keys
        if reply_keys is not None:  # a fresh reply certificate each time: never expired
            reply_keys = reply_key_certificate(enrollment.keys, reply_keys.key, now=now)
        built = outgoing.cert_poll(
            ready,
            enrollment.poll,
            enrollment.keys,
            enrollment.built.transaction_id,
            algorithms=self.algorithms,
            reply_keys=reply_keys,
        )
        polling = replace(polling, polls=polling.polls + 1)
        enrollment = replace(enrollment, built=built, reply_keys=reply_keys)
        return self._send(Call.POLL, ready, enrollment, polling)

    def resume(
        self,
        request: CertificationRequest,
        key: PrivateKey,
        transaction_id: str,
        *,
        now: datetime,
        reply_key: PrivateKey | None = None,
    ) -> None:
        """Take up a PENDING enrollment a previous process left (then `poll`); with the
        ML-KEM ``reply_key`` it named (`enroll`), named again in the polls."""
        ready = self._requests_from(Call.RESUME)
        enrollment = outgoing.resumed(
            ready,
            request,
            key,
            transaction_id,
            algorithms=self.algorithms,
            now=now,
            name_reply_key=lambda signer: self._reply_keys(signer, reply_key, now),
        )
        polling = st.Polling(enrollment=enrollment, since=now, polls=0, next_poll_at=now)
        self._enter(Call.RESUME, st.Pending(ready, polling))

    # --- sending ---------------------------------------------------------------------

    def _enroll(
        self,
        ready: st.Ready,
        call: Call,
        kind: MessageType,
        request: CertificationRequest,
        keys: KeyPair,
        reply_keys: KeyPair | None = None,
    ) -> HTTPRequest:
        enrollment = outgoing.enrollment(
            ready,
            kind,
            request,
            keys,
            profile=self.profile,
            algorithms=self.algorithms,
            reply_keys=reply_keys,
        )
        return self._send(call, ready, enrollment, None)

    def _send(
        self,
        call: Call,
        ready: st.Ready,
        exchange: st.Exchange,
        polling: st.Polling | None,
    ) -> HTTPRequest:
        self._enter(call, st.AwaitingReply(ready, exchange, polling))
        return outgoing.http_request(self.path, ready, exchange, self.profile)

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
        self._check_post_quantum("the CA's", (ca.ca, ca.encryption, *ca.verification))
        self._settle(replace(state.before.known, ca=ca))
        return CACertificatesReceived(certificates=ca)

    def _check_post_quantum(self, whose: str, certificates: Sequence[Certificate]) -> None:
        """Opt-in: a CA's post-quantum keys are never taken without the profile."""
        names = sorted(
            {
                c.public_key.parameter_set.title
                for c in certificates
                if c.public_key.parameter_set is not None
            }
        )
        if names and not self.profile.post_quantum:
            raise UnsupportedAlgorithmError(
                f"{whose} certificates have {', '.join(names)} keys: pyscep uses them"
                " only with the post-quantum profile (opt-in)"
            )

    def _next_ca(self, state: st.AwaitingNextCA, body: bytes) -> NextCAReceived:
        chain = parse_next_ca_certificates(body, state.ready.ca, algorithms=self.algorithms)
        self._check_post_quantum("the next CA's", chain)
        self._enter(Outcome.NEXT_CA, state.ready)
        return NextCAReceived(certificates=chain)

    def _cert_rep(self, state: st.AwaitingReply, body: bytes, now: datetime) -> ClientEvent:
        exchange, ready = state.exchange, state.ready
        message = incoming.open_cert_rep(
            body, exchange, ready.ca, profile=self.profile, algorithms=self.algorithms
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
                message, exchange.opener, algorithms=self.algorithms, password=exchange.password
            )
        except UnsupportedAlgorithmError as exc:
            self._unread = st.Unread(exchange=exchange, ca=ready.ca, received_at=now)
            return ReplyUnreadable(reply=body, reason=str(exc))
        return self._event_of(content, exchange, ready.ca, self.algorithms, now)

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
        message = incoming.open_cert_rep(
            reply, unread.exchange, unread.ca, profile=self.profile, algorithms=algorithms
        )
        content = decrypt_pki_message(
            message,
            unread.exchange.opener,
            algorithms=algorithms,
            password=unread.exchange.password,
        )
        return self._event_of(content, unread.exchange, unread.ca, algorithms, when)

    def _event_of(
        self,
        content: DecryptedContent,
        exchange: st.Exchange,
        ca: CACertificates,
        algorithms: AlgorithmPolicy,
        now: datetime,
    ) -> ClientEvent:
        return incoming.content_event(
            content, exchange, ca, algorithms, now, allow_subject_rewrite=self.allow_subject_rewrite
        )
