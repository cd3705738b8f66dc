"""Errors, wire constants, the TLV reader and asn1crypto isolation."""

from __future__ import annotations

import pytest
from asn1crypto import cms

import pyscep
import pyscep.messages.attributes
from pyscep import (
    CACapability,
    DecryptionError,
    FailInfo,
    LocalProtocolError,
    MessageType,
    ParseError,
    PKIStatus,
    ProtocolError,
    RemoteProtocolError,
    ScepError,
    UnsupportedAlgorithmError,
    VerificationError,
)
from pyscep._boundary import field
from pyscep._der import octet_string_value, read_header
from pyscep.oids import ScepAttributeOID


def test_wire_values() -> None:
    assert [m.wire for m in MessageType] == ["3", "17", "18", "19", "20", "21", "22"]
    assert MessageType(20).name == "CERT_POLL"
    assert MessageType["GET_CERT_INITIAL"] == MessageType.CERT_POLL
    assert MessageType.CERT_POLL.rfc_name == "CertPoll"
    assert [s.wire for s in PKIStatus] == ["0", "2", "3"]
    assert [f.rfc_name for f in FailInfo] == [
        "badAlg",
        "badMessageCheck",
        "badRequest",
        "badTime",
        "badCertId",
    ]
    assert str(CACapability.SCEP_STANDARD) == "SCEPStandard"
    # Zero on the wire, but a present value is truthy.
    assert PKIStatus.SUCCESS
    assert FailInfo.BAD_ALG
    assert int(PKIStatus.SUCCESS) == 0
    assert ScepAttributeOID.FAIL_INFO_TEXT == "1.3.6.1.5.5.7.24.1"


def test_error_hierarchy_and_fail_info() -> None:
    for cls in (
        ParseError,
        VerificationError,
        DecryptionError,
        UnsupportedAlgorithmError,
        LocalProtocolError,
        RemoteProtocolError,
    ):
        assert issubclass(cls, ScepError)
    assert issubclass(ParseError, ValueError)
    assert ParseError("x").fail_info is FailInfo.BAD_REQUEST
    assert VerificationError("x").fail_info is FailInfo.BAD_MESSAGE_CHECK
    assert UnsupportedAlgorithmError("x").fail_info is FailInfo.BAD_ALG
    assert DecryptionError().fail_info is FailInfo.BAD_MESSAGE_CHECK
    assert VerificationError("x", fail_info=FailInfo.BAD_CERT_ID).fail_info is FailInfo.BAD_CERT_ID
    assert str(DecryptionError()) == DecryptionError.MESSAGE
    with pytest.raises(TypeError):
        ProtocolError("abstract")
    remote = RemoteProtocolError("nonce mismatch", transaction_id="T", sender_nonce=b"n")
    assert (remote.transaction_id, remote.sender_nonce) == ("T", b"n")


def test_boundary_builds_a_breadcrumb() -> None:
    with pytest.raises(ParseError) as caught, field("outer"), field("inner"):
        [][1]
    assert caught.value.path == ("outer", "inner")
    assert isinstance(caught.value.__cause__, IndexError)
    assert str(caught.value).startswith("outer/inner: ")
    with pytest.raises(VerificationError), field("x"):
        raise VerificationError("passes through")


@pytest.mark.parametrize(
    ("hex_input", "expected"),
    [
        ("04024142", b"AB"),
        ("24800401410401420000", b"AB"),
        ("a00a24040402414204024344", b"ABCD"),
        ("2400", b""),
    ],
)
def test_octet_strings(hex_input: str, expected: bytes) -> None:
    assert octet_string_value(bytes.fromhex(hex_input)) == expected


@pytest.mark.parametrize(
    "hex_input",
    [
        "",
        "30",
        "3084",
        "040541",
        "048061620000",
        "2403020100",
        "1f80010100",
        "1f818181810100",
        "0402414200",
        "2480040141",
    ],
)
def test_bad_tlv(hex_input: str) -> None:
    with pytest.raises(ParseError):
        octet_string_value(bytes.fromhex(hex_input))


def test_deep_indefinite_nesting_is_bounded() -> None:
    data = b"\x30\x80" * 200 + b"\x05\x00" + b"\x00\x00" * 200
    with pytest.raises(ParseError, match="nested too deeply"):
        read_header(data)


def test_asn1crypto_global_classes_untouched() -> None:
    # Using pyscep must not change what other asn1crypto users see.
    pyscep.messages.attributes.decode_attributes  # noqa: B018
    assert ScepAttributeOID.MESSAGE_TYPE not in cms.CMSAttributeType._map
    assert (
        cms.CMSAttributeType(ScepAttributeOID.MESSAGE_TYPE).native == ScepAttributeOID.MESSAGE_TYPE
    )
    assert "message_type" not in cms.CMSAttribute._oid_specs
