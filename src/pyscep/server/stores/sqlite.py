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
import weakref
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
    used REAL,
    sid TEXT
);
"""


def _connect(path: Path) -> sqlite3.Connection:
    # Pooled, so used by one thread at a time but not always the same one.
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout=30000")
    db.execute("PRAGMA synchronous=FULL")  # each commit synced: what is answered is kept
    return db


#: Pools with idle connections; closed before this process forks (see `_Connections`).
_POOLS: weakref.WeakSet[_Connections] = weakref.WeakSet()
#: The most idle connections a pool keeps (one per worker thread is what is used).
_MOST_IDLE = 8


class _Connections:
    """A pool of connections of this process: taken for a statement or a transaction,
    given back after.

    Opening and closing one per statement cost more than the statements (closing
    the last one checkpoints the WAL). A connection is never used by two threads at
    once, and never crosses a fork: idle ones are closed before this process forks
    (SQLite's own bookkeeping of its locks must not be copied into a child), and a
    child opens its own, leaving any connection of its parent alone.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        #: Connections a fork carried over (in use in another thread when it forked):
        #: the parent's, never used nor closed here.
        self._inherited: list[sqlite3.Connection] = []
        _POOLS.add(self)
        # Closed when the store goes, not whenever the garbage collector gets to them.
        weakref.finalize(self, _close_all, self._idle)

    @contextmanager
    def use(self) -> Iterator[sqlite3.Connection]:
        """A connection of this process; a transaction an error left open is rolled back,
        and the connection closed, not given to anyone else."""
        with self._lock:
            if self._pid != os.getpid():
                self._inherited.extend(self._idle)
                self._idle.clear()
                self._pid = os.getpid()
            db = self._idle.pop() if self._idle else None
        if db is None:
            db = _connect(self.path)
        try:
            yield db
        except BaseException:
            # An error between BEGIN and COMMIT: the lock given back, and the connection
            # closed rather than pooled in whatever state the error left it.
            if db.in_transaction:
                db.execute("ROLLBACK")
            db.close()
            raise
        with self._lock:
            if self._pid == os.getpid() and len(self._idle) < _MOST_IDLE:
                self._idle.append(db)
                return
        db.close()

    def close_idle(self) -> None:
        """Close the connections nobody uses now."""
        with self._lock:
            _close_all(self._idle)


def _close_all(connections: list[sqlite3.Connection]) -> None:
    while connections:
        connections.pop().close()


def _before_fork() -> None:
    for pool in list(_POOLS):
        pool.close_idle()


os.register_at_fork(before=_before_fork)


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

    def close(self) -> None:
        """Close the connections this process keeps open to the file (reopened if used)."""
        self._connections.close_idle()

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
        with self._connections.use() as db:
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
        # Not synced on its own (`_unsynced`): a serial lost with the power was on no
        # certificate that left the server.
        with self._connections.use() as db, _unsynced(db):
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


@contextmanager
def _unsynced(db: sqlite3.Connection) -> Iterator[None]:
    """Commits within are left for the next synced commit to make durable.

    The WAL is appended in order and a sync writes all of it, so a synced commit
    makes every earlier one durable too. Only for writes nobody is answered on (a
    serial: lost with the power before the delivery that follows, it was on no
    certificate that left the server). Only around autocommit statements: the
    setting cannot change inside a transaction.
    """
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

    def outstanding(self, now: datetime) -> int:
        """How many challenges are neither used nor expired at ``now``."""
        with self._connections.use() as db:
            row = db.execute(SQLITE.count_outstanding, (now.timestamp(),)).fetchone()
        return 0 if row is None else int(row[0])

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
