"""Running the reference server: the factories for gunicorn and uvicorn, and a small
threaded HTTP server of its own (``pyscep serve``).

    gunicorn --workers 4 'pyscep.server:wsgi_from_environment()'
    uvicorn --factory pyscep.server:asgi_from_environment

The factories read the ``PYSCEP_*`` variables and the file ``PYSCEP_CONFIG`` names
(`options_from_environment`); a bad value stops the worker with a `ServeConfigError`
saying what is wrong. They write each decision as one JSON line on stderr (the
``pyscep.decisions`` logger), where gunicorn and uvicorn keep their error log.
`admin_wsgi_from_environment` is the admin port's application (health, readiness,
metrics) for a gunicorn of its own.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from pyscep.http import HTTPResponse
from pyscep.wsgi import (
    asgi_application_with_headers,
    wsgi_application,
    wsgi_application_with_headers,
)

from .admin import AdminApplication
from .app import ReferenceServer, decisions
from .config import BODY_TIMEOUT
from .settings import options_from_environment

__all__ = [
    "admin_wsgi_from_environment",
    "asgi_from_environment",
    "http_server",
    "log_decisions_to_stderr",
    "wsgi_from_environment",
]

_Handle = Callable[[str, str, str, bytes], HTTPResponse]


def log_decisions_to_stderr() -> None:
    """Each decision as one JSON line on stderr, unless the ``pyscep.decisions`` logger
    is configured already (by the application's own logging)."""
    if not decisions.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        decisions.addHandler(handler)
        decisions.setLevel(logging.INFO)
        decisions.propagate = False


def wsgi_from_environment() -> Callable[..., Iterable[bytes]]:
    """The WSGI application, configured from ``PYSCEP_*`` variables (for gunicorn)."""
    log_decisions_to_stderr()
    server = ReferenceServer(options_from_environment())
    return wsgi_application_with_headers(server.handle_with_headers, server.REQUEST_HEADERS)


def asgi_from_environment() -> Callable[..., Awaitable[None]]:
    """The ASGI application, configured from ``PYSCEP_*`` variables (``uvicorn --factory``)."""
    log_decisions_to_stderr()
    server = ReferenceServer(options_from_environment())
    return asgi_application_with_headers(server.handle_with_headers, server.REQUEST_HEADERS)


def admin_wsgi_from_environment() -> Callable[..., Iterable[bytes]]:
    """The admin port's WSGI application (``/healthz``, ``/readyz``, ``/metrics``) for the
    server the ``PYSCEP_*`` variables configure, to run with one gunicorn worker of its own;
    with ``PROMETHEUS_MULTIPROC_DIR`` set for it and the server's workers, ``/metrics``
    adds up every worker's counts."""
    server = ReferenceServer(options_from_environment(), create=False)
    return wsgi_application(AdminApplication(server).handle)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    # A client that stops sending its request is cut off, not waited for forever.
    timeout = BODY_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        return  # every decision is logged by the application, with its reason


def http_server(
    server: ReferenceServer | AdminApplication | _Handle,
    host: str,
    port: int,
    *,
    body_timeout: float = BODY_TIMEOUT,
) -> WSGIServer:
    """A threaded HTTP server for ``server`` (a `ReferenceServer`, its `AdminApplication`,
    or any handler) on ``host``:``port`` (0: any free port), bound and not yet serving
    (``serve_forever``); a client gets ``body_timeout`` seconds to send its request."""
    if isinstance(server, ReferenceServer):
        # Its mscep_admin page reads headers (and, served here without TLS, refuses).
        application = wsgi_application_with_headers(
            server.handle_with_headers, server.REQUEST_HEADERS
        )
    else:
        application = wsgi_application(server if callable(server) else server.handle)
    handler = type("_Handler", (_QuietHandler,), {"timeout": body_timeout})
    return make_server(
        host,
        port,
        application,
        server_class=_ThreadingServer,
        handler_class=handler,
    )
