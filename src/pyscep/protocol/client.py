"""The sans-IO SCEP client: calls make HTTP requests, responses make events.

`ScepClient` knows one CA (one URL path). The application sends the
`HttpRequest` a call returns, feeds the response back with `receive`, and
acts on the event it gets. Time is an argument, never read. Every transition
is in `_CALLS` (what a call needs and leads to) and `_AFTER` (where a
response leads); a call that does not fit the state raises LocalProtocolError
and changes nothing.

PENDING, FAILURE and an issued certificate are events, not exceptions. A
reply that breaks the protocol (wrong transactionID, recipientNonce not
echoed, bad signature, wrong Content-Type) moves the client to FAILED with a
`ProtocolFailed` event. An issued certificate is accepted (`CertificateIssued`)
only when it is for the requested key and subject, signed by the CA of
GetCACert and valid at ``now``; any other is `CertificateRefused`, with why.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

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
from pyscep.http import HttpRequest, Operation, classify_response, client_request
from pyscep.messages import (
    BuiltRequest,
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
from pyscep.protocol.profiles import STRICT, InteropProfile, Renewal

__all__ = [
    "CACertificatesReceived",
    "CapabilitiesReceived",
    "CertificateIssued",
    "CertificateRefused",
    "CertificatesReceived",
    "ClientEvent",
    "ClientState",
    "CrlReceived",
    "NextCAReceived",
    "PollSchedule",
    "ProtocolFailed",
    "ReplyUnreadable",
    "RequestPending",
    "RequestRejected",
    "ScepClient",
]


class ClientState(str, enum.Enum):
    """Where the client stands."""

    #: Capabilities or CA certificates not known yet.
    IDLE = "idle"
    #: Both known: requests can be made.
    READY = "ready"
    AWAIT_CAPS = "await-caps"
    AWAIT_CA = "await-ca"
    AWAIT_NEXT_CA = "await-next-ca"
    #: A pkiMessage is out; its CertRep is awaited.
    AWAIT_REPLY = "await-reply"
    #: The CA answered PENDING: poll when `ScepClient.next_poll_at` says.
    PENDING = "pending"
    #: A reply broke the protocol; make a new client.
    FAILED = "failed"


#: What each call needs (states it is allowed in) and the state it leads to.
_CALLS: dict[str, tuple[frozenset[ClientState], ClientState]] = {
    "get_caps": (frozenset({ClientState.IDLE, ClientState.READY}), ClientState.AWAIT_CAPS),
    "get_ca_certificates": (frozenset({ClientState.IDLE, ClientState.READY}), ClientState.AWAIT_CA),
    "get_next_ca_certificates": (frozenset({ClientState.READY}), ClientState.AWAIT_NEXT_CA),
    "enroll": (frozenset({ClientState.READY}), ClientState.AWAIT_REPLY),
    "renew": (frozenset({ClientState.READY}), ClientState.AWAIT_REPLY),
    "get_cert": (frozenset({ClientState.READY}), ClientState.AWAIT_REPLY),
    "get_crl": (frozenset({ClientState.READY}), ClientState.AWAIT_REPLY),
    "poll": (frozenset({ClientState.PENDING}), ClientState.AWAIT_REPLY),
    "resume": (frozenset({ClientState.READY}), ClientState.PENDING),
}
#: Where a CertRep leads.
_AFTER: dict[PKIStatus, ClientState] = {
    PKIStatus.SUCCESS: ClientState.READY,
    PKIStatus.FAILURE: ClientState.READY,
    PKIStatus.PENDING: ClientState.PENDING,
}


@dataclass(frozen=True)
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


# --- events ----------------------------------------------------------------------


@dataclass(frozen=True)
class CapabilitiesReceived:
    """GetCACaps answered; ``negotiated`` is what requests will use (None if nothing fits)."""

    caps: CACaps
    negotiated: Negotiated | None


@dataclass(frozen=True)
class CACertificatesReceived:
    """GetCACert answered: the CA, where to encrypt, who may sign replies, and why."""

    certificates: CACertificates


@dataclass(frozen=True)
class NextCAReceived:
    """GetNextCACert answered, verified against the current CA: the rollover chain."""

    certificates: tuple[Certificate, ...]


@dataclass(frozen=True)
class CertificateIssued:
    """SUCCESS: the certificate for the requested key, and any chain sent with it."""

    certificate: Certificate
    chain: tuple[Certificate, ...]
    transaction_id: str


@dataclass(frozen=True)
class CertificateRefused:
    """SUCCESS, but the certificate is not the one asked for: ``reason`` says why.

    Not for the requested key, not signed by the CA of GetCACert, not valid
    at ``now``, or (unless ``allow_subject_rewrite``) for another subject.
    The CA has issued it: poll or resume the transaction, never enroll again.
    """

    certificate: Certificate
    reason: str
    transaction_id: str


@dataclass(frozen=True)
class CertificatesReceived:
    """GetCert SUCCESS."""

    certificates: tuple[Certificate, ...]


@dataclass(frozen=True)
class CrlReceived:
    """GetCRL SUCCESS: DER CRLs."""

    crls: tuple[bytes, ...]


@dataclass(frozen=True)
class RequestPending:
    """PENDING: call `ScepClient.poll` at ``poll_at`` (or give up after ``give_up_at``)."""

    transaction_id: str
    poll_at: datetime
    give_up_at: datetime


@dataclass(frozen=True)
class RequestRejected:
    """FAILURE: the CA said no, and why."""

    transaction_id: str
    fail_info: FailInfo
    fail_info_text: str | None


@dataclass(frozen=True)
class ReplyUnreadable:
    """SUCCESS, but the reply uses algorithms the client's policy refuses.

    The certificate exists on the CA: ``reply`` is kept so that
    `ScepClient.reopen` with a policy that allows them can still read it.
    """

    reply: bytes
    reason: str


@dataclass(frozen=True)
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
    | CrlReceived
    | RequestPending
    | RequestRejected
    | ReplyUnreadable
    | ProtocolFailed
)


@dataclass(frozen=True)
class _Outstanding:
    """The pkiMessage awaiting its CertRep, with what opening the reply needs."""

    built: BuiltRequest
    keys: KeyPair
    #: The CSR's key (enrollments), to pick the issued certificate.
    requested_key: bytes | None
    #: For polls: what CertPoll names (and the subject the certificate must have).
    poll_content: IssuerAndSubject | None
    #: A key that only signs: the challengePassword that keys the CertRep (RFC 8894 3.1).
    password: bytes | None = field(default=None, repr=False)
    #: When the reply was received (`ScepClient.reopen` judges validity then).
    received_at: datetime | None = None


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
        self.state = ClientState.IDLE
        self.caps: CACaps | None = None
        self.negotiated: Negotiated | None = None
        self.ca: CACertificates | None = None
        #: PENDING: when to poll next.
        self.next_poll_at: datetime | None = None
        self._operation: Operation | None = None
        self._outstanding: _Outstanding | None = None
        self._pending: _Outstanding | None = None
        self._pending_since: datetime | None = None
        self._polls = 0
        self._unread: _Outstanding | None = None

    # --- transitions ----------------------------------------------------------

    def _call(self, name: str) -> None:
        allowed, after = _CALLS[name]
        if self.state not in allowed:
            raise LocalProtocolError(f"{name} is not possible in state {self.state.value}")
        self.state = after

    def _settle(self) -> ClientState:
        return (
            ClientState.READY if self.caps is not None and self.ca is not None else ClientState.IDLE
        )

    # --- calls: each returns the request to send ------------------------------

    def get_caps(self) -> HttpRequest:
        """GetCACaps."""
        self._call("get_caps")
        self._operation = Operation.GET_CA_CAPS
        return client_request(Operation.GET_CA_CAPS, path=self.path)

    def get_ca_certificates(self) -> HttpRequest:
        """GetCACert."""
        self._call("get_ca_certificates")
        self._operation = Operation.GET_CA_CERT
        return client_request(Operation.GET_CA_CERT, path=self.path)

    def get_next_ca_certificates(self) -> HttpRequest:
        """GetNextCACert (CA rollover), verified against the current CA."""
        self._call("get_next_ca_certificates")
        self._operation = Operation.GET_NEXT_CA_CERT
        return client_request(Operation.GET_NEXT_CA_CERT, path=self.path)

    def enroll(
        self, request: CertificationRequest, key: PrivateKey, *, now: datetime
    ) -> HttpRequest:
        """PKCSReq for ``request``, signed by a throw-away certificate for ``key``."""
        self._require_ready()
        signer = self_signed_signer(key, request.subject_der, now=now)
        return self._pki("enroll", MessageType.PKCS_REQ, request, signer)

    def renew(
        self, request: CertificationRequest, current: KeyPair, *, now: datetime
    ) -> HttpRequest:
        """Renewal signed with the existing certificate and key (``current``).

        RenewalReq when the CA advertises Renewal and the profile renews by
        caps, else a PKCSReq signed with the existing certificate, as
        draft-era servers expect.
        """
        self._require_ready()
        assert self.negotiated is not None
        by_caps = self.profile.renewal is Renewal.BY_CAPS and self.negotiated.renewal_supported
        kind = MessageType.RENEWAL_REQ if by_caps else MessageType.PKCS_REQ
        return self._pki("renew", kind, request, current)

    def get_cert(self, wanted: IssuerAndSerial, keys: KeyPair) -> HttpRequest:
        """GetCert for the certificate ``wanted`` names, signed with ``keys``."""
        self._require_ready()
        return self._query("get_cert", MessageType.GET_CERT, wanted, keys)

    def get_crl(self, wanted: IssuerAndSerial, keys: KeyPair) -> HttpRequest:
        """GetCRL for the CRL covering ``wanted``, signed with ``keys``."""
        self._require_ready()
        return self._query("get_crl", MessageType.GET_CRL, wanted, keys)

    def poll(self, *, now: datetime) -> HttpRequest:
        """CertPoll for the PENDING request (same transactionID, same signer)."""
        pending = self._pending
        if self.state is not ClientState.PENDING or pending is None:
            raise LocalProtocolError(f"poll is not possible in state {self.state.value}")
        assert self.ca is not None
        assert pending.poll_content is not None
        built = build_cert_poll(
            pending.poll_content,
            signer=pending.keys,
            recipient=self.ca.encryption,
            transaction_id=pending.built.transaction_id,
            options=self._options(),
        )
        self._call("poll")
        self._polls += 1
        return self._send(replace(pending, built=built))

    def resume(
        self,
        request: CertificationRequest,
        key: PrivateKey,
        transaction_id: str,
        *,
        now: datetime,
    ) -> None:
        """Take up a PENDING enrollment a previous process left (then `poll`)."""
        self._require_ready()
        assert self.ca is not None
        keys = self_signed_signer(key, request.subject_der, now=now)
        placeholder = BuiltRequest(b"", MessageType.PKCS_REQ, transaction_id, b"")
        poll = IssuerAndSubject(self.ca.ca.subject_der, request.subject_der)
        self._call("resume")
        password = _reply_password(keys.certificate, request)
        self._pending = _Outstanding(placeholder, keys, request.public_key_der, poll, password)
        self._pending_since, self._polls, self.next_poll_at = now, 0, now

    # --- building ---------------------------------------------------------------

    def _require_ready(self) -> None:
        if self.state is not ClientState.READY:
            raise LocalProtocolError(f"requests need state ready, not {self.state.value}")
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

    def _options(self) -> MessageOptions:
        assert self.negotiated is not None
        chosen = self.negotiated.options
        return MessageOptions(
            digest=chosen.digest, cipher=chosen.cipher, algorithms=self.algorithms
        )

    def _pki(
        self, call: str, kind: MessageType, request: CertificationRequest, keys: KeyPair
    ) -> HttpRequest:
        assert self.ca is not None
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
            recipient=self.ca.encryption,
            message_type=kind,
            transaction_id=transaction_id_for_key(request.public_key_der),
            options=self._options(),
            password=password,
        )
        poll = IssuerAndSubject(self.ca.ca.subject_der, request.subject_der)
        self._call(call)
        return self._send(_Outstanding(built, keys, request.public_key_der, poll, password))

    def _query(
        self, call: str, kind: MessageType, wanted: IssuerAndSerial, keys: KeyPair
    ) -> HttpRequest:
        assert self.ca is not None
        built = build_request(
            kind,
            wanted.dump(),
            signer=keys,
            recipient=self.ca.encryption,
            transaction_id=transaction_id_for_key(keys.certificate.public_key_der + wanted.dump()),
            options=self._options(),
        )
        self._call(call)
        return self._send(_Outstanding(built, keys, None, None))

    def _send(self, outstanding: _Outstanding) -> HttpRequest:
        self._outstanding = outstanding
        self._operation = Operation.PKI_OPERATION
        use_post = self.profile.use_post
        if use_post is None:
            use_post = self.negotiated is not None and self.negotiated.use_post
        return client_request(
            Operation.PKI_OPERATION,
            path=self.path,
            message=outstanding.built.der,
            use_post=use_post,
        )

    # --- receiving ----------------------------------------------------------------

    def receive(
        self, status: int, content_type: str | None, body: bytes, *, now: datetime
    ) -> ClientEvent:
        """The response to the request last sent, as an event."""
        operation = self._operation
        if operation is None or self.state not in _AWAITING:
            raise LocalProtocolError(f"no request is awaiting a response ({self.state.value})")
        self._operation = None
        try:
            classify_response(operation, status, content_type, body)
            if operation is Operation.GET_CA_CAPS:
                return self._caps(body if status == 200 else b"")
            if operation is Operation.GET_CA_CERT:
                return self._ca(body, now)
            if operation is Operation.GET_NEXT_CA_CERT:
                return self._next_ca(body)
            return self._cert_rep(body, now)
        except ScepError as exc:
            self.state = ClientState.FAILED
            return ProtocolFailed(str(exc), exc)

    def _caps(self, body: bytes) -> CapabilitiesReceived:
        self.caps = CACaps.parse(body)
        try:
            self.negotiated = negotiate(self.caps, self.algorithms)
        except UnsupportedAlgorithmError:
            self.negotiated = None
        self.state = self._settle()
        return CapabilitiesReceived(self.caps, self.negotiated)

    def _ca(self, body: bytes, now: datetime) -> CACertificatesReceived:
        self.ca = parse_ca_certificates(
            body, now=now, ca_fingerprint=self.ca_fingerprint, algorithms=self.algorithms
        )
        self.state = self._settle()
        return CACertificatesReceived(self.ca)

    def _next_ca(self, body: bytes) -> NextCAReceived:
        assert self.ca is not None
        chain = parse_next_ca_certificates(body, self.ca, algorithms=self.algorithms)
        self.state = ClientState.READY
        return NextCAReceived(chain)

    def _cert_rep(self, body: bytes, now: datetime) -> ClientEvent:
        outstanding = self._outstanding
        assert outstanding is not None
        assert self.ca is not None
        message = verify_cert_rep(
            parse_pki_message(body),
            ca_certificates=self.ca.verification,
            request=outstanding.built,
            algorithms=self.algorithms,
            strict_recipient_nonce=self.profile.strict_recipient_nonce,
        )
        status = message.pki_status
        assert status is not None  # verify_cert_rep refuses a CertRep without one
        self.state = _AFTER[status]
        txid = outstanding.built.transaction_id
        if status is PKIStatus.PENDING:
            return self._now_pending(outstanding, now)
        self._pending = None
        if status is PKIStatus.FAILURE:
            assert message.fail_info is not None
            return RequestRejected(txid, message.fail_info, message.fail_info_text)
        return self._success(message, outstanding, body, now)

    def _now_pending(self, outstanding: _Outstanding, now: datetime) -> ClientEvent:
        if self._pending is None:
            self._pending, self._pending_since, self._polls = outstanding, now, 0
        assert self._pending_since is not None
        give_up_at = self._pending_since + self.poll_schedule.give_up_after
        self.next_poll_at = now + self.poll_schedule.delay(self._polls)
        if self.next_poll_at > give_up_at:
            self._pending = self.next_poll_at = None
            self.state = ClientState.READY
            return RequestRejected(
                outstanding.built.transaction_id, FailInfo.BAD_REQUEST, "gave up polling"
            )
        return RequestPending(outstanding.built.transaction_id, self.next_poll_at, give_up_at)

    def _success(
        self, message: PKIMessage, outstanding: _Outstanding, body: bytes, now: datetime
    ) -> ClientEvent:
        try:
            content = decrypt_pki_message(
                message, outstanding.keys, algorithms=self.algorithms, password=outstanding.password
            )
        except UnsupportedAlgorithmError as exc:
            self._unread = replace(outstanding, received_at=now)
            return ReplyUnreadable(body, str(exc))
        return self._content(content, outstanding, self.algorithms, now)

    def _content(
        self,
        content: DecryptedContent,
        outstanding: _Outstanding,
        algorithms: AlgorithmPolicy,
        now: datetime,
    ) -> ClientEvent:
        if not isinstance(content, CertsOnly):
            raise LocalProtocolError("a CertRep SUCCESS carries a certs-only SignedData")
        kind = outstanding.built.message_type
        if kind is MessageType.GET_CRL:
            return CrlReceived(content.crls)
        if kind is MessageType.GET_CERT:
            return CertificatesReceived(content.certificates)
        if not content.certificates:
            raise RemoteProtocolError("the CertRep carries no certificate")
        # RFC 8894: the issued certificate comes first, any chain after it.
        issued, txid = content.certificates[0], outstanding.built.transaction_id
        reason = self._refusal(issued, outstanding, algorithms, now)
        if reason is not None:
            return CertificateRefused(issued, reason, txid)
        chain = tuple(c for c in content.certificates if c != issued)
        return CertificateIssued(issued, chain, txid)

    def _refusal(
        self,
        issued: Certificate,
        outstanding: _Outstanding,
        algorithms: AlgorithmPolicy,
        now: datetime,
    ) -> str | None:
        """Why ``issued`` is not the certificate requested, or None: the one acceptance check."""
        assert self.ca is not None
        assert outstanding.poll_content is not None  # enrollments and polls name their subject
        if issued.public_key_der != outstanding.requested_key:
            return "it is not for the requested key"
        # The CA's key, whoever signed the CertRep (an RA signs replies, not certificates).
        if not is_issued_by(issued, self.ca.ca, backend=get_backend(), algorithms=algorithms):
            return f"it is not signed by the CA ({self.ca.ca.subject})"
        if now + _CLOCK_SKEW < issued.not_valid_before:
            return f"it is not valid before {issued.not_valid_before.isoformat()}"
        if now > issued.not_valid_after:
            return f"it expired at {issued.not_valid_after.isoformat()}"
        requested = outstanding.poll_content.subject_der
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
        outstanding = self._unread
        if outstanding is None or self.ca is None:
            raise LocalProtocolError("no unreadable reply to reopen")
        assert outstanding.received_at is not None
        when = outstanding.received_at if now is None else now
        message = verify_cert_rep(
            parse_pki_message(reply),
            ca_certificates=self.ca.verification,
            request=outstanding.built,
            algorithms=algorithms,
            strict_recipient_nonce=self.profile.strict_recipient_nonce,
        )
        content = decrypt_pki_message(
            message, outstanding.keys, algorithms=algorithms, password=outstanding.password
        )
        return self._content(content, outstanding, algorithms, when)


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

_AWAITING = frozenset(
    {
        ClientState.AWAIT_CAPS,
        ClientState.AWAIT_CA,
        ClientState.AWAIT_NEXT_CA,
        ClientState.AWAIT_REPLY,
    }
)
