"""``pyscep client``: a SCEP client on `pyscep.protocol.client.ScepClient`, over urllib.

    pyscep client getcaps URL
    pyscep client getca URL --out FILE [--ca-fingerprint SHA256]
    pyscep client enroll URL --subject DN --challenge SECRET --key-out KEY --cert-out CERT
                         [--key-type rsa2048|ec-p256|...|ed25519|ml-dsa-65] [--get] [--legacy]
                         [--ca-fingerprint SHA256] [--profile post-quantum]
    pyscep client renew URL --key KEY --cert CERT --key-out KEY2 --cert-out CERT2
                        [--key-type TYPE]   (by default the old key's type)
                        [--challenge SECRET]   (keys the CertRep of a key that only signs,
                                                Ed25519 or ML-DSA; random if not given)
    pyscep client poll URL --pending FILE
    pyscep client getcert URL --key KEY --cert CERT --serial N --out FILE
    pyscep client getcrl URL --key KEY --cert CERT --out FILE

Exit status: 0 SUCCESS, 3 PENDING (the command to poll is printed), 4 FAILURE
(the failInfo is printed), 5 a reply that broke the protocol or a certificate
that is not the one asked for (another key or subject, not signed by the CA,
not valid now: nothing is written), 2 bad input. Keys are written 0600; every
file is written whole, never through a link, in a directory no one else can
write to (`durable.SafeDirectory`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization

from pyscep._appkit.durable import SafeDirectory, write_durably
from pyscep._appkit.http import http_exchange as _http_exchange
from pyscep._appkit.keys import (
    DECRYPTION_KEY_TYPES,
    KEY_TYPES,
    SIGNING_ONLY_KEY_TYPES,
    key_type_of,
    new_private_key,
    renewal_request,
)
from pyscep._deprecation import moved
from pyscep.algorithms import DEFAULT_POLICY, LEGACY
from pyscep.certificate import Certificate
from pyscep.cms.enveloped import signature_only
from pyscep.crypto import KeyPair, PrivateKey, load_private_key
from pyscep.errors import LocalProtocolError, ScepError, UnsupportedAlgorithmError
from pyscep.http import HTTPRequest
from pyscep.messages import CertificationRequest, IssuerAndSerial, build_csr
from pyscep.protocol.client import (
    CACertificatesReceived,
    CapabilitiesReceived,
    CertificateIssued,
    CertificateRefused,
    CertificatesReceived,
    ClientEvent,
    CRLReceived,
    ProtocolFailed,
    ReplyUnreadable,
    RequestPending,
    RequestRejected,
    ScepClient,
)
from pyscep.protocol.profiles import PROFILES, STRICT

__all__ = ["add_parser", "run"]


def __getattr__(name: str) -> Any:
    # http_exchange lived here before 0.2 (the monitor and the demo borrowed it).
    if name == "http_exchange":
        return moved(__name__, "pyscep._appkit.http", name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


EXIT_PENDING, EXIT_FAILURE, EXIT_PROTOCOL, EXIT_USAGE = 3, 4, 5, 2
#: The options each action cannot do without.
_REQUIRED = {
    "getca": ("out",),
    "enroll": ("subject", "key_out", "cert_out"),
    "renew": ("key", "cert", "key_out", "cert_out"),
    "poll": ("pending",),
    "getcert": ("key", "cert", "out"),
    "getcrl": ("key", "cert", "out"),
}
#: What a pending file holds (each a string).
_PENDING_KEYS = ("key", "csr", "cert_out", "transaction_id")


class _ClientError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _exchange(client: ScepClient, base: str, request: HTTPRequest) -> ClientEvent:
    status, content_type, body = _http_exchange(base, request)
    event = client.receive(status, content_type, body, now=datetime.now(timezone.utc))
    if isinstance(event, ProtocolFailed):
        if isinstance(event.error, UnsupportedAlgorithmError):
            # Not the server's fault: what it offers is not what this client may use.
            raise _ClientError(EXIT_PROTOCOL, f"this CA cannot be used so: {event.reason}")
        raise _ClientError(EXIT_PROTOCOL, f"the server broke the protocol: {event.reason}")
    return event


def _pin(text: str | None) -> bytes | None:
    if not text:
        return None
    try:
        pin = bytes.fromhex(text.replace(":", ""))
    except ValueError:
        pin = b""
    if len(pin) != 32:
        raise _ClientError(
            EXIT_USAGE, "--ca-fingerprint: the SHA-256 of the CA certificate, 64 hex digits"
        )
    return pin


def _client(args: argparse.Namespace) -> ScepClient:
    profile = PROFILES[args.profile]
    if args.get:
        profile = replace(profile, use_post=False)
    return ScepClient(
        path=urlsplit(args.url).path or "/scep",
        algorithms=LEGACY if args.legacy else DEFAULT_POLICY,
        profile=profile,
        ca_fingerprint=_pin(args.ca_fingerprint),
        allow_subject_rewrite=args.allow_subject_rewrite,
    )


def _caps(client: ScepClient, base: str) -> CapabilitiesReceived:
    caps = _exchange(client, base, client.get_caps())
    if not isinstance(caps, CapabilitiesReceived):
        raise _ClientError(EXIT_PROTOCOL, f"GetCACaps answered with {type(caps).__name__}")
    return caps


def _ready(client: ScepClient, base: str) -> None:
    caps = _caps(client, base)
    if caps.negotiated is None:
        why = (
            "the CA's capabilities need"
            if caps.caps.keywords
            else "the CA advertised no capabilities (GetCACaps unanswered): RFC 8894 then assumes"
        )
        raise _ClientError(EXIT_USAGE, f"{why} the legacy algorithms (--legacy)")
    ca = _exchange(client, base, client.get_ca_certificates())
    if not isinstance(ca, CACertificatesReceived):
        raise _ClientError(EXIT_PROTOCOL, f"GetCACert answered with {type(ca).__name__}")


def _new_key(kind: str) -> bytes:
    try:
        return new_private_key(kind)
    except LocalProtocolError as exc:
        raise _ClientError(EXIT_USAGE, f"--key-type: {exc}") from None


def _pem(certificate: Certificate) -> bytes:
    return bytes(certificate.to_cryptography().public_bytes(serialization.Encoding.PEM))


def _read_keys(args: argparse.Namespace) -> KeyPair:
    """The existing key and certificate (--key, --cert)."""
    return KeyPair(
        load_private_key(Path(args.key).read_bytes()),
        Certificate.load(Path(args.cert).read_bytes()),
    )


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
        certificates = b"".join(_pem(c) for c in (event.certificate, *event.chain))
        write_durably(Path(args.cert_out), certificates, mode=0o644)
        _forget_reply_key(pending)
        print(f"issued: {event.certificate.subject} serial {event.certificate.serial_number}")
        return 0
    if isinstance(event, CertificateRefused):
        raise _ClientError(
            EXIT_PROTOCOL,
            f"the issued certificate is refused: {event.reason}"
            f" (transaction {event.transaction_id}; {args.cert_out} not written)",
        )
    if isinstance(event, RequestPending):
        state = Path(args.cert_out).with_suffix(".pending.json")
        record = {**pending, "transaction_id": event.transaction_id}
        write_durably(state, json.dumps(record).encode(), mode=0o600)
        print(f"pending: transaction {event.transaction_id}; poll with:")
        print(f"  pyscep client poll {args.url} --pending {state}")
        return EXIT_PENDING
    if isinstance(event, RequestRejected):
        _forget_reply_key(pending)
        print(f"rejected: failInfo {event.fail_info.rfc_name} {event.fail_info_text or ''}".strip())
        return EXIT_FAILURE
    if isinstance(event, ReplyUnreadable):
        write_durably(Path(args.cert_out).with_suffix(".reply.der"), event.reply, mode=0o600)
        print(f"issued, but the reply is unreadable under your policy: {event.reason}")
        return EXIT_PROTOCOL
    raise _ClientError(EXIT_PROTOCOL, f"unexpected {type(event).__name__}")


def _forget_reply_key(pending: dict[str, str]) -> None:
    """The transaction is over: the reply key named for it has no other use."""
    if "reply_key" in pending:
        Path(pending["reply_key"]).unlink(missing_ok=True)


def _enroll(args: argparse.Namespace) -> int:
    key_type = args.key_type or "rsa2048"
    _check_reply_key_type(args, signs_only=key_type in SIGNING_ONLY_KEY_TYPES)
    client = _client(args)
    _ready(client, args.url)
    key_pem = _new_key(key_type)
    write_durably(Path(args.key_out), key_pem, mode=0o600)
    key = load_private_key(key_pem)
    request = build_csr(key, args.subject, challenge_password=args.challenge)
    reply_key, reply_file = _reply_key(args)
    event = _exchange(
        client,
        args.url,
        client.enroll(request, key, now=datetime.now(timezone.utc), reply_key=reply_key),
    )
    pending = {
        "kind": "enroll",
        "key": args.key_out,
        "csr": request.der.hex(),
        "cert_out": args.cert_out,
        **reply_file,
    }
    return _finish(client, args.url, event, args, pending)


def _check_reply_key_type(args: argparse.Namespace, *, signs_only: bool) -> None:
    """--reply-key-type's conditions, before anything is written."""
    if args.reply_key_type is None:
        return
    if args.profile != "post-quantum":
        raise _ClientError(EXIT_USAGE, "--reply-key-type goes with --profile post-quantum")
    if not signs_only:
        raise _ClientError(
            EXIT_USAGE,
            "--reply-key-type is for a signer whose key only signs (ML-DSA, Ed25519): the"
            " reply to this one is encrypted to its own key",
        )


def _reply_key(args: argparse.Namespace) -> tuple[PrivateKey | None, dict[str, str]]:
    """The ML-KEM reply key ``--reply-key-type`` asks for, and its pending-file entry: a
    new file beside --key-out (0600, never replacing one: a pending request's may be
    there), so that a PENDING request can be polled."""
    if args.reply_key_type is None:
        return None, {}
    path = Path(args.key_out).with_name(Path(args.key_out).name + ".reply-key")
    key_pem = new_private_key(args.reply_key_type)
    try:
        with SafeDirectory(path.parent) as here:
            here.create(path.name, key_pem, mode=0o600)
    except FileExistsError:
        raise _ClientError(
            EXIT_USAGE, f"{path} exists (a pending request's reply key?): choose another --key-out"
        ) from None
    return load_private_key(key_pem), {"reply_key": str(path)}


def _renew(args: argparse.Namespace) -> int:
    current = _read_keys(args)
    _check_reply_key_type(args, signs_only=signature_only(current.certificate))
    client = _client(args)
    _ready(client, args.url)
    # A new key of the old one's type unless told otherwise (an ML-DSA key stays ML-DSA).
    key_pem = _new_key(args.key_type or key_type_of(current.certificate))
    write_durably(Path(args.key_out), key_pem, mode=0o600)
    key = load_private_key(key_pem)
    # No challenge is needed to renew; a key that only signs (Ed25519, ML-DSA) has its
    # CertRep keyed by the CSR's challengePassword (RFC 8894 section 3.1): a random one
    # unless --challenge gives it (`renewal_request`).
    reply_key, reply_file = _reply_key(args)
    request = renewal_request(
        key,
        current.certificate,
        challenge_password=args.challenge,
        reply_key_named=reply_key is not None,
    )
    event = _exchange(
        client,
        args.url,
        client.renew(request, current, now=datetime.now(timezone.utc), reply_key=reply_key),
    )
    pending = {
        "kind": "renew",
        "key": args.key_out,
        "csr": request.der.hex(),
        "cert_out": args.cert_out,
        **reply_file,
    }
    return _finish(client, args.url, event, args, pending)


def _get(args: argparse.Namespace, crl: bool) -> int:
    keys = _read_keys(args)
    wanted = IssuerAndSerial(keys.certificate.issuer_der, _serial(args, keys.certificate))
    client = _client(args)
    _ready(client, args.url)
    request = client.get_crl(wanted, keys) if crl else client.get_cert(wanted, keys)
    event = _exchange(client, args.url, request)
    if isinstance(event, CRLReceived):
        write_durably(Path(args.out), b"".join(event.crls), mode=0o644)
        return 0
    if isinstance(event, CertificatesReceived):
        write_durably(Path(args.out), b"".join(_pem(c) for c in event.certificates), mode=0o644)
        return 0
    if isinstance(event, RequestRejected):
        print(f"rejected: failInfo {event.fail_info.rfc_name}")
        return EXIT_FAILURE
    raise _ClientError(EXIT_PROTOCOL, f"unexpected {type(event).__name__}")


def _serial(args: argparse.Namespace, certificate: Certificate) -> int:
    if args.serial is None:
        return certificate.serial_number
    try:
        return int(args.serial)
    except ValueError:
        raise _ClientError(
            EXIT_USAGE, f"--serial {args.serial!r}: a serial number in decimal"
        ) from None


def _pending(path: str) -> tuple[dict[str, str], PrivateKey, CertificationRequest]:
    """What a pending file holds; any defect is a one-line _ClientError naming it."""

    def bad(why: str) -> _ClientError:
        return _ClientError(EXIT_USAGE, f"--pending {path}: {why}")

    try:
        state = json.loads(Path(path).read_bytes())
    except OSError as exc:
        raise bad(exc.strerror or "cannot be read") from None
    except (ValueError, RecursionError):
        raise bad("not JSON (a .pending.json that pyscep client wrote)") from None
    if not isinstance(state, dict):
        raise bad("not a pending request (a JSON object)")
    wrong = [key for key in _PENDING_KEYS if not isinstance(state.get(key), str)]
    if wrong:
        raise bad(f"{', '.join(wrong)} missing or not a string")
    try:
        request = CertificationRequest.load(bytes.fromhex(state["csr"]))
    except ValueError:  # bad hex, or a ParseError
        raise bad("csr is not a certification request in hex") from None
    try:
        key = load_private_key(Path(state["key"]).read_bytes())
    except OSError as exc:
        raise bad(f"the key {state['key']}: {exc.strerror or 'cannot be read'}") from None
    except (ScepError, ValueError):
        raise bad(f"the key {state['key']} is not a private key") from None
    if key.public_key_der != request.public_key_der:
        raise bad(f"the key {state['key']} is not the csr's")
    return state, key, request


def _poll(args: argparse.Namespace) -> int:
    state, key, request = _pending(args.pending)
    client = _client(args)
    _ready(client, args.url)
    now = datetime.now(timezone.utc)
    reply_key = None
    if isinstance(state.get("reply_key"), str):
        try:
            reply_key = load_private_key(Path(state["reply_key"]).read_bytes())
        except (OSError, ScepError):
            raise _ClientError(
                EXIT_USAGE, f"the reply key {state['reply_key']}: unreadable"
            ) from None
    client.resume(request, key, state["transaction_id"], now=now, reply_key=reply_key)
    event = _exchange(client, args.url, client.poll(now=now))
    args.cert_out = state["cert_out"]
    return _finish(client, args.url, event, args, state)


def run(args: argparse.Namespace) -> int:
    """Run one client action."""
    try:
        missing = [n for n in _REQUIRED.get(args.action, ()) if getattr(args, n) is None]
        if missing:
            options = ", ".join("--" + name.replace("_", "-") for name in missing)
            raise _ClientError(EXIT_USAGE, f"{args.action} needs {options}")
        if args.action == "getcaps":
            client = _client(args)
            keywords = _caps(client, args.url).caps.keywords
            if not keywords:
                print(
                    "no capabilities advertised (an HTTP error or an empty answer)", file=sys.stderr
                )
            print("\n".join(keywords))
            return 0
        if args.action == "getca":
            client = _client(args)
            _ready(client, args.url)
            if client.ca is None:
                raise _ClientError(EXIT_PROTOCOL, "GetCACert gave no CA")
            write_durably(
                Path(args.out), b"".join(_pem(c) for c in client.ca.certificates), mode=0o644
            )
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
        "action",
        choices=["getcaps", "getca", "enroll", "renew", "poll", "getcert", "getcrl"],
        help="what to ask of the CA (see above)",
    )
    client.add_argument("url", help="the SCEP URL, e.g. http://127.0.0.1:8080/scep")
    client.add_argument("--ca-fingerprint", help="SHA-256 of the CA certificate (hex)")
    client.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=STRICT.name,
        help="the interop profile: what the client expects of this CA",
    )
    client.add_argument("--get", action="store_true", help="send PKIOperation by GET")
    client.add_argument("--legacy", action="store_true", help="allow MD5 and single DES")
    client.add_argument("--subject", help="the DN to enroll, e.g. CN=device-7,O=Example")
    client.add_argument(
        "--challenge",
        help="the challenge password (renew: none needed; it keys the reply to a key that"
        " only signs, Ed25519 or ML-DSA, random if not given)",
    )
    client.add_argument(
        "--reply-key-type",
        choices=DECRYPTION_KEY_TYPES,
        help="an ML-KEM key (ml-kem-768, ml-kem-1024) the request names for its reply"
        " (post-quantum profile; written beside --key-out)",
    )
    client.add_argument(
        "--key-type",
        help=f"the new key: {', '.join(KEY_TYPES)} (enroll: rsa2048; renew: the old key's type)",
    )
    client.add_argument("--key", help="the existing key (renew, getcert, getcrl)")
    client.add_argument("--cert", help="the existing certificate (renew, getcert, getcrl)")
    client.add_argument("--key-out", help="where to write the new key (0600)")
    client.add_argument("--cert-out", help="where to write the issued certificate (PEM)")
    client.add_argument("--out", help="getca, getcert, getcrl: the output file")
    client.add_argument("--serial", help="getcert: the serial number wanted")
    client.add_argument("--pending", help="poll: the .pending.json an enroll left")
    client.add_argument("--wait", action="store_true", help="keep polling while PENDING")
    client.add_argument(
        "--allow-subject-rewrite",
        action="store_true",
        help="accept a certificate for another subject than requested (CAs that set it)",
    )
    client.set_defaults(handler=run)
