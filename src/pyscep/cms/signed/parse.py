"""SignedData read from any peer's encoding (RFC 5652 section 5), BER or DER, into values.

Canonical DER of the usual shape goes to the DER fast path
(`pyscep.cms.signed._reader`), anything else to asn1crypto after the resource
pre-scan; both give the same `ParsedSignedData`. Nothing is checked here:
`pyscep.cms.signed.verify` does that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from asn1crypto import cms, core

from pyscep import _der_writer as der
from pyscep._asn1 import ContentInfo, ScepAttributes, ScepAttributeType
from pyscep._boundary import field as parse_field
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
from pyscep._parser_switch import NotCanonicalError, fast_path_on, read_fast, record
from pyscep.certificate import Certificate
from pyscep.cms._identifiers import read_identifier
from pyscep.cms.enveloped.parse import parse_enveloped_data
from pyscep.cms.enveloped.values import ParsedEnvelope
from pyscep.enums import FailInfo
from pyscep.errors import ParseError, UnsupportedAlgorithmError
from pyscep.findings import Finding, FindingCode
from pyscep.oids import PostQuantumOID

from ._reader import SignedDataHead, read_signed_data, read_signed_head, read_signed_rest
from .values import (
    MAX_CERTIFICATES,
    MAX_SIGNED_ATTRIBUTES,
    MAX_SIGNER_INFOS,
    ParsedSignedData,
    ParsedSignerInfo,
    _envelope_read_in_pass,
)

__all__ = ["parse_signed_data", "parse_signed_envelope"]

_CMS_ATTRIBUTES = frozenset({"content_type", "message_digest", "signing_time", "counter_signature"})
# The attributes whose values verification reads.
_VERIFIED_ATTRIBUTES = frozenset({"content_type", "message_digest", "signing_time"})
# The attributes pyscep reads (verification's, and SCEP's from `ScepAttributeType`):
# decoded here, so that a malformed one is refused with its whole path.
_SCEP_ATTRIBUTES = frozenset(ScepAttributeType._map.values()) - frozenset(
    cms.CMSAttributeType._map.values()
)
_READ_ATTRIBUTES = _VERIFIED_ATTRIBUTES | _SCEP_ATTRIBUTES


def parse_signed_data(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> ParsedSignedData:
    """Read a ContentInfo(SignedData), BER or DER; raise ParseError on any defect.

    Canonical DER of the usual shape is read by the DER fast path
    (`pyscep._der_reader`); anything else by asn1crypto, after the resource
    pre-scan (`pyscep._der.prescan`): asn1crypto never sees input over the limits.
    """
    fast = read_fast("signed_data", lambda: read_signed_data(Reader(data, limits)))
    if fast is not None:
        if _envelope_read_in_pass(fast) is not None:
            record("enveloped_data", "fast")  # read in the same pass
        return fast
    # BER, or a shape the fast path leaves to asn1crypto (or the fast path is off).
    return _parse_with_asn1crypto(data, limits)


def _read_signed_deferred(
    data: bytes, limits: Limits = DEFAULT_LIMITS
) -> SignedDataHead | ParsedSignedData:
    """The head of a ContentInfo(SignedData) (all but its certificates and the eContent's
    insides), read by the DER fast path; or, when the fast path steps aside, the whole
    SignedData read by asn1crypto now, as `parse_signed_data` reads it.

    `_complete_signed_data` reads the rest of a head when it is needed, with the
    outcome `parse_signed_data` gives: the same value, or the same error. The path
    is recorded once it is known for the whole (`pyscep._parser_switch`).
    """
    if fast_path_on():
        try:
            return read_signed_head(Reader(data, limits))
        except NotCanonicalError:
            pass  # so would the whole: asn1crypto reads it
    record("signed_data", "asn1crypto")
    return _parse_with_asn1crypto(data, limits)


def _complete_signed_data(
    head: SignedDataHead, held: Mapping[bytes, Certificate] | None = None
) -> ParsedSignedData:
    """The whole SignedData of ``head``, as `parse_signed_data` reads it (or its error);
    embedded certificates ``held`` has are those values (`read_signed_rest`)."""
    try:
        whole = read_signed_rest(head, held)
    except NotCanonicalError:
        # The rest steps aside: the whole input goes to asn1crypto, as it would have.
        record("signed_data", "asn1crypto")
        return _parse_with_asn1crypto(head.data, head.limits)
    record("signed_data", "fast")
    if _envelope_read_in_pass(whole) is not None:
        record("enveloped_data", "fast")
    return whole


def _parse_with_asn1crypto(data: bytes, limits: Limits) -> ParsedSignedData:
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
    read_in_pass = _envelope_read_in_pass(signed)
    if read_in_pass is not None:
        return read_in_pass
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
        signature_algorithm_oid = str(algorithm["algorithm"].dotted)
        signature_algorithm = PostQuantumOID.ML_DSA.get(
            signature_algorithm_oid, str(algorithm["algorithm"].native)
        )
        if signature_algorithm_oid in PostQuantumOID.ML_DSA and not isinstance(
            algorithm["parameters"], core.Void
        ):
            # RFC 9882 section 3.2: absent. Read as a context string they would be another
            # signature than the one verified.
            raise UnsupportedAlgorithmError("an ML-DSA AlgorithmIdentifier has no parameters")
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
                        # Only the attributes pyscep reads are decoded: any other stays
                        # raw in signed_attrs_der (reported as unknown by the message
                        # layer), so a value asn1crypto cannot decode does not fail the
                        # parse of an attribute nobody reads.
                        if kind in _READ_ATTRIBUTES:
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
