"""``pyscep serve``: a reference SCEP server (the responder, a file CA, SQLite state).

    pyscep serve --state-dir DIR --challenge SECRET [--port 8080] [--pending-polls N]
                 [--manual] [--legacy] [--ra] [--next-ca] [--validity DAYS]
                 [--ca-key-type rsa2048|rsa3072|rsa4096|ec-p256|ec-p384|ec-p521]
    pyscep serve list DIR | approve DIR TXID | reject DIR TXID | revoke DIR SERIAL
    pyscep serve challenge DIR [--subject DN] [--ttl SECONDS]   (with --challenge-mode one-time)

All protocol logic is `pyscep.protocol.server.ScepResponder`; this module is
its application. Without ``--policy`` it issues to requests whose challenge
checked out and to verified renewals (the responder's `VerifiedRenewal`:
signed by a certificate this CA issued, valid, not revoked, same subject, no
new subjectAltName; the renewed certificate keeps the old one's
subjectAltNames), keeps requests PENDING for N polls (``--pending-polls``) or
until the operator approves (``--manual``), and refuses the rest, each
refusal logged with its reason. With ``--policy`` the scep.conf decides, and
a PENDING decision waits for the operator. Run it under gunicorn or uvicorn
with the factories `wsgi_from_environment` / `asgi_from_environment`
(configured by the ``PYSCEP_*`` variables, see `options_from_environment`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from pyscep.algorithms import DEFAULT_POLICY, LEGACY
from pyscep.certificate import Certificate
from pyscep.enums import FailInfo, MessageType, PKIStatus
from pyscep.errors import ScepError
from pyscep.http import CONTENT_TYPE_PKI_MESSAGE, HttpResponse
from pyscep.messages import (
    CertificationRequest,
    PKIMessage,
    build_next_ca_certificates,
    issue_certificate,
    writable_subject_alt_name,
)
from pyscep.policy import (
    Action,
    Decision,
    DistinguishedName,
    PublicKeyView,
    SignerView,
    decide_before_decrypting,
    evaluate,
    parse_scep_conf,
)
from pyscep.protocol.challenges import (
    ChallengeChecker,
    OneTimeChallenges,
    StaticChallenge,
    require_secret,
)
from pyscep.protocol.profiles import PROFILES
from pyscep.protocol.server import (
    Answered,
    EnrollmentRequested,
    PollRequested,
    ResponderConfig,
    ScepResponder,
)
from pyscep.protocol.transactions import Awaiting, Transaction, TransactionState
from pyscep.wsgi import asgi_application, wsgi_application

from .durable import append
from .file_ca import CA_KEY_TYPES, FileCA
from .sqlite_store import SqliteChallenges
from .state import open_state
from .state_inventory import StateInventory

__all__ = [
    "BODY_TIMEOUT",
    "IssuanceTerms",
    "ReferenceServer",
    "ServeConfigError",
    "ServeOptions",
    "add_parser",
    "asgi_from_environment",
    "check_options",
    "describe_pending",
    "options_from_environment",
    "run",
    "wsgi_from_environment",
]

#: Where every decision and refusal is logged (with its reason), besides ``--log``.
log = logging.getLogger("pyscep.serve")
#: The longest lifetime an issued certificate may be given, in days (about 100 years).
MAX_VALIDITY_DAYS = 36_500
#: Seconds a client may take to send its request, by default (``pyscep serve``'s own HTTP
#: server; under gunicorn or uvicorn their own timeouts apply).
BODY_TIMEOUT = 30


class ServeConfigError(ScepError):
    """A configuration ``pyscep serve`` refuses to start with, and why."""


@dataclass(frozen=True)
class ServeOptions:
    """How the reference server behaves."""

    state_dir: Path
    #: The shared challenge (``static`` mode; never empty); unused in ``one-time`` mode.
    challenge: str | None = None
    pending_polls: int = 0
    manual: bool = False
    legacy: bool = False
    ra: bool = False
    next_ca: bool = False
    #: Interop profile: the capabilities advertised (`pyscep.protocol.profiles`).
    profile: str = "strict"
    #: One JSON line per pkiMessage decided on (type, algorithms, outcome, reason).
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


def check_options(options: ServeOptions) -> ServeOptions:
    """``options`` if a server may start with them; ServeConfigError says what is wrong."""
    if options.challenge_mode not in ("static", "one-time"):
        raise ServeConfigError(f"challenge mode {options.challenge_mode!r}: 'static' or 'one-time'")
    if options.challenge_mode == "static":
        try:
            require_secret(options.challenge, "the challenge (--challenge or PYSCEP_CHALLENGE)")
        except ScepError as exc:
            raise ServeConfigError(
                f"{exc}: an empty challenge would admit anyone (use --challenge-mode one-time"
                " for challenges made per device)"
            ) from None
    elif options.challenge is not None:
        raise ServeConfigError(
            "a shared challenge is not used in one-time mode: drop --challenge"
            " (or PYSCEP_CHALLENGE), or use --challenge-mode static"
        )
    if not 1 <= options.validity_days <= MAX_VALIDITY_DAYS:
        raise ServeConfigError(f"the validity is from 1 to {MAX_VALIDITY_DAYS} days")
    if options.pending_polls < 0:
        raise ServeConfigError("--pending-polls cannot be negative")
    if options.policy is not None:
        if options.pending_polls:
            raise ServeConfigError(
                "--pending-polls has no effect with --policy (the policy decides what waits)"
            )
        try:
            parse_scep_conf(options.policy.read_text())
        except OSError as exc:
            raise ServeConfigError(f"the policy {options.policy}: {exc.strerror}") from None
        except ScepError as exc:
            raise ServeConfigError(f"the policy {options.policy}: {exc}") from None
    if options.profile not in PROFILES:
        raise ServeConfigError(f"unknown profile {options.profile!r}: {', '.join(PROFILES)}")
    if options.ca_key_type not in CA_KEY_TYPES:
        raise ServeConfigError(
            f"a CA key cannot be {options.ca_key_type!r}: one of {', '.join(CA_KEY_TYPES)}"
            " (an Ed25519 key only signs: it cannot open requests)"
        )
    return options


@dataclass(frozen=True)
class IssuanceTerms:
    """What an issue grants: lifetime and subjectAltNames.

    Decided with the request and kept with a PENDING transaction (its
    ``context``), so that an approval issues what was decided, whatever the
    approving command's own options.
    """

    days: int
    subject_alt_names: tuple[str, ...] = ()

    def to_context(self) -> str:
        """As a transaction's context."""
        return json.dumps({"days": self.days, "subject_alt_names": list(self.subject_alt_names)})

    @classmethod
    def from_context(cls, context: str, default_days: int) -> IssuanceTerms:
        """The terms a transaction was decided on (``default_days`` for one without)."""
        try:
            data = json.loads(context) if context else {}
            days = int(data.get("days", default_days))
            names = tuple(str(name) for name in data.get("subject_alt_names", ()))
        except (ValueError, TypeError, AttributeError):
            raise ServeConfigError("a stored transaction's terms are damaged") from None
        return cls(min(max(1, days), MAX_VALIDITY_DAYS), names)


def _issuable(names: Iterable[str]) -> tuple[str, ...]:
    """The subjectAltNames the file CA can write (others are not granted, and logged)."""
    names = tuple(names)
    kept = tuple(name for name in names if writable_subject_alt_name(name))
    dropped = [name for name in names if name not in kept]
    if dropped:
        log.warning("subjectAltNames not granted (a kind the file CA does not write): %s", dropped)
    return kept


@dataclass(frozen=True)
class _Signing:
    """The file CA signing on agreed terms; called by the responder once per transaction."""

    files: FileCA
    new_serial: Callable[[], int]
    terms: IssuanceTerms

    def issue(self, request: CertificationRequest, *, now: datetime) -> Certificate:
        return issue_certificate(
            self.files.ca,
            request,
            now=now,
            days=self.terms.days,
            serial_number=self.new_serial(),
            subject_alt_names=self.terms.subject_alt_names,
        )


class ReferenceServer:
    """The reference server's application: decisions on the responder's events."""

    def __init__(
        self, options: ServeOptions, *, now: datetime | None = None, create: bool = True
    ) -> None:
        """``create=False`` opens an existing state directory only (the operator's commands)."""
        now = now or datetime.now(timezone.utc)
        self.options = options
        self.files = FileCA.open(
            options.state_dir,
            ra=options.ra,
            next_ca=options.next_ca,
            now=now,
            ca_key_type=options.ca_key_type,
            create=create,
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
                # The policy's trusted RAs may sign requests for others' keys.
                trusted_signers=frozenset(
                    bytes.fromhex(fingerprint)
                    for fingerprint in (self.policy.trusted_ras if self.policy else ())
                ),
            ),
            self.store,
        )

    def _challenges(self) -> ChallengeChecker | None:
        if self.options.challenge_mode == "one-time":
            return self.one_time_challenges()
        # The operator's commands open a server without one: they judge no request.
        return None if self.options.challenge is None else StaticChallenge(self.options.challenge)

    def one_time_challenges(self) -> OneTimeChallenges:
        """The one-time challenges of this state directory (issue with ``serve challenge``)."""
        store = SqliteChallenges(self.options.state_dir / "state.sqlite")
        return OneTimeChallenges(store, clock=lambda: datetime.now(timezone.utc))

    def handle(self, method: str, path: str, query: str, body: bytes) -> HttpResponse:
        """One HTTP request: the responder's event, decided, and logged with its reason."""
        now = datetime.now(timezone.utc)
        event = self.responder.receive(method, path, query, body, now=now)
        if isinstance(event, Answered):
            self._log_answer(event, method)
            return event.response
        if isinstance(event, EnrollmentRequested):
            reason, answer = self._enrollment(event, now)
        elif isinstance(event, PollRequested):
            reason, answer = self._poll(event, now)
        else:  # pragma: no cover - GetCert and GetCRL are not in `handled`
            return self.responder.reject(event, FailInfo.BAD_REQUEST, now=now)
        self._logged(event, method, self._outcome(event), reason)
        return answer

    def _outcome(self, event: EnrollmentRequested | PollRequested) -> str:
        """What became of the request, as the store holds it (a race may have decided)."""
        stored = self.store.get(event.transaction_id)
        if stored is None:
            return "rejected"  # a refused new request is not remembered
        if stored.csr != event.request.der:
            return "rejected"  # the transactionID belongs to another request
        return {TransactionState.ISSUING: "pending"}.get(stored.state, stored.state.value)

    def _write_log(self, entry: Mapping[str, Any]) -> None:
        if self.options.log is not None:
            append(self.options.log, (json.dumps(entry) + "\n").encode())

    def _log_answer(self, event: Answered, method: str) -> None:
        """A pkiMessage the responder answered itself (a refusal, a poll, a re-send)."""
        response = event.response
        if response.status == 200 and response.content_type != CONTENT_TYPE_PKI_MESSAGE:
            return  # capabilities and CA certificates: nothing decided
        refused = response.status != 200 or event.pki_status is PKIStatus.FAILURE
        level = logging.WARNING if refused else logging.INFO
        log.log(level, "%s answered by the responder: %s", method, event.reason)
        self._write_log({"method": method, "answered": event.reason, "status": response.status})

    def _logged(
        self,
        event: EnrollmentRequested | PollRequested,
        method: str,
        decision: str,
        reason: str,
    ) -> None:
        message = event.message
        level = logging.WARNING if decision == "rejected" else logging.INFO
        log.log(
            level,
            "%s %s %s: %s (%s)",
            message.message_type.rfc_name,
            event.transaction_id,
            decision,
            reason,
            event.request.subject,
        )
        findings = event.challenge_findings if isinstance(event, EnrollmentRequested) else ()
        self._write_log(
            {
                "method": method,
                "type": message.message_type.rfc_name,
                "digest": message.digest.value,
                "cipher": None if message.content_cipher is None else message.content_cipher.value,
                "signature": message.signature_algorithm,
                "transaction_id": event.transaction_id,
                "subject": event.request.subject,
                "decision": decision,
                "reason": reason,
                "challenge_findings": [str(f) for f in findings],
            }
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
        rule = decision.trace[-1]
        log.warning(
            "%s %s refused before decrypting: policy rule %s: %s",
            message.message_type.rfc_name,
            message.transaction_id,
            rule.rule,
            rule.detail,
        )
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
        rule = decision.trace[-1]
        reason = f"policy rule {rule.rule}: {rule.detail}"
        days = self.options.validity_days
        terms = IssuanceTerms(
            days if decision.validity is None else max(1, decision.validity.days),
            _issuable(decision.subject_alt_names),
        )
        if decision.action is Action.ISSUE:
            return reason, self._issue(event, terms, now)
        if decision.action is Action.PENDING:
            # Left for the operator: only `serve approve` or `serve reject` ends it.
            return reason, self._hold(event, terms, now)
        fail_info = decision.fail_info or FailInfo.BAD_REQUEST
        response = self.responder.reject(event, fail_info, now=now, text=decision.fail_info_text)
        return reason, response

    def _log_decision(self, transaction_id: str | None, decision: Decision) -> None:
        self._write_log({"transaction_id": transaction_id, "policy": decision.as_dict()})

    def _enrollment(self, event: EnrollmentRequested, now: datetime) -> tuple[str, HttpResponse]:
        if self.policy is not None:
            return self._decided(event, now)
        days = self.options.validity_days
        if event.renewal is not None:
            # A verified renewal keeps its identity: the old certificate's names go on.
            old_names = event.renewal.certificate.subject_alt_names
            terms = IssuanceTerms(days, _issuable(old_names))
            reason = f"renewal of serial {event.renewal.certificate.serial_number}"
            if self.options.manual:
                return reason, self._hold(event, terms, now)
            return reason, self._issue(event, terms, now)
        assert event.why_not_renewal is not None
        if event.message_type is MessageType.RENEWAL_REQ:
            reason = f"not a valid renewal: {event.why_not_renewal}"
            text = "the request is not a valid renewal"
            response = self.responder.reject(event, FailInfo.BAD_CERT_ID, now=now, text=text)
            return reason, response
        if not event.challenge.accepted:
            why = event.challenge.reason
            if not event.signer_certificate.self_signed:
                why += f"; not a renewal either: {event.why_not_renewal}"
            response = self.responder.reject(
                event, FailInfo.BAD_REQUEST, now=now, text=event.challenge.reason
            )
            return why, response
        terms = IssuanceTerms(days)
        reason = event.challenge.reason
        if self.options.manual:
            return reason, self._hold(event, terms, now)
        if self.options.pending_polls:
            # Decided ISSUE, delivered after N polls: each poll asks this application again.
            response = self.responder.pending(
                event, now=now, awaiting=Awaiting.APPLICATION, context=terms.to_context()
            )
            return reason, response
        return reason, self._issue(event, terms, now)

    def _hold(
        self, event: EnrollmentRequested | PollRequested, terms: IssuanceTerms, now: datetime
    ) -> HttpResponse:
        """PENDING until the operator approves or rejects (``--manual``, a policy's PENDING)."""
        return self.responder.pending(event, now=now, context=terms.to_context())

    def _poll(self, event: PollRequested, now: datetime) -> tuple[str, HttpResponse]:
        # Only transactions this application left to itself come here (``--pending-polls``,
        # or an issuance that failed and gave its claim back): the operator's are answered
        # PENDING by the responder until approved.
        context = event.transaction.context
        terms = IssuanceTerms.from_context(context, self.options.validity_days)
        if self.options.manual:
            # Started under --pending-polls, now served with --manual: the operator decides.
            return "the operator decides (--manual)", self._hold(event, terms, now)
        polls = self.store.count_poll(event.transaction_id)
        if polls < self.options.pending_polls:
            reason = f"poll {polls} of {self.options.pending_polls} before issuing"
            response = self.responder.pending(
                event, now=now, awaiting=Awaiting.APPLICATION, context=context
            )
            return reason, response
        return f"issued after {polls} polls", self._issue(event, terms, now)

    def _issue(
        self, event: EnrollmentRequested | PollRequested, terms: IssuanceTerms, now: datetime
    ) -> HttpResponse:
        # The issued certificate alone: clients have the CA from GetCACert, and
        # micromdm's scepclient keeps the last certificate of the reply. The terms go with
        # the claim, so that an issuance that fails keeps them for the next try.
        return self.responder.issue(
            event, self._signing(terms), now=now, context=terms.to_context()
        )

    def _signing(self, terms: IssuanceTerms) -> _Signing:
        return _Signing(self.files, self.store.new_serial, terms)

    def approve(
        self, transaction_id: str, *, now: datetime, days: int | None = None
    ) -> Certificate:
        """The operator's yes to a PENDING request: issue on the terms decided with it
        (``days`` overrides the lifetime); the next CertPoll gets it."""
        known = self.store.get(transaction_id)
        if known is None:
            raise ServeConfigError(f"no transaction {transaction_id!r}")
        terms = IssuanceTerms.from_context(known.context, self.options.validity_days)
        if days is not None:
            if not 1 <= days <= MAX_VALIDITY_DAYS:
                raise ServeConfigError(f"the validity is from 1 to {MAX_VALIDITY_DAYS} days")
            terms = replace(terms, days=days)
        done = self.responder.approve(transaction_id, self._signing(terms), now=now)
        return Certificate.load(done.certificates[0])


def describe_pending(transaction: Transaction, default_days: int) -> list[str]:
    """What an operator needs to decide on a PENDING transaction, a line each."""
    request = CertificationRequest.load(transaction.csr)
    key = PublicKeyView.from_der(request.public_key_der)
    terms = IssuanceTerms.from_context(transaction.context, default_days)
    since = transaction.updated.isoformat() if transaction.updated else "?"
    state = "pending" if transaction.state is TransactionState.PENDING else "being issued"
    lines = [
        f"{transaction.transaction_id}  {state} since {since}, awaiting the"
        f" {transaction.awaiting.value}",
        f"    subject: {DistinguishedName.from_der(request.subject_der)}",
        f"    key: {key.algorithm}-{key.bits}; if approved: {terms.days} days",
    ]
    if transaction.renews:
        lines.append(f"    renews the certificate with SHA-256 {transaction.renews.hex()}")
    elif transaction.signer_key:
        lines.append("    signed by a certificate of this CA that it does not renew")
    if request.subject_alt_names:
        lines.append(f"    requested subjectAltNames: {', '.join(request.subject_alt_names)}")
    if terms.subject_alt_names:
        lines.append(f"    granted subjectAltNames: {', '.join(terms.subject_alt_names)}")
    if request.challenge_password is not None:
        lines.append("    carries a challengePassword")
    return lines


def _switch(environment: Mapping[str, str], name: str) -> bool:
    text = environment.get(name, "")
    if text not in ("", "0", "1"):
        raise ServeConfigError(f"{name}={text!r}: 1 for yes, 0 or unset for no")
    return text == "1"


def _number(environment: Mapping[str, str], name: str, default: int) -> int:
    text = environment.get(name, "").strip()
    if not text:
        return default
    if not text.isascii() or not text.isdigit():
        raise ServeConfigError(f"{name}={text!r} is not a whole number")
    return int(text)


def options_from_environment(environment: Mapping[str, str] | None = None) -> ServeOptions:
    """`ServeOptions` from the ``PYSCEP_*`` variables (the gunicorn and uvicorn factories).

    ``PYSCEP_STATE_DIR`` (required), ``PYSCEP_CHALLENGE`` (required in static mode),
    ``PYSCEP_CHALLENGE_MODE``, ``PYSCEP_PENDING_POLLS``, ``PYSCEP_MANUAL``,
    ``PYSCEP_LEGACY``, ``PYSCEP_RA``, ``PYSCEP_NEXT_CA`` (``1`` for yes),
    ``PYSCEP_PROFILE``, ``PYSCEP_STATE_URL``, ``PYSCEP_POLICY``, ``PYSCEP_LOG``,
    ``PYSCEP_VALIDITY_DAYS``, ``PYSCEP_CA_KEY_TYPE``. ServeConfigError says what is wrong.
    """
    env = os.environ if environment is None else environment
    if not env.get("PYSCEP_STATE_DIR"):
        raise ServeConfigError("PYSCEP_STATE_DIR is required")
    return check_options(
        ServeOptions(
            state_dir=Path(env["PYSCEP_STATE_DIR"]),
            challenge=env.get("PYSCEP_CHALLENGE") if "PYSCEP_CHALLENGE" in env else None,
            pending_polls=_number(env, "PYSCEP_PENDING_POLLS", 0),
            manual=_switch(env, "PYSCEP_MANUAL"),
            legacy=_switch(env, "PYSCEP_LEGACY"),
            ra=_switch(env, "PYSCEP_RA"),
            next_ca=_switch(env, "PYSCEP_NEXT_CA"),
            profile=env.get("PYSCEP_PROFILE", "strict"),
            log=Path(env["PYSCEP_LOG"]) if env.get("PYSCEP_LOG") else None,
            state_url=env.get("PYSCEP_STATE_URL") or None,
            challenge_mode=env.get("PYSCEP_CHALLENGE_MODE", "static"),
            policy=Path(env["PYSCEP_POLICY"]) if env.get("PYSCEP_POLICY") else None,
            validity_days=_number(env, "PYSCEP_VALIDITY_DAYS", 365),
            ca_key_type=env.get("PYSCEP_CA_KEY_TYPE", "rsa2048"),
        )
    )


def wsgi_from_environment() -> Callable[..., Iterable[bytes]]:
    """The WSGI application, configured from ``PYSCEP_*`` variables (for gunicorn)."""
    return wsgi_application(ReferenceServer(options_from_environment()).handle)


def asgi_from_environment() -> Callable[..., Awaitable[None]]:
    """The ASGI application, configured from ``PYSCEP_*`` variables (``uvicorn --factory``)."""
    return asgi_application(ReferenceServer(options_from_environment()).handle)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    # A client that stops sending its request is cut off, not waited for forever.
    timeout = BODY_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        return


_ACTIONS = "list DIR | approve DIR TXID | reject DIR TXID | revoke DIR SERIAL | challenge DIR"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``serve``."""
    serve = commands.add_parser(
        "serve",
        help="a reference SCEP server (file CA, SQLite state)",
        description=f"Serve SCEP; or administer a state directory: serve {_ACTIONS}",
    )
    serve.add_argument("action", nargs="*", help=_ACTIONS)
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="the port to listen on")
    serve.add_argument("--state-dir", type=Path, help="CA keys, certificates and state.sqlite")
    serve.add_argument(
        "--challenge", help="the challenge password of initial enrollments (never empty)"
    )
    serve.add_argument("--pending-polls", type=int, default=0, help="answer PENDING N polls first")
    serve.add_argument("--manual", action="store_true", help="PENDING until `serve approve`")
    serve.add_argument("--legacy", action="store_true", help="accept MD5 and single DES")
    serve.add_argument("--ra", action="store_true", help="a separate RA certificate")
    serve.add_argument("--next-ca", action="store_true", help="offer a rollover CA")
    serve.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="strict",
        help="the capabilities advertised (interop profile)",
    )
    serve.add_argument(
        "--log", type=Path, help="append one JSON line per request decided, with its reason"
    )
    serve.add_argument("--state-url", help="postgresql://... for state shared by several hosts")
    serve.add_argument(
        "--challenge-mode",
        choices=["static", "one-time"],
        default="static",
        help="one-time: challenges made by `serve challenge DIR`, each valid once",
    )
    serve.add_argument("--policy", type=Path, help="an OpenCA scep.conf deciding every request")
    serve.add_argument(
        "--validity",
        type=int,
        help="days issued certificates last (default 365); with approve: override the"
        " lifetime decided with the request",
    )
    serve.add_argument(
        "--ca-key-type",
        choices=CA_KEY_TYPES,
        default="rsa2048",
        help="the key of a new CA (EC CAs open requests by key agreement)",
    )
    serve.add_argument(
        "--body-timeout",
        type=float,
        default=BODY_TIMEOUT,
        help=f"seconds a client may take to send its request (default {BODY_TIMEOUT})",
    )
    serve.add_argument("--subject", help="serve challenge: the DN pattern it is for")
    serve.add_argument("--ttl", type=int, default=3600, help="serve challenge: seconds valid")
    serve.set_defaults(handler=run)


def _fail(message: str) -> int:
    print(f"pyscep serve: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Serve, or administer a state directory."""
    if args.action:
        try:
            return _administer(args)
        except ScepError as exc:
            return _fail(str(exc))
    if args.state_dir is None:
        return _fail("--state-dir is required")
    if not args.body_timeout > 0:
        return _fail("--body-timeout is a positive number of seconds")
    try:
        options = check_options(
            ServeOptions(
                state_dir=args.state_dir,
                challenge=args.challenge,
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
                validity_days=365 if args.validity is None else args.validity,
                ca_key_type=args.ca_key_type,
            )
        )
        server = ReferenceServer(options)
    except ScepError as exc:
        return _fail(str(exc))
    logging.basicConfig(level=logging.INFO, format="pyscep serve: %(message)s", stream=sys.stderr)
    handler = type("_Handler", (_QuietHandler,), {"timeout": args.body_timeout})
    httpd = make_server(
        args.host,
        args.port,
        wsgi_application(server.handle),
        server_class=_ThreadingServer,
        handler_class=handler,
    )
    port = httpd.server_address[1]
    print(f"pyscep serve: ready on http://{args.host}:{port}/scep (state in {args.state_dir})")
    sys.stdout.flush()
    with contextlib.suppress(KeyboardInterrupt):
        httpd.serve_forever()
    return 0


def _administer(args: argparse.Namespace) -> int:
    verb, *rest = args.action
    arity = {"list": 1, "challenge": 1, "approve": 2, "reject": 2, "revoke": 2}
    if arity.get(verb) != len(rest):
        return _fail(f"usage: serve {_ACTIONS}")
    now = datetime.now(timezone.utc)
    options = ServeOptions(Path(rest[0]), state_url=args.state_url)
    if verb == "challenge":
        options = replace(options, challenge_mode="one-time")
    # An operator's command never creates a CA: a mistyped directory is an error.
    server = ReferenceServer(options, now=now, create=False)
    if verb == "challenge":
        ttl = timedelta(seconds=args.ttl)
        print(server.one_time_challenges().issue(ttl=ttl, subject=args.subject))
        return 0
    if verb == "list":
        for transaction in server.store.pending():
            print("\n".join(describe_pending(transaction, server.options.validity_days)))
        return 0
    if verb == "revoke":
        return _revoke(server, rest[1])
    transaction_id = rest[1]
    if verb == "approve":
        certificate = server.approve(transaction_id, now=now, days=args.validity)
        print(
            f"pyscep serve: {transaction_id} approved: serial {certificate.serial_number},"
            f" {certificate.subject}, until {certificate.not_valid_after.isoformat()}"
        )
        return 0
    server.responder.deny(transaction_id, FailInfo.BAD_REQUEST, now=now)
    print(f"pyscep serve: {transaction_id} rejected")
    return 0


def _revoke(server: ReferenceServer, text: str) -> int:
    try:
        serial = int(text, 0)
    except ValueError:
        return _fail(f"{text!r} is not a serial number (decimal, or hex with 0x)")
    for transaction in server.store.issued():
        if Certificate.load(transaction.certificates[0]).serial_number == serial:
            server.store.revoke(transaction.transaction_id)
            print(f"pyscep serve: serial {serial} revoked")
            return 0
    return _fail(f"no certificate with serial {serial}")
