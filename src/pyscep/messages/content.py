"""What a pkcsPKIEnvelope carries, as immutable values (RFC 8894 section 3.3).

- PKCSReq, RenewalReq, UpdateReq: a PKCS#10 request (`CertificationRequest`);
- CertPoll / GetCertInitial: `IssuerAndSubject`;
- GetCert, GetCRL: `IssuerAndSerial`;
- CertRep SUCCESS: a certs-only SignedData (`pyscep.cms.degenerate.CertsOnly`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import timedelta
from functools import cached_property
from typing import Any, NamedTuple

from asn1crypto import cms, x509

from pyscep._asn1 import CertificationRequest as CertificationRequestStructure
from pyscep._asn1 import IssuerAndSubject as _Asn1IssuerAndSubject
from pyscep._asn1 import NameValuePair
from pyscep._boundary import field as parse_field
from pyscep._der import count_children, prescan, read_header
from pyscep._extensions import (
    MAX_EXTENSIONS,
    RawExtension,
    check_name,
    decode_ca_flag,
    decode_display,
    decode_general_names,
    decode_key_purposes,
    decode_key_usage,
    name_text,
    read_extensions,
)
from pyscep._parser_switch import read_fast
from pyscep.algorithms import DEFAULT_POLICY, AlgorithmPolicy
from pyscep.certificate import Certificate
from pyscep.crypto import CryptoBackend
from pyscep.crypto.signed_object import verify_signed_object
from pyscep.errors import LimitExceededError, ParseError, VerificationError
from pyscep.findings import Finding, FindingCode
from pyscep.oids import PostQuantumOID
from pyscep.public_key import PublicKey
from pyscep.sid import SID_EXTENSION_OID, UNREADABLE_SID, sids_in_general_names

from ._csr_reader import MAX_ATTRIBUTES, read_request

__all__ = [
    "CertificationRequest",
    "IssuerAndSerial",
    "IssuerAndSubject",
]

#: What asn1crypto raises for a value that is not of the type its OID calls for.
_DECODE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError)
#: Microsoft's enrollmentNameValuePair attribute and certificate-template name extension.
_NAME_VALUE_PAIR = "1.3.6.1.4.1.311.13.2.1"
_TEMPLATE_NAMES = frozenset({"1.3.6.1.4.1.311.20.2", "microsoft_enroll_certtype"})
#: ValidityPeriod units (as Windows names them), in days.
_PERIOD_DAYS = {"years": 365, "months": 30, "weeks": 7, "days": 1}
#: Extensions a policy or a CA acts on: a mistyped one refuses the request.
_STRICT_EXTENSIONS = frozenset(
    {"subject_alt_name", "extended_key_usage", "basic_constraints", "key_usage"}
)


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


def _mistyped(what: str) -> Finding:
    return Finding(FindingCode.MISTYPED_VALUE, f"{what} is not of its OID's type; kept raw")


class _RequestFields(NamedTuple):
    """What `CertificationRequest` reads from its der (its fields, but der)."""

    subject_der: bytes
    public_key: PublicKey
    public_key_der: bytes
    public_key_description: str
    signature_algorithm: str
    attribute_types: tuple[str, ...]
    challenge_password: str | None
    challenge_password_type: str | None
    requested_extensions: tuple[dict[str, Any], ...]
    subject_alt_names: tuple[str, ...]
    extended_key_usages: frozenset[str] | None
    findings: tuple[Finding, ...]
    name_value_pairs: tuple[tuple[str, str], ...]
    certificate_template: str | None
    requested_sids: tuple[str, ...]


@dataclass(frozen=True)
class CertificationRequest:
    """A PKCS#10 request, with what a SCEP server needs already extracted.

    ``der`` is its only argument (ParseError when it is no request); every
    other field is read from it and cannot be replaced on its own.
    """

    der: bytes
    subject_der: bytes = field(init=False)
    #: The requested key, read (what the policy checks and the self-signature verifies).
    public_key: PublicKey = field(init=False, repr=False, compare=False)
    public_key_der: bytes = field(init=False)
    #: ``RSA-2048``, ``EC-256``...
    public_key_description: str = field(init=False)
    signature_algorithm: str = field(init=False)
    #: Attribute types present, asn1crypto names or dotted OIDs, in order.
    attribute_types: tuple[str, ...] = field(init=False)
    challenge_password: str | None = field(init=False)
    #: The challengePassword's string type (``printable_string``, ``utf8_string``...).
    challenge_password_type: str | None = field(init=False)
    #: Requested extensions: ``{"id", "critical", "value"}`` with JSON-friendly values.
    requested_extensions: tuple[dict[str, Any], ...] = field(init=False)
    #: Requested subjectAltNames as ``type:value`` (``dns_name:host.example``).
    subject_alt_names: tuple[str, ...] = field(init=False)
    #: Requested extended key usages (asn1crypto names or dotted OIDs), None if not asked.
    extended_key_usages: frozenset[str] | None = field(init=False)
    #: Values kept raw because they are not of the type their OID calls for.
    findings: tuple[Finding, ...] = field(init=False)
    #: Microsoft enrollmentNameValuePair attributes, in order (``ValidityPeriod``...).
    name_value_pairs: tuple[tuple[str, str], ...] = field(init=False)
    #: The Microsoft certificate-template name extension (1.3.6.1.4.1.311.20.2).
    certificate_template: str | None = field(init=False)
    #: The Windows account SIDs the request asks for (`pyscep.sid`: subjectAltName
    #: URIs and the SID extension), as written (``UNREADABLE_SID`` for a SID extension
    #: that cannot be read). Never to be copied into a certificate: anyone can ask for
    #: anyone's SID (docs/security.md).
    requested_sids: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        # Frozen: every field is read from der, once, here, before the value is
        # seen; so ``replace(request, der=other)`` reads the other request.
        read = _read_request(self.der)
        for derived in fields(self)[1:]:  # every field but der
            object.__setattr__(self, derived.name, getattr(read, derived.name))

    @cached_property
    def subject(self) -> str:
        """Subject in asn1crypto's human-friendly form (most specific RDN first)."""
        return name_text(self.subject_der)

    @property
    def requested_validity(self) -> timedelta | None:
        """The ValidityPeriod/ValidityPeriodUnits pair asked for, None if absent or unreadable."""
        pairs = {name.casefold(): value for name, value in self.name_value_pairs}
        period, units = pairs.get("validityperiod"), pairs.get("validityperiodunits")
        if period is None or units is None or not units.strip().isdigit():
            return None
        days = _PERIOD_DAYS.get(period.strip().casefold())
        count = int(units.strip()[:6])
        if days is None or count == 0:
            return None
        return timedelta(days=days * count)

    def verify_signature(
        self, backend: CryptoBackend, algorithms: AlgorithmPolicy = DEFAULT_POLICY
    ) -> None:
        """Check the request's self-signature (proof of possession); VerificationError if bad.

        The signature, its digest and the requested key all pass ``algorithms``
        (UnsupportedAlgorithmError otherwise).
        """
        # Read as raw TLVs: the signed bytes are exactly as received, and a
        # value kept raw (a mistyped extension) is not parsed again.
        with parse_field("CertificationRequest"):
            top = read_header(self.der)
            info = read_header(self.der, top.content_start, top.content_end)
            algorithm_tlv = read_header(self.der, info.end, top.content_end)
            bits = read_header(self.der, algorithm_tlv.end, top.content_end)
            signed = self.der[info.start : info.end]
            algorithm = self.der[algorithm_tlv.start : algorithm_tlv.end]
            # The BIT STRING after its unused-bits octet (`load` checked the fields' types).
            signature = self.der[bits.content_start + 1 : bits.content_end]
        try:
            verify_signed_object(
                backend, self.public_key, algorithm, signature, signed, algorithms=algorithms
            )
        except VerificationError:
            raise VerificationError("the CSR's self-signature does not verify") from None

    @classmethod
    def load(cls, der: bytes) -> CertificationRequest:
        """Parse a DER PKCS#10 request; ParseError on anything malformed or ambiguous.

        Lists are counted before they are read (attributes, extensions,
        subjectAltNames), and only the extensions a policy acts on are
        decoded in full; others are decoded for display when small.
        """
        return cls(der)


def _read_request(der: bytes) -> _RequestFields:
    """Every field of a `CertificationRequest` read from ``der``, by either path."""
    prescan(der)
    reading = read_fast("request", lambda: read_request(der))
    if reading is None:
        return _load_unusual(der)  # asn1crypto reads every other shape
    with parse_field("CertificationRequest"):
        key = PublicKey.load(der[slice(*reading.public_key)])
        extensions: list[RawExtension] = []
        for contents in reading.extension_sets:
            extensions.extend(read_extensions(contents))
        return _assemble(
            der[slice(*reading.subject)],
            key,
            reading.signature_algorithm,
            reading.attribute_types,
            (reading.challenge_password, reading.challenge_password_type),
            extensions,
            findings=[],
            pairs=[],
        )


def _load_unusual(der: bytes) -> _RequestFields:
    """`CertificationRequest.load` by asn1crypto, for the shapes the fast path leaves."""
    with parse_field("CertificationRequest"):
        request = CertificationRequestStructure.load(der, strict=True)
        info = request["certification_request_info"]
        subject = info["subject"]
        check_name(subject)
        key = PublicKey.load(bytes(info["subject_pk_info"].dump()))
        algorithm = request["signature_algorithm"]["algorithm"]
        signature_algorithm = PostQuantumOID.ML_DSA.get(algorithm.dotted, str(algorithm.native))
        count_children(info["attributes"].contents or b"", MAX_ATTRIBUTES, "CSR attributes")
        attribute_types: list[str] = []
        password = password_type = None
        extensions: list[RawExtension] = []
        findings: list[Finding] = []
        pairs: list[tuple[str, str]] = []
        for attribute in info["attributes"]:
            name = str(attribute["type"].native)
            attribute_types.append(name)
            if attribute["type"].dotted == _NAME_VALUE_PAIR:
                # asn1crypto has no type for Microsoft's pairs: read them raw.
                pairs.extend(_name_value_pairs(attribute["values"].contents or b"", findings))
                continue
            try:
                values = attribute["values"]
                count = count_children(values.contents or b"", MAX_ATTRIBUTES, "values")
                len(values)  # typed by the attribute's OID, which it may not match
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
                    extensions.extend(read_extensions(extension_set.contents or b""))
        return _assemble(
            bytes(subject.dump()),
            key,
            signature_algorithm,
            tuple(attribute_types),
            (password, password_type),
            extensions,
            findings=findings,
            pairs=pairs,
        )


def _assemble(
    subject_der: bytes,
    key: PublicKey,
    signature_algorithm: str,
    attribute_types: tuple[str, ...],
    password: tuple[str | None, str | None],
    extensions: list[RawExtension],
    *,
    findings: list[Finding],
    pairs: list[tuple[str, str]],
) -> _RequestFields:
    """The fields, once either path has read the request: the extensions decoded."""
    requested, sans, ekus = _requested(extensions, findings)
    sids = _requested_sids(extensions, findings)
    return _RequestFields(
        subject_der=subject_der,
        public_key=key,
        public_key_der=key.der,
        public_key_description=(
            key.parameter_set.title
            if key.parameter_set is not None
            else f"{key.algorithm.upper()}-{key.bits}"
        ),
        signature_algorithm=signature_algorithm,
        attribute_types=attribute_types,
        challenge_password=password[0],
        challenge_password_type=password[1],
        requested_extensions=tuple(requested),
        subject_alt_names=sans,
        extended_key_usages=ekus,
        findings=tuple(findings),
        name_value_pairs=tuple(pairs),
        certificate_template=_template_name(extensions),
        requested_sids=sids,
    )


def _requested_sids(extensions: list[RawExtension], findings: list[Finding]) -> tuple[str, ...]:
    """The SIDs the request asks for, in either form, each reported as a finding."""
    sids: list[str] = []
    for extension in extensions:
        if extension.name not in ("subject_alt_name", SID_EXTENSION_OID):
            continue
        try:
            found = sids_in_general_names(extension.value)
        except ParseError:
            if extension.name == "subject_alt_name":
                continue  # a mistyped SAN has refused the request already
            # A SID extension nobody can read still asks for a SID: said so, so that a
            # server that refuses requested SIDs refuses it too.
            found = (UNREADABLE_SID,)
        where = (
            "a subjectAltName URI" if extension.name == "subject_alt_name" else "the SID extension"
        )
        for sid in found:
            findings.append(
                Finding(FindingCode.REQUESTED_SID, f"the request asks for SID {sid!r} in {where}")
            )
        sids.extend(found)
    return tuple(sids)


def _name_value_pairs(contents: bytes, findings: list[Finding]) -> list[tuple[str, str]]:
    """The (name, value) pairs of an enrollmentNameValuePair attribute's SET contents."""
    count_children(contents, MAX_ATTRIBUTES, "name-value pairs")
    pairs, position = [], 0
    while position < len(contents):
        element = read_header(contents, position)
        try:
            pair = NameValuePair.load(contents[element.start : element.end], strict=True)
            pairs.append((str(pair["name"].native), str(pair["value"].native)))
        except _DECODE_ERRORS:
            findings.append(_mistyped("enrollmentNameValuePair"))
        position = element.end
    return pairs


def _template_name(extensions: list[RawExtension]) -> str | None:
    """The certificate-template name: a BMPString, or the UTF8String strongSwan sends."""
    for extension in extensions:
        if extension.name in _TEMPLATE_NAMES and extension.value:
            top = read_header(extension.value)
            text = extension.value[top.content_start : top.content_end]
            if top.tag_number == 30 and len(text) % 2 == 0:
                return text.decode("utf-16-be", "replace")
            if top.tag_number == 12:
                return text.decode("utf-8", "replace")
    return None


def _requested(
    extensions: list[RawExtension], findings: list[Finding]
) -> tuple[list[dict[str, Any]], tuple[str, ...], frozenset[str] | None]:
    """The requested extensions for display, and the SANs and EKUs a policy decides on."""
    if len(extensions) > MAX_EXTENSIONS:
        raise LimitExceededError(f"more than {MAX_EXTENSIONS} requested extensions")
    requested: list[dict[str, Any]] = []
    sans: tuple[str, ...] = ()
    ekus: frozenset[str] | None = None
    for extension in extensions:
        kind = extension.name
        # What the policy decides on must be read, not guessed: decoded in
        # full (within its bounds) or the request is refused.
        if kind == "subject_alt_name":
            sans = decode_general_names(extension.value)
        elif kind == "extended_key_usage":
            ekus = decode_key_purposes(extension.value)
        elif kind == "key_usage":
            decode_key_usage(extension.value)
        elif kind == "basic_constraints":
            decode_ca_flag(extension.value)
        value: Any
        try:
            if kind == SID_EXTENSION_OID:  # an otherName asn1crypto cannot show
                value = {"sids": list(sids_in_general_names(extension.value))}
            else:
                value = _jsonable(decode_display(extension))
        except LimitExceededError:
            findings.append(
                Finding(FindingCode.OVERSIZED_VALUE, f"extension {kind} is too large to decode")
            )
            value = {"raw_der": extension.value.hex()}
        except (ParseError, *_DECODE_ERRORS):
            if kind in _STRICT_EXTENSIONS:
                raise ParseError(f"extension {kind} is not of its type") from None
            # strongSwan sends the certificate-template name as UTF8String where
            # BMPString is due; OpenSSL and micromdm accept it, so keep it raw
            # and say so.
            findings.append(_mistyped(f"extension {kind}"))
            value = {"raw_der": extension.value.hex()}
        requested.append({"id": kind, "critical": extension.critical, "value": value})
    return requested, sans, ekus


@dataclass(frozen=True)
class IssuerAndSubject:
    """CertPoll (GetCertInitial) content: the CA's name and the requested subject."""

    issuer_der: bytes
    subject_der: bytes

    @property
    def issuer(self) -> str:
        """Issuer, human-friendly."""
        return name_text(self.issuer_der)

    @property
    def subject(self) -> str:
        """Subject, human-friendly."""
        return name_text(self.subject_der)

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
        with parse_field("IssuerAndSubject"):
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
        return name_text(self.issuer_der)

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
        with parse_field("IssuerAndSerialNumber"):
            value = cms.IssuerAndSerialNumber.load(der, strict=True)
            value["issuer"].native  # noqa: B018 - materialise
            return cls(bytes(value["issuer"].dump()), int(value["serial_number"].native))
