"""Was a certificate issued by one of our CAs? Checked by signature, not by name.

A certificate whose issuer *name* matches a CA proves nothing (anyone can
write that name); the CA's key must have signed it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyscep.algorithms import AlgorithmPolicy
from pyscep.certificate import Certificate
from pyscep.crypto import CryptoBackend
from pyscep.crypto.signed_object import is_issued_by

__all__ = ["issuing_ca"]


def issuing_ca(
    certificate: Certificate,
    cas: Sequence[Certificate],
    backend: CryptoBackend,
    algorithms: AlgorithmPolicy,
) -> Certificate | None:
    """The CA among ``cas`` whose key signed ``certificate`` (never the CA itself).

    The signer certificate may come from an attacker: anything unreadable
    or refused by ``algorithms`` counts as "not signed by this CA".
    """
    for ca in cas:
        if ca != certificate and is_issued_by(
            certificate, ca, backend=backend, algorithms=algorithms
        ):
            return ca
    return None
