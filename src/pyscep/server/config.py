"""The reference server's configuration: `ServeOptions`, checked before a server starts,
from ``pyscep serve``'s options or from the ``PYSCEP_*`` variables of a deployment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pyscep.errors import ScepError
from pyscep.policy import parse_scep_conf
from pyscep.protocol.challenges import require_secret
from pyscep.protocol.profiles import PROFILES

from .file_ca import CA_KEY_TYPES

__all__ = [
    "BODY_TIMEOUT",
    "MAX_VALIDITY_DAYS",
    "ServeConfigError",
    "ServeOptions",
    "check_options",
    "options_from_environment",
]

#: The longest lifetime an issued certificate may be given, in days (about 100 years).
MAX_VALIDITY_DAYS = 36_500
#: Seconds a client may take to send its request, by default (``pyscep serve``'s own HTTP
#: server; under gunicorn or uvicorn their own timeouts apply).
BODY_TIMEOUT = 30


class ServeConfigError(ScepError):
    """A configuration ``pyscep serve`` refuses to start with, and why."""


@dataclass(frozen=True)
class ServeOptions:
    """How the reference server behaves."""

    state_dir: Path
    #: The shared challenge (``static`` mode; never empty); unused in ``one-time`` mode.
    challenge: str | None = None
    pending_polls: int = 0
    manual: bool = False
    legacy: bool = False
    ra: bool = False
    next_ca: bool = False
    #: Interop profile: the capabilities advertised (`pyscep.protocol.profiles`).
    profile: str = "strict"
    #: One JSON line per pkiMessage decided on (type, algorithms, outcome, reason).
    log: Path | None = None
    #: A PostgreSQL URL for the state (workers on several machines); SQLite in
    #: ``state_dir`` otherwise.
    state_url: str | None = None
    #: ``static`` (``challenge`` for everyone) or ``one-time`` (``serve challenge``).
    challenge_mode: str = "static"
    #: An OpenCA scep.conf: every enrollment and renewal is decided by `pyscep.policy`.
    policy: Path | None = None
    #: Lifetime of issued certificates, in days (a policy's decided validity wins).
    validity_days: int = 365
    #: The key type of a CA this server creates (an existing CA is used as it is).
    ca_key_type: str = "rsa2048"


def check_options(options: ServeOptions) -> ServeOptions:
    """``options`` if a server may start with them; ServeConfigError says what is wrong."""
    if options.challenge_mode not in ("static", "one-time"):
        raise ServeConfigError(f"challenge mode {options.challenge_mode!r}: 'static' or 'one-time'")
    if options.challenge_mode == "static":
        if options.challenge is None:
            raise ServeConfigError(
                "the challenge (--challenge or PYSCEP_CHALLENGE) is required in static mode"
                " (or use --challenge-mode one-time for challenges made per device)"
            )
        try:
            require_secret(options.challenge, "the challenge (--challenge or PYSCEP_CHALLENGE)")
        except ScepError as exc:
            raise ServeConfigError(
                f"{exc}: an empty challenge would admit anyone (use --challenge-mode one-time"
                " for challenges made per device)"
            ) from None
    elif options.challenge is not None:
        raise ServeConfigError(
            "a shared challenge is not used in one-time mode: drop --challenge"
            " (or PYSCEP_CHALLENGE), or use --challenge-mode static"
        )
    if not 1 <= options.validity_days <= MAX_VALIDITY_DAYS:
        raise ServeConfigError(f"the validity is from 1 to {MAX_VALIDITY_DAYS} days")
    if options.pending_polls < 0:
        raise ServeConfigError("--pending-polls cannot be negative")
    if options.policy is not None:
        if options.pending_polls:
            raise ServeConfigError(
                "--pending-polls has no effect with --policy (the policy decides what waits)"
            )
        try:
            parse_scep_conf(options.policy.read_text())
        except OSError as exc:
            raise ServeConfigError(f"the policy {options.policy}: {exc.strerror}") from None
        except ScepError as exc:
            raise ServeConfigError(f"the policy {options.policy}: {exc}") from None
    if options.profile not in PROFILES:
        raise ServeConfigError(f"unknown profile {options.profile!r}: {', '.join(PROFILES)}")
    if options.ca_key_type not in CA_KEY_TYPES:
        raise ServeConfigError(
            f"a CA key cannot be {options.ca_key_type!r}: one of {', '.join(CA_KEY_TYPES)}"
            " (an Ed25519 key only signs: it cannot open requests)"
        )
    return options


def _switch(environment: Mapping[str, str], name: str) -> bool:
    text = environment.get(name, "")
    if text not in ("", "0", "1"):
        raise ServeConfigError(f"{name}={text!r}: 1 for yes, 0 or unset for no")
    return text == "1"


def _number(environment: Mapping[str, str], name: str, default: int) -> int:
    text = environment.get(name, "").strip()
    if not text:
        return default
    if not text.isascii() or not text.isdigit():
        raise ServeConfigError(f"{name}={text!r} is not a whole number")
    return int(text)


def options_from_environment(environment: Mapping[str, str] | None = None) -> ServeOptions:
    """`ServeOptions` from the ``PYSCEP_*`` variables (the gunicorn and uvicorn factories).

    ``PYSCEP_STATE_DIR`` (required), ``PYSCEP_CHALLENGE`` (required in static mode),
    ``PYSCEP_CHALLENGE_MODE``, ``PYSCEP_PENDING_POLLS``, ``PYSCEP_MANUAL``,
    ``PYSCEP_LEGACY``, ``PYSCEP_RA``, ``PYSCEP_NEXT_CA`` (``1`` for yes),
    ``PYSCEP_PROFILE``, ``PYSCEP_STATE_URL``, ``PYSCEP_POLICY``, ``PYSCEP_LOG``,
    ``PYSCEP_VALIDITY_DAYS``, ``PYSCEP_CA_KEY_TYPE``. ServeConfigError says what is wrong.
    """
    env = os.environ if environment is None else environment
    if not env.get("PYSCEP_STATE_DIR"):
        raise ServeConfigError("PYSCEP_STATE_DIR is required")
    return check_options(
        ServeOptions(
            state_dir=Path(env["PYSCEP_STATE_DIR"]),
            challenge=env.get("PYSCEP_CHALLENGE") if "PYSCEP_CHALLENGE" in env else None,
            pending_polls=_number(env, "PYSCEP_PENDING_POLLS", 0),
            manual=_switch(env, "PYSCEP_MANUAL"),
            legacy=_switch(env, "PYSCEP_LEGACY"),
            ra=_switch(env, "PYSCEP_RA"),
            next_ca=_switch(env, "PYSCEP_NEXT_CA"),
            profile=env.get("PYSCEP_PROFILE", "strict"),
            log=Path(env["PYSCEP_LOG"]) if env.get("PYSCEP_LOG") else None,
            state_url=env.get("PYSCEP_STATE_URL") or None,
            challenge_mode=env.get("PYSCEP_CHALLENGE_MODE", "static"),
            policy=Path(env["PYSCEP_POLICY"]) if env.get("PYSCEP_POLICY") else None,
            validity_days=_number(env, "PYSCEP_VALIDITY_DAYS", 365),
            ca_key_type=env.get("PYSCEP_CA_KEY_TYPE", "rsa2048"),
        )
    )
