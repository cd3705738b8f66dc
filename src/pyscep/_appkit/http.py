"""The one HTTP exchange of the applications that talk to a SCEP server (client, monitor, demo).

Over urllib: the sans-IO `pyscep.http.HTTPRequest` sent, the answer returned as
(status, Content-Type, body) for a `ScepClient` to judge.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from pyscep.http import HTTPRequest

__all__ = ["http_exchange"]

#: The most of a body read: a certificate chain or CRL is far smaller; an error page smaller still.
_MAX_BODY, _MAX_ERROR_BODY = 1 << 20, 1 << 16
#: Seconds a server may take to answer.
_TIMEOUT = 60


def http_exchange(base: str, request: HTTPRequest) -> tuple[int, str | None, bytes]:
    """Send ``request`` to the server at ``base``; (status, Content-Type, body).

    ConnectionError when no HTTP answer came (refused, unreachable, not HTTP).
    """
    parts = urlsplit(base)
    target = f"{parts.scheme}://{parts.netloc}{request.target}"
    http_request = urllib.request.Request(  # noqa: S310 - the user's SCEP URL
        target,
        data=request.body if request.method == "POST" else None,
        method=request.method,
        headers=dict(request.headers),
    )
    try:
        with urllib.request.urlopen(http_request, timeout=_TIMEOUT) as response:  # noqa: S310
            body = response.read(_MAX_BODY)
            # read(n) returns what came when the connection closes early; Content-Length
            # tells a body cut off (the server died mid-answer) from a complete one.
            if response.length and len(body) < _MAX_BODY:
                raise ConnectionError(
                    f"{target}: the answer was cut off after {len(body)} bytes"
                    f" of {len(body) + response.length}"
                )
            return response.status, response.headers.get("Content-Type"), body
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read(_MAX_ERROR_BODY)
        except http.client.IncompleteRead as broken:  # a broken chunked error page
            body = broken.partial
        except (OSError, http.client.HTTPException):  # cut off: the status is what came
            body = b""
        return exc.code, exc.headers.get("Content-Type"), body
    except urllib.error.URLError as exc:  # refused, unreachable, unknown host...
        raise ConnectionError(f"{target}: {exc.reason}") from None
    except http.client.HTTPException as exc:  # not HTTP at all: no OSError of its own
        raise ConnectionError(f"{target}: the answer is not HTTP ({exc!r:.80})") from None
