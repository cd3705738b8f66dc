"""The crypto seam: what pyscep needs from cryptography, as small protocols.

Operations that need a private key go through a `Signer` or a `Decrypter`,
so the key may live in an HSM or a KMS: implement the two-member protocol and
pass the object. A `PrivateKey` is a key without a certificate (what signs a
CSR or a self-signed certificate, what `pyscep inspect` tries on an
envelope). Everything else (random bytes, digests, symmetric ciphers,
public-key encryption and verification) comes from a `CryptoBackend`.

Two backends ship: ``"cryptography"`` (pyca/cryptography, the default) and
``"oscrypto"`` (the optional extra ``pyscep-sansio[oscrypto]``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pyscep.algorithms import ContentCipher, DigestAlgorithm, KeyTransport, SignatureScheme
from pyscep.certificate import Certificate, CertificateLike
from pyscep.errors import (
    BackendError,
    KeyMismatchError,
    LocalProtocolError,
    UnsupportedAlgorithmError,
)

__all__ = [
    "AeadBackend",
    "CryptoBackend",
    "Decapsulator",
    "Decrypter",
    "KemBackend",
    "KeyAgreer",
    "KeyPair",
    "KeyWrapBackend",
    "PrivateKey",
    "PrivateKeyLike",
    "Rng",
    "Signer",
    "aead_backend",
    "get_backend",
    "kem_backend",
    "key_wrap_backend",
    "load_decrypter",
    "load_private_key",
    "load_signer",
]

#: PEM or DER private-key bytes, or a key object of the backend's library.
PrivateKeyLike = Any
#: A source of random bytes: ``rng(n)`` returns ``n`` bytes.
Rng = Callable[[int], bytes]


@runtime_checkable
class PrivateKey(Protocol):
    """A private key on its own: signs, and (RSA) opens key transport."""

    @property
    def public_key_der(self) -> bytes:
        """DER SubjectPublicKeyInfo of the matching public key."""
        ...

    def sign(self, data: bytes, digest: DigestAlgorithm, scheme: SignatureScheme) -> bytes:
        """Sign ``data`` (not pre-hashed) with ``digest`` under ``scheme``."""
        ...

    def decrypt_key(self, encrypted_key: bytes, transport: KeyTransport) -> bytes:
        """Recover a content-encryption key (RSA keys only); raise anything on failure."""
        ...


@runtime_checkable
class Signer(Protocol):
    """Something that holds a private key and its certificate, and signs.

    ``sign`` receives the exact bytes to sign (the DER SET OF signed
    attributes) and must return the raw signature: PKCS#1 v1.5 or PSS (salt
    length = digest length) for RSA, DER ECDSA-Sig-Value for EC.
    """

    @property
    def certificate(self) -> Certificate:
        """The certificate whose public key verifies the signatures."""
        ...

    def sign(self, data: bytes, digest: DigestAlgorithm, scheme: SignatureScheme) -> bytes:
        """Sign ``data`` (not pre-hashed) with ``digest`` under ``scheme``."""
        ...


@runtime_checkable
class Decrypter(Protocol):
    """Something that holds a private RSA key and its certificate, and opens key transport."""

    @property
    def certificate(self) -> Certificate:
        """The certificate envelopes are addressed to."""
        ...

    def decrypt_key(self, encrypted_key: bytes, transport: KeyTransport) -> bytes:
        """Recover a content-encryption key; raise anything on failure.

        The caller treats every failure, and every wrong-length result, the
        same way (RFC 3218), so implementations need not be careful about
        which exception they raise.
        """
        ...


@runtime_checkable
class KeyAgreer(Protocol):
    """Something that holds a private EC key and its certificate, and does ECDH.

    Opens KeyAgreeRecipientInfo (RFC 5753); an HSM's key can be one.
    """

    @property
    def certificate(self) -> Certificate:
        """The certificate envelopes are addressed to."""
        ...

    def agree(self, peer_public_key_der: bytes) -> bytes:
        """The ECDH shared secret Z with a SubjectPublicKeyInfo; raise anything on failure.

        As with `Decrypter.decrypt_key`, every failure is treated the same way.
        """
        ...


@runtime_checkable
class KeyWrapBackend(Protocol):
    """What key-agreement and password recipients need from a backend, beyond CryptoBackend."""

    def encrypt_blocks(self, cipher: ContentCipher, key: bytes, iv: bytes, data: bytes) -> bytes:
        """CBC-encrypt whole blocks, no padding."""
        ...

    def decrypt_blocks(self, cipher: ContentCipher, key: bytes, iv: bytes, data: bytes) -> bytes:
        """CBC-decrypt whole blocks, no padding; raise anything on failure."""
        ...

    def ephemeral_agreement(
        self, public_key_der: bytes, rng: Rng | None = None
    ) -> tuple[bytes, bytes]:
        """A new key on the curve of ``public_key_der``: (its SubjectPublicKeyInfo, ECDH Z).

        With ``rng`` the ephemeral key comes from it (reproducible vectors).
        UnsupportedAlgorithmError when the key is not a usable EC key.
        """
        ...


@runtime_checkable
class Decapsulator(Protocol):
    """Something that holds a private ML-KEM key and its certificate, and decapsulates.

    Opens KEMRecipientInfo (RFC 9629); an HSM's key can be one.
    """

    @property
    def certificate(self) -> Certificate:
        """The certificate envelopes are addressed to."""
        ...

    def decapsulate(self, ciphertext: bytes) -> bytes:
        """The shared secret of a KEM ciphertext; raise anything on failure.

        As with `Decrypter.decrypt_key`, every failure is treated the same way.
        """
        ...


@runtime_checkable
class KemBackend(Protocol):
    """What a KEMRecipientInfo needs from a backend to build one, beyond CryptoBackend."""

    def encapsulate(self, public_key_der: bytes) -> tuple[bytes, bytes]:
        """(ciphertext, shared secret) for an ML-KEM SubjectPublicKeyInfo;
        UnsupportedAlgorithmError when the key is not a usable KEM key."""
        ...


@runtime_checkable
class AeadBackend(Protocol):
    """AES-GCM (RFC 5084) for AuthEnvelopedData (RFC 5083), beyond CryptoBackend."""

    def seal(
        self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes, tag_length: int
    ) -> tuple[bytes, bytes]:
        """(ciphertext, tag of ``tag_length`` octets)."""
        ...

    def open_sealed(
        self, key: bytes, nonce: bytes, ciphertext: bytes, tag: bytes, aad: bytes
    ) -> bytes:
        """The plaintext; DecryptionError on any failure (a wrong tag included)."""
        ...


def kem_backend(backend: CryptoBackend) -> KemBackend:
    """``backend`` as a KemBackend, or UnsupportedAlgorithmError saying it is not one."""
    if not isinstance(backend, KemBackend):
        raise UnsupportedAlgorithmError(f"the {backend.name} backend has no ML-KEM")
    return backend


def aead_backend(backend: CryptoBackend) -> AeadBackend:
    """``backend`` as an AeadBackend, or UnsupportedAlgorithmError saying it is not one."""
    if not isinstance(backend, AeadBackend):
        raise UnsupportedAlgorithmError(f"the {backend.name} backend has no AES-GCM")
    return backend


def key_wrap_backend(backend: CryptoBackend) -> KeyWrapBackend:
    """``backend`` as a KeyWrapBackend, or UnsupportedAlgorithmError saying it is not one."""
    if not isinstance(backend, KeyWrapBackend):
        raise UnsupportedAlgorithmError(
            f"the {backend.name} backend has no key agreement or password recipients"
        )
    return backend


class CryptoBackend(Protocol):
    """Public-key-free primitives plus loaders for private keys."""

    @property
    def name(self) -> str:
        """A short name for messages and logs ("cryptography", "oscrypto")."""
        ...

    def random_bytes(self, length: int) -> bytes:
        """Cryptographically secure random bytes."""
        ...

    def digest(self, algorithm: DigestAlgorithm, data: bytes) -> bytes:
        """Hash ``data``."""
        ...

    def encrypt_content(
        self, cipher: ContentCipher, key: bytes, iv: bytes, plaintext: bytes
    ) -> bytes:
        """CBC-encrypt with PKCS#7 padding."""
        ...

    def decrypt_content(
        self, cipher: ContentCipher, key: bytes, iv: bytes, ciphertext: bytes
    ) -> bytes:
        """CBC-decrypt and strip PKCS#7 padding; raise DecryptionError on any failure."""
        ...

    def encrypt_key(
        self,
        public_key_der: bytes,
        transport: KeyTransport,
        key: bytes,
        rng: Rng | None = None,
    ) -> bytes:
        """RSA-encrypt a content-encryption key to a SubjectPublicKeyInfo.

        With ``rng`` the padding comes from it, so a message can be rebuilt
        byte for byte (tests, golden vectors); a backend that cannot do that
        raises UnsupportedAlgorithmError rather than ignore ``rng``.
        """
        ...

    def verify_signature(
        self,
        public_key_der: bytes,
        signature: bytes,
        data: bytes,
        digest: DigestAlgorithm,
        scheme: SignatureScheme,
        pss_salt_length: int | None = None,
    ) -> None:
        """Raise VerificationError unless ``signature`` is valid over ``data``."""
        ...

    def load_private_key(self, private_key: PrivateKeyLike) -> PrivateKey:
        """A PrivateKey from PEM/DER bytes or a library key object; KeyLoadError if unusable."""
        ...

    def load_signer(self, private_key: PrivateKeyLike, certificate: Certificate) -> Signer:
        """A Signer over a private key given as PEM/DER bytes or a library key object."""
        ...

    def load_decrypter(self, private_key: PrivateKeyLike, certificate: Certificate) -> Decrypter:
        """A Decrypter over a private key given as PEM/DER bytes or a library key object.

        RSA keys open key transport; EC keys of a backend with ECDH are also a
        `KeyAgreer` and open key agreement.
        """
        ...


@dataclass(frozen=True)
class KeyPair:
    """A `PrivateKey` (an HSM's, say) with its certificate: a Signer, a Decrypter, a
    KeyAgreer, a Decapsulator."""

    key: PrivateKey
    certificate: Certificate

    def __post_init__(self) -> None:
        if self.key.public_key_der != self.certificate.public_key_der:
            raise KeyMismatchError("the private key does not belong to the certificate")

    @classmethod
    def for_key_transport(cls, key: PrivateKey, certificate: Certificate) -> KeyPair:
        """A pair that opens RSA key transport: the certificate's key must be RSA."""
        if certificate.public_key_algorithm != "rsa":
            raise UnsupportedAlgorithmError("key transport needs an RSA key")
        return cls(key, certificate)

    def sign(self, data: bytes, digest: DigestAlgorithm, scheme: SignatureScheme) -> bytes:
        """Sign with the key."""
        return self.key.sign(data, digest, scheme)

    def decrypt_key(self, encrypted_key: bytes, transport: KeyTransport) -> bytes:
        """Open key transport with the key."""
        return self.key.decrypt_key(encrypted_key, transport)

    def agree(self, peer_public_key_der: bytes) -> bytes:
        """ECDH with the key, when it can (an EC key of a backend that has ECDH)."""
        agree = getattr(self.key, "agree", None)
        if agree is None:
            raise UnsupportedAlgorithmError("this key cannot do key agreement")
        return bytes(agree(peer_public_key_der))

    def decapsulate(self, ciphertext: bytes) -> bytes:
        """ML-KEM decapsulation with the key, when it can (an ML-KEM key)."""
        decapsulate = getattr(self.key, "decapsulate", None)
        if decapsulate is None:
            raise UnsupportedAlgorithmError("this key cannot decapsulate")
        return bytes(decapsulate(ciphertext))


def get_backend(name: str | CryptoBackend | None = None) -> CryptoBackend:
    """The backend called ``name`` (``"cryptography"`` by default, or ``"oscrypto"``).

    A backend object passes through unchanged, so functions can take either.
    """
    if name is None or name == "cryptography":
        from ._pyca import PycaBackend

        return PycaBackend()
    if name == "oscrypto":
        from ._oscrypto import OscryptoBackend

        return OscryptoBackend()
    if isinstance(name, str):
        raise BackendError(f"unknown crypto backend {name!r}")
    return name


def load_private_key(
    private_key: PrivateKeyLike | PrivateKey, *, backend: str | CryptoBackend | None = None
) -> PrivateKey:
    """A `PrivateKey` from PEM/DER bytes or a library key object; a PrivateKey passes through."""
    if isinstance(private_key, PrivateKey):
        return private_key
    return get_backend(backend).load_private_key(private_key)


def load_signer(
    private_key: PrivateKeyLike | Signer,
    certificate: CertificateLike | None = None,
    *,
    backend: str | CryptoBackend | None = None,
) -> Signer:
    """A `Signer` from a key and its certificate; a Signer object passes through."""
    if isinstance(private_key, Signer):
        return private_key
    if certificate is None:
        raise LocalProtocolError("a certificate is needed with a raw private key")
    if isinstance(private_key, PrivateKey):
        return KeyPair(private_key, Certificate.load(certificate))
    return get_backend(backend).load_signer(private_key, Certificate.load(certificate))


def load_decrypter(
    private_key: PrivateKeyLike | Decrypter,
    certificate: CertificateLike | None = None,
    *,
    backend: str | CryptoBackend | None = None,
) -> Decrypter:
    """A `Decrypter` from a key and its certificate; a Decrypter object passes through."""
    if isinstance(private_key, Decrypter):
        return private_key
    if certificate is None:
        raise LocalProtocolError("a certificate is needed with a raw private key")
    if isinstance(private_key, PrivateKey):
        return KeyPair(private_key, Certificate.load(certificate))
    return get_backend(backend).load_decrypter(private_key, Certificate.load(certificate))
