"""PRIVATE: ContentInfo(SignedData) read by the DER fast path (`pyscep._der_reader`).

`read_signed_data` gives the same `ParsedSignedData` as the asn1crypto path
for the canonical DER it reads, and raises `NotCanonicalError` for everything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, TypeVar

from pyscep._asn1 import ScepAttributeType
from pyscep._der import Limits
from pyscep._der_reader import (
    DIGEST_ALGORITHMS,
    SIGNATURE_ALGORITHMS,
    STRING_TYPES,
    NotCanonicalError,
    Reader,
    content_type_name,
    decode_string,
    oid_octets,
    utc_time,
)
from pyscep.certificate import Certificate, scan_report_of
from pyscep.cms.enveloped._reader import read_enveloped_data
from pyscep.errors import ParseError
from pyscep.findings import Finding, FindingCode
from pyscep.oids import PostQuantumOID

from .values import (
    MAX_CERTIFICATES,
    MAX_SIGNED_ATTRIBUTES,
    MAX_SIGNER_INFOS,
    ParsedSignedData,
    ParsedSignerInfo,
    signer_info_of,
)

__all__ = ["SignedDataHead", "read_signed_data", "read_signed_head", "read_signed_rest"]

_Value = TypeVar("_Value")

_SIGNED_DATA = oid_octets("1.2.840.113549.1.7.2")
# The signed attribute types this reader reads, and the value tags each may have.
_ATTRIBUTE_TAGS: dict[str, frozenset[int]] = {
    "content_type": frozenset({0x06}),
    "message_digest": frozenset({0x04}),
    "signing_time": frozenset({0x17}),
    "message_type": frozenset({0x13, 0x0C, 0x16}),
    "pki_status": frozenset({0x13, 0x0C, 0x16}),
    "fail_info": frozenset({0x13, 0x0C, 0x16}),
    "transaction_id": frozenset({0x13, 0x0C, 0x16}),
    "sender_nonce": frozenset({0x04}),
    "recipient_nonce": frozenset({0x04}),
    "fail_info_text": frozenset({0x0C}),
}
_ATTRIBUTES = {oid_octets(ScepAttributeType.unmap(name)): name for name in _ATTRIBUTE_TAGS}


def _identifiers(
    table: dict[bytes, _Value], *, null: bool = True
) -> dict[bytes, tuple[_Value, int]]:
    """The whole DER of each AlgorithmIdentifier of ``table``'s OIDs, parameters absent
    (2 elements) or NULL (3, with ``null``), to what ``table`` says of the OID."""
    found: dict[bytes, tuple[_Value, int]] = {}
    for oid, value in table.items():
        bare = b"\x06" + bytes([len(oid)]) + oid
        found[b"\x30" + bytes([len(bare)]) + bare] = (value, 2)
        if null:
            found[b"\x30" + bytes([len(bare) + 2]) + bare + b"\x05\x00"] = (value, 3)
    return found


_DIGEST_IDENTIFIERS = _identifiers(DIGEST_ALGORITHMS)
# ML-DSA with NULL parameters is refused, on the asn1crypto path: not in the table.
_SIGNATURE_IDENTIFIERS = {
    **_identifiers(
        {o: v for o, v in SIGNATURE_ALGORITHMS.items() if v[1] not in PostQuantumOID.ML_DSA}
    ),
    **_identifiers(
        {o: v for o, v in SIGNATURE_ALGORITHMS.items() if v[1] in PostQuantumOID.ML_DSA},
        null=False,
    ),
}
_CMS_VALUES = frozenset({"content_type", "message_digest", "signing_time"})


class SignedDataHead(NamedTuple):
    """What the fast path reads of a SignedData before its certificates and eContent.

    The rest (`read_signed_rest`) is read when first needed, against what the
    element budget had left here: the total counted, and so every limit, is the
    one a single pass gives.
    """

    data: bytes
    limits: Limits
    version: str
    digest_algorithms: tuple[str, ...]
    content_type: str
    #: (start, end) of the eContent octets, None when absent.
    content: tuple[int, int] | None
    #: (start, end) of the certificates' [0] contents, None when absent.
    certificates: tuple[int, int] | None
    signer_infos: tuple[ParsedSignerInfo, ...]
    #: The signers' issuer Names, read but their values not yet checked:
    #: (contents start, end, depth) each.
    names: tuple[tuple[int, int, int], ...]
    #: The element budget left after the head.
    remaining: int


def read_signed_data(reader: Reader) -> ParsedSignedData:
    """The SignedData of a ContentInfo in canonical DER; NotCanonicalError otherwise."""
    return _rest(reader, read_signed_head(reader), {})


def read_signed_head(reader: Reader) -> SignedDataHead:
    """The head of a ContentInfo(SignedData) in canonical DER (everything but the
    certificates and the eContent's insides); NotCanonicalError otherwise."""
    data = reader.data
    body, body_end = reader.content_info(_SIGNED_DATA)
    version, cursor = reader.version(body, body_end, 4)
    digest_algorithms, cursor = _digest_algorithms(reader, cursor, body_end)
    encap_type, content, cursor = _encapsulated(reader, cursor, body_end)
    certificates = None
    if cursor < body_end and data[cursor] == 0xA0:
        certificates_start, certificates_end = reader.element(cursor, body_end, 0xA0, 4)
        certificates, cursor = (certificates_start, certificates_end), certificates_end
    if cursor < body_end and data[cursor] == 0xA1:
        raise NotCanonicalError  # CRLs at this level: rare, left to asn1crypto
    infos_start, infos_end = reader.element(cursor, body_end, 0x31, 4)
    if infos_end != body_end:
        raise NotCanonicalError
    signer_infos: list[ParsedSignerInfo] = []
    names: list[tuple[int, int, int]] = []
    cursor = infos_start
    while cursor < infos_end:
        if len(signer_infos) == MAX_SIGNER_INFOS:
            raise NotCanonicalError
        info, cursor = _signer_info(reader, cursor, infos_end, names)
        signer_infos.append(info)
    return SignedDataHead(
        data=data,
        limits=reader.limits,
        version=version,
        digest_algorithms=digest_algorithms,
        content_type=encap_type,
        content=content,
        certificates=certificates,
        signer_infos=tuple(signer_infos),
        names=tuple(names),
        remaining=reader.budget.elements,
    )


def read_signed_rest(
    head: SignedDataHead, held: Mapping[bytes, Certificate] | None = None
) -> ParsedSignedData:
    """The whole SignedData of ``head``: its certificates and eContent read now, against
    the budget the head left; NotCanonicalError when the asn1crypto path must read it.

    An embedded certificate whose DER is a key of ``held`` (certificates the caller
    holds, by their DER) is that value: counted from its own pre-scan, not read again.
    """
    reader = Reader(head.data, head.limits)
    reader.budget.elements = head.remaining
    return _rest(reader, head, held or {})


def _rest(
    reader: Reader, head: SignedDataHead, held: Mapping[bytes, Certificate]
) -> ParsedSignedData:
    for name_start, name_end, depth in head.names:
        reader.name_values(name_start, name_end, depth)
    content = envelope = None
    if head.content is not None:
        content_start, content_end = head.content
        # A pkcsPKIEnvelope is read here, in the pass that counts its elements, instead
        # of walked once for the limits and read again (`parse_signed_envelope`).
        envelope = reader.hidden(content_start, content_end, 6, read_enveloped_data)
        content = reader.data[content_start:content_end]
    certificates: list[Certificate] = []
    findings: list[Finding] = []
    if head.certificates is not None:
        _certificates(reader, *head.certificates, held, certificates, findings)
    return ParsedSignedData(
        version=head.version,
        digest_algorithms=head.digest_algorithms,
        content_type=head.content_type,
        content=content,
        certificates=tuple(certificates),
        crls=(),
        signer_infos=head.signer_infos,
        findings=tuple(findings),
        _envelope=envelope,
    )


def _digest_algorithms(reader: Reader, position: int, end: int) -> tuple[tuple[str, ...], int]:
    start, stop = reader.element(position, end, 0x31, 4)
    names: list[str] = []
    cursor = start
    while cursor < stop:
        if len(names) == MAX_SIGNER_INFOS:
            raise NotCanonicalError
        name, cursor = _digest_algorithm(reader, cursor, stop, 5)
        names.append(name)
    return tuple(names), stop


def _digest_algorithm(reader: Reader, position: int, end: int, depth: int) -> tuple[str, int]:
    """(asn1crypto's name, end) of a digest AlgorithmIdentifier pyscep knows."""
    known = reader.identified(position, end, depth, _DIGEST_IDENTIFIERS)
    if known is not None:
        return known
    oid, _, stop = reader.algorithm(position, end, depth)
    return _known(DIGEST_ALGORITHMS, oid), stop


def _signature_algorithm(
    reader: Reader, position: int, end: int, depth: int
) -> tuple[tuple[str, str], int]:
    """((asn1crypto's name, dotted OID), end) of a signature AlgorithmIdentifier pyscep
    knows, whose parameters are absent or NULL (never NULL for ML-DSA)."""
    known = reader.identified(position, end, depth, _SIGNATURE_IDENTIFIERS)
    if known is not None:
        return known
    oid, null, stop = reader.algorithm(position, end, depth)
    name, dotted = _known(SIGNATURE_ALGORITHMS, oid)
    if null and dotted in PostQuantumOID.ML_DSA:
        raise NotCanonicalError  # refused by the asn1crypto path, which says why
    return (name, dotted), stop


def _known(table: dict[bytes, _Value], oid: bytes) -> _Value:
    """What ``table`` says of ``oid``; an OID it does not list is left to asn1crypto."""
    try:
        return table[oid]
    except KeyError:
        raise NotCanonicalError from None


def _encapsulated(
    reader: Reader, position: int, end: int
) -> tuple[str, tuple[int, int] | None, int]:
    """(eContentType, where the eContent octets are or None, end)."""
    start, stop = reader.element(position, end, 0x30, 4)
    oid, cursor = reader.oid(start, stop, 5)
    content_type = content_type_name(oid)
    if cursor == stop:
        return content_type, None, stop
    explicit_start, explicit_end = reader.element(cursor, stop, 0xA0, 5)
    content_start, content_end = reader.element(explicit_start, explicit_end, 0x04, 6)
    if content_end != explicit_end or explicit_end != stop:
        raise NotCanonicalError
    return content_type, (content_start, content_end), stop


def _certificates(
    reader: Reader,
    start: int,
    stop: int,
    held: Mapping[bytes, Certificate],
    certificates: list[Certificate],
    findings: list[Finding],
) -> None:
    """The certificates in the [0] contents ``data[start:stop]``, into the lists; one
    ``held`` has (by its DER) is counted as read, and is that value."""
    data = reader.data
    cursor = start
    index = 0
    while cursor < stop:
        if index == MAX_CERTIFICATES:
            raise NotCanonicalError
        certificate_end = reader.span(cursor, stop, 0x30)
        der = data[cursor:certificate_end]
        known = held.get(der) if held else None
        report = None if known is None else scan_report_of(known)
        if known is not None and report is not None:
            reader.count_scanned(report, 5)
            certificates.append(known)
        else:
            reader.scan(cursor, certificate_end, 5)
            try:
                certificates.append(Certificate.from_scanned_der(der))
            except ParseError:
                findings.append(
                    Finding(
                        FindingCode.UNPARSABLE_CERTIFICATE,
                        f"certificates[{index}] cannot be parsed, ignored",
                    )
                )
        cursor = certificate_end
        index += 1


def _signer_info(
    reader: Reader, position: int, end: int, names: list[tuple[int, int, int]]
) -> tuple[ParsedSignerInfo, int]:
    """One SignerInfo; its sid's issuer Name goes to ``names``, for `_rest` to check."""
    data = reader.data
    start, stop = reader.element(position, end, 0x30, 5)
    version, cursor = reader.version(start, stop, 6)
    issuer_der, serial, key_identifier, sid_end = reader.identifier(cursor, stop, 6, names)
    sid_type = "subject_key_identifier" if issuer_der is None else "issuer_and_serial_number"
    digest_algorithm, cursor = _digest_algorithm(reader, sid_end, stop, 6)
    signed_attrs_der = None
    in_order: bool | None = None
    types: list[str] = []
    cms_values: list[tuple[str, tuple[object, ...]]] = []
    raw_values: list[tuple[str, tuple[tuple[int, bytes], ...]]] = []
    if cursor < stop and data[cursor] == 0xA0:
        attrs_start, attrs_end = reader.element(cursor, stop, 0xA0, 6)
        in_order = _signed_attributes(reader, attrs_start, attrs_end, types, cms_values, raw_values)
        signed_attrs_der = b"\x31" + data[cursor + 1 : attrs_end]
        cursor = attrs_end
    (signature_algorithm, signature_algorithm_oid), cursor = _signature_algorithm(
        reader, cursor, stop, 6
    )
    signature, cursor = reader.octets(cursor, stop, 6)
    if cursor != stop:
        raise NotCanonicalError  # unsignedAttrs: rare, left to asn1crypto
    return (
        signer_info_of(
            sid_type=sid_type,
            sid_issuer_der=issuer_der,
            sid_serial=serial,
            sid_key_identifier=key_identifier,
            version=version,
            digest_algorithm=digest_algorithm,
            signature_algorithm=signature_algorithm,
            signature_algorithm_oid=signature_algorithm_oid,
            pss_params=None,
            signature=signature,
            signed_attrs_der=signed_attrs_der,
            signed_attr_types=tuple(types),
            unsigned_attr_count=0,
            cms_attribute_values=tuple(cms_values),
            _attribute_contents=tuple(raw_values),
            _signed_attrs_sorted=in_order,
        ),
        stop,
    )


def _signed_attributes(
    reader: Reader,
    start: int,
    end: int,
    types: list[str],
    cms_values: list[tuple[str, tuple[object, ...]]],
    raw_values: list[tuple[str, tuple[tuple[int, bytes], ...]]],
) -> bool:
    """Read the attributes into the lists; True when they are in DER SET OF order.

    Every message's hot loop: short lengths are read inline (`Reader.contents`
    reads the rest), and the elements are counted once at the end.
    """
    data = reader.data
    in_order = True
    previous = b""
    contents = reader.contents
    # Counted once at the end (Reader.count): each Attribute's SEQUENCE, OID and SET,
    # and each value, except an OBJECT IDENTIFIER value, which `element` checks and counts.
    counted, deepest = 0, 8
    cursor = start
    while cursor < end:
        if len(types) == MAX_SIGNED_ATTRIBUTES:
            raise NotCanonicalError
        # Attribute ::= SEQUENCE { type OBJECT IDENTIFIER, values SET OF value }
        if cursor + 2 > end or data[cursor] != 0x30:
            raise NotCanonicalError
        size = data[cursor + 1]
        if size < 0x80:
            attribute_start = cursor + 2
            attribute_end = attribute_start + size
            if attribute_end > end:
                raise NotCanonicalError
        else:
            attribute_start, attribute_end = contents(cursor, end, 0x30)
        encoding = data[cursor:attribute_end]
        if encoding < previous:
            in_order = False
        previous = encoding
        if attribute_start + 2 > attribute_end or data[attribute_start] != 0x06:
            raise NotCanonicalError
        # Every known OID has a short length: a long one matches none of them.
        values_at = attribute_start + 2 + data[attribute_start + 1]
        # A known OID is a well-formed one: no primitive check needed.
        name = _ATTRIBUTES.get(data[attribute_start + 2 : values_at])
        if name is None or values_at + 2 > attribute_end:
            raise NotCanonicalError  # other attribute types: asn1crypto knows their values
        if data[values_at] != 0x31:
            raise NotCanonicalError
        size = data[values_at + 1]
        if size < 0x80:
            values_start, values_end = values_at + 2, values_at + 2 + size
        else:
            values_start, values_end = contents(values_at, attribute_end, 0x31)
        if values_end != attribute_end:
            raise NotCanonicalError
        counted += 3
        allowed = _ATTRIBUTE_TAGS[name]
        values: list[tuple[int, bytes]] = []
        inner = values_start
        while inner < values_end:
            if len(values) == MAX_SIGNER_INFOS:
                raise NotCanonicalError
            tag = data[inner]
            if tag not in allowed:
                raise NotCanonicalError
            deepest = 9
            if tag == 0x06:
                value_start, inner = reader.element(inner, values_end, tag, 9)
            else:
                value_start, inner = contents(inner, values_end, tag)
                counted += 1
            value = data[value_start:inner]
            if tag == 0x04:
                reader.opaque(0x04, value_start, inner, 9)
            elif tag in STRING_TYPES:
                # asn1crypto decodes every value while parsing: an undecodable one is
                # its error to raise, with its path.
                decode_string(tag, value)
            values.append((tag, value))
        types.append(name)
        read = tuple(values)
        raw_values.append((name, read))
        if name in _CMS_VALUES:
            cms_values.append((name, tuple([_cms_native(name, value) for value in read])))
        cursor = attribute_end
    if counted:
        reader.count(counted, deepest)
    return in_order


def _cms_native(name: str, value: tuple[int, bytes]) -> object:
    contents = value[1]
    if name == "content_type":
        return content_type_name(contents)
    if name == "signing_time":
        return utc_time(contents)
    return contents
