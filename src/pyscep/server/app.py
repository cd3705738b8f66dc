"""The reference server's application: `ReferenceServer` decides on the responder's events.

All protocol logic is `pyscep.protocol.server.ScepResponder`; this is its
application. Without a policy it issues to requests whose challenge checked
out and to verified renewals (the responder's `VerifiedRenewal`: signed by a
certificate this CA issued, valid, not revoked, same subject, no new
subjectAltName; the renewed certificate keeps the old one's subjectAltNames),
keeps requests PENDING for N polls (``pending_polls``) or until the operator
approves (``manual``), and refuses the rest, each refusal logged with its
reason. With a policy the scep.conf decides, and a PENDING decision waits for
the operator.
"""

from __future__ import annotations

import contextlib
import json
import logging
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pyscep._appkit.durable import SafeDirectory, append
from pyscep.algorithms import DEFAULT_POLICY, LEGACY
from pyscep.certificate import Certificate
from pyscep.crypto import KeyPair
from pyscep.enums import FailInfo, MessageType, PKIStatus
from pyscep.errors import LocalProtocolError, ScepError
from pyscep.http import CONTENT_TYPE_PKI_MESSAGE, HTTPResponse
from pyscep.messages import (
    CACaps,
    CertificationRequest,
    PKIMessage,
    build_next_ca_certificates,
    carries_sid,
    issue_certificate,
    writable_subject_alt_name,
)
from pyscep.messages.ca import may_sign
from pyscep.policy import (
    Action,
    Classification,
    Decision,
    RequestedSid,
    SignerView,
    decide_before_decrypting,
    evaluate,
    parse_scep_conf,
)
from pyscep.protocol.challenges import ChallengeChecker, OneTimeChallenges, StaticChallenge
from pyscep.protocol.intune import IntuneError, IntuneSettings
from pyscep.protocol.lint import LintReport, lint_setup
from pyscep.protocol.profiles import PROFILES
from pyscep.protocol.server import (
    Answered,
    CRLRequested,
    EnrollmentRequested,
    PollRequested,
    ResponderConfig,
    ScepResponder,
)
from pyscep.protocol.transactions import Awaiting, TransactionState
from pyscep.sid import VouchedSid

from .config import MAX_VALIDITY_DAYS, ServeConfigError, ServeOptions, require_whole_pair
from .file_ca import FileCA, open_chain, open_key_pair
from .intune import (
    CredentialSource,
    IntuneChallenge,
    IntuneService,
    certificate_credential,
    federated_credential,
    secret_credential,
    urllib_transport,
)
from .metrics import ServerMetrics
from .ndes_admin import (
    NDES_CHALLENGE_ALPHABET,
    NDES_CHALLENGE_LENGTH,
    cache_full_page,
    is_mscep_admin,
    load_ndes_admin_credentials,
    mscep_admin_page,
    unauthorized,
)
from .pkcs11 import capabilities_of
from .profiles import BUILT_IN, DEFAULT_PROFILE, IssuanceProfile, load_issuance_profiles
from .revocation import CRL_CONTENT_TYPE, CRL_PATH, current_crl, in_first_half
from .stores import PublishedCRL, StateInventory, open_state

__all__ = ["IssuanceTerms", "ReferenceServer"]

#: Where every decision and refusal is logged (with its reason), besides ``--log``.
log = logging.getLogger("pyscep.serve")
#: Each decision as one JSON line (what ``--log`` appends), at INFO; the gunicorn and
#: uvicorn factories send it to stderr.
decisions = logging.getLogger("pyscep.decisions")


@dataclass(frozen=True)
class IssuanceTerms:
    """What an issue grants: the issuance profile's lifetime, usages, subjectAltNames, and
    where its CRL and its issuer's certificate are.

    Decided with the request and kept with a PENDING transaction (its
    ``context``), so that an approval issues what was decided, whatever the
    approving command's own options.
    """

    days: int
    subject_alt_names: tuple[str, ...] = ()
    #: The cRLDistributionPoints of the certificate (the profile's, or ``--crl-url``).
    crl_urls: tuple[str, ...] = ()
    #: The issuance profile these terms come from.
    profile: str = DEFAULT_PROFILE
    #: keyUsage (None: as the key type has it), extendedKeyUsage, authorityInfoAccess.
    key_usage: tuple[str, ...] | None = None
    extended_key_usage: tuple[str, ...] = ()
    ca_issuers_urls: tuple[str, ...] = ()
    ocsp_urls: tuple[str, ...] = ()
    #: The Windows account SID the certificate carries, and who vouched for it (a
    #: one-time challenge, the renewed certificate): never one a request asked for.
    sid: str | None = None
    sid_vouched_by: str = ""
    #: Intune validated the request: Intune hears of the certificate before it is issued.
    intune: bool = False

    def to_context(self) -> str:
        """As a transaction's context."""
        return json.dumps(asdict(self))

    @classmethod
    def from_context(cls, context: str, default_days: int) -> IssuanceTerms:
        """The terms a transaction was decided on (``default_days`` for one without)."""
        try:
            data = json.loads(context) if context else {}
            days = int(data.get("days", default_days))
            usage = data.get("key_usage")
            names = _texts(data, "subject_alt_names")
            kept = tuple(name for name in names if not carries_sid(name))
            if kept != names:
                # Decided by an older server that copied requested names: never a SID.
                log.warning("a stored transaction's terms named a SID URI: left out")
            terms = cls(
                min(max(1, days), MAX_VALIDITY_DAYS),
                kept,
                _texts(data, "crl_urls"),
                str(data.get("profile", DEFAULT_PROFILE)),
                None if usage is None else tuple(str(bit) for bit in usage),
                _texts(data, "extended_key_usage"),
                _texts(data, "ca_issuers_urls"),
                _texts(data, "ocsp_urls"),
                None if data.get("sid") is None else str(data["sid"]),
                str(data.get("sid_vouched_by", "")),
                bool(data.get("intune", False)),
            )
            terms.vouched_sid()  # a damaged SID is refused here, not when signing
        except (ValueError, TypeError, AttributeError):
            raise ServeConfigError("a stored transaction's terms are damaged") from None
        return terms

    def vouched_sid(self) -> VouchedSid | None:
        """The SID to write, as the value `issue_certificate` takes."""
        return None if self.sid is None else VouchedSid(self.sid, self.sid_vouched_by)


def _texts(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    return tuple(str(value) for value in data.get(key, ()))


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
    """The file CA signing on agreed terms; called by the responder once per transaction.
    ``notify`` (Intune's success notification) is told of the certificate before it is
    delivered: if it raises, the claim is given back and nothing is delivered."""

    files: FileCA
    new_serial: Callable[[], int]
    terms: IssuanceTerms
    notify: Callable[[CertificationRequest, Certificate], None] | None = None

    def issue(self, request: CertificationRequest, *, now: datetime) -> Certificate:
        certificate = self._sign(request, now=now)
        if self.notify is not None:
            self.notify(request, certificate)
        return certificate

    def _sign(self, request: CertificationRequest, *, now: datetime) -> Certificate:
        return issue_certificate(
            self.files.ca,
            request,
            now=now,
            days=self.terms.days,
            serial_number=self.new_serial(),
            subject_alt_names=self.terms.subject_alt_names,
            crl_urls=self.terms.crl_urls,
            key_usage=self.terms.key_usage,
            extended_key_usage=self.terms.extended_key_usage,
            ca_issuers_urls=self.terms.ca_issuers_urls,
            ocsp_urls=self.terms.ocsp_urls,
            vouched_sid=self.terms.vouched_sid(),
        )


def _certificate_authority(options: ServeOptions, *, now: datetime, create: bool) -> FileCA:
    """The state directory's CA, or the existing one ``--ca-cert``/``--ca-key`` give."""
    require_whole_pair("CA", options.ca_cert, options.ca_key)
    if options.ca_cert is None or options.ca_key is None:
        return FileCA.open(
            options.state_dir,
            ra=options.ra,
            next_ca=options.next_ca,
            now=now,
            ca_key_type=options.ca_key_type,
            create=create,
        )
    if create:  # the state's own files (state.sqlite) live there, the CA's do not
        options.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with SafeDirectory(options.state_dir):
        pass  # checked as FileCA.open checks its own: a directory nobody else may write
    has_ra = options.ra_cert is not None and options.ra_key is not None
    ca = open_key_pair(options.ca_cert, options.ca_key, role="CA", decrypts=not has_ra)
    ra = None
    if options.ra_cert is not None and options.ra_key is not None:
        ra = open_key_pair(options.ra_cert, options.ra_key, role="RA", decrypts=True)
    chain = () if options.ca_chain is None else open_chain(options.ca_chain, ca.certificate)
    return FileCA(ca, ra, None, chain)


def _signs(pair: KeyPair) -> bool:
    """May this pair sign CertReps: keyUsage allows it, and the key is no ML-KEM key."""
    parameter_set = pair.certificate.public_key.parameter_set
    return may_sign(pair.certificate) and (parameter_set is None or not parameter_set.is_kem)


class ReferenceServer:
    """The reference server's application: decisions on the responder's events."""

    def __init__(
        self, options: ServeOptions, *, now: datetime | None = None, create: bool = True
    ) -> None:
        """``create=False`` opens an existing state directory only (the operator's commands)."""
        now = now or datetime.now(timezone.utc)
        self.options = options
        self.files = _certificate_authority(options, now=now, create=create)
        self.store = open_state(options.state_dir, options.state_url)
        #: What this server answered, and what its store holds (None without
        #: prometheus_client: nothing is counted, and there is no admin port).
        self.metrics: ServerMetrics | None = None
        self._served_crl: tuple[int, PublishedCRL] | None = None
        with contextlib.suppress(ServeConfigError):
            self.metrics = ServerMetrics(self.store)
        ca, ra = self.files.ca, self.files.ra
        operator = ra or ca
        # An RA whose key only decapsulates (ML-KEM) opens the requests; the CA signs.
        signer = operator if ra is None or _signs(ra) else ca
        next_body = None
        if self.files.next_ca is not None:
            next_body = build_next_ca_certificates([self.files.next_ca.certificate], signer=ca)
        self.algorithms = LEGACY if options.legacy else DEFAULT_POLICY
        self.policy = (
            None if options.policy is None else parse_scep_conf(options.policy.read_text())
        )
        self.profiles = (
            BUILT_IN
            if options.issuance_profiles is None
            else load_issuance_profiles(options.issuance_profiles)
        )
        self.intune = _intune_service(options) if options.challenge_mode == "intune" else None
        self.ndes_admin = (
            None
            if options.ndes_admin_credentials is None
            else load_ndes_admin_credentials(options.ndes_admin_credentials)
        )
        self.inventory = StateInventory(
            self.store,
            role=self.policy.default_role if self.policy else "",
            ra=self.policy.default_ra if self.policy else "",
            clock=lambda: datetime.now(timezone.utc),
        )
        capabilities = capabilities_of(signer.key)
        profile = PROFILES[options.profile]
        held = (ca.certificate, *(() if ra is None else (ra.certificate,)))
        if not create and any(c.public_key.parameter_set for c in held):
            # The operator's commands serve nothing: this state's post-quantum CA was made
            # and is served with the post-quantum profile; they administer it as it is.
            profile = replace(profile, post_quantum=True)
        try:
            config = ResponderConfig(
                ca_certificate=ca.certificate,
                signer=signer,
                decrypter=operator,
                ra_certificates=() if ra is None else (ra.certificate,),
                ca_chain=self.files.chain,
                algorithms=self.algorithms,
                # Default deny: the enrollment messages, and GetCRL (the CRL is public).
                handled=frozenset(
                    {
                        MessageType.PKCS_REQ,
                        MessageType.RENEWAL_REQ,
                        MessageType.CERT_POLL,
                        MessageType.GET_CRL,
                    }
                ),
                challenge=self._challenges(),
                next_ca_certificates=next_body,
                profile=profile,
                before_decrypt=self._before_decrypt if self.policy else None,
                # The policy's trusted RAs may sign requests for others' keys.
                trusted_signers=frozenset(
                    bytes.fromhex(fingerprint)
                    for fingerprint in (self.policy.trusted_ras if self.policy else ())
                ),
                # What the key's backend says it signs with decides GetCACaps and refusals.
                signer_digests=None if capabilities is None else capabilities.digests,
            )
        except LocalProtocolError as exc:  # keys the profile does not allow, say
            raise ServeConfigError(str(exc)) from None
        self.responder = ScepResponder(
            config,
            self.store,
        )
        if create:
            # The preflight of what clients will be handed: logged at start, never fatal
            # (an operator may serve only some platforms).
            try:
                findings = self.lint(now).findings
            except ScepError as exc:  # never fatal: a CA it cannot judge is served anyway
                log.warning("preflight: could not be run: %s", exc)
                findings = ()
            for finding in findings:
                log.warning("preflight: %s", finding)

    def lint(self, now: datetime) -> LintReport:
        """This server's setup checked against each platform's SCEP client
        (`pyscep.protocol.lint`): its CA, RA and chain, its GetCACaps, its profile."""
        answer = self.responder.receive("GET", "/scep", "operation=GetCACaps", b"", now=now)
        assert isinstance(answer, Answered)
        ra = self.files.ra
        return lint_setup(
            self.files.ca.certificate,
            () if ra is None else (ra.certificate,),
            caps=CACaps.parse(answer.response.body),
            profile=PROFILES[self.options.profile],
            now=now,
            chain=self.files.chain,
        )

    def _challenges(self) -> ChallengeChecker | None:
        if self.intune is not None:
            return IntuneChallenge(self.intune)
        if self.options.challenge_mode == "one-time":
            return self.one_time_challenges()
        # The operator's commands open a server without one: they judge no request.
        return None if self.options.challenge is None else StaticChallenge(self.options.challenge)

    def one_time_challenges(self) -> OneTimeChallenges:
        """The one-time challenges of this server's state (issue with ``serve challenge``),
        kept in the state store: a challenge made on one host is accepted on the others."""
        return OneTimeChallenges(self.store.challenges, clock=lambda: datetime.now(timezone.utc))

    @property
    def crl_path(self) -> str:
        """Where the CRL is served by plain HTTP GET: the path of ``--crl-url``, or ``/crl``."""
        # Decoded, as PATH_INFO is: a percent-encoded --crl-url matches what clients send.
        return unquote(urlsplit(self.options.crl_url).path) if self.options.crl_url else CRL_PATH

    def current_crl(self, now: datetime) -> PublishedCRL:
        """The CRL every host serves now (a new one is signed when it is due).

        Anyone may ask, so the CRL this process served last is kept, with the number of
        revocations it was made from: while that number (one COUNT in the store) and
        the CRL's half-life hold, nothing is read or parsed again. Revocations are never
        taken back, so the count changes whenever what a CRL must list does.
        """
        revoked = self.store.counts().revoked
        kept = self._served_crl
        if (
            kept is not None
            and kept[0] == revoked
            and in_first_half(kept[1], now, self.options.crl_days)
        ):
            return kept[1]
        crl = current_crl(self.store, self.files.ca, now=now, days=self.options.crl_days)
        self._served_crl = (revoked, crl)
        return crl

    #: The request headers `handle_with_headers` reads (the adapters pass these on).
    REQUEST_HEADERS = ("authorization",)

    def handle_with_headers(
        self, method: str, path: str, query: str, body: bytes, headers: Mapping[str, str]
    ) -> HTTPResponse:
        """`handle`, and the NDES-style ``/certsrv/mscep_admin/`` page, which reads the
        request's ``Authorization`` and ``:scheme`` (`pyscep.wsgi.HeaderHandler`)."""
        if is_mscep_admin(path):
            return self._mscep_admin(method, headers)
        return self.handle(method, path, query, body)

    def _mscep_admin(self, method: str, headers: Mapping[str, str]) -> HTTPResponse:
        """A new one-time challenge on NDES's page, for a connector that proves who it is,
        over TLS only (its credentials and the challenges cross the network)."""
        if self.ndes_admin is None:
            return HTTPResponse(404, "text/plain", b"no mscep_admin page here\n")
        if method != "GET":
            return HTTPResponse(405, "text/plain", b"GET only\n", (("Allow", "GET"),))
        # The connection's own TLS; a proxy's word for it only when the operator said so
        # (gunicorn and uvicorn believe X-Forwarded-Proto from loopback by default).
        secure = headers.get(":tls") == "connection" or (
            self.options.ndes_admin_behind_proxy and headers.get(":scheme") == "https"
        )
        if not secure:
            return HTTPResponse(
                403, "text/plain", b"the mscep_admin page is served over TLS only\n"
            )
        authorization = headers.get("authorization")
        if not self.ndes_admin.admit(authorization):
            if authorization is None:  # what a connector sends first, to be challenged
                log.info("mscep_admin: credentials asked for")
            else:
                log.warning("mscep_admin: wrong credentials refused")
            return unauthorized()
        now = datetime.now(timezone.utc)
        if self.store.challenges.outstanding(now) >= self.options.ndes_admin_cache:
            log.warning(
                "mscep_admin: %d challenges wait unused: none more", self.options.ndes_admin_cache
            )
            return cache_full_page()
        ttl = timedelta(seconds=self.options.ndes_admin_ttl)
        password = OneTimeChallenges(self.store.challenges, clock=lambda: now).issue(
            ttl=ttl, length=NDES_CHALLENGE_LENGTH, alphabet=NDES_CHALLENGE_ALPHABET
        )
        log.info("mscep_admin: a one-time challenge was handed out")
        return mscep_admin_page(password, self.files.ca.certificate, ttl)

    def handle(self, method: str, path: str, query: str, body: bytes) -> HTTPResponse:
        """One HTTP request: the responder's event, decided, logged with its reason, and
        counted in the metrics."""
        started = time.perf_counter()
        operations = parse_qs(query).get("operation", [])
        operation = operations[0] if operations else ""
        if not operation and method == "GET" and path == self.crl_path:
            operation = "crl"  # the CRL's own label; "?operation=crl" is no CRL request
        elif operation == "crl":
            operation = "other"
        response, outcome = self._answer(method, path, query, body, operation)
        if self.metrics is not None:
            self.metrics.observe(operation or "other", outcome, time.perf_counter() - started)
        return response

    def _answer(
        self, method: str, path: str, query: str, body: bytes, operation: str
    ) -> tuple[HTTPResponse, str]:
        """The response, and its outcome for the metrics (a CertRep's pkiStatus or the
        decision taken; else ``ok`` or the HTTP status's class)."""
        now = datetime.now(timezone.utc)
        if method == "GET" and operation == "crl":
            return HTTPResponse(200, CRL_CONTENT_TYPE, self.current_crl(now).der), "crl"
        event = self.responder.receive(method, path, query, body, now=now)
        if isinstance(event, Answered):
            self._log_answer(event, method)
            if event.pki_status is not None:
                return event.response, event.pki_status.name.lower()
            return event.response, "ok" if event.response.status < 400 else "refused"
        if isinstance(event, CRLRequested):
            response = self._crl_requested(event, method, now)
            return response, "crl" if response.status == 200 else "refused"
        if isinstance(event, EnrollmentRequested):
            reason, answer = self._enrollment(event, now)
        elif isinstance(event, PollRequested):
            reason, answer = self._poll(event, now)
        else:  # pragma: no cover - GetCert is not in `handled`
            return self.responder.reject(event, FailInfo.BAD_REQUEST, now=now), "rejected"
        outcome = self._outcome(event)
        self._logged(event, method, outcome, reason)
        return answer, outcome

    def _crl_requested(self, event: CRLRequested, method: str, now: datetime) -> HTTPResponse:
        """GetCRL: this CA's CRL, for a certificate this CA issued (or badCertId)."""
        if event.wanted.issuer_der != self.files.ca.certificate.subject_der:
            log.warning(
                "GetCRL %s refused: %s is not this CA", event.transaction_id, event.wanted.issuer
            )
            text = "this CA keeps no CRL for that issuer"
            return self.responder.reject(event, FailInfo.BAD_CERT_ID, now=now, text=text)
        crl = self.current_crl(now)
        log.info("GetCRL %s answered with CRL number %d", event.transaction_id, crl.number)
        self._write_log(
            {
                "method": method,
                "type": "GetCRL",
                "transaction_id": event.transaction_id,
                "crl_number": crl.number,
            }
        )
        return self.responder.send_crl(event, crl.der)

    def _outcome(self, event: EnrollmentRequested | PollRequested) -> str:
        """What became of the request, as the store holds it (a race may have decided)."""
        stored = self.store.get(event.transaction_id)
        if stored is None:
            return "rejected"  # a refused new request is not remembered
        if stored.csr != event.request.der:
            return "rejected"  # the transactionID belongs to another request
        return {TransactionState.ISSUING: "pending"}.get(stored.state, stored.state.value)

    def _write_log(self, entry: Mapping[str, Any]) -> None:
        line = json.dumps(entry)
        decisions.info(line)
        if self.options.log is not None:
            append(self.options.log, (line + "\n").encode())

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

    def _decided(self, event: EnrollmentRequested, now: datetime) -> tuple[str, HTTPResponse]:
        """The scep.conf policy's decision, carried out (and its trace logged)."""
        assert self.policy is not None
        policy = self.policy
        if self.options.requested_sid == "refuse":
            policy = replace(policy, requested_sid=RequestedSid.REFUSE)
        decision = evaluate(
            event.policy_view,
            policy,
            self.inventory,
            [self.files.ca.certificate],
            now=now,
            algorithms=self.algorithms,
        )
        self._log_decision(event.transaction_id, decision)
        rule = decision.trace[-1]
        reason = f"policy rule {rule.rule}: {rule.detail}"
        if decision.action in (Action.ISSUE, Action.PENDING):
            profile = self._renewed_profile(event) or self.profiles.for_role(decision.role)
            if profile is None:
                text = "no issuance profile for this request's role"
                response = self.responder.reject(event, FailInfo.BAD_REQUEST, now=now, text=text)
                return f"{reason}; but role {decision.role!r} has no issuance profile", response
            decided = None if decision.validity is None else max(1, decision.validity.days)
            renewal = decision.classification in (Classification.RENEWAL, Classification.REKEY)
            sid = self._vouched_sid(event, renewal=renewal)
            terms = self._terms(profile, decision.subject_alt_names, days=decided, sid=sid)
            if decision.action is Action.ISSUE:
                return reason, self._issue(event, terms, now)
            # Left for the operator: only `serve approve` or `serve reject` ends it.
            return reason, self._hold(event, terms, now)
        fail_info = decision.fail_info or FailInfo.BAD_REQUEST
        response = self.responder.reject(event, fail_info, now=now, text=decision.fail_info_text)
        return reason, response

    def _log_decision(self, transaction_id: str | None, decision: Decision) -> None:
        self._write_log({"transaction_id": transaction_id, "policy": decision.as_dict()})

    def _enrollment(self, event: EnrollmentRequested, now: datetime) -> tuple[str, HTTPResponse]:
        foreign = self._foreign_sids(event)
        # With a policy, its requested-sid rule refuses (and the trace says so).
        if foreign and self.options.requested_sid == "refuse" and self.policy is None:
            text = "the request asks for a Windows SID no trusted source vouches for"
            response = self.responder.reject(event, FailInfo.BAD_REQUEST, now=now, text=text)
            return f"SID {', '.join(foreign)} asked for, vouched for by nobody: refused", response
        reason, response = self._decide_enrollment(event, now)
        validated = self.intune is not None and event.challenge.accepted
        if validated and self._outcome(event) == "rejected":
            self._intune_failure(event, reason)
        if foreign:
            log.warning(
                "%s: SID %s asked for, vouched for by nobody: not copied into the certificate",
                event.transaction_id,
                ", ".join(foreign),
            )
            reason += f"; SID {', '.join(foreign)} asked for, vouched for by nobody: not copied"
        return reason, response

    def _intune_failure(self, event: EnrollmentRequested, reason: str) -> None:
        """Intune validated the request, and the server refused it: tell Intune why (a
        failure to tell is logged; the refusal stands)."""
        assert self.intune is not None
        try:
            self.intune.notify_failure(event.transaction_id, event.request.der, reason)
        except ScepError as exc:
            log.warning("%s: Intune was not told of the refusal: %s", event.transaction_id, exc)

    def _foreign_sids(self, event: EnrollmentRequested) -> list[str]:
        """The SIDs the request asks for that neither its challenge nor the certificate it
        renews vouches for (docs/security.md: never copied)."""
        vouched = {sid.sid for sid in self._vouched_sids(event, renewal=True)}
        return sorted(set(event.request.requested_sids) - vouched)

    def _vouched_sids(self, event: EnrollmentRequested, *, renewal: bool) -> list[VouchedSid]:
        """The SIDs trusted sources vouch for: the challenge verdict's, then (for a verified
        renewal, when ``renewal``) the one this server recorded vouching for when it issued
        the certificate renewed, if that certificate still carries it. A SID an imported
        certificate carries, or one an older server copied from a request, is not."""
        found = []
        if event.challenge.accepted and event.challenge.sid is not None:
            found.append(event.challenge.sid)
        terms = self._renewed_terms(event) if renewal else None
        if terms is not None and terms.sid is not None and event.renewal is not None:
            old = event.renewal.certificate
            if terms.sid in old.sids:
                by = f"{terms.sid_vouched_by}, kept by the renewal of serial {old.serial_number}"
                found.append(VouchedSid(terms.sid, by))
        return found

    def _vouched_sid(self, event: EnrollmentRequested, *, renewal: bool) -> VouchedSid | None:
        """The one SID the certificate carries: the first vouched for. Two different ones
        (a challenge for another account than the renewed certificate's) write none."""
        vouched = self._vouched_sids(event, renewal=renewal)
        if len({sid.sid for sid in vouched}) > 1:
            log.warning(
                "%s: SIDs %s are vouched for at once: the certificate carries none",
                event.transaction_id,
                ", ".join(sorted({sid.sid for sid in vouched})),
            )
            return None
        return vouched[0] if vouched else None

    def _decide_enrollment(
        self, event: EnrollmentRequested, now: datetime
    ) -> tuple[str, HTTPResponse]:
        if self.policy is not None:
            return self._decided(event, now)
        profile = self._renewed_profile(event) or self.profiles.for_role(None)
        assert profile is not None  # a profiles file always has its default
        if event.renewal is not None:
            # A verified renewal keeps its identity: the old certificate's names go on.
            terms = self._terms(
                profile,
                event.renewal.certificate.subject_alt_names,
                sid=self._vouched_sid(event, renewal=True),
            )
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
        # The names asked for are granted only where the profile has a rule for them.
        asked = event.request.subject_alt_names if profile.subject_alt_names is not None else ()
        terms = self._terms(profile, asked, sid=self._vouched_sid(event, renewal=False))
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

    def _renewed_terms(self, event: EnrollmentRequested) -> IssuanceTerms | None:
        """The terms the certificate a verified renewal renews was issued on (None for a
        first enrollment, or a certificate imported or issued before terms were kept)."""
        if event.renewal is None:
            return None
        renewed = self.store.get(event.renewal.transaction_id)
        if renewed is None or not renewed.context:
            return None
        return IssuanceTerms.from_context(renewed.context, self.options.validity_days)

    def _renewed_profile(self, event: EnrollmentRequested) -> IssuanceProfile | None:
        """A verified renewal's profile: the one its certificate was issued on (None for a
        first enrollment, an imported certificate, or a profile no longer in the file)."""
        terms = self._renewed_terms(event)
        return None if terms is None else self.profiles.profiles.get(terms.profile)

    def _hold(
        self, event: EnrollmentRequested | PollRequested, terms: IssuanceTerms, now: datetime
    ) -> HTTPResponse:
        """PENDING until the operator approves or rejects (``--manual``, a policy's PENDING)."""
        if self.intune is not None:
            terms = replace(terms, intune=True)  # the approval must tell Intune
        return self.responder.pending(event, now=now, context=terms.to_context())

    def _poll(self, event: PollRequested, now: datetime) -> tuple[str, HTTPResponse]:
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
    ) -> HTTPResponse:
        # The issued certificate alone: clients have the CA from GetCACert, and
        # micromdm's scepclient keeps the last certificate of the reply. The terms go with
        # the claim, so that an issuance that fails keeps them for the next try.
        signing = self._signing(terms)
        if self.intune is not None:
            signing = replace(signing, notify=self._intune_success(event.transaction_id))
        try:
            return self.responder.issue(event, signing, now=now, context=terms.to_context())
        except IntuneError as exc:
            # Intune must hear of a certificate before the device gets it. It did not: the
            # certificate signed is never delivered nor kept (the claim was given back),
            # and the request is refused, once, Intune told so if it can be.
            log.warning("%s: Intune was not told of the certificate: %s", event.transaction_id, exc)
            text = "Intune could not be told of the certificate; enroll again"
            if isinstance(event, EnrollmentRequested):
                self._intune_failure(event, text)
            return self.responder.reject(event, FailInfo.BAD_REQUEST, now=now, text=text)

    def _intune_success(
        self, transaction_id: str
    ) -> Callable[[CertificationRequest, Certificate], None]:
        def notify(request: CertificationRequest, certificate: Certificate) -> None:
            assert self.intune is not None
            outcome = self.intune.notify_success(transaction_id, request.der, certificate)
            if not outcome.succeeded:
                raise IntuneError(f"successNotification: {outcome.code} {outcome.description}")

        return notify

    def _terms(
        self,
        profile: IssuanceProfile,
        names: Iterable[str],
        *,
        days: int | None = None,
        sid: VouchedSid | None = None,
    ) -> IssuanceTerms:
        """The terms decided now, on ``profile``: the names it allows; the lifetime decided
        (``days``, a policy's, at most the profile's), else the profile's or the server's;
        the server's CRL address unless the profile has its own, so that the operator's
        approval, made elsewhere, writes it too; the vouched ``sid``, and no SID of
        ``names`` (whatever a profile's rules allow: a SID is written only as vouched)."""
        names = [name for name in names if not carries_sid(name)]
        granted, refused = profile.granted(_issuable(names))
        if refused:
            log.warning(
                "subjectAltNames not granted (issuance profile %r has no rule for them): %s",
                profile.name,
                list(refused),
            )
        crl_urls = profile.crl_urls
        if crl_urls is None:
            crl_urls = () if self.options.crl_url is None else (self.options.crl_url,)
        if days is None or (profile.validity_days is not None and days > profile.validity_days):
            days = profile.validity_days  # the profile's lifetime is the most a policy gives
        return IssuanceTerms(
            days or self.options.validity_days,
            granted,
            crl_urls,
            profile.name,
            profile.key_usage,
            profile.extended_key_usage,
            profile.ca_issuers_urls,
            profile.ocsp_urls,
            None if sid is None else sid.sid,
            "" if sid is None else sid.vouched_by,
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
        signing = self._signing(terms)
        if terms.intune and self.intune is None:
            raise ServeConfigError(
                f"Intune validated {transaction_id}: it must hear of the certificate, so"
                " approve it with the server's Intune settings (ReferenceServer.approve)"
            )
        if self.intune is not None:  # Intune hears of the certificate first, or none is issued
            signing = replace(signing, notify=self._intune_success(transaction_id))
        done = self.responder.approve(transaction_id, signing, now=now)
        return Certificate.load(done.certificates[0])


def _intune_service(options: ServeOptions) -> IntuneService:
    """Intune's validation service as the options describe it (`check_options` checked
    that one credential is given)."""
    assert options.intune_tenant is not None
    assert options.intune_client_id is not None
    settings = IntuneSettings(
        tenant=options.intune_tenant,
        client_id=options.intune_client_id,
        authority=options.intune_authority,
        graph_url=options.intune_graph_url,
        caller_info="pyscep serve",
    )
    credential: CredentialSource
    if options.intune_secret_file is not None:
        credential = secret_credential(options.intune_secret_file)
    elif options.intune_federated_token_file is not None:
        credential = federated_credential(options.intune_federated_token_file)
    else:
        assert options.intune_certificate is not None
        assert options.intune_key is not None
        application = open_key_pair(
            options.intune_certificate,
            options.intune_key,
            role="Intune application",
            decrypts=False,
        )
        credential = certificate_credential(settings, application)
    context = None
    if options.intune_ca_bundle is not None:
        context = ssl.create_default_context(cafile=str(options.intune_ca_bundle))
    return IntuneService(settings, credential, transport=urllib_transport(context))
