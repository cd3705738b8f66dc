"""Was a certificate issued by one of our CAs? Checked by signature, not by name.

A certificate whose issuer *name* matches a CA proves nothing (anyone can
write that name); the CA's key must have signed it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyscep.certificate import Certificate, names_equal
from pyscep.crypto import CryptoBackend
from pyscep.crypto.signed_object import verify_signed_object
from pyscep.errors import ScepError

__all__ = ["issuing_ca"]


def _signed_by(certificate: Certificate, issuer: Certificate, backend: CryptoBackend) -> bool:
    # The signer certificate may come from an attacker: read it inside the parse
    # boundary, and treat anything unreadable as "not signed by this CA".
    try:
        if not names_equal(certificate.issuer_der, issuer.subject_der):
            return False
        verify_signed_object(
            backend,
            issuer.public_key_der,
            certificate.signature_algorithm_der,
            certificate.signature,
            certificate.tbs_certificate_der,
        )
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
