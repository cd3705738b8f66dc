"""An NDES-style one-time password page: ``/certsrv/mscep_admin/``, as NDES serves it.

MDM connectors (Fleet, Jamf, Palo Alto's GlobalProtect, zentral, PSNDESEnrollment)
fetch a challenge password from NDES's ``mscep_admin`` page and hand it to the
device. This page has NDES's shape, so they get a pyscep one-time challenge
unchanged: UTF-16LE HTML with a byte-order mark, "The enrollment challenge password
is: <B> 8CE317021F690069 </B>", sixteen upper-case hexadecimal digits (the
connectors' parsers look for exactly that: ``[A-F0-9]{16}``, ``[A-Z0-9]{16,32}``,
or whatever follows ``<B>``).

No NTLM: HTTP Basic or a bearer token, from a file only its owner may read, and only
over TLS (the request's scheme is ``https``). Each page issues a new challenge
valid once, for ``ttl`` (NDES's default is an hour).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from datetime import timedelta
from html import escape
from pathlib import Path

from pyscep._appkit.durable import UnsafeFileError, read_secret_lines
from pyscep.certificate import Certificate
from pyscep.http import HTTPResponse
from pyscep.protocol.challenges import require_secret

from .config import ServeConfigError

__all__ = [
    "MSCEP_ADMIN_PATH",
    "NDES_CHALLENGE_ALPHABET",
    "NDES_CHALLENGE_LENGTH",
    "NdesAdminCredentials",
    "is_mscep_admin",
    "load_ndes_admin_credentials",
    "mscep_admin_page",
    "unauthorized",
]

#: Where NDES serves the page (with or without the trailing slash).
MSCEP_ADMIN_PATH = "/certsrv/mscep_admin"
#: What NDES's passwords are made of, and how long they are: what connectors parse.
NDES_CHALLENGE_ALPHABET = "0123456789ABCDEF"
NDES_CHALLENGE_LENGTH = 16


@dataclass(frozen=True)
class NdesAdminCredentials:
    """Who may fetch a password: HTTP Basic users and passwords, and bearer tokens."""

    basic: tuple[tuple[str, str], ...] = ()
    tokens: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.basic and not self.tokens:
            raise ServeConfigError("the mscep_admin credentials name nobody")
        for user, password in self.basic:
            require_secret(password, f"the mscep_admin password of {user!r}")
        for token in self.tokens:
            require_secret(token, "an mscep_admin token")

    def admit(self, authorization: str | None) -> bool:
        """Does the ``Authorization`` header name one of these? Every candidate is
        compared in constant time, so the time taken says nothing of which came close."""
        if authorization is None:
            return False
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        admitted = False
        if scheme.lower() == "basic":
            try:
                user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            if not sep:
                return False
            for known_user, known_password in self.basic:
                same_user = hmac.compare_digest(user.encode(), known_user.encode())
                same_password = hmac.compare_digest(password.encode(), known_password.encode())
                admitted |= same_user and same_password
        elif scheme.lower() == "bearer":
            for token in self.tokens:
                admitted |= hmac.compare_digest(value.encode(), token.encode())
        return admitted


def load_ndes_admin_credentials(path: Path) -> NdesAdminCredentials:
    """The credentials file: ``basic USER:PASSWORD`` and ``bearer TOKEN`` lines (``#``
    comments); a file others may read, an empty secret, or another line is refused."""
    try:
        lines = read_secret_lines(path, "the mscep_admin credentials")
    except UnsafeFileError as exc:
        raise ServeConfigError(str(exc)) from None
    basic: list[tuple[str, str]] = []
    tokens: list[str] = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        kind, _, secret = text.partition(" ")
        secret = secret.strip()
        if kind == "basic" and ":" in secret:
            user, _, password = secret.partition(":")
            basic.append((user, password))
        elif kind == "bearer" and secret:
            tokens.append(secret)
        else:
            raise ServeConfigError(
                f"{path}, line {number}: write 'basic USER:PASSWORD' or 'bearer TOKEN'"
            )
    try:
        return NdesAdminCredentials(tuple(basic), tuple(tokens))
    except ServeConfigError:
        raise
    except Exception as exc:  # require_secret's LocalProtocolError, said of the file
        raise ServeConfigError(f"{path}: {exc}") from None


def mscep_admin_page(password: str, ca_certificate: Certificate, ttl: timedelta) -> HTTPResponse:
    """The page NDES answers with a new password: UTF-16LE with a byte-order mark, as
    NDES sends it (the connectors decode it so), the CA's thumbprint in groups of eight
    hexadecimal digits, and how long the password lives."""
    thumbprint = ca_certificate.sha256_fingerprint.hex().upper()
    groups = " ".join(thumbprint[i : i + 8] for i in range(0, len(thumbprint), 8))
    minutes = max(1, int(ttl.total_seconds() // 60))
    html = (
        '<HTML><Head><Meta HTTP-Equiv="Content-Type" Content="text/html; charset=UTF-16">'
        "<Title>Network Device Enrollment Service</Title></Head><Body BgColor=#FFFFFF>"
        "<P> Network Device Enrollment Service allows you to obtain certificates for routers"
        " or other network devices using the Simple Certificate Enrollment Protocol (SCEP)."
        " </P><P> To complete certificate enrollment for your network device you will need"
        " the following information: <P> The thumbprint (hash value) for the CA certificate"
        f" is: <B> {escape(groups)} </B> <P> The enrollment challenge password is:"
        f" <B> {escape(password)} </B> <P> This password can be used only once and will"
        f" expire within {minutes} minutes. <P> Each enrollment requires a new challenge"
        " password. You can refresh this web page to obtain a new challenge password. </P>"
        "</Body></HTML>"
    )
    # The byte-order mark, then little-endian, whatever this machine's byte order.
    return HTTPResponse(200, "text/html; charset=utf-16", b"\xff\xfe" + html.encode("utf-16-le"))


def is_mscep_admin(path: str) -> bool:
    """Is ``path`` the page's (any case, with or without the trailing slash)?"""
    return path.rstrip("/").lower() == MSCEP_ADMIN_PATH


def unauthorized() -> HTTPResponse:
    """401, asking for Basic credentials (clients that wait to be asked, PowerShell's
    ``Invoke-WebRequest -Credential`` among them, send them then)."""
    return HTTPResponse(
        401,
        "text/plain",
        b"credentials required\n",
        (("WWW-Authenticate", 'Basic realm="mscep_admin", charset="UTF-8"'),),
    )
