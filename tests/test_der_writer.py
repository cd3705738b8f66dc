"""The DER writer against its oracle: asn1crypto must write the same bytes, and refuse the same.

`pyscep._der_writer` assembles the hot-path structures (SignedData,
EnvelopedData with key transport, certs-only SignedData, the SCEP signed
attributes, the certificates a CA issues) from pre-encoded pieces;
`tests/asn1_reference.py` builds them
with asn1crypto objects, as pyscep did before. Same inputs, same bytes.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import core, keys, x509
from hypothesis import given, settings
from hypothesis import strategies as st

import pyscep
from pyscep import _der_writer as w
from pyscep.algorithms import ContentCipher, DigestAlgorithm, KeyTransport, SignatureScheme
from pyscep.certificate import Certificate
from pyscep.cms.degenerate import build_certs_only
from pyscep.cms.enveloped import build_enveloped_data
from pyscep.cms.signed import build_signed_data, default_scheme, parse_signed_data
from pyscep.enums import FailInfo, MessageType, PKIStatus
from pyscep.messages import identity
from pyscep.messages.attributes import ScepAttributes, attribute_ders
from pyscep.testing import SeededBackend, make_identity
from tests.support import asn1_reference
from tests.support.helpers import NOW

ROOT = Path(__file__).resolve().parents[1]
#: The oracle (untyped: it is asn1crypto all the way down).
reference: Any = asn1_reference
IDENTITIES = {
    kind: make_identity(f"writer {kind}", now=NOW, key_type=kind) for kind in ("rsa", "ec-p256")
}
CA = make_identity("writer CA", now=NOW, ca=True)


class FixedSigner:
    """A Signer whose signature is a hash of what it signs: the same on both sides."""

    def __init__(self, certificate: Certificate) -> None:
        self.certificate = certificate

    def sign(self, data: bytes, digest: DigestAlgorithm, scheme: SignatureScheme) -> bytes:
        return hashlib.sha512(data + scheme.value.encode() + digest.value.encode()).digest()


@pytest.mark.parametrize("value", [-129, -128, -127, -1, 0, 127, 128, 255, 256, -(2**63)])
def test_integers_at_the_octet_boundaries(value: int) -> None:
    # -128 is one octet (0x80): found by the hypothesis test below, written twice before.
    assert w.integer(value) == core.Integer(value).dump()


@given(st.integers(min_value=-(2**600), max_value=2**600))
def test_integers(value: int) -> None:
    assert w.integer(value) == core.Integer(value).dump()


@given(
    st.integers(min_value=0, max_value=2),
    st.integers(min_value=0, max_value=39),
    st.lists(st.integers(min_value=0, max_value=2**64), max_size=12),
)
def test_object_identifiers(first: int, second: int, rest: list[int]) -> None:
    dotted = ".".join(str(arc) for arc in [first, second, *rest])
    assert w.oid(dotted) == core.ObjectIdentifier(dotted).dump()


@given(st.binary(max_size=70_000))
@settings(max_examples=60)
def test_lengths_and_strings(value: bytes) -> None:
    assert w.octet_string(value) == core.OctetString(value).dump()


@pytest.mark.parametrize(
    "size", [0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x101, 0xFFFF, 0x10000, 0x10001, 0x123456]
)
def test_tlv_writes_the_length_as_length_writes_it(size: int) -> None:
    # tlv inlines length's common cases: at every boundary it must agree with it,
    # and with asn1crypto.
    content = b"\x5a" * size
    assert w.tlv(0x04, content) == b"\x04" + w.length(size) + content
    assert w.tlv(0x04, content) == core.OctetString(content).dump()


@given(st.lists(st.binary(max_size=40), max_size=12))
def test_set_of_is_sorted_as_der_requires(values: list[bytes]) -> None:
    class OctetStrings(core.SetOf):  # type: ignore[misc]
        _child_spec = core.OctetString

    assert w.set_of([w.octet_string(v) for v in values]) == OctetStrings(values).dump(force=True)


_ATTRIBUTES = st.builds(
    ScepAttributes,
    message_type=st.none() | st.sampled_from(list(MessageType)),
    transaction_id=st.none() | st.text(alphabet="ABCDEF0123456789 -.:", max_size=64),
    sender_nonce=st.none() | st.binary(min_size=16, max_size=16),
    recipient_nonce=st.none() | st.binary(min_size=8, max_size=16),
    pki_status=st.none() | st.sampled_from(list(PKIStatus)),
    fail_info=st.none() | st.sampled_from(list(FailInfo)),
    fail_info_text=st.none() | st.text(max_size=80),
)


@given(_ATTRIBUTES)
def test_scep_attributes(attributes: ScepAttributes) -> None:
    assert attribute_ders(attributes) == reference.attribute_ders(attributes)


def test_a_transaction_id_that_is_no_printable_string_is_refused_by_both() -> None:
    bad = ScepAttributes(transaction_id="é")
    for build in (attribute_ders, reference.attribute_ders):
        with pytest.raises(pyscep.LocalProtocolError):
            build(bad)


@settings(max_examples=80, deadline=None)
@given(
    kind=st.sampled_from(["rsa", "ec-p256", "ed25519"]),
    content=st.none() | st.binary(max_size=300),
    digest=st.sampled_from([DigestAlgorithm.SHA1, DigestAlgorithm.SHA256, DigestAlgorithm.SHA512]),
    attributes=_ATTRIBUTES,
    certificates=st.sampled_from(["signer", "none", "two"]),
    signing_time=st.booleans(),
    digest_in_oid=st.booleans(),
)
def test_signed_data(
    kind: str,
    content: bytes | None,
    digest: DigestAlgorithm,
    attributes: ScepAttributes,
    certificates: str,
    signing_time: bool,
    digest_in_oid: bool,
) -> None:
    certificate = ED25519.certificate if kind == "ed25519" else IDENTITIES[kind].certificate
    signer = FixedSigner(certificate)
    embedded = {"signer": None, "none": [], "two": [certificate, CA.certificate]}[certificates]
    options: dict[str, Any] = {
        "digest": digest,
        "backend": pyscep.get_backend(),
        "algorithms": pyscep.LEGACY,
        "attributes": attribute_ders(attributes),
        "certificates": embedded,
        "signing_time": NOW.replace(microsecond=0) if signing_time else None,
        "rsa_digest_in_signature_oid": digest_in_oid,
        "scheme": default_scheme(certificate),
    }
    ours = build_signed_data(content, signer, **options)
    theirs = reference.build_signed_data(content, signer, **options)
    assert ours == theirs


ED25519 = pyscep.messages.self_signed_signer(
    pyscep.load_private_key(
        __import__(
            "cryptography.hazmat.primitives.asymmetric.ed25519", fromlist=["x"]
        ).Ed25519PrivateKey.generate()
    ),
    "CN=writer ed25519",
    now=NOW,
)


@pytest.mark.parametrize(
    "attribute",
    [b"", b"\x30\x00", b"\x31\x00", b"\x30\x03\x06\x01\x00", b"\x30\x05\x06\x01\x00\x31\x00\x00"],
)
def test_a_malformed_attribute_is_refused_by_both(attribute: bytes) -> None:
    """The writer refuses it; asn1crypto refuses it too, or (being lazy) writes a
    message that pyscep's reader then refuses: nobody ends up with one."""
    signer = FixedSigner(IDENTITIES["rsa"].certificate)
    options: dict[str, Any] = {
        "digest": DigestAlgorithm.SHA256,
        "backend": pyscep.get_backend(),
        "algorithms": pyscep.DEFAULT_POLICY,
        "attributes": [attribute],
    }
    with pytest.raises(pyscep.ParseError):
        build_signed_data(b"x", signer, **options)
    try:
        written = reference.build_signed_data(b"x", signer, **options)
    except pyscep.ParseError:
        return
    with pytest.raises(pyscep.ParseError):
        pyscep.messages.decode_attributes(
            parse_signed_data(written).signer_infos[0].signed_attrs_der or b""
        )


def _crl(entries: int) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    key = serialization.load_der_private_key(CA.key_der, None)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(CA.certificate.to_cryptography().subject)
        .last_update(datetime.now(timezone.utc))
        .next_update(datetime.now(timezone.utc) + timedelta(days=1))
    )
    for serial in range(1, entries + 1):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(datetime.now(timezone.utc))
            .build()
        )
    return bytes(builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))  # type: ignore[arg-type]


@pytest.mark.parametrize("certificates", [0, 1, 3])
@pytest.mark.parametrize("crls", [0, 1, 2])
def test_certs_only(certificates: int, crls: int) -> None:
    chain = [IDENTITIES["rsa"].certificate, CA.certificate, IDENTITIES["ec-p256"].certificate]
    lists = [_crl(n) for n in (3, 0)][:crls]
    assert build_certs_only(chain[:certificates], lists) == reference.build_certs_only(
        chain[:certificates], lists
    )


@pytest.mark.parametrize("not_a_crl", [b"\x04\x00", b"\x30\x00\x00", b""])
def test_certs_only_refuses_what_is_no_crl_as_before(not_a_crl: bytes) -> None:
    for build in (build_certs_only, reference.build_certs_only):
        with pytest.raises(pyscep.ParseError):
            build([], [not_a_crl])


@pytest.mark.parametrize("cipher", [c for c in ContentCipher if not c.read_only])
@pytest.mark.parametrize(
    "transport",
    [KeyTransport.RSA_PKCS1V15, KeyTransport.RSA_OAEP_SHA1,
     KeyTransport(oaep_hash=DigestAlgorithm.SHA256)],
)  # fmt: skip
@pytest.mark.parametrize("size", [0, 1, 15, 16, 1000])
def test_key_transport_envelopes(cipher: ContentCipher, transport: KeyTransport, size: int) -> None:
    content = bytes(range(256)) * 4
    options: dict[str, Any] = {
        "cipher": cipher,
        "backend": pyscep.get_backend(),
        "algorithms": pyscep.LEGACY,
        "key_transport": transport,
    }
    ours = build_enveloped_data(
        content[:size],
        CA.certificate,
        rng=SeededBackend(b"w").random_bytes,
        **options,
    )
    theirs = reference.enveloped_ktri(
        content[:size], CA.certificate, rng=SeededBackend(b"w").random_bytes, **options
    )
    assert ours == theirs


def test_issuer_and_serial_number_is_what_asn1crypto_writes() -> None:
    from asn1crypto import cms, x509

    certificates = [CA.certificate, *(identity.certificate for identity in IDENTITIES.values())]
    vectors = Certificate.load_all(
        (ROOT / "tests" / "vectors" / "keys" / "micromdm-ca.crt").read_bytes()
    )
    for certificate in [*certificates, *vectors]:
        expected = cms.IssuerAndSerialNumber(
            {
                "issuer": x509.Name.load(certificate.issuer_der),
                "serial_number": certificate.serial_number,
            }
        ).dump()
        assert certificate.issuer_and_serial_der == expected


@pytest.mark.parametrize("size", range(0, 49))
def test_content_padding_is_what_cryptography_pads(size: int) -> None:
    """PKCS#7 padding written by hand equals cryptography's padder: the ciphertext with a
    fixed key and IV is the same, and it decrypts to the plaintext."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    backend = pyscep.get_backend()
    key, iv, plaintext = bytes(range(16)), bytes(range(16, 32)), bytes(range(size))
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    expected = encryptor.update(padded) + encryptor.finalize()
    encrypted = backend.encrypt_content(ContentCipher.AES128_CBC, key, iv, plaintext)
    assert encrypted == expected
    assert backend.decrypt_content(ContentCipher.AES128_CBC, key, iv, encrypted) == plaintext


_USAGES = list(identity._KEY_USAGE_BITS)
_NAMES = [
    "dns_name:device-7.example.com",
    "rfc822_name:ops@example.com",
    "uniform_resource_identifier:https://id.example.com/7",
    "ip_address:10.1.2.3",
    "ip_address:2001:db8::7",
]
_PURPOSES = ["client_auth", "server_auth", "ipsec_ike", "1.3.6.1.4.1.311.20.2.2", "2.5.29.37.0"]


@settings(max_examples=150, deadline=None)
@given(
    subject=st.sampled_from(["rsa", "ec-p256"]),
    serial=st.integers(min_value=1, max_value=2**159),
    years=st.integers(min_value=-90, max_value=60),
    seconds=st.integers(min_value=0, max_value=10**9),
    ca=st.booleans(),
    usage=st.sets(st.sampled_from(_USAGES)),
    names=st.lists(st.sampled_from(_NAMES), unique=True, max_size=3),
    crl_urls=st.lists(
        st.sampled_from(["http://a.example/ca.crl", "ldap://b.example/x"]), unique=True, max_size=2
    ),
    purposes=st.lists(st.sampled_from(_PURPOSES), unique=True, max_size=3),
    access=st.lists(
        st.sampled_from(
            [("ca_issuers", "http://a.example/ca.cer"), ("ocsp", "http://ocsp.example")]
        ),
        unique=True,
        max_size=2,
    ),
    sid=st.none() | st.sampled_from(["S-1-5-21-1004336348-1177238915-682003330-512", "S-1-0-0"]),
)
def test_certificates(
    subject: str,
    serial: int,
    years: int,
    seconds: int,
    ca: bool,
    usage: set[str],
    names: list[str],
    crl_urls: list[str],
    purposes: list[str],
    access: list[tuple[str, str]],
    sid: str | None,
) -> None:
    """Every extension issue_certificate writes, any serial, both time encodings (UTCTime
    from 1950 through 2049 only)."""
    key = IDENTITIES[subject].signer
    start = NOW.replace(microsecond=123) + timedelta(days=365 * years, seconds=seconds)
    arguments = {
        "issuer_key": CA.signer,
        "issuer_spki": keys.PublicKeyInfo.load(CA.certificate.public_key_der),
        "issuer_name": x509.Name.load(CA.certificate.subject_der),
        "subject_name": x509.Name.load(IDENTITIES[subject].certificate.subject_der),
        "subject_spki": keys.PublicKeyInfo.load(key.certificate.public_key_der),
        "serial_number": serial,
        "not_before": start,
        "not_after": start + timedelta(days=400),
        "ca": ca,
        "key_usage": usage,
        "digest": DigestAlgorithm.SHA256,
        "subject_alt_names": [identity._general_name(name) for name in names],
        "crl_urls": crl_urls,
        "extended_key_usage": [identity.extended_key_purpose(p) for p in purposes],
        "access": access,
        "sid": sid,
    }
    written = identity._certificate(**arguments)
    assert written.der == reference.reference_certificate(**arguments).der
