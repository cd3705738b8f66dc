"""SignedData: build with a Signer, parse any peer's encoding, verify strictly.

The signature covers the signed attributes as received, re-tagged from
``[0]`` to a universal SET (RFC 5652 section 5.4), never a re-encoding:
legacy clients sign attribute sets that are not in DER order.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import TypeVar

from asn1crypto import algos, cms, core

from pyscep import _der_writer as der
from pyscep._asn1 import ContentInfo, ScepAttribute, ScepAttributes
from pyscep._boundary import field as parse_field
from pyscep._deprecation import warn
from pyscep._der import (
    DEFAULT_LIMITS,
    Limits,
    ScanReport,
    count_children,
    octet_string_value,
    prescan,
    read_header,
)
from pyscep._der_reader import Reader
from pyscep._parser_switch import read_fast, record
from pyscep.algorithms import AlgorithmPolicy, DigestAlgorithm, SignatureScheme
from pyscep.certificate import Certificate
from pyscep.cms._identifiers import read_identifier
from pyscep.cms.enveloped import ParsedEnvelope, parse_enveloped_data
from pyscep.crypto import CryptoBackend, Signer
from pyscep.crypto.verify import check_pss_parameters, verify_signature
from pyscep.enums import FailInfo
from pyscep.errors import ParseError, UnsupportedAlgorithmError, VerificationError
from pyscep.findings import Finding, FindingCode

__all__ = [
    "MAX_CERTIFICATES",
    "ParsedSignedData",
    "ParsedSignerInfo",
    "VerifiedSignedData",
    "build_signed_data",
    "parse_signed_data",
    "parse_signed_envelope",
    "verify_signed_data",
]

#: Most certificates a SignedData may embed.
MAX_CERTIFICATES = 64
#: Most SignerInfos (and digestAlgorithms, and values of one attribute).
MAX_SIGNER_INFOS = 8
_CMS_ATTRIBUTES = frozenset({"content_type", "message_digest", "signing_time", "counter_signature"})
# The attributes whose values verification reads.
_VERIFIED_ATTRIBUTES = frozenset({"content_type", "message_digest", "signing_time"})
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
    # path): `pyscep.cms.enveloped.parse_signed_envelope` gives it to callers.
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


# --- building -----------------------------------------------------------------


def _attribute(type_name: str, value: core.Asn1Value) -> ScepAttribute:
    return ScepAttribute({"type": type_name, "values": [value]})


def _signature_algorithm(
    scheme: SignatureScheme, digest: DigestAlgorithm, *, digest_in_oid: bool = False
) -> algos.SignedDigestAlgorithm:
    if scheme is SignatureScheme.RSA_PKCS1V15:
        if digest_in_oid:
            return algos.SignedDigestAlgorithm({"algorithm": f"{digest.value}_rsa"})
        # rsaEncryption, as OpenSSL and sscep write it: strongSwan refuses the
        # shaXWithRSAEncryption spelling here ("only RSA digest encryption").
        return algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"})
    if scheme is SignatureScheme.RSA_PSS:
        hash_algorithm = {"algorithm": digest.value}
        return algos.SignedDigestAlgorithm(
            {
                "algorithm": "rsassa_pss",
                "parameters": algos.RSASSAPSSParams(
                    {
                        "hash_algorithm": hash_algorithm,
                        "mask_gen_algorithm": {
                            "algorithm": "mgf1",
                            "parameters": hash_algorithm,
                        },
                        "salt_length": digest.digest_size,
                    }
                ),
            }
        )
    if scheme is SignatureScheme.ED25519:
        return algos.SignedDigestAlgorithm({"algorithm": "ed25519"})  # no parameters
    return algos.SignedDigestAlgorithm({"algorithm": f"{digest.value}_ecdsa"})


def default_scheme(certificate: Certificate) -> SignatureScheme:
    """PKCS#1 v1.5 for RSA keys, ECDSA for EC keys, Ed25519 for Ed25519 keys."""
    if certificate.public_key_algorithm == "ec":
        return SignatureScheme.ECDSA
    if certificate.public_key_algorithm == "ed25519":
        return SignatureScheme.ED25519
    if certificate.public_key_algorithm == "rsa":
        return SignatureScheme.RSA_PKCS1V15
    raise UnsupportedAlgorithmError(f"cannot sign with a {certificate.public_key_algorithm} key")


def _signing_choice(
    certificate: Certificate,
    scheme: SignatureScheme | None,
    digest: DigestAlgorithm,
    algorithms: AlgorithmPolicy,
) -> tuple[SignatureScheme, DigestAlgorithm]:
    """The scheme (by default the key's, `default_scheme`) and the digest a SignerInfo
    for ``certificate`` uses, the digest checked against ``algorithms``."""
    scheme = scheme or default_scheme(certificate)
    if scheme is SignatureScheme.ED25519:
        digest = DigestAlgorithm.SHA512  # RFC 8419 section 3: SHA-512 with Ed25519
    algorithms.check_digest(digest)
    return scheme, digest


def build_signed_data(
    content: bytes | None,
    signer: Signer,
    *,
    digest: DigestAlgorithm,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
    scheme: SignatureScheme | None = None,
    attributes: Sequence[bytes] = (),
    certificates: Sequence[Certificate] | None = None,
    signing_time: datetime | None = None,
    rsa_digest_in_signature_oid: bool = False,
) -> bytes:
    """DER ContentInfo(SignedData v1) over ``content`` (eContentType id-data).

    ``content=None`` leaves eContent absent. An RSA PKCS#1 v1.5 SignerInfo
    names rsaEncryption unless ``rsa_digest_in_signature_oid``.

    The signed attributes are contentType, messageDigest, signingTime when
    given, and ``attributes`` (each a DER Attribute); they are encoded as a DER SET (sorted) and
    exactly those bytes are signed. ``certificates`` defaults to the
    signer's certificate. ``content=None`` omits eContent (digest of no octets).
    """
    signer_certificate = signer.certificate
    scheme, digest = _signing_choice(signer_certificate, scheme, digest, algorithms)
    message_digest = backend.digest(digest, content or b"")
    all_attributes = [
        _CONTENT_TYPE_DATA,
        der.sequence(_MESSAGE_DIGEST_OID, der.set_of([der.octet_string(message_digest)])),
    ]
    if signing_time is not None:
        all_attributes.append(
            bytes(_attribute("signing_time", cms.Time({"utc_time": signing_time})).dump())
        )
    with parse_field("attributes"):
        for attribute in attributes:
            _check_attribute(attribute)
            all_attributes.append(bytes(attribute))
    attributes_content = b"".join(sorted(all_attributes))  # DER SET OF order
    signed_attrs_der = der.tlv(0x31, attributes_content)
    signature = signer.sign(signed_attrs_der, digest, scheme)
    signer_info = der.sequence(
        der.integer(1),
        signer_certificate.issuer_and_serial_der,
        _digest_algorithm(digest),
        # [0] IMPLICIT: the SET's contents under the context tag.
        der.context(0, attributes_content),
        _signature_algorithm_der(scheme, digest, rsa_digest_in_signature_oid),
        der.octet_string(signature),
    )
    embedded = [signer_certificate] if certificates is None else list(certificates)
    encapsulated = [der.oid(_DATA)]
    if content is not None:
        encapsulated.append(der.context(0, der.octet_string(content)))
    parts = [
        der.integer(1),
        der.set_of([_digest_algorithm(digest)]),
        der.sequence(*encapsulated),
    ]
    if embedded:
        # [0] IMPLICIT SET OF: in DER order, as every SET.
        parts.append(der.context(0, b"".join(sorted(c.der for c in embedded))))
    parts.append(der.set_of([signer_info]))
    return der.sequence(der.oid(_SIGNED_DATA), der.context(0, der.sequence(*parts)))


_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_DATA = "1.2.840.113549.1.7.1"
_SIGNED_DATA = "1.2.840.113549.1.7.2"
# The same in every SignedData pyscep builds: encoded once.
_CONTENT_TYPE_DATA = der.sequence(der.oid(_CONTENT_TYPE), der.set_of([der.oid(_DATA)]))
_MESSAGE_DIGEST_OID = der.oid(_MESSAGE_DIGEST)


@lru_cache(maxsize=64)
def _digest_algorithm(digest: DigestAlgorithm) -> bytes:
    return bytes(algos.DigestAlgorithm({"algorithm": digest.value}).dump())


@lru_cache(maxsize=64)
def _signature_algorithm_der(
    scheme: SignatureScheme, digest: DigestAlgorithm, digest_in_oid: bool
) -> bytes:
    return bytes(_signature_algorithm(scheme, digest, digest_in_oid=digest_in_oid).dump())


def _check_attribute(attribute: bytes) -> None:
    """A caller's DER Attribute: SEQUENCE { OID, SET }, one element, nothing after.

    (The structure only: what a builder signs is the caller's to get right.)
    """
    end, content = _element(attribute, 0, 0x30)
    if end != len(attribute):
        raise ParseError("an attribute is one SEQUENCE, with nothing after it")
    after_type, _ = _element(attribute, content, 0x06)
    if _element(attribute, after_type, 0x31)[0] != end:
        raise ParseError("an attribute is SEQUENCE { OBJECT IDENTIFIER, SET }")


def _element(data: bytes, position: int, tag: int) -> tuple[int, int]:
    """(end, content start) of the DER element with ``tag`` at ``position`` (definite length)."""
    if position >= len(data) or data[position] != tag:
        raise ParseError(f"expected tag 0x{tag:02x}")
    header = read_header(data, position)
    if header.indefinite:
        raise ParseError("an indefinite length")
    return header.end, header.content_start


# --- parsing ------------------------------------------------------------------


def parse_signed_data(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> ParsedSignedData:
    """Read a ContentInfo(SignedData), BER or DER; raise ParseError on any defect.

    Canonical DER of the usual shape is read by the DER fast path
    (`pyscep._der_reader`); anything else by asn1crypto, after the resource
    pre-scan (`pyscep._der.prescan`): asn1crypto never sees input over the limits.
    """
    # Imported here: the fast reader builds on this module's values.
    from pyscep.cms._signed_reader import read_signed_data

    fast = read_fast("signed_data", lambda: read_signed_data(Reader(data, limits)))
    if fast is not None:
        if fast._envelope is not None:
            record("enveloped_data", "fast")  # read in the same pass
        return fast
    # BER, or a shape the fast path leaves to asn1crypto (or the fast path is off).
    scan = prescan(data, limits)
    with parse_field("ContentInfo"):
        info = ContentInfo.load(data, strict=True)
        content_type = info["content_type"].native
        if content_type != "signed_data":
            raise ParseError(f"content type is {content_type}, not signedData")
        signed_data = info["content"]
        if not isinstance(signed_data, cms.SignedData):
            raise ParseError("signedData content is missing")
        with parse_field("SignedData"):
            return replace(_parse_signed_data(signed_data, _scan_findings(scan)), _scan=scan)


def parse_signed_envelope(
    signed: ParsedSignedData, *, limits: Limits = DEFAULT_LIMITS
) -> ParsedEnvelope | None:
    """The eContent of ``signed`` read as a ContentInfo(EnvelopedData) (a pkcsPKIEnvelope),
    or None when there is no eContent; ParseError as `parse_enveloped_data`.

    The same value whichever parser read ``signed``: the DER fast path reads the
    envelope in the pass that reads the SignedData, and it is not read twice.
    """
    if signed.content is None:
        return None
    if signed._envelope is not None:
        return signed._envelope
    return parse_enveloped_data(signed.content, limits=limits)


def _scan_findings(scan: ScanReport) -> list[Finding]:
    found = []
    if scan.indefinite_lengths:
        found.append(Finding(FindingCode.BER_INDEFINITE_LENGTH, "indefinite-length encoding"))
    if scan.constructed_strings:
        found.append(Finding(FindingCode.BER_CONSTRUCTED_STRING, "constructed string encoding"))
    if scan.non_minimal_lengths:
        found.append(Finding(FindingCode.BER_NON_MINIMAL_LENGTH, "non-minimal length encoding"))
    return found


def _parse_signed_data(signed_data: cms.SignedData, notes: list[Finding]) -> ParsedSignedData:
    with parse_field("version"):
        version = signed_data["version"].native
    with parse_field("digestAlgorithms"):
        listed = signed_data["digest_algorithms"]
        count_children(listed.contents or b"", MAX_SIGNER_INFOS, "digestAlgorithms")
        digest_algorithms = tuple(str(alg["algorithm"].native) for alg in listed)
    with parse_field("encapContentInfo"):
        encap = signed_data["encap_content_info"]
        encap_type = str(encap["content_type"].native)
        raw = encap["content"]
        content = None if isinstance(raw, core.Void) else _econtent_octets(raw.dump())
    certificates: list[Certificate] = []
    with parse_field("certificates"):
        choices = signed_data["certificates"]
        if not isinstance(choices, core.Void):
            count_children(choices.contents or b"", MAX_CERTIFICATES, "certificates")
            for index, choice in enumerate(choices):
                if choice.name != "certificate":
                    notes.append(
                        Finding(
                            FindingCode.UNUSED_CERTIFICATE_CHOICE,
                            f"certificates[{index}] is a {choice.name}, ignored",
                        )
                    )
                    continue
                try:
                    certificates.append(Certificate.from_scanned_der(choice.chosen.dump()))
                except ParseError:
                    notes.append(
                        Finding(
                            FindingCode.UNPARSABLE_CERTIFICATE,
                            f"certificates[{index}] cannot be parsed, ignored",
                        )
                    )
    crls: list[bytes] = []
    with parse_field("crls"):
        revocation = signed_data["crls"]
        if not isinstance(revocation, core.Void):
            count_children(revocation.contents or b"", MAX_CERTIFICATES, "CRLs")
            for choice in revocation:
                if choice.name == "crl":
                    crls.append(bytes(choice.chosen.dump()))
    signer_infos = []
    with parse_field("signerInfos"):
        infos = signed_data["signer_infos"]
        count_children(infos.contents or b"", MAX_SIGNER_INFOS, "SignerInfos")
        for index, signer_info in enumerate(infos):
            with parse_field(f"[{index}]"):
                signer_infos.append(_parse_signer_info(signer_info))
    return ParsedSignedData(
        version=str(version),
        digest_algorithms=digest_algorithms,
        content_type=encap_type,
        content=content,
        certificates=tuple(certificates),
        crls=tuple(crls),
        signer_infos=tuple(signer_infos),
        findings=tuple(notes),
    )


def _econtent_octets(encoded: bytes) -> bytes:
    """eContent is ``[0] EXPLICIT OCTET STRING``: the octets inside, segments merged."""

    outer = read_header(encoded)
    return octet_string_value(encoded[outer.content_start : outer.content_end])


def _parse_signer_info(signer_info: cms.SignerInfo) -> ParsedSignerInfo:
    with parse_field("sid"):
        sid = signer_info["sid"]
        sid_issuer_der, sid_serial, sid_key_identifier = read_identifier(sid)
    with parse_field("digestAlgorithm"):
        digest_algorithm = str(signer_info["digest_algorithm"]["algorithm"].native)
    with parse_field("signatureAlgorithm"):
        algorithm = signer_info["signature_algorithm"]
        signature_algorithm = str(algorithm["algorithm"].native)
        signature_algorithm_oid = str(algorithm["algorithm"].dotted)
        pss_params = None
        if signature_algorithm == "rsassa_pss":
            params = algorithm["parameters"]
            mgf = params["mask_gen_algorithm"]
            if mgf["algorithm"].native != "mgf1":
                raise UnsupportedAlgorithmError("RSASSA-PSS with a mask generation other than MGF1")
            if params["trailer_field"].native != "trailer_field_bc":
                raise UnsupportedAlgorithmError("RSASSA-PSS trailer field other than 1")
            pss_params = (
                str(params["hash_algorithm"]["algorithm"].native),
                str(mgf["parameters"]["algorithm"].native),
                int(params["salt_length"].native),
            )
    with parse_field("signature"):
        signature = bytes(signer_info["signature"].native)
    signed_attrs_der = None
    signed_attr_types: list[str] = []
    cms_values: list[tuple[str, tuple[object, ...]]] = []
    with parse_field("signedAttrs"):
        raw_attrs = signer_info["signed_attrs"]
        if not isinstance(raw_attrs, core.Void):
            contents = raw_attrs.contents
            count_children(contents, MAX_SIGNED_ATTRIBUTES, "signed attributes")
            signed_attrs_der = der.tlv(0x31, contents)
            signed_attrs = ScepAttributes.load(signed_attrs_der, strict=True)
            for attribute in signed_attrs:
                kind = attribute["type"].native
                signed_attr_types.append(str(kind))
                try:
                    with parse_field(str(kind)):
                        values = attribute["values"]
                        count_children(values.contents or b"", MAX_SIGNER_INFOS, "values")
                        natives = tuple(value.native for value in values)
                    if kind in _VERIFIED_ATTRIBUTES:
                        cms_values.append((str(kind), natives))
                except ParseError as exc:
                    # A malformed contentType or messageDigest fails the integrity check.
                    if kind in _CMS_ATTRIBUTES:
                        exc.fail_info = FailInfo.BAD_MESSAGE_CHECK
                    raise
    with parse_field("unsignedAttrs"):
        unsigned = signer_info["unsigned_attrs"]
        unsigned_count = (
            0
            if isinstance(unsigned, core.Void)
            else count_children(unsigned.contents or b"", MAX_SIGNED_ATTRIBUTES, "attributes")
        )
    return ParsedSignerInfo(
        sid_type=str(sid.name),
        sid_issuer_der=sid_issuer_der,
        sid_serial=sid_serial,
        sid_key_identifier=sid_key_identifier,
        version=str(signer_info["version"].native),
        digest_algorithm=digest_algorithm,
        signature_algorithm=signature_algorithm,
        signature_algorithm_oid=signature_algorithm_oid,
        pss_params=pss_params,
        signature=signature,
        signed_attrs_der=signed_attrs_der,
        signed_attr_types=tuple(signed_attr_types),
        unsigned_attr_count=unsigned_count,
        cms_attribute_values=tuple(cms_values),
    )


# --- verifying ----------------------------------------------------------------

_RSA_SIGNATURES = {
    "rsassa_pkcs1v15": None,
    "md5_rsa": DigestAlgorithm.MD5,
    "sha1_rsa": DigestAlgorithm.SHA1,
    "sha224_rsa": DigestAlgorithm.SHA224,
    "sha256_rsa": DigestAlgorithm.SHA256,
    "sha384_rsa": DigestAlgorithm.SHA384,
    "sha512_rsa": DigestAlgorithm.SHA512,
}
_ECDSA_SIGNATURES = {
    "ecdsa": None,
    "sha1_ecdsa": DigestAlgorithm.SHA1,
    "sha224_ecdsa": DigestAlgorithm.SHA224,
    "sha256_ecdsa": DigestAlgorithm.SHA256,
    "sha384_ecdsa": DigestAlgorithm.SHA384,
    "sha512_ecdsa": DigestAlgorithm.SHA512,
}


def _scheme_of(info: ParsedSignerInfo, digest: DigestAlgorithm) -> SignatureScheme:
    """The signature scheme, checking that any hash it implies is the digest used."""
    name = info.signature_algorithm
    if name in _RSA_SIGNATURES:
        scheme, implied = SignatureScheme.RSA_PKCS1V15, _RSA_SIGNATURES[name]
    elif name in _ECDSA_SIGNATURES:
        scheme, implied = SignatureScheme.ECDSA, _ECDSA_SIGNATURES[name]
    elif name == "ed25519":
        if digest is not DigestAlgorithm.SHA512:
            raise UnsupportedAlgorithmError("an Ed25519 SignerInfo digests with SHA-512 (RFC 8419)")
        return SignatureScheme.ED25519
    elif name == "rsassa_pss" and info.pss_params is not None:
        hash_name, mgf_hash, _ = info.pss_params
        check_pss_parameters(digest, hash_name, mgf_hash)
        return SignatureScheme.RSA_PSS
    else:
        raise UnsupportedAlgorithmError(f"unsupported signature algorithm {name}")
    if implied is not None and implied is not digest:
        raise VerificationError("signature algorithm disagrees with the digest algorithm")
    return scheme


def find_signer_certificate(
    info: ParsedSignerInfo, candidates: Sequence[Certificate]
) -> Certificate:
    """The one certificate the SignerInfo's sid names; ambiguity is an error.

    Of equal copies (the same DER), the first in ``candidates`` is returned.
    """
    matches = [c for c in candidates if info.names(c)]
    if not matches:
        raise VerificationError(
            "no certificate matches the signer identifier", fail_info=FailInfo.BAD_CERT_ID
        )
    if len(set(matches)) > 1:
        raise VerificationError("several different certificates match the signer identifier")
    return matches[0]


def _single_value(info: ParsedSignerInfo, type_name: str) -> object | None:
    found = [values for name, values in info.cms_attribute_values if name == type_name]
    if not found:
        return None
    if len(found[0]) != 1:
        raise VerificationError(f"signed attribute {type_name} must have exactly one value")
    return found[0][0]


def verify_signed_data(
    parsed: ParsedSignedData,
    *,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
    certificates: Sequence[Certificate] = (),
    signer_filter: Callable[[Certificate], None] | None = None,
) -> VerifiedSignedData:
    """Check the one signature of ``parsed``; raise, never return a bool.

    The signer certificate is looked up among the embedded certificates and
    ``certificates``. Who may sign is the caller's decision (``signer_filter``
    may raise to refuse a signer before any signature is checked).
    """
    if len(parsed.signer_infos) != 1:
        raise VerificationError(
            f"expected exactly one SignerInfo, found {len(parsed.signer_infos)}"
        )
    info = parsed.signer_infos[0]
    digest = algorithms.check_digest(DigestAlgorithm.from_name(info.digest_algorithm))
    if info.digest_algorithm not in parsed.digest_algorithms:
        raise UnsupportedAlgorithmError("digestAlgorithms does not list the signer's digest")
    scheme = _scheme_of(info, digest)
    if info.signed_attrs_der is None:
        raise VerificationError("the SignerInfo has no signed attributes")
    types = info.signed_attr_types
    if len(types) != len(set(types)):
        raise VerificationError("a signed attribute type appears more than once")
    if "counter_signature" in types:
        raise VerificationError("a countersignature is not allowed among signed attributes")
    content_type = _single_value(info, "content_type")
    if content_type is None:
        raise VerificationError("the contentType signed attribute is missing")
    if content_type != parsed.content_type:
        raise VerificationError("the contentType attribute disagrees with eContentType")
    message_digest = _single_value(info, "message_digest")
    if message_digest is None:
        raise VerificationError("the messageDigest signed attribute is missing")
    expected = backend.digest(digest, parsed.content or b"")
    if not isinstance(message_digest, bytes) or not hmac.compare_digest(message_digest, expected):
        raise VerificationError("messageDigest does not match the content")

    # The caller's copy first: what it already decoded (keyUsage, the key) is not
    # decoded again from the copy embedded in this message.
    signer_certificate = find_signer_certificate(info, [*certificates, *parsed.certificates])
    if signer_filter is not None:
        signer_filter(signer_certificate)
    verify_signature(
        backend,
        signer_certificate.public_key_der,
        info.signature,
        info.signed_attrs_der,
        digest=digest,
        scheme=scheme,
        algorithms=algorithms,
        pss_salt_length=info.pss_params[2] if info.pss_params else None,
    )
    signing_time = _single_value(info, "signing_time")
    return VerifiedSignedData(
        parsed=parsed,
        signer_info=info,
        signer_certificate=signer_certificate,
        digest=digest,
        scheme=scheme,
        content=parsed.content or b"",
        signing_time=signing_time if isinstance(signing_time, datetime) else None,
    )
