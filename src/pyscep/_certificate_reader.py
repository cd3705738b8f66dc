"""PRIVATE: the outline of a certificate, read by the DER fast path (`pyscep._der_reader`).

What finding a signer, matching a recipient and checking a signature need of
a certificate (where its TBSCertificate, issuer, subject, key and extensions
are, and its serial number) is read here from canonical DER without asn1crypto, so that
the certificates a message carries cost a few offsets each; asn1crypto
decodes a certificate only when a caller asks for more (`Certificate`).

The outline is read only from DER that the resource pre-scan already walked
(so it counts nothing, and checks no primitive again), and checks what the
asn1crypto path checks when it parses a certificate: the Certificate and
TBSCertificate fields and their order, the serial number, the issuer and
subject Names (at most MAX_NAME_ATTRIBUTES attributes; their values are
decoded on first use, as asn1crypto's are) and the SubjectPublicKeyInfo's
algorithm. Anything else steps
aside (None), and the asn1crypto path decides; tests/test_der_reader.py
holds the two to the same values and the same refusals.
"""

from __future__ import annotations

from typing import NamedTuple

from ._der import DEFAULT_LIMITS, MAX_NAME_ATTRIBUTES
from ._der_reader import NotCanonicalError, Reader, oid_octets
from ._parser_switch import read_fast

__all__ = ["CertificateOutline", "read_certificate_outline"]


class CertificateOutline(NamedTuple):
    """Offsets into the certificate's DER (start, end of each whole element)."""

    tbs: tuple[int, int]
    serial_number: int
    issuer: tuple[int, int]
    subject: tuple[int, int]
    public_key: tuple[int, int]
    #: The SubjectPublicKeyInfo algorithm, as asn1crypto names it.
    key_algorithm: str
    #: The contents of the Extensions SEQUENCE (start, end), None when there is none.
    extensions: tuple[int, int] | None


def read_certificate_outline(der: bytes) -> CertificateOutline | None:
    """The outline of a canonical DER certificate, or None when asn1crypto must read it
    (or the fast path is off: `pyscep._parser_switch`)."""
    return read_fast("certificate", lambda: _read(Reader(der, DEFAULT_LIMITS)))


def _read(reader: Reader) -> CertificateOutline:
    # The pre-scan walked and checked every element already: only the shape is read.
    der = reader.data
    size = len(der)
    start, end = reader.contents(0, size, 0x30)
    if end != size:
        raise NotCanonicalError
    tbs_start, tbs_end = reader.contents(start, end, 0x30)
    cursor = tbs_start
    if cursor < tbs_end and der[cursor] == 0xA0:
        version_start, version_end = reader.contents(cursor, tbs_end, 0xA0)
        version, after = reader.uncounted_integer(version_start, version_end)
        if after != version_end or not 0 <= version <= 2:
            raise NotCanonicalError
        cursor = version_end
    serial_number, cursor = reader.uncounted_integer(cursor, tbs_end)
    cursor = reader.span(cursor, tbs_end, 0x30)  # signature AlgorithmIdentifier
    issuer_start = cursor
    cursor = _name(reader, cursor, tbs_end)
    issuer = (issuer_start, cursor)
    cursor = _validity(reader, cursor, tbs_end)
    subject_start = cursor
    cursor = _name(reader, cursor, tbs_end)
    subject = (subject_start, cursor)
    key_start = cursor
    key_content, cursor = reader.contents(cursor, tbs_end, 0x30)
    key_algorithm, algorithm_end = _key_algorithm(reader, key_content, cursor)
    if reader.span(algorithm_end, cursor, 0x03) != cursor:
        raise NotCanonicalError
    public_key = (key_start, cursor)
    # Then issuerUniqueID [1], subjectUniqueID [2], extensions [3], each optional, in order.
    for tag in (0x81, 0x82):
        if cursor < tbs_end and der[cursor] == tag:
            cursor = reader.span(cursor, tbs_end, tag)
    extensions = None
    if cursor < tbs_end and der[cursor] == 0xA3:
        explicit_start, cursor = reader.contents(cursor, tbs_end, 0xA3)
        # [3] EXPLICIT holds the one Extensions SEQUENCE and nothing else.
        extensions_start, extensions_end = reader.contents(explicit_start, cursor, 0x30)
        if extensions_end != cursor:
            raise NotCanonicalError
        extensions = (extensions_start, extensions_end)
    if cursor != tbs_end:
        raise NotCanonicalError
    cursor = reader.span(tbs_end, end, 0x30)  # signatureAlgorithm
    if reader.span(cursor, end, 0x03) != end:
        raise NotCanonicalError
    return CertificateOutline(
        (start, tbs_end), serial_number, issuer, subject, public_key, key_algorithm, extensions
    )


def _name(reader: Reader, position: int, end: int) -> int:
    """End of a Name of SETs of SEQUENCEs, at most MAX_NAME_ATTRIBUTES of them: what
    `pyscep._extensions.check_name` asks of a certificate's names (their values are
    decoded on first use)."""
    start, stop = reader.contents(position, end, 0x30)
    attributes = 0
    cursor = start
    while cursor < stop:
        rdn_start, rdn_end = reader.contents(cursor, stop, 0x31)
        if rdn_start == rdn_end:
            raise NotCanonicalError
        while rdn_start < rdn_end:
            attributes += 1
            if attributes > MAX_NAME_ATTRIBUTES:
                raise NotCanonicalError
            rdn_start = reader.span(rdn_start, rdn_end, 0x30)
        cursor = rdn_end
    return stop


def _validity(reader: Reader, position: int, end: int) -> int:
    start, stop = reader.contents(position, end, 0x30)
    cursor = start
    for _ in range(2):
        if cursor >= stop or reader.data[cursor] not in _TIME_TAGS:
            raise NotCanonicalError
        cursor = reader.span(cursor, stop, reader.data[cursor])
    if cursor != stop:
        raise NotCanonicalError
    return stop


def _key_algorithm(reader: Reader, position: int, end: int) -> tuple[str, int]:
    """(asn1crypto's name, end) of the SubjectPublicKeyInfo's AlgorithmIdentifier, if
    asn1crypto reads its parameters without question (the common key types only)."""
    der = reader.data
    start, stop = reader.contents(position, end, 0x30)
    oid_start, cursor = reader.contents(start, stop, 0x06)
    oid = der[oid_start:cursor]
    parameters = der[cursor:stop]
    if oid == _RSA_ENCRYPTION:
        if parameters not in (b"", b"\x05\x00"):
            raise NotCanonicalError
        return "rsa", stop
    if oid == _EC_PUBLIC_KEY:
        if reader.span(cursor, stop, 0x06) != stop:
            raise NotCanonicalError
        return "ec", stop
    if oid != _ED25519 or parameters:
        raise NotCanonicalError
    return "ed25519", stop


_TIME_TAGS = frozenset({0x17, 0x18})  # UTCTime, GeneralizedTime
_RSA_ENCRYPTION = oid_octets("1.2.840.113549.1.1.1")
_EC_PUBLIC_KEY = oid_octets("1.2.840.10045.2.1")
_ED25519 = oid_octets("1.3.101.112")
