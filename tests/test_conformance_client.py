"""``pyscep conformance client``: no hollow check.

Each hostile scenario is run against a client built on pyscep's message layer
that skips exactly one check of a reply (`tests.support.naive_client`) and
must be caught there, while the same client with every check, and ``pyscep
client``, refuse every hostile server. The real clients get their reports.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from pyscep import Certificate, load_private_key
from pyscep.cli import main
from pyscep.conformance import (
    CLIENT_CHECKS,
    CLIENT_COMMANDS,
    Answer,
    FindingSeverity,
    Outcome,
    Scorecard,
    check_client,
    command_runner,
)
from pyscep.conformance import certmonger as certmonger_runner
from pyscep.conformance.client import ClientRunner
from tests.support.key_pool import use_key_pool
from tests.support.naive_client import ClientFlaw, naive_client
from tests.support.reports import published
from tests.support.served import run_pyscep

ROOT = Path(__file__).resolve().parents[1]

#: Flaw -> the scenario that must catch it (the client accepts it; refuses the others).
CAUGHT_BY: dict[ClientFlaw, set[Answer]] = {
    ClientFlaw.TRUSTS_EMBEDDED_SIGNER: {Answer.SIGNED_BY_STRANGER},
    ClientFlaw.IGNORES_RECIPIENT_NONCE: {Answer.WRONG_RECIPIENT_NONCE},
    ClientFlaw.IGNORES_TRANSACTION_ID: {Answer.WRONG_TRANSACTION_ID},
    ClientFlaw.TAKES_ANY_KEY: {Answer.OTHER_KEY},
    ClientFlaw.TAKES_ANY_SUBJECT: {Answer.OTHER_SUBJECT},
    ClientFlaw.TAKES_ANY_ISSUER: {Answer.ISSUED_BY_STRANGER},
    ClientFlaw.ACCEPTS_DES: {Answer.DES_REPLY},
    ClientFlaw.PENDING_IS_SUCCESS: {Answer.ENDLESS_PENDING},
    ClientFlaw.TRUSTS_UNSIGNED_ROLLOVER: {Answer.UNSIGNED_ROLLOVER},
    # Whoever takes any HTTP 200 for a certificate accepts every hostile CertRep (the
    # unsigned rollover it refuses before it sends a request).
    ClientFlaw.ANY_200_IS_SUCCESS: set(Answer) - {Answer.HONEST, Answer.UNSIGNED_ROLLOVER},
}


@pytest.fixture(autouse=True)
def _pooled_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    use_key_pool(monkeypatch)


def _failed(scorecard: Scorecard) -> set[str]:
    return {result.check.id for result in scorecard.failures}


def test_every_scenario_catches_a_flaw() -> None:
    caught = {answer for answers in CAUGHT_BY.values() for answer in answers}
    assert caught == set(Answer) - {Answer.HONEST}
    assert set(CAUGHT_BY) == set(ClientFlaw)


@pytest.mark.parametrize("flaw", list(ClientFlaw), ids=lambda flaw: flaw.name.lower())
def test_a_client_with_one_flaw_fails_exactly_its_scenarios(flaw: ClientFlaw) -> None:
    scorecard = check_client(naive_client(flaw), target=flaw.name)
    expected = {CLIENT_CHECKS[answer].id for answer in CAUGHT_BY[flaw]}
    assert _failed(scorecard) == expected, scorecard.to_text()
    for result in scorecard.failures:
        assert result.evidence.startswith("accepted: exit 0")


def test_a_client_with_every_check_scores_clean(tmp_path: Path) -> None:
    scorecard = check_client(naive_client(None), target="naive", directory=tmp_path)
    assert scorecard.failures == (), scorecard.to_text()
    assert [r.check.id for r in scorecard.results] == [c.id for c in CLIENT_CHECKS.values()]
    # The honest server's certificate was kept, in the scenario's own directory.
    assert (tmp_path / "honest" / "client.der").exists()
    assert not (tmp_path / "other-key" / "client.der").exists()


def test_a_client_that_never_asks_for_the_rollover_ca_is_not_judged_on_it() -> None:
    """Not asking GetNextCACert is no pass: the scenario was not exercised. Even a client
    that takes a certificate from any issuer is not failed there (that is
    client.issued-by-stranger's finding)."""
    for flaw in (None, ClientFlaw.TAKES_ANY_ISSUER):
        scorecard = check_client(
            naive_client(flaw, asks_next_ca=False),
            target="no-rollover",
            answers=[Answer.UNSIGNED_ROLLOVER],
        )
        rollover = scorecard.result("client.unsigned-rollover")
        assert rollover.outcome is Outcome.SKIP, scorecard.to_text()
        assert rollover.evidence.startswith("never asked GetNextCACert: exit ")


def test_the_rollover_ca_is_refused_for_its_missing_signature() -> None:
    """The correct client is refused at GetNextCACert itself, before any pkiMessage."""
    scorecard = check_client(naive_client(None), target="x", answers=[Answer.UNSIGNED_ROLLOVER])
    rollover = scorecard.result("client.unsigned-rollover")
    assert rollover.outcome is Outcome.PASS
    assert rollover.evidence.startswith("exit 1 after 0 pkiMessage(s): refused: ")
    flawed = check_client(
        naive_client(ClientFlaw.TRUSTS_UNSIGNED_ROLLOVER),
        target="x",
        answers=[Answer.UNSIGNED_ROLLOVER],
    )
    taken = flawed.result("client.unsigned-rollover")
    assert (taken.outcome, taken.severity) == (Outcome.FAIL, FindingSeverity.HIGH)
    assert (
        taken.evidence
        == "accepted: exit 0 after 1 pkiMessage(s): issued: Common Name: naive-client"
    )


def test_a_client_that_cannot_enroll_is_not_scored() -> None:
    def broken(url: str, challenge: str, directory: Path) -> tuple[int | None, str]:
        del url, challenge, directory
        return 1, "connection refused"

    scorecard = check_client(broken, target="broken")
    assert _failed(scorecard) == {"client.honest"}
    assert scorecard.worst is FindingSeverity.CRITICAL
    skipped = [r for r in scorecard.results if r.outcome is Outcome.SKIP]
    assert len(skipped) == len(Answer) - 1


@pytest.mark.external
def test_a_command_is_stopped_at_its_time_limit_and_given_its_values(tmp_path: Path) -> None:
    script = "echo {url} {challenge} > {dir}/seen; sleep 30"
    run = command_runner(("sh", "-c", script), timeout=0.5)
    status, said = run("http://127.0.0.1:1/scep", "it's secret", tmp_path)
    assert status is None
    assert said == "(nothing printed)"
    assert (tmp_path / "seen").read_text() == "http://127.0.0.1:1/scep it's secret\n"


@pytest.mark.external
@pytest.mark.parametrize("shell", [("/bin/sh", "-c"), ("bash", "-c"), ("bash", "-ec")])
def test_a_shell_script_gets_its_values_quoted(tmp_path: Path, shell: tuple[str, str]) -> None:
    run = command_runner((*shell, "printf '%s|' {challenge} {dir}; echo"), timeout=10)
    status, said = run("http://127.0.0.1:1/scep", "it's a $(secret)", tmp_path)
    assert (status, said) == (0, f"it's a $(secret)|{tmp_path}|")


@pytest.mark.external
def test_a_value_outside_a_shell_script_is_one_argument(tmp_path: Path) -> None:
    run = command_runner(("printf", "%s|", "{challenge}"), timeout=10)
    assert run("http://127.0.0.1:1/scep", "it's a secret", tmp_path) == (0, "it's a secret|")


@pytest.mark.external
@pytest.mark.external
def test_only_the_end_of_what_a_client_prints_is_kept(tmp_path: Path) -> None:
    """``yes`` for a second: what the runner allocates stays small (it once kept all of
    it: gigabytes). Measured with tracemalloc in this process, whatever else runs."""
    tracemalloc.start()
    try:
        status, said = command_runner(("yes",), timeout=1.0)(
            "http://127.0.0.1:1/scep", "x", tmp_path
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (status, said) == (None, "y")
    assert peak < 8 * 1024 * 1024, peak


@pytest.mark.external
def test_a_daemon_left_holding_the_output_does_not_hold_the_run(tmp_path: Path) -> None:
    """A client that exits 1 at once, its daemon (setsid) keeping stdout open: exit 1, not
    a time-out; a client still running at the limit is stopped in time, daemon or not."""
    run = command_runner(("sh", "-c", "setsid sleep 8 & echo refused; exit 1"), timeout=5)
    started = time.monotonic()
    assert run("http://127.0.0.1:1/scep", "x", tmp_path) == (1, "refused")
    assert time.monotonic() - started < 3
    run = command_runner(("sh", "-c", "setsid sleep 8 & echo polling; sleep 8"), timeout=1)
    started = time.monotonic()
    assert run("http://127.0.0.1:1/scep", "x", tmp_path) == (None, "polling")
    assert time.monotonic() - started < 4


def test_a_client_that_exits_is_not_said_to_be_stopped() -> None:
    def refuses(url: str, challenge: str, directory: Path) -> tuple[int | None, str]:
        del url, challenge, directory
        return 1, "refused"

    def polls(url: str, challenge: str, directory: Path) -> tuple[int | None, str]:
        del url, challenge, directory
        return None, "polling"

    honest = naive_client(None)

    def first_honest(runner: ClientRunner) -> ClientRunner:
        def run(url: str, challenge: str, directory: Path) -> tuple[int | None, str]:
            if directory.name == "honest":
                return honest(url, challenge, directory)
            return runner(url, challenge, directory)

        return run

    refused = check_client(first_honest(refuses), target="x", answers=[Answer.ENDLESS_PENDING])
    assert refused.result("client.pending").evidence == "exit 1 after 0 pkiMessage(s): refused"
    stopped = check_client(first_honest(polls), target="x", answers=[Answer.ENDLESS_PENDING])
    assert stopped.result("client.pending").evidence == (
        "stopped at the time limit after 0 pkiMessage(s): polling"
        " (still polling, as RFC 8894 3.3.3 allows)"
    )


@pytest.mark.external
def test_pyscep_client_refuses_every_hostile_server(tmp_path: Path) -> None:
    result = run_pyscep(
        "conformance", "client", "--client", "pyscep", "--json", "--keep", str(tmp_path)
    )
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["worst"] is None
    assert (tmp_path / "honest" / "client.pem").exists()


def _peer_report(name: str, tmp_path: Path) -> Scorecard:
    """The client's report (a short time limit: both keep polling a PENDING request)."""
    scorecard = check_client(
        command_runner(CLIENT_COMMANDS[name], timeout=6), target=name, directory=tmp_path
    )
    assert scorecard.result("client.honest").outcome is Outcome.PASS, scorecard.to_text()
    assert scorecard.result("client.reply-signer").outcome is Outcome.PASS
    assert scorecard.result("client.malformed-reply").outcome is Outcome.PASS
    published(name, scorecard)
    return scorecard


@pytest.mark.peer
@pytest.mark.external
@pytest.mark.real_clock("micromdm scepclient")
def test_micromdm_scepclient_gets_its_report(tmp_path: Path) -> None:
    scorecard = _peer_report("scepclient", tmp_path)
    # It takes any certificate, and does not look at the nonce or the transactionID.
    assert scorecard.result("client.other-key").outcome is Outcome.FAIL
    assert scorecard.result("client.recipient-nonce").outcome is Outcome.FAIL


@pytest.mark.peer
@pytest.mark.external
def test_strongswan_pki_gets_its_report(tmp_path: Path) -> None:
    scorecard = _peer_report("strongswan", tmp_path)
    # It checks the transactionID, but takes a certificate for another key, and DES.
    assert scorecard.result("client.transaction-id").outcome is Outcome.PASS
    assert scorecard.result("client.other-key").outcome is Outcome.FAIL
    assert scorecard.result("client.des-reply").outcome is Outcome.FAIL


@pytest.mark.peer
@pytest.mark.external
# certmonger starts its scep-submit helper with a cleared environment (clearenv): the
# helper judges the scripted server's certificates by the real time.
@pytest.mark.real_clock("certmonger")
def test_certmonger_gets_its_report(tmp_path: Path) -> None:
    """``pyscep conformance client --client certmonger``: a private certmonger daemon per
    scenario, the whole run in a network namespace of its own (loopback only)."""
    script = (
        'ip link set lo up && exec "$0" -m pyscep conformance client --client certmonger'
        ' --json --timeout 30 --keep "$1"'
    )
    run = subprocess.run(
        ["unshare", "-n", "sh", "-c", script, sys.executable, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    checks = {check.id: check for check in CLIENT_CHECKS.values()}
    scorecard = Scorecard.from_json(json.loads(run.stdout), checks)
    assert run.returncode == scorecard.exit_status, run.stderr
    assert scorecard.result("client.honest").outcome is Outcome.PASS, scorecard.to_text()
    # The certificate certmonger stored is the one for its key, from the scripted CA.
    honest = tmp_path / "honest"
    assert Certificate.load((honest / "client.pem").read_bytes()).public_key_der == (
        load_private_key((honest / "client.key").read_bytes()).public_key_der
    )
    # It checks the signer, the nonce and the transactionID, and keeps no PENDING as issued.
    for check_id in ("reply-signer", "recipient-nonce", "transaction-id", "pending"):
        assert scorecard.result(f"client.{check_id}").outcome is Outcome.PASS, check_id
    published("certmonger", scorecard)


@pytest.mark.external
def test_the_certmonger_runner_says_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without certmonger and D-Bus on PATH: exit 127 (as a shell's), the program named."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert certmonger_runner.main(["http://127.0.0.1:1/scep", "x", str(tmp_path)]) == 127
    assert capsys.readouterr().out == "not found: dbus-daemon\n"


def test_the_command_needs_one_client(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "client"]) == 2
    assert "give --client NAME or a command after --" in capsys.readouterr().err
    assert main(["conformance", "client", "--client", "pyscep", "--", "my-client"]) == 2
