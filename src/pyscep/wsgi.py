"""Transport adapters: a SCEP handler as a WSGI or an ASGI application.

The handler is the application's: ``handler(method, path, query, body)``
returns an `HttpResponse` (usually by calling `ScepResponder.receive` and
deciding on the event). These adapters only move bytes: they read the body
up to `MAX_BODY_SIZE` (a bigger or chunked-without-length body is refused
with 413 / 411 before it is read), and write status, Content-Type and
Content-Length. gunicorn runs the WSGI one, uvicorn the ASGI one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from pyscep.http import MAX_BODY_SIZE, HttpResponse

__all__ = ["Handler", "asgi_application", "wsgi_application"]

#: What the application supplies: method, path, raw query string, body -> response.
Handler = Callable[[str, str, str, bytes], HttpResponse]

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 411: "Length Required"}
_REASONS.update({413: "Content Too Large", 500: "Internal Server Error"})


def _too_large() -> HttpResponse:
    return HttpResponse(413, "text/plain", b"request too large\n")


def _status_line(status: int) -> str:
    return f"{status} {_REASONS.get(status, 'Status')}"


def wsgi_application(handler: Handler) -> Callable[..., Iterable[bytes]]:
    """A WSGI application (PEP 3333) around ``handler``."""

    def application(
        environ: dict[str, Any], start_response: Callable[..., object]
    ) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET"))
        response = _read_and_handle(handler, environ, method)
        start_response(_status_line(response.status), list(response.headers))
        return [response.body]

    return application


def _read_and_handle(handler: Handler, environ: dict[str, Any], method: str) -> HttpResponse:
    body = b""
    if method == "POST":
        length_text = str(environ.get("CONTENT_LENGTH") or "")
        if not length_text.isdigit():
            return HttpResponse(411, "text/plain", b"Content-Length required\n")
        length = int(length_text)
        if length > MAX_BODY_SIZE:
            return _too_large()
        body = environ["wsgi.input"].read(length)
    path = str(environ.get("PATH_INFO", "/"))
    return handler(method, path, str(environ.get("QUERY_STRING", "")), body)


Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def asgi_application(handler: Handler) -> Callable[..., Awaitable[None]]:
    """An ASGI application (HTTP scope) around ``handler``, run in a worker thread."""

    async def application(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method = str(scope.get("method", "GET"))
        body, response = b"", None
        while True:
            event = await receive()
            body += event.get("body", b"")
            if len(body) > MAX_BODY_SIZE:
                response = _too_large()
                break
            if not event.get("more_body", False):
                break
        if response is None:
            path = str(scope.get("path", "/"))
            query = bytes(scope.get("query_string", b"")).decode("latin-1")
            # Public-key operations block: keep them off the event loop.
            response = await asyncio.to_thread(handler, method, path, query, body)
        headers = [(k.lower().encode(), v.encode()) for k, v in response.headers]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    return application
