"""The reference server's state: transactions and serial numbers, in SQLite or PostgreSQL.

Both stores implement `ServerState`: the responder's `TransactionStore`
(every change through `pyscep.protocol.transactions.resolve`, in one
database transaction) plus what ``pyscep serve`` needs on top (poll counts,
serial numbers unique across workers and machines, the pending list). This
module holds what they share: the protocol, the row codec and the factory.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pyscep.enums import FailInfo
from pyscep.protocol.transactions import (
    Awaiting,
    IssuedCertificate,
    Transaction,
    TransactionState,
    TransactionStore,
    certificate_fingerprint,
)

__all__ = [
    "COLUMNS",
    "ISSUED_EXTRA",
    "NEW_COLUMNS",
    "ServerState",
    "issued_from_row",
    "open_state",
    "pack",
    "row_values",
    "transaction_from_row",
]

#: The columns a row is read and written with, in `transaction_from_row`'s order.
COLUMNS = (
    "transaction_id, requester_key, state, csr, certificates, fail_info, updated,"
    " signer_key, awaiting, claim, context, renews"
)
#: Columns added after the first release, with their SQL type and default: an older
#: state file or database gets them when it is opened (PENDING rows then await the
#: operator, the safe reading of an old decision). ``{blob}`` is the dialect's BLOB.
NEW_COLUMNS = (
    ("signer_key", "{blob} NOT NULL DEFAULT {empty}"),
    ("awaiting", "TEXT NOT NULL DEFAULT 'operator'"),
    ("claim", "TEXT NOT NULL DEFAULT ''"),
    ("context", "TEXT NOT NULL DEFAULT ''"),
    ("renews", "{blob} NOT NULL DEFAULT {empty}"),
    ("fingerprint", "{blob}"),
)


class ServerState(TransactionStore, Protocol):
    """Where ``pyscep serve`` keeps what must survive a request."""

    def count_poll(self, transaction_id: str) -> int:
        """Count one more poll of a transaction; the new count."""
        ...

    def new_serial(self) -> int:
        """A positive serial number no worker has handed out before."""
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


def row_values(transaction: Transaction) -> tuple[Any, ...]:
    """A transaction as the values of `COLUMNS`, then its certificate's fingerprint."""
    fingerprint = None
    if transaction.state is TransactionState.ISSUED and transaction.certificates:
        fingerprint = certificate_fingerprint(transaction.certificates[0])
    return (
        transaction.transaction_id,
        transaction.requester_key,
        transaction.state.value,
        transaction.csr,
        pack(transaction.certificates),
        None if transaction.fail_info is None else transaction.fail_info.value,
        None if transaction.updated is None else transaction.updated.isoformat(),
        transaction.signer_key,
        transaction.awaiting.value,
        transaction.claim,
        transaction.context,
        transaction.renews,
        fingerprint,
    )


def transaction_from_row(row: tuple[Any, ...]) -> Transaction:
    """A `Transaction` from a row read with `COLUMNS`."""
    txid, key, state, csr, certificates, fail_info, updated, signer, awaiting, claim, context = row[
        :11
    ]
    return Transaction(
        transaction_id=str(txid),
        requester_key=bytes(key),
        state=TransactionState(state),
        csr=bytes(csr),
        certificates=_unpack(bytes(certificates)),
        fail_info=None if fail_info is None else FailInfo(int(fail_info)),
        updated=None if updated is None else datetime.fromisoformat(str(updated)),
        signer_key=bytes(signer),
        awaiting=Awaiting(awaiting),
        claim=str(claim),
        context=str(context),
        renews=bytes(row[11]),
    )


#: What `issued_from_row` reads after `COLUMNS` (``{mark}``: the SHA-256 searched for).
ISSUED_EXTRA = (
    "revoked, (SELECT r.transaction_id FROM transactions r WHERE r.renews = {mark}"
    " AND r.state = 'issued' ORDER BY r.updated LIMIT 1)"
)


def issued_from_row(row: tuple[Any, ...]) -> IssuedCertificate:
    """An `IssuedCertificate` from a row read with `COLUMNS` and `ISSUED_EXTRA`."""
    transaction = transaction_from_row(row[:-2])
    revoked, renewed_by = row[-2:]
    return IssuedCertificate(
        transaction.certificates[0],
        transaction.transaction_id,
        bool(revoked),
        None if renewed_by is None else str(renewed_by),
    )


def open_state(state_dir: Path, state_url: str | None) -> ServerState:
    """SQLite in ``state_dir`` (one machine), or the PostgreSQL database at ``state_url``."""
    if state_url is not None:
        from .postgres_store import PostgresTransactions

        return PostgresTransactions(state_url)
    from .sqlite_store import SqliteTransactions

    return SqliteTransactions(state_dir / "state.sqlite")
