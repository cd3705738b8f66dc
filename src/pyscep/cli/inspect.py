"""``pyscep inspect``: decode, verify and decrypt any SCEP payload."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pyscep.certificate import Certificate
from pyscep.crypto import load_private_key
from pyscep.errors import ScepError
from pyscep.messages.inspect import inspect_payload

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the command."""
    parser = commands.add_parser(
        "inspect",
        help="decode, verify and decrypt any SCEP payload",
        description="Exit status: 0 fine, 1 findings with --strict, 2 not a SCEP payload, "
        "3 verification or decryption failed.",
    )
    parser.add_argument("file", help="DER, PEM, base64 or a GET request line/query")
    parser.add_argument("--key", action="append", default=[], help="private key (PEM/DER)")
    parser.add_argument("--cert", action="append", default=[], help="certificate(s) (PEM/DER)")
    parser.add_argument(
        "--password",
        action="append",
        default=[],
        help="a password for a PasswordRecipientInfo (a challenge password, RFC 8894 3.1)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object, manifest fields")
    parser.add_argument("--strict", action="store_true", help="exit 1 on any finding")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Decode, verify and (given a key) decrypt a SCEP payload; print what was found."""
    try:
        data = Path(args.file).read_bytes()
        keys = [load_private_key(Path(k).read_bytes()) for k in args.key]
        certificates = [
            c for path in args.cert for c in Certificate.load_all(Path(path).read_bytes())
        ]
        result = inspect_payload(
            data,
            keys=keys,
            certificates=certificates,
            passwords=[p.encode() for p in args.password],
        )
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
