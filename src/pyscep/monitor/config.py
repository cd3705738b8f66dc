"""The ``pyscep monitor`` configuration: TOML ``[[keystore]]`` tables, checked with positions.

Paths are relative to the configuration file; unknown keys are errors (a
typo must not go unnoticed).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from pyscep._appkit.keys import KEY_TYPES
from pyscep.errors import ScepError
from pyscep.policy import RenewalThresholds
from pyscep.protocol.profiles import PROFILES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["KeystoreConfig", "MonitorConfigError", "load_config", "passphrase"]

_FORMATS = ("pem", "pkcs12", "jks")
_KNOWN_KEYS = frozenset(
    {
        "name",
        "format",
        "key",
        "certificate",
        "chain",
        "path",
        "passphrase_file",
        "passphrase_env",
        "url",
        "ca_certificate",
        "ca_fingerprint",
        "renew_before_days",
        "renew_at_fraction",
        "jitter_hours",
        "key_type",
        "post_renew",
        "profile",
    }
)


class MonitorConfigError(ScepError):
    """A monitor configuration that cannot be used; the message names the keystore and key."""


@dataclass(frozen=True)
class KeystoreConfig:
    """One monitored keystore, as configured (paths resolved against the config file)."""

    name: str
    format: str
    url: str
    thresholds: RenewalThresholds
    key: Path | None = None
    certificate: Path | None = None
    chain: Path | None = None
    path: Path | None = None
    passphrase_file: Path | None = None
    passphrase_env: str | None = None
    ca_certificate: Path | None = None
    ca_fingerprint: bytes | None = None
    key_type: str | None = None
    post_renew: str | None = None
    #: The interop profile the CA is spoken to with (`pyscep.protocol.profiles`):
    #: ``post-quantum`` for a CA with ML-DSA and ML-KEM keys (opt-in).
    profile: str = "strict"


def load_config(path: Path) -> tuple[KeystoreConfig, ...]:
    """Read a monitor configuration; MonitorConfigError says what is wrong, and where."""
    try:
        document = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MonitorConfigError(f"{path}: not TOML: {exc}") from None
    entries = document.get("keystore")
    if not isinstance(entries, list) or not entries:
        raise MonitorConfigError(f"{path}: no [[keystore]] table")
    base = path.parent
    keystores = [_keystore(entry, index, base) for index, entry in enumerate(entries)]
    names = [k.name for k in keystores]
    if len(set(names)) != len(names):
        raise MonitorConfigError(f"{path}: keystore names must be unique")
    return tuple(keystores)


def _keystore(entry: Any, index: int, base: Path) -> KeystoreConfig:
    where = f"keystore[{index}]"
    if not isinstance(entry, dict):
        raise MonitorConfigError(f"{where} is not a table")
    unknown = set(entry) - _KNOWN_KEYS
    if unknown:
        raise MonitorConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")

    def text(key: str, required: bool = False) -> str | None:
        value = entry.get(key)
        if value is None and required:
            raise MonitorConfigError(f"{where}: {key} is required")
        if value is not None and not isinstance(value, str):
            raise MonitorConfigError(f"{where}: {key} must be a string")
        return value

    def file(key: str) -> Path | None:
        value = text(key)
        return None if value is None else (base / value)

    name = text("name", required=True)
    where = f"keystore {name!r}"
    kind = text("format", required=True)
    if kind not in _FORMATS:
        raise MonitorConfigError(f"{where}: format must be one of {', '.join(_FORMATS)}")
    if kind == "pem" and (entry.get("key") is None or entry.get("certificate") is None):
        raise MonitorConfigError(f"{where}: a pem keystore needs key and certificate")
    if kind != "pem" and entry.get("path") is None:
        raise MonitorConfigError(f"{where}: a {kind} keystore needs path")
    if entry.get("ca_certificate") is None and entry.get("ca_fingerprint") is None:
        raise MonitorConfigError(f"{where}: give ca_certificate or ca_fingerprint")
    fingerprint = text("ca_fingerprint")
    pin = None
    if fingerprint is not None:
        try:
            pin = bytes.fromhex(fingerprint.replace(":", ""))
        except ValueError:
            pin = b""
        if len(pin) != 32:
            raise MonitorConfigError(f"{where}: ca_fingerprint is the SHA-256 in hex")
    key_type = text("key_type")
    if key_type is not None and key_type not in KEY_TYPES:
        raise MonitorConfigError(f"{where}: key_type is one of {', '.join(KEY_TYPES)}")
    profile = text("profile") or "strict"
    if profile not in PROFILES:
        raise MonitorConfigError(f"{where}: profile is one of {', '.join(sorted(PROFILES))}")
    return KeystoreConfig(
        name=name or "",
        format=kind or "",
        url=text("url", required=True) or "",
        thresholds=_thresholds(entry, where),
        key=file("key"),
        certificate=file("certificate"),
        chain=file("chain"),
        path=file("path"),
        passphrase_file=file("passphrase_file"),
        passphrase_env=text("passphrase_env"),
        ca_certificate=file("ca_certificate"),
        ca_fingerprint=pin,
        key_type=key_type,
        post_renew=text("post_renew"),
        profile=profile,
    )


def _thresholds(entry: dict[str, Any], where: str) -> RenewalThresholds:
    days, fraction = entry.get("renew_before_days"), entry.get("renew_at_fraction")
    jitter = entry.get("jitter_hours", 0)
    for key, value in (("renew_before_days", days), ("renew_at_fraction", fraction)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise MonitorConfigError(f"{where}: {key} must be a number")
    if isinstance(jitter, bool) or not isinstance(jitter, (int, float)) or not 0 <= jitter <= 8760:
        raise MonitorConfigError(f"{where}: jitter_hours must be a number of hours")
    if fraction is not None and not 0 < fraction < 1:
        raise MonitorConfigError(f"{where}: renew_at_fraction is between 0 and 1")
    if days is None and fraction is None:
        days = 30
    try:
        return RenewalThresholds(
            days=days,
            # Renew at 0.8 of the lifetime: when 20 % of it is left.
            percent=None if fraction is None else (1 - fraction) * 100,
            jitter=timedelta(hours=jitter),
        )
    except ScepError as exc:
        raise MonitorConfigError(f"{where}: {exc}") from None


def passphrase(keystore: KeystoreConfig) -> bytes | None:
    """The keystore's passphrase (from its file or environment variable), or None."""
    if keystore.passphrase_file is not None:
        return keystore.passphrase_file.read_bytes().rstrip(b"\r\n")
    if keystore.passphrase_env is not None:
        value = os.environ.get(keystore.passphrase_env)
        if value is None:
            raise MonitorConfigError(
                f"keystore {keystore.name!r}: ${keystore.passphrase_env} is not set"
            )
        return value.encode()
    return None
