"""The HTTP side of SCEP, as pure values and functions (no networking).

- `pyscep.http.encoding`: the GET ``message=`` encoding (tolerant decode,
  strict encode);
- `pyscep.http.operations`: operations, content types, `HttpRequest` and
  `HttpResponse` values, what a client sends and what a server received.
"""

from .encoding import (
    MAX_GET_MESSAGE_LENGTH,
    decode_get_message,
    encode_get_message,
    query_parameter,
)
from .operations import (
    CONTENT_TYPE_CA_CERT,
    CONTENT_TYPE_CA_RA_CERT,
    CONTENT_TYPE_CAPS,
    CONTENT_TYPE_NEXT_CA_CERT,
    CONTENT_TYPE_PKI_MESSAGE,
    MAX_BODY_SIZE,
    HttpRequest,
    HttpResponse,
    Operation,
    ResponseKind,
    ScepRequest,
    classify_response,
    client_request,
    read_request,
    route_of,
)

__all__ = [
    "CONTENT_TYPE_CAPS",
    "CONTENT_TYPE_CA_CERT",
    "CONTENT_TYPE_CA_RA_CERT",
    "CONTENT_TYPE_NEXT_CA_CERT",
    "CONTENT_TYPE_PKI_MESSAGE",
    "MAX_BODY_SIZE",
    "MAX_GET_MESSAGE_LENGTH",
    "HttpRequest",
    "HttpResponse",
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
