"""The optional backend, on oscrypto (install ``pyscep-sansio[oscrypto]``).

The released oscrypto 1.3.0 cannot load against OpenSSL >= 3.0.10 ("Error
detecting the version of libcrypto"). Its main line, published on PyPI as
``elements-oscrypto`` and still imported as ``oscrypto``, loads fine; that is
what the extra installs.

oscrypto offers RSAES-OAEP with SHA-1 only, and signs RSA-PSS with the maximum
salt length only (pyscep declares salt length = digest length), so OAEP with
other hashes and PSS signing raise UnsupportedAlgorithmError here; PSS
verification works.

Two defects of oscrypto's main line are worked around: it returns an empty
ciphertext for an empty plaintext (so pyscep pads itself and drops the block
oscrypto's own padding adds), and it corrupts memory ("double free or
corruption") with 24-byte AES keys, so AES-192 is refused on this backend.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pyscep.algorithms import ContentCipher, DigestAlgorithm, KeyTransport, SignatureScheme
from pyscep.certificate import Certificate
from pyscep.errors import (
    BackendError,
    DecryptionError,
    KeyLoadError,
    UnsupportedAlgorithmError,
    VerificationError,
)

from . import KeyPair, PrivateKeyLike, Rng
from ._padding import rsa_encrypt_with_rng
from .post_quantum import read_post_quantum_private_key

try:
    from oscrypto import asymmetric, errors, symmetric, util
except Exception as exc:  # pragma: no cover - depends on the environment
    raise BackendError(
        "the oscrypto backend needs the 'oscrypto' extra (elements-oscrypto)"
    ) from exc

__all__ = ["OscryptoBackend", "OscryptoKey"]


def _check_oaep(transport: KeyTransport) -> None:
    if transport.oaep_hash not in (None, DigestAlgorithm.SHA1):
        raise UnsupportedAlgorithmError("oscrypto supports RSAES-OAEP with SHA-1 only")


def _check_cipher(cipher: ContentCipher) -> None:
    if cipher is ContentCipher.BLOWFISH_CBC:
        raise UnsupportedAlgorithmError("the oscrypto backend does not support Blowfish")
    if cipher is ContentCipher.AES192_CBC:
        raise UnsupportedAlgorithmError("the oscrypto backend does not support AES-192")


def _load_private_key(private_key: PrivateKeyLike) -> Any:
    if isinstance(private_key, asymmetric.PrivateKey):
        return private_key
    if isinstance(private_key, OscryptoKey):
        return private_key.key
    if isinstance(private_key, str):
        private_key = private_key.encode()
    if not isinstance(private_key, (bytes, bytearray, memoryview)):
        raise KeyLoadError(f"cannot load a private key from {type(private_key).__name__}")
    post_quantum = read_post_quantum_private_key(bytes(private_key))
    if post_quantum is not None:
        raise UnsupportedAlgorithmError(
            f"the oscrypto backend has no {post_quantum.parameter_set.title}"
        )
    try:
        return asymmetric.load_private_key(bytes(private_key))
    except Exception as exc:
        raise KeyLoadError("the private key could not be loaded") from exc


class OscryptoKey:
    """A PrivateKey over an oscrypto private key (loaded once)."""

    def __init__(self, key: Any) -> None:
        self.key = key
        self._public_key_der = bytes(key.public_key.asn1.dump())

    @property
    def public_key_der(self) -> bytes:
        """DER SubjectPublicKeyInfo."""
        return self._public_key_der

    def sign(self, data: bytes, digest: DigestAlgorithm, scheme: SignatureScheme) -> bytes:
        """Sign ``data`` with the private key."""
        algorithm = self.key.algorithm
        if algorithm == "rsa" and scheme is SignatureScheme.RSA_PKCS1V15:
            return bytes(asymmetric.rsa_pkcs1v15_sign(self.key, data, digest.value))
        if algorithm == "rsa" and scheme is SignatureScheme.RSA_PSS:
            # oscrypto signs with the maximum salt length, while pyscep's
            # SignerInfo declares salt length = digest length.
            raise UnsupportedAlgorithmError("the oscrypto backend cannot sign RSA-PSS")
        if algorithm == "ec" and scheme is SignatureScheme.ECDSA:
            return bytes(asymmetric.ecdsa_sign(self.key, data, digest.value))
        raise UnsupportedAlgorithmError(f"{scheme.value} does not fit this key")

    def decrypt_key(self, encrypted_key: bytes, transport: KeyTransport) -> bytes:
        """RSA-decrypt a content-encryption key."""
        if self.key.algorithm != "rsa":
            raise UnsupportedAlgorithmError("key transport needs an RSA key")
        _check_oaep(transport)
        if transport.oaep_hash is None:
            return bytes(asymmetric.rsa_pkcs1v15_decrypt(self.key, encrypted_key))
        return bytes(asymmetric.rsa_oaep_decrypt(self.key, encrypted_key))


_ENCRYPT: dict[ContentCipher, Any] = {
    ContentCipher.DES_CBC: symmetric.des_cbc_pkcs5_encrypt,
    ContentCipher.TRIPLEDES_CBC: symmetric.tripledes_cbc_pkcs5_encrypt,
    ContentCipher.AES128_CBC: symmetric.aes_cbc_pkcs7_encrypt,
    ContentCipher.AES192_CBC: symmetric.aes_cbc_pkcs7_encrypt,
    ContentCipher.AES256_CBC: symmetric.aes_cbc_pkcs7_encrypt,
}
_DECRYPT: dict[ContentCipher, Any] = {
    ContentCipher.DES_CBC: symmetric.des_cbc_pkcs5_decrypt,
    ContentCipher.TRIPLEDES_CBC: symmetric.tripledes_cbc_pkcs5_decrypt,
    ContentCipher.AES128_CBC: symmetric.aes_cbc_pkcs7_decrypt,
    ContentCipher.AES192_CBC: symmetric.aes_cbc_pkcs7_decrypt,
    ContentCipher.AES256_CBC: symmetric.aes_cbc_pkcs7_decrypt,
}


def _check_aes(cipher: ContentCipher) -> None:
    if cipher not in (
        ContentCipher.AES128_CBC,
        ContentCipher.AES192_CBC,
        ContentCipher.AES256_CBC,
    ):
        raise UnsupportedAlgorithmError(f"oscrypto wraps keys with AES only, not {cipher.value}")


class OscryptoBackend:
    """CryptoBackend on oscrypto (the OS's crypto libraries)."""

    name = "oscrypto"

    def random_bytes(self, length: int) -> bytes:
        """oscrypto's CSPRNG."""
        return bytes(util.rand_bytes(length))

    def digest(self, algorithm: DigestAlgorithm, data: bytes) -> bytes:
        """oscrypto has no hashing API of its own; hashlib is OpenSSL's too."""
        return hashlib.new(algorithm.value, data).digest()

    def encrypt_content(
        self, cipher: ContentCipher, key: bytes, iv: bytes, plaintext: bytes
    ) -> bytes:
        """CBC with PKCS#7 padding (applied here, see the module docstring)."""
        _check_cipher(cipher)
        pad = cipher.block_size - len(plaintext) % cipher.block_size
        padded = plaintext + bytes([pad]) * pad
        _, ciphertext = _ENCRYPT[cipher](key, padded, iv)
        # oscrypto padded once more: a whole block we drop.
        return bytes(ciphertext[: len(padded)])

    def encrypt_blocks(self, cipher: ContentCipher, key: bytes, iv: bytes, data: bytes) -> bytes:
        """AES-CBC over whole blocks, no padding (oscrypto has it for AES only)."""
        _check_aes(cipher)
        _, ciphertext = symmetric.aes_cbc_no_padding_encrypt(key, data, iv)
        return bytes(ciphertext)

    def decrypt_blocks(self, cipher: ContentCipher, key: bytes, iv: bytes, data: bytes) -> bytes:
        """AES-CBC-decrypt whole blocks, no padding."""
        _check_aes(cipher)
        return bytes(symmetric.aes_cbc_no_padding_decrypt(key, data, iv))

    def ephemeral_agreement(
        self, public_key_der: bytes, rng: Rng | None = None
    ) -> tuple[bytes, bytes]:
        """oscrypto has no ECDH."""
        raise UnsupportedAlgorithmError("the oscrypto backend has no ECDH key agreement")

    def decrypt_content(
        self, cipher: ContentCipher, key: bytes, iv: bytes, ciphertext: bytes
    ) -> bytes:
        """CBC-decrypt and unpad; every failure is the same DecryptionError."""
        _check_cipher(cipher)
        try:
            if not ciphertext or len(ciphertext) % cipher.block_size:
                raise ValueError("bad length")
            return bytes(_DECRYPT[cipher](key, ciphertext, iv))
        except Exception:  # noqa: S110 - every failure ends in the one error below
            pass
        # Raised outside the except block: no exception context to leak either.
        raise DecryptionError()

    def encrypt_key(
        self,
        public_key_der: bytes,
        transport: KeyTransport,
        key: bytes,
        rng: Rng | None = None,
    ) -> bytes:
        """RSA key transport to a SubjectPublicKeyInfo (padding from ``rng`` when given)."""
        _check_oaep(transport)
        try:
            public = asymmetric.load_public_key(public_key_der)
        except Exception:
            raise UnsupportedAlgorithmError("the recipient's public key cannot be used") from None
        if public.algorithm != "rsa":
            raise UnsupportedAlgorithmError("key transport needs an RSA recipient key")
        if rng is not None:
            numbers = public.asn1["public_key"].parsed
            modulus = int(numbers["modulus"].native)
            exponent = int(numbers["public_exponent"].native)
            return rsa_encrypt_with_rng(modulus, exponent, transport, key, rng)
        if transport.oaep_hash is None:
            return bytes(asymmetric.rsa_pkcs1v15_encrypt(public, key))
        return bytes(asymmetric.rsa_oaep_encrypt(public, key))

    def verify_signature(
        self,
        public_key_der: bytes,
        signature: bytes,
        data: bytes,
        digest: DigestAlgorithm,
        scheme: SignatureScheme,
        pss_salt_length: int | None = None,
    ) -> None:
        """Verify, raising VerificationError."""
        if scheme.value.startswith("ml_dsa"):
            raise UnsupportedAlgorithmError("the oscrypto backend has no ML-DSA")
        try:
            public = asymmetric.load_public_key(public_key_der)
        except Exception as exc:
            raise VerificationError("the signer's public key cannot be loaded") from exc
        algorithm = public.algorithm
        try:
            if algorithm == "rsa" and scheme is SignatureScheme.RSA_PKCS1V15:
                asymmetric.rsa_pkcs1v15_verify(public, signature, data, digest.value)
            elif algorithm == "rsa" and scheme is SignatureScheme.RSA_PSS:
                if pss_salt_length not in (None, digest.digest_size):
                    raise UnsupportedAlgorithmError("oscrypto verifies PSS with salt = hash length")
                asymmetric.rsa_pss_verify(public, signature, data, digest.value)
            elif algorithm == "ec" and scheme is SignatureScheme.ECDSA:
                asymmetric.ecdsa_verify(public, signature, data, digest.value)
            else:
                raise UnsupportedAlgorithmError(f"{scheme.value} does not fit the signer's key")
        except errors.SignatureError:
            raise VerificationError("the signature does not verify") from None
        except (ValueError, TypeError, OverflowError):
            raise VerificationError("the signature does not verify") from None

    def load_private_key(self, private_key: PrivateKeyLike) -> OscryptoKey:
        """Load the key once; use it many times."""
        return OscryptoKey(_load_private_key(private_key))

    def load_signer(self, private_key: PrivateKeyLike, certificate: Certificate) -> KeyPair:
        """Load the key once; sign many times (KeyMismatchError for another key's certificate)."""
        return KeyPair(OscryptoKey(_load_private_key(private_key)), certificate)

    def load_decrypter(self, private_key: PrivateKeyLike, certificate: Certificate) -> KeyPair:
        """Load the key once; decrypt many times (RSA keys: key transport)."""
        return KeyPair.for_key_transport(OscryptoKey(_load_private_key(private_key)), certificate)
