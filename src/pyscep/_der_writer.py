"""PRIVATE: a DER writer for the fixed SCEP/CMS envelope schema, from pre-encoded pieces.

The builders of SignedData, EnvelopedData (key transport), certs-only
SignedData, the SCEP signed attributes and the certificates a CA issues
(`pyscep.messages.identity`) assemble their output here instead
of through asn1crypto objects: the schema is fixed, most pieces (certificate
DER, issuer Names, algorithm identifiers) are already encoded, and asn1crypto's
object model is most of the cost of a build. asn1crypto stays the oracle: the
tests check that every byte written here equals its ``dump()`` of the same
structure (tests/test_der_writer.py).
"""

from __future__ import annotations

from functools import lru_cache

__all__ = [
    "context",
    "integer",
    "length",
    "null",
    "octet_string",
    "oid",
    "oid_contents",
    "printable_string",
    "sequence",
    "set_of",
    "tlv",
    "utf8_string",
]


def length(size: int) -> bytes:
    """The DER length octets for ``size`` content octets: the one length writer."""
    # The common sizes first: this runs for every element of every build.
    if size < 0x80:
        return bytes((size,))
    if size < 0x100:
        return bytes((0x81, size))
    if size < 0x10000:
        return bytes((0x82, size >> 8, size & 0xFF))
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def tlv(tag: int, content: bytes) -> bytes:
    """One element: a one-octet tag, the DER length (as `length` writes it), the content."""
    size = len(content)
    # `length`'s common cases, inline with the tag: this is the innermost loop of
    # every build, and a call per element costs W1 and W3 a twentieth of their speed
    # (tests/test_der_writer.py holds tlv to length at every boundary).
    if size < 0x80:
        return bytes((tag, size)) + content
    if size < 0x100:
        return bytes((tag, 0x81, size)) + content
    return bytes((tag,)) + length(size) + content


def sequence(*parts: bytes) -> bytes:
    """SEQUENCE of already encoded elements, in order."""
    return tlv(0x30, b"".join(parts))


def set_of(elements: list[bytes] | tuple[bytes, ...]) -> bytes:
    """SET OF: the encodings in ascending order (X.690 11.6)."""
    return tlv(0x31, b"".join(sorted(elements)))


def context(number: int, content: bytes, *, constructed: bool = True) -> bytes:
    """A context-specific [number] element (EXPLICIT or IMPLICIT is the caller's content)."""
    return tlv((0xA0 if constructed else 0x80) | number, content)


def octet_string(value: bytes) -> bytes:
    return tlv(0x04, value)


def printable_string(value: str) -> bytes:
    return tlv(0x13, value.encode("ascii"))


def utf8_string(value: str) -> bytes:
    return tlv(0x0C, value.encode("utf-8"))


def null() -> bytes:
    return b"\x05\x00"


def integer(value: int) -> bytes:
    """INTEGER, minimal two's complement."""
    # Room for the sign bit; a negative value needs only the bits of its complement
    # (-128 is one octet, 0x80, as X.690 8.3.2 and asn1crypto write it).
    size = ((value if value >= 0 else ~value).bit_length() + 8) // 8
    return tlv(0x02, value.to_bytes(size, "big", signed=True))


@lru_cache(maxsize=256)
def oid(dotted: str) -> bytes:
    """OBJECT IDENTIFIER from its dotted form (cached: a schema has few)."""
    return tlv(0x06, oid_contents(dotted))


def oid_contents(dotted: str) -> bytes:
    """The content octets of an OBJECT IDENTIFIER (base-128 arcs, the first two joined)."""
    arcs = [int(arc) for arc in dotted.split(".")]
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return bytes(body)
