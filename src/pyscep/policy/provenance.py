"""Was a certificate issued by one of our CAs? Checked by signature, not by name.

A certificate whose issuer *name* matches a CA proves nothing (anyone can
write that name); the CA's key must have signed it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyscep._boundary import field
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
    # The signer certificate may come from an attacker: read it inside the parse
    # boundary, and treat anything unreadable as "not signed by this CA".
    try:
        with field("certificate signature"):
            parsed = certificate.asn1
            if (
                certificate.issuer_der != issuer.subject_der
                and parsed.issuer != issuer.asn1.subject
            ):
                return False
            algorithm = parsed["signature_algorithm"]
            scheme = _SCHEMES.get(algorithm.signature_algo)
            digest = DigestAlgorithm.from_name(algorithm.hash_algo)
            salt = None
            if scheme is SignatureScheme.RSA_PSS:
                salt = int(algorithm["parameters"]["salt_length"].native)
            signature = bytes(parsed["signature_value"].native)
            signed = bytes(parsed["tbs_certificate"].dump())
        if scheme is None:
            return False
        backend.verify_signature(issuer.public_key_der, signature, signed, digest, scheme, salt)
    except ScepError:
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
