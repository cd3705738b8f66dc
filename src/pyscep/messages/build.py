"""Builders for every pkiMessage: requests (client side) and CertRep (server side).

Pure functions over immutable inputs. Randomness (nonces, content keys, IVs)
comes from ``rng`` (a secure source by default) and time from
``signing_time`` (no signingTime attribute unless given), so a test can
rebuild a message deterministically.

The CertRep builders take the request they answer (`in_reply_to`): they copy
its transactionID, put its senderNonce in recipientNonce, make a fresh
senderNonce, mirror its digest and cipher, and envelope to its signer
certificate, so callers cannot get that bookkeeping wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pyscep.algorithms import (
    DEFAULT_POLICY,
    AlgorithmPolicy,
    ContentCipher,
    DigestAlgorithm,
    KeyTransport,
    SignatureScheme,
)
from pyscep.certificate import Certificate
from pyscep.cms.degenerate import build_certs_only
from pyscep.cms.enveloped import build_enveloped_data
from pyscep.cms.signed import build_signed_data
from pyscep.crypto import CryptoBackend, Signer, get_backend
from pyscep.enums import FailInfo, MessageType, PKIStatus
from pyscep.errors import LocalProtocolError
from pyscep.messages.attributes import ScepAttributes, encode_attributes
from pyscep.messages.content import CertificationRequest, IssuerAndSerial, IssuerAndSubject
from pyscep.messages.identifiers import new_nonce, transaction_id_for_key
from pyscep.messages.pkimessage import REQUEST_TYPES, PKIMessage

__all__ = [
    "BuiltRequest",
    "ReplyTo",
    "build_cert_poll",
    "build_cert_rep_failure",
    "build_cert_rep_pending",
    "build_cert_rep_success",
    "build_get_cert",
    "build_get_crl",
    "build_pkcs_req",
    "build_request",
]

Rng = Callable[[int], bytes]


@dataclass(frozen=True)
class BuiltRequest:
    """A request ready to send, with what the client must remember to check the reply."""

    der: bytes
    message_type: MessageType
    transaction_id: str
    sender_nonce: bytes


def _sign(
    content: bytes | None,
    attributes: ScepAttributes,
    *,
    signer: Signer,
    digest: DigestAlgorithm,
    backend: CryptoBackend,
    policy: AlgorithmPolicy,
    scheme: SignatureScheme | None,
    signing_time: datetime | None,
    certificates: Sequence[Certificate] | None,
) -> bytes:
    return build_signed_data(
        content,
        signer,
        digest=digest,
        backend=backend,
        policy=policy,
        scheme=scheme,
        attributes=encode_attributes(attributes),
        certificates=certificates,
        signing_time=signing_time,
    )


def build_request(
    message_type: MessageType,
    content: bytes,
    *,
    signer: Signer,
    recipient: Certificate,
    transaction_id: str,
    digest: DigestAlgorithm = DigestAlgorithm.SHA256,
    cipher: ContentCipher = ContentCipher.AES128_CBC,
    key_transport: KeyTransport = KeyTransport.RSA_PKCS1V15,
    scheme: SignatureScheme | None = None,
    sender_nonce: bytes | None = None,
    policy: AlgorithmPolicy = DEFAULT_POLICY,
    backend: CryptoBackend | str | None = None,
    rng: Rng | None = None,
    signing_time: datetime | None = None,
    certificates: Sequence[Certificate] | None = None,
) -> BuiltRequest:
    """Any request: ``content`` (DER) enveloped to ``recipient`` (the CA or RA), signed.

    ``certificates`` defaults to the signer's certificate.
    """
    if message_type not in REQUEST_TYPES:
        raise LocalProtocolError(f"{message_type.rfc_name} is not a request")
    crypto = get_backend(backend)
    nonce = sender_nonce if sender_nonce is not None else new_nonce(rng or crypto.random_bytes)
    envelope = build_enveloped_data(
        content,
        recipient,
        cipher=cipher,
        backend=crypto,
        policy=policy,
        key_transport=key_transport,
        rng=rng,
    )
    attributes = ScepAttributes(
        message_type=message_type, transaction_id=transaction_id, sender_nonce=nonce
    )
    der = _sign(
        envelope,
        attributes,
        signer=signer,
        digest=digest,
        backend=crypto,
        policy=policy,
        scheme=scheme,
        signing_time=signing_time,
        certificates=certificates,
    )
    return BuiltRequest(der, message_type, transaction_id, nonce)


def build_pkcs_req(
    csr: bytes | CertificationRequest,
    *,
    signer: Signer,
    recipient: Certificate,
    message_type: MessageType = MessageType.PKCS_REQ,
    transaction_id: str | None = None,
    **options: object,
) -> BuiltRequest:
    """PKCSReq (or RenewalReq / UpdateReq with ``message_type``) carrying a PKCS#10 request.

    The transactionID defaults to the SHA-256 of the CSR's public key
    (`transaction_id_for_key`). For an initial enrollment the signer is
    usually a self-signed certificate for the CSR's key; for a renewal, the
    certificate being renewed. Other keyword options are `build_request`'s.
    """
    if message_type not in (MessageType.PKCS_REQ, MessageType.RENEWAL_REQ, MessageType.UPDATE_REQ):
        raise LocalProtocolError(f"{message_type.rfc_name} does not carry a PKCS#10 request")
    request = csr if isinstance(csr, CertificationRequest) else CertificationRequest.load(csr)
    txid = transaction_id or transaction_id_for_key(request.public_key_der)
    return build_request(
        message_type,
        request.der,
        signer=signer,
        recipient=recipient,
        transaction_id=txid,
        **options,  # type: ignore[arg-type]
    )


def build_cert_poll(
    issuer_and_subject: IssuerAndSubject,
    *,
    signer: Signer,
    recipient: Certificate,
    transaction_id: str,
    **options: object,
) -> BuiltRequest:
    """CertPoll (GetCertInitial): ask about a PENDING request, same transactionID as it."""
    return build_request(
        MessageType.CERT_POLL,
        issuer_and_subject.dump(),
        signer=signer,
        recipient=recipient,
        transaction_id=transaction_id,
        **options,  # type: ignore[arg-type]
    )


def build_get_cert(
    issuer_and_serial: IssuerAndSerial,
    *,
    signer: Signer,
    recipient: Certificate,
    transaction_id: str,
    **options: object,
) -> BuiltRequest:
    """GetCert: ask for a certificate by issuer and serial number."""
    return build_request(
        MessageType.GET_CERT,
        issuer_and_serial.dump(),
        signer=signer,
        recipient=recipient,
        transaction_id=transaction_id,
        **options,  # type: ignore[arg-type]
    )


def build_get_crl(
    issuer_and_serial: IssuerAndSerial,
    *,
    signer: Signer,
    recipient: Certificate,
    transaction_id: str,
    **options: object,
) -> BuiltRequest:
    """GetCRL: ask for the CRL covering a certificate (named by issuer and serial)."""
    return build_request(
        MessageType.GET_CRL,
        issuer_and_serial.dump(),
        signer=signer,
        recipient=recipient,
        transaction_id=transaction_id,
        **options,  # type: ignore[arg-type]
    )


# --- CertRep --------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyTo:
    """What a CertRep needs from the request it answers.

    Usually made from a verified request (`ReplyTo.of`). A server that could
    not verify a request builds one by hand from a RemoteProtocolError's
    ``transaction_id`` and ``sender_nonce`` to answer FAILURE.
    """

    transaction_id: str
    sender_nonce: bytes
    #: The requester's certificate: the CertRep SUCCESS envelope is addressed to it.
    recipient: Certificate | None = None
    digest: DigestAlgorithm = DigestAlgorithm.SHA256
    cipher: ContentCipher = ContentCipher.AES128_CBC

    @classmethod
    def of(cls, request: PKIMessage) -> ReplyTo:
        """Mirror a verified request: its IDs, signer, digest and content cipher."""
        if request.transaction_id is None or request.sender_nonce is None:
            raise LocalProtocolError("the request lacks transactionID or senderNonce")
        return cls(
            transaction_id=request.transaction_id,
            sender_nonce=request.sender_nonce,
            recipient=request.signer_certificate,
            digest=request.digest,
            cipher=request.content_cipher or ContentCipher.AES128_CBC,
        )


def _reply(
    in_reply_to: PKIMessage | ReplyTo,
    status: PKIStatus,
    content: bytes | None,
    *,
    signer: Signer,
    fail_info: FailInfo | None = None,
    fail_info_text: str | None = None,
    digest: DigestAlgorithm | None = None,
    cipher: ContentCipher | None = None,
    key_transport: KeyTransport = KeyTransport.RSA_PKCS1V15,
    scheme: SignatureScheme | None = None,
    policy: AlgorithmPolicy = DEFAULT_POLICY,
    backend: CryptoBackend | str | None = None,
    rng: Rng | None = None,
    signing_time: datetime | None = None,
    certificates: Sequence[Certificate] | None = None,
) -> bytes:
    reply = in_reply_to if isinstance(in_reply_to, ReplyTo) else ReplyTo.of(in_reply_to)
    crypto = get_backend(backend)
    envelope = None
    if content is not None:
        if reply.recipient is None:
            raise LocalProtocolError("a CertRep SUCCESS needs the requester's certificate")
        envelope = build_enveloped_data(
            content,
            reply.recipient,
            cipher=cipher or reply.cipher,
            backend=crypto,
            policy=policy,
            key_transport=key_transport,
            rng=rng,
        )
    attributes = ScepAttributes(
        message_type=MessageType.CERT_REP,
        transaction_id=reply.transaction_id,
        sender_nonce=new_nonce(rng or crypto.random_bytes),
        recipient_nonce=reply.sender_nonce,
        pki_status=status,
        fail_info=fail_info,
        fail_info_text=fail_info_text,
    )
    # FAILURE and PENDING carry an empty eContent, as micromdm does: OpenSSL-based
    # clients (sscep) fail to verify a SignedData whose eContent is absent.
    return _sign(
        envelope if envelope is not None else b"",
        attributes,
        signer=signer,
        digest=digest or reply.digest,
        backend=crypto,
        policy=policy,
        scheme=scheme,
        signing_time=signing_time,
        certificates=certificates,
    )


def build_cert_rep_success(
    in_reply_to: PKIMessage | ReplyTo,
    certificates: Sequence[Certificate] = (),
    *,
    crls: Sequence[bytes] = (),
    signer: Signer,
    **options: object,
) -> bytes:
    """CertRep SUCCESS: the issued certificate first (then any chain), or a CRL for GetCRL.

    The degenerate SignedData is enveloped to the requester's certificate with
    the request's cipher unless ``cipher=`` says otherwise.
    """
    if not certificates and not crls:
        raise LocalProtocolError("a CertRep SUCCESS carries certificates or a CRL")
    content = build_certs_only(list(certificates), list(crls))
    return _reply(in_reply_to, PKIStatus.SUCCESS, content, signer=signer, **options)  # type: ignore[arg-type]


def build_cert_rep_failure(
    in_reply_to: PKIMessage | ReplyTo,
    fail_info: FailInfo,
    fail_info_text: str | None = None,
    *,
    signer: Signer,
    **options: object,
) -> bytes:
    """CertRep FAILURE with failInfo and, optionally, failInfoText (keep it generic)."""
    return _reply(
        in_reply_to,
        PKIStatus.FAILURE,
        None,
        signer=signer,
        fail_info=fail_info,
        fail_info_text=fail_info_text,
        **options,  # type: ignore[arg-type]
    )


def build_cert_rep_pending(
    in_reply_to: PKIMessage | ReplyTo, *, signer: Signer, **options: object
) -> bytes:
    """CertRep PENDING: the request awaits manual approval; the client polls."""
    return _reply(in_reply_to, PKIStatus.PENDING, None, signer=signer, **options)  # type: ignore[arg-type]
