"""A `TransactionStore` in SQLite, shared safely by several worker processes.

WAL journal, one short ``BEGIN IMMEDIATE`` transaction per write: two
workers answering the same request cannot both record an issuance (the
first final outcome wins, as the store protocol says), and serial numbers
are handed out by the database, so they are unique across workers.
"""

from __future__ import annotations

import secrets
import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

from pyscep.enums import FailInfo
from pyscep.protocol.transactions import Transaction, TransactionState

__all__ = ["SqliteTransactions"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS transactions (
    transaction_id TEXT PRIMARY KEY,
    requester_key BLOB NOT NULL,
    state TEXT NOT NULL,
    csr BLOB NOT NULL,
    certificates BLOB NOT NULL,
    fail_info INTEGER,
    updated TEXT,
    polls INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS serials (serial TEXT PRIMARY KEY);
"""


def _pack(certificates: tuple[bytes, ...]) -> bytes:
    return b"".join(len(c).to_bytes(4, "big") + c for c in certificates)


def _unpack(blob: bytes) -> tuple[bytes, ...]:
    found, position = [], 0
    while position < len(blob):
        length = int.from_bytes(blob[position : position + 4], "big")
        found.append(blob[position + 4 : position + 4 + length])
        position += 4 + length
    return tuple(found)


class SqliteTransactions:
    """Transactions and serial numbers in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        # A connection per operation: safe across threads and forked workers.
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA busy_timeout=30000")
        return db

    def get(self, transaction_id: str) -> Transaction | None:
        """The stored transaction, or None."""
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT transaction_id, requester_key, state, csr, certificates, fail_info,"
                " updated FROM transactions WHERE transaction_id = ?",
                (transaction_id,),
            ).fetchone()
        return None if row is None else _transaction(row)

    def record(self, transaction: Transaction) -> Transaction:
        """Store unless a final outcome is already stored; return what is stored."""
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT transaction_id, requester_key, state, csr, certificates, fail_info,"
                " updated FROM transactions WHERE transaction_id = ?",
                (transaction.transaction_id,),
            ).fetchone()
            if row is not None and _transaction(row).final:
                db.execute("COMMIT")
                return _transaction(row)
            db.execute(
                "INSERT OR REPLACE INTO transactions (transaction_id, requester_key, state, csr,"
                " certificates, fail_info, updated, polls) VALUES (?, ?, ?, ?, ?, ?, ?,"
                " COALESCE((SELECT polls FROM transactions WHERE transaction_id = ?), 0))",
                (
                    transaction.transaction_id,
                    transaction.requester_key,
                    transaction.state.value,
                    transaction.csr,
                    _pack(transaction.certificates),
                    None if transaction.fail_info is None else transaction.fail_info.value,
                    None if transaction.updated is None else transaction.updated.isoformat(),
                    transaction.transaction_id,
                ),
            )
            db.execute("COMMIT")
            return transaction
        finally:
            db.close()

    def count_poll(self, transaction_id: str) -> int:
        """Count one more poll of a transaction; the new count."""
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "UPDATE transactions SET polls = polls + 1 WHERE transaction_id = ?",
                (transaction_id,),
            )
            row = db.execute(
                "SELECT polls FROM transactions WHERE transaction_id = ?", (transaction_id,)
            ).fetchone()
            db.execute("COMMIT")
            return int(row[0]) if row else 0
        finally:
            db.close()

    def new_serial(self) -> int:
        """A positive 64-bit serial number no worker has handed out before."""
        db = self._connect()
        try:
            while True:
                serial = secrets.randbits(63) | (1 << 62)
                try:
                    db.execute("INSERT INTO serials (serial) VALUES (?)", (str(serial),))
                    return serial
                except sqlite3.IntegrityError:  # pragma: no cover - 2**-62
                    continue
        finally:
            db.close()

    def pending(self) -> list[Transaction]:
        """Every PENDING transaction (for ``pyscep serve list``)."""
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT transaction_id, requester_key, state, csr, certificates, fail_info,"
                " updated FROM transactions WHERE state = ? ORDER BY updated",
                (TransactionState.PENDING.value,),
            ).fetchall()
        return [_transaction(row) for row in rows]


def _transaction(row: tuple[Any, ...]) -> Transaction:
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
