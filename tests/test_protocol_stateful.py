"""Client and responder driven together in memory by hypothesis, against the state tables.

Rules: GetCACaps (answered, or 404 as a draft-era CA does), GetCACert,
enroll, poll, the network losing a reply, the client retransmitting, the
operator approving or denying, a new client after a failure. Invariants: the
client is always in a state of its table and a READY client has its
algorithms and CA; no certificate reaches the client unless the operator
approved its transaction; a transaction is signed at most once; the client
raises nothing but `pyscep.ScepError`.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from urllib.parse import urlsplit

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

import pyscep
from pyscep import LEGACY, Certificate, FailInfo, ScepError
from pyscep.algorithms import DEFAULT_POLICY, AlgorithmPolicy
from pyscep.http import HTTPRequest, HTTPResponse
from pyscep.messages import CertificationRequest, build_csr, transaction_id_for_key
from pyscep.protocol import (
    Answered,
    CertificateIssued,
    CertificateRefused,
    ClientEvent,
    ClientState,
    EnrollmentRequested,
    ResponderConfig,
    ScepClient,
    ScepResponder,
    StaticChallenge,
)
from pyscep.protocol._client_state import TRANSITIONS
from pyscep.testing import make_identity
from tests.support.helpers import NOW

CA = make_identity("Stateful CA", now=NOW, ca=True)
KEYS = [pyscep.load_private_key(make_identity(f"device {i}", now=NOW).key_der) for i in range(2)]
CHALLENGE = "stateful"
TABLE_STATES = {state for pair, after in TRANSITIONS.items() for state in (pair[0], after)}
NOT_FOUND = HTTPResponse(404, "text/html", b"<html>Not Found</html>")
#: Mostly delivered, sometimes lost; mostly the right challenge.
LOST = st.sampled_from([False, False, False, True])
RIGHT = st.sampled_from([True, True, True, False])


class CountingIssuer:
    """The CA's issuer, counting what it signs per requested key."""

    def __init__(self) -> None:
        self.signed: Counter[bytes] = Counter()

    def issue(self, request: CertificationRequest, *, now: object) -> Certificate:
        self.signed[request.public_key_der] += 1
        return CA.issue(request, now=NOW)


def _not_ready(machine: ClientAndResponder) -> bool:
    return machine.client.state is not ClientState.READY


class ClientAndResponder(RuleBasedStateMachine):
    """One client, one responder whose application leaves every request to the operator."""

    @initialize(client_policy=st.sampled_from([LEGACY, DEFAULT_POLICY]), caps_missing=st.booleans())
    def start(self, client_policy: AlgorithmPolicy, caps_missing: bool) -> None:
        self.server = ScepResponder(
            ResponderConfig(
                ca_certificate=CA.certificate,
                signer=CA.signer,
                decrypter=CA.decrypter,
                challenge=StaticChallenge(CHALLENGE),
                algorithms=LEGACY,
            )
        )
        self.policy = client_policy
        self.issuer = CountingIssuer()
        self.client = self._new_client()
        self.last_request: HTTPRequest | None = None
        self.caps_missing = False
        self.held: list[str] = []
        self.approved: set[str] = set()
        self.denied: set[str] = set()
        # A CA has GetCACaps or not (a draft-era CA answers 404) for the whole run. Most
        # runs start where enrollments happen: both GetCA* answered.
        self.caps_missing = caps_missing
        self._call(self.client.get_caps, lose_reply=False)
        self._call(self.client.get_ca_certificates, lose_reply=False)

    def _new_client(self) -> ScepClient:
        return ScepClient(algorithms=self.policy, ca_fingerprint=CA.certificate.sha256_fingerprint)

    # --- the network and the CA's application ---------------------------------------

    def _serve(self, request: HTTPRequest) -> HTTPResponse:
        target = urlsplit(request.target)
        event = self.server.receive(
            request.method, target.path, target.query, request.body, now=NOW
        )
        if isinstance(event, Answered):
            if event.reason == "caps" and self.caps_missing:
                return NOT_FOUND
            return event.response
        assert isinstance(event, EnrollmentRequested)  # only enrollments are handled
        if not event.challenge.accepted:
            return self.server.reject(event, FailInfo.BAD_REQUEST, now=NOW)
        self.held.append(event.transaction_id)
        return self.server.pending(event, now=NOW)

    def _call(self, make: object, lose_reply: bool) -> None:
        """Make a call; send its request; deliver the answer unless the network loses it."""
        assert callable(make)
        before = self.client.state
        try:
            request = make()
        except ScepError:
            assert self.client.state is before  # a refused call changes nothing
            return
        if request is None:  # resume sends nothing
            return
        self.last_request = request
        response = self._serve(request)
        if not lose_reply:
            self._deliver(response)

    def _deliver(self, response: HTTPResponse) -> None:
        event: ClientEvent = self.client.receive(
            response.status, response.content_type, response.body, now=NOW
        )
        assert not isinstance(event, CertificateRefused)
        if isinstance(event, CertificateIssued):
            assert event.transaction_id in self.approved
            assert event.transaction_id not in self.denied

    # --- rules ---------------------------------------------------------------------

    # Asking again once READY is covered by tests/test_protocol.py's (state, call) pairs; here
    # the steps go to enrollments.
    @precondition(_not_ready)
    @rule(lose_reply=LOST)
    def get_caps(self, lose_reply: bool) -> None:
        self._call(self.client.get_caps, lose_reply)

    @precondition(_not_ready)
    @rule(lose_reply=LOST)
    def get_ca_certificates(self, lose_reply: bool) -> None:
        self._call(self.client.get_ca_certificates, lose_reply)

    @rule(key=st.sampled_from(range(len(KEYS))), right=RIGHT, lose_reply=LOST)
    def enroll(self, key: int, right: bool, lose_reply: bool) -> None:
        challenge = CHALLENGE if right else "wrong"
        csr = build_csr(KEYS[key], f"CN=device {key}", challenge_password=challenge)
        self._call(lambda: self.client.enroll(csr, KEYS[key], now=NOW), lose_reply)

    @rule(lose_reply=LOST)
    def poll(self, lose_reply: bool) -> None:
        self._call(lambda: self.client.poll(now=NOW), lose_reply)

    @rule()
    def retransmit(self) -> None:
        """The client sends its last request again (its answer was lost, or it timed out)."""
        if self.last_request is None:
            return
        response = self._serve(self.last_request)
        # Nothing awaited any more (its answer came): the table refuses the answer.
        with contextlib.suppress(pyscep.LocalProtocolError):
            self._deliver(response)

    @rule(index=st.integers(0, 3))
    def operator_approves(self, index: int) -> None:
        if not self.held:
            return
        txid = self.held[index % len(self.held)]
        try:
            self.server.approve(txid, self.issuer, now=NOW)
        except pyscep.LocalProtocolError:
            return  # decided before: approving twice signs nothing
        self.approved.add(txid)

    @rule(index=st.integers(0, 3))
    def operator_denies(self, index: int) -> None:
        if not self.held:
            return
        txid = self.held[index % len(self.held)]
        try:
            self.server.deny(txid, FailInfo.BAD_REQUEST, now=NOW)
        except pyscep.LocalProtocolError:
            return
        self.denied.add(txid)

    @rule()
    def a_reply_arrives_garbled(self) -> None:
        """What an awaiting client gets is no SCEP answer: it fails, never raises."""
        if self.client.state.value.startswith("await-"):
            self._deliver(HTTPResponse(200, "application/x-pki-message", b"\x30\x03garbled"))
            assert self.client.state in (ClientState.FAILED, ClientState.IDLE, ClientState.READY)

    @rule()
    def start_over_after_a_failure(self) -> None:
        if self.client.state is ClientState.FAILED:
            self.client = self._new_client()

    # --- invariants ------------------------------------------------------------------

    @invariant()
    def the_client_is_in_a_state_of_its_table(self) -> None:
        assert self.client.state in TABLE_STATES
        if self.client.state is ClientState.READY:
            # The 404-GetCACaps defect: READY without algorithms.
            assert self.client.negotiated is not None
            assert self.client.ca is not None
            assert self.client.caps is not None

    @invariant()
    def a_transaction_is_signed_at_most_once(self) -> None:
        assert all(count <= 1 for count in self.issuer.signed.values())
        for key, count in self.issuer.signed.items():
            assert count == 0 or transaction_id_for_key(key) in self.approved

    @invariant()
    def a_decision_stays_decided(self) -> None:
        assert not self.approved & self.denied


ClientAndResponder.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None
)
test_client_and_responder = ClientAndResponder.TestCase
