"""Revocation as the reference server does it: the CRL every host serves, and what it lists.

A revocation is kept in the state store with its time and reason
(`ServerStore.revoke`); the CA's CRL is published there too, so every host
behind a load balancer serves the same one. `current_crl` signs a new CRL,
numbered one more than the last, when what is revoked has changed or half
of the last one's lifetime has passed; two hosts doing so at once agree on
the first one kept (`ServerStore.publish_crl`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pyscep.crypto import Signer
from pyscep.messages import RevokedCertificate, build_crl

from .stores import PublishedCRL, ServerStore, revocations_digest

__all__ = ["CRL_CONTENT_TYPE", "CRL_PATH", "current_crl"]

#: Where the reference server serves its CRL by plain HTTP GET, without ``--crl-url``.
CRL_PATH = "/crl"
#: The media type of a DER CRL (RFC 2585).
CRL_CONTENT_TYPE = "application/pkix-crl"


def _fresh(crl: PublishedCRL, basis: bytes, now: datetime) -> bool:
    """Is ``crl`` still the one to serve: listing what is revoked, in its first half-life?"""
    half_life = (crl.next_update - crl.this_update) / 2
    return crl.basis == basis and crl.this_update <= now < crl.this_update + half_life


def current_crl(store: ServerStore, ca: Signer, *, now: datetime, days: int) -> PublishedCRL:
    """The CRL to serve now: the one published last if still fresh, or a new one signed
    by ``ca`` (valid ``days``) and published."""
    revoked = store.revocations()
    listed = [RevokedCertificate(r.serial_number, r.revoked_at, r.reason) for r in revoked]
    latest = store.latest_crl()
    if latest is not None and _fresh(latest, revocations_digest(listed), now):
        return latest
    this_update = now.replace(microsecond=0)
    number = 1 if latest is None else latest.number + 1
    der = build_crl(
        ca,
        listed,
        number=number,
        this_update=this_update,
        next_update=this_update + timedelta(days=days),
    )
    return store.publish_crl(PublishedCRL(der))
