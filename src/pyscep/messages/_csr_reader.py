"""PRIVATE: a PKCS#10 request read by the DER fast path (`pyscep._der_reader`).

What `CertificationRequest.load` extracts from a request with the usual
attributes (challengePassword as a PrintableString or UTF8String, and
extensionRequest), read from canonical DER without asn1crypto. Anything else
steps aside (`NotCanonicalError`) and asn1crypto reads it, with its findings
and refusals; tests/test_der_reader.py holds the two paths to the same values.
The input has passed the resource pre-scan already.
"""

from __future__ import annotations

from typing import NamedTuple

from pyscep._der import DEFAULT_LIMITS
from pyscep._der_reader import (
    SIGNATURE_ALGORITHMS,
    STRING_TYPES,
    NotCanonicalError,
    Reader,
    decode_string,
    oid_octets,
)

__all__ = ["RequestReading", "read_request"]

#: Most attributes in a CSR, and values in one attribute (`content.MAX_ATTRIBUTES`).
MAX_ATTRIBUTES = 32

_CHALLENGE_PASSWORD = oid_octets("1.2.840.113549.1.9.7")
_EXTENSION_REQUEST = oid_octets("1.2.840.113549.1.9.14")
# The DirectoryString choices read here (PrintableString, UTF8String).
_PASSWORD_TAGS = frozenset({0x13, 0x0C})


class RequestReading(NamedTuple):
    """Where the request's parts are, and its attribute values."""

    subject: tuple[int, int]
    public_key: tuple[int, int]
    signature_algorithm: str
    attribute_types: tuple[str, ...]
    challenge_password: str | None
    challenge_password_type: str | None
    #: The contents of each Extensions SEQUENCE of extensionRequest, in order.
    extension_sets: tuple[bytes, ...]


def read_request(der: bytes) -> RequestReading:
    """The usual PKCS#10 request in canonical DER; NotCanonicalError otherwise."""
    reader = Reader(der, DEFAULT_LIMITS)
    size = len(der)
    start, end = reader.element(0, size, 0x30, 1)
    if end != size:
        raise NotCanonicalError
    info_start, info_end = reader.element(start, end, 0x30, 2)
    signature_oid, _, cursor = reader.algorithm(info_end, end, 2)
    if signature_oid not in SIGNATURE_ALGORITHMS:
        raise NotCanonicalError
    if reader.element(cursor, end, 0x03, 2)[1] != end:
        raise NotCanonicalError
    cursor = reader.integer(info_start, info_end, 3)[1]  # version: asn1crypto reads any
    subject_start = cursor
    cursor = reader.name(cursor, info_end, 3)
    subject = (subject_start, cursor)
    key_start = cursor
    cursor = reader.element(cursor, info_end, 0x30, 3)[1]
    public_key = (key_start, cursor)
    attributes_start, attributes_end = reader.element(cursor, info_end, 0xA0, 3)
    if attributes_end != info_end:
        raise NotCanonicalError
    types: list[str] = []
    password: tuple[str, str] | None = None
    extension_sets: list[bytes] = []
    cursor = attributes_start
    while cursor < attributes_end:
        if len(types) == MAX_ATTRIBUTES:
            raise NotCanonicalError
        attribute_start, attribute_end = reader.element(cursor, attributes_end, 0x30, 4)
        oid, values_at = reader.oid(attribute_start, attribute_end, 5)
        values = _values(reader, values_at, attribute_end)
        if oid == _CHALLENGE_PASSWORD:
            if password is not None or len(values) != 1 or values[0][0] not in _PASSWORD_TAGS:
                raise NotCanonicalError  # asn1crypto's path refuses or reports it
            password = _password(der, *values[0])
            types.append("challenge_password")
        elif oid == _EXTENSION_REQUEST:
            for tag, value_start, value_end in values:
                if tag != 0x30:
                    raise NotCanonicalError
                extension_sets.append(der[value_start:value_end])
            types.append("extension_request")
        else:
            raise NotCanonicalError  # other attributes: asn1crypto knows their types
        cursor = attribute_end
    return RequestReading(
        subject=subject,
        public_key=public_key,
        signature_algorithm=SIGNATURE_ALGORITHMS[signature_oid][0],
        attribute_types=tuple(types),
        challenge_password=None if password is None else password[0],
        challenge_password_type=None if password is None else password[1],
        extension_sets=tuple(extension_sets),
    )


def _values(reader: Reader, position: int, end: int) -> list[tuple[int, int, int]]:
    """(tag, content start, content end) of each value in an attribute's SET."""
    start, stop = reader.element(position, end, 0x31, 5)
    if stop != end:
        raise NotCanonicalError
    values: list[tuple[int, int, int]] = []
    cursor = start
    while cursor < stop:
        if len(values) == MAX_ATTRIBUTES:
            raise NotCanonicalError
        tag = reader.data[cursor]
        if tag & 0x1F == 0x1F:
            raise NotCanonicalError  # a multi-octet tag
        value_start, cursor = reader.element(cursor, stop, tag, 6)
        values.append((tag, value_start, cursor))
    return values


def _password(der: bytes, tag: int, start: int, end: int) -> tuple[str, str]:
    return decode_string(tag, der[start:end]), STRING_TYPES[tag][0]
