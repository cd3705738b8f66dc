"""What a pkcsPKIEnvelope carries, as immutable values (RFC 8894 section 3.3).

- PKCSReq, RenewalReq, UpdateReq: a PKCS#10 request (`CertificationRequest`);
- CertPoll / GetCertInitial: `IssuerAndSubject`;
- GetCert, GetCRL: `IssuerAndSerial`;
- CertRep SUCCESS: a certs-only SignedData (`pyscep.cms.degenerate.CertsOnly`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asn1crypto import cms, core, csr, x509

from pyscep._asn1 import IssuerAndSubject as _Asn1IssuerAndSubject
from pyscep._boundary import field
from pyscep._der import prescan, read_header
from pyscep.algorithms import DEFAULT_POLICY, AlgorithmPolicy
from pyscep.certificate import Certificate
from pyscep.crypto import CryptoBackend
from pyscep.crypto.signed_object import verify_signed_object
from pyscep.errors import ParseError, VerificationError
from pyscep.findings import Finding, FindingCode

__all__ = [
    "CertificationRequest",
    "IssuerAndSerial",
    "IssuerAndSubject",
]

#: What asn1crypto raises for a value that is not of the type its OID calls for.
_DECODE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError)
#: Extensions a policy or a CA acts on: a mistyped one refuses the request.
_STRICT_EXTENSIONS = frozenset(
    {"subject_alt_name", "extended_key_usage", "basic_constraints", "key_usage"}
)


def _human(name_bytes: bytes) -> str:
    with field("Name"):
        return str(x509.Name.load(name_bytes).human_friendly)


def _jsonable(value: Any) -> Any:
    """asn1crypto native values as JSON-friendly ones (bytes keep their repr)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return repr(bytes(value))
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _raw_extension_value(contents: bytes) -> bytes:
    """extnValue's octets read from the Extension's raw contents (its typed parse failed)."""
    position, last = 0, None
    while position < len(contents):
        last = read_header(contents, position)
        position = last.end
    if last is None or last.tag_number != 4:
        raise ParseError("an Extension ends with its extnValue OCTET STRING")
    return contents[last.content_start : last.content_end]


def _mistyped(what: str) -> Finding:
    return Finding(FindingCode.MISTYPED_VALUE, f"{what} is not of its OID's type; kept raw")


@dataclass(frozen=True)
class CertificationRequest:
    """A PKCS#10 request, with what a SCEP server needs already extracted."""

    der: bytes
    #: Subject in asn1crypto's human-friendly form (most specific RDN first).
    subject: str
    subject_der: bytes
    public_key_der: bytes
    #: ``RSA-2048``, ``EC-256``...
    public_key_description: str
    signature_algorithm: str
    #: Attribute types present, asn1crypto names or dotted OIDs, in order.
    attribute_types: tuple[str, ...]
    challenge_password: str | None
    #: The challengePassword's string type (``printable_string``, ``utf8_string``...).
    challenge_password_type: str | None
    #: Requested extensions: ``{"id", "critical", "value"}`` with JSON-friendly values.
    requested_extensions: tuple[dict[str, Any], ...]
    #: Requested subjectAltNames as ``type:value`` (``dns_name:host.example``).
    subject_alt_names: tuple[str, ...] = ()
    #: Requested extended key usages (asn1crypto names or dotted OIDs), None if not asked.
    extended_key_usages: frozenset[str] | None = None
    #: Values kept raw because they are not of the type their OID calls for.
    findings: tuple[Finding, ...] = ()

    def verify_signature(
        self, backend: CryptoBackend, algorithms: AlgorithmPolicy = DEFAULT_POLICY
    ) -> None:
        """Check the request's self-signature (proof of possession); VerificationError if bad.

        The signature, its digest and the requested key all pass ``algorithms``
        (UnsupportedAlgorithmError otherwise).
        """
        # Read as raw TLVs: the signed bytes are exactly as received, and a
        # value kept raw (a mistyped extension) is not parsed again.
        with field("CertificationRequest"):
            top = read_header(self.der)
            info = read_header(self.der, top.content_start, top.content_end)
            algorithm_tlv = read_header(self.der, info.end, top.content_end)
            bits = read_header(self.der, algorithm_tlv.end, top.content_end)
            signed = self.der[info.start : info.end]
            algorithm = self.der[algorithm_tlv.start : algorithm_tlv.end]
            signature = bytes(core.BitString.load(self.der[bits.start : bits.end]).contents[1:])
        try:
            verify_signed_object(
                backend, self.public_key_der, algorithm, signature, signed, algorithms=algorithms
            )
        except VerificationError:
            raise VerificationError("the CSR's self-signature does not verify") from None

    @classmethod
    def load(cls, der: bytes) -> CertificationRequest:
        """Parse a DER PKCS#10 request; ParseError on anything malformed or ambiguous."""
        prescan(der)
        with field("CertificationRequest"):
            request = csr.CertificationRequest.load(der, strict=True)
            info = request["certification_request_info"]
            subject = info["subject"]
            public_key = info["subject_pk_info"]
            description = f"{public_key.algorithm.upper()}-{public_key.bit_size}"
            signature_algorithm = str(request["signature_algorithm"]["algorithm"].native)
            attribute_types: list[str] = []
            password = password_type = None
            extensions: list[dict[str, Any]] = []
            sans: list[str] = []
            ekus: frozenset[str] | None = None
            findings: list[Finding] = []
            for attribute in info["attributes"]:
                name = str(attribute["type"].native)
                attribute_types.append(name)
                try:
                    values = attribute["values"]
                    count = len(values)
                except _DECODE_ERRORS:
                    findings.append(_mistyped(f"CSR attribute {name}"))
                    continue
                if name == "challenge_password":
                    if password is not None or count != 1:
                        raise ParseError("challengePassword must appear once with one value")
                    try:
                        password_type = str(values[0].name)
                        password = str(values[0].native)
                    except _DECODE_ERRORS:
                        # Not a DirectoryString: no usable challenge, said so.
                        findings.append(_mistyped("challengePassword"))
                        password = password_type = None
                elif name == "extension_request":
                    for extension_set in values:
                        for extension in extension_set:
                            kind = str(extension["extn_id"].native)
                            critical = bool(extension["critical"].native)
                            try:
                                parsed = extension["extn_value"].parsed
                                value = _jsonable(parsed.native)
                                if kind == "subject_alt_name":
                                    sans.extend(f"{g.name}:{g.native}" for g in parsed)
                                elif kind == "extended_key_usage":
                                    ekus = frozenset(str(v) for v in parsed.native)
                            except _DECODE_ERRORS:
                                # What the policy decides on must be read, not guessed.
                                if kind in _STRICT_EXTENSIONS:
                                    raise
                                # strongSwan sends the certificate-template name as
                                # UTF8String where BMPString is due; OpenSSL and
                                # micromdm accept it, so keep it raw and say so.
                                raw = _raw_extension_value(bytes(extension.contents))
                                findings.append(_mistyped(f"extension {kind}"))
                                value = {"raw_der": raw.hex()}
                            extensions.append({"id": kind, "critical": critical, "value": value})
            return cls(
                der=der,
                subject=str(subject.human_friendly),
                subject_der=bytes(subject.dump()),
                public_key_der=bytes(public_key.dump()),
                public_key_description=description,
                signature_algorithm=signature_algorithm,
                attribute_types=tuple(attribute_types),
                challenge_password=password,
                challenge_password_type=password_type,
                requested_extensions=tuple(extensions),
                subject_alt_names=tuple(sans),
                extended_key_usages=ekus,
                findings=tuple(findings),
            )


@dataclass(frozen=True)
class IssuerAndSubject:
    """CertPoll (GetCertInitial) content: the CA's name and the requested subject."""

    issuer_der: bytes
    subject_der: bytes

    @property
    def issuer(self) -> str:
        """Issuer, human-friendly."""
        return _human(self.issuer_der)

    @property
    def subject(self) -> str:
        """Subject, human-friendly."""
        return _human(self.subject_der)

    def dump(self) -> bytes:
        """DER encoding."""
        value = _Asn1IssuerAndSubject(
            {"issuer": x509.Name.load(self.issuer_der), "subject": x509.Name.load(self.subject_der)}
        )
        return bytes(value.dump())

    @classmethod
    def load(cls, der: bytes) -> IssuerAndSubject:
        """Parse DER; ParseError if malformed."""
        prescan(der)
        with field("IssuerAndSubject"):
            value = _Asn1IssuerAndSubject.load(der, strict=True)
            value["issuer"].native  # noqa: B018 - materialise
            value["subject"].native  # noqa: B018
            return cls(bytes(value["issuer"].dump()), bytes(value["subject"].dump()))


@dataclass(frozen=True)
class IssuerAndSerial:
    """GetCert / GetCRL content: a certificate named by its issuer and serial number."""

    issuer_der: bytes
    serial_number: int

    @property
    def issuer(self) -> str:
        """Issuer, human-friendly."""
        return _human(self.issuer_der)

    def dump(self) -> bytes:
        """DER encoding."""
        value = cms.IssuerAndSerialNumber(
            {"issuer": x509.Name.load(self.issuer_der), "serial_number": self.serial_number}
        )
        return bytes(value.dump())

    @classmethod
    def of(cls, certificate: Certificate) -> IssuerAndSerial:
        """The IssuerAndSerialNumber naming ``certificate``."""
        return cls(certificate.issuer_der, certificate.serial_number)

    @classmethod
    def load(cls, der: bytes) -> IssuerAndSerial:
        """Parse DER; ParseError if malformed."""
        prescan(der)
        with field("IssuerAndSerialNumber"):
            value = cms.IssuerAndSerialNumber.load(der, strict=True)
            value["issuer"].native  # noqa: B018 - materialise
            return cls(bytes(value["issuer"].dump()), int(value["serial_number"].native))
