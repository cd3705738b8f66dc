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

Every change is written durably before the step it guards is taken.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .durable import write_durably
from .monitor_config import MonitorConfigError

__all__ = ["MonitorState", "state_path"]

_SECTIONS = ("pending", "swaps", "next_ca", "ca_pin")


def state_path(config: Path) -> Path:
    """Where the state of ``config`` is kept."""
    return config.with_name(config.name + ".state.json")


class MonitorState:
    """The state file's sections, each a dict by keystore name."""

    def __init__(self, config: Path) -> None:
        self.path = state_path(config)
        self.data: dict[str, dict[str, Any]] = {section: {} for section in _SECTIONS}
        if not self.path.exists():
            return
        try:
            loaded = json.loads(self.path.read_text())
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
            self.data[section] = value

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.data[section]

    def save(self) -> None:
        """Write the state durably (temporary file, fsync, rename)."""
        write_durably(self.path, json.dumps(self.data, indent=2).encode(), mode=0o600)
