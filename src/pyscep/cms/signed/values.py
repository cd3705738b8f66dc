"""The SignedData values: what reading one gives, and a verified one (RFC 5652 section 5).

Small frozen dataclasses holding DER bytes and pyscep values, never asn1crypto
objects, and the same whichever of pyscep's two parsers read the input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import datetime
from typing import TypeVar

from pyscep._deprecation import warn
from pyscep._der import ScanReport, read_header
from pyscep._parser_switch import read_fast, record
from pyscep.algorithms import DigestAlgorithm, SignatureScheme
from pyscep.certificate import Certificate
from pyscep.cms.enveloped.values import ParsedEnvelope
from pyscep.findings import Finding

__all__ = [
    "MAX_CERTIFICATES",
    "MAX_SIGNED_ATTRIBUTES",
    "MAX_SIGNER_INFOS",
    "ParsedSignedData",
    "ParsedSignerInfo",
    "RawAttributes",
    "VerifiedSignedData",
]

#: Most certificates a SignedData may embed.
MAX_CERTIFICATES = 64
#: Most SignerInfos (and digestAlgorithms, and values of one attribute).
MAX_SIGNER_INFOS = 8
#: Most signed attributes a SignerInfo may carry.
MAX_SIGNED_ATTRIBUTES = 64


#: Signed attributes as the DER fast path reads them: (type name, ((tag, contents), ...)).
RawAttributes = tuple[tuple[str, tuple[tuple[int, bytes], ...]], ...]
_Decoded = TypeVar("_Decoded")


@dataclass(frozen=True)
class ParsedSignerInfo:
    """One SignerInfo, materialised; nothing checked yet."""

    #: ``issuer_and_serial_number`` or ``subject_key_identifier``.
    sid_type: str
    #: DER of the sid's issuer Name (IssuerAndSerialNumber form).
    sid_issuer_der: bytes | None
    sid_serial: int | None
    sid_key_identifier: bytes | None
    version: str
    digest_algorithm: str
    signature_algorithm: str
    signature_algorithm_oid: str
    #: (hash name, MGF1 hash name, salt length) for RSASSA-PSS.
    pss_params: tuple[str, str, int] | None
    signature: bytes
    #: The signed attributes as received, re-tagged as a universal SET (0x31).
    signed_attrs_der: bytes | None
    #: Type of each signed attribute, in order (asn1crypto names or dotted OIDs).
    signed_attr_types: tuple[str, ...]
    unsigned_attr_count: int
    #: contentType, messageDigest and signingTime: each one's values, decoded (verify reads them).
    cms_attribute_values: tuple[tuple[str, tuple[object, ...]], ...] = field(default=(), repr=False)
    # What only the DER fast path knows (so private: a public field is the same
    # whichever parser read the input). Every signed attribute's values as
    # (tag, contents); whether the attributes are in DER SET OF order.
    _attribute_contents: RawAttributes | None = field(default=None, repr=False, compare=False)
    _signed_attrs_sorted: bool | None = field(default=None, repr=False, compare=False)

    @property
    def signed_attrs_in_der_order(self) -> bool:
        """Whether the signed attributes are in DER SET OF order (True when absent)."""
        if self._signed_attrs_sorted is not None:
            return self._signed_attrs_sorted  # the fast path looked while it read them
        return self.signed_attrs_der is None or _sorted_set(self.signed_attrs_der)

    def read_fast_attributes(self, decode: Callable[[RawAttributes], _Decoded]) -> _Decoded | None:
        """``decode`` of the signed attributes' values as the DER fast path read them,
        each as (type name, ((tag, contents), ...)); None when the asn1crypto path must
        decode ``signed_attrs_der`` instead (the fast path is off or did not read them,
        or ``decode`` steps aside). The decision is counted (`pyscep._parser_switch`)."""
        raw = self._attribute_contents
        if raw is None:
            record("scep_attributes", "asn1crypto")
            return None
        return read_fast("scep_attributes", lambda: decode(raw))

    @property
    def attribute_contents(self) -> RawAttributes | None:
        """Deprecated (parser-dependent, private since 0.x): None on the asn1crypto path."""
        warn("ParsedSignerInfo.attribute_contents", why="parser-dependent")
        return self._attribute_contents

    @property
    def signed_attrs_sorted(self) -> bool | None:
        """Deprecated: use `signed_attrs_in_der_order` (the same on both parsers)."""
        warn("ParsedSignerInfo.signed_attrs_sorted", "signed_attrs_in_der_order")
        return self._signed_attrs_sorted

    def names(self, certificate: Certificate) -> bool:
        """True when this SignerInfo's sid names ``certificate``."""
        return certificate.is_named_by(
            self.sid_issuer_der, self.sid_serial, self.sid_key_identifier
        )


def signer_info_of(**fields: object) -> ParsedSignerInfo:
    """The ParsedSignerInfo of every field's value, as its ``__init__`` makes it, minus
    the ``object.__setattr__`` per field a frozen dataclass pays (a tenth of what
    parsing a message costs): for the DER fast path, which makes one per message."""
    assert fields.keys() == _SIGNER_INFO_FIELDS, "every field, by its name"
    info = object.__new__(ParsedSignerInfo)
    info.__dict__.update(fields)
    return info


_SIGNER_INFO_FIELDS = frozenset(f.name for f in dataclass_fields(ParsedSignerInfo))


@dataclass(frozen=True)
class ParsedSignedData:
    """A SignedData read from bytes, every field it relies on materialised."""

    version: str
    digest_algorithms: tuple[str, ...]
    content_type: str
    #: The eContent octets (segments merged), or None when absent.
    content: bytes | None
    certificates: tuple[Certificate, ...]
    crls: tuple[bytes, ...]
    signer_infos: tuple[ParsedSignerInfo, ...]
    #: Deviations tolerated while parsing (indefinite lengths, unparsable extra certificates...).
    findings: tuple[Finding, ...]
    # What only one parser knows (so private: a public field is the same whichever
    # parser read the input). The resource pre-scan's report (asn1crypto path);
    # the eContent read as a ContentInfo(EnvelopedData) in the same pass (fast
    # path): `pyscep.cms.parse_signed_envelope` gives it to callers.
    _scan: ScanReport | None = field(default=None, compare=False, repr=False)
    _envelope: ParsedEnvelope | None = field(default=None, compare=False, repr=False)

    @property
    def scan(self) -> ScanReport | None:
        """Deprecated (parser-dependent): the pre-scan's report, None on the fast path."""
        warn("ParsedSignedData.scan", "its findings (the BER forms the pre-scan saw)")
        return self._scan

    @property
    def envelope(self) -> ParsedEnvelope | None:
        """Deprecated (parser-dependent): use `pyscep.cms.parse_signed_envelope`."""
        warn("ParsedSignedData.envelope", "pyscep.cms.parse_signed_envelope")
        return self._envelope


def _envelope_read_in_pass(signed: ParsedSignedData) -> ParsedEnvelope | None:
    """The envelope the DER fast path read with ``signed`` (None on the asn1crypto path);
    for `pyscep.cms.signed.parse`, which gives it to callers."""
    return signed._envelope


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


@dataclass(frozen=True)
class VerifiedSignedData:
    """A SignedData whose one signature, messageDigest and contentType checked out."""

    parsed: ParsedSignedData
    signer_info: ParsedSignerInfo
    signer_certificate: Certificate
    digest: DigestAlgorithm
    scheme: SignatureScheme
    content: bytes
    signing_time: datetime | None
