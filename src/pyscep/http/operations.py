"""The pure mapping between SCEP operations and HTTP values (RFC 8894 section 4).

No networking, and nothing about the scheme: HTTPS, proxies and
authentication stay the transport's. A client turns an operation into an
`HTTPRequest` (`client_request`) and learns from a response's status and
Content-Type which parser its body needs (`classify_response`); a server
turns what arrived into a `ScepRequest` (`read_request`) or a precise error,
and answers with an `HTTPResponse`. Decoding is tolerant of what real
clients send, encoding is strict.
"""

from __future__ import annotations

import base64
import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from pyscep._deprecation import renamed
from pyscep.errors import ParseError, RemoteProtocolError

from .encoding import MAX_GET_MESSAGE_LENGTH, decode_get_message

__all__ = [
    "CONTENT_TYPE_CAPS",
    "CONTENT_TYPE_CA_CERT",
    "CONTENT_TYPE_CA_RA_CERT",
    "CONTENT_TYPE_NEXT_CA_CERT",
    "CONTENT_TYPE_PKI_MESSAGE",
    "MAX_BODY_SIZE",
    "HTTPRequest",
    "HTTPResponse",
    "Operation",
    "ResponseKind",
    "ScepRequest",
    "classify_response",
    "client_request",
    "read_request",
    "route_of",
]

CONTENT_TYPE_CAPS = "text/plain"
CONTENT_TYPE_CA_CERT = "application/x-x509-ca-cert"
CONTENT_TYPE_CA_RA_CERT = "application/x-x509-ca-ra-cert"
CONTENT_TYPE_NEXT_CA_CERT = "application/x-x509-next-ca-cert"
CONTENT_TYPE_PKI_MESSAGE = "application/x-pki-message"
#: Largest request or response body read (a pkiMessage is a few KiB; step-ca takes 2 MiB).
MAX_BODY_SIZE = 1 << 20


class Operation(str, enum.Enum):
    """The ``operation=`` values of RFC 8894 section 4."""

    GET_CA_CAPS = "GetCACaps"
    GET_CA_CERT = "GetCACert"
    GET_NEXT_CA_CERT = "GetNextCACert"
    PKI_OPERATION = "PKIOperation"


_OPERATIONS = {op.value.lower(): op for op in Operation}
# Draft-era and vendor clients name the pkiMessage operation after its type.
_OPERATIONS.update({"getcertinitial": Operation.PKI_OPERATION, "certpoll": Operation.PKI_OPERATION})


@dataclass(frozen=True)
class HTTPRequest:
    """An HTTP request as values: what a client sends, or what a server received.

    ``query`` holds decoded (name, value) pairs; `target` encodes them.
    """

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def target(self) -> str:
        """Path and RFC 3986-escaped query, as the request line carries them."""
        if not self.query:
            return self.path
        pairs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in self.query)
        return f"{self.path}?{pairs}"


@dataclass(frozen=True)
class HTTPResponse:
    """An HTTP response as values: status, Content-Type and body."""

    status: int
    content_type: str
    body: bytes = b""
    #: Any other header (``WWW-Authenticate`` on a 401, say), as (name, value) pairs.
    extra_headers: tuple[tuple[str, str], ...] = ()

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """The headers a server sends with it."""
        return (
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(self.body))),
            *self.extra_headers,
        )


def client_request(
    operation: Operation,
    *,
    path: str = "/scep",
    message: bytes | None = None,
    use_post: bool = False,
    ca_identifier: str | None = None,
) -> HTTPRequest:
    """The HTTP request for ``operation``.

    A PKIOperation goes by POST as raw DER (``use_post``, when the CA
    advertises POSTPKIOperation) or by GET as ``message=`` standard base64;
    GetCACert and GetNextCACert may name a CA (``ca_identifier``).
    """
    query: list[tuple[str, str]] = [("operation", operation.value)]
    if operation is Operation.PKI_OPERATION:
        if message is None:
            raise ValueError("a PKIOperation carries a message")
        if use_post:
            headers = (("Content-Type", CONTENT_TYPE_PKI_MESSAGE),)
            return HTTPRequest("POST", path, tuple(query), message, headers)
        # Kept unescaped here: `target` applies RFC 3986 escaping once.
        query.append(("message", _unescaped_base64(message)))
    elif ca_identifier is not None:
        query.append(("message", ca_identifier))
    return HTTPRequest("GET", path, tuple(query))


def _unescaped_base64(message: bytes) -> str:
    return base64.b64encode(message).decode("ascii")


@dataclass(frozen=True)
class ScepRequest:
    """What a server received, understood: the operation, its route and its message."""

    operation: Operation
    #: The URL path without its program name (``/pkiclient.exe``, ``/mscep.dll``).
    route: str
    #: PKIOperation: the pkiMessage DER. GetCACert / GetNextCACert: the CA
    #: identifier some clients send, as bytes. None otherwise.
    message: bytes | None = None
    #: How the pkiMessage came (``GET`` or ``POST``), so replies can be logged alike.
    method: str = "GET"


#: The program names clients append to the SCEP path: Cisco's and sscep's
#: ``pkiclient.exe``, and NDES's ``mscep.dll`` (``/certsrv/mscep/mscep.dll``).
_PROGRAM_NAMES = ("/pkiclient.exe", "/mscep.dll")


def route_of(path: str) -> str:
    """The route key of a path: trailing slashes and a program name (``/pkiclient.exe``,
    NDES's ``/mscep.dll``) dropped."""
    route = path.split("?", 1)[0].rstrip("/")
    for program in _PROGRAM_NAMES:
        if route.lower().endswith(program):
            route = route[: -len(program)]
            break
    return route or "/"


def read_request(method: str, path: str, query: str, body: bytes = b"") -> ScepRequest:
    """Understand an incoming request; RemoteProtocolError (answer HTTP 400) if it is not SCEP.

    ``query`` is the raw query string. Operation names are matched without
    regard to case; a GET ``message=`` is decoded tolerantly (see
    `decode_get_message`).
    """
    method = method.upper()
    if method not in ("GET", "POST"):
        raise RemoteProtocolError(f"method {method} is not used by SCEP")
    if len(body) > MAX_BODY_SIZE or len(query) > MAX_GET_MESSAGE_LENGTH + 256:
        raise RemoteProtocolError("request too large")
    values = _query(query)
    name = values.get("operation")
    if name is None:
        raise RemoteProtocolError("no operation= in the query")
    operation = _OPERATIONS.get(name.lower())
    if operation is None:
        raise RemoteProtocolError(f"unknown operation {name[:40]!r}")
    route = route_of(path)
    raw_message = values.get("message")
    if operation is not Operation.PKI_OPERATION:
        identifier = None if raw_message is None else _percent_decoded(raw_message).encode()
        return ScepRequest(operation, route, identifier, method)
    if method == "POST":
        if not body:
            raise RemoteProtocolError("a POST PKIOperation without a body")
        return ScepRequest(operation, route, body, method)
    if raw_message is None:
        raise RemoteProtocolError("a GET PKIOperation without message=")
    try:
        der = decode_get_message(raw_message)
    except ParseError as exc:
        raise RemoteProtocolError(str(exc)) from None
    return ScepRequest(operation, route, der, method)


def _query(query: str) -> dict[str, str]:
    """The first raw value of each parameter (still percent-encoded)."""
    values: dict[str, str] = {}
    for part in query.split("&"):
        key, _, raw = part.partition("=")
        values.setdefault(_percent_decoded(key), raw)
    return values


def _percent_decoded(text: str) -> str:
    return unquote(text[:256])


class ResponseKind(enum.Enum):
    """Which parser a response body needs."""

    CAPS = "caps"
    CA_CERTIFICATES = "ca-certificates"
    NEXT_CA_CERTIFICATES = "next-ca-certificates"
    PKI_MESSAGE = "pki-message"


_EXPECTED = {
    Operation.GET_CA_CERT: (CONTENT_TYPE_CA_CERT, CONTENT_TYPE_CA_RA_CERT),
    Operation.GET_NEXT_CA_CERT: (CONTENT_TYPE_NEXT_CA_CERT,),
    Operation.PKI_OPERATION: (CONTENT_TYPE_PKI_MESSAGE,),
}
_KINDS = {
    Operation.GET_CA_CAPS: ResponseKind.CAPS,
    Operation.GET_CA_CERT: ResponseKind.CA_CERTIFICATES,
    Operation.GET_NEXT_CA_CERT: ResponseKind.NEXT_CA_CERTIFICATES,
    Operation.PKI_OPERATION: ResponseKind.PKI_MESSAGE,
}


def classify_response(
    operation: Operation, status: int, content_type: str | None, body: bytes
) -> ResponseKind:
    """Which parser ``body`` needs; RemoteProtocolError for an HTTP error or the wrong type.

    GetCACaps is lenient as RFC 8894 asks: an HTTP error or an empty body
    means "no capabilities" (the caller parses ``b""``).
    """
    kind = _KINDS[operation]
    if operation is Operation.GET_CA_CAPS:
        return kind
    if status != 200:
        text = body[:120].decode("utf-8", "replace").strip()
        raise RemoteProtocolError(f"{operation.value}: HTTP {status} {text!r}")
    if len(body) > MAX_BODY_SIZE:
        raise RemoteProtocolError(f"{operation.value}: response body too large")
    received = (content_type or "").split(";", 1)[0].strip().lower()
    if received not in _EXPECTED[operation]:
        raise RemoteProtocolError(
            f"{operation.value}: Content-Type {received or 'missing'!r},"
            f" expected {' or '.join(_EXPECTED[operation])}"
        )
    return kind


#: Old spelling -> new name: the acronyms are all capitals, as in PKIMessage and CACaps.
_RENAMED = {"HttpRequest": "HTTPRequest", "HttpResponse": "HTTPResponse"}

if TYPE_CHECKING:  # the old names type-check as the new ones; at run time they warn
    HttpRequest = HTTPRequest
    HttpResponse = HTTPResponse


def __getattr__(name: str) -> object:
    """The deprecated spellings (`HttpRequest`, `HttpResponse`), for one release."""
    return renamed(__name__, name, _RENAMED, globals())
