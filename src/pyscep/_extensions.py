"""PRIVATE: X.509 extensions read one at a time, each only when asked, each bounded.

asn1crypto decodes every extension it knows as soon as any one of them is
asked for (``Certificate.key_usage_value`` parses the SAN list too), and a
list is materialised before anyone can count it. Here the extensions are
counted before they are read, a value is decoded only by the accessor that
needs it, and each decoder refuses sizes no real certificate or CSR has (a
keyUsage of 600 KB, 120,000 subjectAltNames) before walking them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asn1crypto import core, x509

from ._boundary import field
from ._der import (
    DEFAULT_LIMITS,
    MAX_NAME_ATTRIBUTES,
    Header,
    count_children,
    der_length,
    octet_string_value,
    prescan,
    read_header,
)
from ._der_reader import NotCanonicalError, Reader
from ._parser_switch import read_fast
from .errors import LimitExceededError, ParseError
from .limits import Limits

__all__ = [
    "MAX_EXTENSIONS",
    "MAX_GENERAL_NAMES",
    "MAX_NAME_ATTRIBUTES",
    "RawExtension",
    "check_name",
    "decode_ca_flag",
    "decode_display",
    "decode_general_names",
    "decode_key_identifier",
    "decode_key_purposes",
    "decode_key_usage",
    "read_extensions",
]

#: Most extensions in one certificate or CSR (real ones have under 15).
MAX_EXTENSIONS = 64
#: Most subjectAltNames (public CAs stop at a few hundred).
MAX_GENERAL_NAMES = 1024
#: Most extendedKeyUsage purposes.
MAX_KEY_PURPOSES = 64
#: Longest value of a flag-like extension (keyUsage, basicConstraints, keyIdentifier).
_MAX_SMALL_VALUE = 64
#: A value decoded for display only: anything bigger is shown raw, not decoded.
_DISPLAY_LIMITS = Limits(max_size=4096, max_depth=16, max_elements=256)
#: asn1crypto's names of the extensions it knows, by the OID's DER (what loading it gives).
_EXTENSION_NAMES = {
    core.ObjectIdentifier(dotted).dump(): name for dotted, name in x509.ExtensionId._map.items()
}


@dataclass(frozen=True)
class RawExtension:
    """One Extension, not decoded: its OID (asn1crypto name or dotted), flag and octets."""

    name: str
    critical: bool
    value: bytes
    #: The Extension's DER contents (for showing a value that is not of its type).
    contents: bytes


def read_extensions(contents: bytes) -> tuple[RawExtension, ...]:
    """The Extensions SEQUENCE's contents, counted first, as raw extensions.

    Read with the TLV reader: asn1crypto would type (and so decode) each
    extnValue by its OID as soon as it is touched.
    """
    canonical = _read_canonical_extensions(contents)
    if canonical is not None:
        return canonical
    return _read_general_extensions(contents)


def _read_general_extensions(contents: bytes) -> tuple[RawExtension, ...]:
    """`read_extensions` of any shape, and its refusals."""
    with field("extensions"):
        count_children(contents, MAX_EXTENSIONS, "extensions")
        found = []
        position = 0
        while position < len(contents):
            extension = read_header(contents, position)
            if extension.tag_number != 16 or not extension.constructed:
                raise ParseError("an Extension is not a SEQUENCE")
            found.append(_read_extension(contents[extension.start : extension.end]))
            position = extension.end
        return tuple(found)


def _read_canonical_extensions(contents: bytes) -> tuple[RawExtension, ...] | None:
    """`read_extensions` of the usual shape, read in place by the DER fast path; None
    when the general reader must read (and refuse) it, or the fast path is off."""
    return read_fast("extensions", lambda: _read_in_place(Reader(contents, DEFAULT_LIMITS)))


def _read_in_place(reader: Reader) -> tuple[RawExtension, ...]:
    """Each Extension a SEQUENCE of an OID asn1crypto names, an optional one-octet
    BOOLEAN and a primitive OCTET STRING, in DER; NotCanonicalError otherwise."""
    contents, size = reader.data, len(reader.data)
    found: list[RawExtension] = []
    position = 0
    while position < size:
        if len(found) == MAX_EXTENSIONS:
            raise NotCanonicalError
        start, end = reader.contents(position, size, 0x30)
        cursor = reader.span(start, end, 0x06)
        name = _EXTENSION_NAMES.get(contents[start:cursor])
        critical = False
        if cursor < end and contents[cursor] == 0x01:
            flag_start, flag_end = reader.contents(cursor, end, 0x01)
            if flag_end - flag_start != 1:
                raise NotCanonicalError
            critical = contents[flag_start] != 0
            cursor = flag_end
        value_start, value_end = reader.contents(cursor, end, 0x04)
        if name is None or value_end != end:
            raise NotCanonicalError  # an OID asn1crypto names by its dotted form: there
        found.append(RawExtension(name, critical, contents[value_start:end], contents[start:end]))
        position = end
    return tuple(found)


def _read_extension(encoded: bytes) -> RawExtension:
    top = read_header(encoded)
    parts: list[Header] = []
    position = top.content_start
    while position < top.content_end and len(parts) < 4:
        part = read_header(encoded, position, top.content_end)
        parts.append(part)
        position = part.end
    if position != top.content_end or not 2 <= len(parts) <= 3:
        raise ParseError("an Extension is extnID, critical, extnValue")
    oid, *flag, value = parts
    if oid.tag_number != 6 or value.tag_number != 4 or (flag and flag[0].tag_number != 1):
        raise ParseError("an Extension is extnID, critical, extnValue")
    oid_der = encoded[oid.start : oid.end]
    name = _EXTENSION_NAMES.get(oid_der)
    if name is None:  # not one asn1crypto names: its dotted form, once checked
        name = str(x509.ExtensionId.load(oid_der, strict=True).native)
    critical = bool(flag) and encoded[flag[0].content_start : flag[0].content_end] != b"\x00"
    return RawExtension(
        name=name,
        critical=critical,
        value=octet_string_value(encoded[value.start : value.end]),
        contents=encoded[top.content_start : top.content_end],
    )


def _sequence(contents: bytes) -> bytes:
    return b"\x30" + der_length(len(contents)) + contents


def _small(value: bytes, what: str) -> bytes:
    if len(value) > _MAX_SMALL_VALUE:
        raise LimitExceededError(f"{what} of {len(value)} bytes")
    return value


def decode_key_usage(value: bytes) -> frozenset[str]:
    """keyUsage bits by asn1crypto name."""
    with field("keyUsage"):
        return frozenset(x509.KeyUsage.load(_small(value, "keyUsage"), strict=True).native)


def decode_ca_flag(value: bytes) -> bool:
    """basicConstraints cA."""
    with field("basicConstraints"):
        loaded = x509.BasicConstraints.load(_small(value, "basicConstraints"), strict=True)
        return bool(loaded["ca"].native)


def decode_key_identifier(value: bytes) -> bytes:
    """subjectKeyIdentifier."""
    with field("subjectKeyIdentifier"):
        return bytes(core.OctetString.load(_small(value, "keyIdentifier"), strict=True).native)


def _counted(value: bytes, limit: int, what: str) -> bytes:
    top = read_header(value)
    count_children(value[top.content_start : top.content_end], limit, what)
    return value


def decode_general_names(value: bytes) -> tuple[str, ...]:
    """subjectAltName entries as ``type:value``, at most MAX_GENERAL_NAMES of them."""
    with field("subjectAltName"):
        names = x509.GeneralNames.load(
            _counted(value, MAX_GENERAL_NAMES, "subjectAltNames"), strict=True
        )
        return tuple(f"{general.name}:{general.native}" for general in names)


def decode_key_purposes(value: bytes) -> frozenset[str]:
    """extKeyUsage purposes (asn1crypto names or dotted OIDs)."""
    with field("extKeyUsage"):
        purposes = x509.ExtKeyUsageSyntax.load(
            _counted(value, MAX_KEY_PURPOSES, "key purposes"), strict=True
        )
        return frozenset(str(v) for v in purposes.native)


def decode_display(extension: RawExtension) -> Any:
    """A small extension value, decoded as asn1crypto types it, for people to read.

    LimitExceededError when it is too big to show decoded (the caller shows it
    raw); ParseError, or ValueError & co. from asn1crypto, when it is not of
    its OID's type.
    """
    prescan(extension.value, _DISPLAY_LIMITS)
    loaded = x509.Extension.load(_sequence(extension.contents), strict=True)
    value = loaded["extn_value"].parsed
    try:
        return value.native
    except AttributeError:
        # asn1crypto types some universal tags (ObjectDescriptor, [7] read as one
        # inside an untyped SEQUENCE) with classes that have no native value.
        raise ParseError("a value asn1crypto cannot show") from None


def friendly_name(name: x509.Name) -> str:
    """asn1crypto's human-friendly form of a Name; a value that is not a string (an
    attribute type it does not know) is shown as ``#`` and its DER in hex (RFC 4514)."""
    with field("Name"):
        # An attribute type asn1crypto does not know has an Any value: bytes, which
        # human_friendly would format with str(). Show them as RFC 4514 does.
        if not any(isinstance(a["value"], core.Any) for rdn in name.chosen for a in rdn):
            return str(name.human_friendly)
        copy = x509.Name.load(name.dump())
        for rdn in copy.chosen:
            for attribute in rdn:
                if isinstance(attribute["value"], core.Any):
                    text = "#" + attribute["value"].dump().hex()
                    attribute["value"] = x509.DirectoryString(name="utf8_string", value=text)
        return str(copy.human_friendly)


def name_text(name_der: bytes) -> str:
    """`friendly_name` of a DER Name."""
    with field("Name"):
        return friendly_name(x509.Name.load(name_der))


def check_name(name: x509.Name) -> None:
    """Refuse a Name with more than MAX_NAME_ATTRIBUTES attributes, before walking it."""
    with field("Name"):
        rdns = name.chosen.contents or b""
        position = total = 0
        while position < len(rdns):
            rdn = read_header(rdns, position)
            total += count_children(
                rdns[rdn.content_start : rdn.content_end], MAX_NAME_ATTRIBUTES, "name attributes"
            )
            if total > MAX_NAME_ATTRIBUTES:
                raise LimitExceededError(f"a Name of more than {MAX_NAME_ATTRIBUTES} attributes")
            position = rdn.end
