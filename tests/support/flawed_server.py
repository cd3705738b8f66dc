"""pyscep's reference server with exactly one flaw, for the conformance checks to catch.

`FlawedServer` is `ReferenceServer` (what ``pyscep serve`` runs) in this
process, with one `Flaw` added around it. A flaw that lets a request through
answers that request itself (opened with `open_request`, a certificate
signed by the server's CA) and only when every other protection would have
let it through, so that a server with one flaw breaks one rule; a flaw of
the replies re-signs the reference server's CertRep with one attribute or
algorithm changed; an HTTP flaw answers with the status a careless server
sends. Without a flaw, `FlawedServer` is the reference server.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs

from pyscep.algorithms import LEGACY, ContentCipher, DigestAlgorithm
from pyscep.certificate import Certificate
from pyscep.cms.enveloped import decrypt_envelope
from pyscep.cms.signed import build_signed_data
from pyscep.conformance.probe import Probe
from pyscep.crypto import KeyPair, get_backend, load_private_key
from pyscep.crypto.signed_object import is_issued_by
from pyscep.enums import FailInfo, MessageType, PKIStatus
from pyscep.errors import ScepError
from pyscep.http import HTTPResponse, read_request
from pyscep.messages import (
    CertificationRequest,
    MessageOptions,
    PKIMessage,
    build_cert_rep_failure,
    build_cert_rep_pending,
    build_cert_rep_success,
    build_csr,
    build_next_ca_certificates,
    issue_certificate,
    new_nonce,
    open_request,
    parse_pki_message,
    verify_request,
)
from pyscep.messages.attributes import attribute_ders
from pyscep.messages.pkimessage.values import signed_data_of
from pyscep.protocol.transactions import TransactionState
from pyscep.server import ReferenceServer, ServeOptions
from pyscep.testing import make_identity

__all__ = ["CHALLENGE", "Flaw", "FlawedServer"]

CHALLENGE = "conformance-secret"
PKI_MESSAGE = "application/x-pki-message"


class Flaw(enum.Enum):
    """One way a SCEP server goes wrong."""

    #: GetCACaps answered 404.
    NO_CAPS = enum.auto()
    #: GetCACaps lists neither SHA-256 nor AES.
    WEAK_CAPS = enum.auto()
    #: GetCACert answered 500.
    NO_CA_CERT = enum.auto()
    #: PKIOperation by POST answered 405.
    POST_REFUSED = enum.auto()
    #: PKIOperation by GET answered 405.
    GET_REFUSED = enum.auto()
    #: A request seen before is issued again, another serial.
    SECOND_CERTIFICATE_ON_REPLAY = enum.auto()
    #: A PKCSReq with a wrong or no challenge is issued.
    ANY_CHALLENGE = enum.auto()
    #: Every FAILURE sent as HTTP 500 (micromdm/scep#37).
    REFUSAL_AS_HTTP_500 = enum.auto()
    #: None of its own: the reference's static challenge, run as if single-use.
    STATIC_CHALLENGE = enum.auto()
    #: A PKCSReq signed by a self-signed certificate of another key is issued.
    SIGNER_NOT_CSR_KEY = enum.auto()
    #: A RenewalReq signed by any self-signed certificate is issued.
    SELF_SIGNED_RENEWAL = enum.auto()
    #: A RenewalReq whose signer names this CA as issuer is issued, unverified.
    RENEWAL_BY_ISSUER_NAME = enum.auto()
    #: An UpdateReq is issued, unauthenticated (CVE-2026-30836).
    UPDATE_REQ_ALLOWED = enum.auto()
    #: A CertPoll gets the transaction's certificate, whoever signs it.
    POLL_BY_TRANSACTION_ID = enum.auto()
    #: A held request is issued on its owner's poll.
    POLL_APPROVES = enum.auto()
    #: MD5 and single DES accepted (pyscep serve --legacy).
    LEGACY_ALGORITHMS = enum.auto()
    #: Renewals signed by its own certificates refused.
    RENEWAL_REFUSED = enum.auto()
    #: A renewal signed by its certificate is issued for any subject.
    RENEWAL_ANY_SUBJECT = enum.auto()
    #: A body over 1 MiB answered 500.
    OVERSIZED_PARSED = enum.auto()
    #: A POST body that is no pkiMessage answered 500.
    MALFORMED_AS_HTTP_500 = enum.auto()
    #: Every CertRep re-signed by another CA of the same name.
    REPLIES_SIGNED_BY_STRANGER = enum.auto()
    #: Every CertRep re-signed with another transactionID.
    TRANSACTION_ID_NOT_ECHOED = enum.auto()
    #: Every CertRep re-signed with another recipientNonce.
    NONCE_NOT_ECHOED = enum.auto()
    #: Every FAILURE re-signed without its failInfo.
    FAILURE_WITHOUT_FAIL_INFO = enum.auto()
    #: Every CertRep re-signed with MD5.
    MD5_REPLIES = enum.auto()
    #: GetNextCACert signed by another CA of the same name.
    NEXT_CA_SIGNED_BY_STRANGER = enum.auto()
    #: SHA-512 advertised, a request signed with it refused.
    REFUSES_ADVERTISED_SHA512 = enum.auto()
    #: SHA-512 and 3DES advertised, each accepted, but not the two together.
    REFUSES_SHA512_WITH_DES3 = enum.auto()
    #: A PKCSReq whose CSR's own signature is broken is issued.
    CSR_SIGNATURE_IGNORED = enum.auto()
    #: A PKCSReq signed by its own certificate (a draft-era renewal) refused.
    DRAFT_RENEWAL_REFUSED = enum.auto()
    #: GetCACaps answered with bytes that are not ASCII.
    CAPS_NOT_ASCII = enum.auto()
    #: GetCACaps answered with 100 KiB of capabilities.
    CAPS_TOO_LARGE = enum.auto()
    #: An honest PKCSReq (SHA-256) issued a certificate for another key (the same subject).
    ISSUES_FOR_OTHER_KEY = enum.auto()
    #: Every refusal (FAILURE) re-signed as a SUCCESS carrying no certificate.
    REFUSALS_AS_EMPTY_SUCCESS = enum.auto()
    #: A request is refused the first time it is seen, issued when it is sent again.
    REFUSED_THEN_ISSUED_ON_REPLAY = enum.auto()
    #: An honest PKCSReq signed with SHA-384 or SHA-512 (and enveloped with AES) answered
    #: with its certificate enveloped with 3DES.
    DES3_REPLIES = enum.auto()
    #: An UpdateReq held for an operator (PENDING), not refused.
    UPDATE_REQ_HELD = enum.auto()
    #: A renewal refused unless it carries the challengePassword as well (micromdm).
    RENEWAL_NEEDS_CHALLENGE = enum.auto()
    #: The challenge checked only when present: a PKCSReq without one is issued
    #: (inverse-inc/packetfence#7928, S6).
    CHALLENGE_ONLY_WHEN_PRESENT = enum.auto()
    #: A held request is issued on its owner's second poll.
    POLL_APPROVES_LATER = enum.auto()
    #: Every CertRep sent as text/plain.
    CERT_REP_AS_TEXT = enum.auto()


class FlawedServer:
    """`ReferenceServer` on ``directory``, with ``flaw`` (or none)."""

    def __init__(
        self,
        directory: Path,
        flaw: Flaw | None = None,
        *,
        manual: bool = False,
        one_time: bool = False,
        next_ca: bool = False,
    ) -> None:
        self.flaw = flaw
        options = ServeOptions(
            state_dir=directory / "state",
            challenge=None if one_time else CHALLENGE,
            challenge_mode="one-time" if one_time else "static",
            manual=manual,
            legacy=flaw is Flaw.LEGACY_ALGORITHMS,
            next_ca=next_ca or flaw is Flaw.NEXT_CA_SIGNED_BY_STRANGER,
        )
        self.reference = ReferenceServer(options)
        self.ca: KeyPair = self.reference.files.ca
        self.stranger = make_identity("pyscep serve CA", now=_now(), ca=True)
        self.seen: set[bytes] = set()
        self.polls: dict[str, int] = {}
        self.answered: dict[bytes, bytes] = {}

    def one_time_challenge(self) -> str:
        """A challenge valid once (a server made with ``one_time=True``)."""
        return self.reference.one_time_challenges().issue(ttl=timedelta(minutes=10))

    # --- HTTP ---------------------------------------------------------------------

    def handle(self, method: str, path: str, query: str, body: bytes) -> HTTPResponse:
        """One HTTP request, answered with the flaw."""
        operation = parse_qs(query).get("operation", [""])[0]
        flaw = self.flaw
        if operation == "GetCACaps" and flaw is Flaw.NO_CAPS:
            return HTTPResponse(404, "text/plain", b"not found")
        if operation == "GetCACaps" and flaw is Flaw.WEAK_CAPS:
            return HTTPResponse(200, "text/plain", b"POSTPKIOperation\nDES3\nSHA-1\n")
        if operation == "GetCACaps" and flaw is Flaw.CAPS_NOT_ASCII:
            return HTTPResponse(200, "text/plain", "SHA-256\nAES\nRenouvellement\u00e9\n".encode())
        if operation == "GetCACaps" and flaw is Flaw.CAPS_TOO_LARGE:
            return HTTPResponse(200, "text/plain", b"SHA-256\n" * (100 << 7))
        if operation == "GetCACert" and flaw is Flaw.NO_CA_CERT:
            return HTTPResponse(500, "text/plain", b"internal error")
        if operation == "GetNextCACert" and flaw is Flaw.NEXT_CA_SIGNED_BY_STRANGER:
            assert self.reference.files.next_ca is not None
            stranger = KeyPair(load_private_key(self.stranger.key_der), self.stranger.certificate)
            body = build_next_ca_certificates(
                [self.reference.files.next_ca.certificate], signer=stranger
            )
            return HTTPResponse(200, "application/x-x509-next-ca-cert", body)
        if operation == "PKIOperation":
            refused = self._refused_by_transport(method, body)
            if refused is not None:
                return refused
            message = self._message(method, path, query, body)
            if message is not None:
                issued = self._let_through(message)
                if issued is not None:
                    return HTTPResponse(200, PKI_MESSAGE, issued)
        response = self.reference.handle(method, path, query, body)
        return self._reply_flaw(response)

    def _refused_by_transport(self, method: str, body: bytes) -> HTTPResponse | None:
        flaw = self.flaw
        if flaw is Flaw.POST_REFUSED and method == "POST":
            return HTTPResponse(405, "text/plain", b"use GET")
        if flaw is Flaw.GET_REFUSED and method == "GET":
            return HTTPResponse(405, "text/plain", b"use POST")
        if flaw is Flaw.OVERSIZED_PARSED and len(body) > 1 << 20:
            return HTTPResponse(500, "text/plain", b"out of memory")
        if flaw is Flaw.MALFORMED_AS_HTTP_500 and method == "POST" and len(body) < 1 << 20:
            try:
                parse_pki_message(body)
            except ScepError:
                return HTTPResponse(500, "text/plain", b"Traceback (most recent call last)")
        return None

    def _message(self, method: str, path: str, query: str, body: bytes) -> bytes | None:
        try:
            return read_request(method, path, query, body).message
        except ScepError:
            return None

    # --- requests a flaw lets through -----------------------------------------------

    def _let_through(self, der: bytes) -> bytes | None:
        """The CertRep the flaw answers ``der`` with, or None (the reference answers)."""
        if self.flaw is Flaw.CSR_SIGNATURE_IGNORED:
            return self._unchecked_csr(der)
        if self.flaw in (Flaw.REFUSES_ADVERTISED_SHA512, Flaw.REFUSES_SHA512_WITH_DES3):
            try:
                message = verify_request(parse_pki_message(der), algorithms=LEGACY)
            except ScepError:
                return None
            if message.digest_algorithm != "sha512":
                return None
            if (
                self.flaw is Flaw.REFUSES_SHA512_WITH_DES3
                and message.content_cipher is not ContentCipher.TRIPLEDES_CBC
            ):
                return None
            return build_cert_rep_failure(message, FailInfo.BAD_ALG, signer=self.ca)
        try:
            message, content = open_request(der, self.reference.files.ca, algorithms=LEGACY)
        except ScepError:
            return None
        if isinstance(content, CertificationRequest):
            signer = message.signer_certificate
            answer = self._answer_flaw(message, content, der)
            if answer is not None:
                return answer
            refused = self.flaw is Flaw.RENEWAL_REFUSED or (
                self.flaw is Flaw.DRAFT_RENEWAL_REFUSED
                and message.message_type is MessageType.PKCS_REQ
            )
            if refused and self._issued_here(signer):
                return build_cert_rep_failure(message, FailInfo.BAD_REQUEST, signer=self.ca)
            if self._lets_enrollment_through(message, content, der):
                return self._issue(message, content)
            return None
        if message.message_type is MessageType.CERT_POLL:
            return self._poll(message)
        return None

    def _answer_flaw(
        self, message: PKIMessage, csr: CertificationRequest, der: bytes
    ) -> bytes | None:
        """The flaws that answer an enrollment otherwise than by issuing it as asked."""
        flaw, kind = self.flaw, message.message_type
        signer = message.signer_certificate
        if der in self.answered:  # the same request, the same answer
            return self.answered[der]
        honest = (
            kind is MessageType.PKCS_REQ
            and signer.self_signed
            and signer.public_key_der == csr.public_key_der
            and csr.challenge_password == CHALLENGE
        )
        digest = message.digest_algorithm
        if flaw is Flaw.ISSUES_FOR_OTHER_KEY and honest and digest == "sha256":
            other = build_csr(Probe.new_key(), csr.subject_der)
            self.answered[der] = self._issue(message, other)
            return self.answered[der]
        if flaw is Flaw.DES3_REPLIES and honest and digest in ("sha384", "sha512"):
            weak = MessageOptions(cipher=ContentCipher.TRIPLEDES_CBC, algorithms=LEGACY)
            self.answered[der] = self._issue(message, csr, weak)
            return self.answered[der]
        if flaw is Flaw.REFUSED_THEN_ISSUED_ON_REPLAY:
            replayed = der in self.seen
            self.seen.add(der)
            if replayed:
                return self._issue(message, csr)
            return build_cert_rep_failure(message, FailInfo.BAD_REQUEST, signer=self.ca)
        if flaw is Flaw.UPDATE_REQ_HELD and kind is MessageType.UPDATE_REQ:
            return build_cert_rep_pending(message, signer=self.ca)
        renewal = not signer.self_signed and self._issued_here(signer)
        if flaw is Flaw.RENEWAL_NEEDS_CHALLENGE and renewal and csr.challenge_password is None:
            return build_cert_rep_failure(message, FailInfo.BAD_REQUEST, signer=self.ca)
        return None

    def _unchecked_csr(self, der: bytes) -> bytes | None:
        """CSR_SIGNATURE_IGNORED: a PKCSReq with the challenge issued, its CSR's own
        signature unchecked (when it checks out, the reference answers)."""
        try:
            message = verify_request(parse_pki_message(der), algorithms=LEGACY)
            assert message.envelope is not None
            plaintext, _, _ = decrypt_envelope(
                message.envelope, self.ca, backend=get_backend(), algorithms=LEGACY
            )
            csr = CertificationRequest.load(plaintext)
        except ScepError:
            return None
        try:
            csr.verify_signature(get_backend(), LEGACY)
        except ScepError:
            if csr.challenge_password == CHALLENGE:
                return self._issue(message, csr)
        return None

    def _lets_enrollment_through(
        self, message: PKIMessage, csr: CertificationRequest, der: bytes
    ) -> bool:
        flaw, kind = self.flaw, message.message_type
        signer = message.signer_certificate
        own_key = signer.public_key_der == csr.public_key_der
        right_challenge = csr.challenge_password == CHALLENGE
        ours = self._issued_here(signer)
        if flaw is Flaw.SECOND_CERTIFICATE_ON_REPLAY:
            replayed = der in self.seen
            self.seen.add(der)
            return replayed
        if flaw is Flaw.ANY_CHALLENGE:
            return kind is MessageType.PKCS_REQ and own_key and not right_challenge
        if flaw is Flaw.CHALLENGE_ONLY_WHEN_PRESENT:
            return kind is MessageType.PKCS_REQ and own_key and csr.challenge_password is None
        if flaw is Flaw.SIGNER_NOT_CSR_KEY:
            return kind is MessageType.PKCS_REQ and signer.self_signed and not own_key
        if flaw is Flaw.SELF_SIGNED_RENEWAL:
            return kind is MessageType.RENEWAL_REQ and signer.self_signed
        if flaw is Flaw.RENEWAL_BY_ISSUER_NAME:
            same_name = signer.issuer_der == self.ca.certificate.subject_der
            same_subject = signer.subject_der == csr.subject_der
            return kind is MessageType.RENEWAL_REQ and same_name and same_subject and not ours
        if flaw is Flaw.UPDATE_REQ_ALLOWED:
            return kind is MessageType.UPDATE_REQ
        if flaw is Flaw.RENEWAL_ANY_SUBJECT:
            return ours and signer.subject_der != csr.subject_der
        return False

    def _issued_here(self, certificate: Certificate) -> bool:
        return is_issued_by(
            certificate, self.ca.certificate, backend=get_backend(), algorithms=LEGACY
        )

    def _issue(
        self,
        message: PKIMessage,
        csr: CertificationRequest,
        options: MessageOptions | None = None,
    ) -> bytes:
        certificate = issue_certificate(
            self.ca, csr, now=_now(), days=30, serial_number=secrets.randbits(63) | 1
        )
        return build_cert_rep_success(
            message, [certificate], signer=self.ca, options=options or MessageOptions()
        )

    def _poll(self, message: PKIMessage) -> bytes | None:
        """POLL_BY_TRANSACTION_ID: the transaction's certificate to whoever asks;
        POLL_APPROVES: a held request issued on its owner's poll."""
        stored = self.reference.store.get(message.transaction_id or "")
        if stored is None:
            return None
        if self.flaw is Flaw.POLL_BY_TRANSACTION_ID and stored.certificates:
            issued = [Certificate.load(stored.certificates[0])]
            return build_cert_rep_success(message, issued, signer=self.ca)
        owner = stored.signed_by_requester(message.signer_certificate.public_key_der)
        if not owner or stored.state is not TransactionState.PENDING:
            return None
        polls = self.polls[stored.transaction_id] = self.polls.get(stored.transaction_id, 0) + 1
        if self.flaw is Flaw.POLL_APPROVES or (self.flaw is Flaw.POLL_APPROVES_LATER and polls > 1):
            return self._issue(message, CertificationRequest.load(stored.csr))
        return None

    # --- flaws of the replies ---------------------------------------------------------

    def _reply_flaw(self, response: HTTPResponse) -> HTTPResponse:
        """The reference server's CertRep, answered or re-signed with the flaw."""
        flaw = self.flaw
        if response.content_type != PKI_MESSAGE or response.status != 200:
            return response
        if flaw is Flaw.CERT_REP_AS_TEXT:
            return HTTPResponse(200, "text/plain", response.body)
        reply = parse_pki_message(response.body)
        attributes = reply.attributes
        failure = attributes.pki_status is PKIStatus.FAILURE
        signer: KeyPair = self.ca
        digest = DigestAlgorithm.SHA256
        if flaw is Flaw.REFUSAL_AS_HTTP_500 and failure:
            return HTTPResponse(500, "text/plain", b"challenge password invalid")
        if flaw is Flaw.REPLIES_SIGNED_BY_STRANGER:
            signer = KeyPair(load_private_key(self.stranger.key_der), self.stranger.certificate)
        elif flaw is Flaw.TRANSACTION_ID_NOT_ECHOED:
            attributes = replace(attributes, transaction_id=secrets.token_hex(16).upper())
        elif flaw is Flaw.NONCE_NOT_ECHOED:
            attributes = replace(attributes, recipient_nonce=new_nonce())
        elif flaw is Flaw.FAILURE_WITHOUT_FAIL_INFO and failure:
            attributes = replace(attributes, fail_info=None)
        elif flaw is Flaw.REFUSALS_AS_EMPTY_SUCCESS and failure:
            attributes = replace(attributes, pki_status=PKIStatus.SUCCESS, fail_info=None)
        elif flaw is Flaw.MD5_REPLIES:
            digest = DigestAlgorithm.MD5
        else:
            return response
        body = build_signed_data(
            signed_data_of(reply).content,
            signer,
            digest=digest,
            backend=get_backend(),
            algorithms=LEGACY,
            attributes=attribute_ders(attributes),
        )
        return HTTPResponse(200, PKI_MESSAGE, body)


def _now() -> datetime:
    return datetime.now(timezone.utc)
