"""pkiMessage (RFC 8894 section 3.2) in three explicit steps: parse, verify, decrypt.

`parse_pki_message` turns any bytes into an `UnverifiedPKIMessage` or raises
ParseError. `verify_request` (server side) and `verify_cert_rep` (client
side) check the signature and the SCEP rules and return a `PKIMessage`, a
different type, so unchecked content cannot be used by accident.
`decrypt_pki_message` opens the pkcsPKIEnvelope of a verified message with a
`Decrypter` and returns its typed content.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Protocol

from pyscep._asn1 import ScepAttributes as _Asn1Attributes
from pyscep._boundary import field as parse_field
from pyscep._der import DEFAULT_LIMITS, Limits, read_header
from pyscep.algorithms import DEFAULT_POLICY, AlgorithmPolicy, ContentCipher, DigestAlgorithm
from pyscep.certificate import Certificate
from pyscep.cms.degenerate import CertsOnly, parse_certs_only
from pyscep.cms.enveloped import ParsedEnvelope, decrypt_envelope, parse_enveloped_data
from pyscep.cms.signed import ParsedSignedData, parse_signed_data, verify_signed_data
from pyscep.crypto import CryptoBackend, Decrypter, get_backend
from pyscep.enums import FailInfo, MessageType, PKIStatus
from pyscep.errors import (
    LocalProtocolError,
    ParseError,
    RemoteProtocolError,
    VerificationError,
)
from pyscep.messages.attributes import ScepAttributes, decode_attributes
from pyscep.messages.content import CertificationRequest, IssuerAndSerial, IssuerAndSubject
from pyscep.messages.findings import Finding, FindingCode

__all__ = [
    "REQUEST_TYPES",
    "DecryptedContent",
    "PKIMessage",
    "RequestReference",
    "UnverifiedPKIMessage",
    "decrypt_pki_message",
    "issued_certificate",
    "open_cert_rep",
    "open_request",
    "parse_pki_message",
    "verify_cert_rep",
    "verify_request",
]

#: Message types a client sends (default-deny: anything else is refused).
REQUEST_TYPES = frozenset(
    {
        MessageType.PKCS_REQ,
        MessageType.RENEWAL_REQ,
        MessageType.UPDATE_REQ,
        MessageType.CERT_POLL,
        MessageType.GET_CERT,
        MessageType.GET_CRL,
    }
)
_CSR_TYPES = frozenset({MessageType.PKCS_REQ, MessageType.RENEWAL_REQ, MessageType.UPDATE_REQ})

DecryptedContent = CertificationRequest | IssuerAndSubject | IssuerAndSerial | CertsOnly


@dataclass(frozen=True)
class _MessageFields:
    """What both the unverified and the verified message expose."""

    der: bytes = field(repr=False)
    message_type: MessageType
    transaction_id: str | None
    sender_nonce: bytes | None
    recipient_nonce: bytes | None
    pki_status: PKIStatus | None
    fail_info: FailInfo | None
    fail_info_text: str | None
    #: asn1crypto names, as received (``sha256``, ``rsassa_pkcs1v15``, ``sha1_rsa``...).
    digest_algorithm: str
    signature_algorithm: str
    signature_algorithm_oid: str
    signing_time: datetime | None
    certificates: tuple[Certificate, ...]
    #: The pkcsPKIEnvelope, parsed but not decrypted; None when there is no content.
    envelope: ParsedEnvelope | None
    findings: tuple[Finding, ...]
    _signed: ParsedSignedData = field(repr=False, compare=False)

    @property
    def attributes(self) -> ScepAttributes:
        """The SCEP signed attributes as one value."""
        return ScepAttributes(
            message_type=self.message_type,
            transaction_id=self.transaction_id,
            sender_nonce=self.sender_nonce,
            recipient_nonce=self.recipient_nonce,
            pki_status=self.pki_status,
            fail_info=self.fail_info,
            fail_info_text=self.fail_info_text,
        )


@dataclass(frozen=True)
class UnverifiedPKIMessage(_MessageFields):
    """A parsed pkiMessage whose signature has NOT been checked: do not act on it."""


@dataclass(frozen=True)
class PKIMessage(_MessageFields):
    """A pkiMessage whose signature, messageDigest, contentType and SCEP rules checked out."""

    #: The certificate whose key verified the signature.
    signer_certificate: Certificate
    #: The digest algorithm the signature used.
    digest: DigestAlgorithm

    @property
    def content_cipher(self) -> ContentCipher | None:
        """The envelope's content cipher, when pyscep knows it."""
        if self.envelope is None:
            return None
        try:
            return ContentCipher(self.envelope.cipher_name)
        except ValueError:
            return None


class RequestReference(Protocol):
    """What a client remembers of the request it sent (a `BuiltRequest` or a `PKIMessage`)."""

    @property
    def transaction_id(self) -> str | None:
        """transactionID sent."""
        ...

    @property
    def sender_nonce(self) -> bytes | None:
        """senderNonce sent."""
        ...


# --- parse --------------------------------------------------------------------


def parse_pki_message(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> UnverifiedPKIMessage:
    """Parse any bytes into an unverified pkiMessage; raise ParseError on any defect.

    An unknown or missing messageType raises RemoteProtocolError (badRequest)
    carrying the transactionID and senderNonce when they could be read, so a
    server can still answer with a CertRep FAILURE.
    """
    signed = parse_signed_data(data, limits=limits)
    report = signed.scan
    assert report is not None
    findings: list[Finding] = []
    if report.indefinite_lengths:
        findings.append(Finding(FindingCode.BER_INDEFINITE_LENGTH, "indefinite-length encoding"))
    if report.constructed_strings:
        findings.append(Finding(FindingCode.BER_CONSTRUCTED_STRING, "constructed string encoding"))
    if report.non_minimal_lengths:
        findings.append(Finding(FindingCode.BER_NON_MINIMAL_LENGTH, "non-minimal length encoding"))
    for note in signed.notes:
        if "cannot be parsed" in note:
            findings.append(Finding(FindingCode.UNPARSABLE_CERTIFICATE, note))
    if not signed.signer_infos:
        raise ParseError("a pkiMessage has a SignerInfo", path=("SignedData", "signerInfos"))
    if len(signed.signer_infos) > 1:
        # Which signer would count? Parsers that pick the first or the last disagree.
        raise VerificationError(f"a pkiMessage has one SignerInfo, not {len(signed.signer_infos)}")
    if signed.content_type != "data":
        raise ParseError(
            f"eContentType is {signed.content_type}, not data", path=("encapContentInfo",)
        )
    info = signed.signer_infos[0]
    if info.signed_attrs is None or info.signed_attrs_der is None:
        raise ParseError(
            "a pkiMessage has signed attributes",
            path=("SignerInfo",),
            fail_info=FailInfo.BAD_MESSAGE_CHECK,
        )
    attributes = _decode(info.signed_attrs, findings)
    if attributes.message_type is None:
        raise RemoteProtocolError(
            "messageType is missing",
            transaction_id=attributes.transaction_id,
            sender_nonce=attributes.sender_nonce,
        )
    if not _sorted_set(info.signed_attrs_der):
        findings.append(
            Finding(FindingCode.UNSORTED_SIGNED_ATTRIBUTES, "signed attributes not in DER order")
        )
    types = {a["type"].native for a in info.signed_attrs}
    if "content_type" not in types:
        findings.append(Finding(FindingCode.MISSING_CONTENT_TYPE, "no contentType attribute"))
    if attributes.sender_nonce is None:
        findings.append(Finding(FindingCode.MISSING_SENDER_NONCE, "no senderNonce attribute"))
    if not any(info.names(c) for c in signed.certificates):
        findings.append(
            Finding(FindingCode.SIGNER_CERTIFICATE_ABSENT, "signer certificate not embedded")
        )
    if info.digest_algorithm == DigestAlgorithm.MD5.value:
        findings.append(Finding(FindingCode.LEGACY_ALGORITHM, "MD5 digest"))

    envelope = None
    if signed.content:
        with parse_field("pkcsPKIEnvelope"):
            envelope = parse_enveloped_data(signed.content, limits=limits)
        if envelope.cipher_name == ContentCipher.DES_CBC.value:
            findings.append(Finding(FindingCode.LEGACY_ALGORITHM, "single DES content encryption"))
        if envelope.encrypted_content_constructed:
            findings.append(
                Finding(
                    FindingCode.CONSTRUCTED_ENCRYPTED_CONTENT,
                    "encryptedContent is a constructed OCTET STRING",
                )
            )
    signing_time = None
    for attribute in info.signed_attrs:
        if attribute["type"].native == "signing_time" and len(attribute["values"]) == 1:
            with parse_field("signingTime"):
                signing_time = attribute["values"][0].native
    return UnverifiedPKIMessage(
        der=data,
        message_type=attributes.message_type,
        transaction_id=attributes.transaction_id,
        sender_nonce=attributes.sender_nonce,
        recipient_nonce=attributes.recipient_nonce,
        pki_status=attributes.pki_status,
        fail_info=attributes.fail_info,
        fail_info_text=attributes.fail_info_text,
        digest_algorithm=info.digest_algorithm,
        signature_algorithm=info.signature_algorithm,
        signature_algorithm_oid=info.signature_algorithm_oid,
        signing_time=signing_time,
        certificates=signed.certificates,
        envelope=envelope,
        findings=tuple(findings),
        _signed=signed,
    )


def _decode(attrs: _Asn1Attributes, findings: list[Finding]) -> ScepAttributes:
    try:
        decoded, notes = decode_attributes(attrs)
    except ParseError as exc:
        if exc.path[:1] == ("message_type",) and exc.message.startswith("unknown value"):
            # Recover what a FAILURE reply needs, then refuse (default-deny).
            ids = _recover_ids(attrs)
            raise RemoteProtocolError(
                f"unsupported messageType: {exc.message}",
                transaction_id=ids[0],
                sender_nonce=ids[1],
            ) from exc
        raise
    for note in notes:
        if "not a PrintableString" in note:
            findings.append(Finding(FindingCode.NOT_PRINTABLE_STRING, note))
        elif "unknown signed attribute" in note:
            findings.append(Finding(FindingCode.UNKNOWN_ATTRIBUTE, note))
        else:
            findings.append(Finding(FindingCode.NONCE_LENGTH, note))
    return decoded


def _recover_ids(attrs: _Asn1Attributes) -> tuple[str | None, bytes | None]:
    kept = [a for a in attrs if a["type"].native in ("transaction_id", "sender_nonce")]
    try:
        decoded, _ = decode_attributes(_Asn1Attributes(kept))
    except ParseError:
        return None, None
    return decoded.transaction_id, decoded.sender_nonce


def _sorted_set(set_der: bytes) -> bool:
    """True when the SET OF children are in DER (ascending encoding) order."""
    top = read_header(set_der)
    previous = b""
    position = top.content_start
    while position < top.content_end:
        child = read_header(set_der, position, top.content_end)
        encoding = set_der[child.start : child.end]
        if encoding < previous:
            return False
        previous, position = encoding, child.end
    return True


# --- verify -------------------------------------------------------------------


def _verified(
    message: UnverifiedPKIMessage,
    certificates: Sequence[Certificate],
    policy: AlgorithmPolicy,
    backend: CryptoBackend | str | None,
    allowed_signers: Sequence[Certificate] | None,
) -> PKIMessage:
    def only_allowed(signer: Certificate) -> None:
        if allowed_signers is not None and signer not in allowed_signers:
            raise VerificationError("the message is signed by a certificate that is not trusted")

    verified = verify_signed_data(
        message._signed,
        backend=get_backend(backend),
        policy=policy,
        certificates=certificates,
        signer_filter=only_allowed,
    )
    # The same fields, now vouched for: a PKIMessage is a different type on purpose.
    copied = {f.name: getattr(message, f.name) for f in fields(_MessageFields)}
    return PKIMessage(
        **copied, signer_certificate=verified.signer_certificate, digest=verified.digest
    )


def _protocol_error(message: _MessageFields, text: str) -> RemoteProtocolError:
    return RemoteProtocolError(
        text, transaction_id=message.transaction_id, sender_nonce=message.sender_nonce
    )


def verify_request(
    message: UnverifiedPKIMessage,
    *,
    certificates: Sequence[Certificate] = (),
    policy: AlgorithmPolicy = DEFAULT_POLICY,
    backend: CryptoBackend | str | None = None,
) -> PKIMessage:
    """Server side: check a request's signature and SCEP rules; raise, never return False.

    The signer may be any certificate (a self-signed one for initial
    enrollment): who may do what is the policy's decision. ``certificates``
    are searched for the signer besides the embedded ones.
    """
    if message.message_type not in REQUEST_TYPES:
        raise _protocol_error(message, f"{message.message_type.rfc_name} is not a request")
    if not message.transaction_id:
        raise _protocol_error(message, "transactionID is missing")
    if message.sender_nonce is None:
        raise _protocol_error(message, "senderNonce is missing")
    if message.envelope is None:
        raise _protocol_error(message, "the request has no pkcsPKIEnvelope")
    return _verified(message, certificates, policy, backend, None)


def verify_cert_rep(
    message: UnverifiedPKIMessage,
    *,
    ca_certificates: Sequence[Certificate],
    request: RequestReference | None = None,
    policy: AlgorithmPolicy = DEFAULT_POLICY,
    backend: CryptoBackend | str | None = None,
    strict_recipient_nonce: bool = True,
) -> PKIMessage:
    """Client side: check a CertRep against the CA/RA certificates and the request sent.

    The signer must be one of ``ca_certificates`` (the GetCACert result; a
    CertRep that does not embed its signer is verified with them).
    With ``request``, the transactionID must match and recipientNonce must echo
    the request's senderNonce; ``strict_recipient_nonce=False`` accepts a
    missing or different recipientNonce (recording a finding) for peers that
    do not echo it.
    """
    if message.message_type is not MessageType.CERT_REP:
        raise _protocol_error(message, f"expected CertRep, got {message.message_type.rfc_name}")
    if not ca_certificates:
        raise LocalProtocolError("verify_cert_rep needs the CA/RA certificates to trust")
    verified = _verified(message, ca_certificates, policy, backend, ca_certificates)
    status = message.pki_status
    if status is None:
        raise _protocol_error(message, "pkiStatus is missing")
    if status is PKIStatus.FAILURE and message.fail_info is None:
        raise _protocol_error(message, "FAILURE without failInfo")
    if status is PKIStatus.SUCCESS and message.envelope is None:
        raise _protocol_error(message, "SUCCESS without a pkcsPKIEnvelope")
    if status is not PKIStatus.SUCCESS and message.envelope is not None:
        raise _protocol_error(message, f"{status.name} must not carry content")
    findings = list(verified.findings)
    if request is not None:
        if message.transaction_id != request.transaction_id:
            raise _protocol_error(message, "transactionID does not match the request")
        echoed = message.recipient_nonce is not None and request.sender_nonce is not None
        if not (
            echoed
            and hmac.compare_digest(message.recipient_nonce or b"", request.sender_nonce or b"")
        ):
            if strict_recipient_nonce:
                raise _protocol_error(message, "recipientNonce does not echo our senderNonce")
            findings.append(
                Finding(FindingCode.RECIPIENT_NONCE_MISMATCH, "recipientNonce not echoed")
            )
        if message.sender_nonce is not None and message.sender_nonce == request.sender_nonce:
            findings.append(
                Finding(FindingCode.SENDER_NONCE_REUSED, "senderNonce copies the request's")
            )
    return replace(verified, findings=tuple(findings))


# --- decrypt ------------------------------------------------------------------


def decrypt_pki_message(
    message: PKIMessage,
    decrypter: Decrypter,
    *,
    policy: AlgorithmPolicy = DEFAULT_POLICY,
    backend: CryptoBackend | str | None = None,
) -> DecryptedContent:
    """Open the pkcsPKIEnvelope of a verified message and parse what it carries.

    Returns a CertificationRequest (PKCSReq, RenewalReq, UpdateReq), an
    IssuerAndSubject (CertPoll), an IssuerAndSerial (GetCert, GetCRL) or a
    CertsOnly (CertRep SUCCESS).
    """
    if not isinstance(message, PKIMessage):
        raise LocalProtocolError("verify the message before decrypting it")
    if message.envelope is None:
        raise LocalProtocolError("the message has no pkcsPKIEnvelope")
    crypto = get_backend(backend)
    plaintext, _, _ = decrypt_envelope(message.envelope, decrypter, backend=crypto, policy=policy)
    kind = message.message_type
    if kind in _CSR_TYPES:
        request = CertificationRequest.load(plaintext)
        request.verify_signature(crypto)  # proof of possession of the requested key
        return request
    if kind is MessageType.CERT_POLL:
        return IssuerAndSubject.load(plaintext)
    if kind in (MessageType.GET_CERT, MessageType.GET_CRL):
        return IssuerAndSerial.load(plaintext)
    return parse_certs_only(plaintext)


def issued_certificate(content: CertsOnly, public_key_der: bytes) -> Certificate:
    """The certificate a CertRep SUCCESS issued for ``public_key_der`` (the CSR's key).

    RFC 8894: the issued certificate comes first, any chain after it. A reply
    without certificates, or whose first certificate is for another key, is
    refused (RemoteProtocolError).
    """
    if not content.certificates:
        raise RemoteProtocolError("the CertRep carries no certificate")
    first = content.certificates[0]
    if first.public_key_der != public_key_der:
        raise RemoteProtocolError("the first certificate is not for the requested key")
    return first


# --- one call -------------------------------------------------------------------


def open_request(
    data: bytes,
    decrypter: Decrypter,
    *,
    certificates: Sequence[Certificate] = (),
    policy: AlgorithmPolicy = DEFAULT_POLICY,
    backend: CryptoBackend | str | None = None,
) -> tuple[PKIMessage, DecryptedContent]:
    """Server side in one call: parse, `verify_request`, then decrypt."""
    message = verify_request(
        parse_pki_message(data), certificates=certificates, policy=policy, backend=backend
    )
    return message, decrypt_pki_message(message, decrypter, policy=policy, backend=backend)


def open_cert_rep(
    data: bytes,
    decrypter: Decrypter,
    *,
    ca_certificates: Sequence[Certificate],
    request: RequestReference,
    policy: AlgorithmPolicy = DEFAULT_POLICY,
    backend: CryptoBackend | str | None = None,
    strict_recipient_nonce: bool = True,
) -> tuple[PKIMessage, CertsOnly | None]:
    """Client side in one call: parse, `verify_cert_rep`, and decrypt a SUCCESS."""
    message = verify_cert_rep(
        parse_pki_message(data),
        ca_certificates=ca_certificates,
        request=request,
        policy=policy,
        backend=backend,
        strict_recipient_nonce=strict_recipient_nonce,
    )
    if message.pki_status is not PKIStatus.SUCCESS:
        return message, None
    content = decrypt_pki_message(message, decrypter, policy=policy, backend=backend)
    if not isinstance(content, CertsOnly):  # pragma: no cover - CertRep content is certs-only
        raise ParseError("CertRep content is not a certs-only SignedData")
    return message, content
