"""The ``pyscep`` command line: ``pyscep demo``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime, timezone

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    """Sign and envelope a payload as a SCEP client would, then open it as the CA."""
    from . import (
        DEFAULT_POLICY,
        ContentCipher,
        DigestAlgorithm,
        get_backend,
        load_decrypter,
        load_signer,
    )
    from ._demo_pki import make_identity
    from .cms.enveloped import build_enveloped_data, decrypt_envelope, parse_enveloped_data
    from .cms.signed import build_signed_data, parse_signed_data, verify_signed_data

    now = datetime.now(timezone.utc)
    backend = get_backend()
    ca = make_identity("pyscep demo CA", now=now, ca=True)
    client = make_identity("demo-device", now=now)
    print(f"CA:     {ca.certificate.subject}")
    print(f"client: {client.certificate.subject}")

    payload = b"a PKCS#10 request would go here"
    envelope = build_enveloped_data(
        payload,
        ca.certificate,
        cipher=ContentCipher.AES128_CBC,
        backend=backend,
        policy=DEFAULT_POLICY,
    )
    signer = load_signer(client.key_der, client.certificate)
    message = build_signed_data(
        envelope, signer, digest=DigestAlgorithm.SHA256, backend=backend, policy=DEFAULT_POLICY
    )
    print(f"client built a signed, enveloped message of {len(message)} bytes")

    verified = verify_signed_data(
        parse_signed_data(message), backend=backend, policy=DEFAULT_POLICY
    )
    print(
        f"CA verified the signature of {verified.signer_certificate.subject}"
        f" ({verified.digest.value}, {verified.scheme.value})"
    )
    decrypter = load_decrypter(ca.key_der, ca.certificate)
    plaintext, cipher, _ = decrypt_envelope(
        parse_enveloped_data(verified.content), decrypter, backend=backend, policy=DEFAULT_POLICY
    )
    print(f"CA decrypted ({cipher.value}): {plaintext.decode()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pyscep`` command."""
    parser = argparse.ArgumentParser(prog="pyscep", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run a self-contained demonstration")
    demo.set_defaults(handler=_demo)
    args = parser.parse_args(argv)
    handler = args.handler
    return int(handler(args))


if __name__ == "__main__":
    sys.exit(main())
