"""PKCS#7 samples shipped in the cryptography-vectors package, read by pyscep.

Expected plaintexts come from `openssl cms -decrypt` on the same files, so the
check is against an independent implementation.
"""

from __future__ import annotations

from pathlib import Path

import cryptography_vectors
import pytest
from asn1crypto import pem

from pyscep import LEGACY, Certificate, DecryptionError, ParseError, get_backend, load_decrypter
from pyscep.cms.degenerate import parse_certs_only
from pyscep.cms.enveloped import decrypt_envelope, parse_enveloped_data
from tests.support.helpers import openssl

pytestmark = pytest.mark.external

ROOT = Path(cryptography_vectors.__file__).parent
PKCS7 = ROOT / "pkcs7"
CA_CERT = ROOT / "x509" / "custom" / "ca" / "rsa_ca.pem"
CA_KEY = ROOT / "x509" / "custom" / "ca" / "rsa_key.pem"


def _der(path: Path) -> bytes:
    data = path.read_bytes()
    return pem.unarmor(data)[2] if pem.detect(data) else data


@pytest.mark.parametrize("name", ["enveloped-triple-des.pem", "enveloped-rsa-oaep.pem"])
def test_decrypt_enveloped_samples(name: str, tmp_path: Path) -> None:
    expected = openssl(
        [
            "cms",
            "-decrypt",
            "-in",
            str(PKCS7 / name),
            "-inform",
            "PEM",
            "-inkey",
            str(CA_KEY),
            "-recip",
            str(CA_CERT),
            "-binary",
        ],
        tmp=tmp_path,
    )
    assert expected
    decrypter = load_decrypter(CA_KEY.read_bytes(), CA_CERT.read_bytes())
    parsed = parse_enveloped_data(_der(PKCS7 / name))
    plaintext, _, _ = decrypt_envelope(parsed, decrypter, backend=get_backend(), algorithms=LEGACY)
    assert plaintext == expected


def test_enveloped_for_someone_else() -> None:
    parsed = parse_enveloped_data(_der(PKCS7 / "enveloped.pem"))
    printed = openssl(
        ["cms", "-cmsout", "-print", "-inform", "PEM", "-in", str(PKCS7 / "enveloped.pem")]
    ).decode()
    assert len(parsed.recipients) == printed.count("d.ktri:") == 2
    assert f"({parsed.cipher_oid})" in printed
    decrypter = load_decrypter(CA_KEY.read_bytes(), CA_CERT.read_bytes())
    with pytest.raises(DecryptionError):
        decrypt_envelope(parsed, decrypter, backend=get_backend(), algorithms=LEGACY)


def test_enveloped_without_content() -> None:
    parsed = parse_enveloped_data((PKCS7 / "enveloped-no-content.der").read_bytes())
    assert parsed.encrypted_content is None


@pytest.mark.parametrize("name", ["amazon-roots.der", "isrg.pem"])
def test_certificate_bundles(name: str) -> None:
    data = _der(PKCS7 / name)
    printed = openssl(["pkcs7", "-inform", "DER", "-print_certs"], data)
    parsed = parse_certs_only(data)
    assert len(parsed.certificates) == printed.count(b"BEGIN CERTIFICATE")
    pems = Certificate.load_all(printed)
    assert set(pems) == set(parsed.certificates)


def test_authenticode_content_is_not_scep_shaped() -> None:
    # Authenticode's eContent is a SEQUENCE, not an OCTET STRING: a clean ParseError.
    from pyscep.cms.signed import parse_signed_data

    with pytest.raises(ParseError):
        parse_signed_data((PKCS7 / "authenticode.der").read_bytes())
