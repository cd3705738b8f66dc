"""``pyscep demo``: a certificate's whole life, client and CA, on built-in defaults.

    pyscep demo [--json] [--out DIR] [--live] [--post-quantum]

A demo CA is created; the client reads its capabilities and certificates,
enrolls with a one-time challenge (SUCCESS), sends a request that waits for
the operator (PENDING, CertPoll, approval, SUCCESS), renews when the monitor's
check says renewal is due (signed by the existing certificate, auto-approved),
is refused a renewal for another subject, a third certificate for one DN and
a reused challenge, fetches the CA's successor (GetNextCACert), and an EC
device enrolls. Everything goes through the real `ScepClient` and the
reference server (`pyscep serve`'s `ScepResponder`, file CA, SQLite state,
scep.conf policy): in this process by default, over HTTP on 127.0.0.1 with
``--live``. ``--json`` prints the transcript as JSON; ``--out DIR`` saves every
message as a file `pyscep inspect` reads. Exit 0 when every chapter ended as
it should, 1 otherwise. ``--post-quantum`` tells the post-quantum story instead: an
ML-DSA-65 CA whose ML-KEM-768 RA opens the requests, the opt-in profile, ML-DSA and
RSA devices.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from pyscep.demo import (
    POLICY,
    POST_QUANTUM_POLICY,
    DemoServer,
    Exchange,
    InProcessServer,
    LiveServer,
    Step,
    tell,
    tell_post_quantum,
)

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``pyscep demo``."""
    demo = commands.add_parser(
        "demo",
        help="a certificate's whole life: enroll, PENDING, renew, refusals, rollover, EC",
        description="A certificate's whole life through the real client and server.",
    )
    demo.add_argument("--json", action="store_true", help="print the transcript as JSON")
    demo.add_argument(
        "--out", type=Path, metavar="DIR", help="save every message in DIR (for pyscep inspect)"
    )
    demo.add_argument(
        "--live", action="store_true", help="run pyscep serve and talk HTTP on 127.0.0.1"
    )
    demo.add_argument(
        "--post-quantum",
        action="store_true",
        help="the post-quantum story: an ML-DSA CA, an ML-KEM RA, ML-DSA devices",
    )
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Tell the story; print it; save the messages."""
    with tempfile.TemporaryDirectory(prefix="pyscep-demo-") as state:
        quantum = args.post_quantum
        server: DemoServer = (
            LiveServer(Path(state), post_quantum=quantum)
            if args.live
            else InProcessServer(Path(state), post_quantum=quantum)
        )
        try:
            steps = tell_post_quantum(server) if quantum else tell(server)
        finally:
            server.close()
    policy = POST_QUANTUM_POLICY if quantum else POLICY
    if args.out is not None:
        _save(args.out, steps)
    if args.json:
        document = {"server": server.where, "policy": policy, "steps": [s.as_dict() for s in steps]}
        print(json.dumps(document, indent=2))
    else:
        _print(server.where, steps, policy)
    return 0 if all(step.as_expected for step in steps) else 1


def _print(where: str, steps: list[Step], policy: str) -> None:
    print(f"pyscep demo: the reference server ({where}) and ScepClient; the policy:")
    for line in policy.splitlines()[1:]:
        print(f"    {line}")
    for number, step in enumerate(steps, 1):
        print(f"\n[{number}] {step.title}")
        for note in step.preface:
            print(f"    {note}")
        for exchange in step.exchanges:
            for line in _exchange_lines(exchange):
                print(f"    {line}")
            for decision in exchange.decisions:
                for line in _decision_lines(decision["policy"]):
                    print(f"      {line}")
        for note in step.notes:
            print(f"    {note}")
        mark = "as expected" if step.as_expected else f"EXPECTED {step.expected}"
        print(f"    => {step.outcome} ({mark})")


def _exchange_lines(exchange: Exchange) -> list[str]:
    described = exchange.as_dict()
    reply = described["reply"]
    if exchange.operation != "PKIOperation":
        detail = " ".join(reply["caps"]) if "caps" in reply else f"{reply['size']} bytes"
        return [
            f"{exchange.method} {exchange.operation} -> {exchange.status} "
            f"{exchange.content_type}: {detail}"
        ]
    return [
        f"client -> {exchange.method} {_message_line(described['request'])}",
        f"server -> {exchange.status} {_message_line(reply)}",
    ]


def _message_line(message: dict[str, Any]) -> str:
    if "unreadable" in message:
        return f"{message['size']} bytes, unreadable: {message['unreadable']}"
    parts = [str(message["messageType"])]
    if message["pkiStatus"]:
        parts.append(str(message["pkiStatus"]))
    if message["failInfo"]:
        parts.append(f"failInfo {message['failInfo']} ({message['failInfoText'] or ''})")
    parts.append(f"txid {str(message['transactionID'])[:16]}...")
    parts.append(f"senderNonce {str(message['senderNonce'])[:8]}...")
    if message["recipientNonce"]:
        parts.append(f"recipientNonce {message['recipientNonce'][:8]}...")
    parts.append(f"{message['digest']}/{message['signature']}")
    if message["contentCipher"]:
        recipients = "+".join(message["recipientInfos"])
        parts.append(f"{message['contentCipher']} to {recipients}")
    parts.append(f"{message['size']} bytes")
    return ", ".join(parts)


def _decision_lines(policy: dict[str, Any]) -> list[str]:
    failure = f" failInfo {policy['failInfo']}" if policy["failInfo"] else ""
    lines = [
        f"policy: {policy['decision']}{failure} ({policy['classification']}), "
        f"decided by rule {policy['decidingRule']}"
    ]
    for entry in policy["trace"]:
        lines.append(f"    {entry['rule']:<24} {entry['outcome']:<5} {entry['detail']}")
    return lines


def _save(directory: Path, steps: list[Step]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for number, step in enumerate(steps, 1):
        for index, exchange in enumerate(step.exchanges, 1):
            stem = f"{number:02d}-{index}-{exchange.operation}"
            if exchange.request:
                kind = exchange.as_dict()["request"].get("messageType", "request")
                (directory / f"{stem}-{kind}.der").write_bytes(exchange.request)
            suffix = ".txt" if exchange.operation == "GetCACaps" else ".der"
            (directory / f"{stem}-reply{suffix}").write_bytes(exchange.reply)
