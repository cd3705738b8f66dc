"""One store contract, kept by every store: in memory, SQLite and PostgreSQL.

The lifecycle is written once (`pyscep.protocol.transactions.resolve`), and
so is a challenge's consumption (`decide_consumption`); these tests hold each
`ServerStore` to them, act by act, under concurrency (threads, and for the SQL
stores several processes), and through the responder: a decision stays
decided, a transactionID belongs to its requester, a certificate is signed
once per transaction, a challenge is consumed once, serial numbers are
unique, revocations are seen by everyone.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyscep
from pyscep import FailInfo, RevocationReason
from pyscep.certificate import Certificate
from pyscep.messages import (
    CertificationRequest,
    RevokedCertificate,
    build_crl,
    build_csr,
    build_pkcs_req,
    self_signed_signer,
)
from pyscep.protocol.challenges import (
    Consumed,
    IssuedChallenge,
    OneTimeChallenges,
    challenge_digest,
    decide_consumption,
)
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
    Transaction,
    TransactionState,
    certificate_fingerprint,
    resolve,
)
from pyscep.server.stores import (
    MemoryStore,
    PostgresStore,
    PublishedCRL,
    Revocation,
    ServerStore,
    SqliteStore,
    StoreCounts,
)
from pyscep.testing import make_identity
from tests.support.helpers import NOW, open_cert_rep

CA = make_identity("Store CA", now=NOW, ca=True)
KEY = pyscep.load_private_key(make_identity("store device", now=NOW).key_der)
OTHER = pyscep.load_private_key(make_identity("store intruder", now=NOW).key_der)
REQUEST = build_csr(KEY, "CN=store-device")
KEY_SPKI = REQUEST.public_key_der
CERTIFICATE = CA.issue(REQUEST, now=NOW)
TXID = "contract-1"
WEEK = timedelta(days=7)


# --- the stores under test ------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """One server for the module (its teardown runs within the module's last test, which
    takes the ``store`` fixture, so a peer test: keep a store test last)."""
    from tests.support.postgres import start_postgres

    url, stop = start_postgres()
    try:
        yield url
    finally:
        stop()


_created = iter(range(1_000_000))


def _make(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> ServerStore:
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SqliteStore(tmp_path / "state.sqlite")
    url = request.getfixturevalue("postgres_url")
    # Each test its own table set: a schema of its own in the one server.
    import psycopg

    schema = f"contract_{next(_created)}"
    with psycopg.connect(url) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    return PostgresStore(f"{url}&options=-csearch_path%3D{schema}")


_POSTGRES = pytest.param("postgresql", marks=pytest.mark.peer)


@pytest.fixture(params=["memory", "sqlite", _POSTGRES])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ServerStore:
    return _make(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", _POSTGRES])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> ServerStore:
    """A store other processes open too (a database, not this process's memory)."""
    return _make(request.param, request, tmp_path)


def _reopen(store: ServerStore) -> ServerStore:
    """The same database opened anew, as another worker or host does."""
    if isinstance(store, SqliteStore):
        return SqliteStore(store.path)
    assert isinstance(store, PostgresStore)
    return PostgresStore(store.url)


def opened(key: Any = KEY, at: datetime = NOW) -> Transaction:
    """A transaction as a requester with ``key`` opens it."""
    csr = REQUEST if key is KEY else build_csr(key, "CN=store-device")
    return Transaction(TXID, csr.public_key_der, TransactionState.PENDING, csr.der, updated=at)


def bring(store: ServerStore, phase: str) -> Transaction | None:
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
    if act in (Act.DELIVER, Act.IMPORT):
        return replace(base, certificates=(CERTIFICATE.der,), claim=claim)
    if act is Act.RELEASE:
        return replace(base, claim=claim)
    return replace(base, fail_info=FailInfo.BAD_ALG)


# Written out by hand: the state each act leaves, from each phase ("-" for no change).
EXPECTED = {
    "new": {
        Act.HOLD: "pending", Act.CLAIM: "issuing", Act.APPROVE: "-", Act.DELIVER: "-",
        Act.RELEASE: "-", Act.REJECT: "-", Act.DENY: "-", Act.IMPORT: "issued",
    },
    "pending-operator": {
        Act.HOLD: "-", Act.CLAIM: "-", Act.APPROVE: "issuing", Act.DELIVER: "-",
        Act.RELEASE: "-", Act.REJECT: "-", Act.DENY: "rejected", Act.IMPORT: "-",
    },
    "pending-application": {
        Act.HOLD: "pending", Act.CLAIM: "issuing", Act.APPROVE: "issuing", Act.DELIVER: "-",
        Act.RELEASE: "-", Act.REJECT: "rejected", Act.DENY: "rejected", Act.IMPORT: "-",
    },
    "issuing": {
        Act.HOLD: "-", Act.CLAIM: "-", Act.APPROVE: "-", Act.DELIVER: "issued",
        Act.RELEASE: "pending", Act.REJECT: "-", Act.DENY: "-", Act.IMPORT: "-",
    },
    "issued": dict.fromkeys(Act, "-"),
    "rejected": dict.fromkeys(Act, "-"),
}  # fmt: skip


@pytest.mark.parametrize("phase", list(EXPECTED))
@pytest.mark.parametrize("act", list(Act))
def test_every_act_from_every_phase(store: ServerStore, phase: str, act: Act) -> None:
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
    # Only an import and a delivery hold a certificate; the store finds it by fingerprint.
    issued = after.state is TransactionState.ISSUED
    assert after.certificates == ((CERTIFICATE.der,) if issued else ())
    if act is Act.IMPORT:
        found = store.find_certificate(certificate_fingerprint(CERTIFICATE.der))
        assert found is not None
        assert (found.transaction_id, found.revoked) == (TXID, False)


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
    store: ServerStore, phase: str, act: Act, who: str
) -> None:
    before = bring(store, phase)
    if before is None:
        return  # a new transactionID is anyone's: the first requester opens it
    outcome = store.record(act, _another(who, act))
    assert not outcome.applied
    assert store.get(TXID) == before


@pytest.mark.parametrize("act", [Act.DELIVER, Act.RELEASE])
def test_only_the_claim_holder_delivers_or_releases(store: ServerStore, act: Act) -> None:
    before = bring(store, "issuing")
    assert not store.record(act, proposal(act, claim="someone else's")).applied
    assert store.get(TXID) == before


def test_a_stale_claim_may_be_taken_over(store: ServerStore) -> None:
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


def test_issued_certificates_are_found_and_revoked(store: ServerStore) -> None:
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


def test_a_certificate_is_renewed_once(store: ServerStore) -> None:
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


def test_concurrent_claims_one_wins(store: ServerStore) -> None:
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


# --- the rest of the contract: polls, lists, serials, revocations ---------------------------


def test_polls_are_counted_per_transaction(store: ServerStore) -> None:
    assert store.count_poll(TXID) == 0  # unknown: nothing to count
    bring(store, "pending-operator")
    assert [store.count_poll(TXID) for _ in range(3)] == [1, 2, 3]
    # Counting is not an act: the transaction is as it was.
    stored = store.get(TXID)
    assert stored is not None
    assert stored.state is TransactionState.PENDING


def test_pending_and_issued_list_the_right_transactions(store: ServerStore) -> None:
    later = NOW + timedelta(minutes=1)
    first = opened()
    second = replace(opened(OTHER), transaction_id="contract-2", updated=later)
    assert store.record(Act.HOLD, first).applied
    assert store.record(Act.HOLD, second).applied
    assert [t.transaction_id for t in store.pending()] == [TXID, "contract-2"]
    assert store.issued() == []
    claimed = replace(first, state=TransactionState.ISSUING, claim="c", updated=later)
    assert store.record(Act.APPROVE, claimed).applied
    # Being issued is still on the operator's list.
    assert {t.transaction_id for t in store.pending()} == {TXID, "contract-2"}
    delivered = replace(claimed, certificates=(CERTIFICATE.der,))
    assert store.record(Act.DELIVER, delivered).applied
    assert [t.transaction_id for t in store.pending()] == ["contract-2"]
    assert [(t.transaction_id, t.certificates) for t in store.issued()] == [
        (TXID, (CERTIFICATE.der,))
    ]


def test_revocations_are_listed(store: ServerStore) -> None:
    bring(store, "issued")
    assert store.revoked() == frozenset()
    store.revoke(TXID)
    assert store.revoked() == frozenset({TXID})


def test_a_revocation_keeps_when_and_why_and_the_first_one_stands(store: ServerStore) -> None:
    bring(store, "issued")
    assert store.revocations() == []
    at = NOW + timedelta(hours=1, microseconds=654321)
    store.revoke(TXID, revoked_at=at, reason=RevocationReason.KEY_COMPROMISE)
    expected = Revocation(
        TXID, CERTIFICATE.serial_number, NOW + timedelta(hours=1), RevocationReason.KEY_COMPROMISE
    )
    assert store.revocations() == [expected]
    # Revoking again changes neither the time nor the reason: a decision stands.
    store.revoke(TXID, revoked_at=NOW + timedelta(days=1), reason=RevocationReason.SUPERSEDED)
    assert store.revocations() == [expected]
    assert store.revoked() == frozenset({TXID})


def test_only_an_issued_certificate_is_revoked(store: ServerStore) -> None:
    bring(store, "pending-operator")
    store.revoke(TXID, revoked_at=NOW)
    store.revoke("no-such-transaction", revoked_at=NOW)
    assert (store.revocations(), store.revoked()) == ([], frozenset())


def test_counts_follow_what_the_store_holds(store: ServerStore) -> None:
    assert store.counts() == StoreCounts(0, 0, 0, 0, 0)
    bring(store, "issued")
    waiting = replace(opened(OTHER), transaction_id="contract-2")
    assert store.record(Act.HOLD, waiting).applied
    store.revoke(TXID, revoked_at=NOW)
    first, second = _challenge(), replace(_challenge(), digest=challenge_digest("another"))
    store.challenges.add(first)
    store.challenges.add(second)
    assert store.challenges.consume(first.digest, NOW) is Consumed.OK
    assert store.counts() == StoreCounts(
        pending=1, issued=1, revoked=1, challenges_issued=2, challenges_consumed=1
    )


def test_a_revocation_date_kept_already_survives_the_migration(tmp_path: Path) -> None:
    """A row revoked by 0.2's first commits: its date kept, its serial not yet."""
    store = SqliteStore(tmp_path / "state.sqlite")
    bring(store, "issued")
    store.revoke(TXID, revoked_at=NOW, reason=RevocationReason.SUPERSEDED)
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE transactions SET revoked_serial = NULL")
    db.close()
    expected = [Revocation(TXID, CERTIFICATE.serial_number, NOW, RevocationReason.SUPERSEDED)]
    assert store.revocations() == expected  # read as it is
    assert SqliteStore(store.path).revocations() == expected  # and once migrated


def _crl(number: int, variant: int) -> PublishedCRL:
    """CRL ``number`` as one host signed it (``variant``: what it lists, so hosts differ)."""
    listed = [RevokedCertificate(variant, NOW)]
    return PublishedCRL(
        build_crl(CA.signer, listed, number=number, this_update=NOW, next_update=NOW + WEEK)
    )


def test_each_crl_number_is_published_once_and_the_latest_is_served(store: ServerStore) -> None:
    assert store.latest_crl() is None
    assert store.publish_crl(_crl(1, 1)) == _crl(1, 1)
    # Another host signed number 1 too, a moment later: the first one kept stands.
    assert store.publish_crl(_crl(1, 2)) == _crl(1, 1)
    assert store.publish_crl(_crl(2, 3)) == _crl(2, 3)
    # A host that read a stale latest CRL cannot take the number back.
    assert store.publish_crl(_crl(2, 4)) == _crl(2, 3)
    assert store.latest_crl() == _crl(2, 3)


def test_hosts_racing_to_publish_a_crl_number_agree_on_one(store: ServerStore) -> None:
    barrier = threading.Barrier(8)
    kept: list[PublishedCRL] = []

    def publish(index: int) -> None:
        barrier.wait()
        kept.append(store.publish_crl(_crl(1, index + 10)))

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(kept)) == 1
    assert store.latest_crl() == kept[0]


_FIRST_RELEASE = (
    "CREATE TABLE transactions (transaction_id TEXT PRIMARY KEY, requester_key {blob} NOT"
    " NULL, state TEXT NOT NULL, csr {blob} NOT NULL, certificates {blob} NOT NULL,"
    " fail_info INTEGER, updated TEXT, polls INTEGER NOT NULL DEFAULT 0,"
    " revoked {flag} NOT NULL DEFAULT {no})"
)
_OLD_ROW = (TXID, KEY_SPKI, REQUEST.der, len(CERTIFICATE.der).to_bytes(4, "big") + CERTIFICATE.der)


@pytest.mark.parametrize("kind", ["sqlite", _POSTGRES])
def test_a_state_of_the_first_release_is_migrated_even_by_an_operator_command(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A revoked flag only: the operator's commands (which create nothing) still open it,
    and its revocation is dated its certificate's notBefore (the earliest it could be)."""
    if kind == "sqlite":
        path = tmp_path / "state.sqlite"
        with sqlite3.connect(path) as db:
            db.execute(_FIRST_RELEASE.format(blob="BLOB", flag="INTEGER", no="0"))
            db.execute(
                "INSERT INTO transactions VALUES (?, ?, 'issued', ?, ?, NULL, NULL, 0, 1)", _OLD_ROW
            )
        db.close()
        opened: ServerStore = SqliteStore(path, create=False)
    else:
        import psycopg

        url = request.getfixturevalue("postgres_url")
        schema = f"first_release_{next(_created)}"
        with psycopg.connect(url) as pg:
            pg.execute(f"CREATE SCHEMA {schema}")
            pg.execute(f"SET search_path TO {schema}")
            pg.execute(_FIRST_RELEASE.format(blob="BYTEA", flag="BOOLEAN", no="FALSE"))
            pg.execute(
                "INSERT INTO transactions VALUES (%s, %s, 'issued', %s, %s, NULL, NULL, 0, TRUE)",
                _OLD_ROW,
            )
        opened = PostgresStore(f"{url}&options=-csearch_path%3D{schema}", create=False)
    assert opened.revocations() == [
        Revocation(
            TXID,
            CERTIFICATE.serial_number,
            CERTIFICATE.not_valid_before,
            RevocationReason.UNSPECIFIED,
        )
    ]
    assert opened.revoked() == frozenset({TXID})
    assert opened.latest_crl() is None  # the CRL table is there


def test_serials_are_positive_fixed_length_and_unique_across_threads(store: ServerStore) -> None:
    barrier = threading.Barrier(8)
    serials: list[int] = []

    def allocate() -> None:
        barrier.wait()
        mine = [store.new_serial() for _ in range(25)]
        serials.extend(mine)

    threads = [threading.Thread(target=allocate) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(serials) == len(set(serials)) == 200
    # 63 bits with the top one set: 8 DER bytes, never a sign byte.
    assert all(2**62 <= serial < 2**63 for serial in serials)


# --- one-time challenges: consumed once ---------------------------------------------------


def _challenge(minutes: int = 10) -> IssuedChallenge:
    return IssuedChallenge(
        challenge_digest(f"a-one-time-challenge for {minutes} minutes"),
        "CN=dev1",
        "dns_name:*.example.com",
        NOW + timedelta(minutes=minutes),
    )


@pytest.mark.parametrize(
    ("stored", "used", "now", "expected"),
    [
        (None, False, NOW, Consumed.UNKNOWN),
        (_challenge(), True, NOW, Consumed.USED),
        (_challenge(), True, NOW + timedelta(hours=1), Consumed.USED),
        (_challenge(), False, NOW + timedelta(minutes=10), Consumed.OK),
        (_challenge(), False, NOW + timedelta(minutes=10, microseconds=1), Consumed.EXPIRED),
        (_challenge(), False, NOW, Consumed.OK),
    ],
)
def test_the_consumption_rule(
    stored: IssuedChallenge | None, used: bool, now: datetime, expected: Consumed
) -> None:
    assert decide_consumption(stored, used, now) is expected


def test_a_challenge_is_stored_found_and_consumed_once(store: ServerStore) -> None:
    challenge = _challenge()
    assert store.challenges.find(challenge.digest) is None
    assert store.challenges.consume(challenge.digest, NOW) is Consumed.UNKNOWN
    store.challenges.add(challenge)
    assert store.challenges.find(challenge.digest) == challenge
    assert store.challenges.consume(challenge.digest, NOW) is Consumed.OK
    assert store.challenges.consume(challenge.digest, NOW) is Consumed.USED
    # Found used or not: the checker tells "used" from "unknown".
    assert store.challenges.find(challenge.digest) == challenge


def test_outstanding_counts_the_challenges_neither_used_nor_expired(store: ServerStore) -> None:
    assert store.challenges.outstanding(NOW) == 0
    first, second = _challenge(minutes=5), _challenge(minutes=60)
    store.challenges.add(first)
    store.challenges.add(second)
    assert store.challenges.outstanding(NOW) == 2
    assert store.challenges.consume(second.digest, NOW) is Consumed.OK
    assert store.challenges.outstanding(NOW) == 1
    assert store.challenges.outstanding(first.expires) == 1  # valid up to its expiry
    assert store.challenges.outstanding(first.expires + timedelta(seconds=1)) == 0


def test_a_sid_a_challenge_vouches_for_is_kept_by_every_store(store: ServerStore) -> None:
    sid = "S-1-5-21-1004336348-1177238915-682003330-4242"
    challenge = replace(_challenge(), sid=sid)
    store.challenges.add(challenge)
    assert store.challenges.find(challenge.digest) == challenge


def test_a_naive_clock_is_judged_like_an_aware_one(store: ServerStore) -> None:
    # An application's clock may be naive (local time); every store judges it alike.
    challenge = _challenge(minutes=5)
    store.challenges.add(challenge)
    naive_late = (challenge.expires + timedelta(seconds=1)).astimezone().replace(tzinfo=None)
    assert store.challenges.consume(challenge.digest, naive_late) is Consumed.EXPIRED
    naive_now = NOW.astimezone().replace(tzinfo=None)
    assert store.challenges.consume(challenge.digest, naive_now) is Consumed.OK


def test_a_challenge_expires_at_its_time(store: ServerStore) -> None:
    challenge = _challenge(minutes=5)
    store.challenges.add(challenge)
    late = challenge.expires + timedelta(seconds=1)
    assert store.challenges.consume(challenge.digest, late) is Consumed.EXPIRED
    # Expired is not consumed: the rule, not the store, decides at each attempt.
    assert store.challenges.consume(challenge.digest, challenge.expires) is Consumed.OK


def test_the_checker_reports_each_outcome_on_every_store(store: ServerStore) -> None:
    now = [NOW]
    checker = OneTimeChallenges(store.challenges, lambda: now[0])
    csr = build_csr(KEY, "CN=dev1")
    used = checker.issue(ttl=timedelta(hours=1))
    assert checker.check(used, csr).accepted
    assert checker.check(used, csr).reason == "the challenge password was already used"
    stale = checker.issue(ttl=timedelta(seconds=1))
    now[0] = NOW + timedelta(seconds=2)
    assert checker.check(stale, csr).reason == "the challenge password has expired"
    assert checker.check("y" * 24, csr).reason == "the challenge password is unknown"


def test_concurrent_threads_consume_a_challenge_once(store: ServerStore) -> None:
    challenge = _challenge()
    store.challenges.add(challenge)
    barrier = threading.Barrier(8)
    outcomes: list[Consumed] = []

    def consume() -> None:
        barrier.wait()
        outcomes.append(store.challenges.consume(challenge.digest, NOW))

    threads = [threading.Thread(target=consume) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == sorted([Consumed.OK] + [Consumed.USED] * 7)


# --- several processes on one database: what hosts behind a load balancer share -------------

_WORKERS = 6


def _in_processes(target: Callable[..., None], *args: Any) -> list[Any]:
    """Run ``target(queue, *args)`` in several forked processes at once; what each put."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    start = context.Barrier(_WORKERS)
    workers = [
        context.Process(target=target, args=(results, start, *args)) for _ in range(_WORKERS)
    ]
    for worker in workers:
        worker.start()
    found = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    return found


def _consume_elsewhere(results: Any, start: Any, store: ServerStore, digest: bytes) -> None:
    mine = _reopen(store)
    start.wait()
    results.put(mine.challenges.consume(digest, NOW).value)


def _claim_elsewhere(results: Any, start: Any, store: ServerStore) -> None:
    mine = _reopen(store)
    claim = f"worker-{multiprocessing.current_process().pid}"
    start.wait()
    results.put(mine.record(Act.CLAIM, replace(opened(), claim=claim)).applied)


def _serials_elsewhere(results: Any, start: Any, store: ServerStore) -> None:
    mine = _reopen(store)
    start.wait()
    results.put([mine.new_serial() for _ in range(20)])


def test_processes_consume_a_challenge_once(shared_store: ServerStore) -> None:
    challenge = _challenge()
    shared_store.challenges.add(challenge)
    outcomes = _in_processes(_consume_elsewhere, shared_store, challenge.digest)
    assert sorted(outcomes) == sorted([Consumed.OK.value] + [Consumed.USED.value] * (_WORKERS - 1))


def test_processes_claim_a_transaction_once(shared_store: ServerStore) -> None:
    won = _in_processes(_claim_elsewhere, shared_store)
    assert sorted(won) == [False] * (_WORKERS - 1) + [True]
    stored = shared_store.get(TXID)
    assert stored is not None
    assert stored.state is TransactionState.ISSUING


def test_processes_allocate_unique_serials(shared_store: ServerStore) -> None:
    batches = _in_processes(_serials_elsewhere, shared_store)
    serials = [serial for batch in batches for serial in batch]
    assert len(serials) == len(set(serials)) == _WORKERS * 20


def test_what_one_connection_writes_every_other_sees(shared_store: ServerStore) -> None:
    other = _reopen(shared_store)
    bring(shared_store, "issued")
    challenge = _challenge()
    shared_store.challenges.add(challenge)
    shared_store.revoke(TXID, revoked_at=NOW, reason=RevocationReason.CESSATION_OF_OPERATION)
    assert other.revoked() == frozenset({TXID})
    assert [r.reason for r in other.revocations()] == [RevocationReason.CESSATION_OF_OPERATION]
    shared_store.publish_crl(_crl(1, 5))
    assert other.latest_crl() == _crl(1, 5)
    found = other.find_certificate(certificate_fingerprint(CERTIFICATE.der))
    assert found is not None
    assert found.revoked
    assert other.challenges.consume(challenge.digest, NOW) is Consumed.OK
    assert shared_store.challenges.consume(challenge.digest, NOW) is Consumed.USED


# --- two reference servers behind a load balancer, sharing PostgreSQL -------------------------


def _two_hosts(
    request: pytest.FixtureRequest, tmp_path: Path, **options: Any
) -> tuple[Any, Any, str]:
    """Two `ReferenceServer`s with their own state directories (the CA material copied
    from the first to the second, as a deployment does) and one PostgreSQL state."""
    import shutil

    from pyscep.server import ReferenceServer, ServeOptions

    shared = _make("postgresql", request, tmp_path)
    assert isinstance(shared, PostgresStore)
    first = ReferenceServer(ServeOptions(tmp_path / "a", state_url=shared.url, **options))
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    second = ReferenceServer(
        ServeOptions(tmp_path / "b", state_url=shared.url, **options), create=False
    )
    return first, second, shared.url


def _enrollment(server: Any, subject: str, password: str | None) -> tuple[Any, bytes]:
    """A device's key and its PKCSReq to ``server``'s CA, at the real time (the servers
    read the clock)."""
    now = datetime.now(timezone.utc)
    key = pyscep.load_private_key(make_identity(f"{subject} key", now=now).key_der)
    csr = build_csr(key, subject, challenge_password=password)
    signer = self_signed_signer(key, subject, now=now)
    built = build_pkcs_req(csr, signer=signer, recipient=server.files.ca.certificate)
    return signer, built.der


def _answer(server: Any, body: bytes, signer: Any) -> str:
    response = server.handle("POST", "/scep", "operation=PKIOperation", body)
    status, certificate = open_cert_rep(response.body, server.files.ca.certificate, signer)
    assert (certificate is not None) == (status == "SUCCESS")
    return status


def _holds_ca_material_only(directory: Path) -> bool:
    """The CA's key and certificate, and the empty lock file that guards their creation."""
    names = {path.name for path in directory.iterdir()}
    return names <= {"ca.pem", "ca.key", ".lock"} and (
        ".lock" not in names or (directory / ".lock").stat().st_size == 0
    )


@pytest.mark.peer
def test_a_challenge_made_on_one_host_is_accepted_once_on_another(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    first, second, _ = _two_hosts(request, tmp_path, challenge_mode="one-time")
    challenge = first.one_time_challenges().issue(
        ttl=timedelta(hours=1), subject="CN=roaming-device"
    )
    signer, body = _enrollment(second, "CN=roaming-device", challenge)
    assert _answer(second, body, signer) == "SUCCESS"
    # The same challenge again, through the host that made it: already used.
    signer, body = _enrollment(first, "CN=roaming-device", challenge)
    assert _answer(first, body, signer) == "FAILURE"
    assert _holds_ca_material_only(tmp_path / "a")
    assert _holds_ca_material_only(tmp_path / "b")


@pytest.mark.peer
def test_every_host_serves_the_crl_of_a_revocation_made_on_any_of_them(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from pyscep.messages import read_crl
    from pyscep.server import Operator

    first, second, url = _two_hosts(request, tmp_path, challenge="a-shared-challenge-secret")
    signer, body = _enrollment(first, "CN=stolen-device", "a-shared-challenge-secret")
    assert _answer(first, body, signer) == "SUCCESS"
    [issued] = second.store.issued()
    serial = Certificate.load(issued.certificates[0]).serial_number
    # The operator revokes from a host with the state URL only (no CA there).
    Operator(state_url=url).revoke(serial, reason=RevocationReason.KEY_COMPROMISE)
    served = [host.handle("GET", "/crl", "", b"").body for host in (second, first)]
    assert served[0] == served[1]
    facts = read_crl(served[0])
    assert [(e.serial_number, e.reason) for e in facts.revoked] == [
        (serial, RevocationReason.KEY_COMPROMISE)
    ]
    assert facts.number == 1


@pytest.mark.peer
def test_a_request_pending_on_one_host_is_approved_on_another(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    first, second, url = _two_hosts(
        request, tmp_path, challenge="a-shared-challenge-secret", manual=True
    )
    signer, body = _enrollment(first, "CN=waiting-device", "a-shared-challenge-secret")
    assert _answer(first, body, signer) == "PENDING"
    [waiting] = second.store.pending()
    second.approve(waiting.transaction_id, now=datetime.now(timezone.utc))
    # The device's retry reaches the first host again: it answers with the certificate.
    assert _answer(first, body, signer) == "SUCCESS"
    assert PostgresStore(url).pending() == []
    assert _holds_ca_material_only(tmp_path / "a")
    assert _holds_ca_material_only(tmp_path / "b")


# --- SQLite's connections: kept, never shared, never carried over a fork ----------------


def _synchronous(store: SqliteStore) -> int:
    with store._connections.use() as db:
        return int(db.execute("PRAGMA synchronous").fetchone()[0])


def test_an_error_inside_a_transaction_is_raised_as_it_is_and_leaves_commits_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(tmp_path / "state.sqlite")

    def broken(*_: object) -> None:
        raise RuntimeError("resolve broke")

    monkeypatch.setattr("pyscep.server.stores.sqlite.resolve", broken)
    with pytest.raises(RuntimeError, match="resolve broke"):
        store.record(Act.CLAIM, proposal(Act.CLAIM))
    monkeypatch.undo()
    assert _synchronous(store) == 2  # FULL: the deliveries after it are synced
    assert store.record(Act.HOLD, proposal(Act.HOLD)).applied  # the lock was given back
    store.new_serial()  # written unsynced, then synced again
    assert _synchronous(store) == 2


def test_threads_share_a_few_connections_instead_of_one_each(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.sqlite")
    store.get(TXID)
    descriptors = len(list(Path("/proc/self/fd").iterdir()))
    # A thread per request, as pyscep serve's own HTTP server has: none keeps a connection.
    for _ in range(40):
        worker = threading.Thread(target=store.get, args=(TXID,))
        worker.start()
        worker.join()
    assert len(list(Path("/proc/self/fd").iterdir())) <= descriptors + 3
    store.close()


def _serials_in_child(path: Path, results: Any) -> None:
    store = SqliteStore(path)
    results.put([store.new_serial() for _ in range(5)])


def test_a_fork_carries_no_connection_into_the_child(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.sqlite")
    first = store.new_serial()  # this process has a connection open when it forks
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_serials_in_child, args=(store.path, results))
    child.start()
    made = results.get(timeout=30)
    child.join(30)
    assert child.exitcode == 0
    # The parent's connections were closed before the fork, and it goes on with new ones.
    store.close()
    with sqlite3.connect(store.path) as db:
        kept = {int(row[0]) for row in db.execute("SELECT serial FROM serials")}
    assert {first, *made} <= kept


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
            # Opened by a request (HOLD, CLAIM), or an operator's import: ISSUED at once.
            assert act in (Act.HOLD, Act.CLAIM, Act.IMPORT)
            imported = act is Act.IMPORT
            assert (new.state is TransactionState.ISSUED) == imported
            assert bool(new.certificates) == imported
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


def _responder(store: ServerStore) -> ScepResponder:
    return ScepResponder(ResponderConfig(CA.certificate, CA.signer, CA.decrypter), store)


def _request(key: Any, transaction_id: str = TXID) -> bytes:
    csr = build_csr(key, "CN=racer")
    signer = self_signed_signer(key, "CN=racer", now=NOW)
    built = build_pkcs_req(
        csr, signer=signer, recipient=CA.certificate, transaction_id=transaction_id
    )
    return built.der


def _race(calls: list[Callable[[], pyscep.http.HTTPResponse]]) -> list[pyscep.http.HTTPResponse]:
    barrier = threading.Barrier(len(calls))
    answers: list[pyscep.http.HTTPResponse] = []

    def run(call: Callable[[], pyscep.http.HTTPResponse]) -> None:
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


def test_racing_retries_are_signed_once(store: ServerStore) -> None:
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
def test_two_keys_racing_on_one_transaction_id(store: ServerStore, decision: str) -> None:
    """Neither is silently dropped, and the loser never gets the winner's certificate."""
    server, ca = _responder(store), CountingCA()
    first = server.receive("POST", "/scep", "operation=PKIOperation", _request(KEY), now=NOW)
    second = server.receive("POST", "/scep", "operation=PKIOperation", _request(OTHER), now=NOW)
    assert isinstance(first, EnrollmentRequested)
    assert isinstance(second, EnrollmentRequested)

    def decide(event: EnrollmentRequested) -> Callable[[], pyscep.http.HTTPResponse]:
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


def test_a_failing_issuer_gives_the_claim_back(store: ServerStore) -> None:
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
