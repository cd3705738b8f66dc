"""GetCACaps, GetCACert / GetNextCACert and the GET message encoding."""

from __future__ import annotations

import base64

import pytest

from pyscep import (
    LEGACY,
    CACapability,
    ContentCipher,
    DigestAlgorithm,
    ParseError,
    UnsupportedAlgorithmError,
    VerificationError,
    load_signer,
)
from pyscep.http import decode_get_message, encode_get_message, query_parameter
from pyscep.messages.ca import (
    CA_CERT_CONTENT_TYPE,
    CA_RA_CERT_CONTENT_TYPE,
    build_ca_certificates,
    build_next_ca_certificates,
    parse_ca_certificates,
    parse_next_ca_certificates,
)
from pyscep.messages.caps import CACaps, negotiate
from pyscep.testing import make_identity
from tests.support.helpers import NOW, ndes_ra

CA = make_identity("caps CA", now=NOW, ca=True)


def test_ndes_style_ra_selection_by_key_usage() -> None:
    signing = ndes_ra(CA, "RA signing", "digital_signature", NOW).certificate
    encrypting = ndes_ra(CA, "RA encryption", "key_encipherment", NOW).certificate
    body, content_type = build_ca_certificates(CA.certificate, [signing, encrypting])
    assert content_type == CA_RA_CERT_CONTENT_TYPE
    found = parse_ca_certificates(body, now=NOW)
    assert found.ca == CA.certificate
    assert found.encryption == encrypting
    assert found.verification == (signing, CA.certificate)
    assert any("keyEncipherment" in reason for reason in found.reasons)


def test_single_ca_certificate() -> None:
    body, content_type = build_ca_certificates(CA.certificate)
    assert (body, content_type) == (CA.certificate.der, CA_CERT_CONTENT_TYPE)
    found = parse_ca_certificates(body, now=NOW)
    assert found.encryption == found.ca == CA.certificate


def test_get_next_ca_cert_is_verified_against_the_current_ca() -> None:
    next_ca = make_identity("next CA", now=NOW, ca=True)
    body = build_next_ca_certificates(
        [next_ca.certificate], signer=load_signer(CA.key_der, CA.certificate)
    )
    current = parse_ca_certificates(CA.certificate.der, now=NOW)
    assert parse_next_ca_certificates(body, current) == (next_ca.certificate,)
    forged = build_next_ca_certificates(
        [next_ca.certificate], signer=load_signer(next_ca.key_der, next_ca.certificate)
    )
    with pytest.raises(VerificationError):
        parse_next_ca_certificates(forged, current)


def test_caps_parsing_is_tolerant() -> None:
    caps = CACaps.parse(b"renewal\r\nsha-256\r\n\r\n  AES \r\nFancyNewThing\r\n")
    assert caps.keywords == ("renewal", "sha-256", "AES", "FancyNewThing")
    assert caps.line_separator == "CRLF"
    assert caps.trailing_newline
    assert caps.known == {CACapability.RENEWAL, CACapability.SHA_256, CACapability.AES}
    assert caps.unknown == ("FancyNewThing",)
    assert "Renewal" in caps
    assert CACapability.SHA_256 in caps
    assert "DES3" not in caps
    assert caps.dump() == b"Renewal\r\nSHA-256\r\nAES\r\nFancyNewThing\r\n"
    assert CACaps.parse(b"") == CACaps()
    with pytest.raises(ParseError):
        CACaps.parse("AES\n\u00e9".encode())


def test_caps_emitter_uses_rfc_spelling() -> None:
    caps = CACaps.of([CACapability.POST_PKI_OPERATION, "sha-512", CACapability.SCEP_STANDARD])
    assert caps.dump() == b"POSTPKIOperation\nSHA-512\nSCEPStandard"


@pytest.mark.parametrize(
    ("body", "digest", "cipher", "post"),
    [
        (b"SCEPStandard", DigestAlgorithm.SHA256, ContentCipher.AES128_CBC, True),
        (b"SHA-512\nDES3", DigestAlgorithm.SHA512, ContentCipher.TRIPLEDES_CBC, False),
        (b"SHA-1\nAES\nPOSTPKIOperation", DigestAlgorithm.SHA1, ContentCipher.AES128_CBC, True),
    ],
)
def test_negotiation(
    body: bytes, digest: DigestAlgorithm, cipher: ContentCipher, post: bool
) -> None:
    chosen = negotiate(CACaps.parse(body))
    assert (chosen.digest, chosen.cipher, chosen.use_post) == (digest, cipher, post)
    assert chosen.reasons


def test_no_caps_means_legacy_baseline_only_with_opt_in() -> None:
    with pytest.raises(UnsupportedAlgorithmError):
        negotiate(CACaps())
    chosen = negotiate(CACaps(), LEGACY)
    assert (chosen.digest, chosen.cipher, chosen.use_post) == (
        DigestAlgorithm.MD5,
        ContentCipher.DES_CBC,
        False,
    )
    with pytest.raises(UnsupportedAlgorithmError):
        negotiate(CACaps.parse(b"SHA-256"))  # no AES or DES3: single DES needs the opt-in


DER = bytes(range(256)) * 3


@pytest.mark.parametrize(
    "variant",
    [
        encode_get_message(DER),
        base64.b64encode(DER).decode(),  # bare + and / (macOS)
        base64.b64encode(DER).decode().replace("+", " "),  # + form-decoded to a space
        "%0A".join(base64.b64encode(DER).decode()[i : i + 64] for i in range(0, 1024, 64)),
        base64.urlsafe_b64encode(DER).decode().rstrip("="),
    ],
)
def test_get_message_variants(variant: str) -> None:
    assert decode_get_message(variant) == DER


def test_get_message_limits_and_garbage() -> None:
    with pytest.raises(ParseError):
        decode_get_message("A" * (3 * 1024 * 1024))
    with pytest.raises(ParseError):
        decode_get_message("not*base64!")


def test_query_parameter() -> None:
    assert query_parameter("GET /scep?operation=GetCACert&message=CA HTTP/1.0", "message") == "CA"
    assert query_parameter("/scep?operation=GetCACaps", "message") is None
    assert query_parameter("operation=PKIOperation&message=x%2B", "message") == "x%2B"
