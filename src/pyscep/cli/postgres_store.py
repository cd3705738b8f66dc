"""Deprecated: moved to `pyscep.server.stores.postgres` (this path goes in pyscep 0.3)."""

from __future__ import annotations

from pyscep._deprecation import moved

#: The names renamed on the way.
_RENAMED = {
    "PostgresTransactions": "PostgresStore",
}


def __getattr__(name: str) -> object:
    return moved(__name__, "pyscep.server.stores.postgres", name, _RENAMED)
