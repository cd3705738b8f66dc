"""Pure HTTP helpers (no I/O): the GET ``message=`` encoding (RFC 8894 section 4.1).

RFC 8894 wants standard base64 (RFC 4648 section 4) with RFC 3986 escaping.
Real clients differ: sscep and strongSwan break lines every 64 characters
(sent as ``%0A``), certmonger escapes ``+ / =``, macOS leaves ``+`` bare (a
form decoder turns it into a space), some use the URL-safe alphabet.
`decode_get_message` reads all of those; `encode_get_message` writes the RFC form.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import quote

from pyscep.errors import LimitExceededError, ParseError

__all__ = ["MAX_GET_MESSAGE_LENGTH", "decode_get_message", "encode_get_message", "query_parameter"]

#: Longest ``message=`` value accepted, before decoding (real ones are under 8 KiB).
MAX_GET_MESSAGE_LENGTH = 2 * 1024 * 1024
_BASE64 = re.compile(r"[A-Za-z0-9+/=]*\Z")


def encode_get_message(der: bytes) -> str:
    """Standard base64 on one line, percent-escaped for a query string."""
    return quote(base64.b64encode(der).decode("ascii"), safe="")


#: The percent-escapes a base64 ``message=`` value can hold (RFC 3986 for
#: ``+ / =``, and the line breaks and spaces clients insert), by what they stand for.
_ESCAPES = {
    "2B": "+",
    "2F": "/",
    "3D": "=",
    "0A": "",
    "0D": "",
    "09": "",
    "20": "+",  # an escaped space was a "+" a form encoder turned into a space
}
#: Any "%" that does not start one of those escapes.
_OTHER_ESCAPE = re.compile(r"%(?!2[Bb]|2[Ff]|3[Dd]|0[AaDd9]|20)")


def decode_get_message(value: str) -> bytes:
    """Decode a ``message=`` value as real clients send it; ParseError otherwise.

    Bounded before anything is decoded: the value's length is checked first,
    and only the escapes base64 text can contain are undone (linear, in C).
    """
    if len(value) > MAX_GET_MESSAGE_LENGTH:
        raise LimitExceededError("GET message parameter too long")
    other = _OTHER_ESCAPE.search(value)
    if other is not None:
        raise ParseError(
            f"GET message parameter holds {value[other.start() : other.start() + 3]!r}, not base64"
        )
    text = value
    for escape, replacement in _ESCAPES.items():
        text = text.replace("%" + escape, replacement).replace("%" + escape.lower(), replacement)
    # A bare "+" decoded by a form parser arrives as a space: it was a "+".
    text = text.replace(" ", "+")
    text = re.sub(r"[\r\n\t]", "", text)
    text = text.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text.rstrip("=")) % 4) if "=" not in text else ""
    if not _BASE64.match(text):
        raise ParseError("GET message parameter is not base64")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ParseError("GET message parameter is not valid base64") from None


def query_parameter(target: str, name: str) -> str | None:
    """The raw (still percent-encoded) value of ``name`` in a query string, request
    target (``/scep?operation=...``) or request line (``GET /scep?... HTTP/1.1``)."""
    words = target.split()
    if len(words) > 1:  # a request line: METHOD TARGET [VERSION]
        words = words[1:2]
    text = words[0] if words else ""
    query = text.split("?", 1)[1] if "?" in text else text
    for part in query.split("&"):
        key, _, raw = part.partition("=")
        if key == name:
            return raw
    return None
