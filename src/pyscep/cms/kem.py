"""KEMRecipientInfo (RFC 9629) with ML-KEM (RFC 9936): encapsulation, HKDF, AES key wrap.

Building: encapsulate to the recipient's ML-KEM key, derive the key-encryption
key with HKDF (RFC 8619) over the shared secret and CMSORIforKEMOtherInfo, wrap
the content-encryption key (RFC 3394). Opening: the same from the ciphertext
with the recipient's `Decapsulator`. As for the other recipients, every failure
after the public checks gives None, which the caller turns into a random key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from asn1crypto import cms, core

from pyscep import _der_writer as w
from pyscep._asn1 import KEMRecipientInfo
from pyscep._boundary import field
from pyscep.algorithms import AlgorithmPolicy, DigestAlgorithm
from pyscep.certificate import Certificate
from pyscep.cms._identifiers import read_identifier
from pyscep.crypto import CryptoBackend, kem_backend, key_wrap_backend
from pyscep.crypto.keywrap import aes_key_unwrap, aes_key_wrap, hkdf
from pyscep.errors import UnsupportedAlgorithmError
from pyscep.oids import PostQuantumOID, RecipientOID
from pyscep.public_key import PARAMETER_SETS

__all__ = ["KemParameters", "check_kem", "open_kem_recipient"]

_WRAP_SIZES = {oid: size for size, oid in RecipientOID.AES_WRAP.items()}
_HKDF_OIDS = {digest: oid for oid, digest in PostQuantumOID.HKDF.items()}


@dataclass(frozen=True)
class KemParameters:
    """What a KEMRecipientInfo says about its KEM, key derivation and key wrap."""

    #: The KEM by pyscep name (``ml_kem_768``), or its dotted OID when unknown.
    kem: str
    #: kemct: the KEM ciphertext.
    ciphertext: bytes
    #: The KDF OID, and the HKDF hash it names (None for a KDF pyscep does not have).
    kdf_oid: str
    kdf_digest: str | None
    #: kekLength: the key-encryption key's length in octets.
    kek_length: int
    #: user keying material, when sent.
    ukm: bytes | None
    #: The key wrap OID, and its key size (None for a wrap pyscep does not have).
    wrap_oid: str
    wrap_key_size: int | None
    #: The key wrap AlgorithmIdentifier as received, in DER (the KDF's info carries it).
    wrap_algorithm_der: bytes


def _kem_views(
    ori: cms.OtherRecipientInfo,
) -> tuple[KemParameters, bytes | None, int | None, bytes | None, bytes]:
    """(parameters, issuer DER, serial, key identifier, encrypted key) of an id-ori-kem."""
    with field("KEMRecipientInfo"):
        kemri = KEMRecipientInfo.load(ori["ori_value"].dump(), strict=True)
        if kemri["version"].native != 0:
            raise UnsupportedAlgorithmError("KEMRecipientInfo version other than 0")
        issuer_der, serial, key_identifier = read_identifier(kemri["rid"])
        kem = kemri["kem"]
        if not isinstance(kem["parameters"], core.Void):
            raise UnsupportedAlgorithmError("an ML-KEM algorithm identifier has no parameters")
        kdf_oid = str(kemri["kdf"]["algorithm"].dotted)
        wrap = kemri["wrap"]
        wrap_oid = str(wrap["algorithm"].dotted)
        ukm = kemri["ukm"]
        parameters = KemParameters(
            kem=str(kem["algorithm"].native),
            ciphertext=bytes(kemri["kemct"].native),
            kdf_oid=kdf_oid,
            kdf_digest=PostQuantumOID.HKDF.get(kdf_oid)
            if isinstance(kemri["kdf"]["parameters"], core.Void)
            else None,
            kek_length=int(kemri["kek_length"].native),
            ukm=None if isinstance(ukm, core.Void) else bytes(ukm.native),
            wrap_oid=wrap_oid,
            wrap_key_size=_WRAP_SIZES.get(wrap_oid),
            wrap_algorithm_der=bytes(wrap.dump(force=True)),
        )
        encrypted_key = bytes(kemri["encrypted_key"].native)
    return parameters, issuer_der, serial, key_identifier, encrypted_key


def check_kem(parameters: KemParameters, algorithms: AlgorithmPolicy) -> DigestAlgorithm:
    """The HKDF hash, after the public checks: a KEM the policy accepts, a KDF and a key
    wrap pyscep has, and a kekLength that is the wrap's key size."""
    parameter_set = PARAMETER_SETS.get(parameters.kem)
    if parameter_set is None or not parameter_set.is_kem:
        named = PostQuantumOID.REPORTED_ONLY.get(parameters.kem, parameters.kem)
        raise UnsupportedAlgorithmError(f"unsupported KEM {named}")
    if parameter_set.name not in algorithms.post_quantum:
        raise UnsupportedAlgorithmError(f"{parameter_set.title} is not accepted by this policy")
    if parameters.kdf_digest is None:
        raise UnsupportedAlgorithmError(f"unsupported KEM key derivation {parameters.kdf_oid}")
    if parameters.wrap_key_size is None:
        raise UnsupportedAlgorithmError(f"unsupported key wrap {parameters.wrap_oid}")
    if parameters.kek_length != parameters.wrap_key_size:
        raise UnsupportedAlgorithmError("kekLength is not the key wrap's key size")
    return DigestAlgorithm.from_name(parameters.kdf_digest)


def _other_info(wrap_algorithm_der: bytes, kek_length: int, ukm: bytes | None) -> bytes:
    """DER CMSORIforKEMOtherInfo (RFC 9629 section 5): the KDF's info."""
    parts = [wrap_algorithm_der, w.integer(kek_length)]
    if ukm is not None:
        parts.append(w.context(0, w.octet_string(ukm)))
    return w.sequence(*parts)


def open_kem_recipient(
    parameters: KemParameters,
    encrypted_key: bytes,
    *,
    decapsulate: Callable[[bytes], bytes],
    backend: CryptoBackend,
    digest: DigestAlgorithm,
) -> bytes | None:
    """The content key, or None on any failure (the caller carries on with a random key)."""
    wrapper = key_wrap_backend(backend)
    try:
        shared_secret = decapsulate(parameters.ciphertext)
        info = _other_info(parameters.wrap_algorithm_der, parameters.kek_length, parameters.ukm)
        kek = hkdf(digest, shared_secret, parameters.kek_length, info)
    except Exception:
        return None
    return aes_key_unwrap(wrapper, kek, encrypted_key)


def _build_kem_recipient(
    recipient: Certificate,
    content_key: bytes,
    *,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
    kdf_digest: DigestAlgorithm = DigestAlgorithm.SHA256,
    ukm: bytes | None = None,
) -> bytes:
    """DER RecipientInfo ``[4]`` OtherRecipientInfo(id-ori-kem) giving ``content_key`` to
    an ML-KEM ``recipient``: AES-256 key wrap (RFC 9936 section 3), HKDF with ``kdf_digest``."""
    key = algorithms.check_public_key(recipient.public_key)
    parameter_set = key.parameter_set
    if parameter_set is None or not parameter_set.is_kem:
        raise UnsupportedAlgorithmError("a KEMRecipientInfo needs an ML-KEM recipient key")
    if kdf_digest.value not in _HKDF_OIDS:
        raise UnsupportedAlgorithmError("the KEM key derivation is HKDF with SHA-256, -384 or -512")
    if len(content_key) < 16 or len(content_key) % 8:
        raise UnsupportedAlgorithmError("AES key wrap needs a content key of 16, 24 or 32 bytes")
    wrapper = key_wrap_backend(backend)
    ciphertext, shared_secret = kem_backend(backend).encapsulate(recipient.public_key_der)
    kek_length = 32
    wrap_algorithm = w.sequence(w.oid(RecipientOID.AES_WRAP[kek_length]))
    kek = hkdf(kdf_digest, shared_secret, kek_length, _other_info(wrap_algorithm, kek_length, ukm))
    fields = [
        w.integer(0),
        recipient.issuer_and_serial_der,
        w.sequence(w.oid(parameter_set.oid)),
        w.octet_string(ciphertext),
        w.sequence(w.oid(_HKDF_OIDS[kdf_digest.value])),
        w.integer(kek_length),
    ]
    if ukm is not None:
        fields.append(w.context(0, w.octet_string(ukm)))
    fields += [wrap_algorithm, w.octet_string(aes_key_wrap(wrapper, kek, content_key))]
    # RecipientInfo's ori choice: [4] IMPLICIT OtherRecipientInfo { oriType, oriValue }.
    return w.context(4, w.oid(PostQuantumOID.KEM_RECIPIENT) + w.sequence(*fields))
