"""Was a certificate issued by one of our CAs? Checked by signature, not by name.

A certificate whose issuer *name* matches a CA proves nothing (anyone can
write that name); the CA's key must have signed it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyscep.algorithms import DigestAlgorithm, SignatureScheme
from pyscep.certificate import Certificate
from pyscep.crypto import CryptoBackend
from pyscep.errors import ScepError

__all__ = ["issuing_ca"]

_SCHEMES = {
    "rsassa_pkcs1v15": SignatureScheme.RSA_PKCS1V15,
    "rsassa_pss": SignatureScheme.RSA_PSS,
    "ecdsa": SignatureScheme.ECDSA,
}


def _signed_by(certificate: Certificate, issuer: Certificate, backend: CryptoBackend) -> bool:
    parsed = certificate.asn1
    try:
        if parsed.issuer != issuer.asn1.subject:
            return False
        algorithm = parsed["signature_algorithm"]
        scheme = _SCHEMES[algorithm.signature_algo]
        digest = DigestAlgorithm(algorithm.hash_algo)
        salt = None
        if scheme is SignatureScheme.RSA_PSS:
            salt = int(algorithm["parameters"]["salt_length"].native)
        backend.verify_signature(
            issuer.public_key_der,
            bytes(parsed["signature_value"].native),
            bytes(parsed["tbs_certificate"].dump()),
            digest,
            scheme,
            salt,
        )
    except (ScepError, KeyError, ValueError):
        return False
    return True


def issuing_ca(
    certificate: Certificate, cas: Sequence[Certificate], backend: CryptoBackend
) -> Certificate | None:
    """The CA among ``cas`` whose key signed ``certificate`` (never the CA itself)."""
    for ca in cas:
        if ca != certificate and _signed_by(certificate, ca, backend):
            return ca
    return None
