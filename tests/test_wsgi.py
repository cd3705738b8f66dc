"""The WSGI and ASGI adapters: what reaches the handler, and what is refused before."""

from __future__ import annotations

import asyncio
import io
import socket
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from pyscep.http import MAX_BODY_SIZE, HTTPResponse
from pyscep.wsgi import (
    asgi_application,
    asgi_application_with_headers,
    wsgi_application,
    wsgi_application_with_headers,
)


class Recorder:
    """A handler that answers 200 and keeps what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, bytes]] = []

    def __call__(self, method: str, path: str, query: str, body: bytes) -> HTTPResponse:
        self.calls.append((method, path, query, body))
        return HTTPResponse(200, "text/plain", b"handled\n")


def _post(
    length: str | None, stream: Any, handler: Recorder | None = None
) -> tuple[str, bytes, Recorder]:
    handler = handler or Recorder()
    environ: dict[str, Any] = {"REQUEST_METHOD": "POST", "PATH_INFO": "/scep"}
    environ["QUERY_STRING"] = "operation=PKIOperation"
    environ["wsgi.input"] = stream
    if length is not None:
        environ["CONTENT_LENGTH"] = length
    statuses: list[str] = []
    body = b"".join(wsgi_application(handler)(environ, lambda s, h: statuses.append(s)))
    return statuses[0], body, handler


@pytest.mark.parametrize(
    "length",
    ["²", "١٢", "+5", "-5", "5 5", "5,5", "0x10", "1_0", "5\x00"],
    ids=["superscript", "arabic-indic", "plus", "minus", "space", "list", "hex", "underscore",
         "nul"],
)  # fmt: skip
def test_a_content_length_that_is_not_ascii_digits_is_400(length: str) -> None:
    status, body, handler = _post(length, io.BytesIO(b"x" * 20))
    assert (status, body) == ("400 Bad Request", b"Content-Length is not a number\n")
    assert handler.calls == []


def test_an_absent_content_length_is_411_and_spaces_around_one_are_not_part_of_it() -> None:
    for absent in (None, "", " "):
        status, _, handler = _post(absent, io.BytesIO(b"x"))
        assert status == "411 Length Required"
        assert handler.calls == []
    status, _, handler = _post(" 3\t", io.BytesIO(b"abcdef"))
    assert status == "200 OK"
    assert handler.calls == [("POST", "/scep", "operation=PKIOperation", b"abc")]


def test_thousands_of_digits_are_read_as_a_number_not_handed_to_int() -> None:
    # int() refuses more than 4300 digits (ValueError): these never reach it.
    status, _, handler = _post("9" * 5000, io.BytesIO(b"x"))
    assert status == "413 Content Too Large"
    assert handler.calls == []
    status, _, handler = _post("0" * 5000 + "4", io.BytesIO(b"abcdef"))
    assert status == "200 OK"
    assert handler.calls[0][3] == b"abcd"


class Stream(io.RawIOBase):
    """A wsgi.input that hands out ``parts`` a read each (raising an OSError part)."""

    def __init__(self, *parts: bytes | OSError) -> None:
        self.parts = list(parts)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if not self.parts:
            return b""
        part = self.parts.pop(0)
        if isinstance(part, OSError):
            raise part
        if 0 <= size < len(part):
            part, rest = part[:size], part[size:]
            self.parts.insert(0, rest)
        return part


def test_a_body_handed_out_in_short_reads_reaches_the_handler_whole() -> None:
    data = bytes(range(256)) * 4
    status, _, handler = _post(
        str(len(data)), Stream(*(data[i : i + 7] for i in range(0, 1024, 7)))
    )
    assert status == "200 OK"
    assert handler.calls[0][3] == data


def test_a_body_shorter_than_its_content_length_never_reaches_the_handler() -> None:
    status, body, handler = _post("100", io.BytesIO(b"x" * 50))
    assert (status, body) == (
        "400 Bad Request",
        b"the request body is shorter than its Content-Length\n",
    )
    assert handler.calls == []


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (TimeoutError("timed out"), ("408 Request Timeout",
                                     b"the request body stopped arriving\n")),
        (ConnectionResetError(104, "reset"), ("400 Bad Request",
                                              b"the request body could not be read\n")),
    ],
    ids=["timeout", "reset"],
)  # fmt: skip
def test_a_body_that_cannot_be_read_is_answered_not_raised(
    error: OSError, expected: tuple[str, bytes]
) -> None:
    status, body, handler = _post("100", Stream(b"x" * 10, error))
    assert (status, body) == expected
    assert handler.calls == []


class _QuietHandler(WSGIRequestHandler):
    timeout = 0.5  # the server's socket timeout: a body that stops is cut off

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def served() -> Iterator[tuple[int, Recorder]]:
    """The WSGI application under wsgiref, for one request."""
    handler = Recorder()
    server = make_server(
        "127.0.0.1", 0, wsgi_application(handler), WSGIServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        thread.join(10)
        server.server_close()
    assert not thread.is_alive()


@pytest.mark.parametrize(
    ("then", "expected"),
    [("waits", b"HTTP/1.0 408 Request Timeout"), ("closes", b"HTTP/1.0 400 Bad Request")],
)
def test_a_client_that_sends_half_its_body_to_wsgiref_is_answered(
    served: tuple[int, Recorder], then: str, expected: bytes
) -> None:
    port, handler = served
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        head = b"POST /scep?operation=PKIOperation HTTP/1.0\r\nContent-Length: 100\r\n\r\n"
        client.sendall(head + b"x" * 50)
        if then == "closes":
            client.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := client.recv(4096):
            answer += chunk
    assert answer.startswith(expected), answer
    assert handler.calls == []


def _run_asgi(
    handler: Recorder, events: Iterator[MutableMapping[str, Any]]
) -> tuple[list[MutableMapping[str, Any]], int]:
    """Runs one HTTP request through the ASGI application: what it sent, receives made."""
    sent: list[MutableMapping[str, Any]] = []
    received = 0

    async def receive() -> MutableMapping[str, Any]:
        nonlocal received
        received += 1
        return next(events)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def request() -> None:
        scope = {"type": "http", "method": "POST", "path": "/scep", "query_string": b"a=b"}
        await asgi_application(handler)(scope, receive, send)

    asyncio.run(request())
    return sent, received


def test_an_asgi_client_that_disconnects_mid_body_is_not_handled_nor_answered() -> None:
    handler = Recorder()
    events: list[MutableMapping[str, Any]] = [
        {"type": "http.request", "body": b"half a ", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent, received = _run_asgi(handler, iter(events))
    assert (sent, received, handler.calls) == ([], 2, [])


class CountingChunk(bytes):
    """A body chunk that counts the bytes of every concatenation it takes part in."""

    copied = 0

    def __add__(self, other: bytes) -> bytes:  # type: ignore[override]
        CountingChunk.copied += len(self) + len(other)
        return bytes(self) + bytes(other)

    def __radd__(self, other: bytes) -> bytes:
        CountingChunk.copied += len(other) + len(self)
        return bytes(other) + bytes(self)


def _chunks(count: int, size: int) -> Iterator[MutableMapping[str, Any]]:
    for index in range(count):
        body = CountingChunk(bytes([index % 256]) * size)
        yield {"type": "http.request", "body": body, "more_body": index < count - 1}


@pytest.mark.parametrize(
    ("count", "size", "receives"),
    [(20_000, 1, 20_000), (2048, 1024, MAX_BODY_SIZE // 1024 + 1)],
    ids=["twenty-thousand-bytes", "two-mib-in-kib"],
)
def test_asgi_collects_many_small_chunks_in_linear_work(
    monkeypatch: pytest.MonkeyPatch, count: int, size: int, receives: int
) -> None:
    """Appending each chunk to the body so far copies it anew (count^2 / 2 bytes)."""
    monkeypatch.setattr(CountingChunk, "copied", 0)
    handler = Recorder()
    sent, received = _run_asgi(handler, _chunks(count, size))
    assert CountingChunk.copied <= 2 * receives * size
    assert received == receives  # past the cap: refused on the chunk that passes it
    if count * size > MAX_BODY_SIZE:
        assert handler.calls == []
        assert (sent[0]["status"], sent[1]["body"]) == (413, b"request too large\n")
    else:
        assert handler.calls[0][3] == b"".join(bytes([i % 256]) * size for i in range(count))
        assert (sent[0]["status"], sent[1]["body"]) == (200, b"handled\n")


# --- handlers that read headers ----------------------------------------------------------


def _header_recorder() -> tuple[list[Any], Any]:
    seen: list[Any] = []

    def handler(
        method: str, path: str, query: str, body: bytes, headers: Mapping[str, str]
    ) -> HTTPResponse:
        seen.append(dict(headers))
        return HTTPResponse(204, "text/plain", b"", (("X-Seen", "yes"),))

    return seen, handler


def test_wsgi_passes_the_headers_asked_for_and_the_scheme() -> None:
    seen, handler = _header_recorder()
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/certsrv/mscep_admin/",
        "wsgi.url_scheme": "https",
        "HTTP_AUTHORIZATION": "Basic eDp5",
        "HTTP_COOKIE": "not=asked",
    }
    headers: list[Any] = []
    application = wsgi_application_with_headers(handler, ("Authorization",))
    b"".join(application(environ, lambda status, sent: headers.extend(sent)))
    assert seen == [{":scheme": "https", "authorization": "Basic eDp5"}]
    assert ("X-Seen", "yes") in headers
    # Nothing sent, nothing passed; the scheme always.
    b"".join(application({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, lambda s, h: None))
    assert seen[-1] == {":scheme": "http"}


def test_asgi_passes_the_headers_asked_for_and_the_scheme() -> None:
    seen, handler = _header_recorder()
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/certsrv/mscep_admin/",
        "query_string": b"",
        "scheme": "https",
        "headers": [(b"Authorization", b"Bearer t"), (b"cookie", b"not=asked")],
    }
    application = asgi_application_with_headers(handler, ("authorization",))

    async def request() -> None:
        await application(scope, receive, send)

    asyncio.run(request())
    assert seen == [{":scheme": "https", "authorization": "Bearer t"}]
    assert (b"x-seen", b"yes") in sent[0]["headers"]
