"""The reference server's state: transactions and serial numbers, in SQLite or PostgreSQL.

Both stores implement `ServerState`: the responder's `TransactionStore`
(first final outcome wins) plus what ``pyscep serve`` needs on top (poll
counts, serial numbers unique across workers and machines, the pending list).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pyscep.enums import FailInfo
from pyscep.protocol.transactions import Transaction, TransactionState

__all__ = ["COLUMNS", "ServerState", "open_state", "pack", "transaction_from_row"]

#: The columns a row is read with, in `transaction_from_row`'s order.
COLUMNS = "transaction_id, requester_key, state, csr, certificates, fail_info, updated"


class ServerState(Protocol):
    """Where ``pyscep serve`` keeps what must survive a request."""

    def get(self, transaction_id: str) -> Transaction | None:
        """The stored transaction, or None."""
        ...

    def record(self, transaction: Transaction) -> Transaction:
        """Store unless a final outcome is already stored; return what is stored."""
        ...

    def count_poll(self, transaction_id: str) -> int:
        """Count one more poll of a transaction; the new count."""
        ...

    def new_serial(self) -> int:
        """A positive serial number no worker has handed out before."""
        ...

    def pending(self) -> list[Transaction]:
        """Every PENDING transaction, oldest first."""
        ...

    def issued(self) -> list[Transaction]:
        """Every ISSUED transaction (the inventory ``--policy`` decides on)."""
        ...

    def revoke(self, transaction_id: str) -> None:
        """Mark the certificate an ISSUED transaction holds as revoked."""
        ...

    def revoked(self) -> frozenset[str]:
        """The transactionIDs whose certificate is revoked."""
        ...


def pack(certificates: tuple[bytes, ...]) -> bytes:
    """Certificates in one column: each DER prefixed with its 4-byte length."""
    return b"".join(len(c).to_bytes(4, "big") + c for c in certificates)


def _unpack(blob: bytes) -> tuple[bytes, ...]:
    found, position = [], 0
    while position < len(blob):
        length = int.from_bytes(blob[position : position + 4], "big")
        found.append(blob[position + 4 : position + 4 + length])
        position += 4 + length
    return tuple(found)


def transaction_from_row(row: tuple[Any, ...]) -> Transaction:
    """A `Transaction` from a row read with `COLUMNS`."""
    txid, key, state, csr, certificates, fail_info, updated = row
    return Transaction(
        transaction_id=str(txid),
        requester_key=bytes(key),
        state=TransactionState(state),
        csr=bytes(csr),
        certificates=_unpack(bytes(certificates)),
        fail_info=None if fail_info is None else FailInfo(int(fail_info)),
        updated=None if updated is None else datetime.fromisoformat(str(updated)),
    )


def open_state(state_dir: Path, state_url: str | None) -> ServerState:
    """SQLite in ``state_dir`` (one machine), or the PostgreSQL database at ``state_url``."""
    if state_url is not None:
        from .postgres_store import PostgresTransactions

        return PostgresTransactions(state_url)
    from .sqlite_store import SqliteTransactions

    return SqliteTransactions(state_dir / "state.sqlite")
