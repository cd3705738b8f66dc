"""The one contract every server store keeps: memory, SQLite, PostgreSQL, or your own.

A `ServerStore` is the responder's `TransactionStore` plus what the reference
server needs on top: one-time challenges, poll counts, serial numbers, the
issued-certificate inventory and revocations. Each method is atomic on its
own, and every decision is taken by the core's pure functions
(`pyscep.protocol.transactions.resolve`,
`pyscep.protocol.challenges.decide_consumption`) inside the store's own
atomic read-modify-write, so every implementation obeys the same rules.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import Protocol

from pyscep.enums import RevocationReason
from pyscep.errors import ParseError, ScepError
from pyscep.messages.crl import CRLFacts, RevokedCertificate, read_crl
from pyscep.protocol.challenges import ChallengeStore
from pyscep.protocol.transactions import Transaction, TransactionStore

__all__ = [
    "PublishedCRL",
    "Revocation",
    "ServerState",
    "ServerStore",
    "StateUnavailableError",
    "StoreCounts",
    "random_serial",
    "revocation_time",
    "revocations_digest",
]


class StateUnavailableError(ScepError):
    """The state store cannot be reached, or holds no pyscep state where one was expected."""


@dataclass(frozen=True, slots=True)
class Revocation:
    """A revoked certificate, as the store keeps it: which, when, and why."""

    transaction_id: str
    serial_number: int
    revoked_at: datetime
    reason: RevocationReason


@dataclass(frozen=True)
class PublishedCRL:
    """A CRL the CA signed, as the store keeps it for every host to serve; its facts are
    read from its bytes."""

    der: bytes

    @cached_property
    def facts(self) -> CRLFacts:
        """What it says (`pyscep.messages.read_crl`), read once."""
        return read_crl(self.der)

    @property
    def number(self) -> int:
        """Its cRLNumber: each CRL published is the previous one's plus one."""
        number = self.facts.number
        if number is None:
            raise ParseError("a published CRL has a CRL number")
        return number

    @property
    def this_update(self) -> datetime:
        """When it was signed."""
        return self.facts.this_update

    @property
    def next_update(self) -> datetime:
        """When the next one is due at the latest."""
        next_update = self.facts.next_update
        if next_update is None:
            raise ParseError("a published CRL has a nextUpdate")
        return next_update

    @property
    def basis(self) -> bytes:
        """`revocations_digest` of what it lists: it is current while that is revoked."""
        return revocations_digest(self.facts.revoked)


def revocation_time(revoked_at: datetime | None) -> datetime:
    """When a revocation is recorded: ``revoked_at`` (None: now) in UTC, to the second
    (what a CRL can say, and what every store keeps alike)."""
    if revoked_at is None:
        revoked_at = datetime.now(timezone.utc)
    elif revoked_at.tzinfo is None:
        raise ValueError("a revocation time must be timezone-aware")
    return revoked_at.astimezone(timezone.utc).replace(microsecond=0)


def revocations_digest(revocations: Iterable[RevokedCertificate]) -> bytes:
    """What identifies a set of revocations (in any order): a CRL listing them is current."""
    listed = sorted(
        f"{r.serial_number}:{r.revoked_at.timestamp()}:{int(r.reason)}" for r in revocations
    )
    return hashlib.sha256("\n".join(listed).encode()).digest()


@dataclass(frozen=True, slots=True)
class StoreCounts:
    """What a store holds, counted (for metrics): the same on every host sharing it."""

    #: Transactions undecided (PENDING) or being issued: the operator's queue.
    pending: int
    issued: int
    revoked: int
    challenges_issued: int
    challenges_consumed: int


class ServerChallenges(ChallengeStore, Protocol):
    """A `ChallengeStore` that also says how many challenges wait to be used."""

    def outstanding(self, now: datetime) -> int:
        """How many challenges are neither used nor expired at ``now``."""
        ...


class ServerStore(TransactionStore, Protocol):
    """Where the reference server keeps everything that decides: shared by all its workers.

    Besides `TransactionStore` (``get``, ``record``, ``find_certificate``):
    """

    def revoke(
        self,
        transaction_id: str,
        *,
        revoked_at: datetime | None = None,
        reason: RevocationReason = RevocationReason.UNSPECIFIED,
    ) -> None:
        """Revoke the certificate of an ISSUED transaction at ``revoked_at`` (None: now), for
        ``reason``. The first revocation stands: revoking again changes neither."""
        ...

    def revocations(self) -> list[Revocation]:
        """Every revoked certificate, with when and why."""
        ...

    def latest_crl(self) -> PublishedCRL | None:
        """The CRL published last (the highest number), or None before the first."""
        ...

    def publish_crl(self, crl: PublishedCRL) -> PublishedCRL:
        """Keep ``crl`` unless a CRL with its number is kept already (another host was
        first); the latest CRL after."""
        ...

    @property
    def challenges(self) -> ServerChallenges:
        """The one-time challenges, in the same database: consumed once across hosts."""
        ...

    def count_poll(self, transaction_id: str) -> int:
        """Count one more poll of a transaction; the new count (0 for an unknown one)."""
        ...

    def new_serial(self) -> int:
        """A positive 63-bit serial number no worker on any host has handed out before."""
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

    def counts(self) -> StoreCounts:
        """What it holds, counted (a database reads it without loading a row)."""
        ...


#: The name of the first release (transactions and serials only).
ServerState = ServerStore


def random_serial() -> int:
    """A candidate serial number: 63 random bits with the top one set (positive, fixed
    length, DER's INTEGER never needs a leading zero). Stores make it unique."""
    return secrets.randbits(63) | (1 << 62)
