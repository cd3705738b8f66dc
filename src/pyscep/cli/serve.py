"""``pyscep serve``: a reference SCEP server (the responder, a file CA, SQLite state).

    pyscep serve --state-dir DIR --challenge SECRET [--port 8080] [--pending-polls N]
                 [--manual] [--legacy] [--ra] [--next-ca] [--validity DAYS]
                 [--ca-key-type rsa2048|ec-p256|ec-p384|ec-p521]
    pyscep serve list DIR | approve DIR TXID | reject DIR TXID | revoke DIR SERIAL
    pyscep serve challenge DIR [--subject DN] [--ttl SECONDS]   (with --challenge-mode one-time)

All protocol logic is `pyscep.protocol.server.ScepResponder`; this module is
its application: issue to requests with the right challenge and to renewals
signed by a certificate this CA issued, keep requests PENDING for N polls
(``--pending-polls``) or until approved (``--manual``), refuse the rest. Run it
under gunicorn or uvicorn with the factories `wsgi_from_environment` /
`asgi_from_environment` (configured by ``PYSCEP_STATE_DIR``,
``PYSCEP_CHALLENGE``, ``PYSCEP_PENDING_POLLS``, ``PYSCEP_MANUAL``,
``PYSCEP_LEGACY``, ``PYSCEP_RA``, ``PYSCEP_NEXT_CA``, ``PYSCEP_PROFILE``,
``PYSCEP_STATE_URL``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from pyscep.algorithms import DEFAULT_POLICY, LEGACY
from pyscep.certificate import Certificate
from pyscep.crypto import get_backend
from pyscep.crypto.signed_object import is_issued_by
from pyscep.enums import FailInfo, MessageType
from pyscep.errors import ScepError
from pyscep.http import HttpResponse
from pyscep.messages import (
    CertificationRequest,
    PKIMessage,
    build_next_ca_certificates,
    issue_certificate,
)
from pyscep.policy import (
    Action,
    Decision,
    SignerView,
    decide_before_decrypting,
    evaluate,
    parse_scep_conf,
)
from pyscep.protocol.challenges import ChallengeChecker, OneTimeChallenges, StaticChallenge
from pyscep.protocol.profiles import PROFILES
from pyscep.protocol.server import (
    Answered,
    EnrollmentRequested,
    PollRequested,
    ResponderConfig,
    ScepResponder,
)
from pyscep.wsgi import asgi_application, wsgi_application

from .file_ca import FileCA
from .keys import KEY_TYPES
from .sqlite_store import SqliteChallenges
from .state import open_state
from .state_inventory import StateInventory

__all__ = [
    "ReferenceServer",
    "ServeOptions",
    "add_parser",
    "asgi_from_environment",
    "run",
    "wsgi_from_environment",
]


@dataclass(frozen=True)
class ServeOptions:
    """How the reference server behaves."""

    state_dir: Path
    challenge: str
    pending_polls: int = 0
    manual: bool = False
    legacy: bool = False
    ra: bool = False
    next_ca: bool = False
    #: Interop profile: the capabilities advertised (`pyscep.protocol.profiles`).
    profile: str = "strict"
    #: One JSON line per pkiMessage decided on (type, algorithms, outcome).
    log: Path | None = None
    #: A PostgreSQL URL for the state (workers on several machines); SQLite in
    #: ``state_dir`` otherwise.
    state_url: str | None = None
    #: ``static`` (``challenge`` for everyone) or ``one-time`` (``serve challenge``).
    challenge_mode: str = "static"
    #: An OpenCA scep.conf: every enrollment and renewal is decided by `pyscep.policy`.
    policy: Path | None = None
    #: Lifetime of issued certificates, in days (a policy's decided validity wins).
    validity_days: int = 365
    #: The key type of a CA this server creates (an existing CA is used as it is).
    ca_key_type: str = "rsa2048"


class ReferenceServer:
    """The reference server's application: decisions on the responder's events."""

    def __init__(self, options: ServeOptions, *, now: datetime | None = None) -> None:
        now = now or datetime.now(timezone.utc)
        self.options = options
        self.files = FileCA.open(
            options.state_dir,
            ra=options.ra,
            next_ca=options.next_ca,
            now=now,
            ca_key_type=options.ca_key_type,
        )
        self.store = open_state(options.state_dir, options.state_url)
        ca, ra = self.files.ca, self.files.ra
        operator = ra or ca
        next_body = None
        if self.files.next_ca is not None:
            next_body = build_next_ca_certificates([self.files.next_ca.certificate], signer=ca)
        self.algorithms = LEGACY if options.legacy else DEFAULT_POLICY
        self.policy = (
            None if options.policy is None else parse_scep_conf(options.policy.read_text())
        )
        self.inventory = StateInventory(
            self.store,
            role=self.policy.default_role if self.policy else "",
            ra=self.policy.default_ra if self.policy else "",
            clock=lambda: datetime.now(timezone.utc),
        )
        self.responder = ScepResponder(
            ResponderConfig(
                ca_certificate=ca.certificate,
                signer=operator,
                decrypter=operator,
                ra_certificates=() if ra is None else (ra.certificate,),
                algorithms=self.algorithms,
                challenge=self._challenges(),
                next_ca_certificates=next_body,
                profile=PROFILES[options.profile],
                before_decrypt=self._before_decrypt if self.policy else None,
            ),
            self.store,
        )

    def _challenges(self) -> ChallengeChecker:
        if self.options.challenge_mode == "one-time":
            return self.one_time_challenges()
        return StaticChallenge(self.options.challenge)

    def one_time_challenges(self) -> OneTimeChallenges:
        """The one-time challenges of this state directory (issue with ``serve challenge``)."""
        store = SqliteChallenges(self.options.state_dir / "state.sqlite")
        return OneTimeChallenges(store, clock=lambda: datetime.now(timezone.utc))

    def handle(self, method: str, path: str, query: str, body: bytes) -> HttpResponse:
        """One HTTP request: the responder's event, decided."""
        now = datetime.now(timezone.utc)
        event = self.responder.receive(method, path, query, body)
        if isinstance(event, Answered):
            return event.response
        if isinstance(event, EnrollmentRequested):
            return self._logged(event, method, *self._enrollment(event, now))
        if isinstance(event, PollRequested):
            return self._logged(event, method, *self._poll(event, now))
        # GetCert and GetCRL are not in `handled`: the responder refuses them.
        return self.responder.reject(event, FailInfo.BAD_REQUEST, now=now)  # pragma: no cover

    def _logged(
        self,
        event: EnrollmentRequested | PollRequested,
        method: str,
        decision: str,
        answer: HttpResponse,
    ) -> HttpResponse:
        if self.options.log is not None:
            message = event.message
            entry = {
                "method": method,
                "type": message.message_type.rfc_name,
                "digest": message.digest.value,
                "cipher": None if message.content_cipher is None else message.content_cipher.value,
                "signature": message.signature_algorithm,
                "transaction_id": event.transaction_id,
                "decision": decision,
                "challenge_findings": [
                    str(f)
                    for f in (
                        event.challenge_findings if isinstance(event, EnrollmentRequested) else ()
                    )
                ],
            }
            with self.options.log.open("a") as log:
                log.write(json.dumps(entry) + "\n")
        return answer

    def _ours(self, certificate: Certificate, now: datetime) -> bool:
        ca = self.files.ca.certificate
        valid = certificate.not_valid_before <= now <= certificate.not_valid_after
        return valid and is_issued_by(
            certificate, ca, backend=get_backend(), algorithms=self.algorithms
        )

    def _before_decrypt(self, message: PKIMessage) -> tuple[FailInfo, str] | None:
        assert self.policy is not None
        view = SignerView(
            message.message_type, message.signer_certificate, True, message.transaction_id
        )
        decision = decide_before_decrypting(
            view,
            self.policy,
            self.inventory,
            [self.files.ca.certificate],
            now=datetime.now(timezone.utc),
            algorithms=self.algorithms,
        )
        if decision is None:
            return None
        self._log_decision(message.transaction_id, decision)
        return decision.fail_info or FailInfo.BAD_REQUEST, decision.fail_info_text or "refused"

    def _decided(self, event: EnrollmentRequested, now: datetime) -> tuple[str, HttpResponse]:
        """The scep.conf policy's decision, carried out (and its trace logged)."""
        assert self.policy is not None
        decision = evaluate(
            event.policy_view,
            self.policy,
            self.inventory,
            [self.files.ca.certificate],
            now=now,
            algorithms=self.algorithms,
        )
        self._log_decision(event.transaction_id, decision)
        if decision.action is Action.ISSUE:
            default = self.options.validity_days
            days = default if decision.validity is None else max(1, decision.validity.days)
            return "issued", self._issue(event, event.request, now, days=days)
        if decision.action is Action.PENDING:
            return "pending", self.responder.pending(event, now=now)
        fail_info = decision.fail_info or FailInfo.BAD_REQUEST
        text = decision.fail_info_text
        if decision.trace[-1].rule == "challenge" and event.challenge_ok is False:
            text = event.challenge_reason  # say which: wrong, used, expired, someone else's
        response = self.responder.reject(event, fail_info, now=now, text=text)
        return "rejected", response

    def _log_decision(self, transaction_id: str | None, decision: Decision) -> None:
        if self.options.log is not None:
            entry = {"transaction_id": transaction_id, "policy": decision.as_dict()}
            with self.options.log.open("a") as log:
                log.write(json.dumps(entry) + "\n")

    def _enrollment(self, event: EnrollmentRequested, now: datetime) -> tuple[str, HttpResponse]:
        if self.policy is not None:
            return self._decided(event, now)
        renewal = event.renewal and self._ours(event.signer_certificate, now)
        if event.message_type is MessageType.RENEWAL_REQ and not renewal:
            return "rejected", self.responder.reject(event, FailInfo.BAD_CERT_ID, now=now)
        if not renewal and not event.challenge_ok:
            response = self.responder.reject(
                event, FailInfo.BAD_REQUEST, now=now, text=event.challenge_reason
            )
            return "rejected", response
        if self.options.manual or (self.options.pending_polls and not renewal):
            return "pending", self.responder.pending(event, now=now)
        return "issued", self._issue(event, event.request, now, days=self.options.validity_days)

    def _poll(self, event: PollRequested, now: datetime) -> tuple[str, HttpResponse]:
        if self.options.manual:
            return "pending", self.responder.pending(event, now=now)
        if self.store.count_poll(event.transaction_id) < self.options.pending_polls:
            return "pending", self.responder.pending(event, now=now)
        return "issued", self._issue(event, event.request, now, days=self.options.validity_days)

    def _issue(
        self,
        event: EnrollmentRequested | PollRequested,
        request: CertificationRequest,
        now: datetime,
        *,
        days: int = 365,
    ) -> HttpResponse:
        # The issued certificate alone: clients have the CA from GetCACert, and
        # micromdm's scepclient keeps the last certificate of the reply.
        return self.responder.issue(event, self.issue(request, now, days=days), now=now)

    def approve(self, transaction_id: str, *, now: datetime, days: int = 365) -> Certificate:
        """The operator's yes to a PENDING request: issue now; the next CertPoll gets it."""
        known = self.store.get(transaction_id)
        if known is None:
            raise ScepError(f"no transaction {transaction_id!r}")
        certificate = self.issue(CertificationRequest.load(known.csr), now, days=days)
        self.responder.approve(transaction_id, certificate, now=now)
        return certificate

    def issue(
        self, request: CertificationRequest, now: datetime, *, days: int = 365
    ) -> Certificate:
        """A certificate for ``request``, with a serial number no worker used before."""
        return issue_certificate(
            self.files.ca, request, now=now, days=days, serial_number=self.store.new_serial()
        )


def _options_from_environment() -> ServeOptions:
    environment = os.environ
    return ServeOptions(
        state_dir=Path(environment["PYSCEP_STATE_DIR"]),
        challenge=environment["PYSCEP_CHALLENGE"],
        pending_polls=int(environment.get("PYSCEP_PENDING_POLLS", "0")),
        manual=environment.get("PYSCEP_MANUAL") == "1",
        legacy=environment.get("PYSCEP_LEGACY") == "1",
        ra=environment.get("PYSCEP_RA") == "1",
        next_ca=environment.get("PYSCEP_NEXT_CA") == "1",
        profile=environment.get("PYSCEP_PROFILE", "strict"),
        state_url=environment.get("PYSCEP_STATE_URL"),
        challenge_mode=environment.get("PYSCEP_CHALLENGE_MODE", "static"),
        policy=Path(environment["PYSCEP_POLICY"]) if "PYSCEP_POLICY" in environment else None,
        validity_days=int(environment.get("PYSCEP_VALIDITY_DAYS", "365")),
        ca_key_type=environment.get("PYSCEP_CA_KEY_TYPE", "rsa2048"),
    )


def wsgi_from_environment() -> Callable[..., Iterable[bytes]]:
    """The WSGI application, configured from ``PYSCEP_*`` variables (for gunicorn)."""
    return wsgi_application(ReferenceServer(_options_from_environment()).handle)


def asgi_from_environment() -> Callable[..., Awaitable[None]]:
    """The ASGI application, configured from ``PYSCEP_*`` variables (``uvicorn --factory``)."""
    return asgi_application(ReferenceServer(_options_from_environment()).handle)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``serve``."""
    serve = commands.add_parser(
        "serve",
        help="a reference SCEP server (file CA, SQLite state)",
        description="Serve SCEP; or: serve list DIR | approve DIR TXID | reject DIR TXID",
    )
    serve.add_argument("action", nargs="*", help="list DIR | approve DIR TXID | reject DIR TXID")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--state-dir", type=Path, help="CA keys, certificates and state.sqlite")
    serve.add_argument("--challenge", help="the challenge password of initial enrollments")
    serve.add_argument("--pending-polls", type=int, default=0, help="answer PENDING N polls first")
    serve.add_argument("--manual", action="store_true", help="PENDING until `serve approve`")
    serve.add_argument("--legacy", action="store_true", help="accept MD5 and single DES")
    serve.add_argument("--ra", action="store_true", help="a separate RA certificate")
    serve.add_argument("--next-ca", action="store_true", help="offer a rollover CA")
    serve.add_argument("--profile", choices=sorted(PROFILES), default="strict")
    serve.add_argument("--log", type=Path, help="append one JSON line per request decided")
    serve.add_argument("--state-url", help="postgresql://... for state shared by several hosts")
    serve.add_argument(
        "--challenge-mode",
        choices=["static", "one-time"],
        default="static",
        help="one-time: challenges made by `serve challenge DIR`, each valid once",
    )
    serve.add_argument("--policy", type=Path, help="an OpenCA scep.conf deciding every request")
    serve.add_argument("--validity", type=int, default=365, help="days issued certificates last")
    serve.add_argument(
        "--ca-key-type",
        choices=KEY_TYPES,
        default="rsa2048",
        help="the key of a new CA (EC CAs open requests by key agreement)",
    )
    serve.add_argument("--subject", help="serve challenge: the DN pattern it is for")
    serve.add_argument("--ttl", type=int, default=3600, help="serve challenge: seconds valid")
    serve.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Serve, or administer pending transactions."""
    if args.action and args.action[0] == "challenge" and len(args.action) == 2:
        server = ReferenceServer(ServeOptions(Path(args.action[1]), challenge=""))
        ttl = timedelta(seconds=args.ttl)
        print(server.one_time_challenges().issue(ttl=ttl, subject=args.subject))
        return 0
    if args.action:
        return _administer(args.action, args.state_url, args.validity)
    if args.state_dir is None or (args.challenge is None and args.challenge_mode == "static"):
        print("pyscep serve: --state-dir and --challenge are required", file=sys.stderr)
        return 2
    options = ServeOptions(
        state_dir=args.state_dir,
        challenge=args.challenge or "",
        pending_polls=args.pending_polls,
        manual=args.manual,
        legacy=args.legacy,
        ra=args.ra,
        next_ca=args.next_ca,
        profile=args.profile,
        log=args.log,
        state_url=args.state_url,
        challenge_mode=args.challenge_mode,
        policy=args.policy,
        validity_days=args.validity,
        ca_key_type=args.ca_key_type,
    )
    if options.validity_days < 1:
        print("pyscep serve: --validity is at least 1 day", file=sys.stderr)
        return 2
    server = ReferenceServer(options)
    httpd = make_server(
        args.host,
        args.port,
        wsgi_application(server.handle),
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    )
    port = httpd.server_address[1]
    print(f"pyscep serve: ready on http://{args.host}:{port}/scep (state in {args.state_dir})")
    sys.stdout.flush()
    with contextlib.suppress(KeyboardInterrupt):
        httpd.serve_forever()
    return 0


def _administer(action: list[str], state_url: str | None, days: int) -> int:
    verb, *rest = action
    if verb == "list" and len(rest) == 1:
        for transaction in open_state(Path(rest[0]), state_url).pending():
            print(f"{transaction.transaction_id}  pending since {transaction.updated}")
        return 0
    if verb == "revoke" and len(rest) == 2:
        state = open_state(Path(rest[0]), state_url)
        serial = int(rest[1], 0)
        for transaction in state.issued():
            if Certificate.load(transaction.certificates[0]).serial_number == serial:
                state.revoke(transaction.transaction_id)
                print(f"pyscep serve: serial {serial} revoked")
                return 0
        print(f"pyscep serve: no certificate with serial {serial}", file=sys.stderr)
        return 2
    if verb not in ("approve", "reject") or len(rest) != 2:
        print(
            "pyscep serve: list DIR | approve DIR TXID | reject DIR TXID | revoke DIR SERIAL",
            file=sys.stderr,
        )
        return 2
    directory, transaction_id = Path(rest[0]), rest[1]
    now = datetime.now(timezone.utc)
    server = ReferenceServer(ServeOptions(directory, challenge="", state_url=state_url), now=now)
    try:
        if verb == "approve":
            server.approve(transaction_id, now=now, days=days)
        else:
            server.responder.deny(transaction_id, FailInfo.BAD_REQUEST, now=now)
    except ScepError as exc:
        print(f"pyscep serve: {exc}", file=sys.stderr)
        return 2
    print(f"pyscep serve: {transaction_id} {verb}d")
    return 0
