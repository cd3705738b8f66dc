"""Deprecated: moved to `pyscep.server.stores` (this path goes in pyscep 0.3).

The store contract and `open_state` went to `pyscep.server.stores`, the row
codec and SQL dialects to `pyscep.server.stores.rows`.
"""

from __future__ import annotations

from pyscep._deprecation import moved

#: The names that went to the package front (the rest went to its ``rows``).
_TO_FRONT = {"ServerState": "ServerStore", "open_state": "open_state"}


def __getattr__(name: str) -> object:
    if name in _TO_FRONT:
        return moved(__name__, "pyscep.server.stores", name, _TO_FRONT)
    return moved(__name__, "pyscep.server.stores.rows", name)
