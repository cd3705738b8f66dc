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
from datetime import datetime, timezone
from pathlib import Path

from pyscep.protocol.challenges import Consumed, IssuedChallenge
from pyscep.protocol.transactions import Transaction, TransactionState

from .state import COLUMNS, pack, transaction_from_row

__all__ = ["SqliteChallenges", "SqliteTransactions"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS transactions (
    transaction_id TEXT PRIMARY KEY,
    requester_key BLOB NOT NULL,
    state TEXT NOT NULL,
    csr BLOB NOT NULL,
    certificates BLOB NOT NULL,
    fail_info INTEGER,
    updated TEXT,
    polls INTEGER NOT NULL DEFAULT 0,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS serials (serial TEXT PRIMARY KEY);
"""


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
                f"SELECT {COLUMNS} FROM transactions WHERE transaction_id = ?",  # noqa: S608
                (transaction_id,),
            ).fetchone()
        return None if row is None else transaction_from_row(row)

    def record(self, transaction: Transaction) -> Transaction:
        """Store unless a final outcome is already stored; return what is stored."""
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                f"SELECT {COLUMNS} FROM transactions WHERE transaction_id = ?",  # noqa: S608
                (transaction.transaction_id,),
            ).fetchone()
            if row is not None and transaction_from_row(row).final:
                db.execute("COMMIT")
                return transaction_from_row(row)
            db.execute(
                "INSERT OR REPLACE INTO transactions (transaction_id, requester_key, state, csr,"
                " certificates, fail_info, updated, polls) VALUES (?, ?, ?, ?, ?, ?, ?,"
                " COALESCE((SELECT polls FROM transactions WHERE transaction_id = ?), 0))",
                (
                    transaction.transaction_id,
                    transaction.requester_key,
                    transaction.state.value,
                    transaction.csr,
                    pack(transaction.certificates),
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
        """Every PENDING transaction, oldest first."""
        return self._in_state(TransactionState.PENDING)

    def _in_state(self, state: TransactionState) -> list[Transaction]:
        with closing(self._connect()) as db:
            rows = db.execute(
                f"SELECT {COLUMNS} FROM transactions WHERE state = ? ORDER BY updated",  # noqa: S608
                (state.value,),
            ).fetchall()
        return [transaction_from_row(row) for row in rows]

    def issued(self) -> list[Transaction]:
        """Every ISSUED transaction."""
        return self._in_state(TransactionState.ISSUED)

    def revoke(self, transaction_id: str) -> None:
        """Mark the transaction's certificate revoked."""
        with closing(self._connect()) as db:
            db.execute(
                "UPDATE transactions SET revoked = 1 WHERE transaction_id = ?", (transaction_id,)
            )

    def revoked(self) -> frozenset[str]:
        """The transactionIDs whose certificate is revoked."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT transaction_id FROM transactions WHERE revoked = 1")
            return frozenset(str(row[0]) for row in rows.fetchall())


_CHALLENGES_SCHEMA = """
CREATE TABLE IF NOT EXISTS challenges (
    digest BLOB PRIMARY KEY,
    subject TEXT,
    subject_alt_name TEXT,
    expires REAL NOT NULL,
    used REAL
);
"""


class SqliteChallenges:
    """One-time challenges in the server's SQLite file; consumed atomically across workers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_CHALLENGES_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA busy_timeout=30000")
        return db

    def add(self, challenge: IssuedChallenge) -> None:
        """Store a newly issued challenge."""
        with closing(self._connect()) as db:
            db.execute(
                "INSERT INTO challenges (digest, subject, subject_alt_name, expires)"
                " VALUES (?, ?, ?, ?)",
                (
                    challenge.digest,
                    challenge.subject,
                    challenge.subject_alt_name,
                    challenge.expires.timestamp(),
                ),
            )

    def find(self, digest: bytes) -> IssuedChallenge | None:
        """The challenge with this hash, used or not."""
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT digest, subject, subject_alt_name, expires FROM challenges"
                " WHERE digest = ?",
                (digest,),
            ).fetchone()
        if row is None:
            return None
        expires = datetime.fromtimestamp(float(row[3]), tz=timezone.utc)
        return IssuedChallenge(bytes(row[0]), row[1], row[2], expires)

    def consume(self, digest: bytes, now: datetime) -> Consumed:
        """Mark it used in one UPDATE: only the first of concurrent callers gets OK.

        Times are stored as POSIX timestamps, so they compare as numbers.
        """
        with closing(self._connect()) as db:
            changed = db.execute(
                "UPDATE challenges SET used = ? WHERE digest = ? AND used IS NULL AND expires >= ?",
                (now.timestamp(), digest, now.timestamp()),
            ).rowcount
            if changed == 1:
                return Consumed.OK
            row = db.execute(
                "SELECT used, expires FROM challenges WHERE digest = ?", (digest,)
            ).fetchone()
        if row is None:
            return Consumed.UNKNOWN
        return Consumed.USED if row[0] is not None else Consumed.EXPIRED
