"""The applications' shared I/O helpers (private: for `pyscep.server`, `pyscep.monitor`,
`pyscep.demo` and `pyscep.cli`, not a public API).

- `durable`: files written whole, never through a link (`SafeDirectory`, `write_durably`);
- `clock`: ``--now``, the time a command judges at;
- `keys`: new private keys by name, and the request that renews a certificate;
- `http`: the HTTP exchange with a SCEP server, over urllib.
"""

from __future__ import annotations

from .clock import now_or
from .durable import Directories, SafeDirectory, UnsafeFileError, append, write_durably
from .http import http_exchange
from .keys import KEY_TYPES, key_type_of, new_private_key, renewal_request

__all__ = [
    "KEY_TYPES",
    "Directories",
    "SafeDirectory",
    "UnsafeFileError",
    "append",
    "http_exchange",
    "key_type_of",
    "new_private_key",
    "now_or",
    "renewal_request",
    "write_durably",
]
