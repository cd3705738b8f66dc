"""One transaction lifecycle, obeyed by every store: in memory, SQLite and PostgreSQL.

The lifecycle is written once (`pyscep.protocol.transactions.resolve`); these
tests hold each store to it, act by act, under concurrency, and through the
responder: a decision stays decided, a transactionID belongs to its
requester, a certificate is signed once per transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyscep
from pyscep import FailInfo
from pyscep.certificate import Certificate
from pyscep.messages import CertificationRequest, build_csr, build_pkcs_req, self_signed_signer
from pyscep.protocol.server import (
    Answered,
    EnrollmentRequested,
    PollRequested,
    ResponderConfig,
    ScepResponder,
)
from pyscep.protocol.transactions import (
    CLAIM_LEASE,
    Act,
    Awaiting,
    InMemoryTransactions,
    Transaction,
    TransactionState,
    TransactionStore,
    certificate_fingerprint,
    resolve,
)
from pyscep.testing import make_identity
from tests.helpers import NOW, open_cert_rep

CA = make_identity("Store CA", now=NOW, ca=True)
KEY = pyscep.load_private_key(make_identity("store device", now=NOW).key_der)
OTHER = pyscep.load_private_key(make_identity("store intruder", now=NOW).key_der)
REQUEST = build_csr(KEY, "CN=store-device")
KEY_SPKI = REQUEST.public_key_der
CERTIFICATE = CA.issue(REQUEST, now=NOW)
TXID = "contract-1"


# --- the stores under test ------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """One server for the module (its teardown runs within the module's last test, which
    takes the ``store`` fixture, so a peer test: keep a store test last)."""
    from tests.peers.netns_run import _postgres

    tmp = Path("/tmp")
    url, stop = _postgres(tmp)
    try:
        yield url
    finally:
        stop()


_created = iter(range(1_000_000))


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.peer)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> TransactionStore:
    if request.param == "memory":
        return InMemoryTransactions()
    if request.param == "sqlite":
        from pyscep.cli.sqlite_store import SqliteTransactions

        return SqliteTransactions(tmp_path / "state.sqlite")
    from pyscep.cli.postgres_store import PostgresTransactions

    url = request.getfixturevalue("postgres_url")
    # Each test its own table set: a schema of its own in the one server.
    import psycopg

    schema = f"contract_{next(_created)}"
    with psycopg.connect(url) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    return PostgresTransactions(f"{url}&options=-csearch_path%3D{schema}")


def opened(key: Any = KEY, at: datetime = NOW) -> Transaction:
    """A transaction as a requester with ``key`` opens it."""
    csr = REQUEST if key is KEY else build_csr(key, "CN=store-device")
    return Transaction(TXID, csr.public_key_der, TransactionState.PENDING, csr.der, updated=at)


def bring(store: TransactionStore, phase: str) -> Transaction | None:
    """Drive TXID to ``phase`` through the acts responders and operators take."""
    base = opened()
    if phase == "new":
        return None
    awaiting = Awaiting.APPLICATION if phase == "pending-application" else Awaiting.OPERATOR
    assert store.record(Act.HOLD, replace(base, awaiting=awaiting)).applied
    if phase in ("pending-operator", "pending-application"):
        return store.get(TXID)
    if phase == "rejected":
        assert store.record(Act.DENY, replace(base, fail_info=FailInfo.BAD_REQUEST)).applied
        return store.get(TXID)
    claimed = replace(base, state=TransactionState.ISSUING, claim="held")
    assert store.record(Act.APPROVE, claimed).applied
    if phase == "issued":
        delivered = replace(claimed, certificates=(CERTIFICATE.der,))
        assert store.record(Act.DELIVER, delivered).applied
    return store.get(TXID)


def proposal(act: Act, claim: str = "held", key: Any = KEY) -> Transaction:
    base = opened(key)
    if act is Act.HOLD:
        return replace(base, awaiting=Awaiting.APPLICATION, context="again")
    if act in (Act.CLAIM, Act.APPROVE):
        return replace(base, state=TransactionState.ISSUING, claim="new-claim")
    if act is Act.DELIVER:
        return replace(base, certificates=(CERTIFICATE.der,), claim=claim)
    if act is Act.RELEASE:
        return replace(base, claim=claim)
    return replace(base, fail_info=FailInfo.BAD_ALG)


# Written out by hand: the state each act leaves, from each phase ("-" for no change).
EXPECTED = {
    "new": {
        Act.HOLD: "pending", Act.CLAIM: "issuing", Act.APPROVE: "-", Act.DELIVER: "-",
        Act.RELEASE: "-", Act.REJECT: "-", Act.DENY: "-",
    },
    "pending-operator": {
        Act.HOLD: "-", Act.CLAIM: "-", Act.APPROVE: "issuing", Act.DELIVER: "-",
        Act.RELEASE: "-", Act.REJECT: "-", Act.DENY: "rejected",
    },
    "pending-application": {
        Act.HOLD: "pending", Act.CLAIM: "issuing", Act.APPROVE: "issuing", Act.DELIVER: "-",
        Act.RELEASE: "-", Act.REJECT: "rejected", Act.DENY: "rejected",
    },
    "issuing": {
        Act.HOLD: "-", Act.CLAIM: "-", Act.APPROVE: "-", Act.DELIVER: "issued",
        Act.RELEASE: "pending", Act.REJECT: "-", Act.DENY: "-",
    },
    "issued": dict.fromkeys(Act, "-"),
    "rejected": dict.fromkeys(Act, "-"),
}  # fmt: skip


@pytest.mark.parametrize("phase", list(EXPECTED))
@pytest.mark.parametrize("act", list(Act))
def test_every_act_from_every_phase(store: TransactionStore, phase: str, act: Act) -> None:
    before = bring(store, phase)
    outcome = store.record(act, proposal(act))
    after = store.get(TXID)
    expected = EXPECTED[phase][act]
    if expected == "-":
        assert not outcome.applied
        assert after == before
        return
    assert outcome.applied
    assert after is not None
    assert after.state.value == expected
    assert outcome.transaction == after
    # Whatever changed, the transaction still belongs to the key that opened it.
    assert after.requester_key == REQUEST.public_key_der
    assert after.csr == REQUEST.der


def _another(who: str, act: Act) -> Transaction:
    """A proposal from a request other than the one that opened TXID."""
    mine = proposal(act)
    if who == "another key":
        return proposal(act, key=OTHER)
    if who == "the same key, another CSR":
        return replace(mine, csr=build_csr(KEY, "CN=admin").der)
    return replace(mine, signer_key=OTHER.public_key_der)  # the same CSR, another signer


@pytest.mark.parametrize("phase", list(EXPECTED))
@pytest.mark.parametrize("act", list(Act))
@pytest.mark.parametrize(
    "who", ["another key", "the same key, another CSR", "the same CSR, another signer"]
)
def test_another_request_changes_nothing(
    store: TransactionStore, phase: str, act: Act, who: str
) -> None:
    before = bring(store, phase)
    if before is None:
        return  # a new transactionID is anyone's: the first requester opens it
    outcome = store.record(act, _another(who, act))
    assert not outcome.applied
    assert store.get(TXID) == before


@pytest.mark.parametrize("act", [Act.DELIVER, Act.RELEASE])
def test_only_the_claim_holder_delivers_or_releases(store: TransactionStore, act: Act) -> None:
    before = bring(store, "issuing")
    assert not store.record(act, proposal(act, claim="someone else's")).applied
    assert store.get(TXID) == before


def test_a_stale_claim_may_be_taken_over(store: TransactionStore) -> None:
    bring(store, "issuing")
    soon = replace(proposal(Act.APPROVE), updated=NOW + CLAIM_LEASE)
    assert not store.record(Act.APPROVE, soon).applied
    late = replace(proposal(Act.APPROVE), updated=NOW + CLAIM_LEASE + timedelta(seconds=1))
    assert store.record(Act.APPROVE, late).applied
    stored = store.get(TXID)
    assert stored is not None
    assert stored.claim == "new-claim"
    # The first holder, back from the dead, can no longer deliver.
    assert not store.record(Act.DELIVER, proposal(Act.DELIVER, claim="held")).applied


def test_issued_certificates_are_found_and_revoked(store: TransactionStore) -> None:
    fingerprint = certificate_fingerprint(CERTIFICATE.der)
    assert store.find_certificate(fingerprint) is None
    bring(store, "issued")
    found = store.find_certificate(fingerprint)
    assert found is not None
    assert (found.certificate, found.transaction_id, found.revoked) == (
        CERTIFICATE.der,
        TXID,
        False,
    )
    store.revoke(TXID)
    revoked = store.find_certificate(fingerprint)
    assert revoked is not None
    assert revoked.revoked


def test_a_certificate_is_renewed_once(store: TransactionStore) -> None:
    bring(store, "issued")
    fingerprint = certificate_fingerprint(CERTIFICATE.der)
    renewal = replace(
        opened(OTHER), transaction_id="renewal-1", renews=fingerprint, signer_key=KEY_SPKI
    )
    claimed = replace(renewal, state=TransactionState.ISSUING, claim="r")
    assert store.record(Act.CLAIM, claimed).applied
    found = store.find_certificate(fingerprint)
    assert found is not None
    assert found.renewed_by is None  # claimed is not issued
    delivered = replace(claimed, certificates=(CA.issue(REQUEST, now=NOW).der,))
    assert store.record(Act.DELIVER, delivered).applied
    found = store.find_certificate(fingerprint)
    assert found is not None
    assert found.renewed_by == "renewal-1"


def test_concurrent_claims_one_wins(store: TransactionStore) -> None:
    """Eight workers decide ISSUE on one new transaction at once: one may sign."""
    barrier = threading.Barrier(8)
    won: list[bool] = []

    def claim(index: int) -> None:
        claimed = replace(opened(), state=TransactionState.ISSUING, claim=f"worker-{index}")
        barrier.wait()
        won.append(store.record(Act.CLAIM, claimed).applied)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False] * 7 + [True]


# --- the lifecycle as a pure function, under random sequences -----------------------------

_ACTORS = st.sampled_from([KEY, OTHER])
_STEPS = st.lists(
    st.tuples(
        st.sampled_from(list(Act)),
        st.sampled_from(["held", "new-claim", "other"]),
        _ACTORS,
        st.integers(min_value=0, max_value=300),
    ),
    max_size=12,
)


@settings(max_examples=400, deadline=None)
@given(_STEPS)
def test_random_sequences_keep_the_promises(steps: list[tuple[Act, str, Any, int]]) -> None:
    stored: Transaction | None = None
    for act, claim, key, seconds in steps:
        proposed = replace(
            proposal(act, claim=claim, key=key), updated=NOW + timedelta(seconds=seconds)
        )
        if act in (Act.CLAIM, Act.APPROVE):
            proposed = replace(proposed, claim=claim)
        new = resolve(stored, act, proposed)
        if new is None:
            continue
        if stored is not None:
            # A final transaction never changes, nor does its requester.
            assert not stored.final
            assert new.requester_key == stored.requester_key
            # The operator's decision stays until the operator acts (or a claim dies).
            if stored.state is TransactionState.PENDING and stored.awaiting is Awaiting.OPERATOR:
                assert act in (Act.APPROVE, Act.DENY)
            # A certificate is recorded only by the holder of the current claim.
            if new.state is TransactionState.ISSUED:
                assert stored.state is TransactionState.ISSUING
                assert stored.claim == claim
        else:
            assert act in (Act.HOLD, Act.CLAIM)
        stored = new


# --- the responder on each store: sign once, bind to the requester ------------------------


class CountingCA:
    """The application's CA: counts what it signs, slowly enough for retries to race."""

    def __init__(self) -> None:
        self.signed: list[Certificate] = []
        self._lock = threading.Lock()

    def issue(self, request: CertificationRequest, *, now: datetime) -> Certificate:
        certificate = CA.issue(request, now=now)
        threading.Event().wait(0.05)
        with self._lock:
            self.signed.append(certificate)
        return certificate


def _responder(store: TransactionStore) -> ScepResponder:
    return ScepResponder(ResponderConfig(CA.certificate, CA.signer, CA.decrypter), store)


def _request(key: Any, transaction_id: str = TXID) -> bytes:
    csr = build_csr(key, "CN=racer")
    signer = self_signed_signer(key, "CN=racer", now=NOW)
    built = build_pkcs_req(
        csr, signer=signer, recipient=CA.certificate, transaction_id=transaction_id
    )
    return built.der


def _race(calls: list[Callable[[], pyscep.http.HttpResponse]]) -> list[pyscep.http.HttpResponse]:
    barrier = threading.Barrier(len(calls))
    answers: list[pyscep.http.HttpResponse] = []

    def run(call: Callable[[], pyscep.http.HttpResponse]) -> None:
        barrier.wait()
        answers.append(call())

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _status(body: bytes) -> str:
    reply = pyscep.messages.parse_pki_message(body)
    assert reply.pki_status is not None
    return reply.pki_status.name


def _issued_to(body: bytes, key: Any) -> Certificate:
    status, certificate = open_cert_rep(
        body, CA.certificate, self_signed_signer(key, "CN=racer", now=NOW)
    )
    assert status == "SUCCESS"
    assert certificate is not None
    return certificate


def test_racing_retries_are_signed_once(store: TransactionStore) -> None:
    """Retries of one PKCSReq reach eight workers at once: one signature, one certificate."""
    server, ca = _responder(store), CountingCA()
    body = _request(KEY)
    events = [server.receive("POST", "/scep", "operation=PKIOperation", body, now=NOW)]
    events += [
        server.receive("POST", "/scep", "operation=PKIOperation", body, now=NOW) for _ in range(7)
    ]
    assert all(isinstance(e, EnrollmentRequested) for e in events)  # all saw it new
    answers = _race(
        [lambda e=e: server.issue(e, ca, now=NOW) for e in events]  # type: ignore[misc]
    )
    assert len(ca.signed) == 1
    statuses = sorted(_status(a.body) for a in answers)
    assert "SUCCESS" in statuses
    assert set(statuses) <= {"SUCCESS", "PENDING"}
    # Every SUCCESS carries the one certificate; a PENDING racer gets it at its next try.
    assert {_issued_to(a.body, KEY) for a in answers if _status(a.body) == "SUCCESS"} == {
        ca.signed[0]
    }
    again = server.receive("POST", "/scep", "operation=PKIOperation", body, now=NOW)
    assert isinstance(again, Answered)
    assert _issued_to(again.response.body, KEY) == ca.signed[0]


@pytest.mark.parametrize("decision", ["issue", "pending"])
def test_two_keys_racing_on_one_transaction_id(store: TransactionStore, decision: str) -> None:
    """Neither is silently dropped, and the loser never gets the winner's certificate."""
    server, ca = _responder(store), CountingCA()
    first = server.receive("POST", "/scep", "operation=PKIOperation", _request(KEY), now=NOW)
    second = server.receive("POST", "/scep", "operation=PKIOperation", _request(OTHER), now=NOW)
    assert isinstance(first, EnrollmentRequested)
    assert isinstance(second, EnrollmentRequested)

    def decide(event: EnrollmentRequested) -> Callable[[], pyscep.http.HttpResponse]:
        if decision == "issue":
            return lambda: server.issue(event, ca, now=NOW)
        return lambda: server.pending(event, now=NOW)

    answers = _race([decide(first), decide(second)])
    stored = store.get(TXID)
    assert stored is not None
    winner_key = KEY if stored.requester_key == REQUEST.public_key_der else OTHER
    expected_winner = "SUCCESS" if decision == "issue" else "PENDING"
    outcomes = []
    for answer in answers:
        reply = pyscep.messages.parse_pki_message(answer.body)
        assert reply.pki_status is not None
        if reply.pki_status.name == "FAILURE":
            assert reply.fail_info is FailInfo.BAD_REQUEST  # "in use for another key"
            outcomes.append("FAILURE")
        else:
            outcomes.append(reply.pki_status.name)
            if reply.pki_status.name == "SUCCESS":
                assert _issued_to(answer.body, winner_key).public_key_der == (stored.requester_key)
    assert sorted(outcomes) == sorted([expected_winner, "FAILURE"])
    assert len(ca.signed) == (1 if decision == "issue" else 0)


def test_a_failing_issuer_gives_the_claim_back(store: TransactionStore) -> None:
    class Broken:
        def issue(self, request: CertificationRequest, *, now: datetime) -> Certificate:
            raise OSError("the HSM is down")

    server = _responder(store)
    body = _request(KEY)
    event = server.receive("POST", "/scep", "operation=PKIOperation", body, now=NOW)
    assert isinstance(event, EnrollmentRequested)
    with pytest.raises(OSError, match="HSM"):
        server.issue(event, Broken(), now=NOW)
    stored = store.get(TXID)
    assert stored is not None
    assert stored.state is TransactionState.PENDING
    # The retry is the application's to decide again, and this time the CA signs.
    retry = server.receive("POST", "/scep", "operation=PKIOperation", body, now=NOW)
    assert isinstance(retry, PollRequested)
    ca = CountingCA()
    assert _status(server.issue(retry, ca, now=NOW).body) == "SUCCESS"
    assert len(ca.signed) == 1
