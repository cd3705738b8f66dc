"""transactionID and nonce generation (RFC 8894 sections 3.2.1.1 and 3.2.1.5)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

from pyscep.algorithms import DigestAlgorithm

__all__ = ["NONCE_LENGTH", "new_nonce", "transaction_id_for_key"]

#: RFC 8894 nonces are 16 random bytes.
NONCE_LENGTH = 16


def transaction_id_for_key(
    public_key_der: bytes, digest: DigestAlgorithm = DigestAlgorithm.SHA256
) -> str:
    """A transactionID derived from the requester's public key, as RFC 8894 suggests.

    Upper-case hex of a hash of the DER SubjectPublicKeyInfo (sscep uses MD5,
    strongSwan SHA-1, so ``digest`` is a parameter). Any PrintableString is
    accepted on input; this is only what pyscep generates.
    """
    return hashlib.new(digest.value, public_key_der).hexdigest().upper()


def new_nonce(rng: Callable[[int], bytes] | None = None) -> bytes:
    """16 fresh random bytes (``secrets.token_bytes`` unless ``rng`` is given)."""
    nonce = (rng or secrets.token_bytes)(NONCE_LENGTH)
    if len(nonce) != NONCE_LENGTH:
        raise ValueError("rng returned the wrong number of bytes")
    return nonce
