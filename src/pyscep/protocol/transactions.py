"""Transactions a server remembers, as plain values, and the one lifecycle every store obeys.

A `Transaction` is bytes and enums, bound to its requester: the key its CSR
asks a certificate for, and the key that signed the request (the same key
for a first enrollment, the existing certificate's for a renewal). Every
change goes through `resolve`, a pure function over the table
`TRANSITIONS`: a store reads what it holds, asks `resolve`, and writes the
answer, all in one atomic step (a lock, ``BEGIN IMMEDIATE``, ``SELECT ...
FOR UPDATE``). So every store, in memory, SQLite or PostgreSQL, obeys the
same rules:

- a decision stays decided: a transaction leaves PENDING only by the
  operator's `Act.APPROVE` or `Act.DENY`, or, when it awaits the
  application, by a fresh decision (`Act.CLAIM`, `Act.REJECT`);
- a certificate is signed once per transaction: whoever wants to issue first
  *claims* the transaction (ISSUING, with a random claim token); only the
  claim's holder may record the certificate (`Act.DELIVER`) or give the claim
  back (`Act.RELEASE`). A claim older than `CLAIM_LEASE` (its holder died)
  may be taken over;
- ISSUED and REJECTED are final;
- a transactionID belongs to the request that opened it (its CSR, its key,
  and the key that signed it): any other request changes nothing.

::

    (new) --HOLD--> PENDING --CLAIM/APPROVE--> ISSUING --DELIVER--> ISSUED
      |               |  ^                        |
      |               |  +--------RELEASE---------+
      +----CLAIM------|-------------------------->+
                      +--REJECT/DENY--> REJECTED
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from threading import Lock
from typing import NamedTuple, Protocol

from pyscep.enums import FailInfo
from pyscep.errors import LocalProtocolError

__all__ = [
    "CLAIM_LEASE",
    "TRANSITIONS",
    "Act",
    "Awaiting",
    "InMemoryTransactions",
    "IssuedCertificate",
    "Phase",
    "Recorded",
    "Transaction",
    "TransactionState",
    "TransactionStore",
    "certificate_fingerprint",
    "claim_is_stale",
    "deny",
    "resolve",
]

#: How long a claim to sign holds before another worker may take it over.
CLAIM_LEASE = timedelta(minutes=2)


class TransactionState(str, enum.Enum):
    """Where an enrollment stands."""

    PENDING = "pending"
    #: Claimed by one worker, which is signing the certificate now.
    ISSUING = "issuing"
    ISSUED = "issued"
    REJECTED = "rejected"


class Awaiting(str, enum.Enum):
    """Who may end a PENDING transaction."""

    #: Only the operator: `Act.APPROVE` or `Act.DENY` (polls are answered PENDING).
    OPERATOR = "operator"
    #: The application, with a fresh decision at each poll (or the operator).
    APPLICATION = "application"


class Act(str, enum.Enum):
    """What a responder, an application or an operator asks of a transaction."""

    #: Leave (or keep) it PENDING.
    HOLD = "hold"
    #: The application decided ISSUE: claim the right to sign.
    CLAIM = "claim"
    #: The operator approved: claim the right to sign.
    APPROVE = "approve"
    #: The claim's holder signed: ISSUED, with the certificates.
    DELIVER = "deliver"
    #: The claim's holder could not sign: back to PENDING, as it was.
    RELEASE = "release"
    #: The application decided REJECT on a poll.
    REJECT = "reject"
    #: The operator refused.
    DENY = "deny"
    #: The operator brought a certificate issued before this server (or by another
    #: one for the same CA) into the inventory: ISSUED from the start, without a request.
    IMPORT = "import"


@dataclass(frozen=True)
class Transaction:
    """One enrollment, bound to the requester's keys (a transactionID alone proves nothing)."""

    transaction_id: str
    #: DER SubjectPublicKeyInfo of the requested key: every message must match it.
    requester_key: bytes
    state: TransactionState
    #: The PKCS#10 request, DER (what an approver issues from).
    csr: bytes
    #: ISSUED: the certificate's DER, then the chain sent with it.
    certificates: tuple[bytes, ...] = ()
    #: REJECTED: why.
    fail_info: FailInfo | None = None
    updated: datetime | None = None
    #: DER SubjectPublicKeyInfo of the certificate that signed the request (empty: the
    #: requested key itself). Polls must be signed by one of the two keys.
    signer_key: bytes = b""
    #: PENDING (and ISSUING, to go back to): who may end it.
    awaiting: Awaiting = Awaiting.OPERATOR
    #: ISSUING: the claim token of the worker that signs.
    claim: str = ""
    #: What the application decided and wants remembered (e.g. the terms to issue on).
    context: str = ""
    #: The SHA-256 of the certificate this transaction renews (a verified renewal), or empty.
    renews: bytes = b""

    @property
    def final(self) -> bool:
        """ISSUED and REJECTED never change again."""
        return self.state in (TransactionState.ISSUED, TransactionState.REJECTED)

    def same_request(self, other: Transaction) -> bool:
        """Was ``other`` opened by the same request: the same CSR, signed by the same key?"""
        return (self.requester_key, self.csr, self.signer_key) == (
            other.requester_key,
            other.csr,
            other.signer_key,
        )

    def signed_by_requester(self, key: bytes) -> bool:
        """Is ``key`` (a message signer's SPKI) one of this transaction's requester keys?"""
        return key == self.requester_key or (bool(self.signer_key) and key == self.signer_key)


class Phase(str, enum.Enum):
    """A transaction's state as the lifecycle table reads it."""

    NEW = "new"
    PENDING_OPERATOR = "pending (operator)"
    PENDING_APPLICATION = "pending (application)"
    ISSUING = "issuing"
    ISSUED = "issued"
    REJECTED = "rejected"


#: The lifecycle: (phase, act) -> the state it leads to. Anything else changes nothing.
TRANSITIONS: dict[tuple[Phase, Act], TransactionState] = {
    (Phase.NEW, Act.HOLD): TransactionState.PENDING,
    (Phase.NEW, Act.CLAIM): TransactionState.ISSUING,
    (Phase.PENDING_APPLICATION, Act.HOLD): TransactionState.PENDING,
    (Phase.PENDING_APPLICATION, Act.CLAIM): TransactionState.ISSUING,
    (Phase.PENDING_APPLICATION, Act.REJECT): TransactionState.REJECTED,
    (Phase.PENDING_APPLICATION, Act.APPROVE): TransactionState.ISSUING,
    (Phase.PENDING_APPLICATION, Act.DENY): TransactionState.REJECTED,
    (Phase.PENDING_OPERATOR, Act.APPROVE): TransactionState.ISSUING,
    (Phase.PENDING_OPERATOR, Act.DENY): TransactionState.REJECTED,
    (Phase.ISSUING, Act.DELIVER): TransactionState.ISSUED,
    (Phase.ISSUING, Act.RELEASE): TransactionState.PENDING,
    (Phase.NEW, Act.IMPORT): TransactionState.ISSUED,
}

#: Acts that only the holder of the claim may take.
_CLAIM_HOLDER_ACTS = frozenset({Act.DELIVER, Act.RELEASE})


def claim_is_stale(transaction: Transaction, now: datetime | None) -> bool:
    """Is ``transaction`` ISSUING under a claim older than `CLAIM_LEASE` (its holder died)?

    Leases are judged with the callers' clocks: keep the clocks of the hosts that
    share a store in step (NTP), or a fast one may take over a live claim.
    """
    return (
        transaction.state is TransactionState.ISSUING
        and now is not None
        and transaction.updated is not None
        and now - transaction.updated > CLAIM_LEASE
    )


def _phase(stored: Transaction | None, act: Act, at: datetime | None) -> Phase:
    if stored is None:
        return Phase.NEW
    if stored.state is TransactionState.ISSUING:
        if act in _CLAIM_HOLDER_ACTS or not claim_is_stale(stored, at):
            return Phase.ISSUING
        # Its holder died mid-signing: the transaction is what it was before the claim.
    elif stored.state is not TransactionState.PENDING:
        return Phase(stored.state.value)
    if stored.awaiting is Awaiting.OPERATOR:
        return Phase.PENDING_OPERATOR
    return Phase.PENDING_APPLICATION


def resolve(stored: Transaction | None, act: Act, proposed: Transaction) -> Transaction | None:
    """What a store must now hold for ``act``, or None to keep ``stored`` unchanged.

    ``proposed`` carries the act's values: the requester's keys and CSR for a
    new transaction, ``awaiting`` and ``context`` for `Act.HOLD`, the claim
    token for a claim and for the claim holder's acts, the certificates for
    `Act.DELIVER`, ``fail_info`` for `Act.REJECT` and `Act.DENY`, and
    ``updated`` (the time of the act) always.
    """
    if stored is not None:
        if stored.transaction_id != proposed.transaction_id:
            return None
        # A transactionID belongs to the request that opened it: its CSR (so its key) and
        # the key that signed it. Another request under the same ID changes nothing.
        if not stored.same_request(proposed):
            return None
        if act in _CLAIM_HOLDER_ACTS and stored.claim != proposed.claim:
            return None
    phase = _phase(stored, act, proposed.updated)
    state = TRANSITIONS.get((phase, act))
    if state is None:
        return None
    if stored is None:
        # A new transaction: a claim goes back to the application if it is released.
        awaiting = Awaiting.APPLICATION if act is Act.CLAIM else proposed.awaiting
        # Only an import starts with its certificate; a request earns one by DELIVER.
        certificates = proposed.certificates if act is Act.IMPORT else ()
        return replace(
            proposed, state=state, awaiting=awaiting, certificates=certificates, fail_info=None
        )
    now = proposed.updated
    if act is Act.HOLD:
        unchanged = proposed.awaiting is stored.awaiting and proposed.context == stored.context
        if unchanged and stored.state is TransactionState.PENDING:
            return None  # nothing changes: "pending since" stays
        return replace(
            stored,
            state=state,
            awaiting=proposed.awaiting,
            context=proposed.context,
            claim="",
            updated=now,
        )
    if act in (Act.CLAIM, Act.APPROVE):
        return replace(stored, state=state, claim=proposed.claim, updated=now)
    if act is Act.DELIVER:
        return replace(
            stored, state=state, certificates=proposed.certificates, claim="", updated=now
        )
    if act is Act.RELEASE:
        return replace(stored, state=state, claim="", updated=now)
    return replace(stored, state=state, fail_info=proposed.fail_info, claim="", updated=now)


class Recorded(NamedTuple):
    """What a store holds after an act, and whether the act changed it."""

    transaction: Transaction | None
    applied: bool


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate a store holds as issued: by which transaction, whether revoked, and
    which transaction renewed it (a certificate is renewed once)."""

    certificate: bytes
    transaction_id: str
    revoked: bool
    renewed_by: str | None = None


def certificate_fingerprint(der: bytes) -> bytes:
    """How stores index issued certificates: the SHA-256 of the DER."""
    return hashlib.sha256(der).digest()


class TransactionStore(Protocol):
    """Where a responder keeps transactions; `record` applies `resolve` atomically."""

    def get(self, transaction_id: str) -> Transaction | None:
        """The transaction, or None."""
        ...

    def record(self, act: Act, proposed: Transaction) -> Recorded:
        """Apply ``act`` as `resolve` says, in one atomic step; what is stored after."""
        ...

    def find_certificate(self, fingerprint: bytes) -> IssuedCertificate | None:
        """The issued certificate whose DER has this SHA-256, or None."""
        ...

    def revoke(self, transaction_id: str) -> None:
        """Mark the certificate of an ISSUED transaction revoked."""
        ...


def deny(
    store: TransactionStore, transaction_id: str, fail_info: FailInfo, *, now: datetime
) -> Transaction:
    """The operator's no to a PENDING transaction: its next poll gets FAILURE ``fail_info``.

    The store's lifecycle decides whether the DENY still applies (first final
    outcome wins): LocalProtocolError for an unknown transaction or one that
    is no longer PENDING.
    """
    known = store.get(transaction_id)
    if known is None:
        raise LocalProtocolError(f"no transaction {transaction_id!r}")
    outcome = store.record(Act.DENY, replace(known, fail_info=fail_info, updated=now))
    if not outcome.applied or outcome.transaction is None:
        # What the store holds now: another worker or operator may have just decided.
        now_held = outcome.transaction or known
        raise LocalProtocolError(
            f"transaction {transaction_id!r} is {now_held.state.value}, not pending"
        )
    return outcome.transaction


class InMemoryTransactions:
    """A TransactionStore in a dict (one process, any number of threads)."""

    def __init__(self) -> None:
        self._transactions: dict[str, Transaction] = {}
        self._by_fingerprint: dict[bytes, str] = {}
        self._renewed_by: dict[bytes, str] = {}
        self._revoked: set[str] = set()
        self._lock = Lock()

    def get(self, transaction_id: str) -> Transaction | None:
        """The transaction, or None."""
        return self._transactions.get(transaction_id)

    def record(self, act: Act, proposed: Transaction) -> Recorded:
        """`resolve`, under a lock."""
        with self._lock:
            stored = self._transactions.get(proposed.transaction_id)
            new = resolve(stored, act, proposed)
            if new is None:
                return Recorded(stored, False)
            self._transactions[new.transaction_id] = new
            if new.state is TransactionState.ISSUED and new.certificates:
                fingerprint = certificate_fingerprint(new.certificates[0])
                self._by_fingerprint[fingerprint] = new.transaction_id
                if new.renews:
                    self._renewed_by.setdefault(new.renews, new.transaction_id)
            return Recorded(new, True)

    def find_certificate(self, fingerprint: bytes) -> IssuedCertificate | None:
        """The issued certificate with this fingerprint."""
        transaction_id = self._by_fingerprint.get(fingerprint)
        if transaction_id is None:
            return None
        transaction = self._transactions[transaction_id]
        revoked = transaction_id in self._revoked
        renewed_by = self._renewed_by.get(fingerprint)
        return IssuedCertificate(transaction.certificates[0], transaction_id, revoked, renewed_by)

    def revoke(self, transaction_id: str) -> None:
        """Mark it revoked."""
        with self._lock:
            self._revoked.add(transaction_id)

    def transactions(self) -> list[Transaction]:
        """Every stored transaction (a snapshot)."""
        with self._lock:
            return list(self._transactions.values())

    def revoked(self) -> frozenset[str]:
        """The transactionIDs marked revoked."""
        with self._lock:
            return frozenset(self._revoked)
