"""The reference server's state in PostgreSQL: for workers on several machines.

Same semantics as the SQLite store: the first final outcome of a transaction
wins (``INSERT ... ON CONFLICT`` then a row lock), poll counts and serial
numbers are handed out by the database. ``--state-url postgresql://...``;
needs psycopg (``pip install 'pyscep-sansio[postgres]'``).
"""

from __future__ import annotations

import secrets
from typing import Any

import psycopg

from pyscep.protocol.transactions import Transaction, TransactionState

from .state import COLUMNS, pack, transaction_from_row

__all__ = ["PostgresTransactions"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS transactions (
    transaction_id TEXT PRIMARY KEY,
    requester_key BYTEA NOT NULL,
    state TEXT NOT NULL,
    csr BYTEA NOT NULL,
    certificates BYTEA NOT NULL,
    fail_info INTEGER,
    updated TEXT,
    polls INTEGER NOT NULL DEFAULT 0,
    revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE IF NOT EXISTS serials (serial NUMERIC PRIMARY KEY);
"""
#: Serialises schema creation when several workers start at once.
_SCHEMA_LOCK = 0x5C39


def _values(transaction: Transaction) -> tuple[Any, ...]:
    return (
        transaction.transaction_id,
        transaction.requester_key,
        transaction.state.value,
        transaction.csr,
        pack(transaction.certificates),
        None if transaction.fail_info is None else transaction.fail_info.value,
        None if transaction.updated is None else transaction.updated.isoformat(),
    )


class PostgresTransactions:
    """Transactions and serial numbers in a PostgreSQL database."""

    def __init__(self, url: str) -> None:
        self.url = url
        with self._connect() as db:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            db.execute(_SCHEMA)

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url)

    def get(self, transaction_id: str) -> Transaction | None:
        """The stored transaction, or None."""
        with self._connect() as db:
            row = db.execute(
                f"SELECT {COLUMNS} FROM transactions WHERE transaction_id = %s",  # noqa: S608
                (transaction_id,),
            ).fetchone()
        return None if row is None else transaction_from_row(row)

    def record(self, transaction: Transaction) -> Transaction:
        """Store unless a final outcome is already stored; return what is stored."""
        with self._connect() as db:
            inserted = db.execute(
                "INSERT INTO transactions (transaction_id, requester_key, state, csr,"
                " certificates, fail_info, updated) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (transaction_id) DO NOTHING RETURNING transaction_id",
                _values(transaction),
            ).fetchone()
            if inserted is not None:
                return transaction
            row = db.execute(
                f"SELECT {COLUMNS} FROM transactions WHERE transaction_id = %s"  # noqa: S608
                " FOR UPDATE",
                (transaction.transaction_id,),
            ).fetchone()
            assert row is not None  # the conflict says it exists
            stored = transaction_from_row(row)
            if stored.final:
                return stored
            db.execute(
                "UPDATE transactions SET requester_key = %s, state = %s, csr = %s,"
                " certificates = %s, fail_info = %s, updated = %s WHERE transaction_id = %s",
                (*_values(transaction)[1:], transaction.transaction_id),
            )
            return transaction

    def count_poll(self, transaction_id: str) -> int:
        """Count one more poll of a transaction; the new count."""
        with self._connect() as db:
            row = db.execute(
                "UPDATE transactions SET polls = polls + 1 WHERE transaction_id = %s"
                " RETURNING polls",
                (transaction_id,),
            ).fetchone()
        return int(row[0]) if row else 0

    def new_serial(self) -> int:
        """A positive 64-bit serial number no worker has handed out before."""
        with self._connect() as db:
            while True:
                serial = secrets.randbits(63) | (1 << 62)
                row = db.execute(
                    "INSERT INTO serials (serial) VALUES (%s) ON CONFLICT DO NOTHING"
                    " RETURNING serial",
                    (serial,),
                ).fetchone()
                if row is not None:
                    return serial

    def pending(self) -> list[Transaction]:
        """Every PENDING transaction, oldest first."""
        return self._in_state(TransactionState.PENDING)

    def _in_state(self, state: TransactionState) -> list[Transaction]:
        with self._connect() as db:
            rows = db.execute(
                f"SELECT {COLUMNS} FROM transactions WHERE state = %s"  # noqa: S608
                " ORDER BY updated",
                (state.value,),
            ).fetchall()
        return [transaction_from_row(row) for row in rows]

    def issued(self) -> list[Transaction]:
        """Every ISSUED transaction."""
        return self._in_state(TransactionState.ISSUED)

    def revoke(self, transaction_id: str) -> None:
        """Mark the transaction's certificate revoked."""
        with self._connect() as db:
            db.execute(
                "UPDATE transactions SET revoked = TRUE WHERE transaction_id = %s",
                (transaction_id,),
            )

    def revoked(self) -> frozenset[str]:
        """The transactionIDs whose certificate is revoked."""
        with self._connect() as db:
            rows = db.execute("SELECT transaction_id FROM transactions WHERE revoked").fetchall()
        return frozenset(str(row[0]) for row in rows)
