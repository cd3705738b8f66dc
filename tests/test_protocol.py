"""The protocol layer: HTTP mapping, responder and client, wired to each other in memory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyscep
from pyscep import (
    LEGACY,
    CACapability,
    FailInfo,
    LocalProtocolError,
    MessageType,
    RemoteProtocolError,
)
from pyscep.algorithms import DigestAlgorithm
from pyscep.cms.signed import parse_signed_data
from pyscep.http import (
    CONTENT_TYPE_CA_CERT,
    CONTENT_TYPE_PKI_MESSAGE,
    HTTPRequest,
    HTTPResponse,
    Operation,
    ResponseKind,
    classify_response,
    client_request,
    read_request,
    route_of,
)
from pyscep.messages import (
    CACaps,
    CertificationRequest,
    IssuerAndSerial,
    IssuerAndSubject,
    MessageOptions,
    build_cert_poll,
    build_csr,
    build_pkcs_req,
)
from pyscep.protocol._client_state import TRANSITIONS, Call
from pyscep.protocol.challenges import StaticChallenge
from pyscep.protocol.client import (
    CACertificatesReceived,
    CapabilitiesReceived,
    CertificateIssued,
    CertificatesReceived,
    ClientState,
    CRLReceived,
    NextCAReceived,
    ProtocolFailed,
    ReplyUnreadable,
    RequestPending,
    RequestRejected,
    ScepClient,
)
from pyscep.protocol.profiles import CISCO_IOS, DRAFT, MICROMDM, STRICT
from pyscep.protocol.server import (
    Answered,
    CertificateRequested,
    CRLRequested,
    EnrollmentRequested,
    PollRequested,
    ResponderConfig,
    ScepResponder,
    ServerEvent,
    VerifiedRenewal,
)
from pyscep.protocol.transactions import (
    CLAIM_LEASE,
    Act,
    Awaiting,
    Phase,
    Transaction,
    TransactionState,
)
from pyscep.testing import make_identity
from tests.support.helpers import NOW

CA = make_identity("Protocol CA", now=NOW, ca=True)
DEVICE_KEY = pyscep.load_private_key(make_identity("device", now=NOW).key_der)
CHALLENGE = "let-me-in"


def responder(**changes: object) -> ScepResponder:
    config = ResponderConfig(
        ca_certificate=CA.certificate,
        signer=CA.signer,
        decrypter=CA.decrypter,
        challenge=StaticChallenge(CHALLENGE),
    )
    return ScepResponder(replace(config, **changes))  # type: ignore[arg-type]


Decide = Callable[[ScepResponder, ServerEvent], HTTPResponse]


def issue_if_challenge_ok(server: ScepResponder, event: ServerEvent) -> HTTPResponse:
    """The application of a small CA: issue with the right challenge or a renewal."""
    if isinstance(event, Answered):
        return event.response
    assert isinstance(event, EnrollmentRequested)
    if event.challenge.accepted or event.renewal:
        return server.issue(event, CA, now=NOW)
    return server.reject(event, FailInfo.BAD_REQUEST, now=NOW)


def always_pending(server: ScepResponder, event: ServerEvent) -> HTTPResponse:
    if isinstance(event, (EnrollmentRequested, PollRequested)):
        return server.pending(event, now=NOW)
    assert isinstance(event, Answered)
    return event.response


def exchange(server: ScepResponder, request: HTTPRequest, decide: Decide) -> HTTPResponse:
    """What an HTTP transport does: carry the request, let the application decide."""
    target = urlsplit(request.target)
    return decide(
        server, server.receive(request.method, target.path, target.query, request.body, now=NOW)
    )


def send(client: ScepClient, server: ScepResponder, request: HTTPRequest, decide: Decide) -> object:
    response = exchange(server, request, decide)
    return client.receive(response.status, response.content_type, response.body, now=NOW)


def ready_client(server: ScepResponder, **kwargs: object) -> ScepClient:
    client = ScepClient(ca_fingerprint=CA.certificate.sha256_fingerprint, **kwargs)  # type: ignore[arg-type]
    assert isinstance(
        send(client, server, client.get_caps(), issue_if_challenge_ok), CapabilitiesReceived
    )
    event = send(client, server, client.get_ca_certificates(), issue_if_challenge_ok)
    assert isinstance(event, CACertificatesReceived)
    assert client.state is ClientState.READY
    return client


def csr(
    challenge: str | None = CHALLENGE, cn: str = "device"
) -> pyscep.messages.CertificationRequest:
    return build_csr(DEVICE_KEY, f"CN={cn}", challenge_password=challenge)


# --- the HTTP mapping ----------------------------------------------------------------


@pytest.mark.parametrize("use_post", [True, False])
def test_a_pki_operation_round_trips_through_http(use_post: bool) -> None:
    message = bytes(range(256)) * 4
    request = client_request(Operation.PKI_OPERATION, message=message, use_post=use_post)
    target = urlsplit(request.target)
    incoming = read_request(request.method, target.path, target.query, request.body)
    assert (incoming.operation, incoming.message, incoming.route) == (
        Operation.PKI_OPERATION,
        message,
        "/scep",
    )
    assert request.method == ("POST" if use_post else "GET")


@pytest.mark.parametrize(
    ("query", "operation"),
    [
        ("operation=GetCACaps", Operation.GET_CA_CAPS),
        ("operation=getcacaps&message=x", Operation.GET_CA_CAPS),
        ("operation=GetCACert&message=CA%201", Operation.GET_CA_CERT),
        ("operation=GetNextCACert", Operation.GET_NEXT_CA_CERT),
    ],
)
def test_operations_are_read_without_regard_to_case(query: str, operation: Operation) -> None:
    assert read_request("GET", "/cgi-bin/pkiclient.exe", query).operation is operation


@pytest.mark.parametrize(
    ("method", "query", "body"),
    [
        ("PUT", "operation=GetCACaps", b""),
        ("GET", "", b""),
        ("GET", "operation=Frobnicate", b""),
        ("GET", "operation=PKIOperation", b""),
        ("POST", "operation=PKIOperation", b""),
        ("GET", "operation=PKIOperation&message=%41%41", b""),
        ("GET", "operation=PKIOperation&message=***", b""),
    ],
)
def test_requests_that_are_not_scep_are_remote_protocol_errors(
    method: str, query: str, body: bytes
) -> None:
    with pytest.raises(RemoteProtocolError):
        read_request(method, "/scep", query, body)


def test_routes_ignore_trailing_slashes_and_pkiclient_exe() -> None:
    assert route_of("/scep/pkiclient.exe") == route_of("/scep/") == "/scep"
    assert route_of("/") == route_of("") == "/"


@pytest.mark.parametrize(
    ("operation", "status", "content_type", "problem"),
    [
        (Operation.GET_CA_CERT, 200, "text/html", "Content-Type"),
        (Operation.GET_CA_CERT, 500, CONTENT_TYPE_CA_CERT, "HTTP 500"),
        (Operation.PKI_OPERATION, 200, None, "missing"),
        (Operation.PKI_OPERATION, 200, "application/x-x509-ca-cert", "Content-Type"),
    ],
)
def test_responses_of_the_wrong_kind_fail_clearly(
    operation: Operation, status: int, content_type: str | None, problem: str
) -> None:
    with pytest.raises(RemoteProtocolError, match=problem):
        classify_response(operation, status, content_type, b"<html>oops</html>")


def test_get_ca_caps_errors_mean_no_capabilities() -> None:
    assert classify_response(Operation.GET_CA_CAPS, 404, "text/html", b"") is ResponseKind.CAPS
    assert (
        classify_response(Operation.PKI_OPERATION, 200, "Application/X-PKI-Message; x=1", b"")
        is ResponseKind.PKI_MESSAGE
    )


# --- client and responder, end to end -------------------------------------------------


@pytest.mark.parametrize("profile", [STRICT, CISCO_IOS], ids=["POST", "GET"])
def test_enrollment_with_the_right_challenge_is_issued(profile: object) -> None:
    server = responder()
    client = ready_client(server, profile=profile)
    request = client.enroll(csr(), DEVICE_KEY, now=NOW)
    assert request.method == ("GET" if profile is CISCO_IOS else "POST")
    event = send(client, server, request, issue_if_challenge_ok)
    assert isinstance(event, CertificateIssued), event
    assert event.certificate.public_key_der == DEVICE_KEY.public_key_der
    assert client.state is ClientState.READY


def test_a_replaced_config_signs_the_next_reply() -> None:
    # An application replaces its responder's config (a CA rollover): the very
    # next CertRep is signed by the new signer, not one captured at creation.
    server = responder()
    client = ready_client(server)
    successor = make_identity("Protocol CA II", now=NOW, ca=True)
    server.config = replace(server.config, signer=successor.signer)
    wrong = client.enroll(csr("wrong"), DEVICE_KEY, now=NOW)
    response = exchange(server, wrong, issue_if_challenge_ok)
    signer = pyscep.messages.parse_pki_message(response.body).signer_identifier
    assert signer.names(successor.certificate)
    assert not signer.names(CA.certificate)


def test_a_wrong_challenge_is_a_rejection_event_not_an_exception() -> None:
    server = responder()
    client = ready_client(server)
    event = send(
        client, server, client.enroll(csr("wrong"), DEVICE_KEY, now=NOW), issue_if_challenge_ok
    )
    assert isinstance(event, RequestRejected)
    assert event.fail_info is FailInfo.BAD_REQUEST
    assert client.state is ClientState.READY


def test_pending_then_poll_then_manual_approval() -> None:
    server = responder()
    client = ready_client(server)
    request = csr()
    event = send(client, server, client.enroll(request, DEVICE_KEY, now=NOW), always_pending)
    assert isinstance(event, RequestPending)
    assert event.poll_at == NOW + timedelta(seconds=30)
    event = send(client, server, client.poll(now=NOW), always_pending)
    assert isinstance(event, RequestPending)
    assert event.poll_at == NOW + timedelta(seconds=60)  # backing off
    approved = server.approve(event.transaction_id, CA, now=NOW)
    final = send(client, server, client.poll(now=NOW), always_pending)
    assert isinstance(final, CertificateIssued)
    assert final.certificate.der == approved.certificates[0]
    assert final.certificate.public_key_der == request.public_key_der


def test_a_resent_request_gets_the_same_certificate_never_a_second() -> None:
    server = responder()
    first_client, second_client = ready_client(server), ready_client(server)
    request = csr()
    first = send(
        first_client,
        server,
        first_client.enroll(request, DEVICE_KEY, now=NOW),
        issue_if_challenge_ok,
    )
    again = send(
        second_client,
        server,
        second_client.enroll(request, DEVICE_KEY, now=NOW),
        issue_if_challenge_ok,
    )
    assert isinstance(first, CertificateIssued)
    assert isinstance(again, CertificateIssued)
    assert again.certificate == first.certificate


def test_a_transaction_id_cannot_be_taken_over_by_another_key() -> None:
    server = responder()
    client = ready_client(server)
    event = send(client, server, client.enroll(csr(), DEVICE_KEY, now=NOW), always_pending)
    assert isinstance(event, RequestPending)
    stored = server.store.get(event.transaction_id)
    assert stored is not None
    assert stored.state is TransactionState.PENDING
    # A poll signed by another key for that transactionID is refused.
    intruder = pyscep.messages.self_signed_signer(
        pyscep.load_private_key(make_identity("intruder", now=NOW).key_der), "CN=device", now=NOW
    )
    poll = build_cert_poll(
        IssuerAndSubject(CA.certificate.subject_der, csr().subject_der),
        signer=intruder,
        recipient=CA.certificate,
        transaction_id=event.transaction_id,
    )
    answer = exchange(
        server, client_request(Operation.PKI_OPERATION, message=poll.der), always_pending
    )
    reply = pyscep.messages.verify_cert_rep(
        pyscep.messages.parse_pki_message(answer.body),
        ca_certificates=[CA.certificate],
        request=poll,
    )
    assert reply.fail_info is FailInfo.BAD_CERT_ID


def test_message_types_the_application_did_not_take_on_are_refused() -> None:
    server = responder()
    client = ready_client(server)
    keys = pyscep.KeyPair(DEVICE_KEY, CA.issue(csr(), now=NOW))
    event = send(
        client,
        server,
        client.get_cert(IssuerAndSerial.of(keys.certificate), keys),
        issue_if_challenge_ok,
    )
    assert isinstance(event, RequestRejected)
    assert event.fail_info is FailInfo.BAD_REQUEST
    # Once handled, GetCert reaches the application.
    handling = responder(handled=frozenset({MessageType.PKCS_REQ, MessageType.GET_CERT}))
    client = ready_client(handling)
    request = client.get_cert(IssuerAndSerial.of(keys.certificate), keys)
    target = urlsplit(request.target)
    reached = handling.receive(request.method, target.path, target.query, request.body, now=NOW)
    assert isinstance(reached, CertificateRequested)
    assert reached.wanted == IssuerAndSerial.of(keys.certificate)


@pytest.mark.parametrize(
    ("profile", "kind"), [(STRICT, MessageType.RENEWAL_REQ), (DRAFT, MessageType.PKCS_REQ)]
)
def test_renewal_is_signed_with_the_existing_certificate(
    profile: object, kind: MessageType
) -> None:
    server = responder()
    client = ready_client(server, profile=profile)
    enrolled = send(
        client, server, client.enroll(csr(), DEVICE_KEY, now=NOW), issue_if_challenge_ok
    )
    assert isinstance(enrolled, CertificateIssued)
    current = pyscep.KeyPair(DEVICE_KEY, enrolled.certificate)
    new_key = pyscep.load_private_key(make_identity("device", now=NOW).key_der)
    seen: list[ServerEvent] = []

    def record(server: ScepResponder, event: ServerEvent) -> HTTPResponse:
        seen.append(event)
        return issue_if_challenge_ok(server, event)

    renewal = build_csr(new_key, "CN=device")
    event = send(client, server, client.renew(renewal, current, now=NOW), record)
    assert isinstance(event, CertificateIssued)
    assert event.certificate.public_key_der == new_key.public_key_der
    (requested,) = seen
    assert isinstance(requested, EnrollmentRequested)
    assert requested.message_type is kind
    assert requested.renewal == VerifiedRenewal(
        certificate=current.certificate, transaction_id=enrolled.transaction_id
    )
    assert requested.why_not_renewal is None
    assert requested.signer_certificate == current.certificate


def test_a_replayed_reply_breaks_the_protocol_and_fails_the_client() -> None:
    server = responder()
    client = ready_client(server)
    old = exchange(server, client.enroll(csr(cn="one"), DEVICE_KEY, now=NOW), issue_if_challenge_ok)
    client.receive(old.status, old.content_type, old.body, now=NOW)
    client.enroll(csr(cn="two"), DEVICE_KEY, now=NOW)
    event = client.receive(old.status, old.content_type, old.body, now=NOW)
    assert isinstance(event, ProtocolFailed)
    assert client.state is ClientState.FAILED
    with pytest.raises(LocalProtocolError):
        client.get_caps()


def test_a_ca_known_to_answer_in_des_is_refused_before_anything_is_sent() -> None:
    server = responder()
    client = ready_client(server, profile=MICROMDM)
    with pytest.raises(pyscep.UnsupportedAlgorithmError, match="micromdm"):
        client.enroll(csr(), DEVICE_KEY, now=NOW)
    assert client.state is ClientState.READY  # nothing was sent


def test_a_reply_in_refused_algorithms_is_kept_and_can_be_reopened() -> None:
    # The server answers in DES (it accepted the request under LEGACY and mirrors
    # a DES request); the strict client keeps the reply instead of losing it.
    server = responder(algorithms=LEGACY, caps=pyscep.messages.CACaps.of(["SHA-256"]))
    client = ready_client(server, algorithms=LEGACY)
    request = client.enroll(csr(), DEVICE_KEY, now=NOW)
    client.algorithms = pyscep.DEFAULT_POLICY  # the user tightened the policy meanwhile
    event = send(client, server, request, issue_if_challenge_ok)
    assert isinstance(event, ReplyUnreadable)
    reopened = client.reopen(event.reply, algorithms=LEGACY)
    assert isinstance(reopened, CertificateIssued)


# --- properties over (state, call) pairs -------------------------------------------


def _client_in(state: ClientState) -> tuple[ScepClient, ScepResponder]:
    """A client driven, through real exchanges, into ``state``."""
    server = responder()
    if state is ClientState.IDLE:
        return ScepClient(), server
    if state is ClientState.AWAIT_CAPS:
        client = ScepClient()
        client.get_caps()
        return client, server
    if state is ClientState.AWAIT_CA:
        client = ScepClient()
        client.get_ca_certificates()
        return client, server
    client = ready_client(server)
    if state is ClientState.AWAIT_NEXT_CA:
        client.get_next_ca_certificates()
    elif state is ClientState.AWAIT_REPLY:
        client.enroll(csr(), DEVICE_KEY, now=NOW)
    elif state is ClientState.PENDING:
        send(client, server, client.enroll(csr(), DEVICE_KEY, now=NOW), always_pending)
    elif state is ClientState.FAILED:
        client.enroll(csr(), DEVICE_KEY, now=NOW)
        client.receive(200, CONTENT_TYPE_PKI_MESSAGE, b"not a CertRep", now=NOW)
    assert client.state is state
    return client, server


def _make_call(client: ScepClient, call: str) -> object:
    keys = pyscep.KeyPair(DEVICE_KEY, CA.issue(csr(), now=NOW))
    arguments: dict[str, Callable[[], object]] = {
        "get_caps": client.get_caps,
        "get_ca_certificates": client.get_ca_certificates,
        "get_next_ca_certificates": client.get_next_ca_certificates,
        "enroll": lambda: client.enroll(csr(), DEVICE_KEY, now=NOW),
        "renew": lambda: client.renew(csr(), keys, now=NOW),
        "get_cert": lambda: client.get_cert(IssuerAndSerial.of(keys.certificate), keys),
        "get_crl": lambda: client.get_crl(IssuerAndSerial.of(keys.certificate), keys),
        "poll": lambda: client.poll(now=NOW),
        "resume": lambda: client.resume(csr(), DEVICE_KEY, "TX-OLD", now=NOW),
    }
    return arguments[call]()


PAIRS = [(state, call) for state in ClientState for call in Call]


@pytest.mark.parametrize(("state", "call"), PAIRS, ids=[f"{s.value}-{c.value}" for s, c in PAIRS])
def test_every_call_in_every_state_follows_the_transition_table(
    state: ClientState, call: Call
) -> None:
    client, _ = _client_in(state)
    after = TRANSITIONS.get((state, call))
    if after is not None:
        sent = _make_call(client, call.value)
        # Every call sends a request, except taking up a pending enrollment.
        assert isinstance(sent, HTTPRequest) is (call is not Call.RESUME)
        assert client.state is after
    else:
        with pytest.raises(LocalProtocolError):
            _make_call(client, call.value)
        assert client.state is state


@pytest.mark.parametrize(
    "state", [ClientState.IDLE, ClientState.READY, ClientState.PENDING, ClientState.FAILED]
)
def test_a_response_nobody_waits_for_is_refused(state: ClientState) -> None:
    client, _ = _client_in(state)
    with pytest.raises(LocalProtocolError):
        client.receive(200, CONTENT_TYPE_PKI_MESSAGE, b"", now=NOW)
    assert client.state is state


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["GET", "POST", "PUT"]), st.text(max_size=60))
def test_the_responder_answers_anything_with_an_event(body: bytes, method: str, query: str) -> None:
    server = responder()
    for q in (query, "operation=PKIOperation", "operation=PKIOperation&message=" + query):
        event = server.receive(method, "/scep", q, body, now=NOW)
        assert isinstance(event, Answered)
        assert event.response.status in (200, 400, 404)
        if event.response.status == 200 and "PKIOperation" in q:
            assert event.response.content_type == CONTENT_TYPE_PKI_MESSAGE


def test_ca_rollover_through_get_next_ca_cert() -> None:
    next_ca = make_identity("Protocol CA 2", now=NOW, ca=True)
    announced = pyscep.messages.build_next_ca_certificates([next_ca.certificate], signer=CA.signer)
    server = responder(next_ca_certificates=announced)
    client = ready_client(server)
    # RFC 8894 clients ask only a CA that advertises it.
    assert client.caps is not None
    assert CACapability.GET_NEXT_CA_CERT in client.caps
    plain = ready_client(responder()).caps
    assert plain is not None
    assert CACapability.GET_NEXT_CA_CERT not in plain
    event = send(client, server, client.get_next_ca_certificates(), issue_if_challenge_ok)
    assert event == NextCAReceived(certificates=(next_ca.certificate,))
    assert client.state is ClientState.READY
    # A rollover announced by anyone else is a protocol failure.
    forged = pyscep.messages.build_next_ca_certificates(
        [next_ca.certificate], signer=next_ca.signer
    )
    client = ready_client(responder(next_ca_certificates=forged))
    failed = send(
        client,
        responder(next_ca_certificates=forged),
        client.get_next_ca_certificates(),
        issue_if_challenge_ok,
    )
    assert isinstance(failed, ProtocolFailed)
    # No rollover configured: HTTP 404, a clear failure.
    client = ready_client(server := responder())
    assert isinstance(
        send(client, server, client.get_next_ca_certificates(), issue_if_challenge_ok),
        ProtocolFailed,
    )


# --- the responder: (stored transaction, incoming request) pairs ------------------------

_INCOMING = [
    "PKCSReq same key",
    "PKCSReq same key, another CSR",
    "PKCSReq other key",
    "PKCSReq victim's CSR under a throw-away certificate",
    "PKCSReq victim's CSR under another CA's certificate",
    "CertPoll same key",
    "CertPoll other key",
]
# What the responder does for each pair: an event for the application, or its own answer.
# Rows: what the store holds for the transactionID; columns: what arrives for it.
_WRAPPED = ("FAILURE badMessageCheck", "FAILURE badMessageCheck")
_TABLE = {
    None: ("EnrollmentRequested", "EnrollmentRequested", "EnrollmentRequested", *_WRAPPED,
           "FAILURE badCertId", "FAILURE badCertId"),
    Phase.PENDING_OPERATOR: ("PENDING", "FAILURE badRequest", "FAILURE badRequest", *_WRAPPED,
                             "PENDING", "FAILURE badCertId"),
    Phase.PENDING_APPLICATION: ("PollRequested", "FAILURE badRequest", "FAILURE badRequest",
                                *_WRAPPED, "PollRequested", "FAILURE badCertId"),
    Phase.ISSUING: ("PENDING", "FAILURE badRequest", "FAILURE badRequest", *_WRAPPED,
                    "PENDING", "FAILURE badCertId"),
    Phase.ISSUED: ("SUCCESS", "FAILURE badRequest", "FAILURE badRequest", *_WRAPPED,
                   "SUCCESS", "FAILURE badCertId"),
    Phase.REJECTED: ("FAILURE badRequest", "FAILURE badRequest", "FAILURE badRequest",
                     *_WRAPPED, "FAILURE badRequest", "FAILURE badCertId"),
}  # fmt: skip
OTHER_KEY = pyscep.load_private_key(make_identity("other", now=NOW).key_der)
TXID = "PAIRS-1"


def _outcome(event: ServerEvent) -> str:
    if not isinstance(event, Answered):
        return type(event).__name__
    reply = pyscep.messages.parse_pki_message(event.response.body)
    status = reply.pki_status
    assert status is not None
    if status is pyscep.PKIStatus.FAILURE:
        assert reply.fail_info is not None
        return f"FAILURE {reply.fail_info.rfc_name}"
    return status.name


def _seed(server: ScepResponder, phase: Phase | None, request: CertificationRequest) -> None:
    """Bring transaction TXID to ``phase`` the way responders and operators do."""
    opened = Transaction(
        TXID, request.public_key_der, TransactionState.PENDING, request.der, updated=NOW
    )
    if phase is None:
        return
    application = phase is Phase.PENDING_APPLICATION
    awaiting = Awaiting.APPLICATION if application else Awaiting.OPERATOR
    assert server.store.record(Act.HOLD, replace(opened, awaiting=awaiting)).applied
    if phase in (Phase.PENDING_OPERATOR, Phase.PENDING_APPLICATION):
        return
    if phase is Phase.REJECTED:
        denied = replace(opened, fail_info=FailInfo.BAD_REQUEST)
        assert server.store.record(Act.DENY, denied).applied
        return
    claimed = replace(opened, state=TransactionState.ISSUING, claim="the-claim")
    assert server.store.record(Act.APPROVE, claimed).applied
    if phase is Phase.ISSUED:
        issued = replace(claimed, certificates=(CA.issue(request, now=NOW).der,))
        assert server.store.record(Act.DELIVER, issued).applied


@pytest.mark.parametrize(
    ("stored", "incoming"),
    [(s, i) for s in _TABLE for i in _INCOMING],
    ids=[f"{s.value if s else 'none'}-{i}" for s in _TABLE for i in _INCOMING],
)
def test_every_stored_state_and_request_pair(stored: Phase | None, incoming: str) -> None:
    server = responder()
    request = csr()
    _seed(server, stored, request)
    signing_key = DEVICE_KEY if "same key" in incoming else OTHER_KEY
    signer = pyscep.messages.self_signed_signer(signing_key, "CN=device", now=NOW)
    if incoming.endswith("another CA's certificate"):
        foreign = make_identity("Foreign CA", now=NOW, ca=True)
        signer = pyscep.KeyPair(OTHER_KEY, foreign.issue(build_csr(OTHER_KEY, "CN=x"), now=NOW))
    if incoming.startswith("PKCSReq"):
        content = {
            "PKCSReq other key": build_csr(OTHER_KEY, "CN=device"),
            "PKCSReq same key, another CSR": build_csr(DEVICE_KEY, "CN=admin"),
        }.get(incoming, request)
        built = pyscep.messages.build_pkcs_req(
            content, signer=signer, recipient=CA.certificate, transaction_id=TXID
        )
    else:
        built = build_cert_poll(
            IssuerAndSubject(CA.certificate.subject_der, request.subject_der),
            signer=signer,
            recipient=CA.certificate,
            transaction_id=TXID,
        )
    event = server.receive("POST", "/scep", "operation=PKIOperation", built.der, now=NOW)
    assert _outcome(event) == _TABLE[stored][_INCOMING.index(incoming)]
    if isinstance(event, PollRequested):  # decided on the request that opened it, always
        assert event.request.der == request.der
    after = server.store.get(TXID)
    # Whatever arrived, nothing the responder did on its own changed the transaction.
    assert (after.state if after else None) is (
        None if stored is None else TransactionState(stored.value.split(" ")[0])
    )


@pytest.mark.parametrize("awaiting", list(Awaiting))
def test_a_claim_whose_worker_died_is_decided_again(awaiting: Awaiting) -> None:
    """A worker that claimed a transaction and died leaves it ISSUING; after the lease it is
    what it was before: the application's to decide again, or the operator's."""
    server = responder()
    request = csr()
    opened = Transaction(
        TXID, request.public_key_der, TransactionState.PENDING, request.der, updated=NOW
    )
    server.store.record(Act.HOLD, replace(opened, awaiting=awaiting))
    claimed = replace(opened, state=TransactionState.ISSUING, claim="died")
    assert server.store.record(Act.CLAIM if awaiting is Awaiting.APPLICATION else Act.APPROVE,
                               claimed).applied  # fmt: skip
    poll = build_cert_poll(
        IssuerAndSubject(CA.certificate.subject_der, request.subject_der),
        signer=pyscep.messages.self_signed_signer(DEVICE_KEY, "CN=device", now=NOW),
        recipient=CA.certificate,
        transaction_id=TXID,
    )
    soon, late = NOW + CLAIM_LEASE, NOW + CLAIM_LEASE + timedelta(seconds=1)
    during = server.receive("POST", "/scep", "operation=PKIOperation", poll.der, now=soon)
    assert _outcome(during) == "PENDING"
    after = server.receive("POST", "/scep", "operation=PKIOperation", poll.der, now=late)
    if awaiting is Awaiting.OPERATOR:
        assert _outcome(after) == "PENDING"
        server.approve(TXID, CA, now=late)
    else:
        assert isinstance(after, PollRequested)
        server.issue(after, CA, now=late)
    final = server.store.get(TXID)
    assert final is not None
    assert final.state is TransactionState.ISSUED


def test_get_cert_and_get_crl_when_the_application_handles_them() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    handled = frozenset({MessageType.PKCS_REQ, MessageType.GET_CERT, MessageType.GET_CRL})
    server = responder(handled=handled)
    client = ready_client(server)
    keys = pyscep.KeyPair(DEVICE_KEY, CA.issue(csr(), now=NOW))
    ca_key = serialization.load_der_private_key(CA.key_der, None)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(CA.certificate.to_cryptography().subject)
        .last_update(NOW)
        .next_update(NOW + timedelta(days=1))
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
        .public_bytes(serialization.Encoding.DER)
    )

    def answer(server: ScepResponder, event: ServerEvent) -> HTTPResponse:
        if isinstance(event, CertificateRequested):
            return server.send_certificates(event, [keys.certificate])
        if isinstance(event, CRLRequested):
            return server.send_crl(event, crl)
        return issue_if_challenge_ok(server, event)

    wanted = IssuerAndSerial.of(keys.certificate)
    got = send(client, server, client.get_cert(wanted, keys), answer)
    assert got == CertificatesReceived(certificates=(keys.certificate,))
    crls = send(client, server, client.get_crl(wanted, keys), answer)
    assert crls == CRLReceived(crls=(crl,))


def test_profiles_shape_what_the_responder_sends() -> None:
    from pyscep.protocol.profiles import CACertificatesShape

    java = replace(
        STRICT,
        name="java",
        ca_certificates=CACertificatesShape.CERTS_ONLY,
        empty_econtent=False,
        rsa_digest_in_signature_oid=True,
    )
    for profile, shape, econtent, oid in (
        (STRICT, "application/x-x509-ca-cert", b"", "rsassa_pkcs1v15"),
        (java, "application/x-x509-ca-ra-cert", None, "sha256_rsa"),
    ):
        server = responder(profile=profile)
        cacert = server.receive("GET", "/scep", "operation=GetCACert", now=NOW)
        assert isinstance(cacert, Answered)
        assert cacert.response.content_type == shape
        found = pyscep.messages.parse_ca_certificates(cacert.response.body, now=NOW)
        assert found.ca == CA.certificate
        # Each reply still verifies and reads as PENDING on the client side.
        client = ready_client(server)
        event = send(client, server, client.enroll(csr(), DEVICE_KEY, now=NOW), always_pending)
        assert isinstance(event, RequestPending)
        built = pyscep.messages.build_pkcs_req(
            csr(cn=profile.name),
            signer=pyscep.messages.self_signed_signer(DEVICE_KEY, "CN=x", now=NOW),
            recipient=CA.certificate,
            transaction_id=f"SHAPE-{profile.name}",
        )
        answered = server.receive("POST", "/scep", "operation=PKIOperation", built.der, now=NOW)
        assert isinstance(answered, EnrollmentRequested)
        body = server.pending(answered, now=NOW).body
        assert pyscep.messages.parse_pki_message(body).signature_algorithm == oid
        assert parse_signed_data(body).content == econtent


def test_a_challenge_some_clients_cannot_send_is_flagged_on_the_event() -> None:
    server = responder(challenge=StaticChallenge("under_score!"))
    client = ready_client(server)
    seen: list[ServerEvent] = []

    def record(server: ScepResponder, event: ServerEvent) -> HTTPResponse:
        seen.append(event)
        return issue_if_challenge_ok(server, event)

    assert isinstance(
        send(client, server, client.enroll(csr("under_score!"), DEVICE_KEY, now=NOW), record),
        CertificateIssued,
    )
    (event,) = seen
    assert isinstance(event, EnrollmentRequested)
    assert event.challenge.accepted
    assert [f.code for f in event.challenge_findings] == [
        pyscep.FindingCode.NOT_PRINTABLE_STRING
    ] * 2


# --- a CA without GetCACaps (draft-era: HTTP 404) ----------------------------------------


def no_get_ca_caps(server: ScepResponder, event: ServerEvent) -> HTTPResponse:
    """pyscep's responder behind a front that answers GetCACaps with 404, as draft-era CAs do."""
    if isinstance(event, Answered) and event.reason == "caps":
        return HTTPResponse(404, "text/html", b"<html>Not Found</html>")
    return issue_if_challenge_ok(server, event)


@pytest.mark.parametrize("caps_first", [True, False])
def test_a_ca_answering_get_ca_caps_with_404_enrolls_with_the_draft_defaults(
    caps_first: bool,
) -> None:
    server = responder(algorithms=LEGACY)
    client = ScepClient(algorithms=LEGACY, ca_fingerprint=CA.certificate.sha256_fingerprint)
    calls = [client.get_caps, client.get_ca_certificates]
    events = [
        send(client, server, call(), no_get_ca_caps) for call in calls[:: 1 if caps_first else -1]
    ]
    (caps,) = [e for e in events if isinstance(e, CapabilitiesReceived)]
    assert caps.caps.keywords == ()
    # RFC 8894 section 3.5.1: no capabilities; the draft baseline, which LEGACY allows.
    assert caps.negotiated is not None
    assert caps.negotiated.digest is pyscep.DigestAlgorithm.MD5
    assert caps.negotiated.cipher is pyscep.ContentCipher.DES_CBC
    assert client.state is ClientState.READY
    request = client.enroll(csr(), DEVICE_KEY, now=NOW)
    assert request.method == "GET"  # POSTPKIOperation was not advertised
    event = send(client, server, request, no_get_ca_caps)
    assert isinstance(event, CertificateIssued)
    assert event.certificate.public_key_der == DEVICE_KEY.public_key_der
    assert client.state is ClientState.READY


def test_a_ca_answering_get_ca_caps_with_404_is_refused_clearly_under_the_default_policy() -> None:
    server = responder()
    client = ScepClient(ca_fingerprint=CA.certificate.sha256_fingerprint)
    caps = send(client, server, client.get_caps(), no_get_ca_caps)
    assert isinstance(caps, CapabilitiesReceived)
    assert caps.negotiated is None
    send(client, server, client.get_ca_certificates(), no_get_ca_caps)
    # Not READY: a READY client has agreed algorithms. The refusal says why, before sending.
    assert client.state is ClientState.IDLE
    with pytest.raises(pyscep.UnsupportedAlgorithmError, match=r"no algorithms agreed.*legacy"):
        client.enroll(csr(), DEVICE_KEY, now=NOW)
    assert client.state is ClientState.IDLE
    assert client.ca is not None  # what was learnt stays


class CountingDecrypter:
    """The CA's decrypter, counting what it is asked to open."""

    def __init__(self) -> None:
        self.certificate = CA.certificate
        self.opened = 0

    def decrypt_key(self, encrypted_key: bytes, transport: Any) -> bytes:
        self.opened += 1
        return CA.decrypter.decrypt_key(encrypted_key, transport)


def _refusal(server: ScepResponder, built: Any) -> tuple[DigestAlgorithm, FailInfo | None]:
    """The digest and failInfo of the CertRep ``server`` answers ``built`` with itself."""
    event = server.receive("POST", "/scep", "operation=PKIOperation", built.der, now=NOW)
    assert isinstance(event, Answered)
    reply = pyscep.messages.verify_cert_rep(
        pyscep.messages.parse_pki_message(event.response.body),
        ca_certificates=[CA.certificate],
        request=built,
    )
    return reply.digest, reply.fail_info


def test_a_signer_that_signs_sha256_only_is_offered_and_asked_for_nothing_else() -> None:
    decrypter = CountingDecrypter()
    server = responder(signer_digests=frozenset({DigestAlgorithm.SHA256}), decrypter=decrypter)
    answer = server.receive("GET", "/scep", "operation=GetCACaps", b"", now=NOW)
    assert isinstance(answer, Answered)
    offered = CACaps.parse(answer.response.body).keywords
    assert "SHA-256" in offered
    assert "SCEPStandard" in offered
    assert not {"SHA-1", "SHA-512"} & set(offered)
    # Offered nothing but SHA-256 for a CertRep: SCEPStandard goes with it.
    only_sha512 = responder(signer_digests=frozenset({DigestAlgorithm.SHA512}))
    answer = only_sha512.receive("GET", "/scep", "operation=GetCACaps", b"", now=NOW)
    assert isinstance(answer, Answered)
    assert "SCEPStandard" not in CACaps.parse(answer.response.body).keywords
    # A request signed with SHA-512 is refused before it is opened, in a CertRep the key
    # can sign (SHA-256), which the client verifies.
    signer = pyscep.messages.self_signed_signer(DEVICE_KEY, "CN=device", now=NOW)
    built = build_pkcs_req(
        csr(),
        signer=signer,
        recipient=CA.certificate,
        options=MessageOptions(digest=DigestAlgorithm.SHA512),
    )
    assert _refusal(server, built) == (DigestAlgorithm.SHA256, FailInfo.BAD_ALG)
    assert decrypter.opened == 0
    assert server.store.get(built.transaction_id) is None
    # The digest it signs is answered as before.
    accepted = build_pkcs_req(csr(), signer=signer, recipient=CA.certificate)
    event = server.receive("POST", "/scep", "operation=PKIOperation", accepted.der, now=NOW)
    assert isinstance(event, EnrollmentRequested)
    assert decrypter.opened == 1


class Sha256OnlySigner:
    """The CA's signer, as a backend that signs SHA-256 only: any other digest raises."""

    def __init__(self) -> None:
        self.certificate = CA.certificate

    def sign(self, data: bytes, digest: DigestAlgorithm, scheme: Any) -> bytes:
        if digest is not DigestAlgorithm.SHA256:
            raise pyscep.BackendError(f"this key does not sign {digest.value}")
        return CA.signer.sign(data, digest, scheme)


@pytest.mark.parametrize("digest", [DigestAlgorithm.SHA1, DigestAlgorithm.SHA512])
def test_every_refusal_is_signed_with_a_digest_the_key_signs(digest: DigestAlgorithm) -> None:
    server = responder(
        signer=Sha256OnlySigner(), signer_digests=frozenset({DigestAlgorithm.SHA256})
    )
    keys = pyscep.KeyPair(DEVICE_KEY, CA.issue(csr(), now=NOW))
    # GetCert is not handled: refused (badAlg first: no CertRep could be signed as asked).
    built = pyscep.messages.build_get_cert(
        IssuerAndSerial.of(keys.certificate),
        signer=keys,
        recipient=CA.certificate,
        transaction_id="get-cert-1",
        options=MessageOptions(digest=digest),
    )
    assert _refusal(server, built) == (DigestAlgorithm.SHA256, FailInfo.BAD_ALG)


def test_a_signer_that_signs_no_digest_is_refused_when_configured() -> None:
    with pytest.raises(LocalProtocolError, match="signs no digest"):
        responder(signer_digests=frozenset())


def test_the_responder_reads_each_certificate_key_and_request_once() -> None:
    """From the bytes of a PKCSReq to the CertRep that delivers the certificate, each
    certificate, key and request is read once (issue 25): the policy's view takes the
    keys read, the issuer the request the event read, the CertRep the certificate the
    issuer made."""
    from pyscep._parser_switch import count_paths

    server = responder()
    client = ready_client(server)
    request = client.enroll(csr(), DEVICE_KEY, now=NOW)
    target = urlsplit(request.target)
    with count_paths() as counts:
        event = server.receive(request.method, target.path, target.query, request.body, now=NOW)
        assert isinstance(event, EnrollmentRequested)
        received = (counts.fast["certificate"], counts.fast["request"], counts.fast["public_key"])
        response = server.issue(event, CA, now=NOW)
    # The signer's certificate and its key, the request and its key: one reading each.
    assert received == (1, 1, 2)
    # Issuing reads the certificate it makes (the issuer checks what it signed) and
    # nothing else: not the request or its key again, nor the new certificate.
    assert (counts.fast["request"], counts.fast["public_key"]) == (1, 2)
    assert counts.fast["certificate"] == 2
    assert counts.total("asn1crypto") == 0
    issued = client.receive(response.status, response.content_type, response.body, now=NOW)
    assert isinstance(issued, CertificateIssued)
    assert issued.certificate.public_key_der == DEVICE_KEY.public_key_der
    # A retransmission is answered from the store, which delivered that certificate.
    again = server.receive(request.method, target.path, target.query, request.body, now=NOW)
    assert isinstance(again, Answered)
    assert again.pki_status is pyscep.PKIStatus.SUCCESS
    stored = server.store.get(issued.transaction_id)
    assert stored is not None
    assert stored.certificates == (issued.certificate.der,)


def test_a_certificate_issued_with_its_chain_is_found_wherever_der_sorts_it() -> None:
    """The certificates of a CertRep are a SET, which DER sorts: with the CA certificate
    sent along, the issued one need not come first. The client takes the one for its
    key, and the rest is the chain."""
    server = responder()
    client = ready_client(server)
    request = client.enroll(csr(), DEVICE_KEY, now=NOW)
    target = urlsplit(request.target)
    event = server.receive(request.method, target.path, target.query, request.body, now=NOW)
    assert isinstance(event, EnrollmentRequested)
    response = server.issue(event, CA, chain=[CA.certificate], now=NOW)
    stored = server.store.get(event.transaction_id)
    assert stored is not None
    issued_der, chain_der = stored.certificates
    assert chain_der == CA.certificate.der
    assert chain_der < issued_der  # the CA's DER sorts first: this case, not the easy one
    issued = client.receive(response.status, response.content_type, response.body, now=NOW)
    assert isinstance(issued, CertificateIssued), issued
    assert issued.certificate.der == issued_der
    assert issued.chain == (CA.certificate,)
