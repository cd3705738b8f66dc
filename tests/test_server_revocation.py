"""Revocation in the reference server: revoke by serial or subject with a reason, the CRL
(signed, numbered, served by GetCRL and by plain HTTP at the certificates' CRL
distribution point, the same on every host), checked by openssl."""

from __future__ import annotations

import re
import subprocess
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

import pyscep
from pyscep import Certificate, FailInfo, KeyPair, RevocationReason
from pyscep.messages import (
    IssuerAndSerial,
    RevokedCertificate,
    build_crl,
    build_csr,
    build_get_crl,
    build_pkcs_req,
    crl_to_pem,
    open_cert_rep,
    read_crl,
    self_signed_signer,
)
from pyscep.server import (
    CRL_PATH,
    MAX_CRL_DAYS,
    Operator,
    ReferenceServer,
    ServeConfigError,
    ServeOptions,
    check_options,
    options_from_environment,
)
from pyscep.testing import make_identity
from tests.support.helpers import openssl
from tests.support.served import CHALLENGE, Served, run_pyscep

CRL_URL = "http://crl.example/pki/ca.crl"


def _now() -> datetime:
    # The server reads the clock: what it signs is compared with the real time.
    return datetime.now(timezone.utc)


def _server(tmp_path: Path, **options: Any) -> ReferenceServer:
    options.setdefault("challenge", CHALLENGE)
    return ReferenceServer(ServeOptions(tmp_path / "state", **options))


def _enroll(server: ReferenceServer, subject: str) -> KeyPair:
    """An honest enrollment: the device's key and certificate."""
    now = _now()
    key = pyscep.load_private_key(make_identity(f"{subject} key", now=now).key_der)
    signer = self_signed_signer(key, subject, now=now)
    csr = build_csr(key, subject, challenge_password=CHALLENGE)
    built = build_pkcs_req(csr, signer=signer, recipient=server.files.ca.certificate)
    response = server.handle("POST", "/scep", "operation=PKIOperation", built.der)
    _, content = open_cert_rep(
        response.body, signer, ca_certificates=[server.files.ca.certificate], request=built
    )
    assert content is not None
    return KeyPair(key, content.certificates[0])


def _get_crl(server: ReferenceServer, holder: KeyPair, issuer_der: bytes | None = None) -> Any:
    """GetCRL signed by ``holder``: (pkiStatus, failInfo, the CRLs a SUCCESS carries)."""
    wanted = IssuerAndSerial(
        issuer_der or holder.certificate.issuer_der, holder.certificate.serial_number
    )
    built = build_get_crl(
        wanted,
        signer=holder,
        recipient=server.files.ca.certificate,
        transaction_id=f"crl-{holder.certificate.serial_number}",
    )
    response = server.handle("POST", "/scep", "operation=PKIOperation", built.der)
    reply, content = open_cert_rep(
        response.body, holder, ca_certificates=[server.files.ca.certificate], request=built
    )
    crls = () if content is None else content.crls
    return reply.pki_status, reply.fail_info, crls


def _http_crl(server: ReferenceServer, path: str = CRL_PATH) -> bytes:
    response = server.handle("GET", path, "", b"")
    assert (response.status, response.content_type) == (200, "application/pkix-crl")
    return response.body


# --- in process ---------------------------------------------------------------------------


def test_a_revocation_is_listed_with_its_reason_by_get_crl_and_by_http(tmp_path: Path) -> None:
    server = _server(tmp_path)
    holder, bystander = _enroll(server, "CN=lost-laptop"), _enroll(server, "CN=desk")
    first = read_crl(_http_crl(server))
    assert (first.number, first.revoked) == (1, ())
    operator = Operator(tmp_path / "state")
    at = _now()
    operator.revoke(
        holder.certificate.serial_number, reason=RevocationReason.KEY_COMPROMISE, now=at
    )
    served = _http_crl(server)
    facts = read_crl(served)
    assert facts.number == 2
    assert facts.issuer_der == server.files.ca.certificate.subject_der
    assert facts.revoked == (
        RevokedCertificate(
            holder.certificate.serial_number,
            at.replace(microsecond=0),
            RevocationReason.KEY_COMPROMISE,
        ),
    )
    assert facts.next_update == facts.this_update + timedelta(days=7)
    # GetCRL, signed by a certificate of this CA, gets the same CRL.
    status, _, crls = _get_crl(server, bystander)
    assert (status.name, crls) == ("SUCCESS", (served,))


def test_the_crl_is_signed_anew_only_when_revocations_change_or_half_its_life_passed(
    tmp_path: Path,
) -> None:
    server = _server(tmp_path, crl_days=4)
    now = _now()
    first = server.current_crl(now)
    assert server.current_crl(now + timedelta(days=1)) == first
    later = server.current_crl(now + timedelta(days=2, seconds=1))
    assert later.number == first.number + 1
    assert later.this_update == (now + timedelta(days=2, seconds=1)).replace(microsecond=0)


def test_get_crl_for_another_issuer_is_refused_with_bad_cert_id(tmp_path: Path) -> None:
    server = _server(tmp_path)
    holder = _enroll(server, "CN=asker")
    other = make_identity("Another CA", now=_now(), ca=True)
    status, fail_info, crls = _get_crl(server, holder, other.certificate.subject_der)
    assert (status.name, fail_info, crls) == ("FAILURE", FailInfo.BAD_CERT_ID, ())


def test_revoke_by_subject_revokes_every_unrevoked_certificate_of_that_subject(
    tmp_path: Path,
) -> None:
    server = _server(tmp_path)
    first, second = _enroll(server, "CN=kiosk,O=Example"), _enroll(server, "CN=kiosk,O=Example")
    other = _enroll(server, "CN=kiosk-2,O=Example")
    operator = Operator(tmp_path / "state")
    revoked = operator.revoke_subject(
        "CN=kiosk,O=Example", reason=RevocationReason.CESSATION_OF_OPERATION, now=_now()
    )
    assert sorted(c.serial_number for c in revoked) == sorted(
        [first.certificate.serial_number, second.certificate.serial_number]
    )
    listed = {entry.serial_number for entry in read_crl(_http_crl(server)).revoked}
    assert other.certificate.serial_number not in listed
    assert listed == {first.certificate.serial_number, second.certificate.serial_number}
    with pytest.raises(ServeConfigError, match="no unexpired, unrevoked certificate"):
        operator.revoke_subject("CN=kiosk,O=Example", now=_now())


def test_a_revocation_stands_revoking_again_is_refused_and_changes_nothing(
    tmp_path: Path,
) -> None:
    server = _server(tmp_path)
    holder = _enroll(server, "CN=twice")
    operator = Operator(tmp_path / "state")
    serial = holder.certificate.serial_number
    operator.revoke(serial, reason=RevocationReason.SUPERSEDED, now=_now())
    with pytest.raises(ServeConfigError, match=r"was revoked at .* \(superseded\)"):
        operator.revoke(serial, reason=RevocationReason.KEY_COMPROMISE, now=_now())
    (entry,) = read_crl(_http_crl(server)).revoked
    assert entry.reason is RevocationReason.SUPERSEDED


def test_issued_certificates_name_the_crl_url_and_the_server_serves_it_there(
    tmp_path: Path,
) -> None:
    server = _server(tmp_path, crl_url=CRL_URL)
    holder = _enroll(server, "CN=pointed")
    distribution = holder.certificate.to_cryptography().extensions.get_extension_for_oid(
        ExtensionOID.CRL_DISTRIBUTION_POINTS
    )
    names = [name.value for point in distribution.value for name in point.full_name]
    assert names == [CRL_URL]
    assert read_crl(_http_crl(server, "/pki/ca.crl")).number == 1
    # The SCEP path is still SCEP.
    assert server.handle("GET", "/pki/ca.crl", "operation=GetCACaps", b"").status == 200
    assert server.handle("GET", CRL_PATH, "", b"").status != 200


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"crl_days": 0}, "a CRL is valid from 1 to"),
        ({"crl_days": MAX_CRL_DAYS + 1}, "a CRL is valid from 1 to"),
        ({"crl_url": "ftp://ca.example/crl"}, "an http:// or https:// URL with a path"),
        ({"crl_url": "http://ca.example"}, "an http:// or https:// URL with a path"),
        ({"crl_url": "/crl"}, "an http:// or https:// URL with a path"),
    ],
)
def test_crl_options_are_checked_before_a_server_starts(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ServeConfigError, match=message):
        check_options(ServeOptions(tmp_path, challenge=CHALLENGE, **options))


def test_the_crl_options_come_from_the_environment_too(tmp_path: Path) -> None:
    options = options_from_environment(
        {
            "PYSCEP_STATE_DIR": str(tmp_path),
            "PYSCEP_CHALLENGE": CHALLENGE,
            "PYSCEP_CRL_URL": CRL_URL,
            "PYSCEP_CRL_DAYS": "2",
        }
    )
    assert (options.crl_url, options.crl_days) == (CRL_URL, 2)


def test_build_crl_refuses_what_no_crl_can_say() -> None:
    signer = make_identity("CRL CA", now=_now(), ca=True).signer
    now = _now()
    with pytest.raises(pyscep.LocalProtocolError, match="positive"):
        build_crl(signer, [], number=0, this_update=now, next_update=now + timedelta(days=1))
    with pytest.raises(pyscep.LocalProtocolError, match="after its thisUpdate"):
        build_crl(signer, [], number=1, this_update=now, next_update=now)
    with pytest.raises(pyscep.ParseError):
        read_crl(b"\x30\x03\x02\x01\x01")


def test_every_reason_has_its_rfc_name_and_back() -> None:
    names = [reason.rfc_name for reason in RevocationReason]
    assert names == [
        "unspecified",
        "keyCompromise",
        "cACompromise",
        "affiliationChanged",
        "superseded",
        "cessationOfOperation",
        "certificateHold",
        "removeFromCRL",
        "privilegeWithdrawn",
        "aACompromise",
    ]
    assert all(RevocationReason.from_rfc_name(n.upper()).rfc_name == n for n in names)
    with pytest.raises(ValueError, match="not a revocation reason"):
        RevocationReason.from_rfc_name("lost")


# --- pyscep serve, pyscep client and openssl ----------------------------------------------


@pytest.mark.external
def test_openssl_checks_the_served_crl_and_a_revoked_holder_cannot_renew(tmp_path: Path) -> None:
    config = tmp_path / "serve.toml"
    config.write_text("crl_days = 3\n")
    served = Served(
        tmp_path, "--config", str(config), "--crl-url", "http://127.0.0.1:{port}/ca.crl"
    )
    try:
        _openssl_round(served, tmp_path)
    finally:
        served.stop()


def _openssl_round(served: Served, tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    ca = tmp_path / "state" / "ca.pem"
    for name in ("lost", "kept"):
        enrolled = run_pyscep(
            "client", "enroll", served.url, "--subject", f"CN={name},O=Example",
            "--challenge", CHALLENGE, "--key-out", str(tmp_path / f"{name}.key"),
            "--cert-out", str(tmp_path / f"{name}.pem"), "--ca-fingerprint", served.fingerprint(),
        )  # fmt: skip
        assert enrolled.returncode == 0, enrolled.stderr
    # Where the certificate says its CRL is: fetched from there, as a relying party does.
    points = openssl(["x509", "-in", str(tmp_path / "lost.pem"), "-noout", "-ext",
                      "crlDistributionPoints"]).decode()  # fmt: skip
    url = re.search(r"URI:(\S+)", points)
    assert url is not None
    assert url.group(1) == f"http://127.0.0.1:{served.port}/ca.crl"
    revoked = run_pyscep("serve", "revoke", "--state-dir", state, "--subject", "CN=lost,O=Example",
                      "--reason", "keyCompromise")  # fmt: skip
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked (keyCompromise): " in revoked.stdout
    with urllib.request.urlopen(url.group(1), timeout=30) as answer:  # noqa: S310 - loopback
        assert answer.headers["Content-Type"] == "application/pkix-crl"
        fetched = answer.read()
    (tmp_path / "crl.pem").write_text(crl_to_pem(fetched))
    text = openssl(["crl", "-inform", "DER", "-noout", "-text"], data=fetched).decode()
    lost = Certificate.load((tmp_path / "lost.pem").read_bytes())
    assert f"Serial Number: {lost.serial_number:X}".upper() in text.upper()
    assert "Key Compromise" in text
    assert re.search(r"X509v3 CRL Number: *\n *1\b", text)
    facts = read_crl(fetched)
    assert facts.next_update == facts.this_update + timedelta(days=3)  # from --config
    # The CRL's signature, by the CA (openssl prints its verdict on stderr).
    checked = subprocess.run(
        ["openssl", "crl", "-in", str(tmp_path / "crl.pem"), "-CAfile", str(ca), "-noout"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "verify OK" in checked.stdout + checked.stderr
    for name, expected in (("kept", ": OK"), ("lost", "certificate revoked")):
        verdict = subprocess.run(
            ["openssl", "verify", "-crl_check", "-CAfile", str(ca), "-CRLfile",
             str(tmp_path / "crl.pem"), str(tmp_path / f"{name}.pem")],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert expected in verdict.stdout + verdict.stderr, (name, verdict)
    # GetCRL by pyscep client and `pyscep serve crl` give the same CRL.
    got = run_pyscep("client", "getcrl", served.url, "--key", str(tmp_path / "kept.key"),
                  "--cert", str(tmp_path / "kept.pem"),
                  "--out", str(tmp_path / "got.crl"))  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "got.crl").read_bytes() == fetched
    printed = run_pyscep("serve", "crl", "--state-dir", state)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == crl_to_pem(fetched)
    # The revoked holder cannot renew; the other one can.
    outcomes = {"lost": (4, "badCertId the request is not a valid renewal"), "kept": (0, "")}
    for name, (code, said) in outcomes.items():
        renewed = run_pyscep("client", "renew", served.url, "--key", str(tmp_path / f"{name}.key"),
                          "--cert", str(tmp_path / f"{name}.pem"), "--key-out",
                          str(tmp_path / f"{name}-2.key"), "--cert-out",
                          str(tmp_path / f"{name}-2.pem"))  # fmt: skip
        assert renewed.returncode == code, (name, renewed.stdout, renewed.stderr)
        assert said in renewed.stdout


@pytest.mark.external
def test_serve_revoke_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    served = Served(tmp_path)
    served.stop()
    state = str(tmp_path / "state")
    for arguments, message in (
        ((), "a SERIAL or --subject DN"),
        (("12", "--subject", "CN=x"), "a SERIAL or --subject DN"),
        (("12", "--reason", "lost"), "not a revocation reason"),
        (("twelve",), "not a serial number"),
        (("12",), "no certificate with serial 12"),
        (("--subject", "CN=nobody"), "no unexpired, unrevoked certificate"),
    ):
        refused = run_pyscep("serve", "revoke", "--state-dir", state, *arguments)
        assert (refused.returncode, refused.stdout) == (2, ""), arguments
        assert message in refused.stderr, (arguments, refused.stderr)
    # A serial alone, without the state: the lone argument is not taken for a directory.
    refused = run_pyscep("serve", "revoke", "12")
    assert refused.returncode == 2
    assert "revoke 12: the state too (--state-dir DIR or --state-url URL)" in refused.stderr
    refused = run_pyscep("serve", "crl", "--state-dir", state, "--crl-days", "0")
    assert refused.returncode == 2
    assert "a CRL is valid from 1 to" in refused.stderr


# --- what an independent review found ------------------------------------------------------


class _RevokedWhileReading:
    """A store in which, the first time a host reads the latest CRL, the operator revokes
    a certificate and another host publishes the CRL listing it: the interleaving in which
    a host that had read the revocations first would publish a newer CRL without it."""

    def __init__(self, store: Any, meanwhile: Any) -> None:
        self.store = store
        self.meanwhile = meanwhile

    def latest_crl(self) -> Any:
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
        return self.store.latest_crl()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_a_newer_crl_never_leaves_out_a_revocation_another_host_published(tmp_path: Path) -> None:
    from pyscep.server import current_crl

    server = _server(tmp_path)
    holder = _enroll(server, "CN=raced")
    now = _now()

    def revoke_and_publish_elsewhere() -> None:
        Operator(tmp_path / "state").revoke(holder.certificate.serial_number, now=now)
        current_crl(server.store, server.files.ca, now=now, days=7)  # the other host

    racing = _RevokedWhileReading(server.store, revoke_and_publish_elsewhere)
    served = current_crl(racing, server.files.ca, now=now, days=7)
    latest = server.store.latest_crl()
    assert latest is not None
    listed = [entry.serial_number for entry in read_crl(latest.der).revoked]
    assert listed == [holder.certificate.serial_number]
    assert served == latest


def test_a_crl_signed_by_another_key_is_not_served_after_the_ca_changed(tmp_path: Path) -> None:
    from pyscep.server import current_crl
    from pyscep.server.stores import MemoryStore

    store = MemoryStore()
    now = _now()
    old = make_identity("Rolled CA", now=now, ca=True)
    new = make_identity("Rolled CA", now=now, ca=True)  # the same name, another key
    first = current_crl(store, old.signer, now=now, days=7)
    second = current_crl(store, new.signer, now=now, days=7)
    assert (first.number, second.number) == (1, 2)
    key = new.certificate.to_cryptography().public_key()
    assert x509.load_der_x509_crl(second.der).is_signature_valid(key)


def test_a_get_storm_reads_no_revocation_while_nothing_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = _server(tmp_path)
    holder = _enroll(server, "CN=stormed")
    first = _http_crl(server)
    reads: list[int] = []
    revocations = server.store.revocations

    def counted() -> Any:
        reads.append(1)
        return revocations()

    monkeypatch.setattr(server.store, "revocations", counted)
    assert [_http_crl(server) for _ in range(20)] == [first] * 20
    assert reads == []
    Operator(tmp_path / "state").revoke(holder.certificate.serial_number)
    assert read_crl(_http_crl(server)).revoked[0].serial_number == holder.certificate.serial_number
    assert reads == [1]


@pytest.mark.parametrize("reason", ["removeFromCRL", "certificateHold"])
def test_a_reason_that_would_not_stand_is_refused(tmp_path: Path, reason: str) -> None:
    server = _server(tmp_path)
    holder = _enroll(server, "CN=held")
    operator = Operator(tmp_path / "state")
    with pytest.raises(ServeConfigError, match=f"{reason} cannot be given"):
        operator.revoke(
            holder.certificate.serial_number, reason=RevocationReason.from_rfc_name(reason)
        )
    assert read_crl(_http_crl(server)).revoked == ()
    signer = make_identity("CRL CA", now=_now(), ca=True).signer
    entry = RevokedCertificate(5, _now(), RevocationReason.REMOVE_FROM_CRL)
    with pytest.raises(pyscep.LocalProtocolError, match="delta CRLs only"):
        build_crl(signer, [entry], number=1, this_update=_now(), next_update=_now() + timedelta(1))


def test_an_approval_elsewhere_names_the_servers_crl_too(tmp_path: Path) -> None:
    server = _server(tmp_path, manual=True, crl_url=CRL_URL)
    now = _now()
    key = pyscep.load_private_key(make_identity("waits", now=now).key_der)
    built = build_pkcs_req(
        build_csr(key, "CN=waits", challenge_password=CHALLENGE),
        signer=self_signed_signer(key, "CN=waits", now=now),
        recipient=server.files.ca.certificate,
    )
    server.handle("POST", "/scep", "operation=PKIOperation", built.der)
    operator = Operator(tmp_path / "state")  # knows nothing of --crl-url
    (waiting,) = operator.pending()
    approved = operator.approve(waiting.transaction_id, now=now)
    points = approved.to_cryptography().extensions.get_extension_for_oid(
        ExtensionOID.CRL_DISTRIBUTION_POINTS
    )
    assert [name.value for point in points.value for name in point.full_name] == [CRL_URL]


def test_the_crl_is_counted_as_crl_in_the_metrics(tmp_path: Path) -> None:
    from pyscep.server import AdminApplication

    server = _server(tmp_path, crl_url="http://ca.example/pki%20crl/ca.crl")
    assert server.handle("GET", "/pki crl/ca.crl", "", b"").status == 200  # decoded PATH_INFO
    scraped = AdminApplication(server).handle("GET", "/metrics", "", b"").body.decode()
    assert 'pyscep_requests_total{operation="crl",outcome="crl"} 1.0' in scraped


def test_only_a_get_of_the_crl_path_is_the_crl(tmp_path: Path) -> None:
    server = _server(tmp_path)
    asked = server.handle("GET", "/scep", "operation=crl", b"")
    assert asked.content_type != "application/pkix-crl"
    assert server.handle("POST", CRL_PATH, "", b"x").content_type != "application/pkix-crl"
