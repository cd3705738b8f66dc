"""PRIVATE minimal BER/DER TLV reader, bounded and iterative.

asn1crypto accepts a constructed OCTET STRING only in its indefinite-length
form; Java, Apple and Go (micromdm) peers also send definite-length
constructed (segmented) OCTET STRINGs. `octet_string_value` reads either.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ParseError

__all__ = ["MAX_SEGMENTS", "Header", "der_length", "octet_string_value", "read_header"]

#: Most segments one constructed OCTET STRING may have.
MAX_SEGMENTS = 4096
_MAX_STRING_DEPTH = 8
_MAX_INDEFINITE_DEPTH = 32
_TAG_OCTET_STRING = 4


@dataclass(frozen=True)
class Header:
    """One TLV header: where its contents start and end within the input."""

    tag_class: int
    constructed: bool
    tag_number: int
    start: int
    content_start: int
    #: End of the contents; for indefinite lengths, where the end-of-contents octets start.
    content_end: int
    #: End of the whole element, including end-of-contents octets.
    end: int
    indefinite: bool


def read_header(data: bytes, offset: int = 0, end: int | None = None, *, _depth: int = 0) -> Header:
    """Read the TLV starting at ``offset``; indefinite lengths are walked to their end."""
    limit = len(data) if end is None else end
    pos = offset
    if pos >= limit:
        raise ParseError("truncated: no tag")
    first = data[pos]
    pos += 1
    tag_number = first & 0x1F
    if tag_number == 0x1F:
        tag_number = 0
        for count in range(4):
            if pos >= limit:
                raise ParseError("truncated tag")
            byte = data[pos]
            pos += 1
            if count == 0 and byte == 0x80:
                raise ParseError("non-minimal tag number")
            tag_number = (tag_number << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        else:
            raise ParseError("tag number too long")
    if pos >= limit:
        raise ParseError("truncated: no length")
    length_byte = data[pos]
    pos += 1
    constructed = bool(first & 0x20)
    if length_byte == 0x80:
        if not constructed:
            raise ParseError("indefinite length on a primitive")
        if _depth >= _MAX_INDEFINITE_DEPTH:
            raise ParseError("indefinite lengths nested too deeply")
        child_pos = pos
        while True:
            if child_pos + 2 > limit:
                raise ParseError("missing end-of-contents")
            if data[child_pos] == 0 and data[child_pos + 1] == 0:
                break
            child_pos = read_header(data, child_pos, limit, _depth=_depth + 1).end
        return Header(
            first >> 6,
            constructed,
            tag_number,
            offset,
            pos,
            child_pos,
            child_pos + 2,
            indefinite=True,
        )
    if length_byte & 0x80:
        count = length_byte & 0x7F
        if count > 4 or pos + count > limit:
            raise ParseError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        length = length_byte
    if pos + length > limit:
        raise ParseError("length larger than the data")
    return Header(
        first >> 6,
        constructed,
        tag_number,
        offset,
        pos,
        pos + length,
        pos + length,
        indefinite=False,
    )


def octet_string_value(encoded: bytes) -> bytes:
    """The octets of one OCTET STRING TLV (any tag), primitive or segmented.

    Segments must themselves be OCTET STRINGs; their contents are concatenated
    in order.
    """
    top = read_header(encoded)
    if top.end != len(encoded):
        raise ParseError("trailing data after OCTET STRING")
    if not top.constructed:
        return encoded[top.content_start : top.content_end]
    parts: list[bytes] = []
    segments = 0
    # Depth-first, in order, without recursion: a stack of (pos, end, depth).
    stack = [(top.content_start, top.content_end, 1)]
    while stack:
        pos, end, depth = stack.pop()
        if pos >= end:
            continue
        child = read_header(encoded, pos, end)
        segments += 1
        if segments > MAX_SEGMENTS:
            raise ParseError("too many OCTET STRING segments")
        if child.tag_class != 0 or child.tag_number != _TAG_OCTET_STRING:
            raise ParseError("segment of a constructed OCTET STRING is not an OCTET STRING")
        # The rest of this level comes after the child's own segments.
        stack.append((child.end, end, depth))
        if child.constructed:
            if depth >= _MAX_STRING_DEPTH:
                raise ParseError("OCTET STRING segments nested too deeply")
            stack.append((child.content_start, child.content_end, depth + 1))
        else:
            parts.append(encoded[child.content_start : child.content_end])
    return b"".join(parts)


def der_length(length: int) -> bytes:
    """DER encoding of a length."""
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets
