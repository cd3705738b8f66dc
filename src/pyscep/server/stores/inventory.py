"""The policy's `Inventory` over ``pyscep serve``'s state: what this CA issued, and revoked.

Every ISSUED transaction is a record with the role and RA a new enrollment
gets (OpenCA's seed keeps them per certificate; ``pyscep serve`` has one
default each). Certificates past their notAfter are not found by identity
(they are not valid certificates any more) but still looked up, so an
expired signer within its grace period can renew.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from pyscep.certificate import Certificate
from pyscep.policy import CertificateStatus, DistinguishedName, InventoryRecord

from .contract import ServerStore

__all__ = ["StateInventory"]


class StateInventory:
    """An `Inventory` read from a `ServerStore` at each lookup."""

    def __init__(
        self, state: ServerStore, *, role: str, ra: str, clock: Callable[[], datetime]
    ) -> None:
        self.state = state
        self.role = role
        self.ra = ra
        self.clock = clock

    def _records(self) -> list[InventoryRecord]:
        revoked = self.state.revoked()
        return [
            InventoryRecord(
                Certificate.load(transaction.certificates[0]),
                CertificateStatus.REVOKED
                if transaction.transaction_id in revoked
                else CertificateStatus.VALID,
                self.role,
                self.ra,
                transaction.transaction_id,
            )
            for transaction in self.state.issued()
            if transaction.certificates
        ]

    def find(self, identity: DistinguishedName, rdns: Sequence[str]) -> Sequence[InventoryRecord]:
        """Unexpired certificates whose subject matches ``identity`` on ``rdns``."""
        now = self.clock()
        return [
            r
            for r in self._records()
            if r.certificate.not_valid_after >= now
            and DistinguishedName.from_certificate(r.certificate).matches(identity, rdns)
        ]

    def lookup(self, certificate: Certificate) -> InventoryRecord | None:
        """The record of exactly this certificate."""
        return next((r for r in self._records() if r.certificate == certificate), None)
