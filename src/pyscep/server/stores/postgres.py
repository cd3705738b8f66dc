"""The `ServerStore` in PostgreSQL: for workers on several machines.

Same rules as the SQLite store: every change of a transaction is decided by
`pyscep.protocol.transactions.resolve` inside one database transaction that
holds an advisory lock on the transactionID (so two workers creating the
same transaction take turns too); a challenge is consumed by
`pyscep.protocol.challenges.decide_consumption` on its row locked
``FOR UPDATE``; poll counts and serial numbers are handed out by the
database. ``--state-url postgresql://...``; needs psycopg
(``pip install 'pyscep-sansio[postgres]'``), imported when a store opens.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

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
    POSTGRES,
    challenge_from_row,
    challenge_values,
    issued_from_row,
    migrate,
    row_values,
    transaction_from_row,
)
from .sql import SqlRecords

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresChallenges", "PostgresStore"]

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
CREATE TABLE IF NOT EXISTS challenges (
    digest BYTEA PRIMARY KEY,
    subject TEXT,
    subject_alt_name TEXT,
    expires DOUBLE PRECISION NOT NULL,
    used DOUBLE PRECISION,
    sid TEXT
);
"""
#: Serialises schema creation when several workers start at once.
_SCHEMA_LOCK = 0x5C39


def _connect(url: str) -> psycopg.Connection[Any]:
    import psycopg  # the optional dependency, needed only by who uses this store

    try:
        db = psycopg.connect(url)
    except psycopg.OperationalError as exc:
        # One line, not a traceback: an operator's typo or a database that is down.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StateUnavailableError(f"cannot reach the PostgreSQL state: {reason}") from None
    # `record` and `consume` read after taking their lock: that read must see what
    # committed meanwhile, whatever the server's default isolation level.
    db.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
    return db


def _create(url: str) -> None:
    """The tables (also those an older pyscep did not make), migrated; one worker at a time."""
    with _connect(url) as db:
        db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        db.execute(_SCHEMA)
        migrate(db.execute, POSTGRES)


class PostgresStore(SqlRecords):
    """Transactions, challenges, serial numbers and revocations in a PostgreSQL database."""

    dialect = POSTGRES

    def __init__(self, url: str, *, create: bool = True) -> None:
        """``create=False`` (the operator's commands): refuse a database no server set up."""
        self.url = url
        if create:
            _create(url)
        else:
            with _connect(url) as db:
                row = db.execute("SELECT to_regclass('transactions')").fetchone()
            if row is None or row[0] is None:
                raise StateUnavailableError(
                    "no pyscep state in this database (a server makes it when it first starts)"
                )
            # A state an older server made gains what this one reads, as with SQLite.
            _create(url)
        self._challenges = PostgresChallenges(url, created=True)

    @property
    def challenges(self) -> PostgresChallenges:
        """The one-time challenges, in the same database."""
        return self._challenges

    def _connect(self) -> psycopg.Connection[Any]:
        return _connect(self.url)

    def _session(self) -> AbstractContextManager[Any]:
        return self._connect()

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
            db.execute(POSTGRES.upsert, row_values(new))
            return Recorded(new, True)

    def find_certificate(self, fingerprint: bytes) -> IssuedCertificate | None:
        """The issued certificate with this SHA-256."""
        with self._connect() as db:
            row = db.execute(POSTGRES.select_issued, (fingerprint, fingerprint)).fetchone()
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
                serial = random_serial()
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
        with self._connect() as db:
            rows = db.execute(
                POSTGRES.select_in_states(len(states)), tuple(state.value for state in states)
            ).fetchall()
        return [transaction_from_row(row) for row in rows]

    def issued(self) -> list[Transaction]:
        """Every ISSUED transaction."""
        return self._in_state(TransactionState.ISSUED)


def _read(db: psycopg.Connection[Any], transaction_id: str) -> Transaction | None:
    row = db.execute(POSTGRES.select_one, (transaction_id,)).fetchone()
    return None if row is None else transaction_from_row(row)


class PostgresChallenges:
    """One-time challenges in PostgreSQL: consumed once across hosts."""

    def __init__(self, url: str, *, created: bool = False) -> None:
        self.url = url
        if not created:
            _create(url)

    def add(self, challenge: IssuedChallenge) -> None:
        """Store a newly issued challenge."""
        with _connect(self.url) as db:
            db.execute(POSTGRES.insert_challenge, challenge_values(challenge))

    def outstanding(self, now: datetime) -> int:
        """How many challenges are neither used nor expired at ``now``."""
        with _connect(self.url) as db:
            row = db.execute(POSTGRES.count_outstanding, (now.timestamp(),)).fetchone()
        return 0 if row is None else int(row[0])

    def find(self, digest: bytes) -> IssuedChallenge | None:
        """The challenge with this hash, used or not."""
        with _connect(self.url) as db:
            row = db.execute(POSTGRES.select_challenge, (digest,)).fetchone()
        return None if row is None else challenge_from_row(row)[0]

    def consume(self, digest: bytes, now: datetime) -> Consumed:
        """`decide_consumption` on the row locked ``FOR UPDATE``: concurrent callers take
        turns, and the later ones read it used."""
        with _connect(self.url) as db:
            row = db.execute(POSTGRES.lock_challenge, (digest,)).fetchone()
            stored, used = (None, False) if row is None else challenge_from_row(row)
            outcome = decide_consumption(stored, used, now)
            if outcome is Consumed.OK:
                db.execute(POSTGRES.mark_used, (now.timestamp(), digest))
            return outcome
