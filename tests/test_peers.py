"""Live exchanges with real SCEP peers, each in a private network namespace.

micromdm's server listens on every interface, so every scenario runs under
``unshare -n`` with only loopback up (tests/peers/netns_run.py). Needs root
(as in CI) and the Debian packages scep and strongswan-pki; .ci/run installs
them. The issued certificates are checked independently with openssl.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pyscep import Certificate
from tests.support.helpers import openssl

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.peer


def _run(scenario: str, work: Path, timeout: int = 300) -> dict[str, Any]:
    subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "tests.peers.netns_run", scenario, str(work)],
        cwd=ROOT,
        check=True,
        timeout=timeout,
    )
    result: dict[str, Any] = json.loads((work / "result.json").read_text())
    return result


def _verify_chain(work: Path, *certs: str) -> None:
    out = openssl(["verify", "-CAfile", str(work / "ca.pem"), *(str(work / c) for c in certs)])
    assert out.count(b": OK") == len(certs)


def _public_key_of(key_file: Path) -> bytes:
    return openssl(["pkey", "-in", str(key_file), "-pubout", "-outform", "DER"])


def test_micromdm_server_accepts_pkcsreq_and_renewalreq(tmp_path: Path) -> None:
    result = _run("micromdm-server", tmp_path)
    for name in ("pkcsreq", "renewalreq"):
        assert result[name]["status"] == "SUCCESS", result
        assert result[name]["cipher"] == "aes128_cbc"  # negotiated from micromdm's caps
        assert result[name]["reply_cipher"] == "des"  # micromdm always answers with DES
    _verify_chain(tmp_path, "pkcsreq.pem", "renewalreq.pem")
    renewed = Certificate.load((tmp_path / "renewalreq.pem").read_bytes())
    assert renewed.public_key_der == _public_key_of(tmp_path / "second.key")


def test_micromdm_client_enrolls_against_pyscep_serve(tmp_path: Path) -> None:
    result = _run("micromdm-client", tmp_path)
    assert result["exit"] == 0, result["stderr"]
    assert result["wrong_exit"] != 0, result["wrong_stderr"]
    assert result["log"] == [
        "PKCSReq sha1 des sha1_rsa issued",
        "PKCSReq sha1 des sha1_rsa rejected",
    ]
    _verify_chain(tmp_path, "client.pem")
    issued = Certificate.load((tmp_path / "client.pem").read_bytes())
    assert issued.public_key_der == _public_key_of(tmp_path / "client.key")
    assert (
        not (tmp_path / "wrong.pem").exists()
        or b"BEGIN" not in (tmp_path / "wrong.pem").read_bytes()
    )


def test_micromdm_client_enrolls_by_get(tmp_path: Path) -> None:
    result = _run("micromdm-client-get", tmp_path)
    assert result["exit"] == 0, result["stderr"]
    assert result["log"] == ["GET PKCSReq sha1 des sha1_rsa issued"]
    _verify_chain(tmp_path, "client.pem")


def test_strongswan_enrolls_and_renews(tmp_path: Path) -> None:
    result = _run("strongswan", tmp_path)
    for name in ("aes-sha256", "des3-sha512-pss", "renewal"):
        assert result[name]["exit"] == 0, result[name]["stderr"]
    assert result["log"] == [
        "PKCSReq sha256 aes128_cbc sha256_rsa issued",
        "PKCSReq sha512 tripledes_3key rsassa_pss issued",
        "RenewalReq sha256 aes128_cbc sha256_rsa issued",
    ]
    _verify_chain(tmp_path, "aes-sha256.pem", "des3-sha512-pss.pem", "renewed.pem")
    renewed = Certificate.load((tmp_path / "renewed.pem").read_bytes())
    assert renewed.public_key_der == _public_key_of(tmp_path / "renewed.key")


def test_strongswan_renewals_that_prove_nothing_are_refused(tmp_path: Path) -> None:
    """Issue 20, classes 1 and 3: a RenewalReq signed by a certificate made on the spot,
    by a foreign CA with our CA's name, or by our certificate for another subject."""
    result = _run("forged-renewals", tmp_path)
    assert result["exits"] == {
        "self-signed": 1,
        "self-signed-own-key": 1,
        "foreign-ca": 1,
        "printer-enroll": 0,
        "subject-change": 1,
        "renewal": 0,
    }, result
    # The certificate made on the spot does not even carry the requested key: the
    # responder refuses it before the application is asked (so it is no decision).
    # Signed by a certificate that is neither the requested key's nor this CA's (made on
    # the spot, or by a foreign CA): the responder refuses it before the application is
    # asked, so it is no decision in the log, only a refusal with its reason.
    assert result["log"] == [
        "RenewalReq sha256 aes128_cbc sha256_rsa rejected",
        "PKCSReq sha256 aes128_cbc sha256_rsa issued",
        "RenewalReq sha256 aes128_cbc sha256_rsa rejected",
        "RenewalReq sha256 aes128_cbc sha256_rsa issued",
    ]
    refused = "the signer's key is not the requested key, and the signer is not this CA's"
    reasons = result["reasons"]
    assert reasons[0] == refused
    assert "self-signed certificate (a first enrollment)" in reasons[1]
    assert reasons[2] == refused
    assert "a renewal keeps its subject" in reasons[4]
    assert reasons[5].startswith("renewal of serial")
    _verify_chain(tmp_path, "printer.pem", "printer-2.pem")
    renewed = Certificate.load((tmp_path / "printer-2.pem").read_bytes())
    assert renewed.subject == Certificate.load((tmp_path / "printer.pem").read_bytes()).subject


def test_strongswan_polls_after_pending(tmp_path: Path) -> None:
    result = _run("strongswan-pending", tmp_path)
    assert result["exit"] == 0, result["stderr"]
    assert result["log"] == [
        "PKCSReq sha256 aes128_cbc sha256_rsa pending",
        "CertPoll sha256 aes128_cbc sha256_rsa issued",
    ]
    _verify_chain(tmp_path, "polled.pem")


def test_strongswan_fetches_ca_and_ra_and_enrolls_through_the_ra(tmp_path: Path) -> None:
    result = _run("strongswan-ra", tmp_path)
    assert result["fetch_exit"] == 0, result["fetch_stderr"]
    assert result["exit"] == 0, result["stderr"]
    fetched_ra = Certificate.load((tmp_path / "fetched-ra.der").read_bytes())
    assert fetched_ra == Certificate.load((tmp_path / "ra.pem").read_bytes())
    assert Certificate.load((tmp_path / "fetched-ca.der").read_bytes()) == Certificate.load(
        (tmp_path / "ca.pem").read_bytes()
    )
    assert result["log"] == ["PKCSReq sha256 aes128_cbc sha256_rsa issued"]
    _verify_chain(tmp_path, "via-ra.pem")


def test_pyscep_client_against_micromdm_server(tmp_path: Path) -> None:
    result = _run("pyscep-client-micromdm", tmp_path)
    # Refused before anything is sent: micromdm answers in DES.
    assert result["strict"]["exit"] == 2
    assert "micromdm profile" in result["strict"]["stderr"]
    assert not (tmp_path / "strict.pem").exists()
    assert result["legacy"]["exit"] == 0, result["legacy"]["stderr"]
    assert result["wrong"]["exit"] == 4
    assert "badRequest" in result["wrong"]["stdout"]
    _verify_chain(tmp_path, "legacy.pem")
    issued = Certificate.load((tmp_path / "legacy.pem").read_bytes())
    assert issued.public_key_der == _public_key_of(tmp_path / "legacy.key")


def test_two_hundred_enrollments_against_gunicorn_workers_sharing_one_state(
    tmp_path: Path,
) -> None:
    result = _run("gunicorn-load", tmp_path)
    # Every request answered, every certificate distinct, no serial number reused.
    assert (result["count"], result["distinct"], result["serials"]) == (200, 200, 200)
    _signed_once(result)
    _verify_chain(tmp_path, *(f"load-{index}.pem" for index in range(200)))


def _signed_once(result: dict[str, Any]) -> None:
    """Each transaction signed once: one serial number handed out per certificate issued
    (the 200, and the one of the raced request), and racing retries share one certificate."""
    assert result["stored_issued"] == 201
    assert result["stored_serials"] == [201, 201]
    assert result["race_last"] == "SUCCESS"
    assert set(result["race_statuses"]) <= {"SUCCESS", "PENDING"}
    assert result["race_certificates"] == 1


def test_the_asgi_application_under_uvicorn(tmp_path: Path) -> None:
    result = _run("uvicorn-asgi", tmp_path)
    assert result["exit"] == 0, result["stderr"]
    assert result["ours"] == 3
    _verify_chain(tmp_path, "client.pem", "asgi-0.pem", "asgi-1.pem", "asgi-2.pem")


def test_certmonger_enrolls_against_pyscep_serve_through_an_ra(tmp_path: Path) -> None:
    result = _run("certmonger", tmp_path)
    assert result["add_ca"] == 0
    assert result["cm-client"]["status"] == "MONITORING", result["cm-client"]["listing"]
    assert result["cm-wrong"]["status"] == "CA_REJECTED", result["cm-wrong"]["listing"]
    assert result["log"] == [
        "GET PKCSReq sha256 aes256_cbc rsassa_pkcs1v15 issued",
        "GET PKCSReq sha256 aes256_cbc rsassa_pkcs1v15 rejected",
    ]
    _verify_chain(tmp_path, "cm-client.pem")
    issued = Certificate.load((tmp_path / "cm-client.pem").read_bytes())
    assert issued.public_key_der == _public_key_of(tmp_path / "cm-client.key")


def test_two_hundred_enrollments_with_the_state_in_postgresql(tmp_path: Path) -> None:
    result = _run("gunicorn-load-postgres", tmp_path)
    assert (result["count"], result["distinct"], result["serials"]) == (200, 200, 200)
    _signed_once(result)
    _verify_chain(tmp_path, *(f"load-{index}.pem" for index in range(200)))


def test_strongswan_enrolls_and_renews_with_the_ca_key_in_a_softhsm_token(tmp_path: Path) -> None:
    result = _run("strongswan-hsm", tmp_path)
    assert result["enroll"]["exit"] == 0, result["enroll"]["stderr"]
    assert result["renewal"]["exit"] == 0, result["renewal"]["stderr"]
    assert result["log"] == [
        "PKCSReq sha256 aes128_cbc sha256_rsa issued",
        "RenewalReq sha256 aes128_cbc sha256_rsa issued",
    ]
    _verify_chain(tmp_path, "hsm-client.pem", "hsm-renewed.pem")
    renewed = Certificate.load((tmp_path / "hsm-renewed.pem").read_bytes())
    assert renewed.public_key_der == _public_key_of(tmp_path / "hsm-renewed.key")
    # The state directory holds the state only: the CA's key is in the token.
    assert not [name for name in result["state_files"] if name.endswith((".key", ".pem"))]


def test_two_hosts_on_postgresql_lose_nothing_when_one_is_killed_mid_run(tmp_path: Path) -> None:
    """400 enrollments from 8 clients over two gunicorn hosts (two workers each) sharing one
    PostgreSQL; the first host SIGKILLed after 100, its clients retrying on the other."""
    result = _run("two-hosts-sigkill", tmp_path, timeout=900)
    assert result["errors"] == [], result
    assert result["killed_at"] == 100
    assert result["killed_exit"] == -9
    assert result["retries"] > 0  # clients did land on the dead host, and went on
    # 0 lost, 0 issued twice: every client holds its own certificate, serials unique.
    assert (result["held"], result["distinct"], result["serials"]) == (400, 400, 400), result
    # The store holds exactly what the clients hold, and nothing is left half-done.
    assert (result["stored_issued"], result["store_matches_clients"]) == (400, True), result
    assert result["unfinished"] == 0, result
    # One serial per certificate, plus at most one per worker of the dead host that had
    # signed a certificate nobody received (its claim was taken over after the lease).
    handed_out, distinct = result["stored_serials"]
    assert handed_out == distinct, result
    assert 400 <= handed_out <= 402, result
    _verify_chain(tmp_path, *(f"fleet-{index}.pem" for index in range(400)))


def test_one_time_challenges_work_once_for_real_clients(tmp_path: Path) -> None:
    result = _run("one-time", tmp_path)
    assert result["exits"] == {
        "micromdm-first": 0,
        "micromdm-again": 1,
        "sw-first": 0,
        "sw-again": 1,
    }
    assert result["log"] == [
        "PKCSReq sha1 des sha1_rsa issued",
        "PKCSReq sha1 des sha1_rsa rejected",
        "PKCSReq sha256 aes128_cbc sha256_rsa issued",
        "PKCSReq sha256 aes128_cbc sha256_rsa rejected",
    ]
    _verify_chain(tmp_path, "first.pem", "sw-first.pem")


def test_the_policy_inside_pyscep_serve_with_one_time_challenges(tmp_path: Path) -> None:
    result = _run("policy", tmp_path)
    assert result["exits"] == {
        "mm-first": 0,
        "mm-replay": 1,
        "sw-first": 0,
        "sw-renew": 0,
        "sw-third": 1,
    }
    assert result["decisions"] == [
        "ISSUE approval",
        "REJECT challenge",
        "ISSUE approval",
        "ISSUE approval",
        "REJECT max-valid-certificates",
    ]
    _verify_chain(tmp_path, "mm-first.pem", "sw-first.pem", "sw-renew.pem")
