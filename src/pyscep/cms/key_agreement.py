"""KeyAgreeRecipientInfo (RFC 5652 section 6.2.2, RFC 5753): ECDH ephemeral-static.

Building: an ephemeral key on the recipient's curve, ECDH, the X9.63 KDF over
ECC-CMS-SharedInfo, and AES key wrap of the content-encryption key.
Opening: the same from the originator's public point with the recipient's
`KeyAgreer`. Every failure after the public checks (a bad point, a failed
agreement, a failed unwrap) gives None, which the caller turns into a random
key, so that it fails where every other failure fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from asn1crypto import cms, core, keys, x509

from pyscep._asn1 import EccCmsSharedInfo
from pyscep._boundary import field
from pyscep._deprecation import renamed
from pyscep._der import count_children
from pyscep.algorithms import AlgorithmPolicy, DigestAlgorithm
from pyscep.certificate import Certificate
from pyscep.cms._identifiers import read_identifier
from pyscep.crypto import CryptoBackend, Rng, key_wrap_backend
from pyscep.crypto.keywrap import aes_key_unwrap, aes_key_wrap, x963_kdf
from pyscep.errors import UnsupportedAlgorithmError
from pyscep.oids import RecipientOID
from pyscep.public_key import PublicKey

__all__ = [
    "KeyAgreement",
    "check_key_agreement",
    "open_key_agreement",
]

#: Most RecipientEncryptedKeys one KeyAgreeRecipientInfo may carry.
MAX_ENCRYPTED_KEYS = 16
_WRAP_SIZES = {oid: size for size, oid in RecipientOID.AES_WRAP.items()}


@dataclass(frozen=True)
class KeyAgreement:
    """What a KeyAgreeRecipientInfo says about how its key was agreed and wrapped."""

    #: The originator's public point (the BIT STRING contents).
    originator_point: bytes
    #: The curve its AlgorithmIdentifier names; None when absent (then it is the recipient's).
    originator_curve: str | None
    #: user keying material, when sent.
    ukm: bytes | None
    #: The keyEncryptionAlgorithm OID (``dhSinglePass-*``), and the KDF hash it implies.
    scheme_oid: str
    kdf_digest: str | None
    #: The key wrap OID (``id-aes*-wrap``), and its key size.
    wrap_oid: str | None
    wrap_key_size: int | None
    #: The key wrap AlgorithmIdentifier as received (in DER). The KDF's SharedInfo
    #: carries it as the sender wrote it: some write NULL parameters (OpenSSL honours
    #: them), so the key is derived from it, not from the OID alone.
    wrap_algorithm_der: bytes | None = None


def _kek(
    backend: CryptoBackend,
    digest: DigestAlgorithm,
    secret: bytes,
    wrap_algorithm: cms.KeyEncryptionAlgorithm,
    size: int,
    ukm: bytes | None,
) -> bytes:
    shared_info = EccCmsSharedInfo(
        {
            "key_info": wrap_algorithm,
            "entity_u_info": ukm,
            "supp_pub_info": (size * 8).to_bytes(4, "big"),
        }
    )
    return x963_kdf(backend, digest, secret, size, bytes(shared_info.dump()))


def _build_key_agreement(
    recipient: Certificate,
    content_key: bytes,
    *,
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
    kdf_digest: DigestAlgorithm = DigestAlgorithm.SHA256,
    rng: Rng | None = None,
) -> cms.RecipientInfo:
    """A KeyAgreeRecipientInfo (v3) giving ``content_key`` to an EC ``recipient``."""
    algorithms.check_public_key(recipient.public_key)
    wrapper = key_wrap_backend(backend)
    if len(content_key) < 16:
        raise UnsupportedAlgorithmError("AES key wrap needs a content key of 16 bytes or more")
    # Wrap with at least the content key's strength (RFC 5753 section 7.1.5).
    size = 32 if len(content_key) > 24 else 24 if len(content_key) > 16 else 16
    wrap_oid = RecipientOID.AES_WRAP[size]
    ephemeral_spki, secret = wrapper.ephemeral_agreement(recipient.public_key_der, rng)
    wrap_algorithm = cms.KeyEncryptionAlgorithm({"algorithm": wrap_oid})
    kek = _kek(backend, kdf_digest, secret, wrap_algorithm, size, None)
    encrypted_key = aes_key_wrap(wrapper, kek, content_key)
    ephemeral = keys.PublicKeyInfo.load(ephemeral_spki)
    return cms.RecipientInfo(
        {
            "kari": cms.KeyAgreeRecipientInfo(
                {
                    "version": "v3",
                    "originator": cms.OriginatorIdentifierOrKey(
                        {
                            # The curve is the recipient's: parameters absent, as
                            # OpenSSL writes them (RFC 5753 section 3.1.1).
                            "originator_key": keys.PublicKeyInfo(
                                {
                                    "algorithm": {"algorithm": "ec"},
                                    "public_key": ephemeral["public_key"],
                                }
                            )
                        }
                    ),
                    "key_encryption_algorithm": cms.KeyEncryptionAlgorithm(
                        {
                            "algorithm": RecipientOID.STD_DH[kdf_digest.value],
                            "parameters": cms.KeyEncryptionAlgorithm({"algorithm": wrap_oid}),
                        }
                    ),
                    "recipient_encrypted_keys": [
                        {
                            "rid": cms.KeyAgreementRecipientIdentifier(
                                {
                                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                                        {
                                            "issuer": x509.Name.load(recipient.issuer_der),
                                            "serial_number": recipient.serial_number,
                                        }
                                    )
                                }
                            ),
                            "encrypted_key": encrypted_key,
                        }
                    ],
                }
            )
        }
    )


def _key_agreement_views(
    kari: cms.KeyAgreeRecipientInfo,
) -> list[tuple[KeyAgreement, bytes | None, int | None, bytes | None, bytes]]:
    """(agreement, issuer DER, serial, key identifier, encrypted key) per recipient key."""
    with field("originator"):
        originator = kari["originator"]
        if originator.name != "originator_key":
            raise UnsupportedAlgorithmError("key agreement with a static originator key")
        public = originator.chosen
        if public["algorithm"]["algorithm"].native != "ec":
            raise UnsupportedAlgorithmError("key agreement with a non-EC originator key")
        point = bytes(public["public_key"].native)
        parameters = public["algorithm"]["parameters"]
        curve = None
        if not isinstance(parameters, (core.Void, core.Null)):
            curve = str(parameters.chosen.native) if parameters.name == "named" else "explicit"
    with field("ukm"):
        ukm_value = kari["ukm"]
        ukm = None if isinstance(ukm_value, core.Void) else bytes(ukm_value.native)
    with field("keyEncryptionAlgorithm"):
        algorithm = kari["key_encryption_algorithm"]
        scheme_oid = str(algorithm["algorithm"].dotted)
        wrap_oid = wrap_der = None
        parameters = algorithm["parameters"]
        if not isinstance(parameters, (core.Void, core.Null)):
            wrap = cms.KeyEncryptionAlgorithm.load(parameters.dump(), strict=True)
            wrap_oid = str(wrap["algorithm"].dotted)
            # Re-encoded in DER, NULL parameters kept: what OpenSSL feeds its KDF (it
            # decodes the AlgorithmIdentifier and encodes it again), BER or not.
            wrap_der = bytes(wrap.dump(force=True))
    agreement = KeyAgreement(
        originator_point=point,
        originator_curve=curve,
        ukm=ukm,
        scheme_oid=scheme_oid,
        kdf_digest=RecipientOID.KEY_AGREEMENT_KDF.get(scheme_oid),
        wrap_oid=wrap_oid,
        wrap_key_size=_WRAP_SIZES.get(wrap_oid or ""),
        wrap_algorithm_der=wrap_der,
    )
    views = []
    with field("recipientEncryptedKeys"):
        encrypted_keys = kari["recipient_encrypted_keys"]
        count_children(encrypted_keys.contents or b"", MAX_ENCRYPTED_KEYS, "RecipientEncryptedKeys")
        for index, entry in enumerate(encrypted_keys):
            with field(f"[{index}]"):
                issuer_der, serial, key_identifier = read_identifier(entry["rid"])
                views.append(
                    (
                        agreement,
                        issuer_der,
                        serial,
                        key_identifier,
                        bytes(entry["encrypted_key"].native),
                    )
                )
    return views


def check_key_agreement(agreement: KeyAgreement, algorithms: AlgorithmPolicy) -> DigestAlgorithm:
    """The KDF hash, after the public checks: a scheme and a key wrap pyscep has."""
    if agreement.kdf_digest is None:
        raise UnsupportedAlgorithmError(f"unsupported key agreement scheme {agreement.scheme_oid}")
    if agreement.wrap_key_size is None:
        raise UnsupportedAlgorithmError(f"unsupported key wrap {agreement.wrap_oid}")
    # A KDF hash is not a signature hash: SHA-1 in X9.63 is what OpenSSL sends by default.
    return DigestAlgorithm.from_name(agreement.kdf_digest)


def open_key_agreement(
    agreement: KeyAgreement,
    encrypted_key: bytes,
    *,
    agree: Callable[[bytes], bytes],
    own_public_key_der: bytes,
    backend: CryptoBackend,
    digest: DigestAlgorithm,
) -> bytes | None:
    """The content key, or None on any failure (the caller carries on with a random key).

    ``agree`` is the recipient's ECDH (`KeyAgreer.agree`), ``own_public_key_der``
    its SubjectPublicKeyInfo: the originator's point is read on its curve.
    """
    assert agreement.wrap_oid is not None
    assert agreement.wrap_key_size is not None
    wrapper = key_wrap_backend(backend)
    wrap_algorithm = (
        cms.KeyEncryptionAlgorithm({"algorithm": agreement.wrap_oid})
        if agreement.wrap_algorithm_der is None  # a KeyAgreement made by hand
        else cms.KeyEncryptionAlgorithm.load(agreement.wrap_algorithm_der)
    )
    try:
        ours = keys.PublicKeyInfo.load(own_public_key_der)
        if agreement.originator_curve not in (None, PublicKey.load(own_public_key_der).curve):
            return None  # a point on another curve
        # The originator's point on our curve.
        peer = keys.PublicKeyInfo(
            {"algorithm": ours["algorithm"], "public_key": agreement.originator_point}
        )
        secret = agree(bytes(peer.dump()))
    except Exception:
        return None
    kek = _kek(backend, digest, secret, wrap_algorithm, agreement.wrap_key_size, agreement.ukm)
    return aes_key_unwrap(wrapper, kek, encrypted_key)


# Typed with asn1crypto objects, so private since 0.x (`build_enveloped_data` builds
# these recipients; `parse_enveloped_data` gives their `RecipientView`).
_PRIVATE_NOW = {
    "build_key_agreement": "_build_key_agreement",
    "key_agreement_views": "_key_agreement_views",
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
