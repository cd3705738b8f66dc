"""The message layer: round trips for every message type, strictness, peers' acceptance."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyscep import (
    DEFAULT_POLICY,
    LEGACY,
    Certificate,
    ContentCipher,
    DigestAlgorithm,
    FailInfo,
    LocalProtocolError,
    MessageType,
    PKIStatus,
    RemoteProtocolError,
    UnsupportedAlgorithmError,
    VerificationError,
    load_decrypter,
    load_signer,
)
from pyscep.cms.degenerate import CertsOnly
from pyscep.findings import FindingCode
from pyscep.messages import MessageOptions, ReplyTo
from pyscep.messages.build import (
    build_cert_poll,
    build_cert_rep_failure,
    build_cert_rep_pending,
    build_cert_rep_success,
    build_get_cert,
    build_get_crl,
    build_pkcs_req,
    build_request,
)
from pyscep.messages.content import CertificationRequest, IssuerAndSerial, IssuerAndSubject
from pyscep.messages.identifiers import new_nonce, transaction_id_for_key
from pyscep.messages.pkimessage import (
    decrypt_pki_message,
    open_cert_rep,
    open_request,
    parse_pki_message,
    verify_cert_rep,
    verify_request,
)
from pyscep.testing import DemoIdentity, make_identity
from tests.support.helpers import NOW, current_time, make_csr, openssl, pem_cert, pem_key

CA = make_identity("pyscep message CA", now=NOW, ca=True)
DEVICE = make_identity("device", now=NOW)
CSR = make_csr(DEVICE)
CA_SIGNER = load_signer(CA.key_der, CA.certificate)
DEVICE_SIGNER = load_signer(DEVICE.key_der, DEVICE.certificate)
CA_DECRYPTER = load_decrypter(CA.key_der, CA.certificate)
DEVICE_DECRYPTER = load_decrypter(DEVICE.key_der, DEVICE.certificate)
PRINTABLE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-"
MODERN_CIPHERS = [c for c in ContentCipher if not c.is_legacy]
MODERN_DIGESTS = [d for d in DigestAlgorithm if not d.is_legacy]
SETTINGS = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _content_for(kind: MessageType) -> tuple[bytes, object]:
    issuer_and_serial = IssuerAndSerial.of(DEVICE.certificate)
    if kind in (MessageType.PKCS_REQ, MessageType.RENEWAL_REQ, MessageType.UPDATE_REQ):
        return CSR, CertificationRequest.load(CSR)
    if kind is MessageType.CERT_POLL:
        value = IssuerAndSubject(CA.certificate.subject_der, DEVICE.certificate.subject_der)
        return value.dump(), value
    return issuer_and_serial.dump(), issuer_and_serial


@SETTINGS
@given(
    kind=st.sampled_from(sorted(m for m in MessageType if m is not MessageType.CERT_REP)),
    digest=st.sampled_from(MODERN_DIGESTS),
    cipher=st.sampled_from(MODERN_CIPHERS),
    transaction_id=st.text(PRINTABLE, min_size=1, max_size=64),
    nonce=st.binary(min_size=16, max_size=16),
)
def test_every_request_round_trips(
    kind: MessageType,
    digest: DigestAlgorithm,
    cipher: ContentCipher,
    transaction_id: str,
    nonce: bytes,
) -> None:
    content, expected = _content_for(kind)
    built = build_request(
        kind,
        content,
        signer=DEVICE_SIGNER,
        recipient=CA.certificate,
        transaction_id=transaction_id,
        sender_nonce=nonce,
        options=MessageOptions(digest=digest, cipher=cipher),
    )
    message = verify_request(parse_pki_message(built.der))
    assert (message.message_type, message.transaction_id, message.sender_nonce) == (
        kind,
        transaction_id,
        nonce,
    )
    assert message.digest is digest
    assert message.content_cipher is cipher
    assert message.signer_certificate == DEVICE.certificate
    assert message.findings == ()
    assert decrypt_pki_message(message, CA_DECRYPTER) == expected


@SETTINGS
@given(
    status=st.sampled_from(PKIStatus),
    fail_info=st.sampled_from(FailInfo),
    text=st.none() | st.text(max_size=40),
)
def test_every_cert_rep_round_trips(
    status: PKIStatus, fail_info: FailInfo, text: str | None
) -> None:
    request = verify_request(
        parse_pki_message(build_pkcs_req(CSR, signer=DEVICE_SIGNER, recipient=CA.certificate).der)
    )
    if status is PKIStatus.SUCCESS:
        der = build_cert_rep_success(request, [DEVICE.certificate], signer=CA_SIGNER)
    elif status is PKIStatus.PENDING:
        der = build_cert_rep_pending(request, signer=CA_SIGNER)
    else:
        der = build_cert_rep_failure(request, fail_info, text, signer=CA_SIGNER)
    reply = verify_cert_rep(
        parse_pki_message(der), ca_certificates=[CA.certificate], request=request
    )
    assert reply.pki_status is status
    assert reply.transaction_id == request.transaction_id
    assert reply.recipient_nonce == request.sender_nonce
    assert reply.sender_nonce != request.sender_nonce
    if status is PKIStatus.FAILURE:
        assert (reply.fail_info, reply.fail_info_text) == (fail_info, text)
    if status is PKIStatus.SUCCESS:
        content = decrypt_pki_message(reply, DEVICE_DECRYPTER)
        assert isinstance(content, CertsOnly)
        assert content.certificates == (DEVICE.certificate,)


def test_builders_are_deterministic_with_injected_sources() -> None:
    def build() -> bytes:
        counter = iter(range(10**6))

        def rng(n: int) -> bytes:
            return bytes(next(counter) % 251 for _ in range(n))

        return build_pkcs_req(
            CSR,
            signer=DEVICE_SIGNER,
            recipient=CA.certificate,
            options=MessageOptions(
                rng=rng, signing_time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
            ),
        ).der

    first = build()
    assert first == build()
    assert parse_pki_message(first).signing_time == datetime(
        2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc
    )


def test_transaction_id_and_nonce_generators() -> None:
    csr = CertificationRequest.load(CSR)
    built = build_pkcs_req(CSR, signer=DEVICE_SIGNER, recipient=CA.certificate)
    assert built.transaction_id == transaction_id_for_key(csr.public_key_der)
    assert len(built.transaction_id) == 64
    assert built.transaction_id.isupper()
    assert len(new_nonce()) == 16
    assert new_nonce() != new_nonce()


def test_bench_fixture_transaction_id_is_sha256_of_the_key() -> None:
    import json

    fixtures = Path(__file__).resolve().parents[1] / "bench" / "fixtures"
    csr = CertificationRequest.load((fixtures / "client.csr.der").read_bytes())
    meta = json.loads((fixtures / "meta.json").read_text())
    assert transaction_id_for_key(csr.public_key_der) == meta["transaction_id"]
    assert csr.challenge_password == meta["challenge_password"]


def test_cert_rep_checks() -> None:
    request = verify_request(
        parse_pki_message(build_pkcs_req(CSR, signer=DEVICE_SIGNER, recipient=CA.certificate).der)
    )
    reply = parse_pki_message(build_cert_rep_pending(request, signer=CA_SIGNER))
    # Signed by someone who is not our CA.
    with pytest.raises(VerificationError, match="not trusted"):
        verify_cert_rep(reply, ca_certificates=[DEVICE.certificate], request=request)
    with pytest.raises(LocalProtocolError):
        verify_cert_rep(reply, ca_certificates=[], request=request)
    # A reply to somebody else's request.
    other = replace(ReplyTo.of(request), sender_nonce=b"x" * 16)
    stranger = parse_pki_message(build_cert_rep_pending(other, signer=CA_SIGNER))
    with pytest.raises(RemoteProtocolError, match="recipientNonce"):
        verify_cert_rep(stranger, ca_certificates=[CA.certificate], request=request)
    lenient = verify_cert_rep(
        stranger, ca_certificates=[CA.certificate], request=request, strict_recipient_nonce=False
    )
    assert FindingCode.RECIPIENT_NONCE_MISMATCH in {f.code for f in lenient.findings}
    wrong_id = parse_pki_message(
        build_cert_rep_pending(
            replace(ReplyTo.of(request), transaction_id="OTHER"), signer=CA_SIGNER
        )
    )
    with pytest.raises(RemoteProtocolError, match="transactionID"):
        verify_cert_rep(wrong_id, ca_certificates=[CA.certificate], request=request)
    # A CertRep is not a request, and a request is not a CertRep.
    with pytest.raises(RemoteProtocolError):
        verify_request(reply)
    with pytest.raises(RemoteProtocolError):
        verify_cert_rep(parse_pki_message(request.der), ca_certificates=[CA.certificate])


def test_unknown_message_type_is_refused_with_ids() -> None:
    built = build_pkcs_req(CSR, signer=DEVICE_SIGNER, recipient=CA.certificate)
    # Re-sign the same content with messageType "99" by hand.
    from asn1crypto import core

    from pyscep import get_backend
    from pyscep._asn1 import ScepAttribute
    from pyscep.cms.signed import build_signed_data, parse_signed_data

    envelope = parse_signed_data(built.der).content
    attributes = [
        ScepAttribute({"type": "message_type", "values": [core.PrintableString("99")]}),
        ScepAttribute({"type": "transaction_id", "values": [core.PrintableString("T-1")]}),
        ScepAttribute({"type": "sender_nonce", "values": [core.OctetString(b"n" * 16)]}),
    ]
    der = build_signed_data(
        envelope,
        DEVICE_SIGNER,
        digest=DigestAlgorithm.SHA256,
        backend=get_backend(),
        algorithms=DEFAULT_POLICY,
        attributes=[a.dump() for a in attributes],
    )
    with pytest.raises(RemoteProtocolError) as caught:
        parse_pki_message(der)
    assert (caught.value.transaction_id, caught.value.sender_nonce) == ("T-1", b"n" * 16)
    assert caught.value.fail_info is FailInfo.BAD_REQUEST


def test_failure_reply_to_an_unparsable_request() -> None:
    reply = ReplyTo(transaction_id="T-1", sender_nonce=b"n" * 16)
    der = build_cert_rep_failure(reply, FailInfo.BAD_REQUEST, "unsupported", signer=CA_SIGNER)
    message = verify_cert_rep(
        parse_pki_message(der), ca_certificates=[CA.certificate], request=reply
    )
    assert message.fail_info is FailInfo.BAD_REQUEST
    with pytest.raises(LocalProtocolError):
        build_cert_rep_success(reply, [DEVICE.certificate], signer=CA_SIGNER)


def test_decrypt_needs_a_verified_message() -> None:
    message = parse_pki_message(
        build_pkcs_req(CSR, signer=DEVICE_SIGNER, recipient=CA.certificate).der
    )
    with pytest.raises(LocalProtocolError):
        decrypt_pki_message(message, CA_DECRYPTER)  # type: ignore[arg-type]


def test_legacy_algorithms_need_the_switch() -> None:
    with pytest.raises(UnsupportedAlgorithmError):
        build_pkcs_req(
            CSR,
            signer=DEVICE_SIGNER,
            recipient=CA.certificate,
            options=MessageOptions(cipher=ContentCipher.DES_CBC),
        )
    built = build_pkcs_req(
        CSR,
        signer=DEVICE_SIGNER,
        recipient=CA.certificate,
        options=MessageOptions(
            cipher=ContentCipher.DES_CBC, digest=DigestAlgorithm.MD5, algorithms=LEGACY
        ),
    )
    parsed = parse_pki_message(built.der)
    assert [f.code for f in parsed.findings] == [FindingCode.LEGACY_ALGORITHM] * 2
    with pytest.raises(UnsupportedAlgorithmError):
        verify_request(parsed)
    verified = verify_request(parsed, algorithms=LEGACY)
    # The policy it was accepted under travels with the message...
    assert verified.algorithms is LEGACY
    assert isinstance(decrypt_pki_message(verified, CA_DECRYPTER), CertificationRequest)
    # ...and a stricter one can still be asked for.
    with pytest.raises(UnsupportedAlgorithmError):
        decrypt_pki_message(verified, CA_DECRYPTER, algorithms=DEFAULT_POLICY)


def test_reply_mirrors_request_algorithms() -> None:
    built = build_pkcs_req(
        CSR,
        signer=DEVICE_SIGNER,
        recipient=CA.certificate,
        options=MessageOptions(cipher=ContentCipher.TRIPLEDES_CBC, digest=DigestAlgorithm.SHA512),
    )
    request = verify_request(parse_pki_message(built.der))
    reply = parse_pki_message(
        build_cert_rep_success(request, [DEVICE.certificate], signer=CA_SIGNER)
    )
    assert reply.digest_algorithm == "sha512"
    assert reply.envelope is not None
    assert reply.envelope.cipher_name == "tripledes_3key"


def test_signer_absent_is_a_finding_and_verifiable_with_given_certs() -> None:
    built = build_pkcs_req(
        CSR,
        signer=DEVICE_SIGNER,
        recipient=CA.certificate,
        options=MessageOptions(embedded_certificates=()),
    )
    parsed = parse_pki_message(built.der)
    assert FindingCode.SIGNER_CERTIFICATE_ABSENT in {f.code for f in parsed.findings}
    with pytest.raises(VerificationError):
        verify_request(parsed)
    assert verify_request(parsed, certificates=[DEVICE.certificate]).signer_certificate == (
        DEVICE.certificate
    )


# --- peers accept what we build ---------------------------------------------------


def _pki_files(directory: Path, ca: DemoIdentity, device: DemoIdentity) -> dict[str, str]:
    (directory / "ca.key").write_bytes(pem_key(ca))
    (directory / "ca.crt").write_bytes(pem_cert(ca.certificate))
    (directory / "dev.key").write_bytes(pem_key(device))
    (directory / "dev.crt").write_bytes(pem_cert(device.certificate))
    return {p.name: str(p) for p in directory.iterdir()}


@pytest.fixture
def ca_files(tmp_path: Path) -> dict[str, str]:
    return _pki_files(tmp_path, CA, DEVICE)


@pytest.mark.external
@pytest.mark.parametrize("kind", sorted(m for m in MessageType if m is not MessageType.CERT_REP))
def test_openssl_accepts_every_request_type(
    kind: MessageType, ca_files: dict[str, str], tmp_path: Path
) -> None:
    content, _ = _content_for(kind)
    if kind is MessageType.CERT_POLL:
        value = IssuerAndSubject.load(content)
        built = build_cert_poll(
            value, signer=DEVICE_SIGNER, recipient=CA.certificate, transaction_id="T"
        )
    elif kind is MessageType.GET_CERT:
        built = build_get_cert(
            IssuerAndSerial.load(content),
            signer=DEVICE_SIGNER,
            recipient=CA.certificate,
            transaction_id="T",
        )
    elif kind is MessageType.GET_CRL:
        built = build_get_crl(
            IssuerAndSerial.load(content),
            signer=DEVICE_SIGNER,
            recipient=CA.certificate,
            transaction_id="T",
        )
    else:
        built = build_pkcs_req(
            CSR, signer=DEVICE_SIGNER, recipient=CA.certificate, message_type=kind
        )
    envelope = openssl(["cms", "-verify", "-noverify", "-inform", "DER", "-binary"], built.der)
    plain = openssl(
        [
            "cms",
            "-decrypt",
            "-inform",
            "DER",
            "-binary",
            "-inkey",
            ca_files["ca.key"],
            "-recip",
            ca_files["ca.crt"],
        ],
        envelope,
    )
    assert plain == content
    printed = openssl(["cms", "-cmsout", "-print", "-inform", "DER"], built.der).decode()
    assert "2.16.840.1.113733.1.9.2" in printed  # messageType, by OID
    assert f"PRINTABLESTRING:{kind.wire}" in printed.replace(" ", "")


@pytest.mark.external
def test_openssl_accepts_cert_rep(tmp_path: Path) -> None:
    # cms -verify checks the CA certificate against openssl's clock: made at its time.
    now = current_time()
    ca, device = make_identity("CertRep CA", now=now, ca=True), make_identity("device", now=now)
    ca_files = _pki_files(tmp_path, ca, device)
    built = build_pkcs_req(make_csr(device), signer=device.signer, recipient=ca.certificate)
    request = verify_request(parse_pki_message(built.der))
    der = build_cert_rep_success(request, [device.certificate, ca.certificate], signer=ca.signer)
    envelope = openssl(
        ["cms", "-verify", "-inform", "DER", "-binary", "-CAfile", ca_files["ca.crt"]], der
    )
    degenerate = openssl(
        [
            "cms",
            "-decrypt",
            "-inform",
            "DER",
            "-binary",
            "-inkey",
            ca_files["dev.key"],
            "-recip",
            ca_files["dev.crt"],
        ],
        envelope,
    )
    printed = openssl(["pkcs7", "-inform", "DER", "-print_certs"], degenerate)
    assert Certificate.load_all(printed) == [device.certificate, ca.certificate]


def test_cert_rep_success_with_a_crl_for_get_crl() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    built = build_get_crl(
        IssuerAndSerial.of(DEVICE.certificate),
        signer=DEVICE_SIGNER,
        recipient=CA.certificate,
        transaction_id="crl-1",
    )
    request, content = open_request(built.der, CA_DECRYPTER)
    assert content == IssuerAndSerial.of(DEVICE.certificate)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(CA.certificate.to_cryptography().subject)
        .last_update(NOW)
        .next_update(NOW + timedelta(days=7))
        .sign(serialization.load_der_private_key(CA.key_der, None), hashes.SHA256())  # type: ignore[arg-type]
        .public_bytes(serialization.Encoding.DER)
    )
    der = build_cert_rep_success(request, crls=[crl], signer=CA_SIGNER)
    reply, certs_only = open_cert_rep(
        der, DEVICE_DECRYPTER, ca_certificates=[CA.certificate], request=built
    )
    assert reply.pki_status is PKIStatus.SUCCESS
    assert certs_only is not None
    assert certs_only.crls == (crl,)
    assert certs_only.certificates == ()


def test_ber_and_unsorted_attributes_are_reported_and_still_verify() -> None:
    from pyscep._der import read_header

    der = build_pkcs_req(CSR, signer=DEVICE_SIGNER, recipient=CA.certificate).der
    top = read_header(der)
    # The same message with an indefinite-length outer SEQUENCE (BER).
    ber = b"\x30\x80" + der[top.content_start :] + b"\x00\x00"
    message = verify_request(parse_pki_message(ber))
    assert FindingCode.BER_INDEFINITE_LENGTH in {f.code for f in message.findings}
    # A peer's signed attributes in non-DER order, signed as they are.
    from pyscep._asn1 import ScepAttributes as Asn1Attributes
    from pyscep._der_writer import length
    from tests.support.cms import resign

    def reverse(attrs_der: bytes) -> bytes:
        children = list(Asn1Attributes.load(attrs_der))
        body = b"".join(child.dump() for child in reversed(children))
        return b"\x31" + length(len(body)) + body

    unsorted = resign(der, DEVICE, reverse)
    message = verify_request(parse_pki_message(unsorted))
    assert FindingCode.UNSORTED_SIGNED_ATTRIBUTES in {f.code for f in message.findings}


def test_pending_reply_has_no_content_and_open_cert_rep_returns_none() -> None:
    built = build_pkcs_req(CSR, signer=DEVICE_SIGNER, recipient=CA.certificate)
    request, _ = open_request(built.der, CA_DECRYPTER)
    reply, content = open_cert_rep(
        build_cert_rep_pending(request, signer=CA_SIGNER),
        DEVICE_DECRYPTER,
        ca_certificates=[CA.certificate],
        request=built,
    )
    assert reply.pki_status is PKIStatus.PENDING
    assert content is None
