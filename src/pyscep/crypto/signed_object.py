"""Verifying X.509-style signatures: certificates and PKCS#10 requests.

Both carry the signature, the signed bytes and an AlgorithmIdentifier that
names scheme and hash together (sha256WithRSAEncryption, RSASSA-PSS with
parameters, ecdsa-with-SHA256...). That identifier may come from an attacker,
so it is read inside the parse boundary.
"""

from __future__ import annotations

from asn1crypto import algos

from pyscep._boundary import field
from pyscep.algorithms import DigestAlgorithm, SignatureScheme
from pyscep.crypto import CryptoBackend
from pyscep.errors import UnsupportedAlgorithmError

__all__ = ["verify_signed_object"]

_SCHEMES = {
    "rsassa_pkcs1v15": SignatureScheme.RSA_PKCS1V15,
    "rsassa_pss": SignatureScheme.RSA_PSS,
    "ecdsa": SignatureScheme.ECDSA,
}


def verify_signed_object(
    backend: CryptoBackend,
    public_key_der: bytes,
    algorithm_der: bytes,
    signature: bytes,
    signed: bytes,
) -> None:
    """Raise VerificationError unless ``signature`` over ``signed`` verifies.

    ``algorithm_der`` is the DER AlgorithmIdentifier. ParseError for an
    unreadable one, UnsupportedAlgorithmError for a scheme or hash pyscep
    does not implement.
    """
    with field("signatureAlgorithm"):
        algorithm = algos.SignedDigestAlgorithm.load(algorithm_der, strict=True)
        scheme = _SCHEMES.get(algorithm.signature_algo)
        digest = DigestAlgorithm.from_name(algorithm.hash_algo)
        salt = None
        if scheme is SignatureScheme.RSA_PSS:
            salt = int(algorithm["parameters"]["salt_length"].native)
    if scheme is None:
        raise UnsupportedAlgorithmError("unsupported signature algorithm")
    backend.verify_signature(public_key_der, signature, signed, digest, scheme, salt)
