"""CA rollover for ``pyscep monitor``: fetch the next CA ahead of time, switch when it is time.

When the CA advertises GetNextCACert, a run that talks to it fetches the
next CA certificate, which the client verifies as signed by the current CA
(or its RA), and keeps it: in the state file, and as ``<ca_certificate>.next``
beside the current one. The keystore switches to it when the current CA
certificate has expired, or when GetCACert no longer matches the current
pin but matches the next CA (the server has started signing with it). The
switch keeps the old CA certificate as a dated backup; with a configured
``ca_fingerprint`` the new pin is kept in the state file. The files are
written through their directory opened once (`durable.SafeDirectory`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization

from pyscep._appkit.durable import Directories
from pyscep._appkit.http import http_exchange
from pyscep.certificate import Certificate
from pyscep.enums import CACapability
from pyscep.errors import ScepError
from pyscep.policy import RenewalState, check_renewal
from pyscep.protocol.client import NextCAReceived, ProtocolFailed, ScepClient
from pyscep.protocol.profiles import PROFILES

from .config import KeystoreConfig
from .state import MonitorState

__all__ = ["connect", "look_ahead", "rollover_check_due"]


def _current_ca(keystore: KeystoreConfig, directories: Directories) -> Certificate | None:
    if keystore.ca_certificate is None:
        return None
    directory, name = directories.of(keystore.ca_certificate)
    return Certificate.load(directory.read(name))


def _next_ca(keystore: KeystoreConfig, state: MonitorState) -> Certificate | None:
    stored = state["next_ca"].get(keystore.name)
    return None if stored is None else Certificate.load(bytes.fromhex(stored))


def _pin(keystore: KeystoreConfig, state: MonitorState, directories: Directories) -> bytes:
    override = state["ca_pin"].get(keystore.name)
    if override is not None:
        return bytes.fromhex(override)
    current = _current_ca(keystore, directories)
    if current is not None:
        return current.sha256_fingerprint
    assert keystore.ca_fingerprint is not None  # the configuration has one or the other
    return keystore.ca_fingerprint


def rollover_check_due(
    keystore: KeystoreConfig, state: MonitorState, now: datetime, directories: Directories
) -> bool:
    """Must a run talk to the CA for the rollover alone (nothing else being due)?

    Yes while a next CA waits (to see the server switch), and once the
    current CA certificate is inside the keystore's renewal window.
    """
    if keystore.name in state["next_ca"]:
        return True
    current = _current_ca(keystore, directories)
    if current is None:
        return False
    return check_renewal(current, keystore.thresholds, now=now).state is not RenewalState.NOT_DUE


def _switch(
    keystore: KeystoreConfig,
    state: MonitorState,
    new: Certificate,
    now: datetime,
    directories: Directories,
) -> None:
    if keystore.ca_certificate is not None:
        directory, name = directories.of(keystore.ca_certificate)
        directory.backup(name, now.strftime("%Y%m%dT%H%M%S"))
        directory.write(name, _pem(new), mode=0o644)
        directory.unlink(_next_file(keystore.ca_certificate).name)
        directory.sync()
    else:
        state["ca_pin"][keystore.name] = new.sha256_fingerprint.hex()
    state["next_ca"].pop(keystore.name, None)
    state.save()


def _next_file(ca_certificate: Path) -> Path:
    return ca_certificate.with_name(ca_certificate.name + ".next")


def _pem(certificate: Certificate) -> bytes:
    return bytes(certificate.to_cryptography().public_bytes(serialization.Encoding.PEM))


def _ready(keystore: KeystoreConfig, pin: bytes, now: datetime) -> ScepClient | str:
    """A client that has the caps and the CA under ``pin``, or why not."""
    client = ScepClient(
        path=urlsplit(keystore.url).path or "/scep",
        ca_fingerprint=pin,
        profile=PROFILES[keystore.profile],
    )
    for request in (client.get_caps, client.get_ca_certificates):
        event = client.receive(*http_exchange(keystore.url, request()), now=now)
        if isinstance(event, ProtocolFailed):
            return event.reason
    return client


def connect(
    keystore: KeystoreConfig, state: MonitorState, now: datetime, directories: Directories
) -> tuple[ScepClient, str]:
    """A READY client for the keystore's CA, after any rollover; and what the rollover did."""
    waiting = _next_ca(keystore, state)
    current = _current_ca(keystore, directories)
    note = ""
    if waiting is not None and current is not None and now > current.not_valid_after:
        _switch(keystore, state, waiting, now, directories)
        note, waiting = (
            f"switched to the next CA (the current one expired): {waiting.subject}",
            None,
        )
    client = _ready(keystore, _pin(keystore, state, directories), now)
    if isinstance(client, str) and waiting is not None:
        # The pin no longer matches: has the server started signing with the next CA?
        rolled = _ready(keystore, waiting.sha256_fingerprint, now)
        if not isinstance(rolled, str):
            _switch(keystore, state, waiting, now, directories)
            note, client = (
                f"switched to the next CA (the server uses it): {waiting.subject}",
                rolled,
            )
    if isinstance(client, str):
        raise ScepError(client)
    return client, note


def look_ahead(
    keystore: KeystoreConfig, state: MonitorState, now: datetime, directories: Directories
) -> str:
    """Fetch and keep the next CA if the CA offers one; what was done, or why not ("" if nothing).

    A CA without a next certificate (or one that fails to give it) does not
    make the run fail: the note says so.
    """
    if keystore.name in state["next_ca"]:
        return ""
    client = _ready(keystore, _pin(keystore, state, directories), now)
    if isinstance(client, str) or client.caps is None or client.ca is None:
        return ""
    if CACapability.GET_NEXT_CA_CERT not in client.caps:
        return ""
    current = client.ca.ca
    event = client.receive(*http_exchange(keystore.url, client.get_next_ca_certificates()), now=now)
    if isinstance(event, ProtocolFailed):
        return f"GetNextCACert refused: {event.reason}"
    if not isinstance(event, NextCAReceived):
        return f"GetNextCACert answered with {type(event).__name__}"
    candidates = [c for c in event.certificates if c.is_ca and c != current]
    if not candidates:
        return ""
    new = candidates[0]
    if keystore.ca_certificate is not None:
        directory, name = directories.of(_next_file(keystore.ca_certificate))
        directory.write(name, _pem(new), mode=0o644)
    state["next_ca"][keystore.name] = new.der.hex()
    state.save()
    return f"next CA fetched and verified: {new.subject}"
