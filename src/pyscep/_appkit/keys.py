"""New private keys for the applications, by name: ``rsa2048`` ... ``ec-p256`` ... ``ed25519``,
``ml-dsa-65`` ... ``ml-kem-768``; and the request that renews a certificate with one."""

from __future__ import annotations

import secrets
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, rsa
from cryptography.x509.oid import ExtensionOID

from pyscep.certificate import Certificate
from pyscep.cms.enveloped import SIGNATURE_ONLY_KEYS, signature_only
from pyscep.crypto import PrivateKey
from pyscep.errors import LocalProtocolError
from pyscep.messages import CertificationRequest, build_csr
from pyscep.public_key import PublicKey

__all__ = [
    "DECRYPTION_KEY_TYPES",
    "KEY_TYPES",
    "SIGNING_ONLY_KEY_TYPES",
    "key_type_of",
    "new_private_key",
    "renewal_request",
]

_CURVES: dict[str, ec.EllipticCurve] = {
    "ec-p256": ec.SECP256R1(),
    "ec-p384": ec.SECP384R1(),
    "ec-p521": ec.SECP521R1(),
}
_OF_CURVE = {"secp256r1": "ec-p256", "secp384r1": "ec-p384", "secp521r1": "ec-p521"}
#: Post-quantum keys by name (FIPS 204 ML-DSA signs; FIPS 203 ML-KEM only decapsulates).
_POST_QUANTUM: dict[str, Any] = {
    "ml-dsa-44": mldsa.MLDSA44PrivateKey,
    "ml-dsa-65": mldsa.MLDSA65PrivateKey,
    "ml-dsa-87": mldsa.MLDSA87PrivateKey,
    "ml-kem-768": mlkem.MLKEM768PrivateKey,
    "ml-kem-1024": mlkem.MLKEM1024PrivateKey,
}
#: The key types a requester signs with (Ed25519 and ML-DSA only sign: their
#: CertReps are keyed by the challengePassword, RFC 8894 section 3.1).
KEY_TYPES = (
    "rsa2048",
    "rsa3072",
    "rsa4096",
    *_CURVES,
    "ed25519",
    "ml-dsa-44",
    "ml-dsa-65",
    "ml-dsa-87",
)
#: The key types an RA's request-decryption key may be, beyond the signing ones.
DECRYPTION_KEY_TYPES = ("ml-kem-768", "ml-kem-1024")
#: The key types nothing can be encrypted to (their replies: a password or a reply key).
SIGNING_ONLY_KEY_TYPES = tuple(
    kind for kind in KEY_TYPES if kind.replace("-", "_") in SIGNATURE_ONLY_KEYS
)
#: Older spellings still accepted.
_ALIASES = {"ec256": "ec-p256", "rsa": "rsa2048", "ec": "ec-p256"}


def new_private_key(kind: str) -> bytes:
    """A new key of ``kind`` (`KEY_TYPES`, `DECRYPTION_KEY_TYPES`) as unencrypted PKCS#8 PEM."""
    kind = _ALIASES.get(kind, kind)
    key: Any
    if kind in _POST_QUANTUM:
        key = _POST_QUANTUM[kind].generate()  # written as its seed (RFC 9881, RFC 9935)
    elif kind in _CURVES:
        key = ec.generate_private_key(_CURVES[kind])
    elif kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif kind in KEY_TYPES:
        key = rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    else:
        known = ", ".join((*KEY_TYPES, *DECRYPTION_KEY_TYPES))
        raise LocalProtocolError(f"unknown key type {kind!r} (one of {known})")
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def key_type_of(certificate: Certificate) -> str:
    """The key type to renew ``certificate``'s key with: the same curve, or RSA at least as big."""
    public = certificate.public_key
    if public.family == "ec":
        return _OF_CURVE.get(public.curve or "", "ec-p256")
    if public.family == "ed25519":
        return "ed25519"
    if public.parameter_set is not None:
        return public.parameter_set.title.lower()  # ML-DSA-65 -> ml-dsa-65
    # The smallest size pyscep makes that is at least the old one.
    return next((f"rsa{n}" for n in (2048, 3072) if public.bits <= n), "rsa4096")


def renewal_request(
    key: PrivateKey,
    current: Certificate,
    *,
    challenge_password: str | None = None,
    reply_key_named: bool = False,
) -> CertificationRequest:
    """A CSR for ``key`` asking for what ``current`` has: its subject and subjectAltNames.

    The subjectAltName extension is copied as it is (every kind of name, and
    its criticality), so that a renewal never silently drops a name. A renewal
    needs no challenge; but the CertRep to a current key that only signs (Ed25519,
    ML-DSA) is keyed by the challengePassword of its CSR (RFC 8894 section 3.1),
    so without one a fresh random password goes in: only the CA, which the
    request is enveloped to, and this requester ever see it. Not when the request
    names an ML-KEM reply key (``reply_key_named``, `pyscep.messages.reply_key`).
    """
    # The CertRep goes to the key that signs the renewal (the current certificate's), or,
    # for a poll a later process signs with the new key, to that one.
    only_signs = signature_only(current) or (
        PublicKey.load(key.public_key_der).algorithm in SIGNATURE_ONLY_KEYS
    )
    if challenge_password is None and only_signs and not reply_key_named:
        challenge_password = secrets.token_urlsafe(24)
    try:
        names = current.to_cryptography().extensions.get_extension_for_oid(
            ExtensionOID.SUBJECT_ALTERNATIVE_NAME
        )
    except x509.ExtensionNotFound:
        extensions = []
    else:
        extensions = [
            (
                ExtensionOID.SUBJECT_ALTERNATIVE_NAME.dotted_string,
                names.critical,
                names.value.public_bytes(),
            )
        ]
    return build_csr(
        key, current.subject_der, challenge_password=challenge_password, extensions=extensions
    )
