"""``pyscep monitor run``: renew the keystores that are due, never losing one.

For each keystore (PEM or PKCS#12) that is DUE or OVERDUE: a new key (of the
old kind, or ``key_type``), a CSR for the same subject, a renewal signed with
the existing certificate (RenewalReq when the CA advertises Renewal, else
PKCSReq), then, each step recorded before the next one is taken:

1. the new key is written 0600 beside the old one and the transaction is
   recorded in the state file *before* anything is sent, so a PENDING answer
   or a crash resumes with a CertPoll on the next run (never a second
   enrollment);
2. the issued certificate is verified (signed by the pinned CA, for the new
   key, the requested subject, valid now) and the new keystore is staged
   beside the old one;
3. the old files are backed up (dated ``.bak``, mode and owner kept), the
   swap is recorded, and each new file takes its old one's mode and owner
   and replaces it with ``os.replace`` (files and directory fsynced). A run
   that finds a swap recorded finishes it before anything else;
4. the ``post_renew`` hook runs, then the swap is forgotten (a run that stops
   before that runs the hook again: at least once, never zero times).

A lock file keeps two runs (cron overlap) from renewing at once. CA rollover
(GetNextCACert) is `monitor_rollover`'s.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pyscep.algorithms import DEFAULT_POLICY
from pyscep.certificate import Certificate
from pyscep.crypto import KeyPair, PrivateKey, get_backend, load_private_key
from pyscep.crypto.signed_object import is_issued_by
from pyscep.errors import ScepError
from pyscep.messages import CertificationRequest, build_csr, transaction_id_for_key
from pyscep.policy import RenewalState, check_renewal
from pyscep.protocol.client import CertificateIssued, ClientEvent, RequestPending, ScepClient

from .client import http_exchange
from .durable import backup, keep_mode_and_owner, sync_directory, write_durably
from .monitor_config import KeystoreConfig, MonitorConfigError, load_config
from .monitor_keystores import Keystore, Swap, keystore_for, new_key_for
from .monitor_rollover import connect, look_ahead, rollover_check_due
from .monitor_state import MonitorState

__all__ = ["EXIT_FAILED", "EXIT_PENDING", "Outcome", "renew_all"]

EXIT_PENDING, EXIT_FAILED = 3, 1


@dataclass(frozen=True)
class Outcome:
    """What one run did for one keystore."""

    name: str
    result: str  # nothing-to-do | renewed | pending | failed | expired
    detail: str


def _reached(step: str) -> None:
    """A named point of a renewal, passed in order; the tests stop the run at each one."""


def complete_swap(config: KeystoreConfig, state: MonitorState, swap: Swap) -> None:
    """Move each staged file over its old one, run the hook, forget the swap (idempotent).

    The swap stays recorded until the hook has run: a run that stops after the
    files moved runs the hook on the next run (at least once, never zero times).
    """
    for target, staged in swap.replace.items():
        if Path(staged).exists():
            os.replace(staged, target)
            _reached(f"replaced {Path(target).name}")
    for leftover in swap.discard:
        Path(leftover).unlink(missing_ok=True)
    for directory in {Path(target).parent for target in swap.replace}:
        sync_directory(directory)
    _reached("swap finished")
    if config.post_renew:
        subprocess.run(config.post_renew, shell=True, check=False, timeout=300)  # noqa: S602 - the operator's hook
        _reached("hook ran")
    del state["swaps"][config.name]
    state.save()


class _Renewal:
    """One keystore's renewal, step by step."""

    def __init__(self, keystore: Keystore, state: MonitorState, now: datetime) -> None:
        self.keystore = keystore
        self.name = keystore.config.name
        self.state = state
        self.now = now
        self.notes: list[str] = []

    def client(self) -> ScepClient:
        client, note = connect(self.keystore.config, self.state, self.now)
        if note:
            self.notes.append(note)
        return client

    def start(self, old_key: PrivateKey, old: Certificate) -> Outcome:
        # The new key is on disk (0600) before anything is sent: a PENDING answer or a
        # crash resumes with it, and never enrolls a second time.
        new_pem = new_key_for(self.keystore.config.key_type, old)
        write_durably(self.keystore.new_key_path, new_pem, mode=0o600)
        _reached("new key written")
        new_key = load_private_key(new_pem)
        request = build_csr(new_key, old.subject_der)
        # Recorded before sending: if this run dies with the request in flight, the next
        # one asks about this transaction instead of enrolling again.
        self.state["pending"][self.name] = {
            "transaction_id": transaction_id_for_key(request.public_key_der),
            "csr": request.der.hex(),
        }
        self.state.save()
        _reached("transaction recorded")
        client = self.client()
        sent = client.renew(request, KeyPair(old_key, old), now=self.now)
        answer = http_exchange(self.keystore.config.url, sent)
        _reached("answer received")
        return self.settle(client, client.receive(*answer, now=self.now), request, new_key)

    def resume(self, pending: dict[str, str]) -> Outcome:
        new_key = load_private_key(self.keystore.new_key_path.read_bytes())
        request = CertificationRequest.load(bytes.fromhex(pending["csr"]))
        client = self.client()
        client.resume(request, new_key, pending["transaction_id"], now=self.now)
        answer = http_exchange(self.keystore.config.url, client.poll(now=self.now))
        _reached("answer received")
        return self.settle(client, client.receive(*answer, now=self.now), request, new_key)

    def settle(
        self,
        client: ScepClient,
        event: ClientEvent,
        request: CertificationRequest,
        new_key: PrivateKey,
    ) -> Outcome:
        if isinstance(event, RequestPending):
            self.state["pending"][self.name] = {
                "transaction_id": event.transaction_id,
                "csr": request.der.hex(),
                "poll_at": event.poll_at.isoformat(),
            }
            self.state.save()
            return self.outcome("pending", f"transaction {event.transaction_id}")
        if not isinstance(event, CertificateIssued):
            self.state["pending"].pop(self.name, None)
            self.state.save()
            self.keystore.new_key_path.unlink(missing_ok=True)
            return self.outcome("failed", f"{type(event).__name__}: {event}")
        assert client.ca is not None
        problem = _check(event.certificate, new_key, request, client.ca.ca, self.now)
        if problem:
            return self.outcome("failed", f"the issued certificate is refused: {problem}")
        swap = self.keystore.stage(event.certificate, client.ca.ca)
        _reached("new keystore staged")
        self.install(swap)
        return self.outcome("renewed", f"serial {event.certificate.serial_number}")

    def install(self, swap: Swap) -> None:
        stamp = self.now.strftime("%Y%m%dT%H%M%S")
        for path in self.keystore.files:
            backup(path, stamp)
            keep_mode_and_owner(path, Path(swap.replace[str(path)]))
        _reached("old keystore backed up")
        # One write moves the renewal from "pending" to "swap": from here on, a run that
        # stops is finished by the next one, which no longer asks the CA.
        self.state["pending"].pop(self.name, None)
        self.state["swaps"][self.name] = swap.to_json()
        self.state.save()
        _reached("swap recorded")
        complete_swap(self.keystore.config, self.state, swap)

    def outcome(self, result: str, detail: str) -> Outcome:
        return Outcome(self.name, result, "; ".join([detail, *self.notes]))


def _check(
    certificate: Certificate,
    key: PrivateKey,
    request: CertificationRequest,
    ca: Certificate,
    now: datetime,
) -> str | None:
    if certificate.public_key_der != key.public_key_der:
        return "not for the new key"
    if certificate.subject_der != request.subject_der:
        return "not for the requested subject"
    if not certificate.not_valid_before <= now <= certificate.not_valid_after:
        return "not valid now"
    if not is_issued_by(certificate, ca, backend=get_backend(), algorithms=DEFAULT_POLICY):
        return "not signed by the CA"
    return None


def renew_all(
    config: Path, now: datetime, *, report: Callable[[Outcome], None] | None = None
) -> list[Outcome]:
    """Renew every due keystore of ``config`` (one run at a time: a lock file).

    ``report`` is called with each keystore's outcome as soon as it is known.
    """
    keystores = load_config(config)
    lock_path = config.with_name(config.name + ".lock")
    with lock_path.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MonitorConfigError("another monitor run holds the lock") from None
        state = MonitorState(config)
        outcomes = []
        for keystore in keystores:
            outcome = _one(keystore, state, now)
            if report is not None:
                report(outcome)
            outcomes.append(outcome)
        return outcomes


def _one(config: KeystoreConfig, state: MonitorState, now: datetime) -> Outcome:
    name = config.name
    try:
        swap = state["swaps"].get(name)
        if swap is not None:  # a run stopped mid-swap: finish it, and that is the renewal
            complete_swap(config, state, Swap.from_json(swap))
            return Outcome(name, "renewed", "finished the swap an earlier run began")
        keystore = keystore_for(config)
        renewal = _Renewal(keystore, state, now)
        pending = state["pending"].get(name)
        if pending is not None:
            outcome = renewal.resume(pending)
        else:
            old_key, old = keystore.read()
            check = check_renewal(old, config.thresholds, now=now)
            if check.state is RenewalState.EXPIRED:
                return Outcome(name, "expired", "expired: enroll again with a challenge")
            if check.state is RenewalState.NOT_DUE:
                if rollover_check_due(config, state, now):
                    renewal.client()  # the rollover alone
                    renewal.notes.append(look_ahead(config, state, now))
                detail = "; ".join(
                    [f"renew from {check.renew_at.isoformat()}", *filter(None, renewal.notes)]
                )
                return Outcome(name, "nothing-to-do", detail)
            outcome = renewal.start(old_key, old)
        if outcome.result not in ("renewed", "pending"):
            return outcome
        note = look_ahead(config, state, now)
        return Outcome(name, outcome.result, "; ".join(filter(None, [outcome.detail, note])))
    except (OSError, ScepError, ValueError) as exc:
        return Outcome(name, "failed", str(exc)[:300])
