"""Transport adapters: a SCEP handler as a WSGI or an ASGI application.

The handler is the application's: ``handler(method, path, query, body)``
returns an `HTTPResponse` (usually by calling `ScepResponder.receive` and
deciding on the event). These adapters only move bytes: they read the body
up to `MAX_BODY_SIZE`, and write status, Content-Type and Content-Length.
The handler only ever sees a whole body. Refused before it is called: a POST
without a Content-Length (411), a Content-Length that is not ASCII digits
(400), a bigger body (413, before it is read); a body that ends before its
Content-Length (400) or stops arriving until the server's read times out
(408). Under ASGI a client that disconnects before its body is complete gets
no answer. gunicorn runs the WSGI one, uvicorn the ASGI one.

A handler that needs request headers (an ``Authorization``, say) is a
`HeaderHandler`, served by `wsgi_application_with_headers` and
`asgi_application_with_headers`: it gets a fifth argument, the headers it named
(lower-case) that were sent, and two facts of the connection: ``:scheme``, the scheme
the server says the request came by (which gunicorn and uvicorn take from
``X-Forwarded-Proto`` for the proxies they trust, loopback by default: a claim, not a
proof), and ``:tls``, ``connection`` only when the connection itself is TLS (gunicorn
with ``--certfile``; an ASGI server that reports the ``tls`` extension).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, MutableMapping
from typing import Any

from pyscep.http import MAX_BODY_SIZE, HTTPResponse

__all__ = [
    "Handler",
    "HeaderHandler",
    "asgi_application",
    "asgi_application_with_headers",
    "wsgi_application",
    "wsgi_application_with_headers",
]

#: What the application supplies: method, path, raw query string, body -> response.
Handler = Callable[[str, str, str, bytes], HTTPResponse]
#: A handler that also reads request headers: the fifth argument maps the lower-case
#: names it asked for (those sent) and ``:scheme`` to their values.
HeaderHandler = Callable[[str, str, str, bytes, Mapping[str, str]], HTTPResponse]

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 408: "Request Timeout"}
_REASONS.update({411: "Length Required", 413: "Content Too Large", 500: "Internal Server Error"})
_REASONS.update({401: "Unauthorized", 403: "Forbidden", 405: "Method Not Allowed"})
_DIGITS = frozenset("0123456789")


def _too_large() -> HTTPResponse:
    return HTTPResponse(413, "text/plain", b"request too large\n")


def _refused(status: int, text: str) -> HTTPResponse:
    return HTTPResponse(status, "text/plain", f"{text}\n".encode())


def _status_line(status: int) -> str:
    return f"{status} {_REASONS.get(status, 'Status')}"


def wsgi_application(handler: Handler) -> Callable[..., Iterable[bytes]]:
    """A WSGI application (PEP 3333) around ``handler``."""
    return wsgi_application_with_headers(
        lambda method, path, query, body, _: handler(method, path, query, body), ()
    )


def wsgi_application_with_headers(
    handler: HeaderHandler, names: Collection[str]
) -> Callable[..., Iterable[bytes]]:
    """A WSGI application around ``handler``, which also gets the request headers
    ``names`` (lower-case) and ``:scheme``."""
    wanted = tuple(name.lower() for name in names)

    def application(
        environ: dict[str, Any], start_response: Callable[..., object]
    ) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET"))
        headers = {":scheme": str(environ.get("wsgi.url_scheme", "http"))}
        if isinstance(environ.get("gunicorn.socket"), ssl.SSLSocket):
            headers[":tls"] = "connection"
        for name in wanted:
            value = environ.get("HTTP_" + name.upper().replace("-", "_"))
            if value is not None:
                headers[name] = str(value)
        response = _read_and_handle(handler, environ, method, headers)
        start_response(_status_line(response.status), list(response.headers))
        return [response.body]

    return application


def _content_length(text: str) -> int | HTTPResponse:
    """A Content-Length value (RFC 9110: 1*DIGIT, ASCII only), or the refusal."""
    text = text.strip(" \t")  # optional whitespace around a field value
    if not text:
        return _refused(411, "Content-Length required")
    if not _DIGITS.issuperset(text):
        # Not int(): it takes "²", "+1", " 1", "1_000" and refuses 5000 digits.
        return _refused(400, "Content-Length is not a number")
    significant = text.lstrip("0")
    if len(significant) > len(str(MAX_BODY_SIZE)):
        return _too_large()
    return int(significant or "0")


def _read_body(stream: Any, length: int) -> bytes | HTTPResponse:
    """Exactly ``length`` bytes of ``wsgi.input``, however the server hands them out."""
    body = bytearray()
    try:
        while len(body) < length:
            chunk = stream.read(length - len(body))
            if not chunk:
                break
            body += chunk
    except TimeoutError:
        return _refused(408, "the request body stopped arriving")
    except OSError:
        return _refused(400, "the request body could not be read")
    if len(body) < length:
        return _refused(400, "the request body is shorter than its Content-Length")
    return bytes(body)


def _read_and_handle(
    handler: HeaderHandler, environ: dict[str, Any], method: str, headers: Mapping[str, str]
) -> HTTPResponse:
    body = b""
    if method == "POST":
        length = _content_length(str(environ.get("CONTENT_LENGTH") or ""))
        if isinstance(length, HTTPResponse):
            return length
        if length > MAX_BODY_SIZE:
            return _too_large()
        read = _read_body(environ.get("wsgi.input"), length) if length else b""
        if isinstance(read, HTTPResponse):
            return read
        body = read
    path = str(environ.get("PATH_INFO", "/"))
    return handler(method, path, str(environ.get("QUERY_STRING", "")), body, headers)


Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def _receive_body(receive: Receive) -> bytes | HTTPResponse | None:
    """The whole body, or a 413 as soon as it grows too big; None: the client left."""
    chunks: list[bytes] = []
    size = 0
    while True:
        event = await receive()
        if event.get("type") != "http.request":
            return None  # http.disconnect before the body was complete
        chunk = bytes(event.get("body") or b"")
        size += len(chunk)
        if size > MAX_BODY_SIZE:
            return _too_large()
        if chunk:
            chunks.append(chunk)
        if not event.get("more_body", False):
            return b"".join(chunks)


def asgi_application(handler: Handler) -> Callable[..., Awaitable[None]]:
    """An ASGI application (HTTP scope) around ``handler``, run in a worker thread."""
    return asgi_application_with_headers(
        lambda method, path, query, body, _: handler(method, path, query, body), ()
    )


def asgi_application_with_headers(
    handler: HeaderHandler, names: Collection[str]
) -> Callable[..., Awaitable[None]]:
    """An ASGI application around ``handler``, which also gets the request headers
    ``names`` (lower-case) and ``:scheme``."""
    wanted = frozenset(name.lower().encode("latin-1") for name in names)

    async def application(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method = str(scope.get("method", "GET"))
        received = await _receive_body(receive)
        if received is None:
            return  # nobody is left to answer
        if isinstance(received, HTTPResponse):
            response = received
        else:
            path = str(scope.get("path", "/"))
            query = bytes(scope.get("query_string", b"")).decode("latin-1")
            sent = {":scheme": str(scope.get("scheme", "http"))}
            if "tls" in (scope.get("extensions") or {}):
                sent[":tls"] = "connection"
            for name, value in scope.get("headers", ()):
                key = bytes(name).lower()
                if key in wanted and key.decode("latin-1") not in sent:
                    sent[key.decode("latin-1")] = bytes(value).decode("latin-1")
            # Public-key operations block: keep them off the event loop.
            response = await asyncio.to_thread(handler, method, path, query, received, sent)
        headers = [(k.lower().encode(), v.encode()) for k, v in response.headers]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    return application
