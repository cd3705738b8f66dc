"""Intune's SCEP validation and notification protocol, sans I/O: requests and replies
as values.

A SCEP server that issues for Intune-managed devices asks Intune whether each request
is one Intune made (``validateRequest``: the transactionID and the PKCS#10), then tells
it what came of it (``successNotification`` with the certificate's thumbprint, serial
number, expiry and issuer, or ``failureNotification`` with an HRESULT and why). The
shapes here are those of Microsoft's open-source Intune-Resource-Access library:

1. a token from Entra ID (OAuth 2.0 client credentials: a client secret, a client
   assertion signed by a certificate's key, or a federated token, so that no secret is
   kept at rest), for Microsoft Graph and for Intune;
2. the service's address, discovered through Graph (Intune's service principal's
   endpoints, ``ScepRequestValidationFEService``);
3. JSON posts to ``ScepActions/validateRequest``, ``.../successNotification`` and
   ``.../failureNotification``, with ``api-version``, ``client-request-id`` (an
   activity ID) and the caller's name; each answer's ``code`` is ``Success`` or why not.

`pyscep.server.intune` sends them (retries with backoff, tokens cached until they
expire) and makes the validation a challenge checker for ``pyscep serve``.

Intune's validation does not vouch for a SID the request asks for (the 2025 attack:
devices asked for others' SIDs and Intune did not check): it authorizes the request,
no more (docs/windows.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlencode

from pyscep.algorithms import DigestAlgorithm, SignatureScheme
from pyscep.certificate import Certificate
from pyscep.crypto import Signer
from pyscep.errors import LocalProtocolError, RemoteProtocolError
from pyscep.protocol.challenges import require_secret

__all__ = [
    "GRAPH_SCOPE",
    "INTUNE_APP_ID",
    "INTUNE_SCOPE",
    "SERVICE_VERSION",
    "VALIDATION_SERVICE",
    "AccessToken",
    "ClientAssertion",
    "ClientSecret",
    "IntuneError",
    "IntuneOutcome",
    "IntuneSettings",
    "OutboundRequest",
    "client_assertion",
    "discovery_request",
    "failure_notification",
    "read_discovery",
    "read_outcome",
    "read_token",
    "success_notification",
    "token_request",
    "validation_request",
]

#: Intune's application ID in Entra ID, and the scopes asked for.
INTUNE_APP_ID = "0000000a-0000-0000-c000-000000000000"
INTUNE_SCOPE = "https://api.manage.microsoft.com//.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
#: The service discovered, and the API version its requests name.
VALIDATION_SERVICE = "ScepRequestValidationFEService"
SERVICE_VERSION = "2018-02-20"
#: A token is used no later than this before it expires.
_TOKEN_MARGIN = timedelta(minutes=5)
_MAX_DESCRIPTION = 255
_JSON = "application/json"


class IntuneError(RemoteProtocolError):
    """Intune or Entra ID did not answer as it should. ``retryable`` says whether trying
    again may help (a 5xx, a 429, no answer) or not (refused credentials, a bad reply)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class IntuneSettings:
    """Which tenant, which application, and where the services are (the defaults are
    Microsoft's; a test points them at a local fake)."""

    tenant: str
    client_id: str
    authority: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com"
    intune_app_id: str = INTUNE_APP_ID
    #: Sent as the caller's name and version (Intune shows it).
    caller_info: str = "pyscep"

    def __post_init__(self) -> None:
        require_secret(self.tenant, "the Intune tenant")
        require_secret(self.client_id, "the Intune client ID")
        for url in (self.authority, self.graph_url):
            if not url.startswith("https://"):
                raise LocalProtocolError(f"{url!r}: Entra ID and Graph are asked over https")

    @property
    def token_url(self) -> str:
        """Entra ID's token endpoint of the tenant."""
        return f"{self.authority.rstrip('/')}/{quote(self.tenant, safe='')}/oauth2/v2.0/token"


@dataclass(frozen=True)
class OutboundRequest:
    """An HTTP request to send: method, absolute URL, headers, body."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and when it stops being used (a margin before it expires)."""

    value: str = field(repr=False)
    use_until: datetime

    def usable(self, now: datetime) -> bool:
        """May it still be sent at ``now``?"""
        return now < self.use_until


@dataclass(frozen=True)
class ClientSecret:
    """The application's client secret (refused empty)."""

    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        require_secret(self.secret, "the Intune client secret")


@dataclass(frozen=True)
class ClientAssertion:
    """A client assertion: a JWT the application's certificate key signed
    (`client_assertion`), or a federated token (workload identity: no secret at rest)."""

    assertion: str = field(repr=False)

    def __post_init__(self) -> None:
        require_secret(self.assertion, "the client assertion")


@dataclass(frozen=True)
class IntuneOutcome:
    """What Intune answered: ``code`` (``Success`` or why not) and its description."""

    code: str
    description: str = ""

    @property
    def succeeded(self) -> bool:
        """Did Intune say yes?"""
        return self.code == "Success"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def client_assertion(
    settings: IntuneSettings,
    signer: Signer,
    *,
    now: datetime,
    jti: str,
    lifetime: timedelta = timedelta(minutes=10),
) -> ClientAssertion:
    """A client assertion (RFC 7523) signed with the application's certificate key:
    RS256 (or PS256 for a key that asks for PSS), ``x5t#S256`` naming the certificate
    registered with the application."""
    if signer.certificate.public_key_algorithm != "rsa":
        raise LocalProtocolError("Entra ID takes client assertions signed by an RSA key")
    header = {
        "alg": "RS256",
        "typ": "JWT",
        "x5t#S256": _b64url(signer.certificate.sha256_fingerprint),
    }
    start = int(now.timestamp())
    claims = {
        "aud": settings.token_url,
        "iss": settings.client_id,
        "sub": settings.client_id,
        "jti": jti,
        "nbf": start,
        "iat": start,
        "exp": start + int(lifetime.total_seconds()),
    }
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    signature = signer.sign(
        signing_input.encode("ascii"), DigestAlgorithm.SHA256, SignatureScheme.RSA_PKCS1V15
    )
    return ClientAssertion(f"{signing_input}.{_b64url(signature)}")


def token_request(
    settings: IntuneSettings, credential: ClientSecret | ClientAssertion, scope: str
) -> OutboundRequest:
    """The client-credentials token request for ``scope`` (`GRAPH_SCOPE`, `INTUNE_SCOPE`)."""
    form = {"grant_type": "client_credentials", "client_id": settings.client_id, "scope": scope}
    if isinstance(credential, ClientSecret):
        form["client_secret"] = credential.secret
    else:
        form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        form["client_assertion"] = credential.assertion
    return OutboundRequest(
        "POST",
        settings.token_url,
        (("Content-Type", "application/x-www-form-urlencoded"),),
        urlencode(form).encode("ascii"),
    )


def _json(status: int, body: bytes, what: str) -> dict[str, Any]:
    if status >= 500 or status == 429:
        raise IntuneError(f"{what}: HTTP {status}", retryable=True)
    try:
        document = json.loads(body[: 1 << 20].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise IntuneError(f"{what}: HTTP {status}, and the answer is not JSON") from None
    if not isinstance(document, dict):
        raise IntuneError(f"{what}: the answer is not a JSON object")
    if not 200 <= status < 300:
        detail = str(document.get("error_description") or document.get("error") or "")[:200]
        raise IntuneError(f"{what}: HTTP {status} {detail}".rstrip())
    return document


def read_token(status: int, body: bytes, *, now: datetime) -> AccessToken:
    """The token of Entra ID's answer; IntuneError when there is none."""
    document = _json(status, body, "the token request")
    token, lifetime = document.get("access_token"), document.get("expires_in")
    if not isinstance(token, str) or not token:
        raise IntuneError("the token request: no access_token in the answer")
    # A whole number of seconds, a day at most (Entra ID gives an hour or so); some
    # servers send it as a string.
    if isinstance(lifetime, str) and lifetime.isascii() and lifetime.isdigit():
        lifetime = int(lifetime)
    if isinstance(lifetime, bool) or not isinstance(lifetime, int) or not 1 <= lifetime <= 86400:
        raise IntuneError("the token request: expires_in is not a number of seconds up to a day")
    return AccessToken(token, now + timedelta(seconds=lifetime) - _TOKEN_MARGIN)


def _bearer(token: AccessToken, activity_id: str) -> tuple[tuple[str, str], ...]:
    return (("Authorization", f"Bearer {token.value}"), ("client-request-id", activity_id))


def discovery_request(
    settings: IntuneSettings, token: AccessToken, *, activity_id: str
) -> OutboundRequest:
    """Graph's list of Intune's service endpoints (a Graph token)."""
    url = (
        f"{settings.graph_url.rstrip('/')}/v1.0/servicePrincipals/"
        f"appId={quote(settings.intune_app_id, safe='')}/endpoints"
    )
    return OutboundRequest("GET", url, _bearer(token, activity_id))


def read_discovery(status: int, body: bytes) -> str:
    """The validation service's address from Graph's answer; IntuneError without it."""
    document = _json(status, body, "service discovery")
    entries = document.get("value")
    if not isinstance(entries, list):
        raise IntuneError("service discovery: no endpoint list")
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        # Graph says providerName; the older Azure AD Graph said serviceName.
        name = str(entry.get("providerName") or entry.get("serviceName") or "")
        uri = entry.get("uri")
        if name.lower() == VALIDATION_SERVICE.lower() and isinstance(uri, str):
            if not uri.startswith("https://"):
                raise IntuneError(f"service discovery: {VALIDATION_SERVICE} is not at https")
            return uri
    raise IntuneError(f"service discovery: no {VALIDATION_SERVICE}")


def _post(
    endpoint: str,
    action: str,
    token: AccessToken,
    document: dict[str, Any],
    *,
    caller_info: str,
    activity_id: str,
) -> OutboundRequest:
    return OutboundRequest(
        "POST",
        f"{endpoint.rstrip('/')}/ScepActions/{action}",
        (
            *_bearer(token, activity_id),
            ("Content-Type", _JSON),
            ("api-version", SERVICE_VERSION),
            ("UserAgent", caller_info),
        ),
        json.dumps(document).encode(),
    )


def _csr(der: bytes) -> str:
    return base64.b64encode(der).decode("ascii")


def validation_request(
    endpoint: str,
    token: AccessToken,
    *,
    transaction_id: str,
    csr_der: bytes,
    caller_info: str,
    activity_id: str,
) -> OutboundRequest:
    """``validateRequest``: is this request one Intune made for one of its devices?"""
    request = {
        "transactionId": transaction_id,
        "certificateRequest": _csr(csr_der),
        "callerInfo": caller_info,
    }
    return _post(
        endpoint,
        "validateRequest",
        token,
        {"request": request},
        caller_info=caller_info,
        activity_id=activity_id,
    )


def success_notification(
    endpoint: str,
    token: AccessToken,
    *,
    transaction_id: str,
    csr_der: bytes,
    certificate: Certificate,
    caller_info: str,
    activity_id: str,
) -> OutboundRequest:
    """``successNotification``: the certificate issued (thumbprint, serial, expiry, issuer)."""
    expiry = certificate.not_valid_after.astimezone(timezone.utc)
    notification = {
        "transactionId": transaction_id,
        "certificateRequest": _csr(csr_der),
        # Windows' thumbprint: the SHA-1 of the DER, in hexadecimal.
        "certificateThumbprint": hashlib.sha1(certificate.der).hexdigest().upper(),  # noqa: S324
        "certificateSerialNumber": format(certificate.serial_number, "X"),
        "certificateExpirationDateUtc": expiry.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "issuingCertificateAuthority": certificate.issuer,
        "callerInfo": caller_info,
    }
    return _post(
        endpoint,
        "successNotification",
        token,
        {"notification": notification},
        caller_info=caller_info,
        activity_id=activity_id,
    )


def failure_notification(
    endpoint: str,
    token: AccessToken,
    *,
    transaction_id: str,
    csr_der: bytes,
    hresult: int,
    description: str,
    caller_info: str,
    activity_id: str,
) -> OutboundRequest:
    """``failureNotification``: no certificate, an HRESULT and why (255 characters)."""
    notification = {
        "transactionId": transaction_id,
        "certificateRequest": _csr(csr_der),
        "hResult": hresult,
        "errorDescription": (description or "refused")[:_MAX_DESCRIPTION],
        "callerInfo": caller_info,
    }
    return _post(
        endpoint,
        "failureNotification",
        token,
        {"notification": notification},
        caller_info=caller_info,
        activity_id=activity_id,
    )


def read_outcome(status: int, body: bytes) -> IntuneOutcome:
    """What a validation or notification came to (``code``, ``errorDescription``)."""
    document = _json(status, body, "Intune")
    code = document.get("code")
    if not isinstance(code, str) or not code:
        raise IntuneError("Intune: the answer has no code")
    return IntuneOutcome(code, str(document.get("errorDescription") or "")[:_MAX_DESCRIPTION])
