"""Hostile HTTP servers on loopback, written at the socket level: what no WSGI server sends
(a broken chunked body, an answer dripped a byte at a time)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["BROKEN_CHUNKED_500", "drip", "raw_server"]

#: An HTTP 500 whose chunked body breaks off: a chunk size that is no number.
BROKEN_CHUNKED_500 = (
    b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n"
)


def drip(every: float) -> Callable[[socket.socket, threading.Event], None]:
    """An answer whose headers come at once, its body one byte each ``every`` seconds."""

    def answer(connection: socket.socket, stop: threading.Event) -> None:
        connection.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n"
        )
        while not stop.wait(every):
            connection.sendall(b"A")

    return answer


@contextmanager
def raw_server(answer: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """Each connection's request read (up to its blank line), then ``answer`` writes what it
    likes until it returns or the server stops; yields the URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)  # accept() wakes to see the stop
    stop = threading.Event()

    def one(connection: socket.socket) -> None:
        with connection:
            try:
                received = b""
                while b"\r\n\r\n" not in received:
                    chunk = connection.recv(4096)
                    if not chunk:
                        return
                    received += chunk
                answer(connection, stop)
            except OSError:  # the client went away
                return

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=one, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/scep"
    finally:
        stop.set()
        thread.join(5)
        listener.close()
