"""The HTTP side of SCEP, as pure values and functions (no networking).

- `pyscep.http.encoding`: the GET ``message=`` encoding (tolerant decode,
  strict encode);
- `pyscep.http.operations`: operations, content types, `HTTPRequest` and
  `HTTPResponse` values, what a client sends and what a server received.

``HttpRequest`` and ``HttpResponse`` are the deprecated spellings of
`HTTPRequest` and `HTTPResponse` (importable, with a DeprecationWarning).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyscep._deprecation import renamed

from .encoding import (
    MAX_GET_MESSAGE_LENGTH,
    decode_get_message,
    encode_get_message,
    query_parameter,
)
from .operations import (
    _RENAMED,
    CONTENT_TYPE_CA_CERT,
    CONTENT_TYPE_CA_RA_CERT,
    CONTENT_TYPE_CAPS,
    CONTENT_TYPE_NEXT_CA_CERT,
    CONTENT_TYPE_PKI_MESSAGE,
    MAX_BODY_SIZE,
    HTTPRequest,
    HTTPResponse,
    Operation,
    ResponseKind,
    ScepRequest,
    classify_response,
    client_request,
    read_request,
    route_of,
)

if TYPE_CHECKING:  # the old names type-check as the new ones; at run time they warn
    from .operations import HttpRequest as HttpRequest
    from .operations import HttpResponse as HttpResponse

__all__ = [
    "CONTENT_TYPE_CAPS",
    "CONTENT_TYPE_CA_CERT",
    "CONTENT_TYPE_CA_RA_CERT",
    "CONTENT_TYPE_NEXT_CA_CERT",
    "CONTENT_TYPE_PKI_MESSAGE",
    "MAX_BODY_SIZE",
    "MAX_GET_MESSAGE_LENGTH",
    "HTTPRequest",
    "HTTPResponse",
    "Operation",
    "ResponseKind",
    "ScepRequest",
    "classify_response",
    "client_request",
    "decode_get_message",
    "encode_get_message",
    "query_parameter",
    "read_request",
    "route_of",
]


def __getattr__(name: str) -> object:
    """The deprecated spellings (`HttpRequest`, `HttpResponse`), for one release."""
    return renamed(__name__, name, _RENAMED, globals())
