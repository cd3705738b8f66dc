"""The reference server's state: transactions and serial numbers, in SQLite or PostgreSQL.

Both stores implement `ServerState`: the responder's `TransactionStore`
(every change through `pyscep.protocol.transactions.resolve`, in one
database transaction) plus what ``pyscep serve`` needs on top (poll counts,
serial numbers unique across workers and machines, the pending list). This
module holds what they share: the protocol, the row codec, the SQL (written
once, in each store's `Dialect`), the migration of older tables, and the
factory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
    "NEW_COLUMNS",
    "POSTGRES",
    "SQLITE",
    "Dialect",
    "ServerState",
    "issued_from_row",
    "migrate",
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


def issued_from_row(row: tuple[Any, ...]) -> IssuedCertificate:
    """An `IssuedCertificate` from a row read with `Dialect.select_issued`."""
    transaction = transaction_from_row(row[:-2])
    revoked, renewed_by = row[-2:]
    return IssuedCertificate(
        transaction.certificates[0],
        transaction.transaction_id,
        bool(revoked),
        None if renewed_by is None else str(renewed_by),
    )


@dataclass(frozen=True)
class Dialect:
    """The stores' SQL, written once: what differs is the placeholder and the BLOB type."""

    mark: str
    blob: str
    empty_blob: str

    @property
    def select_one(self) -> str:
        """The row of one transactionID."""
        return f"SELECT {COLUMNS} FROM transactions WHERE transaction_id = {self.mark}"  # noqa: S608

    @property
    def upsert(self) -> str:
        """Write a transaction as `row_values` gives it (the polls and revoked flag stay)."""
        marks = ", ".join([self.mark] * (COLUMNS.count(",") + 2))
        kept = ("transaction_id", "polls", "revoked")
        names = [name.strip() for name in COLUMNS.split(",")] + ["fingerprint"]
        updates = ", ".join(f"{name} = excluded.{name}" for name in names if name not in kept)
        return (
            f"INSERT INTO transactions ({COLUMNS}, fingerprint) VALUES ({marks})"  # noqa: S608
            f" ON CONFLICT (transaction_id) DO UPDATE SET {updates}"
        )

    @property
    def select_issued(self) -> str:
        """The issued certificate with a SHA-256 (given twice), for `issued_from_row`."""
        renewed_by = (
            "SELECT r.transaction_id FROM transactions r"  # noqa: S608 - a placeholder only
            f" WHERE r.renews = {self.mark} AND r.state = 'issued' ORDER BY r.updated LIMIT 1"
        )
        return (
            f"SELECT {COLUMNS}, revoked, ({renewed_by}) FROM transactions"  # noqa: S608
            f" WHERE fingerprint = {self.mark} AND state = 'issued'"
        )

    def select_in_states(self, count: int) -> str:
        """The transactions in any of ``count`` states, oldest first."""
        marks = ", ".join([self.mark] * count)
        return (
            f"SELECT {COLUMNS} FROM transactions WHERE state IN ({marks})"  # noqa: S608
            " ORDER BY updated"
        )

    def added_column(self, name: str, kind: str) -> str:
        """The definition of a column of `NEW_COLUMNS` in this dialect."""
        return f"{name} {kind.format(blob=self.blob, empty=self.empty_blob)}"


SQLITE = Dialect("?", "BLOB", "x''")
POSTGRES = Dialect("%s", "BYTEA", "''::bytea")


def migrate(execute: Callable[..., Any], dialect: Dialect) -> None:
    """Bring a table made by an older pyscep up to `COLUMNS`, inside the caller's
    transaction: the new columns, their indexes, the fingerprints of what it issued."""
    if dialect is SQLITE:  # no ADD COLUMN IF NOT EXISTS in SQLite
        present = {row[1] for row in execute("PRAGMA table_info(transactions)").fetchall()}
        statements = [
            f"ALTER TABLE transactions ADD COLUMN {dialect.added_column(name, kind)}"
            for name, kind in NEW_COLUMNS
            if name not in present
        ]
    else:
        statements = [
            f"ALTER TABLE transactions ADD COLUMN IF NOT EXISTS {dialect.added_column(n, k)}"
            for n, k in NEW_COLUMNS
        ]
    for statement in statements:
        execute(statement)
    execute("CREATE INDEX IF NOT EXISTS transactions_fingerprint ON transactions (fingerprint)")
    execute("CREATE INDEX IF NOT EXISTS transactions_renews ON transactions (renews)")
    rows = execute(
        f"SELECT {COLUMNS} FROM transactions"  # noqa: S608 - constants
        " WHERE state = 'issued' AND fingerprint IS NULL"
    ).fetchall()
    for row in rows:  # issued before the column existed
        values = row_values(transaction_from_row(row))
        execute(
            f"UPDATE transactions SET fingerprint = {dialect.mark}"  # noqa: S608 - placeholders
            f" WHERE transaction_id = {dialect.mark}",
            (values[-1], values[0]),
        )


def open_state(state_dir: Path, state_url: str | None) -> ServerState:
    """SQLite in ``state_dir`` (one machine), or the PostgreSQL database at ``state_url``."""
    if state_url is not None:
        from .postgres_store import PostgresTransactions

        return PostgresTransactions(state_url)
    from .sqlite_store import SqliteTransactions

    return SqliteTransactions(state_dir / "state.sqlite")
