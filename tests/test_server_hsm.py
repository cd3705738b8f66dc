"""CA and RA keys that stay in a PKCS#11 token (SoftHSM2, the real module): RFC 7512 URIs,
PINs never on a command line, what the token can do, and the reference server enrolling,
renewing and publishing its CRL while the keys exist only in the token."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import pyscep
from pyscep import KeyLoadError, KeyPair
from pyscep.algorithms import DigestAlgorithm, KeyTransport, SignatureScheme
from pyscep.errors import BackendError
from pyscep.messages import (
    CACaps,
    build_csr,
    build_pkcs_req,
    open_cert_rep,
    read_crl,
    self_signed_signer,
)
from pyscep.server import CAConfigError, Operator, ReferenceServer, ServeConfigError, ServeOptions
from pyscep.server.pkcs11 import KeyCapabilities, Pkcs11Key, Pkcs11URI
from pyscep.testing import make_identity
from tests.support.helpers import pem_cert
from tests.support.softhsm import (
    MODULE,
    PIN,
    Token,
    generate,
    make_token,
    private_attributes,
    token_ca,
    token_ra,
)

pytestmark = pytest.mark.peer  # SoftHSM2 is a real component, from Debian
CHALLENGE = "hsm-challenge-secret"


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Token]:
    """One token for the module: SoftHSM2 reads SOFTHSM2_CONF once per process."""
    made = make_token(tmp_path_factory.mktemp("softhsm"))
    before = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(made.conf)
    yield made
    if before is None:
        del os.environ["SOFTHSM2_CONF"]
    else:
        os.environ["SOFTHSM2_CONF"] = before


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- the URI ------------------------------------------------------------------------------


def test_a_uri_names_token_key_module_and_pin_file() -> None:
    uri = Pkcs11URI.parse(
        "pkcs11:token=scep%20ca;object=signing;id=%01%ff;type=private"
        "?module-path=/usr/lib/x.so&pin-source=file:/etc/pyscep/pin"
    )
    assert (uri.token, uri.object, uri.id) == ("scep ca", "signing", b"\x01\xff")
    assert (uri.module_path, uri.pin_source) == (Path("/usr/lib/x.so"), Path("/etc/pyscep/pin"))


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("file:/ca.key", "starts with pkcs11:"),
        ("pkcs11:object=ca", "needs module-path"),
        ("pkcs11:object=ca?module-path=/m.so&pin-value=1234", "seen in process listings"),
        ("pkcs11:object=ca;colour=blue?module-path=/m.so", "'colour' is not one of"),
        ("pkcs11:object=ca?module-path=/m.so&pin=1234", "'pin' is not one of"),
        ("pkcs11:object=ca;model=x?module-path=/m.so", "'model' is not one of"),
        ("pkcs11:object=%ff?module-path=/m.so", "object is not UTF-8"),
        ("pkcs11:object=ca;object=ra?module-path=/m.so", "names object twice"),
        ("pkcs11:object=ca;type=public?module-path=/m.so", "must name a private key"),
        ("pkcs11:token=scep?module-path=/m.so", "must name the key"),
    ],
)
def test_a_uri_that_cannot_be_used_is_refused_with_the_reason(text: str, complaint: str) -> None:
    with pytest.raises(KeyLoadError, match=complaint):
        Pkcs11URI.parse(text)


def test_the_pin_comes_from_its_file_or_the_variable_never_empty(tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text("2468\n")
    pin_file.chmod(0o644)
    readable = Pkcs11URI.parse(f"pkcs11:object=ca?module-path=/m.so&pin-source=file:{pin_file}")
    with pytest.raises(KeyLoadError, match="may be read by others: chmod 600"):
        readable.pin({})
    pin_file.chmod(0o600)
    from_file = Pkcs11URI.parse(f"pkcs11:object=ca?module-path=/m.so&pin-source=file:{pin_file}")
    assert from_file.pin({"PYSCEP_PKCS11_PIN": "ignored"}) == "2468"
    from_variable = Pkcs11URI.parse("pkcs11:object=ca?module-path=/m.so")
    assert from_variable.pin({"PYSCEP_PKCS11_PIN": "1357"}) == "1357"
    with pytest.raises(KeyLoadError, match="an empty PIN is refused"):
        from_variable.pin({"PYSCEP_PKCS11_PIN": ""})
    missing = Pkcs11URI.parse("pkcs11:object=ca?module-path=/m.so&pin-source=/absent/pin")
    with pytest.raises(KeyLoadError, match="the PIN file /absent/pin: No such file"):
        missing.pin({})


# --- the key, in the token ------------------------------------------------------------------


def test_a_token_key_signs_and_opens_key_transport_and_says_what_it_can(token: Token) -> None:
    spki = generate(token, "operations")
    key = Pkcs11Key(Pkcs11URI.parse(token.uri("operations")), public_key_der=spki, pin=PIN)
    assert private_attributes(token, "operations") == {"sensitive": True, "extractable": False}
    assert key.capabilities == KeyCapabilities(
        frozenset({SignatureScheme.RSA_PKCS1V15, SignatureScheme.RSA_PSS}),
        frozenset({KeyTransport(), KeyTransport(DigestAlgorithm.SHA1)}),
    )
    public = serialization.load_der_public_key(spki)
    assert isinstance(public, rsa.RSAPublicKey)
    data = b"signed inside the token"
    signature = key.sign(data, DigestAlgorithm.SHA256, SignatureScheme.RSA_PKCS1V15)
    public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
    public.verify(key.sign(data, DigestAlgorithm.SHA384, SignatureScheme.RSA_PSS), data, pss,
                  hashes.SHA384())  # fmt: skip
    content_key = os.urandom(16)
    pkcs1 = public.encrypt(content_key, padding.PKCS1v15())
    assert key.decrypt_key(pkcs1, KeyTransport()) == content_key
    sha1 = hashes.SHA1()  # noqa: S303 - the OAEP every token has
    oaep = public.encrypt(content_key, padding.OAEP(padding.MGF1(sha1), sha1, None))
    assert key.decrypt_key(oaep, KeyTransport(DigestAlgorithm.SHA1)) == content_key
    with pytest.raises(BackendError, match="the token refused"):
        key.decrypt_key(oaep, KeyTransport(DigestAlgorithm.SHA256))
    with pytest.raises(pyscep.UnsupportedAlgorithmError):
        key.sign(data, DigestAlgorithm.SHA256, SignatureScheme.ECDSA)


def test_an_ec_token_key_signs_ecdsa_in_der(token: Token) -> None:
    spki = generate(token, "ec-signer", kind="ec")
    key = Pkcs11Key(Pkcs11URI.parse(token.uri("ec-signer")), public_key_der=spki, pin=PIN)
    assert key.capabilities.signature_schemes == frozenset({SignatureScheme.ECDSA})
    assert key.capabilities.key_transports == frozenset()
    data = b"an ECDSA signature, DER-encoded"
    signature = key.sign(data, DigestAlgorithm.SHA256, SignatureScheme.ECDSA)
    pyscep.get_backend().verify_signature(
        spki, signature, data, DigestAlgorithm.SHA256, SignatureScheme.ECDSA
    )


def test_a_wrong_pin_or_key_name_is_one_clear_line(token: Token) -> None:
    spki = generate(token, "guarded")
    uri = Pkcs11URI.parse(token.uri("guarded"))
    # This process is logged in to the token already (a login is the process's): another
    # PIN is refused. The token's own refusal of a wrong PIN: the command-line test below.
    with pytest.raises(KeyLoadError, match="another PIN than the one this process logged in"):
        Pkcs11Key(uri, public_key_der=spki, pin="0000-wrong")
    with pytest.raises(KeyLoadError, match="no private key 'absent'"):
        Pkcs11Key(Pkcs11URI.parse(token.uri("absent")), public_key_der=spki, pin=PIN)
    with pytest.raises(KeyLoadError, match="no token 'elsewhere'"):
        Pkcs11Key(
            Pkcs11URI.parse(f"pkcs11:token=elsewhere;object=guarded?module-path={MODULE}"),
            public_key_der=spki,
            pin=PIN,
        )


# --- the reference server with its CA in the token -------------------------------------------


def _ca_files(token: Token, directory: Path, label: str) -> Path:
    """A CA made in the token: its certificate written out (its key never is)."""
    _, certificate = token_ca(token, label, f"CN=Token CA {label},O=pyscep", now=_now())
    path = directory / f"{label}.pem"
    path.write_bytes(pem_cert(certificate))
    return path


def _enroll(server: ReferenceServer, subject: str, signer: KeyPair, key: pyscep.PrivateKey,
            kind: str = "PKCSReq") -> pyscep.Certificate:  # fmt: skip
    csr = build_csr(key, subject, challenge_password=CHALLENGE)
    recipient = (server.files.ra or server.files.ca).certificate
    message_type = (
        pyscep.MessageType.PKCS_REQ if kind == "PKCSReq" else pyscep.MessageType.RENEWAL_REQ
    )
    built = build_pkcs_req(csr, signer=signer, recipient=recipient, message_type=message_type)
    response = server.handle("POST", "/scep", "operation=PKIOperation", built.der)
    verifiers = [server.files.ca.certificate] + (
        [server.files.ra.certificate] if server.files.ra else []
    )
    reply, content = open_cert_rep(response.body, signer, ca_certificates=verifiers, request=built)
    assert content is not None, reply.fail_info
    return content.certificates[0]


def test_the_server_enrolls_renews_and_publishes_its_crl_with_the_ca_key_in_the_token(
    token: Token, tmp_path: Path
) -> None:
    certificate = _ca_files(token, tmp_path, "serving-ca")
    options = ServeOptions(
        tmp_path / "state", challenge=CHALLENGE, ca_cert=certificate, ca_key=token.uri("serving-ca")
    )
    server = ReferenceServer(options)
    assert isinstance(server.files.ca.key, Pkcs11Key)
    assert not (tmp_path / "state" / "ca.key").exists()
    now = _now()
    key = pyscep.load_private_key(make_identity("hsm device", now=now).key_der)
    issued = _enroll(
        server, "CN=hsm-device", self_signed_signer(key, "CN=hsm-device", now=now), key
    )
    ca_certificate = server.files.ca.certificate.to_cryptography()
    issued.to_cryptography().verify_directly_issued_by(ca_certificate)  # signed in the token
    new_key = pyscep.load_private_key(make_identity("hsm device 2", now=now).key_der)
    renewed = _enroll(server, "CN=hsm-device", KeyPair(key, issued), new_key, kind="RenewalReq")
    assert renewed.public_key_der == new_key.public_key_der
    Operator(tmp_path / "state", ca_cert=certificate, ca_key=token.uri("serving-ca")).revoke(
        issued.serial_number, now=now
    )
    crl = server.handle("GET", "/crl", "", b"").body
    assert [entry.serial_number for entry in read_crl(crl).revoked] == [issued.serial_number]
    assert x509.load_der_x509_crl(crl).is_signature_valid(ca_certificate.public_key())


def test_an_ra_in_the_token_opens_requests_and_signs_replies(token: Token, tmp_path: Path) -> None:
    ca_file = _ca_files(token, tmp_path, "ra-ca")
    ca_key = Pkcs11Key(
        Pkcs11URI.parse(token.uri("ra-ca")),
        public_key_der=pyscep.Certificate.load(ca_file.read_bytes()).public_key_der,
        pin=PIN,
    )
    ca = KeyPair(ca_key, pyscep.Certificate.load(ca_file.read_bytes()))
    _, ra_certificate = token_ra(token, "the-ra", ca, now=_now())
    ra_file = tmp_path / "ra.pem"
    ra_file.write_bytes(pem_cert(ra_certificate))
    options = ServeOptions(
        tmp_path / "state",
        challenge=CHALLENGE,
        ca_cert=ca_file,
        ca_key=token.uri("ra-ca"),
        ra_cert=ra_file,
        ra_key=token.uri("the-ra"),
    )
    server = ReferenceServer(options)
    assert server.files.ra is not None
    now = _now()
    key = pyscep.load_private_key(make_identity("ra device", now=now).key_der)
    issued = _enroll(server, "CN=ra-device", self_signed_signer(key, "CN=ra-device", now=now), key)
    issued.to_cryptography().verify_directly_issued_by(ca.certificate.to_cryptography())


def test_a_key_that_is_not_the_certificates_is_refused_at_start(
    token: Token, tmp_path: Path
) -> None:
    certificate = _ca_files(token, tmp_path, "one-ca")
    generate(token, "another-key")
    options = ServeOptions(
        tmp_path / "state",
        challenge=CHALLENGE,
        ca_cert=certificate,
        ca_key=token.uri("another-key"),
    )
    with pytest.raises(CAConfigError, match="the CA key does not match"):
        ReferenceServer(options)


class _OAEPOnly:
    """A key whose backend opens RSA-OAEP only, as a cloud KMS does (a real key inside)."""

    def __init__(self, key: pyscep.PrivateKey) -> None:
        self.key = key
        self.capabilities = KeyCapabilities(
            frozenset({SignatureScheme.RSA_PKCS1V15}),
            frozenset({KeyTransport(DigestAlgorithm.SHA256)}),
        )

    @property
    def public_key_der(self) -> bytes:
        return self.key.public_key_der

    def sign(self, data: bytes, digest: DigestAlgorithm, scheme: SignatureScheme) -> bytes:
        return self.key.sign(data, digest, scheme)

    def decrypt_key(self, encrypted_key: bytes, transport: KeyTransport) -> bytes:
        return self.key.decrypt_key(encrypted_key, transport)


def test_a_key_that_cannot_open_what_clients_send_is_refused_before_anything_is_signed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyscep.server import file_ca

    identity = make_identity("KMS CA", now=_now(), ca=True)
    (tmp_path / "ca.pem").write_bytes(pem_cert(identity.certificate))
    real = pyscep.load_private_key(identity.key_der)
    monkeypatch.setattr(
        file_ca, "_open_key", lambda spec, certificate, environment: _OAEPOnly(real)
    )
    with pytest.raises(CAConfigError, match="cannot open RSAES-PKCS1-v1_5"):
        file_ca.open_key_pair(tmp_path / "ca.pem", "kms:ca", role="CA", decrypts=True)
    # As a signer only (an RA opens the requests), the same key serves.
    pair = file_ca.open_key_pair(tmp_path / "ca.pem", "kms:ca", role="CA", decrypts=False)
    assert pair.certificate == identity.certificate


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"ca_cert": Path("ca.pem")}, "--ca-cert and --ca-key together"),
        ({"ra_cert": Path("ra.pem"), "ra_key": "ra.key"}, "give --ca-cert and --ca-key"),
        ({"ca_cert": Path("c"), "ca_key": "k", "ra": True}, "give --ra-cert and --ra-key"),
        ({"ca_cert": Path("c"), "ca_key": "k", "next_ca": True}, "give --ra-cert and --ra-key"),
    ],
)
def test_an_existing_ca_is_given_whole(
    tmp_path: Path, options: dict[str, object], complaint: str
) -> None:
    from pyscep.server import check_options

    with pytest.raises(ServeConfigError, match=complaint):
        check_options(ServeOptions(tmp_path, challenge=CHALLENGE, **options))  # type: ignore[arg-type]


# --- pyscep serve with its CA key in the token ---------------------------------------------


def _serve(*arguments: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyscep", "serve", *arguments],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, **environment},
    )  # fmt: skip


@pytest.mark.external
def test_pyscep_serve_refuses_a_wrong_pin_or_a_pin_on_its_command_line(
    token: Token, tmp_path: Path
) -> None:
    certificate = _ca_files(token, tmp_path, "cli-ca")
    common = ["--state-dir", str(tmp_path / "state"), "--challenge", CHALLENGE, "--port", "0",
              "--ca-cert", str(certificate)]  # fmt: skip
    wrong = tmp_path / "wrong-pin"
    wrong.write_text("0000-wrong\n")
    wrong.chmod(0o600)
    uri = token.uri("cli-ca", pin_in_uri=False) + f"&pin-source=file:{wrong}"
    refused = _serve(*common, "--ca-key", uri, environment=token.environment)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert "the token refused the PIN" in refused.stderr
    in_uri = token.uri("cli-ca", pin_in_uri=False) + "&pin-value=8642"
    refused = _serve(*common, "--ca-key", in_uri, environment=token.environment)
    assert refused.returncode == 2
    assert "would be seen in process listings" in refused.stderr
    no_pin = _serve(*common, "--ca-key", token.uri("cli-ca", pin_in_uri=False),
                    environment=token.environment)  # fmt: skip
    assert no_pin.returncode == 2
    assert "PYSCEP_PKCS11_PIN" in no_pin.stderr


@pytest.mark.external
def test_the_operator_signs_the_crl_with_the_key_in_the_token(token: Token, tmp_path: Path) -> None:
    certificate = _ca_files(token, tmp_path, "operator-ca")
    ReferenceServer(  # the state a server made
        ServeOptions(
            tmp_path / "state",
            challenge=CHALLENGE,
            ca_cert=certificate,
            ca_key=token.uri("operator-ca"),
        )
    )
    # The key and the lifetime from the variables a deployment sets, as the server has them.
    environment = {
        **token.environment,
        "PYSCEP_CA_KEY": token.uri("operator-ca"),
        "PYSCEP_CRL_DAYS": "2",
    }
    printed = _serve(
        "crl", "--state-dir", str(tmp_path / "state"), "--ca-cert", str(certificate),
        environment=environment,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    crl = x509.load_pem_x509_crl(printed.stdout.encode())
    ca_key = x509.load_pem_x509_certificate(certificate.read_bytes()).public_key()
    assert isinstance(ca_key, rsa.RSAPublicKey)
    assert crl.is_signature_valid(ca_key)
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == timedelta(days=2)


# --- what the second review found ------------------------------------------------------------


@pytest.mark.parametrize("digest", list(DigestAlgorithm))
def test_every_digest_signs_with_the_raw_mechanisms_legacy_ones_too(
    token: Token, digest: DigestAlgorithm
) -> None:
    label = f"digest-{digest.value}"
    spki = generate(token, label)
    key = Pkcs11Key(Pkcs11URI.parse(token.uri(label)), public_key_der=spki, pin=PIN)
    data = b"MD5 and SHA-1 too: LEGACY answers with the client's digest"
    verify = pyscep.get_backend().verify_signature
    verify(spki, key.sign(data, digest, SignatureScheme.RSA_PKCS1V15), data, digest,
           SignatureScheme.RSA_PKCS1V15)  # fmt: skip
    if digest is not DigestAlgorithm.MD5:
        signature = key.sign(data, digest, SignatureScheme.RSA_PSS)
        verify(spki, signature, data, digest, SignatureScheme.RSA_PSS)


def test_a_key_is_found_by_token_serial_and_by_id(token: Token) -> None:
    import pkcs11

    spki = generate(token, "by-id", key_id=b"\x7f\x01")
    serial = bytes(pkcs11.lib(str(MODULE)).get_token(token_label=token.label).serial).decode()
    uri = Pkcs11URI.parse(
        f"pkcs11:serial={serial};id=%7f%01?module-path={MODULE}&pin-source=file:{token.pin_file}"
    )
    key = Pkcs11Key(uri, public_key_der=spki, pin=PIN)
    data = b"found by serial and id"
    signature = key.sign(data, DigestAlgorithm.SHA256, SignatureScheme.RSA_PKCS1V15)
    pyscep.get_backend().verify_signature(
        spki, signature, data, DigestAlgorithm.SHA256, SignatureScheme.RSA_PKCS1V15
    )
    absent = Pkcs11URI.parse(f"pkcs11:serial={serial};id=%00?module-path={MODULE}")
    with pytest.raises(
        KeyLoadError, match=f"no private key with id 00 in token with serial '{serial}'"
    ):
        Pkcs11Key(absent, public_key_der=spki, pin=PIN)


def _certificate_for(spki: bytes, subject: str) -> pyscep.Certificate:
    """A certificate for the public key ``spki`` (whose private key may not sign a CSR),
    issued by a software CA: what is checked is the key in the token."""
    now = _now()
    issuer = make_identity("Usage CA", now=now, ca=True)
    signing_key = serialization.load_der_private_key(issuer.key_der, None)
    assert isinstance(signing_key, rsa.RSAPrivateKey)
    public = serialization.load_der_public_key(spki)
    assert isinstance(public, rsa.RSAPublicKey)
    built = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string(subject))
        .issuer_name(issuer.certificate.to_cryptography().subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .sign(signing_key, hashes.SHA256())
    )
    return pyscep.Certificate.load(built)


@pytest.mark.parametrize(
    ("usage", "decrypts", "complaint"),
    [
        ("sign-only", True, "cannot open RSAES-PKCS1-v1_5"),
        ("decrypt-only", False, "cannot sign with rsassa_pkcs1v15"),
    ],
)
def test_what_a_key_may_do_is_read_from_the_key_too(
    token: Token, tmp_path: Path, usage: str, decrypts: bool, complaint: str
) -> None:
    """CKA_SIGN and CKA_DECRYPT of the key, not only the token's mechanisms: a sign-only
    key cannot be the one that opens requests, a decrypt-only one cannot be the CA."""
    from pyscep.server.file_ca import open_key_pair

    label = f"usage-{usage}"
    spki = generate(token, label, usage=usage)
    path = tmp_path / f"{label}.pem"
    path.write_bytes(pem_cert(_certificate_for(spki, f"CN={label}")))
    with pytest.raises(CAConfigError, match=complaint):
        open_key_pair(path, token.uri(label), role="RA", decrypts=decrypts)


def test_half_an_existing_ca_is_refused_not_replaced_by_the_state_directorys(
    tmp_path: Path,
) -> None:
    with pytest.raises(ServeConfigError, match="--ca-cert and --ca-key together"):
        Operator(tmp_path, ca_key="pkcs11:object=ca?module-path=/m.so")
    with pytest.raises(ServeConfigError, match="--ca-cert and --ca-key together"):
        ReferenceServer(ServeOptions(tmp_path, challenge=CHALLENGE, ca_cert=tmp_path / "ca.pem"))


def _sign_in_child(key: Pkcs11Key, results: Any) -> None:
    try:
        key.sign(b"after the fork", DigestAlgorithm.SHA256, SignatureScheme.RSA_PKCS1V15)
        results.put("signed")
    except BackendError as exc:
        results.put(str(exc))


def test_a_key_opened_before_a_fork_is_refused_in_the_child(token: Token) -> None:
    import multiprocessing

    spki = generate(token, "forked")
    key = Pkcs11Key(Pkcs11URI.parse(token.uri("forked")), public_key_der=spki, pin=PIN)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_sign_in_child, args=(key, results))
    child.start()
    said = results.get(timeout=30)
    child.join(30)
    assert "opened before a fork cannot be used after it" in said
    assert key.sign(b"still here", DigestAlgorithm.SHA256, SignatureScheme.RSA_PKCS1V15)


def test_a_key_file_in_the_settings_file_is_relative_to_it(tmp_path: Path) -> None:
    from pyscep.server import load_settings

    config = tmp_path / "etc" / "serve.toml"
    config.parent.mkdir()
    config.write_text(
        'state_dir = "state"\nchallenge = "a-secret"\nca_cert = "ca.pem"\nca_key = "ca.key"\n'
        'ra_cert = "ra.pem"\nra_key = "pkcs11:object=ra?module-path=/m.so"\n'
    )
    options = load_settings(config, {}).options
    assert (options.ca_cert, options.ca_key) == (
        config.parent / "ca.pem",
        str(config.parent / "ca.key"),
    )
    assert options.ra_key == "pkcs11:object=ra?module-path=/m.so"


def test_what_a_key_backend_signs_with_decides_get_ca_caps(
    token: Token, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certificate = _ca_files(token, tmp_path, "caps-ca")
    options = ServeOptions(
        tmp_path / "state", challenge=CHALLENGE, ca_cert=certificate, ca_key=token.uri("caps-ca")
    )

    def caps(server: ReferenceServer) -> set[str]:
        body = server.handle("GET", "/scep", "operation=GetCACaps", b"").body
        return set(CACaps.parse(body).keywords)

    # pyscep hashes and the token signs the hash: every digest is offered.
    assert {"SHA-1", "SHA-256", "SHA-512"} <= caps(ReferenceServer(options))
    # A backend that says it signs SHA-256 only (as a cloud KMS may) is offered as such.
    sha256_only = KeyCapabilities(
        frozenset({SignatureScheme.RSA_PKCS1V15}),
        frozenset({KeyTransport()}),
        digests=frozenset({DigestAlgorithm.SHA256}),
    )
    monkeypatch.setattr(Pkcs11Key, "_capabilities", lambda *_: sha256_only)
    offered = caps(ReferenceServer(options))
    assert "SHA-256" in offered
    assert not {"SHA-1", "SHA-512"} & offered
