"""Deprecated: moved to `pyscep._appkit.keys` (this path goes in pyscep 0.3)."""

from __future__ import annotations

from typing import Any

from pyscep._deprecation import moved


def __getattr__(name: str) -> Any:
    return moved(__name__, "pyscep._appkit.keys", name)
