"""A local fake of Entra ID, Microsoft Graph and Intune's SCEP validation service, over
TLS on 127.0.0.1, built from the request and response shapes Microsoft publishes
(Intune-Resource-Access: ``IntuneClient``, ``IntuneScepServiceClient``) and Entra ID's
client-credentials flow. It checks what it is sent as the real services would, and keeps
it for the tests to read."""

from __future__ import annotations

import base64
import json
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.support.helpers import tls_files

TENANT = "contoso.onmicrosoft.com"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
SECRET = "s3cr3t-value~from-the-portal"
FEDERATED = "eyJhbGciOiJSUzI1NiJ9.federated-token-of-the-platform.sig"
INTUNE_APP = "0000000a-0000-0000-c000-000000000000"


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class FakeIntune:
    """What the fake accepts, what it was sent, and how it misbehaves on purpose."""

    base: str = ""
    #: The application's certificate, for client assertions.
    application_certificate: x509.Certificate | None = None
    #: transactionIDs Intune made (validated); any other is refused with ChallengeExpired.
    known: set[str] = field(default_factory=set)
    #: How many of the next validation requests answer 503 first.
    unavailable: int = 0
    #: Whether success notifications fail (HTTP 500).
    notifications_fail: bool = False
    #: Where validations are redirected to, if anywhere (a client must not follow).
    redirect_to: str | None = None
    tokens: list[str] = field(default_factory=list)
    validations: list[dict[str, Any]] = field(default_factory=list)
    successes: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    headers_seen: list[dict[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- the WSGI application ------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start: Callable[..., Any]) -> list[bytes]:
        path = str(environ["PATH_INFO"])
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            with self._lock:
                status, document = self._route(str(environ["REQUEST_METHOD"]), path, environ, body)
        except _Refusal as refusal:
            status, document = refusal.status, {"error": refusal.error}
        data = json.dumps(document).encode()
        start(
            f"{status} X",
            [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
        )
        return [data]

    def _route(
        self, method: str, path: str, environ: dict[str, Any], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        if method == "POST" and path == f"/{TENANT}/oauth2/v2.0/token":
            return 200, self._token(parse_qs(body.decode()))
        scope = self._bearer(environ)
        if method == "GET" and path == f"/v1.0/servicePrincipals/appId={INTUNE_APP}/endpoints":
            _need(scope == "graph", 401, "a Graph token is needed")
            return 200, {
                "value": [
                    {"providerName": "SomethingElse", "uri": f"{self.base}/other"},
                    {"providerName": "ScepRequestValidationFEService", "uri": f"{self.base}/scep"},
                ]
            }
        _need(scope == "intune", 401, "an Intune token is needed")
        headers = {
            name: str(environ.get(f"HTTP_{name.upper().replace('-', '_')}", ""))
            for name in ("api-version", "client-request-id", "UserAgent")
        }
        _need(headers["api-version"] == "2018-02-20", 400, "api-version")
        uuid.UUID(headers["client-request-id"])  # a UUID, or the request fails
        _need(environ.get("CONTENT_TYPE") == "application/json", 400, "content-type")
        self.headers_seen.append(headers)
        document = json.loads(body)
        if path == "/scep/ScepActions/validateRequest":
            request = document["request"]
            _need(
                set(request) == {"transactionId", "certificateRequest", "callerInfo"}, 400, "shape"
            )
            base64.b64decode(request["certificateRequest"], validate=True)
            if self.redirect_to is not None:
                return 307, {"location": self.redirect_to}
            if self.unavailable:
                self.unavailable -= 1
                return 503, {"error": "temporarily unavailable"}
            self.validations.append(request)
            if request["transactionId"] in self.known:
                return 200, {"code": "Success", "errorDescription": ""}
            return 200, {"code": "ChallengeExpired", "errorDescription": "the challenge is stale"}
        if path == "/scep/ScepActions/successNotification":
            notification = document["notification"]
            keys = {"transactionId", "certificateRequest", "certificateThumbprint",
                    "certificateSerialNumber", "certificateExpirationDateUtc",
                    "issuingCertificateAuthority", "callerInfo"}  # fmt: skip
            _need(set(notification) == keys, 400, "shape")
            if self.notifications_fail:
                return 500, {"error": "internal"}
            self.successes.append(notification)
            return 200, {"code": "Success", "errorDescription": ""}
        if path == "/scep/ScepActions/failureNotification":
            notification = document["notification"]
            keys = {"transactionId", "certificateRequest", "hResult", "errorDescription",
                    "callerInfo"}  # fmt: skip
            _need(set(notification) == keys, 400, "shape")
            self.failures.append(notification)
            return 200, {"code": "Success", "errorDescription": ""}
        raise _Refusal(404, f"no {path}")

    def _token(self, form: dict[str, list[str]]) -> dict[str, Any]:
        value = {key: values[0] for key, values in form.items()}
        _need(value.get("grant_type") == "client_credentials", 400, "grant_type")
        _need(value.get("client_id") == CLIENT_ID, 401, "unknown client")
        scopes = {
            "https://graph.microsoft.com/.default": "graph",
            "https://api.manage.microsoft.com//.default": "intune",
        }
        scope = scopes.get(value.get("scope", ""))
        _need(scope is not None, 400, "scope")
        if "client_secret" in value:
            _need(value["client_secret"] == SECRET, 401, "bad secret")
        else:
            kind = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            _need(value.get("client_assertion_type") == kind, 400, "assertion type")
            assertion = value.get("client_assertion", "")
            _need(assertion == FEDERATED or self._assertion_verifies(assertion), 401, "assertion")
        token = f"{scope}-{uuid.uuid4()}"
        self.tokens.append(token)
        return {"token_type": "Bearer", "expires_in": 3599, "access_token": token}

    def _assertion_verifies(self, assertion: str) -> bool:
        if self.application_certificate is None or assertion.count(".") != 2:
            return False
        header_b64, claims_b64, signature_b64 = assertion.split(".")
        header = json.loads(_b64url_decode(header_b64))
        claims = json.loads(_b64url_decode(claims_b64))
        thumbprint = self.application_certificate.fingerprint(hashes.SHA256())
        key = self.application_certificate.public_key()
        assert isinstance(key, rsa.RSAPublicKey)
        try:
            key.verify(
                _b64url_decode(signature_b64),
                f"{header_b64}.{claims_b64}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except Exception:
            return False
        now = datetime.now(timezone.utc).timestamp()
        return bool(
            header == {"alg": "RS256", "typ": "JWT", "x5t#S256": _b64url(thumbprint)}
            and claims["aud"] == f"{self.base}/{TENANT}/oauth2/v2.0/token"
            and claims["iss"] == claims["sub"] == CLIENT_ID
            and claims["nbf"] <= now + 60
            and now < claims["exp"]
        )

    def _bearer(self, environ: dict[str, Any]) -> str:
        authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
        _need(authorization.startswith("Bearer "), 401, "no token")
        token = authorization[len("Bearer ") :]
        _need(token in self.tokens, 401, "unknown token")
        return token.split("-", 1)[0]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _Refusal(Exception):  # noqa: N818 - control flow of the fake
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error


def _need(condition: bool, status: int, error: str) -> None:
    if not condition:
        raise _Refusal(status, error)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def running(directory: Path, fake: FakeIntune | None = None) -> Iterator[tuple[FakeIntune, Path]]:
    """The fake, served over TLS on a free loopback port: (the fake, its CA's file)."""
    fake = fake or FakeIntune()
    ca_file, certificate, key = tls_files(directory)
    server = make_server("127.0.0.1", 0, fake, server_class=WSGIServer, handler_class=_Quiet)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(certificate), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    fake.base = f"https://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, ca_file
    finally:
        server.shutdown()
        server.server_close()
