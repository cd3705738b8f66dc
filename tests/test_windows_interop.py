"""Windows' native SCEP client and NDES as peers (issue 23, part 1).

Windows 11 sends what servers have failed to open: RSA-OAEP key transport (SHA-1 and
SHA-256), a self-signed signer whose authorityKeyIdentifier is marked critical, BER,
``GetCACert`` with ``message=default``, the path ``/certsrv/mscep/mscep.dll``. Each
quirk is built here as Windows sends it and served by the reference server; on the
client side, pyscep enrolls with an NDES-shaped responder (separate signing and
encryption RA certificates, one key usage each) and reads its CertReps.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

import pyscep
from pyscep import FindingCode, KeyPair, KeyTransport, PKIStatus
from pyscep._der import read_header
from pyscep.http import Operation, read_request, route_of
from pyscep.messages import (
    CACaps,
    CertificationRequest,
    MessageOptions,
    build_cert_rep_success,
    build_csr,
    build_pkcs_req,
    issue_certificate,
    open_cert_rep,
    open_request,
    parse_ca_certificates,
    parse_pki_message,
    self_signed_signer,
)
from pyscep.protocol import (
    NDES,
    PROFILES,
    WINDOWS,
    Answered,
    CACertificatesReceived,
    CertificateIssued,
    EnrollmentRequested,
    ResponderConfig,
    ScepClient,
    ScepResponder,
    StaticChallenge,
)
from pyscep.server import ReferenceServer, ServeOptions
from pyscep.testing import make_identity
from tests.support.helpers import ndes_ra
from tests.support.served import CHALLENGE

MSCEP = "/certsrv/mscep/mscep.dll"


def _now() -> datetime:
    return datetime.now(timezone.utc)  # the server reads the clock


def windows_signer(now: datetime) -> KeyPair:
    """The self-signed certificate Windows signs its request with: authorityKeyIdentifier
    marked critical (RFC 5280 says it must not be), keyUsage critical."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DESKTOP-7Q2L0K1")])
    identifier = x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=10))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.AuthorityKeyIdentifier(identifier, None, None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return KeyPair(
        pyscep.load_private_key(key),
        pyscep.Certificate.load(certificate.public_bytes(serialization.Encoding.DER)),
    )


def ber_outer(der: bytes) -> bytes:
    """The pkiMessage with its outer layers in BER, as Java and Windows stacks send it:
    ContentInfo, its [0], SignedData and encapContentInfo with indefinite lengths (the
    signed bytes, the attributes and the envelope, are left as they were)."""

    def indefinite(tlv: bytes, inner: Callable[[bytes], bytes] | None = None) -> bytes:
        top = read_header(tlv)
        contents = tlv[top.content_start : top.content_end]
        if inner is not None:
            contents = inner(contents)
        return tlv[:1] + b"\x80" + contents + b"\x00\x00"

    def first_child(transform: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
        def apply(contents: bytes) -> bytes:
            child = read_header(contents)
            return transform(contents[: child.end]) + contents[child.end :]

        return apply

    def signed_data(contents: bytes) -> bytes:
        # SignedData: version, digestAlgorithms, encapContentInfo, ...
        version = read_header(contents)
        algorithms = read_header(contents, version.end)
        encap = read_header(contents, algorithms.end)
        return (
            contents[: algorithms.end]
            + indefinite(contents[algorithms.end : encap.end])
            + contents[encap.end :]
        )

    def content_info(contents: bytes) -> bytes:
        oid = read_header(contents)
        explicit = contents[oid.end :]
        return contents[: oid.end] + indefinite(
            explicit, first_child(lambda sd: indefinite(sd, signed_data))
        )

    return indefinite(der, content_info)


def _server(tmp_path: Path, **options: Any) -> ReferenceServer:
    return ReferenceServer(
        ServeOptions(tmp_path / "state", challenge=CHALLENGE, profile="windows", **options)
    )


# --- the HTTP side ---------------------------------------------------------------------


def test_ndes_paths_are_routes_like_pkiclient_exe() -> None:
    assert route_of(MSCEP) == route_of("/certsrv/mscep/") == "/certsrv/mscep"
    assert route_of("/CertSrv/MSCEP/MSCEP.DLL") == "/CertSrv/MSCEP"
    incoming = read_request("GET", MSCEP, "operation=GetCACert&message=default")
    assert incoming.operation is Operation.GET_CA_CERT
    assert incoming.message == b"default"


def test_get_ca_cert_with_message_default_answers_the_ca(tmp_path: Path) -> None:
    server = _server(tmp_path)
    response = server.handle("GET", MSCEP, "operation=GetCACert&message=default", b"")
    assert response.status == 200
    found = parse_ca_certificates(response.body, now=_now())
    assert found.ca == server.files.ca.certificate
    caps = CACaps.parse(server.handle("GET", MSCEP, "operation=GetCACaps", b"").body)
    assert set(caps.keywords) == {"AES", "POSTPKIOperation", "SCEPStandard", "SHA-256", "SHA-512"}


def test_the_windows_profile_is_data() -> None:
    assert PROFILES["windows"] is WINDOWS
    assert WINDOWS.requester_keys == frozenset({"rsa"})
    assert "DES3" not in WINDOWS.advertised_caps.keywords


# --- what Windows sends, opened and answered --------------------------------------------


@pytest.mark.parametrize("transport", [KeyTransport.RSA_OAEP_SHA1, KeyTransport.RSA_OAEP_SHA256])
@pytest.mark.parametrize("ber", [False, True], ids=["der", "ber"])
def test_a_windows_request_is_opened_and_answered(
    tmp_path: Path, transport: KeyTransport, ber: bool
) -> None:
    server = _server(tmp_path, log=tmp_path / "decisions.jsonl")
    now = _now()
    signer = windows_signer(now)
    csr = build_csr(signer.key, "CN=DESKTOP-7Q2L0K1", challenge_password=CHALLENGE)
    built = build_pkcs_req(
        csr,
        signer=signer,
        recipient=server.files.ca.certificate,
        options=MessageOptions(key_transport=transport),
    )
    sent = ber_outer(built.der) if ber else built.der
    parsed = parse_pki_message(sent)
    codes = {f.code for f in parsed.findings}
    assert FindingCode.CRITICAL_AUTHORITY_KEY_IDENTIFIER in codes
    assert (FindingCode.BER_INDEFINITE_LENGTH in codes) is ber
    assert parsed.envelope is not None
    assert parsed.envelope.recipients[0].key_encryption_algorithm == "rsaes_oaep"
    response = server.handle("POST", MSCEP, "operation=PKIOperation", sent)
    reply, content = open_cert_rep(
        response.body, signer, ca_certificates=[server.files.ca.certificate], request=built
    )
    assert reply.pki_status is PKIStatus.SUCCESS, reply
    assert content is not None
    assert content.certificates[0].public_key_der == csr.public_key_der


# --- NDES as the server, pyscep as the client ----------------------------------------


def test_pyscep_enrolls_with_an_ndes_shaped_server_and_reads_its_cert_reps() -> None:
    now = _now()
    ca = make_identity("NDES CA", now=now, ca=True)
    signing = ndes_ra(ca, "NDES-RA (signature)", "digital_signature", now)
    encryption = ndes_ra(ca, "NDES-RA (encryption)", "key_encipherment", now)
    responder = ScepResponder(
        ResponderConfig(
            ca_certificate=ca.certificate,
            signer=signing,
            decrypter=encryption,
            ra_certificates=(signing.certificate, encryption.certificate),
            profile=NDES,
            challenge=StaticChallenge(CHALLENGE),
        )
    )
    client = ScepClient(ca_fingerprint=ca.certificate.sha256_fingerprint, profile=NDES)

    sent: list[bytes] = []
    answered: list[bytes] = []

    def exchange(request: Any) -> Any:
        target = urlsplit(request.target)
        sent.append(request.body)
        event = responder.receive(request.method, MSCEP, target.query, request.body, now=now)
        if isinstance(event, EnrollmentRequested):
            assert event.challenge.accepted
            response = responder.issue(event, ca, now=now)
        else:
            assert isinstance(event, Answered)
            response = event.response
        answered.append(response.body)
        return client.receive(response.status, response.content_type, response.body, now=now)

    exchange(client.get_caps())
    received = exchange(client.get_ca_certificates())
    assert isinstance(received, CACertificatesReceived)
    assert client.ca is not None
    assert client.ca.encryption == encryption.certificate
    assert signing.certificate in client.ca.verification
    key = pyscep.load_private_key(make_identity("device", now=now).key_der)
    csr = build_csr(key, "CN=device-ndes", challenge_password=CHALLENGE)
    issued = exchange(client.enroll(csr, key, now=now))
    assert isinstance(issued, CertificateIssued)
    assert issued.certificate.public_key_der == csr.public_key_der
    # Enveloped to the encryption RA; answered, and verified, by the signing RA.
    request = parse_pki_message(sent[-1])
    assert request.envelope is not None
    assert request.envelope.recipients[0].addressed_to(encryption.certificate)
    everyone = [ca.certificate, signing.certificate, encryption.certificate]
    assert parse_pki_message(answered[-1]).claimed_signer(everyone) == signing.certificate


@pytest.mark.parametrize("transport", [KeyTransport.RSA_OAEP_SHA1, KeyTransport.RSA_OAEP_SHA256])
def test_an_ndes_cert_rep_enveloped_with_oaep_is_read(transport: KeyTransport) -> None:
    """NDES answers with RSAES-OAEP key transport (as wolfSSL's SCEP client found), signed
    by its signing RA: pyscep's client opens and verifies it."""
    now = _now()
    ca = make_identity("NDES CA", now=now, ca=True)
    signing = ndes_ra(ca, "NDES-RA (signature)", "digital_signature", now)
    encryption = ndes_ra(ca, "NDES-RA (encryption)", "key_encipherment", now)
    key = pyscep.load_private_key(make_identity("device", now=now).key_der)
    device = self_signed_signer(key, "CN=device-oaep", now=now)
    csr = build_csr(key, "CN=device-oaep", challenge_password=CHALLENGE)
    built = build_pkcs_req(csr, signer=device, recipient=encryption.certificate)
    request, content = open_request(built.der, encryption)
    assert isinstance(content, CertificationRequest)
    issued = issue_certificate(ca.signer, content, now=now)
    reply = build_cert_rep_success(
        request, [issued], signer=signing, options=MessageOptions(key_transport=transport)
    )
    envelope = parse_pki_message(reply).envelope
    assert envelope is not None
    assert envelope.recipients[0].key_encryption_algorithm == "rsaes_oaep"
    answer, certificates = open_cert_rep(
        reply,
        device,
        ca_certificates=[ca.certificate, signing.certificate, encryption.certificate],
        request=built,
    )
    assert answer.pki_status is PKIStatus.SUCCESS
    assert certificates is not None
    assert certificates.certificates[0] == issued
