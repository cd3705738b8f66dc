"""The reference SCEP server: the responder's application, a file CA, shared state.

Deploy it under gunicorn or uvicorn with the factories, configured by the
``PYSCEP_*`` variables (`options_from_environment`)::

    gunicorn --workers 4 'pyscep.server:wsgi_from_environment()'
    uvicorn --factory pyscep.server:asgi_from_environment

or embed it: ``ReferenceServer(ServeOptions(...)).handle`` answers one HTTP
request. `Operator` holds the operator's actions (``pyscep serve list``,
``approve``, ``reject``, ``challenge``, ``revoke``, ``crl``); the stores
are in `pyscep.server.stores`. The CA's CRL is served by GetCRL and at
`CRL_PATH` (or the path of ``--crl-url``), the same on every host (`current_crl`).
"""

from __future__ import annotations

from .admin import AdminApplication
from .app import IssuanceTerms, ReferenceServer
from .config import (
    BODY_TIMEOUT,
    MAX_CRL_DAYS,
    MAX_VALIDITY_DAYS,
    ServeConfigError,
    ServeOptions,
    check_options,
)
from .deploy import (
    admin_wsgi_from_environment,
    asgi_from_environment,
    http_server,
    log_decisions_to_stderr,
    wsgi_from_environment,
)
from .file_ca import CA_KEY_TYPES, CAConfigError, FileCA
from .metrics import ServerMetrics
from .operator import Imported, Operator, describe_pending
from .revocation import CRL_PATH, current_crl
from .settings import Listening, Settings, load_settings, options_from_environment

__all__ = [
    "BODY_TIMEOUT",
    "CA_KEY_TYPES",
    "CRL_PATH",
    "MAX_CRL_DAYS",
    "MAX_VALIDITY_DAYS",
    "AdminApplication",
    "CAConfigError",
    "FileCA",
    "Imported",
    "IssuanceTerms",
    "Listening",
    "Operator",
    "ReferenceServer",
    "ServeConfigError",
    "ServeOptions",
    "ServerMetrics",
    "Settings",
    "admin_wsgi_from_environment",
    "asgi_from_environment",
    "check_options",
    "current_crl",
    "describe_pending",
    "http_server",
    "load_settings",
    "log_decisions_to_stderr",
    "options_from_environment",
    "wsgi_from_environment",
]
