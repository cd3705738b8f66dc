"""Intune's SCEP validation, sent (`pyscep.protocol.intune` holds the messages).

`IntuneService` asks Entra ID for tokens (kept until a few minutes before they
expire), finds the validation service through Graph (kept until it fails), and posts
validations and notifications, retrying with exponential backoff what may pass on a
second try (no answer, a 5xx or a 429). How it proves who it is is pluggable:

- `secret_credential`: a client secret, read once from a file only its owner reads;
- `certificate_credential`: a client assertion signed, for each token, by the
  application's certificate key (which may live in an HSM);
- `federated_credential`: workload-identity federation: the platform's token file
  (``AZURE_FEDERATED_TOKEN_FILE``), read again for each token; no secret at rest.

`IntuneChallenge` makes the validation the server's challenge checker: a request
Intune validates is accepted, any other refused with Intune's code, and a failure to
ask refuses too. It vouches for no SID (Intune does not check the SIDs devices ask
for); give it a ``sid_lookup`` that asks your directory if certificates must carry one.
"""

from __future__ import annotations

import http.client
import ssl
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from threading import Lock

from pyscep._appkit.durable import UnsafeFileError, read_secret_lines
from pyscep.certificate import Certificate
from pyscep.crypto import Signer
from pyscep.errors import ScepError
from pyscep.messages import CertificationRequest
from pyscep.policy import ChallengeVerdict
from pyscep.protocol.intune import (
    GRAPH_SCOPE,
    INTUNE_SCOPE,
    AccessToken,
    ClientAssertion,
    ClientSecret,
    IntuneError,
    IntuneOutcome,
    IntuneSettings,
    OutboundRequest,
    client_assertion,
    discovery_request,
    failure_notification,
    read_discovery,
    read_outcome,
    read_token,
    success_notification,
    token_request,
    validation_request,
)
from pyscep.sid import VouchedSid

from .config import ServeConfigError

__all__ = [
    "CredentialSource",
    "IntuneChallenge",
    "IntuneService",
    "Transport",
    "certificate_credential",
    "federated_credential",
    "secret_credential",
    "urllib_transport",
]

#: Sends a request; (status, body). ConnectionError when no HTTP answer came.
Transport = Callable[[OutboundRequest], tuple[int, bytes]]
#: What proves the application's identity for the next token request, made at a time.
CredentialSource = Callable[[datetime], ClientSecret | ClientAssertion]
#: The HRESULT a failure notification carries when the server refused (E_FAIL).
E_FAIL = 0x80004005
_MAX_ANSWER = 1 << 20


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, never followed: urllib would carry the bearer token to
    wherever it points, over plain HTTP too, and turn a POST into a GET."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def urllib_transport(context: ssl.SSLContext | None = None, timeout: float = 10) -> Transport:
    """Requests sent with urllib, over TLS verified by ``context`` (the system's roots by
    default), never redirected; an HTTP error is an answer, no answer (or no HTTP) a
    ConnectionError."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context), _NoRedirects()
    )

    def send(request: OutboundRequest) -> tuple[int, bytes]:
        prepared = urllib.request.Request(  # noqa: S310 - https, checked by the settings
            request.url,
            data=request.body if request.method == "POST" else None,
            method=request.method,
            headers=dict(request.headers),
        )
        try:
            with opener.open(prepared, timeout=timeout) as answer:
                return answer.status, answer.read(_MAX_ANSWER)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(_MAX_ANSWER)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise ConnectionError(f"{request.url}: {type(exc).__name__}") from None

    return send


def secret_credential(path: Path) -> CredentialSource:
    """The client secret of ``path``'s first line (a file only its owner may read)."""
    try:
        lines = read_secret_lines(path, "the Intune client secret")
    except UnsafeFileError as exc:
        raise ServeConfigError(str(exc)) from None
    secret = ClientSecret(lines[0] if lines else "")
    return lambda now: secret


def certificate_credential(settings: IntuneSettings, signer: Signer) -> CredentialSource:
    """A client assertion signed by the application's certificate key, made anew for
    each token (its own ID, ten minutes of life)."""
    return lambda now: client_assertion(settings, signer, now=now, jti=str(uuid.uuid4()))


def federated_credential(token_file: Path) -> CredentialSource:
    """Workload-identity federation: the token the platform writes to ``token_file``
    (and renews), read again for each token request, used as the client assertion."""

    def read(now: datetime) -> ClientAssertion:
        try:
            text = token_file.read_bytes().decode("ascii").strip()
        except OSError as exc:
            raise IntuneError(f"the federated token {token_file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise IntuneError(f"the federated token {token_file} is not ASCII") from None
        if not text:  # the platform is writing a new one: try again
            raise IntuneError(f"the federated token {token_file} is empty", retryable=True)
        return ClientAssertion(text)

    return read


@dataclass
class IntuneService:
    """Intune's SCEP validation service, asked over ``transport``."""

    settings: IntuneSettings
    credential: CredentialSource
    transport: Transport = field(default_factory=urllib_transport)
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    sleep: Callable[[float], None] = time.sleep
    #: Tries of one request, the wait before the second (doubled each time), and how long
    #: one call may take in all (no try starts after it, whatever is left of the tries).
    attempts: int = 3
    first_backoff: float = 0.5
    deadline: float = 30.0
    monotonic: Callable[[], float] = time.monotonic
    _tokens: dict[str, AccessToken] = field(default_factory=dict, repr=False)
    _endpoint: str | None = field(default=None, repr=False)
    _lock: Lock = field(default_factory=Lock, repr=False)

    def validate(self, transaction_id: str, csr_der: bytes) -> IntuneOutcome:
        """Is this request one Intune made? (``validateRequest``)"""
        return self._post(
            lambda endpoint, token, activity: validation_request(
                endpoint,
                token,
                transaction_id=transaction_id,
                csr_der=csr_der,
                caller_info=self.settings.caller_info,
                activity_id=activity,
            )
        )

    def notify_success(
        self, transaction_id: str, csr_der: bytes, certificate: Certificate
    ) -> IntuneOutcome:
        """The certificate issued for it (``successNotification``)."""
        return self._post(
            lambda endpoint, token, activity: success_notification(
                endpoint,
                token,
                transaction_id=transaction_id,
                csr_der=csr_der,
                certificate=certificate,
                caller_info=self.settings.caller_info,
                activity_id=activity,
            )
        )

    def notify_failure(
        self, transaction_id: str, csr_der: bytes, description: str, hresult: int = E_FAIL
    ) -> IntuneOutcome:
        """No certificate, and why (``failureNotification``)."""
        return self._post(
            lambda endpoint, token, activity: failure_notification(
                endpoint,
                token,
                transaction_id=transaction_id,
                csr_der=csr_der,
                hresult=hresult,
                description=description,
                caller_info=self.settings.caller_info,
                activity_id=activity,
            )
        )

    def _post(self, build: Callable[[str, AccessToken, str], OutboundRequest]) -> IntuneOutcome:
        def once() -> IntuneOutcome:
            endpoint = self._service_endpoint()
            request = build(endpoint, self._token(INTUNE_SCOPE), str(uuid.uuid4()))
            status, body = self.transport(request)
            if 300 <= status < 400:
                raise IntuneError(f"Intune: HTTP {status}, a redirect (not followed)")
            if status == 401:
                with self._lock:
                    self._tokens.pop(INTUNE_SCOPE, None)  # revoked early: ask again
                raise IntuneError("Intune: HTTP 401", retryable=True)
            if status == 404:
                with self._lock:
                    self._endpoint = None  # the service moved: discover again
                raise IntuneError("Intune: HTTP 404", retryable=True)
            return read_outcome(status, body)

        return self._retrying(once)

    def _retrying(self, attempt: Callable[[], IntuneOutcome]) -> IntuneOutcome:
        wait, started = self.first_backoff, self.monotonic()
        for number in range(1, self.attempts + 1):
            try:
                return attempt()
            except (IntuneError, ConnectionError) as exc:
                retryable = isinstance(exc, ConnectionError) or exc.retryable
                late = self.monotonic() - started + wait > self.deadline
                if not retryable or number == self.attempts or late:
                    raise IntuneError(str(exc)) from None
                self.sleep(wait)
                wait *= 2
            except ScepError as exc:  # a credential that cannot be made, an answer unread
                raise IntuneError(str(exc)) from None
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _token(self, scope: str) -> AccessToken:
        now = self.clock()
        with self._lock:
            cached = self._tokens.get(scope)
        if cached is not None and cached.usable(now):
            return cached
        status, body = self.transport(token_request(self.settings, self.credential(now), scope))
        token = read_token(status, body, now=now)
        with self._lock:
            self._tokens[scope] = token
        return token

    def _service_endpoint(self) -> str:
        with self._lock:
            known = self._endpoint
        if known is not None:
            return known
        request = discovery_request(
            self.settings, self._token(GRAPH_SCOPE), activity_id=str(uuid.uuid4())
        )
        status, body = self.transport(request)
        if status == 401:
            with self._lock:
                self._tokens.pop(GRAPH_SCOPE, None)  # revoked early: ask again
            raise IntuneError("Graph: HTTP 401", retryable=True)
        if 300 <= status < 400:
            raise IntuneError(f"Graph: HTTP {status}, a redirect (not followed)")
        endpoint = read_discovery(status, body)
        with self._lock:
            self._endpoint = endpoint
        return endpoint


@dataclass
class IntuneChallenge:
    """The challenge checker of a server that issues for Intune: Intune's validation of
    the request under its transactionID (`pyscep.protocol.TransactionChallengeChecker`)."""

    service: IntuneService
    #: Your directory's answer: the account SID this request's device or user has (a
    #: `VouchedSid`), or None. Intune's validation vouches for none.
    sid_lookup: Callable[[CertificationRequest], VouchedSid | None] | None = None

    def check(self, password: str | None, request: CertificationRequest) -> ChallengeVerdict:
        """Without a transactionID Intune cannot be asked: refused."""
        return ChallengeVerdict.refuse("Intune's validation needs the request's transactionID")

    def check_transaction(
        self, password: str | None, request: CertificationRequest, transaction_id: str
    ) -> ChallengeVerdict:
        """Intune's verdict; refused when Intune says no or cannot be asked."""
        if password is None:
            return ChallengeVerdict.absent(
                "no challenge password (Intune puts one in its requests)"
            )
        try:
            outcome = self.service.validate(transaction_id, request.der)
        except ScepError as exc:  # IntuneError, and anything else of ours: refused
            return ChallengeVerdict.refuse(f"Intune could not be asked: {exc}")
        if not outcome.succeeded:
            detail = f": {outcome.description}" if outcome.description else ""
            return ChallengeVerdict.refuse(f"Intune refused the request: {outcome.code}{detail}")
        sid = None if self.sid_lookup is None else self.sid_lookup(request)
        return ChallengeVerdict.accept("Intune validated the request", sid=sid)
