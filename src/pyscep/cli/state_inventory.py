"""Deprecated: moved to `pyscep.server.stores.inventory` (this path goes in pyscep 0.3)."""

from __future__ import annotations

from pyscep._deprecation import moved


def __getattr__(name: str) -> object:
    return moved(__name__, "pyscep.server.stores.inventory", name)
