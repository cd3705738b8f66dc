"""``pyscep serve`` and ``pyscep client`` end to end, as processes on loopback."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyscep import Certificate
from pyscep.protocol.transactions import TransactionState
from pyscep.server.stores import SqliteStore
from tests.support.helpers import openssl
from tests.support.served import CHALLENGE, Served


def client(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyscep", "client", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def admin(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyscep", "serve", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Served]:
    flags = getattr(request, "param", ())
    server = Served(tmp_path, *flags)
    yield server
    server.stop()


def _enroll(
    served: Served, name: str, *extra: str, challenge: str = CHALLENGE
) -> subprocess.CompletedProcess[str]:
    directory = served.directory
    return client(
        "enroll",
        served.url,
        "--subject",
        f"CN={name},O=Example",
        "--challenge",
        challenge,
        "--key-out",
        str(directory / f"{name}.key"),
        "--cert-out",
        str(directory / f"{name}.pem"),
        "--ca-fingerprint",
        served.fingerprint(),
        *extra,
    )


def _renew(served: Served, name: str, new: str, *extra: str) -> subprocess.CompletedProcess[str]:
    directory = served.directory
    return client(
        "renew",
        served.url,
        "--key",
        str(directory / f"{name}.key"),
        "--cert",
        str(directory / f"{name}.pem"),
        "--key-out",
        str(directory / f"{new}.key"),
        "--cert-out",
        str(directory / f"{new}.pem"),
        *extra,
    )


def _verified(served: Served, name: str) -> Certificate:
    ca = served.directory / "state" / "ca.pem"
    assert b": OK" in openssl(["verify", "-CAfile", str(ca), str(served.directory / f"{name}.pem")])
    return Certificate.load((served.directory / f"{name}.pem").read_bytes())


@pytest.mark.parametrize("extra", [(), ("--get",)], ids=["POST", "GET"])
def test_enroll_then_renew(served: Served, extra: tuple[str, ...]) -> None:
    first = _enroll(served, "device", *extra)
    assert first.returncode == 0, first.stderr
    issued = _verified(served, "device")
    assert issued.subject == "Common Name: device, Organization: Example"
    assert stat.S_IMODE(os.stat(served.directory / "device.key").st_mode) == 0o600
    renewed = _renew(served, "device", "renewed", *extra)
    assert renewed.returncode == 0, renewed.stderr
    assert _verified(served, "renewed").public_key_der != issued.public_key_der


@pytest.mark.parametrize(
    ("served", "key_type"),
    [
        ((), "ec-p256"),
        ((), "ec-p384"),
        (("--ca-key-type", "ec-p256"), "ec-p256"),
        (("--ca-key-type", "ec-p384"), "rsa2048"),
        (("--ca-key-type", "ec-p521"), "ec-p521"),
        ((), "ed25519"),
        (("--ca-key-type", "ec-p256"), "ed25519"),
    ],
    indirect=["served"],
    ids=[
        "rsa-ca/ec-p256", "rsa-ca/ec-p384", "ec-p256-ca/ec-p256", "ec-p384-ca/rsa", "ec-p521",
        "rsa-ca/ed25519", "ec-p256-ca/ed25519",
    ],
)  # fmt: skip
def test_ec_and_ed25519_keys_enroll_and_renew_end_to_end(served: Served, key_type: str) -> None:
    # An EC requester's CertRep is key agreement (ECDH), and so is a request to an EC CA;
    # an Ed25519 requester's is keyed by its challengePassword (PasswordRecipientInfo).
    first = _enroll(served, "device", "--key-type", key_type)
    assert first.returncode == 0, first.stderr
    issued = _verified(served, "device")
    family = {"rsa2048": "rsa", "ed25519": "ed25519"}.get(key_type, "ec")
    assert issued.public_key.family == family
    challenge = ("--challenge", CHALLENGE) if key_type == "ed25519" else ()
    renewed = _renew(served, "device", "renewed", "--key-type", key_type, *challenge)
    assert renewed.returncode == 0, renewed.stderr
    assert _verified(served, "renewed").public_key_der != issued.public_key_der
    if key_type == "ed25519":
        # Without --challenge the client keys the reply with a random password of its own
        # (a renewal needs no challenge; pyscep.messages.reply_key's docs): renewed.
        again = _renew(served, "renewed", "again", "--key-type", key_type)
        assert again.returncode == 0, again.stderr
        renewed_key = _verified(served, "renewed").public_key_der
        assert _verified(served, "again").public_key_der != renewed_key
    ca = Certificate.load((served.directory / "state" / "ca.pem").read_bytes())
    wanted = "rsa" if "--ca-key-type" not in served.flags else "ec"
    assert ca.public_key.family == wanted


def test_a_wrong_challenge_exits_4_with_the_fail_info(served: Served) -> None:
    run = _enroll(served, "intruder", challenge="guess")
    assert run.returncode == 4
    assert "badRequest" in run.stdout
    assert not (served.directory / "intruder.pem").exists()


def test_a_wrong_ca_fingerprint_refuses_before_enrolling(served: Served) -> None:
    run = client(
        "enroll",
        served.url,
        "--subject",
        "CN=x",
        "--challenge",
        CHALLENGE,
        "--key-out",
        str(served.directory / "x.key"),
        "--cert-out",
        str(served.directory / "x.pem"),
        "--ca-fingerprint",
        "00" * 32,
    )
    assert run.returncode == 5
    assert "pinned fingerprint" in run.stderr


@pytest.mark.parametrize("served", [("--pending-polls", "2")], indirect=True)
def test_pending_exits_3_and_says_how_to_poll(served: Served) -> None:
    run = _enroll(served, "slow")
    assert run.returncode == 3, run.stderr
    state = served.directory / "slow.pending.json"
    assert f"pyscep client poll {served.url} --pending {state}" in run.stdout
    assert client("poll", served.url, "--pending", str(state)).returncode == 3
    polled = client("poll", served.url, "--pending", str(state))
    assert polled.returncode == 0, polled.stderr
    _verified(served, "slow")


@pytest.mark.parametrize("served", [("--manual",)], indirect=True)
def test_manual_approval_and_rejection(served: Served) -> None:
    assert _enroll(served, "approved").returncode == 3
    assert _enroll(served, "refused").returncode == 3
    state_dir = str(served.directory / "state")
    listed = admin("list", state_dir)
    pending = {
        json.loads((served.directory / f"{n}.pending.json").read_text())["transaction_id"]: n
        for n in ("approved", "refused")
    }
    firsts = [line for line in listed.stdout.splitlines() if not line.startswith(" ")]
    assert {line.split()[0] for line in firsts} == set(pending)
    # The operator sees whom each request is for before deciding.
    assert "subject: CN=approved, O=Example" in listed.stdout
    assert "subject: CN=refused, O=Example" in listed.stdout
    by_name = {name: txid for txid, name in pending.items()}
    assert admin("approve", state_dir, by_name["approved"]).returncode == 0
    assert admin("reject", state_dir, by_name["refused"]).returncode == 0
    assert admin("approve", state_dir, "no-such-transaction").returncode == 2
    ok = client("poll", served.url, "--pending", str(served.directory / "approved.pending.json"))
    assert ok.returncode == 0, ok.stderr
    _verified(served, "approved")
    no = client("poll", served.url, "--pending", str(served.directory / "refused.pending.json"))
    assert no.returncode == 4
    store = SqliteStore(served.directory / "state" / "state.sqlite")
    states = {name: store.get(txid).state for txid, name in pending.items()}  # type: ignore[union-attr]
    assert states == {"approved": TransactionState.ISSUED, "refused": TransactionState.REJECTED}


@pytest.mark.parametrize("served", [("--ra", "--next-ca")], indirect=True)
def test_ra_mode_and_the_next_ca(served: Served) -> None:
    fetched = client("getca", served.url, "--out", str(served.directory / "ca-ra.pem"))
    assert fetched.returncode == 0, fetched.stderr
    assert "encryption RA" in fetched.stdout
    assert len(Certificate.load_all((served.directory / "ca-ra.pem").read_bytes())) == 2
    assert _enroll(served, "via-ra").returncode == 0
    _verified(served, "via-ra")
    caps = client("getcaps", served.url)
    assert "SCEPStandard" in caps.stdout.split()


@pytest.fixture
def policy_served(tmp_path: Path) -> Iterator[Served]:
    conf = tmp_path / "scep.conf"
    conf.write_text('ScepAutoApprove "YES"\nScepAutoApproveEnrollment "YES"\n')
    server = Served(tmp_path, "--policy", str(conf), "--log", str(tmp_path / "decisions.log"))
    yield server
    server.stop()


def test_a_revoked_certificate_cannot_renew_under_the_policy(policy_served: Served) -> None:
    served = policy_served
    assert _enroll(served, "device").returncode == 0
    issued = _verified(served, "device")
    state_dir = str(served.directory / "state")
    assert admin("revoke", state_dir, str(issued.serial_number)).returncode == 0
    assert admin("revoke", state_dir, "12345").returncode == 2
    refused = _renew(served, "device", "renewed")
    assert refused.returncode == 4
    assert "badCertId" in refused.stdout
    assert "revoked" in refused.stdout
    decisions = [
        json.loads(line)["policy"]
        for line in (served.directory / "decisions.log").read_text().splitlines()
        if "policy" in json.loads(line)
    ]
    assert [d["decidingRule"] for d in decisions] == ["approval", "signer-status"]


@pytest.mark.parametrize("served", [("--validity", "3")], indirect=True)
def test_validity_sets_the_lifetime_of_issued_certificates(served: Served) -> None:
    assert _enroll(served, "short").returncode == 0
    issued = _verified(served, "short")
    lifetime = issued.not_valid_after - issued.not_valid_before
    assert lifetime.days == 3  # and five minutes of clock skew allowance
