"""PRIVATE: a bounded, offset-based DER reader for the fixed SCEP/CMS envelope schema.

The hot path of parsing: ContentInfo(SignedData) with its SignerInfo and
signed attributes, and ContentInfo(EnvelopedData) with key-transport
recipients, read in one forward pass over offsets into the input, with no
asn1crypto objects. It reads canonical DER of the shapes pyscep and most peers
send and nothing else: at the first byte outside that (BER forms, other
choices, RSASSA-PSS or OAEP parameters, key agreement, unusual Name strings,
attribute types it does not know...) it steps aside by raising `NotCanonicalError`,
and the asn1crypto path reads the input instead, with its tolerances, its
findings and its refusals. So this reader never refuses anything itself; it
only has to agree, and tests/test_der_reader.py holds it to the asn1crypto
path's values on every vector and on mutated inputs.

The resource limits of the pre-scan hold here too, counted as the reader
goes: every element it reads counts against ``max_elements`` and
``max_depth``, embedded certificates and DER hidden inside OCTET/BIT STRINGs
are walked by the pre-scan itself, and anything over a limit steps aside, so
that the asn1crypto path raises the same LimitExceededError.

Whether the fast path may read at all is decided in one place,
`pyscep._parser_switch` (a `Reader` refuses to start while it is off).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TypeVar

from asn1crypto import algos, cms

from pyscep._der import (
    MAX_NAME_ATTRIBUTES,
    Limits,
    ScanReport,
    _Budget,
    _check_primitive,
    _scan,
    _scan_inside,
    read_length,
)
from pyscep._der_writer import oid_contents
from pyscep._parser_switch import NotCanonicalError, fast_path_on
from pyscep.errors import ParseError, ScepError
from pyscep.oids import PostQuantumOID

__all__ = [
    "DIGEST_ALGORITHMS",
    "SIGNATURE_ALGORITHMS",
    "STRING_TYPES",
    "NotCanonicalError",
    "Reader",
    "content_type_name",
    "decode_oid",
    "decode_string",
    "oid_octets",
    "utc_time",
]


_Read = TypeVar("_Read")


class Reader:
    """One input, its limits and what reading it has spent so far."""

    __slots__ = ("base_depth", "budget", "data", "end", "limits", "max_depth", "start")

    def __init__(self, data: bytes, limits: Limits) -> None:
        # The switch holds every fast reader, even one that does not ask `read_fast`.
        # bytes only: a bytearray or memoryview is asn1crypto's to refuse, in its words.
        if type(data) is not bytes or not 0 < len(data) <= limits.max_size or not fast_path_on():
            raise NotCanonicalError
        self.data = data
        self.limits = limits
        self.budget = _Budget(limits.max_elements)
        #: The element this reader reads (`content_info`): all of ``data``, or the
        #: DER hidden in an OCTET STRING of an outer reader (`hidden`).
        self.start, self.end = 0, len(data)
        #: Depths passed to this reader's methods are relative to ``base_depth``.
        self.base_depth = 0
        self.max_depth = limits.max_depth

    def hidden(
        self, start: int, end: int, depth: int, read: Callable[[Reader], _Read]
    ) -> _Read | None:
        """``read`` the DER hidden in the OCTET STRING whose contents are ``data[start:end]``
        at ``depth``, in the pass that counts it: against this reader's budget, at the
        depths the pre-scan gives that DER. None when ``read`` steps aside: then the
        contents are walked for the limits, as the pre-scan walks them, and nothing
        the attempt counted stays counted."""
        reader = Reader.__new__(Reader)
        reader.data, reader.limits, reader.budget = self.data, self.limits, self.budget
        reader.start, reader.end = start, end
        reader.base_depth = self.base_depth + depth
        reader.max_depth = self.limits.max_depth - reader.base_depth
        budget = self.budget.elements
        try:
            return read(reader)
        except NotCanonicalError:
            self.budget.elements = budget
            self.opaque(0x04, start, end, depth)
            return None

    def span(self, position: int, end: int, tag: int) -> int:
        """End of the element with ``tag`` at ``position``, not counted (`scan` counts it)."""
        return self.contents(position, end, tag)[1]

    def element(self, position: int, end: int, tag: int, depth: int) -> tuple[int, int]:
        """(content start, content end) of the element with one-octet ``tag`` at ``position``.

        Definite, minimal lengths only; the element counts against the limits.
        """
        data = self.data
        # Short lengths inline: this runs for every element the reader reads.
        if position + 2 > end or data[position] != tag:
            raise NotCanonicalError
        size = data[position + 1]
        if size < 0x80:
            start = position + 2
            stop = start + size
            if stop > end:
                raise NotCanonicalError
        else:
            start, stop = self.contents(position, end, tag)
        budget = self.budget
        budget.elements -= 1
        if budget.elements < 0 or depth > self.max_depth:
            raise NotCanonicalError
        if tag < 0x20 and tag in _CHECKED_PRIMITIVES:
            try:
                _check_primitive(data, tag, start, stop)
            except ParseError:
                raise NotCanonicalError from None
        return start, stop

    def contents(self, position: int, end: int, tag: int) -> tuple[int, int]:
        """(content start, content end) of the element with ``tag`` at ``position``,
        neither counted nor checked: for DER that `scan` or the pre-scan walked already
        (and what `element` reads before it counts and checks)."""
        data = self.data
        if position + 2 > end or data[position] != tag:
            raise NotCanonicalError
        size = data[position + 1]
        start = position + 2
        if size >= 0x80:
            # Minimal (DER) long forms of 1 to 3 octets only: the rest steps aside.
            # One and two octets (every element from 128 bytes to 64 KiB) are read
            # here, as `read_length` reads them: this runs for most elements of a
            # message, and a call per element costs W0 a tenth of its speed.
            if size == 0x81 and start < end:
                size, start = data[start], start + 1
            elif size == 0x82 and start + 2 <= end:
                size, start = (data[start] << 8) | data[start + 1], start + 2
            elif size > 0x83:
                raise NotCanonicalError
            else:
                try:
                    size, start = read_length(data, position + 1, end)
                except ParseError:
                    raise NotCanonicalError from None
            if size < 0x80 or data[position + 2] == 0:
                raise NotCanonicalError
        stop = start + size
        if stop > end:
            raise NotCanonicalError
        return start, stop

    def opaque(self, tag: int, start: int, end: int, depth: int) -> None:
        """Walk DER hidden in an OCTET/BIT STRING's contents, as the pre-scan does."""
        if end - start > 2:
            if tag == 0x04:
                # `_claimed_end`'s first look, without its calls (a nonce or a digest, on
                # every message): a short header that claims another length than the
                # contents' is no element.
                data = self.data
                second = data[start + 1]
                if second < 0x80 and data[start] & 0x1F != 0x1F and start + 2 + second != end:
                    return
            try:
                _scan_inside(
                    self.data, tag, start, end, self.limits, self.budget, self.base_depth + depth
                )
            except ScepError:
                raise NotCanonicalError from None

    def scan(self, start: int, end: int, depth: int) -> None:
        """Pre-scan ``data[start:end]`` (one element, such as a certificate) at ``depth``."""
        try:
            report = _scan(
                self.data, start, end, self.limits, self.budget, self.base_depth + depth - 1
            )
        except ScepError:
            raise NotCanonicalError from None
        if report.indefinite_lengths or report.constructed_strings or report.non_minimal_lengths:
            raise NotCanonicalError  # BER inside: the asn1crypto path reports it

    def count_scanned(self, report: ScanReport, depth: int) -> None:
        """Count an element at ``depth`` as `scan` would, from the `prescan` of its DER on
        its own (a certificate the caller holds, met again in a message): the same
        walk, so the same budget spent and the same limits hit, without walking it again."""
        if report.indefinite_lengths or report.constructed_strings or report.non_minimal_lengths:
            raise NotCanonicalError
        budget = self.budget
        budget.elements -= report.elements
        # `scan` walks it from ``depth``: its deepest element is report.depth - 1 further.
        if budget.elements < 0 or depth - 1 + report.depth > self.max_depth:
            raise NotCanonicalError

    def integer(self, position: int, end: int, depth: int) -> tuple[int, int]:
        """(value, end) of an INTEGER."""
        start, stop = self.element(position, end, 0x02, depth)
        return int.from_bytes(self.data[start:stop], "big", signed=True), stop

    def content_info(self, content_type: bytes) -> tuple[int, int]:
        """(start, end) of the contents of the SEQUENCE inside the ContentInfo
        ``SEQUENCE { OID content_type, [0] EXPLICIT SEQUENCE {...} }`` that is this
        reader's whole input."""
        size = self.end
        start, end = self.element(self.start, size, 0x30, 1)
        found, cursor = self.oid(start, end, 2)
        if end != size or found != content_type:
            raise NotCanonicalError
        explicit_start, explicit_end = self.element(cursor, end, 0xA0, 2)
        body, body_end = self.element(explicit_start, explicit_end, 0x30, 3)
        if body_end != explicit_end or explicit_end != end:
            raise NotCanonicalError
        return body, body_end

    def version(self, position: int, end: int, depth: int) -> tuple[str, int]:
        """(asn1crypto's name ``v0``..``v5``, end) of a CMSVersion INTEGER."""
        value, stop = self.integer(position, end, depth)
        if not 0 <= value <= 5:
            raise NotCanonicalError
        return f"v{value}", stop

    def identifier(
        self,
        position: int,
        end: int,
        depth: int,
        later: list[tuple[int, int, int]] | None = None,
    ) -> tuple[bytes | None, int | None, bytes | None, int]:
        """(issuer Name DER, serial, subjectKeyIdentifier, end) of a SignerIdentifier or
        RecipientIdentifier: IssuerAndSerialNumber, or ``[0]`` SubjectKeyIdentifier.

        With ``later``, the issuer Name's values are left for `name_values` to check:
        its (contents start, end, depth) are appended there."""
        if position < end and self.data[position] == 0x30:
            start, stop = self.element(position, end, 0x30, depth)
            if later is None:
                issuer_end = self.name(start, stop, depth + 1)
            else:
                name_start, issuer_end = self.element(start, stop, 0x30, depth + 1)
                later.append((name_start, issuer_end, depth + 1))
            serial, after = self.integer(issuer_end, stop, depth + 1)
            if after != stop:
                raise NotCanonicalError
            return self.data[start:issuer_end], serial, None, stop
        key_identifier, stop = self.octets(position, end, depth, tag=0x80)
        return None, None, key_identifier, stop

    def uncounted_integer(self, position: int, end: int) -> tuple[int, int]:
        """(value, end) of an INTEGER of any size, neither counted nor capped: inside a
        key, or in DER that `scan` or the pre-scan walked already."""
        start, stop = self.contents(position, end, 0x02)
        if start == stop:
            raise NotCanonicalError
        return int.from_bytes(self.data[start:stop], "big", signed=True), stop

    def oid(self, position: int, end: int, depth: int) -> tuple[bytes, int]:
        """(the OID's content octets, end) of an OBJECT IDENTIFIER."""
        start, stop = self.element(position, end, 0x06, depth)
        return self.data[start:stop], stop

    def octets(self, position: int, end: int, depth: int, tag: int = 0x04) -> tuple[bytes, int]:
        """(contents, end) of a primitive OCTET STRING (or ``tag``)."""
        start, stop = self.element(position, end, tag, depth)
        if tag == 0x04:  # the pre-scan looks inside universal strings only
            self.opaque(0x04, start, stop, depth)
        return self.data[start:stop], stop

    def algorithm(self, position: int, end: int, depth: int) -> tuple[bytes, bool, int]:
        """(OID content octets, parameters are NULL, end) of an AlgorithmIdentifier
        whose parameters are absent or NULL."""
        start, stop = self.element(position, end, 0x30, depth)
        oid, cursor = self.oid(start, stop, depth + 1)
        null = cursor < stop
        if null:
            cursor = self.element(cursor, stop, 0x05, depth + 1)[1]
            if cursor != stop or self.data[cursor - 1] != 0:
                raise NotCanonicalError
        return oid, null, stop

    def identified(
        self, position: int, end: int, depth: int, table: Mapping[bytes, tuple[_Read, int]]
    ) -> tuple[_Read, int] | None:
        """(what ``table`` says, end) of the AlgorithmIdentifier at ``position`` when its
        whole DER is one of ``table``'s keys, whose values are (value, elements in the
        key); None when it is not (`algorithm` reads it then). The common identifiers in
        one lookup: their encodings are fixed."""
        data = self.data
        if position + 2 > end:
            return None
        stop = position + 2 + data[position + 1]  # a long form is in no table
        found = table.get(data[position:stop])
        if found is None or stop > end:
            return None
        value, elements = found
        budget = self.budget
        budget.elements -= elements
        if budget.elements < 0 or depth + 1 > self.max_depth:
            raise NotCanonicalError
        return value, stop

    def count(self, elements: int, depth: int) -> None:
        """Count ``elements`` read with `contents`, the deepest at ``depth``, against the
        limits: once for a whole structure, not once per element."""
        budget = self.budget
        budget.elements -= elements
        if budget.elements < 0 or depth > self.max_depth:
            raise NotCanonicalError

    def name(self, position: int, end: int, depth: int) -> int:
        """End of a Name whose every value asn1crypto decodes the way this reader checks,
        of at most MAX_NAME_ATTRIBUTES attributes (`pyscep._extensions.check_name`)."""
        start, stop = self.element(position, end, 0x30, depth)
        self.name_values(start, stop, depth)
        return stop

    def name_values(self, start: int, stop: int, depth: int) -> None:
        """Check and count the RDNs in the contents ``data[start:stop]`` of a Name whose
        SEQUENCE, at ``depth``, `element` read (`name`)."""
        data = self.data
        contents = self.contents
        cursor = start
        attributes = rdns = 0
        while cursor < stop:
            rdns += 1
            rdn_start, rdn_end = contents(cursor, stop, 0x31)
            if rdn_start == rdn_end:
                raise NotCanonicalError
            inner = rdn_start
            while inner < rdn_end:
                attributes += 1
                if attributes > MAX_NAME_ATTRIBUTES:
                    raise NotCanonicalError
                pair_start, pair_end = contents(inner, rdn_end, 0x30)
                oid_start, value = contents(pair_start, pair_end, 0x06)
                # A known OID is a well-formed one: no primitive check needed.
                if data[oid_start:value] not in _DIRECTORY_STRING_TYPES or value >= pair_end:
                    raise NotCanonicalError
                tag = data[value]
                if tag not in _NAME_STRING_TAGS:
                    raise NotCanonicalError
                value_start, value_end = contents(value, pair_end, tag)
                if value_end != pair_end:
                    raise NotCanonicalError
                decode_string(tag, data[value_start:value_end])
                inner = pair_end
            cursor = rdn_end
        if attributes:
            # The RDN SETs, and each attribute's SEQUENCE, OID and value.
            self.count(rdns + 3 * attributes, depth + 3)


# Primitives whose malformed forms the pre-scan refuses (INTEGER, BIT STRING, OID).
_CHECKED_PRIMITIVES = frozenset({0x02, 0x03, 0x06})
# PrintableString (any octet: asn1crypto decodes it as latin-1) and UTF8String.
_NAME_STRING_TAGS = frozenset({0x13, 0x0C})


#: The string tags the fast path reads: (asn1crypto's name of the choice, and how
#: asn1crypto decodes it; PrintableString as latin-1, so any octet).
STRING_TYPES = {
    0x13: ("printable_string", "latin-1"),
    0x0C: ("utf8_string", "utf-8"),
    0x16: ("ia5_string", "ascii"),
}


def decode_string(tag: int, contents: bytes) -> str:
    """A string of one of STRING_TYPES, decoded as asn1crypto decodes it; NotCanonicalError
    when that fails (asn1crypto's path then raises its own error, with its path)."""
    try:
        return contents.decode(STRING_TYPES[tag][1])
    except UnicodeDecodeError:
        raise NotCanonicalError from None


def oid_octets(dotted: str) -> bytes:
    """The content octets of a dotted OID (for building lookup tables)."""
    return oid_contents(dotted)


_DIGEST_NAMES = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
#: Digest AlgorithmIdentifier OID content octets -> asn1crypto's name.
DIGEST_ALGORITHMS = {
    oid_octets(algos.DigestAlgorithmId.unmap(name)): name for name in _DIGEST_NAMES
}
_SIGNATURE_NAMES = (
    "rsassa_pkcs1v15",
    *(f"{digest}_rsa" for digest in _DIGEST_NAMES),
    *(f"{digest}_ecdsa" for digest in _DIGEST_NAMES[1:]),
    "ed25519",
)
#: Signature AlgorithmIdentifier OID content octets -> (asn1crypto's name, dotted form),
#: for the algorithms whose parameters are absent or NULL.
#: ML-DSA, which asn1crypto does not name, by pyscep's name (``ml_dsa_65``), as the
#: asn1crypto paths name it too.
SIGNATURE_ALGORITHMS = {
    **{
        oid_octets(dotted): (str(algos.SignedDigestAlgorithmId.map(dotted)), dotted)
        for dotted in (algos.SignedDigestAlgorithmId.unmap(name) for name in _SIGNATURE_NAMES)
    },
    **{oid_octets(dotted): (name, dotted) for dotted, name in PostQuantumOID.ML_DSA.items()},
}

# X.520 attribute types that asn1crypto reads as a DirectoryString (RFC 5280's usual ones).
_DIRECTORY_STRING_TYPES = frozenset(
    oid_octets(f"2.5.4.{number}")
    for number in (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 17, 41, 42, 43, 44, 46, 65)
)


_CONTENT_TYPES = {
    oid_octets(cms.ContentType.unmap(name)): name
    for name in ("data", "signed_data", "enveloped_data")
}


def content_type_name(octets: bytes) -> str:
    """asn1crypto's name of a ContentType OID (its dotted form when it has none)."""
    name = _CONTENT_TYPES.get(octets)
    return name if name is not None else str(cms.ContentType.map(decode_oid(octets)))


def decode_oid(octets: bytes) -> str:
    """Dotted form of an OID's content octets (already checked by the pre-scan rules)."""
    arcs: list[int] = []
    value = 0
    for byte in octets:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(arc) for arc in head + arcs[1:])


def utc_time(text: bytes) -> datetime:
    """A DER UTCTime (YYMMDDHHMMSSZ), as asn1crypto reads it; NotCanonicalError otherwise."""
    if len(text) != 13 or text[12] != 0x5A or not text[:12].isdigit():
        raise NotCanonicalError
    year = int(text[0:2])
    year += 2000 if year < 50 else 1900
    try:
        return datetime(
            year,
            int(text[2:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[8:10]),
            int(text[10:12]),
            tzinfo=timezone.utc,
        )
    except ValueError:
        raise NotCanonicalError from None
