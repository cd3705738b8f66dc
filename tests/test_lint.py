"""``pyscep lint`` (issue 23, part 5): each check has a setup with exactly that flaw,
which it must report, and the setup without it, which it must not."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pyscep import Certificate, DigestAlgorithm
from pyscep.messages import CACaps
from pyscep.messages import identity as pyscep_identity
from pyscep.protocol import STRICT
from pyscep.protocol.lint import PLATFORMS, LintReport, Severity, lint_setup
from pyscep.server import ReferenceServer, ServeOptions
from pyscep.testing import make_identity
from tests.support.helpers import current_time, key_usage
from tests.support.served import CHALLENGE, Served, run_pyscep

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
RSA_ONLY = {"windows", "apple", "android", "cisco-ios", "sscep", "micromdm"}

_KEYS: dict[str, Any] = {}


def _key(kind: str) -> Any:
    if kind not in _KEYS:
        _KEYS[kind] = (
            ec.generate_private_key(ec.SECP256R1())
            if kind == "ec"
            else rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
        )
    return _KEYS[kind]


def _certificate(
    name: str,
    *,
    key: str = "rsa2048",
    issuer: tuple[Any, x509.Name] | None = None,
    ca: bool = False,
    usage: set[str] | None = None,
    days: int = 365,
    start: datetime = NOW - timedelta(days=1),
    digest: Any = None,
) -> tuple[Certificate, tuple[Any, x509.Name]]:
    private = _key(key) if not name.startswith("other") else rsa.generate_private_key(65537, 2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer_key, issuer_name = issuer or (private, subject)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(key_usage(usage), critical=True)
    signed = builder.sign(signer_key, digest or hashes.SHA256())
    return Certificate.load(signed.public_bytes(serialization.Encoding.DER)), (private, subject)


CA, CA_ISSUER = _certificate("CA", ca=True, usage={"key_cert_sign", "crl_sign"})


def _sha1_signed_ca() -> Certificate:
    """A CA certificate signed with SHA-1 (pyca/cryptography's builder no longer signs
    one: pyscep's writer does, with the digest it is told)."""
    identity = make_identity("SHA-1 CA", now=NOW, ca=True)
    spki = keys.PublicKeyInfo.load(identity.certificate.public_key_der)
    name = asn1_x509.Name.load(identity.certificate.subject_der)
    return pyscep_identity._certificate(
        issuer_key=identity.signer,
        issuer_spki=spki,
        issuer_name=name,
        subject_name=name,
        subject_spki=spki,
        serial_number=7,
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=365),
        ca=True,
        key_usage={"key_cert_sign"},
        digest=DigestAlgorithm.SHA1,
    )


def _checks(report: LintReport, platform: str) -> set[tuple[str, Severity]]:
    return {(f.check, f.severity) for f in report.for_platform(platform)}


def _lint(ca: Certificate = CA, ras: tuple[Certificate, ...] = (), **kwargs: Any) -> LintReport:
    kwargs.setdefault("caps", STRICT.advertised_caps)
    kwargs.setdefault("profile", STRICT)
    return lint_setup(ca, ras, now=NOW, **kwargs)


def test_a_sound_rsa_setup_has_nothing_to_say() -> None:
    report = _lint()
    assert report.findings == ()
    assert report.platforms == tuple(PLATFORMS)
    assert report.as_dict() == {name: [] for name in PLATFORMS}


def test_an_ec_ca_fails_the_rsa_only_platforms_until_it_has_an_rsa_ra() -> None:
    ec_ca, ec_issuer = _certificate("EC CA", key="ec", ca=True, usage={"key_cert_sign"})
    report = _lint(ec_ca)
    failing = {f.platform for f in report.failures() if f.check == "encryption"}
    assert failing == RSA_ONLY  # strongSwan envelopes to EC keys too
    ra, _ = _certificate(
        "RSA RA", issuer=ec_issuer, usage={"digital_signature", "key_encipherment"}
    )
    assert not any(f.check == "encryption" for f in _lint(ec_ca, (ra,)).findings)


def test_apple_wants_ras_with_one_usage_each_and_scepclient_a_selector() -> None:
    both, _ = _certificate("RA", issuer=CA_ISSUER, usage={"digital_signature", "key_encipherment"})
    report = _lint(CA, (both,))
    assert ("ra-key-usage", Severity.WARN) in _checks(report, "apple")
    assert ("ra-selection", Severity.WARN) not in _checks(report, "micromdm")
    signing, _ = _certificate("RA sign", issuer=CA_ISSUER, usage={"digital_signature"})
    encrypting, _ = _certificate("RA enc", issuer=CA_ISSUER, usage={"key_encipherment"})
    report = _lint(CA, (signing, encrypting))
    assert ("ra-key-usage", Severity.WARN) not in _checks(report, "apple")
    assert ("ra-selection", Severity.WARN) in _checks(report, "micromdm")
    assert report.failures() == ()


def test_old_cisco_images_want_sha1_and_3des_advertised() -> None:
    modern = CACaps.of(["AES", "POSTPKIOperation", "SCEPStandard", "SHA-256"])
    assert _checks(_lint(caps=modern), "cisco-ios") == {
        ("digest", Severity.WARN),
        ("cipher", Severity.WARN),
    }
    assert _checks(_lint(caps=CACaps.of(["DES3", "SHA-1", "SHA-256"])), "cisco-ios") == set()


def test_sscep_needs_aes_or_3des_and_an_econtent() -> None:
    assert ("cipher", Severity.FAIL) in _checks(_lint(caps=CACaps.of(["SHA-256"])), "sscep")
    assert ("cipher", Severity.FAIL) not in _checks(_lint(caps=CACaps.of(["DES3"])), "sscep")
    absent = replace(STRICT, name="absent", empty_econtent=False)
    assert ("cert-rep", Severity.FAIL) in _checks(_lint(profile=absent), "sscep")
    assert ("cert-rep", Severity.FAIL) not in _checks(_lint(), "sscep")


def test_strongswan_wants_sha384_beside_aes() -> None:
    caps = CACaps.of(["AES", "SHA-256"])
    assert _checks(_lint(caps=caps), "strongswan") == {("caps", Severity.WARN)}
    assert _checks(_lint(caps=CACaps.of(["AES", "SHA-384"])), "strongswan") == set()


@pytest.mark.parametrize(
    ("setup", "check", "severity"),
    [
        ("expired CA", "ca-validity", Severity.FAIL),
        ("CA expiring in ten days", "ca-validity", Severity.WARN),
        ("CA without keyCertSign", "ca-key-usage", Severity.FAIL),
        ("RA signed by another key", "ra-issuer", Severity.FAIL),
        ("expired RA", "ra-validity", Severity.FAIL),
        ("RSA-1024 CA", "key-size", Severity.WARN),
        ("SHA-1 signed CA", "signature", Severity.WARN),
        ("intermediate without chain", "chain", Severity.WARN),
        ("no caps", "caps", Severity.WARN),
    ],
)
def test_what_every_platform_shares(setup: str, check: str, severity: Severity) -> None:
    ca, caps = CA, STRICT.advertised_caps
    ras: tuple[Certificate, ...] = ()
    if setup == "expired CA":
        ca, _ = _certificate("CA", ca=True, start=NOW - timedelta(days=400))
    elif setup == "CA expiring in ten days":
        ca, _ = _certificate("CA", ca=True, start=NOW - timedelta(days=355))
    elif setup == "CA without keyCertSign":
        ca, _ = _certificate("CA", ca=True, usage={"digital_signature"})
    elif setup == "RA signed by another key":
        _, stranger = _certificate("other CA", ca=True)
        ras = (_certificate("RA", issuer=(stranger[0], CA_ISSUER[1]))[0],)
    elif setup == "expired RA":
        ras = (_certificate("RA", issuer=CA_ISSUER, start=NOW - timedelta(days=30), days=10)[0],)
    elif setup == "RSA-1024 CA":
        ca, _ = _certificate("small CA", key="rsa1024", ca=True)
    elif setup == "SHA-1 signed CA":
        ca = _sha1_signed_ca()
    elif setup == "intermediate without chain":
        ca, _ = _certificate("Issuing CA", ca=True, issuer=CA_ISSUER)
    else:
        caps = CACaps()
    found = {
        (f.check, f.severity) for f in _lint(ca, ras, caps=caps).findings if f.platform == "all"
    }
    assert found == {(check, severity)}
    if setup == "intermediate without chain":
        assert _lint(ca, ras, caps=caps, chain=(CA,)).findings == ()


def test_an_unknown_platform_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown platform 'palm-os'"):
        _lint(platforms=["palm-os"])


def test_pyscep_serve_runs_the_preflight_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="pyscep.serve"):
        server = ReferenceServer(
            ServeOptions(tmp_path / "state", challenge=CHALLENGE, ca_key_type="ec-p256")
        )
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("preflight:")]
    assert {line.split(":")[1].strip() for line in logged} == RSA_ONLY
    assert all("give the CA an RSA RA" in line for line in logged)
    assert server.lint(datetime.now(timezone.utc)).failures()


@pytest.mark.external
def test_the_command_on_files_a_state_and_a_live_server(tmp_path: Path) -> None:
    # The command reads the clock: a CA made now (the tests' NOW may be a year away).
    ca, _ = _certificate("CA", ca=True, start=current_time() - timedelta(days=1))
    (tmp_path / "ca.pem").write_bytes(ca.der)
    shown = run_pyscep("lint", "--ca-cert", str(tmp_path / "ca.pem"), "--caps", "SHA-256")
    assert shown.returncode == 1, shown.stderr
    assert "sscep:\n    fail: cipher: needs AES or DES3 advertised" in shown.stdout
    assert "Windows and Intune: ok" in shown.stdout
    served = Served(tmp_path, "--ca-key-type", "ec-p256")
    try:
        live = run_pyscep("lint", "--url", served.url, "--json", "--platform", "windows")
        assert live.returncode == 1, live.stderr
        (finding,) = json.loads(live.stdout)["windows"]
        assert finding["check"] == "encryption"
        state = run_pyscep(
            "lint", "--state-dir", str(tmp_path / "state"), "--platform", "strongswan"
        )
        assert (state.returncode, state.stdout) == (0, "strongSwan pki --scep: ok\n")
    finally:
        served.stop()
    missing = run_pyscep("lint", "--ca-cert", str(tmp_path / "nowhere.pem"))
    assert missing.returncode == 2


def test_an_ed25519_ca_is_no_place_to_envelope_requests_to() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ed25519 CA")])
    built = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(9)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, None)
    )
    report = _lint(Certificate.load(built.public_bytes(serialization.Encoding.DER)))
    failing = {f.platform for f in report.failures() if f.check == "encryption"}
    assert failing == set(PLATFORMS)  # strongSwan too: nothing can be enveloped to it


def test_a_signature_algorithm_nobody_here_knows_is_no_crash() -> None:
    from asn1crypto import x509 as asn1

    certificate = asn1.Certificate.load(CA.der)
    sm2 = {"algorithm": "1.2.156.10197.1.501"}
    certificate["signature_algorithm"] = sm2
    certificate["tbs_certificate"]["signature"] = sm2
    odd = Certificate.load(certificate.dump(force=True))
    assert _lint(odd).findings == ()  # nothing to say of what cannot be judged


def test_windows_nests_purposes_so_a_ca_must_allow_client_auth() -> None:
    def ca_for(purposes: list[x509.ObjectIdentifier] | None) -> Certificate:
        key = _key("rsa2048")
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "EKU CA")])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(11)
            .not_valid_before(NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        )
        if purposes is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage(purposes), critical=False)
        built = builder.sign(key, hashes.SHA256())
        return Certificate.load(built.public_bytes(serialization.Encoding.DER))

    server_only = _lint(ca_for([ExtendedKeyUsageOID.SERVER_AUTH]))
    assert {(f.platform, f.check) for f in server_only.failures()} == {
        ("windows", "ca-extended-key-usage")
    }
    assert _lint(ca_for([ExtendedKeyUsageOID.SERVER_AUTH]), platforms=["apple"]).findings == ()
    for fine in (
        [ExtendedKeyUsageOID.CLIENT_AUTH],
        [ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE],
        None,
    ):
        assert _lint(ca_for(fine)).findings == ()
