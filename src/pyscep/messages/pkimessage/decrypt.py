"""Decrypting a verified pkiMessage (RFC 8894 sections 3.2.2, 3.3): its typed content.

The third step. `decrypt_pki_message` opens the pkcsPKIEnvelope of a
`PKIMessage` with a `Decrypter` (or a password) and parses what it carries;
`issued_certificate` picks the certificate a CertRep SUCCESS issued.
"""

from __future__ import annotations

from pyscep._der import DEFAULT_LIMITS, Limits
from pyscep.algorithms import DEFAULT_POLICY, AlgorithmPolicy
from pyscep.certificate import Certificate
from pyscep.cms.degenerate import CertsOnly, parse_certs_only
from pyscep.cms.enveloped import decrypt_envelope, open_with_password
from pyscep.crypto import CryptoBackend, Decrypter, KeyAgreer, get_backend
from pyscep.enums import MessageType
from pyscep.errors import LocalProtocolError, RemoteProtocolError
from pyscep.messages.content import CertificationRequest, IssuerAndSerial, IssuerAndSubject
from pyscep.messages.pkimessage.values import DecryptedContent, PKIMessage

__all__ = ["decrypt_pki_message", "issued_certificate"]


def decrypt_pki_message(
    message: PKIMessage,
    decrypter: Decrypter | KeyAgreer,
    *,
    algorithms: AlgorithmPolicy | None = None,
    backend: CryptoBackend | str | None = None,
    password: bytes | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> DecryptedContent:
    """Open the pkcsPKIEnvelope of a verified message and parse what it carries.

    Returns a CertificationRequest (PKCSReq, RenewalReq, UpdateReq; its
    self-signature is checked), an IssuerAndSubject (CertPoll), an
    IssuerAndSerial (GetCert, GetCRL) or a CertsOnly (CertRep SUCCESS).
    ``algorithms`` defaults to the policy the message was accepted under.
    The decrypter's RecipientInfo is opened (key transport or agreement);
    when the envelope has none for it and ``password`` is given, its
    PasswordRecipientInfo is opened with the password (RFC 8894 section 3.1:
    a CertRep to a key that only signs, or a request from one). ``limits``
    bound the decrypted content (raise them for a GetCRL reply with a large CRL).

    Raises DecryptionError (one fixed text, whatever went wrong with the
    keys), UnsupportedAlgorithmError (a cipher or key transport unknown or
    refused), ParseError (the content) and VerificationError (the CSR's
    proof of possession), and LocalProtocolError for an unverified message.
    """
    if not isinstance(message, PKIMessage):
        raise LocalProtocolError("verify the message before decrypting it")
    if message.envelope is None:
        raise LocalProtocolError("the message has no pkcsPKIEnvelope")
    crypto = get_backend(backend)
    policy = algorithms or message.algorithms
    envelope = message.envelope
    addressed = any(r.addressed_to(decrypter.certificate) for r in envelope.recipients)
    if (
        password is not None
        and not addressed
        and any(r.kind == "pwri" for r in envelope.recipients)
    ):
        plaintext = open_with_password(envelope, password, backend=crypto, algorithms=policy)
    else:
        plaintext, _, _ = decrypt_envelope(envelope, decrypter, backend=crypto, algorithms=policy)
    return content_of(message.message_type, plaintext, crypto, policy, limits=limits)


def content_of(
    kind: MessageType,
    plaintext: bytes,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy = DEFAULT_POLICY,
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> DecryptedContent:
    """Parse decrypted pkcsPKIEnvelope content as what ``kind`` carries.

    A CSR's proof of possession is checked under ``algorithms``; ``limits``
    bound a certs-only content.
    """
    if kind.carries_csr:
        request = CertificationRequest.load(plaintext)
        request.verify_signature(backend, algorithms)  # proof of possession of the key
        return request
    if kind is MessageType.CERT_POLL:
        return IssuerAndSubject.load(plaintext)
    if kind in (MessageType.GET_CERT, MessageType.GET_CRL):
        return IssuerAndSerial.load(plaintext)
    return parse_certs_only(plaintext, limits=limits)


def issued_certificate(content: CertsOnly, public_key_der: bytes) -> Certificate:
    """The certificate a CertRep SUCCESS issued for ``public_key_der`` (the CSR's key).

    The one for that key, wherever it is: the certificates are a SET, which DER
    sorts, so a chain sent with it may come first. A reply without a certificate
    for the key is refused (RemoteProtocolError).
    """
    if not content.certificates:
        raise RemoteProtocolError("the CertRep carries no certificate")
    issued = content.for_key(public_key_der)
    if issued is None:
        raise RemoteProtocolError("no certificate is for the requested key")
    return issued
