"""CA rollover for ``pyscep monitor``: fetch the next CA ahead of time, switch when it is time.

When the CA advertises GetNextCACert, a run that talks to it fetches the
next CA certificate, which the client verifies as signed by the current CA
(or its RA), and keeps it: in the state file, and as ``<ca_certificate>.next``
beside the current one. The keystore switches to it when the current CA
certificate has expired, or when GetCACert no longer matches the current
pin but matches the next CA (the server has started signing with it). The
switch keeps the old CA certificate as a dated backup; with a configured
``ca_fingerprint`` the new pin is kept in the state file.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization

from pyscep.certificate import Certificate
from pyscep.enums import CACapability
from pyscep.errors import ScepError
from pyscep.policy import RenewalState, check_renewal
from pyscep.protocol.client import NextCAReceived, ProtocolFailed, ScepClient

from .client import http_exchange
from .durable import backup, write_durably
from .monitor_config import KeystoreConfig
from .monitor_state import MonitorState

__all__ = ["connect", "look_ahead", "rollover_check_due"]


def _current_ca(keystore: KeystoreConfig) -> Certificate | None:
    if keystore.ca_certificate is None:
        return None
    return Certificate.load(keystore.ca_certificate.read_bytes())


def _next_ca(keystore: KeystoreConfig, state: MonitorState) -> Certificate | None:
    stored = state["next_ca"].get(keystore.name)
    return None if stored is None else Certificate.load(bytes.fromhex(stored))


def _pin(keystore: KeystoreConfig, state: MonitorState) -> bytes:
    override = state["ca_pin"].get(keystore.name)
    if override is not None:
        return bytes.fromhex(override)
    current = _current_ca(keystore)
    if current is not None:
        return current.sha256_fingerprint
    assert keystore.ca_fingerprint is not None  # the configuration has one or the other
    return keystore.ca_fingerprint


def rollover_check_due(keystore: KeystoreConfig, state: MonitorState, now: datetime) -> bool:
    """Must a run talk to the CA for the rollover alone (nothing else being due)?

    Yes while a next CA waits (to see the server switch), and once the
    current CA certificate is inside the keystore's renewal window.
    """
    if keystore.name in state["next_ca"]:
        return True
    current = _current_ca(keystore)
    if current is None:
        return False
    return check_renewal(current, keystore.thresholds, now=now).state is not RenewalState.NOT_DUE


def _switch(keystore: KeystoreConfig, state: MonitorState, new: Certificate, now: datetime) -> None:
    if keystore.ca_certificate is not None:
        backup(keystore.ca_certificate, now.strftime("%Y%m%dT%H%M%S"))
        pem = new.to_cryptography().public_bytes(serialization.Encoding.PEM)
        write_durably(keystore.ca_certificate, pem, mode=0o644)
        _next_file(keystore.ca_certificate).unlink(missing_ok=True)
    else:
        state["ca_pin"][keystore.name] = new.sha256_fingerprint.hex()
    state["next_ca"].pop(keystore.name, None)
    state.save()


def _next_file(ca_certificate: Path) -> Path:
    return ca_certificate.with_name(ca_certificate.name + ".next")


def _ready(keystore: KeystoreConfig, pin: bytes, now: datetime) -> ScepClient | str:
    """A client that has the caps and the CA under ``pin``, or why not."""
    client = ScepClient(path=urlsplit(keystore.url).path or "/scep", ca_fingerprint=pin)
    for request in (client.get_caps, client.get_ca_certificates):
        event = client.receive(*http_exchange(keystore.url, request()), now=now)
        if isinstance(event, ProtocolFailed):
            return event.reason
    return client


def connect(keystore: KeystoreConfig, state: MonitorState, now: datetime) -> tuple[ScepClient, str]:
    """A READY client for the keystore's CA, after any rollover; and what the rollover did."""
    waiting = _next_ca(keystore, state)
    current = _current_ca(keystore)
    note = ""
    if waiting is not None and current is not None and now > current.not_valid_after:
        _switch(keystore, state, waiting, now)
        note, waiting = (
            f"switched to the next CA (the current one expired): {waiting.subject}",
            None,
        )
    client = _ready(keystore, _pin(keystore, state), now)
    if isinstance(client, str) and waiting is not None:
        # The pin no longer matches: has the server started signing with the next CA?
        rolled = _ready(keystore, waiting.sha256_fingerprint, now)
        if not isinstance(rolled, str):
            _switch(keystore, state, waiting, now)
            note, client = (
                f"switched to the next CA (the server uses it): {waiting.subject}",
                rolled,
            )
    if isinstance(client, str):
        raise ScepError(client)
    return client, note


def look_ahead(keystore: KeystoreConfig, state: MonitorState, now: datetime) -> str:
    """Fetch and keep the next CA if the CA offers one; what was done, or why not ("" if nothing).

    A CA without a next certificate (or one that fails to give it) does not
    make the run fail: the note says so.
    """
    if keystore.name in state["next_ca"]:
        return ""
    client = _ready(keystore, _pin(keystore, state), now)
    if isinstance(client, str) or client.caps is None:
        return ""
    if CACapability.GET_NEXT_CA_CERT not in client.caps:
        return ""
    assert client.ca is not None
    event = client.receive(*http_exchange(keystore.url, client.get_next_ca_certificates()), now=now)
    if isinstance(event, ProtocolFailed):
        return f"GetNextCACert refused: {event.reason}"
    assert isinstance(event, NextCAReceived)
    candidates = [c for c in event.certificates if c.is_ca and c != client.ca.ca]
    if not candidates:
        return ""
    new = candidates[0]
    if keystore.ca_certificate is not None:
        pem = new.to_cryptography().public_bytes(serialization.Encoding.PEM)
        write_durably(_next_file(keystore.ca_certificate), pem, mode=0o644)
    state["next_ca"][keystore.name] = new.der.hex()
    state.save()
    return f"next CA fetched and verified: {new.subject}"
