"""Issue 20: the server path issues no certificate without a proven right to it.

The servers the documentation tells users to write (README.md,
docs/server.md, docs/quickstart-server.md, `pyscep.testing.in_memory_ca`) and
the reference server are run against the attacks that got certificates out
of them: renewals signed by certificates that prove nothing (made on the
spot, from a foreign CA with this CA's name, revoked, expired, unknown to the
store), renewals that change who the holder is, decisions that did not stay
decided, empty secrets; and the operator's commands are held to saying what
is wrong.
"""

from __future__ import annotations

import argparse
import importlib
import io
import itertools
import json
import logging
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import pyscep
from pyscep import FailInfo, KeyPair, MessageType
from pyscep.certificate import Certificate
from pyscep.cli import main
from pyscep.cli import parser as cli_parser
from pyscep.http import HTTPRequest
from pyscep.messages import (
    BuiltRequest,
    CertificationRequest,
    build_csr,
    build_pkcs_req,
    parse_pki_message,
    self_signed_signer,
)
from pyscep.policy import ChallengeVerdict, DistinguishedName
from pyscep.protocol.challenges import StaticChallenge
from pyscep.protocol.server import (
    EnrollmentRequested,
    ResponderConfig,
    ScepResponder,
    VerifiedRenewal,
)
from pyscep.protocol.transactions import Awaiting, TransactionState
from pyscep.server import (
    Operator,
    ReferenceServer,
    ServeConfigError,
    ServeOptions,
    check_options,
    options_from_environment,
    wsgi_from_environment,
)
from pyscep.testing import in_memory_ca, make_identity
from tests.support.helpers import open_cert_rep

ROOT = Path(__file__).resolve().parents[1]


def _key() -> pyscep.PrivateKey:
    return pyscep.load_private_key(make_identity("attacker key", now=_now()).key_der)


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- a server as a client sees it ---------------------------------------------------------


@dataclass
class Site:
    """A SCEP server under test: where to post, whom it trusts, and (if known) its insides."""

    name: str
    post: Callable[[bytes], bytes]
    ca_certificate: Certificate
    challenge: str
    responder: ScepResponder | None = None
    ca: Any = None


def _documented(page: str) -> Site:
    """The ``handle`` a documentation page tells users to write, as the page writes it."""
    text = (ROOT / page).read_text()
    for code in re.findall(r"```python\n(.*?)```", text, re.S):
        if "def handle(" in code:
            namespace: dict[str, Any] = {"__name__": "docs_example"}
            exec(compile(code, page, "exec"), namespace)  # noqa: S102 - the page's own code
            responder: ScepResponder = namespace["responder"]
            checker = responder.config.challenge
            assert isinstance(checker, StaticChallenge)

            def post(body: bytes, handle: Any = namespace["handle"]) -> bytes:
                response = handle("POST", "/scep", "operation=PKIOperation", body)
                return bytes(response.body)

            return Site(
                page,
                post,
                responder.config.ca_certificate,
                checker.secret,
                responder,
                namespace["ca"],
            )
    raise AssertionError(f"{page} has no handle()")


def _in_memory() -> Site:
    send, ca_certificate = in_memory_ca(challenge="in-memory-secret", now=_now())

    def post(body: bytes) -> bytes:
        status, _, answer = send(
            HTTPRequest("POST", "/scep?operation=PKIOperation", body=body, headers=())
        )
        assert status == 200
        return answer

    return Site("in_memory_ca", post, ca_certificate, "in-memory-secret")


DOCUMENTED = ["README.md", "docs/server.md", "docs/quickstart-server.md"]


@pytest.fixture(params=[*DOCUMENTED, "in_memory_ca"])
def site(request: pytest.FixtureRequest) -> Site:
    return _in_memory() if request.param == "in_memory_ca" else _documented(request.param)


@pytest.fixture(params=DOCUMENTED)
def documented(request: pytest.FixtureRequest) -> Site:
    return _documented(request.param)


def _request(
    site: Site,
    csr: CertificationRequest,
    signer: KeyPair,
    kind: MessageType = MessageType.RENEWAL_REQ,
) -> BuiltRequest:
    return build_pkcs_req(csr, signer=signer, recipient=site.ca_certificate, message_type=kind)


def _answer(site: Site, built: BuiltRequest, signer: KeyPair) -> tuple[str, Certificate | None]:
    """(pkiStatus, the certificate a SUCCESS carries)."""
    return open_cert_rep(site.post(built.der), site.ca_certificate, signer, built)


def _enroll(site: Site, subject: str, sans: tuple[str, ...] = ()) -> KeyPair:
    """An honest enrollment with the site's challenge: the holder's key and certificate."""
    key = _key()
    csr = build_csr(key, subject, challenge_password=site.challenge, subject_alt_names=sans)
    signer = self_signed_signer(key, subject, now=_now())
    status, certificate = _answer(site, _request(site, csr, signer, MessageType.PKCS_REQ), signer)
    assert status == "SUCCESS", site.name
    assert certificate is not None
    return KeyPair(key, certificate)


def _refused(site: Site, built: BuiltRequest, signer: KeyPair) -> None:
    status, certificate = _answer(site, built, signer)
    assert status != "SUCCESS", f"{site.name} issued {certificate}"
    if site.responder is not None:
        stored = site.responder.store.get(built.transaction_id)
        assert stored is None or stored.state is not TransactionState.ISSUED


# --- class 1: trust by proof, not by flag ----------------------------------------------------


@pytest.mark.parametrize("kind", [MessageType.RENEWAL_REQ, MessageType.PKCS_REQ])
def test_a_certificate_made_on_the_spot_proves_nothing(site: Site, kind: MessageType) -> None:
    """strongSwan signing with a certificate self-signed on the spot, no challenge, got
    CN=admin, O=Victim Corp."""
    key = _key()
    csr = build_csr(key, "CN=admin,O=Victim Corp")
    signer = self_signed_signer(key, "CN=admin,O=Victim Corp", now=_now())
    _refused(site, _request(site, csr, signer, kind), signer)


@pytest.mark.parametrize("kind", [MessageType.RENEWAL_REQ, MessageType.PKCS_REQ])
def test_a_foreign_ca_bearing_this_cas_name_proves_nothing(site: Site, kind: MessageType) -> None:
    impostor = make_identity("Example CA", now=_now(), ca=True)  # the same name, another key
    key = _key()
    csr = build_csr(key, "CN=admin,O=Victim Corp")
    signer = KeyPair(key, impostor.issue(csr, now=_now()))
    assert signer.certificate.issuer == site.ca_certificate.subject or site.name == "in_memory_ca"
    _refused(site, _request(site, csr, signer, kind), signer)


def test_an_honest_renewal_is_issued(site: Site) -> None:
    """The control: what the attacks imitate does work."""
    holder = _enroll(site, "CN=printer-7,O=Example")
    new_key = _key()
    csr = build_csr(new_key, holder.certificate.subject_der)
    status, renewed = _answer(site, _request(site, csr, holder), holder)
    assert status == "SUCCESS"
    assert renewed is not None
    assert renewed.public_key_der == new_key.public_key_der
    assert renewed.subject_der == holder.certificate.subject_der


def test_a_verdict_has_no_truth_value() -> None:
    """The insecure reading cannot be written: ``if event.challenge`` raises."""
    for verdict in (
        ChallengeVerdict.accept("fine"),
        ChallengeVerdict.refuse("wrong"),
        ChallengeVerdict.absent(),
    ):
        with pytest.raises(TypeError):
            bool(verdict)
    assert ChallengeVerdict.accept("fine").accepted
    assert not ChallengeVerdict.absent().accepted
    assert not ChallengeVerdict.refuse("wrong").accepted


# --- class 3: renewal keeps who you are --------------------------------------------------------


@pytest.mark.parametrize("kind", [MessageType.RENEWAL_REQ, MessageType.PKCS_REQ])
def test_a_renewal_cannot_change_the_subject(site: Site, kind: MessageType) -> None:
    holder = _enroll(site, "CN=printer-7,O=Example")
    csr = build_csr(_key(), "CN=admin,O=Example")
    _refused(site, _request(site, csr, holder, kind), holder)


def test_a_renewal_cannot_add_a_subject_alt_name(site: Site) -> None:
    holder = _enroll(site, "CN=printer-7,O=Example")
    csr = build_csr(
        _key(), holder.certificate.subject_der, subject_alt_names=("dns_name:admin.example",)
    )
    _refused(site, _request(site, csr, holder), holder)


def test_a_revoked_certificate_cannot_renew(documented: Site) -> None:
    site = documented
    holder = _enroll(site, "CN=printer-7,O=Example")
    assert site.responder is not None
    found = site.responder.store.find_certificate(holder.certificate.sha256_fingerprint)
    assert found is not None
    site.responder.store.revoke(found.transaction_id)
    csr = build_csr(_key(), holder.certificate.subject_der)
    _refused(site, _request(site, csr, holder), holder)


def test_an_expired_certificate_cannot_renew(documented: Site) -> None:
    """Issued by this very server 400 days ago for 365 days."""
    site = documented
    assert site.responder is not None
    key, then = _key(), _now() - timedelta(days=400)
    csr = build_csr(key, "CN=printer-7,O=Example", challenge_password=site.challenge)
    signer = self_signed_signer(key, "CN=printer-7,O=Example", now=then)
    built = _request(site, csr, signer, MessageType.PKCS_REQ)
    event = site.responder.receive("POST", "/scep", "operation=PKIOperation", built.der, now=then)
    assert isinstance(event, EnrollmentRequested)
    site.responder.issue(event, site.ca, now=then)
    stored = site.responder.store.get(built.transaction_id)
    assert stored is not None
    old = KeyPair(key, Certificate.load(stored.certificates[0]))
    assert old.certificate.not_valid_after < _now()
    renewal = build_csr(_key(), old.certificate.subject_der)
    _refused(site, _request(site, renewal, old), old)


def test_a_certificate_the_store_never_issued_cannot_renew(documented: Site) -> None:
    """Signed by the CA's key, but not through this server (a stolen signing, an import)."""
    site = documented
    key = _key()
    csr = build_csr(key, "CN=printer-7,O=Example")
    signer = KeyPair(key, site.ca.issue(csr, now=_now()))
    _refused(
        site, _request(site, build_csr(_key(), signer.certificate.subject_der), signer), signer
    )


def test_each_renewal_proof_says_why_it_fails() -> None:
    """The responder's reasons, one per broken fact (what a server logs)."""
    now = _now()
    ca = make_identity("Proof CA", now=now, ca=True)
    responder = ScepResponder(
        ResponderConfig(ca.certificate, ca.signer, ca.decrypter, challenge=StaticChallenge("x1"))
    )
    numbers = itertools.count()

    def event_for(csr: CertificationRequest, signer: KeyPair, at: datetime) -> EnrollmentRequested:
        built = build_pkcs_req(
            csr,
            signer=signer,
            recipient=ca.certificate,
            message_type=MessageType.RENEWAL_REQ,
            transaction_id=f"proof-{next(numbers)}",  # each a new transaction
        )
        event = responder.receive("POST", "/scep", "operation=PKIOperation", built.der, now=at)
        assert isinstance(event, EnrollmentRequested)
        return event

    key = _key()
    first = build_csr(key, "CN=printer-7,O=Example", challenge_password="x1")
    enrolled = event_for(first, self_signed_signer(key, "CN=printer-7,O=Example", now=now), now)
    assert enrolled.renewal is None
    assert enrolled.why_not_renewal is not None
    assert "self-signed" in enrolled.why_not_renewal
    responder.issue(enrolled, ca, now=now)
    stored = responder.store.get(enrolled.transaction_id)
    assert stored is not None
    holder = KeyPair(key, Certificate.load(stored.certificates[0]))
    same = build_csr(_key(), holder.certificate.subject_der)

    good = event_for(same, holder, now)
    assert good.renewal == VerifiedRenewal(
        certificate=holder.certificate, transaction_id=enrolled.transaction_id
    )
    assert good.why_not_renewal is None
    cases = {
        "expired on": event_for(same, holder, now + timedelta(days=400)),
        "not valid yet": event_for(same, holder, now - timedelta(days=1)),
        "a renewal keeps its subject": event_for(
            build_csr(_key(), "CN=admin,O=Example"), holder, now
        ),
        "a renewal keeps its subjectAltNames": event_for(
            build_csr(
                _key(), holder.certificate.subject_der, subject_alt_names=("dns_name:x.test",)
            ),
            holder,
            now,
        ),
        "not one this server issued": event_for(
            same, KeyPair(key, ca.issue(first, now=now, days=30)), now
        ),
        # (for its own key, or it would not get this far: see the next test)
        "was not issued by this CA": event_for(
            build_csr(key, holder.certificate.subject_der),
            KeyPair(key, make_identity("Proof CA", now=now, ca=True).issue(first, now=now)),
            now,
        ),
    }
    responder.store.revoke(enrolled.transaction_id)
    cases["is revoked"] = event_for(same, holder, now)
    for reason, event in cases.items():
        assert event.renewal is None, reason
        assert event.why_not_renewal is not None
        assert reason in event.why_not_renewal


# --- class 5: a self-signed signer carries the CSR's key --------------------------------------


def test_someone_elses_csr_under_a_throw_away_certificate_is_refused(site: Site) -> None:
    """RFC 8894 section 3: the self-signed certificate MUST carry the CSR's key."""
    victim_key = _key()
    victim_csr = build_csr(victim_key, "CN=victim,O=Example", challenge_password=site.challenge)
    attacker = _key()
    signer = self_signed_signer(attacker, "CN=victim,O=Example", now=_now())
    built = _request(site, victim_csr, signer, MessageType.PKCS_REQ)
    reply = parse_pki_message(site.post(built.der))
    assert reply.pki_status is pyscep.PKIStatus.FAILURE
    assert reply.fail_info is FailInfo.BAD_MESSAGE_CHECK


# --- class 4: no empty secrets ---------------------------------------------------------------


@pytest.mark.parametrize("secret", ["", "   ", "\t"])
def test_an_empty_static_challenge_cannot_be_configured(secret: str) -> None:
    with pytest.raises(pyscep.LocalProtocolError, match="cannot be empty"):
        StaticChallenge(secret)


@pytest.mark.parametrize("secret", ["", "  "])
def test_pyscep_serve_refuses_an_empty_challenge(
    tmp_path: Path, secret: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["serve", "--state-dir", str(tmp_path / "state"), "--challenge", secret])
    assert status == 2
    assert "cannot be empty" in capsys.readouterr().err
    assert not (tmp_path / "state").exists()  # refused before anything was made


def test_pyscep_serve_refuses_no_challenge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--state-dir", str(tmp_path / "state")]) == 2
    assert "is required in static mode" in capsys.readouterr().err


@pytest.mark.parametrize("variables", [{"PYSCEP_CHALLENGE": ""}, {}])
def test_the_gunicorn_factory_refuses_an_empty_challenge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]
) -> None:
    monkeypatch.setenv("PYSCEP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("PYSCEP_CHALLENGE", raising=False)
    monkeypatch.delenv("PYSCEP_CHALLENGE_MODE", raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ServeConfigError, match=r"cannot be empty|is required in static mode"):
        wsgi_from_environment()


def test_a_responder_without_a_checker_accepts_no_challenge() -> None:
    now = _now()
    ca = make_identity("No checker CA", now=now, ca=True)
    responder = ScepResponder(ResponderConfig(ca.certificate, ca.signer, ca.decrypter))
    for password in ("", "anything", None):
        key = _key()
        csr = build_csr(key, "CN=nobody", challenge_password=password)
        built = build_pkcs_req(
            csr, signer=self_signed_signer(key, "CN=nobody", now=now), recipient=ca.certificate
        )
        event = responder.receive("POST", "/scep", "operation=PKIOperation", built.der, now=now)
        assert isinstance(event, EnrollmentRequested)
        assert not event.challenge.accepted


# --- the reference server: classes 2, 3 and 9 in process -------------------------------------


def _reference(
    directory: Path, conf: str | None = None, **options: Any
) -> tuple[ReferenceServer, Site]:
    if conf is not None:
        (directory / "scep.conf").write_text(conf)
        options["policy"] = directory / "scep.conf"
    options.setdefault("challenge", "reference-secret")
    server = ReferenceServer(ServeOptions(directory / "state", **options))

    def post(body: bytes) -> bytes:
        return bytes(server.handle("POST", "/scep", "operation=PKIOperation", body).body)

    challenge = options["challenge"] or ""
    return server, Site("reference", post, server.files.ca.certificate, challenge)


def test_a_policy_pending_stays_pending_until_the_operator_decides(tmp_path: Path) -> None:
    """Class 2: ``--policy`` without ``--manual`` issued on the first CertPoll a request
    the policy left PENDING (an anonymous certificate, never shown by ``serve list``)."""
    server, site = _reference(tmp_path, 'ScepRequireChallenge "NO"\n')
    key = _key()
    csr = build_csr(key, "CN=anonymous,O=Example")
    signer = self_signed_signer(key, "CN=anonymous,O=Example", now=_now())
    built = _request(site, csr, signer, MessageType.PKCS_REQ)
    assert _answer(site, built, signer)[0] == "PENDING"
    poll = pyscep.messages.build_cert_poll(
        pyscep.messages.IssuerAndSubject(site.ca_certificate.subject_der, csr.subject_der),
        signer=signer,
        recipient=site.ca_certificate,
        transaction_id=built.transaction_id,
    )
    for _ in range(3):  # polls and re-sent requests change nothing
        assert _answer(site, poll, signer)[0] == "PENDING"
        assert _answer(site, built, signer)[0] == "PENDING"
    assert [t.transaction_id for t in server.store.pending()] == [built.transaction_id]
    server.approve(built.transaction_id, now=_now())
    status, certificate = _answer(site, poll, signer)
    assert status == "SUCCESS"
    assert certificate is not None
    assert certificate.public_key_der == key.public_key_der


def test_pending_polls_still_deliver_after_n_polls(tmp_path: Path) -> None:
    """``--pending-polls`` is a decision already made (ISSUE), delivered late."""
    _, site = _reference(tmp_path, pending_polls=2)
    key = _key()
    csr = build_csr(key, "CN=slow,O=Example", challenge_password=site.challenge)
    signer = self_signed_signer(key, "CN=slow,O=Example", now=_now())
    built = _request(site, csr, signer, MessageType.PKCS_REQ)
    statuses = [_answer(site, built, signer)[0] for _ in range(4)]
    assert statuses == ["PENDING", "PENDING", "SUCCESS", "SUCCESS"]


def test_the_reference_server_refuses_what_the_docs_refuse(tmp_path: Path) -> None:
    """Classes 1 and 3 without a policy: self-made, revoked, subject-changing renewals."""
    _, site = _reference(tmp_path)
    key = _key()
    csr = build_csr(key, "CN=admin,O=Victim Corp")
    forged = self_signed_signer(key, "CN=admin,O=Victim Corp", now=_now())
    _refused(site, _request(site, csr, forged), forged)
    holder = _enroll(site, "CN=printer-7,O=Example")
    _refused(site, _request(site, build_csr(_key(), "CN=admin,O=Example"), holder), holder)
    new_key = _key()
    status, renewed = _answer(
        site, _request(site, build_csr(new_key, holder.certificate.subject_der), holder), holder
    )
    assert status == "SUCCESS"
    assert renewed is not None
    state = ["--state-dir", str(tmp_path / "state")]
    assert main(["serve", "revoke", *state, str(renewed.serial_number)]) == 0
    revoked = KeyPair(new_key, renewed)
    again = build_csr(_key(), renewed.subject_der)
    reply = parse_pki_message(site.post(_request(site, again, revoked).der))
    assert reply.pki_status is pyscep.PKIStatus.FAILURE
    assert reply.fail_info is FailInfo.BAD_CERT_ID


def test_a_renewal_keeps_the_old_subject_alt_names(tmp_path: Path) -> None:
    """Enrolled under a policy that keeps SANs; renewed without a policy: the names stay."""
    keep = 'ScepKeepSubjectAltName "YES"\nScepAutoApproveEnrollment "YES"\n'
    _, site = _reference(tmp_path, keep)
    sans = ("dns_name:printer-7.example", "ip_address:192.0.2.7")
    holder = _enroll(site, "CN=printer-7,O=Example", sans)
    assert holder.certificate.subject_alt_names == sans  # ScepKeepSubjectAltName did keep them
    _, plain = _reference(tmp_path)
    renewal = build_csr(_key(), holder.certificate.subject_der)  # asks for no names
    status, renewed = _answer(plain, _request(plain, renewal, holder), holder)
    assert status == "SUCCESS"
    assert renewed is not None
    assert renewed.subject_alt_names == sans


def test_the_policy_decides_renewals_and_the_trace_says_so(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    auto = 'ScepAutoApprove "YES"\nScepAutoApproveEnrollment "YES"\n'
    _, site = _reference(tmp_path, auto, log=log)
    holder = _enroll(site, "CN=printer-7,O=Example")
    _refused(site, _request(site, build_csr(_key(), "CN=admin,O=Example"), holder), holder)
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    policies = [entry["policy"] for entry in entries if "policy" in entry]
    assert policies[-1]["decision"] == "REJECT"
    assert policies[-1]["decidingRule"] == "identity"


def test_an_approval_issues_on_the_terms_the_server_decided(tmp_path: Path) -> None:
    """Class 9: ``serve approve`` issued 365 days for a 2-day server."""
    server, site = _reference(tmp_path, manual=True, validity_days=2)
    key = _key()
    csr = build_csr(key, "CN=short,O=Example", challenge_password=site.challenge)
    signer = self_signed_signer(key, "CN=short,O=Example", now=_now())
    built = _request(site, csr, signer, MessageType.PKCS_REQ)
    assert _answer(site, built, signer)[0] == "PENDING"
    assert (
        main(["serve", "approve", "--state-dir", str(tmp_path / "state"), built.transaction_id])
        == 0
    )
    stored = server.store.get(built.transaction_id)
    assert stored is not None
    issued = Certificate.load(stored.certificates[0])
    assert (issued.not_valid_after - issued.not_valid_before).days == 2


@pytest.mark.parametrize(
    "command",
    [
        ["approve", "--state-dir", "{dir}", "TX-1"],
        ["reject", "--state-dir", "{dir}", "TX-1"],
        ["list", "--state-dir", "{dir}"],
        ["challenge", "--state-dir", "{dir}"],
        ["revoke", "--state-dir", "{dir}", "12"],
        # The deprecated form operators' scripts use: the directory as an argument.
        ["approve", "{dir}", "TX-1"],
        ["reject", "{dir}", "TX-1"],
        ["list", "{dir}"],
        ["challenge", "{dir}"],
        ["revoke", "{dir}", "12"],
    ],
)
def test_an_operator_command_on_a_mistyped_directory_says_so(
    tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    mistyped = tmp_path / "stat"
    arguments = [part.replace("{dir}", str(mistyped)) for part in command]
    assert main(["serve", *arguments]) == 2
    assert "holds no pyscep serve CA" in capsys.readouterr().err
    assert not mistyped.exists()  # no new CA grew there


def test_operator_commands_say_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _reference(tmp_path)
    state = str(tmp_path / "state")
    assert main(["serve", "revoke", state, "not-a-number"]) == 2
    assert "is not a serial number" in capsys.readouterr().err
    assert main(["serve", "approve", state, "no-such-transaction"]) == 2
    assert "no transaction 'no-such-transaction'" in capsys.readouterr().err
    assert main(["serve", "approve", state]) == 2  # a TXID, and no state named
    assert "--state-dir DIR or --state-url URL" in capsys.readouterr().err


def test_an_ed25519_ca_is_refused_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["serve", "--state-dir", str(tmp_path), "--challenge", "x", "--ca-key-type"]
    with pytest.raises(SystemExit) as exited:
        main([*arguments, "ed25519"])
    assert exited.value.code == 2
    assert "invalid choice: 'ed25519'" in capsys.readouterr().err
    environment = {
        "PYSCEP_STATE_DIR": str(tmp_path),
        "PYSCEP_CHALLENGE": "x",
        "PYSCEP_CA_KEY_TYPE": "ed25519",
    }
    with pytest.raises(ServeConfigError, match="only signs"):
        options_from_environment(environment)


def test_the_factories_need_no_challenge_in_one_time_mode(tmp_path: Path) -> None:
    options = options_from_environment(
        {"PYSCEP_STATE_DIR": str(tmp_path), "PYSCEP_CHALLENGE_MODE": "one-time", "PYSCEP_LOG": "l"}
    )
    assert options.challenge is None
    assert options.log == Path("l")
    with pytest.raises(ServeConfigError, match="PYSCEP_VALIDITY_DAYS"):
        options_from_environment(
            {"PYSCEP_STATE_DIR": "d", "PYSCEP_CHALLENGE": "x", "PYSCEP_VALIDITY_DAYS": "²"}
        )


def _one_time(tmp_path: Path, conf: str | None = None, **options: Any) -> tuple[Site, str]:
    """A reference server in one-time mode, and a challenge its operator made for dev-1."""
    _, site = _reference(tmp_path, conf, challenge_mode="one-time", challenge=None, **options)
    server = ReferenceServer(ServeOptions(tmp_path / "state", challenge_mode="one-time"))
    challenge = server.one_time_challenges().issue(
        ttl=timedelta(hours=1), subject="CN=dev-1,O=Example"
    )
    return site, challenge


def _enroll_as(site: Site, subject: str, challenge: str) -> str:
    key = _key()
    csr = build_csr(key, subject, challenge_password=challenge)
    signer = self_signed_signer(key, subject, now=_now())
    return _answer(site, _request(site, csr, signer, MessageType.PKCS_REQ), signer)[0]


def test_every_refusal_names_its_reason_on_the_server(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = tmp_path / "requests.jsonl"
    site, challenge = _one_time(tmp_path, log=log)
    with caplog.at_level(logging.INFO, logger="pyscep.serve"):
        assert _enroll_as(site, "CN=dev-2,O=Example", challenge) == "FAILURE"
    reason = "issued for another identity: the request's subject CN=dev-2, O=Example"
    assert any(reason in record.getMessage() for record in caplog.records)
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert entries[-1]["decision"] == "rejected"
    assert reason in entries[-1]["reason"]


def test_the_policy_trace_names_the_challenges_real_fault(tmp_path: Path) -> None:
    """Under ``--policy``, a challenge for another identity was logged as "wrong"."""
    log = tmp_path / "requests.jsonl"
    site, challenge = _one_time(tmp_path, 'ScepAutoApproveEnrollment "YES"\n', log=log)
    assert _enroll_as(site, "CN=dev-2,O=Example", challenge) == "FAILURE"
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    policy = [entry["policy"] for entry in entries if "policy" in entry]
    last = policy[-1]["trace"][-1]
    assert last["rule"] == "challenge"
    assert "issued for another identity" in last["detail"]


@pytest.mark.external
def test_a_one_time_challenge_for_an_rfc_4514_subject_fits_an_openssl_csr(
    tmp_path: Path,
) -> None:
    """``serve challenge --subject "CN=dev-1,O=Example"`` and ``openssl req -subj
    /CN=dev-1/O=Example``: the same identity, written in the two orders people use."""
    site, challenge = _one_time(tmp_path)
    key_file, csr_file, config = (tmp_path / n for n in ("dev-1.key", "dev-1.csr", "req.cnf"))
    # What -subj /CN=dev-1/O=Example writes, with the challengePassword (openssl takes
    # attributes only from a config, and ignores them under -subj).
    config.write_text(
        "[req]\nprompt = no\ndistinguished_name = dn\nattributes = attributes\n"
        f"[dn]\nCN = dev-1\nO = Example\n[attributes]\nchallengePassword = {challenge}\n"
    )
    subprocess.run(
        ["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key_file),
         "-config", str(config), "-out", str(csr_file), "-outform", "DER"],
        check=True, capture_output=True,
    )  # fmt: skip
    csr = CertificationRequest.load(csr_file.read_bytes())
    assert csr.challenge_password == challenge
    # CN first in the encoding: the reverse of what the RFC 4514 text says.
    assert DistinguishedName.from_der(csr.subject_der).rdns[0] == (("CN", "dev-1"),)
    key = pyscep.load_private_key(key_file.read_bytes())
    signer = self_signed_signer(key, csr.subject_der, now=_now())
    status, certificate = _answer(site, _request(site, csr, signer, MessageType.PKCS_REQ), signer)
    assert status == "SUCCESS"
    assert certificate is not None
    assert certificate.subject_der == csr.subject_der


# --- pyscep serve as a process: the body timeout (class 7) -------------------------------------


@pytest.fixture
def slow_served(tmp_path: Path) -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    process = subprocess.Popen(
        [sys.executable, "-m", "pyscep", "serve", "--state-dir", str(tmp_path / "state"),
         "--challenge", "timeout-secret", "--port", str(port), "--body-timeout", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    assert "ready" in process.stdout.readline().decode()
    yield port
    process.terminate()
    process.wait(10)


@pytest.mark.external
def test_a_stalled_body_is_cut_off(slow_served: int) -> None:
    # Held open past 10 seconds (ten times its timeout), recv raises and the test fails.
    with socket.create_connection(("127.0.0.1", slow_served), timeout=10) as stalled:
        stalled.sendall(
            b"POST /scep?operation=PKIOperation HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 5000\r\n\r\npartial"
        )
        answer = b""
        while chunk := stalled.recv(4096):
            answer += chunk
    assert b" 200 " not in answer.split(b"\r\n", 1)[0]
    # The server is still there for everyone else.
    with socket.create_connection(("127.0.0.1", slow_served), timeout=20) as fresh:
        fresh.sendall(b"GET /scep?operation=GetCACaps HTTP/1.0\r\n\r\n")
        reply = b""
        while chunk := fresh.recv(4096):
            reply += chunk
    assert b"SCEPStandard" in reply


@pytest.mark.parametrize("where", ["outer algorithm parameters", "signature unused bits"])
def test_a_certificate_whose_unsigned_parts_were_changed_is_not_the_cas(where: str) -> None:
    """RFC 5280 4.1.1.2: the outer signatureAlgorithm must be the signed one, and a
    signature is whole octets; otherwise a changed certificate still "verifies" (found by
    the hypothesis test of hostile signer certificates)."""
    from pyscep.crypto import get_backend
    from pyscep.crypto.signed_object import is_issued_by

    now = _now()
    ca = make_identity("Unsigned parts CA", now=now, ca=True)
    issued = ca.issue(build_csr(_key(), "CN=printer-7"), now=now)
    assert is_issued_by(
        issued, ca.certificate, backend=get_backend(), algorithms=pyscep.DEFAULT_POLICY
    )
    der = bytearray(issued.der)
    tbs_end = issued.der.index(issued.tbs_certificate_der) + len(issued.tbs_certificate_der)
    outer = issued.signature_algorithm_der
    assert der[tbs_end : tbs_end + len(outer)] == outer
    if where == "outer algorithm parameters":
        assert outer.endswith(b"\x05\x00")  # NULL parameters, as RSA writes them
        der[tbs_end + len(outer) - 2] = 0x01  # an empty BOOLEAN instead
    else:
        bits = tbs_end + len(outer) + 4  # BIT STRING tag, 0x82 length, then unused bits
        assert der[bits - 4] == 0x03
        der[bits] = 0x01
    changed = Certificate.load(bytes(der))
    assert not is_issued_by(
        changed, ca.certificate, backend=get_backend(), algorithms=pyscep.DEFAULT_POLICY
    )


# --- found by the independent review of this change ------------------------------------------


def test_someone_elses_csr_under_a_certificate_of_another_ca_is_refused(site: Site) -> None:
    """Not self-signed, so a name-based check would let it by: the signer must be the
    requested key's, or this CA's."""
    victim_csr = build_csr(_key(), "CN=victim,O=Example", challenge_password=site.challenge)
    attacker = _key()
    own_ca = make_identity("Attacker CA", now=_now(), ca=True)
    signer = KeyPair(attacker, own_ca.issue(build_csr(attacker, "CN=anything"), now=_now()))
    assert not signer.certificate.self_signed
    built = _request(site, victim_csr, signer, MessageType.PKCS_REQ)
    reply = parse_pki_message(site.post(built.der))
    assert reply.pki_status is pyscep.PKIStatus.FAILURE
    assert reply.fail_info is FailInfo.BAD_MESSAGE_CHECK


def _odd_bmp_subject_csr(challenge: str) -> tuple[pyscep.PrivateKey, CertificationRequest]:
    """A key, and its CSR whose CN is a BMPString of three octets (half a character too
    many), signed."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    def tlv(tag: int, body: bytes) -> bytes:
        size = len(body)
        if size < 128:
            return bytes([tag, size]) + body
        octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
        return bytes([tag, 0x80 | len(octets)]) + octets + body

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = pyscep.load_private_key(private)
    name = tlv(0x30, tlv(0x31, tlv(0x30, bytes.fromhex("0603550403") + tlv(0x1E, b"abc"))))
    password = tlv(0x06, bytes.fromhex("2a864886f70d010907")) + tlv(
        0x31, tlv(0x13, challenge.encode())
    )
    info = tlv(0x30, b"\x02\x01\x00" + name + key.public_key_der + tlv(0xA0, tlv(0x30, password)))
    signature = private.sign(info, padding.PKCS1v15(), hashes.SHA256())
    algorithm = tlv(0x30, tlv(0x06, bytes.fromhex("2a864886f70d01010b")) + b"\x05\x00")
    csr = tlv(0x30, info + algorithm + tlv(0x03, b"\x00" + signature))
    return key, CertificationRequest.load(csr)


def test_an_unreadable_subject_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    """The CSR loads, but its subject cannot be read as text: a CertRep FAILURE."""
    _, site = _reference(tmp_path)
    key, csr = _odd_bmp_subject_csr(site.challenge)
    signer = self_signed_signer(key, "CN=x", now=_now())
    reply = parse_pki_message(site.post(_request(site, csr, signer, MessageType.PKCS_REQ).der))
    assert reply.pki_status is pyscep.PKIStatus.FAILURE
    assert reply.fail_info is FailInfo.BAD_REQUEST


def test_a_certificate_is_renewed_once(site: Site) -> None:
    """Catalog #95: a stolen old key cannot keep making certificates once its holder renewed."""
    holder = _enroll(site, "CN=printer-7,O=Example")
    first = build_csr(_key(), holder.certificate.subject_der)
    assert _answer(site, _request(site, first, holder), holder)[0] == "SUCCESS"
    second = build_csr(_key(), holder.certificate.subject_der)
    _refused(site, _request(site, second, holder), holder)


@pytest.mark.parametrize("value", ["true", "yes", "on", " 1", "2"])
def test_a_switch_variable_says_yes_with_1_only(value: str) -> None:
    with pytest.raises(ServeConfigError, match="PYSCEP_MANUAL"):
        options_from_environment(
            {"PYSCEP_STATE_DIR": "d", "PYSCEP_CHALLENGE": "x", "PYSCEP_MANUAL": value}
        )


def test_the_responders_own_refusals_are_warnings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Under gunicorn, WARNING reaches the error log without any logging configured."""
    _, site = _reference(tmp_path)
    victim = build_csr(_key(), "CN=victim", challenge_password=site.challenge)
    signer = self_signed_signer(_key(), "CN=victim", now=_now())
    with caplog.at_level(logging.INFO, logger="pyscep.serve"):
        site.post(_request(site, victim, signer, MessageType.PKCS_REQ).der)
    (record,) = [r for r in caplog.records if "answered by the responder" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "the signer's key is not the requested key" in record.getMessage()


def test_a_subject_alt_name_the_ca_cannot_write_is_dropped_not_a_crash(tmp_path: Path) -> None:
    """A 5-octet iPAddress loads as ``ip_address:None``; granting it raised OSError mid-issue."""
    _, site = _reference(
        tmp_path, 'ScepKeepSubjectAltName "YES"\nScepAutoApproveEnrollment "YES"\n'
    )
    good, bad = b"\x82\x0aok.example", b"\x87\x05\x01\x02\x03\x04\x05"
    names = bytes([0x30, len(good + bad)]) + good + bad
    key = _key()
    csr = build_csr(
        key,
        "CN=dev,O=Example",
        challenge_password=site.challenge,
        extensions=[("2.5.29.17", False, names)],
    )
    assert "ip_address:None" in csr.subject_alt_names
    signer = self_signed_signer(key, "CN=dev,O=Example", now=_now())
    status, certificate = _answer(site, _request(site, csr, signer, MessageType.PKCS_REQ), signer)
    assert status == "SUCCESS"
    assert certificate is not None
    assert certificate.subject_alt_names == ("dns_name:ok.example",)


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"challenge_mode": "one-time", "challenge": "x"}, "not used in one-time mode"),
        ({"pending_polls": 2, "policy": Path("/nonexistent/scep.conf")}, "no effect with --policy"),
        ({"policy": Path("/nonexistent/scep.conf")}, "No such file"),
        ({"validity_days": 10_000_000}, "the validity is from 1 to"),
        ({"validity_days": 0}, "the validity is from 1 to"),
        ({"pending_polls": -1}, "cannot be negative"),
    ],
)
def test_options_that_cannot_work_are_refused_at_start(
    tmp_path: Path, options: dict[str, Any], complaint: str
) -> None:
    options.setdefault("challenge", "a-secret")
    with pytest.raises(ServeConfigError, match=complaint):
        check_options(ServeOptions(tmp_path / "state", **options))


def test_a_state_file_of_the_last_release_keeps_working(tmp_path: Path) -> None:
    """Its PENDING rows now await the operator, and its certificates can renew."""
    import sqlite3
    from contextlib import closing

    from pyscep.server.stores import SqliteStore
    from pyscep.server.stores.rows import pack

    now = _now()
    ca = make_identity("Old CA", now=now, ca=True)
    key, waiting = _key(), build_csr(_key(), "CN=waiting")
    issued = ca.issue(build_csr(key, "CN=old-device"), now=now)
    path = tmp_path / "state.sqlite"
    with closing(sqlite3.connect(path)) as db:  # the schema of pyscep 0.1.0, as it wrote it
        db.executescript(
            "CREATE TABLE transactions (transaction_id TEXT PRIMARY KEY, requester_key BLOB"
            " NOT NULL, state TEXT NOT NULL, csr BLOB NOT NULL, certificates BLOB NOT NULL,"
            " fail_info INTEGER, updated TEXT, polls INTEGER NOT NULL DEFAULT 0,"
            " revoked INTEGER NOT NULL DEFAULT 0);"
            " CREATE TABLE serials (serial TEXT PRIMARY KEY);"
        )
        rows = [
            ("T-pending", waiting.public_key_der, "pending", waiting.der, b"", now),
            ("T-issued", issued.public_key_der, "issued", b"csr", pack((issued.der,)), now),
        ]
        for txid, owner, state, csr, certificates, at in rows:
            db.execute(
                "INSERT INTO transactions (transaction_id, requester_key, state, csr,"
                " certificates, updated) VALUES (?, ?, ?, ?, ?, ?)",
                (txid, owner, state, csr, certificates, at.isoformat()),
            )
        db.commit()
    store = SqliteStore(path)
    pending = store.get("T-pending")
    assert pending is not None
    assert pending.awaiting is Awaiting.OPERATOR
    found = store.find_certificate(issued.sha256_fingerprint)
    assert found is not None
    assert found.transaction_id == "T-issued"
    assert not found.revoked
    assert [t.transaction_id for t in store.pending()] == ["T-pending"]


def test_a_pending_polls_transaction_waits_for_the_operator_once_manual(tmp_path: Path) -> None:
    """Started under --pending-polls, served again with --manual: the operator decides."""
    _, site = _reference(tmp_path, pending_polls=1)
    key = _key()
    csr = build_csr(key, "CN=slow,O=Example", challenge_password=site.challenge)
    signer = self_signed_signer(key, "CN=slow,O=Example", now=_now())
    built = _request(site, csr, signer, MessageType.PKCS_REQ)
    assert _answer(site, built, signer)[0] == "PENDING"
    server, manual = _reference(tmp_path, manual=True)
    assert [_answer(manual, built, signer)[0] for _ in range(3)] == ["PENDING"] * 3
    server.approve(built.transaction_id, now=_now())
    assert _answer(manual, built, signer)[0] == "SUCCESS"


def test_a_trusted_ra_of_another_ca_may_enroll_on_behalf(tmp_path: Path) -> None:
    """``ScepTrustedRA`` (a fingerprint) lets that RA sign for others' keys; nobody else."""
    bridge = make_identity("Bridge RA", now=_now(), ca=True)  # another CA's RA, self-made here
    conf = f'ScepTrustedRA "{bridge.certificate.sha256_fingerprint.hex()}"\nScepAutoApprove "YES"\n'
    _, site = _reference(tmp_path, conf)
    ra = KeyPair(pyscep.load_private_key(bridge.key_der), bridge.certificate)
    device = build_csr(_key(), "CN=handset-9,O=Example")
    status, certificate = _answer(site, _request(site, device, ra, MessageType.PKCS_REQ), ra)
    assert status == "SUCCESS"
    assert certificate is not None
    assert certificate.subject_der == device.subject_der
    stranger = make_identity("Bridge RA", now=_now(), ca=True)  # same name, not trusted
    other = KeyPair(pyscep.load_private_key(stranger.key_der), stranger.certificate)
    reply = parse_pki_message(site.post(_request(site, device, other, MessageType.PKCS_REQ).der))
    assert reply.fail_info is FailInfo.BAD_MESSAGE_CHECK


# --- pyscep serve's command line: sub-commands, on SQLite and PostgreSQL state ------------


def _walk(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.Action]]:
    """Every option, argument and sub-command of ``parser`` and of its sub-parsers."""
    for action in parser._actions:
        yield parser.prog, action
        if isinstance(action, argparse._SubParsersAction):
            yield from ((parser.prog, choice) for choice in action._choices_actions)
            for sub in action.choices.values():
                yield from _walk(sub)


def test_every_option_and_sub_command_has_help() -> None:
    """Every option and sub-command of ``pyscep`` (``serve --help``, ``serve approve --help``)."""
    walked = list(_walk(cli_parser()))
    lacking = [f"{prog} {action.dest}" for prog, action in walked if not action.help]
    assert lacking == []
    progs = {prog for prog, _ in walked}
    actions = {"list", "approve", "reject", "challenge", "revoke"}
    assert {f"pyscep serve {name}" for name in actions} <= progs


@pytest.fixture
def postgres_url() -> Iterator[str]:
    from tests.support.postgres import start_postgres

    url, stop = start_postgres()
    try:
        yield url
    finally:
        stop()


@pytest.mark.peer
@pytest.mark.external
def test_the_operator_commands_open_only_a_state_a_server_made(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A URL naming the wrong database makes nothing there: one line, exit 2."""
    assert main(["serve", "challenge", "--state-url", postgres_url, "--ttl", "60"]) == 2
    assert "no pyscep state in this database" in capsys.readouterr().err
    import psycopg

    with psycopg.connect(postgres_url) as db:
        assert db.execute("SELECT to_regclass('transactions')").fetchone() == (None,)
    (tmp_path / "state").mkdir()
    assert main(["serve", "list", "--state-dir", str(tmp_path / "state")]) == 2
    assert not (tmp_path / "state" / "state.sqlite").exists()


def test_a_challenge_that_would_be_dead_when_made_is_not_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _reference(tmp_path, challenge_mode="one-time", challenge=None)
    for ttl in ("0", "-5"):
        state = ["--state-dir", str(tmp_path / "state")]
        assert main(["serve", "challenge", *state, "--ttl", ttl]) == 2
        assert "a challenge lives a positive time" in capsys.readouterr().err


def test_an_unreachable_state_database_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://nobody@127.0.0.1:1/scep?connect_timeout=5"
    assert main(["serve", "list", "--state-url", url]) == 2
    error = capsys.readouterr().err
    assert "cannot reach the PostgreSQL state" in error
    assert "Traceback" not in error


def test_a_port_in_use_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        arguments = ["serve", "--state-dir", str(tmp_path / "state"), "--challenge", "s3cret"]
        assert main([*arguments, "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    assert main([*arguments, "--port", "99999"]) == 2
    assert "cannot listen on 127.0.0.1:99999" in capsys.readouterr().err


@pytest.mark.parametrize(
    "kind", ["sqlite", pytest.param("postgresql", marks=[pytest.mark.peer, pytest.mark.external])]
)
def test_the_operator_commands_work_on_either_state(
    tmp_path: Path,
    kind: str,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """challenge, list, approve, reject, revoke: with --state-url (the directory only for
    the CA that signs an approval), or --state-dir given before or after the sub-command."""
    url = request.getfixturevalue("postgres_url") if kind == "postgresql" else None
    server, site = _reference(
        tmp_path, manual=True, challenge_mode="one-time", challenge=None, state_url=url
    )
    directory = ["--state-dir", str(tmp_path / "state")]
    state = ["--state-url", url] if url else directory

    def operator(*command: str, before: bool = False) -> str:
        arguments = [*state, *command] if before else [*command, *state]
        assert main(["serve", *arguments]) == 0, capsys.readouterr().err
        return capsys.readouterr().out

    def pending(subject: str) -> tuple[str, str]:
        """A request made with a fresh challenge, PENDING (``--manual``): its transactionID."""
        challenge = operator("challenge", "--subject", subject, "--ttl", "600").strip()
        key = _key()
        csr = build_csr(key, subject, challenge_password=challenge)
        signer = self_signed_signer(key, subject, now=_now())
        built = _request(site, csr, signer, MessageType.PKCS_REQ)
        return built.transaction_id, _answer(site, built, signer)[0]

    approved, status = pending("CN=dev-1,O=Example")
    assert status == "PENDING"
    refused, status = pending("CN=dev-2,O=Example")
    assert status == "PENDING"
    listed = operator("list", before=True)
    assert approved in listed
    assert refused in listed
    approve = ["approve", approved, *directory] if url else ["approve", approved]
    assert "approved: serial" in operator(*approve)
    assert "rejected" in operator("reject", refused)
    assert approved not in operator("list")
    issued = server.store.get(approved)
    assert issued is not None
    assert issued.state is TransactionState.ISSUED
    denied = server.store.get(refused)
    assert denied is not None
    assert denied.state is TransactionState.REJECTED
    serial = Certificate.load(issued.certificates[0]).serial_number
    assert f"serial {serial} revoked" in operator("revoke", hex(serial))
    assert server.store.revoked() == frozenset({approved})
    if url:  # all of it in PostgreSQL: no local state file was made
        assert not (tmp_path / "state" / "state.sqlite").exists()


def test_the_deprecated_directory_argument_still_works_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _reference(tmp_path, challenge_mode="one-time", challenge=None)
    assert main(["serve", "challenge", str(tmp_path / "state")]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.strip()) >= 24  # the challenge
    assert "`serve challenge DIR` is deprecated: use `serve challenge --state-dir DIR`" in (
        captured.err
    )
    both = ["serve", "list", str(tmp_path / "state"), "--state-dir", str(tmp_path / "state")]
    assert main(both) == 2
    assert "the state directory twice" in capsys.readouterr().err


def test_approve_needs_the_directory_of_the_ca_that_signs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(ServeConfigError, match="--state-dir DIR is required"):
        Operator(state_url="postgresql://nowhere.invalid/none").approve("TX", now=_now())
    assert main(["serve", "list"]) == 2
    assert "--state-dir DIR or --state-url URL" in capsys.readouterr().err


# --- the old pyscep.cli paths: still there for one release, deprecated --------------------


@pytest.mark.parametrize(
    ("old", "name", "new"),
    [
        ("pyscep.cli.serve", "ReferenceServer", "pyscep.server"),
        ("pyscep.cli.serve", "ServeOptions", "pyscep.server"),
        ("pyscep.cli.serve", "describe_pending", "pyscep.server"),
        ("pyscep.cli.serve", "options_from_environment", "pyscep.server"),
        ("pyscep.cli.serve", "asgi_from_environment", "pyscep.server"),
        ("pyscep.cli.serve", "CA_KEY_TYPES", "pyscep.server"),
        ("pyscep.cli.serve", "FileCA", "pyscep.server"),
        ("pyscep.cli.serve", "log", "pyscep.server.app"),
        ("pyscep.cli.file_ca", "FileCA", "pyscep.server.file_ca"),
        ("pyscep.cli.monitor", "status", "pyscep.monitor"),
        ("pyscep.cli.monitor", "load_config", "pyscep.monitor"),
        ("pyscep.cli.monitor", "MonitorConfigError", "pyscep.monitor"),
        ("pyscep.cli.monitor_config", "KeystoreConfig", "pyscep.monitor.config"),
        ("pyscep.cli.monitor_keystores", "keystore_for", "pyscep.monitor.keystores"),
        ("pyscep.cli.monitor_rollover", "look_ahead", "pyscep.monitor.rollover"),
        ("pyscep.cli.monitor_run", "renew_all", "pyscep.monitor.run"),
        ("pyscep.cli.monitor_state", "MonitorState", "pyscep.monitor.state"),
        ("pyscep.cli.durable", "SafeDirectory", "pyscep._appkit.durable"),
        ("pyscep.cli.clock", "now_or", "pyscep._appkit.clock"),
        ("pyscep.cli.keys", "new_private_key", "pyscep._appkit.keys"),
        ("pyscep.cli.demo_story", "tell", "pyscep.demo.story"),
        ("pyscep.cli.demo_transport", "InProcessServer", "pyscep.demo.transport"),
        ("pyscep.cli.client", "http_exchange", "pyscep._appkit.http"),
    ],
)
def test_an_old_cli_path_gives_the_moved_name_with_a_warning(old: str, name: str, new: str) -> None:
    module = importlib.import_module(old)
    with pytest.warns(
        DeprecationWarning, match=rf"{old}\.{name} is deprecated: use {new}\.{name} "
    ):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(new), name)


def test_an_old_cli_path_knows_only_the_names_it_had() -> None:
    serve = importlib.import_module("pyscep.cli.serve")
    with pytest.raises(AttributeError, match="no attribute 'Operator'"):
        serve.Operator  # noqa: B018 - new in 0.2: never at the old path
    durable = importlib.import_module("pyscep.cli.durable")
    with pytest.raises(AttributeError, match="no attribute 'not_there'"):
        durable.not_there  # noqa: B018


def test_the_old_deployment_spelling_still_serves_and_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``gunicorn 'pyscep.cli.serve:wsgi_from_environment()'`` (gunicorn imports the module
    and takes the attribute): a working application, and a DeprecationWarning."""
    monkeypatch.setenv("PYSCEP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PYSCEP_CHALLENGE", "a-secret")
    module = importlib.import_module("pyscep.cli.serve")
    with pytest.warns(DeprecationWarning, match="use pyscep.server.wsgi_from_environment"):
        factory = module.wsgi_from_environment
    application = factory()
    answers: list[str] = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/scep",
        "QUERY_STRING": "operation=GetCACaps",
        "wsgi.input": io.BytesIO(),
    }
    body = b"".join(application(environ, lambda status, headers: answers.append(status)))
    assert answers == ["200 OK"]
    assert b"POSTPKIOperation" in body


# --- the stores' old paths, for one release ---------------------------------------------


@pytest.mark.parametrize(
    ("old", "name", "new"),
    [
        ("pyscep.cli.sqlite_store", "SqliteTransactions", "SqliteStore"),
        ("pyscep.cli.sqlite_store", "SqliteChallenges", "SqliteChallenges"),
        ("pyscep.cli.postgres_store", "PostgresTransactions", "PostgresStore"),
        ("pyscep.cli.state", "ServerState", "ServerStore"),
        ("pyscep.cli.state", "open_state", "open_state"),
        ("pyscep.cli.state", "pack", "pack"),
        ("pyscep.cli.state_inventory", "StateInventory", "StateInventory"),
    ],
)
def test_the_old_names_still_work_and_warn(old: str, name: str, new: str) -> None:
    import importlib

    import pyscep.server.stores.rows
    import pyscep.server.stores.sqlite

    with pytest.deprecated_call(match=name):
        found = getattr(importlib.import_module(old), name)
    homes = (pyscep.server.stores, pyscep.server.stores.rows, pyscep.server.stores.sqlite)
    assert any(getattr(home, new, None) is found for home in homes)
