"""`SeededBackend`: a crypto backend with reproducible randomness, for tests and fuzzing.

RFC 3218 makes decryption randomised even on the receiving side: a
key-transport failure is answered with a random content key, and about one
time in 256 that key happens to give valid CBC padding, so the garbage
plaintext reaches the content parser (``ParseError``, badRequest) instead of
failing as ``DecryptionError``. That is not an oracle (an unknown wrong key
behaves the same way), but it makes a single test run depend on luck, and a
fuzzer finding impossible to replay. `SeededBackend` removes the luck.

Never use it outside tests: its "random" bytes are public.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from pyscep.algorithms import ContentCipher, DigestAlgorithm, KeyTransport, SignatureScheme
from pyscep.certificate import Certificate
from pyscep.crypto import (
    CryptoBackend,
    Decrypter,
    PrivateKey,
    PrivateKeyLike,
    Rng,
    Signer,
    aead_backend,
    get_backend,
    kem_backend,
    key_wrap_backend,
)

__all__ = ["SeededBackend"]


@dataclass(frozen=True)
class SeededBackend:
    """``inner`` (the default backend unless given) with ``random_bytes`` a fixed
    function of (``seed``, length): every call of the same length returns the
    same bytes. Everything else is delegated unchanged."""

    seed: bytes = b"pyscep.testing"
    inner: CryptoBackend = field(default_factory=get_backend)
    name: str = "seeded"

    def random_bytes(self, length: int) -> bytes:
        return hashlib.shake_256(self.seed + length.to_bytes(8, "big")).digest(length)

    def digest(self, algorithm: DigestAlgorithm, data: bytes) -> bytes:
        return self.inner.digest(algorithm, data)

    def encrypt_content(
        self, cipher: ContentCipher, key: bytes, iv: bytes, plaintext: bytes
    ) -> bytes:
        return self.inner.encrypt_content(cipher, key, iv, plaintext)

    def decrypt_content(
        self, cipher: ContentCipher, key: bytes, iv: bytes, ciphertext: bytes
    ) -> bytes:
        return self.inner.decrypt_content(cipher, key, iv, ciphertext)

    def encrypt_key(
        self,
        public_key_der: bytes,
        transport: KeyTransport,
        key: bytes,
        rng: Rng | None = None,
    ) -> bytes:
        return self.inner.encrypt_key(public_key_der, transport, key, rng)

    def encrypt_blocks(self, cipher: ContentCipher, key: bytes, iv: bytes, data: bytes) -> bytes:
        return key_wrap_backend(self.inner).encrypt_blocks(cipher, key, iv, data)

    def decrypt_blocks(self, cipher: ContentCipher, key: bytes, iv: bytes, data: bytes) -> bytes:
        return key_wrap_backend(self.inner).decrypt_blocks(cipher, key, iv, data)

    def ephemeral_agreement(
        self, public_key_der: bytes, rng: Rng | None = None
    ) -> tuple[bytes, bytes]:
        # The ephemeral key, too, is a fixed function of the seed.
        return key_wrap_backend(self.inner).ephemeral_agreement(
            public_key_der, rng or self.random_bytes
        )

    def encapsulate(self, public_key_der: bytes) -> tuple[bytes, bytes]:
        # ML-KEM draws its own randomness inside the library: not seeded (the
        # receiving side, which is what a replay needs, is deterministic).
        return kem_backend(self.inner).encapsulate(public_key_der)

    def seal(
        self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes, tag_length: int
    ) -> tuple[bytes, bytes]:
        return aead_backend(self.inner).seal(key, nonce, plaintext, aad, tag_length)

    def open_sealed(
        self, key: bytes, nonce: bytes, ciphertext: bytes, tag: bytes, aad: bytes
    ) -> bytes:
        return aead_backend(self.inner).open_sealed(key, nonce, ciphertext, tag, aad)

    def verify_signature(
        self,
        public_key_der: bytes,
        signature: bytes,
        data: bytes,
        digest: DigestAlgorithm,
        scheme: SignatureScheme,
        pss_salt_length: int | None = None,
    ) -> None:
        self.inner.verify_signature(
            public_key_der, signature, data, digest, scheme, pss_salt_length
        )

    def load_private_key(self, private_key: PrivateKeyLike) -> PrivateKey:
        return self.inner.load_private_key(private_key)

    def load_signer(self, private_key: PrivateKeyLike, certificate: Certificate) -> Signer:
        return self.inner.load_signer(private_key, certificate)

    def load_decrypter(self, private_key: PrivateKeyLike, certificate: Certificate) -> Decrypter:
        return self.inner.load_decrypter(private_key, certificate)
