"""``pyscep conformance``: a live SCEP server, or a SCEP client, scored against RFC 8894
and the known attacks (`pyscep.conformance`; docs/conformance.md).

    pyscep conformance server URL [--challenge SECRET] [--single-use-challenge]
                                  [--renew-cert FILE --renew-key FILE] [--expect-pending]
                                  [--ca-fingerprint HEX] [--json]
    pyscep conformance client (--client NAME | -- COMMAND...) [--challenge SECRET]
                                  [--timeout SECONDS] [--keep DIR] [--json]

Exit status: the worst failure's severity: 0 none (or info), 1 low, 3 medium,
4 high, 5 critical; 2 the options or the server cannot be used, or the run itself
broke (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from pyscep.certificate import Certificate
from pyscep.conformance import ServerCheckOptions, check_server
from pyscep.conformance.client import CLIENT_COMMANDS, check_client, command_runner
from pyscep.conformance.scorecard import Scorecard
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
        " 5 critical, 2 unusable options or server, or an internal error.",
    )
    kinds = parser.add_subparsers(dest="kind", required=True, help="what is tested")
    server = kinds.add_parser(
        "server",
        help="a SCEP server, at its URL (it enrolls for real: use a test CA)",
        description="Enroll, renew, poll and attack the server at URL; one line per check.",
    )
    server.add_argument("url", help="the server's SCEP URL, http://host:port/path")
    _common(server, challenge="a challengePassword the server accepts")
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
    server.set_defaults(handler=run)
    client = kinds.add_parser(
        "client",
        help="a SCEP client, enrolling once per scenario against honest and hostile servers",
        description="Run the client once per scenario against a scripted server on loopback;"
        " a scenario is accepted when the command exits 0. In COMMAND, {url}, {challenge} and"
        " {dir} (a fresh directory per scenario) are replaced.",
    )
    client.add_argument(
        "--client", choices=sorted(CLIENT_COMMANDS), help="a ready command for this client"
    )
    _common(client, challenge="the challenge the servers expect (default: random)")
    client.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="each scenario's time limit (a client still polling then is stopped; default 30)",
    )
    client.add_argument("--keep", type=Path, metavar="DIR", help="keep each scenario's files here")
    client.add_argument("command", nargs=argparse.REMAINDER, help="the client's command, after --")
    client.set_defaults(handler=run_client)


def _common(parser: argparse.ArgumentParser, *, challenge: str) -> None:
    """The options both kinds take: --challenge (``challenge`` says what it is), --json."""
    parser.add_argument("--challenge", help=challenge)
    parser.add_argument("--json", action="store_true", help="the scorecard as one JSON object")


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
    except Exception as exc:
        return _internal_error(exc)
    return _printed(scorecard, as_json=args.json)


def run_client(args: argparse.Namespace) -> int:
    """Score the client; print the scorecard; exit by the worst failure."""
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if (args.client is None) == (not command):
        print("pyscep conformance: give --client NAME or a command after --", file=sys.stderr)
        return EXIT_USAGE
    argv = tuple(command) if command else CLIENT_COMMANDS[args.client]
    try:
        scorecard = check_client(
            command_runner(argv, timeout=args.timeout),
            target=args.client or " ".join(argv),
            challenge=args.challenge,
            directory=args.keep,
        )
    except OSError as exc:
        print(f"pyscep conformance: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        return _internal_error(exc)
    return _printed(scorecard, as_json=args.json)


def _internal_error(exc: Exception) -> int:
    """An error of the run itself: one line, and exit 2 (never 1, the exit of 'worst: low')."""
    print(f"pyscep conformance: internal error, no scorecard: {exc!r:.300}", file=sys.stderr)
    return EXIT_USAGE


def _printed(scorecard: Scorecard, *, as_json: bool) -> int:
    if as_json:
        print(json.dumps(scorecard.to_json(), indent=2))
    else:
        print(scorecard.to_text())
    return scorecard.exit_status
