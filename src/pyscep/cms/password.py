"""PasswordRecipientInfo (RFC 3211, RFC 5652 section 6.2.4): a key from a shared secret.

RFC 8894 section 3.1 lets a party whose key cannot encrypt protect a message
with the challenge password. The key-encryption key is PBKDF2 of the
password; the content key is wrapped with id-alg-PWRI-KEK (two CBC passes,
RFC 3211 section 2.3) under a block cipher named in its parameters.
Opening returns None on any failure after the public checks, so that the
caller fails where every other failure fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import algos, cms, core

from pyscep._boundary import field
from pyscep._deprecation import renamed
from pyscep.algorithms import AlgorithmPolicy, ContentCipher, DigestAlgorithm
from pyscep.crypto import CryptoBackend, Rng, key_wrap_backend
from pyscep.crypto.keywrap import pbkdf2, pwri_unwrap, pwri_wrap
from pyscep.errors import LimitExceededError, UnsupportedAlgorithmError
from pyscep.oids import RecipientOID

__all__ = [
    "DEFAULT_ITERATIONS",
    "MAX_ITERATIONS",
    "PasswordParameters",
    "check_password_parameters",
    "open_password_recipient",
]

#: PBKDF2 iterations pyscep writes.
DEFAULT_ITERATIONS = 10_000
#: Most PBKDF2 iterations pyscep will run for someone else's message: about 35 ms of
#: HMAC-SHA-512, 50 times what OpenSSL writes (2048); more is refused before any work.
MAX_ITERATIONS = 100_000


@dataclass(frozen=True)
class PasswordParameters:
    """How a PasswordRecipientInfo derives and wraps its key (public facts)."""

    salt: bytes
    iterations: int
    key_length: int | None
    #: The PBKDF2 PRF's hash (``sha1`` when absent, the ASN.1 default).
    prf: str
    #: The keyEncryptionAlgorithm OID (id-alg-PWRI-KEK), and the KEK cipher it names.
    key_encryption_oid: str
    kek_cipher: str | None
    kek_iv: bytes | None


def _build_password_recipient(
    password: bytes,
    content_key: bytes,
    *,
    kek_cipher: ContentCipher,
    backend: CryptoBackend,
    rng: Rng,
    iterations: int = DEFAULT_ITERATIONS,
    prf: DigestAlgorithm = DigestAlgorithm.SHA256,
) -> cms.RecipientInfo:
    """A PasswordRecipientInfo (v0) giving ``content_key`` to whoever knows ``password``."""
    if not password:
        raise UnsupportedAlgorithmError("password-based encryption needs a non-empty password")
    wrapper = key_wrap_backend(backend)
    salt = rng(16)
    iv = rng(kek_cipher.block_size)
    kek = pbkdf2(prf, password, salt, iterations, kek_cipher.key_size)
    encrypted_key = pwri_wrap(wrapper, kek_cipher, kek, iv, content_key, rng)
    return cms.RecipientInfo(
        {
            "pwri": cms.PasswordRecipientInfo(
                {
                    "version": "v0",
                    "key_derivation_algorithm": algos.KdfAlgorithm(
                        {
                            "algorithm": "pbkdf2",
                            "parameters": {
                                "salt": algos.Pbkdf2Salt({"specified": salt}),
                                "iteration_count": iterations,
                                "prf": {"algorithm": prf.value},
                            },
                        }
                    ),
                    "key_encryption_algorithm": cms.KeyEncryptionAlgorithm(
                        {
                            "algorithm": RecipientOID.PWRI_KEK,
                            "parameters": algos.EncryptionAlgorithm(
                                {"algorithm": kek_cipher.value, "parameters": core.OctetString(iv)}
                            ),
                        }
                    ),
                    "encrypted_key": encrypted_key,
                }
            )
        }
    )


def _password_parameters(pwri: cms.PasswordRecipientInfo) -> PasswordParameters:
    """Read the public parameters of a PasswordRecipientInfo (ParseError when malformed)."""
    with field("keyDerivationAlgorithm"):
        kdf = pwri["key_derivation_algorithm"]
        if isinstance(kdf, core.Void):
            raise UnsupportedAlgorithmError("a PasswordRecipientInfo without a key derivation")
        if kdf["algorithm"].native != "pbkdf2":
            raise UnsupportedAlgorithmError(f"unsupported key derivation {kdf['algorithm'].dotted}")
        params = kdf["parameters"]
        salt = params["salt"]
        if salt.name != "specified":
            raise UnsupportedAlgorithmError("PBKDF2 with a salt other than an OCTET STRING")
        key_length = params["key_length"].native
        prf = str(params["prf"]["algorithm"].native)
        iterations = int(params["iteration_count"].native)
        salt_bytes = bytes(salt.chosen.native)
    with field("keyEncryptionAlgorithm"):
        algorithm = pwri["key_encryption_algorithm"]
        oid = str(algorithm["algorithm"].dotted)
        kek_cipher = kek_iv = None
        if oid == RecipientOID.PWRI_KEK:
            inner = algos.EncryptionAlgorithm.load(algorithm["parameters"].dump(), strict=True)
            kek_cipher = str(inner["algorithm"].native)
            iv = inner["parameters"]
            kek_iv = bytes(iv.native) if isinstance(iv, core.OctetString) else None
    return PasswordParameters(
        salt=salt_bytes,
        iterations=iterations,
        key_length=None if key_length is None else int(key_length),
        prf=prf,
        key_encryption_oid=oid,
        kek_cipher=kek_cipher,
        kek_iv=kek_iv,
    )


def check_password_parameters(
    parameters: PasswordParameters, algorithms: AlgorithmPolicy
) -> tuple[ContentCipher, DigestAlgorithm]:
    """The KEK cipher and PRF hash, after the public checks (bounded work, known algorithms)."""
    if parameters.key_encryption_oid != RecipientOID.PWRI_KEK or parameters.kek_cipher is None:
        raise UnsupportedAlgorithmError(
            f"unsupported password key encryption {parameters.key_encryption_oid}"
        )
    if not 1 <= parameters.iterations <= MAX_ITERATIONS:
        raise LimitExceededError(
            f"PBKDF2 iteration count {parameters.iterations} is outside 1..{MAX_ITERATIONS}"
        )
    cipher = algorithms.check_cipher(ContentCipher.from_name(parameters.kek_cipher))
    if parameters.key_length is not None and parameters.key_length != cipher.key_size:
        raise UnsupportedAlgorithmError("PBKDF2 keyLength does not fit the KEK cipher")
    # A PRF hash is not a signature hash: HMAC-SHA-1 is PBKDF2's default and OpenSSL's.
    return cipher, DigestAlgorithm.from_name(parameters.prf)


def open_password_recipient(
    parameters: PasswordParameters,
    encrypted_key: bytes,
    password: bytes,
    *,
    cipher: ContentCipher,
    prf: DigestAlgorithm,
    backend: CryptoBackend,
) -> bytes | None:
    """The content key, or None on any failure (the caller carries on with a random key)."""
    wrapper = key_wrap_backend(backend)
    if parameters.kek_iv is None:
        return None
    try:
        kek = pbkdf2(prf, password, parameters.salt, parameters.iterations, cipher.key_size)
    except Exception:
        return None
    return pwri_unwrap(wrapper, cipher, kek, parameters.kek_iv, encrypted_key)


# Typed with asn1crypto objects, so private since 0.x (`build_enveloped_data` builds
# these recipients; `parse_enveloped_data` gives their `RecipientView`).
_PRIVATE_NOW = {
    "build_password_recipient": "_build_password_recipient",
    "password_parameters": "_password_parameters",
}


def __getattr__(name: str) -> object:
    """The old public names, for one release, with a DeprecationWarning."""
    return renamed(
        __name__,
        name,
        _PRIVATE_NOW,
        globals(),
        why="typed with asn1crypto objects",
        instead="pyscep.cms.build_enveloped_data, and RecipientView from parse_enveloped_data",
    )
