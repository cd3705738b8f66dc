"""SCEP with post-quantum keys (issue 24, part 2): the opt-in profile, an ML-DSA CA whose
ML-KEM RA opens the requests, ML-DSA requesters answered by their challenge or by an
ML-KEM key they name; through the protocol machines, then pyscep serve, client, monitor
and demo over HTTP."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import pem

import pyscep
from pyscep import FailInfo, LocalProtocolError, VerificationError
from pyscep._appkit.keys import renewal_request
from pyscep.algorithms import DigestAlgorithm, SignatureScheme
from pyscep.certificate import Certificate
from pyscep.cli import main
from pyscep.crypto import KeyPair, PrivateKey
from pyscep.crypto.signed_object import verify_issued_by, verify_signed_object
from pyscep.http import HTTPRequest
from pyscep.messages import (
    CertificationRequest,
    IssuerAndSubject,
    MessageOptions,
    PKIMessage,
    build_cert_poll,
    build_csr,
    build_next_ca_certificates,
    build_pkcs_req,
    parse_pki_message,
    self_signed_signer,
    verify_request,
)
from pyscep.messages.ca import may_encrypt
from pyscep.messages.crl import read_crl
from pyscep.messages.identity import KeyToCertify, issue_certificate
from pyscep.messages.reply_key import named_reply_certificate, reply_key_certificate
from pyscep.oids import PostQuantumOID
from pyscep.policy import (
    ChallengeOutcome,
    Decision,
    InMemoryInventory,
    PolicyConfig,
    evaluate,
    parse_scep_conf,
)
from pyscep.protocol.challenges import StaticChallenge
from pyscep.protocol.client import (
    CACertificatesReceived,
    CapabilitiesReceived,
    CertificateIssued,
    ClientEvent,
    ProtocolFailed,
    RequestPending,
    RequestRejected,
    ScepClient,
)
from pyscep.protocol.profiles import POST_QUANTUM, STRICT
from pyscep.protocol.server import (
    Answered,
    EnrollmentRequested,
    PollRequested,
    ResponderConfig,
    ScepResponder,
)
from pyscep.protocol.transactions import Awaiting
from pyscep.server import ServeConfigError, ServeOptions
from pyscep.server.config import check_options
from pyscep.server.file_ca import CAConfigError, open_key_pair
from pyscep.testing import make_identity
from tests.support.helpers import NOW
from tests.support.served import CHALLENGE as CHALLENGE_SERVED
from tests.support.served import Served, run_pyscep

CHALLENGE = "quantum-leap"
CA = make_identity("PQ CA", now=NOW, ca=True, key_type="ml-dsa-65")
RA = make_identity("PQ RA", now=NOW, issuer=CA, key_type="ml-kem-768")


RSA_CA = make_identity("RSA CA", now=NOW, ca=True)


def _classical_responder() -> ScepResponder:
    return ScepResponder(
        ResponderConfig(
            ca_certificate=RSA_CA.certificate,
            signer=RSA_CA.signer,
            decrypter=RSA_CA.decrypter,
            challenge=StaticChallenge(CHALLENGE),
        )
    )


def _responder(profile: object = POST_QUANTUM) -> ScepResponder:
    return ScepResponder(
        ResponderConfig(
            ca_certificate=CA.certificate,
            signer=CA.signer,
            decrypter=RA.decrypter,
            ra_certificates=(RA.certificate,),
            challenge=StaticChallenge(CHALLENGE),
            profile=profile,  # type: ignore[arg-type]
        )
    )


class Exchange:
    """A client and a responder, requests passed by hand; the last request and reply kept."""

    def __init__(self, server: ScepResponder, client: ScepClient) -> None:
        self.server, self.client = server, client
        self.request = b""
        self.reply = b""

    def send(self, request: HTTPRequest, *, decide: str = "issue") -> ClientEvent:
        target = urlsplit(request.target)
        self.request = request.body
        event = self.server.receive(
            request.method, target.path, target.query, request.body, now=NOW
        )
        if isinstance(event, Answered):
            response = event.response
        elif isinstance(event, (EnrollmentRequested, PollRequested)) and decide == "pending":
            assert isinstance(event, EnrollmentRequested)
            response = self.server.pending(event, now=NOW, awaiting=Awaiting.APPLICATION)
        elif isinstance(event, (EnrollmentRequested, PollRequested)):
            response = self.server.issue(event, CA, now=NOW)
        else:
            raise AssertionError(event)
        self.reply = response.body
        return self.client.receive(response.status, response.content_type, response.body, now=NOW)

    def ready(self) -> None:
        assert isinstance(self.send(self.client.get_caps()), CapabilitiesReceived)
        assert isinstance(self.send(self.client.get_ca_certificates()), CACertificatesReceived)

    def recipients(self, message: bytes) -> list[str]:
        envelope = parse_pki_message(message).envelope
        assert envelope is not None
        return sorted(r.kind for r in envelope.recipients)


def _pq_client() -> Exchange:
    exchange = Exchange(
        _responder(),
        ScepClient(ca_fingerprint=CA.certificate.sha256_fingerprint, profile=POST_QUANTUM),
    )
    exchange.ready()
    return exchange


def _key(kind: str) -> PrivateKey:
    return pyscep.load_private_key(make_identity("k", now=NOW, key_type=kind).key_der)


def _kem_key(kind: str = "ml-kem-768") -> PrivateKey:
    return pyscep.load_private_key(make_identity("r", now=NOW, issuer=CA, key_type=kind).key_der)


@pytest.mark.parametrize("kind", ["ml-dsa-44", "ml-dsa-65", "ml-dsa-87", "rsa", "ec-p256"])
def test_every_requester_enrolls_with_the_post_quantum_ca(kind: str) -> None:
    """The request goes to the ML-KEM RA (a KEMRecipientInfo), the CertRep is signed with
    ML-DSA-65; an ML-DSA requester's reply is keyed by its challenge, the others' by
    their key (key transport, key agreement)."""
    exchange = _pq_client()
    key = _key(kind)
    request = build_csr(key, f"CN={kind}", challenge_password=CHALLENGE)
    issued = exchange.send(exchange.client.enroll(request, key, now=NOW))
    assert isinstance(issued, CertificateIssued), issued
    assert issued.certificate.public_key_der == key.public_key_der
    assert "kemri" in exchange.recipients(exchange.request)
    reply = parse_pki_message(exchange.reply)
    assert reply.signature_algorithm == "ml_dsa_65"
    expected = {"ml": ["pwri"], "rs": ["ktri"], "ec": ["kari"]}[kind[:2]]
    assert exchange.recipients(exchange.reply) == expected


def test_an_ml_dsa_requester_renews_by_a_random_password_without_a_challenge() -> None:
    exchange = _pq_client()
    key = _key("ml-dsa-44")
    first = exchange.send(
        exchange.client.enroll(
            build_csr(key, "CN=renewing", challenge_password=CHALLENGE), key, now=NOW
        )
    )
    assert isinstance(first, CertificateIssued)
    renewal = renewal_request(_key("ml-dsa-44"), first.certificate)
    # A password nobody gave: random, keying only the reply.
    assert renewal.challenge_password not in (None, CHALLENGE)
    sent = exchange.client.renew(renewal, KeyPair(key, first.certificate), now=NOW)
    target = urlsplit(sent.target)
    event = exchange.server.receive(sent.method, target.path, target.query, sent.body, now=NOW)
    assert isinstance(event, EnrollmentRequested)
    assert event.renewal is not None
    # Not a wrong challenge: a reply key, and a renewal needs none.
    assert event.challenge.outcome is ChallengeOutcome.ABSENT
    assert "only keys the reply" in event.challenge.reason
    response = exchange.server.issue(event, CA, now=NOW)
    renewed = exchange.client.receive(
        response.status, response.content_type, response.body, now=NOW
    )
    assert isinstance(renewed, CertificateIssued), renewed
    assert exchange.recipients(response.body) == ["pwri"]


def test_a_first_enrollment_with_an_unknown_password_is_still_refused() -> None:
    """The verdict is turned into "absent" for renewals proven by their signer only."""
    exchange = _pq_client()
    key = _key("ml-dsa-44")
    sent = exchange.client.enroll(build_csr(key, "CN=x", challenge_password="guess"), key, now=NOW)
    target = urlsplit(sent.target)
    event = exchange.server.receive(sent.method, target.path, target.query, sent.body, now=NOW)
    assert isinstance(event, EnrollmentRequested)
    assert event.renewal is None
    assert event.challenge.outcome is ChallengeOutcome.REFUSED


def test_a_named_ml_kem_reply_key_gets_a_kem_recipient_and_no_password() -> None:
    exchange = _pq_client()
    key, reply_key = _key("ml-dsa-65"), _kem_key("ml-kem-1024")
    request = build_csr(key, "CN=named", challenge_password=CHALLENGE)
    issued = exchange.send(exchange.client.enroll(request, key, now=NOW, reply_key=reply_key))
    assert isinstance(issued, CertificateIssued), issued
    carried = parse_pki_message(exchange.request).certificates
    assert sorted(c.public_key_algorithm for c in carried) == ["ml_dsa_65", "ml_kem_1024"]
    assert exchange.recipients(exchange.request) == ["kemri"]  # no pwri beside it
    envelope = parse_pki_message(exchange.reply).envelope
    assert envelope is not None
    (recipient,) = envelope.recipients
    reply_certificate = next(c for c in carried if c.public_key_algorithm == "ml_kem_1024")
    assert recipient.kind == "kemri"
    assert recipient.addressed_to(reply_certificate)
    # A renewal naming a reply key needs no password at all.
    new_key = _key("ml-dsa-65")
    renewal = renewal_request(new_key, issued.certificate, reply_key_named=True)
    assert renewal.challenge_password is None
    renewed = exchange.send(
        exchange.client.renew(
            renewal, KeyPair(key, issued.certificate), now=NOW, reply_key=_kem_key()
        )
    )
    assert isinstance(renewed, CertificateIssued), renewed
    assert exchange.recipients(exchange.reply) == ["kemri"]


def test_a_pending_request_with_a_named_reply_key_is_polled_and_resumed() -> None:
    exchange = _pq_client()
    key, reply_key = _key("ml-dsa-44"), _kem_key()
    request = build_csr(key, "CN=waiting", challenge_password=CHALLENGE)
    pending = exchange.send(
        exchange.client.enroll(request, key, now=NOW, reply_key=reply_key), decide="pending"
    )
    assert isinstance(pending, RequestPending)
    # Another process takes it up with the same keys: its poll names the reply key again.
    later = ScepClient(ca_fingerprint=CA.certificate.sha256_fingerprint, profile=POST_QUANTUM)
    resumed = Exchange(exchange.server, later)
    resumed.ready()
    later.resume(request, key, pending.transaction_id, now=NOW, reply_key=reply_key)
    issued = resumed.send(later.poll(now=NOW))
    assert isinstance(issued, CertificateIssued), issued
    assert resumed.recipients(resumed.reply) == ["kemri"]


def scheme_oid(scheme: SignatureScheme) -> str:
    return next(oid for oid, name in PostQuantumOID.ML_DSA.items() if name == scheme.value)


def _request_carrying(
    signer: KeyPair, *extra: Certificate, request: CertificationRequest | None = None
) -> PKIMessage:
    request = request or build_csr(signer.key, "CN=carrier", challenge_password=CHALLENGE)
    built = build_pkcs_req(
        request,
        signer=signer,
        recipient=RA.certificate,
        options=MessageOptions(embedded_certificates=(signer.certificate, *extra)),
        password=CHALLENGE.encode(),
    )
    return verify_request(parse_pki_message(built.der))


def test_a_reply_certificate_counts_only_when_the_requester_signed_it_and_it_is_valid() -> None:
    """Trust by signature: a KEM certificate the CA issued (with the requester's name as
    its subject) names no reply key; one the signer issued does, and refuses the request
    when it cannot be used (expired)."""
    signer = self_signed_signer(_key("ml-dsa-44"), "CN=carrier", now=NOW)
    kem = _kem_key()

    def named(message: PKIMessage, at: datetime = NOW) -> Certificate | None:
        return named_reply_certificate(
            message, now=at, backend=pyscep.get_backend(), algorithms=pyscep.DEFAULT_POLICY
        )

    planted = issue_certificate(
        CA.signer, KeyToCertify.of(kem.public_key_der, "CN=carrier"), now=NOW
    )
    assert named(_request_carrying(signer, planted)) is None
    genuine = reply_key_certificate(signer, kem, now=NOW).certificate
    assert named(_request_carrying(signer, genuine)) == genuine
    expired = genuine.not_valid_after + timedelta(seconds=1)
    with pytest.raises(VerificationError, match="not valid now"):
        named(_request_carrying(signer, genuine), expired)  # named, unusable: refused
    # Through the responder: the planted one is ignored, the reply keyed by the challenge.
    server = _responder()
    message = _request_carrying(signer, planted)
    event = server.receive("POST", "/scep", "operation=PKIOperation", message.der, now=NOW)
    assert isinstance(event, EnrollmentRequested)
    envelope = parse_pki_message(server.issue(event, CA, now=NOW).body).envelope
    assert envelope is not None
    assert [r.kind for r in envelope.recipients] == ["pwri"]


def test_the_reply_key_is_only_named_with_the_profile_and_only_an_ml_kem_key() -> None:
    signer = self_signed_signer(_key("ml-dsa-44"), "CN=x", now=NOW)
    with pytest.raises(LocalProtocolError, match="ML-KEM"):
        reply_key_certificate(signer, _key("ml-dsa-44"), now=NOW)
    strict = Exchange(_classical_responder(), ScepClient(profile=STRICT))
    strict.ready()
    key = _key("rsa")
    request = build_csr(key, "CN=x", challenge_password=CHALLENGE)
    with pytest.raises(LocalProtocolError, match="post-quantum profile only"):
        strict.client.enroll(request, key, now=NOW, reply_key=_kem_key())


def test_the_profile_is_opt_in_on_both_sides() -> None:
    # The client: a strict client does not use a post-quantum CA.
    exchange = Exchange(_responder(), ScepClient(profile=STRICT))
    assert isinstance(exchange.send(exchange.client.get_caps()), CapabilitiesReceived)
    refused = exchange.send(exchange.client.get_ca_certificates())
    assert isinstance(refused, ProtocolFailed)
    assert refused.reason == (
        "the CA's certificates have ML-DSA-65, ML-KEM-768 keys: pyscep uses them only"
        " with the post-quantum profile (opt-in)"
    )
    # The responder: post-quantum keys need the profile.
    with pytest.raises(LocalProtocolError, match="ML-DSA-65, ML-KEM-768 keys are served only"):
        _responder(STRICT)
    # pyscep serve: an ML-DSA CA key needs --profile post-quantum.
    with pytest.raises(ServeConfigError, match="--profile post-quantum"):
        check_options(
            ServeOptions(state_dir=Path("/nonexistent"), ca_key_type="ml-dsa-65", challenge="x")
        )


def test_a_policy_names_the_ml_dsa_parameter_sets_it_allows() -> None:
    exchange = _pq_client()
    key = _key("ml-dsa-87")
    request = build_csr(key, "CN=policy", challenge_password=CHALLENGE)
    sent = exchange.client.enroll(request, key, now=NOW)
    target = urlsplit(sent.target)
    event = exchange.server.receive(sent.method, target.path, target.query, sent.body, now=NOW)
    assert isinstance(event, EnrollmentRequested)
    view = event.policy_view
    assert (view.public_key.algorithm, view.public_key.bits) == ("ML-DSA-87", 256)
    inventory = InMemoryInventory(())

    def decide(config: PolicyConfig) -> Decision:
        return evaluate(view, config, inventory, [CA.certificate], now=NOW)

    refused = decide(PolicyConfig())
    assert refused.fail_info is FailInfo.BAD_ALG
    assert refused.fail_info_text == "ML-DSA-87 keys are not allowed"
    allowed = parse_scep_conf('ScepAllowedKeyAlgorithms "RSA,ML-DSA-87"\n')
    issued = decide(allowed)
    assert issued.fail_info is None
    assert ("key", "pass", "ML-DSA-87") in [
        (t.rule, t.outcome.value, t.detail) for t in issued.trace
    ]


# --- the applications, over HTTP ---------------------------------------------------------


def _issued_by_the_ca(certificate_file: Path, served: Served) -> Certificate:
    """The first certificate of ``certificate_file``, checked against the served CA by
    signature (OpenSSL 3.0 has no ML-DSA: pyscep checks it)."""
    certificate = Certificate.load(certificate_file.read_bytes())
    ca = Certificate.load((served.directory / "state" / "ca.pem").read_bytes())
    verify_issued_by(
        certificate, ca, backend=pyscep.get_backend(), algorithms=pyscep.DEFAULT_POLICY
    )
    return certificate


@pytest.mark.external
def test_pyscep_serve_and_client_enroll_and_renew_with_post_quantum_keys(tmp_path: Path) -> None:
    served = Served(tmp_path, "--profile", "post-quantum", "--ca-key-type", "ml-dsa-65")
    try:
        state = served.directory / "state"
        assert Certificate.load((state / "ca.pem").read_bytes()).public_key_algorithm == "ml_dsa_65"
        assert (
            Certificate.load((state / "ra.pem").read_bytes()).public_key_algorithm == "ml_kem_768"
        )
        enroll = [
            "client", "enroll", served.url, "--subject", "CN=pq.example",
            "--challenge", CHALLENGE_SERVED, "--key-type", "ml-dsa-44",
            "--key-out", str(tmp_path / "k.pem"), "--cert-out", str(tmp_path / "c.pem"),
        ]  # fmt: skip
        refused = run_pyscep(*enroll)
        assert refused.returncode == 5
        assert "only with the post-quantum profile (opt-in)" in refused.stderr
        done = run_pyscep(*enroll, "--profile", "post-quantum")
        assert done.returncode == 0, done.stderr
        first = _issued_by_the_ca(tmp_path / "c.pem", served)
        assert first.public_key_algorithm == "ml_dsa_44"
        # Renewed without a challenge: an ML-DSA-44 key again, the reply by a named key.
        renewed = run_pyscep(
            "client", "renew", served.url, "--profile", "post-quantum",
            "--key", str(tmp_path / "k.pem"), "--cert", str(tmp_path / "c.pem"),
            "--key-out", str(tmp_path / "k2.pem"), "--cert-out", str(tmp_path / "c2.pem"),
            "--reply-key-type", "ml-kem-1024",
        )  # fmt: skip
        assert renewed.returncode == 0, renewed.stderr
        second = _issued_by_the_ca(tmp_path / "c2.pem", served)
        assert (second.public_key_algorithm, second.subject) == ("ml_dsa_44", first.subject)
        assert not (tmp_path / "k2.reply-key.pem").exists()  # used, then removed
        # And by a random password, the client's default.
        again = run_pyscep(
            "client", "renew", served.url, "--profile", "post-quantum",
            "--key", str(tmp_path / "k2.pem"), "--cert", str(tmp_path / "c2.pem"),
            "--key-out", str(tmp_path / "k3.pem"), "--cert-out", str(tmp_path / "c3.pem"),
        )  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert _issued_by_the_ca(tmp_path / "c3.pem", served).public_key_algorithm == "ml_dsa_44"
        # The operator's commands administer the post-quantum CA as it is: revoke, CRL.
        state_dir = str(served.directory / "state")
        revoked = run_pyscep(
            "serve", "revoke", "--state-dir", state_dir, str(first.serial_number),
            "--reason", "keyCompromise",
        )  # fmt: skip
        assert revoked.returncode == 0, revoked.stderr
        published = run_pyscep("serve", "crl", "--state-dir", state_dir)
        assert published.returncode == 0, published.stderr
        crl = asn1_crl.CertificateList.load(pem.unarmor(published.stdout.encode())[2])
        assert crl["signature_algorithm"]["algorithm"].dotted == "2.16.840.1.101.3.4.3.18"
        verify_signed_object(
            pyscep.get_backend(),
            Certificate.load((state / "ca.pem").read_bytes()).public_key,
            crl["signature_algorithm"].dump(),
            crl["signature"].native,
            crl["tbs_cert_list"].dump(),
            algorithms=pyscep.DEFAULT_POLICY,
        )
        facts = read_crl(crl.dump())
        assert [entry.serial_number for entry in facts.revoked] == [first.serial_number]
    finally:
        served.stop()


@pytest.mark.external
def test_pyscep_monitor_renews_an_ml_dsa_keystore_with_the_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ("--profile", "post-quantum", "--ca-key-type", "ml-dsa-65")
    short = Served(tmp_path, *flags, "--validity", "3")
    try:
        done = run_pyscep(
            "client", "enroll", short.url, "--profile", "post-quantum",
            "--subject", "CN=monitored.example", "--challenge", CHALLENGE_SERVED,
            "--key-type", "ml-dsa-65",
            "--key-out", str(tmp_path / "web.key"), "--cert-out", str(tmp_path / "web.crt"),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    finally:
        short.stop()
    served = Served(tmp_path, *flags, "--validity", "60")
    try:
        (tmp_path / "ca.crt").write_bytes((tmp_path / "state" / "ca.pem").read_bytes())
        config = tmp_path / "monitor.toml"
        config.write_text(
            f"""
[[keystore]]
name = "web"
format = "pem"
key = "web.key"
certificate = "web.crt"
url = "{served.url}"
ca_certificate = "ca.crt"
renew_before_days = 30
profile = "post-quantum"
"""
        )
        old = Certificate.load((tmp_path / "web.crt").read_bytes())
        assert main(["monitor", "run", "--config", str(config)]) == 0
        assert "renewed" in capsys.readouterr().out
        new = _issued_by_the_ca(tmp_path / "web.crt", served)
        assert new.public_key_algorithm == "ml_dsa_65"
        assert new.public_key_der != old.public_key_der
        key = pyscep.load_private_key((tmp_path / "web.key").read_bytes())
        assert key.public_key_der == new.public_key_der
    finally:
        served.stop()


def test_pyscep_demo_tells_the_post_quantum_story(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--post-quantum", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    outcomes = [(step["outcome"], step["expected"]) for step in document["steps"]]
    assert outcomes == [
        ("refused", "refused"),
        ("ready", "ready"),
        ("SUCCESS", "SUCCESS"),
        ("SUCCESS", "SUCCESS"),
        ("SUCCESS", "SUCCESS"),
    ]
    enrolled = document["steps"][2]["exchanges"][0]
    assert enrolled["request"]["recipientInfos"] == ["pwri", "kemri"]
    assert enrolled["reply"]["recipientInfos"] == ["pwri"]
    assert enrolled["reply"]["signature"] == "ml_dsa_65"


@pytest.mark.external
def test_pyscep_demo_post_quantum_live(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--post-quantum", "--live"]) == 0
    out = capsys.readouterr().out
    assert "=> SUCCESS (as expected)" in out
    assert "(EXPECTED" not in out


def test_a_responder_without_the_profile_refuses_post_quantum_requesters() -> None:
    """Opt-in on both sides: a strict responder answers an ML-DSA signer badAlg, before
    anything is decrypted, whatever its algorithm policy would accept."""
    exchange = Exchange(
        _classical_responder(),
        ScepClient(ca_fingerprint=RSA_CA.certificate.sha256_fingerprint, profile=POST_QUANTUM),
    )
    exchange.ready()
    key = _key("ml-dsa-65")
    request = build_csr(key, "CN=uninvited", challenge_password=CHALLENGE)
    refused = exchange.send(exchange.client.enroll(request, key, now=NOW))
    assert isinstance(refused, RequestRejected)
    assert refused.fail_info is FailInfo.BAD_ALG
    assert refused.fail_info_text == (
        "ML-DSA and ML-KEM keys are answered only with the post-quantum profile"
    )


def test_a_strict_client_refuses_a_post_quantum_next_ca() -> None:
    rollover = make_identity("Next RSA CA", now=NOW, ca=True)
    next_pq = make_identity("Next PQ CA", now=NOW, ca=True, key_type="ml-dsa-87")
    server = ScepResponder(
        ResponderConfig(
            ca_certificate=rollover.certificate,
            signer=rollover.signer,
            decrypter=rollover.decrypter,
            next_ca_certificates=build_next_ca_certificates(
                [next_pq.certificate], signer=rollover.signer
            ),
        )
    )
    exchange = Exchange(server, ScepClient(profile=STRICT))
    exchange.ready()
    refused = exchange.send(exchange.client.get_next_ca_certificates())
    assert isinstance(refused, ProtocolFailed)
    assert "the next CA's certificates have ML-DSA-87 keys" in refused.reason


def test_an_ml_kem_ra_certificate_encrypts_only_with_key_encipherment_alone() -> None:
    """RFC 9935 section 5: keyEncipherment is the one usage of an ML-KEM key."""
    kem = _kem_key()
    honest = issue_certificate(CA.signer, KeyToCertify.of(kem.public_key_der, "CN=ra"), now=NOW)
    assert may_encrypt(honest)
    signing_too = replace_usage(honest, {"key_encipherment", "digital_signature"})
    assert not may_encrypt(signing_too)


def replace_usage(certificate: Certificate, usage: set[str]) -> Certificate:
    """``certificate`` reissued by the CA with ``usage`` (key usage written as given)."""
    return _reissued(certificate, usage, CA.signer)


def _reissued(certificate: Certificate, usage: set[str], issuer: pyscep.Signer) -> Certificate:
    """``certificate`` signed again by ``issuer`` (ML-DSA) with keyUsage ``usage``."""
    from asn1crypto import x509 as asn1_x509

    from pyscep._spki import Certificate as CertificateStructure
    from pyscep._spki import TbsCertificate

    tbs = TbsCertificate.load(certificate.tbs_certificate_der)
    parsed = [e for e in tbs["extensions"] if e["extn_id"].native != "key_usage"]
    parsed.append(
        asn1_x509.Extension(
            {"extn_id": "key_usage", "critical": True, "extn_value": asn1_x509.KeyUsage(usage)}
        )
    )
    tbs["extensions"] = asn1_x509.Extensions(parsed)
    signed = tbs.dump(force=True)
    scheme = SignatureScheme(issuer.certificate.public_key_algorithm)
    signature = issuer.sign(signed, DigestAlgorithm.SHA256, scheme)
    return Certificate.load(
        CertificateStructure(
            {
                "tbs_certificate": TbsCertificate.load(signed),
                "signature_algorithm": {"algorithm": scheme_oid(scheme)},
                "signature_value": signature,
            }
        ).dump()
    )


def test_serve_refuses_an_ra_key_that_does_not_decapsulate_for_its_certificate(
    tmp_path: Path,
) -> None:
    ra_768 = make_identity("RA", now=NOW, issuer=CA, key_type="ml-kem-768")
    other = make_identity("other", now=NOW, issuer=CA, key_type="ml-kem-1024")
    (tmp_path / "ra.pem").write_bytes(ra_768.certificate.der)
    (tmp_path / "other.key").write_bytes(other.key_der)
    with pytest.raises(CAConfigError, match="does not decapsulate for its certificate"):
        open_key_pair(tmp_path / "ra.pem", str(tmp_path / "other.key"), role="RA", decrypts=True)
    (tmp_path / "ra.key").write_bytes(ra_768.key_der)
    pair = open_key_pair(tmp_path / "ra.pem", str(tmp_path / "ra.key"), role="RA", decrypts=True)
    assert pair.certificate == ra_768.certificate


def test_a_named_reply_key_is_never_swapped_for_the_password() -> None:
    """A reply certificate the signer issued but that cannot be used (another keyUsage)
    is refused, not answered by the challenge; a poll that names none for a request
    without a challengePassword is refused too, not a crash."""
    exchange = _pq_client()
    key = _key("ml-dsa-44")
    signer = self_signed_signer(key, "CN=strict", now=NOW)
    genuine = reply_key_certificate(signer, _kem_key(), now=NOW).certificate
    loose = _reissued(genuine, {"key_encipherment", "digital_signature"}, signer)
    request = build_csr(key, "CN=strict", challenge_password=CHALLENGE)
    message = _request_carrying(signer, loose, request=request)
    event = exchange.server.receive("POST", "/scep", "operation=PKIOperation", message.der, now=NOW)
    assert isinstance(event, Answered)
    refused = parse_pki_message(event.response.body)
    assert refused.fail_info is FailInfo.BAD_REQUEST
    assert refused.fail_info_text == "a reply certificate's keyUsage is keyEncipherment alone"
    # A request without a challengePassword, its reply key named, left PENDING...
    bare = build_csr(key, "CN=strict")
    pending = exchange.send(
        exchange.client.enroll(bare, key, now=NOW, reply_key=_kem_key()), decide="pending"
    )
    assert isinstance(pending, RequestPending)
    # ...polled by a CertPoll stripped of its reply certificate.
    stripped = build_cert_poll(
        IssuerAndSubject(CA.certificate.subject_der, bare.subject_der),
        signer=self_signed_signer(key, "CN=strict", now=NOW),
        recipient=RA.certificate,
        transaction_id=pending.transaction_id,
    )
    answer = exchange.server.receive(
        "POST", "/scep", "operation=PKIOperation", stripped.der, now=NOW
    )
    assert isinstance(answer, Answered)
    failure = parse_pki_message(answer.response.body)
    assert failure.fail_info is FailInfo.BAD_REQUEST
    assert failure.fail_info_text == (
        "name the reply key again in the poll (pyscep.messages.reply_key)"
    )


def test_a_renewal_with_a_reply_key_left_pending_is_resumed_and_polled() -> None:
    exchange = _pq_client()
    key = _key("ml-dsa-65")
    first = exchange.send(
        exchange.client.enroll(
            build_csr(key, "CN=resumed", challenge_password=CHALLENGE), key, now=NOW
        )
    )
    assert isinstance(first, CertificateIssued)
    new_key, reply_key = _key("ml-dsa-65"), _kem_key()
    renewal = renewal_request(new_key, first.certificate, reply_key_named=True)
    assert renewal.challenge_password is None
    current = KeyPair(key, first.certificate)
    sent = exchange.client.renew(renewal, current, now=NOW, reply_key=reply_key)
    pending = exchange.send(sent, decide="pending")
    assert isinstance(pending, RequestPending)
    later = ScepClient(ca_fingerprint=CA.certificate.sha256_fingerprint, profile=POST_QUANTUM)
    resumed = Exchange(exchange.server, later)
    resumed.ready()
    later.resume(renewal, new_key, pending.transaction_id, now=NOW, reply_key=reply_key)
    issued = resumed.send(later.poll(now=NOW))
    assert isinstance(issued, CertificateIssued), issued
    assert issued.certificate.public_key_der == new_key.public_key_der
    assert resumed.recipients(resumed.reply) == ["kemri"]


def test_a_re_key_from_rsa_to_ml_dsa_carries_a_reply_password() -> None:
    """A poll of it, signed by the new ML-DSA key, is answered by that password."""
    rsa = make_identity("rsa device", now=NOW, issuer=RSA_CA)
    renewal = renewal_request(_key("ml-dsa-44"), rsa.certificate)
    assert renewal.challenge_password is not None


def test_a_reply_key_is_refused_for_a_signer_that_can_be_encrypted_to() -> None:
    exchange = _pq_client()
    key = _key("ec-p256")
    request = build_csr(key, "CN=ec", challenge_password=CHALLENGE)
    with pytest.raises(LocalProtocolError, match="only signs"):
        exchange.client.enroll(request, key, now=NOW, reply_key=_kem_key())


def test_the_cli_checks_the_reply_key_before_writing_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(*more: str) -> int:
        return main(
            [
                "client", "enroll", "http://127.0.0.1:9/scep", "--subject", "CN=x",
                "--key-out", str(tmp_path / "k.pem"), "--cert-out", str(tmp_path / "c.pem"),
                *more,
            ]
        )  # fmt: skip

    # Refused before any key is written, whatever the server would say.
    assert run("--reply-key-type", "ml-kem-768", "--key-type", "ml-dsa-44") == 2
    assert "--reply-key-type goes with --profile post-quantum" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
