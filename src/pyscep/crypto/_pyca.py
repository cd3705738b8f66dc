"""The default backend, on pyca/cryptography."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.decrepit.ciphers.algorithms import Blowfish, TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, CipherAlgorithm, algorithms, modes

from pyscep.algorithms import ContentCipher, DigestAlgorithm, KeyTransport, SignatureScheme
from pyscep.certificate import Certificate
from pyscep.errors import (
    DecryptionError,
    KeyLoadError,
    UnsupportedAlgorithmError,
    VerificationError,
)

from . import KeyPair, PrivateKeyLike, Rng
from ._padding import rsa_encrypt_with_rng
from .post_quantum import (
    PostQuantumPrivateKey,
    check_expanded_key,
    read_post_quantum_private_key,
)

__all__ = ["PycaBackend", "PycaKey"]

#: Largest PSS salt a verifier accepts: anything longer cannot fit an RSA-8192 signature.
_MAX_PSS_SALT = 1024

_HASHES: dict[DigestAlgorithm, type[hashes.HashAlgorithm]] = {
    DigestAlgorithm.MD5: hashes.MD5,
    DigestAlgorithm.SHA1: hashes.SHA1,
    DigestAlgorithm.SHA224: hashes.SHA224,
    DigestAlgorithm.SHA256: hashes.SHA256,
    DigestAlgorithm.SHA384: hashes.SHA384,
    DigestAlgorithm.SHA512: hashes.SHA512,
}


#: ML-DSA and ML-KEM private key classes by parameter set (ML-KEM-512 is not in cryptography).
_POST_QUANTUM_KEYS: dict[str, Any] = {
    "ml_dsa_44": mldsa.MLDSA44PrivateKey,
    "ml_dsa_65": mldsa.MLDSA65PrivateKey,
    "ml_dsa_87": mldsa.MLDSA87PrivateKey,
    "ml_kem_768": mlkem.MLKEM768PrivateKey,
    "ml_kem_1024": mlkem.MLKEM1024PrivateKey,
}
_ML_DSA_PRIVATE: dict[SignatureScheme, Any] = {
    SignatureScheme.ML_DSA_44: mldsa.MLDSA44PrivateKey,
    SignatureScheme.ML_DSA_65: mldsa.MLDSA65PrivateKey,
    SignatureScheme.ML_DSA_87: mldsa.MLDSA87PrivateKey,
}
_ML_DSA_PUBLIC: dict[SignatureScheme, Any] = {
    SignatureScheme.ML_DSA_44: mldsa.MLDSA44PublicKey,
    SignatureScheme.ML_DSA_65: mldsa.MLDSA65PublicKey,
    SignatureScheme.ML_DSA_87: mldsa.MLDSA87PublicKey,
}
_ML_KEM_PUBLIC = (mlkem.MLKEM768PublicKey, mlkem.MLKEM1024PublicKey)

_KEY_TYPES = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    *_POST_QUANTUM_KEYS.values(),
)


def _hash(algorithm: DigestAlgorithm) -> hashes.HashAlgorithm:
    return _HASHES[algorithm]()


def _cipher_algorithm(cipher: ContentCipher, key: bytes) -> CipherAlgorithm:
    if cipher is ContentCipher.DES_CBC:
        # Single DES is 3DES with one key repeated (EDE with K1=K2=K3).
        return TripleDES(key * 3)
    if cipher is ContentCipher.TRIPLEDES_CBC:
        return TripleDES(key)
    if cipher is ContentCipher.BLOWFISH_CBC:
        return Blowfish(key)
    return algorithms.AES(key)


def _oaep(transport: KeyTransport) -> padding.AsymmetricPadding:
    if transport.oaep_hash is None:
        return padding.PKCS1v15()
    algorithm = _hash(transport.oaep_hash)
    return padding.OAEP(mgf=padding.MGF1(algorithm), algorithm=algorithm, label=None)


def _load_private_key(private_key: PrivateKeyLike) -> Any:
    if isinstance(private_key, _KEY_TYPES):
        return private_key
    if isinstance(private_key, PycaKey):
        return private_key.key
    if isinstance(private_key, str):
        private_key = private_key.encode()
    if not isinstance(private_key, (bytes, bytearray, memoryview)):
        raise KeyLoadError(f"cannot load a private key from {type(private_key).__name__}")
    data = bytes(private_key)
    post_quantum = read_post_quantum_private_key(data)
    if post_quantum is not None:
        return _post_quantum_key(post_quantum)
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyLoadError("the private key could not be loaded") from exc
    if isinstance(key, tuple(_POST_QUANTUM_KEYS.values())):
        # pyscep's reader did not take it: not a form RFC 9881 or RFC 9935 allows.
        raise KeyLoadError("the ML-DSA or ML-KEM private key is not in a standard form")
    return key


def _post_quantum_key(stored: PostQuantumPrivateKey) -> Any:
    """The cryptography key of an ML-DSA/ML-KEM PKCS#8 key, built from its seed; both
    forms, and a stored public key, must agree with it."""
    parameter_set = stored.parameter_set
    key_class = _POST_QUANTUM_KEYS.get(parameter_set.name)
    if key_class is None:
        raise UnsupportedAlgorithmError(
            f"{parameter_set.title} is not implemented by the cryptography backend"
        )
    key = key_class.from_seed_bytes(stored.usable_seed())
    public = bytes(key.public_key().public_bytes_raw())
    if stored.expanded is not None:
        check_expanded_key(parameter_set, stored.usable_seed(), stored.expanded, public)
    if stored.public_key is not None and stored.public_key != public:
        raise KeyLoadError(f"the {parameter_set.title} public key is not the seed's")
    return key


class PycaKey:
    """A PrivateKey over a pyca/cryptography RSA, EC, Ed25519, ML-DSA or ML-KEM key
    (loaded once)."""

    def __init__(self, key: Any) -> None:
        if not isinstance(key, _KEY_TYPES):
            raise KeyLoadError(
                "only RSA, EC, Ed25519, ML-DSA and ML-KEM private keys are supported"
            )
        self.key = key
        self._public_key_der = bytes(
            key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    @property
    def public_key_der(self) -> bytes:
        """DER SubjectPublicKeyInfo."""
        return self._public_key_der

    def sign(self, data: bytes, digest: DigestAlgorithm, scheme: SignatureScheme) -> bytes:
        """Sign ``data`` with the private key."""
        algorithm = _hash(digest)
        if isinstance(self.key, rsa.RSAPrivateKey):
            if scheme is SignatureScheme.RSA_PKCS1V15:
                return bytes(self.key.sign(data, padding.PKCS1v15(), algorithm))
            if scheme is SignatureScheme.RSA_PSS:
                pss = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=digest.digest_size)
                return bytes(self.key.sign(data, pss, algorithm))
        elif isinstance(self.key, ec.EllipticCurvePrivateKey) and scheme is SignatureScheme.ECDSA:
            return bytes(self.key.sign(data, ec.ECDSA(algorithm)))
        elif isinstance(self.key, ed25519.Ed25519PrivateKey) and scheme is SignatureScheme.ED25519:
            return bytes(self.key.sign(data))  # pure Ed25519: the digest is not used
        elif isinstance(self.key, _ML_DSA_PRIVATE.get(scheme, ())):
            return bytes(self.key.sign(data))  # pure ML-DSA, empty context
        raise UnsupportedAlgorithmError(f"{scheme.value} does not fit this key")

    def decrypt_key(self, encrypted_key: bytes, transport: KeyTransport) -> bytes:
        """RSA-decrypt a content-encryption key."""
        if not isinstance(self.key, rsa.RSAPrivateKey):
            raise UnsupportedAlgorithmError("key transport needs an RSA key")
        return bytes(self.key.decrypt(encrypted_key, _oaep(transport)))

    def decapsulate(self, ciphertext: bytes) -> bytes:
        """ML-KEM: the shared secret of ``ciphertext``."""
        if not isinstance(self.key, (mlkem.MLKEM768PrivateKey, mlkem.MLKEM1024PrivateKey)):
            raise UnsupportedAlgorithmError("decapsulation needs an ML-KEM key")
        return bytes(self.key.decapsulate(ciphertext))

    def agree(self, peer_public_key_der: bytes) -> bytes:
        """ECDH Z with a peer's SubjectPublicKeyInfo on the same curve."""
        if not isinstance(self.key, ec.EllipticCurvePrivateKey):
            raise UnsupportedAlgorithmError("key agreement needs an EC key")
        peer = serialization.load_der_public_key(peer_public_key_der)
        if not isinstance(peer, ec.EllipticCurvePublicKey):
            raise UnsupportedAlgorithmError("the originator key is not an EC key")
        return bytes(self.key.exchange(ec.ECDH(), peer))


class PycaBackend:
    """CryptoBackend on pyca/cryptography."""

    name = "cryptography"

    def random_bytes(self, length: int) -> bytes:
        """``os.urandom``."""
        return os.urandom(length)

    def digest(self, algorithm: DigestAlgorithm, data: bytes) -> bytes:
        """hashlib is the fastest route to OpenSSL's digests for one-shot hashing."""
        return hashlib.new(algorithm.value, data).digest()

    def encrypt_content(
        self, cipher: ContentCipher, key: bytes, iv: bytes, plaintext: bytes
    ) -> bytes:
        """CBC with PKCS#7 padding."""
        # PKCS#7 (RFC 5652 section 6.3): 1 to block_size octets, each the pad length.
        pad = cipher.block_size - len(plaintext) % cipher.block_size
        padded = plaintext + bytes((pad,)) * pad
        encryptor = Cipher(_cipher_algorithm(cipher, key), modes.CBC(iv)).encryptor()
        return encryptor.update(padded) + encryptor.finalize()

    def decrypt_content(
        self, cipher: ContentCipher, key: bytes, iv: bytes, ciphertext: bytes
    ) -> bytes:
        """CBC-decrypt and unpad; every failure is the same DecryptionError."""
        try:
            if not ciphertext or len(ciphertext) % cipher.block_size:
                raise ValueError("bad length")
            decryptor = Cipher(_cipher_algorithm(cipher, key), modes.CBC(iv)).decryptor()
            padded = decryptor.update(ciphertext) + decryptor.finalize()
            unpadder = sym_padding.PKCS7(cipher.block_size * 8).unpadder()
            return unpadder.update(padded) + unpadder.finalize()
        except Exception:  # noqa: S110 - every failure ends in the one error below
            pass
        # Raised outside the except block: no exception context to leak either.
        raise DecryptionError()

    def encrypt_blocks(self, cipher: ContentCipher, key: bytes, iv: bytes, data: bytes) -> bytes:
        """CBC over whole blocks, no padding."""
        encryptor = Cipher(_cipher_algorithm(cipher, key), modes.CBC(iv)).encryptor()
        return encryptor.update(data) + encryptor.finalize()

    def decrypt_blocks(self, cipher: ContentCipher, key: bytes, iv: bytes, data: bytes) -> bytes:
        """CBC-decrypt whole blocks, no padding."""
        decryptor = Cipher(_cipher_algorithm(cipher, key), modes.CBC(iv)).decryptor()
        return decryptor.update(data) + decryptor.finalize()

    def ephemeral_agreement(
        self, public_key_der: bytes, rng: Rng | None = None
    ) -> tuple[bytes, bytes]:
        """An ephemeral key on the recipient's curve, and ECDH Z with it."""
        try:
            public = serialization.load_der_public_key(public_key_der)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise UnsupportedAlgorithmError("the recipient's public key cannot be used") from None
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise UnsupportedAlgorithmError("key agreement needs an EC recipient key")
        curve = public.curve
        if rng is None:
            ephemeral = ec.generate_private_key(curve)
        else:
            # For reproducible vectors: a scalar one byte shorter than the group order
            # is always below it (P-256, P-384, P-521).
            scalar = int.from_bytes(rng(curve.key_size // 8 - 1), "big") or 1
            ephemeral = ec.derive_private_key(scalar, curve)
        spki = ephemeral.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return bytes(spki), bytes(ephemeral.exchange(ec.ECDH(), public))

    def encapsulate(self, public_key_der: bytes) -> tuple[bytes, bytes]:
        """ML-KEM encapsulation to a SubjectPublicKeyInfo: (ciphertext, shared secret)."""
        try:
            public = serialization.load_der_public_key(public_key_der)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise UnsupportedAlgorithmError("the recipient's public key cannot be used") from None
        if not isinstance(public, _ML_KEM_PUBLIC):
            raise UnsupportedAlgorithmError("encapsulation needs an ML-KEM recipient key")
        shared_secret, ciphertext = public.encapsulate()
        return bytes(ciphertext), bytes(shared_secret)

    def seal(
        self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes, tag_length: int
    ) -> tuple[bytes, bytes]:
        """AES-GCM (RFC 5084): (ciphertext, tag of ``tag_length`` octets)."""
        encryptor = Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        ciphertext = encryptor.update(plaintext) + encryptor.finalize()
        return ciphertext, encryptor.tag[:tag_length]

    def open_sealed(
        self, key: bytes, nonce: bytes, ciphertext: bytes, tag: bytes, aad: bytes
    ) -> bytes:
        """AES-GCM: the plaintext; DecryptionError on any failure (a wrong tag included)."""
        try:
            mode = modes.GCM(nonce, tag, min_tag_length=len(tag))
            decryptor = Cipher(algorithms.AES(key), mode).decryptor()
            decryptor.authenticate_additional_data(aad)
            return decryptor.update(ciphertext) + decryptor.finalize()
        except Exception:  # noqa: S110 - every failure ends in the one error below
            pass
        raise DecryptionError()

    def encrypt_key(
        self,
        public_key_der: bytes,
        transport: KeyTransport,
        key: bytes,
        rng: Rng | None = None,
    ) -> bytes:
        """RSA key transport to a SubjectPublicKeyInfo (padding from ``rng`` when given)."""
        try:
            public = serialization.load_der_public_key(public_key_der)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise UnsupportedAlgorithmError("the recipient's public key cannot be used") from None
        if not isinstance(public, rsa.RSAPublicKey):
            raise UnsupportedAlgorithmError("key transport needs an RSA recipient key")
        if rng is not None:
            numbers = public.public_numbers()
            return rsa_encrypt_with_rng(numbers.n, numbers.e, transport, key, rng)
        return public.encrypt(key, _oaep(transport))

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
        try:
            public = serialization.load_der_public_key(public_key_der)
        except UnsupportedAlgorithm:
            # A curve or key type cryptography does not implement: a public fact.
            raise UnsupportedAlgorithmError("the signer's key type is not supported") from None
        except (ValueError, TypeError) as exc:
            raise VerificationError("the signer's public key cannot be loaded") from exc
        algorithm = _hash(digest)
        if pss_salt_length is not None and not 0 <= pss_salt_length <= _MAX_PSS_SALT:
            raise VerificationError("the RSASSA-PSS salt length is out of range")
        try:
            if isinstance(public, rsa.RSAPublicKey) and scheme is SignatureScheme.RSA_PKCS1V15:
                public.verify(signature, data, padding.PKCS1v15(), algorithm)
            elif isinstance(public, rsa.RSAPublicKey) and scheme is SignatureScheme.RSA_PSS:
                salt = digest.digest_size if pss_salt_length is None else pss_salt_length
                pss = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=salt)
                public.verify(signature, data, pss, algorithm)
            elif isinstance(public, ec.EllipticCurvePublicKey) and scheme is SignatureScheme.ECDSA:
                public.verify(signature, data, ec.ECDSA(algorithm))
            elif isinstance(public, ed25519.Ed25519PublicKey) and scheme is SignatureScheme.ED25519:
                public.verify(signature, data)
            elif isinstance(public, _ML_DSA_PUBLIC.get(scheme, ())):
                public.verify(signature, data)  # pure ML-DSA, empty context
            else:
                raise UnsupportedAlgorithmError(f"{scheme.value} does not fit the signer's key")
        except InvalidSignature:
            raise VerificationError("the signature does not verify") from None
        except UnsupportedAlgorithm:
            raise UnsupportedAlgorithmError("the signature's algorithm is not supported") from None
        except (ValueError, OverflowError):
            # Parameters cryptography refuses (a salt longer than the key allows...).
            raise VerificationError("the signature does not verify") from None

    def load_private_key(self, private_key: PrivateKeyLike) -> PycaKey:
        """Load the key once; use it many times."""
        return PycaKey(_load_private_key(private_key))

    def load_signer(self, private_key: PrivateKeyLike, certificate: Certificate) -> KeyPair:
        """Load the key once; sign many times (KeyMismatchError for another key's certificate)."""
        return KeyPair(PycaKey(_load_private_key(private_key)), certificate)

    def load_decrypter(self, private_key: PrivateKeyLike, certificate: Certificate) -> KeyPair:
        """Load the key once; decrypt many times (RSA: key transport, EC: key agreement)."""
        return KeyPair(PycaKey(_load_private_key(private_key)), certificate)
