"""The monitor's state file, next to its configuration: what a later run must pick up.

``<config>.state.json`` (0600) holds, by keystore name:

- ``pending``: a renewal sent (or about to be) and not yet answered with a
  certificate: its transaction ID and CSR, and when to poll;
- ``swaps``: a verified new keystore being moved into place (see
  `monitor_keystores.Swap`);
- ``next_ca``: a next CA certificate fetched by GetNextCACert and verified,
  waiting for the rollover;
- ``ca_pin``: the SHA-256 pin to use instead of the configured
  ``ca_fingerprint`` after a rollover.

Every change is written durably before the step it guards is taken, through
the configuration's directory opened once (`durable.SafeDirectory`): a link
at the state file's name is never followed, neither to read nor to write.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pyscep._appkit.durable import SafeDirectory

from .config import MonitorConfigError

__all__ = ["MonitorState", "state_path"]

_SECTIONS = ("pending", "swaps", "next_ca", "ca_pin")
#: What each section holds by keystore name: an object (of strings, for pending) or a string.
_ENTRIES: dict[str, type] = {"pending": dict, "swaps": dict, "next_ca": str, "ca_pin": str}


def state_path(config: Path) -> Path:
    """Where the state of ``config`` is kept."""
    return config.with_name(config.name + ".state.json")


class MonitorState:
    """The state file's sections, each a dict by keystore name (``directory``: the config's)."""

    def __init__(self, config: Path, directory: SafeDirectory) -> None:
        self.path = state_path(config)
        self.directory = directory
        self.data: dict[str, dict[str, Any]] = {section: {} for section in _SECTIONS}
        if not directory.exists(self.path.name):
            return
        try:
            loaded = json.loads(directory.read(self.path.name, follow=False))
        except (ValueError, UnicodeDecodeError):
            raise MonitorConfigError(
                f"{self.path}: not JSON (move it away to start afresh)"
            ) from None
        if not isinstance(loaded, dict):
            raise MonitorConfigError(f"{self.path}: not a monitor state file")
        for section in _SECTIONS:
            value = loaded.get(section, {})
            if not isinstance(value, dict):
                raise MonitorConfigError(f"{self.path}: {section} is not an object")
            for name, entry in value.items():
                strings = entry.values() if isinstance(entry, dict) and section == "pending" else ()
                if not isinstance(entry, _ENTRIES[section]) or not all(
                    isinstance(v, str) for v in strings
                ):
                    raise MonitorConfigError(f"{self.path}: {section} of {name!r} is damaged")
            self.data[section] = value

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.data[section]

    def save(self) -> None:
        """Write the state durably (temporary file, fsync, rename)."""
        data = json.dumps(self.data, indent=2).encode()
        self.directory.write(self.path.name, data, mode=0o600)
