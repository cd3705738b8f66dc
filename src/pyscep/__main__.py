"""The ``pyscep`` command line: ``pyscep demo``, ``pyscep inspect``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    """A whole SCEP enrollment, client and CA in one process, on built-in defaults."""
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import AttributeOID, NameOID

    from . import Certificate, load_decrypter, load_signer
    from . import messages as scep
    from ._demo_pki import make_identity

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
        scep.IssuerAndSubject(bytes(ca.certificate.asn1.subject.dump()), csr_view.subject_der),
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


def _inspect(args: argparse.Namespace) -> int:
    """Decode, verify and (given a key) decrypt a SCEP payload; print what was found."""
    import json
    from pathlib import Path

    from .certificate import Certificate
    from .errors import ScepError
    from .inspect import inspect_payload

    try:
        data = Path(args.file).read_bytes()
        keys = [Path(k).read_bytes() for k in args.key]
        certificates = [
            c for path in args.cert for c in Certificate.load_all(Path(path).read_bytes())
        ]
        result = inspect_payload(data, keys=keys, certificates=certificates)
    except OSError as exc:
        print(f"pyscep inspect: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 2
    except ScepError as exc:
        print(f"pyscep inspect: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                {
                    "kind": result.kind,
                    **result.description,
                    "findings": list(result.findings),
                    "errors": list(result.errors),
                },
                indent=2,
            )
        )
    else:
        print(result.kind)
        for name, value in result.description.items():
            if isinstance(value, (dict, list)):
                print(f"  {name}:")
                for line in json.dumps(value, indent=2).splitlines():
                    print(f"    {line}")
            else:
                print(f"  {name}: {value}")
        for finding in result.findings:
            print(f"  finding: {finding}")
        for error in result.errors:
            print(f"  error: {error}")
    if result.errors:
        return 3
    if args.strict and result.findings:
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pyscep`` command."""
    parser = argparse.ArgumentParser(prog="pyscep", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="a whole SCEP enrollment on built-in defaults")
    demo.set_defaults(handler=_demo)
    inspect = commands.add_parser(
        "inspect",
        help="decode, verify and decrypt any SCEP payload",
        description="Exit status: 0 fine, 1 findings with --strict, 2 not a SCEP payload, "
        "3 verification or decryption failed.",
    )
    inspect.add_argument("file", help="DER, PEM, base64 or a GET request line/query")
    inspect.add_argument("--key", action="append", default=[], help="private key (PEM/DER)")
    inspect.add_argument("--cert", action="append", default=[], help="certificate(s) (PEM/DER)")
    inspect.add_argument("--json", action="store_true", help="one JSON object, manifest fields")
    inspect.add_argument("--strict", action="store_true", help="exit 1 on any finding")
    inspect.set_defaults(handler=_inspect)
    args = parser.parse_args(argv)
    handler = args.handler
    return int(handler(args))


if __name__ == "__main__":
    sys.exit(main())
