"""The pkiMessage values (RFC 8894 section 3.2): what parse and verify return.

`UnverifiedPKIMessage` (parsed, signature NOT checked) and `PKIMessage`
(verified) are different types, so unchecked content cannot be used by
accident; `SignerIdentifier`, `PSSParameters` and `RequestReference` describe
parts of them, and `DecryptedContent` is what decrypting one gives. The steps
that make them live beside this module: `parse`, `verify`, `decrypt`, `open`.

Message values expose their fields as read-only properties over one parsed
record, so ``dataclasses.replace`` cannot make a message whose fields
disagree with its bytes. Only this module touches that record: the steps
build and extend it through `unverified_message`, `verified_message` and
`signed_data_of`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pyscep.algorithms import AlgorithmPolicy, ContentCipher, DigestAlgorithm
from pyscep.certificate import Certificate
from pyscep.cms.degenerate import CertsOnly
from pyscep.cms.enveloped import ParsedEnvelope
from pyscep.cms.signed import ParsedSignedData, ParsedSignerInfo
from pyscep.enums import FailInfo, MessageType, PKIStatus
from pyscep.errors import ScepError
from pyscep.findings import Finding
from pyscep.messages.attributes import ScepAttributes
from pyscep.messages.content import CertificationRequest, IssuerAndSerial, IssuerAndSubject
from pyscep.messages.reply import copy_of

__all__ = [
    "DecryptedContent",
    "PKIMessage",
    "PSSParameters",
    "RequestReference",
    "SignerIdentifier",
    "UnverifiedPKIMessage",
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
class _Rest:
    """What parse reads of a message when it is first needed: the whole SignedData (its
    certificates), the pkcsPKIEnvelope, and every finding."""

    signed: ParsedSignedData
    envelope: ParsedEnvelope | None
    findings: tuple[Finding, ...]


#: Reads what parse deferred, given the certificates the caller holds (by their DER).
ReadRest = Callable[
    [Mapping[bytes, Certificate]],
    tuple[ParsedSignedData, ParsedEnvelope | None, tuple[Finding, ...]],
]


@dataclass(frozen=True)
class _Parsed:
    """Everything parse found, in one record the message views read.

    The signed attributes are read by parse; the rest (`_Rest`) when first
    needed, raising what parse would have raised had it read everything at once.
    """

    der: bytes
    attributes: ScepAttributes
    signer_info: ParsedSignerInfo
    signing_time: datetime | None
    read_rest: ReadRest = field(repr=False)

    def read(self, held: Sequence[Certificate] = ()) -> _Rest:
        """The rest, read on first use and kept (threads that race may each read it:
        equal values); what reading it raised, every time (a copy: a caller's
        `pyscep._boundary.field` adds to the path of the error it sees). Embedded
        certificates among ``held`` (by DER) are those values, not read again."""
        outcome = self.__dict__.get("_outcome")
        if outcome is None:
            # Only Certificates: anything else a caller passed is refused by the step.
            known = {c.der: c for c in held if isinstance(c, Certificate)}
            try:
                outcome = _Rest(*self.read_rest(known))
            except ScepError as exc:
                outcome = exc
            self.__dict__["_outcome"] = outcome  # frozen: a cache, as cached_property keeps
        if isinstance(outcome, ScepError):
            raise copy_of(outcome) from outcome.__cause__
        return outcome

    @property
    def rest(self) -> _Rest:
        """The rest (`read`)."""
        return self.read()

    @property
    def signed(self) -> ParsedSignedData:
        return self.rest.signed

    @property
    def envelope(self) -> ParsedEnvelope | None:
        return self.rest.envelope

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.rest.findings


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


# --- for the steps: the only code outside the classes that reads the record ------


def unverified_message(
    *,
    der: bytes,
    attributes: ScepAttributes,
    signer_info: ParsedSignerInfo,
    signing_time: datetime | None,
    read_rest: ReadRest,
) -> UnverifiedPKIMessage:
    """What `parse_pki_message` found, as the value it returns; ``read_rest`` reads the
    rest (the whole SignedData, the envelope, the findings) when first needed."""
    parsed = _Parsed(
        der=der,
        attributes=attributes,
        signer_info=signer_info,
        signing_time=signing_time,
        read_rest=read_rest,
    )
    return UnverifiedPKIMessage(parsed)


def read_whole(message: UnverifiedPKIMessage, held: Sequence[Certificate] = ()) -> None:
    """Read the rest of ``message`` now: what parse deferred raises here, if anything.
    An embedded certificate among ``held`` (the caller's trust anchors) is not read again."""
    message._parsed.read(held)


def signed_data_of(message: UnverifiedPKIMessage) -> ParsedSignedData:
    """The parsed SignedData whose signature verification checks (parser-dependent: no property)."""
    return message._parsed.signed


def verified_message(
    message: UnverifiedPKIMessage | PKIMessage,
    *,
    signer_certificate: Certificate,
    digest: DigestAlgorithm,
    algorithms: AlgorithmPolicy,
    findings: tuple[Finding, ...] = (),
) -> PKIMessage:
    """``message`` as accepted: what verification established, over what parse found."""
    verification = _Verification(signer_certificate, digest, algorithms, findings)
    return PKIMessage(message._parsed, verification)
