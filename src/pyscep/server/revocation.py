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
from pyscep.messages.crl import key_identifier

from .stores import PublishedCRL, ServerStore, StateUnavailableError, revocations_digest

__all__ = ["CRL_CONTENT_TYPE", "CRL_PATH", "current_crl", "in_first_half"]

#: Where the reference server serves its CRL by plain HTTP GET, without ``--crl-url``.
CRL_PATH = "/crl"
#: The media type of a DER CRL (RFC 2585).
CRL_CONTENT_TYPE = "application/pkix-crl"


def _current(crl: PublishedCRL, ca: Signer, listed: list[RevokedCertificate], now: datetime,
             days: int) -> bool:  # fmt: skip
    """Is ``crl`` still the one to serve: signed by this CA's key, listing what is revoked,
    and in the first half of its lifetime (of the lifetime this server gives, if shorter)?

    A CRL dated later than ``now`` (a host whose clock is ahead signed it) is current: a
    host whose clock is behind does not sign another over it.
    """
    facts = crl.facts
    certificate = ca.certificate
    if facts.issuer_der != certificate.subject_der:
        return False
    if facts.authority_key_id != key_identifier(certificate.public_key_der):
        return False  # the CA's key changed: a new CRL, signed by the key it has now
    return crl.basis == revocations_digest(listed) and in_first_half(crl, now, days)


def in_first_half(crl: PublishedCRL, now: datetime, days: int) -> bool:
    """Is ``now`` in the first half of ``crl``'s lifetime (or of ``days``, if shorter)?
    After it, a new CRL is signed, well before relying parties need one."""
    lifetime = min(crl.next_update - crl.this_update, timedelta(days=days))
    return now < crl.this_update + lifetime / 2


def current_crl(store: ServerStore, ca: Signer, *, now: datetime, days: int) -> PublishedCRL:
    """The CRL to serve now: the one published last if still current, or a new one signed
    by ``ca`` (valid ``days``) and published.

    The latest CRL is read before the revocations: these only grow, so what is listed
    then includes all the latest CRL lists, and a CRL with a higher number never leaves
    out a revocation an earlier one had.
    """
    latest = store.latest_crl()
    revoked = store.revocations()
    listed = [RevokedCertificate(r.serial_number, r.revoked_at, r.reason) for r in revoked]
    if latest is not None and _current(latest, ca, listed, now, days):
        return latest
    if latest is not None:
        kept = {(entry.serial_number, entry.reason) for entry in latest.facts.revoked}
        if not kept <= {(entry.serial_number, entry.reason) for entry in listed}:
            # Revocations only grow: a store that lists fewer than its latest CRL was
            # changed behind the server's back. Never sign a CRL that forgets one.
            raise StateUnavailableError(
                f"the state lists fewer revocations than CRL number {latest.number}"
            )
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
