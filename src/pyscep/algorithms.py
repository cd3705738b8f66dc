"""The algorithms pyscep speaks, and the policy that says which are allowed.

Names are asn1crypto's spellings (``sha256``, ``aes128_cbc``,
``tripledes_3key``, ``rsaes_oaep``), so they match what parsed messages report.

Secure by default: MD5 and single DES, which RFC 8894 section 2.9 forbids but
sscep, old NDES and micromdm still use, are refused unless the caller opts in
with the one switch ``AlgorithmPolicy(allow_legacy=True)`` (or `LEGACY`).
Blowfish (``sscep enroll -E blowfish``) is read behind the same switch and
never emitted.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

from .errors import UnsupportedAlgorithmError
from .public_key import PublicKey

__all__ = [
    "DEFAULT_POLICY",
    "LEGACY",
    "AeadCipher",
    "AlgorithmPolicy",
    "ContentCipher",
    "DigestAlgorithm",
    "KeyTransport",
    "SignatureScheme",
]


class DigestAlgorithm(enum.Enum):
    """Message digests, by asn1crypto name."""

    MD5 = "md5"
    SHA1 = "sha1"
    SHA224 = "sha224"
    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"

    @property
    def digest_size(self) -> int:
        """Length of the digest in bytes."""
        return _DIGEST_SIZES[self]

    @property
    def is_legacy(self) -> bool:
        """True for MD5, which needs the legacy opt-in."""
        return self is DigestAlgorithm.MD5

    @classmethod
    def from_name(cls, name: str) -> DigestAlgorithm:
        """Map an asn1crypto digest name; unknown names raise UnsupportedAlgorithmError."""
        try:
            return cls(name)
        except ValueError:
            raise UnsupportedAlgorithmError(f"unsupported digest algorithm {name!r}") from None


_DIGEST_SIZES = {
    DigestAlgorithm.MD5: 16,
    DigestAlgorithm.SHA1: 20,
    DigestAlgorithm.SHA224: 28,
    DigestAlgorithm.SHA256: 32,
    DigestAlgorithm.SHA384: 48,
    DigestAlgorithm.SHA512: 64,
}


class ContentCipher(enum.Enum):
    """Content-encryption ciphers of a pkcsPKIEnvelope, all CBC with PKCS#7 padding."""

    BLOWFISH_CBC = "blowfish_cbc"
    DES_CBC = "des"
    TRIPLEDES_CBC = "tripledes_3key"
    AES128_CBC = "aes128_cbc"
    AES192_CBC = "aes192_cbc"
    AES256_CBC = "aes256_cbc"

    @property
    def key_size(self) -> int:
        """Content-encryption key length in bytes."""
        return _CIPHER_KEY_SIZES[self]

    @property
    def block_size(self) -> int:
        """Block (and IV) length in bytes."""
        return 16 if self.name.startswith("AES") else 8

    @property
    def is_legacy(self) -> bool:
        """True for single DES and Blowfish, which need the legacy opt-in."""
        return self in (ContentCipher.DES_CBC, ContentCipher.BLOWFISH_CBC)

    @property
    def read_only(self) -> bool:
        """True for ciphers pyscep decrypts for old peers but never encrypts with (Blowfish)."""
        return self is ContentCipher.BLOWFISH_CBC

    @classmethod
    def from_name(cls, name: str) -> ContentCipher:
        """Map an asn1crypto cipher name; unknown names raise UnsupportedAlgorithmError."""
        try:
            return cls(name)
        except ValueError:
            raise UnsupportedAlgorithmError(f"unsupported content cipher {name!r}") from None


_CIPHER_KEY_SIZES = {
    # sscep (OpenSSL's EVP_bf_cbc) uses a 128-bit Blowfish key.
    ContentCipher.BLOWFISH_CBC: 16,
    ContentCipher.DES_CBC: 8,
    ContentCipher.TRIPLEDES_CBC: 24,
    ContentCipher.AES128_CBC: 16,
    ContentCipher.AES192_CBC: 24,
    ContentCipher.AES256_CBC: 32,
}


class AeadCipher(enum.Enum):
    """Authenticated content ciphers of an AuthEnvelopedData (RFC 5083): AES-GCM (RFC 5084)."""

    AES128_GCM = "aes128_gcm"
    AES192_GCM = "aes192_gcm"
    AES256_GCM = "aes256_gcm"

    @property
    def key_size(self) -> int:
        """Content-encryption key length in bytes."""
        return {"aes128_gcm": 16, "aes192_gcm": 24, "aes256_gcm": 32}[self.value]

    @classmethod
    def from_name(cls, name: str) -> AeadCipher:
        """Map an asn1crypto cipher name; unknown names raise UnsupportedAlgorithmError."""
        try:
            return cls(name)
        except ValueError:
            raise UnsupportedAlgorithmError(f"unsupported authenticated cipher {name!r}") from None


@dataclass(frozen=True)
class KeyTransport:
    """RSA key transport of the content-encryption key (KeyTransRecipientInfo).

    ``oaep_hash`` is None for RSAES-PKCS1-v1_5; for RSAES-OAEP it is the hash
    used for both the label and MGF1 (RFC 8017 defaults to SHA-1).
    """

    oaep_hash: DigestAlgorithm | None = None

    @property
    def name(self) -> str:
        """asn1crypto's name of the keyEncryptionAlgorithm."""
        return "rsaes_pkcs1v15" if self.oaep_hash is None else "rsaes_oaep"

    RSA_PKCS1V15: ClassVar[KeyTransport]
    RSA_OAEP_SHA1: ClassVar[KeyTransport]
    RSA_OAEP_SHA256: ClassVar[KeyTransport]


KeyTransport.RSA_PKCS1V15 = KeyTransport()
KeyTransport.RSA_OAEP_SHA1 = KeyTransport(DigestAlgorithm.SHA1)
KeyTransport.RSA_OAEP_SHA256 = KeyTransport(DigestAlgorithm.SHA256)


class SignatureScheme(enum.Enum):
    """How a SignerInfo's signature is computed (the hash is chosen separately)."""

    RSA_PKCS1V15 = "rsassa_pkcs1v15"
    RSA_PSS = "rsassa_pss"
    ECDSA = "ecdsa"
    #: Pure Ed25519 (RFC 8032; in CMS RFC 8419, with SHA-512 for the signed attributes).
    ED25519 = "ed25519"
    #: Pure ML-DSA (FIPS 204, empty context; RFC 9881, in CMS RFC 9882): one scheme per
    #: parameter set, named as the key's algorithm.
    ML_DSA_44 = "ml_dsa_44"
    ML_DSA_65 = "ml_dsa_65"
    ML_DSA_87 = "ml_dsa_87"


@dataclass(frozen=True)
class AlgorithmPolicy:
    """Which algorithms a parse, verify, decrypt or build may use.

    :param allow_legacy: the one switch for peers that still use MD5 digests or
        single-DES envelopes (sscep's defaults, old NDES, micromdm's replies).
    :param min_rsa_bits: smallest RSA modulus accepted for signatures and
        key transport.
    :param max_rsa_bits: largest RSA modulus accepted; huge keys make every
        public-key operation expensive for the receiver.
    :param ec_curves: named curves accepted for EC keys (explicit parameters
        never are).
    :param ed25519: accept Ed25519 keys (signatures only: nothing is
        encrypted to one, so replies to them need a password, RFC 8894 3.1).
    :param post_quantum: the ML-DSA and ML-KEM parameter sets accepted
        (`pyscep.public_key.PARAMETER_SETS` names). ML-KEM-512 is known but the
        backends do not implement it.
    """

    allow_legacy: bool = False
    min_rsa_bits: int = 2048
    max_rsa_bits: int = 8192
    ec_curves: frozenset[str] = frozenset({"secp256r1", "secp384r1", "secp521r1"})
    ed25519: bool = True
    post_quantum: frozenset[str] = frozenset(
        {"ml_dsa_44", "ml_dsa_65", "ml_dsa_87", "ml_kem_768", "ml_kem_1024"}
    )

    def check_digest(self, digest: DigestAlgorithm) -> DigestAlgorithm:
        """Return ``digest`` if allowed, raise UnsupportedAlgorithmError otherwise."""
        if digest.is_legacy and not self.allow_legacy:
            raise UnsupportedAlgorithmError(
                f"{digest.value} is a legacy digest; pass AlgorithmPolicy(allow_legacy=True)"
            )
        return digest

    def check_cipher(self, cipher: ContentCipher) -> ContentCipher:
        """Return ``cipher`` if allowed, raise UnsupportedAlgorithmError otherwise."""
        if cipher.is_legacy and not self.allow_legacy:
            raise UnsupportedAlgorithmError(
                f"{cipher.value} is a legacy cipher; pass AlgorithmPolicy(allow_legacy=True)"
            )
        return cipher

    def check_rsa_bits(self, bits: int) -> None:
        """Raise UnsupportedAlgorithmError for an RSA modulus outside the allowed range."""
        low = min(self.min_rsa_bits, 1024) if self.allow_legacy else self.min_rsa_bits
        if not low <= bits <= self.max_rsa_bits:
            raise UnsupportedAlgorithmError(f"RSA key of {bits} bits is outside the allowed range")

    def check_public_key(self, key: PublicKey) -> PublicKey:
        """Return ``key`` if the policy allows it, raise UnsupportedAlgorithmError otherwise.

        Every key pyscep verifies with or encrypts to passes here, whatever
        its OID spelling (an id-RSASSA-PSS key is an RSA key).
        """
        if key.family == "rsa":
            self.check_rsa_bits(key.bits)
            exponent = key.public_exponent or 0
            # What OpenSSL accepts (odd, at most 64 bits): a huge exponent makes
            # each verification as slow as a private-key operation.
            if exponent < 3 or not exponent & 1 or exponent.bit_length() > 64:
                raise UnsupportedAlgorithmError("the RSA public exponent is not acceptable")
        elif key.family == "ec":
            if key.curve == "explicit":
                raise UnsupportedAlgorithmError("EC keys with explicit parameters are refused")
            if key.curve not in self.ec_curves:
                raise UnsupportedAlgorithmError(f"the EC curve {key.curve} is not supported")
        elif key.parameter_set is not None:
            if key.algorithm not in self.post_quantum:
                raise UnsupportedAlgorithmError(
                    f"{key.parameter_set.title} keys are not accepted by this policy"
                )
        elif key.family != "ed25519" or not self.ed25519:
            raise UnsupportedAlgorithmError(f"{key.algorithm} keys are not supported")
        return key


#: Strict defaults: AES/3DES, SHA-1 and SHA-2, RSA 2048-8192.
DEFAULT_POLICY = AlgorithmPolicy()
#: Also accept MD5 and single DES (and RSA keys from 1024 bits).
LEGACY = AlgorithmPolicy(allow_legacy=True)
