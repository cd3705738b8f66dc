"""EnvelopedData (pkcsPKIEnvelope) built to a recipient certificate or a password (RFC 5652
section 6), and AuthEnvelopedData (RFC 5083, AES-GCM per RFC 5084).

The recipient's key picks the RecipientInfo: an RSA certificate gets key
transport (KeyTransRecipientInfo), an EC certificate key agreement
(KeyAgreeRecipientInfo, `pyscep.cms.key_agreement`, RFC 5753), an ML-KEM
certificate a KEMRecipientInfo (`pyscep.cms.kem`, RFC 9629, RFC 9936); a password
gives a PasswordRecipientInfo (`pyscep.cms.password`, RFC 3211; RFC 8894 section 3.1).
"""

from __future__ import annotations

from functools import lru_cache

from asn1crypto import algos, cms, core

from pyscep import _der_writer as w
from pyscep._boundary import DEPENDENCY_ERRORS
from pyscep.algorithms import (
    AeadCipher,
    AlgorithmPolicy,
    ContentCipher,
    DigestAlgorithm,
    KeyTransport,
)
from pyscep.certificate import Certificate
from pyscep.cms.kem import _build_kem_recipient
from pyscep.cms.key_agreement import _build_key_agreement
from pyscep.cms.password import DEFAULT_ITERATIONS, _build_password_recipient
from pyscep.crypto import CryptoBackend, KemBackend, KeyWrapBackend, Rng, aead_backend
from pyscep.errors import UnsupportedAlgorithmError
from pyscep.oids import PostQuantumOID

__all__ = [
    "SIGNATURE_ONLY_KEYS",
    "build_auth_enveloped_data",
    "build_enveloped_data",
    "recipient_problem",
    "signature_only",
]


def _key_transport_algorithm(transport: KeyTransport) -> cms.KeyEncryptionAlgorithm:
    if transport.oaep_hash is None:
        return cms.KeyEncryptionAlgorithm(
            {"algorithm": "rsaes_pkcs1v15", "parameters": core.Null()}
        )
    hash_algorithm = {"algorithm": transport.oaep_hash.value}
    return cms.KeyEncryptionAlgorithm(
        {
            "algorithm": "rsaes_oaep",
            "parameters": algos.RSAESOAEPParams(
                {
                    "hash_algorithm": hash_algorithm,
                    "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": hash_algorithm},
                }
            ),
        }
    )


def build_enveloped_data(
    content: bytes,
    recipient: Certificate | None,
    *,
    cipher: ContentCipher,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
    key_transport: KeyTransport = KeyTransport.RSA_PKCS1V15,
    rng: Rng | None = None,
    password: bytes | None = None,
    kdf_digest: DigestAlgorithm = DigestAlgorithm.SHA256,
    iterations: int = DEFAULT_ITERATIONS,
    ukm: bytes | None = None,
) -> bytes:
    """DER ContentInfo(EnvelopedData) of ``content`` for ``recipient`` and/or ``password``.

    An RSA recipient gets key transport (``key_transport``), an EC recipient
    key agreement (ECDH, X9.63 KDF with ``kdf_digest``, AES key wrap), an
    ML-KEM recipient a KEMRecipientInfo (HKDF with ``kdf_digest``, AES-256 key
    wrap, ``ukm`` when given). A ``password`` adds a PasswordRecipientInfo
    (PBKDF2 with ``iterations``).
    ``rng`` supplies the content-encryption key, the IV, padding, salts and
    ephemeral keys (the backend's random source by default); pass a
    deterministic one to rebuild a message byte for byte.
    """
    algorithms.check_cipher(cipher)
    if cipher.read_only:
        raise UnsupportedAlgorithmError(f"pyscep reads {cipher.value} but never encrypts with it")
    if recipient is None and password is None:
        raise UnsupportedAlgorithmError("an envelope needs a recipient certificate or a password")
    random = rng or backend.random_bytes
    key = random(cipher.key_size)
    iv = random(cipher.block_size)
    ciphertext = backend.encrypt_content(cipher, key, iv, content)
    infos = _recipient_infos(
        key,
        recipient,
        password,
        kek_cipher=cipher,
        backend=backend,
        algorithms=algorithms,
        key_transport=key_transport,
        rng=rng,
        kdf_digest=kdf_digest,
        iterations=iterations,
        ukm=ukm,
    )
    kinds = {kind for kind, _ in infos}
    # RFC 5652 section 6.1: v3 with a pwri or an ori, v2 with a kari, v0 with key
    # transport alone.
    version = 3 if kinds & {"pwri", "kemri"} else 2 if "kari" in kinds else 0
    encrypted_content_info = w.sequence(
        w.oid(_DATA),
        w.sequence(w.oid(_cipher_oid(cipher)), w.octet_string(iv)),
        w.context(0, ciphertext, constructed=False),  # [0] IMPLICIT OCTET STRING
    )
    enveloped = w.sequence(
        w.integer(version), w.set_of([info for _, info in infos]), encrypted_content_info
    )
    return w.sequence(w.oid(_ENVELOPED_DATA), w.context(0, enveloped))


def build_auth_enveloped_data(
    content: bytes,
    recipient: Certificate | None,
    *,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
    cipher: AeadCipher = AeadCipher.AES256_GCM,
    key_transport: KeyTransport = KeyTransport.RSA_OAEP_SHA256,
    rng: Rng | None = None,
    password: bytes | None = None,
    kdf_digest: DigestAlgorithm = DigestAlgorithm.SHA256,
    iterations: int = DEFAULT_ITERATIONS,
    ukm: bytes | None = None,
) -> bytes:
    """DER ContentInfo(AuthEnvelopedData) of ``content`` (RFC 5083), AES-GCM with a
    12-octet nonce and a 16-octet tag (RFC 5084), no authenticated attributes.

    Recipients as for `build_enveloped_data` (the password's key wrap uses
    AES-256-CBC, RFC 3211). The backend must have AES-GCM (`AeadBackend`).
    """
    if recipient is None and password is None:
        raise UnsupportedAlgorithmError("an envelope needs a recipient certificate or a password")
    sealer = aead_backend(backend)
    random = rng or backend.random_bytes
    key = random(cipher.key_size)
    nonce = random(12)
    ciphertext, tag = sealer.seal(key, nonce, content, b"", 16)
    infos = _recipient_infos(
        key,
        recipient,
        password,
        kek_cipher=ContentCipher.AES256_CBC,
        backend=backend,
        algorithms=algorithms,
        key_transport=key_transport,
        rng=rng,
        kdf_digest=kdf_digest,
        iterations=iterations,
        ukm=ukm,
    )
    encrypted_content_info = w.sequence(
        w.oid(_DATA),
        w.sequence(
            w.oid(PostQuantumOID.AES_GCM[cipher.key_size]),
            # GCMParameters: the nonce; the 16-octet tag length (12 is the DEFAULT).
            w.sequence(w.octet_string(nonce), w.integer(16)),
        ),
        w.context(0, ciphertext, constructed=False),
    )
    auth_enveloped = w.sequence(
        w.integer(0),  # RFC 5083 section 2.1: always 0
        w.set_of([info for _, info in infos]),
        encrypted_content_info,
        w.octet_string(tag),
    )
    return w.sequence(w.oid(PostQuantumOID.AUTH_ENVELOPED_DATA), w.context(0, auth_enveloped))


def _recipient_infos(
    key: bytes,
    recipient: Certificate | None,
    password: bytes | None,
    *,
    kek_cipher: ContentCipher,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
    key_transport: KeyTransport,
    rng: Rng | None,
    kdf_digest: DigestAlgorithm,
    iterations: int,
    ukm: bytes | None,
) -> list[tuple[str, bytes]]:
    """(kind, DER RecipientInfo) giving the content key ``key`` to ``recipient`` and/or
    ``password``."""
    random = rng or backend.random_bytes
    infos: list[tuple[str, bytes]] = []
    if recipient is not None:
        parameter_set = recipient.public_key.parameter_set
        if parameter_set is not None and parameter_set.is_kem:
            kem = _build_kem_recipient(
                recipient,
                key,
                backend=backend,
                algorithms=algorithms,
                kdf_digest=kdf_digest,
                ukm=ukm,
            )
            infos.append(("kemri", kem))
        elif recipient.public_key_algorithm == "ec":
            agreement = _build_key_agreement(
                recipient,
                key,
                backend=backend,
                algorithms=algorithms,
                kdf_digest=kdf_digest,
                rng=rng,
            )
            infos.append(("kari", bytes(agreement.dump())))
        else:
            transport = _key_transport_recipient(
                recipient, key, backend, algorithms, key_transport, rng
            )
            infos.append(("ktri", transport))
    if password is not None:
        by_password = _build_password_recipient(
            password,
            key,
            kek_cipher=kek_cipher,
            backend=backend,
            rng=random,
            iterations=iterations,
        )
        infos.append(("pwri", bytes(by_password.dump())))
    return infos


_DATA = "1.2.840.113549.1.7.1"
_ENVELOPED_DATA = "1.2.840.113549.1.7.3"


@lru_cache(maxsize=16)
def _cipher_oid(cipher: ContentCipher) -> str:
    return str(algos.EncryptionAlgorithmId(cipher.value).dotted)


@lru_cache(maxsize=16)
def _key_transport_algorithm_der(transport: KeyTransport) -> bytes:
    return bytes(_key_transport_algorithm(transport).dump())


#: Key families that only sign: an envelope to them needs a password (RFC 8894 section 3.1).
SIGNATURE_ONLY_KEYS = frozenset({"ed25519", *PostQuantumOID.ML_DSA.values()})


def signature_only(certificate: Certificate) -> bool:
    """True for a key nothing can be encrypted to (Ed25519, ML-DSA): its replies need a
    password (`SIGNATURE_ONLY_KEYS`)."""
    return certificate.public_key_algorithm in SIGNATURE_ONLY_KEYS


def recipient_problem(
    certificate: Certificate, *, backend: CryptoBackend, algorithms: AlgorithmPolicy
) -> str | None:
    """Why an envelope cannot be built for ``certificate``'s key, or None when it can.

    RSA keys take key transport, EC keys on an accepted curve key agreement
    (when the backend has ECDH), ML-KEM keys a KEMRecipientInfo (when the backend
    has ML-KEM); other keys (Ed25519, ML-DSA) need a password.
    """
    family = certificate.public_key_algorithm
    try:
        algorithms.check_public_key(certificate.public_key)
    except UnsupportedAlgorithmError as exc:
        return str(exc)
    if family == "rsa":
        return None
    if family == "ec":
        if isinstance(backend, KeyWrapBackend):
            return None
        return f"the {backend.name} backend has no ECDH key agreement"
    parameter_set = certificate.public_key.parameter_set
    if parameter_set is not None and parameter_set.is_kem:
        if isinstance(backend, KemBackend) and isinstance(backend, KeyWrapBackend):
            return None
        return f"the {backend.name} backend has no {parameter_set.title}"
    return f"an {family} key can only sign: nothing can be encrypted to it"


def _key_transport_recipient(
    recipient: Certificate,
    key: bytes,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
    key_transport: KeyTransport,
    rng: Rng | None,
) -> bytes:
    encrypted_key = _transported_key(recipient, key, backend, algorithms, key_transport, rng)
    # KeyTransRecipientInfo, untagged in the RecipientInfo CHOICE.
    return w.sequence(
        w.integer(0),
        recipient.issuer_and_serial_der,
        _key_transport_algorithm_der(key_transport),
        w.octet_string(encrypted_key),
    )


def _transported_key(
    recipient: Certificate,
    key: bytes,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
    key_transport: KeyTransport,
    rng: Rng | None,
) -> bytes:
    """``key`` encrypted to ``recipient``'s RSA key (the encryptedKey of a
    KeyTransRecipientInfo); UnsupportedAlgorithmError for a key that cannot take it."""
    if recipient.public_key_algorithm != "rsa":
        raise UnsupportedAlgorithmError(
            "the recipient certificate needs an RSA key (key transport) or an EC key "
            "(key agreement)"
        )
    algorithms.check_public_key(recipient.public_key)
    # Reproducible on request: the backend pads from the caller's rng.
    try:
        return backend.encrypt_key(recipient.public_key_der, key_transport, key, rng)
    except DEPENDENCY_ERRORS:
        # The recipient certificate came from GetCACert: whatever the backend's
        # library makes of its key, the answer is a pyscep error.
        raise UnsupportedAlgorithmError("the recipient's public key cannot be used") from None
