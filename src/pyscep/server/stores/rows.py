"""What the SQL stores share: the row codec, the SQL (written once, per `Dialect`), migration.

The SQLite and PostgreSQL stores differ only in how they connect and lock;
every row they read or write goes through this module, and every decision
they take goes through the pure functions of `pyscep.protocol`
(`resolve`, `decide_consumption`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pyscep.certificate import Certificate
from pyscep.enums import FailInfo, RevocationReason
from pyscep.protocol.challenges import IssuedChallenge
from pyscep.protocol.transactions import (
    Awaiting,
    IssuedCertificate,
    Transaction,
    TransactionState,
    certificate_fingerprint,
)

from .contract import Revocation

__all__ = [
    "CHALLENGE_COLUMNS",
    "COLUMNS",
    "NEW_CHALLENGE_COLUMNS",
    "NEW_COLUMNS",
    "POSTGRES",
    "SQLITE",
    "Dialect",
    "challenge_from_row",
    "challenge_values",
    "issued_from_row",
    "legacy_revocation",
    "migrate",
    "pack",
    "revocation_from_row",
    "row_values",
    "transaction_from_row",
    "unpack",
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
    # When and why a certificate was revoked (a POSIX timestamp; RFC 5280's CRLReason).
    ("revoked_at", "{real}"),
    ("revocation_reason", "INTEGER NOT NULL DEFAULT 0"),
    # The revoked certificate's serial number (decimal): a CRL is made without parsing
    # every revoked certificate again.
    ("revoked_serial", "TEXT"),
)
#: The columns of ``challenges`` added since its first release (name, type).
NEW_CHALLENGE_COLUMNS = (
    # The Windows account SID a one-time challenge vouches for.
    ("sid", "TEXT"),
)


def pack(certificates: tuple[bytes, ...]) -> bytes:
    """Certificates in one column: each DER prefixed with its 4-byte length."""
    return b"".join(len(c).to_bytes(4, "big") + c for c in certificates)


def unpack(blob: bytes) -> tuple[bytes, ...]:
    """The certificates `pack` put in one column."""
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
        certificates=unpack(bytes(certificates)),
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


#: The columns a challenge is read with, in `challenge_from_row`'s order. Times are POSIX
#: timestamps (a float in both dialects): they compare as numbers, whatever the time zone.
CHALLENGE_COLUMNS = "digest, subject, subject_alt_name, expires, used, sid"


def challenge_values(challenge: IssuedChallenge) -> tuple[Any, ...]:
    """A new challenge as the values of `CHALLENGE_COLUMNS` but ``used``."""
    return (
        challenge.digest,
        challenge.subject,
        challenge.subject_alt_name,
        challenge.expires.timestamp(),
        challenge.sid,
    )


def challenge_from_row(row: tuple[Any, ...]) -> tuple[IssuedChallenge, bool]:
    """A challenge read with `CHALLENGE_COLUMNS`, and whether it was used."""
    digest, subject, subject_alt_name, expires, used, sid = row
    issued = IssuedChallenge(
        bytes(digest),
        None if subject is None else str(subject),
        None if subject_alt_name is None else str(subject_alt_name),
        datetime.fromtimestamp(float(expires), tz=timezone.utc),
        None if sid is None else str(sid),
    )
    return issued, used is not None


#: The columns a revocation is read with, in `revocation_from_row`'s order.
REVOCATION_COLUMNS = "transaction_id, revoked_serial, revoked_at, revocation_reason, certificates"


def legacy_revocation(certificate: bytes) -> tuple[int, float]:
    """The serial number and revocation date of a certificate revoked before pyscep kept
    them (or beside it, by an older pyscep): its notBefore, the earliest it could have
    been, so that nothing it signed since it was issued is trusted; always the same."""
    issued = Certificate.load(certificate)
    return issued.serial_number, issued.not_valid_before.timestamp()


def revocation_from_row(row: tuple[Any, ...]) -> Revocation:
    """A `Revocation` read with `REVOCATION_COLUMNS`."""
    transaction_id, serial, revoked_at, reason, certificates = row
    if serial is None or revoked_at is None:  # fill in what is missing only
        legacy_serial, legacy_date = legacy_revocation(unpack(bytes(certificates))[0])
        serial = legacy_serial if serial is None else serial
        revoked_at = legacy_date if revoked_at is None else revoked_at
    return Revocation(
        str(transaction_id),
        int(serial),
        datetime.fromtimestamp(float(revoked_at), tz=timezone.utc),
        RevocationReason(int(reason)),
    )


@dataclass(frozen=True)
class Dialect:
    """The stores' SQL, written once: what differs is the placeholder and the BLOB type."""

    mark: str
    blob: str
    empty_blob: str
    real: str
    #: How the ``revoked`` column says yes.
    true: str
    #: What makes a SELECT lock the rows it reads until the transaction ends ("" where the
    #: whole database is locked already, as SQLite's ``BEGIN IMMEDIATE`` does).
    row_lock: str = ""

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

    @property
    def select_challenge(self) -> str:
        """The challenge with a digest."""
        return f"SELECT {CHALLENGE_COLUMNS} FROM challenges WHERE digest = {self.mark}"  # noqa: S608

    @property
    def lock_challenge(self) -> str:
        """`select_challenge`, its row locked for a read-modify-write."""
        return self.select_challenge + self.row_lock

    @property
    def insert_challenge(self) -> str:
        """Store a new challenge, as `challenge_values` gives it."""
        marks = ", ".join([self.mark] * 5)
        return (
            "INSERT INTO challenges (digest, subject, subject_alt_name, expires, sid)"  # noqa: S608
            f" VALUES ({marks})"
        )

    @property
    def count_outstanding(self) -> str:
        """How many challenges are neither used nor expired at a time."""
        return f"SELECT count(*) FROM challenges WHERE used IS NULL AND expires >= {self.mark}"  # noqa: S608

    @property
    def mark_used(self) -> str:
        """Record the time a challenge was consumed."""
        return f"UPDATE challenges SET used = {self.mark} WHERE digest = {self.mark}"  # noqa: S608

    @property
    def revoke(self) -> str:
        """Revoke an issued certificate at a time, for a reason, unless it is revoked already."""
        m = self.mark
        return (
            f"UPDATE transactions SET revoked = {self.true}, revoked_at = {m},"  # noqa: S608
            f" revocation_reason = {m}, revoked_serial = {m}"
            f" WHERE transaction_id = {m} AND state = 'issued'"
            f" AND revoked <> {self.true}"
        )

    @property
    def select_issued_certificates(self) -> str:
        """The certificates of one ISSUED transaction (to revoke it)."""
        return (
            "SELECT certificates FROM transactions"  # noqa: S608 - a placeholder only
            f" WHERE transaction_id = {self.mark} AND state = 'issued'"
        )

    @property
    def select_revoked(self) -> str:
        """The transactionIDs of revoked certificates."""
        return f"SELECT transaction_id FROM transactions WHERE revoked = {self.true}"  # noqa: S608

    @property
    def select_revocations(self) -> str:
        """Every revoked certificate, for `revocation_from_row`."""
        return (
            f"SELECT {REVOCATION_COLUMNS} FROM transactions"  # noqa: S608 - constants
            f" WHERE revoked = {self.true} ORDER BY transaction_id"
        )

    @property
    def create_crls(self) -> str:
        """The table of published CRLs: each one by its number."""
        return (
            f"CREATE TABLE IF NOT EXISTS crls (number BIGINT PRIMARY KEY, der {self.blob} NOT NULL)"
        )

    @property
    def insert_crl(self) -> str:
        """Keep a CRL (number, DER) unless one with its number is kept: the first host wins."""
        return (
            f"INSERT INTO crls (number, der) VALUES ({self.mark}, {self.mark})"  # noqa: S608
            " ON CONFLICT (number) DO NOTHING"
        )

    @property
    def select_latest_crl(self) -> str:
        """The DER of the CRL with the highest number."""
        return "SELECT der FROM crls ORDER BY number DESC LIMIT 1"

    @property
    def select_counts(self) -> str:
        """`StoreCounts`, in its order, in one row."""
        return (
            "SELECT (SELECT count(*) FROM transactions WHERE state IN ('pending', 'issuing')),"  # noqa: S608 - constants
            " (SELECT count(*) FROM transactions WHERE state = 'issued'),"
            f" (SELECT count(*) FROM transactions WHERE revoked = {self.true}),"
            " (SELECT count(*) FROM challenges), (SELECT count(used) FROM challenges)"
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
        return f"{name} {kind.format(blob=self.blob, empty=self.empty_blob, real=self.real)}"


SQLITE = Dialect("?", "BLOB", "x''", "REAL", "1")
POSTGRES = Dialect("%s", "BYTEA", "''::bytea", "DOUBLE PRECISION", "TRUE", " FOR UPDATE")


def migrate(execute: Callable[..., Any], dialect: Dialect) -> None:
    """Bring a table made by an older pyscep up to `COLUMNS`, inside the caller's
    transaction: the new columns, their indexes, the fingerprints of what it issued,
    the serial and date of revocations made before they were kept, the CRL table."""
    for table, added in (("transactions", NEW_COLUMNS), ("challenges", NEW_CHALLENGE_COLUMNS)):
        if dialect is SQLITE:  # no ADD COLUMN IF NOT EXISTS in SQLite
            present = {row[1] for row in execute(f"PRAGMA table_info({table})").fetchall()}
            statements = [
                f"ALTER TABLE {table} ADD COLUMN {dialect.added_column(name, kind)}"
                for name, kind in added
                if name not in present
            ]
        else:
            statements = [
                f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {dialect.added_column(n, k)}"
                for n, k in added
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
    legacy = execute(
        "SELECT transaction_id, certificates FROM transactions"  # noqa: S608 - constants
        f" WHERE revoked = {dialect.true} AND revoked_serial IS NULL"
    ).fetchall()
    for transaction_id, certificates in legacy:  # revoked before the time was kept
        serial, revoked_at = legacy_revocation(unpack(bytes(certificates))[0])
        execute(  # a date kept already stays: only a missing one is the notBefore
            f"UPDATE transactions SET revoked_serial = {dialect.mark},"  # noqa: S608
            f" revoked_at = COALESCE(revoked_at, {dialect.mark})"
            f" WHERE transaction_id = {dialect.mark}",
            (str(serial), revoked_at, transaction_id),
        )
    execute(dialect.create_crls)
