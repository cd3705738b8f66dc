"""``pyscep client``: a SCEP client on `pyscep.protocol.client.ScepClient`, over urllib.

    pyscep client getcaps URL
    pyscep client getca URL --out FILE [--ca-fingerprint SHA256]
    pyscep client enroll URL --subject DN --challenge SECRET --key-out KEY --cert-out CERT
                         [--key-type rsa2048|ec-p256|ec-p384|ec-p521|ed25519] [--get] [--legacy]
                         [--ca-fingerprint SHA256]
    pyscep client renew URL --key KEY --cert CERT --key-out KEY2 --cert-out CERT2
                        [--challenge SECRET]   (an Ed25519 key's CertRep is keyed by it)
    pyscep client poll URL --pending FILE
    pyscep client getcert URL --key KEY --cert CERT --serial N --out FILE
    pyscep client getcrl URL --key KEY --cert CERT --out FILE

Exit status: 0 SUCCESS, 3 PENDING (the command to poll is printed), 4 FAILURE
(the failInfo is printed), 5 a reply that broke the protocol, 2 bad input.
Keys are written 0600.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization

from pyscep.algorithms import DEFAULT_POLICY, LEGACY
from pyscep.certificate import Certificate
from pyscep.crypto import KeyPair, load_private_key
from pyscep.errors import LocalProtocolError, ScepError
from pyscep.http import HttpRequest
from pyscep.messages import CertificationRequest, IssuerAndSerial, build_csr
from pyscep.protocol.client import (
    CACertificatesReceived,
    CapabilitiesReceived,
    CertificateIssued,
    CertificatesReceived,
    ClientEvent,
    CrlReceived,
    ProtocolFailed,
    ReplyUnreadable,
    RequestPending,
    RequestRejected,
    ScepClient,
)
from pyscep.protocol.profiles import PROFILES, STRICT

from .file_ca import write_private
from .keys import KEY_TYPES, new_private_key

__all__ = ["add_parser", "http_exchange", "run"]

EXIT_PENDING, EXIT_FAILURE, EXIT_PROTOCOL = 3, 4, 5


class _ClientError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def http_exchange(base: str, request: HttpRequest) -> tuple[int, str | None, bytes]:
    """Send ``request`` to the server at ``base``; (status, Content-Type, body)."""
    parts = urlsplit(base)
    target = f"{parts.scheme}://{parts.netloc}{request.target}"
    http_request = urllib.request.Request(  # noqa: S310 - the user's SCEP URL
        target,
        data=request.body if request.method == "POST" else None,
        method=request.method,
        headers=dict(request.headers),
    )
    try:
        with urllib.request.urlopen(http_request, timeout=60) as response:  # noqa: S310
            return response.status, response.headers.get("Content-Type"), response.read(1 << 20)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type"), exc.read(1 << 16)


def _exchange(client: ScepClient, base: str, request: HttpRequest) -> ClientEvent:
    status, content_type, body = http_exchange(base, request)
    event = client.receive(status, content_type, body, now=datetime.now(timezone.utc))
    if isinstance(event, ProtocolFailed):
        raise _ClientError(EXIT_PROTOCOL, f"the server broke the protocol: {event.reason}")
    return event


def _client(args: argparse.Namespace) -> ScepClient:
    pin = bytes.fromhex(args.ca_fingerprint.replace(":", "")) if args.ca_fingerprint else None
    profile = PROFILES[args.profile]
    if args.get:
        profile = replace(profile, use_post=False)
    return ScepClient(
        path=urlsplit(args.url).path or "/scep",
        algorithms=LEGACY if args.legacy else DEFAULT_POLICY,
        profile=profile,
        ca_fingerprint=pin,
    )


def _ready(client: ScepClient, base: str) -> None:
    caps = _exchange(client, base, client.get_caps())
    assert isinstance(caps, CapabilitiesReceived)
    if caps.negotiated is None:
        raise _ClientError(2, "the CA's capabilities need the legacy algorithms (--legacy)")
    ca = _exchange(client, base, client.get_ca_certificates())
    assert isinstance(ca, CACertificatesReceived)


def _new_key(kind: str) -> bytes:
    try:
        return new_private_key(kind)
    except LocalProtocolError as exc:
        raise _ClientError(2, f"--key-type: {exc}") from None


def _pem(certificate: Certificate) -> bytes:
    return bytes(certificate.to_cryptography().public_bytes(serialization.Encoding.PEM))


def _finish(
    client: ScepClient,
    base: str,
    event: ClientEvent,
    args: argparse.Namespace,
    pending: dict[str, str],
) -> int:
    while isinstance(event, RequestPending) and args.wait:
        time.sleep(max(0.0, (event.poll_at - datetime.now(timezone.utc)).total_seconds()))
        event = _exchange(client, base, client.poll(now=datetime.now(timezone.utc)))
    if isinstance(event, CertificateIssued):
        Path(args.cert_out).write_bytes(
            b"".join(_pem(c) for c in (event.certificate, *event.chain))
        )
        print(f"issued: {event.certificate.subject} serial {event.certificate.serial_number}")
        return 0
    if isinstance(event, RequestPending):
        state = Path(args.cert_out).with_suffix(".pending.json")
        state.write_text(json.dumps({**pending, "transaction_id": event.transaction_id}))
        print(f"pending: transaction {event.transaction_id}; poll with:")
        print(f"  pyscep client poll {args.url} --pending {state}")
        return EXIT_PENDING
    if isinstance(event, RequestRejected):
        print(f"rejected: failInfo {event.fail_info.rfc_name} {event.fail_info_text or ''}".strip())
        return EXIT_FAILURE
    if isinstance(event, ReplyUnreadable):
        Path(args.cert_out).with_suffix(".reply.der").write_bytes(event.reply)
        print(f"issued, but the reply is unreadable under your policy: {event.reason}")
        return EXIT_PROTOCOL
    raise _ClientError(EXIT_PROTOCOL, f"unexpected {type(event).__name__}")


def _enroll(args: argparse.Namespace) -> int:
    client = _client(args)
    _ready(client, args.url)
    key_pem = _new_key(args.key_type)
    write_private(Path(args.key_out), key_pem)
    key = load_private_key(key_pem)
    request = build_csr(key, args.subject, challenge_password=args.challenge)
    event = _exchange(client, args.url, client.enroll(request, key, now=datetime.now(timezone.utc)))
    pending = {
        "kind": "enroll",
        "key": args.key_out,
        "csr": request.der.hex(),
        "cert_out": args.cert_out,
    }
    return _finish(client, args.url, event, args, pending)


def _renew(args: argparse.Namespace) -> int:
    client = _client(args)
    _ready(client, args.url)
    current = KeyPair(
        load_private_key(Path(args.key).read_bytes()),
        Certificate.load(Path(args.cert).read_bytes()),
    )
    key_pem = _new_key(args.key_type)
    write_private(Path(args.key_out), key_pem)
    key = load_private_key(key_pem)
    # No challenge is needed to renew, except by a key that only signs (Ed25519):
    # its CertRep is keyed by the challengePassword (RFC 8894 section 3.1).
    request = build_csr(key, current.certificate.subject_der, challenge_password=args.challenge)
    event = _exchange(
        client, args.url, client.renew(request, current, now=datetime.now(timezone.utc))
    )
    pending = {
        "kind": "renew",
        "key": args.key_out,
        "csr": request.der.hex(),
        "cert_out": args.cert_out,
    }
    return _finish(client, args.url, event, args, pending)


def _get(args: argparse.Namespace, crl: bool) -> int:
    client = _client(args)
    _ready(client, args.url)
    keys = KeyPair(
        load_private_key(Path(args.key).read_bytes()),
        Certificate.load(Path(args.cert).read_bytes()),
    )
    wanted = IssuerAndSerial(
        keys.certificate.issuer_der, int(args.serial or keys.certificate.serial_number)
    )
    request = client.get_crl(wanted, keys) if crl else client.get_cert(wanted, keys)
    event = _exchange(client, args.url, request)
    if isinstance(event, CrlReceived):
        Path(args.out).write_bytes(b"".join(event.crls))
        return 0
    if isinstance(event, CertificatesReceived):
        Path(args.out).write_bytes(b"".join(_pem(c) for c in event.certificates))
        return 0
    if isinstance(event, RequestRejected):
        print(f"rejected: failInfo {event.fail_info.rfc_name}")
        return EXIT_FAILURE
    raise _ClientError(EXIT_PROTOCOL, f"unexpected {type(event).__name__}")


def _poll(args: argparse.Namespace) -> int:
    state = json.loads(Path(args.pending).read_text())
    client = _client(args)
    _ready(client, args.url)
    key = load_private_key(Path(state["key"]).read_bytes())
    request = CertificationRequest.load(bytes.fromhex(state["csr"]))
    now = datetime.now(timezone.utc)
    client.resume(request, key, state["transaction_id"], now=now)
    event = _exchange(client, args.url, client.poll(now=now))
    args.cert_out = state["cert_out"]
    return _finish(client, args.url, event, args, state)


def run(args: argparse.Namespace) -> int:
    """Run one client action."""
    try:
        if args.action == "getcaps":
            client = _client(args)
            event = _exchange(client, args.url, client.get_caps())
            assert isinstance(event, CapabilitiesReceived)
            print("\n".join(event.caps.keywords))
            return 0
        if args.action == "getca":
            client = _client(args)
            _ready(client, args.url)
            assert client.ca is not None
            Path(args.out).write_bytes(b"".join(_pem(c) for c in client.ca.certificates))
            for reason in client.ca.reasons:
                print(reason)
            return 0
        if args.action == "enroll":
            return _enroll(args)
        if args.action == "renew":
            return _renew(args)
        if args.action == "poll":
            return _poll(args)
        return _get(args, crl=args.action == "getcrl")
    except _ClientError as exc:
        print(f"pyscep client: {exc}", file=sys.stderr)
        return exc.status
    except (ScepError, OSError, ValueError) as exc:
        print(f"pyscep client: {exc}", file=sys.stderr)
        return 2


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``client``."""
    client = commands.add_parser(
        "client",
        help="a SCEP client",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    client.add_argument(
        "action", choices=["getcaps", "getca", "enroll", "renew", "poll", "getcert", "getcrl"]
    )
    client.add_argument("url", help="the SCEP URL, e.g. http://127.0.0.1:8080/scep")
    client.add_argument("--ca-fingerprint", help="SHA-256 of the CA certificate (hex)")
    client.add_argument("--profile", choices=sorted(PROFILES), default=STRICT.name)
    client.add_argument("--get", action="store_true", help="send PKIOperation by GET")
    client.add_argument("--legacy", action="store_true", help="allow MD5 and single DES")
    client.add_argument("--subject", help="the DN to enroll, e.g. CN=device-7,O=Example")
    client.add_argument(
        "--challenge", help="the challenge password (renew: only for an Ed25519 key)"
    )
    client.add_argument(
        "--key-type", default="rsa2048", help=f"the new key: {', '.join(KEY_TYPES)}"
    )
    client.add_argument("--key", help="the existing key (renew, getcert, getcrl)")
    client.add_argument("--cert", help="the existing certificate (renew, getcert, getcrl)")
    client.add_argument("--key-out", help="where to write the new key (0600)")
    client.add_argument("--cert-out", help="where to write the issued certificate (PEM)")
    client.add_argument("--out", help="getca, getcert, getcrl: the output file")
    client.add_argument("--serial", help="getcert: the serial number wanted")
    client.add_argument("--pending", help="poll: the .pending.json an enroll left")
    client.add_argument("--wait", action="store_true", help="keep polling while PENDING")
    client.set_defaults(handler=run)
