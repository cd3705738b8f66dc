"""PRIVATE minimal BER/DER TLV reader, bounded and iterative.

asn1crypto accepts a constructed OCTET STRING only in its indefinite-length
form; Java, Apple and Go (micromdm) peers also send definite-length
constructed (segmented) OCTET STRINGs. `octet_string_value` reads either.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ParseError

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_SEGMENTS",
    "Header",
    "Limits",
    "ScanReport",
    "der_length",
    "octet_string_value",
    "prescan",
    "read_header",
]

#: Most segments one constructed OCTET STRING may have.
MAX_SEGMENTS = 4096
_MAX_STRING_DEPTH = 8
# asn1crypto bounds indefinite nesting at 10; stay at or below it.
_MAX_INDEFINITE_DEPTH = 10
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
        if tag_number < 0x1F:
            raise ParseError("non-minimal tag number")
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


@dataclass(frozen=True)
class Limits:
    """Resource bounds checked before asn1crypto sees any bytes.

    The defaults fit real SCEP messages (a few KiB, depth about 12) with a
    wide margin while keeping parse time and memory linear in the input.
    """

    #: Largest input accepted, in bytes.
    max_size: int = 1 << 20
    #: Deepest nesting of constructed elements.
    max_depth: int = 32
    #: Most TLV elements in one input.
    max_elements: int = 20_000


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class ScanReport:
    """What the pre-scan saw: sizes, and the BER forms a strict DER reader would refuse."""

    elements: int
    depth: int
    indefinite_lengths: bool
    constructed_strings: bool
    non_minimal_lengths: bool


_STRING_TAGS = frozenset({3, 4, 12, 19, 20, 22, 26, 30})
#: Longest INTEGER accepted (serial numbers are at most 20 octets by RFC 5280;
#: real ones reach 32, and sscep's are 32). Keys sit inside BIT STRINGs.
MAX_INTEGER_OCTETS = 128
#: Longest OBJECT IDENTIFIER, and longest single arc (a 64-bit arc takes 10 octets).
MAX_OID_OCTETS = 128
MAX_OID_ARC_OCTETS = 10


def prescan(data: bytes, limits: Limits = DEFAULT_LIMITS) -> ScanReport:
    """Walk every TLV of ``data`` iteratively and enforce ``limits``.

    Raises ParseError for inputs over the limits, for lengths inconsistent with
    the input, for long or non-minimal tag numbers, and for trailing bytes.
    Only constructed elements are descended into: the DER inside an OCTET
    STRING (eContent) is scanned when it is parsed in its turn.
    """
    if len(data) > limits.max_size:
        raise ParseError(f"input of {len(data)} bytes exceeds the {limits.max_size}-byte limit")
    top = read_header(data, 0)
    if top.end != len(data):
        raise ParseError("trailing bytes after the outermost element")
    elements = 0
    deepest = 0
    indefinite = constructed_strings = non_minimal = False
    stack = [(top.start, top.end, 1)]
    while stack:
        pos, end, depth = stack.pop()
        if pos >= end:
            continue
        header = read_header(data, pos, end)
        elements += 1
        if elements > limits.max_elements:
            raise ParseError(f"more than {limits.max_elements} elements")
        deepest = max(deepest, depth)
        if depth > limits.max_depth:
            raise ParseError(f"nested deeper than {limits.max_depth} levels")
        stack.append((header.end, end, depth))
        if header.tag_class == 0 and not header.constructed:
            _check_primitive(data, header)
        length_octets = header.content_start - header.start - _tag_octets(data, header.start)
        if header.indefinite:
            indefinite = True
        elif length_octets > 1:
            length = header.content_end - header.content_start
            if length < 0x80 or data[header.start + _tag_octets(data, header.start) + 1] == 0:
                non_minimal = True
        if header.constructed:
            if header.tag_class == 0 and header.tag_number in _STRING_TAGS:
                constructed_strings = True
            stack.append((header.content_start, header.content_end, depth + 1))
    return ScanReport(elements, deepest, indefinite, constructed_strings, non_minimal)


def _check_primitive(data: bytes, header: Header) -> None:
    """Universal primitives whose malformed forms asn1crypto accepts or trips over."""
    length = header.content_end - header.content_start
    number = header.tag_number
    if number == 0:
        raise ParseError("end-of-contents octets outside an indefinite-length element")
    if number == 2 and not 0 < length <= MAX_INTEGER_OCTETS:
        raise ParseError("INTEGER empty or too long")
    if number == 3 and (length == 0 or data[header.content_start] > 7):
        raise ParseError("malformed BIT STRING")
    if number == 6:
        if not 0 < length <= MAX_OID_OCTETS or data[header.content_end - 1] & 0x80:
            raise ParseError("OBJECT IDENTIFIER empty, too long or truncated")
        run = 0
        for byte in data[header.content_start : header.content_end]:
            run = run + 1 if byte & 0x80 else 0
            if run >= MAX_OID_ARC_OCTETS:
                raise ParseError("OBJECT IDENTIFIER arc too long")


def _tag_octets(data: bytes, start: int) -> int:
    if data[start] & 0x1F != 0x1F:
        return 1
    count = 1
    while data[start + count] & 0x80:
        count += 1
    return count + 1
