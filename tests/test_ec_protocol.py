"""EC clients and EC CAs through the protocol layer: enroll and renew, key agreement both ways."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

import pytest

import pyscep
from pyscep import FailInfo
from pyscep.cms.enveloped import recipient_problem
from pyscep.crypto import KeyPair, get_backend
from pyscep.http import HttpRequest
from pyscep.messages import build_csr
from pyscep.protocol.challenges import StaticChallenge
from pyscep.protocol.client import (
    CACertificatesReceived,
    CapabilitiesReceived,
    CertificateIssued,
    RequestRejected,
    ScepClient,
)
from pyscep.protocol.server import (
    Answered,
    EnrollmentRequested,
    ResponderConfig,
    ScepResponder,
)
from pyscep.testing import DemoIdentity, make_identity
from tests.helpers import NOW

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
    client: ScepClient, server: ScepResponder, ca: DemoIdentity, request: HttpRequest
) -> object:
    target = urlsplit(request.target)
    event = server.receive(request.method, target.path, target.query, request.body)
    if isinstance(event, Answered):
        response = event.response
    else:
        assert isinstance(event, EnrollmentRequested)
        if event.challenge_ok or event.renewal:
            response = server.issue(event, ca.issue(event.request, now=NOW), now=NOW)
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
