"""Running the reference server: the factories for gunicorn and uvicorn, and a small
threaded HTTP server of its own (``pyscep serve``).

    gunicorn --workers 4 'pyscep.server:wsgi_from_environment()'
    uvicorn --factory pyscep.server:asgi_from_environment

The factories read the ``PYSCEP_*`` variables (`options_from_environment`); a bad
value stops the worker with a `ServeConfigError` saying what is wrong.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from pyscep.wsgi import asgi_application, wsgi_application

from .app import ReferenceServer
from .config import BODY_TIMEOUT, options_from_environment

__all__ = ["asgi_from_environment", "http_server", "wsgi_from_environment"]


def wsgi_from_environment() -> Callable[..., Iterable[bytes]]:
    """The WSGI application, configured from ``PYSCEP_*`` variables (for gunicorn)."""
    return wsgi_application(ReferenceServer(options_from_environment()).handle)


def asgi_from_environment() -> Callable[..., Awaitable[None]]:
    """The ASGI application, configured from ``PYSCEP_*`` variables (``uvicorn --factory``)."""
    return asgi_application(ReferenceServer(options_from_environment()).handle)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    # A client that stops sending its request is cut off, not waited for forever.
    timeout = BODY_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        return  # every decision is logged by the application, with its reason


def http_server(
    server: ReferenceServer, host: str, port: int, *, body_timeout: float = BODY_TIMEOUT
) -> WSGIServer:
    """A threaded HTTP server for ``server`` on ``host``:``port`` (0: any free port), bound
    and not yet serving (``serve_forever``); a client gets ``body_timeout`` seconds to
    send its request."""
    handler = type("_Handler", (_QuietHandler,), {"timeout": body_timeout})
    return make_server(
        host,
        port,
        wsgi_application(server.handle),
        server_class=_ThreadingServer,
        handler_class=handler,
    )
