"""The reference server's state in PostgreSQL: for workers on several machines.

Same rules as the SQLite store: every change of a transaction is decided by
`pyscep.protocol.transactions.resolve` inside one database transaction that
holds an advisory lock on the transactionID (so two workers creating the
same transaction take turns too); poll counts and serial numbers are handed
out by the database. ``--state-url postgresql://...``; needs psycopg
(``pip install 'pyscep-sansio[postgres]'``).
"""

from __future__ import annotations

import secrets
from typing import Any

import psycopg

from pyscep.protocol.transactions import (
    Act,
    IssuedCertificate,
    Recorded,
    Transaction,
    TransactionState,
    resolve,
)

from .state import (
    COLUMNS,
    ISSUED_EXTRA,
    NEW_COLUMNS,
    issued_from_row,
    row_values,
    transaction_from_row,
)

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
_WRITE = (
    f"INSERT INTO transactions ({COLUMNS}, fingerprint) VALUES"  # noqa: S608 - constants
    " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (transaction_id) DO UPDATE"
    " SET requester_key = excluded.requester_key, state = excluded.state, csr = excluded.csr,"
    " certificates = excluded.certificates, fail_info = excluded.fail_info,"
    " updated = excluded.updated, signer_key = excluded.signer_key,"
    " awaiting = excluded.awaiting, claim = excluded.claim, context = excluded.context,"
    " renews = excluded.renews,"
    " fingerprint = excluded.fingerprint"
)


class PostgresTransactions:
    """Transactions and serial numbers in a PostgreSQL database."""

    def __init__(self, url: str) -> None:
        self.url = url
        with self._connect() as db:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            db.execute(_SCHEMA)
            for name, kind in NEW_COLUMNS:
                column = kind.format(blob="BYTEA", empty="''::bytea")
                db.execute(f"ALTER TABLE transactions ADD COLUMN IF NOT EXISTS {name} {column}")
            db.execute(
                "CREATE INDEX IF NOT EXISTS transactions_fingerprint ON transactions (fingerprint)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS transactions_renews ON transactions (renews)")
            rows = db.execute(
                f"SELECT {COLUMNS} FROM transactions"  # noqa: S608 - constants
                " WHERE state = 'issued' AND fingerprint IS NULL"
            ).fetchall()
            for row in rows:  # issued before the column existed
                values = row_values(transaction_from_row(row))
                db.execute(
                    "UPDATE transactions SET fingerprint = %s WHERE transaction_id = %s",
                    (values[-1], values[0]),
                )

    def _connect(self) -> psycopg.Connection[Any]:
        db = psycopg.connect(self.url)
        # `record` reads after taking its lock: that read must see what committed meanwhile,
        # whatever the server's default isolation level.
        db.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
        return db

    def get(self, transaction_id: str) -> Transaction | None:
        """The stored transaction, or None."""
        with self._connect() as db:
            return _read(db, transaction_id)

    def record(self, act: Act, proposed: Transaction) -> Recorded:
        """`resolve` in one database transaction, under the transactionID's advisory lock."""
        with self._connect() as db:
            db.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                (proposed.transaction_id,),
            )
            stored = _read(db, proposed.transaction_id)
            new = resolve(stored, act, proposed)
            if new is None:
                return Recorded(stored, False)
            db.execute(_WRITE, row_values(new))
            return Recorded(new, True)

    def find_certificate(self, fingerprint: bytes) -> IssuedCertificate | None:
        """The issued certificate with this SHA-256."""
        with self._connect() as db:
            extra = ISSUED_EXTRA.format(mark="%s")
            row = db.execute(
                f"SELECT {COLUMNS}, {extra} FROM transactions"  # noqa: S608 - constants
                " WHERE fingerprint = %s AND state = 'issued'",
                (fingerprint, fingerprint),
            ).fetchone()
        return None if row is None else issued_from_row(row)

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
        """Every transaction still undecided (PENDING) or being issued, oldest first."""
        return self._in_state(TransactionState.PENDING, TransactionState.ISSUING)

    def _in_state(self, *states: TransactionState) -> list[Transaction]:
        marks = ", ".join("%s" for _ in states)
        with self._connect() as db:
            rows = db.execute(
                f"SELECT {COLUMNS} FROM transactions WHERE state IN ({marks})"  # noqa: S608
                " ORDER BY updated",
                tuple(state.value for state in states),
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


def _read(db: psycopg.Connection[Any], transaction_id: str) -> Transaction | None:
    row = db.execute(
        f"SELECT {COLUMNS} FROM transactions WHERE transaction_id = %s",  # noqa: S608
        (transaction_id,),
    ).fetchone()
    return None if row is None else transaction_from_row(row)
