"""New private keys for the applications, by name: ``rsa2048`` ... ``ec-p256`` ... ``ed25519``;
and the request that renews a certificate with one."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtensionOID

from pyscep.certificate import Certificate
from pyscep.crypto import PrivateKey
from pyscep.errors import LocalProtocolError
from pyscep.messages import CertificationRequest, build_csr

__all__ = ["KEY_TYPES", "key_type_of", "new_private_key", "renewal_request"]

_CURVES: dict[str, ec.EllipticCurve] = {
    "ec-p256": ec.SECP256R1(),
    "ec-p384": ec.SECP384R1(),
    "ec-p521": ec.SECP521R1(),
}
_OF_CURVE = {"secp256r1": "ec-p256", "secp384r1": "ec-p384", "secp521r1": "ec-p521"}
#: The key types the applications make.
#: (Ed25519 only signs: its CertReps are keyed by the challengePassword, RFC 8894 3.1.)
KEY_TYPES = ("rsa2048", "rsa3072", "rsa4096", *_CURVES, "ed25519")
#: Older spellings still accepted.
_ALIASES = {"ec256": "ec-p256", "rsa": "rsa2048", "ec": "ec-p256"}


def new_private_key(kind: str) -> bytes:
    """A new key of ``kind`` (see `KEY_TYPES`) as unencrypted PKCS#8 PEM."""
    kind = _ALIASES.get(kind, kind)
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    if kind in _CURVES:
        key = ec.generate_private_key(_CURVES[kind])
    elif kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif kind in KEY_TYPES:
        key = rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    else:
        raise LocalProtocolError(f"unknown key type {kind!r} (one of {', '.join(KEY_TYPES)})")
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def key_type_of(certificate: Certificate) -> str:
    """The key type to renew ``certificate``'s key with: the same curve, or RSA at least as big."""
    public = certificate.public_key
    if public.family == "ec":
        return _OF_CURVE.get(public.curve or "", "ec-p256")
    if public.family == "ed25519":
        return "ed25519"
    # The smallest size pyscep makes that is at least the old one.
    return next((f"rsa{n}" for n in (2048, 3072) if public.bits <= n), "rsa4096")


def renewal_request(
    key: PrivateKey, current: Certificate, *, challenge_password: str | None = None
) -> CertificationRequest:
    """A CSR for ``key`` asking for what ``current`` has: its subject and subjectAltNames.

    The subjectAltName extension is copied as it is (every kind of name, and
    its criticality), so that a renewal never silently drops a name.
    """
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
