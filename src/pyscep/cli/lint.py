"""``pyscep lint``: a CA/RA setup checked against each platform's SCEP client.

    pyscep lint --ca-cert FILE [--ra-cert FILE]... [--ca-chain FILE] [--caps LIST]
    pyscep lint --state-dir DIR                    (a pyscep serve state directory)
    pyscep lint --url URL [--ca-fingerprint HEX]   (any live SCEP server)
                [--profile NAME] [--platform NAME]... [--json]

Exit status: 0 no platform fails, 1 some platform fails, 2 the setup cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from pyscep._appkit.http import http_exchange
from pyscep.certificate import Certificate
from pyscep.errors import ScepError
from pyscep.http import Operation, client_request
from pyscep.messages import CACaps, parse_ca_certificates
from pyscep.protocol.lint import PLATFORMS, LintReport, lint_setup
from pyscep.protocol.profiles import PROFILES
from pyscep.server import ReferenceServer, ServeOptions

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the command."""
    parser = commands.add_parser(
        "lint",
        help="check a CA/RA setup against what Windows, Apple, Cisco... require",
        description="Say, per platform, what its SCEP client would fail on with this setup"
        " (docs/windows.md). Exit status: 0 none fails, 1 some platform fails, 2 the setup"
        " cannot be read.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--ca-cert", type=Path, metavar="FILE", help="the CA certificate")
    source.add_argument("--state-dir", type=Path, metavar="DIR", help="a pyscep serve state")
    source.add_argument("--url", help="a live SCEP server (GetCACaps and GetCACert are asked)")
    parser.add_argument(
        "--ra-cert", type=Path, action="append", default=[], metavar="FILE", help="an RA"
    )
    parser.add_argument("--ca-chain", type=Path, metavar="FILE", help="the CA's chain (PEM)")
    parser.add_argument(
        "--caps",
        help="the GetCACaps keywords, comma-separated (default: the profile's)",
    )
    parser.add_argument(
        "--ca-fingerprint", metavar="HEX", help="with --url: the CA's SHA-256, to pin it"
    )
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="strict",
        help="how the server spells its CertReps (default strict)",
    )
    parser.add_argument(
        "--platform",
        action="append",
        choices=sorted(PLATFORMS),
        help="check these only (default: every one)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object: per platform")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Check the setup; print per platform what fails and why."""
    now = datetime.now(timezone.utc)
    try:
        report = _report(args, now)
    except OSError as exc:
        print(f"pyscep lint: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return 2
    except (ScepError, ValueError, ConnectionError) as exc:
        print(f"pyscep lint: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for name in report.platforms:
            found = report.for_platform(name)
            print(f"{PLATFORMS[name].label}: {'ok' if not found else ''}".rstrip())
            for finding in found:
                print(f"    {finding.severity.value}: {finding.check}: {finding.detail}")
    return 1 if report.failures() else 0


def _report(args: argparse.Namespace, now: datetime) -> LintReport:
    profile = PROFILES[args.profile]
    if args.state_dir is not None:
        # ra and next_ca only load what the state holds (create=False makes nothing).
        options = ServeOptions(args.state_dir, profile=args.profile, ra=True, next_ca=True)
        server = ReferenceServer(options, create=False)
        return server.lint(now) if args.platform is None else _only(server.lint(now), args)
    if args.url is not None:
        return _remote(args, now)
    ca = Certificate.load(args.ca_cert.read_bytes())
    ras = [Certificate.load(path.read_bytes()) for path in args.ra_cert]
    chain = () if args.ca_chain is None else Certificate.load_all(args.ca_chain.read_bytes())
    caps = profile.advertised_caps if args.caps is None else _caps(args.caps)
    return lint_setup(
        ca, ras, caps=caps, profile=profile, now=now, chain=chain, platforms=args.platform
    )


def _caps(text: str) -> CACaps:
    return CACaps.of([word.strip() for word in text.split(",") if word.strip()])


def _remote(args: argparse.Namespace, now: datetime) -> LintReport:
    """What a live server hands its clients, asked as a client asks."""
    status, _, body = http_exchange(args.url, client_request(Operation.GET_CA_CAPS))
    caps = CACaps.parse(body) if status == 200 else CACaps()
    status, _, body = http_exchange(args.url, client_request(Operation.GET_CA_CERT))
    if status != 200:
        raise ConnectionError(f"{args.url}: GetCACert answered HTTP {status}")
    pin = None
    if args.ca_fingerprint is not None:
        pin = bytes.fromhex(args.ca_fingerprint.replace(":", ""))
    found = parse_ca_certificates(body, now=now, ca_fingerprint=pin)
    ras = [c for c in found.certificates if not c.is_ca]
    chain = [c for c in found.certificates if c.is_ca and c != found.ca]
    return lint_setup(
        found.ca,
        ras,
        caps=caps if args.caps is None else _caps(args.caps),
        profile=PROFILES[args.profile],
        now=now,
        chain=chain,
        platforms=args.platform,
    )


def _only(report: LintReport, args: argparse.Namespace) -> LintReport:
    chosen = tuple(args.platform)
    kept = tuple(f for f in report.findings if f.platform in (*chosen, "all"))
    return LintReport(kept, chosen)
