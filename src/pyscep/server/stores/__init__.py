"""Where the reference server keeps what decides: one contract, three implementations.

`ServerStore` is the contract (transactions, one-time challenges, poll
counts, serial numbers, the issued-certificate inventory, revocations with
their time and reason, and the CRLs published);
`MemoryStore`, `SqliteStore` (one machine) and `PostgresStore` (several)
keep it, and `open_state` opens the one a deployment names. Local files
hold CA material only when the state is in PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

from pyscep.errors import LocalProtocolError

from .contract import (
    PublishedCRL,
    Revocation,
    ServerState,
    ServerStore,
    StateUnavailableError,
    StoreCounts,
    revocations_digest,
)
from .inventory import StateInventory
from .memory import MemoryStore
from .postgres import PostgresStore  # psycopg is imported when one opens
from .sqlite import SqliteStore

__all__ = [
    "MemoryStore",
    "PostgresStore",
    "PublishedCRL",
    "Revocation",
    "ServerState",
    "ServerStore",
    "SqliteStore",
    "StateInventory",
    "StateUnavailableError",
    "StoreCounts",
    "open_state",
    "revocations_digest",
]


def open_state(
    state_dir: Path | None, state_url: str | None, *, create: bool = True
) -> ServerStore:
    """The PostgreSQL database at ``state_url`` (several hosts), or else SQLite in
    ``state_dir`` (one machine).

    A server creates its state (``create=True``); the operator's commands open
    only a state a server made (`StateUnavailableError` otherwise, as for a
    database that cannot be reached).
    """
    if state_url is not None:
        return PostgresStore(state_url, create=create)
    if state_dir is None:
        raise LocalProtocolError("the server's state needs a directory or a PostgreSQL URL")
    return SqliteStore(state_dir / "state.sqlite", create=create)
