"""Talking to the server under test: requests built as a client or an attacker would,
replies read without trusting them.

Unlike `pyscep.protocol.client.ScepClient`, which refuses a reply that breaks
the protocol, a `Probe` records what is wrong with each reply (unsigned,
transactionID or recipientNonce not echoed, FAILURE without failInfo, weaker
algorithms than the request's) and goes on: the conformance checks report it.
"""

from __future__ import annotations

import contextlib
import http.client
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from pyscep.algorithms import LEGACY, ContentCipher, DigestAlgorithm
from pyscep.certificate import Certificate
from pyscep.crypto import KeyPair, PrivateKey, load_private_key
from pyscep.enums import FailInfo, MessageType, PKIStatus
from pyscep.errors import LocalProtocolError, RemoteProtocolError, ScepError
from pyscep.http import (
    CONTENT_TYPE_PKI_MESSAGE,
    HTTPRequest,
    HTTPResponse,
    Operation,
    client_request,
)
from pyscep.messages import (
    BuiltRequest,
    CACaps,
    CACertificates,
    CertificationRequest,
    CertsOnly,
    MessageOptions,
    PKIMessage,
    UnverifiedPKIMessage,
    build_cert_poll,
    build_csr,
    build_pkcs_req,
    decrypt_pki_message,
    parse_pki_message,
    self_signed_signer,
    verify_cert_rep,
)
from pyscep.messages.content import IssuerAndSubject

__all__ = [
    "REQUEST_DEADLINE",
    "Attempt",
    "Exchange",
    "Probe",
    "Reply",
    "ServerUnreachableError",
    "Transport",
    "http_transport",
    "in_process_transport",
]

#: (HTTP status, Content-Type, body); status 0 when no HTTP answer came.
Exchange = tuple[int, str | None, bytes]
#: Sends one request to the server under test.
Transport = Callable[[HTTPRequest], Exchange]
#: The digests and ciphers weaker than what every request of a probe uses (SHA-256, AES).
_WEAK_DIGESTS = frozenset({DigestAlgorithm.MD5, DigestAlgorithm.SHA1})
_WEAK_CIPHERS = frozenset(
    {ContentCipher.DES_CBC, ContentCipher.TRIPLEDES_CBC, ContentCipher.BLOWFISH_CBC}
)
_WEAK_CIPHER_NAMES = frozenset(cipher.value for cipher in _WEAK_CIPHERS)


class ServerUnreachableError(ScepError):
    """No HTTP answer at all came from the server under test."""


#: Seconds one request may take in all, answer read to its end (a server that drips a
#: byte at a time is cut off there), and seconds one read may wait.
REQUEST_DEADLINE, _READ_TIMEOUT = 60.0, 30.0
#: The most of a body read: a certificate chain is far smaller; an error page smaller still.
_MAX_BODY, _MAX_ERROR_BODY = 1 << 20, 1 << 16


def http_transport(url: str, *, deadline: float = REQUEST_DEADLINE) -> Transport:
    """Requests sent over HTTP to the server at ``url``; no answer is status 0.

    Each request, its answer read to the end, gets ``deadline`` seconds in all:
    past it, the connection is cut and the request counts as unanswered.
    """
    parts = urlsplit(url)

    def send(request: HTTPRequest) -> Exchange:
        connection: http.client.HTTPConnection
        timeout = min(_READ_TIMEOUT, deadline)
        if parts.scheme == "https":
            context = ssl.create_default_context()
            connection = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=timeout, context=context
            )
        else:
            connection = http.client.HTTPConnection(
                parts.hostname or "", parts.port, timeout=timeout
            )
        expired = threading.Event()

        def cut() -> None:  # wakes a read blocked on a server that drips its answer
            expired.set()
            if connection.sock is not None:
                with contextlib.suppress(OSError):
                    connection.sock.shutdown(socket.SHUT_RDWR)

        watchdog = threading.Timer(deadline, cut)
        watchdog.daemon = True
        watchdog.start()
        try:
            exchange = _exchanged(connection, request, time.monotonic() + deadline)
        except (OSError, http.client.HTTPException) as exc:  # a reset, not HTTP: recorded
            exchange = 0, None, (str(exc) or repr(exc)).encode()
        finally:
            watchdog.cancel()
            connection.close()
        if expired.is_set():  # cut off: what came before is no answer
            return 0, None, f"timed out: no whole answer within {deadline:g} s".encode()
        return exchange

    return send


def _exchanged(
    connection: http.client.HTTPConnection, request: HTTPRequest, deadline: float
) -> Exchange:
    """One request on ``connection``; the body read in chunks until ``deadline``."""
    body_sent = request.body if request.method == "POST" else None
    connection.request(request.method, request.target, body_sent, dict(request.headers))
    response = connection.getresponse()
    limit = _MAX_BODY if response.status == 200 else _MAX_ERROR_BODY
    body = bytearray()
    try:
        while len(body) < limit:
            if time.monotonic() > deadline:
                raise TimeoutError("timed out: the answer did not end in time")
            chunk = response.read1(min(1 << 16, limit - len(body)))
            if not chunk:
                break
            body += chunk
    except http.client.IncompleteRead as exc:  # a broken chunked body: what came is kept
        body += exc.partial
    return response.status, response.getheader("Content-Type"), bytes(body)


def in_process_transport(handle: Callable[[str, str, str, bytes], HTTPResponse]) -> Transport:
    """Requests handed to a server application in this process (``ReferenceServer.handle``)."""

    def send(request: HTTPRequest) -> Exchange:
        target = urlsplit(request.target)
        response = handle(request.method, target.path, target.query, request.body)
        return response.status, response.content_type, response.body

    return send


@dataclass(frozen=True)
class Reply:
    """The server's answer to one pkiMessage, read without trusting it.

    ``message`` is None when the answer is no pkiMessage (an HTTP error, a
    page); ``signed`` says whether a CA or RA certificate of GetCACert
    signed it; ``issued`` is the certificate a SUCCESS delivered, when it
    could be opened.
    """

    http_status: int
    message: UnverifiedPKIMessage | None
    signed: bool = False
    issued: Certificate | None = None
    problem: str | None = None

    @property
    def pki_status(self) -> PKIStatus | None:
        """The CertRep's pkiStatus (None without a CertRep)."""
        return None if self.message is None else self.message.pki_status

    @property
    def fail_info(self) -> FailInfo | None:
        """The CertRep's failInfo."""
        return None if self.message is None else self.message.fail_info

    @property
    def granted(self) -> bool:
        """Did the server issue (SUCCESS) or accept for later (PENDING)?"""
        return self.pki_status in (PKIStatus.SUCCESS, PKIStatus.PENDING)

    @property
    def delivered(self) -> bool:
        """A SUCCESS signed by the CA or RA that carries the certificate: an issuance proven.

        A SUCCESS that cannot be verified (unsigned, signed by a stranger, no certificate in
        it) proves no issuance: it is a broken reply, judged as such."""
        return self.pki_status is PKIStatus.SUCCESS and self.signed and self.issued is not None

    @property
    def refused_cleanly(self) -> bool:
        """A CertRep FAILURE signed by the CA or RA, with its failInfo (RFC 8894 3.3.2.2)."""
        return self.pki_status is PKIStatus.FAILURE and self.signed and self.fail_info is not None

    def describe(self) -> str:
        """The answer in a few words: the evidence of a check."""
        if self.message is None:
            return f"HTTP {self.http_status or 'none'}: {self.problem or 'no pkiMessage'}"
        status = self.pki_status.name if self.pki_status is not None else "no pkiStatus"
        text = f"CertRep {status}"
        if self.fail_info is not None:
            text += f" failInfo={self.fail_info.name}"
        elif self.pki_status is PKIStatus.FAILURE:
            text += " without failInfo"
        if self.issued is not None:
            text += f", issued {self.issued.subject!r} serial {self.issued.serial_number:x}"
        if not self.signed:
            text += ", not signed by the CA or RA"
        if self.problem:
            text += f" ({self.problem})"
        return text


@dataclass(frozen=True)
class Attempt:
    """A request sent and the reply to it, with the keys it was made with."""

    request: BuiltRequest
    csr: CertificationRequest | None
    signer: KeyPair
    reply: Reply


@dataclass
class Probe:
    """A client of the server under test that builds any request and judges any reply.

    ``violations`` collects, per reply rule (``reply.signed``...), what
    broke it; ``replies`` counts the CertReps read.
    """

    transport: Transport
    path: str
    now: datetime
    caps: CACaps = field(default_factory=CACaps)
    ca: CACertificates | None = None
    violations: dict[str, list[str]] = field(default_factory=dict)
    replies: int = 0

    @property
    def authority(self) -> CACertificates:
        """The CA of GetCACert (a probe sends no pkiMessage before it has one)."""
        if self.ca is None:
            raise LocalProtocolError("no pkiMessage is sent before GetCACert is answered")
        return self.ca

    # --- material ----------------------------------------------------------------

    @staticmethod
    def new_key() -> PrivateKey:
        """A fresh RSA-2048 key (what every SCEP server can encrypt to): each requester of a
        run is a new one."""
        return load_private_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @staticmethod
    def new_subject(role: str) -> str:
        """A subject no one else asked for: ``CN=pyscep-conformance-ROLE-RANDOM``."""
        return f"CN=pyscep-conformance-{role}-{secrets.token_hex(4)}"

    def requester(self, subject: str | bytes) -> KeyPair:
        """A self-signed signer for a new key, as RFC 8894 section 2.3 has clients make."""
        return self_signed_signer(self.new_key(), subject, now=self.now)

    # --- sending ---------------------------------------------------------------

    def send(self, request: HTTPRequest) -> Exchange:
        """One request, whatever the answer."""
        return self.transport(request)

    def operation(self, operation: Operation) -> Exchange:
        """GetCACaps, GetCACert or GetNextCACert."""
        return self.send(client_request(operation, path=self.path))

    def post_body(self, body: bytes) -> Exchange:
        """A PKIOperation POST of any bytes (malformed or oversized bodies)."""
        return self.send(
            client_request(Operation.PKI_OPERATION, path=self.path, message=body, use_post=True)
        )

    def enroll(
        self,
        *,
        subject: str | bytes,
        challenge: str | None,
        key: PrivateKey | None = None,
        signer: KeyPair | None = None,
        message_type: MessageType = MessageType.PKCS_REQ,
        options: MessageOptions | None = None,
        use_get: bool = False,
        tamper_csr: bool = False,
    ) -> Attempt:
        """A PKCSReq (or RenewalReq, UpdateReq) for ``key`` (a new one by default), signed
        by ``signer`` (by default a self-signed certificate for the same key); with
        ``tamper_csr``, the CSR's own signature is broken."""
        key = key or self.new_key()
        csr = build_csr(key, subject, challenge_password=challenge)
        if tamper_csr:  # its signature no longer checks out: no proof of possession
            csr = CertificationRequest.load(csr.der[:-1] + bytes([csr.der[-1] ^ 0x01]))
        signer = signer or self_signed_signer(key, subject, now=self.now)
        built = build_pkcs_req(
            csr,
            signer=signer,
            recipient=self.authority.encryption,
            message_type=message_type,
            options=options or MessageOptions(),
        )
        return Attempt(built, csr, signer, self.exchange(built, signer, csr, use_get=use_get))

    def poll(self, transaction_id: str, signer: KeyPair) -> Attempt:
        """A CertPoll for ``transaction_id``, signed by ``signer``."""
        wanted = IssuerAndSubject(self.authority.ca.subject_der, signer.certificate.subject_der)
        built = build_cert_poll(
            wanted,
            signer=signer,
            recipient=self.authority.encryption,
            transaction_id=transaction_id,
        )
        return Attempt(built, None, signer, self.exchange(built, signer, None))

    def exchange(
        self,
        built: BuiltRequest,
        signer: KeyPair,
        csr: CertificationRequest | None,
        *,
        use_get: bool = False,
    ) -> Reply:
        """Send ``built`` (POST, or GET with ``use_get``) and read the reply."""
        request = client_request(
            Operation.PKI_OPERATION, path=self.path, message=built.der, use_post=not use_get
        )
        return self.read_reply(built, signer, csr, *self.send(request))

    # --- reading -----------------------------------------------------------------

    @staticmethod
    def _sent_weak(sent: BuiltRequest) -> bool:
        """Did ``sent`` itself use a weak digest or cipher (a reply may mirror it)?"""
        request = parse_pki_message(sent.der)
        cipher = None if request.envelope is None else request.envelope.cipher_name
        return request.digest_algorithm in ("md5", "sha1") or cipher in _WEAK_CIPHER_NAMES

    def read_unsolicited(self, body: bytes) -> Reply:
        """A CertRep to a request that was no pkiMessage: signed, with a status?"""
        try:
            # Everything read now: an unreadable reply is no pkiMessage, never unsigned.
            message = parse_pki_message(body, defer=False)
        except ScepError as exc:
            return Reply(200, None, problem=str(exc))
        try:
            verify_cert_rep(message, ca_certificates=self.authority.verification, algorithms=LEGACY)
        except RemoteProtocolError as exc:
            return Reply(200, message, signed=True, problem=str(exc))
        except ScepError as exc:
            return Reply(200, message, problem=str(exc))
        return Reply(200, message, signed=True)

    def _violated(self, rule: str, why: str) -> None:
        self.violations.setdefault(rule, []).append(why)

    def read_reply(
        self,
        sent: BuiltRequest,
        signer: KeyPair,
        csr: CertificationRequest | None,
        status: int,
        content_type: str | None,
        body: bytes,
    ) -> Reply:
        """Judge one answer to ``sent``: parse, check the RFC 8894 reply rules, open a SUCCESS."""
        if status != 200:
            text = body[:80].decode("utf-8", "replace").strip()
            return Reply(status, None, problem=text or "no body")
        try:
            message = parse_pki_message(body, defer=False)
        except ScepError as exc:
            return Reply(status, None, problem=f"not a pkiMessage: {exc}")
        if message.message_type is not MessageType.CERT_REP:
            return Reply(status, None, problem=f"a {message.message_type.rfc_name}, not a CertRep")
        self.replies += 1
        status_name = "?" if message.pki_status is None else message.pki_status.name
        kind = f"{sent.message_type.rfc_name} -> CertRep {status_name}"
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if media != CONTENT_TYPE_PKI_MESSAGE:  # RFC 8894 section 4
            self._violated("reply.content-type", f"{kind}: Content-Type {content_type!r}")
        if message.transaction_id != sent.transaction_id:
            self._violated(
                "reply.transaction-id", f"{kind}: transactionID {message.transaction_id!r}"
            )
        if message.recipient_nonce != sent.sender_nonce:
            nonce = None if message.recipient_nonce is None else message.recipient_nonce.hex()
            self._violated("reply.recipient-nonce", f"{kind}: recipientNonce {nonce}")
        if message.pki_status is PKIStatus.FAILURE and message.fail_info is None:
            self._violated("reply.fail-info", f"{kind}: FAILURE without failInfo")
        try:
            verified = verify_cert_rep(
                message, ca_certificates=self.authority.verification, algorithms=LEGACY
            )
        except RemoteProtocolError as exc:  # signed, but its status rules are broken
            return Reply(status, message, signed=True, problem=str(exc))
        except ScepError as exc:
            self._violated("reply.signed", f"{kind}: {exc}")
            return Reply(status, message, problem=str(exc))
        digest, cipher = verified.digest, verified.content_cipher
        if not self._sent_weak(sent) and digest in _WEAK_DIGESTS:
            self._violated("reply.algorithms", f"{kind}: signed with {digest.value}")
        if not self._sent_weak(sent) and cipher in _WEAK_CIPHERS:
            self._violated("reply.algorithms", f"{kind}: enveloped with {cipher.value}")
        issued = None
        problem = None
        if message.pki_status is PKIStatus.SUCCESS:
            issued, problem = _opened(_certificates_of(verified, signer), csr)
        return Reply(status, message, True, issued, problem)


def _certificates_of(verified: PKIMessage, signer: KeyPair) -> CertsOnly | ScepError:
    """The certificates of a verified SUCCESS, or why they could not be read."""
    try:
        content = decrypt_pki_message(verified, signer, algorithms=LEGACY)
    except ScepError as exc:
        return exc
    if not isinstance(content, CertsOnly):
        return RemoteProtocolError("the SUCCESS carries no certificates")
    return content


def _opened(
    content: CertsOnly | ScepError, csr: CertificationRequest | None
) -> tuple[Certificate | None, str | None]:
    """The issued certificate (the one for the CSR's key), or why there is none."""
    if isinstance(content, ScepError):
        return None, f"the SUCCESS could not be opened: {content}"
    if not content.certificates:
        return None, "the SUCCESS carries no certificate"
    if csr is None:
        return content.certificates[0], None
    for certificate in content.certificates:
        if certificate.public_key_der == csr.public_key_der:
            return certificate, None
    return content.certificates[0], "no certificate for the requested key"
