"""Three codec classes an independent corpus of real CMS found (issue 23, part 1).

- A key-agreement sender that writes the key wrap's NULL parameters and derives its
  key over that encoding: OpenSSL honours it, and so must pyscep.
- INTEGERs as long as the keys that exist: a certificate with a DSA prime embedded.
- A signed attribute pyscep does not read, whose value asn1crypto cannot decode: kept
  raw and reported, not a failed parse.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from asn1crypto import cms, core, x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, keywrap, padding, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

from pyscep import DEFAULT_POLICY, Certificate, DecryptionError, FailInfo, FindingCode, ParseError
from pyscep._parser_switch import asn1crypto_only, count_paths
from pyscep.cms.enveloped import decrypt_envelope, parse_enveloped_data
from pyscep.crypto import CryptoBackend, get_backend
from pyscep.messages import open_request, parse_pki_message
from pyscep.testing import DemoIdentity, SeededBackend, fixed_keys, make_identity
from tests.support.catalog import assemble, envelope, raw_attr, scep_attrs
from tests.support.helpers import NOW, current_time, openssl, pem_cert, pem_key

BACKEND = get_backend()
KEYS = fixed_keys()
_Value = TypeVar("_Value")


def both_paths(parse: Callable[[], _Value]) -> tuple[_Value, _Value]:
    """``parse()`` as shipped and with the fast path off, proving the second ran alone."""
    shipped = parse()
    with asn1crypto_only(), count_paths() as forced:
        slow = parse()
    assert forced.total("fast") == 0
    assert forced.total("asn1crypto") >= 1
    return shipped, slow


# --- key agreement: the KDF over the key wrap as the sender encoded it ----------------

AES128_WRAP = "2.16.840.1.101.3.4.1.5"
DH_SINGLE_PASS_SHA256 = "1.3.132.1.11.1"
NULL_PARAMETERS = bytes.fromhex("300d060960864801650304010505 00".replace(" ", ""))
ABSENT_PARAMETERS = bytes.fromhex("300b0609608648016503040105")


def _key_agreement_envelope(
    identity: DemoIdentity,
    content: bytes,
    *,
    sent_wrap: bytes,
    derived_over: bytes,
) -> bytes:
    """An EnvelopedData with one KeyAgreeRecipientInfo, built here without pyscep: the key
    wrap AlgorithmIdentifier ``sent_wrap`` is written, the KEK derived over ``derived_over``."""
    recipient_key = serialization.load_der_private_key(identity.key_der, None)
    assert isinstance(recipient_key, ec.EllipticCurvePrivateKey)
    recipient = identity.certificate
    ephemeral = ec.generate_private_key(recipient_key.curve)
    secret = ephemeral.exchange(ec.ECDH(), recipient_key.public_key())
    shared_info = bytes(
        core.Sequence.load(
            b"\x30"
            + bytes([len(derived_over) + 8])
            + derived_over
            + b"\xa2\x06\x04\x04\x00\x00\x00\x80"  # suppPubInfo: 128 bits
        ).dump()
    )
    kek = X963KDF(hashes.SHA256(), 16, shared_info).derive(secret)
    content_key, iv = bytes(range(16)), bytes(range(16, 32))
    encrypted_key = keywrap.aes_key_wrap(kek, content_key)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(content) + padder.finalize()
    encryptor = Cipher(algorithms.AES(content_key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    point = ephemeral.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    kari = cms.KeyAgreeRecipientInfo(
        {
            "version": "v3",
            "originator": {
                "originator_key": {"algorithm": {"algorithm": "ec"}, "public_key": point}
            },
            "key_encryption_algorithm": {
                "algorithm": DH_SINGLE_PASS_SHA256,
                "parameters": core.Any.load(sent_wrap),
            },
            "recipient_encrypted_keys": [
                {
                    "rid": {
                        "issuer_and_serial_number": {
                            "issuer": x509.Name.load(recipient.issuer_der),
                            "serial_number": recipient.serial_number,
                        }
                    },
                    "encrypted_key": encrypted_key,
                }
            ],
        }
    )
    enveloped = cms.EnvelopedData(
        {
            "version": "v2",
            "recipient_infos": [cms.RecipientInfo({"kari": kari})],
            "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": {"algorithm": "aes128_cbc", "parameters": iv},
                "encrypted_content": ciphertext,
            },
        }
    )
    info = cms.ContentInfo({"content_type": "enveloped_data", "content": enveloped})
    return bytes(info.dump())


@pytest.fixture(scope="module")
def ec_recipient() -> DemoIdentity:
    return make_identity("KARI recipient", now=current_time(), key_type="ec-p256")


def _open_in_openssl(tmp_path: Path, identity: DemoIdentity, der: bytes) -> bytes:
    (tmp_path / "r.crt").write_bytes(pem_cert(identity.certificate))
    (tmp_path / "r.key").write_bytes(pem_key(identity))
    (tmp_path / "m.der").write_bytes(der)
    return openssl(
        ["cms", "-decrypt", "-inform", "DER", "-in", str(tmp_path / "m.der"), "-recip",
         str(tmp_path / "r.crt"), "-inkey", str(tmp_path / "r.key"), "-binary"]
    )  # fmt: skip


def _open_in_pyscep(identity: DemoIdentity, der: bytes, backend: CryptoBackend = BACKEND) -> bytes:
    plaintext, _, _ = decrypt_envelope(
        parse_enveloped_data(der), identity.decrypter, backend=backend, algorithms=DEFAULT_POLICY
    )
    return plaintext


@pytest.mark.external
@pytest.mark.parametrize(
    ("sent", "derived", "opens"),
    [
        (NULL_PARAMETERS, NULL_PARAMETERS, True),  # the peer's encoding, honoured by OpenSSL
        (NULL_PARAMETERS, ABSENT_PARAMETERS, False),  # derived over what was not sent
        (ABSENT_PARAMETERS, ABSENT_PARAMETERS, True),  # what OpenSSL and pyscep write
    ],
    ids=["null-sent-null-derived", "null-sent-absent-derived", "absent"],
)
def test_the_kdf_covers_the_key_wrap_as_received(
    tmp_path: Path, ec_recipient: DemoIdentity, sent: bytes, derived: bytes, opens: bool
) -> None:
    der = _key_agreement_envelope(ec_recipient, b"payload", sent_wrap=sent, derived_over=derived)
    (recipient,) = parse_enveloped_data(der).recipients
    assert recipient.agreement is not None
    assert recipient.agreement.wrap_algorithm_der == sent
    if opens:
        assert _open_in_openssl(tmp_path, ec_recipient, der) == b"payload"
        assert _open_in_pyscep(ec_recipient, der) == b"payload"
    else:
        with pytest.raises(AssertionError, match="failed"):
            _open_in_openssl(tmp_path, ec_recipient, der)
        # A failed unwrap goes on with a random key, which passes the CBC padding check
        # one time in ~256: seeded, that key is fixed (and fails), as the content is.
        with pytest.raises(DecryptionError):
            _open_in_pyscep(ec_recipient, der, SeededBackend())


# --- INTEGERs as long as the keys that exist --------------------------------------


def _dsa_certificate(bits: int) -> bytes:
    with warnings.catch_warnings():
        # DSA is deprecated in cryptography; certificates with DSA keys still exist.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        key = dsa.generate_private_key(bits)
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, f"DSA-{bits}")])
    certificate = (
        cx509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(bits)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize("bits", [1024, 2048, 3072])
def test_a_message_embedding_a_dsa_certificate_parses(bits: int) -> None:
    dsa_der = _dsa_certificate(bits)
    # The prime p is an INTEGER outside any BIT STRING: 1024 bits take 129 octets.
    p = x509.Certificate.load(dsa_der).public_key["algorithm"]["parameters"]["p"]
    assert len(p.contents) == bits // 8 + 1
    env = envelope()
    message = assemble(
        env,
        scep_attrs(env),
        certificates=[x509.Certificate.load(KEYS.client.der), x509.Certificate.load(dsa_der)],
    )
    shipped, slow = both_paths(lambda: parse_pki_message(message))
    for parsed in (shipped, slow):
        assert sorted(c.der for c in parsed.certificates) == sorted([KEYS.client.der, dsa_der])
        assert parsed.findings == ()
    assert Certificate.load(dsa_der).public_key_algorithm == "dsa"
    # And the request still opens: the DSA certificate is a bystander.
    _, content = open_request(message, KEYS.ca_decrypter)
    assert content is not None


# --- a signed attribute pyscep does not read, with a value asn1crypto cannot decode ---

UNDECODABLE = {
    # asn1crypto knows smimeCapabilities and CMSAlgorithmProtection, not these values.
    "smimeCapabilities as an INTEGER": ("1.2.840.113549.1.9.15", b"\x02\x01\x05"),
    "CMSAlgorithmProtection as an OCTET STRING": ("1.2.840.113549.1.9.52", b"\x04\x01\x00"),
    "a UTCTime that is no time": ("1.3.6.1.4.1.311.99.1", b"\x17\x02ab"),
    "a REAL": ("1.3.6.1.4.1.311.99.2", b"\x09\x03\x80\x00\x01"),
    "a universal tag asn1crypto has no class for": ("1.3.6.1.4.1.311.99.3", b"\x0e\x01a"),
}


@pytest.mark.parametrize("case", list(UNDECODABLE))
def test_an_undecodable_attribute_is_kept_raw_and_reported(case: str) -> None:
    oid, value = UNDECODABLE[case]
    env = envelope()
    message = assemble(env, scep_attrs(env, extra=(raw_attr(oid, value),)))
    shipped, slow = both_paths(lambda: parse_pki_message(message))
    for parsed in (shipped, slow):
        unknown = [f for f in parsed.findings if f.code is FindingCode.UNKNOWN_ATTRIBUTE]
        assert [f.detail for f in unknown] == [f"unknown signed attribute {oid}"]
    # Kept raw: the signature over the attributes as received verifies (so not one
    # byte of the value was dropped or re-encoded), the finding names it, and the request
    # opens.
    opened, content = open_request(message, KEYS.ca_decrypter)
    assert value in opened.der
    assert [f.code for f in opened.findings] == [FindingCode.UNKNOWN_ATTRIBUTE]
    assert content is not None


def test_a_malformed_value_of_an_attribute_pyscep_reads_still_fails() -> None:
    # Only what nobody reads stays raw: a messageDigest that is no OCTET STRING fails
    # the integrity check, as before.
    env = envelope()
    attrs = scep_attrs(env, digest=b"")
    message = assemble(env, [*attrs, raw_attr("1.2.840.113549.1.9.4", b"\x02\x01\x05")])
    for parsed in (parse_pki_message, lambda m: _forced(parse_pki_message, m)):
        with pytest.raises(ParseError, match="message_digest") as caught:
            parsed(message)
        assert caught.value.fail_info is FailInfo.BAD_MESSAGE_CHECK


def _forced(parse: Callable[[bytes], object], data: bytes) -> object:
    with asn1crypto_only():
        return parse(data)


def _with_serial(octets: int) -> bytes:
    """A certificate whose serial number INTEGER has ``octets`` octets (its signature no
    longer verifies; parsing does not ask)."""
    certificate = x509.Certificate.load(KEYS.client.der)
    certificate["tbs_certificate"]["serial_number"] = core.Integer(1 << (8 * octets - 2))
    return bytes(certificate.dump(force=True))


def test_an_integer_as_long_as_an_8192_bit_prime_is_read_and_prints() -> None:
    # 1025 octets: read, and shown (Python prints no int of over 4300 digits).
    longest = Certificate.load(_with_serial(1025))
    assert longest.serial_number.bit_length() == 8 * 1025 - 1
    assert "serial" in repr(longest)
    from pyscep.messages.inspect import inspect_payload

    assert inspect_payload(_with_serial(1025)).description["ca_certificates"][0]["serial_hex"]
    with pytest.raises(ParseError, match="INTEGER empty or too long"):
        Certificate.load(_with_serial(1026))
