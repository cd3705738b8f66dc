"""``pyscep conformance server``: no hollow check.

Every check is run against pyscep's reference server with exactly one flaw
(`tests.support.flawed_server`) and must fail there, with the severity its
source gives, while nothing else fails; the reference server itself, static
or one-time challenge, issuing at once or holding requests, must score clean.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pyscep._appkit.keys import new_private_key
from pyscep.cli import main
from pyscep.conformance import (
    CHECKS,
    CLIENT_CHECKS,
    Outcome,
    Scorecard,
    ServerCheckOptions,
    ServerUnreachableError,
    Severity,
    check_server,
    in_process_transport,
)
from pyscep.conformance.client import serving
from pyscep.conformance.probe import Probe
from pyscep.conformance.scorecard import CheckResult
from pyscep.crypto import KeyPair, load_private_key
from pyscep.http import HTTPRequest, Operation
from pyscep.messages import parse_ca_certificates
from tests.support.flawed_server import CHALLENGE, Flaw, FlawedServer
from tests.support.helpers import pem_cert
from tests.support.key_pool import use_key_pool
from tests.support.reports import published
from tests.support.served import Served, run_pyscep

URL = "http://in-process/scep"

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
    Flaw.CSR_SIGNATURE_IGNORED: {"attack.csr-signature"},
    Flaw.DRAFT_RENEWAL_REFUSED: {"compat.draft-renewal"},
}

#: Flaw -> the check it is about, and how bad the check says it is.
WORST: dict[Flaw, tuple[str, Severity]] = {
    Flaw.ANY_CHALLENGE: ("challenge.wrong", Severity.CRITICAL),
    Flaw.REFUSAL_AS_HTTP_500: ("challenge.wrong", Severity.MEDIUM),
    Flaw.RENEWAL_BY_ISSUER_NAME: ("attack.foreign-ca-renewal", Severity.CRITICAL),
    Flaw.UPDATE_REQ_ALLOWED: ("attack.update-req", Severity.CRITICAL),
    Flaw.GET_REFUSED: ("enroll.get", Severity.LOW),
    Flaw.NO_CA_CERT: ("cacert", Severity.CRITICAL),
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
        expect_pending=flaw is Flaw.POLL_APPROVES,
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
    server = FlawedServer(tmp_path, flaw, manual=flaw is Flaw.POLL_APPROVES)
    scorecard = _scorecard(server, _options_for(flaw))
    assert _failed(scorecard) == CAUGHT_BY[flaw], scorecard.to_text()
    assert scorecard.exit_status > 0
    for result in scorecard.failures:
        assert result.evidence  # a failure says what the server answered
    if flaw in WORST:
        check_id, severity = WORST[flaw]
        assert scorecard.result(check_id).severity is severity


def test_the_reference_server_scores_clean(tmp_path: Path) -> None:
    scorecard = _scorecard(FlawedServer(tmp_path, next_ca=True), _options_for(None))
    assert scorecard.failures == (), scorecard.to_text()
    assert scorecard.exit_status == 0
    skipped = {r.check.id for r in scorecard.results if r.outcome is Outcome.SKIP}
    # A static challenge is not single-use, and a server that issues at once has no PENDING.
    assert skipped == {"challenge.reuse", "attack.pending-bypass"}
    assert [r.check.id for r in scorecard.results] == list(CHECKS)
    assert scorecard.result("cacert.next").evidence.startswith("next CA 'Common Name: pyscep")
    assert "sha512/aes128_cbc" in scorecard.result("algorithms.advertised").evidence
    issued = scorecard.result("enroll.post").evidence
    assert "CertRep SUCCESS, issued 'Common Name: pyscep-conformance-device-" in issued


def test_a_server_that_holds_requests_scores_clean_with_expect_pending(tmp_path: Path) -> None:
    server = FlawedServer(tmp_path, manual=True)
    scorecard = _scorecard(server, ServerCheckOptions(challenge=CHALLENGE, expect_pending=True))
    assert scorecard.failures == (), scorecard.to_text()
    assert scorecard.result("attack.pending-bypass").outcome is Outcome.PASS
    assert scorecard.result("enroll.post").evidence == "CertRep PENDING"
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
    def card(*severities: Severity) -> Scorecard:
        results = [
            CheckResult(CHECKS["caps"], Outcome.FAIL, "x", failed_as=severity)
            for severity in severities
        ]
        results.append(CheckResult(CHECKS["cacert"], Outcome.PASS, "ok"))
        return Scorecard(URL, tuple(results))

    assert card().exit_status == 0
    assert card(Severity.INFO).exit_status == 0
    assert card(Severity.LOW).exit_status == 1
    assert card(Severity.LOW, Severity.MEDIUM).exit_status == 3
    assert card(Severity.HIGH, Severity.LOW).exit_status == 4
    assert card(Severity.MEDIUM, Severity.CRITICAL).exit_status == 5
    assert card(Severity.MEDIUM, Severity.CRITICAL).worst is Severity.CRITICAL
    assert card(Severity.LOW).to_json()["results"][0]["severity"] == "low"
    assert "1 passed, 1 failed, 0 skipped; worst: low" in card(Severity.LOW).to_text()


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
