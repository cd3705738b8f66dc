"""The reference SCEP server: the responder's application, a file CA, shared state.

Deploy it under gunicorn or uvicorn with the factories, configured by the
``PYSCEP_*`` variables (`options_from_environment`)::

    gunicorn --workers 4 'pyscep.server:wsgi_from_environment()'
    uvicorn --factory pyscep.server:asgi_from_environment

or embed it: ``ReferenceServer(ServeOptions(...)).handle`` answers one HTTP
request. `Operator` holds the operator's actions (``pyscep serve list``,
``approve``, ``reject``, ``challenge``, ``revoke``); the stores are in
`pyscep.server.stores`.
"""

from __future__ import annotations

from .app import IssuanceTerms, ReferenceServer
from .config import (
    BODY_TIMEOUT,
    MAX_VALIDITY_DAYS,
    ServeConfigError,
    ServeOptions,
    check_options,
    options_from_environment,
)
from .deploy import asgi_from_environment, http_server, wsgi_from_environment
from .file_ca import CA_KEY_TYPES, CAConfigError, FileCA
from .operator import Operator, describe_pending

__all__ = [
    "BODY_TIMEOUT",
    "CA_KEY_TYPES",
    "MAX_VALIDITY_DAYS",
    "CAConfigError",
    "FileCA",
    "IssuanceTerms",
    "Operator",
    "ReferenceServer",
    "ServeConfigError",
    "ServeOptions",
    "asgi_from_environment",
    "check_options",
    "describe_pending",
    "http_server",
    "options_from_environment",
    "wsgi_from_environment",
]
