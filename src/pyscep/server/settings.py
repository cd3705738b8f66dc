"""Where ``pyscep serve`` takes its settings from: a TOML file, ``PYSCEP_*`` variables, options.

Every option of ``pyscep serve`` has a key (``--challenge-mode`` is
``challenge_mode``, ``--validity`` is ``validity_days``) and a variable
(``PYSCEP_CHALLENGE_MODE``). A key in the configuration file (``--config
FILE`` or ``PYSCEP_CONFIG``) is overridden by its variable, and a variable
by the command line's option. Everything is checked before a server starts:
an unknown key, a value of the wrong type, or a value out of range is a
`ServeConfigError` that names the key (or the variable) and the file.
Relative paths in the file are relative to the file.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .config import BODY_TIMEOUT, ServeConfigError, ServeOptions, check_options

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "SETTINGS",
    "Listening",
    "Settings",
    "environment_values",
    "load_settings",
    "options_from_environment",
    "read_toml",
    "variable",
]


@dataclass(frozen=True)
class Listening:
    """Where ``pyscep serve`` listens: SCEP, and the operator's admin port (health,
    readiness, metrics) if one is given. Under gunicorn or uvicorn, they bind instead."""

    host: str = "127.0.0.1"
    port: int = 8080
    #: Seconds a client may take to send its request.
    body_timeout: float = BODY_TIMEOUT
    admin_host: str = "127.0.0.1"
    admin_port: int | None = None


@dataclass(frozen=True)
class Settings:
    """What a server starts with: how it behaves, and where it listens."""

    options: ServeOptions
    listening: Listening


_TYPES = {"Path": Path, "bool": bool, "int": int, "float": float, "str": str}


def _kind(annotation: str) -> type:
    """The type of a field as annotated (``Path | None`` is a Path)."""
    return _TYPES[annotation.split("|")[0].strip()]


#: Every setting's key and type (a ``Path``, ``bool``, ``int``, ``float`` or ``str``).
SETTINGS: dict[str, type] = {
    f.name: _kind(str(f.type)) for kind in (ServeOptions, Listening) for f in fields(kind)
}
_OPTIONS = frozenset(f.name for f in fields(ServeOptions))
#: The settings that are a key file or a ``pkcs11:`` URI.
_KEYS = frozenset({"ca_key", "ra_key"})


def variable(key: str) -> str:
    """The environment variable of a setting (``PYSCEP_CHALLENGE_MODE``)."""
    return f"PYSCEP_{key.upper()}"


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The TOML document of ``path`` (``what`` it is, for the error: ServeConfigError when
    it cannot be read or is not TOML)."""
    try:
        document: dict[str, Any] = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ServeConfigError(f"{what} {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ServeConfigError(f"{what} {path} is not TOML: {exc}") from None
    return document


def _from_file(path: Path) -> dict[str, Any]:
    document = read_toml(path, "the configuration")
    values: dict[str, Any] = {}
    for key, value in document.items():
        where = f"{path}: {key}"
        kind = SETTINGS.get(key)
        if kind is None:
            known = ", ".join(sorted(SETTINGS))
            raise ServeConfigError(f"{path}: unknown key {key!r} (the keys: {known})")
        if kind is Path and isinstance(value, str):
            values[key] = path.parent / value
        elif key in _KEYS and isinstance(value, str) and not value.startswith("pkcs11:"):
            values[key] = str(path.parent / value)  # a key file, relative to this file
        elif kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            values[key] = float(value)
        elif (kind in (str, bool) and isinstance(value, kind)) or (
            kind is int and isinstance(value, int) and not isinstance(value, bool)
        ):
            values[key] = value
        else:
            wanted = {Path: "a path (a string)", bool: "true or false", int: "a whole number"}
            expected = wanted.get(kind, {float: "a number", str: "a string"}.get(kind, ""))
            raise ServeConfigError(f"{where} must be {expected}, not {value!r}")
    return values


def _from_environment(environment: Mapping[str, str]) -> dict[str, Any]:
    """The settings the ``PYSCEP_*`` variables give; an empty one gives none (it does not
    override the file), except an empty challenge, kept to be refused."""
    values: dict[str, Any] = {}
    for key, kind in SETTINGS.items():
        name = variable(key)
        text = environment.get(name)
        if text is None or (text == "" and key != "challenge"):
            continue
        if kind is bool:
            if text not in ("0", "1"):
                raise ServeConfigError(f"{name}={text!r}: 1 for yes, 0 for no")
            values[key] = text == "1"
        elif kind is int:
            if not text.strip().isascii() or not text.strip().isdigit():
                raise ServeConfigError(f"{name}={text!r} is not a whole number")
            values[key] = int(text)
        elif kind is float:
            try:
                values[key] = float(text)
            except ValueError:
                raise ServeConfigError(f"{name}={text!r} is not a number") from None
        elif kind is Path:
            values[key] = Path(text)
        else:
            values[key] = text
    return values


def environment_values(environment: Mapping[str, str]) -> dict[str, Any]:
    """The settings the ``PYSCEP_*`` variables of ``environment`` give, checked alone (the
    operator's commands take the CA and the CRL's lifetime from them too)."""
    return _from_environment(environment)


def load_settings(
    config: Path | None = None,
    environment: Mapping[str, str] | None = None,
    given: Mapping[str, Any] | None = None,
) -> Settings:
    """The settings of a server: the file ``config``, then the ``PYSCEP_*`` variables of
    ``environment`` (default: this process's), then ``given`` (the command line's options,
    None for one not given), each overriding the one before; checked (`check_options`)."""
    env = os.environ if environment is None else environment
    values: dict[str, Any] = {}
    if config is not None:
        values.update(_from_file(config))
    values.update(_from_environment(env))
    values.update({key: value for key, value in (given or {}).items() if value is not None})
    if "state_dir" not in values:
        raise ServeConfigError(
            "the state directory is required: --state-dir, PYSCEP_STATE_DIR, or state_dir in"
            " the configuration file"
        )
    options = check_options(ServeOptions(**{k: v for k, v in values.items() if k in _OPTIONS}))
    listening = Listening(**{k: v for k, v in values.items() if k not in _OPTIONS})
    if not (math.isfinite(listening.body_timeout) and listening.body_timeout > 0):
        raise ServeConfigError("body_timeout (--body-timeout) must be more than 0 seconds")
    if listening.admin_port is not None and not 0 <= listening.admin_port <= 65535:
        raise ServeConfigError(f"admin_port (--admin-port) {listening.admin_port} is not a port")
    return Settings(options, listening)


def options_from_environment(environment: Mapping[str, str] | None = None) -> ServeOptions:
    """`ServeOptions` from the ``PYSCEP_*`` variables and the file ``PYSCEP_CONFIG`` names
    (the gunicorn and uvicorn factories). ServeConfigError says what is wrong."""
    env = os.environ if environment is None else environment
    config = env.get("PYSCEP_CONFIG")
    return load_settings(Path(config) if config else None, env).options
