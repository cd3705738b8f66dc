"""EnvelopedData opened (RFC 5652 section 6.2): by the decrypter's own RecipientInfo, a
password, or (diagnostics) a bare key on every recipient.

Opening never tells an attacker why it failed. Only the RecipientInfo
addressed to the caller's certificate is tried (no trial decryption of every
recipient, cf. CVE-2019-1563). A failed key transport, agreement, unwrap or
password check, or a recovered key of the wrong length, is replaced by a
random key and decryption carries on (RFC 3218 section 2.3.2), so every
secret-dependent failure ends in the same CBC step and raises the same
`DecryptionError`.
"""

from __future__ import annotations

from asn1crypto import algos

from pyscep._boundary import field
from pyscep.algorithms import (
    AeadCipher,
    AlgorithmPolicy,
    ContentCipher,
    DigestAlgorithm,
    KeyTransport,
)
from pyscep.cms.kem import check_kem, open_kem_recipient
from pyscep.cms.key_agreement import check_key_agreement, open_key_agreement
from pyscep.cms.password import check_password_parameters, open_password_recipient
from pyscep.crypto import (
    CryptoBackend,
    Decapsulator,
    Decrypter,
    KeyAgreer,
    KeyPair,
    PrivateKey,
    aead_backend,
)
from pyscep.errors import DecryptionError, ParseError, UnsupportedAlgorithmError
from pyscep.public_key import PublicKey

from .values import ParsedEnvelope, RecipientView

__all__ = [
    "decrypt_envelope",
    "key_transport_of",
    "open_with_key",
    "open_with_password",
]


def key_transport_of(recipient: RecipientView) -> KeyTransport:
    """The KeyTransport a RecipientInfo uses; UnsupportedAlgorithmError if we have none."""
    name = recipient.key_encryption_algorithm
    if name == "rsaes_pkcs1v15":
        return KeyTransport.RSA_PKCS1V15
    if name == "rsaes_oaep":
        params = recipient.key_encryption_parameters_der
        # Absent parameters mean the RFC 4055 defaults: SHA-1 and MGF1-SHA-1.
        return KeyTransport.RSA_OAEP_SHA1 if params is None else _oaep(params)
    raise UnsupportedAlgorithmError(f"unsupported key transport {name}")


def _oaep(params_der: bytes) -> KeyTransport:
    with field("RSAES-OAEP-params"):
        params = algos.RSAESOAEPParams.load(params_der, strict=True)
        hash_name = params["hash_algorithm"]["algorithm"].native
        mgf = params["mask_gen_algorithm"]
        if mgf["algorithm"].native != "mgf1":
            raise UnsupportedAlgorithmError("RSAES-OAEP with a mask generation other than MGF1")
        mgf_hash = mgf["parameters"]["algorithm"].native
        label = params["p_source_algorithm"]["parameters"].native
    if hash_name != mgf_hash:
        raise UnsupportedAlgorithmError("RSAES-OAEP with different hash and MGF1 hash")
    if label:
        raise UnsupportedAlgorithmError("RSAES-OAEP with a non-empty label")
    return KeyTransport(oaep_hash=DigestAlgorithm.from_name(str(hash_name)))


#: The recipient kinds opened by a private key named in a certificate.
_KEY_RECIPIENTS = ("ktri", "kari", "kemri")


def _content_cipher(
    envelope: ParsedEnvelope, algorithms: AlgorithmPolicy
) -> ContentCipher | AeadCipher:
    """The content cipher: CBC for an EnvelopedData, AES-GCM for an AuthEnvelopedData
    (RFC 5084 section 3: GCM only there, with a tag of 12 to 16 octets)."""
    if envelope.encrypted_content is None:
        raise ParseError("encryptedContent is absent")
    if not envelope.authenticated:
        return algorithms.check_cipher(ContentCipher.from_name(envelope.cipher_name))
    cipher = AeadCipher.from_name(envelope.cipher_name)
    if envelope.tag_length not in range(12, 17) or len(envelope.mac or b"") != envelope.tag_length:
        raise UnsupportedAlgorithmError("the AES-GCM tag is 12 to 16 octets, as declared")
    if envelope.iv is None or not 1 <= len(envelope.iv) <= 64:
        raise UnsupportedAlgorithmError("the AES-GCM nonce is missing or too long")
    return cipher


def decrypt_envelope(
    envelope: ParsedEnvelope,
    decrypter: Decrypter | KeyAgreer | Decapsulator,
    *,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
) -> tuple[bytes, ContentCipher | AeadCipher, KeyTransport | None]:
    """Open the envelope with ``decrypter``: plaintext, cipher and key transport used.

    An RSA decrypter opens its KeyTransRecipientInfo, an EC `KeyAgreer` its
    KeyAgreeRecipientInfo, an ML-KEM `Decapsulator` its KEMRecipientInfo (the key
    transport is then None). An AuthEnvelopedData's tag is checked (AES-GCM).
    Public facts (an unknown or forbidden cipher, key transport, KEM, scheme or
    key wrap) raise UnsupportedAlgorithmError; everything that depends on
    secrets raises the one `DecryptionError`.
    """
    cipher = _content_cipher(envelope, algorithms)
    mine = [r for r in envelope.recipients if r.addressed_to(decrypter.certificate)]
    unsupported = [r.unsupported for r in envelope.recipients if r.unsupported]
    if not mine and unsupported:
        raise UnsupportedAlgorithmError(unsupported[0])
    if not mine and any(r.kind not in _KEY_RECIPIENTS for r in envelope.recipients):
        # Public fact, not a secret: a password recipient needs the password.
        kinds = sorted({r.kind for r in envelope.recipients if r.kind not in _KEY_RECIPIENTS})
        raise UnsupportedAlgorithmError(
            f"no RecipientInfo for this certificate, and this decrypter cannot open {kinds}"
        )
    if len(mine) != 1:
        raise DecryptionError()
    recipient = mine[0]
    transport: KeyTransport | None = None
    fallback = backend.random_bytes(cipher.key_size)
    key: bytes | None
    if recipient.kind == "kemri":
        assert recipient.kem is not None
        kdf_digest = check_kem(recipient.kem, algorithms)
        if recipient.kem.kem != decrypter.certificate.public_key.algorithm:
            # Public: the policy judged the KEM named, which must be the key's own.
            raise UnsupportedAlgorithmError("the KEM named is not the recipient key's")
        if not isinstance(decrypter, (KeyPair, Decapsulator)):
            raise UnsupportedAlgorithmError("a KEM recipient needs a decrypter that decapsulates")
        key = open_kem_recipient(
            recipient.kem,
            recipient.encrypted_key,
            decapsulate=decrypter.decapsulate,
            backend=backend,
            digest=kdf_digest,
        )
    elif recipient.kind == "kari":
        assert recipient.agreement is not None
        digest = check_key_agreement(recipient.agreement, algorithms)
        if not isinstance(decrypter, KeyAgreer):
            raise UnsupportedAlgorithmError("key agreement needs a decrypter that can agree")
        key = open_key_agreement(
            recipient.agreement,
            recipient.encrypted_key,
            agree=decrypter.agree,
            own_public_key_der=decrypter.certificate.public_key_der,
            backend=backend,
            digest=digest,
        )
    else:
        transport = key_transport_of(recipient)
        # KeyPair first: a runtime Protocol check costs more than the AES decryption.
        if not isinstance(decrypter, (KeyPair, Decrypter)):
            raise UnsupportedAlgorithmError("key transport needs a decrypter with an RSA key")
        try:
            key = decrypter.decrypt_key(recipient.encrypted_key, transport)
        except Exception:
            key = None
    return _decrypt_with(envelope, cipher, key, fallback, backend), cipher, transport


def _decrypt_with(
    envelope: ParsedEnvelope,
    cipher: ContentCipher | AeadCipher,
    key: bytes | None,
    fallback: bytes,
    backend: CryptoBackend,
) -> bytes:
    """Decrypt with ``key``, or with the random ``fallback`` when the key is unusable.

    Every secret-dependent failure reaches the same CBC step, or the same GCM tag
    check (RFC 3218).
    """
    if key is None or len(key) != cipher.key_size:
        key = fallback
    if isinstance(cipher, AeadCipher):
        # Both checked by _content_cipher.
        assert envelope.iv is not None
        assert envelope.mac is not None
        return aead_backend(backend).open_sealed(
            key,
            envelope.iv,
            envelope.encrypted_content or b"",
            envelope.mac,
            envelope.auth_attrs_der or b"",
        )
    iv = envelope.iv
    if iv is None or len(iv) != cipher.block_size or envelope.encrypted_content is None:
        raise DecryptionError()
    return backend.decrypt_content(cipher, key, iv, envelope.encrypted_content)


def open_with_password(
    envelope: ParsedEnvelope,
    password: bytes,
    *,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
    diagnostic: bool = False,
) -> bytes:
    """Open the envelope's PasswordRecipientInfo with ``password`` (RFC 8894 section 3.1).

    A server passes the challenge password it expects. Public facts (no
    password recipient, unknown algorithms, PBKDF2 work over the bound)
    raise UnsupportedAlgorithmError or LimitExceededError; a wrong password
    and every other secret-dependent failure raise the one DecryptionError.

    ``diagnostic=True`` (DIAGNOSTICS ONLY, for local tools such as ``pyscep
    inspect``) stops at once when the RFC 3211 check bytes say the password is
    wrong, instead of carrying on with a random key (which passes the CBC
    padding check one time in 256): an oracle, never for a server's input.
    """
    cipher = _content_cipher(envelope, algorithms)
    candidates = [r for r in envelope.recipients if r.kind == "pwri"]
    if not candidates:
        raise UnsupportedAlgorithmError("the envelope has no PasswordRecipientInfo")
    if len(candidates) != 1:
        raise DecryptionError()
    recipient = candidates[0]
    if recipient.password is None:
        raise UnsupportedAlgorithmError(recipient.unsupported or "unreadable PasswordRecipientInfo")
    kek_cipher, prf = check_password_parameters(recipient.password, algorithms)
    fallback = backend.random_bytes(cipher.key_size)
    key = open_password_recipient(
        recipient.password,
        recipient.encrypted_key,
        password,
        cipher=kek_cipher,
        prf=prf,
        backend=backend,
    )
    if diagnostic and (key is None or len(key) != cipher.key_size):
        raise DecryptionError()
    return _decrypt_with(envelope, cipher, key, fallback, backend)


def open_with_key(
    envelope: ParsedEnvelope,
    key: PrivateKey,
    *,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
) -> tuple[bytes, RecipientView]:
    """DIAGNOSTICS ONLY: try ``key`` on every key-transport, key-agreement and KEM
    RecipientInfo.

    Returns the plaintext and the recipient it opened. Unlike
    `decrypt_envelope` this tells which recipient fits and why others did
    not, which is an oracle: use it in local tools such as ``pyscep inspect``,
    never on a server's input.
    """
    cipher = _content_cipher(envelope, algorithms)
    for recipient in envelope.recipients:
        content_key = _content_key_for(recipient, key, backend, algorithms)
        if content_key is None or len(content_key) != cipher.key_size:
            continue
        try:
            plaintext = _decrypt_with(envelope, cipher, content_key, content_key, backend)
        except DecryptionError:
            continue
        return plaintext, recipient
    raise DecryptionError()


def _content_key_for(
    recipient: RecipientView, key: PrivateKey, backend: CryptoBackend, algorithms: AlgorithmPolicy
) -> bytes | None:
    """Diagnostics: the content key ``key`` recovers from ``recipient``, if any."""
    try:
        if recipient.kind == "ktri":
            return key.decrypt_key(recipient.encrypted_key, key_transport_of(recipient))
        decapsulate = getattr(key, "decapsulate", None)
        own = PublicKey.load(key.public_key_der).algorithm
        if (
            recipient.kind == "kemri"
            and recipient.kem is not None
            and recipient.kem.kem == own
            and decapsulate is not None
        ):
            return open_kem_recipient(
                recipient.kem,
                recipient.encrypted_key,
                decapsulate=decapsulate,
                backend=backend,
                digest=check_kem(recipient.kem, algorithms),
            )
        agree = getattr(key, "agree", None)
        if recipient.kind == "kari" and recipient.agreement is not None and agree is not None:
            digest = check_key_agreement(recipient.agreement, algorithms)
            return open_key_agreement(
                recipient.agreement,
                recipient.encrypted_key,
                agree=agree,
                own_public_key_der=key.public_key_der,
                backend=backend,
                digest=digest,
            )
    except Exception:  # noqa: S110 - the next recipient may be ours
        pass
    return None
