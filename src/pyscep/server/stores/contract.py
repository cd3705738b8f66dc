"""The one contract every server store keeps: memory, SQLite, PostgreSQL, or your own.

A `ServerStore` is the responder's `TransactionStore` plus what the reference
server needs on top: one-time challenges, poll counts, serial numbers, the
issued-certificate inventory and revocations. Each method is atomic on its
own, and every decision is taken by the core's pure functions
(`pyscep.protocol.transactions.resolve`,
`pyscep.protocol.challenges.decide_consumption`) inside the store's own
atomic read-modify-write, so every implementation obeys the same rules.
"""

from __future__ import annotations

import secrets
from typing import Protocol

from pyscep.errors import ScepError
from pyscep.protocol.challenges import ChallengeStore
from pyscep.protocol.transactions import Transaction, TransactionStore

__all__ = ["ServerState", "ServerStore", "StateUnavailableError", "random_serial"]


class StateUnavailableError(ScepError):
    """The state store cannot be reached, or holds no pyscep state where one was expected."""


class ServerStore(TransactionStore, Protocol):
    """Where the reference server keeps everything that decides: shared by all its workers.

    Besides `TransactionStore` (``get``, ``record``, ``find_certificate``,
    ``revoke``):
    """

    @property
    def challenges(self) -> ChallengeStore:
        """The one-time challenges, in the same database: consumed once across hosts."""
        ...

    def count_poll(self, transaction_id: str) -> int:
        """Count one more poll of a transaction; the new count (0 for an unknown one)."""
        ...

    def new_serial(self) -> int:
        """A positive 63-bit serial number no worker on any host has handed out before."""
        ...

    def pending(self) -> list[Transaction]:
        """Every transaction still undecided (PENDING) or being issued, oldest first."""
        ...

    def issued(self) -> list[Transaction]:
        """Every ISSUED transaction (the inventory ``--policy`` decides on)."""
        ...

    def revoked(self) -> frozenset[str]:
        """The transactionIDs whose certificate is revoked."""
        ...


#: The name of the first release (transactions and serials only).
ServerState = ServerStore


def random_serial() -> int:
    """A candidate serial number: 63 random bits with the top one set (positive, fixed
    length, DER's INTEGER never needs a leading zero). Stores make it unique."""
    return secrets.randbits(63) | (1 << 62)
