"""Distinguished names as the policy compares them: structure, never joined strings.

A DN is a sequence of RDNs, each a set of (attribute type, value) pairs.
Matching a certificate against a pattern compares that structure: RDN count
and position, attribute types, and each value on its own. Comparing text
forms instead lets one CN whose value is ``"rogue, O=Trusted RA, C=DE"``
pass for three RDNs. Patterns are RFC 4514 strings (``\\,`` escapes a comma
in a value, ``+`` joins a multi-valued RDN) whose values may use ``*`` and
``?`` wildcards (``\\*`` and ``\\?`` are literal).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import x509

from pyscep._boundary import field
from pyscep._extensions import check_name
from pyscep.certificate import Certificate
from pyscep.errors import PolicyConfigError

__all__ = ["DistinguishedName", "NamePattern"]

# Short names for the attribute types asn1crypto knows; others keep their dotted OID.
_SHORT = {
    "common_name": "CN",
    "organization_name": "O",
    "organizational_unit_name": "OU",
    "country_name": "C",
    "state_or_province_name": "ST",
    "locality_name": "L",
    "email_address": "E",
    "serial_number": "SERIALNUMBER",
    "domain_component": "DC",
    "user_id": "UID",
    "given_name": "GN",
    "surname": "SN",
    "title": "T",
    "street_address": "STREET",
}
_BY_SHORT = {short: name for name, short in _SHORT.items()}
#: Longest DN text or pattern read (real ones are under 300 characters).
MAX_TEXT = 4096
#: Most RDNs in a DN text or pattern.
MAX_RDNS = 64
_DOTTED = re.compile(r"[0-2](\.(0|[1-9][0-9]{0,18})){1,32}\Z")
_KEYWORD = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,63}\Z")
# RFC 4514 section 2.4: escaped wherever they appear in a value.
_ALWAYS_ESCAPED = frozenset('"+,;<>\\')
# What may not appear unescaped in a value (``,`` and ``+`` end it).
_MUST_ESCAPE = frozenset('";<>')

#: One attribute: (type, value); one RDN: its attributes sorted by type and value.
Attribute = tuple[str, str]
RDN = tuple[Attribute, ...]


def _type_name(text: str) -> str:
    """The canonical type: a short name (``CN``) or the dotted OID of an unnamed type."""
    if _DOTTED.match(text):
        known = x509.NameType._map.get(text)
        return _SHORT.get(known, text) if known else text
    upper = text.upper()
    if _KEYWORD.match(text) and upper in _BY_SHORT:
        return upper
    raise ValueError(f"unknown attribute type {text!r} (use CN, O, OU, C... or a dotted OID)")


@dataclass(frozen=True)
class DistinguishedName:
    """A DN: RDNs in encoding order (least specific first), each a sorted tuple of
    (short type, value) pairs."""

    rdns: tuple[RDN, ...]

    @classmethod
    def from_der(cls, der: bytes) -> DistinguishedName:
        """From a DER Name."""
        with field("Name"):
            name = x509.Name.load(der, strict=True)
            check_name(name)  # counted before it is walked
            structured = []
            for rdn in name.chosen:
                pairs = []
                for attribute in rdn:
                    kind = attribute["type"].native
                    native = attribute["value"].native
                    # A value that is not a string is kept as its DER, as RFC 4514 writes it.
                    value = (
                        native if isinstance(native, str) else "#" + attribute["value"].dump().hex()
                    )
                    pairs.append((_SHORT.get(kind, attribute["type"].dotted), value))
                structured.append(tuple(sorted(pairs)))
        return cls(tuple(structured))

    @classmethod
    def from_certificate(cls, certificate: Certificate) -> DistinguishedName:
        """The subject of a certificate."""
        return cls.from_der(certificate.subject_der)

    @classmethod
    def parse(cls, text: str) -> DistinguishedName:
        """From an RFC 4514 string such as ``"CN=a\\, b, O=c+OU=d, C=DE"`` (most specific
        first); PolicyConfigError if it is not one."""
        return cls(tuple(tuple(sorted(rdn)) for rdn in _parse_rfc4514(text, wildcards=False)))

    def values(self, kind: str) -> tuple[str, ...]:
        """Every value of one attribute type, in encoding order."""
        wanted = kind.upper()
        return tuple(value for rdn in self.rdns for k, value in rdn if k == wanted)

    def matches(self, other: DistinguishedName, on: Sequence[str] | None = None) -> bool:
        """Equal on the RDN types ``on`` (case-insensitively per value), or exactly equal."""
        if on is None:
            return self.rdns == other.rdns
        for kind in on:
            mine, theirs = self.values(kind), other.values(kind)
            # An RDN the identity is matched on must be present.
            if not mine or [v.casefold() for v in mine] != [v.casefold() for v in theirs]:
                return False
        return True

    def __str__(self) -> str:
        return ", ".join(
            "+".join(f"{kind}={_escape(value)}" for kind, value in rdn)
            for rdn in reversed(self.rdns)
        )


@dataclass(frozen=True)
class NamePattern:
    """A DN pattern (``"CN=ra-*, O=Example, C=DE"``), matched against a DN's structure.

    A DN matches when it has the same number of RDNs, each with the same
    attribute types in the same position, and every value matches its
    pattern case-insensitively (``*`` any run of characters, ``?`` one).
    The RDNs may come in either order: RFC 4514 text (``CN=dev-1, O=Example``)
    lists the last RDN first, while ``openssl req -subj /CN=dev-1/O=Example``
    and many clients encode the CN first; both are the identity the operator
    meant.
    """

    text: str
    rdns: tuple[tuple[tuple[str, re.Pattern[str]], ...], ...]

    @classmethod
    def parse(cls, text: str) -> NamePattern:
        """Parse an RFC 4514 pattern; PolicyConfigError if it is not one."""
        rdns = _parse_rfc4514(text, wildcards=True)
        compiled = tuple(
            tuple(sorted(((kind, _value_regex(value)) for kind, value in rdn), key=_by_type))
            for rdn in rdns
        )
        return cls(text, compiled)

    def matches(self, name: DistinguishedName) -> bool:
        """True when ``name`` has this pattern's structure (in either order) and every
        value matches."""
        if len(name.rdns) != len(self.rdns):
            return False
        return self._matches_in_order(name.rdns) or self._matches_in_order(name.rdns[::-1])

    def _matches_in_order(self, rdns: tuple[RDN, ...]) -> bool:
        for wanted, actual in zip(self.rdns, rdns, strict=True):
            if len(wanted) != len(actual):
                return False
            by_type = sorted(actual, key=lambda pair: pair[0])
            for (kind, regex), (actual_kind, value) in zip(wanted, by_type, strict=True):
                if kind != actual_kind or not regex.fullmatch(value.casefold()):
                    return False
        return True

    def __str__(self) -> str:
        return self.text


def _by_type(pair: tuple[str, re.Pattern[str]]) -> str:
    return pair[0]


# --- RFC 4514 text --------------------------------------------------------------


def _parse_rfc4514(text: str, *, wildcards: bool) -> list[list[Attribute]]:
    """RDNs in encoding order (the text is most specific first). With ``wildcards``,
    escaped ``*``, ``?`` and ``\\`` stay escaped for the pattern compiler."""
    try:
        return _read_rdns(text, wildcards)
    except ValueError as exc:
        raise PolicyConfigError(f"not an RFC 4514 name: {exc}") from None


def _read_rdns(text: str, wildcards: bool) -> list[list[Attribute]]:
    if len(text) > MAX_TEXT:
        raise ValueError(f"longer than {MAX_TEXT} characters")
    rdns: list[list[Attribute]] = [[]]
    pos, size = 0, len(text)
    while True:
        while pos < size and text[pos] == " ":
            pos += 1
        equals = text.find("=", pos)
        if equals < 0:
            raise ValueError(f"no '=' after position {pos}")
        kind = _type_name(text[pos:equals].strip())
        value, pos = _read_value(text, equals + 1, wildcards)
        rdns[-1].append((kind, value))
        if pos == size:
            break
        separator = text[pos]
        pos += 1
        if separator == ",":
            if len(rdns) == MAX_RDNS:
                raise ValueError(f"more than {MAX_RDNS} RDNs")
            rdns.append([])
    return list(reversed(rdns))


def _read_value(text: str, pos: int, wildcards: bool) -> tuple[str, int]:
    """One value from ``pos`` up to an unescaped ``,`` or ``+``; returns it and where it ended."""
    size = len(text)
    while pos < size and text[pos] == " ":
        pos += 1
    if pos < size and text[pos] == "#":
        end = pos + 1
        while end < size and text[end] not in ",+":
            end += 1
        hex_text = text[pos + 1 : end].strip()
        if not hex_text or len(hex_text) % 2 or not re.fullmatch(r"[0-9A-Fa-f]+", hex_text):
            raise ValueError(f"bad #hex value at position {pos}")
        return "#" + hex_text.lower(), end
    # (text, escaped) pieces: unescaped trailing spaces are not part of the value.
    pieces: list[tuple[str, bool]] = []
    pending = bytearray()  # UTF-8 bytes of consecutive \XX escapes
    while pos < size and text[pos] not in ",+":
        char = text[pos]
        if char == "\\" and re.fullmatch(r"[0-9A-Fa-f]{2}", text[pos + 1 : pos + 3]):
            pending.append(int(text[pos + 1 : pos + 3], 16))
            pos += 3
            continue
        _flush(pending, pieces)
        if char == "\\":
            following = text[pos + 1 : pos + 2]
            if following in ("*", "?", "\\") and wildcards:
                # Kept escaped: the pattern compiler reads "\\x" as a literal x.
                pieces.append(("\\" + following, True))
            elif following and (following in _ALWAYS_ESCAPED or following in " #=*?"):
                pieces.append((following, True))
            else:
                raise ValueError(f"bad escape at position {pos}")
            pos += 2
            continue
        if char in _MUST_ESCAPE:
            raise ValueError(f"unescaped {char!r} at position {pos}")
        pieces.append((char, False))
        pos += 1
    _flush(pending, pieces)
    while pieces and pieces[-1] == (" ", False):
        pieces.pop()
    if not pieces:
        raise ValueError(f"empty value before position {pos}")
    return "".join(piece for piece, _ in pieces), pos


def _flush(pending: bytearray, pieces: list[tuple[str, bool]]) -> None:
    if pending:
        try:
            pieces.append((pending.decode("utf-8"), True))
        except UnicodeDecodeError:
            raise ValueError("\\XX escapes that are not UTF-8") from None
        pending.clear()


def _value_regex(value: str) -> re.Pattern[str]:
    """``*`` and ``?`` are wildcards; ``\\x`` and everything else are literal."""
    parts: list[str] = []
    index = 0
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value):
            parts.append(re.escape(value[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
        index += 1
    return re.compile("".join(parts).casefold(), re.DOTALL)


def _escape(value: str) -> str:
    """RFC 4514 section 2.4 escaping of one value."""
    if re.fullmatch(r"#(?:[0-9a-f]{2})+", value):
        return value  # a DER value, written as #hex (whole octets: "#a" is a string)
    out = []
    for index, char in enumerate(value):
        if char in _ALWAYS_ESCAPED or char == "\x00":
            out.append("\\00" if char == "\x00" else "\\" + char)
        elif (index == 0 and char in " #") or (index == len(value) - 1 and char == " "):
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)
