"""``pyscep monitor run``: renew the keystores that are due, never losing one.

For each keystore (PEM or PKCS#12) that is DUE or OVERDUE: a new key (of the
old kind, or ``key_type``), a CSR for the same subject and subjectAltNames, a
renewal signed with the existing certificate (RenewalReq when the CA
advertises Renewal, else PKCSReq), then, each step recorded before the next
one is taken:

1. the new key is written 0600 beside the old one and the transaction is
   recorded in the state file *before* anything is sent, so a PENDING answer
   or a crash resumes with a CertPoll on the next run (never a second
   enrollment);
2. the issued certificate is accepted by `ScepClient` (signed by the pinned
   CA, for the new key, the requested subject, valid now) and the new
   keystore is staged beside the old one;
3. the old files are backed up (dated ``.bak``, mode and owner kept), the
   swap is recorded, and each new file takes its old one's mode and owner
   and replaces it with a rename (files and directory fsynced). A run that
   finds a swap recorded finishes it before anything else;
4. the ``post_renew`` hook runs, then the swap is forgotten (a run that stops
   before that runs the hook again: at least once, never zero times).

Every file is written through its directory opened once and checked
(`durable.SafeDirectory`): created exclusively, never through a link, with
its mode from the start. A lock file keeps two runs (cron overlap) from
renewing at once. CA rollover (GetNextCACert) is `monitor_rollover`'s.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pyscep._appkit.durable import Directories
from pyscep._appkit.http import http_exchange
from pyscep._appkit.keys import renewal_request
from pyscep.certificate import Certificate
from pyscep.crypto import KeyPair, PrivateKey, load_private_key
from pyscep.errors import ScepError
from pyscep.messages import CertificationRequest, transaction_id_for_key
from pyscep.policy import RenewalState, check_renewal
from pyscep.protocol.client import (
    CertificateIssued,
    CertificateRefused,
    ClientEvent,
    RequestPending,
    ScepClient,
)

from .config import KeystoreConfig, MonitorConfigError, load_config
from .keystores import Keystore, Swap, keystore_for, new_key_for
from .rollover import connect, look_ahead, rollover_check_due
from .state import MonitorState

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


def complete_swap(keystore: Keystore, state: MonitorState, swap: Swap) -> None:
    """Move each staged file over its old one, run the hook, forget the swap (idempotent).

    The swap stays recorded until the hook has run: a run that stops after the
    files moved runs the hook on the next run (at least once, never zero times).
    A recorded swap that is not the keystore's own is refused: the state file
    cannot make the monitor move other files.
    """
    config = keystore.config
    if swap != keystore.swap():
        raise MonitorConfigError(
            f"the state file's swap record for {config.name!r} names other files than the"
            " keystore's: check it, then remove it from the state file"
        )
    directories = keystore.directories
    for target, staged in swap.replace.items():
        directory, name = directories.of(Path(target))
        if directory.exists(Path(staged).name):
            directory.replace(Path(staged).name, name)
            _reached(f"replaced {name}")
    for leftover in swap.discard:
        directory, name = directories.of(Path(leftover))
        directory.unlink(name)
        directory.sync()
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
        client, note = connect(
            self.keystore.config, self.state, self.now, self.keystore.directories
        )
        if note:
            self.notes.append(note)
        return client

    def start(self, old_key: PrivateKey, old: Certificate) -> Outcome:
        # The new key is on disk (0600) before anything is sent: a PENDING answer or a
        # crash resumes with it, and never enrolls a second time.
        new_pem = new_key_for(self.keystore.config.key_type, old)
        self.keystore.write(self.keystore.new_key_path, new_pem, mode=0o600)
        _reached("new key written")
        new_key = load_private_key(new_pem)
        request = renewal_request(new_key, old)
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
        return self.settle(client, client.receive(*answer, now=self.now), request)

    def resume(self, pending: dict[str, str]) -> Outcome:
        if not {"csr", "transaction_id"} <= pending.keys():
            raise MonitorConfigError(
                f"the state file's pending record for {self.name!r} is damaged"
            )
        new_key = load_private_key(self.keystore.load(self.keystore.new_key_path, follow=False))
        request = CertificationRequest.load(bytes.fromhex(pending["csr"]))
        client = self.client()
        client.resume(request, new_key, pending["transaction_id"], now=self.now)
        answer = http_exchange(self.keystore.config.url, client.poll(now=self.now))
        _reached("answer received")
        return self.settle(client, client.receive(*answer, now=self.now), request)

    def settle(
        self, client: ScepClient, event: ClientEvent, request: CertificationRequest
    ) -> Outcome:
        if isinstance(event, RequestPending):
            self.state["pending"][self.name] = {
                "transaction_id": event.transaction_id,
                "csr": request.der.hex(),
                "poll_at": event.poll_at.isoformat(),
            }
            self.state.save()
            return self.outcome("pending", f"transaction {event.transaction_id}")
        if isinstance(event, CertificateRefused):
            # The CA has issued: the transaction stays recorded, so that a later run
            # asks about it again instead of enrolling a second time.
            return self.outcome("failed", f"the issued certificate is refused: {event.reason}")
        if not isinstance(event, CertificateIssued):
            self.state["pending"].pop(self.name, None)
            self.state.save()
            directory, name = self.keystore.directories.of(self.keystore.new_key_path)
            directory.unlink(name)
            return self.outcome("failed", f"{type(event).__name__}: {event}")
        assert client.ca is not None  # a client that received a CertRep has its CA
        swap = self.keystore.stage(event.certificate, client.ca.ca)
        _reached("new keystore staged")
        self.install(swap)
        return self.outcome("renewed", f"serial {event.certificate.serial_number}")

    def install(self, swap: Swap) -> None:
        stamp = self.now.strftime("%Y%m%dT%H%M%S")
        for path in self.keystore.files:
            directory, name = self.keystore.directories.of(path)
            directory.backup(name, stamp)
            directory.copy_mode_and_owner(name, Path(swap.replace[str(path)]).name)
        _reached("old keystore backed up")
        # One write moves the renewal from "pending" to "swap": from here on, a run that
        # stops is finished by the next one, which no longer asks the CA.
        self.state["pending"].pop(self.name, None)
        self.state["swaps"][self.name] = swap.to_json()
        self.state.save()
        _reached("swap recorded")
        complete_swap(self.keystore, self.state, swap)

    def outcome(self, result: str, detail: str) -> Outcome:
        return Outcome(self.name, result, "; ".join([detail, *self.notes]))


def renew_all(
    config: Path, now: datetime, *, report: Callable[[Outcome], None] | None = None
) -> list[Outcome]:
    """Renew every due keystore of ``config`` (one run at a time: a lock file).

    ``report`` is called with each keystore's outcome as soon as it is known.
    """
    keystores = load_config(config)
    with Directories() as directories:
        here, name = directories.of(config)
        try:
            lock = here.lock(name + ".lock")
        except BlockingIOError:
            raise MonitorConfigError("another monitor run holds the lock") from None
        with lock:
            state = MonitorState(config, here)
            outcomes = []
            for keystore in keystores:
                outcome = _one(keystore, state, now, directories)
                if report is not None:
                    report(outcome)
                outcomes.append(outcome)
            return outcomes


def _one(
    config: KeystoreConfig, state: MonitorState, now: datetime, directories: Directories
) -> Outcome:
    name = config.name
    try:
        keystore = keystore_for(config, directories)
        swap = state["swaps"].get(name)
        if swap is not None:  # a run stopped mid-swap: finish it, and that is the renewal
            complete_swap(keystore, state, Swap.from_json(swap))
            return Outcome(name, "renewed", "finished the swap an earlier run began")
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
                if rollover_check_due(config, state, now, directories):
                    renewal.client()  # the rollover alone
                    renewal.notes.append(look_ahead(config, state, now, directories))
                detail = "; ".join(
                    [f"renew from {check.renew_at.isoformat()}", *filter(None, renewal.notes)]
                )
                return Outcome(name, "nothing-to-do", detail)
            outcome = renewal.start(old_key, old)
        if outcome.result not in ("renewed", "pending"):
            return outcome
        note = look_ahead(config, state, now, directories)
        return Outcome(name, outcome.result, "; ".join(filter(None, [outcome.detail, note])))
    except (OSError, ScepError, ValueError) as exc:
        return Outcome(name, "failed", str(exc)[:300])
