"""``pyscep demo``: a whole SCEP enrollment, client and CA in one process."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """A whole SCEP enrollment, client and CA in one process, on built-in defaults."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from pyscep import PrivateKey, load_decrypter, load_private_key, load_signer
    from pyscep import messages as scep

    now = datetime.now(timezone.utc)
    challenge = "demo-challenge"

    def new_key() -> PrivateKey:
        return load_private_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    # --- the CA's side: its certificate, capabilities, keys --------------------
    ca_key = new_key()
    ca_certificate = scep.self_signed_certificate(
        ca_key, "CN=pyscep demo CA,O=pyscep demo", now=now, days=365, ca=True
    )
    ca_signer = load_signer(ca_key, ca_certificate)
    ca_decrypter = load_decrypter(ca_key, ca_certificate)
    caps_body = scep.CACaps.of(["POSTPKIOperation", "SHA-256", "AES", "SCEPStandard"]).dump()
    ca_body, ca_content_type = scep.build_ca_certificates(ca_certificate)

    # --- the client: GetCACaps, GetCACert, then a key, a CSR and a PKCSReq -----
    chosen = scep.negotiate(scep.CACaps.parse(caps_body))
    print(
        f"client: CA caps {caps_body.decode().split()} -> {chosen.digest.value}, "
        f"{chosen.cipher.value}, {'POST' if chosen.use_post else 'GET'}"
    )
    ca_certs = scep.parse_ca_certificates(
        ca_body, now=now, ca_fingerprint=ca_certificate.sha256_fingerprint
    )
    print(f"client: GetCACert ({ca_content_type}): {ca_certs.reasons[0]}")
    device_key = new_key()
    csr = scep.build_csr(device_key, "CN=demo-device", challenge_password=challenge)
    # The throw-away self-signed certificate a first request is signed with.
    device = scep.self_signed_signer(device_key, "CN=demo-device", now=now)
    request = scep.build_pkcs_req(
        csr, signer=device, recipient=ca_certs.encryption, options=chosen.options
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
        device,
        ca_certificates=ca_certs.verification,
        request=request,
    )
    print(
        f"client: CertRep {reply.pki_status.name if reply.pki_status is not None else '?'}: "
        "the request awaits approval, polling"
    )

    # --- the client polls; the operator approved; the CA issues ----------------
    poll = scep.build_cert_poll(
        scep.IssuerAndSubject(ca_certificate.subject_der, csr_view.subject_der),
        signer=device,
        recipient=ca_certs.encryption,
        transaction_id=request.transaction_id,
        options=chosen.options,
    )
    poll_message, _ = scep.open_request(poll.der, ca_decrypter)
    issued = scep.issue_certificate(ca_signer, csr_view, now=now)
    success = scep.build_cert_rep_success(poll_message, [issued], signer=ca_signer)
    reply, content = scep.open_cert_rep(
        success,
        device,
        ca_certificates=ca_certs.verification,
        request=poll,
    )
    assert content is not None
    print(
        f"client: CertRep {reply.pki_status.name if reply.pki_status is not None else '?'}: "
        f"issued {content.certificates[0]!r}"
    )
    return 0
