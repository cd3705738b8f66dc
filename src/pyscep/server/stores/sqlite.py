"""The `ServerStore` in one SQLite file, shared safely by several worker processes.

WAL journal, one short ``BEGIN IMMEDIATE`` transaction per write, inside
which the core decides (`resolve` for transactions, `decide_consumption` for
challenges): workers answering the same request take turns, so one of them
claims the transaction and signs, a challenge is consumed once, and serial
numbers are handed out by the database, unique across workers. One machine
only: for several, `pyscep.server.stores.postgres`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from pyscep.protocol.challenges import Consumed, IssuedChallenge, decide_consumption
from pyscep.protocol.transactions import (
    Act,
    IssuedCertificate,
    Recorded,
    Transaction,
    TransactionState,
    resolve,
)

from .contract import (
    StateUnavailableError,
    random_serial,
)
from .rows import (
    SQLITE,
    challenge_from_row,
    challenge_values,
    issued_from_row,
    migrate,
    row_values,
    transaction_from_row,
)
from .sql import SqlRecords

__all__ = ["SqliteChallenges", "SqliteStore"]

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
CREATE TABLE IF NOT EXISTS challenges (
    digest BLOB PRIMARY KEY,
    subject TEXT,
    subject_alt_name TEXT,
    expires REAL NOT NULL,
    used REAL
);
"""


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.execute("PRAGMA busy_timeout=30000")
    db.execute("PRAGMA synchronous=FULL")  # each commit synced: what is answered is kept
    return db


class _Connections:
    """A connection per thread of this process, opened on first use and kept.

    Opening and closing one per statement cost more than the statements (closing
    the last one checkpoints the WAL). A connection never crosses a fork or a
    thread: a forked worker opens its own, and leaves its parent's alone.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        #: Connections a fork carried over: the parent's, never used nor closed here.
        self._inherited: list[sqlite3.Connection] = []

    @contextmanager
    def use(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection; a transaction an error left open is rolled back."""
        local = self._local
        db: sqlite3.Connection | None = getattr(local, "db", None)
        if db is None or local.pid != os.getpid():
            if db is not None:
                self._inherited.append(db)
            db = local.db = _connect(self.path)
            local.pid = os.getpid()
        try:
            yield db
        finally:
            if db.in_transaction:  # an error between BEGIN and COMMIT: give the lock back
                db.execute("ROLLBACK")


def _create(path: Path) -> None:
    """The tables (all of them, whichever class opens the file first), migrated."""
    db = _connect(path)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("BEGIN IMMEDIATE")
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        migrate(db.execute, SQLITE)
        db.execute("COMMIT")
    finally:
        db.close()


class SqliteStore(SqlRecords):
    """Transactions, challenges, serial numbers and revocations in one SQLite file."""

    dialect = SQLITE

    def __init__(self, path: Path, *, create: bool = True) -> None:
        """``create=False`` (the operator's commands): refuse a file no server made."""
        self.path = path
        if not create and not path.is_file():
            raise StateUnavailableError(
                f"no pyscep state at {path} (a server makes it when it first starts)"
            )
        _create(path)
        self._connections = _Connections(path)
        self._challenges = SqliteChallenges(path, created=True, connections=self._connections)

    @property
    def challenges(self) -> SqliteChallenges:
        """The one-time challenges, in the same file."""
        return self._challenges

    def _session(self) -> AbstractContextManager[Any]:
        return self._connections.use()

    def get(self, transaction_id: str) -> Transaction | None:
        """The stored transaction, or None."""
        with self._connections.use() as db:
            return _read(db, transaction_id)

    def record(self, act: Act, proposed: Transaction) -> Recorded:
        """`resolve` inside one ``BEGIN IMMEDIATE`` transaction: workers take turns."""
        with self._connections.use() as db, _synced(db, act not in _UNANSWERED):
            db.execute("BEGIN IMMEDIATE")
            stored = _read(db, proposed.transaction_id)
            new = resolve(stored, act, proposed)
            if new is not None:
                db.execute(SQLITE.upsert, row_values(new))
            db.execute("COMMIT")
            return Recorded(stored, False) if new is None else Recorded(new, True)

    def find_certificate(self, fingerprint: bytes) -> IssuedCertificate | None:
        """The issued certificate with this SHA-256."""
        with self._connections.use() as db:
            row = db.execute(SQLITE.select_issued, (fingerprint, fingerprint)).fetchone()
        return None if row is None else issued_from_row(row)

    def count_poll(self, transaction_id: str) -> int:
        """Count one more poll of a transaction; the new count."""
        with self._connections.use() as db:
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

    def new_serial(self) -> int:
        """A positive 64-bit serial number no worker has handed out before."""
        # Not synced on its own (`_synced`): a serial lost with the power was on no
        # certificate that left the server.
        with self._connections.use() as db, _synced(db, False):
            while True:
                serial = random_serial()
                try:
                    db.execute("INSERT INTO serials (serial) VALUES (?)", (str(serial),))
                    return serial
                except sqlite3.IntegrityError:  # pragma: no cover - 2**-62
                    continue

    def pending(self) -> list[Transaction]:
        """Every transaction still undecided (PENDING) or being issued, oldest first."""
        return self._in_state(TransactionState.PENDING, TransactionState.ISSUING)

    def _in_state(self, *states: TransactionState) -> list[Transaction]:
        with self._connections.use() as db:
            rows = db.execute(
                SQLITE.select_in_states(len(states)), tuple(state.value for state in states)
            ).fetchall()
        return [transaction_from_row(row) for row in rows]

    def issued(self) -> list[Transaction]:
        """Every ISSUED transaction."""
        return self._in_state(TransactionState.ISSUED)


#: Acts no client is answered on: the claim to sign (the delivery that follows is).
_UNANSWERED = frozenset({Act.CLAIM, Act.APPROVE})


@contextmanager
def _synced(db: sqlite3.Connection, synced: bool) -> Iterator[None]:
    """Commits within are synced to disk (``synced``), or left for the next synced commit.

    The WAL is appended in order, so a synced commit makes every earlier one durable
    too: a write nobody is answered on (a claim, a serial) need not wait for the disk,
    since the commit that answers (the delivery) syncs it. Lost with the power before
    that, it was on nothing that left the server.
    """
    if synced:
        yield
        return
    db.execute("PRAGMA synchronous=NORMAL")
    try:
        yield
    finally:
        db.execute("PRAGMA synchronous=FULL")


def _read(db: sqlite3.Connection, transaction_id: str) -> Transaction | None:
    row = db.execute(SQLITE.select_one, (transaction_id,)).fetchone()
    return None if row is None else transaction_from_row(row)


class SqliteChallenges:
    """One-time challenges in the server's SQLite file; consumed once across workers."""

    def __init__(
        self, path: Path, *, created: bool = False, connections: _Connections | None = None
    ) -> None:
        self.path = path
        if not created:
            _create(path)
        self._connections = connections or _Connections(path)

    def add(self, challenge: IssuedChallenge) -> None:
        """Store a newly issued challenge."""
        with self._connections.use() as db:
            db.execute(SQLITE.insert_challenge, challenge_values(challenge))

    def find(self, digest: bytes) -> IssuedChallenge | None:
        """The challenge with this hash, used or not."""
        with self._connections.use() as db:
            row = db.execute(SQLITE.select_challenge, (digest,)).fetchone()
        return None if row is None else challenge_from_row(row)[0]

    def consume(self, digest: bytes, now: datetime) -> Consumed:
        """`decide_consumption` inside one ``BEGIN IMMEDIATE`` transaction: workers take turns."""
        with self._connections.use() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(SQLITE.lock_challenge, (digest,)).fetchone()
            stored, used = (None, False) if row is None else challenge_from_row(row)
            outcome = decide_consumption(stored, used, now)
            if outcome is Consumed.OK:
                db.execute(SQLITE.mark_used, (now.timestamp(), digest))
            db.execute("COMMIT")
            return outcome
