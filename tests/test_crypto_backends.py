"""The shared backend suite: every CryptoBackend passes the same tests.

Known answers come from outside pyscep: FIPS 180 / RFC 1321 digests, and the
openssl CLI for ciphers, key transport and signatures. Run for the backends
named in PYSCEP_BACKENDS (the Makefile runs it once per backend, each in its
own environment).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pyscep import (
    ContentCipher,
    CryptoBackend,
    DecryptionError,
    DigestAlgorithm,
    KeyTransport,
    ScepError,
    SignatureScheme,
    UnsupportedAlgorithmError,
    VerificationError,
)
from pyscep.testing import DemoIdentity
from tests.support.helpers import openssl, pem_cert, pem_key

ABC_DIGESTS = {
    DigestAlgorithm.MD5: "900150983cd24fb0d6963f7d28e17f72",
    DigestAlgorithm.SHA1: "a9993e364706816aba3e25717850c26c9cd0d89d",
    DigestAlgorithm.SHA224: "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
    DigestAlgorithm.SHA256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    DigestAlgorithm.SHA384: (
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
        "8086072ba1e7cc2358baeca134c825a7"
    ),
    DigestAlgorithm.SHA512: (
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
    ),
}
OPENSSL_CIPHERS = {
    ContentCipher.BLOWFISH_CBC: "bf-cbc",
    ContentCipher.DES_CBC: "des-cbc",
    ContentCipher.TRIPLEDES_CBC: "des-ede3-cbc",
    ContentCipher.AES128_CBC: "aes-128-cbc",
    ContentCipher.AES192_CBC: "aes-192-cbc",
    ContentCipher.AES256_CBC: "aes-256-cbc",
}


def _unsupported(backend: CryptoBackend, cipher: ContentCipher) -> bool:
    """oscrypto's main line corrupts memory with AES-192 keys and has no Blowfish: refused."""
    return backend.name == "oscrypto" and cipher in (
        ContentCipher.AES192_CBC,
        ContentCipher.BLOWFISH_CBC,
    )


@pytest.mark.parametrize("algorithm", list(DigestAlgorithm))
def test_digest_known_answers(backend: CryptoBackend, algorithm: DigestAlgorithm) -> None:
    digest = backend.digest(algorithm, b"abc")
    assert digest.hex() == ABC_DIGESTS[algorithm]
    assert len(digest) == algorithm.digest_size


def test_random_bytes(backend: CryptoBackend) -> None:
    first, second = backend.random_bytes(32), backend.random_bytes(32)
    assert len(first) == 32
    assert first != second


@pytest.mark.external
@pytest.mark.parametrize("cipher", list(ContentCipher))
@pytest.mark.parametrize("length", [0, 1, 15, 16, 100])
def test_cipher_matches_openssl_enc(
    backend: CryptoBackend, cipher: ContentCipher, length: int, tmp_path: Path
) -> None:
    key = bytes(range(1, cipher.key_size + 1))
    if _unsupported(backend, cipher):
        with pytest.raises(UnsupportedAlgorithmError):
            backend.encrypt_content(cipher, key, bytes(16), b"x")
        return
    iv = bytes(range(100, 100 + cipher.block_size))
    plaintext = bytes(range(length))
    ours = backend.encrypt_content(cipher, key, iv, plaintext)
    reference = openssl(
        ["enc", f"-{OPENSSL_CIPHERS[cipher]}", "-K", key.hex(), "-iv", iv.hex()],
        plaintext,
        tmp_path,
    )
    assert ours == reference
    assert backend.decrypt_content(cipher, key, iv, reference) == plaintext


@pytest.mark.parametrize("cipher", list(ContentCipher))
def test_cipher_failures_are_one_error(backend: CryptoBackend, cipher: ContentCipher) -> None:
    if _unsupported(backend, cipher):
        return  # covered by test_cipher_matches_openssl_enc
    key = bytes(cipher.key_size)
    iv = bytes(cipher.block_size)
    good = backend.encrypt_content(cipher, key, iv, b"payload")
    bad_padding = good[:-1] + bytes([good[-1] ^ 0x55])
    cases = [bad_padding, good[:-1], b"", good + b"x"]
    messages = set()
    for ciphertext in cases:
        with pytest.raises(DecryptionError) as caught:
            backend.decrypt_content(cipher, key, iv, ciphertext)
        messages.add((type(caught.value), str(caught.value)))
    assert len(messages) == 1


@pytest.mark.external
@pytest.mark.parametrize(
    ("transport", "pkeyopts"),
    [
        (KeyTransport.RSA_PKCS1V15, ["-pkeyopt", "rsa_padding_mode:pkcs1"]),
        (KeyTransport.RSA_OAEP_SHA1, ["-pkeyopt", "rsa_padding_mode:oaep"]),
        (
            KeyTransport.RSA_OAEP_SHA256,
            ["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256"],
        ),
    ],
)
def test_key_transport_both_ways_with_openssl(
    backend: CryptoBackend,
    ca: DemoIdentity,
    transport: KeyTransport,
    pkeyopts: list[str],
    tmp_path: Path,
) -> None:
    if backend.name == "oscrypto" and transport is KeyTransport.RSA_OAEP_SHA256:
        with pytest.raises(UnsupportedAlgorithmError):
            backend.encrypt_key(ca.certificate.public_key_der, transport, b"k" * 16)
        return
    key_file = tmp_path / "ca.key"
    key_file.write_bytes(pem_key(ca))
    cert_file = tmp_path / "ca.crt"
    cert_file.write_bytes(pem_cert(ca.certificate))
    content_key = bytes(range(16))
    encrypted = backend.encrypt_key(ca.certificate.public_key_der, transport, content_key)
    decrypted = openssl(["pkeyutl", "-decrypt", "-inkey", str(key_file), *pkeyopts], encrypted)
    assert decrypted == content_key

    from_openssl = openssl(
        ["pkeyutl", "-encrypt", "-certin", "-inkey", str(cert_file), *pkeyopts], content_key
    )
    decrypter = backend.load_decrypter(ca.key_der, ca.certificate)
    assert decrypter.decrypt_key(from_openssl, transport) == content_key


@pytest.mark.external
@pytest.mark.parametrize("digest", [DigestAlgorithm.SHA1, DigestAlgorithm.SHA256])
@pytest.mark.parametrize("scheme", [SignatureScheme.RSA_PKCS1V15, SignatureScheme.RSA_PSS])
def test_rsa_signatures_with_openssl(
    backend: CryptoBackend,
    client: DemoIdentity,
    digest: DigestAlgorithm,
    scheme: SignatureScheme,
    tmp_path: Path,
) -> None:
    key_file = tmp_path / "client.key"
    key_file.write_bytes(pem_key(client))
    pub_file = tmp_path / "client.pub"
    pub_file.write_bytes(openssl(["pkey", "-pubout", "-in", str(key_file)]))
    options = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]
    pad = options if scheme is SignatureScheme.RSA_PSS else []
    data = b"signed attributes stand-in"

    signer = backend.load_signer(pem_key(client), client.certificate)
    if backend.name == "oscrypto" and scheme is SignatureScheme.RSA_PSS:
        with pytest.raises(UnsupportedAlgorithmError):
            signer.sign(data, digest, scheme)
        signature = b""
    else:
        signature = signer.sign(data, digest, scheme)
    sig_file = tmp_path / "sig"
    sig_file.write_bytes(signature)
    if signature:
        verify = ["-verify", str(pub_file), "-signature", str(sig_file)]
        out = openssl(["dgst", f"-{digest.value}", *pad, *verify], data)
        assert b"Verified OK" in out

    theirs = openssl(["dgst", f"-{digest.value}", *pad, "-sign", str(key_file)], data)
    public = client.certificate.public_key_der
    backend.verify_signature(public, theirs, data, digest, scheme)
    with pytest.raises(VerificationError):
        backend.verify_signature(public, theirs, data + b"!", digest, scheme)


@pytest.mark.external
def test_ecdsa_signatures_with_openssl(
    backend: CryptoBackend, ec_client: DemoIdentity, tmp_path: Path
) -> None:
    key_file = tmp_path / "ec.key"
    key_file.write_bytes(pem_key(ec_client))
    pub_file = tmp_path / "ec.pub"
    pub_file.write_bytes(openssl(["pkey", "-pubout", "-in", str(key_file)]))
    data = b"ecdsa data"
    signer = backend.load_signer(ec_client.key_der, ec_client.certificate)
    signature = signer.sign(data, DigestAlgorithm.SHA256, SignatureScheme.ECDSA)
    sig_file = tmp_path / "sig"
    sig_file.write_bytes(signature)
    out = openssl(["dgst", "-sha256", "-verify", str(pub_file), "-signature", str(sig_file)], data)
    assert b"Verified OK" in out
    theirs = openssl(["dgst", "-sha256", "-sign", str(key_file)], data)
    public = ec_client.certificate.public_key_der
    backend.verify_signature(public, theirs, data, DigestAlgorithm.SHA256, SignatureScheme.ECDSA)
    with pytest.raises(VerificationError):
        backend.verify_signature(
            public, theirs, b"other", DigestAlgorithm.SHA256, SignatureScheme.ECDSA
        )


def test_key_loading_forms_and_mismatch(
    backend: CryptoBackend, ca: DemoIdentity, client: DemoIdentity
) -> None:
    for form in (ca.key_der, pem_key(ca)):
        signer = backend.load_signer(form, ca.certificate)
        assert signer.certificate == ca.certificate
    with pytest.raises(ScepError, match="does not belong"):
        backend.load_signer(ca.key_der, client.certificate)
    with pytest.raises(ScepError, match="could not be loaded"):
        backend.load_decrypter(b"not a key", ca.certificate)


def test_wrong_scheme_for_key(backend: CryptoBackend, ec_client: DemoIdentity) -> None:
    signer = backend.load_signer(ec_client.key_der, ec_client.certificate)
    with pytest.raises(UnsupportedAlgorithmError):
        signer.sign(b"x", DigestAlgorithm.SHA256, SignatureScheme.RSA_PKCS1V15)
