"""``pyscep serve``: run the reference SCEP server, or administer its state.

    pyscep serve --state-dir DIR --challenge SECRET [--port 8080] [--pending-polls N]
                 [--manual] [--legacy] [--ra] [--next-ca] [--validity DAYS] ...
    pyscep serve --config FILE [--admin-port PORT] ...
    pyscep serve list      (--state-dir DIR | --state-url URL)
    pyscep serve approve   (--state-dir DIR [--state-url URL]) TXID [--validity DAYS]
    pyscep serve reject    (--state-dir DIR | --state-url URL) TXID
    pyscep serve challenge (--state-dir DIR | --state-url URL) [--subject DN] [--sid SID]
                           [--ttl SECONDS]
    pyscep serve revoke    (--state-dir DIR | --state-url URL) (SERIAL | --subject DN)
                           [--reason REASON]
    pyscep serve crl       --state-dir DIR [--state-url URL] [--crl-days DAYS]
    pyscep serve import    (--state-dir DIR | --state-url URL) [--ca-cert FILE] CERT...

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
import os
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

# As a module: the names this module had before 0.2 answer only through __getattr__.
from pyscep import server as app
from pyscep._deprecation import moved
from pyscep.enums import RevocationReason
from pyscep.errors import ScepError
from pyscep.messages import crl_to_pem
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


def _state_options(parser: argparse.ArgumentParser, *, old_directory: bool = True) -> None:
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
    if not old_directory:  # a command newer than the deprecated form
        parser.set_defaults(directory=None)
        return
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
    _ca_options(approve)
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
        "--sid",
        metavar="SID",
        help="the Windows account it is for (S-1-5-21-...): the certificate carries this SID"
        " for strong certificate mapping (docs/windows.md); never one a request asks for",
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
        help="revoke an issued certificate (the CRL lists it; its renewals are refused)",
        description="Revoke a certificate this server issued, by serial number or by"
        " subject: the next CRL lists it, and renewals signed by it are refused from now on."
        " A revocation stands: revoking again is refused.",
    )
    _state_options(revoke)
    revoke.add_argument(
        "serial", nargs="?", metavar="SERIAL", help="its serial number (decimal, or hex with 0x)"
    )
    revoke.add_argument(
        "--subject",
        metavar="DN",
        help="instead of SERIAL: every unexpired certificate issued to this RFC 4514 DN",
    )
    revoke.add_argument(
        "--reason",
        default="unspecified",
        metavar="REASON",
        help="the CRLReason of RFC 5280: "
        + ", ".join(reason.rfc_name for reason in app.operator.REVOCATION_REASONS)
        + " (default unspecified)",
    )
    crl = actions.add_parser(
        "crl",
        help="print the CA's current CRL (PEM), signing a new one if due",
        description="Print the CRL every host serves now, as PEM (openssl crl reads it),"
        " signing a new one first if what is revoked changed or half its lifetime passed."
        " The CA signs: --state-dir is required (with --state-url when the state is shared).",
    )
    _state_options(crl)
    _ca_options(crl)
    crl.add_argument(
        "--crl-days",
        type=int,
        default=argparse.SUPPRESS,  # ``serve --crl-days N crl`` is kept too
        metavar="DAYS",
        help="how long a CRL signed now is valid (default 7)",
    )
    imports = actions.add_parser(
        "import",
        help="bring certificates the CA issued before into the inventory (so they renew)",
        description="Bring certificates the CA issued before this server (openssl ca, another"
        " SCEP server) into the inventory: their holders can then renew with them, and they"
        " can be revoked. Each must be signed by the CA's key and be an end entity's;"
        " importing one again changes nothing.",
    )
    _state_options(imports, old_directory=False)
    imports.add_argument(
        "--ca-cert",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="the CA certificate that signed them (default: the state directory's CA,"
        " or PYSCEP_CA_CERT)",
    )
    imports.add_argument(
        "certificates",
        nargs="+",
        type=Path,
        metavar="CERT",
        help="PEM or DER files, each one or more certificates",
    )
    for action in (listing, approve, reject, challenge, revoke, crl, imports):
        action.set_defaults(handler=run)


def _ca_options(parser: argparse.ArgumentParser, default: Any = argparse.SUPPRESS) -> None:
    parser.add_argument(
        "--ca-cert",
        type=Path,
        default=default,
        metavar="FILE",
        help="an existing CA's certificate, instead of the state directory's CA",
    )
    parser.add_argument(
        "--ca-key",
        default=default,
        metavar="FILE|URI",
        help="its key: a PEM or DER file, or an RFC 7512 pkcs11: URI (the key stays in the"
        " token; the PIN from the URI's pin-source=file:... or PYSCEP_PKCS11_PIN)",
    )


def _serving_options(serve: argparse.ArgumentParser) -> None:
    # No defaults here: an option not given leaves its setting to PYSCEP_* and --config
    # (`pyscep.server.load_settings`); the defaults named in the help are theirs.
    serve.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="a TOML file with any of these settings (its keys are the options' names:"
        " challenge_mode = ...); PYSCEP_* variables override it, and options both",
    )
    serve.add_argument("--host", help="the address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="the port to listen on (default 8080)")
    serve.add_argument(
        "--admin-port",
        type=int,
        metavar="PORT",
        help="serve /healthz, /readyz and /metrics (Prometheus) on this port",
    )
    serve.add_argument("--admin-host", help="the address of the admin port (default 127.0.0.1)")
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
        choices=["static", "one-time", "intune"],
        help="static (the default): --challenge for everyone; one-time: made by"
        " `serve challenge`, each valid once; intune: Intune validates each request",
    )
    intune: tuple[tuple[str, Callable[[str], object], str], ...] = (
        ("--intune-tenant", str, "intune mode: the Entra ID tenant"),
        ("--intune-client-id", str, "intune mode: the application's client ID"),
        ("--intune-secret-file", Path, "its client secret, in a file only its owner reads"),
        ("--intune-certificate", Path, "or its certificate (with --intune-key)"),
        ("--intune-key", str, "that certificate's key: a file or a pkcs11: URI"),
        ("--intune-federated-token-file", Path, "or the platform's federated token file"),
        ("--intune-authority", str, "Entra ID (default https://login.microsoftonline.com)"),
        ("--intune-graph-url", str, "Graph (default https://graph.microsoft.com)"),
        ("--intune-ca-bundle", Path, "the TLS roots for Entra ID, Graph and Intune"),
    )
    for flag, kind, text in intune:
        serve.add_argument(flag, type=kind, help=text)
    serve.add_argument(
        "--requested-sid",
        choices=["strip", "refuse"],
        help="a Windows account SID a request asks for and nobody vouches for: issue without"
        " it (strip, the default) or refuse the request; it is never copied",
    )
    serve.add_argument(
        "--ndes-admin-credentials",
        type=Path,
        metavar="FILE",
        help="serve an NDES-style /certsrv/mscep_admin/ page of one-time challenges (over"
        " TLS only) to these: 'basic USER:PASSWORD' and 'bearer TOKEN' lines, chmod 600",
    )
    serve.add_argument(
        "--ndes-admin-ttl",
        type=int,
        metavar="SECONDS",
        help="how long a challenge of that page lives (default 3600, as NDES)",
    )
    serve.add_argument(
        "--ndes-admin-cache",
        type=int,
        metavar="N",
        help="most challenges of that page waiting unused (default 100; then 'The password"
        " cache is full.')",
    )
    serve.add_argument(
        "--ndes-admin-behind-proxy",
        action=argparse.BooleanOptionalAction,
        help="TLS ends at a proxy trusted to say so (X-Forwarded-Proto): take its word",
    )
    serve.add_argument(
        "--pending-polls",
        type=int,
        metavar="N",
        help="answer PENDING to N polls before issuing",
    )
    serve.add_argument(
        "--manual",
        action=argparse.BooleanOptionalAction,
        help="keep every request PENDING until `serve approve` or `serve reject`",
    )
    # --no-legacy and the like: a switch the file or a variable turned on, turned off.
    for flag, text in (
        ("--legacy", "accept MD5 and single DES"),
        ("--ra", "a separate RA certificate"),
        ("--next-ca", "offer a rollover CA"),
    ):
        serve.add_argument(flag, action=argparse.BooleanOptionalAction, help=text)
    serve.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        help="the capabilities advertised (interop profile; default strict)",
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
        help="the key of a new CA (default rsa2048; EC CAs open requests by key agreement;"
        " an ML-DSA CA, with --profile post-quantum, gets an ML-KEM RA that opens them)",
    )
    _ca_options(serve, default=None)
    serve.add_argument(
        "--ra-cert",
        type=Path,
        metavar="FILE",
        help="with --ca-cert: an RA certificate that signs replies and opens requests",
    )
    serve.add_argument(
        "--ra-key",
        metavar="FILE|URI",
        help="the RA's key: a PEM or DER file, or a pkcs11: URI",
    )
    serve.add_argument(
        "--ca-chain",
        type=Path,
        metavar="FILE",
        help="with --ca-cert of an intermediate CA: the certificates above it up to the root"
        " (PEM), sent with it in GetCACert",
    )
    serve.add_argument(
        "--issuance-profiles",
        type=Path,
        metavar="FILE",
        help="a TOML file of issuance profiles (validity, keyUsage, extendedKeyUsage,"
        " subjectAltName rules, CRL and AIA URLs), chosen per request by the policy's role;"
        " [default] otherwise",
    )
    serve.add_argument(
        "--crl-url",
        metavar="URL",
        help="where relying parties fetch the CRL (http://...): written into every certificate"
        " issued, and served at its path (/crl without it)",
    )
    serve.add_argument(
        "--crl-days",
        type=int,
        metavar="DAYS",
        help="how long each CRL is valid (default 7; a new one is signed after half of it)",
    )
    serve.add_argument(
        "--body-timeout",
        type=float,
        metavar="SECONDS",
        help=f"seconds a client may take to send its request (default {app.BODY_TIMEOUT})",
    )


#: The settings ``pyscep serve`` takes from its options (argparse's name -> the setting's).
_GIVEN = {name: name for name in app.settings.SETTINGS} | {"validity": "validity_days"}


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
    given = {
        setting: getattr(args, name) for name, setting in _GIVEN.items() if hasattr(args, name)
    }
    config = args.config
    if config is None and os.environ.get("PYSCEP_CONFIG"):
        config = Path(os.environ["PYSCEP_CONFIG"])
    settings = app.load_settings(config, os.environ, given)
    options, listening = settings.options, settings.listening
    server = app.ReferenceServer(options)
    logging.basicConfig(level=logging.INFO, format="pyscep serve: %(message)s", stream=sys.stderr)
    # The human lines above say each decision; the JSON lines go to --log only.
    logging.getLogger("pyscep.decisions").propagate = False
    host, port = listening.host, listening.port
    try:
        httpd = app.http_server(server, host, port, body_timeout=listening.body_timeout)
    except (OSError, OverflowError) as exc:  # in use, not an address, not a port
        return _fail(f"cannot listen on {host}:{port}: {exc}")
    ready = f"pyscep serve: ready on http://{host}:{httpd.server_address[1]}/scep"
    if listening.admin_port is not None:
        admin_host, admin_port = listening.admin_host, listening.admin_port
        try:
            admin = app.http_server(app.AdminApplication(server), admin_host, admin_port)
        except (OSError, OverflowError) as exc:
            return _fail(f"cannot listen on {admin_host}:{admin_port} (the admin port): {exc}")
        threading.Thread(target=admin.serve_forever, daemon=True).start()
        ready += f", admin on http://{admin_host}:{admin.server_address[1]}"
    print(f"{ready} (state in {options.state_dir})")
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
    # As the server: an option, else its PYSCEP_* variable (PYSCEP_CA_CERT, PYSCEP_CRL_DAYS).
    environment = app.settings.environment_values(os.environ)
    if args.action == "import":  # needs the CA's certificate only, not its key
        issuer = getattr(args, "ca_cert", None) or environment.get("ca_cert")
        return app.Operator(state_dir, args.state_url, ca_cert=issuer)
    operator = app.Operator(
        state_dir,
        args.state_url,
        ca_cert=args.ca_cert or environment.get("ca_cert"),
        ca_key=args.ca_key or environment.get("ca_key"),
    )
    if "crl_days" in environment:
        operator.crl_days = environment["crl_days"]
    return operator


def _revocation(args: argparse.Namespace) -> tuple[int | str, RevocationReason]:
    """What ``serve revoke`` revokes (a serial number, or a subject with --subject) and
    why; ServeConfigError."""
    given_state = args.state_dir is not None or args.state_url is not None
    if args.serial is None and args.directory is not None and given_state:
        # ``revoke --state-dir DIR SERIAL``: argparse gave the lone positional to the
        # deprecated directory argument (``revoke DIR SERIAL``), which comes first.
        args.serial, args.directory = str(args.directory), None
    if args.serial is None and args.subject is None and args.directory is not None:
        # ``revoke 12``: the lone argument went to the deprecated directory.
        raise app.ServeConfigError(
            f"revoke {args.directory}: the state too (--state-dir DIR or --state-url URL)"
        )
    try:
        reason = RevocationReason.from_rfc_name(args.reason)
    except ValueError as exc:
        raise app.ServeConfigError(str(exc)) from None
    if (args.serial is None) == (args.subject is None):
        raise app.ServeConfigError("what to revoke: a SERIAL or --subject DN (one of them)")
    if args.serial is None:
        return str(args.subject), reason
    try:
        return int(args.serial, 0), reason
    except ValueError:
        raise app.ServeConfigError(
            f"{args.serial!r} is not a serial number (decimal, or hex with 0x)"
        ) from None


def _revoke(
    operator: app.Operator, target: int | str, reason: RevocationReason, now: datetime
) -> None:
    if isinstance(target, int):
        operator.revoke(target, reason=reason, now=now)
        print(f"pyscep serve: serial {target} revoked ({reason.rfc_name})")
        return
    for certificate in operator.revoke_subject(target, reason=reason, now=now):
        print(
            f"pyscep serve: serial {certificate.serial_number} revoked ({reason.rfc_name}):"
            f" {certificate.subject}"
        )


def _import(operator: app.Operator, args: argparse.Namespace, now: datetime) -> None:
    issuer = operator.ca_certificate()
    certificates = [
        certificate
        for path in args.certificates
        for certificate in app.file_ca.read_certificates(path, "the certificates")
    ]
    for done in operator.import_certificates(certificates, issuer=issuer, now=now):
        certificate = done.certificate
        what = "imported" if done.new else "already in the inventory"
        expired = " (expired: it cannot renew)" if certificate.not_valid_after <= now else ""
        print(
            f"pyscep serve: serial {certificate.serial_number} {what}: {certificate.subject},"
            f" until {certificate.not_valid_after.isoformat()}{expired}"
        )


def _administer(args: argparse.Namespace) -> int:
    # A mistyped reason or serial is refused before the state is opened.
    revocation = _revocation(args) if args.action == "revoke" else None
    operator = _operator(args)
    now = datetime.now(timezone.utc)
    if args.action == "list":
        for transaction in operator.pending():
            print("\n".join(operator.describe(transaction)))
    elif args.action == "challenge":
        print(
            operator.new_challenge(
                ttl=timedelta(seconds=args.ttl), subject=args.subject, sid=args.sid
            )
        )
    elif args.action == "approve":
        certificate = operator.approve(args.transaction_id, now=now, days=args.validity)
        print(
            f"pyscep serve: {args.transaction_id} approved: serial {certificate.serial_number},"
            f" {certificate.subject}, until {certificate.not_valid_after.isoformat()}"
        )
    elif args.action == "reject":
        operator.reject(args.transaction_id, now=now)
        print(f"pyscep serve: {args.transaction_id} rejected")
    elif args.action == "crl":
        if args.crl_days is not None:
            operator.crl_days = args.crl_days
        print(crl_to_pem(operator.crl(now=now).der), end="")
    elif args.action == "import":
        _import(operator, args, now)
    elif revocation is not None:
        _revoke(operator, *revocation, now)
    return 0
