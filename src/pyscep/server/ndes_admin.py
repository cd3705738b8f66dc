"""An NDES-style one-time password page: ``/certsrv/mscep_admin/``, as NDES serves it.

MDM connectors (Fleet, Jamf, Palo Alto's GlobalProtect, zentral, PSNDESEnrollment)
fetch a challenge password from NDES's ``mscep_admin`` page and hand it to the
device. This page has NDES's shape, so they get a pyscep one-time challenge
unchanged: UTF-16LE HTML with a byte-order mark, "The enrollment challenge password
is: <B> 8CE317021F690069 </B>", sixteen upper-case hexadecimal digits (the
connectors' parsers look for exactly that: ``[A-F0-9]{16}``, ``[A-Z0-9]{16,32}``,
or whatever follows ``<B>``).

No NTLM: HTTP Basic or a bearer token, from a file only its owner may read, and only
over TLS: a connection that is itself TLS, or (``ndes_admin_behind_proxy``, an explicit
act) a proxy the operator trusts to say ``https``. Each page issues a new challenge
valid once, for ``ttl`` (NDES's default, an hour); at most ``cache`` of them wait
unused, as NDES's password cache (then the page says "The password cache is full.").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from html import escape
from pathlib import Path

from pyscep._appkit.durable import UnsafeFileError, read_secret_lines
from pyscep.certificate import Certificate
from pyscep.http import HTTPResponse

from .config import ServeConfigError

__all__ = [
    "MSCEP_ADMIN_PATH",
    "NDES_CHALLENGE_ALPHABET",
    "NDES_CHALLENGE_LENGTH",
    "NdesAdminCredentials",
    "cache_full_page",
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


_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


@dataclass(frozen=True)
class NdesAdminCredentials:
    """Who may fetch a password: HTTP Basic users and passwords, and bearer tokens, kept
    as SHA-256 digests (compared in constant time, whatever their lengths; never shown)."""

    basic: tuple[tuple[bytes, bytes], ...] = field(default=(), repr=False)
    tokens: tuple[bytes, ...] = field(default=(), repr=False)

    @classmethod
    def of(
        cls, basic: Sequence[tuple[str, str]] = (), tokens: Sequence[str] = ()
    ) -> NdesAdminCredentials:
        """From the secrets themselves: a user is named once, with no ':' and something
        in it; a password and a token are not empty; a token is RFC 7235's token68."""
        users = [user for user, _ in basic]
        for user, password in basic:
            if not user.strip() or ":" in user:
                raise ServeConfigError("an mscep_admin user has a name, without ':'")
            if users.count(user) > 1:
                raise ServeConfigError(f"the mscep_admin user {user!r} is named twice")
            _secret(password, f"the mscep_admin password of {user!r}")
        for token in tokens:
            _secret(token, "an mscep_admin token")
            if not _TOKEN68.fullmatch(token):
                raise ServeConfigError("an mscep_admin token is letters, digits and -._~+/")
        if not basic and not tokens:
            raise ServeConfigError("the mscep_admin credentials name nobody")
        return cls(
            tuple((_digest(user), _digest(password)) for user, password in basic),
            tuple(_digest(token) for token in tokens),
        )

    def admit(self, authorization: str | None) -> bool:
        """Does the ``Authorization`` header name one of these? Every candidate is
        compared, by digest, so the time taken says nothing of which came close."""
        if authorization is None:
            return False
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        admitted = False
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            user, sep, password = decoded.partition(":")
            if not sep:
                return False
            asked = (_digest(user), _digest(password))
            for known_user, known_password in self.basic:
                same_user = hmac.compare_digest(asked[0], known_user)
                same_password = hmac.compare_digest(asked[1], known_password)
                admitted |= same_user and same_password
        elif scheme.lower() == "bearer":
            asked_token = _digest(value)
            for token in self.tokens:
                admitted |= hmac.compare_digest(asked_token, token)
        return admitted


def _secret(secret: str, what: str) -> None:
    if not secret or secret != secret.strip():
        raise ServeConfigError(f"{what} is empty, or starts or ends with a space")


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
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        kind, _, secret = line.partition(" ")
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
        return NdesAdminCredentials.of(basic, tokens)
    except ServeConfigError as exc:
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
    return _utf16_page(html)


def is_mscep_admin(path: str) -> bool:
    """Is ``path`` the page's (any case, with or without the trailing slash)?"""
    return path.rstrip("/").lower() == MSCEP_ADMIN_PATH


def cache_full_page() -> HTTPResponse:
    """NDES's answer when its password cache is full (connectors recognise the sentence)."""
    html = (
        "<HTML><Head><Title>Network Device Enrollment Service</Title></Head><Body>"
        "<P> The password cache is full. </P><P> Use the passwords already handed out,"
        " or wait until they expire. </P></Body></HTML>"
    )
    return _utf16_page(html)


def _utf16_page(html: str) -> HTTPResponse:
    """A page as NDES sends it: UTF-16 with its byte-order mark, then little-endian
    whatever this machine's byte order (what the connectors decode)."""
    return HTTPResponse(200, "text/html; charset=utf-16", b"\xff\xfe" + html.encode("utf-16-le"))


def unauthorized() -> HTTPResponse:
    """401, asking for Basic credentials (clients that wait to be asked, PowerShell's
    ``Invoke-WebRequest -Credential`` among them, send them then)."""
    return HTTPResponse(
        401,
        "text/plain",
        b"credentials required\n",
        (("WWW-Authenticate", 'Basic realm="mscep_admin", charset="UTF-8"'),),
    )
