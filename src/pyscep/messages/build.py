"""Builders for every pkiMessage: requests (client side) and CertRep (server side).

Pure functions over immutable inputs; how to build (algorithms, backend,
randomness, signing time, embedded certificates) is one `MessageOptions`
value. Randomness (nonces, content keys, IVs, RSA padding) comes from
``options.rng`` (a secure source by default) and time from
``options.signing_time`` (no signingTime attribute unless given), so a test
can rebuild a message deterministically.

The CertRep builders take the request they answer (`in_reply_to`): they copy
its transactionID, put its senderNonce in recipientNonce, make a fresh
senderNonce, mirror its digest and cipher under the algorithm policy it was
accepted under, and envelope to its signer certificate, so callers cannot get
that bookkeeping wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

from pyscep.algorithms import (
    DEFAULT_POLICY,
    AlgorithmPolicy,
    ContentCipher,
    DigestAlgorithm,
)
from pyscep.certificate import Certificate
from pyscep.cms.degenerate import build_certs_only
from pyscep.cms.enveloped import build_enveloped_data, signature_only
from pyscep.cms.signed import build_signed_data
from pyscep.crypto import CryptoBackend, Signer, get_backend
from pyscep.enums import FailInfo, MessageType, PKIStatus
from pyscep.errors import LocalProtocolError, ParseError, UnsupportedAlgorithmError
from pyscep.messages.attributes import ScepAttributes, attribute_ders
from pyscep.messages.content import CertificationRequest, IssuerAndSerial, IssuerAndSubject
from pyscep.messages.identifiers import new_nonce, transaction_id_for_key
from pyscep.messages.options import DEFAULT_OPTIONS, MessageOptions
from pyscep.messages.pkimessage.parse import parse_pki_message
from pyscep.messages.pkimessage.values import PKIMessage
from pyscep.messages.reply import ReplyTo

__all__ = [
    "BuiltRequest",
    "build_cert_poll",
    "build_cert_rep_failure",
    "build_cert_rep_pending",
    "build_cert_rep_success",
    "build_get_cert",
    "build_get_crl",
    "build_pkcs_req",
    "build_request",
]


@dataclass(frozen=True)
class BuiltRequest:
    """A request ready to send, with what the client must remember to check the reply.

    ``der`` is its only field; the message type, transactionID and senderNonce
    are read from it (the builders hand them over, so nothing is parsed
    twice), so ``replace(request, der=other)`` is the other request.
    """

    der: bytes

    @classmethod
    def _built(cls, der: bytes, attributes: ScepAttributes) -> BuiltRequest:
        """The value the builders return: its attributes known, not parsed again."""
        built = cls(der)
        built.__dict__["_attributes"] = attributes
        return built

    @cached_property
    def _attributes(self) -> ScepAttributes:
        return parse_pki_message(self.der).attributes

    @property
    def message_type(self) -> MessageType:
        """The request's messageType."""
        message_type = self._attributes.message_type
        if message_type is None:  # parse_pki_message refuses a pkiMessage without one
            raise ParseError("the request has no messageType")
        return message_type

    @property
    def transaction_id(self) -> str:
        """The request's transactionID (the CertRep must echo it)."""
        return self._attributes.transaction_id or ""

    @property
    def sender_nonce(self) -> bytes:
        """The request's senderNonce (the CertRep's recipientNonce must echo it)."""
        return self._attributes.sender_nonce or b""


def _signed(
    content: bytes | None,
    attributes: ScepAttributes,
    *,
    signer: Signer,
    digest: DigestAlgorithm,
    algorithms: AlgorithmPolicy,
    backend: CryptoBackend,
    options: MessageOptions,
) -> bytes:
    embedded = options.embedded_certificates
    return build_signed_data(
        content,
        signer,
        digest=digest,
        backend=backend,
        algorithms=algorithms,
        scheme=options.scheme,
        attributes=attribute_ders(attributes),
        certificates=None if embedded is None else list(embedded),
        signing_time=options.signing_time,
        rsa_digest_in_signature_oid=options.rsa_digest_in_signature_oid,
    )


def build_request(
    message_type: MessageType,
    content: bytes,
    *,
    signer: Signer,
    recipient: Certificate | None,
    transaction_id: str,
    sender_nonce: bytes | None = None,
    options: MessageOptions = DEFAULT_OPTIONS,
    password: bytes | None = None,
) -> BuiltRequest:
    """Any request: ``content`` (DER) enveloped to ``recipient`` (the CA or RA), signed.

    ``password`` adds a PasswordRecipientInfo keyed by it: what a client whose
    key only signs sends (its challengePassword, RFC 8894 section 3.1), so
    that the CA answers in the same form. With ``recipient=None`` the
    password is the only recipient (the CA must then know the password).

    Raises LocalProtocolError for a message type that is not a request, and
    UnsupportedAlgorithmError for algorithms ``options.algorithms`` refuses.
    """
    if not message_type.is_request:
        raise LocalProtocolError(f"{message_type.rfc_name} is not a request")
    if recipient is None and password is None:
        raise LocalProtocolError("a request needs a recipient certificate or a password")
    crypto = get_backend(options.backend)
    algorithms = options.algorithms or DEFAULT_POLICY
    nonce = (
        sender_nonce if sender_nonce is not None else new_nonce(options.rng or crypto.random_bytes)
    )
    envelope = build_enveloped_data(
        content,
        recipient,
        cipher=options.cipher or ContentCipher.AES128_CBC,
        backend=crypto,
        algorithms=algorithms,
        key_transport=options.key_transport,
        rng=options.rng,
        password=password,
    )
    attributes = ScepAttributes(
        message_type=message_type, transaction_id=transaction_id, sender_nonce=nonce
    )
    der = _signed(
        envelope,
        attributes,
        signer=signer,
        digest=options.digest or DigestAlgorithm.SHA256,
        algorithms=algorithms,
        backend=crypto,
        options=options,
    )
    return BuiltRequest._built(der, attributes)


def build_pkcs_req(
    csr: bytes | CertificationRequest,
    *,
    signer: Signer,
    recipient: Certificate | None,
    message_type: MessageType = MessageType.PKCS_REQ,
    transaction_id: str | None = None,
    sender_nonce: bytes | None = None,
    options: MessageOptions = DEFAULT_OPTIONS,
    password: bytes | None = None,
) -> BuiltRequest:
    """PKCSReq (or RenewalReq / UpdateReq with ``message_type``) carrying a PKCS#10 request.

    The transactionID defaults to the SHA-256 of the CSR's public key
    (`transaction_id_for_key`). For an initial enrollment the signer is
    usually a self-signed certificate for the CSR's key (`self_signed_signer`);
    for a renewal, the certificate being renewed. ``password``: see
    `build_request`.
    """
    if not message_type.carries_csr:
        raise LocalProtocolError(f"{message_type.rfc_name} does not carry a PKCS#10 request")
    request = csr if isinstance(csr, CertificationRequest) else CertificationRequest.load(csr)
    return build_request(
        message_type,
        request.der,
        signer=signer,
        recipient=recipient,
        transaction_id=transaction_id or transaction_id_for_key(request.public_key_der),
        sender_nonce=sender_nonce,
        options=options,
        password=password,
    )


def build_cert_poll(
    issuer_and_subject: IssuerAndSubject,
    *,
    signer: Signer,
    recipient: Certificate,
    transaction_id: str,
    options: MessageOptions = DEFAULT_OPTIONS,
) -> BuiltRequest:
    """CertPoll (GetCertInitial): ask about a PENDING request, same transactionID as it."""
    return build_request(
        MessageType.CERT_POLL,
        issuer_and_subject.dump(),
        signer=signer,
        recipient=recipient,
        transaction_id=transaction_id,
        options=options,
    )


def build_get_cert(
    issuer_and_serial: IssuerAndSerial,
    *,
    signer: Signer,
    recipient: Certificate,
    transaction_id: str,
    options: MessageOptions = DEFAULT_OPTIONS,
) -> BuiltRequest:
    """GetCert: ask for a certificate by issuer and serial number."""
    return build_request(
        MessageType.GET_CERT,
        issuer_and_serial.dump(),
        signer=signer,
        recipient=recipient,
        transaction_id=transaction_id,
        options=options,
    )


def build_get_crl(
    issuer_and_serial: IssuerAndSerial,
    *,
    signer: Signer,
    recipient: Certificate,
    transaction_id: str,
    options: MessageOptions = DEFAULT_OPTIONS,
) -> BuiltRequest:
    """GetCRL: ask for the CRL covering a certificate (named by issuer and serial)."""
    return build_request(
        MessageType.GET_CRL,
        issuer_and_serial.dump(),
        signer=signer,
        recipient=recipient,
        transaction_id=transaction_id,
        options=options,
    )


# --- CertRep --------------------------------------------------------------------


def _checked(check: Callable[[], object], name: str, reply: ReplyTo, explicit: bool) -> None:
    """Say clearly when an explicit policy refuses what the request was accepted with."""
    try:
        check()
    except UnsupportedAlgorithmError as exc:
        if not explicit:
            raise
        accepted = "allows" if reply.algorithms.allow_legacy else "refuses"
        raise UnsupportedAlgorithmError(
            f"options.algorithms refuses the request's {name} "
            f"(the request was accepted under a policy that {accepted} it): leave "
            "options.algorithms unset to answer as the request was accepted, or choose "
            "options.digest / options.cipher"
        ) from exc


def _reply(
    in_reply_to: PKIMessage | ReplyTo,
    status: PKIStatus,
    content: bytes | None,
    *,
    signer: Signer,
    options: MessageOptions,
    fail_info: FailInfo | None = None,
    fail_info_text: str | None = None,
) -> bytes:
    reply = in_reply_to if isinstance(in_reply_to, ReplyTo) else ReplyTo.of(in_reply_to)
    crypto = get_backend(options.backend)
    algorithms = options.algorithms or reply.algorithms
    explicit = options.algorithms is not None
    digest = options.digest or reply.digest
    _checked(
        lambda: algorithms.check_digest(digest),
        digest.value,
        reply,
        explicit and options.digest is None,
    )
    envelope = None
    if content is not None:
        if reply.recipient is None:
            raise LocalProtocolError("a CertRep SUCCESS needs the requester's certificate")
        cipher = options.cipher or reply.cipher
        _checked(
            lambda: algorithms.check_cipher(cipher),
            cipher.value,
            reply,
            explicit and options.cipher is None,
        )
        # A key that only signs gets the envelope keyed by its challengePassword.
        password_only = reply.password is not None and signature_only(reply.recipient)
        envelope = build_enveloped_data(
            content,
            None if password_only else reply.recipient,
            cipher=cipher,
            backend=crypto,
            algorithms=algorithms,
            key_transport=options.key_transport,
            rng=options.rng,
            password=reply.password if password_only else None,
        )
    attributes = ScepAttributes(
        message_type=MessageType.CERT_REP,
        transaction_id=reply.transaction_id,
        sender_nonce=new_nonce(options.rng or crypto.random_bytes),
        recipient_nonce=reply.sender_nonce,
        pki_status=status,
        fail_info=fail_info,
        fail_info_text=fail_info_text,
    )
    # FAILURE and PENDING carry an empty eContent, as micromdm does: OpenSSL-based
    # clients (sscep) fail to verify a SignedData whose eContent is absent.
    content_octets: bytes | None = envelope if envelope is not None else b""
    if envelope is None and options.absent_econtent:
        content_octets = None
    return _signed(
        content_octets,
        attributes,
        signer=signer,
        digest=digest,
        algorithms=algorithms,
        backend=crypto,
        options=options,
    )


def build_cert_rep_success(
    in_reply_to: PKIMessage | ReplyTo,
    issued: Sequence[Certificate] = (),
    *,
    crls: Sequence[bytes] = (),
    signer: Signer,
    options: MessageOptions = DEFAULT_OPTIONS,
) -> bytes:
    """CertRep SUCCESS: the ``issued`` certificate first (then any chain), or a CRL for GetCRL.

    The degenerate SignedData is enveloped to the requester's certificate
    with the request's cipher unless ``options.cipher`` says otherwise. What
    the outer SignedData embeds is ``options.embedded_certificates`` (the
    signer's certificate by default).
    """
    if not issued and not crls:
        raise LocalProtocolError("a CertRep SUCCESS carries certificates or a CRL")
    content = build_certs_only(list(issued), list(crls))
    return _reply(in_reply_to, PKIStatus.SUCCESS, content, signer=signer, options=options)


def build_cert_rep_failure(
    in_reply_to: PKIMessage | ReplyTo,
    fail_info: FailInfo,
    fail_info_text: str | None = None,
    *,
    signer: Signer,
    options: MessageOptions = DEFAULT_OPTIONS,
) -> bytes:
    """CertRep FAILURE with failInfo and, optionally, failInfoText (keep it generic)."""
    return _reply(
        in_reply_to,
        PKIStatus.FAILURE,
        None,
        signer=signer,
        options=options,
        fail_info=fail_info,
        fail_info_text=fail_info_text,
    )


def build_cert_rep_pending(
    in_reply_to: PKIMessage | ReplyTo,
    *,
    signer: Signer,
    options: MessageOptions = DEFAULT_OPTIONS,
) -> bytes:
    """CertRep PENDING: the request awaits manual approval; the client polls."""
    return _reply(in_reply_to, PKIStatus.PENDING, None, signer=signer, options=options)
