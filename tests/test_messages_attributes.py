"""The SCEP signed-attribute codec: hypothesis round trips and strict structure."""

from __future__ import annotations

import pytest
from asn1crypto import core
from hypothesis import given
from hypothesis import strategies as st

from pyscep import (
    FailInfo,
    Finding,
    FindingCode,
    LocalProtocolError,
    MessageType,
    ParseError,
    PKIStatus,
    RemoteProtocolError,
)
from pyscep._asn1 import ScepAttribute
from pyscep._asn1 import ScepAttributes as Asn1Attributes
from pyscep.messages.attributes import ScepAttributes, decode_attributes, encode_attributes

PRINTABLE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?"

attributes = st.builds(
    ScepAttributes,
    message_type=st.none() | st.sampled_from(MessageType),
    transaction_id=st.none() | st.text(PRINTABLE, min_size=1, max_size=80),
    sender_nonce=st.none() | st.binary(min_size=16, max_size=16),
    recipient_nonce=st.none() | st.binary(min_size=16, max_size=16),
    pki_status=st.none() | st.sampled_from(PKIStatus),
    fail_info=st.none() | st.sampled_from(FailInfo),
    fail_info_text=st.none() | st.text(max_size=60),
)


def _roundtrip(value: ScepAttributes) -> tuple[ScepAttributes, tuple[Finding, ...]]:
    return decode_attributes(encode_attributes(value))


@given(attributes)
def test_roundtrip(value: ScepAttributes) -> None:
    decoded, findings = _roundtrip(value)
    assert decoded == value
    assert findings == ()


@given(attributes)
def test_encoding_is_printable_string_and_der(value: ScepAttributes) -> None:
    der = encode_attributes(value)
    assert Asn1Attributes.load(der).dump(force=True) == der
    for attribute in Asn1Attributes.load(der):
        if attribute["type"].native in (
            "message_type",
            "pki_status",
            "fail_info",
            "transaction_id",
        ):
            assert attribute["values"][0].name == "printable_string"


def _raw(type_name: str, *values: core.Asn1Value) -> Asn1Attributes:
    return Asn1Attributes([ScepAttribute({"type": type_name, "values": list(values)})])


def test_utf8_string_is_tolerated_and_reported() -> None:
    attrs = _raw("transaction_id", core.UTF8String("abc"))
    decoded, findings = decode_attributes(attrs.dump())
    assert decoded.transaction_id == "abc"
    assert findings == (
        Finding(
            FindingCode.NOT_PRINTABLE_STRING,
            "transaction_id is a utf8_string, not a PrintableString",
        ),
    )


@pytest.mark.parametrize("text", ["019", " 19", "", "99", "18a"])
def test_non_canonical_message_type(text: str) -> None:
    attrs = _raw("message_type", core.PrintableString(text))
    # Unknown to SCEP: refused with what a FAILURE reply needs (default-deny).
    with pytest.raises(RemoteProtocolError, match="unsupported messageType"):
        decode_attributes(attrs.dump())


def test_multi_valued_and_duplicated_attributes() -> None:
    two_values = _raw("message_type", core.PrintableString("19"), core.PrintableString("17"))
    with pytest.raises(ParseError, match="exactly one value"):
        decode_attributes(two_values.dump())
    twice = Asn1Attributes(
        [
            ScepAttribute({"type": "message_type", "values": [core.PrintableString("19")]}),
            ScepAttribute({"type": "message_type", "values": [core.PrintableString("17")]}),
        ]
    )
    with pytest.raises(ParseError, match="more than once"):
        decode_attributes(twice.dump())


def test_bad_transaction_ids() -> None:
    with pytest.raises(ParseError):
        decode_attributes(_raw("transaction_id", core.UTF8String("a\x00b")).dump())
    with pytest.raises(ParseError):
        decode_attributes(_raw("transaction_id", core.PrintableString("A" * 300)).dump())


def test_short_nonce_is_reported() -> None:
    attrs = _raw("sender_nonce", core.OctetString(b"12345678"))
    decoded, findings = decode_attributes(attrs.dump())
    assert decoded.sender_nonce == b"12345678"
    assert findings == (Finding(FindingCode.NONCE_LENGTH, "sender_nonce is 8 bytes, not 16"),)


def test_wrong_value_type_is_a_parse_error() -> None:
    # senderNonce as a PrintableString: wrong type, refused inside the boundary.
    attrs = _raw("sender_nonce", core.OctetString(b"x" * 16))
    der = bytearray(attrs.dump())
    der[der.index(b"\x04\x10")] = 0x13
    with pytest.raises(ParseError):
        decode_attributes(bytes(der))


def test_unknown_attribute_is_reported() -> None:
    attrs = Asn1Attributes([ScepAttribute({"type": "1.2.3.4", "values": [core.Null()]})])
    _, findings = decode_attributes(attrs.dump())
    assert findings == (Finding(FindingCode.UNKNOWN_ATTRIBUTE, "unknown signed attribute 1.2.3.4"),)


def test_encoder_refuses_non_printable_transaction_id() -> None:
    with pytest.raises(LocalProtocolError, match="PrintableString"):
        encode_attributes(ScepAttributes(transaction_id="caf\u00e9"))
