"""Transactions a server remembers, as plain values, behind a two-method store.

Persistence is the application's business: a `Transaction` is bytes and
enums, exported and imported as they are. The responder asks the store for
a transactionID and records outcomes; `InMemoryTransactions` serves tests
and single-process servers, ``pyscep serve`` keeps them in SQLite.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pyscep.enums import FailInfo

__all__ = ["InMemoryTransactions", "Transaction", "TransactionState", "TransactionStore"]


class TransactionState(str, enum.Enum):
    """Where an enrollment stands."""

    PENDING = "pending"
    ISSUED = "issued"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Transaction:
    """One enrollment, bound to the requester's key (a transactionID alone proves nothing)."""

    transaction_id: str
    #: DER SubjectPublicKeyInfo of the requested key: polls and re-sends must match it.
    requester_key: bytes
    state: TransactionState
    #: The PKCS#10 request, DER (what an approver issues from).
    csr: bytes
    #: ISSUED: the certificate's DER, then the chain sent with it.
    certificates: tuple[bytes, ...] = ()
    #: REJECTED: why.
    fail_info: FailInfo | None = None
    updated: datetime | None = None

    @property
    def final(self) -> bool:
        """ISSUED and REJECTED never change again."""
        return self.state is not TransactionState.PENDING


class TransactionStore(Protocol):
    """Where a responder keeps transactions."""

    def get(self, transaction_id: str) -> Transaction | None:
        """The transaction, or None."""
        ...

    def record(self, transaction: Transaction) -> Transaction:
        """Store ``transaction`` unless a final one is already stored; return what is stored.

        First final outcome wins: two workers answering the same request
        concurrently hand out one certificate, the one stored first.
        """
        ...


class InMemoryTransactions:
    """A TransactionStore in a dict (one process)."""

    def __init__(self) -> None:
        self._transactions: dict[str, Transaction] = {}

    def get(self, transaction_id: str) -> Transaction | None:
        """The transaction, or None."""
        return self._transactions.get(transaction_id)

    def record(self, transaction: Transaction) -> Transaction:
        """First final outcome wins."""
        stored = self._transactions.get(transaction.transaction_id)
        if stored is not None and stored.final:
            return stored
        self._transactions[transaction.transaction_id] = transaction
        return transaction
