"""``pyscep monitor run``: renew the keystores that are due, never losing one.

For each PEM keystore that is DUE or OVERDUE: a new key of the same kind, a
CSR for the same subject, a renewal signed with the existing certificate
(RenewalReq when the CA advertises Renewal, else PKCSReq), then:

1. the new key is written 0600 beside the old one *before* anything is sent,
   and the transaction is recorded in the state file, so a PENDING answer or
   a crash resumes with a CertPoll on the next run (never a second
   enrollment);
2. the issued certificate is verified (signed by the pinned CA, for the new
   key, the requested subject, valid now) and written beside the old one;
3. the state file records the swap, the old files are kept as dated backups,
   and each new file replaces its old one with ``os.replace`` (fsync of files
   and directory). A run that finds a swap recorded finishes it first, so the
   keystore is whole after any crash: the old pair, or the new pair;
4. the ``post_renew`` hook runs once.

A lock file keeps two runs (cron overlap) from renewing at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pyscep.algorithms import DEFAULT_POLICY
from pyscep.certificate import Certificate
from pyscep.crypto import KeyPair, PrivateKey, get_backend, load_private_key
from pyscep.crypto.signed_object import is_issued_by
from pyscep.errors import ScepError
from pyscep.messages import CertificationRequest, build_csr, transaction_id_for_key
from pyscep.policy import RenewalState, check_renewal
from pyscep.protocol.client import (
    CertificateIssued,
    ClientEvent,
    ProtocolFailed,
    RequestPending,
    ScepClient,
)

from .client import http_exchange
from .monitor import KeystoreConfig, MonitorConfigError, load_config

__all__ = ["EXIT_FAILED", "EXIT_PENDING", "Outcome", "renew_all"]

EXIT_PENDING, EXIT_FAILED = 3, 1


@dataclass(frozen=True)
class Outcome:
    """What one run did for one keystore."""

    name: str
    result: str  # nothing-to-do | renewed | pending | failed | expired
    detail: str


class _State:
    """The state file next to the config: pending renewals and swaps in progress."""

    def __init__(self, config: Path) -> None:
        self.path = config.with_name(config.name + ".state.json")
        self.data: dict[str, Any] = {"pending": {}, "swaps": {}}
        if self.path.exists():
            loaded = json.loads(self.path.read_text())
            self.data.update({k: loaded.get(k, {}) for k in ("pending", "swaps")})

    def save(self) -> None:
        _write_durably(self.path, json.dumps(self.data, indent=2).encode(), mode=0o600)


def _write_durably(path: Path, data: bytes, *, mode: int) -> None:
    """Write ``path`` through a temporary file: fsync, rename, fsync the directory."""
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _new_key_like(old: Certificate) -> bytes:
    """A new private key of the old one's kind (RSA of the same size, or the same EC curve)."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    public = old.public_key
    if public.family == "ec":
        curves = {
            "secp256r1": ec.SECP256R1(),
            "secp384r1": ec.SECP384R1(),
            "secp521r1": ec.SECP521R1(),
        }
        key = ec.generate_private_key(curves.get(public.curve or "", ec.SECP256R1()))
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=max(2048, public.bits))
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _pem(certificate: Certificate) -> bytes:
    return bytes(certificate.to_cryptography().public_bytes(serialization.Encoding.PEM))


def _finish_swap(keystore: KeystoreConfig, swap: dict[str, str]) -> None:
    """Replace each old file by its verified new one (idempotent: safe to run again)."""
    for target, new in swap.items():
        if Path(new).exists():
            os.replace(new, target)
    if keystore.certificate is not None:
        _sync_directory(keystore.certificate.parent)


class _Renewal:
    """One keystore's renewal, step by step."""

    def __init__(self, keystore: KeystoreConfig, state: _State, now: datetime) -> None:
        self.keystore = keystore
        self.state = state
        self.now = now
        assert keystore.key is not None
        assert keystore.certificate is not None
        self.key_path, self.cert_path = keystore.key, keystore.certificate
        self.new_key_path = self.key_path.with_name(self.key_path.name + ".new")
        self.new_cert_path = self.cert_path.with_name(self.cert_path.name + ".new")

    def client(self) -> ScepClient:
        pin = self.keystore.ca_fingerprint
        if pin is None:
            assert self.keystore.ca_certificate is not None
            pin = Certificate.load(self.keystore.ca_certificate.read_bytes()).sha256_fingerprint
        client = ScepClient(path=_path(self.keystore.url), ca_fingerprint=pin)
        for request in (client.get_caps, client.get_ca_certificates):
            event = client.receive(*http_exchange(self.keystore.url, request()), now=self.now)
            if isinstance(event, ProtocolFailed):
                raise ScepError(event.reason)
        return client

    def start(self, old: Certificate) -> Outcome:
        old_key = load_private_key(self.key_path.read_bytes())
        # The new key is on disk (0600) before anything is sent: a PENDING answer or a
        # crash resumes with it, and never enrolls a second time.
        _write_durably(self.new_key_path, _new_key_like(old), mode=0o600)
        new_key = load_private_key(self.new_key_path.read_bytes())
        request = build_csr(new_key, old.subject_der)
        # Recorded before sending: if this run dies with the request in flight, the next
        # one asks about this transaction instead of enrolling again.
        self.state.data["pending"][self.keystore.name] = {
            "transaction_id": transaction_id_for_key(request.public_key_der),
            "csr": request.der.hex(),
        }
        self.state.save()
        client = self.client()
        event = client.receive(
            *http_exchange(
                self.keystore.url, client.renew(request, KeyPair(old_key, old), now=self.now)
            ),
            now=self.now,
        )
        return self.settle(client, event, request, new_key)

    def resume(self, pending: dict[str, str]) -> Outcome:
        new_key = load_private_key(self.new_key_path.read_bytes())
        request = CertificationRequest.load(bytes.fromhex(pending["csr"]))
        client = self.client()
        client.resume(request, new_key, pending["transaction_id"], now=self.now)
        event = client.receive(
            *http_exchange(self.keystore.url, client.poll(now=self.now)), now=self.now
        )
        return self.settle(client, event, request, new_key)

    def settle(
        self,
        client: ScepClient,
        event: ClientEvent,
        request: CertificationRequest,
        new_key: PrivateKey,
    ) -> Outcome:
        name = self.keystore.name
        if isinstance(event, RequestPending):
            self.state.data["pending"][name] = {
                "transaction_id": event.transaction_id,
                "csr": request.der.hex(),
                "poll_at": event.poll_at.isoformat(),
            }
            self.state.save()
            return Outcome(name, "pending", f"transaction {event.transaction_id}")
        self.state.data["pending"].pop(name, None)
        if not isinstance(event, CertificateIssued):
            self.state.save()
            self.new_key_path.unlink(missing_ok=True)
            return Outcome(name, "failed", f"{type(event).__name__}: {event}")
        assert client.ca is not None
        problem = _check(event.certificate, new_key, request, client.ca.ca, self.now)
        if problem:
            self.state.save()
            return Outcome(name, "failed", f"the issued certificate is refused: {problem}")
        _write_durably(self.new_cert_path, _pem(event.certificate), mode=0o644)
        self.swap()
        return Outcome(name, "renewed", f"serial {event.certificate.serial_number}")

    def swap(self) -> None:
        stamp = self.now.strftime("%Y%m%dT%H%M%S")
        for path in (self.key_path, self.cert_path):
            backup = path.with_name(f"{path.name}.{stamp}.bak")
            shutil.copy2(path, backup)  # mode and times kept
            _keep_owner(path, backup)
            _keep_owner(path, path.with_name(path.name + ".new"))
        swap = {
            str(self.key_path): str(self.new_key_path),
            str(self.cert_path): str(self.new_cert_path),
        }
        self.state.data["swaps"][self.keystore.name] = swap
        self.state.save()
        _finish_swap(self.keystore, swap)
        del self.state.data["swaps"][self.keystore.name]
        self.state.save()
        if self.keystore.post_renew:
            subprocess.run(self.keystore.post_renew, shell=True, check=False, timeout=300)  # noqa: S602 - the operator's hook


def _keep_owner(original: Path, copy: Path) -> None:
    if copy.exists():
        status = original.stat()
        # Not root: the owner is ours already, and chown is refused.
        with contextlib.suppress(PermissionError):
            os.chown(copy, status.st_uid, status.st_gid)


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


def _path(url: str) -> str:
    return urlsplit(url).path or "/scep"


def renew_all(config: Path, now: datetime) -> list[Outcome]:
    """Renew every due keystore of ``config`` (one run at a time: a lock file)."""
    lock_path = config.with_name(config.name + ".lock")
    with lock_path.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MonitorConfigError("another monitor run holds the lock") from None
        state = _State(config)
        return [_one(keystore, state, now) for keystore in load_config(config)]


def _one(keystore: KeystoreConfig, state: _State, now: datetime) -> Outcome:
    name = keystore.name
    if keystore.format != "pem":
        return Outcome(
            name, "failed", f"monitor run renews pem keystores (not {keystore.format} yet)"
        )
    swap = state.data["swaps"].get(name)
    if swap is not None:  # a run stopped mid-swap: finish it first
        _finish_swap(keystore, swap)
        del state.data["swaps"][name]
        state.save()
    renewal = _Renewal(keystore, state, now)
    try:
        pending = state.data["pending"].get(name)
        if pending is not None:
            return renewal.resume(pending)
        old = Certificate.load(renewal.cert_path.read_bytes())
        check = check_renewal(old, keystore.thresholds, now=now)
        if check.state is RenewalState.NOT_DUE:
            return Outcome(name, "nothing-to-do", f"renew from {check.renew_at.isoformat()}")
        if check.state is RenewalState.EXPIRED:
            return Outcome(name, "expired", "expired: enroll again with a challenge")
        return renewal.start(old)
    except (OSError, ScepError, ValueError) as exc:
        return Outcome(name, "failed", str(exc)[:300])
