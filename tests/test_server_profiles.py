"""Issuance profiles chosen by the policy, an existing CA made with openssl (an
intermediate with its chain), and the import of what it issued before."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, ObjectIdentifier

import pyscep
from pyscep import Certificate, KeyPair, MessageType, PKIStatus
from pyscep.cms import build_certs_only
from pyscep.errors import VerificationError
from pyscep.messages import (
    build_csr,
    build_pkcs_req,
    issue_certificate,
    open_cert_rep,
    parse_ca_certificates,
    self_signed_signer,
)
from pyscep.server import (
    CAConfigError,
    ReferenceServer,
    ServeConfigError,
    ServeOptions,
    check_options,
)
from pyscep.server.profiles import IssuanceProfile, load_issuance_profiles
from pyscep.testing import make_identity
from tests.support.helpers import openssl
from tests.support.served import CHALLENGE, Served, run_pyscep

PROFILES = """
[default]
validity_days = 30
key_usage = ["digital_signature"]
extended_key_usage = ["client_auth", "1.3.6.1.4.1.311.20.2.2"]
subject_alt_names = ["dns_name:*.devices.example.com", "ip_address:10.0.0.0/8"]
crl_urls = ["http://pki.example.com/ca.crl"]
ca_issuers_urls = ["http://pki.example.com/ca.cer"]
ocsp_urls = ["http://ocsp.example.com"]

[vpn]
validity_days = 90
extended_key_usage = ["client_auth", "ipsec_ike"]
"""


def _now() -> datetime:
    return datetime.now(timezone.utc)  # the server reads the clock


def _server(tmp_path: Path, profiles: str = PROFILES, **options: Any) -> ReferenceServer:
    (tmp_path / "profiles.toml").write_text(profiles)
    options.setdefault("challenge", CHALLENGE)
    return ReferenceServer(
        ServeOptions(tmp_path / "state", issuance_profiles=tmp_path / "profiles.toml", **options)
    )


def _enroll(
    server: ReferenceServer, subject: str, names: tuple[str, ...] = ()
) -> tuple[Any, KeyPair]:
    """(the reply, the device's signer); the reply's certificate when SUCCESS."""
    now = _now()
    key = pyscep.load_private_key(make_identity(f"{subject} key", now=now).key_der)
    signer = self_signed_signer(key, subject, now=now)
    csr = build_csr(key, subject, challenge_password=CHALLENGE, subject_alt_names=names)
    built = build_pkcs_req(csr, signer=signer, recipient=server.files.ca.certificate)
    response = server.handle("POST", "/scep", "operation=PKIOperation", built.der)
    return open_cert_rep(
        response.body, signer, ca_certificates=[server.files.ca.certificate], request=built
    ), signer


def _issued(server: ReferenceServer, subject: str, names: tuple[str, ...] = ()) -> x509.Certificate:
    (reply, content), _ = _enroll(server, subject, names)
    assert reply.pki_status is PKIStatus.SUCCESS, reply
    assert content is not None
    issued: x509.Certificate = content.certificates[0].to_cryptography()
    return issued


@pytest.mark.external
def test_the_default_profile_writes_its_usages_names_and_addresses(tmp_path: Path) -> None:
    asked = ("dns_name:a.devices.example.com", "dns_name:evil.example.org", "ip_address:10.1.2.3")
    issued = _issued(_server(tmp_path), "CN=device-1,O=Example", asked)
    life = issued.not_valid_after_utc - issued.not_valid_before_utc
    assert life == timedelta(days=30, minutes=5)
    usage = issued.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.key_encipherment
    purposes = issued.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(purposes) == [
        ExtendedKeyUsageOID.CLIENT_AUTH,
        ObjectIdentifier("1.3.6.1.4.1.311.20.2.2"),
    ]
    # The names the profile's rules allow are granted; evil.example.org is not.
    names = issued.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(n.value) for n in names] == ["a.devices.example.com", "10.1.2.3"]
    points = issued.extensions.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS)
    assert "http://pki.example.com/ca.crl" in str(points.value)
    # openssl reads what the profile wrote, as relying parties will.
    text = openssl(["x509", "-noout", "-text"], data=issued.public_bytes(_PEM)).decode()
    assert "TLS Web Client Authentication, Microsoft Smartcard Login" in text
    assert "CA Issuers - URI:http://pki.example.com/ca.cer" in text
    assert "OCSP - URI:http://ocsp.example.com" in text
    assert "DNS:evil.example.org" not in text


def test_without_a_rule_for_names_a_first_enrollment_is_granted_none(tmp_path: Path) -> None:
    issued = _issued(
        _server(tmp_path, "[default]\n"), "CN=device-2", ("dns_name:a.devices.example.com",)
    )
    with pytest.raises(x509.ExtensionNotFound):
        issued.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    # No keyUsage in the profile: the key type's (RSA: digitalSignature, keyEncipherment).
    usage = issued.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert usage.key_encipherment
    with pytest.raises(x509.ExtensionNotFound):
        issued.extensions.get_extension_for_class(x509.ExtendedKeyUsage)


def _policy(tmp_path: Path, role: str) -> Path:
    conf = tmp_path / "scep.conf"
    conf.write_text(f'ScepAutoApproveEnrollment "YES"\nScepDefaultRole "{role}"\n')
    return conf


def test_the_policys_role_chooses_the_profile(tmp_path: Path) -> None:
    server = _server(tmp_path, policy=_policy(tmp_path, "vpn"))
    issued = _issued(server, "CN=gateway-1")
    purposes = issued.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(purposes) == [
        ExtendedKeyUsageOID.CLIENT_AUTH,
        ObjectIdentifier("1.3.6.1.5.5.7.3.17"),
    ]
    life = issued.not_valid_after_utc - issued.not_valid_before_utc
    assert life == timedelta(days=90, minutes=5)


def test_a_role_without_a_profile_is_refused_never_issued_on_another(tmp_path: Path) -> None:
    server = _server(tmp_path, policy=_policy(tmp_path, "printer"))
    (reply, content), _ = _enroll(server, "CN=printer-1")
    assert reply.pki_status is PKIStatus.FAILURE
    assert content is None
    assert server.store.issued() == []


def test_an_approval_issues_on_the_profile_decided_with_the_request(tmp_path: Path) -> None:
    server = _server(tmp_path, manual=True)
    (reply, _), _ = _enroll(server, "CN=device-3", ("dns_name:b.devices.example.com",))
    assert reply.pki_status is PKIStatus.PENDING
    [waiting] = server.store.pending()
    # Approved by a server started without the profiles: the decided terms stand.
    plain = ReferenceServer(ServeOptions(tmp_path / "state", challenge=CHALLENGE))
    issued = plain.approve(waiting.transaction_id, now=_now()).to_cryptography()
    assert issued.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    names = issued.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(n.value) for n in names] == ["b.devices.example.com"]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[vpn]\n", "no [default] profile"),
        ("[default]\nvalidity = 3\n", "default.validity: unknown key"),
        ("[default]\nvalidity_days = 0\n", "default.validity_days: from 1 to"),
        ("[default]\nkey_usage = ['key_cert_sign']\n", "default.key_usage ['key_cert_sign']"),
        ("[default]\nextended_key_usage = ['clientAuth']\n", "extendedKeyUsage 'clientAuth'"),
        ("[default]\nsubject_alt_names = ['dns:*.example']\n", "default.subject_alt_names"),
        ("[default]\ncrl_urls = ['file:///etc/passwd']\n", "default.crl_urls"),
        ("[default]\nocsp_urls = 'http://x'\n", "default.ocsp_urls must be a list"),
        ("default = 1\n", "default must be a table"),
        ("[default\n", "is not TOML"),
    ],
)
def test_profiles_are_checked_before_a_server_starts(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(text)
    with pytest.raises(ServeConfigError, match=r"profiles\.toml") as raised:
        check_options(ServeOptions(tmp_path, challenge=CHALLENGE, issuance_profiles=path))
    assert said in str(raised.value)
    with pytest.raises(ServeConfigError):
        load_issuance_profiles(path)


# --- an existing CA made with openssl -----------------------------------------------------

_PEM = Encoding.PEM

_CA_EXTENSIONS = "basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n"
_DEVICE_EXTENSIONS = (
    "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n"
)


def _openssl_ca(work: Path) -> None:
    """root.pem (self-signed), inter.pem/inter.key signed by it, and device.pem issued by
    the intermediate before pyscep serves it; other.pem issued by the root itself."""
    (work / "ca.ext").write_text(_CA_EXTENSIONS)
    (work / "device.ext").write_text(_DEVICE_EXTENSIONS)
    for name in ("root", "inter", "device", "other"):
        openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                 "-out", str(work / f"{name}.key")])  # fmt: skip
    openssl(["req", "-x509", "-new", "-key", str(work / "root.key"), "-subj",
             "/O=Example/CN=Example Root CA", "-days", "3650", "-addext",
             "basicConstraints=critical,CA:true", "-addext",
             "keyUsage=critical,keyCertSign,cRLSign",
             "-out", str(work / "root.pem")])  # fmt: skip
    for name, subject, issuer, extensions in (
        ("inter", "/O=Example/CN=Example Issuing CA", "root", "ca.ext"),
        ("device", "/O=Example/CN=laptop-7", "inter", "device.ext"),
        ("other", "/O=Example/CN=laptop-8", "root", "device.ext"),
    ):
        openssl(["req", "-new", "-key", str(work / f"{name}.key"), "-subj", subject,
                 "-out", str(work / f"{name}.csr")])  # fmt: skip
        openssl(["x509", "-req", "-in", str(work / f"{name}.csr"), "-CA",
                 str(work / f"{issuer}.pem"), "-CAkey", str(work / f"{issuer}.key"),
                 "-CAcreateserial", "-days", "365", "-extfile", str(work / extensions),
                 "-out", str(work / f"{name}.pem")])  # fmt: skip


def _existing_ca(work: Path, name: str, *, chain: str) -> ReferenceServer:
    """A server of openssl's CA ``name`` (``name``.pem and .key) with the chain file
    ``chain``.pem."""
    return ReferenceServer(
        ServeOptions(
            work / "state",
            challenge=CHALLENGE,
            ca_cert=work / f"{name}.pem",
            ca_key=str(work / f"{name}.key"),
            ca_chain=work / f"{chain}.pem",
        )
    )


def _verify(work: Path, certificate: Path) -> str:
    checked = subprocess.run(
        ["openssl", "verify", "-CAfile", str(work / "root.pem"), "-untrusted",
         str(work / "inter.pem"), str(certificate)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return checked.stdout + checked.stderr


@pytest.mark.external
def test_a_chain_that_does_not_lead_up_from_the_ca_is_refused(tmp_path: Path) -> None:
    _openssl_ca(tmp_path)
    with pytest.raises(CAConfigError, match="is not on the path from"):
        _existing_ca(tmp_path, "inter", chain="device")  # not the intermediate's issuer
    with pytest.raises(ServeConfigError, match="--ca-chain goes with an existing CA"):
        check_options(ServeOptions(tmp_path, challenge=CHALLENGE, ca_chain=tmp_path / "root.pem"))


@pytest.mark.external
def test_an_intermediate_made_with_openssl_issues_and_renews_what_it_issued_before(
    tmp_path: Path,
) -> None:
    work = tmp_path
    _openssl_ca(work)
    served = Served(
        work, "--ca-cert", str(work / "inter.pem"), "--ca-key", str(work / "inter.key"),
        "--ca-chain", str(work / "root.pem"),
    )  # fmt: skip
    try:
        _intermediate_round(work, served)
    finally:
        served.stop()


def _intermediate_round(work: Path, served: Served) -> None:
    state = str(work / "state")
    root = Certificate.load((work / "root.pem").read_bytes())
    # A client that pins the root enrolls with the intermediate, which openssl chains.
    enrolled = run_pyscep(
        "client", "enroll", served.url, "--subject", "CN=laptop-9,O=Example",
        "--challenge", CHALLENGE, "--key-out", str(work / "new.key"),
        "--cert-out", str(work / "new.pem"), "--ca-fingerprint", root.sha256_fingerprint.hex(),
    )  # fmt: skip
    assert enrolled.returncode == 0, enrolled.stderr
    assert "new.pem: OK" in _verify(work, work / "new.pem")
    # What openssl issued before: not renewable until imported.
    renew = (
        "client", "renew", served.url, "--key", str(work / "device.key"),
        "--cert", str(work / "device.pem"), "--key-out", str(work / "device-2.key"),
        "--cert-out", str(work / "device-2.pem"),
    )  # fmt: skip
    refused = run_pyscep(*renew)
    assert refused.returncode != 0
    assert "badCertId" in refused.stdout
    imported = run_pyscep(
        "serve", "import", "--state-dir", state, "--ca-cert", str(work / "inter.pem"),
        str(work / "device.pem"),
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    device = Certificate.load((work / "device.pem").read_bytes())
    assert f"serial {device.serial_number} imported: " in imported.stdout
    # Several files at once; what the server issued itself is in the inventory already.
    again = run_pyscep("serve", "import", "--state-dir", state, "--ca-cert",
                       str(work / "inter.pem"), str(work / "device.pem"),
                       str(work / "new.pem"))  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already in the inventory") == 2
    # One the root signed is not this CA's: refused, and nothing is imported.
    stray = run_pyscep("serve", "import", "--state-dir", state, "--ca-cert",
                    str(work / "inter.pem"), str(work / "other.pem"))  # fmt: skip
    assert stray.returncode == 2
    assert "was not signed by the CA" in stray.stderr
    renewed = run_pyscep(*renew)
    assert renewed.returncode == 0, (renewed.stdout, renewed.stderr)
    assert "device-2.pem: OK" in _verify(work, work / "device-2.pem")
    successor = Certificate.load((work / "device-2.pem").read_bytes())
    assert successor.subject == device.subject
    # The imported certificate is in the inventory like any other: it can be revoked.
    revoked = run_pyscep("serve", "revoke", "--state-dir", state, str(device.serial_number))
    assert revoked.returncode == 0, revoked.stderr


@pytest.mark.external
def test_get_ca_cert_sends_the_chain_and_a_client_pinning_the_root_picks_the_intermediate(
    tmp_path: Path,
) -> None:
    _openssl_ca(tmp_path)
    server = _existing_ca(tmp_path, "inter", chain="root")
    body = server.handle("GET", "/scep", "operation=GetCACert", b"").body
    root = Certificate.load((tmp_path / "root.pem").read_bytes())
    inter = Certificate.load((tmp_path / "inter.pem").read_bytes())
    chosen = parse_ca_certificates(body, now=_now(), ca_fingerprint=root.sha256_fingerprint)
    assert set(chosen.certificates) == {inter, root}  # a SET OF: DER orders it, not we
    assert (chosen.ca, chosen.encryption) == (inter, inter)
    unpinned = parse_ca_certificates(body, now=_now())
    assert unpinned.ca == inter
    # A pin the chain does not lead to is refused, as before.
    stranger = Certificate.load((tmp_path / "other.pem").read_bytes())
    with pytest.raises(VerificationError, match="pinned"):
        parse_ca_certificates(body, now=_now(), ca_fingerprint=stranger.sha256_fingerprint)


# --- what the review found: old policies, renewals, wildcards, pins ------------------------


def test_a_policy_role_without_a_profiles_file_is_issued_as_before(tmp_path: Path) -> None:
    conf = _policy(tmp_path, "User")  # OpenCA's roles predate profiles
    server = ReferenceServer(ServeOptions(tmp_path / "state", challenge=CHALLENGE, policy=conf))
    assert _issued(server, "CN=user-1").extensions.get_extension_for_class(x509.KeyUsage)


def test_a_renewal_keeps_the_profile_its_certificate_was_issued_on(tmp_path: Path) -> None:
    (reply, content), signer = _enroll(
        _server(tmp_path, policy=_policy(tmp_path, "vpn")), "CN=gateway-2"
    )
    assert content is not None
    holder = KeyPair(signer.key, content.certificates[0])
    # The same state served without the policy: a request would get [default]...
    server = _server(tmp_path)
    now = _now()
    key = pyscep.load_private_key(make_identity("gateway-2 next", now=now).key_der)
    built = build_pkcs_req(
        build_csr(key, "CN=gateway-2"),
        signer=holder,
        recipient=server.files.ca.certificate,
        message_type=MessageType.RENEWAL_REQ,
    )
    response = server.handle("POST", "/scep", "operation=PKIOperation", built.der)
    reply, renewed = open_cert_rep(
        response.body, holder, ca_certificates=[server.files.ca.certificate], request=built
    )
    assert reply.pki_status is PKIStatus.SUCCESS, reply
    assert renewed is not None
    # ...but the renewal is issued on vpn, the profile of the certificate it renews.
    issued = renewed.certificates[0].to_cryptography()
    purposes = issued.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ObjectIdentifier("1.3.6.1.5.5.7.3.17") in list(purposes)


def test_a_name_rule_grants_neither_wildcards_nor_deeper_or_empty_labels() -> None:
    profile = IssuanceProfile(
        subject_alt_names=(
            "dns_name:*.devices.example.com",
            "rfc822_name:*@example.com",
            "uniform_resource_identifier:https://id.example.com/*",
        )
    )
    granted = [
        "dns_name:a.devices.example.com",
        "dns_name:A.Devices.Example.COM",
        "rfc822_name:first.last@example.com",
        "uniform_resource_identifier:https://id.example.com/device-7",
    ]
    refused = [
        "dns_name:*.devices.example.com",  # a wildcard certificate
        "dns_name:a.b.devices.example.com",  # "*" is one label
        "dns_name:.devices.example.com",
        "dns_name:a..devices.example.com",
        "dns_name:devices.example.com",
        "dns_name:evil-devices.example.com",
        "rfc822_name:a@b@example.com",
        "uniform_resource_identifier:https://id.example.com/a/b",
        "ip_address:10.0.0.1",  # no rule for the kind
    ]
    assert profile.granted(granted + refused) == (tuple(granted), tuple(refused))


@pytest.mark.external
def test_a_pinned_root_over_two_lowest_cas_is_refused_not_chosen_by_order(
    tmp_path: Path,
) -> None:
    _openssl_ca(tmp_path)
    # A sister CA under the same root: whoever holds its key must not get the requests.
    openssl(["req", "-new", "-key", str(tmp_path / "other.key"), "-subj", "/CN=Sister CA",
             "-out", str(tmp_path / "sister.csr")])  # fmt: skip
    openssl(["x509", "-req", "-in", str(tmp_path / "sister.csr"), "-CA",
             str(tmp_path / "root.pem"), "-CAkey", str(tmp_path / "root.key"),
             "-CAcreateserial", "-days", "365", "-extfile", str(tmp_path / "ca.ext"),
             "-out", str(tmp_path / "sister.pem")])  # fmt: skip
    root, inter, sister = (
        Certificate.load((tmp_path / f"{name}.pem").read_bytes())
        for name in ("root", "inter", "sister")
    )
    for order in ([sister, inter, root], [inter, sister, root]):
        body = build_certs_only(order)
        with pytest.raises(VerificationError, match="pin the issuing CA"):
            parse_ca_certificates(body, now=_now(), ca_fingerprint=root.sha256_fingerprint)
        chosen = parse_ca_certificates(body, now=_now(), ca_fingerprint=inter.sha256_fingerprint)
        assert chosen.encryption == inter


def test_a_profiles_key_usage_leaves_out_what_the_key_type_cannot_do() -> None:
    now = _now()
    ca = make_identity("profile CA", now=now, ca=True)
    wanted = ("digital_signature", "key_encipherment", "key_agreement")
    for kind, kept in (("rsa", "key_encipherment"), ("ec-p256", "key_agreement")):
        device = make_identity(f"profile {kind}", now=now, key_type=kind)
        request = build_csr(pyscep.load_private_key(device.key_der), "CN=device")
        issued = issue_certificate(ca.signer, request, now=now, key_usage=wanted)
        usage = issued.to_cryptography().extensions.get_extension_for_class(x509.KeyUsage).value
        assert usage.digital_signature
        assert getattr(usage, kept)
        left_out = ({"key_encipherment", "key_agreement"} - {kept}).pop()
        assert not getattr(usage, left_out), (kind, left_out)


@pytest.mark.external
def test_a_root_given_a_chain_is_told_it_needs_none(tmp_path: Path) -> None:
    _openssl_ca(tmp_path)
    with pytest.raises(CAConfigError, match="is a root"):
        _existing_ca(tmp_path, "root", chain="inter")
