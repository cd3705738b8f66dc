"""One acceptance check for an issued certificate, in `ScepClient`: the library, ``pyscep
client`` and ``pyscep monitor`` refuse a certificate for another key or subject, signed by
another CA, or not valid now; the renewal CSR keeps the old certificate's subjectAltNames;
a CA that stays PENDING forever is polled forever, at most hourly."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

import pyscep
from pyscep import Certificate
from pyscep.cli import main
from pyscep.messages import (
    CertificationRequest,
    ReplyTo,
    build_cert_rep_pending,
    build_csr,
    issue_certificate,
    parse_pki_message,
)
from pyscep.monitor import run as monitor_run
from pyscep.protocol.client import (
    CertificateIssued,
    CertificateRefused,
    ClientState,
    PollSchedule,
    RequestPending,
    ScepClient,
)
from pyscep.protocol.profiles import STRICT
from pyscep.testing import DemoIdentity, make_identity
from tests.support.helpers import NOW, pem_cert, pem_key
from tests.support.hostile import ra_certificate
from tests.support.hostile_ca import HostileCA, monitor_keystore, served

CA = make_identity("Acceptance CA", now=NOW, ca=True)
#: Another CA with the same name: only its signature tells it apart.
ROGUE = make_identity("Acceptance CA", now=NOW, ca=True)
DEVICE = make_identity("device", now=NOW)
STRANGER = make_identity("stranger", now=NOW)

Issue = Callable[[CertificationRequest], Certificate]


def _hostile(now: datetime) -> dict[str, tuple[Callable[[DemoIdentity], Issue], str]]:
    """Certificates a CA should not issue (made relative to ``now``); why each is refused."""
    other_key = pyscep.load_private_key(STRANGER.key_der)

    def another_key(ca: DemoIdentity) -> Issue:
        return lambda csr: issue_certificate(
            ca.signer, build_csr(other_key, csr.subject_der), now=now
        )

    def another_subject(ca: DemoIdentity) -> Issue:
        return lambda csr: issue_certificate(ca.signer, csr, now=now, subject="CN=mallory,O=Evil")

    def another_ca(ca: DemoIdentity) -> Issue:
        return lambda csr: issue_certificate(ROGUE.signer, csr, now=now)

    def expired(ca: DemoIdentity) -> Issue:
        return lambda csr: issue_certificate(ca.signer, csr, now=now - timedelta(days=30), days=10)

    def not_yet_valid(ca: DemoIdentity) -> Issue:
        return lambda csr: issue_certificate(ca.signer, csr, now=now + timedelta(days=2))

    return {
        "another key": (another_key, "not for the requested key"),
        "another subject": (another_subject, "for another subject"),
        "another CA": (another_ca, "not signed by the CA"),
        "expired": (expired, "expired at"),
        "not yet valid": (not_yet_valid, "not valid before"),
    }


KINDS = list(_hostile(NOW))


def _ready(server: HostileCA, **options: object) -> ScepClient:
    client = ScepClient(ca_fingerprint=CA.certificate.sha256_fingerprint, **options)  # type: ignore[arg-type]
    client.receive(*server.send(client.get_caps()), now=NOW)
    client.receive(*server.send(client.get_ca_certificates()), now=NOW)
    assert client.state is ClientState.READY
    return client


def _enroll(server: HostileCA, **options: object) -> object:
    client = _ready(server, **options)
    key = pyscep.load_private_key(DEVICE.key_der)
    csr = build_csr(key, "CN=device-7,O=Example", challenge_password="s3cret")
    return client.receive(*server.send(client.enroll(csr, key, now=NOW)), now=NOW)


# --- the library ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_scep_client_refuses_a_certificate_that_is_not_the_one_asked_for(kind: str) -> None:
    make, why = _hostile(NOW)[kind]
    event = _enroll(HostileCA(CA, make(CA)))
    assert isinstance(event, CertificateRefused)
    assert why in event.reason


def test_scep_client_accepts_the_certificate_asked_for() -> None:
    event = _enroll(HostileCA.honest(CA, NOW))
    assert isinstance(event, CertificateIssued)
    assert (
        event.certificate.subject_der
        == build_csr(pyscep.load_private_key(DEVICE.key_der), "CN=device-7,O=Example").subject_der
    )


def test_behind_an_ra_the_certificate_must_be_signed_by_the_ca_not_the_ra() -> None:
    usage = {"digital_signature": True, "key_encipherment": True}
    ra = ra_certificate("Acceptance RA", CA, now=NOW, usage=usage)
    good = _enroll(HostileCA(CA, lambda csr: CA.issue(csr, now=NOW), ra=ra))
    assert isinstance(good, CertificateIssued)
    by_ra = _enroll(HostileCA(CA, lambda csr: ra.issue(csr, now=NOW), ra=ra))
    assert isinstance(by_ra, CertificateRefused)
    assert "not signed by the CA" in by_ra.reason


def test_a_ca_that_rewrites_the_subject_is_accepted_only_when_asked_and_nothing_else() -> None:
    hostile = _hostile(NOW)
    rewrites = HostileCA(CA, hostile["another subject"][0](CA))
    assert isinstance(_enroll(rewrites), CertificateRefused)
    assert isinstance(_enroll(rewrites, allow_subject_rewrite=True), CertificateIssued)
    for kind in ("another key", "another CA", "expired"):
        event = _enroll(HostileCA(CA, hostile[kind][0](CA)), allow_subject_rewrite=True)
        assert isinstance(event, CertificateRefused), kind


def test_ten_thousand_pending_answers_keep_the_client_polling_at_most_hourly() -> None:
    # A CA that does not echo recipientNonce (allowed by this profile) lets one PENDING
    # answer stand for all of them: what is tested is the client's schedule.
    client = _ready(HostileCA.honest(CA, NOW))
    client.profile = replace(STRICT, strict_recipient_nonce=False)
    key = pyscep.load_private_key(DEVICE.key_der)
    request = client.enroll(build_csr(key, "CN=device-7", challenge_password="x"), key, now=NOW)
    first = parse_pki_message(request.body)
    assert first.transaction_id is not None
    assert first.sender_nonce is not None
    pending = build_cert_rep_pending(
        ReplyTo(first.transaction_id, first.sender_nonce), signer=CA.signer
    )
    answer = (200, "application/x-pki-message", pending)
    events = []
    for _ in range(10_000):
        events.append(client.receive(*answer, now=NOW))
        client.poll(now=NOW)
    assert all(isinstance(event, RequestPending) for event in events)
    last = events[-1]
    assert isinstance(last, RequestPending)
    assert last.poll_at == NOW + timedelta(hours=1)
    assert last.give_up_at == NOW + timedelta(days=7)


@pytest.mark.parametrize("attempt", [0, 1, 41, 42, 43, 64, 65, 1_000, 10_000, 10**9])
def test_the_poll_delay_is_capped_before_it_is_a_timedelta(attempt: int) -> None:
    delay = PollSchedule().delay(attempt)
    assert timedelta(seconds=30) <= delay <= timedelta(hours=1)
    huge = PollSchedule(factor=1e300).delay(attempt)
    assert huge == (timedelta(seconds=30) if attempt == 0 else timedelta(hours=1))


# --- pyscep client ---------------------------------------------------------------------------


def _cli_enroll(issue: Callable[[DemoIdentity], Issue], out: Path, *extra: str) -> int:
    """``pyscep client enroll`` against a CA (made at the real time) issuing ``issue(ca)``."""
    ca = make_identity("Client CA", now=datetime.now(timezone.utc), ca=True)
    with served(HostileCA(ca, issue(ca)).answer) as url:
        return main(
            [
                "client", "enroll", url, "--subject", "CN=device-7,O=Example",
                "--challenge", "s3cret", "--key-out", str(out / "device.key"),
                "--cert-out", str(out / "device.crt"),
                "--ca-fingerprint", ca.certificate.sha256_fingerprint.hex(), *extra,
            ]
        )  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_pyscep_client_refuses_it_and_writes_no_certificate(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # pyscep client judges at the real time: the certificates are made relative to it.
    make, why = _hostile(datetime.now(timezone.utc))[kind]
    assert _cli_enroll(make, tmp_path) == 5
    error = capsys.readouterr().err
    assert "the issued certificate is refused" in error
    assert why in error
    assert not (tmp_path / "device.crt").exists()


def test_pyscep_client_allow_subject_rewrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, _ = _hostile(datetime.now(timezone.utc))["another subject"]
    assert _cli_enroll(make, tmp_path, "--allow-subject-rewrite") == 0, capsys.readouterr().err
    assert "mallory" in Certificate.load((tmp_path / "device.crt").read_bytes()).subject


def _with_alt_names(
    ca: DemoIdentity, device: DemoIdentity, now: datetime, days: int
) -> Certificate:
    """A certificate for ``device`` naming it four ways, among them a kind build_csr cannot."""
    names = [
        x509.DNSName("web.example"),
        x509.DNSName("www.web.example"),
        x509.IPAddress(ipaddress.ip_address("192.0.2.7")),
        x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "web directory")])),
    ]
    issuer_key = serialization.load_der_private_key(ca.key_der, None)
    key = serialization.load_der_private_key(device.key_der, None)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=web.example,O=Example"))
        .issuer_name(ca.certificate.to_cryptography().subject)
        .public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return Certificate.load(certificate)


def test_pyscep_client_renew_keeps_the_subject_alt_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(timezone.utc)
    ca = make_identity("Client CA", now=now, ca=True)
    old = _with_alt_names(ca, DEVICE, now, days=30)
    (tmp_path / "web.key").write_bytes(pem_key(DEVICE))
    (tmp_path / "web.crt").write_bytes(pem_cert(old))
    issuing = HostileCA.honest(ca, now)
    with served(issuing.answer) as url:
        status = main(
            [
                "client", "renew", url, "--key", str(tmp_path / "web.key"),
                "--cert", str(tmp_path / "web.crt"), "--key-out", str(tmp_path / "new.key"),
                "--cert-out", str(tmp_path / "new.crt"),
                "--ca-fingerprint", ca.certificate.sha256_fingerprint.hex(),
            ]
        )  # fmt: skip
    assert status == 0, capsys.readouterr().err
    (request,) = issuing.requests
    assert len(old.subject_alt_names) == 4
    assert request.subject_alt_names == old.subject_alt_names
    assert request.subject_der == old.subject_der


# --- pyscep monitor -------------------------------------------------------------------------


def _keystore(directory: Path, old: Certificate, url: str) -> Path:
    return monitor_keystore(directory, key=DEVICE, certificate=old, ca=CA.certificate, url=url)


@pytest.mark.parametrize("kind", KINDS)
def test_pyscep_monitor_refuses_it_and_keeps_the_old_keystore(tmp_path: Path, kind: str) -> None:
    old = CA.issue(build_csr(pyscep.load_private_key(DEVICE.key_der), "CN=web"), now=NOW, days=10)
    make, why = _hostile(NOW)[kind]
    with served(HostileCA(CA, make(CA)).answer) as url:
        config = _keystore(tmp_path, old, url)
        (outcome,) = monitor_run.renew_all(config, NOW)
    assert outcome.result == "failed"
    assert "the issued certificate is refused" in outcome.detail
    assert why in outcome.detail
    assert Certificate.load((tmp_path / "web.crt").read_bytes()) == old
    assert (tmp_path / "web.key").read_bytes() == pem_key(DEVICE)
    assert not list(tmp_path.glob("web.crt.*"))  # nothing staged, nothing backed up


def test_pyscep_monitor_renews_with_the_subject_alt_names(tmp_path: Path) -> None:
    old = _with_alt_names(CA, DEVICE, NOW, days=10)
    issuing = HostileCA.honest(CA, NOW)
    with served(issuing.answer) as url:
        config = _keystore(tmp_path, old, url)
        (outcome,) = monitor_run.renew_all(config, NOW)
    assert outcome.result == "renewed", outcome.detail
    (request,) = issuing.requests
    assert len(old.subject_alt_names) == 4
    assert request.subject_alt_names == old.subject_alt_names
    assert request.subject_der == old.subject_der
