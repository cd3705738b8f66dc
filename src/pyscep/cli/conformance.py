"""``pyscep conformance server``: a live SCEP server scored against RFC 8894 and the
known attacks (`pyscep.conformance`; docs/conformance.md).

    pyscep conformance server URL [--challenge SECRET] [--single-use-challenge]
                                  [--renew-cert FILE --renew-key FILE] [--expect-pending]
                                  [--ca-fingerprint HEX] [--json]

Exit status: the worst failure's severity: 0 none (or info), 1 low, 3 medium,
4 high, 5 critical; 2 the options or the server cannot be used.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone

from pyscep.certificate import Certificate
from pyscep.conformance import ServerCheckOptions, check_server
from pyscep.crypto import KeyPair, load_private_key
from pyscep.errors import ScepError

__all__ = ["add_parser", "run"]

EXIT_USAGE = 2


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the command."""
    parser = commands.add_parser(
        "conformance",
        help="score a live SCEP server against RFC 8894 and the known attacks",
        description="Drive a SCEP implementation the way clients and attackers do and print a"
        " scorecard (docs/conformance.md). Exit status: 0 clean, 1 low, 3 medium, 4 high,"
        " 5 critical, 2 unusable options or server.",
    )
    kinds = parser.add_subparsers(dest="kind", required=True, help="what is tested")
    server = kinds.add_parser(
        "server",
        help="a SCEP server, at its URL (it enrolls for real: use a test CA)",
        description="Enroll, renew, poll and attack the server at URL; one line per check.",
    )
    server.add_argument("url", help="the server's SCEP URL, http://host:port/path")
    server.add_argument("--challenge", help="a challengePassword the server accepts")
    server.add_argument(
        "--single-use-challenge",
        action="store_true",
        help="the challenge is one-time: its second use must be refused",
    )
    server.add_argument("--renew-cert", help="a certificate this server issued, to renew")
    server.add_argument("--renew-key", help="its private key (PEM or DER)")
    server.add_argument(
        "--expect-pending",
        action="store_true",
        help="the server holds requests for an operator (approve none during the run)",
    )
    server.add_argument("--ca-fingerprint", metavar="HEX", help="the CA's SHA-256, to pin it")
    server.add_argument("--json", action="store_true", help="the scorecard as one JSON object")
    server.set_defaults(handler=run)


def _options(args: argparse.Namespace) -> ServerCheckOptions:
    if (args.renew_cert is None) != (args.renew_key is None):
        raise ValueError("--renew-cert and --renew-key go together")
    renew = None
    if args.renew_cert is not None:
        with open(args.renew_cert, "rb") as cert, open(args.renew_key, "rb") as key:
            renew = KeyPair(load_private_key(key.read()), Certificate.load(cert.read()))
    pin = None
    if args.ca_fingerprint is not None:
        pin = bytes.fromhex(args.ca_fingerprint.replace(":", ""))
    return ServerCheckOptions(
        challenge=args.challenge,
        renew=renew,
        expect_pending=args.expect_pending,
        single_use_challenge=args.single_use_challenge,
        ca_fingerprint=pin,
    )


def run(args: argparse.Namespace) -> int:
    """Run the checks; print the scorecard; exit by the worst failure."""
    try:
        options = _options(args)
        scorecard = check_server(args.url, options, now=datetime.now(timezone.utc))
    except OSError as exc:
        print(f"pyscep conformance: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return EXIT_USAGE
    except (ScepError, ValueError) as exc:
        print(f"pyscep conformance: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(scorecard.to_json(), indent=2))
    else:
        print(scorecard.to_text())
    return scorecard.exit_status
