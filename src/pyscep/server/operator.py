"""The operator's actions on a server's state: what waits, approve, reject, challenges,
revoke, the CRL.

They work on the state store alone (SQLite in the state directory, or the
PostgreSQL of ``state_url``), so that any host of a shared deployment may run
them; only an approval and a CRL also need the CA (it signs), from the state
directory.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path

from pyscep.algorithms import LEGACY
from pyscep.certificate import Certificate
from pyscep.crypto import get_backend
from pyscep.crypto.signed_object import is_issued_by
from pyscep.enums import FailInfo, RevocationReason
from pyscep.errors import LocalProtocolError, PolicyConfigError
from pyscep.messages import CertificationRequest
from pyscep.policy import DistinguishedName, PublicKeyView
from pyscep.protocol.challenges import OneTimeChallenges
from pyscep.protocol.transactions import Act, Transaction, TransactionState, deny

from .app import IssuanceTerms, ReferenceServer
from .config import MAX_CRL_DAYS, ServeConfigError, ServeOptions, require_whole_pair
from .file_ca import FileCA, read_certificates
from .stores import PublishedCRL, Revocation, ServerStore, open_state

__all__ = [
    "REVOCATION_REASONS",
    "Imported",
    "Operator",
    "describe_pending",
    "import_transaction_id",
]


@dataclass
class Operator:
    """An operator's session on one server's state (``state_dir``, or ``state_url`` when shared).

    An operator's command never creates anything: a mistyped directory is an error.
    """

    state_dir: Path | None = None
    state_url: str | None = None
    #: The lifetime of an approved certificate whose transaction recorded none.
    validity_days: int = 365
    #: How long a CRL this operator has signed is valid, in days.
    crl_days: int = 7
    #: The server's existing CA (``--ca-cert``, ``--ca-key``), when it has no CA of its
    #: state directory: what an approval and a CRL sign with (both needed), and what
    #: signed the certificates an import brings (the certificate alone).
    ca_cert: Path | None = None
    ca_key: str | None = None

    def __post_init__(self) -> None:
        if self.state_dir is None and self.state_url is None:
            raise ServeConfigError("the state: --state-dir DIR or --state-url URL")
        if self.ca_key is not None:  # a certificate alone is enough for an import
            require_whole_pair("CA", self.ca_cert, self.ca_key)
        local_state = self.state_dir is not None and (self.state_dir / "state.sqlite").exists()
        if self.state_dir is not None and self.ca_cert is None and not local_state:
            # Refuses a directory without a CA or a state (a mistyped one) before any store
            # is made in it; a server of an existing CA keeps only its state there.
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

    def _server(self, doing: str, now: datetime) -> ReferenceServer:
        """The server of this state, for what the CA signs (needs ``state_dir``)."""
        if self.state_dir is None:
            raise ServeConfigError(f"{doing} signs with the CA: --state-dir DIR is required")
        require_whole_pair("CA", self.ca_cert, self.ca_key)
        options = ServeOptions(
            self.state_dir,
            state_url=self.state_url,
            validity_days=self.validity_days,
            crl_days=self.crl_days,
            ca_cert=self.ca_cert,
            ca_key=self.ca_key,
        )
        return ReferenceServer(options, now=now, create=False)

    def approve(
        self, transaction_id: str, *, now: datetime, days: int | None = None
    ) -> Certificate:
        """Issue a PENDING request on the terms decided with it (``days`` overrides the
        lifetime); the next CertPoll gets the certificate. The CA signs: needs ``state_dir``."""
        return self._server("approving", now).approve(transaction_id, now=now, days=days)

    def crl(self, *, now: datetime) -> PublishedCRL:
        """The CRL every host serves now, signed anew if due (as a server would when asked).
        The CA signs: needs ``state_dir``."""
        if not 1 <= self.crl_days <= MAX_CRL_DAYS:
            raise ServeConfigError(f"a CRL is valid from 1 to {MAX_CRL_DAYS} days (--crl-days)")
        return self._server("a CRL", now).current_crl(now)

    def ca_certificate(self) -> Certificate:
        """The CA certificate: the existing CA's (``ca_cert``), else the state
        directory's ``ca.pem``."""
        path = self.ca_cert
        if path is None:
            if self.state_dir is None:
                raise ServeConfigError("the CA certificate: --ca-cert FILE (or --state-dir DIR)")
            path = self.state_dir / "ca.pem"
        return read_certificates(path, "the CA certificate")[0]

    def reject(self, transaction_id: str, *, now: datetime) -> Transaction:
        """The operator's no to a PENDING request: its next CertPoll gets FAILURE (badRequest)."""
        try:
            return deny(self.store, transaction_id, FailInfo.BAD_REQUEST, now=now)
        except LocalProtocolError as exc:
            raise ServeConfigError(str(exc)) from None

    def new_challenge(
        self, *, ttl: timedelta, subject: str | None = None, sid: str | None = None
    ) -> str:
        """A one-time challenge, valid for ``ttl`` (for ``subject``, a DN pattern, if given),
        kept in the state store so that every host sharing it accepts it once. With
        ``sid`` it vouches for that Windows account: the certificate carries it."""
        challenges = OneTimeChallenges(
            self.store.challenges, clock=lambda: datetime.now(timezone.utc)
        )
        return challenges.issue(ttl=ttl, subject=subject, sid=sid)

    def revoke(
        self,
        serial: int,
        *,
        reason: RevocationReason = RevocationReason.UNSPECIFIED,
        now: datetime | None = None,
    ) -> Transaction:
        """Revoke the certificate with ``serial`` at ``now`` (None: now), for ``reason``:
        the next CRL lists it, and its renewals are refused from now on."""
        _revocable(reason)
        revoked = self._revocations()
        for transaction in self.store.issued():
            if Certificate.load(transaction.certificates[0]).serial_number == serial:
                earlier = revoked.get(transaction.transaction_id)
                if earlier is not None:
                    raise ServeConfigError(_already(earlier))
                self._revoke(transaction, now, reason)
                return transaction
        raise ServeConfigError(f"no certificate with serial {serial}")

    def _revoke(
        self, transaction: Transaction, now: datetime | None, reason: RevocationReason
    ) -> None:
        """Revoke, and say so if another operator revoked it first (the first one stands)."""
        self.store.revoke(transaction.transaction_id, revoked_at=now, reason=reason)
        kept = self._revocations()[transaction.transaction_id]
        wanted = now.replace(microsecond=0) if now is not None else kept.revoked_at
        if (kept.reason, kept.revoked_at) != (reason, wanted):
            raise ServeConfigError(_already(kept))

    def revoke_subject(
        self,
        subject: str,
        *,
        reason: RevocationReason = RevocationReason.UNSPECIFIED,
        now: datetime,
    ) -> list[Certificate]:
        """Revoke every unexpired, unrevoked certificate issued to ``subject`` (an RFC 4514
        DN, exactly); the ones revoked. ServeConfigError when there is none."""
        _revocable(reason)
        try:
            wanted = DistinguishedName.parse(subject)
        except PolicyConfigError as exc:
            raise ServeConfigError(f"--subject: {exc}") from None
        revoked = self._revocations()
        done = []
        for transaction in self.store.issued():
            certificate = Certificate.load(transaction.certificates[0])
            if (
                transaction.transaction_id not in revoked
                and certificate.not_valid_after > now
                and DistinguishedName.from_certificate(certificate) == wanted
            ):
                self._revoke(transaction, now, reason)
                done.append(certificate)
        if not done:
            raise ServeConfigError(f"no unexpired, unrevoked certificate has subject {wanted}")
        return done

    def import_certificates(
        self, certificates: Sequence[Certificate], *, issuer: Certificate, now: datetime
    ) -> list[Imported]:
        """Bring certificates ``issuer`` signed before this server into the inventory, so
        that their holders can renew (signed by them, RFC 8894 sections 3.3.1 and 4.3), and
        they can be revoked and listed in the CRL. Each is checked first: ``issuer``'s key
        signed it (a name proves nothing), and it is an end entity's. Importing one again
        changes nothing (it is found by its fingerprint)."""
        checked = [_importable(certificate, issuer) for certificate in certificates]
        done = []
        for certificate in checked:
            known = self.store.find_certificate(certificate.sha256_fingerprint)
            if known is not None:
                done.append(Imported(certificate, known.transaction_id, new=False))
                continue
            proposed = Transaction(
                transaction_id=import_transaction_id(),
                requester_key=certificate.public_key_der,
                state=TransactionState.ISSUED,
                csr=b"",
                certificates=(certificate.der,),
                updated=now,
            )
            if not self.store.record(Act.IMPORT, proposed).applied:  # pragma: no cover
                raise ServeConfigError(f"serial {certificate.serial_number} was not imported")
            done.append(Imported(certificate, proposed.transaction_id, new=True))
        return done

    def _revocations(self) -> dict[str, Revocation]:
        return {r.transaction_id: r for r in self.store.revocations()}


@dataclass(frozen=True)
class Imported:
    """A certificate `Operator.import_certificates` brought in (``new``), or found there."""

    certificate: Certificate
    transaction_id: str
    new: bool


def import_transaction_id() -> str:
    """A new transaction for an imported certificate: random, so that no client can take
    it first by sending a request under the same transactionID."""
    return "imported-" + secrets.token_hex(16)


def _importable(certificate: Certificate, issuer: Certificate) -> Certificate:
    if not is_issued_by(certificate, issuer, backend=get_backend(), algorithms=LEGACY):
        raise ServeConfigError(
            f"serial {certificate.serial_number} ({certificate.subject}) was not signed by"
            f" the CA {issuer.subject!r}"
        )
    if certificate.is_ca:
        raise ServeConfigError(
            f"serial {certificate.serial_number} ({certificate.subject}) is a CA certificate:"
            " only end entities' certificates are renewed by SCEP"
        )
    return certificate


#: The reasons a revocation of ``pyscep serve`` may give: not removeFromCRL (for delta
#: CRLs only) nor certificateHold (a hold is released; these revocations stand).
REVOCATION_REASONS = tuple(
    reason
    for reason in RevocationReason
    if reason not in (RevocationReason.REMOVE_FROM_CRL, RevocationReason.CERTIFICATE_HOLD)
)


def _revocable(reason: RevocationReason) -> None:
    if reason not in REVOCATION_REASONS:
        names = ", ".join(r.rfc_name for r in REVOCATION_REASONS)
        raise ServeConfigError(
            f"{reason.rfc_name} cannot be given: a revocation here stands, and a CRL of"
            f" pyscep serve is complete (one of {names})"
        )


def _already(revocation: Revocation) -> str:
    return (
        f"serial {revocation.serial_number} was revoked at {revocation.revoked_at.isoformat()}"
        f" ({revocation.reason.rfc_name}); a revocation stands"
    )


def describe_pending(transaction: Transaction, default_days: int) -> list[str]:
    """What an operator needs to decide on a PENDING transaction, a line each."""
    request = CertificationRequest.load(transaction.csr)
    key = PublicKeyView.of(request.public_key)
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
    if request.requested_sids:
        lines.append(f"    requested SIDs (never copied): {', '.join(request.requested_sids)}")
    if terms.sid is not None:
        lines.append(
            f"    Windows SID if approved: {terms.sid} (vouched for by {terms.sid_vouched_by})"
        )
    if request.challenge_password is not None:
        lines.append("    carries a challengePassword")
    return lines
