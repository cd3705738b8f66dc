"""``pyscep conformance server``: no hollow check.

Every check is run against pyscep's reference server with exactly one flaw
(`tests.support.flawed_server`) and must fail there, with the severity its
source gives, while nothing else fails; the reference server itself, static
or one-time challenge, issuing at once or holding requests, must score clean.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pyscep._appkit.http import http_exchange
from pyscep._appkit.keys import new_private_key
from pyscep.cli import main
from pyscep.conformance import (
    CHECKS,
    CLIENT_CHECKS,
    FindingSeverity,
    Outcome,
    Scorecard,
    ServerCheckOptions,
    ServerUnreachableError,
    Transport,
    check_server,
    http_transport,
    in_process_transport,
)
from pyscep.conformance.client import serving
from pyscep.conformance.probe import Probe
from pyscep.conformance.scorecard import CheckResult
from pyscep.crypto import KeyPair, load_private_key
from pyscep.http import HTTPRequest, Operation, client_request
from pyscep.messages import parse_ca_certificates
from pyscep.server import ReferenceServer, ServeOptions
from tests.support.flawed_server import CHALLENGE, Flaw, FlawedServer
from tests.support.helpers import pem_cert
from tests.support.key_pool import use_key_pool
from tests.support.raw_http import BROKEN_CHUNKED_500, drip, raw_server
from tests.support.reports import published
from tests.support.served import Served, run_pyscep

URL = "http://in-process/scep"
DOCS = Path(__file__).resolve().parents[1] / "docs"

#: Flaw -> the checks that must fail on it (a flaw of the replies also spoils the
#: refusals it re-signs: a FAILURE without failInfo or signed by a stranger is no refusal).
CAUGHT_BY: dict[Flaw, set[str]] = {
    Flaw.NO_CAPS: {"caps", "caps.algorithms"},
    Flaw.WEAK_CAPS: {"caps.algorithms"},
    Flaw.NO_CA_CERT: {"cacert"},
    # Every later request goes by POST too.
    Flaw.POST_REFUSED: {
        "enroll.post",
        "algorithms.advertised",
        "challenge.wrong",
        "challenge.missing",
    },
    Flaw.GET_REFUSED: {"enroll.get"},
    Flaw.SECOND_CERTIFICATE_ON_REPLAY: {"enroll.replay"},
    Flaw.ANY_CHALLENGE: {"challenge.wrong", "challenge.missing"},
    Flaw.REFUSAL_AS_HTTP_500: {"challenge.wrong", "challenge.missing"},
    Flaw.STATIC_CHALLENGE: {"challenge.reuse"},
    Flaw.SIGNER_NOT_CSR_KEY: {"attack.signer-not-csr-key"},
    Flaw.SELF_SIGNED_RENEWAL: {"attack.self-signed-renewal"},
    Flaw.RENEWAL_BY_ISSUER_NAME: {"attack.foreign-ca-renewal"},
    Flaw.UPDATE_REQ_ALLOWED: {"attack.update-req"},
    Flaw.POLL_BY_TRANSACTION_ID: {"attack.poll-hijack"},
    Flaw.POLL_APPROVES: {"attack.pending-bypass"},
    Flaw.LEGACY_ALGORITHMS: {"attack.weak-algorithms"},
    Flaw.RENEWAL_REFUSED: {"renewal.valid"},
    Flaw.RENEWAL_ANY_SUBJECT: {"renewal.subject-change"},
    Flaw.OVERSIZED_PARSED: {"robust.oversized"},
    Flaw.MALFORMED_AS_HTTP_500: {"robust.malformed"},
    Flaw.REPLIES_SIGNED_BY_STRANGER: {
        "reply.signed",
        "enroll.post",
        "enroll.get",
        "algorithms.advertised",
        "challenge.wrong",
        "challenge.missing",
    },
    Flaw.TRANSACTION_ID_NOT_ECHOED: {"reply.transaction-id"},
    Flaw.NONCE_NOT_ECHOED: {"reply.recipient-nonce"},
    Flaw.FAILURE_WITHOUT_FAIL_INFO: {"reply.fail-info", "challenge.wrong", "challenge.missing"},
    Flaw.MD5_REPLIES: {"reply.algorithms"},
    Flaw.NEXT_CA_SIGNED_BY_STRANGER: {"cacert.next"},
    Flaw.REFUSES_ADVERTISED_SHA512: {"algorithms.advertised"},
    # Only the cross product of digests and ciphers tries SHA-512 with 3DES.
    Flaw.REFUSES_SHA512_WITH_DES3: {"algorithms.advertised"},
    Flaw.CSR_SIGNATURE_IGNORED: {"attack.csr-signature"},
    Flaw.DRAFT_RENEWAL_REFUSED: {"compat.draft-renewal"},
    Flaw.CAPS_NOT_ASCII: {"caps", "caps.algorithms"},
    Flaw.CAPS_TOO_LARGE: {"caps", "caps.algorithms"},
    # The certificate for another key is not renewed: the renewal checks are skipped.
    Flaw.ISSUES_FOR_OTHER_KEY: {"enroll.post", "enroll.get", "algorithms.advertised"},
    # A SUCCESS that proves nothing is no issuance (medium), nor a refusal.
    Flaw.REFUSALS_AS_EMPTY_SUCCESS: {
        "challenge.wrong",
        "challenge.missing",
        "attack.signer-not-csr-key",
        "attack.csr-signature",
        "attack.self-signed-renewal",
        "attack.foreign-ca-renewal",
        "attack.update-req",
        "attack.poll-hijack",
        "attack.weak-algorithms",
        "renewal.subject-change",
    },
    Flaw.REFUSED_THEN_ISSUED_ON_REPLAY: {
        "enroll.post",
        "enroll.get",
        "algorithms.advertised",
        "enroll.replay",
    },
    Flaw.DES3_REPLIES: {"reply.algorithms"},
    Flaw.UPDATE_REQ_HELD: {"attack.update-req"},
    Flaw.RENEWAL_NEEDS_CHALLENGE: {"renewal.valid"},
    Flaw.CHALLENGE_ONLY_WHEN_PRESENT: {"challenge.missing"},
    Flaw.POLL_APPROVES_LATER: {"attack.pending-bypass"},
    Flaw.CERT_REP_AS_TEXT: {"reply.content-type"},
}

#: Flaw -> a check and what its evidence says.
EVIDENCE: dict[Flaw, tuple[str, str]] = {
    Flaw.CAPS_NOT_ASCII: ("caps", "HTTP 200, unreadable: GetCACaps body is not ASCII"),
    Flaw.CAPS_TOO_LARGE: ("caps", "HTTP 200, unreadable: GetCACaps body too large"),
    Flaw.ISSUES_FOR_OTHER_KEY: (
        "renewal.valid",
        "the certificate enroll.post got cannot be renewed (no certificate for the requested key)",
    ),
    Flaw.REFUSALS_AS_EMPTY_SUCCESS: ("challenge.wrong", "a SUCCESS that proves no issuance"),
    Flaw.REFUSED_THEN_ISSUED_ON_REPLAY: ("enroll.replay", "refused, then issued when re-sent"),
    Flaw.DES3_REPLIES: ("reply.algorithms", "CertRep SUCCESS: enveloped with tripledes"),
    Flaw.UPDATE_REQ_HELD: ("attack.update-req", "accepted for later: CertRep PENDING"),
    Flaw.RENEWAL_NEEDS_CHALLENGE: ("renewal.valid", "renewed only with the challengePassword"),
    Flaw.POLL_APPROVES_LATER: ("attack.pending-bypass", "issued unapproved at poll 2"),
    Flaw.CERT_REP_AS_TEXT: ("reply.content-type", "CertRep SUCCESS: Content-Type 'text/plain'"),
    Flaw.REFUSES_SHA512_WITH_DES3: (
        "algorithms.advertised",
        "sha512 with tripledes_3key: CertRep FAILURE failInfo=BAD_ALG (accepted:"
        " sha1/tripledes_3key, sha1/aes128_cbc, sha256/tripledes_3key, sha384/tripledes_3key,"
        " sha384/aes128_cbc, sha512/aes128_cbc)",
    ),
}

#: The flaws of a server that holds requests for an operator (run with --expect-pending).
HOLDING = {Flaw.POLL_APPROVES, Flaw.POLL_APPROVES_LATER}

#: Flaw -> the check it is about, and how bad the check says it is.
WORST: dict[Flaw, tuple[str, FindingSeverity]] = {
    Flaw.ANY_CHALLENGE: ("challenge.wrong", FindingSeverity.CRITICAL),
    Flaw.REFUSAL_AS_HTTP_500: ("challenge.wrong", FindingSeverity.MEDIUM),
    Flaw.RENEWAL_BY_ISSUER_NAME: ("attack.foreign-ca-renewal", FindingSeverity.CRITICAL),
    Flaw.UPDATE_REQ_ALLOWED: ("attack.update-req", FindingSeverity.CRITICAL),
    Flaw.GET_REFUSED: ("enroll.get", FindingSeverity.LOW),
    Flaw.NO_CA_CERT: ("cacert", FindingSeverity.CRITICAL),
    Flaw.CHALLENGE_ONLY_WHEN_PRESENT: ("challenge.missing", FindingSeverity.CRITICAL),
    Flaw.REFUSALS_AS_EMPTY_SUCCESS: ("challenge.wrong", FindingSeverity.MEDIUM),
    Flaw.UPDATE_REQ_HELD: ("attack.update-req", FindingSeverity.MEDIUM),
    Flaw.RENEWAL_NEEDS_CHALLENGE: ("renewal.valid", FindingSeverity.INFO),
    Flaw.CERT_REP_AS_TEXT: ("reply.content-type", FindingSeverity.LOW),
    Flaw.REFUSED_THEN_ISSUED_ON_REPLAY: ("enroll.replay", FindingSeverity.MEDIUM),
}


@pytest.fixture(autouse=True)
def _pooled_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    use_key_pool(monkeypatch)


def _now() -> datetime:
    return datetime.now(timezone.utc)  # the reference server reads the real clock


def _scorecard(server: FlawedServer, options: ServerCheckOptions) -> Scorecard:
    return check_server(URL, options, now=_now(), transport=in_process_transport(server.handle))


def _failed(scorecard: Scorecard) -> set[str]:
    return {result.check.id for result in scorecard.failures}


def _options_for(flaw: Flaw | None) -> ServerCheckOptions:
    return ServerCheckOptions(
        challenge=CHALLENGE,
        expect_pending=flaw in HOLDING,
        single_use_challenge=flaw is Flaw.STATIC_CHALLENGE,
    )


def test_every_check_is_explained_in_the_docs() -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "conformance.md").read_text()
    for check_id in [*CHECKS, *(check.id for check in CLIENT_CHECKS.values())]:
        assert f"| `{check_id}` |" in page


def test_every_check_has_a_flaw_that_it_catches() -> None:
    assert set().union(*CAUGHT_BY.values()) == set(CHECKS)
    assert set(CAUGHT_BY) == set(Flaw)


@pytest.mark.parametrize("flaw", list(Flaw), ids=lambda flaw: flaw.name.lower())
def test_a_server_with_one_flaw_fails_exactly_its_checks(tmp_path: Path, flaw: Flaw) -> None:
    server = FlawedServer(tmp_path, flaw, manual=flaw in HOLDING)
    scorecard = _scorecard(server, _options_for(flaw))
    assert _failed(scorecard) == CAUGHT_BY[flaw], scorecard.to_text()
    # A note (info) only is no failure of the exit status.
    assert scorecard.exit_status > 0 or scorecard.worst is FindingSeverity.INFO
    for result in scorecard.failures:
        assert result.evidence  # a failure says what the server answered
    if flaw in WORST:
        check_id, severity = WORST[flaw]
        assert scorecard.result(check_id).severity is severity
    if flaw in EVIDENCE:
        check_id, said = EVIDENCE[flaw]
        assert said in scorecard.result(check_id).evidence, scorecard.to_text()


def test_the_reference_server_scores_clean(tmp_path: Path) -> None:
    scorecard = _scorecard(FlawedServer(tmp_path, next_ca=True), _options_for(None))
    assert scorecard.failures == (), scorecard.to_text()
    assert scorecard.exit_status == 0
    skipped = {r.check.id for r in scorecard.results if r.outcome is Outcome.SKIP}
    # A static challenge is not single-use, and a server that issues at once has no PENDING.
    assert skipped == {"challenge.reuse", "attack.pending-bypass"}
    assert [r.check.id for r in scorecard.results] == list(CHECKS)
    assert scorecard.result("cacert.next").evidence.startswith("next CA 'Common Name: pyscep")
    # Every advertised digest with every advertised cipher (DEFAULT_CAPS), but SHA-256 with
    # AES, which enroll.post sent.
    assert scorecard.result("algorithms.advertised").evidence == (
        "accepted: sha1/tripledes_3key, sha1/aes128_cbc, sha256/tripledes_3key,"
        " sha384/tripledes_3key, sha384/aes128_cbc, sha512/tripledes_3key, sha512/aes128_cbc"
    )
    issued = scorecard.result("enroll.post").evidence
    assert "CertRep SUCCESS, issued 'Common Name: pyscep-conformance-device-" in issued


def test_a_server_that_holds_requests_scores_clean_with_expect_pending(tmp_path: Path) -> None:
    server = FlawedServer(tmp_path, manual=True)
    scorecard = _scorecard(server, ServerCheckOptions(challenge=CHALLENGE, expect_pending=True))
    assert scorecard.failures == (), scorecard.to_text()
    assert scorecard.result("attack.pending-bypass").outcome is Outcome.PASS
    assert scorecard.result("enroll.post").evidence == "CertRep PENDING"
    assert scorecard.result("attack.pending-bypass").evidence.startswith("3 polls: CertRep PENDING")
    # Nothing was issued, so nothing is compared when the request is re-sent.
    assert scorecard.result("enroll.replay").outcome is Outcome.SKIP
    # Nothing was issued, so there is nothing to renew.
    assert scorecard.result("renewal.valid").outcome is Outcome.SKIP
    # Without --expect-pending, the same server does not do what was asked.
    unexpected = _scorecard(FlawedServer(tmp_path / "again", manual=True), _options_for(None))
    assert "enroll.post" in _failed(unexpected)


def test_one_time_challenges_pass_the_reuse_check(tmp_path: Path) -> None:
    server = FlawedServer(tmp_path, one_time=True)
    options = ServerCheckOptions(challenge=server.one_time_challenge(), single_use_challenge=True)
    scorecard = _scorecard(server, options)
    assert scorecard.failures == (), scorecard.to_text()
    assert scorecard.result("challenge.reuse").outcome is Outcome.PASS
    # The checks that need an unused challenge are skipped, not passed.
    assert scorecard.result("attack.signer-not-csr-key").outcome is Outcome.SKIP


def test_without_a_challenge_the_enrollment_checks_are_skipped(tmp_path: Path) -> None:
    scorecard = _scorecard(FlawedServer(tmp_path), ServerCheckOptions())
    assert scorecard.failures == ()
    for check_id in ("enroll.post", "enroll.get", "attack.weak-algorithms", "renewal.valid"):
        assert scorecard.result(check_id).outcome is Outcome.SKIP
    # The attacks that need no challenge still run.
    assert scorecard.result("attack.self-signed-renewal").outcome is Outcome.PASS
    assert scorecard.result("challenge.wrong").outcome is Outcome.PASS


def _enrolled(server: FlawedServer) -> tuple[KeyPair, bytes]:
    """A certificate the server issued, and its key (also as PEM): what an operator renews."""
    probe = Probe(in_process_transport(server.handle), "/scep", _now())
    status, _, body = probe.operation(Operation.GET_CA_CERT)
    assert status == 200
    probe.ca = parse_ca_certificates(body, now=probe.now)
    pem = new_private_key("rsa2048")
    key = load_private_key(pem)
    reply = probe.enroll(subject="CN=renew-me", challenge=CHALLENGE, key=key).reply
    assert reply.issued is not None, reply.describe()
    return KeyPair(key, reply.issued), pem


@pytest.mark.parametrize("flaw", [None, Flaw.RENEWAL_ANY_SUBJECT, Flaw.RENEWAL_REFUSED])
def test_a_certificate_given_to_renew_with(tmp_path: Path, flaw: Flaw | None) -> None:
    server = FlawedServer(tmp_path, flaw)
    current, _ = _enrolled(server)
    scorecard = _scorecard(server, ServerCheckOptions(renew=current))
    expected = set() if flaw is None else CAUGHT_BY[flaw]
    assert _failed(scorecard) == expected, scorecard.to_text()
    renewed = scorecard.result("renewal.valid")
    if flaw is None:
        assert "issued 'Common Name: renew-me'" in renewed.evidence


def test_an_unreachable_server_raises() -> None:
    def nobody(request: HTTPRequest) -> tuple[int, str | None, bytes]:
        del request
        return 0, None, b"[Errno 111] Connection refused"

    with pytest.raises(ServerUnreachableError, match="refused"):
        check_server(URL, now=_now(), transport=nobody)


def test_exit_status_is_the_worst_severity() -> None:
    def card(*severities: FindingSeverity) -> Scorecard:
        results = [
            CheckResult(CHECKS["caps"], Outcome.FAIL, "x", failed_as=severity)
            for severity in severities
        ]
        results.append(CheckResult(CHECKS["cacert"], Outcome.PASS, "ok"))
        return Scorecard(URL, tuple(results))

    assert card().exit_status == 0
    assert card(FindingSeverity.INFO).exit_status == 0
    assert card(FindingSeverity.LOW).exit_status == 1
    assert card(FindingSeverity.LOW, FindingSeverity.MEDIUM).exit_status == 3
    assert card(FindingSeverity.HIGH, FindingSeverity.LOW).exit_status == 4
    assert card(FindingSeverity.MEDIUM, FindingSeverity.CRITICAL).exit_status == 5
    assert card(FindingSeverity.MEDIUM, FindingSeverity.CRITICAL).worst is FindingSeverity.CRITICAL
    assert card(FindingSeverity.LOW).to_json()["results"][0]["severity"] == "low"
    assert "1 passed, 1 failed, 0 skipped; worst: low" in card(FindingSeverity.LOW).to_text()


def _oversized(server: FlawedServer, after: str) -> Transport:
    """``server`` behind a connection that a body over 1 MiB closes (``after``: "closed",
    the server goes on; "crashed", nothing answers any more; "timed out")."""
    handle = in_process_transport(server.handle)
    down: list[bool] = []

    def send(request: HTTPRequest) -> tuple[int, str | None, bytes]:
        if down:
            return 0, None, b"[Errno 111] Connection refused"
        if len(request.body) > 1 << 20:
            if after == "crashed":
                down.append(True)
            if after == "timed out":
                return 0, None, b"timed out"
            return 0, None, b"[Errno 104] Connection reset by peer"
        return handle(request)

    return send


@pytest.mark.parametrize(
    ("after", "outcome", "said"),
    [
        ("closed", Outcome.PASS, "GetCACaps answered after it"),
        ("crashed", Outcome.FAIL, "GetCACaps is no longer answered"),
        ("timed out", Outcome.FAIL, "no answer: b'timed out'"),
    ],
)
def test_an_oversized_body_that_closes_the_connection(
    tmp_path: Path, after: str, outcome: Outcome, said: str
) -> None:
    transport = _oversized(FlawedServer(tmp_path), after)
    scorecard = check_server(URL, _options_for(None), now=_now(), transport=transport)
    oversized = scorecard.result("robust.oversized")
    assert oversized.outcome is outcome, scorecard.to_text()
    assert said in oversized.evidence
    # A crashed server answers no malformed body either; the others are clean.
    expected = {"closed": set(), "crashed": {"robust.oversized", "robust.malformed"}}
    assert _failed(scorecard) == expected.get(after, {"robust.oversized"})


# --- hostile HTTP, over sockets --------------------------------------------------------


def _broken_500(connection: socket.socket, stop: threading.Event) -> None:
    del stop
    connection.sendall(BROKEN_CHUNKED_500)


def test_an_error_page_with_a_broken_chunked_body_is_an_answer() -> None:
    with raw_server(_broken_500) as url:
        assert http_exchange(url, client_request(Operation.GET_CA_CAPS)) == (
            500,
            "text/plain",
            b"hello",
        )
        scorecard = check_server(url, now=_now())
    assert scorecard.result("caps").evidence == "HTTP 500, capabilities: none"
    assert scorecard.result("cacert").outcome is Outcome.FAIL
    assert [r.check.id for r in scorecard.results] == list(CHECKS)


def test_an_answer_dripped_a_byte_at_a_time_is_cut_off_at_the_deadline() -> None:
    with raw_server(drip(0.2)) as url:
        started = time.monotonic()
        status, _, body = http_transport(url, deadline=1.0)(client_request(Operation.GET_CA_CAPS))
        took = time.monotonic() - started
    assert status == 0
    assert body == b"timed out: no whole answer within 1 s"
    assert 0.9 < took < 3, took  # each read came in time: only the whole was late


def test_an_internal_error_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> Scorecard:
        raise KeyError("a bug")

    monkeypatch.setattr("pyscep.cli.conformance.check_server", broken)
    monkeypatch.setattr("pyscep.cli.conformance.check_client", broken)
    assert main(["conformance", "server", URL]) == 2  # not 1, the exit of "worst: low"
    assert main(["conformance", "client", "--", "true"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["pyscep conformance: internal error, no scorecard: KeyError('a bug')"] * 2


# --- the catalog and its page -------------------------------------------------------------

#: The sections of RFC 8894 (its table of contents): 3.3.1 has no subsections.
RFC_8894_SECTIONS = frozenset(
    re.findall(
        r"\S+",
        "1 1.1 1.2 2 2.1 2.1.1 2.1.2 2.2 2.3 2.4 2.5 2.5.1 2.6 2.7 2.8 2.9 3 3.1 3.2 3.2.1"
        " 3.2.1.1 3.2.1.2 3.2.1.3 3.2.1.4 3.2.1.5 3.2.2 3.3 3.3.1 3.3.2 3.3.2.1 3.3.2.2 3.3.2.3"
        " 3.3.3 3.3.4 3.4 3.5 3.5.1 3.5.2 4 4.1 4.2 4.2.1 4.2.1.1 4.2.1.2 4.3 4.3.1 4.4 4.4.1"
        " 4.5 4.5.1 4.6 4.6.1 4.7 4.7.1 5 6 7 8",
    )
)


def _sources() -> dict[str, str]:
    return {
        **{c.id: c.source for c in CHECKS.values()},
        **{c.id: c.source for c in CLIENT_CHECKS.values()},
    }


def test_every_cited_rfc_8894_section_exists() -> None:
    pages = [(DOCS / "conformance.md").read_text(), (DOCS / "interop.md").read_text()]
    for text in [*_sources().values(), *pages]:
        for cited in re.findall(r"RFC 8894 ((?:\d+(?:\.\d+)*(?:, |; )?)+)", text):
            for section in re.split(r"[,;] ", cited.strip(",; ")):
                assert section in RFC_8894_SECTIONS, (section, text[:80])


def test_the_page_cites_what_each_check_cites() -> None:
    """Each reference of a check's source (an RFC section, a catalog case, an issue) is in
    its row of docs/conformance.md."""
    rows = {}
    for line in (DOCS / "conformance.md").read_text().splitlines():
        found = re.match(r"\| `([a-z.-]+)` \|.*\| ([^|]*) \|$", line)
        if found:
            rows[found[1]] = found[2]
    for check_id, source in _sources().items():
        for reference in re.findall(r"[\w#-]*\d[\w.#-]*", source):
            assert re.search(rf"(?<![\w.]){re.escape(reference)}(?![\w])", rows[check_id]), (
                check_id,
                reference,
                rows[check_id],
            )


def test_the_sample_scorecard_of_the_page_is_what_a_run_prints(tmp_path: Path) -> None:
    """docs/conformance.md's sample: each line it shows is a line of a real run against
    ``pyscep serve --challenge s3cret`` (serials and random names aside; "..." shortens)."""
    page = (DOCS / "conformance.md").read_text()
    sample = page.split("A scorecard of `pyscep serve --challenge s3cret`")[1]
    sample = sample.split("```text\n", 1)[1].split("```", 1)[0]
    server = ReferenceServer(ServeOptions(state_dir=tmp_path / "state", challenge="s3cret"))
    scorecard = check_server(
        "http://127.0.0.1:8080/scep",
        ServerCheckOptions(challenge="s3cret"),
        now=_now(),
        transport=in_process_transport(server.handle),
    )

    def masked(line: str) -> str:
        return re.sub(r"\b[0-9a-f]{8,}\b", "<hex>", line)

    printed = [masked(line) for line in scorecard.to_text().splitlines()]
    shown = [masked(line) for line in sample.splitlines() if line.strip() != "..."]
    assert len(shown) > 10
    for line in shown:
        if line.endswith(", ..."):
            assert any(p.startswith(line[:-3]) for p in printed), line
        else:
            assert line in printed, line
    assert shown[-1] == printed[-1]  # the counts


# --- the command, over HTTP ---------------------------------------------------------


def test_the_command_scores_a_server_over_http(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = FlawedServer(tmp_path)
    current, pem = _enrolled(server)
    (tmp_path / "cert.pem").write_bytes(pem_cert(current.certificate))
    (tmp_path / "key.pem").write_bytes(pem)
    with serving(server.handle) as url:
        status = main(
            [
                "conformance",
                "server",
                url,
                "--challenge",
                CHALLENGE,
                "--renew-cert",
                str(tmp_path / "cert.pem"),
                "--renew-key",
                str(tmp_path / "key.pem"),
                "--json",
            ]
        )
    report = json.loads(capsys.readouterr().out)
    assert status == 0, report
    assert report["exit_status"] == 0
    outcomes = {r["id"]: r["outcome"] for r in report["results"]}
    assert outcomes["robust.oversized"] == "pass"
    assert outcomes["renewal.valid"] == "pass"
    assert set(outcomes) == set(CHECKS)


def test_the_command_exits_by_the_worst_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serving(FlawedServer(tmp_path, Flaw.UPDATE_REQ_ALLOWED).handle) as url:
        status = main(["conformance", "server", url, "--challenge", CHALLENGE])
    out = capsys.readouterr().out
    assert status == 5
    assert "[FAIL critical] attack.update-req" in out
    assert "CVE-2026-30836" in out


def test_the_command_says_when_it_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serving(FlawedServer(tmp_path).handle) as url:
        pass  # stopped: the port is closed now
    assert main(["conformance", "server", url]) == 2
    assert "pyscep conformance:" in capsys.readouterr().err
    assert main(["conformance", "server", url, "--renew-cert", "x.pem"]) == 2
    assert "--renew-key" in capsys.readouterr().err


# --- the real peers' reports, published in docs/interop.md ---------------------------


@pytest.mark.external
def test_pyscep_serve_scores_clean(tmp_path: Path) -> None:
    """``pyscep serve`` as a process, scored by ``python -m pyscep conformance``."""
    served = Served(tmp_path, "--ra")
    try:
        result = run_pyscep(
            "conformance", "server", served.url, "--challenge", "serve-secret", "--json"
        )
    finally:
        served.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    scorecard = Scorecard.from_json(json.loads(result.stdout), CHECKS)
    assert scorecard.failures == ()
    published("pyscep serve", scorecard)


@pytest.mark.peer
@pytest.mark.external
@pytest.mark.real_clock("micromdm scepserver")
def test_micromdm_scepserver_gets_its_report(tmp_path: Path) -> None:
    """micromdm's scepserver (Debian scep 2.1.0), in a private network namespace
    (tests/peers/conformance_run.py): what it is known to do, and its whole report."""
    subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "tests.peers.conformance_run", str(tmp_path)],
        cwd=Path(__file__).resolve().parents[1],
        check=True,
        timeout=300,
    )
    data = json.loads((tmp_path / "scorecard.json").read_text())
    scorecard = Scorecard.from_json(data, CHECKS)
    # It enrolls, refuses a wrong challenge with a signed FAILURE (micromdm/scep#37 was
    # fixed), and renewals signed by another CA (micromdm/scep#117 was fixed)...
    for check_id in ("enroll.post", "enroll.get", "challenge.wrong", "attack.foreign-ca-renewal"):
        assert scorecard.result(check_id).outcome is Outcome.PASS, scorecard.to_text()
    # ...but answers with single DES and SHA-1 whatever the request used (docs/interop.md),
    # and checks no proof of possession: neither the CSR's signature nor the signer's key.
    assert "enveloped with des" in scorecard.result("reply.algorithms").evidence
    assert scorecard.result("attack.csr-signature").outcome is Outcome.FAIL
    assert scorecard.result("attack.signer-not-csr-key").outcome is Outcome.FAIL
    published("micromdm scepserver", scorecard)
