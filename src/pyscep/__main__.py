"""The ``pyscep`` command line: ``pyscep demo``, ``pyscep inspect``."""

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
    demo = commands.add_parser("demo", help="run a self-contained demonstration")
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
