"""The operator's actions on a server's state: what waits, approve, reject, challenges, revoke.

They work on the state store alone (SQLite in the state directory, or the
PostgreSQL of ``state_url``), so that any host of a shared deployment may run
them; only an approval also needs the CA (it signs), from the state directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path

from pyscep.certificate import Certificate
from pyscep.enums import FailInfo
from pyscep.errors import LocalProtocolError
from pyscep.messages import CertificationRequest
from pyscep.policy import DistinguishedName, PublicKeyView
from pyscep.protocol.challenges import OneTimeChallenges
from pyscep.protocol.transactions import Transaction, TransactionState, deny

from .app import IssuanceTerms, ReferenceServer
from .config import ServeConfigError, ServeOptions
from .file_ca import FileCA
from .stores import ServerStore, open_state

__all__ = ["Operator", "describe_pending"]


@dataclass
class Operator:
    """An operator's session on one server's state (``state_dir``, or ``state_url`` when shared).

    An operator's command never creates anything: a mistyped directory is an error.
    """

    state_dir: Path | None = None
    state_url: str | None = None
    #: The lifetime of an approved certificate whose transaction recorded none.
    validity_days: int = 365

    def __post_init__(self) -> None:
        if self.state_dir is None and self.state_url is None:
            raise ServeConfigError("the state: --state-dir DIR or --state-url URL")
        if self.state_dir is not None:
            # Refuses a directory without a CA (a mistyped one) before any store is made in it.
            FileCA.open(
                self.state_dir,
                ra=False,
                next_ca=False,
                now=datetime.now(timezone.utc),
                create=False,
            )

    @cached_property
    def store(self) -> ServerStore:
        """The state store, opened on first use (an approval checks its options first)."""
        return open_state(self.state_dir, self.state_url, create=False)

    def pending(self) -> list[Transaction]:
        """Every transaction that waits for a decision or is being issued, oldest first."""
        return self.store.pending()

    def describe(self, transaction: Transaction) -> list[str]:
        """What an operator needs to decide on ``transaction``, a line each."""
        return describe_pending(transaction, self.validity_days)

    def approve(
        self, transaction_id: str, *, now: datetime, days: int | None = None
    ) -> Certificate:
        """Issue a PENDING request on the terms decided with it (``days`` overrides the
        lifetime); the next CertPoll gets the certificate. The CA signs: needs ``state_dir``."""
        if self.state_dir is None:
            raise ServeConfigError("approving signs with the CA: --state-dir DIR is required")
        options = ServeOptions(
            self.state_dir, state_url=self.state_url, validity_days=self.validity_days
        )
        server = ReferenceServer(options, now=now, create=False)
        return server.approve(transaction_id, now=now, days=days)

    def reject(self, transaction_id: str, *, now: datetime) -> Transaction:
        """The operator's no to a PENDING request: its next CertPoll gets FAILURE (badRequest)."""
        try:
            return deny(self.store, transaction_id, FailInfo.BAD_REQUEST, now=now)
        except LocalProtocolError as exc:
            raise ServeConfigError(str(exc)) from None

    def new_challenge(self, *, ttl: timedelta, subject: str | None = None) -> str:
        """A one-time challenge, valid for ``ttl`` (for ``subject``, a DN pattern, if given),
        kept in the state store so that every host sharing it accepts it once."""
        challenges = OneTimeChallenges(
            self.store.challenges, clock=lambda: datetime.now(timezone.utc)
        )
        return challenges.issue(ttl=ttl, subject=subject)

    def revoke(self, serial: int) -> Transaction:
        """Revoke the certificate with ``serial``: its renewals are refused from now on."""
        for transaction in self.store.issued():
            if Certificate.load(transaction.certificates[0]).serial_number == serial:
                self.store.revoke(transaction.transaction_id)
                return transaction
        raise ServeConfigError(f"no certificate with serial {serial}")


def describe_pending(transaction: Transaction, default_days: int) -> list[str]:
    """What an operator needs to decide on a PENDING transaction, a line each."""
    request = CertificationRequest.load(transaction.csr)
    key = PublicKeyView.from_der(request.public_key_der)
    terms = IssuanceTerms.from_context(transaction.context, default_days)
    since = transaction.updated.isoformat() if transaction.updated else "?"
    state = "pending" if transaction.state is TransactionState.PENDING else "being issued"
    lines = [
        f"{transaction.transaction_id}  {state} since {since}, awaiting the"
        f" {transaction.awaiting.value}",
        f"    subject: {DistinguishedName.from_der(request.subject_der)}",
        f"    key: {key.algorithm}-{key.bits}; if approved: {terms.days} days",
    ]
    if transaction.renews:
        lines.append(f"    renews the certificate with SHA-256 {transaction.renews.hex()}")
    elif transaction.signer_key:
        lines.append("    signed by a certificate of this CA that it does not renew")
    if request.subject_alt_names:
        lines.append(f"    requested subjectAltNames: {', '.join(request.subject_alt_names)}")
    if terms.subject_alt_names:
        lines.append(f"    granted subjectAltNames: {', '.join(terms.subject_alt_names)}")
    if request.challenge_password is not None:
        lines.append("    carries a challengePassword")
    return lines
