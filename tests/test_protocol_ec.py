"""EC clients and EC CAs through the protocol layer: enroll and renew, key agreement both ways."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

import pyscep
from pyscep import FailInfo
from pyscep.cms.degenerate import CertsOnly
from pyscep.cms.enveloped import ParsedEnvelope, recipient_problem
from pyscep.crypto import KeyPair, get_backend
from pyscep.http import HTTPRequest
from pyscep.messages import (
    build_csr,
    build_pkcs_req,
    decrypt_pki_message,
    parse_pki_message,
    self_signed_signer,
    verify_cert_rep,
)
from pyscep.messages.inspect import inspect_payload
from pyscep.protocol.challenges import StaticChallenge
from pyscep.protocol.client import (
    CACertificatesReceived,
    CapabilitiesReceived,
    CertificateIssued,
    ClientState,
    RequestPending,
    RequestRejected,
    ScepClient,
)
from pyscep.protocol.profiles import CISCO_IOS, MICROMDM, NDES, STRICT, InteropProfile
from pyscep.protocol.server import (
    Answered,
    EnrollmentRequested,
    PollRequested,
    ResponderConfig,
    ScepResponder,
)
from pyscep.protocol.transactions import Awaiting
from pyscep.testing import DemoIdentity, make_identity
from tests.support.helpers import NOW

CHALLENGE = "let-me-in"
KEY_TYPES = ("rsa", "ec-p256", "ec-p384", "ec-p521")
CAS = {kind: make_identity(f"{kind} CA", now=NOW, ca=True, key_type=kind) for kind in KEY_TYPES}


def _responder(ca: DemoIdentity) -> ScepResponder:
    return ScepResponder(
        ResponderConfig(
            ca_certificate=ca.certificate,
            signer=ca.signer,
            decrypter=ca.decrypter,
            challenge=StaticChallenge(CHALLENGE),
        )
    )


def _send(
    client: ScepClient, server: ScepResponder, ca: DemoIdentity, request: HTTPRequest
) -> object:
    target = urlsplit(request.target)
    event = server.receive(request.method, target.path, target.query, request.body, now=NOW)
    if isinstance(event, Answered):
        response = event.response
    else:
        assert isinstance(event, EnrollmentRequested)
        if event.challenge.accepted or event.renewal:
            response = server.issue(event, ca, now=NOW)
        else:
            response = server.reject(event, FailInfo.BAD_REQUEST, now=NOW)
    return client.receive(response.status, response.content_type, response.body, now=NOW)


def _ready(server: ScepResponder, ca: DemoIdentity) -> ScepClient:
    client = ScepClient(ca_fingerprint=ca.certificate.sha256_fingerprint)
    assert isinstance(_send(client, server, ca, client.get_caps()), CapabilitiesReceived)
    assert isinstance(
        _send(client, server, ca, client.get_ca_certificates()), CACertificatesReceived
    )
    return client


@pytest.mark.parametrize("ca_kind", KEY_TYPES)
@pytest.mark.parametrize("device_kind", KEY_TYPES)
def test_every_key_type_enrolls_and_renews_with_every_ca(ca_kind: str, device_kind: str) -> None:
    ca = CAS[ca_kind]
    server = _responder(ca)
    client = _ready(server, ca)
    key = pyscep.load_private_key(make_identity("device", now=NOW, key_type=device_kind).key_der)
    request = build_csr(key, f"CN=device {device_kind}", challenge_password=CHALLENGE)
    issued = _send(client, server, ca, client.enroll(request, key, now=NOW))
    assert isinstance(issued, CertificateIssued), issued
    assert issued.certificate.public_key_der == key.public_key_der
    assert issued.certificate.issuer == ca.certificate.subject
    # The renewal is signed with the issued certificate; its reply goes to the old key.
    new_key = pyscep.load_private_key(make_identity("next", now=NOW, key_type=device_kind).key_der)
    renewal = build_csr(new_key, f"CN=device {device_kind}")
    renewed = _send(
        client, server, ca, client.renew(renewal, KeyPair(key, issued.certificate), now=NOW)
    )
    assert isinstance(renewed, CertificateIssued), renewed
    assert renewed.certificate.public_key_der == new_key.public_key_der


def test_a_key_outside_the_policy_is_refused_with_bad_alg() -> None:
    ca = CAS["rsa"]
    strict = ScepResponder(
        ResponderConfig(
            ca_certificate=ca.certificate,
            signer=ca.signer,
            decrypter=ca.decrypter,
            challenge=StaticChallenge(CHALLENGE),
            algorithms=replace(pyscep.DEFAULT_POLICY, ec_curves=frozenset({"secp256r1"})),
        )
    )
    client = _ready(strict, ca)
    key = pyscep.load_private_key(make_identity("device", now=NOW, key_type="ec-p521").key_der)
    request = build_csr(key, "CN=device", challenge_password=CHALLENGE)
    event = _send(client, strict, ca, client.enroll(request, key, now=NOW))
    assert isinstance(event, RequestRejected)
    assert event.fail_info is FailInfo.BAD_ALG


class _NoKeyAgreement:
    """A backend without the key-wrap primitives (as oscrypto has no ECDH)."""

    name = "minimal"


def test_recipient_problem_says_why_no_envelope_can_be_built() -> None:
    backend = get_backend()
    rsa, ec = CAS["rsa"].certificate, CAS["ec-p384"].certificate
    assert recipient_problem(rsa, backend=backend, algorithms=pyscep.DEFAULT_POLICY) is None
    assert recipient_problem(ec, backend=backend, algorithms=pyscep.DEFAULT_POLICY) is None
    minimal = _NoKeyAgreement()
    problem = recipient_problem(ec, backend=minimal, algorithms=pyscep.DEFAULT_POLICY)  # type: ignore[arg-type]
    assert problem == "the minimal backend has no ECDH key agreement"
    strict = replace(pyscep.DEFAULT_POLICY, ec_curves=frozenset({"secp256r1"}))
    assert "secp384r1" in (recipient_problem(ec, backend=backend, algorithms=strict) or "")


def _ed25519_key() -> pyscep.PrivateKey:
    return pyscep.load_private_key(ed25519.Ed25519PrivateKey.generate())


@pytest.mark.parametrize("ca_kind", ["rsa", "ec-p256", "ec-p384"])
def test_an_ed25519_client_enrolls_and_renews_by_password(ca_kind: str) -> None:
    ca = CAS[ca_kind]
    server = _responder(ca)
    client = _ready(server, ca)
    key = _ed25519_key()
    request = build_csr(key, "CN=ed25519 device", challenge_password=CHALLENGE)
    assert request.signature_algorithm == "ed25519"
    sent = client.enroll(request, key, now=NOW)
    # The request carries a password recipient beside the CA's: the reply will too.
    kinds = [r.kind for r in _envelope_of(sent).recipients]
    assert "pwri" in kinds
    issued = _send(client, server, ca, sent)
    assert isinstance(issued, CertificateIssued), issued
    assert issued.certificate.public_key_der == key.public_key_der
    assert issued.certificate.public_key.family == "ed25519"
    # A renewal signed with the Ed25519 certificate; its CertRep is keyed by the
    # challengePassword of the renewal's CSR.
    new_key = _ed25519_key()
    renewal = build_csr(new_key, "CN=ed25519 device", challenge_password=CHALLENGE)
    renewed = _send(
        client, server, ca, client.renew(renewal, KeyPair(key, issued.certificate), now=NOW)
    )
    assert isinstance(renewed, CertificateIssued), renewed
    assert renewed.certificate.public_key_der == new_key.public_key_der


def _envelope_of(request: HTTPRequest) -> ParsedEnvelope:
    message = parse_pki_message(request.body)
    assert message.envelope is not None
    return message.envelope


def test_an_ed25519_key_without_a_challenge_is_told_why() -> None:
    ca = CAS["rsa"]
    server = _responder(ca)
    client = _ready(server, ca)
    key = _ed25519_key()
    with pytest.raises(pyscep.LocalProtocolError, match="challengePassword"):
        client.enroll(build_csr(key, "CN=no challenge"), key, now=NOW)
    assert client.state is ClientState.READY
    # A client that sends one anyway is refused with badAlg and the reason.
    built = build_pkcs_req(
        build_csr(key, "CN=no challenge"),
        signer=self_signed_signer(key, "CN=no challenge", now=NOW),
        recipient=ca.certificate,
    )
    event = server.receive("POST", "/scep", "operation=PKIOperation", built.der, now=NOW)
    assert isinstance(event, Answered)
    reply = parse_pki_message(event.response.body)
    assert reply.fail_info is FailInfo.BAD_ALG
    assert "challengePassword" in (reply.fail_info_text or "")


def test_a_request_enveloped_by_password_alone_is_opened_with_the_static_challenge() -> None:
    ca = CAS["ec-p256"]
    server = _responder(ca)
    key = _ed25519_key()
    request = build_csr(key, "CN=password only", challenge_password=CHALLENGE)
    signer = self_signed_signer(key, "CN=password only", now=NOW)
    built = build_pkcs_req(request, signer=signer, recipient=None, password=CHALLENGE.encode())
    assert [r.kind for r in parse_pki_message(built.der).envelope.recipients] == ["pwri"]  # type: ignore[union-attr]
    event = server.receive("POST", "/scep", "operation=PKIOperation", built.der, now=NOW)
    assert isinstance(event, EnrollmentRequested)
    assert event.challenge.accepted
    response = server.issue(event, ca, now=NOW)
    reply = verify_cert_rep(
        parse_pki_message(response.body), ca_certificates=[ca.certificate], request=built
    )
    assert reply.envelope is not None
    assert [r.kind for r in reply.envelope.recipients] == ["pwri"]
    content = decrypt_pki_message(reply, signer, password=CHALLENGE.encode())
    assert isinstance(content, CertsOnly)
    assert content.certificates[0].public_key_der == key.public_key_der
    # The wrong password opens nothing: the one DecryptionError, or, one time in 256
    # (the random key passes the CBC padding check), garbage the content parser
    # refuses (docs/security.md, "No decryption oracle").
    with pytest.raises((pyscep.DecryptionError, pyscep.ParseError)):
        decrypt_pki_message(reply, signer, password=b"guess")


def test_an_ed25519_client_polls_a_pending_request_and_reads_the_reply() -> None:
    ca = CAS["rsa"]
    server = _responder(ca)
    client = _ready(server, ca)
    key = _ed25519_key()
    request = build_csr(key, "CN=pending ed25519", challenge_password=CHALLENGE)
    sent = client.enroll(request, key, now=NOW)
    target = urlsplit(sent.target)
    first = server.receive(sent.method, target.path, target.query, sent.body, now=NOW)
    assert isinstance(first, EnrollmentRequested)
    pending = server.pending(first, now=NOW, awaiting=Awaiting.APPLICATION)
    assert isinstance(
        client.receive(pending.status, pending.content_type, pending.body, now=NOW), RequestPending
    )
    poll = client.poll(now=NOW)
    target = urlsplit(poll.target)
    polled = server.receive(poll.method, target.path, target.query, poll.body, now=NOW)
    assert isinstance(polled, PollRequested)
    response = server.issue(polled, ca, now=NOW)
    event = client.receive(response.status, response.content_type, response.body, now=NOW)
    assert isinstance(event, CertificateIssued), event
    assert event.certificate.public_key_der == key.public_key_der


@pytest.mark.parametrize(
    ("profile", "kind", "allowed"),
    [
        (MICROMDM, "ec-p256", False),
        (CISCO_IOS, "ec-p256", False),
        (NDES, "ec-p256", True),
        (NDES, "ed25519", False),
        (STRICT, "ed25519", True),
    ],
)
def test_the_profile_says_which_requester_keys_the_ca_can_answer(
    profile: InteropProfile, kind: str, allowed: bool
) -> None:
    ca = CAS["rsa"]
    server = _responder(ca)
    # LEGACY: under the default policy micromdm's profile refuses its DES replies first.
    client = ScepClient(
        ca_fingerprint=ca.certificate.sha256_fingerprint, profile=profile, algorithms=pyscep.LEGACY
    )
    assert isinstance(_send(client, server, ca, client.get_caps()), CapabilitiesReceived)
    ca_event = _send(client, server, ca, client.get_ca_certificates())
    assert isinstance(ca_event, CACertificatesReceived)
    key = (
        _ed25519_key()
        if kind == "ed25519"
        else pyscep.load_private_key(make_identity("device", now=NOW, key_type=kind).key_der)
    )
    request = build_csr(key, "CN=device", challenge_password=CHALLENGE)
    if allowed:
        assert client.enroll(request, key, now=NOW).method in ("GET", "POST")
        return
    with pytest.raises(pyscep.UnsupportedAlgorithmError, match=f"not {kind[:2]}"):
        client.enroll(request, key, now=NOW)
    assert client.state is ClientState.READY  # nothing was sent


@pytest.mark.parametrize("kind", ["ec-p256", "ed25519"])
def test_inspect_opens_a_certrep_to_an_ec_or_ed25519_client(kind: str) -> None:
    ca = CAS["rsa"]
    server = _responder(ca)
    client = _ready(server, ca)
    if kind == "ed25519":
        raw = ed25519.Ed25519PrivateKey.generate()
        key = pyscep.load_private_key(raw)
    else:
        key = pyscep.load_private_key(make_identity("device", now=NOW, key_type=kind).key_der)
    sent = client.enroll(build_csr(key, "CN=inspected", challenge_password=CHALLENGE), key, now=NOW)
    target = urlsplit(sent.target)
    event = server.receive(sent.method, target.path, target.query, sent.body, now=NOW)
    assert isinstance(event, EnrollmentRequested)
    reply = server.issue(event, ca, now=NOW).body
    if kind == "ed25519":
        found = inspect_payload(reply, certificates=[ca.certificate], passwords=[b"let-me-in"])
    else:
        found = inspect_payload(reply, certificates=[ca.certificate], keys=[key])
    assert found.errors == ()
    assert found.description["decrypted_with"] is not None
    inner = found.description["inner"]
    assert inner["type"] == "degenerate certs-only SignedData"
    assert inner["certificates"][0]["subject"] == "Common Name: inspected"
    nothing = inspect_payload(reply, certificates=[ca.certificate], passwords=[b"guess"])
    assert nothing.errors == ("no --key or --password opens any recipient of the envelope",)


@pytest.mark.parametrize("device_kind", ["rsa", "ec-p256", "ed25519"])
def test_an_ec_ra_opens_requests_and_signs_cert_reps(device_kind: str) -> None:
    ca = CAS["rsa"]
    ra = make_identity("EC RA", now=NOW, issuer=ca, key_type="ec-p384")
    server = ScepResponder(
        ResponderConfig(
            ca_certificate=ca.certificate,
            signer=ra.signer,
            decrypter=ra.decrypter,
            ra_certificates=(ra.certificate,),
            challenge=StaticChallenge(CHALLENGE),
        )
    )
    client = _ready(server, ca)
    assert client.ca is not None
    assert client.ca.encryption == ra.certificate  # requests go to the RA, by key agreement
    if device_kind == "ed25519":
        key = _ed25519_key()
    else:
        key = pyscep.load_private_key(make_identity("d", now=NOW, key_type=device_kind).key_der)
    sent = client.enroll(build_csr(key, "CN=via RA", challenge_password=CHALLENGE), key, now=NOW)
    assert "kari" in {r.kind for r in _envelope_of(sent).recipients}
    issued = _send(client, server, ca, sent)
    assert isinstance(issued, CertificateIssued), issued
    assert issued.certificate.public_key_der == key.public_key_der
