"""PRIVATE minimal BER/DER TLV reader, bounded and iterative.

asn1crypto accepts a constructed OCTET STRING only in its indefinite-length
form; Java, Apple and Go (micromdm) peers also send definite-length
constructed (segmented) OCTET STRINGs. `octet_string_value` reads either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from ._der_writer import length as der_length  # the one length writer, by its old name
from .errors import LimitExceededError, ParseError
from .limits import DEFAULT_LIMITS, Limits

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_SEGMENTS",
    "Header",
    "Limits",
    "ScanReport",
    "count_children",
    "der_length",
    "octet_string_value",
    "prescan",
    "read_header",
    "read_length",
]

#: Most segments one constructed OCTET STRING may have.
MAX_SEGMENTS = 4096
_MAX_STRING_DEPTH = 8
# asn1crypto bounds indefinite nesting at 10; stay at or below it.
_MAX_INDEFINITE_DEPTH = 10
_TAG_OCTET_STRING = 4


class Header(NamedTuple):
    """One TLV header: where its contents start and end within the input.

    A NamedTuple: made for every element the generic reader reads, where a frozen
    dataclass's setattr per field cost more than the reading."""

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
    if offset >= limit:
        raise ParseError("truncated: no tag")
    first = data[offset]
    tag_number, pos = _read_tag(data, offset, limit)
    length, pos = read_length(data, pos, limit)
    constructed = bool(first & 0x20)
    if length == -1:
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


def read_length(data: bytes, position: int, limit: int) -> tuple[int, int]:
    """(length, where the contents start) of the length octets at ``position``: the one
    length reader. The length is -1 for the indefinite form; ParseError when the octets
    run past ``limit`` or are more than 4 (nothing that size fits the limits).

    Short lengths are read inline on the hot loops (`_scan`, `Reader.element`); every
    long form is read here.
    """
    if position >= limit:
        raise ParseError("truncated: no length")
    first = data[position]
    if first < 0x80:
        return first, position + 1
    if first == 0x80:
        return -1, position + 1
    count = first & 0x7F
    start = position + 1
    if count > 4 or start + count > limit:
        raise ParseError("bad length")
    return int.from_bytes(data[start : start + count], "big"), start + count


def _read_tag(data: bytes, offset: int, limit: int) -> tuple[int, int]:
    """The tag number at ``offset`` and where its length octets start.

    Long-form tag numbers are capped at 4 octets (asn1crypto parses them in
    quadratic time) and must be minimal.
    """
    tag_number = data[offset] & 0x1F
    pos = offset + 1
    if tag_number != 0x1F:
        return tag_number, pos
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
    return tag_number, pos


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
            raise LimitExceededError("too many OCTET STRING segments")
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


class ScanReport(NamedTuple):
    """What the pre-scan saw: sizes, and the BER forms a strict DER reader would refuse.

    (A named tuple: one is made for every walk, DER hidden in strings included.)
    """

    #: Elements counted against the budget, and the deepest level one was met at.
    #: `prescan`'s report includes the DER hidden in strings (attempts that turned
    #: out not to be DER included): its limits hold exactly at these two numbers.
    elements: int
    depth: int
    indefinite_lengths: bool
    constructed_strings: bool
    non_minimal_lengths: bool


_STRING_TAGS = frozenset({3, 4, 12, 19, 20, 22, 26, 30})
# The universal primitives `_check_primitive` has rules for.
_CHECKED_PRIMITIVES = frozenset({0, 2, 3, 6})
#: Longest INTEGER accepted. Serial numbers are at most 20 octets by RFC 5280 (real
#: ones reach 32), but parameters of keys that exist sit outside BIT STRINGs: a DSA
#: or X9.42 DH prime in an AlgorithmIdentifier (1024 bits take 129 octets with the
#: sign octet). The cap is an 8192-bit prime with its sign octet: every such key fits,
#: and any INTEGER read still prints (Python refuses decimal strings of over 4300
#: digits; 1025 octets make at most 2469).
MAX_INTEGER_OCTETS = 8192 // 8 + 1
#: Longest OBJECT IDENTIFIER, and longest single arc (a 64-bit arc takes 10 octets).
MAX_OID_OCTETS = 128
MAX_OID_ARC_OCTETS = 10
#: Most attributes in one Name, over all its RDNs (real DNs have under 20).
MAX_NAME_ATTRIBUTES = 64
_LONG_ARC = re.compile(rb"[\x80-\xff]{%d}" % MAX_OID_ARC_OCTETS)


@dataclass
class _Budget:
    """What one pre-scan may still spend, shared by the DER nested inside strings, and
    the deepest level it has met so far."""

    elements: int
    deepest: int = 0


def prescan(data: bytes, limits: Limits = DEFAULT_LIMITS) -> ScanReport:
    """Walk every TLV of ``data`` once, forward and without recursion; enforce ``limits``.

    Raises ParseError for inputs over the limits, for lengths inconsistent with
    the input, for long or non-minimal tag numbers, for malformed primitives
    asn1crypto would accept or trip over, and for trailing bytes.

    The limits also hold inside OCTET STRINGs and BIT STRINGs whose contents
    are themselves one DER element (eContent, extnValue, a SubjectPublicKeyInfo
    key, keyUsage...): those are walked too, against the same element budget
    and with their nesting added to the depth. Contents that are not DER
    (random bytes, a signature) are opaque; only a limit reached while trying
    them counts.
    """
    size = len(data)
    if size > limits.max_size:
        raise LimitExceededError(f"input of {size} bytes exceeds the {limits.max_size}-byte limit")
    if size == 0:
        raise ParseError("truncated: no tag")
    return _scan(data, 0, size, limits, _Budget(limits.max_elements), 0)


def _scan(
    data: bytes, start: int, size: int, limits: Limits, budget: _Budget, base_depth: int
) -> ScanReport:
    """Scan ``data[start:size]``, which must be exactly one element, at ``base_depth``.

    Its report counts the elements the walk and its nested walks spent of ``budget``,
    and the deepest level (absolute: from ``base_depth``) any walk of ``budget`` met.
    """
    max_depth = limits.max_depth
    deepest = indefinite_depth = 0
    indefinite = constructed_strings = non_minimal = False
    # Open constructed elements: (end offset, or -1 for "until end-of-contents").
    stack: list[int] = []
    pos = start
    # The budget is counted in a local (this loop runs once per element) and
    # written back around nested scans and on the way out, errors included:
    # what a failed attempt counted stays counted.
    remaining = initial = budget.elements
    try:
        while True:
            if stack:
                end = stack[-1]
                if end == -1:
                    if pos + 2 <= size and data[pos] == 0 and data[pos + 1] == 0:
                        stack.pop()
                        indefinite_depth -= 1
                        pos += 2
                        continue
                    end = size
                elif pos == end:
                    stack.pop()
                    continue
            elif pos != start:
                if pos != size:
                    raise ParseError("trailing bytes after the outermost element")
                break
            else:
                end = size
            # --- one header, inline ---
            if pos >= end:
                raise ParseError("truncated: no tag")
            first = data[pos]
            if first & 0x1F == 0x1F:
                tag_number, cursor = _read_tag(data, pos, end)
            else:
                tag_number, cursor = first & 0x1F, pos + 1
            if cursor >= end:
                raise ParseError("truncated: no length")
            length_byte = data[cursor]
            cursor += 1
            remaining -= 1
            if remaining < 0:
                raise LimitExceededError(f"more than {limits.max_elements} elements")
            depth = base_depth + len(stack) + 1
            if depth > max_depth:
                raise LimitExceededError(f"nested deeper than {max_depth} levels")
            if depth > deepest:
                deepest = depth
            if length_byte == 0x80:
                if not first & 0x20:
                    raise ParseError("indefinite length on a primitive")
                indefinite = True
                indefinite_depth += 1
                if indefinite_depth > _MAX_INDEFINITE_DEPTH:
                    raise ParseError("indefinite lengths nested too deeply")
                if first < 0x40 and tag_number in _STRING_TAGS:
                    constructed_strings = True
                stack.append(-1)
                pos = cursor
                continue
            if length_byte & 0x80:
                length, after = read_length(data, cursor - 1, end)
                if length < 0x80 or data[cursor] == 0:
                    non_minimal = True
                cursor = after
            else:
                length = length_byte
            content_end = cursor + length
            if content_end > end:
                raise ParseError("length larger than the data")
            if first & 0x20:
                if first < 0x40 and tag_number in _STRING_TAGS:
                    constructed_strings = True
                stack.append(content_end)
                pos = cursor
                continue
            if first < 0x40:  # universal primitive
                if tag_number in _CHECKED_PRIMITIVES:
                    _check_primitive(data, tag_number, cursor, content_end)
                if (tag_number == 3 or tag_number == 4) and length > 2:
                    budget.elements = remaining
                    _scan_inside(data, tag_number, cursor, content_end, limits, budget, depth)
                    remaining = budget.elements
            pos = content_end
    finally:
        budget.elements = remaining
        if deepest > budget.deepest:
            budget.deepest = deepest
    return ScanReport(
        initial - remaining, budget.deepest, indefinite, constructed_strings, non_minimal
    )


def _scan_inside(
    data: bytes, tag: int, start: int, end: int, limits: Limits, budget: _Budget, depth: int
) -> None:
    """Scan the contents of a primitive OCTET STRING / BIT STRING if they are one element."""
    if tag == 3:
        if data[start] != 0:  # unused bits: not bytes, so not DER
            return
        start += 1
    # Cheap test first: does one header at ``start`` claim exactly the contents?
    # (A definite length is not walked; an indefinite one is, within its bounds.)
    if _claimed_end(data, start, end) != end:
        return
    try:
        _scan(data, start, end, limits, budget, depth)
    except LimitExceededError:
        raise
    except ParseError:
        return  # not DER after all: opaque bytes (what was counted stays counted)


def _claimed_end(data: bytes, start: int, end: int) -> int:
    """Where the element whose header is at ``start`` ends (as `read_header` reads it),
    or -1 when no header can be read there."""
    if data[start] & 0x1F == 0x1F or (start + 1 < end and data[start + 1] == 0x80):
        try:  # long tags and indefinite lengths: rare, read in full
            return read_header(data, start, end).end
        except ParseError:
            return -1
    if start + 1 >= end:
        return -1
    length, cursor = data[start + 1], start + 2
    if length == 0x81 and cursor < end:  # the common long form, as read_length reads it
        length, cursor = data[cursor], cursor + 1
    elif length > 0x84:
        return -1  # more length octets than read_length reads: random bytes, mostly
    elif length & 0x80:
        try:
            length, cursor = read_length(data, start + 1, end)
        except ParseError:
            return -1
    return cursor + length if cursor + length <= end else -1


def count_children(contents: bytes, limit: int, what: str) -> int:
    """How many elements ``contents`` holds; ParseError as soon as there are more than
    ``limit`` (the rest is not walked). For counting a SEQUENCE OF or SET OF before
    asn1crypto materialises its items."""
    pos = count = 0
    while pos < len(contents):
        count += 1
        if count > limit:
            raise LimitExceededError(f"more than {limit} {what}")
        pos = read_header(contents, pos).end
    return count


def _check_primitive(data: bytes, number: int, start: int, end: int) -> None:
    """Universal primitives whose malformed forms asn1crypto accepts or trips over."""
    length = end - start
    if number == 0:
        raise ParseError("end-of-contents octets outside an indefinite-length element")
    if number == 2 and not 0 < length <= MAX_INTEGER_OCTETS:
        raise ParseError("INTEGER empty or too long")
    if number == 3 and (length == 0 or data[start] > 7):
        raise ParseError("malformed BIT STRING")
    if number == 6:
        if not 0 < length <= MAX_OID_OCTETS or data[end - 1] & 0x80:
            raise ParseError("OBJECT IDENTIFIER empty, too long or truncated")
        # An arc of MAX_OID_ARC_OCTETS or more octets: that many with the high bit set
        # in a row (the last octet has it clear, so a shorter OID cannot hold one).
        if length > MAX_OID_ARC_OCTETS and _LONG_ARC.search(data, start, end):
            raise ParseError("OBJECT IDENTIFIER arc too long")
