"""``pyscep demo``: a whole SCEP enrollment, client and CA in one process."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from typing import Any

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """A whole SCEP enrollment, client and CA in one process, on built-in defaults."""
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import AttributeOID, NameOID

    from pyscep import Certificate, load_decrypter, load_signer
    from pyscep import messages as scep
    from pyscep._demo_pki import make_identity

    now = datetime.now(timezone.utc)
    challenge = "demo-challenge"

    # --- the CA's side: its certificate, capabilities, keys --------------------
    ca = make_identity("pyscep demo CA", now=now, ca=True)
    ca_signer = load_signer(ca.key_der, ca.certificate)
    ca_decrypter = load_decrypter(ca.key_der, ca.certificate)
    caps_body = scep.CACaps.of(["POSTPKIOperation", "SHA-256", "AES", "SCEPStandard"]).dump()
    ca_body, ca_content_type = scep.build_ca_certificates(ca.certificate)

    # --- the client: GetCACaps, GetCACert, then a key, a CSR and a PKCSReq -----
    chosen = scep.negotiate(scep.CACaps.parse(caps_body))
    print(
        f"client: CA caps {caps_body.decode().split()} -> {chosen.digest.value}, "
        f"{chosen.cipher.value}, {'POST' if chosen.use_post else 'GET'}"
    )
    ca_certs = scep.parse_ca_certificates(ca_body)
    print(f"client: GetCACert ({ca_content_type}): {ca_certs.reasons[0]}")
    device = make_identity("demo-device", now=now)  # key + self-signed signer certificate
    device_key: Any = serialization.load_der_private_key(device.key_der, None)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "demo-device")]))
        .add_attribute(AttributeOID.CHALLENGE_PASSWORD, challenge.encode())
        .sign(device_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    device_signer = load_signer(device.key_der, device.certificate)
    request = scep.build_pkcs_req(
        csr,
        signer=device_signer,
        recipient=ca_certs.encryption,
        digest=chosen.digest,
        cipher=chosen.cipher,
    )
    print(
        f"client: PKCSReq {len(request.der)} bytes, transactionID {request.transaction_id[:16]}..."
    )

    # --- the CA: verify, decrypt, check the challenge, answer PENDING ----------
    message, csr_view = scep.open_request(request.der, ca_decrypter)
    assert isinstance(csr_view, scep.CertificationRequest)
    verdict = "ok" if csr_view.challenge_password == challenge else "WRONG"
    print(
        f"CA:     {message.message_type.rfc_name} from {csr_view.subject!r}, "
        f"signature verified, challenge {verdict}"
    )
    pending = scep.build_cert_rep_pending(message, signer=ca_signer)
    reply, _ = scep.open_cert_rep(
        pending,
        load_decrypter(device.key_der, device.certificate),
        ca_certificates=ca_certs.verification,
        request=request,
    )
    print(
        f"client: CertRep {reply.pki_status.name if reply.pki_status is not None else '?'}: "
        "the request awaits approval, polling"
    )

    # --- the client polls; the operator approved; the CA issues ----------------
    poll = scep.build_cert_poll(
        scep.IssuerAndSubject(ca.certificate.subject_der, csr_view.subject_der),
        signer=device_signer,
        recipient=ca_certs.encryption,
        transaction_id=request.transaction_id,
    )
    poll_message, _ = scep.open_request(poll.der, ca_decrypter)
    issued = Certificate.load(
        x509.CertificateBuilder()
        .subject_name(x509.load_der_x509_csr(csr).subject)
        .issuer_name(ca.certificate.to_cryptography().subject)
        .public_key(device_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=365))
        .sign(serialization.load_der_private_key(ca.key_der, None), hashes.SHA256())  # type: ignore[arg-type]
    )
    success = scep.build_cert_rep_success(poll_message, [issued], signer=ca_signer)
    reply, content = scep.open_cert_rep(
        success,
        load_decrypter(device.key_der, device.certificate),
        ca_certificates=ca_certs.verification,
        request=poll,
    )
    assert content is not None
    print(
        f"client: CertRep {reply.pki_status.name if reply.pki_status is not None else '?'}: "
        f"issued {content.certificates[0]!r}"
    )
    return 0
