"""What the SQLite and PostgreSQL stores do alike, written once: the statements that need
no lock beyond their own (revocations, CRLs, counts).

A store supplies its `Dialect` and `_session`, a connection for one statement or a few
(committed when it ends); the reads and writes here go through `rows`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, ClassVar

from pyscep.certificate import Certificate
from pyscep.enums import RevocationReason

from .contract import PublishedCRL, Revocation, StateUnavailableError, StoreCounts, revocation_time
from .rows import Dialect, revocation_from_row, unpack

__all__ = ["SqlRecords"]


class SqlRecords:
    """Revocations, published CRLs and counts, for a store with a `Dialect`."""

    dialect: ClassVar[Dialect]

    def _session(self) -> AbstractContextManager[Any]:
        """A connection, committed and closed when the block ends."""
        raise NotImplementedError

    def revoke(
        self,
        transaction_id: str,
        *,
        revoked_at: datetime | None = None,
        reason: RevocationReason = RevocationReason.UNSPECIFIED,
    ) -> None:
        """Revoke the transaction's certificate (the first revocation stands)."""
        when = revocation_time(revoked_at).timestamp()
        with self._session() as db:
            row = db.execute(self.dialect.select_issued_certificates, (transaction_id,)).fetchone()
            if row is None:
                return  # only an issued certificate is revoked
            serial = Certificate.load(unpack(bytes(row[0]))[0]).serial_number
            db.execute(self.dialect.revoke, (when, int(reason), str(serial), transaction_id))

    def revoked(self) -> frozenset[str]:
        """The transactionIDs whose certificate is revoked."""
        with self._session() as db:
            rows = db.execute(self.dialect.select_revoked).fetchall()
        return frozenset(str(row[0]) for row in rows)

    def revocations(self) -> list[Revocation]:
        """Every revoked certificate, with when and why."""
        with self._session() as db:
            rows = db.execute(self.dialect.select_revocations).fetchall()
        return [revocation_from_row(row) for row in rows]

    def latest_crl(self) -> PublishedCRL | None:
        """The CRL published last."""
        with self._session() as db:
            row = db.execute(self.dialect.select_latest_crl).fetchone()
        return None if row is None else PublishedCRL(bytes(row[0]))

    def publish_crl(self, crl: PublishedCRL) -> PublishedCRL:
        """Keep ``crl`` unless one with its number is kept; the latest after."""
        with self._session() as db:
            db.execute(self.dialect.insert_crl, (crl.number, crl.der))
            row = db.execute(self.dialect.select_latest_crl).fetchone()
        return crl if row is None else PublishedCRL(bytes(row[0]))

    def counts(self) -> StoreCounts:
        """What it holds, counted by the database."""
        with self._session() as db:
            row = db.execute(self.dialect.select_counts).fetchone()
        if row is None:  # pragma: no cover - a SELECT of counts has one row
            raise StateUnavailableError("the state could not be counted")
        return StoreCounts(*(int(value) for value in row))
