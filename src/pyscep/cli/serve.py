"""``pyscep serve``: run the reference SCEP server, or administer its state.

    pyscep serve --state-dir DIR --challenge SECRET [--port 8080] [--pending-polls N]
                 [--manual] [--legacy] [--ra] [--next-ca] [--validity DAYS] ...
    pyscep serve list      (--state-dir DIR | --state-url URL)
    pyscep serve approve   (--state-dir DIR [--state-url URL]) TXID [--validity DAYS]
    pyscep serve reject    (--state-dir DIR | --state-url URL) TXID
    pyscep serve challenge (--state-dir DIR | --state-url URL) [--subject DN] [--ttl SECONDS]
    pyscep serve revoke    (--state-dir DIR | --state-url URL) SERIAL

The server is `pyscep.server` (deploy it under gunicorn or uvicorn with
`pyscep.server.wsgi_from_environment` / `asgi_from_environment`); this module
parses, prints and returns exit codes: 0 done, 2 refused (the reason on stderr).
The older ``pyscep serve list DIR`` form (the directory as an argument) still
works, deprecated.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

# As a module: the names this module had before 0.2 answer only through __getattr__.
from pyscep import server as app
from pyscep._deprecation import moved
from pyscep.errors import ScepError
from pyscep.protocol.profiles import PROFILES

__all__ = ["add_parser", "run"]

#: The application names this module exposed before 0.2 (now in `pyscep.server`).
_MOVED = frozenset(
    {
        "BODY_TIMEOUT",
        "CA_KEY_TYPES",
        "FileCA",
        "IssuanceTerms",
        "MAX_VALIDITY_DAYS",
        "ReferenceServer",
        "ServeConfigError",
        "ServeOptions",
        "asgi_from_environment",
        "check_options",
        "describe_pending",
        "options_from_environment",
        "wsgi_from_environment",
    }
)
_EXIT_REFUSED = 2


def __getattr__(name: str) -> Any:
    # Deployments spelled ``pyscep.cli.serve:wsgi_from_environment()`` keep working, warned.
    if name in _MOVED:
        return moved(__name__, "pyscep.server", name)
    if name == "log":  # the ``pyscep.serve`` logger
        return moved(__name__, "pyscep.server.app", name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _state_options(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: an option given before the sub-command (``serve --state-dir D list``)
    # is not overwritten by the sub-command's default.
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="the server's state directory (its CA, and state.sqlite without --state-url)",
    )
    parser.add_argument(
        "--state-url",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="postgresql://... : the state shared by the servers of several hosts",
    )
    parser.add_argument(
        "directory",
        nargs="?",
        type=Path,
        metavar="DIR",
        help="deprecated: the state directory (use --state-dir DIR)",
    )


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``serve`` and its sub-commands."""
    serve = commands.add_parser(
        "serve",
        help="a reference SCEP server (file CA; SQLite or PostgreSQL state), and its operator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _serving_options(serve)
    serve.set_defaults(handler=run, action=None)
    actions = serve.add_subparsers(
        dest="action",
        metavar="[ACTION]",
        help="administer the state instead of serving (each has --help)",
    )
    listing = actions.add_parser(
        "list",
        help="print the requests waiting for the operator",
        description="Print each request waiting for the operator, with what decides it.",
    )
    _state_options(listing)
    approve = actions.add_parser(
        "approve",
        help="issue a PENDING request (its next CertPoll gets the certificate)",
        description="Issue a PENDING request on the terms decided with it. The CA signs:"
        " --state-dir is required (with --state-url when the state is shared).",
    )
    _state_options(approve)
    approve.add_argument("transaction_id", metavar="TXID", help="the request's transactionID")
    approve.add_argument(
        "--validity",
        type=int,
        default=argparse.SUPPRESS,  # ``serve --validity N approve`` is kept too
        metavar="DAYS",
        help="the certificate's lifetime in days, instead of the one decided with the request",
    )
    reject = actions.add_parser(
        "reject",
        help="refuse a PENDING request (its next CertPoll gets FAILURE)",
        description="Refuse a PENDING request: its next CertPoll gets FAILURE (badRequest).",
    )
    _state_options(reject)
    reject.add_argument("transaction_id", metavar="TXID", help="the request's transactionID")
    challenge = actions.add_parser(
        "challenge",
        help="print a new one-time challenge (for --challenge-mode one-time)",
        description="Make a challenge password valid once, for --challenge-mode one-time;"
        " kept in the state, so every host sharing it accepts it once.",
    )
    _state_options(challenge)
    challenge.add_argument(
        "--subject", metavar="DN", help="the only subject it admits (an RFC 4514 DN pattern)"
    )
    challenge.add_argument(
        "--ttl",
        type=int,
        default=3600,
        metavar="SECONDS",
        help="how long it is valid (default 3600)",
    )
    revoke = actions.add_parser(
        "revoke",
        help="revoke an issued certificate (its renewals are refused)",
        description="Revoke a certificate this server issued: renewals signed by it are"
        " refused from now on.",
    )
    _state_options(revoke)
    revoke.add_argument(
        "serial", metavar="SERIAL", help="its serial number (decimal, or hex with 0x)"
    )
    for action in (listing, approve, reject, challenge, revoke):
        action.set_defaults(handler=run)


def _serving_options(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="the port to listen on")
    serve.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="CA keys and certificates, and state.sqlite without --state-url (required)",
    )
    serve.add_argument(
        "--state-url",
        metavar="URL",
        help="postgresql://... for state shared by several hosts",
    )
    serve.add_argument(
        "--challenge", help="the challenge password of initial enrollments (never empty)"
    )
    serve.add_argument(
        "--challenge-mode",
        choices=["static", "one-time"],
        default="static",
        help="static: --challenge for everyone; one-time: made by `serve challenge`,"
        " each valid once",
    )
    serve.add_argument(
        "--pending-polls",
        type=int,
        default=0,
        metavar="N",
        help="answer PENDING to N polls before issuing",
    )
    serve.add_argument(
        "--manual",
        action="store_true",
        help="keep every request PENDING until `serve approve` or `serve reject`",
    )
    serve.add_argument("--legacy", action="store_true", help="accept MD5 and single DES")
    serve.add_argument("--ra", action="store_true", help="a separate RA certificate")
    serve.add_argument("--next-ca", action="store_true", help="offer a rollover CA")
    serve.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="strict",
        help="the capabilities advertised (interop profile)",
    )
    serve.add_argument(
        "--log", type=Path, help="append one JSON line per request decided, with its reason"
    )
    serve.add_argument("--policy", type=Path, help="an OpenCA scep.conf deciding every request")
    serve.add_argument(
        "--validity",
        type=int,
        metavar="DAYS",
        help="days issued certificates last (default 365; a policy's decided validity wins)",
    )
    serve.add_argument(
        "--ca-key-type",
        choices=app.CA_KEY_TYPES,
        default="rsa2048",
        help="the key of a new CA (EC CAs open requests by key agreement)",
    )
    serve.add_argument(
        "--body-timeout",
        type=float,
        default=app.BODY_TIMEOUT,
        metavar="SECONDS",
        help=f"seconds a client may take to send its request (default {app.BODY_TIMEOUT})",
    )


def _fail(message: str) -> int:
    print(f"pyscep serve: {message}", file=sys.stderr)
    return _EXIT_REFUSED


def run(args: argparse.Namespace) -> int:
    """Serve, or administer the state of a server."""
    try:
        if args.action is not None:
            return _administer(args)
        return _serve(args)
    except ScepError as exc:
        return _fail(str(exc))


def _serve(args: argparse.Namespace) -> int:
    if args.state_dir is None:
        return _fail("--state-dir is required")
    if not args.body_timeout > 0:
        return _fail("--body-timeout is a positive number of seconds")
    options = app.check_options(
        app.ServeOptions(
            state_dir=args.state_dir,
            challenge=args.challenge,
            pending_polls=args.pending_polls,
            manual=args.manual,
            legacy=args.legacy,
            ra=args.ra,
            next_ca=args.next_ca,
            profile=args.profile,
            log=args.log,
            state_url=args.state_url,
            challenge_mode=args.challenge_mode,
            policy=args.policy,
            validity_days=365 if args.validity is None else args.validity,
            ca_key_type=args.ca_key_type,
        )
    )
    server = app.ReferenceServer(options)
    logging.basicConfig(level=logging.INFO, format="pyscep serve: %(message)s", stream=sys.stderr)
    try:
        httpd = app.http_server(server, args.host, args.port, body_timeout=args.body_timeout)
    except (OSError, OverflowError) as exc:  # in use, not an address, not a port
        return _fail(f"cannot listen on {args.host}:{args.port}: {exc}")
    port = httpd.server_address[1]
    print(f"pyscep serve: ready on http://{args.host}:{port}/scep (state in {args.state_dir})")
    sys.stdout.flush()
    with contextlib.suppress(KeyboardInterrupt):
        httpd.serve_forever()
    return 0


def _operator(args: argparse.Namespace) -> app.Operator:
    state_dir: Path | None = args.state_dir
    if args.directory is not None:
        if state_dir is not None:
            raise app.ServeConfigError("the state directory twice: keep --state-dir DIR only")
        # Operators' scripts say ``serve list DIR``: still served, with a note.
        print(
            f"pyscep serve: `serve {args.action} DIR` is deprecated:"
            f" use `serve {args.action} --state-dir DIR`",
            file=sys.stderr,
        )
        state_dir = args.directory
    return app.Operator(state_dir, args.state_url)


def _administer(args: argparse.Namespace) -> int:
    serial = None
    if args.action == "revoke":
        try:
            serial = int(args.serial, 0)
        except ValueError:
            return _fail(f"{args.serial!r} is not a serial number (decimal, or hex with 0x)")
    operator = _operator(args)
    now = datetime.now(timezone.utc)
    if args.action == "list":
        for transaction in operator.pending():
            print("\n".join(operator.describe(transaction)))
    elif args.action == "challenge":
        print(operator.new_challenge(ttl=timedelta(seconds=args.ttl), subject=args.subject))
    elif args.action == "approve":
        certificate = operator.approve(args.transaction_id, now=now, days=args.validity)
        print(
            f"pyscep serve: {args.transaction_id} approved: serial {certificate.serial_number},"
            f" {certificate.subject}, until {certificate.not_valid_after.isoformat()}"
        )
    elif args.action == "reject":
        operator.reject(args.transaction_id, now=now)
        print(f"pyscep serve: {args.transaction_id} rejected")
    else:
        assert serial is not None  # revoke, parsed above
        operator.revoke(serial)
        print(f"pyscep serve: serial {serial} revoked")
    return 0
