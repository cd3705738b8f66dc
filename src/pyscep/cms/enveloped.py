"""EnvelopedData (pkcsPKIEnvelope): build to a recipient certificate or a password, and open.

The recipient's key picks the RecipientInfo: an RSA certificate gets key
transport (KeyTransRecipientInfo), an EC certificate key agreement
(KeyAgreeRecipientInfo, `pyscep.cms.key_agreement`); a password gives a
PasswordRecipientInfo (`pyscep.cms.password`, RFC 8894 section 3.1).

Opening never tells an attacker why it failed. Only the RecipientInfo
addressed to the caller's certificate is tried (no trial decryption of every
recipient, cf. CVE-2019-1563). A failed key transport, agreement, unwrap or
password check, or a recovered key of the wrong length, is replaced by a
random key and decryption carries on (RFC 3218 section 2.3.2), so every
secret-dependent failure ends in the same CBC step and raises the same
`DecryptionError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from asn1crypto import algos, cms, core

from pyscep import _der_writer as w
from pyscep._asn1 import ContentInfo
from pyscep._boundary import DEPENDENCY_ERRORS, field
from pyscep._der import (
    DEFAULT_LIMITS,
    Limits,
    count_children,
    octet_string_value,
    prescan,
    read_header,
)
from pyscep._der_reader import Reader
from pyscep._parser_switch import read_fast
from pyscep.algorithms import AlgorithmPolicy, ContentCipher, DigestAlgorithm, KeyTransport
from pyscep.certificate import Certificate
from pyscep.cms._identifiers import read_identifier
from pyscep.crypto import (
    CryptoBackend,
    Decrypter,
    KeyAgreer,
    KeyPair,
    KeyWrapBackend,
    PrivateKey,
    Rng,
)
from pyscep.errors import DecryptionError, ParseError, UnsupportedAlgorithmError
from pyscep.oids import CipherOID

from .key_agreement import (
    KeyAgreement,
    _build_key_agreement,
    _key_agreement_views,
    check_key_agreement,
    open_key_agreement,
)
from .password import (
    DEFAULT_ITERATIONS,
    PasswordParameters,
    _build_password_recipient,
    _password_parameters,
    check_password_parameters,
    open_password_recipient,
)

__all__ = [
    "ParsedEnvelope",
    "RecipientView",
    "build_enveloped_data",
    "decrypt_envelope",
    "key_transport_of",
    "open_with_key",
    "open_with_password",
    "parse_enveloped_data",
    "recipient_problem",
    "signature_only",
]

#: Most RecipientInfos an envelope may carry.
MAX_RECIPIENTS = 16


@dataclass(frozen=True)
class RecipientView:
    """One RecipientInfo as found; a KeyAgreeRecipientInfo gives one per recipient key."""

    #: ``ktri``, ``kari``, ``kekri``, ``pwri`` or ``ori``.
    kind: str
    version: str | None = None
    #: DER of the rid's issuer Name (IssuerAndSerialNumber form).
    issuer_der: bytes | None = None
    serial: int | None = None
    key_identifier: bytes | None = None
    #: asn1crypto name of keyEncryptionAlgorithm (``rsaes_pkcs1v15``, ``rsaes_oaep``).
    key_encryption_algorithm: str | None = None
    #: ``NULL``, ``absent`` or ``present``: parameters of keyEncryptionAlgorithm.
    key_encryption_parameters: str | None = None
    #: DER of the keyEncryptionAlgorithm parameters (RSAES-OAEP-params), when present.
    key_encryption_parameters_der: bytes | None = None
    encrypted_key: bytes = b""
    #: kari: the originator's key, the scheme and the key wrap.
    agreement: KeyAgreement | None = None
    #: pwri: the key derivation and the key wrap.
    password: PasswordParameters | None = None
    #: Why this kari or pwri cannot be opened by pyscep (a public fact), if it cannot.
    unsupported: str | None = None

    def addressed_to(self, certificate: Certificate) -> bool:
        """True when this RecipientInfo names ``certificate``."""
        return self.kind in ("ktri", "kari") and certificate.is_named_by(
            self.issuer_der, self.serial, self.key_identifier
        )


@dataclass(frozen=True)
class ParsedEnvelope:
    """An EnvelopedData read from bytes; nothing decrypted."""

    version: str
    recipients: tuple[RecipientView, ...]
    content_type: str
    #: asn1crypto name of the content cipher, or its dotted OID when unknown.
    cipher_name: str
    cipher_oid: str
    iv: bytes | None
    encrypted_content: bytes | None
    #: True when encryptedContent arrived as a constructed (segmented) string.
    encrypted_content_constructed: bool


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


def parse_enveloped_data(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> ParsedEnvelope:
    """Read a ContentInfo(EnvelopedData), BER or DER; raise ParseError on any defect.

    Canonical DER with key-transport recipients is read by the DER fast path
    (`pyscep._der_reader`); anything else by asn1crypto, after the resource
    pre-scan: asn1crypto never sees input over the limits.
    """
    # Imported here: the fast reader builds on this module's values.
    from pyscep.cms._enveloped_reader import read_enveloped_data

    fast = read_fast("enveloped_data", lambda: read_enveloped_data(Reader(data, limits)))
    if fast is not None:
        return fast
    # BER, or a shape the fast path leaves to asn1crypto (or the fast path is off).
    prescan(data, limits)
    with field("ContentInfo"):
        info = ContentInfo.load(data, strict=True)
        if info["content_type"].native == "authenticated_enveloped_data":
            raise UnsupportedAlgorithmError("AuthEnvelopedData (AEAD) is not supported")
        if info["content_type"].native != "enveloped_data":
            raise ParseError(f"content type is {info['content_type'].native}, not envelopedData")
        enveloped = info["content"]
        if not isinstance(enveloped, cms.EnvelopedData):
            raise ParseError("envelopedData content is missing")
        with field("EnvelopedData"):
            return _parse_enveloped(enveloped)


def _parse_enveloped(enveloped: cms.EnvelopedData) -> ParsedEnvelope:
    with field("version"):
        version = str(enveloped["version"].native)
    recipients = []
    with field("recipientInfos"):
        infos = enveloped["recipient_infos"]
        if count_children(infos.contents or b"", MAX_RECIPIENTS, "RecipientInfos") == 0:
            raise ParseError("no RecipientInfo")
        for index, recipient in enumerate(infos):
            with field(f"[{index}]"):
                recipients.extend(_parse_recipient(recipient))
    with field("encryptedContentInfo"):
        eci = enveloped["encrypted_content_info"]
        content_type = str(eci["content_type"].native)
        algorithm = eci["content_encryption_algorithm"]
        cipher_name = str(algorithm["algorithm"].native)
        cipher_oid = str(algorithm["algorithm"].dotted)
        iv = None
        try:
            params = algorithm["parameters"]
            if cipher_oid == CipherOID.BLOWFISH_CBC:
                # Unknown to asn1crypto: its IV parameter arrives untyped.
                cipher_name = ContentCipher.BLOWFISH_CBC.value
                params = core.OctetString.load(params.dump(), strict=True)
            if isinstance(params, core.OctetString):
                iv = bytes(params.native)
        except (ValueError, TypeError, KeyError):
            iv = None  # an unusable IV fails decryption uniformly later
        encrypted_content, constructed = _encrypted_content(eci.contents)
    return ParsedEnvelope(
        version=version,
        recipients=tuple(recipients),
        content_type=content_type,
        cipher_name=cipher_name,
        cipher_oid=cipher_oid,
        iv=iv,
        encrypted_content=encrypted_content,
        encrypted_content_constructed=constructed,
    )


def _encrypted_content(contents: bytes) -> tuple[bytes | None, bool]:
    """encryptedContent ``[0] IMPLICIT OCTET STRING`` read from the raw sequence contents.

    Read with pyscep's TLV reader: primitive and segmented forms alike.
    """
    position = 0
    for _ in range(2):  # contentType, contentEncryptionAlgorithm
        position = read_header(contents, position).end
    if position == len(contents):
        return None, False
    element = read_header(contents, position)
    if element.tag_class != 2 or element.tag_number != 0 or element.end != len(contents):
        raise ParseError("unexpected element after contentEncryptionAlgorithm")
    return octet_string_value(contents[element.start : element.end]), element.constructed


def _parse_recipient(recipient: cms.RecipientInfo) -> list[RecipientView]:
    try:
        return _read_recipient(recipient)
    except UnsupportedAlgorithmError as exc:
        # Well-formed but beyond pyscep: kept, and said when someone tries to open it.
        return [RecipientView(kind=str(recipient.name), unsupported=str(exc))]


def _read_recipient(recipient: cms.RecipientInfo) -> list[RecipientView]:
    if recipient.name == "kari":
        kari = recipient.chosen
        scheme = str(kari["key_encryption_algorithm"]["algorithm"].dotted)
        return [
            RecipientView(
                kind="kari",
                version=str(kari["version"].native),
                issuer_der=issuer_der,
                serial=serial,
                key_identifier=key_identifier,
                key_encryption_algorithm=scheme,
                encrypted_key=encrypted_key,
                agreement=agreement,
            )
            for agreement, issuer_der, serial, key_identifier, encrypted_key in (
                _key_agreement_views(kari)
            )
        ]
    if recipient.name == "pwri":
        pwri = recipient.chosen
        parameters = _password_parameters(pwri)
        return [
            RecipientView(
                kind="pwri",
                version=str(pwri["version"].native),
                key_encryption_algorithm=parameters.key_encryption_oid,
                encrypted_key=bytes(pwri["encrypted_key"].native),
                password=parameters,
            )
        ]
    if recipient.name != "ktri":
        return [RecipientView(kind=str(recipient.name))]
    return [_key_transport_view(recipient.chosen)]


def _key_transport_view(ktri: cms.KeyTransRecipientInfo) -> RecipientView:
    issuer_der, serial, key_identifier = read_identifier(ktri["rid"])
    algorithm = ktri["key_encryption_algorithm"]
    raw_params = algorithm["parameters"]
    params_der = None
    if isinstance(raw_params, core.Void):
        params_state = "absent"
    elif isinstance(raw_params, core.Null):
        params_state = "NULL"
    else:
        params_state = "present"
        params_der = bytes(raw_params.dump())
    return RecipientView(
        kind="ktri",
        version=str(ktri["version"].native),
        issuer_der=issuer_der,
        serial=serial,
        key_identifier=key_identifier,
        key_encryption_algorithm=str(algorithm["algorithm"].native),
        key_encryption_parameters=params_state,
        key_encryption_parameters_der=params_der,
        encrypted_key=bytes(ktri["encrypted_key"].native),
    )


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


def decrypt_envelope(
    envelope: ParsedEnvelope,
    decrypter: Decrypter | KeyAgreer,
    *,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
) -> tuple[bytes, ContentCipher, KeyTransport | None]:
    """Open the envelope with ``decrypter``: plaintext, cipher and key transport used.

    An RSA decrypter opens its KeyTransRecipientInfo, an EC `KeyAgreer` its
    KeyAgreeRecipientInfo (the key transport is then None). Public facts (an
    unknown or forbidden cipher, key transport, scheme or key wrap) raise
    UnsupportedAlgorithmError; everything that depends on secrets raises the
    one `DecryptionError`.
    """
    cipher = algorithms.check_cipher(ContentCipher.from_name(envelope.cipher_name))
    if envelope.encrypted_content is None:
        raise ParseError("encryptedContent is absent")
    mine = [r for r in envelope.recipients if r.addressed_to(decrypter.certificate)]
    unsupported = [r.unsupported for r in envelope.recipients if r.unsupported]
    if not mine and unsupported:
        raise UnsupportedAlgorithmError(unsupported[0])
    if not mine and any(r.kind not in ("ktri", "kari") for r in envelope.recipients):
        # Public fact, not a secret: a password recipient needs the password.
        kinds = sorted({r.kind for r in envelope.recipients if r.kind not in ("ktri", "kari")})
        raise UnsupportedAlgorithmError(
            f"no RecipientInfo for this certificate, and this decrypter cannot open {kinds}"
        )
    if len(mine) != 1:
        raise DecryptionError()
    recipient = mine[0]
    transport: KeyTransport | None = None
    fallback = backend.random_bytes(cipher.key_size)
    key: bytes | None
    if recipient.kind == "kari":
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
    cipher: ContentCipher,
    key: bytes | None,
    fallback: bytes,
    backend: CryptoBackend,
) -> bytes:
    """Decrypt with ``key``, or with the random ``fallback`` when the key is unusable.

    Every secret-dependent failure reaches the same CBC step (RFC 3218).
    """
    if key is None or len(key) != cipher.key_size:
        key = fallback
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
    cipher = algorithms.check_cipher(ContentCipher.from_name(envelope.cipher_name))
    if envelope.encrypted_content is None:
        raise ParseError("encryptedContent is absent")
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
    """DIAGNOSTICS ONLY: try ``key`` on every key-transport and key-agreement RecipientInfo.

    Returns the plaintext and the recipient it opened. Unlike
    `decrypt_envelope` this tells which recipient fits and why others did
    not, which is an oracle: use it in local tools such as ``pyscep inspect``,
    never on a server's input.
    """
    cipher = algorithms.check_cipher(ContentCipher.from_name(envelope.cipher_name))
    if envelope.encrypted_content is None:
        raise ParseError("encryptedContent is absent")
    iv = envelope.iv
    if iv is None or len(iv) != cipher.block_size:
        raise DecryptionError()
    for recipient in envelope.recipients:
        content_key = _content_key_for(recipient, key, backend, algorithms)
        if content_key is None or len(content_key) != cipher.key_size:
            continue
        try:
            plaintext = backend.decrypt_content(cipher, content_key, iv, envelope.encrypted_content)
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
