"""pkiMessage (RFC 8894 section 3.2) in three explicit steps: parse, verify, decrypt.

`parse_pki_message` turns any bytes into an `UnverifiedPKIMessage` or raises
ParseError. `verify_request` (server side) and `verify_cert_rep` (client
side) check the signature and the SCEP rules and return a `PKIMessage`, a
different type, so unchecked content cannot be used by accident; it
remembers the `AlgorithmPolicy` it was accepted under, which decrypting it
and answering it then respect. `decrypt_pki_message` opens the
pkcsPKIEnvelope of a verified message with a `Decrypter` and returns its
typed content.

Message values expose their fields as read-only properties over one parsed
record, so ``dataclasses.replace`` cannot make a message whose fields
disagree with its bytes.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from pyscep._asn1 import ScepAttributes as _Asn1Attributes
from pyscep._boundary import field as parse_field
from pyscep._der import DEFAULT_LIMITS, Limits
from pyscep.algorithms import DEFAULT_POLICY, AlgorithmPolicy, ContentCipher, DigestAlgorithm
from pyscep.certificate import Certificate
from pyscep.cms.degenerate import CertsOnly, parse_certs_only
from pyscep.cms.enveloped import (
    ParsedEnvelope,
    decrypt_envelope,
    open_with_password,
)
from pyscep.cms.signed import (
    ParsedSignedData,
    ParsedSignerInfo,
    parse_signed_data,
    parse_signed_envelope,
    verify_signed_data,
)
from pyscep.crypto import CryptoBackend, Decrypter, KeyAgreer, get_backend
from pyscep.enums import FailInfo, MessageType, PKIStatus
from pyscep.errors import (
    LocalProtocolError,
    ParseError,
    RemoteProtocolError,
    ScepError,
    VerificationError,
)
from pyscep.findings import Finding, FindingCode
from pyscep.messages.attributes import ScepAttributes, decode_parsed, decode_read
from pyscep.messages.ca import may_sign
from pyscep.messages.content import CertificationRequest, IssuerAndSerial, IssuerAndSubject
from pyscep.messages.reply import ReplyTo, answerable

__all__ = [
    "DecryptedContent",
    "PKIMessage",
    "PSSParameters",
    "RequestReference",
    "SignerIdentifier",
    "UnverifiedPKIMessage",
    "decrypt_pki_message",
    "issued_certificate",
    "open_cert_rep",
    "open_request",
    "parse_pki_message",
    "verify_cert_rep",
    "verify_request",
]

DecryptedContent = CertificationRequest | IssuerAndSubject | IssuerAndSerial | CertsOnly


@dataclass(frozen=True)
class SignerIdentifier:
    """How a SignerInfo names its signer: IssuerAndSerialNumber, or a SubjectKeyIdentifier."""

    #: DER of the issuer Name (None for the key-identifier form).
    issuer_der: bytes | None
    serial_number: int | None
    key_identifier: bytes | None

    def names(self, certificate: Certificate) -> bool:
        """True when this identifier names ``certificate``."""
        return certificate.is_named_by(self.issuer_der, self.serial_number, self.key_identifier)


@dataclass(frozen=True)
class PSSParameters:
    """RSASSA-PSS parameters of a signature."""

    hash_algorithm: str
    mgf1_hash_algorithm: str
    salt_length: int


@dataclass(frozen=True)
class _Parsed:
    """Everything parse found, in one record the message views read."""

    der: bytes
    attributes: ScepAttributes
    signed: ParsedSignedData
    signer_info: ParsedSignerInfo
    signing_time: datetime | None
    envelope: ParsedEnvelope | None
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class _Verification:
    """What verification established."""

    signer_certificate: Certificate
    digest: DigestAlgorithm
    algorithms: AlgorithmPolicy
    findings: tuple[Finding, ...] = ()


class _MessageView:
    """What both the unverified and the verified message expose (read-only)."""

    _parsed: _Parsed

    @property
    def der(self) -> bytes:
        """The message as received."""
        return self._parsed.der

    @property
    def attributes(self) -> ScepAttributes:
        """The SCEP signed attributes as one value."""
        return self._parsed.attributes

    @property
    def message_type(self) -> MessageType:
        """messageType (always present: parse refuses a message without one)."""
        kind = self._parsed.attributes.message_type
        assert kind is not None  # parse_pki_message guarantees it
        return kind

    @property
    def transaction_id(self) -> str | None:
        """transactionID."""
        return self._parsed.attributes.transaction_id

    @property
    def sender_nonce(self) -> bytes | None:
        """senderNonce."""
        return self._parsed.attributes.sender_nonce

    @property
    def recipient_nonce(self) -> bytes | None:
        """recipientNonce."""
        return self._parsed.attributes.recipient_nonce

    @property
    def pki_status(self) -> PKIStatus | None:
        """pkiStatus (CertRep)."""
        return self._parsed.attributes.pki_status

    @property
    def fail_info(self) -> FailInfo | None:
        """failInfo (CertRep FAILURE)."""
        return self._parsed.attributes.fail_info

    @property
    def fail_info_text(self) -> str | None:
        """failInfoText (RFC 8894), when sent."""
        return self._parsed.attributes.fail_info_text

    @property
    def digest_algorithm(self) -> str:
        """The SignerInfo's digest algorithm as received (``sha256``, ``md5``...)."""
        return self._parsed.signer_info.digest_algorithm

    @property
    def signature_algorithm(self) -> str:
        """The SignerInfo's signature algorithm (``rsassa_pkcs1v15``, ``sha1_rsa``...)."""
        return self._parsed.signer_info.signature_algorithm

    @property
    def signature_algorithm_oid(self) -> str:
        """Dotted OID of the signature algorithm."""
        return self._parsed.signer_info.signature_algorithm_oid

    @property
    def pss_parameters(self) -> PSSParameters | None:
        """RSASSA-PSS parameters, for a PSS signature."""
        params = self._parsed.signer_info.pss_params
        return None if params is None else PSSParameters(*params)

    @property
    def signer_identifier(self) -> SignerIdentifier:
        """How the SignerInfo names its signer."""
        info = self._parsed.signer_info
        return SignerIdentifier(info.sid_issuer_der, info.sid_serial, info.sid_key_identifier)

    @property
    def signing_time(self) -> datetime | None:
        """signingTime, when sent."""
        return self._parsed.signing_time

    @property
    def certificates(self) -> tuple[Certificate, ...]:
        """The certificates embedded in the SignedData."""
        return self._parsed.signed.certificates

    @property
    def envelope(self) -> ParsedEnvelope | None:
        """The pkcsPKIEnvelope, parsed but not decrypted; None when there is no content."""
        return self._parsed.envelope

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Deviations tolerated while parsing (and verifying)."""
        return self._parsed.findings

    def claimed_signer(self, certificates: Sequence[Certificate] = ()) -> Certificate | None:
        """The certificate the SignerInfo names, among the embedded ones and ``certificates``.

        NOT verified: what the message claims. None when no certificate (or
        more than one different one) matches.
        """
        identifier = self.signer_identifier
        matches = {c for c in (*self.certificates, *certificates) if identifier.names(c)}
        return matches.pop() if len(matches) == 1 else None

    def _describe(self) -> str:
        return (
            f"{self.message_type.rfc_name}, transactionID={self.transaction_id!r}, "
            f"pkiStatus={self.pki_status!r}"
        )


@dataclass(frozen=True, repr=False)
class UnverifiedPKIMessage(_MessageView):
    """A parsed pkiMessage whose signature has NOT been checked: do not act on it."""

    _parsed: _Parsed = field(compare=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnverifiedPKIMessage) and other.der == self.der

    def __hash__(self) -> int:
        return hash(self.der)

    def __repr__(self) -> str:
        return f"UnverifiedPKIMessage({self._describe()})"


@dataclass(frozen=True, repr=False)
class PKIMessage(_MessageView):
    """A pkiMessage whose signature, messageDigest, contentType and SCEP rules checked out."""

    _parsed: _Parsed = field(compare=False)
    _verification: _Verification = field(compare=False)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, PKIMessage)
            and other.der == self.der
            and other.signer_certificate == self.signer_certificate
        )

    def __hash__(self) -> int:
        return hash(self.der)

    def __repr__(self) -> str:
        return f"PKIMessage({self._describe()}, signer={self.signer_certificate!r})"

    @property
    def signer_certificate(self) -> Certificate:
        """The certificate whose key verified the signature."""
        return self._verification.signer_certificate

    @property
    def digest(self) -> DigestAlgorithm:
        """The digest algorithm the signature used."""
        return self._verification.digest

    @property
    def algorithms(self) -> AlgorithmPolicy:
        """The algorithm policy the message was accepted under.

        `decrypt_pki_message` and the CertRep builders use it unless told
        otherwise, so a request accepted with the legacy opt-in can be opened
        and answered without restating it.
        """
        return self._verification.algorithms

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Deviations tolerated while parsing and verifying."""
        return self._parsed.findings + self._verification.findings

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
    """Parse any bytes into an unverified pkiMessage.

    Raises ParseError on any defect, and VerificationError for a message with
    several SignerInfos. An unknown or missing messageType raises
    RemoteProtocolError (badRequest) carrying the transactionID and
    senderNonce when they could be read (and ``reply_to``), so a server can
    still answer with a CertRep FAILURE.
    """
    signed = parse_signed_data(data, limits=limits)
    findings: list[Finding] = list(signed.findings)
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
    if info.signed_attrs_der is None:
        raise ParseError(
            "a pkiMessage has signed attributes",
            path=("SignerInfo",),
            fail_info=FailInfo.BAD_MESSAGE_CHECK,
        )
    with parse_field("signedAttrs"):
        try:
            attributes, attribute_findings = _decode_attributes(info, info.signed_attrs_der)
        except RemoteProtocolError as exc:
            raise _answerable(exc, exc.transaction_id, exc.sender_nonce) from None
        findings.extend(attribute_findings)
        signing_time = None
        for name, values in info.cms_attribute_values:
            if name == "signing_time" and len(values) == 1 and isinstance(values[0], datetime):
                signing_time = values[0]
    if attributes.message_type is None:
        raise _protocol_error(attributes, "messageType is missing")
    if not info.signed_attrs_in_der_order:
        findings.append(
            Finding(FindingCode.UNSORTED_SIGNED_ATTRIBUTES, "signed attributes not in DER order")
        )
    if "content_type" not in info.signed_attr_types:
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
            envelope = parse_signed_envelope(signed, limits=limits)
        assert envelope is not None  # there is eContent
        if envelope.cipher_name in (ContentCipher.DES_CBC.value, ContentCipher.BLOWFISH_CBC.value):
            findings.append(
                Finding(FindingCode.LEGACY_ALGORITHM, f"{envelope.cipher_name} content encryption")
            )
        if envelope.encrypted_content_constructed:
            findings.append(
                Finding(
                    FindingCode.CONSTRUCTED_ENCRYPTED_CONTENT,
                    "encryptedContent is a constructed OCTET STRING",
                )
            )
    parsed = _Parsed(
        der=data,
        attributes=attributes,
        signed=signed,
        signer_info=info,
        signing_time=signing_time,
        envelope=envelope,
        findings=tuple(findings),
    )
    return UnverifiedPKIMessage(parsed)


def _decode_attributes(
    info: ParsedSignerInfo, signed_attrs_der: bytes
) -> tuple[ScepAttributes, tuple[Finding, ...]]:
    """The SCEP attributes: from the values the DER fast path read, else through asn1crypto."""
    fast = info.read_fast_attributes(decode_read)
    if fast is not None:
        return fast
    return decode_parsed(_Asn1Attributes.load(signed_attrs_der))


_Error = TypeVar("_Error", bound=ScepError)


def _answerable(error: _Error, transaction_id: str | None, sender_nonce: bytes | None) -> _Error:
    """``error`` with a bare ReplyTo (IDs only) when it has none and the IDs are known.

    A copy (`answerable`): an error already raised is never changed.
    """
    if error.reply_to is None and transaction_id and sender_nonce is not None:
        return answerable(error, ReplyTo(transaction_id, sender_nonce))
    return error


# --- verify -------------------------------------------------------------------


def _verified(
    message: UnverifiedPKIMessage,
    certificates: Sequence[Certificate],
    algorithms: AlgorithmPolicy,
    backend: CryptoBackend | str | None,
    allowed_signers: Sequence[Certificate] | None,
) -> PKIMessage:
    def only_allowed(signer: Certificate) -> None:
        if allowed_signers is None:
            return
        if signer not in allowed_signers:
            raise VerificationError("the message is signed by a certificate that is not trusted")
        # Whatever the caller trusts, an encryption-only RA certificate does not sign.
        if not may_sign(signer):
            raise VerificationError("the signer certificate may not sign (keyUsage)")

    verified = verify_signed_data(
        message._parsed.signed,
        backend=get_backend(backend),
        algorithms=algorithms,
        certificates=certificates,
        signer_filter=only_allowed,
    )
    return PKIMessage(
        message._parsed,
        _Verification(verified.signer_certificate, verified.digest, algorithms),
    )


def _protocol_error(message: _MessageView | ScepAttributes, text: str) -> RemoteProtocolError:
    ids = (message.transaction_id, message.sender_nonce)
    return _answerable(RemoteProtocolError(text, transaction_id=ids[0], sender_nonce=ids[1]), *ids)


def verify_request(
    message: UnverifiedPKIMessage,
    *,
    certificates: Sequence[Certificate] = (),
    algorithms: AlgorithmPolicy = DEFAULT_POLICY,
    backend: CryptoBackend | str | None = None,
) -> PKIMessage:
    """Server side: check a request's signature and SCEP rules; raise, never return False.

    The signer may be any certificate (a self-signed one for initial
    enrollment): who may do what is the policy's decision. ``certificates``
    are searched for the signer besides the embedded ones. ``algorithms``
    is remembered on the result (`PKIMessage.algorithms`).

    Raises RemoteProtocolError (not a request, missing transactionID,
    senderNonce or envelope), VerificationError (signature, messageDigest,
    contentType, signer not found: badMessageCheck or badCertId) and
    UnsupportedAlgorithmError (an algorithm unknown or refused by
    ``algorithms``: badAlg).
    """
    if not message.message_type.is_request:
        raise _protocol_error(message, f"{message.message_type.rfc_name} is not a request")
    if not message.transaction_id:
        raise _protocol_error(message, "transactionID is missing")
    if message.sender_nonce is None:
        raise _protocol_error(message, "senderNonce is missing")
    if message.envelope is None:
        raise _protocol_error(message, "the request has no pkcsPKIEnvelope")
    try:
        return _verified(message, certificates, algorithms, backend, None)
    except ScepError as exc:
        # The signature did not check out: the reply is a bare FAILURE.
        completed = _answerable(exc, message.transaction_id, message.sender_nonce)
        if completed is exc:
            raise
        raise completed from exc


def verify_cert_rep(
    message: UnverifiedPKIMessage,
    *,
    ca_certificates: Sequence[Certificate],
    request: RequestReference | None = None,
    algorithms: AlgorithmPolicy = DEFAULT_POLICY,
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

    Raises RemoteProtocolError (not a CertRep, status rules, IDs that do not
    match the request), VerificationError and UnsupportedAlgorithmError as
    `verify_request` does, and LocalProtocolError without ``ca_certificates``.
    """
    if message.message_type is not MessageType.CERT_REP:
        raise _protocol_error(message, f"expected CertRep, got {message.message_type.rfc_name}")
    if not ca_certificates:
        raise LocalProtocolError("verify_cert_rep needs the CA/RA certificates to trust")
    verified = _verified(message, ca_certificates, algorithms, backend, ca_certificates)
    status = message.pki_status
    if status is None:
        raise _protocol_error(message, "pkiStatus is missing")
    if status is PKIStatus.FAILURE and message.fail_info is None:
        raise _protocol_error(message, "FAILURE without failInfo")
    if status is PKIStatus.SUCCESS and message.envelope is None:
        raise _protocol_error(message, "SUCCESS without a pkcsPKIEnvelope")
    if status is not PKIStatus.SUCCESS and message.envelope is not None:
        raise _protocol_error(message, f"{status.name} must not carry content")
    findings: list[Finding] = []
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
    return PKIMessage(
        verified._parsed,
        _Verification(verified.signer_certificate, verified.digest, algorithms, tuple(findings)),
    )


# --- decrypt ------------------------------------------------------------------


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
    algorithms: AlgorithmPolicy = DEFAULT_POLICY,
    backend: CryptoBackend | str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[PKIMessage, DecryptedContent]:
    """Server side in one call: parse, `verify_request`, then decrypt.

    Every error raised once the signature has checked out carries
    ``reply_to`` (a `ReplyTo` mirroring the verified request) and its
    ``fail_info``, so the server can answer the CertRep FAILURE RFC 8894
    requires: ``build_cert_rep_failure(ReplyTo.of_error(error), error.fail_info, ...)``.
    Errors before that carry a bare ``reply_to`` when the transactionID and
    senderNonce could be read, and none when the bytes are no pkiMessage
    (answer HTTP 400).
    """
    message = verify_request(
        parse_pki_message(data, limits=limits),
        certificates=certificates,
        algorithms=algorithms,
        backend=backend,
    )
    try:
        return message, decrypt_pki_message(message, decrypter, backend=backend)
    except ScepError as exc:
        # Same error, same text: only the reply context is added (to a copy).
        raise answerable(exc, ReplyTo.of(message)) from exc


def open_cert_rep(
    data: bytes,
    decrypter: Decrypter,
    *,
    ca_certificates: Sequence[Certificate],
    request: RequestReference,
    algorithms: AlgorithmPolicy = DEFAULT_POLICY,
    backend: CryptoBackend | str | None = None,
    strict_recipient_nonce: bool = True,
) -> tuple[PKIMessage, CertsOnly | None]:
    """Client side in one call: parse, `verify_cert_rep`, and decrypt a SUCCESS."""
    message = verify_cert_rep(
        parse_pki_message(data),
        ca_certificates=ca_certificates,
        request=request,
        algorithms=algorithms,
        backend=backend,
        strict_recipient_nonce=strict_recipient_nonce,
    )
    if message.pki_status is not PKIStatus.SUCCESS:
        return message, None
    content = decrypt_pki_message(message, decrypter, backend=backend)
    if not isinstance(content, CertsOnly):  # pragma: no cover - CertRep content is certs-only
        raise ParseError("CertRep content is not a certs-only SignedData")
    return message, content
