"""``pyscep monitor``: the certificate lifecycle agent (configuration and status).

    pyscep monitor status --config monitor.toml [--now ISO8601] [--json]
    pyscep monitor run --config monitor.toml [--now ISO8601] [--json]

The configuration lists keystores (TOML, ``[[keystore]]`` tables); paths are
relative to the configuration file. ``status`` prints, for each keystore,
its subject, notAfter, renewal state (NOT_DUE / DUE / OVERDUE / EXPIRED, or
PENDING when a renewal awaits the CA) and when the next action is due, as a
table or ``--json``. The decision is `pyscep.policy.check_renewal`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pyscep.certificate import Certificate
from pyscep.errors import ScepError
from pyscep.policy import RenewalThresholds, check_renewal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["KeystoreConfig", "MonitorConfigError", "add_parser", "load_config", "run"]

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
        key_type=text("key_type"),
        post_renew=text("post_renew"),
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


def _certificate(keystore: KeystoreConfig) -> Certificate:
    """The keystore's current certificate."""
    if keystore.format == "pem":
        assert keystore.certificate is not None
        return Certificate.load(keystore.certificate.read_bytes())
    if keystore.format == "pkcs12":
        from cryptography.hazmat.primitives.serialization import pkcs12

        assert keystore.path is not None
        loaded = pkcs12.load_pkcs12(keystore.path.read_bytes(), _passphrase(keystore))
        if loaded.cert is None:
            raise MonitorConfigError(f"keystore {keystore.name!r}: the PKCS#12 has no certificate")
        return Certificate.load(loaded.cert.certificate)
    raise MonitorConfigError(f"keystore {keystore.name!r}: jks needs the optional pyjks")


def _passphrase(keystore: KeystoreConfig) -> bytes | None:
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


def _pending(config: Path) -> dict[str, Any]:
    """Renewals waiting for the CA, by keystore name (the state file next to the config)."""
    state = config.with_name(config.name + ".state.json")
    if not state.exists():
        return {}
    try:
        loaded = json.loads(state.read_text())
    except ValueError:
        raise MonitorConfigError(f"{state}: not JSON") from None
    pending = loaded.get("pending", {}) if isinstance(loaded, dict) else {}
    return pending if isinstance(pending, dict) else {}


def status(config: Path, now: datetime) -> list[dict[str, Any]]:
    """One row per keystore: name, subject, notAfter, state, next action and when."""
    pending = _pending(config)
    rows = []
    for keystore in load_config(config):
        row: dict[str, Any] = {"name": keystore.name}
        try:
            certificate = _certificate(keystore)
        except (OSError, ScepError, ValueError) as exc:
            row.update(state="FAILED", action="fix the keystore", detail=str(exc)[:200])
            rows.append(row)
            continue
        check = check_renewal(certificate, keystore.thresholds, now=now)
        row.update(subject=certificate.subject, not_after=certificate.not_valid_after.isoformat())
        if keystore.name in pending:
            row.update(state="PENDING", action="poll the CA (monitor run)", when=now.isoformat())
        elif check.state.name == "NOT_DUE":
            row.update(state="NOT_DUE", action="renew", when=check.renew_at.isoformat())
        elif check.state.name == "EXPIRED":
            row.update(
                state="EXPIRED",
                action="enroll again with a challenge (an expired certificate cannot sign)",
                when=None,
            )
        else:
            row.update(state=check.state.name, action="renew", when=now.isoformat())
        rows.append(row)
    return rows


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``monitor``."""
    monitor = commands.add_parser(
        "monitor",
        help="the certificate lifecycle agent",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = monitor.add_subparsers(dest="action", required=True)
    show = actions.add_parser("status", help="where each keystore stands")
    show.add_argument("--config", type=Path, required=True)
    show.add_argument("--now", help="ISO 8601 time to judge at (default: now)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=run)
    renew = actions.add_parser("run", help="renew the keystores that are due")
    renew.add_argument("--config", type=Path, required=True)
    renew.add_argument("--now", help="ISO 8601 time to judge at (default: now)")
    renew.add_argument("--json", action="store_true")
    renew.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """``monitor status``."""
    now = datetime.fromisoformat(args.now) if args.now else datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    if args.action == "run":
        return _run(args.config, now, as_json=args.json)
    try:
        rows = status(args.config, now)
    except (OSError, ScepError) as exc:
        print(f"pyscep monitor: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        when = row.get("when") or "-"
        print(
            f"{row['name']:<16} {row['state']:<8} {row.get('not_after', '-'):<26} "
            f"{row['action']} ({when})"
        )
    return 0


def _run(config: Path, now: datetime, *, as_json: bool) -> int:
    """``monitor run``: 0 nothing to do or all renewed, 3 something pending, 1 a failure."""
    from .monitor_run import EXIT_FAILED, EXIT_PENDING, renew_all

    try:
        outcomes = renew_all(config, now)
    except (OSError, ScepError) as exc:
        print(f"pyscep monitor: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps([o.__dict__ for o in outcomes], indent=2))
    else:
        for outcome in outcomes:
            print(f"{outcome.name:<16} {outcome.result:<14} {outcome.detail}")
    results = {o.result for o in outcomes}
    if results & {"failed", "expired"}:
        return EXIT_FAILED
    return EXIT_PENDING if "pending" in results else 0
