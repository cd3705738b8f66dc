"""The SCEP signed attributes (RFC 8894 section 3.2.1) as one typed value.

`ScepAttributes` holds messageType, transactionID, senderNonce,
recipientNonce, pkiStatus, failInfo and failInfoText. `encode_attributes`
gives the DER SET a builder signs (always PrintableString, as the RFC
requires); `decode_attributes` reads them from DER, tolerating UTF8String and
IA5String where PrintableString is due (and saying so in the findings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from asn1crypto import core

from pyscep import _der_writer as w
from pyscep._asn1 import ScepAttribute
from pyscep._asn1 import ScepAttributes as _Asn1Attributes
from pyscep._boundary import field
from pyscep._der import count_children, prescan, read_header
from pyscep._der_reader import STRING_TYPES, NotCanonicalError, decode_string
from pyscep.cms.signed import MAX_SIGNED_ATTRIBUTES
from pyscep.enums import FailInfo, MessageType, PKIStatus
from pyscep.errors import LocalProtocolError, ParseError, RemoteProtocolError
from pyscep.findings import Finding, FindingCode
from pyscep.oids import ScepAttributeOID

__all__ = ["MAX_TRANSACTION_ID_LENGTH", "ScepAttributes", "decode_attributes", "encode_attributes"]

#: Longest transactionID accepted (RFC 8894 sets none; real ones are 20-64).
MAX_TRANSACTION_ID_LENGTH = 256
_PRINTABLE = re.compile(r"[A-Za-z0-9 '()+,\-./:=?]*\Z")
#: 16 bytes per RFC 8894; old iOS sends 8 (accepted, and reported).
_NONCE_LENGTHS = (8, 16)
_STRING_ATTRIBUTES = ("message_type", "pki_status", "fail_info", "transaction_id")
_SCEP_ATTRIBUTES = (*_STRING_ATTRIBUTES, "sender_nonce", "recipient_nonce", "fail_info_text")


@dataclass(frozen=True)
class ScepAttributes:
    """The SCEP-specific signed attributes of one pkiMessage; None means absent."""

    message_type: MessageType | None = None
    transaction_id: str | None = None
    sender_nonce: bytes | None = None
    recipient_nonce: bytes | None = None
    pki_status: PKIStatus | None = None
    fail_info: FailInfo | None = None
    fail_info_text: str | None = None


def _printable(value: str, name: str) -> core.PrintableString:
    if not _PRINTABLE.match(value):
        raise LocalProtocolError(f"{name} must be a PrintableString")
    return core.PrintableString(value)


def encode_attributes(attributes: ScepAttributes) -> bytes:
    """DER SET OF Attribute (DER-sorted) for every field that is set."""
    return bytes(_Asn1Attributes(attribute_list(attributes)).dump())


def attribute_ders(attributes: ScepAttributes) -> list[bytes]:
    """DER of each Attribute for the fields that are set (what a builder signs with).

    Written directly (`pyscep._der_writer`); `attribute_list` is the same in
    asn1crypto objects, and the tests check both give the same bytes.
    """
    oid = ScepAttributeOID
    text = attributes.fail_info_text
    values: list[tuple[str, bytes | None]] = [
        (oid.MESSAGE_TYPE, _wire(attributes.message_type)),
        (oid.PKI_STATUS, _wire(attributes.pki_status)),
        (oid.FAIL_INFO, _wire(attributes.fail_info)),
        (oid.TRANSACTION_ID, _transaction_id(attributes.transaction_id)),
        (oid.SENDER_NONCE, _octets(attributes.sender_nonce)),
        (oid.RECIPIENT_NONCE, _octets(attributes.recipient_nonce)),
        (oid.FAIL_INFO_TEXT, None if text is None else w.utf8_string(text)),
    ]
    # SEQUENCE { OID, SET { value } }: a SET of one value needs no sorting.
    return [w.tlv(0x30, w.oid(kind) + w.tlv(0x31, value)) for kind, value in values if value]


def _wire(value: MessageType | PKIStatus | FailInfo | None) -> bytes | None:
    return None if value is None else w.printable_string(value.wire)


def _octets(value: bytes | None) -> bytes | None:
    return None if value is None else w.octet_string(value)


def _transaction_id(value: str | None) -> bytes | None:
    if value is None:
        return None
    if not _PRINTABLE.match(value):
        raise LocalProtocolError("transactionID must be a PrintableString")
    return w.printable_string(value)


def attribute_list(attributes: ScepAttributes) -> list[ScepAttribute]:
    """The set fields as asn1crypto attributes (this package's builders only)."""

    def make(type_name: str, value: core.Asn1Value) -> ScepAttribute:
        return ScepAttribute({"type": type_name, "values": [value]})

    result = []
    if attributes.message_type is not None:
        result.append(make("message_type", core.PrintableString(attributes.message_type.wire)))
    if attributes.pki_status is not None:
        result.append(make("pki_status", core.PrintableString(attributes.pki_status.wire)))
    if attributes.fail_info is not None:
        result.append(make("fail_info", core.PrintableString(attributes.fail_info.wire)))
    if attributes.transaction_id is not None:
        result.append(
            make("transaction_id", _printable(attributes.transaction_id, "transactionID"))
        )
    if attributes.sender_nonce is not None:
        result.append(make("sender_nonce", core.OctetString(attributes.sender_nonce)))
    if attributes.recipient_nonce is not None:
        result.append(make("recipient_nonce", core.OctetString(attributes.recipient_nonce)))
    if attributes.fail_info_text is not None:
        result.append(make("fail_info_text", core.UTF8String(attributes.fail_info_text)))
    return result


def decode_attributes(der: bytes) -> tuple[ScepAttributes, tuple[Finding, ...]]:
    """Typed SCEP attributes from a DER SET OF Attribute, plus the tolerated deviations.

    Structure is checked strictly: each SCEP attribute at most once, with
    exactly one value of the right type, canonical digits for the numeric
    ones, PrintableString characters for transactionID. ParseError on any
    defect; RemoteProtocolError (with the transactionID and senderNonce, when
    readable) for an unknown messageType.
    """
    prescan(der)
    with field("signedAttrs"):
        top = read_header(der)
        count_children(
            der[top.content_start : top.content_end], MAX_SIGNED_ATTRIBUTES, "attributes"
        )
        attrs = _Asn1Attributes.load(der, strict=True)
        return decode_parsed(attrs)


def decode_parsed(attrs: _Asn1Attributes) -> tuple[ScepAttributes, tuple[Finding, ...]]:
    """`decode_attributes` on an already parsed SET (this package's parsers)."""
    findings: list[Finding] = []
    values: dict[str, tuple[str, object]] = {}
    for attribute in attrs:
        name = attribute["type"].native
        if name not in _SCEP_ATTRIBUTES:
            if name not in ("content_type", "message_digest", "signing_time"):
                findings.append(_unknown_attribute(attribute["type"].dotted))
            continue
        _check_once(name, values)
        with field(name):
            if count_children(attribute["values"].contents or b"", 8, "values") != 1:
                raise ParseError("attribute must have exactly one value")
            value = attribute["values"][0]
            kind = value.name if isinstance(value, core.Choice) else ""
            values[name] = (kind, value.native)
    return _typed(values, findings)


def decode_read(
    raw: tuple[tuple[str, tuple[tuple[int, bytes], ...]], ...],
) -> tuple[ScepAttributes, tuple[Finding, ...]]:
    """`decode_parsed` on the (tag, contents) values the DER fast path read.

    Raises NotCanonicalError for what it leaves to `decode_parsed` (a value count
    other than one, strings that do not decode).
    """
    values: dict[str, tuple[str, object]] = {}
    for name, read in raw:
        if name not in _SCEP_ATTRIBUTES:
            continue  # the fast path reads no attribute types it does not know
        _check_once(name, values)
        if len(read) != 1:
            raise NotCanonicalError
        tag, contents = read[0]
        if tag in STRING_TYPES:  # a ScepString choice
            values[name] = (STRING_TYPES[tag][0], decode_string(tag, contents))
        else:
            values[name] = ("", contents)
    return _typed(values, [])


def _unknown_attribute(dotted: str) -> Finding:
    return Finding(FindingCode.UNKNOWN_ATTRIBUTE, f"unknown signed attribute {dotted}")


def _check_once(name: str, values: dict[str, tuple[str, object]]) -> None:
    if name in values:
        # Parsers that keep the first or the last would disagree: refuse.
        raise ParseError(
            f"{name} appears more than once",
            path=("signedAttrs",),
            fail_info=FailInfo.BAD_MESSAGE_CHECK,
        )


def _typed(
    values: dict[str, tuple[str, object]], findings: list[Finding]
) -> tuple[ScepAttributes, tuple[Finding, ...]]:
    """The typed attributes from each SCEP attribute's one value: (choice name, decoded)."""

    # Errors carry the attribute's name as their path (what `field` would add): no
    # context manager on this path, which every message takes.
    def text(name: str) -> str | None:
        if name not in values:
            return None
        kind, native = values[name]
        if kind != "printable_string":
            findings.append(
                Finding(
                    FindingCode.NOT_PRINTABLE_STRING,
                    f"{name} is a {kind}, not a PrintableString",
                )
            )
        if not isinstance(native, str):  # pragma: no cover - both readers give str
            raise TypeError(f"{name} was read as {type(native).__name__}")
        if not _PRINTABLE.match(native):
            raise ParseError("not PrintableString characters", path=(name,))
        return native

    def wire(name: str, enum: type[PKIStatus] | type[FailInfo]) -> object:
        value = text(name)
        if value is None:
            return None
        try:
            return enum.from_wire(value)
        except ValueError:
            raise ParseError(f"unknown value {value[:16]!r}", path=(name,)) from None

    transaction_id = text("transaction_id")
    if transaction_id is not None and not 0 < len(transaction_id) <= MAX_TRANSACTION_ID_LENGTH:
        raise ParseError("transactionID is empty or too long", path=("transaction_id",))
    nonces = {}
    for name in ("sender_nonce", "recipient_nonce"):
        if name in values:
            nonce = values[name][1]
            if not isinstance(nonce, bytes):  # pragma: no cover - both readers give bytes
                raise TypeError(f"{name} was read as {type(nonce).__name__}")
            if len(nonce) not in _NONCE_LENGTHS:
                raise ParseError(f"{len(nonce)}-byte nonce", path=(name,))
            if len(nonce) != 16:
                findings.append(
                    Finding(FindingCode.NONCE_LENGTH, f"{name} is {len(nonce)} bytes, not 16")
                )
            nonces[name] = nonce
    fail_info_text = None
    if "fail_info_text" in values:
        with field("fail_info_text"):
            fail_info_text = str(values["fail_info_text"][1])
    raw_type = text("message_type")
    message_type: MessageType | None = None
    if raw_type is not None:
        try:
            message_type = MessageType(MessageType.from_wire(raw_type))
        except ValueError:
            # Recover what a FAILURE reply needs, then refuse (default-deny).
            raise RemoteProtocolError(
                f"unsupported messageType {raw_type[:16]!r}",
                transaction_id=transaction_id,
                sender_nonce=nonces.get("sender_nonce"),
            ) from None
    decoded = ScepAttributes(
        message_type=message_type,
        transaction_id=transaction_id,
        sender_nonce=nonces.get("sender_nonce"),
        recipient_nonce=nonces.get("recipient_nonce"),
        pki_status=wire("pki_status", PKIStatus),  # type: ignore[arg-type]
        fail_info=wire("fail_info", FailInfo),  # type: ignore[arg-type]
        fail_info_text=fail_info_text,
    )
    return decoded, tuple(findings)
