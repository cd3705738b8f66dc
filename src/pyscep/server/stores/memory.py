"""The `ServerStore` in memory: one process, any number of threads (tests, demos).

It composes the core's own in-memory stores (`InMemoryTransactions`,
`InMemoryChallenges`), so the lifecycle and the consumption rule are theirs.
"""

from __future__ import annotations

from datetime import datetime
from threading import Lock

from pyscep.certificate import Certificate
from pyscep.enums import RevocationReason
from pyscep.protocol.challenges import InMemoryChallenges
from pyscep.protocol.transactions import (
    Act,
    InMemoryTransactions,
    IssuedCertificate,
    Recorded,
    Transaction,
    TransactionState,
)

from .contract import PublishedCRL, Revocation, StoreCounts, random_serial, revocation_time

__all__ = ["MemoryStore"]


class MemoryStore:
    """Transactions, challenges, serial numbers and revocations in this process's memory."""

    def __init__(self) -> None:
        self._transactions = InMemoryTransactions()
        self._challenges = InMemoryChallenges()
        self._polls: dict[str, int] = {}
        self._serials: set[int] = set()
        self._revocations: dict[str, Revocation] = {}
        self._crls: dict[int, PublishedCRL] = {}
        self._lock = Lock()

    @property
    def challenges(self) -> InMemoryChallenges:
        """The one-time challenges."""
        return self._challenges

    def get(self, transaction_id: str) -> Transaction | None:
        """The transaction, or None."""
        return self._transactions.get(transaction_id)

    def record(self, act: Act, proposed: Transaction) -> Recorded:
        """`resolve`, under the in-memory store's lock."""
        return self._transactions.record(act, proposed)

    def find_certificate(self, fingerprint: bytes) -> IssuedCertificate | None:
        """The issued certificate with this SHA-256."""
        return self._transactions.find_certificate(fingerprint)

    def revoke(
        self,
        transaction_id: str,
        *,
        revoked_at: datetime | None = None,
        reason: RevocationReason = RevocationReason.UNSPECIFIED,
    ) -> None:
        """Revoke the transaction's certificate (the first revocation stands)."""
        with self._lock:
            transaction = self._transactions.get(transaction_id)
            if transaction_id in self._revocations or transaction is None:
                return
            if transaction.state is not TransactionState.ISSUED or not transaction.certificates:
                return
            serial = Certificate.load(transaction.certificates[0]).serial_number
            when = revocation_time(revoked_at)
            self._revocations[transaction_id] = Revocation(transaction_id, serial, when, reason)
            self._transactions.revoke(transaction_id)

    def revoked(self) -> frozenset[str]:
        """The transactionIDs whose certificate is revoked."""
        return self._transactions.revoked()

    def counts(self) -> StoreCounts:
        """What it holds, counted."""
        transactions = self._transactions.transactions()
        issued, consumed = self._challenges.counts()
        return StoreCounts(
            pending=sum(
                t.state in (TransactionState.PENDING, TransactionState.ISSUING)
                for t in transactions
            ),
            issued=sum(t.state is TransactionState.ISSUED for t in transactions),
            revoked=len(self._transactions.revoked()),
            challenges_issued=issued,
            challenges_consumed=consumed,
        )

    def revocations(self) -> list[Revocation]:
        """Every revoked certificate, with when and why."""
        with self._lock:
            return sorted(self._revocations.values(), key=lambda r: r.transaction_id)

    def latest_crl(self) -> PublishedCRL | None:
        """The CRL published last."""
        with self._lock:
            return self._crls[max(self._crls)] if self._crls else None

    def publish_crl(self, crl: PublishedCRL) -> PublishedCRL:
        """Keep ``crl`` unless one with its number is kept; the latest after."""
        with self._lock:
            self._crls.setdefault(crl.number, crl)
            return self._crls[max(self._crls)]

    def count_poll(self, transaction_id: str) -> int:
        """Count one more poll of a transaction; the new count (0 for an unknown one)."""
        with self._lock:
            if self._transactions.get(transaction_id) is None:
                return 0
            self._polls[transaction_id] = self._polls.get(transaction_id, 0) + 1
            return self._polls[transaction_id]

    def new_serial(self) -> int:
        """A positive 63-bit serial number not handed out before."""
        with self._lock:
            serial = random_serial()
            while serial in self._serials:  # pragma: no cover - 2**-62
                serial = random_serial()
            self._serials.add(serial)
            return serial

    def pending(self) -> list[Transaction]:
        """Every transaction still undecided (PENDING) or being issued, oldest first."""
        return self._in_state(TransactionState.PENDING, TransactionState.ISSUING)

    def issued(self) -> list[Transaction]:
        """Every ISSUED transaction."""
        return self._in_state(TransactionState.ISSUED)

    def _in_state(self, *states: TransactionState) -> list[Transaction]:
        found = [t for t in self._transactions.transactions() if t.state in states]
        # Oldest first, as the SQL stores order by their ISO-8601 text (no time: first).
        return sorted(found, key=lambda t: "" if t.updated is None else t.updated.isoformat())
