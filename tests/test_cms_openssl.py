"""The CMS engine against the openssl CLI, both directions, every cipher and digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyscep import (
    DEFAULT_POLICY,
    LEGACY,
    ContentCipher,
    CryptoBackend,
    DigestAlgorithm,
    KeyTransport,
    SignatureScheme,
    UnsupportedAlgorithmError,
    load_decrypter,
    load_signer,
)
from pyscep.cms.degenerate import build_certs_only, parse_certs_only
from pyscep.cms.enveloped import build_enveloped_data, decrypt_envelope, parse_enveloped_data
from pyscep.cms.signed import build_signed_data, parse_signed_data, verify_signed_data
from pyscep.findings import FindingCode
from pyscep.testing import DemoIdentity
from tests.support.helpers import openssl, pem_cert, pem_key

pytestmark = pytest.mark.external

PAYLOAD = b"SCEP payload \x00\x01\x02" * 20
OPENSSL_CIPHER_FLAGS = {
    ContentCipher.BLOWFISH_CBC: "-bf-cbc",  # OID 1.3.6.1.4.1.3029.1.2, as sscep -E blowfish
    ContentCipher.DES_CBC: "-des",
    ContentCipher.TRIPLEDES_CBC: "-des3",
    ContentCipher.AES128_CBC: "-aes128",
    ContentCipher.AES192_CBC: "-aes192",
    ContentCipher.AES256_CBC: "-aes256",
}


@pytest.fixture
def files(tmp_path: Path, ca: DemoIdentity, client: DemoIdentity) -> dict[str, str]:
    paths = {}
    for name, identity in (("ca", ca), ("client", client)):
        (tmp_path / f"{name}.key").write_bytes(pem_key(identity))
        (tmp_path / f"{name}.crt").write_bytes(pem_cert(identity.certificate))
        paths[f"{name}.key"] = str(tmp_path / f"{name}.key")
        paths[f"{name}.crt"] = str(tmp_path / f"{name}.crt")
    return paths


def _openssl_decrypt_for_ca(envelope: bytes, files: dict[str, str], tmp: Path) -> bytes:
    """openssl cms -decrypt with the CA's key (legacy provider on, for DES)."""
    decrypt = ["cms", "-decrypt", "-inform", "DER", "-binary"]
    return openssl([*decrypt, "-inkey", files["ca.key"], "-recip", files["ca.crt"]], envelope, tmp)


def _openssl_sign(cert: str, key: str, md: str, *options: str) -> bytes:
    """``openssl cms -sign`` of PAYLOAD, eContent embedded, DER out."""
    sign = ["cms", "-sign", "-nodetach", "-binary", "-md", md, "-outform", "DER"]
    return openssl([*sign, "-signer", cert, "-inkey", key, *options], PAYLOAD)


def _supported(backend: CryptoBackend, cipher: ContentCipher) -> bool:
    """oscrypto refuses AES-192 (it corrupts memory) and has no Blowfish."""
    return not (
        backend.name == "oscrypto"
        and cipher in (ContentCipher.AES192_CBC, ContentCipher.BLOWFISH_CBC)
    )


@pytest.mark.parametrize("cipher", list(ContentCipher))
@pytest.mark.parametrize(
    "digest",
    [DigestAlgorithm.MD5, DigestAlgorithm.SHA1, DigestAlgorithm.SHA256, DigestAlgorithm.SHA512],
)
def test_openssl_verifies_and_decrypts_what_we_build(
    backend: CryptoBackend,
    ca: DemoIdentity,
    client: DemoIdentity,
    files: dict[str, str],
    tmp_path: Path,
    cipher: ContentCipher,
    digest: DigestAlgorithm,
) -> None:
    if cipher.read_only or not _supported(backend, cipher):
        # Blowfish is read for sscep, never written; oscrypto lacks some ciphers.
        with pytest.raises(UnsupportedAlgorithmError):
            build_enveloped_data(
                PAYLOAD, ca.certificate, cipher=cipher, backend=backend, algorithms=LEGACY
            )
        return
    envelope = build_enveloped_data(
        PAYLOAD, ca.certificate, cipher=cipher, backend=backend, algorithms=LEGACY
    )
    signer = load_signer(client.key_der, client.certificate, backend=backend)
    message = build_signed_data(envelope, signer, digest=digest, backend=backend, algorithms=LEGACY)
    inner = openssl(["cms", "-verify", "-noverify", "-inform", "DER", "-binary"], message, tmp_path)
    assert inner == envelope
    assert _openssl_decrypt_for_ca(envelope, files, tmp_path) == PAYLOAD


@pytest.mark.parametrize("transport", [KeyTransport.RSA_OAEP_SHA1, KeyTransport.RSA_OAEP_SHA256])
def test_openssl_decrypts_oaep_envelopes(
    backend: CryptoBackend,
    ca: DemoIdentity,
    files: dict[str, str],
    tmp_path: Path,
    transport: KeyTransport,
) -> None:
    if backend.name == "oscrypto" and transport is KeyTransport.RSA_OAEP_SHA256:
        return
    envelope = build_enveloped_data(
        PAYLOAD,
        ca.certificate,
        cipher=ContentCipher.AES128_CBC,
        backend=backend,
        algorithms=DEFAULT_POLICY,
        key_transport=transport,
    )
    assert _openssl_decrypt_for_ca(envelope, files, tmp_path) == PAYLOAD


def test_openssl_verifies_pss_signatures(
    ca: DemoIdentity, client: DemoIdentity, tmp_path: Path
) -> None:
    from pyscep import get_backend

    backend = get_backend("cryptography")
    signer = load_signer(client.key_der, client.certificate)
    message = build_signed_data(
        PAYLOAD,
        signer,
        digest=DigestAlgorithm.SHA256,
        backend=backend,
        algorithms=DEFAULT_POLICY,
        scheme=SignatureScheme.RSA_PSS,
    )
    assert openssl(["cms", "-verify", "-noverify", "-inform", "DER", "-binary"], message) == PAYLOAD


@pytest.mark.parametrize("md", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("stream", [False, True])
def test_we_verify_what_openssl_signs(
    backend: CryptoBackend, client: DemoIdentity, files: dict[str, str], md: str, stream: bool
) -> None:
    # -stream makes openssl write BER: indefinite lengths, segmented eContent.
    extra = ["-stream"] if stream else []
    message = _openssl_sign(files["client.crt"], files["client.key"], md, *extra)
    parsed = parse_signed_data(message)
    verified = verify_signed_data(parsed, backend=backend, algorithms=DEFAULT_POLICY)
    assert verified.content == PAYLOAD
    assert verified.digest.value == md
    assert verified.signer_certificate == client.certificate
    if stream:
        assert FindingCode.BER_INDEFINITE_LENGTH in {f.code for f in parsed.findings}


@pytest.mark.parametrize("padding", ["pss", "pkcs1"])
def test_we_verify_openssl_rsa_pss_and_pkcs1(
    backend: CryptoBackend, client: DemoIdentity, files: dict[str, str], padding: str
) -> None:
    message = _openssl_sign(
        files["client.crt"], files["client.key"], "sha256", "-keyopt", f"rsa_padding_mode:{padding}"
    )
    parsed = parse_signed_data(message)
    pss = parsed.signer_infos[0].pss_params
    if backend.name == "oscrypto" and pss is not None and pss[2] != 32:
        # oscrypto verifies PSS only with salt length = digest length.
        with pytest.raises(UnsupportedAlgorithmError):
            verify_signed_data(parsed, backend=backend, algorithms=DEFAULT_POLICY)
        return
    verified = verify_signed_data(parsed, backend=backend, algorithms=DEFAULT_POLICY)
    expected = SignatureScheme.RSA_PSS if padding == "pss" else SignatureScheme.RSA_PKCS1V15
    assert verified.scheme is expected


def test_we_verify_openssl_ecdsa(
    backend: CryptoBackend, ec_client: DemoIdentity, tmp_path: Path
) -> None:
    (tmp_path / "ec.key").write_bytes(pem_key(ec_client))
    (tmp_path / "ec.crt").write_bytes(pem_cert(ec_client.certificate))
    message = _openssl_sign(str(tmp_path / "ec.crt"), str(tmp_path / "ec.key"), "sha256")
    verified = verify_signed_data(
        parse_signed_data(message), backend=backend, algorithms=DEFAULT_POLICY
    )
    assert verified.scheme is SignatureScheme.ECDSA


@pytest.mark.parametrize("cipher", list(ContentCipher))
@pytest.mark.parametrize("stream", [False, True])
def test_we_decrypt_what_openssl_encrypts(
    backend: CryptoBackend,
    ca: DemoIdentity,
    files: dict[str, str],
    tmp_path: Path,
    cipher: ContentCipher,
    stream: bool,
) -> None:
    extra = ["-stream"] if stream else []
    envelope = openssl(
        [
            "cms",
            "-encrypt",
            "-binary",
            OPENSSL_CIPHER_FLAGS[cipher],
            "-outform",
            "DER",
            *extra,
            files["ca.crt"],
        ],
        PAYLOAD,
        tmp_path,
    )
    decrypter = load_decrypter(ca.key_der, ca.certificate, backend=backend)
    parsed = parse_enveloped_data(envelope)
    if not _supported(backend, cipher):
        with pytest.raises(UnsupportedAlgorithmError):
            decrypt_envelope(parsed, decrypter, backend=backend, algorithms=LEGACY)
        return
    plain, used, transport = decrypt_envelope(parsed, decrypter, backend=backend, algorithms=LEGACY)
    assert plain == PAYLOAD
    assert used is cipher
    assert transport is KeyTransport.RSA_PKCS1V15


@pytest.mark.parametrize(
    ("keyopts", "transport"),
    [
        (["-keyopt", "rsa_padding_mode:oaep"], KeyTransport.RSA_OAEP_SHA1),
        (
            ["-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256"],
            KeyTransport.RSA_OAEP_SHA256,
        ),
    ],
)
def test_we_decrypt_openssl_oaep(
    backend: CryptoBackend,
    ca: DemoIdentity,
    files: dict[str, str],
    keyopts: list[str],
    transport: KeyTransport,
) -> None:
    if backend.name == "oscrypto" and transport is KeyTransport.RSA_OAEP_SHA256:
        return
    envelope = openssl(
        [
            "cms",
            "-encrypt",
            "-binary",
            "-aes256",
            "-outform",
            "DER",
            "-recip",
            files["ca.crt"],
            *keyopts,
        ],
        PAYLOAD,
    )
    decrypter = load_decrypter(ca.key_der, ca.certificate, backend=backend)
    plain, _, used = decrypt_envelope(
        parse_enveloped_data(envelope), decrypter, backend=backend, algorithms=DEFAULT_POLICY
    )
    assert plain == PAYLOAD
    assert used == transport


def test_degenerate_both_ways(
    ca: DemoIdentity, client: DemoIdentity, files: dict[str, str]
) -> None:
    ours = build_certs_only([client.certificate, ca.certificate])
    printed = openssl(["pkcs7", "-inform", "DER", "-print_certs"], ours)
    assert printed.count(b"BEGIN CERTIFICATE") == 2
    assert b"test-client" in printed

    theirs = openssl(
        [
            "crl2pkcs7",
            "-nocrl",
            "-certfile",
            files["ca.crt"],
            "-certfile",
            files["client.crt"],
            "-outform",
            "DER",
        ]
    )
    parsed = parse_certs_only(theirs)
    assert set(parsed.certificates) == {ca.certificate, client.certificate}
