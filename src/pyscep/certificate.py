"""`Certificate`: an immutable X.509 certificate value, parsed once.

pyscep passes certificates around as this value. It accepts DER or PEM bytes,
a pyca/cryptography certificate, or an asn1crypto one, keeps the DER, and
parses lazily only the parts a caller asks for (each at most once). Canonical
DER is only outlined when loaded (`pyscep._certificate_reader`): finding a
signer or a recipient by issuer and serial and checking a signature with its
key decode nothing with asn1crypto.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from asn1crypto import pem, x509
from asn1crypto.core import Void

from ._boundary import field as parse_field
from ._certificate_reader import CertificateOutline, read_certificate_outline
from ._der import ScanReport, prescan
from ._der_writer import integer, tlv
from ._extensions import (
    RawExtension,
    check_name,
    decode_ca_flag,
    decode_general_names,
    decode_key_identifier,
    decode_key_purposes,
    decode_key_usage,
    friendly_name,
    read_extensions,
)
from ._spki import Certificate as CertificateStructure
from .errors import LimitExceededError, LocalProtocolError, ParseError, ScepError
from .limits import DEFAULT_LIMITS, Limits
from .oids import PostQuantumOID
from .public_key import PublicKey
from .sid import SID_EXTENSION_OID, sids_in_general_names

__all__ = ["Certificate", "CertificateLike", "names_equal"]

#: Anything `Certificate.load` accepts.
CertificateLike = Any


@dataclass(frozen=True, eq=False)
class Certificate:
    """An X.509 certificate, compared and hashed by its DER encoding.

    ``der`` is its only field: everything else is read from it (on first use),
    so ``dataclasses.replace(certificate, der=other)`` is the other certificate.
    """

    der: bytes

    @classmethod
    def load(cls, value: CertificateLike) -> Certificate:
        """Build from DER or PEM bytes, a pyscep, cryptography or asn1crypto certificate."""
        if isinstance(value, Certificate):
            return value
        if isinstance(value, x509.Certificate):
            return cls._from_der(value.dump())
        if hasattr(value, "public_bytes") and hasattr(value, "tbs_certificate_bytes"):
            from cryptography.hazmat.primitives.serialization import Encoding

            return cls._from_der(value.public_bytes(Encoding.DER))
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
            if pem.detect(data):
                return cls._first_pem(data)
            return cls._from_der(data)
        raise LocalProtocolError(f"cannot make a Certificate from {type(value).__name__}")

    @classmethod
    def load_all(
        cls, data: bytes, *, limits: Limits = DEFAULT_LIMITS, max_count: int = 64
    ) -> list[Certificate]:
        """Every certificate of a PEM bundle (or the single DER certificate).

        The PEM text is held to ``limits.max_size`` like DER, and a bundle of
        more than ``max_count`` certificates is refused before the rest is decoded.
        """
        if not pem.detect(data):
            return [cls._from_der(data, limits)]
        if len(data) > limits.max_size:
            raise LimitExceededError(
                f"PEM input of {len(data)} bytes exceeds the {limits.max_size}-byte limit"
            )
        found: list[Certificate] = []
        with parse_field("PEM"):
            for _, _, der in pem.unarmor(data, multiple=True):
                if len(found) == max_count:
                    raise LimitExceededError(f"more than {max_count} certificates in one PEM input")
                found.append(cls._from_der(der, limits))
        if not found:
            raise ParseError("no certificate in the PEM input")
        return found

    @classmethod
    def _first_pem(cls, data: bytes, limits: Limits = DEFAULT_LIMITS) -> Certificate:
        """The first certificate of PEM text (a certificate file with its chain after it)."""
        if len(data) > limits.max_size:
            raise LimitExceededError(f"PEM input exceeds the {limits.max_size}-byte limit")
        with parse_field("PEM"):
            for _, _, der in pem.unarmor(data, multiple=True):
                return cls._from_der(der, limits)
        raise ParseError("no certificate in the PEM input")  # pragma: no cover - detect() said so

    @classmethod
    def _from_der(cls, der: bytes, limits: Limits = DEFAULT_LIMITS) -> Certificate:
        report = prescan(der, limits)
        certificate = cls.from_scanned_der(der)
        certificate.__dict__["_prescanned"] = report
        return certificate

    @classmethod
    def from_scanned_der(cls, der: bytes) -> Certificate:
        """From DER that the resource pre-scan already covered (part of a scanned message).

        ParseError when it is not a certificate. Canonical DER is only outlined
        (serial, issuer, subject, key); asn1crypto decodes it on first use of anything else.
        """
        certificate = cls(der)
        # The caller scanned der: seed the caches of this new value (what the
        # lazy accessors would compute, minus a second scan) before anyone sees it.
        outline = read_certificate_outline(der)
        certificate.__dict__["_outline"] = outline
        if outline is None:
            certificate.__dict__["_parsed"] = _decode(der)  # ParseError now, not later
        return certificate

    @cached_property
    def _outline(self) -> CertificateOutline | None:
        """Where the DER fast path finds the fields a message needs, or None."""
        self._prescanned  # noqa: B018 - built directly from bytes: not scanned yet
        return read_certificate_outline(self.der)

    @cached_property
    def _prescanned(self) -> ScanReport:
        """`prescan` of der on its own (ScepError for DER over the limits)."""
        return prescan(self.der)

    @cached_property
    def _parsed(self) -> x509.Certificate:
        """asn1crypto's reading, for what the outline does not cover."""
        self._outline  # noqa: B018 - scans der first when no caller did
        return _decode(self.der)

    def _slice(self, bounds: tuple[int, int]) -> bytes:
        return self.der[bounds[0] : bounds[1]]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Certificate) and other.der == self.der

    def __hash__(self) -> int:
        return hash(self.der)

    @cached_property
    def tbs_certificate_der(self) -> bytes:
        """DER of the signed part (TBSCertificate)."""
        if self._outline is not None:
            return self._slice(self._outline.tbs)
        with parse_field("tbsCertificate"):
            return bytes(self._parsed["tbs_certificate"].dump())

    @cached_property
    def signature_algorithm_der(self) -> bytes:
        """DER AlgorithmIdentifier of the issuer's signature."""
        with parse_field("signatureAlgorithm"):
            return bytes(self._parsed["signature_algorithm"].dump())

    @cached_property
    def signed_signature_algorithm_der(self) -> bytes:
        """DER AlgorithmIdentifier inside the TBSCertificate (what the issuer signed)."""
        with parse_field("tbsCertificate.signature"):
            return bytes(self._parsed["tbs_certificate"]["signature"].dump())

    @cached_property
    def signature(self) -> bytes:
        """The issuer's signature value (a BIT STRING of whole octets)."""
        with parse_field("signatureValue"):
            value = self._parsed["signature_value"]
            if value.contents[:1] != b"\x00":
                raise ParseError("the signature BIT STRING has unused bits")
            return bytes(value.native)

    @cached_property
    def ec_curve(self) -> str | None:
        """For an EC key: the named curve (``secp256r1``...), or ``explicit`` for explicit
        parameters; None for other key types."""
        if self.public_key_algorithm != "ec":
            return None
        with parse_field("subjectPublicKeyInfo"):
            parameters = self._parsed.public_key["algorithm"]["parameters"]
            if parameters.name != "named":
                return "explicit"
            return str(parameters.chosen.native)

    @cached_property
    def subject(self) -> str:
        """Subject in asn1crypto's human-friendly form (most specific RDN first)."""
        with parse_field("subject"):
            return friendly_name(self._parsed.subject)

    @cached_property
    def issuer(self) -> str:
        """Issuer in asn1crypto's human-friendly form."""
        with parse_field("issuer"):
            return friendly_name(self._parsed.issuer)

    @cached_property
    def subject_der(self) -> bytes:
        """DER of the subject Name."""
        if self._outline is not None:
            return self._slice(self._outline.subject)
        return bytes(self._parsed.subject.dump())

    @cached_property
    def issuer_der(self) -> bytes:
        """DER of the issuer Name."""
        if self._outline is not None:
            return self._slice(self._outline.issuer)
        return bytes(self._parsed.issuer.dump())

    @cached_property
    def issuer_and_serial_der(self) -> bytes:
        """DER IssuerAndSerialNumber: how CMS names this certificate (signer, recipient)."""
        return tlv(0x30, self.issuer_der + integer(self.serial_number))

    @cached_property
    def _extensions(self) -> dict[str, RawExtension]:
        """The extensions by name, counted and read but not decoded (each accessor
        decodes only the one it needs)."""
        outline = self._outline
        with parse_field("tbsCertificate"):
            if outline is not None:
                contents = b"" if outline.extensions is None else self._slice(outline.extensions)
            else:
                extensions = self._parsed["tbs_certificate"]["extensions"]
                absent = isinstance(extensions, Void)
                contents = b"" if absent else bytes(extensions.contents or b"")
        found: dict[str, RawExtension] = {}
        for extension in read_extensions(contents):
            if extension.name in found:
                raise ParseError(f"extension {extension.name} appears twice")
            found[extension.name] = extension
        return found

    @cached_property
    def is_ca(self) -> bool:
        """basicConstraints cA, or self-issued when the extension is absent."""
        extension = self._extensions.get("basic_constraints")
        if extension is not None:
            return decode_ca_flag(extension.value)
        return self.self_signed

    @cached_property
    def subject_alt_names(self) -> tuple[str, ...]:
        """subjectAltName entries as ``type:value`` (``dns_name:host.example``)."""
        extension = self._extensions.get("subject_alt_name")
        return () if extension is None else decode_general_names(extension.value)

    @cached_property
    def extended_key_usages(self) -> frozenset[str] | None:
        """extKeyUsage purposes (asn1crypto names or dotted OIDs), None when absent."""
        extension = self._extensions.get("extended_key_usage")
        return None if extension is None else decode_key_purposes(extension.value)

    @cached_property
    def serial_number(self) -> int:
        """The serial number."""
        if self._outline is not None:
            return self._outline.serial_number
        return int(self._parsed.serial_number)

    @cached_property
    def subject_key_identifier(self) -> bytes | None:
        """The subjectKeyIdentifier extension, if present."""
        extension = self._extensions.get("key_identifier")
        return None if extension is None else decode_key_identifier(extension.value)

    @cached_property
    def sids(self) -> tuple[str, ...]:
        """The Windows account SIDs the certificate maps to (`pyscep.sid`): from its
        subjectAltName URIs and its SID extension, in that order, as written."""
        found: list[str] = []
        for name in ("subject_alt_name", SID_EXTENSION_OID):
            extension = self._extensions.get(name)
            if extension is not None:
                found.extend(sids_in_general_names(extension.value))
        return tuple(found)

    @cached_property
    def critical_extensions(self) -> frozenset[str]:
        """The extensions marked critical (asn1crypto names or dotted OIDs)."""
        return frozenset(name for name, ext in self._extensions.items() if ext.critical)

    @cached_property
    def key_usage(self) -> frozenset[str] | None:
        """keyUsage bits by asn1crypto name, or None when the extension is absent."""
        extension = self._extensions.get("key_usage")
        return None if extension is None else decode_key_usage(extension.value)

    @cached_property
    def public_key_der(self) -> bytes:
        """DER SubjectPublicKeyInfo."""
        if self._outline is not None:
            return self._slice(self._outline.public_key)
        with parse_field("subjectPublicKeyInfo"):
            return bytes(self._parsed.public_key.dump())

    @cached_property
    def public_key(self) -> PublicKey:
        """The subjectPublicKeyInfo read: algorithm, size, curve (what the policy checks)."""
        return PublicKey.load(self.public_key_der)

    @cached_property
    def public_key_algorithm(self) -> str:
        """``rsa``, ``ec``, ``dsa``... as asn1crypto names it; ``ml_dsa_65``, ``ml_kem_768``..."""
        if self._outline is not None:
            return self._outline.key_algorithm
        with parse_field("subjectPublicKeyInfo"):
            name = str(self._parsed.public_key.algorithm)
        return PostQuantumOID.REPORTED_ONLY.get(name, name)  # the name PublicKey gives it

    @cached_property
    def public_key_bits(self) -> int:
        """Key size in bits (ML-DSA and ML-KEM: the parameter set's security strength; 0
        for a key pyscep only names)."""
        if self.public_key_algorithm in _SIZED_BY_PYSCEP:
            return self.public_key.bits
        with parse_field("subjectPublicKeyInfo"):
            return int(self._parsed.public_key.bit_size)

    @cached_property
    def not_valid_before(self) -> datetime:
        """Start of validity (timezone-aware)."""
        with parse_field("notBefore"):
            value: datetime = self._parsed["tbs_certificate"]["validity"]["not_before"].native
        return value

    @cached_property
    def not_valid_after(self) -> datetime:
        """End of validity (timezone-aware)."""
        with parse_field("notAfter"):
            value: datetime = self._parsed["tbs_certificate"]["validity"]["not_after"].native
        return value

    @cached_property
    def self_signed(self) -> bool:
        """True when issuer equals subject (asn1crypto's 'maybe' counts as self-issued)."""
        if self.issuer_der == self.subject_der:
            return True
        with parse_field("issuer"):
            return bool(self._parsed.self_issued)

    @cached_property
    def sha256_fingerprint(self) -> bytes:
        """SHA-256 of the DER encoding."""
        return hashlib.sha256(self.der).digest()

    def matches_issuer_and_serial(self, issuer_der: bytes, serial: int) -> bool:
        """True when this certificate has that issuer (DER Name, RFC 5280 comparison) and serial."""
        return self.serial_number == serial and names_equal(issuer_der, self.issuer_der)

    def is_named_by(
        self, issuer_der: bytes | None, serial: int | None, key_identifier: bytes | None
    ) -> bool:
        """True when a CMS identifier names this certificate.

        CMS names a signer or a recipient by IssuerAndSerialNumber, or else by
        SubjectKeyIdentifier; pass whichever the identifier holds.
        """
        if issuer_der is not None and serial is not None:
            return self.matches_issuer_and_serial(issuer_der, serial)
        return key_identifier is not None and self.subject_key_identifier == key_identifier

    def to_cryptography(self) -> Any:
        """This certificate as a pyca/cryptography ``x509.Certificate``."""
        from cryptography import x509 as cx509

        with parse_field("Certificate"):
            return cx509.load_der_x509_certificate(self.der)

    def __repr__(self) -> str:
        return f"Certificate(subject={self.subject!r}, serial={self.serial_number})"


#: Key algorithms whose size asn1crypto cannot tell: `PublicKey.bits` does.
_SIZED_BY_PYSCEP = frozenset(
    {
        *PostQuantumOID.ML_DSA.values(),
        *PostQuantumOID.ML_KEM.values(),
        *PostQuantumOID.REPORTED_ONLY.values(),
    }
)


def _decode(der: bytes) -> x509.Certificate:
    """asn1crypto's reading of scanned DER, with what every user of a certificate touches
    materialised, so that a corrupt certificate fails here and not deep inside a check."""
    with parse_field("Certificate"):
        parsed = CertificateStructure.load(der, strict=True)
        parsed["tbs_certificate"]["serial_number"].native  # noqa: B018
        # Names are only structurally parsed here; their values are decoded by
        # the accessors, each inside the parse boundary.
        check_name(parsed["tbs_certificate"]["subject"])
        check_name(parsed["tbs_certificate"]["issuer"])
        parsed.public_key["algorithm"]["algorithm"].native  # noqa: B018
    # Validity, names and extensions are decoded on first use, each inside
    # the parse boundary (see the accessors), not on the parsing hot path.
    return parsed


def scan_report_of(certificate: Certificate) -> ScanReport | None:
    """What the pre-scan of ``certificate``'s DER on its own counted, for a message that
    embeds the same DER again (`Reader.count_scanned`); None when that DER cannot be
    scanned within the default limits or is no certificate (a message then reads it,
    and refuses it, as it comes). A certificate loaded from bytes was scanned already,
    under the limits it was loaded with: the report is exact whatever they were."""
    try:
        report = certificate._prescanned
        if certificate._outline is None:
            certificate._parsed  # noqa: B018 - decodes, or raises: it is a certificate
    except ScepError:
        return None
    return report


def names_equal(left_der: bytes, right_der: bytes) -> bool:
    """RFC 5280 comparison of two DER Names (case and space folding of strings)."""
    # Identical encodings are equal names; only differing ones need
    # asn1crypto's (costly) RFC 5280 comparison.
    if left_der == right_der:
        return True
    with parse_field("Name"):
        return bool(x509.Name.load(left_der) == x509.Name.load(right_der))
