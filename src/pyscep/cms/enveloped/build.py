"""EnvelopedData (pkcsPKIEnvelope) built to a recipient certificate or a password (RFC 5652
section 6).

The recipient's key picks the RecipientInfo: an RSA certificate gets key
transport (KeyTransRecipientInfo), an EC certificate key agreement
(KeyAgreeRecipientInfo, `pyscep.cms.key_agreement`, RFC 5753); a password gives
a PasswordRecipientInfo (`pyscep.cms.password`, RFC 3211; RFC 8894 section 3.1).
"""

from __future__ import annotations

from functools import lru_cache

from asn1crypto import algos, cms, core

from pyscep import _der_writer as w
from pyscep._boundary import DEPENDENCY_ERRORS
from pyscep.algorithms import AlgorithmPolicy, ContentCipher, DigestAlgorithm, KeyTransport
from pyscep.certificate import Certificate
from pyscep.cms.key_agreement import _build_key_agreement
from pyscep.cms.password import DEFAULT_ITERATIONS, _build_password_recipient
from pyscep.crypto import CryptoBackend, KeyWrapBackend, Rng
from pyscep.errors import UnsupportedAlgorithmError

__all__ = ["build_enveloped_data", "recipient_problem", "signature_only"]


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
) -> bytes:
    """DER ContentInfo(EnvelopedData) of ``content`` for ``recipient`` and/or ``password``.

    An RSA recipient gets key transport (``key_transport``), an EC recipient
    key agreement (ECDH, X9.63 KDF with ``kdf_digest``, AES key wrap). A
    ``password`` adds a PasswordRecipientInfo (PBKDF2 with ``iterations``).
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
    infos: list[tuple[str, bytes]] = []
    if recipient is not None:
        if recipient.public_key_algorithm == "ec":
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
            kek_cipher=cipher,
            backend=backend,
            rng=random,
            iterations=iterations,
        )
        infos.append(("pwri", bytes(by_password.dump())))
    kinds = {kind for kind, _ in infos}
    # RFC 5652 section 6.1: v3 with a pwri, v2 with a kari, v0 with key transport alone.
    version = 3 if "pwri" in kinds else 2 if "kari" in kinds else 0
    encrypted_content_info = w.sequence(
        w.oid(_DATA),
        w.sequence(w.oid(_cipher_oid(cipher)), w.octet_string(iv)),
        w.context(0, ciphertext, constructed=False),  # [0] IMPLICIT OCTET STRING
    )
    enveloped = w.sequence(
        w.integer(version), w.set_of([info for _, info in infos]), encrypted_content_info
    )
    return w.sequence(w.oid(_ENVELOPED_DATA), w.context(0, enveloped))


_DATA = "1.2.840.113549.1.7.1"
_ENVELOPED_DATA = "1.2.840.113549.1.7.3"


@lru_cache(maxsize=16)
def _cipher_oid(cipher: ContentCipher) -> str:
    return str(algos.EncryptionAlgorithmId(cipher.value).dotted)


@lru_cache(maxsize=16)
def _key_transport_algorithm_der(transport: KeyTransport) -> bytes:
    return bytes(_key_transport_algorithm(transport).dump())


#: Key families that only sign: an envelope to them needs a password (RFC 8894 section 3.1).
_SIGNATURE_ONLY = frozenset({"ed25519"})


def signature_only(certificate: Certificate) -> bool:
    """True for a key nothing can be encrypted to (Ed25519): its replies need a password."""
    return certificate.public_key_algorithm in _SIGNATURE_ONLY


def recipient_problem(
    certificate: Certificate, *, backend: CryptoBackend, algorithms: AlgorithmPolicy
) -> str | None:
    """Why an envelope cannot be built for ``certificate``'s key, or None when it can.

    RSA keys take key transport, EC keys on an accepted curve key agreement
    (when the backend has ECDH); other keys (Ed25519, say) need a password.
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
